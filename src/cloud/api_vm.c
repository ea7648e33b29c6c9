/*
 * api_vm.c - the API's virtual machines (docs/api.md "Virtual machines"):
 * create, the power actions and resize, data disk attach and detach,
 * delete (the provisioning layer's, prov_vm.c: it records the operation
 * and vmops.c carries it out on a job thread; here ?wait waits for it),
 * open-port, run commands (runcmd.c carries them out), boot diagnostics
 * and state history.
 */
#include "cloud/api.h"

#include "cloud/body.h"
#include "cloud/credits.h"
#include "cloud/db.h"
#include "cloud/netplane.h"
#include "cloud/paths.h"
#include "cloud/provision.h"
#include "cloud/requests.h"
#include "cloud/runcmd.h"
#include "cloud/state.h"

#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- rendering ---- */

static json_t *vm_nics_json(struct kumod *k, int64_t vm)
{
    json_t *arr = json_array();
    sqlite3_stmt *st = db_stmt(k->db,
                               "SELECT n.id, n.public_ip_id, coalesce(n.owner_vm, 0) = n.vm_id,"
                               " coalesce(p.owner_vm, 0) = n.vm_id FROM nics n"
                               " LEFT JOIN public_ips p ON p.id = n.public_ip_id"
                               " WHERE n.vm_id = ? ORDER BY n.nic_index",
                               "i", vm);
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        json_t *n = api_nic_json(k, sqlite3_column_int64(st, 0));
        if (!n) continue;
        json_t *pip = db_col_null(st, 1) ? NULL : api_pip_json(k, sqlite3_column_int64(st, 1));
        /* each forwarded port: does an NSG drop what comes in to it? */
        json_t *ports = pip ? json_deep_copy(json_object_get(pip, "ports")) : NULL;
        size_t i;
        json_t *port;
        json_array_foreach(ports, i, port)
        {
            char by[256];
            bool udp = !strcmp(json_string_value(json_object_get(port, "protocol")) ?: "", "Udp");
            if (netplane_port_blocked(k, sqlite3_column_int64(st, 0), udp,
                                      json_integer_value(json_object_get(port, "port")), by,
                                      sizeof(by)))
                json_object_set_new(port, "blockedBy", json_string(by));
        }
        json_t *e =
            json_pack("{s:O,s:O,s:O,s:O,s:O,s:o}", "name", json_object_get(n, "name"), "vnet",
                      json_object_get(n, "vnet"), "subnet", json_object_get(n, "subnet"),
                      "privateIp", json_object_get(n, "privateIp"), "macAddress",
                      json_object_get(n, "macAddress"), "publicIp",
                      pip ? json_pack("{s:O,s:O,s:o}", "name", json_object_get(pip, "name"),
                                      "ipAddress", json_object_get(pip, "ipAddress"), "ports",
                                      ports ? ports : json_array())
                          : json_null());
        json_t *perr = pip ? json_object_get(pip, "portErrors") : NULL;
        if (perr) json_object_set(json_object_get(e, "publicIp"), "portErrors", perr);
        json_object_set_new(e, "deleteOption",
                            json_string(sqlite3_column_int(st, 2) ? "Delete" : "Detach"));
        if (pip)
            json_object_set_new(json_object_get(e, "publicIp"), "deleteOption",
                                json_string(sqlite3_column_int(st, 3) ? "Delete" : "Detach"));
        json_decref(pip);
        json_decref(n);
        json_array_append_new(arr, e);
    }
    sqlite3_finalize(st);
    return arr;
}

/* {"savedAt", "stateBytes"} of a hibernated VM, else null. */
static json_t *hibernation_json(struct kumod *k, int64_t id)
{
    sqlite3_stmt *st = db_stmt(k->db,
                               "SELECT hibernated_ms, coalesce(state_bytes, 0) FROM vms"
                               " WHERE id = ? AND hibernated_ms IS NOT NULL",
                               "i", id);
    json_t *h = json_null();
    if (st && sqlite3_step(st) == SQLITE_ROW)
        h = json_pack("{s:o,s:I}", "savedAt", api_time(sqlite3_column_int64(st, 0)),
                      "stateBytes", (json_int_t)sqlite3_column_int64(st, 1));
    sqlite3_finalize(st);
    return h;
}

/* osProfile from columns col.. (admin_username, ssh_keys, has a password)
 * and the VM's name: null when the VM has no admin account. */
static json_t *os_profile_json(sqlite3_stmt *st, int col)
{
    if (db_col_null(st, col)) return json_null();
    json_t *keys = db_col_null(st, col + 1) ? NULL : json_loads(db_col_text(st, col + 1), 0, NULL);
    char host[64];
    if (!netplane_hostname(db_col_text(st, 1), host)) host[0] = 0;
    return json_pack("{s:s,s:s,s:o,s:b}", "adminUsername", db_col_text(st, col), "computerName",
                     host, "sshPublicKeys", json_is_array(keys) ? keys : json_array(),
                     "adminPasswordSet", sqlite3_column_int(st, col + 2));
}

/* osProvisioning from columns col.. (os_prov, os_prov_events, the image's
 * provisioning): how the guest's provisioning went, as it reported it. */
static json_t *os_provisioning_json(sqlite3_stmt *st, int col)
{
    json_t *events =
        db_col_null(st, col + 1) ? NULL : json_loads(db_col_text(st, col + 1), 0, NULL);
    return json_pack("{s:s,s:o,s:o}", "image", db_col_text(st, col + 2), "state",
                     db_col_null(st, col) ? json_null() : json_string(db_col_text(st, col)),
                     "stages", json_is_array(events) ? events : json_array());
}

json_t *api_vm_json(struct kumod *k, int64_t id)
{
    sqlite3_stmt *st =
        db_stmt(k->db,
                "SELECT g.name, v.name, h.name, s.name, v.vcpus, v.mem_mib, i.name,"
                " v.prov_state, v.power_state, v.user_data IS NOT NULL, v.tags, v.pid,"
                " v.started_ms, v.last_exit, v.error_code, v.error_msg, v.created_ms,"
                " v.updated_ms, v.dedicated, v.host_cpus, v.cpu_credits, v.cpu_capped, s.burst,"
                " (SELECT name FROM vmss WHERE id = v.vmss_id), v.model_version,"
                " coalesce(v.host_id, 0),"
                " v.admin_username, v.ssh_keys, v.admin_pw_hash IS NOT NULL, v.os_prov,"
                " v.os_prov_events, i.provisioning"
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
        /* deleteOption (Azure's word): what a delete of the VM does with
         * the disk by default: Delete (disks.owner_vm: the OS disk and the
         * disks its create made, unless made with Detach) or Detach (a disk
         * attached later is kept) */
        sqlite3_stmt *ds = db_stmt(k->db,
                                   "SELECT name, tier, size_gib, os_disk, lun,"
                                   " coalesce(owner_vm, 0) = vm_id"
                                   " FROM disks WHERE vm_id = ? ORDER BY os_disk DESC, lun",
                                   "i", id);
        while (ds && sqlite3_step(ds) == SQLITE_ROW) {
            json_t *d =
                json_pack("{s:s,s:s,s:I,s:s}", "name", db_col_text(ds, 0), "tier",
                          db_col_text(ds, 1), "sizeGiB", (json_int_t)sqlite3_column_int64(ds, 2),
                          "deleteOption", sqlite3_column_int(ds, 5) ? "Delete" : "Detach");
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
        if (k->clustered && sqlite3_column_int64(st, 25) != k->host_id) {
            /* cluster mode: the console and its log are on the VM's host;
             * its kumod serves them (docs/cluster.md) */
            json_object_set_new(iv, "consoleSocket", json_null());
            json_object_set_new(iv, "bootDiagnosticsLog", json_null());
        }
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
        json_object_set_new(out, "hostCpus",
                            db_col_null(st, 19) ? json_null() : json_string(db_col_text(st, 19)));
        struct credit_policy p;
        if (!db_col_null(st, 20) &&
            credits_policy_parse(db_col_null(st, 22) ? NULL : db_col_text(st, 22), &p))
            json_object_set_new(out, "cpuCredits",
                                json_pack("{s:f,s:f,s:f,s:f,s:b}", "credits",
                                          floor(sqlite3_column_double(st, 20) * 1000 + 0.5) / 1000,
                                          "baselinePercent", p.baseline_pct, "creditsPerHour",
                                          p.per_hour, "maxCredits", p.max, "heldToBaseline",
                                          sqlite3_column_int(st, 21)));
        else
            json_object_set_new(out, "cpuCredits", json_null());
        char guid[40];
        if (out)
            json_object_set_new(
                out, "vmId", json_string(netplane_vm_guid(id, sqlite3_column_int64(st, 16), guid)));
        if (out) json_object_set_new(out, "osProfile", os_profile_json(st, 26));
        if (out) json_object_set_new(out, "osProvisioning", os_provisioning_json(st, 29));
        if (out) json_object_set_new(out, "hibernation", hibernation_json(k, id));
        if (out && !db_col_null(st, 23))
            json_object_set_new(out, "scaleSet",
                                json_pack("{s:s,s:I}", "name", db_col_text(st, 23), "modelVersion",
                                          (json_int_t)sqlite3_column_int64(st, 24)));
    }
    sqlite3_finalize(st);
    return out;
}

/* ---- lookups and answers ---- */

/* The VM of the path (group c->p[0], name c->p[1]); -1 with c->err. */
static int64_t vm_lookup(struct api_ctx *c)
{
    int64_t g = api_group(c, c->p[0]);
    if (g < 0) return -1;
    return api_find(c, "vms", g, c->p[1], "virtual machine", NULL);
}

/* No operation runs, and the guest's provisioning is not awaited (a create
 * is done when its guest reported, as on Azure). */
static bool vm_done(struct api_ctx *c, int64_t id)
{
    bool ok;
    int64_t n = db_int(c->k->db, &ok, 0,
                       "SELECT count(*) FROM vms WHERE id = ? AND (op IS NOT NULL OR"
                       " prov_state = 'Creating')",
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
    api_reply_at(c, done && wait ? done_status : 202, api_vm_json, id);
}

/* After an operation on VM id (-1: failed, c->err set): the answer. begun:
 * an operation was recorded (wait for it); else the VM is as asked. */
static void op_reply(struct api_ctx *c, int64_t id, bool begun, int wait)
{
    if (id < 0) return;
    if (begun)
        action_reply(c, id, wait, 200);
    else
        api_reply(c, 200, api_vm_json(c->k, id));
}

/* A data disk of a create or attach body. */
static struct prov_data_disk data_disk(const json_t *d)
{
    return (struct prov_data_disk){
        .disk = body_str(d, "disk", NULL),
        .name = body_str(d, "name", NULL),
        .tier = body_str(d, "tier", NULL),
        .size_gib = body_int(d, "sizeGiB", 1),
        .lun = body_int(d, "lun", -1),
        .detach = !strcasecmp(body_str(d, "deleteOption", "Delete"), "Detach"),
        .caching = body_str(d, "caching", NULL),
    };
}

/* ---- create ---- */

#define MAX_DATA_DISKS 6 /* requests.c's bounds */
#define MAX_NICS       4

static void vm_create(struct api_ctx *c)
{
    const json_t *b = c->body;
    int wait = api_wait_arg(c);
    if (wait < 0) return;
    int64_t g = api_group(c, c->p[0]);
    if (g < 0) return;
    const json_t *osd = json_object_get(b, "osDisk");
    struct prov_data_disk disks[MAX_DATA_DISKS];
    const char *nics[MAX_NICS];
    const char *keys[PROV_MAX_SSH_KEYS];
    struct prov_vm_spec s = {
        .name = body_str(b, "name", ""),
        .size = body_str(b, "size", ""),
        .image = body_str(b, "image", NULL),
        .os_tier = body_str(osd, "tier", NULL),
        .os_size_gib = body_int(osd, "sizeGiB", 0),
        .os_disk_detach = !strcasecmp(body_str(osd, "deleteOption", "Delete"), "Detach"),
        .os_caching = body_str(osd, "caching", NULL),
        .data_disks = disks,
        .nics_given = body_has(b, "networkInterfaces"),
        .nics = nics,
        .vnet = body_str(b, "vnet", NULL),
        .subnet = body_str(b, "subnet", NULL),
        .private_ip = body_str(b, "privateIp", NULL),
        .user_data = body_str(b, "userData", NULL),
        .tags = json_object_get(b, "tags"),
        .dedicated = json_is_true(json_object_get(b, "dedicated")),
        .host = body_str(b, "host", NULL),
        .admin_username = body_str(json_object_get(b, "osProfile"), "adminUsername", NULL),
        .admin_password = body_str(json_object_get(b, "osProfile"), "adminPassword", NULL),
        .ssh_keys = keys,
    };
    size_t i;
    const json_t *v;
    json_array_foreach(json_object_get(json_object_get(b, "osProfile"), "sshPublicKeys"), i, v)
    {
        if (s.nkeys < PROV_MAX_SSH_KEYS) keys[s.nkeys++] = json_string_value(v);
    }
    json_array_foreach(json_object_get(b, "dataDisks"), i, v)
    {
        if (s.ndata < MAX_DATA_DISKS) disks[s.ndata++] = data_disk(v);
    }
    json_array_foreach(json_object_get(b, "networkInterfaces"), i, v)
    {
        if (s.nnics < MAX_NICS) nics[s.nnics++] = json_string_value(v);
    }
    /* "nsg": absent (VM-nsg), a name, or null (none); "publicIp": true or
     * a name (made or found), else none */
    const json_t *nv = json_object_get(b, "nsg"), *pv = json_object_get(b, "publicIp");
    s.nsg = json_string_value(nv);
    s.no_nsg = nv && !json_is_string(nv);
    s.public_ip = json_is_true(pv) || json_is_string(pv);
    s.public_ip_name = json_string_value(pv);
    struct prov_tx t;
    if (prov_begin(&t, c->k, &c->err) < 0) return;
    int64_t vm = prov_vm_insert(&t, g, &s);
    if (vm < 0 || prov_commit(&t) < 0) {
        prov_abort(&t);
        return;
    }
    action_reply(c, vm, wait, 201);
}

/* ---- show, list, update ---- */

static void vms_list(struct api_ctx *c)
{
    api_list_in_group(c, "vms", api_vm_json);
}

static void vm_show(struct api_ctx *c)
{
    int64_t id = vm_lookup(c);
    if (id >= 0) api_reply(c, 200, api_vm_json(c->k, id));
}

static void vm_update(struct api_ctx *c)
{
    int64_t g = api_group(c, c->p[0]);
    int64_t id =
        g < 0 ? -1 : prov_vm_set_tags(c->k, g, c->p[1], json_object_get(c->body, "tags"), &c->err);
    if (id >= 0) api_reply(c, 200, api_vm_json(c->k, id));
}

/* ---- power actions ---- */

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
    int wait = api_wait_arg(c);
    int64_t g = wait < 0 ? -1 : api_group(c, c->p[0]);
    if (g < 0) return;
    bool begun;
    int64_t id = prov_vm_start(c->k, g, c->p[1], &begun, &c->err);
    op_reply(c, id, begun, wait);
}

static void vm_stop(struct api_ctx *c)
{
    int wait = api_wait_arg(c);
    int skip = wait < 0 ? -1 : skip_shutdown_arg(c);
    int64_t g = skip < 0 ? -1 : api_group(c, c->p[0]);
    if (g < 0) return;
    bool begun;
    int64_t id = prov_vm_stop(c->k, g, c->p[1], skip, &begun, &c->err);
    op_reply(c, id, begun, wait);
}

static void vm_deallocate(struct api_ctx *c)
{
    int wait = api_wait_arg(c);
    int skip = wait < 0 ? -1 : skip_shutdown_arg(c);
    int hibernate = 0;
    const char *q = http_query(c->rq, "hibernate");
    if (q && !strcmp(q, "true"))
        hibernate = 1;
    else if (q && strcmp(q, "false"))
        hibernate = kerr_set(&c->err, 400, "InvalidQuery", "query.hibernate",
                             "query.hibernate: '%.20s' is not true or false", q);
    int64_t g = skip < 0 || hibernate < 0 ? -1 : api_group(c, c->p[0]);
    if (g < 0) return;
    bool begun;
    int64_t id = hibernate ? prov_vm_hibernate(c->k, g, c->p[1], &begun, &c->err)
                           : prov_vm_deallocate(c->k, g, c->p[1], skip, &begun, &c->err);
    op_reply(c, id, begun, wait);
}

static void vm_restart(struct api_ctx *c)
{
    int wait = api_wait_arg(c);
    int64_t g = wait < 0 ? -1 : api_group(c, c->p[0]);
    if (g < 0) return;
    op_reply(c, prov_vm_restart(c->k, g, c->p[1], &c->err), true, wait);
}

static void vm_migrate(struct api_ctx *c)
{
    int wait = api_wait_arg(c);
    int64_t g = wait < 0 ? -1 : api_group(c, c->p[0]);
    if (g < 0) return;
    op_reply(c, prov_vm_migrate(c->k, g, c->p[1], &c->err), true, wait);
}

static void vm_resize(struct api_ctx *c)
{
    int wait = api_wait_arg(c);
    int64_t g = wait < 0 ? -1 : api_group(c, c->p[0]);
    if (g < 0) return;
    bool begun;
    int64_t id = prov_vm_resize(c->k, g, c->p[1], body_str(c->body, "size", ""),
                                json_is_true(json_object_get(c->body, "restart")), &begun, &c->err);
    op_reply(c, id, begun, wait);
}

static void vm_delete(struct api_ctx *c)
{
    int wait = api_wait_arg(c);
    bool keep, all;
    if (wait < 0 || !api_query_bool(c, "keepDisks", false, &keep) ||
        !api_query_bool(c, "deleteDataDisks", false, &all))
        return;
    if (keep && all) {
        kerr_set(&c->err, 400, "InvalidQuery", "query.deleteDataDisks",
                 "query.deleteDataDisks: keepDisks=true keeps every disk; give one of them");
        return;
    }
    int64_t g = api_group(c, c->p[0]);
    if (g < 0) return;
    op_reply(c,
             prov_vm_delete(c->k, g, c->p[1],
                            keep  ? PROV_DISKS_KEEP
                            : all ? PROV_DISKS_ALL
                                  : PROV_DISKS_OWNED,
                            &c->err),
             true, wait);
}

/* ---- open port ---- */

static void open_port(struct api_ctx *c)
{
    int64_t g = api_group(c, c->p[0]);
    if (g < 0) return;
    struct prov_opened o;
    int64_t port = body_int(c->body, "port", 0);
    const char *proto = body_str(c->body, "protocol", "Tcp");
    int64_t id = prov_vm_open_port(c->k, g, c->p[1], proto, port,
                                   (int)body_int(c->body, "priority", 0), &o, &c->err);
    if (id < 0) return;
    json_t *vm = api_vm_json(c->k, id);
    if (vm)
        json_object_set_new(vm, "openedPort",
                            json_pack("{s:s,s:I,s:s?,s:s,s:o,s:s,s:b,s:I,s:b}", "protocol",
                                      canon_pip_protocol(proto), "port", (json_int_t)port, "rule",
                                      o.priority ? o.rule : NULL, "nsgs", o.nsgs, "priority",
                                      o.priority ? json_integer(o.priority) : json_null(),
                                      "publicIp", o.pip, "publicIpCreated", o.pip_created,
                                      "hostPort", (json_int_t)o.host_port, "live",
                                      netplane_has_switch(c->k)));
    api_reply(c, 200, vm);
}

/* ---- run commands ---- */

static json_t *run_json(struct kumod *k, int64_t id)
{
    sqlite3_stmt *st =
        db_stmt(k->db,
                "SELECT g.name, v.name, r.state, r.exit_code, r.stdout, r.stderr, r.stdout_bytes,"
                " r.stderr_bytes, r.error, r.timeout_s, r.created_ms, coalesce(r.started_ms, -1),"
                " coalesce(r.ended_ms, -1) FROM run_commands r JOIN vms v ON v.id = r.vm_id"
                " JOIN groups g ON g.id = v.group_id WHERE r.id = ?",
                "i", id);
    json_t *out = NULL;
    if (st && sqlite3_step(st) == SQLITE_ROW) {
        char rid[256], name[24];
        snprintf(name, sizeof(name), "%" PRId64, id);
        snprintf(rid, sizeof(rid), "/resourceGroups/%s/virtualMachines/%s/runCommands/%s",
                 db_col_text(st, 0), db_col_text(st, 1), name);
        const char *state = db_col_text(st, 2);
        bool running = !strcmp(state, "Pending") || !strcmp(state, "Running");
        bool ok = !strcmp(state, "Succeeded");
        json_t *err =
            db_col_null(st, 8)
                ? json_null()
                : json_pack("{s:s,s:s}", "code",
                            !strcmp(state, "TimedOut") ? "RunCommandTimedOut" : "RunCommandFailed",
                            "message", db_col_text(st, 8));
        int64_t ob = sqlite3_column_int64(st, 6), eb = sqlite3_column_int64(st, 7);
        out =
            json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:o,s:I,s:I,s:b,s:I,s:o,s:o,s:o,s:o}",
                      "id", rid, "name", name, "type", "runCommand", "resourceGroup",
                      db_col_text(st, 0), "virtualMachine", db_col_text(st, 1), "provisioningState",
                      running ? PV_UPDATING
                      : ok    ? PV_SUCCEEDED
                              : PV_FAILED,
                      "status", state, "exitCode",
                      db_col_null(st, 3) ? json_null() : json_integer(sqlite3_column_int64(st, 3)),
                      "stdout", db_col_null(st, 4) ? json_null() : json_string(db_col_text(st, 4)),
                      "stderr", db_col_null(st, 5) ? json_null() : json_string(db_col_text(st, 5)),
                      "stdoutBytes", (json_int_t)ob, "stderrBytes", (json_int_t)eb, "truncated",
                      ob > RUNCMD_TAIL || eb > RUNCMD_TAIL, "timeoutSeconds",
                      (json_int_t)sqlite3_column_int64(st, 9), "error", err, "createdAt",
                      api_time(sqlite3_column_int64(st, 10)), "startedAt",
                      api_time(sqlite3_column_int64(st, 11)), "endedAt",
                      api_time(sqlite3_column_int64(st, 12)));
    }
    sqlite3_finalize(st);
    return out;
}

static bool run_done(struct api_ctx *c, int64_t id)
{
    return db_int(c->k->db, NULL, 0,
                  "SELECT count(*) FROM run_commands WHERE id = ? AND state IN"
                  " ('Pending', 'Running')",
                  "i", id) == 0;
}

/* POST runCommand {"script", "timeoutSeconds"}: 202 with the run (200
 * when it ended within ?wait=S). */
static void run_command(struct api_ctx *c)
{
    int wait = api_wait_arg(c);
    int64_t g = wait < 0 ? -1 : api_group(c, c->p[0]);
    if (g < 0) return;
    int64_t id = prov_vm_run_command(c->k, g, c->p[1], body_str(c->body, "script", ""),
                                     body_int(c->body, "timeoutSeconds", 90), &c->err);
    if (id < 0) return;
    bool done = api_wait(c, wait, run_done, id);
    api_reply_at(c, done && wait ? 200 : 202, run_json, id);
}

static void run_commands_list(struct api_ctx *c)
{
    int64_t vm = vm_lookup(c);
    if (vm >= 0)
        api_reply_list(c, run_json, "SELECT id FROM run_commands WHERE vm_id = ? ORDER BY id", "i",
                       vm);
}

static void run_command_show(struct api_ctx *c)
{
    int64_t vm = vm_lookup(c);
    if (vm < 0) return;
    char *end;
    long long id = strtoll(c->p[2], &end, 10);
    if (*end || !*c->p[2] ||
        db_int(c->k->db, NULL, 0, "SELECT count(*) FROM run_commands WHERE id = ? AND vm_id = ?",
               "ii", (int64_t)id, vm) == 0) {
        kerr_notfound(&c->err, "run command '%.20s' not found for virtual machine '%.64s'", c->p[2],
                      c->p[1]);
        return;
    }
    api_reply(c, 200, run_json(c->k, id));
}

/* ---- data disks ---- */

static void disk_attach(struct api_ctx *c)
{
    int64_t g = api_group(c, c->p[0]);
    if (g < 0) return;
    struct prov_data_disk d = data_disk(c->body);
    int64_t id = prov_vm_attach_disk(c->k, g, c->p[1], &d, &c->err);
    if (id >= 0) api_reply(c, 200, api_vm_json(c->k, id));
}

static void disk_detach(struct api_ctx *c)
{
    int64_t g = api_group(c, c->p[0]);
    int64_t id = g < 0 ? -1 : prov_vm_detach_disk(c->k, g, c->p[1], c->p[2], &c->err);
    if (id >= 0) api_reply(c, 200, api_vm_json(c->k, id));
}

/* ---- diagnostics ---- */

#define DIAG_MAX (16u << 20)

static void boot_diagnostics(struct api_ctx *c)
{
    int64_t id = vm_lookup(c);
    if (id < 0) return;
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
    int fd = open(path_vm_file(c->k, path, id, "console.log"), O_RDONLY | O_CLOEXEC);
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
    int64_t id = vm_lookup(c);
    if (id < 0) return;
    sqlite3_stmt *st = db_stmt(c->k->db,
                               "SELECT at_ms, power_state, prov_state, size, message FROM vm_events"
                               " WHERE vm_id = ? ORDER BY id",
                               "i", id);
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
    {"POST", VM "/{}/migrate", vm_migrate, -1},
    {"POST", VM "/{}/resize", vm_resize, REQ_VM_RESIZE},
    {"POST", VM "/{}/dataDisks", disk_attach, REQ_VM_ATTACH},
    {"POST", VM "/{}/openPort", open_port, REQ_VM_OPEN_PORT},
    {"POST", VM "/{}/runCommand", run_command, REQ_VM_RUN_COMMAND},
    {"GET", VM "/{}/runCommands", run_commands_list, -1},
    {"GET", VM "/{}/runCommands/{}", run_command_show, -1},
    {"DELETE", VM "/{}/dataDisks/{}", disk_detach, -1},
    {"GET", VM "/{}/bootDiagnostics", boot_diagnostics, -1},
    {"GET", VM "/{}/history", history, -1},
    {NULL, NULL, NULL, -1},
};
