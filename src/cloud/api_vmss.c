/*
 * api_vmss.c - the API's scale sets (docs/api.md "Scale sets"): create
 * (model, network, load balancer public IP), show, list, update of the
 * model (a rolling update), scale, instances, delete. What is wanted is
 * recorded by the provisioning layer (prov_vmss.c); the controller
 * (vmss.c) makes the instances.
 */
#include "cloud/api.h"

#include "cloud/body.h"
#include "cloud/db.h"
#include "cloud/lb.h"
#include "cloud/provision.h"
#include "cloud/requests.h"
#include "cloud/state.h"

#include <stdio.h>
#include <string.h>

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
        " (SELECT name FROM autoscale WHERE vmss_id = s.id), s.admin_username, s.ssh_keys,"
        " s.admin_pw_hash IS NOT NULL"
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
        if (out) {
            /* the instances' admin account (null: none); never the password */
            json_t *osp = json_null();
            if (!db_col_null(st, 24)) {
                json_t *keys = db_col_null(st, 25) ? NULL : json_loads(db_col_text(st, 25), 0, NULL);
                osp = json_pack("{s:s,s:o,s:b}", "adminUsername", db_col_text(st, 24),
                                "sshPublicKeys", json_is_array(keys) ? keys : json_array(),
                                "adminPasswordSet", sqlite3_column_int(st, 26));
            }
            json_object_set_new(json_object_get(out, "model"), "osProfile", osp);
        }
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

static void vmss_create(struct api_ctx *c)
{
    const json_t *b = c->body;
    int64_t g = api_group(c, c->p[0]);
    if (g < 0) return;
    const json_t *lbm = json_object_get(b, "loadBalancer");
    const json_t *probe = json_object_get(lbm, "probe");
    const json_t *osp = json_object_get(b, "osProfile");
    const char *keys[PROV_MAX_SSH_KEYS];
    struct prov_vmss_spec s = {
        .name = body_str(b, "name", ""),
        .size = body_str(b, "size", ""),
        .image = body_str(b, "image", NULL),
        .os_tier = body_str(json_object_get(b, "osDisk"), "tier", NULL),
        .vnet = body_str(b, "vnet", NULL),
        .subnet = body_str(b, "subnet", NULL),
        .nsg = body_str(b, "nsg", NULL),
        .user_data = body_str(b, "userData", NULL),
        .tags = json_object_get(b, "tags"),
        .capacity = body_int(b, "capacity", 2),
        .lb_port = json_is_object(lbm) ? body_int(lbm, "port", 0) : 0,
        .probe_protocol = body_str(probe, "protocol", NULL),
        .probe_path = body_str(probe, "path", NULL),
        .probe_interval = body_int(probe, "intervalSeconds", 5),
        .admin_username = body_str(osp, "adminUsername", NULL),
        .admin_password = body_str(osp, "adminPassword", NULL),
        .ssh_keys = keys,
    };
    size_t i;
    const json_t *v;
    json_array_foreach(json_object_get(osp, "sshPublicKeys"), i, v)
    {
        if (s.nkeys < PROV_MAX_SSH_KEYS) keys[s.nkeys++] = json_string_value(v);
    }
    int64_t id = prov_vmss_create(c->k, g, &s, &c->err);
    if (id >= 0) reply_set(c, 201, id);
}

static void vmss_list(struct api_ctx *c)
{
    api_list_in_group(c, "vmss", api_vmss_json);
}

static void vmss_show(struct api_ctx *c)
{
    int64_t id = vmss_lookup(c, NULL);
    if (id >= 0) reply_set(c, 200, id);
}

/* ---- update (rolling), scale ---- */

static void vmss_update(struct api_ctx *c)
{
    const json_t *b = c->body;
    int64_t g = api_group(c, c->p[0]);
    if (g < 0) return;
    int64_t id =
        prov_vmss_update(c->k, g, c->p[1], body_str(b, "size", NULL), body_str(b, "image", NULL),
                         body_has(b, "userData"), body_str(b, "userData", NULL),
                         body_has(b, "tags") ? json_object_get(b, "tags") : NULL, &c->err);
    if (id >= 0) reply_set(c, 200, id);
}

static void vmss_scale(struct api_ctx *c)
{
    int64_t g = api_group(c, c->p[0]);
    int64_t id =
        g < 0 ? -1 : prov_vmss_scale(c->k, g, c->p[1], body_int(c->body, "capacity", 0), &c->err);
    if (id >= 0) reply_set(c, 200, id);
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
    int wait = api_wait_arg(c);
    int64_t g = wait < 0 ? -1 : api_group(c, c->p[0]);
    int64_t id = g < 0 ? -1 : prov_vmss_delete(c->k, g, c->p[1], &c->err);
    if (id < 0) return;
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
