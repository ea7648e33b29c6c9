/*
 * api_catalog.c - the API's host-wide resources: health, locations and
 * hosts (capacity), the size catalog, and resource groups (docs/api.md):
 * their create (POST, or PUT: create or update), their delete with
 * everything in them, and the list of what they hold.
 */
#include "cloud/api.h"

#include "cloud/body.h"
#include "cloud/db.h"
#include "cloud/netplane.h"
#include "cloud/placement.h"
#include "cloud/provision.h"
#include "cloud/requests.h"
#include "cloud/timefmt.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#ifndef KUMO_VERSION
#define KUMO_VERSION "0.1.0"
#endif

static void health(struct api_ctx *c)
{
    struct kumod *k = c->k;
    double up = (double)(time_now_ms() - k->started_ms) / 1000.0;
    bool fenced = atomic_load(&k->fenced);
    json_t *out = json_pack("{s:s,s:s,s:f,s:s}", "status", fenced ? "fenced" : "ok", "version",
                            KUMO_VERSION, "uptimeSeconds", up, "network",
                            netplane_has_switch(k) ? "kumo-switch" : "user-nat");
    /* cluster mode: this host's part (a fenced host is cut off from etcd:
     * its VMs are stopped and it changes nothing) */
    if (k->clustered)
        json_object_set_new(out, "cluster",
                            json_pack("{s:s,s:b,s:b}", "host", k->host_name, "leader",
                                      atomic_load(&k->leader), "fenced", fenced));
    api_reply(c, 200, out);
}

/* ---- hosts and locations ---- */

static json_t *cap_json(int64_t vcpus, int64_t mib)
{
    return json_pack("{s:I,s:I}", "vcpus", (json_int_t)vcpus, "memoryMiB", (json_int_t)mib);
}

json_t *api_host_json(struct kumod *k, int64_t id)
{
    struct host_cap h;
    if (placement_load(k->db, id, 0, &h) < 0) return NULL;
    sqlite3_stmt *st = db_stmt(k->db,
                               "SELECT name, location, created_ms, state, state_ms, address,"
                               " public_address, shared_storage,"
                               " name = (SELECT value FROM meta WHERE key = 'cluster.leader')"
                               " FROM hosts WHERE id = ?",
                               "i", id);
    if (!st) return NULL;
    json_t *out = NULL;
    if (sqlite3_step(st) == SQLITE_ROW) {
        char rid[128];
        snprintf(rid, sizeof(rid), "/hosts/%s", db_col_text(st, 0));
        int64_t cv = placement_cap_vcpus(&h), cm = placement_cap_mib(&h);
        json_t *alloc = cap_json(h.used_vcpus, h.used_mib);
        json_object_set_new(alloc, "vms", json_integer(h.vms));
        out = json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:f,s:f,s:I,s:o,s:o,s:o,s:s,s:o}", "id", rid,
                        "name", db_col_text(st, 0), "type", "host", "location", db_col_text(st, 1),
                        "cpus", (json_int_t)h.cpus, "memoryMiB", (json_int_t)h.mem_mib,
                        "cpuAllocationRatio", h.cpu_ratio, "ramAllocationRatio", h.ram_ratio,
                        "reservedMemoryMiB", (json_int_t)h.reserved_mib, "capacity",
                        cap_json(cv, cm), "allocated", alloc, "available",
                        cap_json(cv - h.used_vcpus > 0 ? cv - h.used_vcpus : 0,
                                 cm - h.used_mib > 0 ? cm - h.used_mib : 0),
                        "provisioningState", "Succeeded", "createdAt",
                        api_time(sqlite3_column_int64(st, 2)));
        /* cluster mode (docs/cluster.md): health, addresses, the leader */
        json_object_set_new(out, "state", json_string(db_col_text(st, 3)));
        if (!db_col_null(st, 4))
            json_object_set_new(out, "stateChangedAt", api_time(sqlite3_column_int64(st, 4)));
        if (!db_col_null(st, 5))
            json_object_set_new(out, "underlayAddress", json_string(db_col_text(st, 5)));
        if (!db_col_null(st, 6))
            json_object_set_new(out, "publicAddress", json_string(db_col_text(st, 6)));
        json_object_set_new(out, "sharedStorage", json_boolean(sqlite3_column_int(st, 7)));
        json_object_set_new(out, "leader",
                            json_boolean(sqlite3_column_int(st, 8) || !k->clustered));
    }
    sqlite3_finalize(st);
    return out;
}

static json_t *location_json(struct kumod *k, const char *location)
{
    sqlite3_stmt *st = db_stmt(k->db, "SELECT id, name FROM hosts WHERE location = ? ORDER BY name",
                               "t", location);
    if (!st) return NULL;
    json_t *hosts = json_array();
    int64_t cv = 0, cm = 0, uv = 0, um = 0, vms = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        struct host_cap h;
        if (placement_load(k->db, sqlite3_column_int64(st, 0), 0, &h) < 0) continue;
        json_array_append_new(hosts, json_string(db_col_text(st, 1)));
        cv += placement_cap_vcpus(&h);
        cm += placement_cap_mib(&h);
        uv += h.used_vcpus;
        um += h.used_mib;
        vms += h.vms;
    }
    sqlite3_finalize(st);
    if (json_array_size(hosts) == 0) {
        json_decref(hosts);
        return NULL;
    }
    json_t *alloc = cap_json(uv, um);
    json_object_set_new(alloc, "vms", json_integer(vms));
    return json_pack("{s:s,s:o,s:o,s:o,s:o}", "name", location, "hosts", hosts, "capacity",
                     cap_json(cv, cm), "allocated", alloc, "available",
                     cap_json(cv - uv > 0 ? cv - uv : 0, cm - um > 0 ? cm - um : 0));
}

static void locations_list(struct api_ctx *c)
{
    sqlite3_stmt *st =
        db_stmt(c->k->db, "SELECT DISTINCT location FROM hosts ORDER BY location", "");
    if (!st) {
        kerr_internal(&c->err, "%s", db_errmsg(c->k->db));
        return;
    }
    char names[8][64];
    int n = 0;
    while (n < 8 && sqlite3_step(st) == SQLITE_ROW)
        snprintf(names[n++], sizeof(names[0]), "%s", db_col_text(st, 0));
    sqlite3_finalize(st);
    json_t *arr = json_array();
    for (int i = 0; i < n; i++) {
        json_t *l = location_json(c->k, names[i]);
        if (l) json_array_append_new(arr, l);
    }
    api_reply(c, 200, json_pack("{s:o}", "value", arr));
}

static void location_show(struct api_ctx *c)
{
    json_t *l = location_json(c->k, c->p[0]);
    if (!l) {
        kerr_notfound(&c->err, "location '%.64s' not found (this host's is 'local')", c->p[0]);
        return;
    }
    api_reply(c, 200, l);
}

static void hosts_list(struct api_ctx *c)
{
    sqlite3_stmt *st = db_stmt(c->k->db, "SELECT id FROM hosts ORDER BY name", "");
    json_t *arr = json_array();
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        json_t *h = api_host_json(c->k, sqlite3_column_int64(st, 0));
        if (h) json_array_append_new(arr, h);
    }
    sqlite3_finalize(st);
    api_reply(c, 200, json_pack("{s:o}", "value", arr));
}

static int64_t host_id(struct api_ctx *c)
{
    int64_t id = db_int(c->k->db, NULL, -1, "SELECT id FROM hosts WHERE name = ?", "t", c->p[0]);
    if (id < 0) kerr_notfound(&c->err, "host '%.64s' not found", c->p[0]);
    return id;
}

static void host_show(struct api_ctx *c)
{
    int64_t id = host_id(c);
    if (id >= 0) api_reply(c, 200, api_host_json(c->k, id));
}

static void host_update(struct api_ctx *c)
{
    int64_t id = host_id(c);
    if (id < 0) return;
    struct host_cap h;
    placement_load(c->k->db, id, 0, &h);
    int64_t mem = body_int(c->body, "memoryMiB", h.mem_mib);
    int64_t res = body_int(c->body, "reservedMemoryMiB", h.reserved_mib);
    if (res > mem) {
        kerr_invalid(&c->err, "reservedMemoryMiB",
                     "reservedMemoryMiB: %lld is more than the host's memory (%lld MiB)",
                     (long long)res, (long long)mem);
        return;
    }
    struct db *db = c->k->db;
    if (db_begin(db) < 0 ||
        db_exec(db,
                "UPDATE hosts SET cpus = ?, mem_mib = ?, cpu_ratio = ?, ram_ratio = ?,"
                " reserved_mib = ? WHERE id = ?",
                "iiddii", body_int(c->body, "cpus", h.cpus), mem,
                body_num(c->body, "cpuAllocationRatio", h.cpu_ratio),
                body_num(c->body, "ramAllocationRatio", h.ram_ratio), res, id) < 0 ||
        db_commit(db) < 0) {
        db_rollback(db);
        kerr_internal(&c->err, "host update: %s", db_errmsg(db));
        return;
    }
    api_reply(c, 200, api_host_json(c->k, id));
}

static void host_drain(struct api_ctx *c, bool drain)
{
    int64_t id = prov_host_drain(c->k, c->p[0], drain, &c->err);
    if (id >= 0) api_reply(c, 200, api_host_json(c->k, id));
}

static void host_drain_on(struct api_ctx *c)
{
    host_drain(c, true);
}

static void host_resume(struct api_ctx *c)
{
    host_drain(c, false);
}

/* ---- sizes ---- */

json_t *api_size_json(struct kumod *k, int64_t id)
{
    sqlite3_stmt *st = db_stmt(k->db,
                               "SELECT name, family, vcpus, mem_mib, max_data_disks, max_iops,"
                               " price_hour, burst, builtin, created_ms FROM sizes WHERE id = ?",
                               "i", id);
    if (!st) return NULL;
    json_t *out = NULL;
    if (sqlite3_step(st) == SQLITE_ROW) {
        char rid[128];
        snprintf(rid, sizeof(rid), "/sizes/%s", db_col_text(st, 0));
        json_t *burst = db_col_null(st, 7) ? NULL : json_loads(db_col_text(st, 7), 0, NULL);
        out = json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:f,s:b,s:o,s:s,s:o}", "id", rid, "name",
                        db_col_text(st, 0), "type", "size", "family", db_col_text(st, 1), "vcpus",
                        (json_int_t)sqlite3_column_int64(st, 2), "memoryMiB",
                        (json_int_t)sqlite3_column_int64(st, 3), "maxDataDisks",
                        (json_int_t)sqlite3_column_int64(st, 4), "maxDiskIops",
                        (json_int_t)sqlite3_column_int64(st, 5), "pricePerHour",
                        sqlite3_column_double(st, 6), "builtin", sqlite3_column_int(st, 8),
                        "burstable", burst ? burst : json_null(), "provisioningState", "Succeeded",
                        "createdAt", api_time(sqlite3_column_int64(st, 9)));
    }
    sqlite3_finalize(st);
    return out;
}

static void sizes_list(struct api_ctx *c)
{
    api_reply_list(c, api_size_json, "SELECT id FROM sizes ORDER BY family, vcpus, mem_mib, name",
                   "");
}

static int64_t size_id(struct api_ctx *c)
{
    int64_t id = db_int(c->k->db, NULL, -1, "SELECT id FROM sizes WHERE name = ?", "t", c->p[0]);
    if (id < 0)
        kerr_notfound(&c->err, "size '%.64s' not found (GET /v1/sizes lists them)", c->p[0]);
    return id;
}

static void size_show(struct api_ctx *c)
{
    int64_t id = size_id(c);
    if (id >= 0) api_reply(c, 200, api_size_json(c->k, id));
}

static void size_create(struct api_ctx *c)
{
    struct db *db = c->k->db;
    const char *name = body_str(c->body, "name", "");
    if (db_int(db, NULL, -1, "SELECT id FROM sizes WHERE name = ?", "t", name) >= 0) {
        kerr_conflict(&c->err, "AlreadyExists", "size '%s' already exists", name);
        return;
    }
    char family[17] = "";
    const char *f = body_str(c->body, "family", NULL);
    if (f) {
        snprintf(family, sizeof(family), "%s", f);
    } else {
        size_t i = 0;
        while (i < 16 && isalpha((unsigned char)name[i])) {
            family[i] = name[i];
            i++;
        }
        family[i] = 0;
        if (!i) snprintf(family, sizeof(family), "custom");
    }
    char *burst = NULL;
    const json_t *b = json_object_get(c->body, "burstable");
    if (json_is_object(b)) burst = json_dumps(b, JSON_COMPACT);
    if (db_begin(db) < 0 ||
        db_exec(db,
                "INSERT INTO sizes (name, family, vcpus, mem_mib, max_data_disks, max_iops,"
                " price_hour, burst, builtin, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?)",
                "ttiiiidti", name, family, body_int(c->body, "vcpus", 1),
                body_int(c->body, "memoryMiB", 64), body_int(c->body, "maxDataDisks", 2),
                body_int(c->body, "maxDiskIops", 0), body_num(c->body, "pricePerHour", 0), burst,
                time_now_ms()) < 0 ||
        db_commit(db) < 0) {
        db_rollback(db);
        free(burst);
        kerr_internal(&c->err, "size create: %s", db_errmsg(db));
        return;
    }
    free(burst);
    int64_t id = db_last_id(db);
    api_reply_at(c, 201, api_size_json, id);
}

static void size_update(struct api_ctx *c)
{
    int64_t id = size_id(c);
    if (id < 0) return;
    struct db *db = c->k->db;
    int rc = db_begin(db);
    if (rc == 0 && body_has(c->body, "pricePerHour"))
        rc = db_exec(db, "UPDATE sizes SET price_hour = ? WHERE id = ?", "di",
                     body_num(c->body, "pricePerHour", 0), id);
    if (rc == 0 && body_has(c->body, "maxDataDisks"))
        rc = db_exec(db, "UPDATE sizes SET max_data_disks = ? WHERE id = ?", "ii",
                     body_int(c->body, "maxDataDisks", 0), id);
    if (rc == 0 && body_has(c->body, "maxDiskIops"))
        rc = db_exec(db, "UPDATE sizes SET max_iops = ? WHERE id = ?", "ii",
                     body_int(c->body, "maxDiskIops", 0), id);
    if (rc == 0) rc = db_commit(db);
    if (rc < 0) {
        db_rollback(db);
        kerr_internal(&c->err, "size update: %s", db_errmsg(db));
        return;
    }
    api_reply(c, 200, api_size_json(c->k, id));
}

static void size_delete(struct api_ctx *c)
{
    int64_t id = size_id(c);
    if (id < 0) return;
    struct db *db = c->k->db;
    char users[1024] = "";
    prov_users_query(c->k, users, sizeof(users),
                     "SELECT 'virtual machine', g.name || '/' || v.name FROM vms v"
                     " JOIN groups g ON g.id = v.group_id WHERE v.size_id = ? ORDER BY 2 LIMIT 11",
                     "i", id);
    if (users[0]) {
        prov_in_use(&c->err, users, "size '%s'", c->p[0]);
        return;
    }
    if (db_begin(db) < 0 || db_exec(db, "DELETE FROM sizes WHERE id = ?", "i", id) < 0 ||
        db_commit(db) < 0) {
        db_rollback(db);
        kerr_internal(&c->err, "size delete: %s", db_errmsg(db));
        return;
    }
    api_reply(c, 204, NULL);
}

/* ---- resource groups ---- */

json_t *api_group_json(struct kumod *k, int64_t id)
{
    sqlite3_stmt *st = db_stmt(k->db,
                               "SELECT name, location, tags, created_ms, deleting,"
                               " delete_started_ms, delete_status FROM groups WHERE id = ?",
                               "i", id);
    if (!st) return NULL;
    json_t *out = NULL;
    if (sqlite3_step(st) == SQLITE_ROW) {
        char rid[128];
        snprintf(rid, sizeof(rid), "/resourceGroups/%s", db_col_text(st, 0));
        json_t *tags = json_loads(db_col_text(st, 2), 0, NULL);
        bool deleting = sqlite3_column_int(st, 4) != 0;
        out = json_pack("{s:s,s:s,s:s,s:s,s:o,s:s,s:o}", "id", rid, "name", db_col_text(st, 0),
                        "type", "resourceGroup", "location", db_col_text(st, 1), "tags",
                        tags ? tags : json_object(), "provisioningState",
                        deleting ? "Deleting" : "Succeeded", "createdAt",
                        api_time(sqlite3_column_int64(st, 3)));
        if (out && deleting)
            json_object_set_new(out, "deletion",
                                json_pack("{s:o,s:s}", "startedAt",
                                          api_time(sqlite3_column_int64(st, 5)), "status",
                                          db_col_text(st, 6)));
    }
    sqlite3_finalize(st);
    return out;
}

static void groups_list(struct api_ctx *c)
{
    api_reply_list(c, api_group_json, "SELECT id FROM groups ORDER BY name", "");
}

static void group_show(struct api_ctx *c)
{
    int64_t id = api_group(c, c->p[0]);
    if (id >= 0) api_reply(c, 200, api_group_json(c->k, id));
}

static void group_create(struct api_ctx *c)
{
    int64_t id = prov_group_create(c->k, body_str(c->body, "name", ""),
                                   json_object_get(c->body, "tags"), &c->err);
    if (id < 0) return;
    api_reply_at(c, 201, api_group_json, id);
}

/* PUT: create or update (Azure's createOrUpdate, what az group create
 * sends): 201 when made, 200 with the group as it is (its tags replaced
 * when given) when it exists. */
static void group_put(struct api_ctx *c)
{
    const char *name = body_str(c->body, "name", c->p[0]);
    if (strcasecmp(name, c->p[0]) != 0) {
        kerr_invalid(&c->err, "name", "name: '%.64s' is not the group of the path ('%.64s')", name,
                     c->p[0]);
        return;
    }
    const json_t *tags = json_object_get(c->body, "tags");
    int64_t id = db_int(c->k->db, NULL, -1, "SELECT id FROM groups WHERE name = ?", "t", c->p[0]);
    if (id < 0) {
        id = prov_group_create(c->k, c->p[0], tags, &c->err);
        if (id >= 0) api_reply_at(c, 201, api_group_json, id);
        return;
    }
    if (prov_group_deleting(c->k, id)) {
        kerr_conflict(&c->err, "InvalidState",
                      "resource group '%.64s' is being deleted: create it again once it is gone",
                      c->p[0]);
        return;
    }
    /* a name that differs only in case is most likely a mistake: refused */
    char stored[80] = "";
    prov_group_name(c->k, id, stored, sizeof(stored));
    if (strcmp(stored, c->p[0]) != 0) {
        kerr_conflict(&c->err, "AlreadyExists",
                      "resource group '%s' already exists (names are case-insensitive)", stored);
        return;
    }
    if (tags && prov_group_set_tags(c->k, id, tags, &c->err) < 0) return;
    api_reply(c, 200, api_group_json(c->k, id));
}

static void group_update(struct api_ctx *c)
{
    int64_t id = api_group(c, c->p[0]);
    if (id < 0 || prov_group_set_tags(c->k, id, json_object_get(c->body, "tags"), &c->err) < 0)
        return;
    api_reply(c, 200, api_group_json(c->k, id));
}

static bool group_gone(struct api_ctx *c, int64_t id)
{
    return db_int(c->k->db, NULL, 0, "SELECT count(*) FROM groups WHERE id = ?", "i", id) == 0;
}

/* Everything in it goes, in dependency order (provision.h): 204 when it
 * is gone (at once when empty, or within ?wait), else 202 with the group
 * (provisioningState Deleting, deletion.status: what it waits for). */
static void group_delete(struct api_ctx *c)
{
    int wait = api_wait_arg(c);
    int64_t id = wait < 0 ? -1 : api_group(c, c->p[0]);
    bool at_once;
    if (id < 0 || prov_group_delete(c->k, id, c->p[0], &at_once, &c->err) < 0) return;
    if (at_once || api_wait(c, wait, group_gone, id)) {
        api_reply(c, 204, NULL);
        return;
    }
    api_reply_at(c, 202, api_group_json, id);
}

/* ---- what a group holds ---- */

struct contents {
    struct kumod *k;
    json_t *arr;
};

static void add_resource(void *ctx, const char *table, int64_t id)
{
    static const struct {
        const char *table;
        api_render render;
    } renderers[] = {
        {"vmss", api_vmss_json}, {"vms", api_vm_json},         {"autoscale", api_autoscale_json},
        {"nics", api_nic_json},  {"public_ips", api_pip_json}, {"vnets", api_vnet_json},
        {"nsgs", api_nsg_json},  {"disks", api_disk_json},     {"snapshots", api_snapshot_json},
    };
    struct contents *cs = ctx;
    for (size_t i = 0; i < sizeof(renderers) / sizeof(renderers[0]); i++) {
        if (strcmp(renderers[i].table, table) != 0) continue;
        json_t *r = renderers[i].render(cs->k, id);
        if (!r) return;
        json_t *item = json_pack("{s:O,s:O,s:O,s:O,s:O}", "id", json_object_get(r, "id"), "name",
                                 json_object_get(r, "name"), "type", json_object_get(r, "type"),
                                 "resourceGroup", json_object_get(r, "resourceGroup"), "location",
                                 json_object_get(r, "location"));
        const json_t *prov = json_object_get(r, "provisioningState");
        json_object_set(item, "provisioningState", prov ? (json_t *)prov : json_null());
        const json_t *tags = json_object_get(r, "tags");
        if (json_is_object(tags)) json_object_set(item, "tags", (json_t *)tags);
        json_decref(r);
        if (item) json_array_append_new(cs->arr, item);
        return;
    }
}

static void group_resources(struct api_ctx *c)
{
    int64_t id = api_group(c, c->p[0]);
    if (id < 0) return;
    struct contents cs = {c->k, json_array()};
    prov_group_contents(c->k, id, add_resource, &cs);
    api_reply(c, 200, json_pack("{s:o}", "value", cs.arr));
}

const struct api_route api_routes_catalog[] = {
    {"GET", "/v1/health", health, -1},
    {"GET", "/v1/locations", locations_list, -1},
    {"GET", "/v1/locations/{}", location_show, -1},
    {"GET", "/v1/hosts", hosts_list, -1},
    {"GET", "/v1/hosts/{}", host_show, -1},
    {"PATCH", "/v1/hosts/{}", host_update, REQ_HOST_UPDATE},
    {"POST", "/v1/hosts/{}/drain", host_drain_on, -1},
    {"POST", "/v1/hosts/{}/resume", host_resume, -1},
    {"GET", "/v1/sizes", sizes_list, -1},
    {"POST", "/v1/sizes", size_create, REQ_SIZE_CREATE},
    {"GET", "/v1/sizes/{}", size_show, -1},
    {"PATCH", "/v1/sizes/{}", size_update, REQ_SIZE_UPDATE},
    {"DELETE", "/v1/sizes/{}", size_delete, -1},
    {"GET", "/v1/resourceGroups", groups_list, -1},
    {"POST", "/v1/resourceGroups", group_create, REQ_GROUP_CREATE},
    {"GET", "/v1/resourceGroups/{}", group_show, -1},
    {"PUT", "/v1/resourceGroups/{}", group_put, REQ_GROUP_PUT},
    {"PATCH", "/v1/resourceGroups/{}", group_update, REQ_GROUP_UPDATE},
    {"DELETE", "/v1/resourceGroups/{}", group_delete, -1},
    {"GET", "/v1/resourceGroups/{}/resources", group_resources, -1},
    {NULL, NULL, NULL, -1},
};
