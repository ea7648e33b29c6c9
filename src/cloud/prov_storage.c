/*
 * prov_storage.c - the provisioning layer's storage (provision.h): images
 * and snapshots (recorded here, imported and copied by diskops.c on a job
 * thread), managed disks (a disk's row and its qcow2 file, made in the same
 * transaction: the file is removed if the transaction does not commit; tier
 * changes applied live to the running kumo-vmm; growth; delete).
 */
#include "cloud/provision.h"

#include "cloud/billing.h"
#include "cloud/db.h"
#include "cloud/diskops.h"
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

/* ---- images and snapshots ---- */

int64_t prov_image_create(struct kumod *k, const struct prov_image_spec *s, struct kerr *e)
{
    struct db *db = k->db;
    assert(kumod_lock_held(k));
    if (db_int(db, NULL, -1, "SELECT id FROM images WHERE name = ?", "t", s->name) >= 0)
        return kerr_conflict(e, "AlreadyExists", "image '%s' already exists", s->name);
    /* the tenant's files: in the import directory, regular, not too large
     * (diskops.h); the job opens them there again, once */
    char why[1200];
    int fd = diskops_import_open(k, "source", s->source, why, sizeof(why));
    if (fd < 0) return kerr_invalid(e, "source", "%s", why);
    close(fd);
    const char *mode = s->boot_mode ? s->boot_mode : "direct";
    const char *kernel = s->kernel, *initrd = s->initrd;
    char dflt_kernel[PATH_MAX] = "";
    if (strcmp(mode, "direct") == 0 && !kernel) {
        if (!db_text(db, dflt_kernel, sizeof(dflt_kernel),
                     "SELECT kernel FROM images WHERE name = 'default' AND state = 'Succeeded'",
                     ""))
            return kerr_missing(e, "kernel",
                                "kernel: missing (direct boot needs a kernel and there is no "
                                "default image to take one from)");
        kernel = dflt_kernel;
    }
    if (strcmp(mode, "firmware") == 0 && (kernel || initrd))
        return kerr_invalid(e, kernel ? "kernel" : "initrd",
                            "%s: firmware boot takes the kernel from the disk; drop this field",
                            kernel ? "kernel" : "initrd");
    if (s->kernel && (fd = diskops_import_open(k, "kernel", s->kernel, why, sizeof(why))) < 0)
        return kerr_invalid(e, "kernel", "%s", why);
    if (s->kernel) close(fd);
    if (!s->kernel && kernel && access(kernel, R_OK) != 0) /* the default image's own */
        return kerr_invalid(e, "kernel", "kernel: cannot read %s on the host", kernel);
    if (initrd && (fd = diskops_import_open(k, "initrd", initrd, why, sizeof(why))) < 0)
        return kerr_invalid(e, "initrd", "%s", why);
    if (initrd) close(fd);
    const char *args = s->kernel_args ? s->kernel_args : "console=ttyS0 root=/dev/vda rw";
    const char *prov = s->provisioning                 ? s->provisioning
                       : strcmp(mode, "firmware") == 0 ? "cloud-init"
                                                       : "none";
    /* an alias or URN of another image must not be shadowed by a name */
    if (prov_image_ref(k, s->name) >= 0)
        return kerr_conflict(e, "AlreadyExists",
                             "image '%s' already exists (an image has it as its alias)", s->name);
    struct prov_tx t;
    if (prov_begin(&t, k, e) < 0) return -1;
    int rc = db_exec(db,
                     "INSERT INTO images (name, boot_mode, kernel_args, src_format, path, source,"
                     " src_kernel, src_initrd, state, created_ms, provisioning, os)"
                     " VALUES (?, ?, ?, ?, '', ?, ?, ?, 'Creating', ?, ?, ?)",
                     "tttttttitt", s->name, mode, args, s->format ? s->format : "auto", s->source,
                     kernel, initrd, time_now_ms(), prov, s->os);
    int64_t id = db_last_id(db);
    char path[PATH_MAX];
    path_image_file(k, path, id, "disk.qcow2");
    if (rc == 0) rc = db_exec(db, "UPDATE images SET path = ? WHERE id = ?", "ti", path, id);
    if (rc < 0) {
        prov_db_error(&t, "image create");
        prov_abort(&t);
        return -1;
    }
    prov_tx_job(&t, JOB_IMAGE, id);
    return prov_commit(&t) < 0 ? -1 : id;
}

static bool still_creating(struct db *db, const char *table, int64_t id)
{
    char sql[96], state[32] = "";
    snprintf(sql, sizeof(sql), "SELECT state FROM %s WHERE id = ?", table);
    return db_text(db, state, sizeof(state), sql, "i", id) && strcmp(state, PV_CREATING) == 0;
}

int prov_image_delete(struct kumod *k, const char *name, struct kerr *e)
{
    int64_t id = prov_image(k, name, NULL, e);
    if (id < 0) return -1;
    if (still_creating(k->db, "images", id))
        return kerr_conflict(e, "InvalidState", "image '%s' is still being imported", name);
    char users[1024] = "";
    prov_users_query(k, users, sizeof(users),
                     "SELECT 'virtual machine', g.name || '/' || v.name FROM vms v"
                     " JOIN groups g ON g.id = v.group_id WHERE v.image_id = ?1"
                     " UNION ALL SELECT 'disk', g.name || '/' || d.name FROM disks d"
                     " JOIN groups g ON g.id = d.group_id WHERE d.image_id = ?1 LIMIT 11",
                     "i", id);
    if (users[0]) return prov_in_use(e, users, "image '%s'", name);
    if (prov_exec(k, e, false, "image delete", "DELETE FROM images WHERE id = ?", "i", id) < 0)
        return -1;
    kumod_crash_point("image-delete:committed"); /* files without a row: swept at start */
    char dir[PATH_MAX];
    path_rmdir_files(path_image_dir(k, dir, id));
    return 0;
}

int64_t prov_snapshot_create(struct kumod *k, int64_t g, const char *name, const char *dname,
                             struct kerr *e)
{
    struct db *db = k->db;
    int64_t disk = prov_find(k, "disks", g, dname, "disk", "disk", e);
    if (disk < 0) return -1;
    if (prov_name_free(k, "snapshots", g, name, "snapshot", false, e) < 0) return -1;
    char power[32] = "";
    if (db_text(db, power, sizeof(power),
                "SELECT v.power_state FROM disks d JOIN vms v ON v.id = d.vm_id WHERE d.id = ?",
                "i", disk) &&
        (power_has_process(power) || strcmp(power, PS_CREATING) == 0))
        return kerr_conflict(e, "InvalidState",
                             "disk '%s' is attached to a VM that is %s: stop or deallocate it "
                             "first",
                             dname, power);
    char src[PATH_MAX];
    path_disk(k, src, disk);
    int64_t size = db_int(db, NULL, 1, "SELECT size_gib FROM disks WHERE id = ?", "i", disk);
    struct prov_tx t;
    if (prov_begin(&t, k, e) < 0) return -1;
    if (db_exec(db,
                "INSERT INTO snapshots (group_id, name, source_disk, source_path, size_gib, state,"
                " created_ms) VALUES (?, ?, ?, ?, ?, 'Creating', ?)",
                "itttii", g, name, dname, src, size, time_now_ms()) < 0) {
        prov_db_error(&t, "snapshot create");
        prov_abort(&t);
        return -1;
    }
    int64_t id = db_last_id(db);
    prov_tx_job(&t, JOB_SNAPSHOT, id);
    return prov_commit(&t) < 0 ? -1 : id;
}

int prov_snapshot_delete(struct kumod *k, int64_t g, const char *name, struct kerr *e)
{
    int64_t id = prov_find(k, "snapshots", g, name, "snapshot", NULL, e);
    if (id < 0) return -1;
    if (still_creating(k->db, "snapshots", id))
        return kerr_conflict(e, "InvalidState", "snapshot '%s' is still being taken", name);
    char users[1024] = "";
    prov_users_query(k, users, sizeof(users),
                     "SELECT 'disk', name FROM disks WHERE snapshot_id = ? ORDER BY name LIMIT 11",
                     "i", id);
    if (users[0]) return prov_in_use(e, users, "snapshot '%s'", name);
    if (prov_exec(k, e, false, "snapshot delete", "DELETE FROM snapshots WHERE id = ?", "i", id) <
        0)
        return -1;
    kumod_crash_point("snapshot-delete:committed");
    char path[PATH_MAX];
    unlink(path_snapshot(k, path, id));
    return 0;
}

/* ---- managed disks ---- */

int64_t prov_disk_insert(struct prov_tx *t, int64_t group_id, const char *name, const char *tier,
                         int64_t size_gib, int64_t image_id, int64_t snapshot_id,
                         const char *size_field)
{
    struct kumod *k = t->k;
    struct db *db = k->db;
    struct kerr *e = t->e;
    assert(t->open && kumod_lock_held(k));
    if (prov_name_free(k, "disks", group_id, name, "disk", true, e) < 0) return -1;
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
    kumod_crash_point("disk-create:file-made"); /* a file, no row yet */
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
    if (id < 0 || prov_disk_set_caching(&t, id, s->caching, "caching") < 0 ||
        prov_commit(&t) < 0) {
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

int prov_disk_set_caching(struct prov_tx *t, int64_t id, const char *caching, const char *field)
{
    if (!caching) return 0;
    int c = disk_cache_parse(caching);
    if (c < 0)
        return kerr_invalid(t->e, field,
                            "%s: '%.40s' is not a host caching mode (None, ReadOnly or ReadWrite)",
                            field, caching);
    if (db_exec(t->k->db, "UPDATE disks SET caching = ? WHERE id = ?", "ti",
                disk_cache_azure_name((enum disk_cache)c), id) < 0)
        return prov_db_error(t, NULL);
    return 0;
}

int64_t prov_disk_update(struct kumod *k, int64_t g, const char *name, const char *tier,
                         int64_t size_gib, const char *caching, struct kerr *e)
{
    struct db *db = k->db;
    if (caching && disk_cache_parse(caching) < 0)
        return kerr_invalid(e, "caching",
                            "caching: '%.40s' is not a host caching mode (None, ReadOnly or "
                            "ReadWrite)",
                            caching);
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
        if (!off && caching)
            return kerr_conflict(e, "InvalidState",
                                 "disk '%s' is attached to a VM that is %s: its host caching "
                                 "changes when the VM is stopped or deallocated",
                                 name, power);
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
        prov_disk_set_caching(&tx, id, caching, "caching") < 0 ||
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
        char users[160];
        snprintf(users, sizeof(users), "virtual machine '%s' (detach it, or delete the VM)", vm);
        return prov_in_use(e, users, "disk '%s'", name);
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
    kumod_crash_point("disk-delete:committed");
    char path[PATH_MAX];
    unlink(path_disk(k, path, id));
    return 0;
}
