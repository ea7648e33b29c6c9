/*
 * storage.c - ARM's Microsoft.Compute/disks and snapshots on kumod's
 * managed disks and snapshots:
 *
 *   PUT .../disks/N     sku.name (Standard_LRS, StandardSSD_LRS, Premium_LRS:
 *                       kumo's three tiers), properties.diskSizeGB,
 *                       creationData.createOption Empty, Copy (from a
 *                       snapshot, sourceResourceId) or FromImage
 *                       (imageReference.id: a kumo image); an existing disk
 *                       changes tier and grows
 *   PUT .../snapshots/N creationData.sourceResourceId: a disk of the group
 *   GET, DELETE, and the listings by group and subscription
 *
 * A disk PUT answers 202 with an operation that is already over: az's
 * disk client refuses 201 (../shared/reference/azure-cli, section 2). A
 * snapshot is taken by a job: its operation (202 too) ends when it is.
 */
#include "cloud/arm/images.h"
#include "cloud/arm/ops.h"
#include "cloud/arm/res.h"
#include "cloud/db.h"
#include "cloud/requests.h"
#include "cloud/state.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define COMPUTE   "Microsoft.Compute"
#define DISK_TYPE COMPUTE "/disks"
#define SNAP_TYPE COMPUTE "/snapshots"
#define VM_TYPE   COMPUTE "/virtualMachines"

/* ---- disks ---- */

static json_t *disk_json(struct arm_ctx *c, int64_t id)
{
    sqlite3_stmt *st = db_stmt(
        c->k->db,
        "SELECT g.name, d.name, d.tier, d.size_gib, d.image_id, s.name, sg.name, v.name, vg.name,"
        " d.os_disk, d.created_ms, d.state FROM disks d JOIN groups g ON g.id = d.group_id"
        " LEFT JOIN snapshots s ON s.id = d.snapshot_id LEFT JOIN groups sg ON sg.id = s.group_id"
        " LEFT JOIN vms v ON v.id = d.vm_id LEFT JOIN groups vg ON vg.id = v.group_id"
        " WHERE d.id = ?",
        "i", id);
    json_t *out = NULL;
    if (st && sqlite3_step(st) == SQLITE_ROW) {
        char rid[ARM_ID_MAX], x[ARM_ID_MAX], guid[37];
        arm_rid(c, rid, sizeof(rid), db_col_text(st, 0), DISK_TYPE "/%s", db_col_text(st, 1));
        json_t *cd;
        if (!db_col_null(st, 4)) {
            struct arm_urn u;
            json_t *ref;
            if (arm_image_urn(c->k, sqlite3_column_int64(st, 4), &u)) {
                snprintf(x, sizeof(x),
                         "/Subscriptions/%s/Providers/Microsoft.Compute/Locations/local/Publishers/"
                         "%s/ArtifactTypes/VMImage/Offers/%s/Skus/%s/Versions/%s",
                         c->id->subscription, u.publisher, u.offer, u.sku, ARM_IMAGE_VERSION);
                ref = json_pack("{s:s}", "id", x);
            } else { /* a custom image: the managed image's id */
                ref = arm_image_ref_json(c, sqlite3_column_int64(st, 4), db_col_text(st, 0));
            }
            cd = json_pack("{s:s, s:o}", "createOption", "FromImage", "imageReference", ref);
        } else if (!db_col_null(st, 5)) {
            cd = json_pack(
                "{s:s, s:s}", "createOption", "Copy", "sourceResourceId",
                arm_rid(c, x, sizeof(x), db_col_text(st, 6), SNAP_TYPE "/%s", db_col_text(st, 5)));
        } else {
            cd = json_pack("{s:s}", "createOption", "Empty");
        }
        arm_row_guid(c, "disks", id, guid);
        bool attached = !db_col_null(st, 7);
        json_t *p = json_pack(
            "{s:o, s:I, s:I, s:s, s:s, s:s, s:o, s:s}", "creationData", cd, "diskSizeGB",
            (json_int_t)sqlite3_column_int64(st, 3), "diskSizeBytes",
            (json_int_t)sqlite3_column_int64(st, 3) << 30, "uniqueId", guid, "provisioningState",
            !strcmp(db_col_text(st, 11), PV_SUCCEEDED) ? "Succeeded" : db_col_text(st, 11),
            "diskState", attached ? "Attached" : "Unattached", "timeCreated",
            arm_time(sqlite3_column_int64(st, 10)), "osType", "Linux");
        if (!sqlite3_column_int(st, 9)) json_object_del(p, "osType");
        out = arm_resource(rid, db_col_text(st, 1), DISK_TYPE, NULL, p);
        if (attached)
            json_object_set_new(out, "managedBy",
                                json_string(arm_rid(c, x, sizeof(x), db_col_text(st, 8),
                                                    VM_TYPE "/%s", db_col_text(st, 7))));
        json_object_set_new(
            out, "sku",
            json_pack("{s:s, s:s}", "name", arm_tier_name(db_col_text(st, 2)), "tier",
                      !strcmp(db_col_text(st, 2), "Premium_SSD") ? "Premium" : "Standard"));
    }
    sqlite3_finalize(st);
    return out;
}

static int64_t disk_find(struct arm_ctx *c, int64_t g, const struct arm_id *id)
{
    return db_int(c->k->db, NULL, -1, "SELECT id FROM disks WHERE group_id = ? AND name = ?", "it",
                  g, id->names[0]);
}

/* The /v1 body of a disk's ARM body (name, tier, sizeGiB, image or
 * snapshot); NULL + e. */
static json_t *disk_body(struct arm_ctx *c, const char *name, const char *group, const json_t *res,
                         bool create, struct arm_err *e)
{
    json_t *kb = json_pack("{s:s}", "name", name);
    const char *sku = arm_gets(res, "sku.name");
    if (sku) {
        const char *tier = arm_tier_to_kumo(sku);
        if (!tier) {
            arm_err_set(e, 400, "InvalidParameter", "sku.name",
                        "sku.name: '%.40s' is not a disk SKU kumo has (Standard_LRS, "
                        "StandardSSD_LRS, Premium_LRS).",
                        sku);
            goto fail;
        }
        json_object_set_new(kb, "tier", json_string(tier));
    }
    const json_t *gb = arm_get(res, "properties.diskSizeGB");
    if (gb) json_object_set(kb, "sizeGiB", (json_t *)gb);
    if (!create) return kb;
    const char *opt = arm_gets(res, "properties.creationData.createOption");
    if (!opt || !strcasecmp(opt, "Empty")) {
        if (!gb) {
            arm_err_set(e, 400, "InvalidParameter", "properties.diskSizeGB",
                        "properties.diskSizeGB: an empty disk needs a size.");
            goto fail;
        }
    } else if (!strcasecmp(opt, "Copy")) {
        const char *src = arm_gets(res, "properties.creationData.sourceResourceId");
        struct arm_id id;
        char err[200];
        if (!src || arm_id_parse(src, &id, err, sizeof(err)) < 0 || !arm_id_is(&id, SNAP_TYPE) ||
            strcasecmp(id.group, group)) {
            arm_err_set(e, 400, "InvalidParameter", "properties.creationData.sourceResourceId",
                        "properties.creationData.sourceResourceId: kumo copies a disk from a "
                        "snapshot of its resource group ('%.300s' is not one).",
                        src ? src : "");
            goto fail;
        }
        json_object_set_new(kb, "snapshot", json_string(id.names[0]));
    } else if (!strcasecmp(opt, "FromImage")) {
        const json_t *ref = arm_get(res, "properties.creationData.imageReference");
        int64_t img = -1;
        const char *rid = arm_gets(ref, "id");
        const char *v = rid ? strcasestr(rid, "/Publishers/") : NULL;
        /* a platform image version's id, or a managed image's */
        if (v) {
            char pub[80], offer[80], sku2[80];
            if (v && sscanf(v, "/%*[^/]/%79[^/]/%*[^/]/%*[^/]/%*[^/]/%79[^/]/%*[^/]/%79[^/]", pub,
                            offer, sku2) == 3) {
                json_t *r =
                    json_pack("{s:s, s:s, s:s}", "publisher", pub, "offer", offer, "sku", sku2);
                img = arm_image_resolve(c, r, "properties.creationData.imageReference", e);
                json_decref(r);
            }
        } else if (ref) {
            img = arm_image_resolve(c, ref, "properties.creationData.imageReference", e);
        }
        if (img < 0) {
            if (!e->status)
                arm_err_set(e, 400, "InvalidParameter", "properties.creationData.imageReference",
                            "properties.creationData.imageReference: name one of kumod's images.");
            goto fail;
        }
        char image[80] = "";
        db_text(c->k->db, image, sizeof(image), "SELECT name FROM images WHERE id = ?", "i", img);
        json_object_set_new(kb, "image", json_string(image));
    } else {
        arm_err_set(e, 400, "InvalidParameter", "properties.creationData.createOption",
                    "properties.creationData.createOption: kumo makes disks Empty, as a Copy of "
                    "a snapshot or FromImage, not '%.40s'.",
                    opt);
        goto fail;
    }
    return kb;
fail:
    json_decref(kb);
    return NULL;
}

static int64_t disk_create(struct arm_apply *a)
{
    struct kumod *k = a->t->k;
    json_t *kb = disk_body(a->c, a->id->names[0], a->group_name, a->res, true, a->err);
    if (!kb) return -1;
    int64_t id = -1, img = 0, snap = 0;
    const char *image = json_string_value(json_object_get(kb, "image"));
    const char *snapshot = json_string_value(json_object_get(kb, "snapshot"));
    if (request_check(REQ_DISK_CREATE, kb, a->t->e) < 0) goto out;
    if (image && (img = prov_image(k, image, "image", a->t->e)) < 0) goto out;
    if (snapshot &&
        (snap = prov_find(k, "snapshots", a->group, snapshot, "snapshot", "snapshot", a->t->e)) < 0)
        goto out;
    id = prov_disk_insert(
        a->t, a->group, a->id->names[0], json_string_value(json_object_get(kb, "tier")),
        json_integer_value(json_object_get(kb, "sizeGiB")), img, snap, "properties.diskSizeGB");
out:
    json_decref(kb);
    if (id < 0 && !a->err->status) arm_apply_fail(a);
    return id;
}

static void disk_update(struct arm_ctx *c, int64_t g, int64_t row)
{
    struct arm_id id;
    arm_path_id(c, &id);
    json_t *kb = disk_body(c, id.names[0], id.group, c->body, false, &c->err);
    if (!kb) return;
    struct kerr ke = {0};
    json_object_del(kb, "name");
    if (request_check(REQ_DISK_UPDATE, kb, &ke) < 0 ||
        prov_disk_update(c->k, g, id.names[0], json_string_value(json_object_get(kb, "tier")),
                         json_integer_value(json_object_get(kb, "sizeGiB")), NULL, &ke) < 0)
        arm_fail(c, &ke);
    else
        arm_reply_done(c, 202, COMPUTE, disk_json(c, row));
    json_decref(kb);
}

const struct arm_kind arm_kind_disk = {DISK_TYPE, "disks", disk_create, disk_find,
                                       disk_json, NULL,    202,         NULL};

static void disk_put(struct arm_ctx *c)
{
    arm_put(c, &arm_kind_disk, disk_update);
}

static void disk_get(struct arm_ctx *c)
{
    arm_show(c, &arm_kind_disk);
}

static void disk_list(struct arm_ctx *c)
{
    int64_t g = arm_group(c, c->p[1]);
    if (g >= 0)
        arm_reply_rows(c, disk_json, "SELECT id FROM disks WHERE group_id = ? ORDER BY name", "i",
                       g);
}

static void disk_list_all(struct arm_ctx *c)
{
    if (arm_check_sub(c, c->p[0]))
        arm_reply_rows(c, disk_json, "SELECT id FROM disks ORDER BY name", "");
}

static void disk_delete(struct arm_ctx *c)
{
    int64_t g = arm_group(c, c->p[1]);
    if (g < 0) return;
    struct arm_id id;
    arm_path_id(c, &id);
    if (disk_find(c, g, &id) < 0) {
        arm_reply(c, 204, NULL);
        return;
    }
    struct kerr ke = {0};
    if (prov_disk_delete(c->k, g, c->p[2], &ke) < 0)
        arm_fail(c, &ke);
    else
        arm_reply_done(c, 202, COMPUTE, NULL);
}

/* ---- snapshots ---- */

static json_t *snap_json(struct arm_ctx *c, int64_t id)
{
    sqlite3_stmt *st = db_stmt(c->k->db,
                               "SELECT g.name, s.name, s.source_disk, s.size_gib, s.state,"
                               " s.created_ms FROM snapshots s JOIN groups g ON g.id = s.group_id"
                               " WHERE s.id = ?",
                               "i", id);
    json_t *out = NULL;
    if (st && sqlite3_step(st) == SQLITE_ROW) {
        char rid[ARM_ID_MAX], x[ARM_ID_MAX], guid[37];
        const char *group = db_col_text(st, 0), *state = db_col_text(st, 4);
        arm_rid(c, rid, sizeof(rid), group, SNAP_TYPE "/%s", db_col_text(st, 1));
        arm_row_guid(c, "snapshots", id, guid);
        json_t *p = json_pack(
            "{s:{s:s, s:s}, s:I, s:s, s:s, s:o, s:b}", "creationData", "createOption", "Copy",
            "sourceResourceId",
            arm_rid(c, x, sizeof(x), group, DISK_TYPE "/%s", db_col_text(st, 2)), "diskSizeGB",
            (json_int_t)sqlite3_column_int64(st, 3), "uniqueId", guid, "provisioningState",
            !strcmp(state, PV_SUCCEEDED) ? "Succeeded"
            : !strcmp(state, PV_FAILED)  ? "Failed"
                                         : "Creating",
            "timeCreated", arm_time(sqlite3_column_int64(st, 5)), "incremental", 0);
        out = arm_resource(rid, db_col_text(st, 1), SNAP_TYPE, NULL, p);
        json_object_set_new(out, "sku",
                            json_pack("{s:s, s:s}", "name", "Standard_LRS", "tier", "Standard"));
    }
    sqlite3_finalize(st);
    return out;
}

static int64_t snap_find(struct arm_ctx *c, int64_t g, const char *name)
{
    return db_int(c->k->db, NULL, -1, "SELECT id FROM snapshots WHERE group_id = ? AND name = ?",
                  "it", g, name);
}

static void snap_put(struct arm_ctx *c)
{
    int64_t g = arm_group(c, c->p[1]);
    if (g < 0 || arm_check_location(c, c->body) < 0) return;
    int64_t row = snap_find(c, g, c->p[2]);
    if (row >= 0) { /* a snapshot does not change */
        arm_reply(c, 200, snap_json(c, row));
        return;
    }
    const char *src = arm_gets(c->body, "properties.creationData.sourceResourceId");
    struct arm_id id;
    char err[200];
    if (!src || arm_id_parse(src, &id, err, sizeof(err)) < 0 || !arm_id_is(&id, DISK_TYPE) ||
        strcasecmp(id.group, c->p[1])) {
        arm_err_set(&c->err, 400, "InvalidParameter", "properties.creationData.sourceResourceId",
                    "properties.creationData.sourceResourceId: kumo takes a snapshot of a disk "
                    "of its resource group ('%.300s' is not one).",
                    src ? src : "");
        return;
    }
    json_t *kb = json_pack("{s:s, s:s}", "name", c->p[2], "disk", id.names[0]);
    struct kerr ke = {0};
    if (request_check(REQ_SNAPSHOT_CREATE, kb, &ke) < 0 ||
        (row = prov_snapshot_create(c->k, g, c->p[2], id.names[0], &ke)) < 0)
        arm_fail(c, &ke);
    else
        arm_reply_op(c, 202, "snapshot", COMPUTE, row, snap_json(c, row));
    json_decref(kb);
}

static void snap_get(struct arm_ctx *c)
{
    int64_t g = arm_group(c, c->p[1]);
    if (g < 0) return;
    int64_t row = snap_find(c, g, c->p[2]);
    if (row < 0)
        arm_not_found(c, SNAP_TYPE, c->p[2]);
    else
        arm_reply(c, 200, snap_json(c, row));
}

static void snap_list(struct arm_ctx *c)
{
    int64_t g = arm_group(c, c->p[1]);
    if (g >= 0)
        arm_reply_rows(c, snap_json, "SELECT id FROM snapshots WHERE group_id = ? ORDER BY name",
                       "i", g);
}

static void snap_delete(struct arm_ctx *c)
{
    int64_t g = arm_group(c, c->p[1]);
    if (g < 0) return;
    if (snap_find(c, g, c->p[2]) < 0) {
        arm_reply(c, 204, NULL);
        return;
    }
    struct kerr ke = {0};
    if (prov_snapshot_delete(c->k, g, c->p[2], &ke) < 0)
        arm_fail(c, &ke);
    else
        arm_reply_done(c, 202, COMPUTE, NULL);
}

static const char *snap_probe(struct arm_ctx *c, const struct arm_op *op, json_t **error)
{
    char state[32] = "", msg[600] = "";
    if (!db_text(c->k->db, state, sizeof(state), "SELECT state FROM snapshots WHERE id = ?", "i",
                 op->target)) {
        *error = json_pack("{s:s, s:s}", "code", "ResourceNotFound", "message",
                           "The snapshot was deleted while it was taken.");
        return "Failed";
    }
    if (!strcmp(state, PV_SUCCEEDED)) return "Succeeded";
    if (!strcmp(state, PV_FAILED)) {
        db_text(c->k->db, msg, sizeof(msg),
                "SELECT coalesce(error, '') FROM snapshots WHERE id = ?", "i", op->target);
        *error = json_pack("{s:s, s:s}", "code", "SnapshotFailed", "message",
                           msg[0] ? msg : "The snapshot could not be taken.");
        return "Failed";
    }
    return "InProgress";
}

static void snap_result(struct arm_ctx *c, const struct arm_op *op)
{
    json_t *s = snap_json(c, op->target);
    if (s)
        arm_reply(c, 200, s);
    else
        arm_reply(c, 204, NULL);
}

const struct arm_op_kind arm_op_snapshot = {"snapshot", snap_probe, snap_result, NULL};

#define RGP "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Compute"
const struct arm_route arm_routes_storage[] = {
    {"GET", RGP "/disks", (void *)disk_list, 0, DISK_TYPE},
    {"GET", "/subscriptions/{}/providers/Microsoft.Compute/disks", (void *)disk_list_all, 0,
     DISK_TYPE},
    {"GET", RGP "/disks/{}", (void *)disk_get, 0, DISK_TYPE},
    {"PUT", RGP "/disks/{}", (void *)disk_put, 0, DISK_TYPE},
    {"PATCH", RGP "/disks/{}", (void *)disk_put, 0, DISK_TYPE},
    {"DELETE", RGP "/disks/{}", (void *)disk_delete, 0, DISK_TYPE},
    {"GET", RGP "/snapshots", (void *)snap_list, 0, SNAP_TYPE},
    {"GET", RGP "/snapshots/{}", (void *)snap_get, 0, SNAP_TYPE},
    {"PUT", RGP "/snapshots/{}", (void *)snap_put, 0, SNAP_TYPE},
    {"DELETE", RGP "/snapshots/{}", (void *)snap_delete, 0, SNAP_TYPE},
    {NULL, NULL, NULL, 0, NULL},
};
