/*
 * api_storage.c - the API's storage resources: images (host-wide), managed
 * disks and snapshots (in resource groups), docs/api.md "Images", "Disks",
 * "Snapshots". Disk files are created here, inside the transaction that
 * records them; imports and snapshot copies run as jobs (diskops.c).
 */
#include "cloud/api.h"

#include "cloud/billing.h"
#include "cloud/body.h"
#include "cloud/db.h"
#include "cloud/jobs.h"
#include "cloud/paths.h"
#include "cloud/requests.h"
#include "cloud/state.h"
#include "cloud/timefmt.h"
#include "cloud/vmm_client.h"
#include "storage/disk.h"
#include "storage/tiers.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GIB (1024ull * 1024 * 1024)

static json_t *str_or_null(sqlite3_stmt *st, int col)
{
    return db_col_null(st, col) ? json_null() : json_string(db_col_text(st, col));
}

/* ---- images ---- */

json_t *api_image_json(struct kumod *k, int64_t id)
{
    sqlite3_stmt *st =
        db_stmt(k->db,
                "SELECT name, boot_mode, kernel, initrd, kernel_args, path, size_bytes,"
                " source, builtin, state, error, created_ms FROM images WHERE id = ?",
                "i", id);
    if (!st) return NULL;
    json_t *out = NULL;
    if (sqlite3_step(st) == SQLITE_ROW) {
        char rid[128];
        snprintf(rid, sizeof(rid), "/images/%s", db_col_text(st, 0));
        const char *path = db_col_text(st, 5);
        size_t pl = strlen(path);
        const char *fmt = pl > 4 && strcmp(path + pl - 4, ".raw") == 0 ? "raw" : "qcow2";
        uint64_t bytes = (uint64_t)sqlite3_column_int64(st, 6);
        uint64_t gib = (bytes + GIB - 1) / GIB;
        out =
            json_pack("{s:s,s:s,s:s,s:s,s:o,s:o,s:s,s:s,s:I,s:I,s:s,s:b,s:s,s:o,s:o}", "id", rid,
                      "name", db_col_text(st, 0), "type", "image", "bootMode", db_col_text(st, 1),
                      "kernel", str_or_null(st, 2), "initrd", str_or_null(st, 3), "kernelArgs",
                      db_col_text(st, 4), "format", fmt, "sizeBytes", (json_int_t)bytes, "sizeGiB",
                      (json_int_t)(gib ? gib : 1), "source", db_col_text(st, 7), "builtin",
                      sqlite3_column_int(st, 8), "provisioningState", db_col_text(st, 9), "error",
                      str_or_null(st, 10), "createdAt", api_time(sqlite3_column_int64(st, 11)));
    }
    sqlite3_finalize(st);
    return out;
}

static void images_list(struct api_ctx *c)
{
    sqlite3_stmt *st = db_stmt(c->k->db, "SELECT id FROM images ORDER BY name", "");
    json_t *arr = json_array();
    while (st && sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(arr, api_image_json(c->k, sqlite3_column_int64(st, 0)));
    sqlite3_finalize(st);
    api_reply(c, 200, json_pack("{s:o}", "value", arr));
}

static int64_t image_id(struct api_ctx *c, const char *name, const char *field)
{
    int64_t id = db_int(c->k->db, NULL, -1, "SELECT id FROM images WHERE name = ?", "t", name);
    if (id >= 0) return id;
    if (field)
        kerr_invalid(&c->err, field, "%s: image '%.64s' not found (GET /v1/images lists them)",
                     field, name);
    else
        kerr_notfound(&c->err, "image '%.64s' not found", name);
    return -1;
}

static void image_show(struct api_ctx *c)
{
    int64_t id = image_id(c, c->p[0], NULL);
    if (id >= 0) api_reply(c, 200, api_image_json(c->k, id));
}

static bool image_done(struct api_ctx *c, int64_t id)
{
    char state[32];
    if (!db_text(c->k->db, state, sizeof(state), "SELECT state FROM images WHERE id = ?", "i", id))
        return true;
    return strcmp(state, PV_CREATING) != 0;
}

static void image_create(struct api_ctx *c)
{
    struct db *db = c->k->db;
    const char *name = body_str(c->body, "name", "");
    int wait = api_wait_arg(c);
    if (wait < 0) return;
    if (db_int(db, NULL, -1, "SELECT id FROM images WHERE name = ?", "t", name) >= 0) {
        kerr_conflict(&c->err, "AlreadyExists", "image '%s' already exists", name);
        return;
    }
    const char *source = body_str(c->body, "source", "");
    if (access(source, R_OK) != 0) {
        kerr_invalid(&c->err, "source", "source: cannot read %s on the host", source);
        return;
    }
    const char *mode = body_str(c->body, "bootMode", "direct");
    const char *kernel = body_str(c->body, "kernel", NULL);
    const char *initrd = body_str(c->body, "initrd", NULL);
    char dflt_kernel[PATH_MAX] = "";
    if (strcmp(mode, "direct") == 0 && !kernel) {
        if (!db_text(db, dflt_kernel, sizeof(dflt_kernel),
                     "SELECT kernel FROM images WHERE name = 'default' AND state = 'Succeeded'",
                     "")) {
            kerr_missing(&c->err, "kernel",
                         "kernel: missing (direct boot needs a kernel and there is no default "
                         "image to take one from)");
            return;
        }
        kernel = dflt_kernel;
    }
    if (strcmp(mode, "firmware") == 0 && (kernel || initrd)) {
        kerr_invalid(&c->err, kernel ? "kernel" : "initrd",
                     "%s: firmware boot takes the kernel from the disk; drop this field",
                     kernel ? "kernel" : "initrd");
        return;
    }
    if (kernel && access(kernel, R_OK) != 0) {
        kerr_invalid(&c->err, "kernel", "kernel: cannot read %s on the host", kernel);
        return;
    }
    if (initrd && access(initrd, R_OK) != 0) {
        kerr_invalid(&c->err, "initrd", "initrd: cannot read %s on the host", initrd);
        return;
    }
    const char *args = body_str(c->body, "kernelArgs", "console=ttyS0 root=/dev/vda rw");
    int rc = db_begin(db);
    if (rc == 0)
        rc = db_exec(db,
                     "INSERT INTO images (name, boot_mode, kernel_args, src_format, path, source,"
                     " src_kernel, src_initrd, state, created_ms)"
                     " VALUES (?, ?, ?, ?, '', ?, ?, ?, 'Creating', ?)",
                     "ttttttti", name, mode, args, body_str(c->body, "format", "auto"), source,
                     kernel, initrd, time_now_ms());
    int64_t id = db_last_id(db);
    char path[PATH_MAX];
    path_image_file(c->k, path, id, "disk.qcow2");
    if (rc == 0) rc = db_exec(db, "UPDATE images SET path = ? WHERE id = ?", "ti", path, id);
    if (rc == 0) rc = db_commit(db);
    if (rc < 0) {
        db_rollback(db);
        kerr_internal(&c->err, "image create: %s", db_errmsg(db));
        return;
    }
    jobs_submit(c->k->jobs, JOB_IMAGE, id);
    kumod_changed(c->k);
    bool done = api_wait(c, wait, image_done, id);
    json_t *out = api_image_json(c->k, id);
    api_set_location(c, json_string_value(json_object_get(out, "id")));
    api_reply(c, done && wait ? 201 : 202, out);
}

static void image_delete(struct api_ctx *c)
{
    struct db *db = c->k->db;
    int64_t id = image_id(c, c->p[0], NULL);
    if (id < 0) return;
    if (!image_done(c, id)) {
        kerr_conflict(&c->err, "InvalidState", "image '%s' is still being imported", c->p[0]);
        return;
    }
    char users[1024] = "";
    sqlite3_stmt *st = db_stmt(db,
                               "SELECT 'virtual machine', g.name || '/' || v.name FROM vms v"
                               " JOIN groups g ON g.id = v.group_id WHERE v.image_id = ?1"
                               " UNION ALL SELECT 'disk', g.name || '/' || d.name FROM disks d"
                               " JOIN groups g ON g.id = d.group_id WHERE d.image_id = ?1 LIMIT 11",
                               "i", id);
    while (st && sqlite3_step(st) == SQLITE_ROW)
        api_users_add(users, sizeof(users), db_col_text(st, 0), db_col_text(st, 1));
    sqlite3_finalize(st);
    if (users[0]) {
        char what[128];
        snprintf(what, sizeof(what), "image '%s'", c->p[0]);
        api_in_use(c, what, users);
        return;
    }
    if (db_begin(db) < 0 || db_exec(db, "DELETE FROM images WHERE id = ?", "i", id) < 0 ||
        db_commit(db) < 0) {
        db_rollback(db);
        kerr_internal(&c->err, "image delete: %s", db_errmsg(db));
        return;
    }
    char dir[PATH_MAX];
    path_rmdir_files(path_image_dir(c->k, dir, id));
    api_reply(c, 204, NULL);
}

/* ---- disks ---- */

json_t *api_disk_json(struct kumod *k, int64_t id)
{
    sqlite3_stmt *st =
        db_stmt(k->db,
                "SELECT g.name, d.name, d.tier, d.size_gib, i.name, s.name, v.name, d.lun,"
                " d.os_disk, d.state, d.error, d.created_ms, sz.max_iops"
                " FROM disks d JOIN groups g ON g.id = d.group_id"
                " LEFT JOIN images i ON i.id = d.image_id"
                " LEFT JOIN snapshots s ON s.id = d.snapshot_id"
                " LEFT JOIN vms v ON v.id = d.vm_id"
                " LEFT JOIN sizes sz ON sz.id = v.size_id WHERE d.id = ?",
                "i", id);
    if (!st) return NULL;
    json_t *out = NULL;
    if (sqlite3_step(st) == SQLITE_ROW) {
        char rid[256];
        snprintf(rid, sizeof(rid), "/resourceGroups/%s/disks/%s", db_col_text(st, 0),
                 db_col_text(st, 1));
        enum disk_tier t = DISK_TIER_STANDARD_SSD;
        disk_tier_parse(db_col_text(st, 2), &t);
        int64_t gib = sqlite3_column_int64(st, 3);
        const struct disk_tier_size *o = disk_tier_lookup(t, (uint64_t)gib);
        int64_t iops = o ? o->iops : 0, cap = sqlite3_column_int64(st, 12);
        if (cap > 0 && iops > cap) iops = cap;
        json_t *source = json_null();
        if (!db_col_null(st, 4))
            source = json_pack("{s:s}", "image", db_col_text(st, 4));
        else if (!db_col_null(st, 5))
            source = json_pack("{s:s}", "snapshot", db_col_text(st, 5));
        out = json_pack(
            "{s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:o,s:I,s:I,s:I,s:I,s:o,s:o,s:o,s:b,s:s,s:o,s:o}", "id",
            rid, "name", db_col_text(st, 1), "type", "disk", "resourceGroup", db_col_text(st, 0),
            "location", "local", "tier", disk_tier_name(t), "sizeGiB", (json_int_t)gib,
            "billedSize",
            o ? json_pack("{s:s,s:I}", "name", o->name, "sizeGiB", (json_int_t)o->size_gib)
              : json_null(),
            "iops", (json_int_t)iops, "mbps", (json_int_t)(o ? o->mbps : 0), "burstIops",
            (json_int_t)(o ? o->burst_iops : 0), "burstMbps", (json_int_t)(o ? o->burst_mbps : 0),
            "source", source, "managedBy", str_or_null(st, 6), "lun",
            db_col_null(st, 7) ? json_null() : json_integer(sqlite3_column_int64(st, 7)), "osDisk",
            sqlite3_column_int(st, 8), "provisioningState", db_col_text(st, 9), "error",
            str_or_null(st, 10), "createdAt", api_time(sqlite3_column_int64(st, 11)));
    }
    sqlite3_finalize(st);
    return out;
}

int64_t api_disk_insert(struct api_ctx *c, int64_t group_id, const char *name, const char *tier,
                        int64_t size_gib, int64_t image_id, int64_t snapshot_id,
                        const char *size_field)
{
    struct db *db = c->k->db;
    char g[80];
    api_group_name(c, group_id, g, sizeof(g));
    if (db_int(db, NULL, -1, "SELECT id FROM disks WHERE group_id = ? AND name = ?", "it", group_id,
               name) >= 0)
        return kerr_conflict(&c->err, "AlreadyExists",
                             "disk '%s' already exists in resource group '%s'", name, g);
    enum disk_tier t = DISK_TIER_STANDARD_SSD;
    if (tier) disk_tier_parse(tier, &t);
    char backing[PATH_MAX] = "";
    int64_t min_gib = 1;
    if (image_id > 0) {
        char state[32] = "";
        db_text(db, state, sizeof(state), "SELECT state FROM images WHERE id = ?", "i", image_id);
        if (strcmp(state, PV_SUCCEEDED) != 0)
            return kerr_conflict(&c->err, "InvalidState", "the image is %s, not Succeeded",
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
            return kerr_conflict(&c->err, "InvalidState", "the snapshot is %s, not Succeeded",
                                 state[0] ? state : "gone");
        path_snapshot(c->k, backing, snapshot_id);
        min_gib =
            db_int(db, NULL, 1, "SELECT size_gib FROM snapshots WHERE id = ?", "i", snapshot_id);
    }
    if (min_gib < 1) min_gib = 1;
    if (size_gib <= 0) size_gib = min_gib;
    if (size_gib < min_gib)
        return kerr_invalid(&c->err, size_field,
                            "%s: %" PRId64 " GiB is smaller than the source (%" PRId64 " GiB)",
                            size_field, size_gib, min_gib);
    if (!disk_tier_lookup(t, (uint64_t)size_gib))
        return kerr_invalid(&c->err, size_field, "%s: %" PRId64 " GiB is more than %s offers",
                            size_field, size_gib, disk_tier_name(t));
    if (db_exec(db,
                "INSERT INTO disks (group_id, name, tier, size_gib, image_id, snapshot_id, state,"
                " created_ms) VALUES (?, ?, ?, ?, nullif(?, 0), nullif(?, 0), 'Succeeded', ?)",
                "ittiiii", group_id, name, disk_tier_name(t), size_gib, image_id > 0 ? image_id : 0,
                snapshot_id > 0 ? snapshot_id : 0, time_now_ms()) < 0)
        return kerr_internal(&c->err, "disk create: %s", db_errmsg(db));
    int64_t id = db_last_id(db);
    char path[PATH_MAX], err[512];
    path_disk(c->k, path, id);
    if (disk_create(path, "qcow2", (uint64_t)size_gib * GIB, backing[0] ? backing : NULL, NULL, 0,
                    err, sizeof(err)) < 0)
        return kerr_internal(&c->err, "disk create: %s", err);
    api_created_file(c, path);
    if (billing_disk_sync(db, id, true, time_now_ms()) < 0)
        return kerr_internal(&c->err, "disk create: %s", db_errmsg(db));
    return id;
}

static void disks_list(struct api_ctx *c)
{
    int64_t g = api_group(c, c->p[0]);
    if (g < 0) return;
    sqlite3_stmt *st =
        db_stmt(c->k->db, "SELECT id FROM disks WHERE group_id = ? ORDER BY name", "i", g);
    json_t *arr = json_array();
    while (st && sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(arr, api_disk_json(c->k, sqlite3_column_int64(st, 0)));
    sqlite3_finalize(st);
    api_reply(c, 200, json_pack("{s:o}", "value", arr));
}

static int64_t disk_lookup(struct api_ctx *c, int64_t *group)
{
    *group = api_group(c, c->p[0]);
    if (*group < 0) return -1;
    return api_find(c, "disks", *group, c->p[1], "disk", NULL);
}

static void disk_show(struct api_ctx *c)
{
    int64_t g, id = disk_lookup(c, &g);
    if (id >= 0) api_reply(c, 200, api_disk_json(c->k, id));
}

static void disk_create_h(struct api_ctx *c)
{
    struct db *db = c->k->db;
    int64_t g = api_group(c, c->p[0]);
    if (g < 0) return;
    int64_t img = 0, snap = 0;
    if (body_has(c->body, "image")) {
        img = image_id(c, body_str(c->body, "image", ""), "image");
        if (img < 0) return;
    }
    if (body_has(c->body, "snapshot")) {
        snap =
            api_find(c, "snapshots", g, body_str(c->body, "snapshot", ""), "snapshot", "snapshot");
        if (snap < 0) return;
    }
    if (db_begin(db) < 0) {
        kerr_internal(&c->err, "%s", db_errmsg(db));
        return;
    }
    int64_t id =
        api_disk_insert(c, g, body_str(c->body, "name", ""), body_str(c->body, "tier", NULL),
                        body_int(c->body, "sizeGiB", 0), img, snap, "sizeGiB");
    if (id < 0 || db_commit(db) < 0) {
        db_rollback(db);
        if (!c->err.status) kerr_internal(&c->err, "disk create: %s", db_errmsg(db));
        return;
    }
    json_t *out = api_disk_json(c->k, id);
    api_set_location(c, json_string_value(json_object_get(out, "id")));
    api_reply(c, 201, out);
}

/* Apply disk id's tier limits (tier t, size_gib) to the running kumo-vmm of
 * vm. The disk's index there is its place in kumo-vmm's argv (vmops.c: the
 * OS disk, then data disks by LUN). 0, or -1 with a message in err. */
static int disk_limits_live(struct kumod *k, int64_t vm, int64_t id, enum disk_tier t,
                            int64_t size_gib, char *err, size_t errlen)
{
    struct db *db = k->db;
    int64_t index = db_int(db, NULL, -1,
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
                            (json_int_t)index, "iops", (json_int_t)r.iops, "bps",
                            (json_int_t)r.bps, "iops_max", (json_int_t)r.iops_max,
                            "iops_max_length", (json_int_t)r.iops_max_length, "bps_max",
                            (json_int_t)r.bps_max, "bps_max_length",
                            (json_int_t)r.bps_max_length);
    char sock[PATH_MAX];
    json_t *reply = vmm_request(path_vm_file(k, sock, vm, "control.sock"), req, 5000, err, errlen);
    json_decref(req);
    if (!reply) return -1;
    json_decref(reply);
    return 0;
}

static void disk_update(struct api_ctx *c)
{
    struct db *db = c->k->db;
    int64_t g, id = disk_lookup(c, &g);
    if (id < 0) return;
    int64_t old = db_int(db, NULL, 0, "SELECT size_gib FROM disks WHERE id = ?", "i", id);
    char tier[32];
    db_text(db, tier, sizeof(tier), "SELECT tier FROM disks WHERE id = ?", "i", id);
    enum disk_tier t = DISK_TIER_STANDARD_SSD, was = DISK_TIER_STANDARD_SSD;
    disk_tier_parse(tier, &was);
    disk_tier_parse(body_str(c->body, "tier", tier), &t);
    int64_t size = body_int(c->body, "sizeGiB", old);
    if (size < old) {
        kerr_invalid(&c->err, "sizeGiB", "sizeGiB: disks only grow (it is %" PRId64 " GiB)", old);
        return;
    }
    if (!disk_tier_lookup(t, (uint64_t)size)) {
        kerr_invalid(&c->err, "sizeGiB", "sizeGiB: %" PRId64 " GiB is more than %s offers", size,
                     disk_tier_name(t));
        return;
    }
    /* A disk in use may change tier (its new limits apply at once, as Azure
     * changes a performance tier without downtime); its size changes only
     * while no kumo-vmm has it open. */
    int64_t vm = db_int(db, NULL, 0, "SELECT vm_id FROM disks WHERE id = ?", "i", id);
    bool live = false;
    if (vm > 0) {
        char power[32] = "";
        db_text(db, power, sizeof(power), "SELECT power_state FROM vms WHERE id = ?", "i", vm);
        bool off = !strcmp(power, PS_STOPPED) || !strcmp(power, PS_DEALLOCATED);
        if (!off && (size != old || strcmp(power, PS_RUNNING))) {
            kerr_conflict(&c->err, "InvalidState",
                          "disk '%s' is attached to a VM that is %s: its tier can change while the"
                          " VM runs, its size only when the VM is stopped or deallocated",
                          c->p[1], power);
            return;
        }
        live = !off && t != was;
    }
    if (live) {
        char err[512];
        if (disk_limits_live(c->k, vm, id, t, size, err, sizeof(err)) < 0) {
            kerr_internal(&c->err, "the running VM did not take the new tier's limits: %s", err);
            return;
        }
    }
    if (size > old) {
        char path[PATH_MAX], err[512];
        struct disk_options o = {.format = "qcow2"};
        struct disk *d = disk_open(path_disk(c->k, path, id), &o, err, sizeof(err));
        int rc = d ? disk_resize(d, (uint64_t)size * GIB) : -1;
        if (d && rc < 0) disk_last_error(d, err, sizeof(err));
        if (d) disk_close(d);
        if (rc < 0) {
            kerr_internal(&c->err, "disk resize: %s", err);
            return;
        }
    }
    if (db_begin(db) < 0 ||
        db_exec(db, "UPDATE disks SET size_gib = ?, tier = ? WHERE id = ?", "iti", size,
                disk_tier_name(t), id) < 0 ||
        billing_disk_sync(db, id, true, time_now_ms()) < 0 || db_commit(db) < 0) {
        db_rollback(db);
        kerr_internal(&c->err, "disk update: %s", db_errmsg(db));
        return;
    }
    api_reply(c, 200, api_disk_json(c->k, id));
}

static void disk_delete(struct api_ctx *c)
{
    struct db *db = c->k->db;
    int64_t g, id = disk_lookup(c, &g);
    if (id < 0) return;
    char vm[80];
    if (db_text(db, vm, sizeof(vm),
                "SELECT v.name FROM disks d JOIN vms v ON v.id = d.vm_id WHERE d.id = ?", "i",
                id)) {
        char what[128], users[160];
        snprintf(what, sizeof(what), "disk '%s'", c->p[1]);
        snprintf(users, sizeof(users), "virtual machine '%s' (detach it, or delete the VM)", vm);
        api_in_use(c, what, users);
        return;
    }
    if (db_begin(db) < 0 || billing_disk_sync(db, id, false, time_now_ms()) < 0 ||
        db_exec(db, "DELETE FROM disks WHERE id = ?", "i", id) < 0 || db_commit(db) < 0) {
        db_rollback(db);
        kerr_internal(&c->err, "disk delete: %s", db_errmsg(db));
        return;
    }
    char path[PATH_MAX];
    unlink(path_disk(c->k, path, id));
    api_reply(c, 204, NULL);
}

/* ---- snapshots ---- */

json_t *api_snapshot_json(struct kumod *k, int64_t id)
{
    sqlite3_stmt *st = db_stmt(k->db,
                               "SELECT g.name, s.name, s.source_disk, s.size_gib, s.state, s.error,"
                               " s.created_ms FROM snapshots s JOIN groups g ON g.id = s.group_id"
                               " WHERE s.id = ?",
                               "i", id);
    if (!st) return NULL;
    json_t *out = NULL;
    if (sqlite3_step(st) == SQLITE_ROW) {
        char rid[256];
        snprintf(rid, sizeof(rid), "/resourceGroups/%s/snapshots/%s", db_col_text(st, 0),
                 db_col_text(st, 1));
        out = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:s,s:o,s:o}", "id", rid, "name",
                        db_col_text(st, 1), "type", "snapshot", "resourceGroup", db_col_text(st, 0),
                        "location", "local", "sourceDisk", db_col_text(st, 2), "sizeGiB",
                        (json_int_t)sqlite3_column_int64(st, 3), "provisioningState",
                        db_col_text(st, 4), "error", str_or_null(st, 5), "createdAt",
                        api_time(sqlite3_column_int64(st, 6)));
    }
    sqlite3_finalize(st);
    return out;
}

static void snapshots_list(struct api_ctx *c)
{
    int64_t g = api_group(c, c->p[0]);
    if (g < 0) return;
    sqlite3_stmt *st =
        db_stmt(c->k->db, "SELECT id FROM snapshots WHERE group_id = ? ORDER BY name", "i", g);
    json_t *arr = json_array();
    while (st && sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(arr, api_snapshot_json(c->k, sqlite3_column_int64(st, 0)));
    sqlite3_finalize(st);
    api_reply(c, 200, json_pack("{s:o}", "value", arr));
}

static void snapshot_show(struct api_ctx *c)
{
    int64_t g = api_group(c, c->p[0]);
    if (g < 0) return;
    int64_t id = api_find(c, "snapshots", g, c->p[1], "snapshot", NULL);
    if (id >= 0) api_reply(c, 200, api_snapshot_json(c->k, id));
}

static bool snapshot_done(struct api_ctx *c, int64_t id)
{
    char state[32];
    if (!db_text(c->k->db, state, sizeof(state), "SELECT state FROM snapshots WHERE id = ?", "i",
                 id))
        return true;
    return strcmp(state, PV_CREATING) != 0;
}

static void snapshot_create(struct api_ctx *c)
{
    struct db *db = c->k->db;
    int wait = api_wait_arg(c);
    if (wait < 0) return;
    int64_t g = api_group(c, c->p[0]);
    if (g < 0) return;
    const char *name = body_str(c->body, "name", ""), *dname = body_str(c->body, "disk", "");
    int64_t disk = api_find(c, "disks", g, dname, "disk", "disk");
    if (disk < 0) return;
    if (db_int(db, NULL, -1, "SELECT id FROM snapshots WHERE group_id = ? AND name = ?", "it", g,
               name) >= 0) {
        kerr_conflict(&c->err, "AlreadyExists", "snapshot '%s' already exists", name);
        return;
    }
    char power[32] = "";
    if (db_text(db, power, sizeof(power),
                "SELECT v.power_state FROM disks d JOIN vms v ON v.id = d.vm_id WHERE d.id = ?",
                "i", disk) &&
        (power_has_process(power) || strcmp(power, PS_CREATING) == 0)) {
        kerr_conflict(&c->err, "InvalidState",
                      "disk '%s' is attached to a VM that is %s: stop or deallocate it first",
                      dname, power);
        return;
    }
    char src[PATH_MAX];
    path_disk(c->k, src, disk);
    int64_t size = db_int(db, NULL, 1, "SELECT size_gib FROM disks WHERE id = ?", "i", disk);
    if (db_begin(db) < 0 ||
        db_exec(db,
                "INSERT INTO snapshots (group_id, name, source_disk, source_path, size_gib, state,"
                " created_ms) VALUES (?, ?, ?, ?, ?, 'Creating', ?)",
                "ittti"
                "i",
                g, name, dname, src, size, time_now_ms()) < 0 ||
        db_commit(db) < 0) {
        db_rollback(db);
        kerr_internal(&c->err, "snapshot create: %s", db_errmsg(db));
        return;
    }
    int64_t id = db_last_id(db);
    jobs_submit(c->k->jobs, JOB_SNAPSHOT, id);
    bool done = api_wait(c, wait, snapshot_done, id);
    json_t *out = api_snapshot_json(c->k, id);
    api_set_location(c, json_string_value(json_object_get(out, "id")));
    api_reply(c, done && wait ? 201 : 202, out);
}

static void snapshot_delete(struct api_ctx *c)
{
    struct db *db = c->k->db;
    int64_t g = api_group(c, c->p[0]);
    if (g < 0) return;
    int64_t id = api_find(c, "snapshots", g, c->p[1], "snapshot", NULL);
    if (id < 0) return;
    if (!snapshot_done(c, id)) {
        kerr_conflict(&c->err, "InvalidState", "snapshot '%s' is still being taken", c->p[1]);
        return;
    }
    char users[1024] = "";
    sqlite3_stmt *st =
        db_stmt(db, "SELECT name FROM disks WHERE snapshot_id = ? ORDER BY name LIMIT 11", "i", id);
    while (st && sqlite3_step(st) == SQLITE_ROW)
        api_users_add(users, sizeof(users), "disk", db_col_text(st, 0));
    sqlite3_finalize(st);
    if (users[0]) {
        char what[128];
        snprintf(what, sizeof(what), "snapshot '%s'", c->p[1]);
        api_in_use(c, what, users);
        return;
    }
    if (db_begin(db) < 0 || db_exec(db, "DELETE FROM snapshots WHERE id = ?", "i", id) < 0 ||
        db_commit(db) < 0) {
        db_rollback(db);
        kerr_internal(&c->err, "snapshot delete: %s", db_errmsg(db));
        return;
    }
    char path[PATH_MAX];
    unlink(path_snapshot(c->k, path, id));
    api_reply(c, 204, NULL);
}

const struct api_route api_routes_storage[] = {
    {"GET", "/v1/images", images_list, -1},
    {"POST", "/v1/images", image_create, REQ_IMAGE_CREATE},
    {"GET", "/v1/images/{}", image_show, -1},
    {"DELETE", "/v1/images/{}", image_delete, -1},
    {"GET", "/v1/resourceGroups/{}/disks", disks_list, -1},
    {"POST", "/v1/resourceGroups/{}/disks", disk_create_h, REQ_DISK_CREATE},
    {"GET", "/v1/resourceGroups/{}/disks/{}", disk_show, -1},
    {"PATCH", "/v1/resourceGroups/{}/disks/{}", disk_update, REQ_DISK_UPDATE},
    {"DELETE", "/v1/resourceGroups/{}/disks/{}", disk_delete, -1},
    {"GET", "/v1/resourceGroups/{}/snapshots", snapshots_list, -1},
    {"POST", "/v1/resourceGroups/{}/snapshots", snapshot_create, REQ_SNAPSHOT_CREATE},
    {"GET", "/v1/resourceGroups/{}/snapshots/{}", snapshot_show, -1},
    {"DELETE", "/v1/resourceGroups/{}/snapshots/{}", snapshot_delete, -1},
    {NULL, NULL, NULL, -1},
};
