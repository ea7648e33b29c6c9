/*
 * compute.c - ARM's Microsoft.Compute/virtualMachines on kumod's VMs
 * (docs/azure.md), and the sizes:
 *
 *   PUT    .../virtualMachines/N     create (201 + an operation that ends when
 *                                    the VM runs), or update: a new vmSize
 *                                    resizes it (a running VM restarts), data
 *                                    disks added or removed by LUN, tags
 *   GET    .../virtualMachines/N[?$expand=instanceView], .../instanceView
 *   GET    .../virtualMachines (group, subscription)
 *   POST   .../start, powerOff[?skipShutdown=], restart, deallocate (202)
 *   DELETE .../virtualMachines/N     (202; the disks and NICs go with it
 *                                    whose deleteOption was Delete, the
 *                                    others stay: Detach is Azure's default)
 *   GET    .../locations/L/vmSizes, .../virtualMachines/N/vmSizes
 *
 * A VM is made from its model (size, image, disks, NICs by id, user data)
 * by prov_vm_insert, with the deleteOption of its OS disk, data disks and
 * NICs (the provisioning layer's owner_vm, which prov_vm_delete honours)
 * and its osProfile's admin user, SSH keys and password (the layer's, as
 * `kumo vm create --admin-username --ssh-key-value` gives them: the image
 * catalog's provisioning puts them in the guest); its computer name and
 * the image reference as given are kept in arm_props and shown back. VMs
 * made with `kumo vm create` show here too, with a model made from the
 * database.
 */
#include "cloud/arm/images.h"
#include "cloud/arm/ops.h"
#include "cloud/arm/res.h"
#include "cloud/db.h"
#include "cloud/requests.h"
#include "cloud/state.h"
#include "cloud/timefmt.h"
#include "storage/disk.h"
#include "storage/tiers.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define COMPUTE   "Microsoft.Compute"
#define VM_TYPE   COMPUTE "/virtualMachines"
#define DISK_TYPE COMPUTE "/disks"
#define NIC_TYPE  "Microsoft.Network/networkInterfaces"
#define MAX_DATA  6
#define MAX_NICS  4

/* ---- rendering ---- */

static const struct {
    const char *kumo, *code, *display;
} powers[] = {
    {PS_CREATING, "PowerState/starting", "VM starting"},
    {PS_STARTING, "PowerState/starting", "VM starting"},
    {PS_RUNNING, "PowerState/running", "VM running"},
    {PS_STOPPING, "PowerState/stopping", "VM stopping"},
    {PS_STOPPED, "PowerState/stopped", "VM stopped"},
    {PS_DEALLOCATING, "PowerState/deallocating", "VM deallocating"},
    {PS_DEALLOCATED, "PowerState/deallocated", "VM deallocated"},
};

static json_t *status(const char *code, const char *level, const char *display, int64_t at_ms)
{
    json_t *s =
        json_pack("{s:s, s:s, s:s}", "code", code, "level", level, "displayStatus", display);
    if (at_ms > 0) json_object_set_new(s, "time", arm_time(at_ms));
    return s;
}

/* The statuses of a VM: provisioning, then power. */
static json_t *vm_statuses(const char *prov, const char *power, const char *ecode, const char *emsg,
                           int64_t updated_ms)
{
    json_t *arr = json_array();
    char code[96], display[96];
    if (!strcmp(prov, PV_FAILED)) {
        snprintf(code, sizeof(code), "ProvisioningState/failed/%s", ecode ? ecode : "Error");
        json_t *s = status(code, "Error", "Provisioning failed", updated_ms);
        if (emsg) json_object_set_new(s, "message", json_string(emsg));
        json_array_append_new(arr, s);
    } else {
        snprintf(code, sizeof(code), "ProvisioningState/%s", prov);
        for (char *p = code + 18; *p; p++)
            if (*p >= 'A' && *p <= 'Z') *p = (char)(*p + 32);
        snprintf(display, sizeof(display), "Provisioning %s", prov);
        for (char *p = display + 13; *p; p++)
            if (*p >= 'A' && *p <= 'Z') *p = (char)(*p + 32);
        json_array_append_new(arr, status(code, "Info", display, updated_ms));
    }
    for (size_t i = 0; i < sizeof(powers) / sizeof(powers[0]); i++)
        if (!strcmp(power, powers[i].kumo))
            json_array_append_new(arr, status(powers[i].code, "Info", powers[i].display, 0));
    return arr;
}

json_t *arm_vm_json(struct arm_ctx *c, int64_t id, bool instance_view);

json_t *arm_vm_json(struct arm_ctx *c, int64_t id, bool iv)
{
    struct db *db = c->k->db;
    sqlite3_stmt *st =
        db_stmt(db,
                "SELECT g.name, v.name, s.name, v.image_id, v.prov_state, v.power_state, v.tags,"
                " v.error_code, v.error_msg, v.created_ms, v.updated_ms, v.admin_username,"
                " v.ssh_keys, v.admin_pw_hash IS NOT NULL FROM vms v"
                " JOIN groups g ON g.id = v.group_id JOIN sizes s ON s.id = v.size_id"
                " WHERE v.id = ?",
                "i", id);
    json_t *out = NULL;
    if (!st || sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        return NULL;
    }
    const char *group = db_col_text(st, 0), *name = db_col_text(st, 1);
    char rid[ARM_ID_MAX], x[ARM_ID_MAX], size[96], guid[37];
    arm_rid(c, rid, sizeof(rid), group, VM_TYPE "/%s", name);
    arm_size_name(db_col_text(st, 2), size, sizeof(size));
    arm_row_guid(c, "vms", id, guid);
    json_t *props = arm_props_load(db, "vms", id);
    if (!props) props = json_object();
    /* storage */
    json_t *image = json_object_get(props, "imageReference");
    image = json_is_object(image) ? json_deep_copy(image)
                                  : arm_image_ref_json(c, sqlite3_column_int64(st, 3), group);
    if (!json_object_get(image, "exactVersion") && !json_object_get(image, "id"))
        json_object_set_new(image, "exactVersion", json_string(ARM_IMAGE_VERSION));
    json_t *os = json_null(), *data = json_array(), *disk_views = json_array();
    sqlite3_stmt *ds = db_stmt(db,
                               "SELECT name, tier, size_gib, os_disk, lun,"
                               " coalesce(owner_vm, 0) = vm_id, caching FROM disks WHERE vm_id ="
                               " ? ORDER BY os_disk DESC, lun",
                               "i", id);
    while (ds && sqlite3_step(ds) == SQLITE_ROW) {
        arm_rid(c, x, sizeof(x), group, DISK_TYPE "/%s", db_col_text(ds, 0));
        const char *del = sqlite3_column_int(ds, 5) ? "Delete" : "Detach";
        const char *caching = disk_cache_azure_name(
            disk_cache_effective(db_col_null(ds, 6) ? NULL : db_col_text(ds, 6),
                                 db_col_text(ds, 1), sqlite3_column_int(ds, 3) != 0));
        json_t *md = json_pack("{s:s, s:s}", "id", x, "storageAccountType",
                               arm_tier_name(db_col_text(ds, 1)));
        json_array_append_new(
            disk_views,
            json_pack("{s:s, s:[o]}", "name", db_col_text(ds, 0), "statuses",
                      status("ProvisioningState/succeeded", "Info", "Provisioning succeeded", 0)));
        if (sqlite3_column_int(ds, 3)) {
            json_decref(os);
            os = json_pack("{s:s, s:s, s:s, s:s, s:o, s:I, s:s}", "osType", "Linux", "name",
                           db_col_text(ds, 0), "createOption", "FromImage", "caching", caching,
                           "managedDisk", md, "diskSizeGB", (json_int_t)sqlite3_column_int64(ds, 2),
                           "deleteOption", del);
        } else {
            json_array_append_new(
                data, json_pack("{s:I, s:s, s:s, s:s, s:o, s:I, s:b, s:s}", "lun",
                                (json_int_t)sqlite3_column_int64(ds, 4), "name", db_col_text(ds, 0),
                                "createOption", "Attach", "caching", caching, "managedDisk", md,
                                "diskSizeGB", (json_int_t)sqlite3_column_int64(ds, 2),
                                "toBeDetached", 0, "deleteOption", del));
        }
    }
    sqlite3_finalize(ds);
    /* network */
    json_t *nics = json_array();
    sqlite3_stmt *ns =
        db_stmt(db,
                "SELECT g.name, n.name, n.nic_index, coalesce(n.owner_vm, 0) = n.vm_id"
                " FROM nics n JOIN groups g ON g.id = n.group_id"
                " WHERE n.vm_id = ? ORDER BY n.nic_index",
                "i", id);
    while (ns && sqlite3_step(ns) == SQLITE_ROW)
        json_array_append_new(nics, json_pack("{s:s, s:{s:b, s:s}}", "id",
                                              arm_rid(c, x, sizeof(x), db_col_text(ns, 0),
                                                      NIC_TYPE "/%s", db_col_text(ns, 1)),
                                              "properties", "primary",
                                              sqlite3_column_int64(ns, 2) == 0, "deleteOption",
                                              sqlite3_column_int(ns, 3) ? "Delete" : "Detach"));
    sqlite3_finalize(ns);
    /* the OS profile: the VM's own (kumo's and az's alike), no secret */
    const char *admin = db_col_null(st, 11) ? "" : db_col_text(st, 11);
    json_t *keys = json_array(),
           *stored = db_col_null(st, 12) ? NULL : json_loads(db_col_text(st, 12), 0, NULL);
    size_t ki;
    json_t *key;
    json_array_foreach(stored, ki, key)
    {
        char path[160];
        snprintf(path, sizeof(path), "/home/%s/.ssh/authorized_keys", admin);
        json_array_append_new(keys, json_pack("{s:s, s:O}", "path", path, "keyData", key));
    }
    json_decref(stored);
    const char *cname = json_string_value(json_object_get(props, "computerName"));
    json_t *osp =
        json_pack("{s:s, s:s, s:{s:b, s:{s:o}, s:b}, s:[], s:b}", "computerName",
                  cname ? cname : name, "adminUsername", admin, "linuxConfiguration",
                  "disablePasswordAuthentication", !sqlite3_column_int(st, 13), "ssh", "publicKeys",
                  keys, "provisionVMAgent", 1, "secrets", "allowExtensionOperations", 1);
    const char *prov = db_col_text(st, 4), *power = db_col_text(st, 5);
    json_t *p =
        json_pack("{s:s, s:{s:s}, s:{s:o, s:o, s:o}, s:o, s:{s:o}, s:{s:{s:b}}, s:s, s:o}", "vmId",
                  guid, "hardwareProfile", "vmSize", size, "storageProfile", "imageReference",
                  image, "osDisk", os, "dataDisks", data, "osProfile", osp, "networkProfile",
                  "networkInterfaces", nics, "diagnosticsProfile", "bootDiagnostics", "enabled", 1,
                  "provisioningState", prov, "timeCreated", arm_time(sqlite3_column_int64(st, 9)));
    if (iv) {
        const char *ecode = db_col_null(st, 7) ? NULL : db_col_text(st, 7);
        const char *emsg = db_col_null(st, 8) ? NULL : db_col_text(st, 8);
        json_object_set_new(
            p, "instanceView",
            json_pack("{s:s, s:s, s:s, s:{s:s, s:[o]}, s:o, s:{}, s:o}", "computerName",
                      json_string_value(json_object_get(osp, "computerName")) ?: name, "osName",
                      "Linux", "hyperVGeneration", "V1", "vmAgent", "vmAgentVersion", "kumo",
                      "statuses", status("ProvisioningState/succeeded", "Info", "Ready", 0),
                      "disks", disk_views, "bootDiagnostics", "statuses",
                      vm_statuses(prov, power, ecode, emsg, sqlite3_column_int64(st, 10))));
    } else {
        json_decref(disk_views);
    }
    out = arm_resource(rid, name, VM_TYPE, arm_tags(db_col_text(st, 6)), p);
    json_decref(props);
    sqlite3_finalize(st);
    return out;
}

static bool expand_iv(struct arm_ctx *c)
{
    const char *e = arm_query(c, "$expand");
    return e && !strcasecmp(e, "instanceView");
}

static json_t *vm_render(struct arm_ctx *c, int64_t id)
{
    return arm_vm_json(c, id, expand_iv(c));
}

static int64_t vm_find(struct arm_ctx *c, int64_t g, const struct arm_id *id)
{
    return db_int(c->k->db, NULL, -1, "SELECT id FROM vms WHERE group_id = ? AND name = ?", "it", g,
                  id->names[0]);
}

/* ---- the model ---- */

/* The name of a reference in the group (NULL + e when it is elsewhere). */
static const char *in_group(const struct arm_ctx *c, const json_t *o, const char *path,
                            const char *type, const char *group, struct arm_id *id,
                            struct arm_err *e)
{
    bool present;
    if (!arm_ref(c, o, path, type, id, &present, e)) return NULL;
    if (!present) {
        arm_err_set(e, 400, "InvalidParameter", path, "%s: missing.", path);
        return NULL;
    }
    if (strcasecmp(id->group, group)) {
        arm_err_set(e, 400, "InvalidResourceReference", path,
                    "%s: kumo's VMs use resources of their own resource group: '%.100s' is in "
                    "'%s', not '%s'.",
                    path, id->names[0], id->group, group);
        return NULL;
    }
    return id->names[0];
}

/* The /v1 body of a VM's ARM body (see the file's comment); NULL + e. */
static json_t *vm_body(struct arm_ctx *c, const char *name, const char *group, const json_t *res,
                       int64_t current_image, struct arm_err *e)
{
    const json_t *p = arm_get(res, "properties");
    const char *size = arm_gets(p, "hardwareProfile.vmSize");
    if (!size) {
        arm_err_set(e, 400, "InvalidParameter", "properties.hardwareProfile.vmSize",
                    "properties.hardwareProfile.vmSize: missing (az vm list-sizes shows them).");
        return NULL;
    }
    const char *create = arm_gets(p, "storageProfile.osDisk.createOption");
    if (create && strcasecmp(create, "FromImage")) {
        arm_err_set(e, 400, "InvalidParameter", "properties.storageProfile.osDisk.createOption",
                    "properties.storageProfile.osDisk.createOption: kumo makes a VM's OS disk "
                    "from an image (FromImage), not '%.40s'.",
                    create);
        return NULL;
    }
    /* an update may leave the image out (az does): the VM keeps its own */
    const json_t *ref = arm_get(p, "storageProfile.imageReference");
    if (!ref && current_image <= 0) {
        arm_err_set(e, 400, "InvalidParameter", "properties.storageProfile.imageReference",
                    "properties.storageProfile.imageReference: missing (az vm image list shows "
                    "kumo's images).");
        return NULL;
    }
    int64_t img = ref ? arm_image_resolve(c, ref, "properties.storageProfile.imageReference", e)
                      : current_image;
    if (img < 0) return NULL;
    char image[80] = "";
    db_text(c->k->db, image, sizeof(image), "SELECT name FROM images WHERE id = ?", "i", img);
    json_t *kb =
        json_pack("{s:s, s:s, s:s}", "name", name, "size", arm_size_to_kumo(size), "image", image);
    json_t *osd = json_object();
    const char *sat = arm_gets(p, "storageProfile.osDisk.managedDisk.storageAccountType");
    if (sat) {
        const char *tier = arm_tier_to_kumo(sat);
        if (!tier) {
            arm_err_set(e, 400, "InvalidParameter",
                        "properties.storageProfile.osDisk.managedDisk.storageAccountType",
                        "storageAccountType '%.40s' is not one kumo has (Standard_LRS, "
                        "StandardSSD_LRS, Premium_LRS).",
                        sat);
            goto fail;
        }
        json_object_set_new(osd, "tier", json_string(tier));
    }
    const json_t *gb = arm_get(p, "storageProfile.osDisk.diskSizeGB");
    if (gb) json_object_set(osd, "sizeGiB", (json_t *)gb);
    /* deleteOption: what the VM's delete does with the disk; Azure's
     * default (null, as az sends it) is Detach */
    const char *del = arm_gets(p, "storageProfile.osDisk.deleteOption");
    json_object_set_new(osd, "deleteOption", json_string(del ? del : "Detach"));
    const char *osc = arm_gets(p, "storageProfile.osDisk.caching");
    if (osc) json_object_set_new(osd, "caching", json_string(osc));
    json_object_set_new(kb, "osDisk", osd);
    /* data disks */
    json_t *data = json_array();
    json_object_set_new(kb, "dataDisks", data);
    size_t i;
    const json_t *d;
    json_array_foreach(arm_get(p, "storageProfile.dataDisks"), i, d)
    {
        char at[80];
        snprintf(at, sizeof(at), "properties.storageProfile.dataDisks[%zu]", i);
        const char *opt = arm_gets(d, "createOption");
        json_t *kd = json_object();
        json_array_append_new(data, kd);
        if (arm_get(d, "lun")) json_object_set(kd, "lun", (json_t *)arm_get(d, "lun"));
        if (arm_gets(d, "caching"))
            json_object_set_new(kd, "caching", json_string(arm_gets(d, "caching")));
        if (opt && !strcasecmp(opt, "Attach")) {
            struct arm_id did;
            const char *dn = in_group(c, d, "managedDisk", DISK_TYPE, group, &did, e);
            if (!dn) goto fail;
            json_object_set_new(kd, "disk", json_string(dn));
        } else if (!opt || !strcasecmp(opt, "Empty")) {
            if (arm_get(d, "diskSizeGB"))
                json_object_set(kd, "sizeGiB", (json_t *)arm_get(d, "diskSizeGB"));
            if (arm_gets(d, "name"))
                json_object_set_new(kd, "name", json_string(arm_gets(d, "name")));
            const char *t = arm_gets(d, "managedDisk.storageAccountType");
            if (t && !arm_tier_to_kumo(t)) {
                arm_err_set(e, 400, "InvalidParameter", at,
                            "%s: storageAccountType '%.40s' is not one kumo has.", at, t);
                goto fail;
            }
            if (t) json_object_set_new(kd, "tier", json_string(arm_tier_to_kumo(t)));
            const char *dd = arm_gets(d, "deleteOption");
            json_object_set_new(kd, "deleteOption", json_string(dd ? dd : "Detach"));
        } else {
            arm_err_set(e, 400, "InvalidParameter", at,
                        "%s.createOption: kumo attaches a disk (Attach) or makes an empty one "
                        "(Empty), not '%.40s'.",
                        at, opt);
            goto fail;
        }
    }
    /* NICs */
    json_t *nics = json_array();
    json_object_set_new(kb, "networkInterfaces", nics);
    json_array_foreach(arm_get(p, "networkProfile.networkInterfaces"), i, d)
    {
        char at[80];
        snprintf(at, sizeof(at), "properties.networkProfile.networkInterfaces[%zu]", i);
        json_t *wrap = json_pack("{s:O}", "nic", d);
        struct arm_id nid;
        const char *nn = in_group(c, wrap, "nic", NIC_TYPE, group, &nid, e);
        json_decref(wrap);
        if (!nn) goto fail;
        const char *del = arm_gets(d, "properties.deleteOption");
        if (del && strcasecmp(del, "Delete") && strcasecmp(del, "Detach")) {
            arm_err_set(e, 400, "InvalidParameter", at,
                        "%s.properties.deleteOption: '%.40s' is not Delete or Detach.", at, del);
            goto fail;
        }
        json_array_append_new(nics, json_string(nn));
    }
    if (json_array_size(nics) == 0) {
        arm_err_set(e, 400, "InvalidParameter", "properties.networkProfile",
                    "properties.networkProfile.networkInterfaces: a VM needs a network "
                    "interface (az vm create makes one).");
        goto fail;
    }
    /* the OS profile: the admin account, its SSH keys (and a password
     * where the image takes one), as kumo vm create's */
    arm_os_profile_to_kumo(arm_get(p, "osProfile"), kb);
    const char *ud = arm_gets(p, "userData");
    if (!ud) ud = arm_gets(p, "osProfile.customData");
    if (ud) json_object_set_new(kb, "userData", json_string(ud));
    const json_t *tags = arm_get(res, "tags");
    if (tags) json_object_set(kb, "tags", (json_t *)tags);
    return kb;
fail:
    json_decref(kb);
    return NULL;
}

/* What a VM keeps of its ARM body that kumo's model has no column for:
 * the computer name, the image reference as given. */
static json_t *vm_props(const json_t *res)
{
    const json_t *p = arm_get(res, "properties");
    json_t *out = json_object();
    const char *cname = arm_gets(p, "osProfile.computerName");
    if (cname) json_object_set_new(out, "computerName", json_string(cname));
    const json_t *ref = arm_get(p, "storageProfile.imageReference");
    if (json_is_object(ref)) json_object_set(out, "imageReference", (json_t *)ref);
    return out;
}

/* Does a /v1 disk body say deleteOption Detach? */
static bool detached(const json_t *disk)
{
    const char *del = json_string_value(json_object_get(disk, "deleteOption"));
    return del && !strcasecmp(del, "Detach");
}

static int64_t vm_create(struct arm_apply *a)
{
    struct kumod *k = a->t->k;
    json_t *kb = vm_body(a->c, a->id->names[0], a->group_name, a->res, 0, a->err);
    if (!kb) return -1;
    int64_t id = -1;
    if (request_check(REQ_VM_CREATE, kb, a->t->e) < 0) goto out;
    struct prov_data_disk disks[MAX_DATA];
    const char *nics[MAX_NICS];
    bool nic_delete[MAX_NICS] = {false};
    const json_t *osd = json_object_get(kb, "osDisk");
    const json_t *osp = json_object_get(kb, "osProfile");
    const char *keys[PROV_MAX_SSH_KEYS];
    struct prov_vm_spec s = {
        .name = a->id->names[0],
        .admin_username = json_string_value(json_object_get(osp, "adminUsername")),
        .admin_password = json_string_value(json_object_get(osp, "adminPassword")),
        .ssh_keys = keys,
        .size = json_string_value(json_object_get(kb, "size")),
        .image = json_string_value(json_object_get(kb, "image")),
        .os_tier = json_string_value(json_object_get(osd, "tier")),
        .os_size_gib = json_integer_value(json_object_get(osd, "sizeGiB")),
        .os_caching = json_string_value(json_object_get(osd, "caching")),
        .os_disk_detach = detached(osd),
        .data_disks = disks,
        .nics_given = true,
        .nics = nics,
        .nic_delete = nic_delete,
        .user_data = json_string_value(json_object_get(kb, "userData")),
        .tags = json_object_get(kb, "tags"),
    };
    size_t i;
    const json_t *v;
    json_array_foreach(json_object_get(kb, "dataDisks"), i, v)
    {
        const json_t *lun = json_object_get(v, "lun");
        if (s.ndata < MAX_DATA)
            disks[s.ndata++] = (struct prov_data_disk){
                .disk = json_string_value(json_object_get(v, "disk")),
                .name = json_string_value(json_object_get(v, "name")),
                .tier = json_string_value(json_object_get(v, "tier")),
                .size_gib = json_integer_value(json_object_get(v, "sizeGiB")) ?: 1,
                .lun = lun ? json_integer_value(lun) : -1,
                .caching = json_string_value(json_object_get(v, "caching")),
                .detach = detached(v),
            };
    }
    json_array_foreach(json_object_get(osp, "sshPublicKeys"), i, v)
    {
        if (s.nkeys < PROV_MAX_SSH_KEYS) keys[s.nkeys++] = json_string_value(v);
    }
    const json_t *arm_nics = arm_get(a->res, "properties.networkProfile.networkInterfaces");
    json_array_foreach(json_object_get(kb, "networkInterfaces"), i, v)
    {
        const char *del = arm_gets(json_array_get(arm_nics, i), "properties.deleteOption");
        if (s.nnics == MAX_NICS) break;
        nic_delete[s.nnics] = del && !strcasecmp(del, "Delete");
        nics[s.nnics++] = json_string_value(v);
    }
    id = prov_vm_insert(a->t, a->group, &s);
    if (id >= 0) {
        json_t *props = vm_props(a->res);
        if (arm_props_store(k->db, "vms", id, props) < 0)
            id = prov_db_error(a->t, "virtual machine create");
        json_decref(props);
    }
out:
    json_decref(kb);
    if (id < 0 && !a->err->status) arm_apply_fail(a);
    return id;
}

/* ---- update ---- */

/* Attach the data disks of the body that the VM lacks, detach the ones
 * it has that the body lacks (by LUN). -1 with c->err. */
static int update_disks(struct arm_ctx *c, int64_t g, int64_t row, const char *name,
                        const json_t *kb)
{
    struct kerr ke = {0};
    const json_t *want = json_object_get(kb, "dataDisks");
    int64_t luns[MAX_DATA];
    size_t n = 0;
    sqlite3_stmt *st = db_stmt(
        c->k->db, "SELECT lun FROM disks WHERE vm_id = ? AND os_disk = 0 ORDER BY lun", "i", row);
    while (st && n < MAX_DATA && sqlite3_step(st) == SQLITE_ROW)
        luns[n++] = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    size_t i;
    const json_t *d;
    for (size_t j = 0; j < n; j++) {
        bool keep = false;
        json_array_foreach(want, i, d)
        {
            if (json_integer_value(json_object_get(d, "lun")) == luns[j] &&
                json_object_get(d, "lun"))
                keep = true;
        }
        char lun[24];
        snprintf(lun, sizeof(lun), "%" PRId64, luns[j]);
        if (!keep && prov_vm_detach_disk(c->k, g, name, lun, &ke) < 0) goto fail;
    }
    json_array_foreach(want, i, d)
    {
        const json_t *lun = json_object_get(d, "lun");
        bool have = false;
        for (size_t j = 0; j < n; j++)
            if (lun && json_integer_value(lun) == luns[j]) have = true;
        if (have) continue;
        struct prov_data_disk dd = {
            .disk = json_string_value(json_object_get(d, "disk")),
            .name = json_string_value(json_object_get(d, "name")),
            .tier = json_string_value(json_object_get(d, "tier")),
            .size_gib = json_integer_value(json_object_get(d, "sizeGiB")) ?: 1,
            .lun = lun ? json_integer_value(lun) : -1,
        };
        if (prov_vm_attach_disk(c->k, g, name, &dd, &ke) < 0) goto fail;
    }
    return 0;
fail:
    arm_fail(c, &ke);
    return -1;
}

/* PUT of an existing VM: the size (a running VM restarts into it), the
 * data disks, the tags. The image and the NICs cannot change. */
static void vm_update(struct arm_ctx *c, int64_t g, int64_t row)
{
    struct arm_id id;
    arm_path_id(c, &id);
    const char *name = id.names[0];
    int64_t image = db_int(c->k->db, NULL, 0, "SELECT image_id FROM vms WHERE id = ?", "i", row);
    json_t *kb = vm_body(c, name, id.group, c->body, image, &c->err);
    if (!kb) return;
    struct kerr ke = {0};
    if (request_check(REQ_VM_CREATE, kb, &ke) < 0) {
        arm_fail(c, &ke);
        json_decref(kb);
        return;
    }
    int64_t img = db_int(c->k->db, NULL, -1, "SELECT id FROM images WHERE name = ?", "t",
                         json_string_value(json_object_get(kb, "image")));
    if (img != db_int(c->k->db, NULL, 0, "SELECT image_id FROM vms WHERE id = ?", "i", row)) {
        arm_err_set(&c->err, 409, "PropertyChangeNotAllowed",
                    "properties.storageProfile.imageReference",
                    "Changing property 'imageReference' is not allowed: a VM keeps the image it "
                    "was made from.");
        json_decref(kb);
        return;
    }
    bool begun = false;
    const char *size = json_string_value(json_object_get(kb, "size"));
    char cur[80] = "";
    db_text(c->k->db, cur, sizeof(cur),
            "SELECT s.name FROM vms v JOIN sizes s ON s.id = v.size_id WHERE v.id = ?", "i", row);
    if (strcasecmp(cur, size) && prov_vm_resize(c->k, g, name, size, true, &begun, &ke) < 0) {
        arm_fail(c, &ke);
        json_decref(kb);
        return;
    }
    if (arm_get(c->body, "properties.storageProfile.dataDisks") &&
        update_disks(c, g, row, name, kb) < 0) {
        json_decref(kb);
        return;
    }
    const json_t *tags = json_object_get(kb, "tags");
    if (tags && prov_vm_set_tags(c->k, g, name, tags, &ke) < 0) {
        arm_fail(c, &ke);
        json_decref(kb);
        return;
    }
    json_decref(kb);
    json_t *out = arm_vm_json(c, row, false);
    if (begun)
        arm_reply_op(c, 200, "vm", COMPUTE, row, out);
    else
        arm_reply(c, 200, out);
}

const struct arm_kind arm_kind_vm = {VM_TYPE,   "vms", vm_create, vm_find,
                                     vm_render, "vm",  201,       NULL};

/* ---- handlers ---- */

static void vm_put(struct arm_ctx *c)
{
    arm_put(c, &arm_kind_vm, vm_update);
}

static void vm_get(struct arm_ctx *c)
{
    arm_show(c, &arm_kind_vm);
}

static void vm_instance_view(struct arm_ctx *c)
{
    struct arm_id id;
    arm_path_id(c, &id);
    int64_t g = arm_group(c, c->p[1]);
    if (g < 0) return;
    int64_t row = vm_find(c, g, &id);
    json_t *vm = row >= 0 ? arm_vm_json(c, row, true) : NULL;
    if (!vm) {
        arm_not_found(c, VM_TYPE, c->p[2]);
        return;
    }
    arm_reply(c, 200,
              json_incref(json_object_get(json_object_get(vm, "properties"), "instanceView")));
    json_decref(vm);
}

static void vm_list(struct arm_ctx *c)
{
    int64_t g = arm_group(c, c->p[1]);
    if (g >= 0)
        arm_reply_rows(c, vm_render,
                       "SELECT id FROM vms WHERE group_id = ? AND vmss_id IS NULL ORDER BY name",
                       "i", g);
}

static void vm_list_all(struct arm_ctx *c)
{
    if (arm_check_sub(c, c->p[0]))
        arm_reply_rows(c, vm_render, "SELECT id FROM vms WHERE vmss_id IS NULL ORDER BY name", "");
}

/* After an action on the VM (id, or -1 with ke): 202 and an operation
 * that ends when the VM has settled. */
static void action_reply(struct arm_ctx *c, int64_t id, bool begun, const struct kerr *ke)
{
    if (id < 0) {
        arm_fail(c, ke);
        return;
    }
    if (begun)
        arm_reply_op(c, 202, "vm", COMPUTE, id, NULL);
    else
        arm_reply_done(c, 202, COMPUTE, NULL);
}

/* The action's group; -1 with c->err. */
static int64_t action_group(struct arm_ctx *c)
{
    if (!arm_check_sub(c, c->p[0])) return -1;
    return arm_group(c, c->p[1]);
}

static void vm_start(struct arm_ctx *c)
{
    int64_t g = action_group(c);
    if (g < 0) return;
    struct kerr ke = {0};
    bool begun = false;
    int64_t id = prov_vm_start(c->k, g, c->p[2], &begun, &ke);
    action_reply(c, id, begun, &ke);
}

/* ?NAME=true|false (absent: false); -1 with c->err. */
static int bool_query(struct arm_ctx *c, const char *name)
{
    const char *q = arm_query(c, name);
    if (!q || !strcasecmp(q, "false")) return 0;
    if (!strcasecmp(q, "true")) return 1;
    return arm_err_set(&c->err, 400, "InvalidParameter", name, "%s: '%.20s' is not true or false.",
                       name, q);
}

static int skip_shutdown(struct arm_ctx *c)
{
    return bool_query(c, "skipShutdown");
}

static void vm_power_off(struct arm_ctx *c)
{
    int skip = skip_shutdown(c);
    int64_t g = skip < 0 ? -1 : action_group(c);
    if (g < 0) return;
    struct kerr ke = {0};
    bool begun = false;
    int64_t id = prov_vm_stop(c->k, g, c->p[2], skip, &begun, &ke);
    action_reply(c, id, begun, &ke);
}

/* ?hibernate=true: Azure's hibernation, kumo's saved state (docs/vmstate.md) */
static void vm_deallocate(struct arm_ctx *c)
{
    int hibernate = bool_query(c, "hibernate");
    int64_t g = hibernate < 0 ? -1 : action_group(c);
    if (g < 0) return;
    struct kerr ke = {0};
    bool begun = false;
    int64_t id = hibernate ? prov_vm_hibernate(c->k, g, c->p[2], &begun, &ke)
                           : prov_vm_deallocate(c->k, g, c->p[2], false, &begun, &ke);
    action_reply(c, id, begun, &ke);
}

static void vm_restart(struct arm_ctx *c)
{
    int64_t g = action_group(c);
    if (g < 0) return;
    struct kerr ke = {0};
    int64_t id = prov_vm_restart(c->k, g, c->p[2], &ke);
    action_reply(c, id, true, &ke);
}

static void vm_delete(struct arm_ctx *c)
{
    int64_t g = action_group(c);
    if (g < 0) return;
    struct arm_id id;
    arm_path_id(c, &id);
    int64_t row = vm_find(c, g, &id);
    if (row < 0) {
        arm_reply(c, 204, NULL);
        return;
    }
    struct kerr ke = {0};
    if (prov_vm_delete_id(c->k, row, PROV_DISKS_OWNED, "deleted through the ARM endpoint", &ke) <
        0) {
        arm_fail(c, &ke);
        return;
    }
    arm_reply_op(c, 202, "vm-delete", COMPUTE, row, NULL);
}

/* ---- sizes ---- */

static json_t *size_json(sqlite3_stmt *st)
{
    char name[96];
    arm_size_name(db_col_text(st, 0), name, sizeof(name));
    return json_pack("{s:s, s:I, s:I, s:I, s:I, s:I}", "name", name, "numberOfCores",
                     (json_int_t)sqlite3_column_int64(st, 1), "osDiskSizeInMB", (json_int_t)1047552,
                     "resourceDiskSizeInMB", (json_int_t)0, "memoryInMB",
                     (json_int_t)sqlite3_column_int64(st, 2), "maxDataDiskCount",
                     (json_int_t)sqlite3_column_int64(st, 3));
}

static void sizes_reply(struct arm_ctx *c)
{
    sqlite3_stmt *st = db_stmt(c->k->db,
                               "SELECT name, vcpus, mem_mib, max_data_disks FROM sizes"
                               " ORDER BY vcpus, mem_mib, name",
                               "");
    json_t *arr = json_array();
    while (st && sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(arr, size_json(st));
    sqlite3_finalize(st);
    arm_reply(c, 200, json_pack("{s:o}", "value", arr));
}

static void location_sizes(struct arm_ctx *c)
{
    if (!arm_check_sub(c, c->p[0])) return;
    if (strcasecmp(c->p[1], "local")) {
        arm_err_set(&c->err, 404, "LocationNotFound", NULL,
                    "The location '%.60s' is not available: this kumod's is 'local'.", c->p[1]);
        return;
    }
    sizes_reply(c);
}

static void vm_sizes(struct arm_ctx *c)
{
    struct arm_id id;
    arm_path_id(c, &id);
    int64_t g = action_group(c);
    if (g < 0) return;
    if (vm_find(c, g, &id) < 0) {
        arm_not_found(c, VM_TYPE, c->p[2]);
        return;
    }
    sizes_reply(c);
}

/* ---- operations ---- */

static const char *vm_probe(struct arm_ctx *c, const struct arm_op *op, json_t **error)
{
    struct db *db = c->k->db;
    sqlite3_stmt *st = db_stmt(db,
                               "SELECT coalesce(op, ''), prov_state, error_code, error_msg"
                               " FROM vms WHERE id = ?",
                               "i", op->target);
    const char *out = "InProgress";
    if (!st || sqlite3_step(st) != SQLITE_ROW) {
        *error = json_pack("{s:s, s:s}", "code", "ResourceNotFound", "message",
                           "The virtual machine was deleted while the operation ran.");
        out = "Failed";
    } else if (!*db_col_text(st, 0)) {
        if (!strcmp(db_col_text(st, 1), PV_FAILED)) {
            *error = json_pack(
                "{s:s, s:s}", "code", db_col_null(st, 2) ? "VMOperationFailed" : db_col_text(st, 2),
                "message", db_col_null(st, 3) ? "The operation failed." : db_col_text(st, 3));
            out = "Failed";
        } else {
            out = "Succeeded";
        }
    }
    sqlite3_finalize(st);
    return out;
}

static void vm_result(struct arm_ctx *c, const struct arm_op *op)
{
    json_t *vm = arm_vm_json(c, op->target, false);
    if (vm)
        arm_reply(c, 200, vm);
    else
        arm_reply(c, 204, NULL);
}

static const char *vm_delete_probe(struct arm_ctx *c, const struct arm_op *op, json_t **error)
{
    struct db *db = c->k->db;
    sqlite3_stmt *st =
        db_stmt(db, "SELECT coalesce(op, ''), prov_state, error_msg FROM vms WHERE id = ?", "i",
                op->target);
    const char *out = "Succeeded";
    if (st && sqlite3_step(st) == SQLITE_ROW) {
        out = "InProgress";
        if (!*db_col_text(st, 0)) {
            *error =
                json_pack("{s:s, s:s}", "code", "VMDeleteFailed", "message",
                          db_col_null(st, 2) ? "The delete did not finish." : db_col_text(st, 2));
            out = "Failed";
        }
    }
    sqlite3_finalize(st);
    return out;
}

const struct arm_op_kind arm_op_vm = {"vm", vm_probe, vm_result, NULL};
const struct arm_op_kind arm_op_vm_delete = {"vm-delete", vm_delete_probe, NULL, NULL};

#define VMP "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Compute/virtualMachines"
const struct arm_route arm_routes_compute[] = {
    {"GET", VMP, (void *)vm_list, 0, VM_TYPE},
    {"GET", "/subscriptions/{}/providers/Microsoft.Compute/virtualMachines", (void *)vm_list_all, 0,
     VM_TYPE},
    {"GET", VMP "/{}", (void *)vm_get, 0, VM_TYPE},
    {"PUT", VMP "/{}", (void *)vm_put, 0, VM_TYPE},
    {"DELETE", VMP "/{}", (void *)vm_delete, 0, VM_TYPE},
    {"GET", VMP "/{}/instanceView", (void *)vm_instance_view, 0, VM_TYPE},
    {"POST", VMP "/{}/start", (void *)vm_start, 0, VM_TYPE},
    {"POST", VMP "/{}/powerOff", (void *)vm_power_off, 0, VM_TYPE},
    {"POST", VMP "/{}/restart", (void *)vm_restart, 0, VM_TYPE},
    {"POST", VMP "/{}/deallocate", (void *)vm_deallocate, 0, VM_TYPE},
    {"GET", VMP "/{}/vmSizes", (void *)vm_sizes, 0, VM_TYPE},
    {"GET", "/subscriptions/{}/providers/Microsoft.Compute/locations/{}/vmSizes",
     (void *)location_sizes, 0, COMPUTE},
    {NULL, NULL, NULL, 0, NULL},
};
