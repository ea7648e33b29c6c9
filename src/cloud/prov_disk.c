/*
 * prov_disk.c - the provisioning layer's managed disks (provision.h): a
 * disk's row and its qcow2 file, made in the same transaction (the file is
 * removed if the transaction does not commit), tier changes applied live
 * to the running kumo-vmm, growth, delete.
 */
#include "cloud/provision.h"

#include "cloud/billing.h"
#include "cloud/db.h"
#include "cloud/kumod.h"
#include "cloud/paths.h"
#include "cloud/state.h"
#include "cloud/timefmt.h"
#include "cloud/vmm_client.h"
#include "storage/disk.h"
#include "storage/tiers.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define GIB (1024ull * 1024 * 1024)

int64_t prov_disk_insert(struct prov_tx *t, int64_t group_id, const char *name, const char *tier,
                         int64_t size_gib, int64_t image_id, int64_t snapshot_id,
                         const char *size_field)
{
    struct kumod *k = t->k;
    struct db *db = k->db;
    struct kerr *e = t->e;
    assert(t->open && kumod_lock_held(k));
    char g[80];
    prov_group_name(k, group_id, g, sizeof(g));
    if (db_int(db, NULL, -1, "SELECT id FROM disks WHERE group_id = ? AND name = ?", "it", group_id,
               name) >= 0)
        return kerr_conflict(e, "AlreadyExists", "disk '%s' already exists in resource group '%s'",
                             name, g);
    enum disk_tier dt = DISK_TIER_STANDARD_SSD;
    if (tier) disk_tier_parse(tier, &dt);
    char backing[PATH_MAX] = "";
    int64_t min_gib = 1;
    if (image_id > 0) {
        char state[32] = "";
        db_text(db, state, sizeof(state), "SELECT state FROM images WHERE id = ?", "i", image_id);
        if (strcmp(state, PV_SUCCEEDED) != 0)
            return kerr_conflict(e, "InvalidState", "the image is %s, not Succeeded",
                                 state[0] ? state : "gone");
        db_text(db, backing, sizeof(backing), "SELECT path FROM images WHERE id = ?", "i",
                image_id);
        int64_t bytes =
            db_int(db, NULL, 0, "SELECT size_bytes FROM images WHERE id = ?", "i", image_id);
        min_gib = (int64_t)(((uint64_t)bytes + GIB - 1) / GIB);
    } else if (snapshot_id > 0) {
        char state[32] = "";
        db_text(db, state, sizeof(state), "SELECT state FROM snapshots WHERE id = ?", "i",
                snapshot_id);
        if (strcmp(state, PV_SUCCEEDED) != 0)
            return kerr_conflict(e, "InvalidState", "the snapshot is %s, not Succeeded",
                                 state[0] ? state : "gone");
        path_snapshot(k, backing, snapshot_id);
        min_gib =
            db_int(db, NULL, 1, "SELECT size_gib FROM snapshots WHERE id = ?", "i", snapshot_id);
    }
    if (min_gib < 1) min_gib = 1;
    if (size_gib <= 0) size_gib = min_gib;
    if (size_gib < min_gib)
        return kerr_invalid(e, size_field,
                            "%s: %" PRId64 " GiB is smaller than the source (%" PRId64 " GiB)",
                            size_field, size_gib, min_gib);
    if (!disk_tier_lookup(dt, (uint64_t)size_gib))
        return kerr_invalid(e, size_field, "%s: %" PRId64 " GiB is more than %s offers", size_field,
                            size_gib, disk_tier_name(dt));
    if (db_exec(db,
                "INSERT INTO disks (group_id, name, tier, size_gib, image_id, snapshot_id, state,"
                " created_ms) VALUES (?, ?, ?, ?, nullif(?, 0), nullif(?, 0), 'Succeeded', ?)",
                "ittiiii", group_id, name, disk_tier_name(dt), size_gib,
                image_id > 0 ? image_id : 0, snapshot_id > 0 ? snapshot_id : 0, time_now_ms()) < 0)
        return prov_db_error(t, "disk create");
    int64_t id = db_last_id(db);
    char path[PATH_MAX], err[512];
    path_disk(k, path, id);
    if (disk_create(path, "qcow2", (uint64_t)size_gib * GIB, backing[0] ? backing : NULL, NULL, 0,
                    err, sizeof(err)) < 0)
        return kerr_internal(e, "disk create: %s", err);
    prov_tx_file(t, path);
    if (billing_disk_sync(db, id, true, time_now_ms()) < 0) return prov_db_error(t, "disk create");
    return id;
}

int64_t prov_disk_create(struct kumod *k, int64_t g, const struct prov_disk_spec *s, struct kerr *e)
{
    int64_t img = 0, snap = 0;
    if (s->image && (img = prov_image(k, s->image, "image", e)) < 0) return -1;
    if (s->snapshot &&
        (snap = prov_find(k, "snapshots", g, s->snapshot, "snapshot", "snapshot", e)) < 0)
        return -1;
    struct prov_tx t;
    if (prov_begin(&t, k, e) < 0) return -1;
    int64_t id = prov_disk_insert(&t, g, s->name, s->tier, s->size_gib, img, snap, "sizeGiB");
    if (id < 0 || prov_commit(&t) < 0) {
        prov_abort(&t);
        return -1;
    }
    return id;
}

/* Apply disk id's tier limits (tier t, size_gib) to the running kumo-vmm of
 * vm. The disk's index there is its place in kumo-vmm's argv (vmops.c: the
 * OS disk, then data disks by LUN). 0, or -1 with a message in err. */
static int disk_limits_live(struct kumod *k, int64_t vm, int64_t id, enum disk_tier t,
                            int64_t size_gib, char *err, size_t errlen)
{
    struct db *db = k->db;
    int64_t index =
        db_int(db, NULL, -1,
               "SELECT COUNT(*) FROM disks o, disks d WHERE d.id = ? AND o.vm_id = d.vm_id"
               " AND (o.os_disk > d.os_disk OR (o.os_disk = d.os_disk AND o.lun < d.lun))",
               "i", id);
    int64_t cap = db_int(db, NULL, 0,
                         "SELECT s.max_iops FROM vms v JOIN sizes s ON s.id = v.size_id"
                         " WHERE v.id = ?",
                         "i", vm);
    const struct disk_tier_size *o = disk_tier_lookup(t, (uint64_t)size_gib);
    if (index < 0 || !o) {
        snprintf(err, errlen, "the disk is not in the VM's configuration");
        return -1;
    }
    struct ratelimit_rates r;
    disk_tier_rates(o, cap > 0 ? (uint64_t)cap : 0, &r);
    json_t *req = json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "op", "set_disk_limits", "disk",
                            (json_int_t)index, "iops", (json_int_t)r.iops, "bps", (json_int_t)r.bps,
                            "iops_max", (json_int_t)r.iops_max, "iops_max_length",
                            (json_int_t)r.iops_max_length, "bps_max", (json_int_t)r.bps_max,
                            "bps_max_length", (json_int_t)r.bps_max_length);
    char sock[PATH_MAX];
    json_t *reply = vmm_request(path_vm_file(k, sock, vm, "control.sock"), req, 5000, err, errlen);
    json_decref(req);
    if (!reply) return -1;
    json_decref(reply);
    return 0;
}

int64_t prov_disk_update(struct kumod *k, int64_t g, const char *name, const char *tier,
                         int64_t size_gib, struct kerr *e)
{
    struct db *db = k->db;
    int64_t id = prov_find(k, "disks", g, name, "disk", NULL, e);
    if (id < 0) return -1;
    int64_t old = db_int(db, NULL, 0, "SELECT size_gib FROM disks WHERE id = ?", "i", id);
    char cur[32];
    db_text(db, cur, sizeof(cur), "SELECT tier FROM disks WHERE id = ?", "i", id);
    enum disk_tier t = DISK_TIER_STANDARD_SSD, was = DISK_TIER_STANDARD_SSD;
    disk_tier_parse(cur, &was);
    disk_tier_parse(tier ? tier : cur, &t);
    int64_t size = size_gib > 0 ? size_gib : old;
    if (size < old)
        return kerr_invalid(e, "sizeGiB", "sizeGiB: disks only grow (it is %" PRId64 " GiB)", old);
    if (!disk_tier_lookup(t, (uint64_t)size))
        return kerr_invalid(e, "sizeGiB", "sizeGiB: %" PRId64 " GiB is more than %s offers", size,
                            disk_tier_name(t));
    /* A disk in use may change tier (its new limits apply at once, as Azure
     * changes a performance tier without downtime); its size changes only
     * while no kumo-vmm has it open. */
    int64_t vm = db_int(db, NULL, 0, "SELECT vm_id FROM disks WHERE id = ?", "i", id);
    bool live = false;
    if (vm > 0) {
        char power[32] = "";
        db_text(db, power, sizeof(power), "SELECT power_state FROM vms WHERE id = ?", "i", vm);
        bool off = !strcmp(power, PS_STOPPED) || !strcmp(power, PS_DEALLOCATED);
        if (!off && (size != old || strcmp(power, PS_RUNNING)))
            return kerr_conflict(
                e, "InvalidState",
                "disk '%s' is attached to a VM that is %s: its tier can change while the"
                " VM runs, its size only when the VM is stopped or deallocated",
                name, power);
        live = !off && t != was;
    }
    if (live) {
        char err[512];
        if (disk_limits_live(k, vm, id, t, size, err, sizeof(err)) < 0)
            return kerr_internal(e, "the running VM did not take the new tier's limits: %s", err);
    }
    if (size > old) {
        char path[PATH_MAX], err[512];
        struct disk_options o = {.format = "qcow2"};
        struct disk *d = disk_open(path_disk(k, path, id), &o, err, sizeof(err));
        int rc = d ? disk_resize(d, (uint64_t)size * GIB) : -1;
        if (d && rc < 0) disk_last_error(d, err, sizeof(err));
        if (d) disk_close(d);
        if (rc < 0) return kerr_internal(e, "disk resize: %s", err);
    }
    struct prov_tx tx;
    if (prov_begin(&tx, k, e) < 0) return -1;
    if (db_exec(db, "UPDATE disks SET size_gib = ?, tier = ? WHERE id = ?", "iti", size,
                disk_tier_name(t), id) < 0 ||
        billing_disk_sync(db, id, true, time_now_ms()) < 0) {
        prov_db_error(&tx, "disk update");
        prov_abort(&tx);
        return -1;
    }
    return prov_commit(&tx) < 0 ? -1 : id;
}

int prov_disk_delete(struct kumod *k, int64_t g, const char *name, struct kerr *e)
{
    struct db *db = k->db;
    int64_t id = prov_find(k, "disks", g, name, "disk", NULL, e);
    if (id < 0) return -1;
    char vm[80];
    if (db_text(db, vm, sizeof(vm),
                "SELECT v.name FROM disks d JOIN vms v ON v.id = d.vm_id WHERE d.id = ?", "i",
                id)) {
        char what[128], users[160];
        snprintf(what, sizeof(what), "disk '%s'", name);
        snprintf(users, sizeof(users), "virtual machine '%s' (detach it, or delete the VM)", vm);
        return prov_in_use(e, what, users);
    }
    struct prov_tx t;
    if (prov_begin(&t, k, e) < 0) return -1;
    if (billing_disk_sync(db, id, false, time_now_ms()) < 0 ||
        db_exec(db, "DELETE FROM disks WHERE id = ?", "i", id) < 0) {
        prov_db_error(&t, "disk delete");
        prov_abort(&t);
        return -1;
    }
    if (prov_commit(&t) < 0) return -1;
    char path[PATH_MAX];
    unlink(path_disk(k, path, id));
    return 0;
}
