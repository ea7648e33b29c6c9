/*
 * prov_vm.c - the provisioning layer's virtual machines (provision.h):
 * create (placement, OS and data disks and the implicit network of `az vm
 * create`, in the caller's transaction), the operations (start, stop,
 * deallocate, restart, resize, delete: recorded in vms.op with the states
 * they start in, carried out by vmops.c on a job thread; a delete takes
 * what the VM owns), tags, data disk attach and detach, and run commands
 * (recorded here, carried out by runcmd.c).
 */
#include "cloud/provision.h"

#include "cloud/credits.h"
#include "cloud/db.h"
#include "cloud/guestprov.h"
#include "cloud/kumod.h"
#include "cloud/netplane.h"
#include "cloud/placement.h"
#include "cloud/runcmd.h"
#include "cloud/state.h"
#include "cloud/timefmt.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GIB             (1024ull * 1024 * 1024)
#define MIN_OS_DISK_GIB 4
#define MAX_LUNS        6
#define VMM_MAX_DEVICES 6 /* kumo-vmm's disks and NICs (src/machine/virt.h) */

static bool is(const char *a, const char *b)
{
    return strcmp(a, b) == 0;
}

int prov_allow_tcp_rule(struct rule_norm *out, const char *name, int priority, int64_t port,
                        const char *description, struct kerr *e)
{
    char ports[24];
    snprintf(ports, sizeof(ports), "%" PRId64, port);
    json_t *r = json_pack("{s:s,s:i,s:s,s:s,s:s,s:s,s:s,s:s}", "name", name, "priority", priority,
                          "direction", "Inbound", "access", "Allow", "protocol", "Tcp",
                          "sourceAddressPrefix", "*", "destinationPortRange", ports, "description",
                          description);
    int rc = r ? rule_normalize(r, "", out, e) : kerr_internal(e, "out of memory");
    json_decref(r);
    return rc;
}

/* A size's initial CPU credits; false when it is not burstable. */
static bool size_credits(struct db *db, int64_t size_id, double *initial)
{
    char burst[512] = "";
    db_text(db, burst, sizeof(burst), "SELECT coalesce(burst, '') FROM sizes WHERE id = ?", "i",
            size_id);
    struct credit_policy p;
    if (!credits_policy_parse(burst[0] ? burst : NULL, &p)) return false;
    *initial = credits_initial(&p).credits;
    return true;
}

/* ---- a VM's row and its operations ---- */

struct vm_row {
    int64_t id, group, size_id, host_id, vcpus, mem_mib;
    bool dedicated;
    char name[80], power[32], prov[32], op[32];
};

/* Read VM id's row; false when it is gone. */
static bool vm_read(struct kumod *k, int64_t id, struct vm_row *v)
{
    memset(v, 0, sizeof(*v));
    v->id = id;
    sqlite3_stmt *st = db_stmt(k->db,
                               "SELECT name, power_state, prov_state, coalesce(op, ''), size_id,"
                               " coalesce(host_id, 0), vcpus, mem_mib, dedicated, group_id"
                               " FROM vms WHERE id = ?",
                               "i", id);
    bool found = st && sqlite3_step(st) == SQLITE_ROW;
    if (found) {
        snprintf(v->name, sizeof(v->name), "%s", db_col_text(st, 0));
        snprintf(v->power, sizeof(v->power), "%s", db_col_text(st, 1));
        snprintf(v->prov, sizeof(v->prov), "%s", db_col_text(st, 2));
        snprintf(v->op, sizeof(v->op), "%s", db_col_text(st, 3));
        v->size_id = sqlite3_column_int64(st, 4);
        v->host_id = sqlite3_column_int64(st, 5);
        v->vcpus = sqlite3_column_int64(st, 6);
        v->mem_mib = sqlite3_column_int64(st, 7);
        v->dedicated = sqlite3_column_int(st, 8) != 0;
        v->group = sqlite3_column_int64(st, 9);
    }
    sqlite3_finalize(st);
    return found;
}

/* The VM `name` of the group (404 when missing). */
static int64_t vm_lookup(struct kumod *k, int64_t g, const char *name, struct vm_row *v,
                         struct kerr *e)
{
    assert(kumod_lock_held(k));
    memset(v, 0, sizeof(*v));
    int64_t id = prov_find(k, "vms", g, name, "virtual machine", NULL, e);
    if (id < 0) return -1;
    vm_read(k, id, v);
    return id;
}

/* Is the VM deallocated with its state saved (hibernated)? */
static bool hibernated(struct kumod *k, int64_t id)
{
    return db_int(k->db, NULL, 0, "SELECT hibernated_ms IS NOT NULL FROM vms WHERE id = ?", "i",
                  id) != 0;
}

/* A hibernated VM's devices and size are those its saved state has. */
static int not_hibernated(struct kumod *k, const struct vm_row *v, const char *what,
                          struct kerr *e)
{
    if (!hibernated(k, v->id)) return 0;
    return kerr_conflict(e, "InvalidState",
                         "virtual machine '%s' is hibernated: its saved state has its size, "
                         "disks and NICs; start it before %s",
                         v->name, what);
}

static int busy(const struct vm_row *v, struct kerr *e)
{
    if (!v->op[0]) return 0;
    return kerr_conflict(e, "OperationInProgress",
                         "virtual machine '%s' is busy: %s in progress (provisioningState %s, "
                         "powerState %s); wait for it to finish",
                         v->name, v->op, v->prov, v->power);
}

/* Record op with the states it starts in (and the host it now holds,
 * new_host > 0) in t, and commit: the operation goes to a worker. */
static int begin_op(struct prov_tx *t, const struct vm_row *v, const char *op, const char *power,
                    const char *prov, const char *message, int64_t new_host)
{
    struct db *db = t->k->db;
    int64_t now = time_now_ms();
    int rc = 0;
    if (new_host > 0)
        rc = db_exec(db, "UPDATE vms SET host_id = ? WHERE id = ?", "ii", new_host, v->id);
    if (rc == 0)
        rc = db_exec(db,
                     "UPDATE vms SET op = ?, op_started_ms = ?, error_code = NULL, error_msg = NULL"
                     " WHERE id = ?",
                     "tii", op, now, v->id);
    if (rc == 0) rc = vm_set_state(db, v->id, power, prov, message, now);
    if (rc < 0) {
        prov_db_error(t, NULL);
        prov_abort(t);
        return -1;
    }
    prov_tx_job(t, JOB_VM, v->id);
    return prov_commit(t);
}

/* begin_op in a transaction of its own. */
static int begin_op_tx(struct kumod *k, const struct vm_row *v, const char *op, const char *power,
                       const char *prov, const char *message, struct kerr *e)
{
    struct prov_tx t;
    if (prov_begin(&t, k, e) < 0) return -1;
    return begin_op(&t, v, op, power, prov, message, 0);
}

int64_t prov_vm_start(struct kumod *k, int64_t g, const char *name, bool *begun, struct kerr *e)
{
    struct vm_row v;
    *begun = false;
    if (vm_lookup(k, g, name, &v, e) < 0 || busy(&v, e) < 0) return -1;
    if (is(v.power, PS_RUNNING)) return v.id;
    if (!is(v.power, PS_STOPPED) && !is(v.power, PS_DEALLOCATED))
        return kerr_conflict(e, "InvalidState",
                             "virtual machine '%s' is %s: only a Stopped or "
                             "Deallocated VM can be started",
                             v.name, v.power);
    struct prov_tx t;
    if (prov_begin(&t, k, e) < 0) return -1;
    int64_t host = 0;
    if (is(v.power, PS_DEALLOCATED)) { /* placed again */
        char size[80] = "", cores[64] = "";
        db_text(k->db, size, sizeof(size), "SELECT name FROM sizes WHERE id = ?", "i", v.size_id);
        /* a hibernated VM resumes on the host that holds its saved state */
        int64_t state_host = db_int(k->db, NULL, 0,
                                    "SELECT coalesce(state_host_id, 0) FROM vms WHERE id = ?"
                                    " AND hibernated_ms IS NOT NULL",
                                    "i", v.id);
        struct placement_req r = {.size_name = size,
                                  .vcpus = v.vcpus,
                                  .mib = v.mem_mib,
                                  .exclude_vm = v.id,
                                  .dedicated = v.dedicated,
                                  .only_host = state_host};
        host = placement_choose_req(k->db, &r, cores, sizeof(cores), e);
        if (host < 0 && state_host > 0) {
            char why[400];
            snprintf(why, sizeof(why), "%.399s", e->message);
            kerr_conflict(e, "HibernatedStateElsewhere",
                          "virtual machine '%s' is hibernated on host %" PRId64
                          ", which holds its saved state and cannot take it now (%s): free "
                          "room there (stop or deallocate other VMs on it) and start it again",
                          v.name, state_host, why);
        }
        if (host < 0 || db_exec(k->db, "UPDATE vms SET host_cpus = nullif(?, '') WHERE id = ?",
                                "ti", cores, v.id) < 0) {
            if (host >= 0) prov_db_error(&t, NULL);
            prov_abort(&t);
            return -1;
        }
    }
    if (begin_op(&t, &v, "start", PS_STARTING, PV_UPDATING, "start requested", host) < 0) return -1;
    *begun = true;
    return v.id;
}

int64_t prov_vm_stop(struct kumod *k, int64_t g, const char *name, bool skip, bool *begun,
                     struct kerr *e)
{
    struct vm_row v;
    *begun = false;
    if (vm_lookup(k, g, name, &v, e) < 0 || busy(&v, e) < 0) return -1;
    if (is(v.power, PS_STOPPED) || is(v.power, PS_DEALLOCATED)) return v.id;
    if (!is(v.power, PS_RUNNING))
        return kerr_conflict(e, "InvalidState",
                             "virtual machine '%s' is %s: only a Running VM can be "
                             "stopped",
                             v.name, v.power);
    if (begin_op_tx(k, &v, skip ? "stop-force" : "stop", PS_STOPPING, PV_UPDATING,
                    skip ? "stop requested (skipping the guest's shutdown)" : "stop requested",
                    e) < 0)
        return -1;
    *begun = true;
    return v.id;
}

int64_t prov_vm_deallocate(struct kumod *k, int64_t g, const char *name, bool skip, bool *begun,
                           struct kerr *e)
{
    struct vm_row v;
    *begun = false;
    if (vm_lookup(k, g, name, &v, e) < 0 || busy(&v, e) < 0) return -1;
    if (is(v.power, PS_DEALLOCATED)) return v.id;
    if (!is(v.power, PS_RUNNING) && !is(v.power, PS_STOPPED))
        return kerr_conflict(e, "InvalidState",
                             "virtual machine '%s' is %s: only a Running or Stopped "
                             "VM can be deallocated",
                             v.name, v.power);
    if (begin_op_tx(k, &v, skip ? "deallocate-force" : "deallocate", PS_DEALLOCATING, PV_UPDATING,
                    skip ? "deallocate requested (skipping the guest's shutdown)"
                         : "deallocate requested",
                    e) < 0)
        return -1;
    *begun = true;
    return v.id;
}

int64_t prov_vm_hibernate(struct kumod *k, int64_t g, const char *name, bool *begun,
                          struct kerr *e)
{
    struct vm_row v;
    *begun = false;
    if (vm_lookup(k, g, name, &v, e) < 0 || busy(&v, e) < 0) return -1;
    if (is(v.power, PS_DEALLOCATED) && hibernated(k, v.id)) return v.id;
    if (!is(v.power, PS_RUNNING))
        return kerr_conflict(e, "InvalidState",
                             "virtual machine '%s' is %s: only a Running VM can be hibernated "
                             "(its memory is what hibernation keeps)",
                             v.name, v.power);
    if (begin_op_tx(k, &v, "deallocate-hibernate", PS_DEALLOCATING, PV_UPDATING,
                    "hibernate requested", e) < 0)
        return -1;
    *begun = true;
    return v.id;
}

int64_t prov_vm_restart(struct kumod *k, int64_t g, const char *name, struct kerr *e)
{
    struct vm_row v;
    if (vm_lookup(k, g, name, &v, e) < 0 || busy(&v, e) < 0) return -1;
    if (!is(v.power, PS_RUNNING))
        return kerr_conflict(e, "InvalidState",
                             "virtual machine '%s' is %s: only a Running VM can be "
                             "restarted (use start)",
                             v.name, v.power);
    if (begin_op_tx(k, &v, "restart", NULL, PV_UPDATING, "restart requested", e) < 0) return -1;
    return v.id;
}

int64_t prov_vm_migrate(struct kumod *k, int64_t g, const char *name, struct kerr *e)
{
    struct vm_row v;
    if (vm_lookup(k, g, name, &v, e) < 0 || busy(&v, e) < 0) return -1;
    if (!is(v.power, PS_RUNNING))
        return kerr_conflict(e, "InvalidState",
                             "virtual machine '%s' is %s: only a Running VM can be live-migrated "
                             "(start it where it is)",
                             v.name, v.power);
    if (begin_op_tx(k, &v, "migrate", NULL, PV_UPDATING, "live migration requested", e) < 0)
        return -1;
    return v.id;
}

int64_t prov_vm_resize(struct kumod *k, int64_t g, const char *name, const char *size, bool restart,
                       bool *begun, struct kerr *e)
{
    struct db *db = k->db;
    struct vm_row v;
    *begun = false;
    if (vm_lookup(k, g, name, &v, e) < 0 || busy(&v, e) < 0) return -1;
    struct prov_size s;
    if (!prov_size_lookup(k, size, &s, e)) return -1;
    if (s.id == v.size_id) return v.id;
    if (not_hibernated(k, &v, "resizing it", e) < 0) return -1;
    int64_t ndata = db_int(db, NULL, 0,
                           "SELECT count(*) FROM disks WHERE vm_id = ? AND os_disk = 0", "i", v.id);
    if (ndata > s.max_data_disks)
        return kerr_conflict(e, "InvalidState",
                             "virtual machine '%s' has %" PRId64
                             " data disks but size %s takes at most %" PRId64 ": detach some first",
                             v.name, ndata, s.name, s.max_data_disks);
    bool running = is(v.power, PS_RUNNING);
    if (running && !restart)
        return kerr_conflict(e, "InvalidState",
                             "virtual machine '%s' is Running: a new size needs a restart; stop or "
                             "deallocate it first, or pass \"restart\": true",
                             v.name);
    if (!running && !is(v.power, PS_STOPPED) && !is(v.power, PS_DEALLOCATED))
        return kerr_conflict(e, "InvalidState", "virtual machine '%s' is %s: wait for it to settle",
                             v.name, v.power);
    struct prov_tx t;
    if (prov_begin(&t, k, e) < 0) return -1;
    int64_t host = 0;
    char cores[64] = "";
    if (v.host_id > 0) { /* allocated: the new size must fit */
        host = placement_choose_vm(db, s.name, s.vcpus, s.mem_mib, v.id, v.dedicated, cores,
                                   sizeof(cores), e);
        if (host < 0) {
            prov_abort(&t);
            return -1;
        }
    }
    int64_t now = time_now_ms();
    /* credits: a burstable size keeps the balance it has (or starts with its
     * initial credits), capped to its own maximum; other sizes have none */
    double credits = 0;
    bool burstable = size_credits(db, s.id, &credits);
    char msg[160];
    snprintf(msg, sizeof(msg), "resized to %s", s.name);
    if (db_exec(db,
                "UPDATE vms SET host_cpus = nullif(?, ''), cpu_credits = CASE WHEN ? THEN"
                " coalesce(cpu_credits, ?) END, credits_ms = ?, cpu_capped = 0 WHERE id = ?",
                "tidii", cores, (int64_t)burstable, credits, now, v.id) < 0 ||
        db_exec(db,
                "UPDATE vms SET size_id = ?, vcpus = ?, mem_mib = ?, host_id = nullif(?, 0) WHERE "
                "id = ?",
                "iiiii", s.id, s.vcpus, s.mem_mib, host, v.id) < 0 ||
        vm_note(db, v.id, msg, now) < 0) {
        prov_db_error(&t, NULL);
        prov_abort(&t);
        return -1;
    }
    if (running) {
        if (begin_op(&t, &v, "restart", NULL, PV_UPDATING, "restart to apply the new size", 0) < 0)
            return -1;
        *begun = true;
        return v.id;
    }
    return prov_commit(&t) < 0 ? -1 : v.id;
}

const char *prov_vm_delete_op(enum prov_vm_disks disks)
{
    switch (disks) {
    case PROV_DISKS_KEEP: return "delete-keep-disks";
    case PROV_DISKS_ALL: return "delete-all-disks";
    case PROV_DISKS_OWNED: break;
    }
    return "delete";
}

int prov_vm_delete_id(struct kumod *k, int64_t vm, enum prov_vm_disks disks, const char *reason,
                      struct kerr *e)
{
    assert(kumod_lock_held(k));
    struct vm_row v;
    if (!vm_read(k, vm, &v)) return 0;
    if (busy(&v, e) < 0) return -1;
    return begin_op_tx(k, &v, prov_vm_delete_op(disks), NULL, PV_DELETING, reason, e);
}

int64_t prov_vm_delete(struct kumod *k, int64_t g, const char *name, enum prov_vm_disks disks,
                       struct kerr *e)
{
    struct vm_row v;
    if (vm_lookup(k, g, name, &v, e) < 0) return -1;
    if (prov_vm_delete_id(k, v.id, disks, "delete requested", e) < 0) return -1;
    return v.id;
}

int64_t prov_vm_set_tags(struct kumod *k, int64_t g, const char *name, const json_t *tags,
                         struct kerr *e)
{
    struct vm_row v;
    if (vm_lookup(k, g, name, &v, e) < 0) return -1;
    char *text = json_dumps(tags, JSON_COMPACT);
    int rc = prov_exec(k, e, false, NULL, "UPDATE vms SET tags = ? WHERE id = ?", "ti", text, v.id);
    free(text);
    return rc < 0 ? -1 : v.id;
}

/* ---- disks ---- */

/* Pick a free name: base, or base-ID if base is taken in the table. */
static void unique_name(struct kumod *k, const char *table, int64_t group, const char *base,
                        int64_t id, char *out, size_t len)
{
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s WHERE group_id = ? AND name = ?", table);
    snprintf(out, len, "%s", base);
    if (db_int(k->db, NULL, 0, sql, "it", group, out) > 0)
        snprintf(out, len, "%.60s-%" PRId64, base, id);
}

static int64_t next_lun(struct kumod *k, int64_t vm)
{
    for (int64_t lun = 0; lun < MAX_LUNS; lun++)
        if (db_int(k->db, NULL, 0, "SELECT count(*) FROM disks WHERE vm_id = ? AND lun = ?", "ii",
                   vm, lun) == 0)
            return lun;
    return -1;
}

/* Attach data disk d to vm in t; prefix names it for errors ("" or
 * "dataDisks[2]"). create: the VM's create makes it, and a new disk is
 * then the VM's own (deleted with it). */
static int attach_disk(struct prov_tx *t, int64_t group, int64_t vm, const char *vm_name,
                       const struct prov_data_disk *d, const char *prefix, bool create)
{
    struct kumod *k = t->k;
    struct db *db = k->db;
    struct kerr *e = t->e;
    char field[64];
    int64_t lun = d->lun >= 0 ? d->lun : next_lun(k, vm);
    snprintf(field, sizeof(field), "%s%slun", prefix, *prefix ? "." : "");
    if (lun < 0) return kerr_invalid(e, field, "%s: all 6 LUNs are in use", field);
    char other[80];
    if (db_text(db, other, sizeof(other), "SELECT name FROM disks WHERE vm_id = ? AND lun = ?",
                "ii", vm, lun))
        return kerr_set(e, 409, "AlreadyExists", field, "%s: LUN %" PRId64 " is taken by disk '%s'",
                        field, lun, other);
    int64_t disk;
    if (d->disk) {
        snprintf(field, sizeof(field), "%s%sdisk", prefix, *prefix ? "." : "");
        disk = prov_find(k, "disks", group, d->disk, "disk", field, e);
        if (disk < 0) return -1;
        if (db_text(db, other, sizeof(other),
                    "SELECT v.name FROM disks d JOIN vms v ON v.id = d.vm_id WHERE d.id = ?", "i",
                    disk))
            return kerr_set(e, 409, "InUse", field,
                            "%s: disk '%s' is attached to virtual machine '%s'", field, d->disk,
                            other);
    } else {
        char name[96], base[96];
        snprintf(base, sizeof(base), "%.60s-data%" PRId64, vm_name, lun);
        if (d->name)
            snprintf(name, sizeof(name), "%s", d->name);
        else
            unique_name(k, "disks", group, base, vm, name, sizeof(name));
        snprintf(field, sizeof(field), "%s%ssizeGiB", prefix, *prefix ? "." : "");
        disk = prov_disk_insert(t, group, name, d->tier, d->size_gib, 0, 0, field);
        if (disk < 0) return -1;
    }
    if (db_exec(db,
                "UPDATE disks SET vm_id = ?, lun = ?, os_disk = 0,"
                " owner_vm = CASE WHEN ? THEN ? ELSE owner_vm END WHERE id = ?",
                "iiiii", vm, lun, (int64_t)(create && !d->disk && !d->detach), vm, disk) < 0)
        return prov_db_error(t, NULL);
    snprintf(field, sizeof(field), "%s%scaching", prefix, *prefix ? "." : "");
    return prov_disk_set_caching(t, disk, d->caching, field);
}

/* The VM for a change of its data disks: it must be Stopped or
 * Deallocated, with no operation running. */
static int64_t stopped_for_disks(struct kumod *k, int64_t g, const char *name, struct vm_row *v,
                                 struct kerr *e)
{
    if (vm_lookup(k, g, name, v, e) < 0 || busy(v, e) < 0) return -1;
    if (!is(v->power, PS_STOPPED) && !is(v->power, PS_DEALLOCATED))
        return kerr_conflict(e, "InvalidState",
                             "virtual machine '%s' is %s: stop or deallocate it to change its "
                             "disks (kumo-vmm has no disk hot-plug yet)",
                             v->name, v->power);
    if (not_hibernated(k, v, "changing its disks", e) < 0) return -1;
    return v->id;
}

int64_t prov_vm_attach_disk(struct kumod *k, int64_t g, const char *name,
                            const struct prov_data_disk *d, struct kerr *e)
{
    struct db *db = k->db;
    struct vm_row v;
    if (stopped_for_disks(k, g, name, &v, e) < 0) return -1;
    int64_t max =
        db_int(db, NULL, 0, "SELECT max_data_disks FROM sizes WHERE id = ?", "i", v.size_id);
    int64_t n = db_int(db, NULL, 0, "SELECT count(*) FROM disks WHERE vm_id = ? AND os_disk = 0",
                       "i", v.id);
    if (n >= max)
        return kerr_conflict(e, "InvalidState",
                             "virtual machine '%s' already has %" PRId64
                             " data disks, the most its size takes",
                             v.name, n);
    struct prov_tx t;
    if (prov_begin(&t, k, e) < 0) return -1;
    if (attach_disk(&t, v.group, v.id, v.name, d, "", false) < 0 ||
        (vm_note(db, v.id, "data disk attached", time_now_ms()) < 0 &&
         prov_db_error(&t, NULL) < 0) ||
        prov_commit(&t) < 0) {
        prov_abort(&t);
        return -1;
    }
    return v.id;
}

int64_t prov_vm_detach_disk(struct kumod *k, int64_t g, const char *name, const char *lun_text,
                            struct kerr *e)
{
    struct db *db = k->db;
    struct vm_row v;
    if (stopped_for_disks(k, g, name, &v, e) < 0) return -1;
    char *end;
    long lun = strtol(lun_text, &end, 10);
    int64_t disk = *end || !*lun_text || lun < 0 || lun >= MAX_LUNS
                       ? -1
                       : db_int(db, NULL, -1, "SELECT id FROM disks WHERE vm_id = ? AND lun = ?",
                                "ii", v.id, (int64_t)lun);
    if (disk < 0)
        return kerr_notfound(e, "virtual machine '%s' has no data disk at LUN '%.16s'", v.name,
                             lun_text);
    struct prov_tx t;
    if (prov_begin(&t, k, e) < 0) return -1;
    /* a detached disk is the user's: a later delete of the VM keeps it */
    if (db_exec(db, "UPDATE disks SET vm_id = NULL, lun = NULL, owner_vm = NULL WHERE id = ?", "i",
                disk) < 0 ||
        vm_note(db, v.id, "data disk detached", time_now_ms()) < 0) {
        prov_db_error(&t, NULL);
        prov_abort(&t);
        return -1;
    }
    return prov_commit(&t) < 0 ? -1 : v.id;
}

/* ---- create ---- */

/* NSG `name` of the group, or a new one allowing SSH. */
static int64_t find_or_create_nsg(struct prov_tx *t, int64_t g, const char *name)
{
    int64_t id = db_int(t->k->db, NULL, -1, "SELECT id FROM nsgs WHERE group_id = ? AND name = ?",
                        "it", g, name);
    if (id >= 0) return id;
    struct rule_norm ssh;
    if (prov_allow_tcp_rule(&ssh, "AllowSSH", 1000, 22, "made by virtual machine create", t->e) < 0)
        return -1;
    id = prov_nsg_insert(t, g, name, &ssh, 1);
    rule_norm_free(&ssh);
    return id;
}

/* The subnet a create without --vnet and --subnet uses, as az vm create
 * finds it: the first subnet (not a GatewaySubnet) of the group's first
 * VNet that has one, oldest first; 0 when the group has none. *subnet_nsg
 * gets its NSG (0: none). */
static int64_t group_subnet(struct kumod *k, int64_t g, int64_t *subnet_nsg)
{
    int64_t id = 0;
    *subnet_nsg = 0;
    sqlite3_stmt *st = db_stmt(k->db,
                               "SELECT s.id, coalesce(s.nsg_id, 0) FROM subnets s"
                               " JOIN vnets v ON v.id = s.vnet_id WHERE v.group_id = ?"
                               " AND s.name != 'GatewaySubnet' ORDER BY v.id, s.id LIMIT 1",
                               "i", g);
    if (st && sqlite3_step(st) == SQLITE_ROW) {
        id = sqlite3_column_int64(st, 0);
        *subnet_nsg = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    return id;
}

/* The implicit network of a create: VNet, subnet, NSG, public IP, NIC.
 * Without a VNet named, the group's network is used when it has one; the
 * VM then makes no NSG of its own when that subnet has one (it filters
 * the NIC's traffic already), unless one is named. */
static int implicit_network(struct prov_tx *t, const struct prov_vm_spec *s, int64_t g, int64_t vm)
{
    struct kumod *k = t->k;
    struct db *db = k->db;
    int64_t subnet_nsg = 0;
    int64_t subnet = !s->vnet && !s->subnet ? group_subnet(k, g, &subnet_nsg) : 0;
    if (subnet <= 0) {
        char vnet_name[96];
        snprintf(vnet_name, sizeof(vnet_name), "%.60s-vnet", s->name);
        subnet = prov_create_subnet(t, g, s->vnet ? s->vnet : vnet_name,
                                    s->subnet ? s->subnet : "default");
        if (subnet < 0) return -1;
    }
    int64_t nsg = 0;
    if (!s->no_nsg && !(subnet_nsg > 0 && !s->nsg)) {
        char nsg_name[96];
        snprintf(nsg_name, sizeof(nsg_name), "%.60s-nsg", s->name);
        nsg = find_or_create_nsg(t, g, s->nsg ? s->nsg : nsg_name);
        if (nsg < 0) return -1;
    }
    int64_t pip = 0;
    if (s->public_ip) {
        char pip_name[96];
        snprintf(pip_name, sizeof(pip_name), "%.60s-ip", s->name);
        if (s->public_ip_name) snprintf(pip_name, sizeof(pip_name), "%s", s->public_ip_name);
        pip = db_int(db, NULL, -1, "SELECT id FROM public_ips WHERE group_id = ? AND name = ?",
                     "it", g, pip_name);
        if (pip < 0) pip = prov_pip_insert(t, g, pip_name, s->pip_ports, s->npip_ports, vm);
        if (pip < 0) return -1;
    }
    char nic_name[96], base[96];
    snprintf(base, sizeof(base), "%.60s-nic", s->name);
    unique_name(k, "nics", g, base, vm, nic_name, sizeof(nic_name));
    int64_t nic = prov_nic_insert(t, g, nic_name, subnet, s->private_ip, nsg, pip, vm, "privateIp");
    if (nic < 0) return -1;
    if (db_exec(db, "UPDATE nics SET vm_id = ?, nic_index = 0 WHERE id = ?", "ii", vm, nic) < 0)
        return prov_db_error(t, NULL);
    return 0;
}

static int given_nics(struct prov_tx *t, const struct prov_vm_spec *s, int64_t g, int64_t vm)
{
    struct db *db = t->k->db;
    for (size_t i = 0; i < s->nnics; i++) {
        char field[48], other[80];
        snprintf(field, sizeof(field), "networkInterfaces[%zu]", i);
        int64_t id = prov_find(t->k, "nics", g, s->nics[i], "network interface", field, t->e);
        if (id < 0) return -1;
        if (db_text(db, other, sizeof(other),
                    "SELECT v.name FROM nics n JOIN vms v ON v.id = n.vm_id WHERE n.id = ?", "i",
                    id))
            return kerr_set(t->e, 409, "InUse", field,
                            "%s: network interface '%s' is attached to virtual machine '%s'", field,
                            s->nics[i], other);
        bool with_vm = s->nic_delete && s->nic_delete[i];
        if (db_exec(db,
                    "UPDATE nics SET vm_id = ?1, nic_index = ?2,"
                    " owner_vm = CASE WHEN ?3 THEN ?1 ELSE owner_vm END WHERE id = ?4",
                    "iiii", vm, (int64_t)i, (int64_t)with_vm, id) < 0)
            return prov_db_error(t, NULL);
        t->net_changed = true;
    }
    return 0;
}

/* What the image's provisioning (none, kumo, cloud-init) can honour of the
 * OS profile; 0, or -1 with a 400 naming the field. */
static int check_os_profile(struct kumod *k, const struct prov_vm_spec *s, const char *prov,
                            const char *image, struct kerr *e)
{
    bool password = s->admin_password || s->admin_pw_hash;
    if (!s->admin_username && (s->nkeys || password))
        return kerr_invalid(e, "osProfile.adminUsername",
                            "osProfile.adminUsername: missing: SSH keys and a password are the "
                            "admin account's; give its user name (e.g. azureuser)");
    if (s->nkeys > PROV_MAX_SSH_KEYS)
        return kerr_invalid(e, "osProfile.sshPublicKeys",
                            "osProfile.sshPublicKeys: %zu keys; at most %d", s->nkeys,
                            PROV_MAX_SSH_KEYS);
    if (!s->admin_username) return 0;
    if (is(prov, "none"))
        return kerr_invalid(e, "osProfile.adminUsername",
                            "osProfile.adminUsername: image '%s' is not provisioned (its "
                            "provisioning is none): nothing in it would make the admin account "
                            "or install SSH keys; use an image that is ('kumo image list' shows "
                            "each image's provisioning), or leave out the admin account",
                            image);
    if (is(prov, "kumo") && password)
        return kerr_invalid(e, "osProfile.adminPassword",
                            "osProfile.adminPassword: image '%s' cannot take a password: its SSH "
                            "server (dropbear) is built for key logins only and it has no sudo; "
                            "give SSH keys instead (kumo vm create --ssh-key-value "
                            "@~/.ssh/id_ed25519.pub, or --generate-ssh-keys), or use an image "
                            "provisioned by cloud-init (--image Debian13)",
                            image);
    if (is(prov, "kumo") && !netplane_has_switch(k))
        return kerr_invalid(e, "osProfile.adminUsername",
                            "osProfile.adminUsername: image '%s' is provisioned from kumo's "
                            "metadata service, which kumo-switch runs, and this kumod has none "
                            "(--switch none, or it was not found): start kumod with kumo-switch, "
                            "or leave out the admin account",
                            image);
    return 0;
}

int prov_check_os_profile(struct kumod *k, int64_t image_id, const struct prov_vm_spec *s,
                          struct kerr *e)
{
    char prov[32] = "none", iname[80] = "";
    db_text(k->db, prov, sizeof(prov), "SELECT provisioning FROM images WHERE id = ?", "i",
            image_id);
    db_text(k->db, iname, sizeof(iname), "SELECT name FROM images WHERE id = ?", "i", image_id);
    return check_os_profile(k, s, prov, iname, e);
}

int prov_os_profile_encode(const struct prov_vm_spec *s, char *hash, size_t hashlen, char **keys,
                           struct kerr *e)
{
    char why[256];
    *keys = NULL;
    hash[0] = 0;
    if (s->admin_password &&
        guestprov_hash_password(s->admin_password, hash, hashlen, why, sizeof(why)) < 0)
        return kerr_internal(e, "%s", why);
    if (!s->admin_password && s->admin_pw_hash) snprintf(hash, hashlen, "%s", s->admin_pw_hash);
    if (s->nkeys) {
        json_t *a = json_array();
        for (size_t i = 0; i < s->nkeys; i++)
            json_array_append_new(a, json_string(s->ssh_keys[i]));
        *keys = json_dumps(a, JSON_COMPACT);
        json_decref(a);
    }
    return 0;
}

/* Record the OS profile of VM vm (prov_os_profile_encode) and whether its
 * provisioning is tracked; 0, or -1 with t->e. */
static int store_os_profile(struct prov_tx *t, int64_t vm, const struct prov_vm_spec *s,
                            const char *prov)
{
    struct kumod *k = t->k;
    char hash[GUESTPROV_PASSWORD_MAX], *keys;
    if (prov_os_profile_encode(s, hash, sizeof(hash), &keys, t->e) < 0) return -1;
    /* tracked: the guest reports to the metadata service, which kumo-switch runs */
    bool tracked = !is(prov, "none") && netplane_has_switch(k);
    int rc =
        db_exec(k->db,
                "UPDATE vms SET admin_username = ?, ssh_keys = ?, admin_pw_hash = nullif(?, ''),"
                " os_prov = ? WHERE id = ?",
                "tttti", s->admin_username, keys, hash, tracked ? "Pending" : NULL, vm);
    free(keys);
    explicit_bzero(hash, sizeof(hash));
    return rc < 0 ? prov_db_error(t, NULL) : 0;
}

int64_t prov_vm_insert(struct prov_tx *t, int64_t g, const struct prov_vm_spec *s)
{
    struct kumod *k = t->k;
    struct db *db = k->db;
    struct kerr *e = t->e;
    assert(t->open && kumod_lock_held(k));
    if (prov_name_free(k, "vms", g, s->name, "virtual machine", true, e) < 0) return -1;
    struct prov_size size;
    if (!prov_size_lookup(k, s->size, &size, e)) return -1;
    int64_t image_id = prov_ready_image(k, s->image ? s->image : "default", e);
    if (image_id < 0) return -1;
    if ((int64_t)s->ndata > size.max_data_disks)
        return kerr_invalid(e, "dataDisks",
                            "dataDisks: size %s takes at most %" PRId64 " data disks", size.name,
                            size.max_data_disks);
    char prov[32] = "none", iname[80] = "";
    db_text(db, prov, sizeof(prov), "SELECT provisioning FROM images WHERE id = ?", "i", image_id);
    db_text(db, iname, sizeof(iname), "SELECT name FROM images WHERE id = ?", "i", image_id);
    if (check_os_profile(k, s, prov, iname, e) < 0) return -1;
    /* kumo-vmm's virtio slots: the OS disk, data disks, the seed disk, NICs */
    size_t devices =
        1 + s->ndata + (is(prov, "cloud-init") ? 1 : 0) + (s->nics_given ? s->nnics : 1);
    if (is(prov, "cloud-init") && devices > VMM_MAX_DEVICES)
        return kerr_invalid(e, "dataDisks",
                            "dataDisks: image '%s' needs a seed disk for cloud-init, and a VM has "
                            "room for %d disks and NICs together: %zu data disks are too many "
                            "here",
                            iname, VMM_MAX_DEVICES, s->ndata);
    int64_t img_bytes =
        db_int(db, NULL, 0, "SELECT size_bytes FROM images WHERE id = ?", "i", image_id);
    int64_t img_gib = (int64_t)(((uint64_t)img_bytes + GIB - 1) / GIB);
    int64_t os_gib = s->os_size_gib > 0          ? s->os_size_gib
                     : img_gib > MIN_OS_DISK_GIB ? img_gib
                                                 : MIN_OS_DISK_GIB;

    int64_t now = time_now_ms();
    char cores[64] = "";
    struct placement_req pr = {.size_name = size.name,
                               .vcpus = size.vcpus,
                               .mib = size.mem_mib,
                               .dedicated = s->dedicated,
                               .spread_vmss = s->vmss_id};
    if (s->host) {
        pr.only_host = db_int(db, NULL, 0, "SELECT id FROM hosts WHERE name = ?", "t", s->host);
        if (!pr.only_host)
            return kerr_invalid(e, "host", "host: there is no host '%.64s' (kumo host list)",
                                s->host);
    }
    /* cluster mode, this host's disks its own (no shared storage): the VM's
     * disks are made here, so it runs here (docs/cluster.md) */
    if (k->clustered &&
        !db_int(db, NULL, 0, "SELECT shared_storage FROM hosts WHERE id = ?", "i", k->host_id)) {
        if (pr.only_host && pr.only_host != k->host_id)
            return kerr_invalid(e, "host",
                                "host: this host keeps disks on its own storage, so its VMs run "
                                "here: create the VM through host '%.64s''s kumod",
                                s->host);
        pr.only_host = k->host_id;
    }
    int64_t host = placement_choose_req(db, &pr, cores, sizeof(cores), e);
    if (host < 0) return -1;
    double credits = 0;
    bool burstable = size_credits(db, size.id, &credits);
    char *tags = s->tags ? json_dumps(s->tags, JSON_COMPACT) : NULL;
    int rc =
        db_exec(db,
                "INSERT INTO vms (group_id, name, size_id, vcpus, mem_mib, image_id, host_id,"
                " prov_state, power_state, op, op_started_ms, user_data, tags, created_ms,"
                " updated_ms, dedicated, host_cpus, cpu_credits, credits_ms, cpu_capped)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, 'Creating', 'Creating', 'create',"
                " ?, ?, ?, ?, ?, ?, nullif(?, ''), CASE WHEN ? THEN ? END, ?, ?)",
                "itiiiiiittiiitidii", g, s->name, size.id, size.vcpus, size.mem_mib, image_id, host,
                now, s->user_data, tags ? tags : "{}", now, now, (int64_t)s->dedicated, cores,
                (int64_t)burstable, credits, now, (int64_t)(burstable && !(credits > 0)));
    free(tags);
    if (rc < 0) return prov_db_error(t, NULL);
    int64_t vm = db_last_id(db);
    if (s->vmss_id > 0 &&
        db_exec(db, "UPDATE vms SET vmss_id = ?, vmss_index = ?, model_version = ? WHERE id = ?",
                "iiii", s->vmss_id, s->vmss_index, s->model_version, vm) < 0)
        return prov_db_error(t, NULL);
    if (vm_set_state(db, vm, NULL, NULL, "created", now) < 0) return prov_db_error(t, NULL);
    if (store_os_profile(t, vm, s, prov) < 0) return -1;
    /* OS disk: an overlay of the image */
    char disk_name[96], base[96];
    snprintf(base, sizeof(base), "%.60s-osdisk", s->name);
    unique_name(k, "disks", g, base, vm, disk_name, sizeof(disk_name));
    int64_t os =
        prov_disk_insert(t, g, disk_name, s->os_tier, os_gib, image_id, 0, "osDisk.sizeGiB");
    if (os < 0) return -1;
    if (db_exec(db, "UPDATE disks SET vm_id = ?, os_disk = 1, owner_vm = nullif(?, 0) WHERE id = ?",
                "iii", vm, s->os_disk_detach ? 0 : vm, os) < 0)
        return prov_db_error(t, NULL);
    if (prov_disk_set_caching(t, os, s->os_caching, "osDisk.caching") < 0) return -1;
    for (size_t i = 0; i < s->ndata; i++) {
        char prefix[32];
        snprintf(prefix, sizeof(prefix), "dataDisks[%zu]", i);
        if (attach_disk(t, g, vm, s->name, &s->data_disks[i], prefix, true) < 0) return -1;
    }
    if (s->nics_given ? given_nics(t, s, g, vm) < 0 : implicit_network(t, s, g, vm) < 0) return -1;
    prov_tx_job(t, JOB_VM, vm);
    t->net_changed = true;
    return vm;
}

/* ---- run commands ---- */

#define RUNS_KEPT 20 /* per VM: the older ones go */

int64_t prov_vm_run_command(struct kumod *k, int64_t g, const char *name, const char *script,
                            int64_t timeout_s, struct kerr *e)
{
    struct db *db = k->db;
    struct vm_row v;
    if (strlen(script) > RUNCMD_SCRIPT_MAX)
        return kerr_invalid(e, "script",
                            "script: %zu bytes (with its parameters); at most %d: put a longer "
                            "program in a file the script fetches or the image holds",
                            strlen(script), RUNCMD_SCRIPT_MAX);
    if (vm_lookup(k, g, name, &v, e) < 0 || busy(&v, e) < 0) return -1;
    if (!is(v.power, PS_RUNNING))
        return kerr_conflict(e, "InvalidState",
                             "virtual machine '%s' is %s: a command runs only in a Running VM "
                             "(start it first)",
                             v.name, v.power);
    if (!k->vmm_has_control)
        return kerr_conflict(e, "InvalidState",
                             "this kumo-vmm has no control socket: no channel to the guest");
    int64_t host =
        db_int(db, NULL, 0, "SELECT coalesce(host_id, 0) FROM vms WHERE id = ?", "i", v.id);
    if (k->clustered && host != k->host_id) {
        /* the guest's channel is the control socket on the VM's own host */
        char hname[128] = "?";
        db_text(db, hname, sizeof(hname), "SELECT name FROM hosts WHERE id = ?", "i", host);
        return kerr_conflict(e, "InvalidState",
                             "virtual machine '%s' runs on host '%s': a command is run by that "
                             "host's kumod; send the request there",
                             v.name, hname);
    }
    int64_t other = db_int(db, NULL, -1,
                           "SELECT id FROM run_commands WHERE vm_id = ?"
                           " AND state IN ('Pending', 'Running')",
                           "i", v.id);
    if (other >= 0)
        return kerr_conflict(e, "OperationInProgress",
                             "virtual machine '%s' is running command %" PRId64
                             " already: one runs at a time; wait for it",
                             v.name, other);
    struct prov_tx t;
    if (prov_begin(&t, k, e) < 0) return -1;
    int64_t now = time_now_ms();
    if (db_exec(db,
                "INSERT INTO run_commands (vm_id, script, timeout_s, state, created_ms)"
                " VALUES (?, ?, ?, 'Pending', ?)",
                "itii", v.id, script, timeout_s, now) < 0) {
        prov_db_error(&t, "run command");
        prov_abort(&t);
        return -1;
    }
    int64_t id = db_last_id(db);
    if (db_exec(db,
                "DELETE FROM run_commands WHERE vm_id = ?1 AND id NOT IN"
                " (SELECT id FROM run_commands WHERE vm_id = ?1 ORDER BY id DESC LIMIT ?2)",
                "ii", v.id, (int64_t)RUNS_KEPT) < 0) {
        prov_db_error(&t, "run command");
        prov_abort(&t);
        return -1;
    }
    prov_tx_job(&t, JOB_RUN, id);
    return prov_commit(&t) < 0 ? -1 : id;
}
