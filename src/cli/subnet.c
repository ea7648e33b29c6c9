/*
 * subnet.c - kumo subnet (also 'kumo vnet subnet'): the subnets of a
 * virtual network (create, list, show, update, delete).
 */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct column subnet_columns[] = {
    COL("Name", "name", CELL_TEXT),       COL("AddressPrefix", "addressPrefix", CELL_TEXT),
    COL("Gateway", "gateway", CELL_TEXT), COL(">FreeIPs", "availableAddresses", CELL_INT),
    COL("NSG", "nsg", CELL_TEXT),         {0},
};

static void subnet_view(struct cli *c, const json_t *s)
{
    struct table *t = kv_new();
    kv_add(t, "Name", member_text(s, "name"));
    kv_add(t, "Address prefix", member_text(s, "addressPrefix"));
    kv_add(t, "Gateway", member_text(s, "gateway"));
    kv_add(t, "Free addresses", fmt_str("%lld", member_int(s, "availableAddresses")));
    kv_add(t, "NSG", member_text(s, "nsg"));
    kv_add(t, "State", fmt_state(s));
    kv_add(t, "Id", member_text(s, "id"));
    kv_print(t, c->out);
}

static const struct resource subnet = {
    .what = "subnet",
    .collection = "subnets",
    .scope = RES_CHILD,
    .parent_collection = "virtualNetworks",
    .parent_opt = "vnet-name",
    .parent_why = "the virtual network the subnet is in",
    .columns = subnet_columns,
    .view = subnet_view,
};

static int subnet_create(struct cli *c, struct args *a)
{
    char *p = res_path(c, a, &subnet, false, NULL, NULL);
    if (!p) return KX_USAGE;
    const char *n = need_name(c, a, subnet.what);
    const char *pre = n ? need_opt(c, a, "address-prefix",
                                   "the subnet's CIDR, inside one of "
                                   "the network's address spaces, e.g. "
                                   "10.0.1.0/24")
                        : NULL;
    if (!pre) {
        free(p);
        return KX_USAGE;
    }
    json_t *body = json_pack("{ss ss}", "name", n, "addressPrefix", pre);
    const char *nsg = arg_str(a, "nsg");
    if (nsg) json_object_set_new(body, "nsg", *nsg ? json_string(nsg) : json_null());
    int rc = send_show(c, "POST", p, body, subnet_view);
    free(p);
    return rc;
}

static int subnet_update(struct cli *c, struct args *a)
{
    char *p = res_path(c, a, &subnet, true, NULL, NULL);
    if (!p) return KX_USAGE;
    const char *nsg = arg_str(a, "nsg");
    if (!nsg) {
        free(p);
        return usage_error(c, "nothing to change: give --nsg NSG (or --nsg \"\" to remove it)");
    }
    int rc =
        send_show(c, "PATCH", p, json_pack("{so}", "nsg", *nsg ? json_string(nsg) : json_null()),
                  subnet_view);
    free(p);
    return rc;
}

#define OPT_VNET                                                                                   \
    {                                                                                              \
        "vnet-name", 0, OPT_VALUE, "VNET", "the virtual network", NULL                             \
    }

static const struct opt subnet_opts[] = {OPT_G("subnet"), OPT_VNET, OPT_N("subnet"), {0}};
static const struct opt subnet_list_opts[] = {OPT_G("subnet"), OPT_VNET, {0}};
static const struct opt subnet_create_opts[] = {
    OPT_G("subnet"),
    OPT_VNET,
    OPT_N("new subnet"),
    {"address-prefix|address-prefixes", 0, OPT_VALUE, "CIDR",
     "inside an address space of the network, /29 or "
     "larger",
     "addressPrefix"},
    {"nsg|network-security-group", 0, OPT_VALUE, "NSG",
     "a network security group for the whole subnet", "nsg"},
    {0},
};
static const struct opt subnet_update_opts[] = {
    OPT_G("subnet"),
    OPT_VNET,
    OPT_N("subnet"),
    {"nsg|network-security-group", 0, OPT_VALUE, "NSG", "the subnet's NSG (\"\" removes it)",
     "nsg"},
    {0},
};

static const struct cmd subnet_create_c = {
    .name = "create",
    .summary = "Create a subnet",
    .usage = "-g RG --vnet-name VNET -n NAME --address-prefix CIDR [--nsg NSG]",
    .opts = subnet_create_opts,
    .run = subnet_create,
    .positionals = 1};
static const struct cmd subnet_list_c =
    RES_LIST(&subnet, "List a virtual network's subnets", subnet_list_opts);
static const struct cmd subnet_show_c = RES_SHOW(&subnet, "Show a subnet", subnet_opts);
static const struct cmd subnet_update_c = {.name = "update",
                                           .summary = "Set or remove a subnet's NSG",
                                           .usage = "-g RG --vnet-name VNET -n NAME --nsg NSG|\"\"",
                                           .opts = subnet_update_opts,
                                           .run = subnet_update,
                                           .positionals = 1};
static const struct cmd subnet_delete_c =
    RES_DELETE(&subnet, "Delete a subnet (no NIC may be in it)", subnet_opts);

const struct cmd cmd_subnet = {
    .name = "subnet",
    .summary = "Subnets of a virtual network: create, list, show, update, delete",
    .help = "Subnets divide a virtual network; NICs get their private IP from one (the first "
            "four addresses and the last are reserved). Also 'kumo vnet subnet ...'.",
    .sub = (const struct cmd *const[]){&subnet_create_c, &subnet_list_c, &subnet_show_c,
                                       &subnet_update_c, &subnet_delete_c, NULL},
};
