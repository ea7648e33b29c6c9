/*
 * requests.c - field tables and cross-field rules for every request body
 * (contract in requests.h; the fields are documented in docs/api.md).
 */
#include "cloud/requests.h"

#include "cloud/autoscale.h"
#include "cloud/body.h"
#include "cloud/runcmd.h"
#include "cloud/validate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define END                                                                                        \
    {                                                                                              \
        NULL, 0, false, false, 0, 0, NULL, NULL, 0                                                 \
    }
#define STR(n, req, chk)                                                                           \
    {                                                                                              \
        n, BT_STRING, req, false, 0, 0, chk, NULL, 0                                               \
    }
#define STRLEN(n, req, lo, hi)                                                                     \
    {                                                                                              \
        n, BT_STRING, req, true, lo, hi, NULL, NULL, 0                                             \
    }
#define NAME(n, req)                                                                               \
    {                                                                                              \
        n, BT_STRING, req, false, 0, 0, check_name, NULL, 0                                        \
    }
#define NAME_OR_NULL(n)                                                                            \
    {                                                                                              \
        n, BT_STRING | BT_NULL, false, false, 0, 0, check_name, NULL, 0                            \
    }
#define INT(n, req, lo, hi)                                                                        \
    {                                                                                              \
        n, BT_INT, req, true, lo, hi, NULL, NULL, 0                                                \
    }
#define NUM(n, req, lo, hi)                                                                        \
    {                                                                                              \
        n, BT_NUMBER, req, true, lo, hi, NULL, NULL, 0                                             \
    }
#define BOOL(n)                                                                                    \
    {                                                                                              \
        n, BT_BOOL, false, false, 0, 0, NULL, NULL, 0                                              \
    }
#define TAGS                                                                                       \
    {                                                                                              \
        "tags", BT_OBJECT, false, false, 0, 0, check_tags, NULL, 0                                 \
    }

static const struct body_field group_create[] = {
    NAME("name", true),
    STR("location", false, check_location),
    TAGS,
    END,
};

static const struct body_field group_put[] = {
    NAME("name", false),
    STR("location", false, check_location),
    TAGS,
    END,
};

static const struct body_field tags_only[] = {
    {"tags", BT_OBJECT, true, false, 0, 0, check_tags, NULL, 0},
    END,
};

static const struct body_field host_update[] = {
    INT("cpus", false, 1, 4096),
    INT("memoryMiB", false, 64, 16777216),
    NUM("cpuAllocationRatio", false, 0.1, 64),
    NUM("ramAllocationRatio", false, 0.1, 4),
    INT("reservedMemoryMiB", false, 0, 16777216),
    END,
};

static const struct body_field burstable[] = {
    NUM("baselinePercent", true, 0.001, 100),
    INT("initialCredits", true, 0, 1000000),
    INT("creditsPerHour", true, 0, 1000000),
    INT("maxCredits", true, 0, 1000000),
    END,
};

static const struct body_field size_create[] = {
    NAME("name", true),
    STR("family", false, check_family),
    INT("vcpus", true, 1, 32),
    INT("memoryMiB", true, 64, 65536),
    INT("maxDataDisks", false, 0, 6),
    INT("maxDiskIops", false, 0, 1000000000),
    NUM("pricePerHour", true, 0, 1000),
    {"burstable", BT_OBJECT | BT_NULL, false, false, 0, 0, NULL, burstable, 0},
    END,
};

static const struct body_field size_update[] = {
    NUM("pricePerHour", false, 0, 1000),
    INT("maxDataDisks", false, 0, 6),
    INT("maxDiskIops", false, 0, 1000000000),
    END,
};

static const struct body_field image_create[] = {
    NAME("name", true),
    STR("source", true, check_abs_path),
    STR("format", false, check_image_format),
    STR("bootMode", false, check_boot_mode),
    STR("kernel", false, check_abs_path),
    {"initrd", BT_STRING | BT_NULL, false, false, 0, 0, check_abs_path, NULL, 0},
    STRLEN("kernelArgs", false, 0, 1024),
    STR("provisioning", false, check_provisioning),
    STRLEN("os", false, 1, 128),
    END,
};

static const struct body_field disk_create[] = {
    NAME("name", true),   INT("sizeGiB", false, 1, 32767), STR("tier", false, check_tier),
    NAME("image", false), NAME("snapshot", false),         STR("caching", false, check_caching),
    END,
};

static const struct body_field disk_update[] = {
    INT("sizeGiB", false, 1, 32767),
    STR("tier", false, check_tier),
    STR("caching", false, check_caching),
    END,
};

static const struct body_field snapshot_create[] = {
    NAME("name", true),
    NAME("disk", true),
    END,
};

static const struct body_field subnet_create[] = {
    NAME("name", true),
    STR("addressPrefix", true, check_cidr),
    NAME_OR_NULL("nsg"),
    END,
};

static const struct body_field vnet_create[] = {
    NAME("name", true),
    {"addressSpaces", BT_ARRAY, true, true, 1, 16, check_cidr, NULL, BT_STRING},
    {"subnets", BT_ARRAY, false, true, 0, 64, NULL, subnet_create, BT_OBJECT},
    END,
};

static const struct body_field vnet_update[] = {
    {"addressSpaces", BT_ARRAY, true, true, 1, 16, check_cidr, NULL, BT_STRING},
    END,
};

static const struct body_field subnet_update[] = {
    {"nsg", BT_STRING | BT_NULL, true, false, 0, 0, check_name, NULL, 0},
    END,
};

static const struct body_field rule[] = {
    STR("name", true, check_rule_name),
    INT("priority", true, 100, 4096),
    STR("direction", true, check_direction),
    STR("access", true, check_access),
    STR("protocol", false, check_nsg_protocol),
    STR("sourceAddressPrefix", false, check_nsg_prefix),
    {"sourceAddressPrefixes", BT_ARRAY, false, true, 1, 32, check_nsg_prefix, NULL, BT_STRING},
    STR("sourcePortRange", false, check_nsg_ports),
    STR("destinationAddressPrefix", false, check_nsg_prefix),
    {"destinationAddressPrefixes", BT_ARRAY, false, true, 1, 32, check_nsg_prefix, NULL, BT_STRING},
    STR("destinationPortRange", false, check_nsg_ports),
    STRLEN("description", false, 0, 140),
    END,
};

static const struct body_field rule_put[] = {
    STR("name", false, check_rule_name),
    INT("priority", true, 100, 4096),
    STR("direction", true, check_direction),
    STR("access", true, check_access),
    STR("protocol", false, check_nsg_protocol),
    STR("sourceAddressPrefix", false, check_nsg_prefix),
    {"sourceAddressPrefixes", BT_ARRAY, false, true, 1, 32, check_nsg_prefix, NULL, BT_STRING},
    STR("sourcePortRange", false, check_nsg_ports),
    STR("destinationAddressPrefix", false, check_nsg_prefix),
    {"destinationAddressPrefixes", BT_ARRAY, false, true, 1, 32, check_nsg_prefix, NULL, BT_STRING},
    STR("destinationPortRange", false, check_nsg_ports),
    STRLEN("description", false, 0, 140),
    END,
};

static const struct body_field nsg_create[] = {
    NAME("name", true),
    {"rules", BT_ARRAY, false, true, 0, 200, NULL, rule, BT_OBJECT},
    END,
};

static const struct body_field pip_port[] = {
    STR("protocol", true, check_pip_protocol),
    INT("port", true, 1, 65535),
    INT("hostPort", false, 1024, 65535),
    END,
};

static const struct body_field pip_create[] = {
    NAME("name", true),
    {"ports", BT_ARRAY, false, true, 0, 16, NULL, pip_port, BT_OBJECT},
    END,
};

static const struct body_field pip_update[] = {
    {"ports", BT_ARRAY, true, true, 0, 16, NULL, pip_port, BT_OBJECT},
    END,
};

static const struct body_field nic_create[] = {
    NAME("name", true),
    NAME("vnet", true),
    NAME("subnet", true),
    STR("privateIp", false, check_ipv4),
    NAME_OR_NULL("nsg"),
    NAME_OR_NULL("publicIp"),
    END,
};

static const struct body_field nic_update[] = {
    NAME_OR_NULL("nsg"),
    NAME_OR_NULL("publicIp"),
    END,
};

/* What a VM's delete does with a disk its create makes (Azure's
 * deleteOption): Delete (the default) or Detach. */
static int check_delete_option(const json_t *v, const char *target, struct kerr *e)
{
    const char *s = json_string_value(v);
    if (s && (!strcasecmp(s, "Delete") || !strcasecmp(s, "Detach"))) return 0;
    return kerr_invalid(e, target, "%s: '%.40s' is not Delete or Detach", target, s ? s : "");
}

static const struct body_field os_disk[] = {
    STR("tier", false, check_tier),
    INT("sizeGiB", false, 1, 32767),
    STR("deleteOption", false, check_delete_option),
    STR("caching", false, check_caching),
    END,
};

static const struct body_field data_disk[] = {
    NAME("name", false),
    INT("sizeGiB", false, 1, 32767),
    STR("tier", false, check_tier),
    NAME("disk", false),
    INT("lun", false, 0, 5),
    STR("deleteOption", false, check_delete_option),
    STR("caching", false, check_caching),
    END,
};

static int check_bool_or_name(const json_t *v, const char *target, struct kerr *e)
{
    return json_is_string(v) ? check_name(v, target, e) : 0;
}

static const struct body_field os_profile[] = {
    STR("adminUsername", false, check_admin_username),
    {"sshPublicKeys", BT_ARRAY, false, true, 1, 16, check_ssh_public_key, NULL, BT_STRING},
    STR("adminPassword", false, check_admin_password),
    END,
};

static const struct body_field vm_create[] = {
    NAME("name", true),
    NAME("size", true),
    STR("image", false, check_image_ref),
    {"osProfile", BT_OBJECT, false, false, 0, 0, NULL, os_profile, 0},
    {"osDisk", BT_OBJECT, false, false, 0, 0, NULL, os_disk, 0},
    {"dataDisks", BT_ARRAY, false, true, 0, 6, NULL, data_disk, BT_OBJECT},
    {"networkInterfaces", BT_ARRAY, false, true, 1, 4, check_name, NULL, BT_STRING},
    NAME("vnet", false),
    NAME("subnet", false),
    STR("privateIp", false, check_ipv4),
    NAME_OR_NULL("nsg"),
    {"publicIp", BT_BOOL | BT_STRING, false, false, 0, 0, check_bool_or_name, NULL, 0},
    STR("userData", false, check_user_data),
    BOOL("dedicated"),
    NAME("host", false),
    TAGS,
    END,
};

static const struct body_field vm_open_port[] = {
    INT("port", true, 1, 65535),
    STR("protocol", false, check_pip_protocol),
    INT("priority", false, 100, 4096),
    END,
};

static const struct body_field vm_run_command[] = {
    STRLEN("script", true, 1, RUNCMD_SCRIPT_MAX),
    INT("timeoutSeconds", false, 1, 3600),
    END,
};

static const struct body_field vm_resize[] = {
    NAME("size", true),
    BOOL("restart"),
    END,
};

static const struct body_field vm_attach[] = {
    NAME("disk", false),
    INT("lun", false, 0, 5),
    INT("sizeGiB", false, 1, 32767),
    STR("tier", false, check_tier),
    NAME("name", false),
    STR("caching", false, check_caching),
    END,
};

static int check_probe_protocol(const json_t *v, const char *target, struct kerr *e)
{
    const char *s = json_string_value(v);
    if (s && (!strcasecmp(s, "Tcp") || !strcasecmp(s, "Http"))) return 0;
    return kerr_invalid(e, target, "%s: '%.40s' is not Tcp or Http", target, s ? s : "");
}

static const struct body_field lb_probe[] = {
    STR("protocol", false, check_probe_protocol),
    STRLEN("path", false, 1, 200),
    INT("intervalSeconds", false, 1, 300),
    END,
};

static const struct body_field lb_model[] = {
    INT("port", true, 1, 65535),
    {"probe", BT_OBJECT, false, false, 0, 0, NULL, lb_probe, 0},
    END,
};

static const struct body_field vmss_os_disk[] = {
    STR("tier", false, check_tier),
    END,
};

static const struct body_field vmss_create[] = {
    NAME("name", true),
    NAME("size", true),
    STR("image", false, check_image_ref),
    INT("capacity", false, 0, 100),
    {"osProfile", BT_OBJECT, false, false, 0, 0, NULL, os_profile, 0},
    {"osDisk", BT_OBJECT, false, false, 0, 0, NULL, vmss_os_disk, 0},
    NAME("vnet", false),
    NAME("subnet", false),
    NAME("nsg", false),
    STR("userData", false, check_user_data),
    {"loadBalancer", BT_OBJECT | BT_NULL, false, false, 0, 0, NULL, lb_model, 0},
    TAGS,
    END,
};

static const struct body_field vmss_update[] = {
    NAME("size", false),
    STR("image", false, check_image_ref),
    {"userData", BT_STRING | BT_NULL, false, false, 0, 0, check_user_data, NULL, 0},
    TAGS,
    END,
};

static const struct body_field vmss_scale[] = {
    INT("capacity", true, 0, 100),
    END,
};

static const struct body_field metric_trigger[] = {
    STRLEN("metricName", false, 1, 64),
    STRLEN("timeGrain", false, 1, 32),
    STRLEN("statistic", false, 1, 32),
    STRLEN("timeWindow", false, 1, 32),
    STRLEN("timeAggregation", false, 1, 32),
    STRLEN("operator", true, 1, 32),
    NUM("threshold", true, -1e9, 1e9),
    END,
};

static const struct body_field scale_action[] = {
    STRLEN("direction", true, 1, 32),
    STRLEN("type", false, 1, 32),
    INT("value", false, 0, 1000),
    STRLEN("cooldown", false, 1, 32),
    END,
};

static const struct body_field autoscale_rule[] = {
    {"metricTrigger", BT_OBJECT, true, false, 0, 0, NULL, metric_trigger, 0},
    {"scaleAction", BT_OBJECT, true, false, 0, 0, NULL, scale_action, 0},
    END,
};

static const struct body_field autoscale_create[] = {
    NAME("name", true),
    NAME("scaleSet", true),
    INT("minimum", true, 0, 100),
    INT("maximum", true, 0, 100),
    INT("default", false, 0, 100),
    BOOL("enabled"),
    {"rules", BT_ARRAY, false, true, 0, AS_MAX_RULES, NULL, autoscale_rule, BT_OBJECT},
    END,
};

static const struct body_field autoscale_update[] = {
    INT("minimum", false, 0, 100),
    INT("maximum", false, 0, 100),
    INT("default", false, 0, 100),
    BOOL("enabled"),
    END,
};

static const struct {
    const char *name;
    const struct body_field *fields;
} kinds[REQ_COUNT] = {
    [REQ_GROUP_CREATE] = {"resource group create", group_create},
    [REQ_GROUP_UPDATE] = {"resource group update", tags_only},
    [REQ_GROUP_PUT] = {"resource group create or update", group_put},
    [REQ_HOST_UPDATE] = {"host update", host_update},
    [REQ_SIZE_CREATE] = {"size create", size_create},
    [REQ_SIZE_UPDATE] = {"size update", size_update},
    [REQ_IMAGE_CREATE] = {"image create", image_create},
    [REQ_DISK_CREATE] = {"disk create", disk_create},
    [REQ_DISK_UPDATE] = {"disk update", disk_update},
    [REQ_SNAPSHOT_CREATE] = {"snapshot create", snapshot_create},
    [REQ_VNET_CREATE] = {"virtual network create", vnet_create},
    [REQ_VNET_UPDATE] = {"virtual network update", vnet_update},
    [REQ_SUBNET_CREATE] = {"subnet create", subnet_create},
    [REQ_SUBNET_UPDATE] = {"subnet update", subnet_update},
    [REQ_NSG_CREATE] = {"network security group create", nsg_create},
    [REQ_RULE] = {"security rule", rule},
    [REQ_RULE_PUT] = {"security rule replace", rule_put},
    [REQ_PIP_CREATE] = {"public IP create", pip_create},
    [REQ_PIP_UPDATE] = {"public IP update", pip_update},
    [REQ_NIC_CREATE] = {"network interface create", nic_create},
    [REQ_NIC_UPDATE] = {"network interface update", nic_update},
    [REQ_VM_CREATE] = {"virtual machine create", vm_create},
    [REQ_VM_UPDATE] = {"virtual machine update", tags_only},
    [REQ_VM_RESIZE] = {"virtual machine resize", vm_resize},
    [REQ_VM_ATTACH] = {"data disk attach", vm_attach},
    [REQ_VM_OPEN_PORT] = {"virtual machine open port", vm_open_port},
    [REQ_VM_RUN_COMMAND] = {"virtual machine run command", vm_run_command},
    [REQ_VMSS_CREATE] = {"scale set create", vmss_create},
    [REQ_VMSS_UPDATE] = {"scale set update", vmss_update},
    [REQ_VMSS_SCALE] = {"scale set scale", vmss_scale},
    [REQ_AUTOSCALE_CREATE] = {"autoscale setting create", autoscale_create},
    [REQ_AUTOSCALE_UPDATE] = {"autoscale setting update", autoscale_update},
    [REQ_AUTOSCALE_RULE] = {"autoscale rule", autoscale_rule},
};

const char *request_name(enum req_kind k)
{
    return (unsigned)k < REQ_COUNT ? kinds[k].name : "?";
}

json_t *request_parse(const char *text, size_t len, struct kerr *e)
{
    json_error_t jerr;
    json_t *body = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!body) {
        kerr_set(e, 400, "InvalidJson", NULL,
                 "the request body is not valid JSON: %s (line %d, column %d)", jerr.text,
                 jerr.line, jerr.column);
        return NULL;
    }
    if (!json_is_object(body)) {
        kerr_set(e, 400, "InvalidJson", NULL, "the request body must be a JSON object, not %s",
                 body_type_name(body));
        json_decref(body);
        return NULL;
    }
    return body;
}

static int check_rule_cross(const json_t *r, const char *prefix, struct kerr *e)
{
    struct rule_norm n;
    if (rule_normalize(r, prefix, &n, e) < 0) return -1;
    rule_norm_free(&n);
    return 0;
}

/* Rules of one NSG in one request: unique names, unique priority per direction. */
static int check_rules(const json_t *rules, struct kerr *e)
{
    size_t i, j;
    const json_t *a, *b;
    char t[64];
    json_array_foreach(rules, i, a)
    {
        snprintf(t, sizeof(t), "rules[%zu]", i);
        if (check_rule_cross(a, t, e) < 0) return -1;
        for (j = 0; j < i; j++) {
            b = json_array_get(rules, j);
            if (strcasecmp(body_str(a, "name", ""), body_str(b, "name", "")) == 0) {
                snprintf(t, sizeof(t), "rules[%zu].name", i);
                return kerr_invalid(e, t, "%s: rules[%zu] already has the name '%s'", t, j,
                                    body_str(a, "name", ""));
            }
            if (body_int(a, "priority", 0) == body_int(b, "priority", 0) &&
                canon_direction(body_str(a, "direction", "")) ==
                    canon_direction(body_str(b, "direction", ""))) {
                snprintf(t, sizeof(t), "rules[%zu].priority", i);
                return kerr_invalid(e, t, "%s: rules[%zu] already has priority %lld for %s", t, j,
                                    (long long)body_int(a, "priority", 0),
                                    canon_direction(body_str(a, "direction", "")));
            }
        }
    }
    return 0;
}

static int check_vnet(const json_t *body, struct kerr *e)
{
    const json_t *spaces = json_object_get(body, "addressSpaces");
    size_t n = json_array_size(spaces), i;
    struct net_cidr sp[16];
    const json_t *el;
    json_array_foreach(spaces, i, el)
    {
        if (i >= 16) break;
        net_cidr_parse(json_string_value(el), &sp[i], false, false);
    }
    if (check_spaces_disjoint(sp, n < 16 ? n : 16, "addressSpaces", e) < 0) return -1;
    const json_t *subnets = json_object_get(body, "subnets");
    struct net_cidr sub[64];
    const char *names[64];
    json_array_foreach(subnets, i, el)
    {
        if (i >= 64) break;
        char t[64];
        snprintf(t, sizeof(t), "subnets[%zu].addressPrefix", i);
        net_cidr_parse(body_str(el, "addressPrefix", ""), &sub[i], false, false);
        if (check_subnet_fits(sub[i], sp, n < 16 ? n : 16, sub, names, i, t, e) < 0) return -1;
        names[i] = body_str(el, "name", "");
        for (size_t j = 0; j < i; j++) {
            if (strcasecmp(names[j], names[i]) == 0) {
                snprintf(t, sizeof(t), "subnets[%zu].name", i);
                return kerr_invalid(e, t, "%s: subnets[%zu] already has the name '%s'", t, j,
                                    names[i]);
            }
        }
    }
    return 0;
}

static int check_pip_ports(const json_t *ports, struct kerr *e)
{
    size_t i, j;
    const json_t *a, *b;
    char t[64];
    json_array_foreach(ports, i, a)
    {
        for (j = 0; j < i; j++) {
            b = json_array_get(ports, j);
            bool same_proto = canon_pip_protocol(body_str(a, "protocol", "")) ==
                              canon_pip_protocol(body_str(b, "protocol", ""));
            if (same_proto && body_int(a, "port", 0) == body_int(b, "port", 0)) {
                snprintf(t, sizeof(t), "ports[%zu].port", i);
                return kerr_invalid(e, t, "%s: ports[%zu] already maps port %lld", t, j,
                                    (long long)body_int(a, "port", 0));
            }
            if (same_proto && body_has(a, "hostPort") &&
                body_int(a, "hostPort", 0) == body_int(b, "hostPort", -1)) {
                snprintf(t, sizeof(t), "ports[%zu].hostPort", i);
                return kerr_invalid(e, t, "%s: ports[%zu] already uses host port %lld", t, j,
                                    (long long)body_int(a, "hostPort", 0));
            }
        }
    }
    return 0;
}

/* osProfile's fields together (a VM's or a scale set's model). */
static int check_os_profile_fields(const json_t *body, struct kerr *e)
{
    const json_t *osp = json_object_get(body, "osProfile");
    if (osp && !body_has(osp, "adminUsername") &&
        (body_has(osp, "sshPublicKeys") || body_has(osp, "adminPassword")))
        return kerr_missing(e, "osProfile.adminUsername",
                            "osProfile.adminUsername: missing: SSH keys and a password are the "
                            "admin account's; give its user name (e.g. azureuser)");
    if (body_has(osp, "adminUsername") && !body_has(osp, "sshPublicKeys") &&
        !body_has(osp, "adminPassword"))
        return kerr_missing(e, "osProfile.sshPublicKeys",
                            "osProfile.sshPublicKeys: missing: the admin account needs SSH keys "
                            "(or, where the image takes one, a password) to log in with");
    return 0;
}

static int check_vm_create(const json_t *body, struct kerr *e)
{
    if (check_os_profile_fields(body, e) < 0) return -1;
    static const char *const implicit[] = {"vnet", "subnet", "privateIp", "nsg", "publicIp"};
    if (body_has(body, "networkInterfaces")) {
        for (size_t i = 0; i < sizeof(implicit) / sizeof(implicit[0]); i++)
            if (body_has(body, implicit[i]))
                return kerr_invalid(e, implicit[i],
                                    "%s: give networkInterfaces or the implicit NIC's settings "
                                    "(vnet, subnet, privateIp, nsg, publicIp), not both",
                                    implicit[i]);
    }
    const json_t *disks = json_object_get(body, "dataDisks");
    size_t i;
    const json_t *d;
    char t[64];
    json_array_foreach(disks, i, d)
    {
        bool existing = body_has(d, "disk");
        snprintf(t, sizeof(t), "dataDisks[%zu]", i);
        if (existing && (body_has(d, "sizeGiB") || body_has(d, "tier") || body_has(d, "name")))
            return kerr_invalid(e, t,
                                "%s: give \"disk\" (an existing disk) or the new disk's "
                                "sizeGiB/tier/name, not both",
                                t);
        if (!existing && !body_has(d, "sizeGiB"))
            return kerr_missing(e, t,
                                "%s: give \"sizeGiB\" for a new disk or \"disk\" to attach one", t);
        if (!body_has(d, "lun")) continue;
        for (size_t j = 0; j < i; j++) {
            const json_t *o = json_array_get(disks, j);
            if (body_has(o, "lun") && body_int(o, "lun", -1) == body_int(d, "lun", -2)) {
                snprintf(t, sizeof(t), "dataDisks[%zu].lun", i);
                return kerr_invalid(e, t, "%s: dataDisks[%zu] already uses LUN %lld", t, j,
                                    (long long)body_int(d, "lun", 0));
            }
        }
    }
    const json_t *nics = json_object_get(body, "networkInterfaces");
    json_array_foreach(nics, i, d)
    {
        for (size_t j = 0; j < i; j++) {
            if (strcasecmp(json_string_value(d), json_string_value(json_array_get(nics, j))) == 0) {
                snprintf(t, sizeof(t), "networkInterfaces[%zu]", i);
                return kerr_invalid(e, t, "%s: '%s' is listed twice", t, json_string_value(d));
            }
        }
    }
    return 0;
}

int request_check(enum req_kind k, const json_t *body, struct kerr *e)
{
    if ((unsigned)k >= REQ_COUNT) return kerr_internal(e, "unknown request kind");
    if (body_check(body, kinds[k].fields, "", e) < 0) return -1;
    switch (k) {
    case REQ_DISK_CREATE:
        if (body_has(body, "image") && body_has(body, "snapshot"))
            return kerr_invalid(e, "snapshot", "snapshot: give image or snapshot, not both");
        if (!body_has(body, "sizeGiB") && !body_has(body, "image") && !body_has(body, "snapshot"))
            return kerr_missing(e, "sizeGiB",
                                "sizeGiB: missing (required for an empty disk; or give image "
                                "or snapshot)");
        return 0;
    case REQ_VNET_CREATE:
    case REQ_VNET_UPDATE: return check_vnet(body, e);
    case REQ_NSG_CREATE: return check_rules(json_object_get(body, "rules"), e);
    case REQ_RULE:
    case REQ_RULE_PUT: return check_rule_cross(body, "", e);
    case REQ_PIP_CREATE:
    case REQ_PIP_UPDATE: return check_pip_ports(json_object_get(body, "ports"), e);
    case REQ_VM_CREATE: return check_vm_create(body, e);
    case REQ_VMSS_CREATE:
        if (strlen(body_str(body, "name", "")) > 56)
            return kerr_invalid(e, "name",
                                "name: at most 56 characters for a scale set (its instances are "
                                "named NAME_0, NAME_1, ...)");
        return check_os_profile_fields(body, e);
    case REQ_AUTOSCALE_CREATE: {
        int64_t lo = body_int(body, "minimum", 0), hi = body_int(body, "maximum", 0);
        int64_t d = body_int(body, "default", lo);
        if (lo > hi)
            return kerr_invalid(e, "maximum", "maximum: %lld is less than minimum %lld",
                                (long long)hi, (long long)lo);
        if (d < lo || d > hi)
            return kerr_invalid(e, "default", "default: %lld is outside minimum-maximum %lld-%lld",
                                (long long)d, (long long)lo, (long long)hi);
        size_t i;
        const json_t *r;
        json_array_foreach(json_object_get(body, "rules"), i, r)
        {
            char prefix[32];
            struct as_rule ar;
            snprintf(prefix, sizeof(prefix), "rules[%zu].", i);
            if (as_rule_parse(r, prefix, &ar, e) < 0) return -1;
        }
        return 0;
    }
    case REQ_AUTOSCALE_RULE: {
        struct as_rule ar;
        return as_rule_parse(body, "", &ar, e);
    }
    case REQ_VM_ATTACH:
        if (body_has(body, "disk") &&
            (body_has(body, "sizeGiB") || body_has(body, "tier") || body_has(body, "name")))
            return kerr_invalid(e, "disk",
                                "disk: give \"disk\" (an existing disk) or a new disk's "
                                "sizeGiB/tier/name, not both");
        if (!body_has(body, "disk") && !body_has(body, "sizeGiB"))
            return kerr_missing(e, "disk",
                                "disk: missing (give \"disk\" to attach a disk, or \"sizeGiB\" "
                                "for a new one)");
        return 0;
    case REQ_SIZE_CREATE:
        if (body_has(body, "burstable") && !json_is_null(json_object_get(body, "burstable")) &&
            json_integer_value(json_object_get(json_object_get(body, "burstable"), "maxCredits")) <
                json_integer_value(
                    json_object_get(json_object_get(body, "burstable"), "initialCredits")))
            return kerr_invalid(e, "burstable.maxCredits",
                                "burstable.maxCredits: must be at least initialCredits");
        return 0;
    default: return 0;
    }
}
