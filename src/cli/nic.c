/*
 * nic.c - kumo nic: network interfaces, which connect a VM to a subnet
 * (create, list, show, update, delete).
 */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *nic_subnet(const json_t *n)
{
    return fmt_str("%s/%s", member_text(n, "vnet"), member_text(n, "subnet"));
}

static const struct column nic_columns[] = {
    COL("Name", "name", CELL_TEXT),
    COL_GET("Subnet", nic_subnet),
    COL("PrivateIp", "privateIp", CELL_TEXT),
    COL("Allocation", "privateIpAllocation", CELL_TEXT),
    COL("MAC", "macAddress", CELL_TEXT),
    COL("NSG", "nsg", CELL_TEXT),
    COL("PublicIp", "publicIp", CELL_TEXT),
    COL("VM", "virtualMachine", CELL_TEXT),
    {0},
};

static void nic_view(struct cli *c, const json_t *n)
{
    struct table *t = kv_new();
    kv_add(t, "Name", member_text(n, "name"));
    kv_add(t, "Resource group", member_text(n, "resourceGroup"));
    kv_add(t, "Subnet", fmt_str("%s/%s", member_text(n, "vnet"), member_text(n, "subnet")));
    kv_add(t, "Private IP",
           fmt_str("%s (%s)", member_text(n, "privateIp"), member_text(n, "privateIpAllocation")));
    kv_add(t, "MAC", member_text(n, "macAddress"));
    kv_add(t, "NSG", member_text(n, "nsg"));
    kv_add(t, "Public IP", member_text(n, "publicIp"));
    kv_add(t, "VM", member_text(n, "virtualMachine"));
    kv_add(t, "State", fmt_state(n));
    kv_print(t, c->out);
}

static const struct resource nic = {
    .what = "NIC",
    .collection = "networkInterfaces",
    .scope = RES_GROUP,
    .columns = nic_columns,
    .view = nic_view,
};

static void set_name_or_null(json_t *body, const char *key, const char *v)
{
    if (v) json_object_set_new(body, key, *v ? json_string(v) : json_null());
}

static int nic_create(struct cli *c, struct args *a)
{
    const char *n;
    char *p = res_path(c, a, &nic, false, NULL, NULL);
    if (!p || !(n = need_name(c, a, nic.what))) {
        free(p);
        return KX_USAGE;
    }
    const char *v = need_opt(c, a, "vnet-name", "the virtual network of the NIC");
    const char *s = v ? need_opt(c, a, "subnet", "the subnet of that network") : NULL;
    if (!s) {
        free(p);
        return KX_USAGE;
    }
    json_t *body = json_pack("{ss ss ss}", "name", n, "vnet", v, "subnet", s);
    if (arg_str(a, "private-ip"))
        json_object_set_new(body, "privateIp", json_string(arg_str(a, "private-ip")));
    set_name_or_null(body, "nsg", arg_str(a, "nsg"));
    set_name_or_null(body, "publicIp", arg_str(a, "public-ip"));
    int rc = send_show(c, "POST", p, body, nic_view);
    free(p);
    return rc;
}

static int nic_update(struct cli *c, struct args *a)
{
    char *p = res_path(c, a, &nic, true, NULL, NULL);
    if (!p) return KX_USAGE;
    json_t *body = json_object();
    set_name_or_null(body, "nsg", arg_str(a, "nsg"));
    set_name_or_null(body, "publicIp", arg_str(a, "public-ip"));
    if (!json_object_size(body)) {
        json_decref(body);
        free(p);
        return usage_error(c, "nothing to change: give --nsg NSG or --public-ip NAME (\"\" "
                              "removes either)");
    }
    int rc = send_show(c, "PATCH", p, body, nic_view);
    free(p);
    return rc;
}

static const struct opt nic_opts[] = {OPT_G("NIC"), OPT_N("NIC"), {0}};
static const struct opt nic_create_opts[] = {
    OPT_G("NIC"),
    OPT_N("new NIC"),
    {"vnet-name", 0, OPT_VALUE, "VNET", "its virtual network", "vnet"},
    {"subnet", 0, OPT_VALUE, "SUBNET", "its subnet", "subnet"},
    {"private-ip|private-ip-address", 0, OPT_VALUE, "IP",
     "a static private IP (default: the next free one)", "privateIp"},
    {"nsg|network-security-group", 0, OPT_VALUE, "NSG", "its network security group", "nsg"},
    {"public-ip|public-ip-address", 0, OPT_VALUE, "NAME", "a public IP of the group", "publicIp"},
    {0},
};
static const struct opt nic_update_opts[] = {
    OPT_G("NIC"),
    OPT_N("NIC"),
    {"nsg|network-security-group", 0, OPT_VALUE, "NSG",
     "its NSG (\"\" removes it; applies at once)", "nsg"},
    {"public-ip|public-ip-address", 0, OPT_VALUE, "NAME",
     "its public IP (\"\" removes it; applies when the VM "
     "next starts)",
     "publicIp"},
    {0},
};

static const struct cmd nic_create_c = {
    .name = "create",
    .summary = "Create a NIC in a subnet",
    .usage = "-g RG -n NAME --vnet-name VNET --subnet SUBNET [--private-ip IP] [--nsg NSG] "
             "[--public-ip NAME]",
    .opts = nic_create_opts,
    .run = nic_create,
    .positionals = 1};
static const struct cmd nic_list_c = RES_LIST(&nic, "List NICs with their IPs", group_filter_opts);
static const struct cmd nic_show_c = RES_SHOW(&nic, "Show a NIC", nic_opts);
static const struct cmd nic_update_c = {
    .name = "update",
    .summary = "Change a NIC's NSG or public IP",
    .usage = "-g RG -n NAME [--nsg NSG|\"\"] [--public-ip NAME|\"\"]",
    .opts = nic_update_opts,
    .run = nic_update,
    .positionals = 1};
static const struct cmd nic_delete_c = RES_DELETE(&nic, "Delete a NIC no VM uses", nic_opts);
const struct cmd cmd_nic = {
    .name = "nic",
    .summary = "Network interfaces: create, list, show, update, delete",
    .help = "A NIC connects a VM to a subnet, with a private IP, optionally an NSG and a "
            "public IP. 'kumo vm create' makes NAME-nic unless given --nics.",
    .sub = (const struct cmd *const[]){&nic_create_c, &nic_list_c, &nic_show_c, &nic_update_c,
                                       &nic_delete_c, NULL},
};
