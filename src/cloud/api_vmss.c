/*
 * api_vmss.c - the API's scale sets (docs/api.md "Scale sets"): create
 * (model, network, load balancer public IP), show, list, update of the
 * model (a rolling update), scale, instances, delete. The handlers only
 * record what is wanted; the controller (vmss.c) makes the instances.
 */
#include "cloud/api.h"

#include "cloud/body.h"
#include "cloud/db.h"
#include "cloud/lb.h"
#include "cloud/requests.h"
#include "cloud/state.h"
#include "cloud/timefmt.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- rendering ---- */

json_t *api_vmss_json(struct kumod *k, int64_t id)
{
    sqlite3_stmt *st = db_stmt(
        k->db,
        "SELECT g.name, s.name, z.name, i.name, s.os_tier, s.vnet, s.subnet, n.name,"
        " s.user_data IS NOT NULL, s.capacity, s.model_version, s.lb_port, s.lb_pip_id,"
        " s.probe_protocol, s.probe_path, s.probe_interval, s.deleting, s.last_error, s.tags,"
        " s.created_ms, s.updated_ms, (SELECT name FROM public_ips WHERE id = s.lb_pip_id),"
        " (SELECT host_port FROM public_ip_ports WHERE public_ip_id = s.lb_pip_id LIMIT 1),"
        " (SELECT name FROM autoscale WHERE vmss_id = s.id)"
        " FROM vmss s JOIN groups g ON g.id = s.group_id JOIN sizes z ON z.id = s.size_id"
        " JOIN images i ON i.id = s.image_id LEFT JOIN nsgs n ON n.id = s.nsg_id WHERE s.id = ?",
        "i", id);
    if (!st) return NULL;
    json_t *out = NULL;
    if (sqlite3_step(st) == SQLITE_ROW) {
        int64_t version = sqlite3_column_int64(st, 10);
        int64_t cap = sqlite3_column_int64(st, 9);
        char rid[256];
        snprintf(rid, sizeof(rid), "/resourceGroups/%s/virtualMachineScaleSets/%s",
                 db_col_text(st, 0), db_col_text(st, 1));
        /* instance counts */
        int64_t total = 0, running = 0, latest = 0, busy = 0;
        sqlite3_stmt *is = db_stmt(k->db,
                                   "SELECT power_state, op, model_version FROM vms"
                                   " WHERE vmss_id = ?",
                                   "i", id);
        while (is && sqlite3_step(is) == SQLITE_ROW) {
            total++;
            if (!strcmp(db_col_text(is, 0), PS_RUNNING)) running++;
            if (!db_col_null(is, 1)) busy++;
            if (sqlite3_column_int64(is, 2) == version) latest++;
        }
        sqlite3_finalize(is);
        /* an instance create that keeps failing (no capacity...) fails the
         * set until it succeeds, so that waiting clients hear why */
        bool failing = !db_col_null(st, 17) && (total < cap || latest < total);
        const char *prov = sqlite3_column_int(st, 16)                  ? PV_DELETING
                           : failing                                   ? PV_FAILED
                           : (total != cap || busy || latest != total) ? PV_UPDATING
                                                                       : PV_SUCCEEDED;
        json_t *lb = json_null();
        if (!db_col_null(st, 11)) {
            lb = json_pack("{s:s?,s:s,s:o,s:I,s:{s:s,s:s,s:I}}", "publicIp", db_col_text(st, 21),
                           "ipAddress", k->cfg.public_address, "frontendPort",
                           db_col_null(st, 22) ? json_null()
                                               : json_integer(sqlite3_column_int64(st, 22)),
                           "backendPort", (json_int_t)sqlite3_column_int64(st, 11), "probe",
                           "protocol", db_col_text(st, 13), "path", db_col_text(st, 14),
                           "intervalSeconds", (json_int_t)sqlite3_column_int64(st, 15));
        }
        json_t *tags = json_loads(db_col_text(st, 18), 0, NULL);
        out = json_pack(
            "{s:s,s:s,s:s,s:s,s:s,s:I,s:{s:s,s:s,s:{s:s},s:s,s:s,s:o,s:b,s:I},s:o,s:{s:I,s:I,s:I},"
            "s:s,s:o,s:o,s:o,s:o,s:o}",
            "id", rid, "name", db_col_text(st, 1), "type", "virtualMachineScaleSet",
            "resourceGroup", db_col_text(st, 0), "location", "local", "capacity", (json_int_t)cap,
            "model", "size", db_col_text(st, 2), "image", db_col_text(st, 3), "osDisk", "tier",
            db_col_null(st, 4) ? "Standard_SSD" : db_col_text(st, 4), "vnet", db_col_text(st, 5),
            "subnet", db_col_text(st, 6), "nsg",
            db_col_null(st, 7) ? json_null() : json_string(db_col_text(st, 7)), "hasUserData",
            sqlite3_column_int(st, 8), "version", (json_int_t)version, "loadBalancer", lb,
            "instances", "total", (json_int_t)total, "running", (json_int_t)running, "latestModel",
            (json_int_t)latest, "provisioningState", prov, "autoscaleSetting",
            db_col_null(st, 23) ? json_null() : json_string(db_col_text(st, 23)), "lastError",
            db_col_null(st, 17) ? json_null() : json_string(db_col_text(st, 17)), "tags",
            tags ? tags : json_object(), "createdAt", api_time(sqlite3_column_int64(st, 19)),
            "updatedAt", api_time(sqlite3_column_int64(st, 20)));
        if (out)
            json_object_set_new(out, "error",
                                failing ? json_pack("{s:s,s:s}", "code", "InstanceCreateFailed",
                                                    "message", db_col_text(st, 17))
                                        : json_null());
    }
    sqlite3_finalize(st);
    return out;
}

/* ---- helpers ---- */

static int64_t vmss_lookup(struct api_ctx *c, int64_t *group)
{
    int64_t g = api_group(c, c->p[0]);
    if (g < 0) return -1;
    if (group) *group = g;
    return api_find(c, "vmss", g, c->p[1], "scale set", NULL);
}

static void reply_set(struct api_ctx *c, int status, int64_t id)
{
    json_t *out = api_vmss_json(c->k, id);
    if (!out) {
        api_reply(c, 204, NULL);
        return;
    }
    api_set_location(c, json_string_value(json_object_get(out, "id")));
    api_reply(c, status, out);
}

static int64_t size_id(struct api_ctx *c, const char *name)
{
    int64_t id = db_int(c->k->db, NULL, -1, "SELECT id FROM sizes WHERE name = ?", "t", name);
    if (id < 0)
        kerr_invalid(&c->err, "size", "size: unknown size '%s'; GET /v1/sizes lists the sizes",
                     name);
    return id;
}

static int64_t image_id(struct api_ctx *c, const char *name)
{
    int64_t id = db_int(c->k->db, NULL, -1, "SELECT id FROM images WHERE name = ?", "t", name);
    if (id < 0) {
        kerr_invalid(&c->err, "image", "image: unknown image '%s'; GET /v1/images lists the images",
                     name);
        return -1;
    }
    char st[32] = "";
    db_text(c->k->db, st, sizeof(st), "SELECT state FROM images WHERE id = ?", "i", id);
    if (strcmp(st, PV_SUCCEEDED) != 0) {
        kerr_invalid(&c->err, "image", "image: image '%s' is %s, not ready", name, st);
        return -1;
    }
    return id;
}

/* The set's network: its VNet and subnet (made like a VM create's implicit
 * VNet when missing), and its NSG (given, or NAME-nsg allowing SSH and the
 * load balancer's backend port). */
static int set_network(struct api_ctx *c, int64_t g, const char *name, const char *vnet,
                       const char *subnet, int64_t lb_port, int64_t *nsg)
{
    struct db *db = c->k->db;
    int64_t v =
        db_int(db, NULL, -1, "SELECT id FROM vnets WHERE group_id = ? AND name = ?", "it", g, vnet);
    if (v < 0) {
        json_t *spaces = json_pack("[s]", "10.0.0.0/16");
        json_t *subnets = json_pack("[{s:s,s:s}]", "name", subnet, "addressPrefix", "10.0.0.0/24");
        v = api_vnet_insert(c, g, vnet, spaces, subnets);
        json_decref(spaces);
        json_decref(subnets);
        if (v < 0) return -1;
    }
    if (db_int(db, NULL, -1, "SELECT id FROM subnets WHERE vnet_id = ? AND name = ?", "it", v,
               subnet) < 0)
        return kerr_invalid(&c->err, "subnet",
                            "subnet: subnet '%s' not found in virtual network '%s'", subnet, vnet);
    const char *given = body_str(c->body, "nsg", NULL);
    if (given) {
        *nsg = api_find(c, "nsgs", g, given, "network security group", "nsg");
        return *nsg < 0 ? -1 : 0;
    }
    char nsg_name[96];
    snprintf(nsg_name, sizeof(nsg_name), "%s-nsg", name);
    *nsg = db_int(db, NULL, -1, "SELECT id FROM nsgs WHERE group_id = ? AND name = ?", "it", g,
                  nsg_name);
    if (*nsg >= 0) return 0;
    json_t *rules = json_pack("[{s:s,s:i,s:s,s:s,s:s,s:s,s:s,s:s}]", "name", "AllowSSH", "priority",
                              1000, "direction", "Inbound", "access", "Allow", "protocol", "Tcp",
                              "sourceAddressPrefix", "*", "destinationPortRange", "22",
                              "description", "made by scale set create");
    if (lb_port > 0 && lb_port != 22) {
        char port[24];
        snprintf(port, sizeof(port), "%" PRId64, lb_port);
        json_array_append_new(
            rules, json_pack("{s:s,s:i,s:s,s:s,s:s,s:s,s:s,s:s}", "name", "AllowLoadBalancer",
                             "priority", 1010, "direction", "Inbound", "access", "Allow",
                             "protocol", "Tcp", "sourceAddressPrefix", "*", "destinationPortRange",
                             port, "description", "the scale set's load balancer backend port"));
    }
    *nsg = api_nsg_insert(c, g, nsg_name, rules, "nsg");
    json_decref(rules);
    return *nsg < 0 ? -1 : 0;
}

/* ---- create, list, show ---- */

static void vmss_create(struct api_ctx *c)
{
    struct db *db = c->k->db;
    const json_t *b = c->body;
    int64_t g = api_group(c, c->p[0]);
    if (g < 0) return;
    const char *name = body_str(b, "name", "");
    if (db_int(db, NULL, -1, "SELECT id FROM vmss WHERE group_id = ? AND name = ?", "it", g,
               name) >= 0) {
        kerr_conflict(&c->err, "AlreadyExists",
                      "scale set '%s' already exists in resource group '%s'", name, c->p[0]);
        return;
    }
    int64_t sid = size_id(c, body_str(b, "size", ""));
    if (sid < 0) return;
    int64_t iid = image_id(c, body_str(b, "image", "default"));
    if (iid < 0) return;
    const json_t *lbm = json_object_get(b, "loadBalancer");
    const json_t *probe = json_object_get(lbm, "probe");
    int64_t lb_port = json_is_object(lbm) ? body_int(lbm, "port", 0) : 0;
    char dflt_vnet[96];
    snprintf(dflt_vnet, sizeof(dflt_vnet), "%s-vnet", name);
    const char *vnet = body_str(b, "vnet", dflt_vnet), *subnet = body_str(b, "subnet", "default");
    const char *proto = body_str(probe, "protocol", "Tcp");
    if (db_begin(db) < 0) {
        kerr_internal(&c->err, "%s", db_errmsg(db));
        return;
    }
    int64_t nsg = 0, pip = 0, now = time_now_ms();
    if (set_network(c, g, name, vnet, subnet, lb_port, &nsg) < 0) goto fail;
    if (lb_port > 0) {
        char pip_name[96];
        snprintf(pip_name, sizeof(pip_name), "%s-lb", name);
        json_t *ports = json_pack("[{s:s,s:I}]", "protocol", "Tcp", "port", (json_int_t)lb_port);
        pip = api_pip_insert(c, g, pip_name, ports, 0);
        json_decref(ports);
        if (pip < 0) goto fail;
    }
    const json_t *tj = json_object_get(b, "tags");
    char *tags = tj ? json_dumps(tj, JSON_COMPACT) : NULL;
    int rc = db_exec(
        db,
        "INSERT INTO vmss (group_id, name, size_id, image_id, os_tier, vnet, subnet, nsg_id,"
        " user_data, capacity, lb_port, lb_pip_id, probe_protocol, probe_path, probe_interval,"
        " tags, created_ms, updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?, nullif(?, 0), ?, ?,"
        " nullif(?, 0), nullif(?, 0), ?, ?, ?, ?, ?, ?)",
        "itiitttitiiittiiii", g, name, sid, iid,
        body_str(json_object_get(b, "osDisk"), "tier", NULL), vnet, subnet, nsg,
        body_str(b, "userData", NULL), body_int(b, "capacity", 2), lb_port, pip,
        strcasecmp(proto, "Http") ? "Tcp" : "Http", body_str(probe, "path", "/"),
        body_int(probe, "intervalSeconds", 5), tags ? tags : "{}", now, now);
    free(tags);
    if (rc < 0 || db_commit(db) < 0) {
        kerr_internal(&c->err, "%s", db_errmsg(db));
        goto fail;
    }
    int64_t id = db_last_id(db);
    api_network_changed(c);
    kumod_changed(c->k);
    reply_set(c, 201, id);
    return;
fail:
    db_rollback(db);
}

static void vmss_list(struct api_ctx *c)
{
    int64_t g = api_group(c, c->p[0]);
    if (g < 0) return;
    sqlite3_stmt *st =
        db_stmt(c->k->db, "SELECT id FROM vmss WHERE group_id = ? ORDER BY name", "i", g);
    json_t *arr = json_array();
    while (st && sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(arr, api_vmss_json(c->k, sqlite3_column_int64(st, 0)));
    sqlite3_finalize(st);
    api_reply(c, 200, json_pack("{s:o}", "value", arr));
}

static void vmss_show(struct api_ctx *c)
{
    int64_t id = vmss_lookup(c, NULL);
    if (id >= 0) reply_set(c, 200, id);
}

static int not_deleting(struct api_ctx *c, int64_t id)
{
    if (db_int(c->k->db, NULL, 0, "SELECT deleting FROM vmss WHERE id = ?", "i", id))
        return kerr_conflict(&c->err, "InvalidState", "scale set '%s' is being deleted", c->p[1]);
    return 0;
}

/* ---- update (rolling), scale ---- */

static void vmss_update(struct api_ctx *c)
{
    struct db *db = c->k->db;
    const json_t *b = c->body;
    int64_t id = vmss_lookup(c, NULL);
    if (id < 0 || not_deleting(c, id) < 0) return;
    int64_t sid = -1, iid = -1;
    if (body_has(b, "size") && (sid = size_id(c, body_str(b, "size", ""))) < 0) return;
    if (body_has(b, "image") && (iid = image_id(c, body_str(b, "image", ""))) < 0) return;
    bool changed = false;
    if (db_begin(db) < 0) {
        kerr_internal(&c->err, "%s", db_errmsg(db));
        return;
    }
    int rc = 0;
    if (sid >= 0 && db_int(db, NULL, 0, "SELECT size_id FROM vmss WHERE id = ?", "i", id) != sid) {
        rc = db_exec(db, "UPDATE vmss SET size_id = ? WHERE id = ?", "ii", sid, id);
        changed = true;
    }
    if (rc == 0 && iid >= 0 &&
        db_int(db, NULL, 0, "SELECT image_id FROM vmss WHERE id = ?", "i", id) != iid) {
        rc = db_exec(db, "UPDATE vmss SET image_id = ? WHERE id = ?", "ii", iid, id);
        changed = true;
    }
    if (rc == 0 && body_has(b, "userData")) {
        rc = db_exec(db, "UPDATE vmss SET user_data = ? WHERE id = ?", "ti",
                     body_str(b, "userData", NULL), id);
        changed = true;
    }
    if (rc == 0 && body_has(b, "tags")) {
        char *tags = json_dumps(json_object_get(b, "tags"), JSON_COMPACT);
        rc = db_exec(db, "UPDATE vmss SET tags = ? WHERE id = ?", "ti", tags, id);
        free(tags);
    }
    if (rc == 0 && changed)
        rc = db_exec(db, "UPDATE vmss SET model_version = model_version + 1 WHERE id = ?", "i", id);
    if (rc == 0)
        rc = db_exec(db, "UPDATE vmss SET updated_ms = ? WHERE id = ?", "ii", time_now_ms(), id);
    if (rc == 0) rc = db_commit(db);
    if (rc < 0) {
        db_rollback(db);
        kerr_internal(&c->err, "%s", db_errmsg(db));
        return;
    }
    kumod_changed(c->k);
    reply_set(c, 200, id);
}

static void vmss_scale(struct api_ctx *c)
{
    struct db *db = c->k->db;
    int64_t id = vmss_lookup(c, NULL);
    if (id < 0 || not_deleting(c, id) < 0) return;
    if (db_begin(db) < 0 ||
        db_exec(db, "UPDATE vmss SET capacity = ?, updated_ms = ? WHERE id = ?", "iii",
                body_int(c->body, "capacity", 0), time_now_ms(), id) < 0 ||
        db_commit(db) < 0) {
        db_rollback(db);
        kerr_internal(&c->err, "%s", db_errmsg(db));
        return;
    }
    kumod_changed(c->k);
    reply_set(c, 200, id);
}

/* ---- instances, delete ---- */

static void vmss_instances(struct api_ctx *c)
{
    int64_t id = vmss_lookup(c, NULL);
    if (id < 0) return;
    int64_t version =
        db_int(c->k->db, NULL, 0, "SELECT model_version FROM vmss WHERE id = ?", "i", id);
    sqlite3_stmt *st = db_stmt(c->k->db,
                               "SELECT id, vmss_index, model_version FROM vms WHERE vmss_id = ?"
                               " ORDER BY vmss_index",
                               "i", id);
    json_t *arr = json_array();
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        int64_t vm = sqlite3_column_int64(st, 0);
        json_t *j = api_vm_json(c->k, vm);
        if (!j) continue;
        json_object_set_new(j, "instanceId", json_integer(sqlite3_column_int64(st, 1)));
        json_object_set_new(j, "latestModel", json_boolean(sqlite3_column_int64(st, 2) == version));
        json_object_set_new(j, "health",
                            json_string(lb_health_name(lb_backend_health(c->k->lb, vm))));
        json_object_set_new(j, "lbConnections",
                            json_integer((json_int_t)lb_backend_connections(c->k->lb, vm)));
        json_array_append_new(arr, j);
    }
    sqlite3_finalize(st);
    api_reply(c, 200, json_pack("{s:o}", "value", arr));
}

static bool set_gone(struct api_ctx *c, int64_t id)
{
    return db_int(c->k->db, NULL, 0, "SELECT count(*) FROM vmss WHERE id = ?", "i", id) == 0;
}

static void vmss_delete(struct api_ctx *c)
{
    struct db *db = c->k->db;
    int wait = api_wait_arg(c);
    if (wait < 0) return;
    int64_t id = vmss_lookup(c, NULL);
    if (id < 0) return;
    if (db_begin(db) < 0 ||
        db_exec(db, "UPDATE vmss SET deleting = 1, capacity = 0, updated_ms = ? WHERE id = ?", "ii",
                time_now_ms(), id) < 0 ||
        db_commit(db) < 0) {
        db_rollback(db);
        kerr_internal(&c->err, "%s", db_errmsg(db));
        return;
    }
    kumod_changed(c->k);
    if (api_wait(c, wait, set_gone, id)) {
        api_reply(c, 204, NULL);
        return;
    }
    reply_set(c, 202, id);
}

#define SS "/v1/resourceGroups/{}/virtualMachineScaleSets"
const struct api_route api_routes_vmss[] = {
    {"GET", SS, vmss_list, -1},
    {"POST", SS, vmss_create, REQ_VMSS_CREATE},
    {"GET", SS "/{}", vmss_show, -1},
    {"PATCH", SS "/{}", vmss_update, REQ_VMSS_UPDATE},
    {"DELETE", SS "/{}", vmss_delete, -1},
    {"POST", SS "/{}/scale", vmss_scale, REQ_VMSS_SCALE},
    {"GET", SS "/{}/instances", vmss_instances, -1},
    {NULL, NULL, NULL, -1},
};
