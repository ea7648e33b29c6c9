/*
 * api_storage.c - the API's storage resources: images (host-wide), managed
 * disks and snapshots (in resource groups), docs/api.md "Images", "Disks",
 * "Snapshots". Disk files are created here, inside the transaction that
 * records them; imports and snapshot copies run as jobs (diskops.c).
 */
#include "cloud/api.h"

#include "cloud/body.h"
#include "cloud/db.h"
#include "cloud/netplane.h"
#include "cloud/provision.h"
#include "cloud/requests.h"
#include "cloud/state.h"
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
                " source, builtin, state, error, created_ms, urn, alias, os, provisioning"
                " FROM images WHERE id = ?",
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
        json_object_set_new(out, "urn", str_or_null(st, 12));
        json_object_set_new(out, "alias", str_or_null(st, 13));
        json_object_set_new(out, "os", str_or_null(st, 14));
        json_object_set_new(out, "provisioning", json_string(db_col_text(st, 15)));
        /* what a VM's osProfile may ask of it (docs/images.md) */
        const char *prov = db_col_text(st, 15);
        bool cloud_init = strcmp(prov, "cloud-init") == 0;
        bool keys = cloud_init || (strcmp(prov, "kumo") == 0 && netplane_has_switch(k));
        json_object_set_new(out, "osProfile",
                            json_pack("{s:b,s:b}", "sshKeys", keys, "adminPassword", cloud_init));
    }
    sqlite3_finalize(st);
    return out;
}

static void images_list(struct api_ctx *c)
{
    api_reply_list(c, api_image_json, "SELECT id FROM images ORDER BY name", "");
}

static int64_t image_id(struct api_ctx *c, const char *name, const char *field)
{
    return prov_image(c->k, name, field, &c->err);
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
    int wait = api_wait_arg(c);
    if (wait < 0) return;
    struct prov_image_spec s = {
        .name = body_str(c->body, "name", ""),
        .source = body_str(c->body, "source", ""),
        .format = body_str(c->body, "format", NULL),
        .boot_mode = body_str(c->body, "bootMode", NULL),
        .kernel = body_str(c->body, "kernel", NULL),
        .initrd = body_str(c->body, "initrd", NULL),
        .kernel_args = body_str(c->body, "kernelArgs", NULL),
        .provisioning = body_str(c->body, "provisioning", NULL),
        .os = body_str(c->body, "os", NULL),
    };
    int64_t id = prov_image_create(c->k, &s, &c->err);
    if (id < 0) return;
    bool done = api_wait(c, wait, image_done, id);
    api_reply_at(c, done && wait ? 201 : 202, api_image_json, id);
}

static void image_delete(struct api_ctx *c)
{
    if (prov_image_delete(c->k, c->p[0], &c->err) == 0) api_reply(c, 204, NULL);
}

/* ---- disks ---- */

json_t *api_disk_json(struct kumod *k, int64_t id)
{
    sqlite3_stmt *st =
        db_stmt(k->db,
                "SELECT g.name, d.name, d.tier, d.size_gib, i.name, s.name, v.name, d.lun,"
                " d.os_disk, d.state, d.error, d.created_ms, sz.max_iops, d.caching"
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
        /* host caching: as chosen, else the default of its role and tier */
        enum disk_cache cache =
            disk_cache_effective(db_col_null(st, 13) ? NULL : db_col_text(st, 13),
                                 disk_tier_name(t), sqlite3_column_int(st, 8) != 0);
        if (out) json_object_set_new(out, "caching", json_string(disk_cache_azure_name(cache)));
    }
    sqlite3_finalize(st);
    return out;
}

static void disks_list(struct api_ctx *c)
{
    api_list_in_group(c, "disks", api_disk_json);
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
    int64_t g = api_group(c, c->p[0]);
    if (g < 0) return;
    struct prov_disk_spec s = {
        .name = body_str(c->body, "name", ""),
        .tier = body_str(c->body, "tier", NULL),
        .size_gib = body_int(c->body, "sizeGiB", 0),
        .image = body_str(c->body, "image", NULL),
        .snapshot = body_str(c->body, "snapshot", NULL),
        .caching = body_str(c->body, "caching", NULL),
    };
    int64_t id = prov_disk_create(c->k, g, &s, &c->err);
    if (id < 0) return;
    api_reply_at(c, 201, api_disk_json, id);
}

static void disk_update(struct api_ctx *c)
{
    int64_t g = api_group(c, c->p[0]);
    int64_t id = g < 0 ? -1
                       : prov_disk_update(c->k, g, c->p[1], body_str(c->body, "tier", NULL),
                                          body_int(c->body, "sizeGiB", 0),
                                          body_str(c->body, "caching", NULL), &c->err);
    if (id >= 0) api_reply(c, 200, api_disk_json(c->k, id));
}

static void disk_delete(struct api_ctx *c)
{
    int64_t g = api_group(c, c->p[0]);
    if (g >= 0 && prov_disk_delete(c->k, g, c->p[1], &c->err) == 0) api_reply(c, 204, NULL);
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
    api_list_in_group(c, "snapshots", api_snapshot_json);
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
    int wait = api_wait_arg(c);
    int64_t g = wait < 0 ? -1 : api_group(c, c->p[0]);
    int64_t id = g < 0 ? -1
                       : prov_snapshot_create(c->k, g, body_str(c->body, "name", ""),
                                              body_str(c->body, "disk", ""), &c->err);
    if (id < 0) return;
    bool done = api_wait(c, wait, snapshot_done, id);
    api_reply_at(c, done && wait ? 201 : 202, api_snapshot_json, id);
}

static void snapshot_delete(struct api_ctx *c)
{
    int64_t g = api_group(c, c->p[0]);
    if (g >= 0 && prov_snapshot_delete(c->k, g, c->p[1], &c->err) == 0) api_reply(c, 204, NULL);
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
