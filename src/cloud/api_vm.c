/*
 * api_vm.c - the API's virtual machines (docs/api.md "Virtual machines"):
 * create (with the implicit network of `az vm create`, placement and disks
 * in one transaction), the power actions and resize, data disk attach and
 * detach, delete, boot diagnostics and state history. Actions only record
 * the operation (vms.op) and the states it starts in; vmops.c carries it
 * out on a job thread.
 */
#include "cloud/api.h"

#include "cloud/body.h"
#include "cloud/credits.h"
#include "cloud/db.h"
#include "cloud/jobs.h"
#include "cloud/paths.h"
#include "cloud/placement.h"
#include "cloud/requests.h"
#include "cloud/state.h"
#include "cloud/timefmt.h"
#include "network/addr.h"

#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define GIB             (1024ull * 1024 * 1024)
#define MIN_OS_DISK_GIB 4

/* ---- rendering ---- */

static json_t *vm_nics_json(struct kumod *k, int64_t vm)
{
    json_t *arr = json_array();
    sqlite3_stmt *st = db_stmt(
        k->db, "SELECT id, public_ip_id FROM nics WHERE vm_id = ? ORDER BY nic_index", "i", vm);
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        json_t *n = api_nic_json(k, sqlite3_column_int64(st, 0));
        if (!n) continue;
        json_t *pip = db_col_null(st, 1) ? NULL : api_pip_json(k, sqlite3_column_int64(st, 1));
        json_t *e =
            json_pack("{s:O,s:O,s:O,s:O,s:O,s:o}", "name", json_object_get(n, "name"), "vnet",
                      json_object_get(n, "vnet"), "subnet", json_object_get(n, "subnet"),
                      "privateIp", json_object_get(n, "privateIp"), "macAddress",
                      json_object_get(n, "macAddress"), "publicIp",
                      pip ? json_pack("{s:O,s:O,s:O}", "name", json_object_get(pip, "name"),
                                      "ipAddress", json_object_get(pip, "ipAddress"), "ports",
                                      json_object_get(pip, "ports"))
                          : json_null());
        json_t *perr = pip ? json_object_get(pip, "portErrors") : NULL;
        if (perr) json_object_set(json_object_get(e, "publicIp"), "portErrors", perr);
        json_decref(pip);
        json_decref(n);
        json_array_append_new(arr, e);
    }
    sqlite3_finalize(st);
    return arr;
}

json_t *api_vm_json(struct kumod *k, int64_t id)
{
    sqlite3_stmt *st =
        db_stmt(k->db,
                "SELECT g.name, v.name, h.name, s.name, v.vcpus, v.mem_mib, i.name,"
                " v.prov_state, v.power_state, v.user_data IS NOT NULL, v.tags, v.pid,"
                " v.started_ms, v.last_exit, v.error_code, v.error_msg, v.created_ms,"
                " v.updated_ms, v.dedicated, v.host_cpus, v.cpu_credits, v.cpu_capped, s.burst,"
                " (SELECT name FROM vmss WHERE id = v.vmss_id), v.model_version"
                " FROM vms v JOIN groups g ON g.id = v.group_id"
                " JOIN sizes s ON s.id = v.size_id JOIN images i ON i.id = v.image_id"
                " LEFT JOIN hosts h ON h.id = v.host_id WHERE v.id = ?",
                "i", id);
    if (!st) return NULL;
    json_t *out = NULL;
    if (sqlite3_step(st) == SQLITE_ROW) {
        char rid[256], sock[PATH_MAX], log[PATH_MAX];
        snprintf(rid, sizeof(rid), "/resourceGroups/%s/virtualMachines/%s", db_col_text(st, 0),
                 db_col_text(st, 1));
        json_t *os = json_null(), *data = json_array();
        sqlite3_stmt *ds =
            db_stmt(k->db,
                    "SELECT name, tier, size_gib, os_disk, lun FROM disks WHERE vm_id = ?"
                    " ORDER BY os_disk DESC, lun",
                    "i", id);
        while (ds && sqlite3_step(ds) == SQLITE_ROW) {
            json_t *d =
                json_pack("{s:s,s:s,s:I}", "name", db_col_text(ds, 0), "tier", db_col_text(ds, 1),
                          "sizeGiB", (json_int_t)sqlite3_column_int64(ds, 2));
            if (sqlite3_column_int(ds, 3)) {
                json_decref(os);
                os = d;
            } else {
                json_object_set_new(d, "lun", json_integer(sqlite3_column_int64(ds, 4)));
                json_array_append_new(data, d);
            }
        }
        sqlite3_finalize(ds);
        json_t *tags = json_loads(db_col_text(st, 10), 0, NULL);
        json_t *last = db_col_null(st, 13) ? NULL : json_loads(db_col_text(st, 13), 0, NULL);
        json_t *iv = json_pack(
            "{s:o,s:o,s:s,s:s,s:o}", "pid",
            db_col_null(st, 11) ? json_null() : json_integer(sqlite3_column_int64(st, 11)),
            "startedAt", api_time(db_col_null(st, 12) ? -1 : sqlite3_column_int64(st, 12)),
            "consoleSocket", path_vm_file(k, sock, id, "console.sock"), "bootDiagnosticsLog",
            path_vm_file(k, log, id, "console.log"), "lastExit", last ? last : json_null());
        json_t *err = db_col_null(st, 14) ? json_null()
                                          : json_pack("{s:s,s:s}", "code", db_col_text(st, 14),
                                                      "message", db_col_text(st, 15));
        out = json_pack("{s:s,s:s,s:s,s:s,s:s,s:o,s:s,s:I,s:I,s:s,s:s,s:s,s:o,s:o,s:o,s:b,s:o,"
                        "s:o,s:o,s:o,s:o}",
                        "id", rid, "name", db_col_text(st, 1), "type", "virtualMachine",
                        "resourceGroup", db_col_text(st, 0), "location", "local", "host",
                        db_col_null(st, 2) ? json_null() : json_string(db_col_text(st, 2)), "size",
                        db_col_text(st, 3), "vcpus", (json_int_t)sqlite3_column_int64(st, 4),
                        "memoryMiB", (json_int_t)sqlite3_column_int64(st, 5), "image",
                        db_col_text(st, 6), "provisioningState", db_col_text(st, 7), "powerState",
                        db_col_text(st, 8), "osDisk", os, "dataDisks", data, "networkInterfaces",
                        vm_nics_json(k, id), "hasUserData", sqlite3_column_int(st, 9), "tags",
                        tags ? tags : json_object(), "instanceView", iv, "error", err, "createdAt",
                        api_time(sqlite3_column_int64(st, 16)), "updatedAt",
                        api_time(sqlite3_column_int64(st, 17)));
        json_object_set_new(out, "dedicated", json_boolean(sqlite3_column_int(st, 18)));
        json_object_set_new(out, "hostCpus", db_col_null(st, 19) ? json_null()
                                                                : json_string(db_col_text(st, 19)));
        struct credit_policy p;
        if (!db_col_null(st, 20) &&
            credits_policy_parse(db_col_null(st, 22) ? NULL : db_col_text(st, 22), &p))
            json_object_set_new(
                out, "cpuCredits",
                json_pack("{s:f,s:f,s:f,s:f,s:b}", "credits",
                          floor(sqlite3_column_double(st, 20) * 1000 + 0.5) / 1000,
                          "baselinePercent", p.baseline_pct, "creditsPerHour", p.per_hour,
                          "maxCredits", p.max, "heldToBaseline", sqlite3_column_int(st, 21)));
        else
            json_object_set_new(out, "cpuCredits", json_null());
        if (out && !db_col_null(st, 23))
            json_object_set_new(out, "scaleSet",
                                json_pack("{s:s,s:I}", "name", db_col_text(st, 23), "modelVersion",
                                          (json_int_t)sqlite3_column_int64(st, 24)));
    }
    sqlite3_finalize(st);
    return out;
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

/* ---- lookups and common checks ---- */

struct vm_row {
    int64_t id, group, size_id, host_id, vcpus, mem_mib;
    bool dedicated;
    char name[80], power[32], prov[32], op[32];
};

static int64_t vm_lookup(struct api_ctx *c, struct vm_row *v)
{
    memset(v, 0, sizeof(*v));
    v->group = api_group(c, c->p[0]);
    if (v->group < 0) return -1;
    v->id = api_find(c, "vms", v->group, c->p[1], "virtual machine", NULL);
    if (v->id < 0) return -1;
    sqlite3_stmt *st = db_stmt(c->k->db,
                               "SELECT name, power_state, prov_state, coalesce(op, ''), size_id,"
                               " coalesce(host_id, 0), vcpus, mem_mib, dedicated FROM vms"
                               " WHERE id = ?",
                               "i", v->id);
    if (st && sqlite3_step(st) == SQLITE_ROW) {
        snprintf(v->name, sizeof(v->name), "%s", db_col_text(st, 0));
        snprintf(v->power, sizeof(v->power), "%s", db_col_text(st, 1));
        snprintf(v->prov, sizeof(v->prov), "%s", db_col_text(st, 2));
        snprintf(v->op, sizeof(v->op), "%s", db_col_text(st, 3));
        v->size_id = sqlite3_column_int64(st, 4);
        v->host_id = sqlite3_column_int64(st, 5);
        v->vcpus = sqlite3_column_int64(st, 6);
        v->mem_mib = sqlite3_column_int64(st, 7);
        v->dedicated = sqlite3_column_int(st, 8) != 0;
    }
    sqlite3_finalize(st);
    return v->id;
}

static int busy(struct api_ctx *c, const struct vm_row *v)
{
    if (!v->op[0]) return 0;
    return kerr_conflict(&c->err, "OperationInProgress",
                         "virtual machine '%s' is busy: %s in progress (provisioningState %s, "
                         "powerState %s); wait for it to finish",
                         v->name, v->op, v->prov, v->power);
}

static bool vm_done(struct api_ctx *c, int64_t id)
{
    bool ok;
    int64_t n = db_int(c->k->db, &ok, 0, "SELECT count(*) FROM vms WHERE id = ? AND op IS NOT NULL",
                       "i", id);
    return ok && n == 0;
}

static bool vm_exists(struct api_ctx *c, int64_t id)
{
    return db_int(c->k->db, NULL, 0, "SELECT count(*) FROM vms WHERE id = ?", "i", id) > 0;
}

/* Answer an action: wait if asked, then the VM (202 while running). */
static void action_reply(struct api_ctx *c, int64_t id, int wait, int done_status)
{
    bool done = api_wait(c, wait, vm_done, id);
    if (!vm_exists(c, id)) {
        api_reply(c, 204, NULL);
        return;
    }
    json_t *out = api_vm_json(c->k, id);
    api_set_location(c, json_string_value(json_object_get(out, "id")));
    api_reply(c, done && wait ? done_status : 202, out);
}

/* Pick a free name: base, or base-ID if base is taken in the table. */
static void unique_name(struct api_ctx *c, const char *table, int64_t group, const char *base,
                        int64_t id, char *out, size_t len)
{
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s WHERE group_id = ? AND name = ?", table);
    snprintf(out, len, "%s", base);
    if (db_int(c->k->db, NULL, 0, sql, "it", group, out) > 0)
        snprintf(out, len, "%.60s-%" PRId64, base, id);
}

static int64_t next_lun(struct api_ctx *c, int64_t vm)
{
    for (int64_t lun = 0; lun < 6; lun++)
        if (db_int(c->k->db, NULL, 0, "SELECT count(*) FROM disks WHERE vm_id = ? AND lun = ?",
                   "ii", vm, lun) == 0)
            return lun;
    return -1;
}

/* Attach data disk `d` (a dataDisks element or an attach body) to vm. */
static int attach_disk(struct api_ctx *c, int64_t group, int64_t vm, const char *vm_name,
                       const json_t *d, const char *prefix)
{
    struct db *db = c->k->db;
    char field[64];
    int64_t lun = body_int(d, "lun", -1);
    if (lun < 0) lun = next_lun(c, vm);
    snprintf(field, sizeof(field), "%s%slun", prefix, *prefix ? "." : "");
    if (lun < 0) return kerr_invalid(&c->err, field, "%s: all 6 LUNs are in use", field);
    char other[80];
    if (db_text(db, other, sizeof(other), "SELECT name FROM disks WHERE vm_id = ? AND lun = ?",
                "ii", vm, lun))
        return kerr_set(&c->err, 409, "AlreadyExists", field,
                        "%s: LUN %" PRId64 " is taken by disk '%s'", field, lun, other);
    int64_t disk;
    if (body_has(d, "disk")) {
        snprintf(field, sizeof(field), "%s%sdisk", prefix, *prefix ? "." : "");
        disk = api_find(c, "disks", group, body_str(d, "disk", ""), "disk", field);
        if (disk < 0) return -1;
        if (db_text(db, other, sizeof(other),
                    "SELECT v.name FROM disks d JOIN vms v ON v.id = d.vm_id WHERE d.id = ?", "i",
                    disk))
            return kerr_set(&c->err, 409, "InUse", field,
                            "%s: disk '%s' is attached to virtual machine '%s'", field,
                            body_str(d, "disk", ""), other);
    } else {
        char name[96], base[96];
        snprintf(base, sizeof(base), "%.60s-data%" PRId64, vm_name, lun);
        if (body_has(d, "name"))
            snprintf(name, sizeof(name), "%s", body_str(d, "name", ""));
        else
            unique_name(c, "disks", group, base, vm, name, sizeof(name));
        snprintf(field, sizeof(field), "%s%ssizeGiB", prefix, *prefix ? "." : "");
        disk = api_disk_insert(c, group, name, body_str(d, "tier", NULL), body_int(d, "sizeGiB", 1),
                               0, 0, field);
        if (disk < 0) return -1;
    }
    if (db_exec(db, "UPDATE disks SET vm_id = ?, lun = ?, os_disk = 0 WHERE id = ?", "iii", vm, lun,
                disk) < 0)
        return kerr_internal(&c->err, "%s", db_errmsg(db));
    return 0;
}

/* ---- create ---- */

static int64_t find_or_create_nsg(struct api_ctx *c, int64_t g, const char *name)
{
    int64_t id = db_int(c->k->db, NULL, -1, "SELECT id FROM nsgs WHERE group_id = ? AND name = ?",
                        "it", g, name);
    if (id >= 0) return id;
    json_t *rules = json_pack("[{s:s,s:i,s:s,s:s,s:s,s:s,s:s,s:s}]", "name", "AllowSSH", "priority",
                              1000, "direction", "Inbound", "access", "Allow", "protocol", "Tcp",
                              "sourceAddressPrefix", "*", "destinationPortRange", "22",
                              "description", "made by virtual machine create");
    id = api_nsg_insert(c, g, name, rules, "nsg");
    json_decref(rules);
    return id;
}

/* The implicit network of a create: VNet, subnet, NSG, public IP, NIC. */
static int implicit_network(struct api_ctx *c, const json_t *b, int64_t g, int64_t vm,
                            const char *vm_name, const json_t *pip_ports)
{
    struct db *db = c->k->db;
    char vnet_name[96], subnet_name[96], dflt_vnet[96];
    snprintf(dflt_vnet, sizeof(dflt_vnet), "%.60s-vnet", vm_name);
    snprintf(vnet_name, sizeof(vnet_name), "%s", body_str(b, "vnet", dflt_vnet));
    snprintf(subnet_name, sizeof(subnet_name), "%s", body_str(b, "subnet", "default"));
    int64_t vnet = db_int(db, NULL, -1, "SELECT id FROM vnets WHERE group_id = ? AND name = ?",
                          "it", g, vnet_name);
    if (vnet < 0) {
        json_t *spaces = json_pack("[s]", "10.0.0.0/16");
        json_t *subnets =
            json_pack("[{s:s,s:s}]", "name", subnet_name, "addressPrefix", "10.0.0.0/24");
        vnet = api_vnet_insert(c, g, vnet_name, spaces, subnets);
        json_decref(spaces);
        json_decref(subnets);
        if (vnet < 0) return -1;
    }
    int64_t subnet = db_int(db, NULL, -1, "SELECT id FROM subnets WHERE vnet_id = ? AND name = ?",
                            "it", vnet, subnet_name);
    if (subnet < 0)
        return kerr_invalid(&c->err, "subnet",
                            "subnet: subnet '%s' not found in virtual network '%s'", subnet_name,
                            vnet_name);
    int64_t nsg = 0;
    const json_t *nv = json_object_get(b, "nsg");
    if (!nv || json_is_string(nv)) {
        char nsg_name[96];
        snprintf(nsg_name, sizeof(nsg_name), "%.60s-nsg", vm_name);
        nsg = find_or_create_nsg(c, g, nv ? json_string_value(nv) : nsg_name);
        if (nsg < 0) return -1;
    }
    int64_t pip = 0;
    const json_t *pv = json_object_get(b, "publicIp");
    if (json_is_true(pv) || json_is_string(pv)) {
        char pip_name[96];
        snprintf(pip_name, sizeof(pip_name), "%.60s-ip", vm_name);
        if (json_is_string(pv)) snprintf(pip_name, sizeof(pip_name), "%s", json_string_value(pv));
        pip = db_int(db, NULL, -1, "SELECT id FROM public_ips WHERE group_id = ? AND name = ?",
                     "it", g, pip_name);
        if (pip < 0) pip = api_pip_insert(c, g, pip_name, pip_ports, vm);
        if (pip < 0) return -1;
    }
    char nic_name[96], base[96];
    snprintf(base, sizeof(base), "%.60s-nic", vm_name);
    unique_name(c, "nics", g, base, vm, nic_name, sizeof(nic_name));
    int64_t nic = api_nic_insert(c, g, nic_name, subnet, body_str(b, "privateIp", NULL), nsg, pip,
                                 vm, "privateIp");
    if (nic < 0) return -1;
    if (db_exec(db, "UPDATE nics SET vm_id = ?, nic_index = 0 WHERE id = ?", "ii", vm, nic) < 0)
        return kerr_internal(&c->err, "%s", db_errmsg(db));
    return 0;
}

static int given_nics(struct api_ctx *c, const json_t *b, int64_t g, int64_t vm)
{
    const json_t *nics = json_object_get(b, "networkInterfaces");
    size_t i;
    const json_t *n;
    json_array_foreach(nics, i, n)
    {
        char field[48], other[80];
        snprintf(field, sizeof(field), "networkInterfaces[%zu]", i);
        int64_t id = api_find(c, "nics", g, json_string_value(n), "network interface", field);
        if (id < 0) return -1;
        if (db_text(c->k->db, other, sizeof(other),
                    "SELECT v.name FROM nics n JOIN vms v ON v.id = n.vm_id WHERE n.id = ?", "i",
                    id))
            return kerr_set(&c->err, 409, "InUse", field,
                            "%s: network interface '%s' is attached to virtual machine '%s'", field,
                            json_string_value(n), other);
        if (db_exec(c->k->db, "UPDATE nics SET vm_id = ?, nic_index = ? WHERE id = ?", "iii", vm,
                    (int64_t)i, id) < 0)
            return kerr_internal(&c->err, "%s", db_errmsg(c->k->db));
    }
    return 0;
}

int64_t api_vm_insert(struct api_ctx *c, int64_t g, const json_t *b, const json_t *pip_ports,
                      int64_t vmss_id, int64_t vmss_index, int64_t model_version)
{
    struct db *db = c->k->db;
    const char *name = body_str(b, "name", "");
    if (db_int(db, NULL, -1, "SELECT id FROM vms WHERE group_id = ? AND name = ?", "it", g, name) >=
        0) {
        char gname[80];
        api_group_name(c, g, gname, sizeof(gname));
        return kerr_conflict(&c->err, "AlreadyExists",
                             "virtual machine '%s' already exists in resource group '%s'", name,
                             gname);
    }
    const char *size = body_str(b, "size", "");
    sqlite3_stmt *st = db_stmt(
        db, "SELECT id, name, vcpus, mem_mib, max_data_disks FROM sizes WHERE name = ?", "t", size);
    int64_t size_id = -1, vcpus = 0, mib = 0, max_disks = 0;
    char size_name[80] = "";
    if (st && sqlite3_step(st) == SQLITE_ROW) {
        size_id = sqlite3_column_int64(st, 0);
        snprintf(size_name, sizeof(size_name), "%s", db_col_text(st, 1));
        vcpus = sqlite3_column_int64(st, 2);
        mib = sqlite3_column_int64(st, 3);
        max_disks = sqlite3_column_int64(st, 4);
    }
    sqlite3_finalize(st);
    if (size_id < 0)
        return kerr_invalid(&c->err, "size",
                            "size: unknown size '%s'; GET /v1/sizes lists the sizes", size);
    const char *image = body_str(b, "image", "default");
    int64_t image_id = db_int(db, NULL, -1, "SELECT id FROM images WHERE name = ?", "t", image);
    if (image_id < 0)
        return kerr_invalid(&c->err, "image",
                            "image: unknown image '%s'; GET /v1/images lists the images", image);
    char istate[32] = "";
    db_text(db, istate, sizeof(istate), "SELECT state FROM images WHERE id = ?", "i", image_id);
    if (strcmp(istate, PV_SUCCEEDED) != 0)
        return kerr_invalid(&c->err, "image", "image: image '%s' is %s, not ready", image, istate);
    size_t ndata = json_array_size(json_object_get(b, "dataDisks"));
    if ((int64_t)ndata > max_disks)
        return kerr_invalid(&c->err, "dataDisks",
                            "dataDisks: size %s takes at most %" PRId64 " data disks", size_name,
                            max_disks);
    const json_t *osd = json_object_get(b, "osDisk");
    int64_t img_bytes =
        db_int(db, NULL, 0, "SELECT size_bytes FROM images WHERE id = ?", "i", image_id);
    int64_t img_gib = (int64_t)(((uint64_t)img_bytes + GIB - 1) / GIB);
    int64_t os_gib =
        body_int(osd, "sizeGiB", img_gib > MIN_OS_DISK_GIB ? img_gib : MIN_OS_DISK_GIB);

    int64_t now = time_now_ms();
    bool dedicated = json_is_true(json_object_get(b, "dedicated"));
    char cores[64] = "";
    int64_t host = placement_choose_vm(db, size_name, vcpus, mib, 0, dedicated, cores,
                                       sizeof(cores), &c->err);
    if (host < 0) return -1;
    double credits = 0;
    bool burstable = size_credits(db, size_id, &credits);
    const char *ud = body_str(b, "userData", NULL);
    const json_t *tj = json_object_get(b, "tags");
    char *tags = tj ? json_dumps(tj, JSON_COMPACT) : NULL;
    int rc = db_exec(db,
                     "INSERT INTO vms (group_id, name, size_id, vcpus, mem_mib, image_id, host_id,"
                     " prov_state, power_state, op, op_started_ms, user_data, tags, created_ms,"
                     " updated_ms, dedicated, host_cpus, cpu_credits, credits_ms, cpu_capped)"
                     " VALUES (?, ?, ?, ?, ?, ?, ?, 'Creating', 'Creating', 'create',"
                     " ?, ?, ?, ?, ?, ?, nullif(?, ''), CASE WHEN ? THEN ? END, ?, ?)",
                     "itiiiiiittiiitidii", g, name, size_id, vcpus, mib, image_id, host, now, ud,
                     tags ? tags : "{}", now, now, (int64_t)dedicated, cores, (int64_t)burstable,
                     credits, now, (int64_t)(burstable && !(credits > 0)));
    free(tags);
    if (rc < 0) return kerr_internal(&c->err, "%s", db_errmsg(db));
    int64_t vm = db_last_id(db);
    if (vmss_id > 0 &&
        db_exec(db, "UPDATE vms SET vmss_id = ?, vmss_index = ?, model_version = ? WHERE id = ?",
                "iiii", vmss_id, vmss_index, model_version, vm) < 0)
        return kerr_internal(&c->err, "%s", db_errmsg(db));
    if (vm_set_state(db, vm, NULL, NULL, "created", now) < 0) {
        kerr_internal(&c->err, "%s", db_errmsg(db));
        return -1;
    }
    /* OS disk: an overlay of the image */
    char disk_name[96], base[96];
    snprintf(base, sizeof(base), "%.60s-osdisk", name);
    unique_name(c, "disks", g, base, vm, disk_name, sizeof(disk_name));
    int64_t os = api_disk_insert(c, g, disk_name, body_str(osd, "tier", NULL), os_gib, image_id, 0,
                                 "osDisk.sizeGiB");
    if (os < 0) return -1;
    if (db_exec(db, "UPDATE disks SET vm_id = ?, os_disk = 1 WHERE id = ?", "ii", vm, os) < 0) {
        kerr_internal(&c->err, "%s", db_errmsg(db));
        return -1;
    }
    size_t i;
    const json_t *d;
    json_array_foreach(json_object_get(b, "dataDisks"), i, d)
    {
        char prefix[32];
        snprintf(prefix, sizeof(prefix), "dataDisks[%zu]", i);
        if (attach_disk(c, g, vm, name, d, prefix) < 0) return -1;
    }
    if (body_has(b, "networkInterfaces") ? given_nics(c, b, g, vm) < 0
                                         : implicit_network(c, b, g, vm, name, pip_ports) < 0)
        return -1;
    return vm;
}

static void vm_create(struct api_ctx *c)
{
    struct db *db = c->k->db;
    int wait = api_wait_arg(c);
    if (wait < 0) return;
    int64_t g = api_group(c, c->p[0]);
    if (g < 0) return;
    if (db_begin(db) < 0) {
        kerr_internal(&c->err, "%s", db_errmsg(db));
        return;
    }
    int64_t vm = api_vm_insert(c, g, c->body, NULL, 0, 0, 0);
    if (vm < 0 || db_commit(db) < 0) {
        if (!c->err.status) kerr_internal(&c->err, "%s", db_errmsg(db));
        db_rollback(db);
        return;
    }
    jobs_submit(c->k->jobs, JOB_VM, vm);
    api_network_changed(c);
    action_reply(c, vm, wait, 201);
}

/* ---- show, list, update ---- */

static void vms_list(struct api_ctx *c)
{
    int64_t g = api_group(c, c->p[0]);
    if (g < 0) return;
    sqlite3_stmt *st =
        db_stmt(c->k->db, "SELECT id FROM vms WHERE group_id = ? ORDER BY name", "i", g);
    json_t *arr = json_array();
    while (st && sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(arr, api_vm_json(c->k, sqlite3_column_int64(st, 0)));
    sqlite3_finalize(st);
    api_reply(c, 200, json_pack("{s:o}", "value", arr));
}

static void vm_show(struct api_ctx *c)
{
    struct vm_row v;
    if (vm_lookup(c, &v) >= 0) api_reply(c, 200, api_vm_json(c->k, v.id));
}

static void vm_update(struct api_ctx *c)
{
    struct vm_row v;
    if (vm_lookup(c, &v) < 0) return;
    struct db *db = c->k->db;
    char *tags = json_dumps(json_object_get(c->body, "tags"), JSON_COMPACT);
    int rc = db_begin(db);
    if (rc == 0) rc = db_exec(db, "UPDATE vms SET tags = ? WHERE id = ?", "ti", tags, v.id);
    if (rc == 0) rc = db_commit(db);
    free(tags);
    if (rc < 0) {
        db_rollback(db);
        kerr_internal(&c->err, "%s", db_errmsg(db));
        return;
    }
    api_reply(c, 200, api_vm_json(c->k, v.id));
}

/* ---- power actions ---- */

/* Record op with the states it starts in, commit, hand it to a worker. */
static int begin_op(struct api_ctx *c, const struct vm_row *v, const char *op, const char *power,
                    const char *prov, const char *message, int64_t new_host)
{
    struct db *db = c->k->db;
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
    if (rc == 0) rc = db_commit(db);
    if (rc < 0) {
        db_rollback(db);
        return kerr_internal(&c->err, "%s", db_errmsg(db));
    }
    jobs_submit(c->k->jobs, JOB_VM, v->id);
    kumod_changed(c->k);
    return 0;
}

static bool is(const char *a, const char *b)
{
    return strcmp(a, b) == 0;
}

/* ?skipShutdown=true|false (Azure's powerOff parameter): power off without
 * asking the guest to shut down first. 1, 0, or -1 after a 400. */
static int skip_shutdown_arg(struct api_ctx *c)
{
    const char *q = http_query(c->rq, "skipShutdown");
    if (!q || !strcmp(q, "false")) return 0;
    if (!strcmp(q, "true")) return 1;
    return kerr_set(&c->err, 400, "InvalidQuery", "query.skipShutdown",
                    "query.skipShutdown: '%.20s' is not true or false", q);
}

static void vm_start(struct api_ctx *c)
{
    struct vm_row v;
    int wait = api_wait_arg(c);
    if (wait < 0 || vm_lookup(c, &v) < 0 || busy(c, &v) < 0) return;
    if (is(v.power, PS_RUNNING)) {
        api_reply(c, 200, api_vm_json(c->k, v.id));
        return;
    }
    if (!is(v.power, PS_STOPPED) && !is(v.power, PS_DEALLOCATED)) {
        kerr_conflict(&c->err, "InvalidState",
                      "virtual machine '%s' is %s: only a Stopped or "
                      "Deallocated VM can be started",
                      v.name, v.power);
        return;
    }
    if (db_begin(c->k->db) < 0) {
        kerr_internal(&c->err, "%s", db_errmsg(c->k->db));
        return;
    }
    int64_t host = 0;
    if (is(v.power, PS_DEALLOCATED)) {
        char size[80] = "";
        db_text(c->k->db, size, sizeof(size), "SELECT name FROM sizes WHERE id = ?", "i",
                v.size_id);
        char cores[64] = "";
        host = placement_choose_vm(c->k->db, size, v.vcpus, v.mem_mib, v.id, v.dedicated, cores,
                                   sizeof(cores), &c->err);
        if (host < 0 || db_exec(c->k->db, "UPDATE vms SET host_cpus = nullif(?, '') WHERE id = ?",
                                "ti", cores, v.id) < 0) {
            if (host >= 0) kerr_internal(&c->err, "%s", db_errmsg(c->k->db));
            db_rollback(c->k->db);
            return;
        }
    }
    if (begin_op(c, &v, "start", PS_STARTING, PV_UPDATING, "start requested", host) == 0)
        action_reply(c, v.id, wait, 200);
}

static void vm_stop(struct api_ctx *c)
{
    struct vm_row v;
    int wait = api_wait_arg(c);
    int skip = wait < 0 ? -1 : skip_shutdown_arg(c);
    if (skip < 0) return;
    if (wait < 0 || vm_lookup(c, &v) < 0 || busy(c, &v) < 0) return;
    if (is(v.power, PS_STOPPED) || is(v.power, PS_DEALLOCATED)) {
        api_reply(c, 200, api_vm_json(c->k, v.id));
        return;
    }
    if (!is(v.power, PS_RUNNING)) {
        kerr_conflict(&c->err, "InvalidState",
                      "virtual machine '%s' is %s: only a Running VM can be "
                      "stopped",
                      v.name, v.power);
        return;
    }
    if (db_begin(c->k->db) < 0) {
        kerr_internal(&c->err, "%s", db_errmsg(c->k->db));
        return;
    }
    if (begin_op(c, &v, skip ? "stop-force" : "stop", PS_STOPPING, PV_UPDATING,
                 skip ? "stop requested (skipping the guest's shutdown)" : "stop requested",
                 0) == 0)
        action_reply(c, v.id, wait, 200);
}

static void vm_deallocate(struct api_ctx *c)
{
    struct vm_row v;
    int wait = api_wait_arg(c);
    int skip = wait < 0 ? -1 : skip_shutdown_arg(c);
    if (skip < 0) return;
    if (wait < 0 || vm_lookup(c, &v) < 0 || busy(c, &v) < 0) return;
    if (is(v.power, PS_DEALLOCATED)) {
        api_reply(c, 200, api_vm_json(c->k, v.id));
        return;
    }
    if (!is(v.power, PS_RUNNING) && !is(v.power, PS_STOPPED)) {
        kerr_conflict(&c->err, "InvalidState",
                      "virtual machine '%s' is %s: only a Running or Stopped "
                      "VM can be deallocated",
                      v.name, v.power);
        return;
    }
    if (db_begin(c->k->db) < 0) {
        kerr_internal(&c->err, "%s", db_errmsg(c->k->db));
        return;
    }
    if (begin_op(c, &v, skip ? "deallocate-force" : "deallocate", PS_DEALLOCATING, PV_UPDATING,
                 skip ? "deallocate requested (skipping the guest's shutdown)"
                      : "deallocate requested",
                 0) == 0)
        action_reply(c, v.id, wait, 200);
}

static void vm_restart(struct api_ctx *c)
{
    struct vm_row v;
    int wait = api_wait_arg(c);
    if (wait < 0 || vm_lookup(c, &v) < 0 || busy(c, &v) < 0) return;
    if (!is(v.power, PS_RUNNING)) {
        kerr_conflict(&c->err, "InvalidState",
                      "virtual machine '%s' is %s: only a Running VM can be "
                      "restarted (use start)",
                      v.name, v.power);
        return;
    }
    if (db_begin(c->k->db) < 0) {
        kerr_internal(&c->err, "%s", db_errmsg(c->k->db));
        return;
    }
    if (begin_op(c, &v, "restart", NULL, PV_UPDATING, "restart requested", 0) == 0)
        action_reply(c, v.id, wait, 200);
}

static void vm_resize(struct api_ctx *c)
{
    struct db *db = c->k->db;
    struct vm_row v;
    int wait = api_wait_arg(c);
    if (wait < 0 || vm_lookup(c, &v) < 0 || busy(c, &v) < 0) return;
    const char *size = body_str(c->body, "size", "");
    bool restart = json_is_true(json_object_get(c->body, "restart"));
    sqlite3_stmt *st = db_stmt(
        db, "SELECT id, name, vcpus, mem_mib, max_data_disks FROM sizes WHERE name = ?", "t", size);
    int64_t sid = -1, vcpus = 0, mib = 0, max_disks = 0;
    char sname[80] = "";
    if (st && sqlite3_step(st) == SQLITE_ROW) {
        sid = sqlite3_column_int64(st, 0);
        snprintf(sname, sizeof(sname), "%s", db_col_text(st, 1));
        vcpus = sqlite3_column_int64(st, 2);
        mib = sqlite3_column_int64(st, 3);
        max_disks = sqlite3_column_int64(st, 4);
    }
    sqlite3_finalize(st);
    if (sid < 0) {
        kerr_invalid(&c->err, "size", "size: unknown size '%s'; GET /v1/sizes lists the sizes",
                     size);
        return;
    }
    if (sid == v.size_id) {
        api_reply(c, 200, api_vm_json(c->k, v.id));
        return;
    }
    int64_t ndata = db_int(db, NULL, 0,
                           "SELECT count(*) FROM disks WHERE vm_id = ? AND os_disk = 0", "i", v.id);
    if (ndata > max_disks) {
        kerr_conflict(&c->err, "InvalidState",
                      "virtual machine '%s' has %" PRId64
                      " data disks but size %s takes at most %" PRId64 ": detach some first",
                      v.name, ndata, sname, max_disks);
        return;
    }
    bool running = is(v.power, PS_RUNNING);
    if (running && !restart) {
        kerr_conflict(&c->err, "InvalidState",
                      "virtual machine '%s' is Running: a new size needs a restart; stop or "
                      "deallocate it first, or pass \"restart\": true",
                      v.name);
        return;
    }
    if (!running && !is(v.power, PS_STOPPED) && !is(v.power, PS_DEALLOCATED)) {
        kerr_conflict(&c->err, "InvalidState", "virtual machine '%s' is %s: wait for it to settle",
                      v.name, v.power);
        return;
    }
    if (db_begin(db) < 0) {
        kerr_internal(&c->err, "%s", db_errmsg(db));
        return;
    }
    int64_t host = 0;
    char cores[64] = "";
    if (v.host_id > 0) { /* allocated: the new size must fit */
        host = placement_choose_vm(db, sname, vcpus, mib, v.id, v.dedicated, cores,
                                   sizeof(cores), &c->err);
        if (host < 0) {
            db_rollback(db);
            return;
        }
    }
    int64_t now = time_now_ms();
    /* credits: a burstable size keeps the balance it has (or starts with its
     * initial credits), capped to its own maximum; other sizes have none */
    double credits = 0;
    bool burstable = size_credits(db, sid, &credits);
    if (db_exec(db,
                "UPDATE vms SET host_cpus = nullif(?, ''), cpu_credits = CASE WHEN ? THEN"
                " coalesce(cpu_credits, ?) END, credits_ms = ?, cpu_capped = 0 WHERE id = ?",
                "tidii", cores, (int64_t)burstable, credits, now, v.id) < 0) {
        db_rollback(db);
        kerr_internal(&c->err, "%s", db_errmsg(db));
        return;
    }
    char msg[160];
    snprintf(msg, sizeof(msg), "resized to %s", sname);
    if (db_exec(db,
                "UPDATE vms SET size_id = ?, vcpus = ?, mem_mib = ?, host_id = nullif(?, 0) WHERE "
                "id = ?",
                "iiiii", sid, vcpus, mib, host, v.id) < 0 ||
        vm_note(db, v.id, msg, now) < 0) {
        db_rollback(db);
        kerr_internal(&c->err, "%s", db_errmsg(db));
        return;
    }
    if (running) {
        if (begin_op(c, &v, "restart", NULL, PV_UPDATING, "restart to apply the new size", 0) == 0)
            action_reply(c, v.id, wait, 200);
        return;
    }
    if (db_commit(db) < 0) {
        db_rollback(db);
        kerr_internal(&c->err, "%s", db_errmsg(db));
        return;
    }
    kumod_changed(c->k);
    api_reply(c, 200, api_vm_json(c->k, v.id));
}

int api_vm_delete_op(struct api_ctx *c, int64_t vm)
{
    struct vm_row v;
    memset(&v, 0, sizeof(v));
    v.id = vm;
    sqlite3_stmt *st = db_stmt(c->k->db,
                               "SELECT name, power_state, prov_state, coalesce(op, '') FROM vms"
                               " WHERE id = ?",
                               "i", vm);
    bool found = st && sqlite3_step(st) == SQLITE_ROW;
    if (found) {
        snprintf(v.name, sizeof(v.name), "%s", db_col_text(st, 0));
        snprintf(v.power, sizeof(v.power), "%s", db_col_text(st, 1));
        snprintf(v.prov, sizeof(v.prov), "%s", db_col_text(st, 2));
        snprintf(v.op, sizeof(v.op), "%s", db_col_text(st, 3));
    }
    sqlite3_finalize(st);
    if (!found) return 0;
    if (!strncmp(v.op, "delete", 6)) return 0;
    if (busy(c, &v) < 0) return -1;
    if (db_begin(c->k->db) < 0) return kerr_internal(&c->err, "%s", db_errmsg(c->k->db));
    return begin_op(c, &v, "delete", NULL, PV_DELETING, "delete requested by its scale set", 0);
}

static void vm_delete(struct api_ctx *c)
{
    struct vm_row v;
    int wait = api_wait_arg(c);
    bool keep;
    if (wait < 0 || !api_query_bool(c, "keepDisks", false, &keep)) return;
    if (vm_lookup(c, &v) < 0 || busy(c, &v) < 0) return;
    if (db_begin(c->k->db) < 0) {
        kerr_internal(&c->err, "%s", db_errmsg(c->k->db));
        return;
    }
    if (begin_op(c, &v, keep ? "delete-keep-disks" : "delete", NULL, PV_DELETING,
                 "delete requested", 0) == 0)
        action_reply(c, v.id, wait, 200);
}

/* ---- data disks ---- */

static int stopped_for_disks(struct api_ctx *c, const struct vm_row *v)
{
    if (busy(c, v) < 0) return -1;
    if (!is(v->power, PS_STOPPED) && !is(v->power, PS_DEALLOCATED))
        return kerr_conflict(&c->err, "InvalidState",
                             "virtual machine '%s' is %s: stop or deallocate it to change its "
                             "disks (kumo-vmm has no disk hot-plug yet)",
                             v->name, v->power);
    return 0;
}

static void disk_attach(struct api_ctx *c)
{
    struct db *db = c->k->db;
    struct vm_row v;
    if (vm_lookup(c, &v) < 0 || stopped_for_disks(c, &v) < 0) return;
    int64_t max =
        db_int(db, NULL, 0, "SELECT max_data_disks FROM sizes WHERE id = ?", "i", v.size_id);
    int64_t n = db_int(db, NULL, 0, "SELECT count(*) FROM disks WHERE vm_id = ? AND os_disk = 0",
                       "i", v.id);
    if (n >= max) {
        kerr_conflict(&c->err, "InvalidState",
                      "virtual machine '%s' already has %" PRId64
                      " data disks, the most its size takes",
                      v.name, n);
        return;
    }
    if (db_begin(db) < 0) {
        kerr_internal(&c->err, "%s", db_errmsg(db));
        return;
    }
    if (attach_disk(c, v.group, v.id, v.name, c->body, "") < 0 ||
        vm_note(db, v.id, "data disk attached", time_now_ms()) < 0 || db_commit(db) < 0) {
        db_rollback(db);
        if (!c->err.status) kerr_internal(&c->err, "%s", db_errmsg(db));
        return;
    }
    api_reply(c, 200, api_vm_json(c->k, v.id));
}

static void disk_detach(struct api_ctx *c)
{
    struct db *db = c->k->db;
    struct vm_row v;
    if (vm_lookup(c, &v) < 0 || stopped_for_disks(c, &v) < 0) return;
    char *end;
    long lun = strtol(c->p[2], &end, 10);
    int64_t disk = *end || lun < 0 || lun > 5
                       ? -1
                       : db_int(db, NULL, -1, "SELECT id FROM disks WHERE vm_id = ? AND lun = ?",
                                "ii", v.id, (int64_t)lun);
    if (disk < 0) {
        kerr_notfound(&c->err, "virtual machine '%s' has no data disk at LUN '%.16s'", v.name,
                      c->p[2]);
        return;
    }
    if (db_begin(db) < 0 ||
        db_exec(db, "UPDATE disks SET vm_id = NULL, lun = NULL WHERE id = ?", "i", disk) < 0 ||
        vm_note(db, v.id, "data disk detached", time_now_ms()) < 0 || db_commit(db) < 0) {
        db_rollback(db);
        kerr_internal(&c->err, "%s", db_errmsg(db));
        return;
    }
    api_reply(c, 200, api_vm_json(c->k, v.id));
}

/* ---- diagnostics ---- */

#define DIAG_MAX (16u << 20)

static void boot_diagnostics(struct api_ctx *c)
{
    struct vm_row v;
    if (vm_lookup(c, &v) < 0) return;
    long tail = DIAG_MAX;
    const char *t = http_query(c->rq, "tail");
    if (t) {
        char *end;
        tail = strtol(t, &end, 10);
        if (*end || tail < 1 || tail > (long)DIAG_MAX) {
            kerr_set(&c->err, 400, "InvalidQuery", "query.tail",
                     "query.tail: '%.20s' is not a byte count from 1 to %u", t, DIAG_MAX);
            return;
        }
    }
    char path[PATH_MAX];
    int fd = open(path_vm_file(c->k, path, v.id, "console.log"), O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) < 0) {
        if (fd >= 0) close(fd);
        api_reply_text(c, 200, strdup(""), 0, "text/plain; charset=utf-8");
        return;
    }
    off_t start = sb.st_size > tail ? sb.st_size - tail : 0;
    size_t len = (size_t)(sb.st_size - start);
    char *buf = malloc(len + 1);
    ssize_t got = buf ? pread(fd, buf, len, start) : -1;
    close(fd);
    if (got < 0) {
        free(buf);
        kerr_internal(&c->err, "cannot read %s", path);
        return;
    }
    buf[got] = 0;
    api_reply_text(c, 200, buf, (size_t)got, "text/plain; charset=utf-8");
}

static void history(struct api_ctx *c)
{
    struct vm_row v;
    if (vm_lookup(c, &v) < 0) return;
    sqlite3_stmt *st = db_stmt(c->k->db,
                               "SELECT at_ms, power_state, prov_state, size, message FROM vm_events"
                               " WHERE vm_id = ? ORDER BY id",
                               "i", v.id);
    json_t *arr = json_array();
    while (st && sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(arr,
                              json_pack("{s:o,s:s,s:s,s:s,s:s}", "at",
                                        api_time(sqlite3_column_int64(st, 0)), "powerState",
                                        db_col_text(st, 1), "provisioningState", db_col_text(st, 2),
                                        "size", db_col_text(st, 3), "message", db_col_text(st, 4)));
    sqlite3_finalize(st);
    api_reply(c, 200, json_pack("{s:o}", "value", arr));
}

#define VM "/v1/resourceGroups/{}/virtualMachines"
const struct api_route api_routes_vm[] = {
    {"GET", VM, vms_list, -1},
    {"POST", VM, vm_create, REQ_VM_CREATE},
    {"GET", VM "/{}", vm_show, -1},
    {"PATCH", VM "/{}", vm_update, REQ_VM_UPDATE},
    {"DELETE", VM "/{}", vm_delete, -1},
    {"POST", VM "/{}/start", vm_start, -1},
    {"POST", VM "/{}/stop", vm_stop, -1},
    {"POST", VM "/{}/deallocate", vm_deallocate, -1},
    {"POST", VM "/{}/restart", vm_restart, -1},
    {"POST", VM "/{}/resize", vm_resize, REQ_VM_RESIZE},
    {"POST", VM "/{}/dataDisks", disk_attach, REQ_VM_ATTACH},
    {"DELETE", VM "/{}/dataDisks/{}", disk_detach, -1},
    {"GET", VM "/{}/bootDiagnostics", boot_diagnostics, -1},
    {"GET", VM "/{}/history", history, -1},
    {NULL, NULL, NULL, -1},
};
