/*
 * vnet.c - kumo vnet: virtual networks (create, list, show, update,
 * delete); their subnets are subnet.c ('kumo vnet subnet' is 'kumo
 * subnet').
 */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *subnet_summary(const json_t *vnet)
{
    char *out = fmt_str("%s", "");
    size_t i;
    const json_t *s;
    json_array_foreach(json_object_get(vnet, "subnets"), i, s)
    {
        out = fmt_str("%s%s%s %s", out, *out ? ", " : "", member_text(s, "name"),
                      member_text(s, "addressPrefix"));
    }
    return *out ? out : "-";
}

static const struct column vnet_columns[] = {
    COL("Name", "name", CELL_TEXT),
    COL("AddressSpaces", "addressSpaces", CELL_LIST),
    COL_GET("Subnets", subnet_summary),
    COL("State", "provisioningState", CELL_TEXT),
    {0},
};

static void vnet_view(struct cli *c, const json_t *v)
{
    struct table *t = kv_new();
    kv_add(t, "Name", member_text(v, "name"));
    kv_add(t, "Resource group", member_text(v, "resourceGroup"));
    kv_add(t, "Address spaces", join_strings(json_object_get(v, "addressSpaces"), ", "));
    size_t i;
    const json_t *s;
    json_array_foreach(json_object_get(v, "subnets"), i, s)
    {
        kv_add(t, fmt_str("Subnet %s", member_text(s, "name")),
               fmt_str("%s (gateway %s, %lld free addresses, NSG %s)",
                       member_text(s, "addressPrefix"), member_text(s, "gateway"),
                       member_int(s, "availableAddresses"), member_text(s, "nsg")));
    }
    kv_add(t, "State", fmt_state(v));
    kv_add(t, "Created", fmt_time(member_str(v, "createdAt")));
    kv_print(t, c->out);
}

static const struct resource vnet = {
    .what = "virtual network",
    .collection = "virtualNetworks",
    .scope = RES_GROUP,
    .columns = vnet_columns,
    .view = vnet_view,
    .delete_note = " and its subnets",
};

/* The first /24 of an address space (or the space itself when smaller). */
static const char *first_subnet(const char *space)
{
    unsigned a, b, cc, d, len;
    if (sscanf(space, "%u.%u.%u.%u/%u", &a, &b, &cc, &d, &len) != 5) return NULL;
    return len >= 24 ? space : fmt_str("%u.%u.%u.0/24", a, b, cc);
}

static json_t *string_array(const char *const *v, int n)
{
    json_t *arr = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(arr, json_string(v[i]));
    return arr;
}

static int vnet_create(struct cli *c, struct args *a)
{
    const char *n;
    char *p = res_path(c, a, &vnet, false, NULL, NULL);
    if (!p || !(n = need_name(c, a, vnet.what))) {
        free(p);
        return KX_USAGE;
    }
    int np;
    const char *const *pre = arg_list(a, "address-prefixes", &np);
    json_t *spaces = string_array(pre, np);
    if (!np) json_array_append_new(spaces, json_string("10.0.0.0/16"));
    json_t *body = json_pack("{ss so}", "name", n, "addressSpaces", spaces);
    const char *sn = arg_str(a, "subnet-name"), *sp = arg_str(a, "subnet-prefix");
    if (sp && !sn) sn = "default";
    if (sn) {
        if (!sp) sp = first_subnet(np ? pre[0] : "10.0.0.0/16");
        json_t *sub = json_pack("{ss ss}", "name", sn, "addressPrefix", sp ? sp : "");
        json_object_set_new(body, "subnets", json_pack("[o]", sub));
    }
    int rc = send_show(c, "POST", p, body, vnet_view);
    free(p);
    return rc;
}

static int vnet_update(struct cli *c, struct args *a)
{
    char *p = res_path(c, a, &vnet, true, NULL, NULL);
    if (!p) return KX_USAGE;
    int np;
    const char *const *pre = arg_list(a, "address-prefixes", &np);
    if (!np) {
        free(p);
        return usage_error(c, "nothing to change: give --address-prefixes CIDR ... (the new "
                              "list of address spaces)");
    }
    int rc = send_show(c, "PATCH", p, json_pack("{so}", "addressSpaces", string_array(pre, np)),
                       vnet_view);
    free(p);
    return rc;
}

static const struct opt vnet_opts[] = {OPT_G("virtual network"), OPT_N("virtual network"), {0}};
static const struct opt vnet_create_opts[] = {
    OPT_G("virtual network"),
    OPT_N("new virtual network"),
    {"address-prefixes", 0, OPT_LIST, "CIDR", "its address spaces (default 10.0.0.0/16)",
     "addressSpaces"},
    {"subnet-name", 0, OPT_VALUE, "NAME", "also make a subnet of this name", "subnets"},
    {"subnet-prefix|subnet-prefixes", 0, OPT_VALUE, "CIDR",
     "that subnet's prefix (default: the first /24 of the first address space)", "subnets"},
    {0},
};
static const struct opt vnet_update_opts[] = {
    OPT_G("virtual network"),
    OPT_N("virtual network"),
    {"address-prefixes", 0, OPT_LIST, "CIDR", "the new list of address spaces", "addressSpaces"},
    {0},
};

static const struct cmd vnet_create_c = {
    .name = "create",
    .summary = "Create a virtual network",
    .usage = "-g RG -n NAME [--address-prefixes CIDR ...] [--subnet-name S [--subnet-prefix CIDR]]",
    .help = "Create a virtual network: an isolated private address space for NICs. Address "
            "spaces are IPv4 CIDRs of prefix length 8 to 29, with no host bits set.",
    .opts = vnet_create_opts,
    .run = vnet_create,
    .positionals = 1,
    .examples = "  kumo vnet create -g web -n web-vnet --address-prefixes 10.1.0.0/16 "
                "--subnet-name default\n"};
static const struct cmd vnet_list_c =
    RES_LIST(&vnet, "List virtual networks with their subnets", group_filter_opts);
static const struct cmd vnet_show_c = RES_SHOW(&vnet, "Show a virtual network", vnet_opts);
static const struct cmd vnet_update_c = {.name = "update",
                                         .summary = "Replace a virtual network's address spaces",
                                         .usage = "-g RG -n NAME --address-prefixes CIDR ...",
                                         .opts = vnet_update_opts,
                                         .run = vnet_update,
                                         .positionals = 1};
static const struct cmd vnet_delete_c = RES_DELETE(
    &vnet, "Delete a virtual network and its subnets (no NIC may be in them)", vnet_opts);

const struct cmd cmd_vnet = {
    .name = "vnet",
    .summary = "Virtual networks: create, list, show, update, delete, subnet",
    .help = "Virtual networks are isolated private networks for VMs' NICs ('kumo vm create' "
            "makes NAME-vnet unless told otherwise).",
    .sub = (const struct cmd *const[]){&vnet_create_c, &vnet_list_c, &vnet_show_c, &vnet_update_c,
                                       &vnet_delete_c, &cmd_subnet, NULL},
};
