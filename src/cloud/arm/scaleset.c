/*
 * scaleset.c - ARM's Microsoft.Compute/virtualMachineScaleSets on kumod's
 * scale sets (the controller in vmss.c makes the instances):
 *
 *   PUT|PATCH .../virtualMachineScaleSets/N   create, or change: sku.capacity
 *                          scales (az vmss scale), sku.name and the image
 *                          start a rolling update
 *   GET, DELETE, the listings, .../virtualMachines (the instances)
 *
 * The model: sku.name (the size), sku.capacity, the image reference, the
 * OS disk's storage account type, the first NIC configuration's subnet
 * (kumo's set lives in one subnet of its group) and NSG, user data. A load
 * balancer named by the NIC configuration's backend pool gives the set its
 * balancer when it has a load-balancing rule (its backendPort, and its
 * probe); without one (az vmss create's balancer has only an SSH NAT
 * pool) the set has none. The rest of the body is kept and shown back.
 * Creating and scaling answer with an operation that ends when the
 * instances run.
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
#define VMSS_TYPE COMPUTE "/virtualMachineScaleSets"
#define SUB_TYPE  "Microsoft.Network/virtualNetworks/subnets"
#define NSG_TYPE  "Microsoft.Network/networkSecurityGroups"
#define LB_TYPE   "Microsoft.Network/loadBalancers"
#define POOL_TYPE LB_TYPE "/backendAddressPools"

json_t *arm_vm_json(struct arm_ctx *c, int64_t id, bool instance_view);

/* ---- rendering ---- */

static const char *set_state(struct kumod *k, int64_t id, bool deleting, int64_t capacity)
{
    if (deleting) return "Deleting";
    int64_t all = db_int(k->db, NULL, 0, "SELECT count(*) FROM vms WHERE vmss_id = ?", "i", id);
    int64_t ready = db_int(k->db, NULL, 0,
                           "SELECT count(*) FROM vms WHERE vmss_id = ? AND op IS NULL AND"
                           " prov_state = 'Succeeded'",
                           "i", id);
    return all == capacity && ready == capacity ? "Succeeded" : "Updating";
}

static json_t *vmss_json(struct arm_ctx *c, int64_t id)
{
    struct db *db = c->k->db;
    sqlite3_stmt *st = db_stmt(db,
                               "SELECT g.name, s.name, z.name, s.image_id, s.os_tier, s.capacity,"
                               " s.deleting, s.tags, s.created_ms, s.vnet, s.subnet, n.name,"
                               " s.admin_username, s.ssh_keys, s.admin_pw_hash IS NOT NULL"
                               " FROM vmss s JOIN groups g ON g.id = s.group_id"
                               " JOIN sizes z ON z.id = s.size_id LEFT JOIN nsgs n"
                               " ON n.id = s.nsg_id WHERE s.id = ?",
                               "i", id);
    json_t *out = NULL;
    if (!st || sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        return NULL;
    }
    const char *group = db_col_text(st, 0), *name = db_col_text(st, 1);
    char rid[ARM_ID_MAX], size[96], guid[37], x[ARM_ID_MAX];
    arm_rid(c, rid, sizeof(rid), group, VMSS_TYPE "/%s", name);
    arm_size_name(db_col_text(st, 2), size, sizeof(size));
    arm_row_guid(c, "vmss", id, guid);
    json_t *props = arm_props_load(db, "vmss", id);
    json_t *vmp = json_object_get(props, "virtualMachineProfile");
    vmp = json_is_object(vmp) ? json_deep_copy(vmp) : json_object();
    json_t *sp = json_object_get(vmp, "storageProfile");
    if (!json_is_object(sp)) json_object_set_new(vmp, "storageProfile", sp = json_object());
    /* what the model holds wins over what was given */
    json_t *ref = arm_image_ref_json(c, sqlite3_column_int64(st, 3), group);
    json_object_set_new(sp, "imageReference", ref);
    json_object_set_new(
        sp, "osDisk",
        json_pack("{s:s, s:s, s:s, s:{s:s}}", "osType", "Linux", "createOption", "FromImage",
                  "caching", "ReadWrite", "managedDisk", "storageAccountType",
                  arm_tier_name(db_col_null(st, 4) ? "Standard_SSD" : db_col_text(st, 4))));
    if (!json_object_get(vmp, "networkProfile")) {
        json_t *ipc = json_pack(
            "{s:s, s:{s:{s:s}}}", "name", "ipconfig1", "properties", "subnet", "id",
            arm_rid(c, x, sizeof(x), group, "Microsoft.Network/virtualNetworks/%s/subnets/%s",
                    db_col_text(st, 9), db_col_text(st, 10)));
        json_t *nic = json_pack("{s:s, s:{s:b, s:[o]}}", "name", "nic1", "properties", "primary", 1,
                                "ipConfigurations", ipc);
        if (!db_col_null(st, 11))
            json_object_set_new(
                json_object_get(nic, "properties"), "networkSecurityGroup",
                json_pack("{s:s}", "id",
                          arm_rid(c, x, sizeof(x), group, NSG_TYPE "/%s", db_col_text(st, 11))));
        json_object_set_new(vmp, "networkProfile",
                            json_pack("{s:[o]}", "networkInterfaceConfigurations", nic));
    }
    if (!json_object_get(vmp, "osProfile")) { /* a set made by kumo: its OS profile */
        json_t *pk = json_array();
        json_t *keys = db_col_null(st, 13) ? NULL : json_loads(db_col_text(st, 13), 0, NULL);
        size_t i;
        json_t *kd;
        char path[160];
        json_array_foreach(keys, i, kd)
        {
            snprintf(path, sizeof(path), "/home/%s/.ssh/authorized_keys", db_col_text(st, 12));
            json_array_append_new(pk, json_pack("{s:s, s:O}", "path", path, "keyData", kd));
        }
        json_decref(keys);
        json_object_set_new(vmp, "osProfile",
                            json_pack("{s:s, s:s, s:{s:b, s:{s:o}}}", "computerNamePrefix", name,
                                      "adminUsername", db_col_text(st, 12), "linuxConfiguration",
                                      "disablePasswordAuthentication",
                                      !sqlite3_column_int(st, 14), "ssh", "publicKeys", pk));
    }
    int64_t cap = sqlite3_column_int64(st, 5);
    json_t *up = json_object_get(props, "upgradePolicy");
    json_t *p = json_pack(
        "{s:b, s:o, s:o, s:s, s:b, s:b, s:s, s:s, s:o}", "singlePlacementGroup", 1, "upgradePolicy",
        json_is_object(up) ? json_incref(up) : json_pack("{s:s}", "mode", "Manual"),
        "virtualMachineProfile", vmp, "provisioningState",
        set_state(c->k, id, sqlite3_column_int(st, 6), cap), "overprovision", 0,
        "doNotRunExtensionsOnOverprovisionedVMs", 0, "uniqueId", guid, "orchestrationMode",
        "Uniform", "timeCreated", arm_time(sqlite3_column_int64(st, 8)));
    out = arm_resource(rid, name, VMSS_TYPE, arm_tags(db_col_text(st, 7)), p);
    json_object_set_new(out, "sku",
                        json_pack("{s:s, s:s, s:I}", "name", size, "tier", "Standard", "capacity",
                                  (json_int_t)cap));
    json_decref(props);
    sqlite3_finalize(st);
    return out;
}

static int64_t vmss_find(struct arm_ctx *c, int64_t g, const struct arm_id *id)
{
    return db_int(c->k->db, NULL, -1, "SELECT id FROM vmss WHERE group_id = ? AND name = ?", "it",
                  g, id->names[0]);
}

/* ---- the model ---- */

#define NICCFG "properties.virtualMachineProfile.networkProfile.networkInterfaceConfigurations"

/* The load balancer of a pool reference: its backend port and probe
 * from its first load-balancing rule; false + e when the reference is
 * wrong. port 0: no rule. */
static bool lb_of(struct arm_ctx *c, const json_t *ipc, json_t *kb, struct arm_err *e)
{
    const json_t *pools = arm_get(ipc, "properties.loadBalancerBackendAddressPools");
    if (json_array_size(pools) == 0) return true;
    json_t *wrap = json_pack("{s:O}", "pool", json_array_get(pools, 0));
    struct arm_id id;
    bool present;
    bool ok = arm_ref(c, wrap, "pool", POOL_TYPE, &id, &present, e);
    json_decref(wrap);
    if (!ok) return false;
    int64_t g = db_int(c->k->db, NULL, -1, "SELECT id FROM groups WHERE name = ?", "t", id.group);
    char text[65536] = "";
    if (g < 0 || !db_text(c->k->db, text, sizeof(text),
                          "SELECT body FROM arm_resources WHERE group_id = ? AND type = ? AND"
                          " name = ?",
                          "itt", g, LB_TYPE, id.names[0])) {
        arm_err_set(e, 400, "InvalidResourceReference", NICCFG,
                    "Load balancer '%s' (resource group '%s') referenced by the scale set was not "
                    "found.",
                    id.names[0], id.group);
        return false;
    }
    json_t *body = json_loads(text, 0, NULL);
    const json_t *rule = json_array_get(arm_get(body, "properties.loadBalancingRules"), 0);
    int64_t port = 0;
    if (rule && arm_geti(rule, "properties.backendPort", 0, &port) && port > 0) {
        json_t *lb = json_pack("{s:I}", "port", (json_int_t)port);
        /* the rule's probe, by id */
        const char *pid = arm_gets(rule, "properties.probe.id");
        const char *pname = pid ? strrchr(pid, '/') : NULL;
        size_t i;
        const json_t *pr;
        json_array_foreach(arm_get(body, "properties.probes"), i, pr)
        {
            if (!pname || strcasecmp(arm_gets(pr, "name") ?: "", pname + 1)) continue;
            const char *proto = arm_gets(pr, "properties.protocol");
            int64_t interval = 5;
            arm_geti(pr, "properties.intervalInSeconds", 5, &interval);
            json_t *probe = json_pack("{s:s, s:I}", "protocol",
                                      proto && !strcasecmp(proto, "Http") ? "Http" : "Tcp",
                                      "intervalSeconds", (json_int_t)interval);
            if (arm_gets(pr, "properties.requestPath"))
                json_object_set_new(probe, "path",
                                    json_string(arm_gets(pr, "properties.requestPath")));
            json_object_set_new(lb, "probe", probe);
        }
        json_object_set_new(kb, "loadBalancer", lb);
    }
    json_decref(body);
    return true;
}

/* The /v1 body of a scale set's ARM body; NULL + e. */
static json_t *vmss_body(struct arm_ctx *c, const char *name, const char *group, const json_t *res,
                         bool create, struct arm_err *e)
{
    json_t *kb = json_pack("{s:s}", "name", name);
    const char *size = arm_gets(res, "sku.name");
    int64_t cap;
    if (!arm_geti(res, "sku.capacity", create ? 1 : -1, &cap)) {
        arm_err_set(e, 400, "InvalidParameter", "sku.capacity", "sku.capacity: not an integer.");
        goto fail;
    }
    if (cap >= 0) json_object_set_new(kb, "capacity", json_integer(cap));
    if (size) json_object_set_new(kb, "size", json_string(arm_size_to_kumo(size)));
    if (create && !size) {
        arm_err_set(e, 400, "InvalidParameter", "sku.name", "sku.name: missing (the VM size).");
        goto fail;
    }
    const json_t *vmp = arm_get(res, "properties.virtualMachineProfile");
    const json_t *ref = arm_get(vmp, "storageProfile.imageReference");
    if (ref) {
        int64_t img = arm_image_resolve(
            c, ref, "properties.virtualMachineProfile.storageProfile.imageReference", e);
        if (img < 0) goto fail;
        char image[80] = "";
        db_text(c->k->db, image, sizeof(image), "SELECT name FROM images WHERE id = ?", "i", img);
        json_object_set_new(kb, "image", json_string(image));
    } else if (create) {
        arm_err_set(e, 400, "InvalidParameter",
                    "properties.virtualMachineProfile.storageProfile.imageReference",
                    "properties.virtualMachineProfile.storageProfile.imageReference: missing.");
        goto fail;
    }
    const char *ud = arm_gets(vmp, "userData");
    if (!ud) ud = arm_gets(vmp, "osProfile.customData");
    if (ud) json_object_set_new(kb, "userData", json_string(ud));
    /* the instances' admin account, as a VM's (a new model keeps the set's) */
    if (create) arm_os_profile_to_kumo(arm_get(vmp, "osProfile"), kb);
    const json_t *tags = arm_get(res, "tags");
    if (tags) json_object_set(kb, "tags", (json_t *)tags);
    if (!create) return kb;
    const char *sat = arm_gets(vmp, "storageProfile.osDisk.managedDisk.storageAccountType");
    if (sat) {
        if (!arm_tier_to_kumo(sat)) {
            arm_err_set(e, 400, "InvalidParameter",
                        "properties.virtualMachineProfile.storageProfile.osDisk",
                        "storageAccountType '%.40s' is not one kumo has.", sat);
            goto fail;
        }
        json_object_set_new(kb, "osDisk", json_pack("{s:s}", "tier", arm_tier_to_kumo(sat)));
    }
    const json_t *nics = arm_get(res, NICCFG);
    if (json_array_size(nics) > 1) {
        arm_err_set(e, 400, "InvalidParameter", NICCFG,
                    "%s: kumo's scale set instances have one network interface.", NICCFG);
        goto fail;
    }
    const json_t *nic = json_array_get(nics, 0);
    const json_t *ipc = json_array_get(arm_get(nic, "properties.ipConfigurations"), 0);
    struct arm_id id;
    bool present;
    if (!arm_ref(c, ipc, "properties.subnet", SUB_TYPE, &id, &present, e)) goto fail;
    if (present) {
        if (strcasecmp(id.group, group)) {
            arm_err_set(e, 400, "InvalidResourceReference", NICCFG,
                        "kumo's scale sets use a virtual network of their own resource group: "
                        "'%s' is in '%s'.",
                        id.names[0], id.group);
            goto fail;
        }
        json_object_set_new(kb, "vnet", json_string(id.names[0]));
        json_object_set_new(kb, "subnet", json_string(id.names[1]));
    }
    if (!arm_ref(c, nic, "properties.networkSecurityGroup", NSG_TYPE, &id, &present, e)) goto fail;
    if (present) {
        if (strcasecmp(id.group, group)) {
            arm_err_set(e, 400, "InvalidResourceReference", NICCFG,
                        "kumo's scale sets use an NSG of their own resource group: '%s' is in "
                        "'%s'.",
                        id.names[0], id.group);
            goto fail;
        }
        json_object_set_new(kb, "nsg", json_string(id.names[0]));
    }
    if (ipc && !lb_of(c, ipc, kb, e)) goto fail;
    return kb;
fail:
    json_decref(kb);
    return NULL;
}

static json_t *vmss_props(const json_t *res)
{
    json_t *out = json_object();
    const json_t *vmp = arm_get(res, "properties.virtualMachineProfile");
    if (json_is_object(vmp)) {
        json_t *v = json_deep_copy(vmp);
        json_t *osp = json_object_get(v, "osProfile");
        if (json_is_object(osp)) {
            json_object_del(osp, "adminPassword");
            json_object_del(osp, "customData");
        }
        json_object_del(v, "userData");
        json_object_set_new(out, "virtualMachineProfile", v);
    }
    const json_t *up = arm_get(res, "properties.upgradePolicy");
    if (json_is_object(up)) json_object_set(out, "upgradePolicy", (json_t *)up);
    return out;
}

static int64_t vmss_create(struct arm_apply *a)
{
    json_t *kb = vmss_body(a->c, a->id->names[0], a->group_name, a->res, true, a->err);
    if (!kb) return -1;
    int64_t id = -1;
    if (request_check(REQ_VMSS_CREATE, kb, a->t->e) < 0) goto out;
    const json_t *lb = json_object_get(kb, "loadBalancer");
    const json_t *probe = json_object_get(lb, "probe");
    const json_t *osp = json_object_get(kb, "osProfile");
    const char *keys[PROV_MAX_SSH_KEYS];
    struct prov_vmss_spec s = {
        .name = a->id->names[0],
        .size = json_string_value(json_object_get(kb, "size")),
        .image = json_string_value(json_object_get(kb, "image")),
        .os_tier = json_string_value(json_object_get(json_object_get(kb, "osDisk"), "tier")),
        .vnet = json_string_value(json_object_get(kb, "vnet")),
        .subnet = json_string_value(json_object_get(kb, "subnet")),
        .nsg = json_string_value(json_object_get(kb, "nsg")),
        .user_data = json_string_value(json_object_get(kb, "userData")),
        .tags = json_object_get(kb, "tags"),
        .capacity = json_integer_value(json_object_get(kb, "capacity")),
        .lb_port = json_integer_value(json_object_get(lb, "port")),
        .probe_protocol = json_string_value(json_object_get(probe, "protocol")),
        .probe_path = json_string_value(json_object_get(probe, "path")),
        .probe_interval = json_object_get(probe, "intervalSeconds")
                              ? json_integer_value(json_object_get(probe, "intervalSeconds"))
                              : 5,
        .admin_username = json_string_value(json_object_get(osp, "adminUsername")),
        .admin_password = json_string_value(json_object_get(osp, "adminPassword")),
        .ssh_keys = keys,
    };
    size_t i;
    const json_t *v;
    json_array_foreach(json_object_get(osp, "sshPublicKeys"), i, v)
    {
        if (s.nkeys < PROV_MAX_SSH_KEYS) keys[s.nkeys++] = json_string_value(v);
    }
    id = prov_vmss_insert(a->t, a->group, &s);
    if (id >= 0) {
        json_t *props = vmss_props(a->res);
        if (arm_props_store(a->t->k->db, "vmss", id, props) < 0)
            id = prov_db_error(a->t, "scale set create");
        json_decref(props);
    }
out:
    json_decref(kb);
    if (id < 0 && !a->err->status) arm_apply_fail(a);
    return id;
}

/* PUT or PATCH of an existing set: capacity, size, image, user data,
 * tags. */
static void vmss_update(struct arm_ctx *c, int64_t g, int64_t row)
{
    struct arm_id id;
    arm_path_id(c, &id);
    const char *name = id.names[0];
    json_t *kb = vmss_body(c, name, id.group, c->body, false, &c->err);
    if (!kb) return;
    struct kerr ke = {0};
    json_t *upd = json_deep_copy(kb);
    json_object_del(upd, "name");
    json_object_del(upd, "capacity");
    const json_t *cap = json_object_get(kb, "capacity");
    json_t *scale = cap ? json_pack("{s:O}", "capacity", cap) : NULL;
    const char *size = json_string_value(json_object_get(kb, "size"));
    const char *image = json_string_value(json_object_get(kb, "image"));
    const char *ud = json_string_value(json_object_get(kb, "userData"));
    int rc = request_check(REQ_VMSS_UPDATE, upd, &ke);
    if (rc == 0 && scale) rc = request_check(REQ_VMSS_SCALE, scale, &ke);
    if (rc == 0 && (size || image || ud || json_object_get(kb, "tags")))
        rc = prov_vmss_update(c->k, g, name, size, image, ud != NULL, ud,
                              json_object_get(kb, "tags"), &ke) < 0
                 ? -1
                 : 0;
    if (rc == 0 && cap &&
        json_integer_value(cap) !=
            db_int(c->k->db, NULL, -1, "SELECT capacity FROM vmss WHERE id = ?", "i", row))
        rc = prov_vmss_scale(c->k, g, name, json_integer_value(cap), &ke) < 0 ? -1 : 0;
    json_decref(upd);
    json_decref(scale);
    json_decref(kb);
    if (rc < 0) {
        arm_fail(c, &ke);
        return;
    }
    arm_reply_op(c, 200, "vmss", COMPUTE, row, vmss_json(c, row));
}

const struct arm_kind arm_kind_vmss = {VMSS_TYPE, "vmss", vmss_create, vmss_find,
                                       vmss_json, "vmss", 201,         NULL};

static void vmss_put(struct arm_ctx *c)
{
    arm_put(c, &arm_kind_vmss, vmss_update);
}

static void vmss_patch(struct arm_ctx *c)
{
    struct arm_id id;
    arm_path_id(c, &id);
    int64_t g = arm_group(c, id.group);
    if (g < 0) return;
    int64_t row = vmss_find(c, g, &id);
    if (row < 0) {
        arm_not_found(c, VMSS_TYPE, id.names[0]);
        return;
    }
    if (!c->body) {
        arm_err_set(&c->err, 400, "InvalidRequestContent", NULL, "The request content is missing.");
        return;
    }
    vmss_update(c, g, row);
}

static void vmss_get(struct arm_ctx *c)
{
    arm_show(c, &arm_kind_vmss);
}

static void vmss_list(struct arm_ctx *c)
{
    int64_t g = arm_group(c, c->p[1]);
    if (g >= 0)
        arm_reply_rows(c, vmss_json, "SELECT id FROM vmss WHERE group_id = ? ORDER BY name", "i",
                       g);
}

static void vmss_list_all(struct arm_ctx *c)
{
    if (arm_check_sub(c, c->p[0]))
        arm_reply_rows(c, vmss_json, "SELECT id FROM vmss ORDER BY name", "");
}

static void vmss_delete(struct arm_ctx *c)
{
    int64_t g = arm_group(c, c->p[1]);
    if (g < 0) return;
    struct arm_id id;
    arm_path_id(c, &id);
    int64_t row = vmss_find(c, g, &id);
    if (row < 0) {
        arm_reply(c, 204, NULL);
        return;
    }
    struct kerr ke = {0};
    if (prov_vmss_delete(c->k, g, c->p[2], &ke) < 0)
        arm_fail(c, &ke);
    else
        arm_reply_op(c, 202, "vmss-delete", COMPUTE, row, NULL);
}

/* The instances, as virtualMachineScaleSets/virtualMachines. */
static void vmss_instances(struct arm_ctx *c)
{
    int64_t g = arm_group(c, c->p[1]);
    if (g < 0) return;
    struct arm_id id;
    arm_path_id(c, &id);
    int64_t row = vmss_find(c, g, &id);
    if (row < 0) {
        arm_not_found(c, VMSS_TYPE, c->p[2]);
        return;
    }
    char base[ARM_ID_MAX];
    arm_rid(c, base, sizeof(base), c->p[1], VMSS_TYPE "/%s", c->p[2]);
    sqlite3_stmt *st = db_stmt(c->k->db,
                               "SELECT id, vmss_index FROM vms WHERE vmss_id = ? ORDER BY"
                               " vmss_index",
                               "i", row);
    json_t *arr = json_array();
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        json_t *vm = arm_vm_json(c, sqlite3_column_int64(st, 0), true);
        if (!vm) continue;
        char x[ARM_ID_MAX + 40], idx[24];
        snprintf(idx, sizeof(idx), "%lld", (long long)sqlite3_column_int64(st, 1));
        snprintf(x, sizeof(x), "%s/virtualMachines/%s", base, idx);
        json_object_set_new(vm, "id", json_string(x));
        json_object_set_new(vm, "type", json_string(VMSS_TYPE "/virtualMachines"));
        json_object_set_new(vm, "instanceId", json_string(idx));
        json_array_append_new(arr, vm);
    }
    sqlite3_finalize(st);
    arm_reply(c, 200, json_pack("{s:o}", "value", arr));
}

/* ---- operations ---- */

static const char *vmss_probe(struct arm_ctx *c, const struct arm_op *op, json_t **error)
{
    struct db *db = c->k->db;
    sqlite3_stmt *st = db_stmt(db, "SELECT capacity, deleting, last_error FROM vmss WHERE id = ?",
                               "i", op->target);
    const char *out = "InProgress";
    if (!st || sqlite3_step(st) != SQLITE_ROW) {
        *error = json_pack("{s:s, s:s}", "code", "ResourceNotFound", "message",
                           "The scale set was deleted while the operation ran.");
        out = "Failed";
    } else if (!strcmp(set_state(c->k, op->target, sqlite3_column_int(st, 1),
                                 sqlite3_column_int64(st, 0)),
                       "Succeeded")) {
        out = "Succeeded";
    } else if (!db_col_null(st, 2) &&
               db_int(db, NULL, 0, "SELECT count(*) FROM vms WHERE vmss_id = ? AND op IS NOT NULL",
                      "i", op->target) == 0) {
        *error =
            json_pack("{s:s, s:s}", "code", "InstanceCreateFailed", "message", db_col_text(st, 2));
        out = "Failed";
    }
    sqlite3_finalize(st);
    return out;
}

static void vmss_result(struct arm_ctx *c, const struct arm_op *op)
{
    json_t *s = vmss_json(c, op->target);
    if (s)
        arm_reply(c, 200, s);
    else
        arm_reply(c, 204, NULL);
}

static const char *vmss_delete_probe(struct arm_ctx *c, const struct arm_op *op, json_t **error)
{
    (void)error;
    return db_int(c->k->db, NULL, 0, "SELECT count(*) FROM vmss WHERE id = ?", "i", op->target)
               ? "InProgress"
               : "Succeeded";
}

const struct arm_op_kind arm_op_vmss = {"vmss", vmss_probe, vmss_result, NULL};
const struct arm_op_kind arm_op_vmss_delete = {"vmss-delete", vmss_delete_probe, NULL, NULL};

#define SSP                                                                                        \
    "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Compute/virtualMachineScaleSets"
const struct arm_route arm_routes_scaleset[] = {
    {"GET", SSP, (void *)vmss_list, 0, VMSS_TYPE},
    {"GET", "/subscriptions/{}/providers/Microsoft.Compute/virtualMachineScaleSets",
     (void *)vmss_list_all, 0, VMSS_TYPE},
    {"GET", SSP "/{}", (void *)vmss_get, 0, VMSS_TYPE},
    {"PUT", SSP "/{}", (void *)vmss_put, 0, VMSS_TYPE},
    {"PATCH", SSP "/{}", (void *)vmss_patch, 0, VMSS_TYPE},
    {"DELETE", SSP "/{}", (void *)vmss_delete, 0, VMSS_TYPE},
    {"GET", SSP "/{}/virtualMachines", (void *)vmss_instances, 0, VMSS_TYPE},
    {NULL, NULL, NULL, 0, NULL},
};
