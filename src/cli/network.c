/*
 * network.c - virtual networks and their subnets, network security groups
 * and their rules, public IPs and network interfaces (kumo vnet, subnet,
 * nsg, nsg rule, public-ip, nic).
 */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OPT_G(what)                                                                                \
    {                                                                                              \
        "resource-group", 'g', OPT_VALUE, "RG",                                                    \
            "the " what "'s resource group (default: "                                             \
            "$KUMO_GROUP)",                                                                        \
            NULL                                                                                   \
    }
#define OPT_GL(what)                                                                               \
    {                                                                                              \
        "resource-group", 'g', OPT_VALUE, "RG",                                                    \
            "only this group (default: $KUMO_GROUP, else every group)", NULL                       \
    }
#define OPT_N(what)                                                                                \
    {                                                                                              \
        "name", 'n', OPT_VALUE, "NAME", "the " what, "name"                                        \
    }

/* Show a freshly made or changed resource. */
static void print_res(struct cli *c, const json_t *j, void (*view)(struct cli *, const json_t *))
{
    if (c->out == OUT_JSON)
        print_json(j);
    else
        view(c, j);
}

/* POST/PATCH/PUT and print the answer. */
static int send_and_show(struct cli *c, const char *method, const char *path, json_t *body,
                         void (*view)(struct cli *, const json_t *))
{
    json_t *j;
    int rc = api(c, method, path, body, &j);
    if (rc) return rc;
    print_res(c, j, view);
    json_decref(j);
    return KX_OK;
}

/* -g and -n, then a path made of them. */
static char *gn_path(struct cli *c, const struct args *a, const char *what, const char *fmt,
                     const char **g_out, const char **n_out)
{
    const char *g = need_group(c, a), *n = g ? need_name(c, a, what) : NULL;
    if (!n) return NULL;
    if (g_out) *g_out = g;
    if (n_out) *n_out = n;
    return upath(fmt, g, n);
}

/* ---- virtual networks ---- */

static const char *subnet_summary(const json_t *subnets)
{
    char *out = tmp("%s", "");
    size_t i;
    const json_t *s;
    json_array_foreach(subnets, i, s) out =
        tmp("%s%s%s %s", out, *out ? ", " : "", jsn(s, "name"), jsn(s, "addressPrefix"));
    return *out ? out : "-";
}

static void vnet_row(const json_t *v, const char **cells)
{
    cells[0] = js(v, "name");
    cells[1] = join_strings(json_object_get(v, "addressSpaces"), ",");
    cells[2] = subnet_summary(json_object_get(v, "subnets"));
    cells[3] = js(v, "provisioningState");
}

static const struct view vnet_view = {
    (const char *[]){"Name", "AddressSpaces", "Subnets", "State", NULL}, vnet_row};

static void subnet_row(const json_t *s, const char **cells)
{
    cells[0] = js(s, "name");
    cells[1] = js(s, "addressPrefix");
    cells[2] = js(s, "gateway");
    cells[3] = tmp("%lld", ji(s, "availableAddresses"));
    cells[4] = js(s, "nsg");
}

static const struct view subnet_view = {
    (const char *[]){"Name", "AddressPrefix", "Gateway", ">FreeIPs", "NSG", NULL}, subnet_row};

static void vnet_show(struct cli *c, const json_t *v)
{
    struct table *t = kv_new();
    kv_add(t, "Name", jsn(v, "name"));
    kv_add(t, "Resource group", jsn(v, "resourceGroup"));
    kv_add(t, "Address spaces", join_strings(json_object_get(v, "addressSpaces"), ", "));
    size_t i;
    const json_t *s;
    json_array_foreach(json_object_get(v, "subnets"), i, s)
        kv_add(t, tmp("Subnet %s", jsn(s, "name")),
               tmp("%s (gateway %s, %lld free addresses, NSG %s)", jsn(s, "addressPrefix"),
                   jsn(s, "gateway"), ji(s, "availableAddresses"), jsn(s, "nsg")));
    kv_add(t, "State", fmt_state(v));
    kv_add(t, "Created", fmt_time(js(v, "createdAt")));
    kv_print(t, c->out);
}

static void subnet_show(struct cli *c, const json_t *s)
{
    struct table *t = kv_new();
    kv_add(t, "Name", jsn(s, "name"));
    kv_add(t, "Address prefix", jsn(s, "addressPrefix"));
    kv_add(t, "Gateway", jsn(s, "gateway"));
    kv_add(t, "Free addresses", tmp("%lld", ji(s, "availableAddresses")));
    kv_add(t, "NSG", jsn(s, "nsg"));
    kv_add(t, "State", fmt_state(s));
    kv_add(t, "Id", jsn(s, "id"));
    kv_print(t, c->out);
}

/* The first /24 of an address space (or the space itself when smaller). */
static const char *first_subnet(const char *space)
{
    unsigned a, b, cc, d, len;
    if (sscanf(space, "%u.%u.%u.%u/%u", &a, &b, &cc, &d, &len) != 5) return NULL;
    return len >= 24 ? space : tmp("%u.%u.%u.0/24", a, b, cc);
}

static int vnet_create(struct cli *c, struct args *a)
{
    const char *g, *n;
    char *p = gn_path(c, a, "virtual network", "/resourceGroups/%s/virtualNetworks", &g, &n);
    if (!p) return KX_USAGE;
    int np;
    const char *const *pre = arg_list(a, "address-prefixes", &np);
    json_t *spaces = json_array();
    for (int i = 0; i < np; i++)
        json_array_append_new(spaces, json_string(pre[i]));
    if (!np) json_array_append_new(spaces, json_string("10.0.0.0/16"));
    json_t *body = json_pack("{ss so}", "name", n, "addressSpaces", spaces);
    const char *sn = arg_str(a, "subnet-name"), *sp = arg_str(a, "subnet-prefix");
    if (sp && !sn) sn = "default";
    if (sn) {
        if (!sp) sp = first_subnet(np ? pre[0] : "10.0.0.0/16");
        json_t *sub = json_pack("{ss ss}", "name", sn, "addressPrefix", sp ? sp : "");
        json_object_set_new(body, "subnets", json_pack("[o]", sub));
    }
    int rc = send_and_show(c, "POST", p, body, vnet_show);
    free(p);
    return rc;
}

static int vnet_list(struct cli *c, struct args *a)
{
    return list_scoped(c, a, "virtualNetworks", &vnet_view);
}

static int vnet_show_cmd(struct cli *c, struct args *a)
{
    char *p = gn_path(c, a, "virtual network", "/resourceGroups/%s/virtualNetworks/%s", NULL, NULL);
    if (!p) return KX_USAGE;
    int rc = show_one(c, p, vnet_show);
    free(p);
    return rc;
}

static int vnet_update(struct cli *c, struct args *a)
{
    char *p = gn_path(c, a, "virtual network", "/resourceGroups/%s/virtualNetworks/%s", NULL, NULL);
    if (!p) return KX_USAGE;
    int np;
    const char *const *pre = arg_list(a, "address-prefixes", &np);
    if (!np) {
        free(p);
        return usage_error(c, "nothing to change: give --address-prefixes CIDR ... (the new "
                              "list of address spaces)");
    }
    json_t *spaces = json_array();
    for (int i = 0; i < np; i++)
        json_array_append_new(spaces, json_string(pre[i]));
    int rc = send_and_show(c, "PATCH", p, json_pack("{so}", "addressSpaces", spaces), vnet_show);
    free(p);
    return rc;
}

static int vnet_delete(struct cli *c, struct args *a)
{
    const char *n;
    char *p = gn_path(c, a, "virtual network", "/resourceGroups/%s/virtualNetworks/%s", NULL, &n);
    if (!p) return KX_USAGE;
    int rc = delete_one(c, p, tmp("virtual network '%s' and its subnets", n));
    free(p);
    return rc;
}

/* ---- subnets ---- */

static char *subnet_path(struct cli *c, const struct args *a, bool with_name, const char **n_out)
{
    const char *g = need_group(c, a);
    if (!g) return NULL;
    const char *v = need_opt(c, a, "vnet-name", "the virtual network the subnet is in");
    if (!v) return NULL;
    if (!with_name) return upath("/resourceGroups/%s/virtualNetworks/%s/subnets", g, v);
    const char *n = need_name(c, a, "subnet");
    if (!n) return NULL;
    if (n_out) *n_out = n;
    return upath("/resourceGroups/%s/virtualNetworks/%s/subnets/%s", g, v, n);
}

static int subnet_create(struct cli *c, struct args *a)
{
    char *p = subnet_path(c, a, false, NULL);
    if (!p) return KX_USAGE;
    const char *n = need_name(c, a, "subnet");
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
    int rc = send_and_show(c, "POST", p, body, subnet_show);
    free(p);
    return rc;
}

static int subnet_list(struct cli *c, struct args *a)
{
    char *p = subnet_path(c, a, false, NULL);
    if (!p) return KX_USAGE;
    int rc = list_path(c, p, &subnet_view);
    free(p);
    return rc;
}

static int subnet_show_cmd(struct cli *c, struct args *a)
{
    char *p = subnet_path(c, a, true, NULL);
    if (!p) return KX_USAGE;
    int rc = show_one(c, p, subnet_show);
    free(p);
    return rc;
}

static int subnet_update(struct cli *c, struct args *a)
{
    char *p = subnet_path(c, a, true, NULL);
    if (!p) return KX_USAGE;
    const char *nsg = arg_str(a, "nsg");
    if (!nsg) {
        free(p);
        return usage_error(c, "nothing to change: give --nsg NSG (or --nsg \"\" to remove it)");
    }
    int rc =
        send_and_show(c, "PATCH", p,
                      json_pack("{so}", "nsg", *nsg ? json_string(nsg) : json_null()), subnet_show);
    free(p);
    return rc;
}

static int subnet_delete(struct cli *c, struct args *a)
{
    const char *n = NULL;
    char *p = subnet_path(c, a, true, &n);
    if (!p) return KX_USAGE;
    int rc = delete_one(c, p, tmp("subnet '%s'", n));
    free(p);
    return rc;
}

/* ---- network security groups ---- */

static const char *rule_addr(const json_t *r, const char *one, const char *many)
{
    if (js(r, one)) return js(r, one);
    return join_strings(json_object_get(r, many), ",");
}

static void rule_row(const json_t *r, const char **cells)
{
    cells[0] = js(r, "name");
    cells[1] = tmp("%lld", ji(r, "priority"));
    cells[2] = js(r, "direction");
    cells[3] = js(r, "access");
    cells[4] = js(r, "protocol");
    cells[5] = rule_addr(r, "sourceAddressPrefix", "sourceAddressPrefixes");
    cells[6] = js(r, "sourcePortRange");
    cells[7] = rule_addr(r, "destinationAddressPrefix", "destinationAddressPrefixes");
    cells[8] = js(r, "destinationPortRange");
}

static const struct view rule_view = {(const char *[]){"Name", ">Priority", "Direction", "Access",
                                                       "Protocol", "Source", "SourcePorts",
                                                       "Destination", "DestinationPorts", NULL},
                                      rule_row};

static void nsg_row(const json_t *n, const char **cells)
{
    cells[0] = js(n, "name");
    cells[1] = tmp("%zu", json_array_size(json_object_get(n, "rules")));
    cells[2] = join_strings(json_object_get(n, "subnets"), ",");
    cells[3] = join_strings(json_object_get(n, "networkInterfaces"), ",");
}

static const struct view nsg_view = {(const char *[]){"Name", ">Rules", "Subnets", "NICs", NULL},
                                     nsg_row};

static void nsg_show(struct cli *c, const json_t *n)
{
    struct table *t = kv_new();
    kv_add(t, "Name", jsn(n, "name"));
    kv_add(t, "Resource group", jsn(n, "resourceGroup"));
    kv_add(t, "Subnets", join_strings(json_object_get(n, "subnets"), ", "));
    kv_add(t, "NICs", join_strings(json_object_get(n, "networkInterfaces"), ", "));
    kv_add(t, "State", fmt_state(n));
    kv_print(t, c->out);
    /* its rules, then the defaults, lowest priority number (first match) first */
    json_t *all = json_array();
    json_array_extend(all, json_object_get(n, "rules"));
    json_array_extend(all, json_object_get(n, "defaultRules"));
    printf("\n");
    print_items(c, all, &rule_view, false);
    json_decref(all);
}

static void rule_show(struct cli *c, const json_t *r)
{
    struct table *t = kv_new();
    kv_add(t, "Name", jsn(r, "name"));
    kv_add(t, "Priority", tmp("%lld", ji(r, "priority")));
    kv_add(t, "Direction", jsn(r, "direction"));
    kv_add(t, "Access", jsn(r, "access"));
    kv_add(t, "Protocol", jsn(r, "protocol"));
    kv_add(t, "Source", rule_addr(r, "sourceAddressPrefix", "sourceAddressPrefixes"));
    kv_add(t, "Source ports", jsn(r, "sourcePortRange"));
    kv_add(t, "Destination",
           rule_addr(r, "destinationAddressPrefix", "destinationAddressPrefixes"));
    kv_add(t, "Destination ports", jsn(r, "destinationPortRange"));
    kv_add(t, "Description",
           js(r, "description") && *js(r, "description") ? js(r, "description") : "-");
    if (jb(r, "default"))
        kv_add(t, "Default rule",
               "yes (cannot be changed; override it with a lower priority number)");
    kv_print(t, c->out);
}

static int nsg_create(struct cli *c, struct args *a)
{
    const char *n;
    char *p = gn_path(c, a, "NSG", "/resourceGroups/%s/networkSecurityGroups", NULL, &n);
    if (!p) return KX_USAGE;
    int rc = send_and_show(c, "POST", p, json_pack("{ss}", "name", n), nsg_show);
    free(p);
    return rc;
}

static int nsg_list(struct cli *c, struct args *a)
{
    return list_scoped(c, a, "networkSecurityGroups", &nsg_view);
}

static int nsg_show_cmd(struct cli *c, struct args *a)
{
    char *p = gn_path(c, a, "NSG", "/resourceGroups/%s/networkSecurityGroups/%s", NULL, NULL);
    if (!p) return KX_USAGE;
    int rc = show_one(c, p, nsg_show);
    free(p);
    return rc;
}

static int nsg_delete(struct cli *c, struct args *a)
{
    const char *n;
    char *p = gn_path(c, a, "NSG", "/resourceGroups/%s/networkSecurityGroups/%s", NULL, &n);
    if (!p) return KX_USAGE;
    int rc = delete_one(c, p, tmp("network security group '%s'", n));
    free(p);
    return rc;
}

/* ---- NSG rules ---- */

static char *rule_path(struct cli *c, const struct args *a, bool with_name, const char **n_out)
{
    const char *g = need_group(c, a);
    if (!g) return NULL;
    const char *nsg = need_opt(c, a, "nsg-name", "the network security group of the rule");
    if (!nsg) return NULL;
    if (!with_name) return upath("/resourceGroups/%s/networkSecurityGroups/%s/rules", g, nsg);
    const char *n = need_name(c, a, "rule");
    if (!n) return NULL;
    if (n_out) *n_out = n;
    return upath("/resourceGroups/%s/networkSecurityGroups/%s/rules/%s", g, nsg, n);
}

/* Set the fields the rule options give on body (create and update). */
static int rule_fields(struct cli *c, const struct args *a, json_t *body)
{
    long prio;
    int r = arg_long(c, a, "priority", 100, 4096, &prio);
    if (r < 0) return KX_USAGE;
    if (r) json_object_set_new(body, "priority", json_integer(prio));
    static const char *const simple[][2] = {{"direction", "direction"},
                                            {"access", "access"},
                                            {"protocol", "protocol"},
                                            {"description", "description"}};
    for (size_t i = 0; i < 4; i++)
        if (arg_str(a, simple[i][0]))
            json_object_set_new(body, simple[i][1], json_string(arg_str(a, simple[i][0])));
    static const char *const addrs[][3] = {
        {"source-address-prefixes", "sourceAddressPrefix", "sourceAddressPrefixes"},
        {"destination-address-prefixes", "destinationAddressPrefix", "destinationAddressPrefixes"}};
    for (size_t i = 0; i < 2; i++) {
        int n;
        const char *const *v = arg_list(a, addrs[i][0], &n);
        if (!n) continue;
        json_object_del(body, addrs[i][1]);
        json_object_del(body, addrs[i][2]);
        if (n == 1) {
            json_object_set_new(body, addrs[i][1], json_string(v[0]));
        } else {
            json_t *arr = json_array();
            for (int k = 0; k < n; k++)
                json_array_append_new(arr, json_string(v[k]));
            json_object_set_new(body, addrs[i][2], arr);
        }
    }
    static const char *const ports[][2] = {{"source-port-ranges", "sourcePortRange"},
                                           {"destination-port-ranges", "destinationPortRange"}};
    for (size_t i = 0; i < 2; i++) {
        int n;
        const char *const *v = arg_list(a, ports[i][0], &n);
        if (!n) continue;
        char *s = tmp("%s", "");
        for (int k = 0; k < n; k++)
            s = tmp("%s%s%s", s, k ? "," : "", v[k]);
        json_object_set_new(body, ports[i][1], json_string(s));
    }
    return KX_OK;
}

static int rule_create(struct cli *c, struct args *a)
{
    char *p = rule_path(c, a, false, NULL);
    if (!p) return KX_USAGE;
    const char *n = need_name(c, a, "rule");
    if (!n || !need_opt(c, a, "priority",
                        "100 to 4096, unique per direction in the NSG; the "
                        "lowest number that matches wins")) {
        free(p);
        return KX_USAGE;
    }
    json_t *body = json_pack("{ss ss ss}", "name", n, "direction", "Inbound", "access", "Allow");
    if (rule_fields(c, a, body)) {
        json_decref(body);
        free(p);
        return KX_USAGE;
    }
    int rc = send_and_show(c, "POST", p, body, rule_show);
    free(p);
    return rc;
}

static int rule_list(struct cli *c, struct args *a)
{
    if (!arg_has(a, "include-default")) {
        char *p = rule_path(c, a, false, NULL);
        if (!p) return KX_USAGE;
        int rc = list_path(c, p, &rule_view);
        free(p);
        return rc;
    }
    const char *g = need_group(c, a);
    const char *nsg = g ? need_opt(c, a, "nsg-name", "the network security group") : NULL;
    if (!nsg) return KX_USAGE;
    char *p = upath("/resourceGroups/%s/networkSecurityGroups/%s", g, nsg);
    json_t *j;
    int rc = api(c, "GET", p, NULL, &j);
    free(p);
    if (rc) return rc;
    json_t *all = json_array();
    json_array_extend(all, json_object_get(j, "rules"));
    json_array_extend(all, json_object_get(j, "defaultRules"));
    print_items(c, all, &rule_view, false);
    json_decref(all);
    json_decref(j);
    return KX_OK;
}

static int rule_show_cmd(struct cli *c, struct args *a)
{
    char *p = rule_path(c, a, true, NULL);
    if (!p) return KX_USAGE;
    int rc = show_one(c, p, rule_show);
    free(p);
    return rc;
}

static int rule_update(struct cli *c, struct args *a)
{
    static const char *const fields[] = {"priority",
                                         "direction",
                                         "access",
                                         "protocol",
                                         "description",
                                         "source-address-prefixes",
                                         "destination-address-prefixes",
                                         "source-port-ranges",
                                         "destination-port-ranges"};
    bool any = false;
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        any |= arg_has(a, fields[i]);
    char *p = rule_path(c, a, true, NULL);
    if (!p) return KX_USAGE;
    if (!any) {
        free(p);
        return usage_error(c, "nothing to change: give the fields to change, e.g. "
                              "--destination-port-ranges 80 443 or --access Deny");
    }
    json_t *cur;
    int rc = api(c, "GET", p, NULL, &cur);
    if (rc) {
        free(p);
        return rc;
    }
    if (jb(cur, "default")) {
        fprintf(stderr,
                "%s: error: '%s' is a default rule: it cannot change; override it with a "
                "rule of a lower priority number\n",
                c->prog, jsn(cur, "name"));
        json_decref(cur);
        free(p);
        return KX_CONFLICT;
    }
    /* the rule as it is, with the options' changes */
    static const char *const keep[] = {"name",
                                       "priority",
                                       "direction",
                                       "access",
                                       "protocol",
                                       "sourceAddressPrefix",
                                       "sourceAddressPrefixes",
                                       "sourcePortRange",
                                       "destinationAddressPrefix",
                                       "destinationAddressPrefixes",
                                       "destinationPortRange",
                                       "description"};
    json_t *body = json_object();
    for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
        json_t *v = json_object_get(cur, keep[i]);
        if (v) json_object_set(body, keep[i], v);
    }
    json_decref(cur);
    if (rule_fields(c, a, body)) {
        json_decref(body);
        free(p);
        return KX_USAGE;
    }
    rc = send_and_show(c, "PUT", p, body, rule_show);
    free(p);
    return rc;
}

static int rule_delete(struct cli *c, struct args *a)
{
    const char *n = NULL;
    char *p = rule_path(c, a, true, &n);
    if (!p) return KX_USAGE;
    int rc = delete_one(c, p, tmp("rule '%s'", n));
    free(p);
    return rc;
}

/* ---- public IPs ---- */

static const char *pip_ports(const json_t *ip)
{
    char *out = tmp("%s", "");
    size_t i;
    const json_t *p;
    json_array_foreach(json_object_get(ip, "ports"), i, p)
    {
        const char *proto = lower(jsn(p, "protocol"));
        out =
            tmp("%s%s%s/%lld->%lld", out, *out ? "," : "", proto, ji(p, "port"), ji(p, "hostPort"));
    }
    return *out ? out : "-";
}

static void pip_row(const json_t *ip, const char **cells)
{
    cells[0] = js(ip, "name");
    cells[1] = js(ip, "ipAddress");
    cells[2] = pip_ports(ip);
    cells[3] = js(ip, "networkInterface");
}

static const struct view pip_view = {
    (const char *[]){"Name", "Address", "Ports (port->host port)", "NIC", NULL}, pip_row};

static void pip_show(struct cli *c, const json_t *ip)
{
    struct table *t = kv_new();
    kv_add(t, "Name", jsn(ip, "name"));
    kv_add(t, "Resource group", jsn(ip, "resourceGroup"));
    kv_add(t, "Address", jsn(ip, "ipAddress"));
    size_t i;
    const json_t *p;
    json_array_foreach(json_object_get(ip, "ports"), i, p)
        kv_add(t, tmp("Port %s/%lld", jsn(p, "protocol"), ji(p, "port")),
               tmp("%s:%lld%s", jsn(ip, "ipAddress"), ji(p, "hostPort"),
                   pip_port_failed(ip, p) ? " (not forwarded: the host port is in use)" : ""));
    kv_add(t, "NIC", jsn(ip, "networkInterface"));
    kv_add(t, "State", fmt_state(ip));
    kv_print(t, c->out);
}

static int pip_create(struct cli *c, struct args *a)
{
    const char *n;
    char *p = gn_path(c, a, "public IP", "/resourceGroups/%s/publicIPAddresses", NULL, &n);
    if (!p) return KX_USAGE;
    json_t *body = json_pack("{ss}", "name", n);
    int np;
    const char *const *ports = arg_list(a, "ports", &np);
    if (np) {
        json_t *arr = json_array();
        json_object_set_new(body, "ports", arr);
        for (int i = 0; i < np; i++) {
            /* [tcp/|udp/]PORT[:HOSTPORT] */
            const char *s = ports[i], *proto = "Tcp";
            if (strncasecmp(s, "tcp/", 4) == 0) {
                s += 4;
            } else if (strncasecmp(s, "udp/", 4) == 0) {
                proto = "Udp";
                s += 4;
            }
            unsigned port = 0, host = 0;
            char extra;
            int got = sscanf(s, "%u:%u%c", &port, &host, &extra);
            if (got < 1 || got > 2 || port < 1 || port > 65535 ||
                (got == 2 && (host < 1 || host > 65535)) ||
                (got == 1 && strspn(s, "0123456789") != strlen(s))) {
                json_decref(body);
                free(p);
                return usage_error(c,
                                   "--ports: '%s' is not [tcp/|udp/]PORT[:HOSTPORT] (e.g. 80, "
                                   "udp/53, tcp/22:20022)",
                                   ports[i]);
            }
            json_t *o = json_pack("{ss si}", "protocol", proto, "port", (int)port);
            if (got == 2) json_object_set_new(o, "hostPort", json_integer(host));
            json_array_append_new(arr, o);
        }
    }
    int rc = send_and_show(c, "POST", p, body, pip_show);
    free(p);
    return rc;
}

static int pip_list(struct cli *c, struct args *a)
{
    return list_scoped(c, a, "publicIPAddresses", &pip_view);
}

static int pip_show_cmd(struct cli *c, struct args *a)
{
    char *p = gn_path(c, a, "public IP", "/resourceGroups/%s/publicIPAddresses/%s", NULL, NULL);
    if (!p) return KX_USAGE;
    int rc = show_one(c, p, pip_show);
    free(p);
    return rc;
}

static int pip_delete(struct cli *c, struct args *a)
{
    const char *n;
    char *p = gn_path(c, a, "public IP", "/resourceGroups/%s/publicIPAddresses/%s", NULL, &n);
    if (!p) return KX_USAGE;
    int rc = delete_one(c, p, tmp("public IP '%s'", n));
    free(p);
    return rc;
}

/* ---- network interfaces ---- */

static void nic_row(const json_t *n, const char **cells)
{
    cells[0] = js(n, "name");
    cells[1] = tmp("%s/%s", jsn(n, "vnet"), jsn(n, "subnet"));
    cells[2] = js(n, "privateIp");
    cells[3] = js(n, "privateIpAllocation");
    cells[4] = js(n, "macAddress");
    cells[5] = js(n, "nsg");
    cells[6] = js(n, "publicIp");
    cells[7] = js(n, "virtualMachine");
}

static const struct view nic_view = {(const char *[]){"Name", "Subnet", "PrivateIp", "Allocation",
                                                      "MAC", "NSG", "PublicIp", "VM", NULL},
                                     nic_row};

static void nic_show(struct cli *c, const json_t *n)
{
    struct table *t = kv_new();
    kv_add(t, "Name", jsn(n, "name"));
    kv_add(t, "Resource group", jsn(n, "resourceGroup"));
    kv_add(t, "Subnet", tmp("%s/%s", jsn(n, "vnet"), jsn(n, "subnet")));
    kv_add(t, "Private IP", tmp("%s (%s)", jsn(n, "privateIp"), jsn(n, "privateIpAllocation")));
    kv_add(t, "MAC", jsn(n, "macAddress"));
    kv_add(t, "NSG", jsn(n, "nsg"));
    kv_add(t, "Public IP", jsn(n, "publicIp"));
    kv_add(t, "VM", jsn(n, "virtualMachine"));
    kv_add(t, "State", fmt_state(n));
    kv_print(t, c->out);
}

static void set_name_or_null(json_t *body, const char *key, const char *v)
{
    if (v) json_object_set_new(body, key, *v ? json_string(v) : json_null());
}

static int nic_create(struct cli *c, struct args *a)
{
    const char *n;
    char *p = gn_path(c, a, "NIC", "/resourceGroups/%s/networkInterfaces", NULL, &n);
    if (!p) return KX_USAGE;
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
    int rc = send_and_show(c, "POST", p, body, nic_show);
    free(p);
    return rc;
}

static int nic_list(struct cli *c, struct args *a)
{
    return list_scoped(c, a, "networkInterfaces", &nic_view);
}

static int nic_show_cmd(struct cli *c, struct args *a)
{
    char *p = gn_path(c, a, "NIC", "/resourceGroups/%s/networkInterfaces/%s", NULL, NULL);
    if (!p) return KX_USAGE;
    int rc = show_one(c, p, nic_show);
    free(p);
    return rc;
}

static int nic_update(struct cli *c, struct args *a)
{
    char *p = gn_path(c, a, "NIC", "/resourceGroups/%s/networkInterfaces/%s", NULL, NULL);
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
    int rc = send_and_show(c, "PATCH", p, body, nic_show);
    free(p);
    return rc;
}

static int nic_delete(struct cli *c, struct args *a)
{
    const char *n;
    char *p = gn_path(c, a, "NIC", "/resourceGroups/%s/networkInterfaces/%s", NULL, &n);
    if (!p) return KX_USAGE;
    int rc = delete_one(c, p, tmp("NIC '%s'", n));
    free(p);
    return rc;
}

/* ---- command tables ---- */

static const struct opt vnet_gn[] = {OPT_G("virtual network"), OPT_N("virtual network"), {0}};
static const struct opt vnet_list_opts[] = {OPT_GL("virtual network"), {0}};
static const struct opt vnet_create_opts[] = {
    OPT_G("virtual network"),
    OPT_N("new virtual network"),
    {"address-prefixes", 0, OPT_LIST, "CIDR", "its address spaces (default 10.0.0.0/16)",
     "addressSpaces"},
    {"subnet-name", 0, OPT_VALUE, "NAME", "also make a subnet of this name", "subnets"},
    {"subnet-prefix", 0, OPT_VALUE, "CIDR",
     "that subnet's prefix (default: the first /24 of the first address space)", "subnets"},
    {0},
};
static const struct opt vnet_update_opts[] = {
    OPT_G("virtual network"),
    OPT_N("virtual network"),
    {"address-prefixes", 0, OPT_LIST, "CIDR", "the new list of address spaces", "addressSpaces"},
    {0},
};

static const struct opt subnet_opts[] = {
    OPT_G("subnet"),
    {"vnet-name", 0, OPT_VALUE, "VNET", "the virtual network", NULL},
    OPT_N("subnet"),
    {0},
};
static const struct opt subnet_list_opts[] = {
    OPT_G("subnet"),
    {"vnet-name", 0, OPT_VALUE, "VNET", "the virtual network", NULL},
    {0},
};
static const struct opt subnet_create_opts[] = {
    OPT_G("subnet"),
    {"vnet-name", 0, OPT_VALUE, "VNET", "the virtual network", NULL},
    OPT_N("new subnet"),
    {"address-prefix", 0, OPT_VALUE, "CIDR",
     "inside an address space of the network, /29 or "
     "larger",
     "addressPrefix"},
    {"nsg", 0, OPT_VALUE, "NSG", "a network security group for the whole subnet", "nsg"},
    {0},
};
static const struct opt subnet_update_opts[] = {
    OPT_G("subnet"),
    {"vnet-name", 0, OPT_VALUE, "VNET", "the virtual network", NULL},
    OPT_N("subnet"),
    {"nsg", 0, OPT_VALUE, "NSG", "the subnet's NSG (\"\" removes it)", "nsg"},
    {0},
};

static const struct opt nsg_gn[] = {OPT_G("NSG"), OPT_N("network security group"), {0}};
static const struct opt nsg_list_opts[] = {OPT_GL("NSG"), {0}};

#define RULE_FIELDS                                                                                \
    {"priority", 0, OPT_VALUE, "N", "100-4096, unique per direction; lower numbers win",           \
     "priority"},                                                                                  \
        {"direction", 0, OPT_VALUE, "DIR", "Inbound (default) or Outbound", "direction"},          \
        {"access", 0, OPT_VALUE, "ACCESS", "Allow (default) or Deny", "access"},                   \
        {"protocol", 0, OPT_VALUE, "PROTO", "Tcp, Udp, Icmp or * (default: *)", "protocol"},       \
        {"source-address-prefixes",                                                                \
         0,                                                                                        \
         OPT_LIST,                                                                                 \
         "PREFIX",                                                                                 \
         "CIDRs, addresses, *, VirtualNetwork, Internet or AzureLoadBalancer (default *)",         \
         "sourceAddressPrefix|sourceAddressPrefixes"},                                             \
        {"source-port-ranges", 0, OPT_LIST, "PORTS", "*, 80 or 8000-8080 (default *)",             \
         "sourcePortRange"},                                                                       \
        {"destination-address-prefixes",                                                           \
         0,                                                                                        \
         OPT_LIST,                                                                                 \
         "PREFIX",                                                                                 \
         "as the source's (default *)",                                                            \
         "destinationAddressPrefix|destinationAddressPrefixes"},                                   \
        {"destination-port-ranges",                                                                \
         0,                                                                                        \
         OPT_LIST,                                                                                 \
         "PORTS",                                                                                  \
         "the ports to open or close: *, 80, 8000-8080 (default *)",                               \
         "destinationPortRange"},                                                                  \
    {                                                                                              \
        "description", 0, OPT_VALUE, "TEXT", "up to 140 characters", "description"                 \
    }

static const struct opt rule_create_opts[] = {
    OPT_G("NSG"),
    {"nsg-name", 0, OPT_VALUE, "NSG", "the network security group", NULL},
    OPT_N("new rule"),
    RULE_FIELDS,
    {0},
};
static const struct opt rule_update_opts[] = {
    OPT_G("NSG"),  {"nsg-name", 0, OPT_VALUE, "NSG", "the network security group", NULL},
    OPT_N("rule"), RULE_FIELDS,
    {0},
};
static const struct opt rule_gn[] = {
    OPT_G("NSG"),
    {"nsg-name", 0, OPT_VALUE, "NSG", "the network security group", NULL},
    OPT_N("rule"),
    {0},
};
static const struct opt rule_list_opts[] = {
    OPT_G("NSG"),
    {"nsg-name", 0, OPT_VALUE, "NSG", "the network security group", NULL},
    {"include-default", 0, OPT_FLAG, NULL, "also the six default rules", NULL},
    {0},
};

static const struct opt pip_gn[] = {OPT_G("public IP"), OPT_N("public IP"), {0}};
static const struct opt pip_list_opts[] = {OPT_GL("public IP"), {0}};
static const struct opt pip_create_opts[] = {
    OPT_G("public IP"),
    OPT_N("new public IP"),
    {"ports", 0, OPT_LIST, "SPEC",
     "[tcp/|udp/]PORT[:HOSTPORT] to forward (default: tcp 22, 80, 443; host ports are picked "
     "from kumod's range unless given)",
     "ports"},
    {0},
};

static const struct opt nic_gn[] = {OPT_G("NIC"), OPT_N("NIC"), {0}};
static const struct opt nic_list_opts[] = {OPT_GL("NIC"), {0}};
static const struct opt nic_create_opts[] = {
    OPT_G("NIC"),
    OPT_N("new NIC"),
    {"vnet-name", 0, OPT_VALUE, "VNET", "its virtual network", "vnet"},
    {"subnet", 0, OPT_VALUE, "SUBNET", "its subnet", "subnet"},
    {"private-ip", 0, OPT_VALUE, "IP", "a static private IP (default: the next free one)",
     "privateIp"},
    {"nsg", 0, OPT_VALUE, "NSG", "its network security group", "nsg"},
    {"public-ip", 0, OPT_VALUE, "NAME", "a public IP of the group", "publicIp"},
    {0},
};
static const struct opt nic_update_opts[] = {
    OPT_G("NIC"),
    OPT_N("NIC"),
    {"nsg", 0, OPT_VALUE, "NSG", "its NSG (\"\" removes it; applies at once)", "nsg"},
    {"public-ip", 0, OPT_VALUE, "NAME",
     "its public IP (\"\" removes it; applies when the VM "
     "next starts)",
     "publicIp"},
    {0},
};

#define SIMPLE(var, nm, sum, use, op, fn, pos)                                                     \
    static const struct cmd var = {                                                                \
        .name = nm, .summary = sum, .usage = use, .opts = op, .run = fn, .positionals = pos}

/* vnet */
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
SIMPLE(vnet_list_c, "list", "List virtual networks with their subnets", "[-g RG]", vnet_list_opts,
       vnet_list, 0);
SIMPLE(vnet_show_c, "show", "Show a virtual network", "-g RG -n NAME", vnet_gn, vnet_show_cmd, 1);
SIMPLE(vnet_update_c, "update", "Replace a virtual network's address spaces",
       "-g RG -n NAME --address-prefixes CIDR ...", vnet_update_opts, vnet_update, 1);
SIMPLE(vnet_delete_c, "delete", "Delete a virtual network and its subnets (no NIC may be in them)",
       "-g RG -n NAME", vnet_gn, vnet_delete, 1);

/* subnet */
SIMPLE(subnet_create_c, "create", "Create a subnet",
       "-g RG --vnet-name VNET -n NAME --address-prefix CIDR [--nsg NSG]", subnet_create_opts,
       subnet_create, 1);
SIMPLE(subnet_list_c, "list", "List a virtual network's subnets", "-g RG --vnet-name VNET",
       subnet_list_opts, subnet_list, 0);
SIMPLE(subnet_show_c, "show", "Show a subnet", "-g RG --vnet-name VNET -n NAME", subnet_opts,
       subnet_show_cmd, 1);
SIMPLE(subnet_update_c, "update", "Set or remove a subnet's NSG",
       "-g RG --vnet-name VNET -n NAME --nsg NSG|\"\"", subnet_update_opts, subnet_update, 1);
SIMPLE(subnet_delete_c, "delete", "Delete a subnet (no NIC may be in it)",
       "-g RG --vnet-name VNET -n NAME", subnet_opts, subnet_delete, 1);

const struct cmd cmd_subnet = {
    .name = "subnet",
    .summary = "Subnets of a virtual network: create, list, show, update, delete",
    .help = "Subnets divide a virtual network; NICs get their private IP from one (the first "
            "four addresses and the last are reserved). Also 'kumo vnet subnet ...'.",
    .sub = (const struct cmd *const[]){&subnet_create_c, &subnet_list_c, &subnet_show_c,
                                       &subnet_update_c, &subnet_delete_c, NULL},
};

const struct cmd cmd_vnet = {
    .name = "vnet",
    .summary = "Virtual networks: create, list, show, update, delete, subnet",
    .help = "Virtual networks are isolated private networks for VMs' NICs ('kumo vm create' "
            "makes NAME-vnet unless told otherwise).",
    .sub = (const struct cmd *const[]){&vnet_create_c, &vnet_list_c, &vnet_show_c, &vnet_update_c,
                                       &vnet_delete_c, &cmd_subnet, NULL},
};

/* nsg rule */
static const struct cmd rule_create_c = {
    .name = "create",
    .summary = "Add a rule (e.g. open a port)",
    .usage = "-g RG --nsg-name NSG -n NAME --priority N [--direction Inbound] [--access Allow] "
             "[--protocol Tcp] [--destination-port-ranges PORTS ...] [options]",
    .help = "Add a security rule. Rules are checked by priority, lowest number first; the "
            "first that matches a new connection allows or denies it. Changes apply at once to "
            "new connections.",
    .opts = rule_create_opts,
    .run = rule_create,
    .positionals = 1,
    .examples =
        "  kumo nsg rule create -g web --nsg-name web1-nsg -n AllowHTTP --priority 1010 \\\n"
        "      --protocol Tcp --destination-port-ranges 80 443\n"};
static const struct cmd rule_update_c = {
    .name = "update",
    .summary = "Change some fields of a rule",
    .usage = "-g RG --nsg-name NSG -n NAME [fields to change]",
    .help = "Change the given fields of a rule and keep the others.",
    .opts = rule_update_opts,
    .run = rule_update,
    .positionals = 1,
    .examples = "  kumo nsg rule update -g web --nsg-name web1-nsg -n AllowHTTP --access Deny\n"};
SIMPLE(rule_list_c, "list", "List an NSG's rules", "-g RG --nsg-name NSG [--include-default]",
       rule_list_opts, rule_list, 0);
SIMPLE(rule_show_c, "show", "Show a rule (also a default rule)", "-g RG --nsg-name NSG -n NAME",
       rule_gn, rule_show_cmd, 1);
SIMPLE(rule_delete_c, "delete", "Delete a rule", "-g RG --nsg-name NSG -n NAME", rule_gn,
       rule_delete, 1);
static const struct cmd rule_c = {
    .name = "rule",
    .summary = "An NSG's security rules: create, list, show, update, delete",
    .sub = (const struct cmd *const[]){&rule_create_c, &rule_list_c, &rule_show_c, &rule_update_c,
                                       &rule_delete_c, NULL},
};

/* nsg */
static const struct cmd nsg_create_c = {
    .name = "create",
    .summary = "Create a network security group",
    .usage = "-g RG -n NAME",
    .help = "Create a network security group with only the default rules (inbound: allow from "
            "the virtual network, deny from the Internet; outbound: allow). Add rules with "
            "'kumo nsg rule create'; attach it to a subnet or NIC.",
    .opts = nsg_gn,
    .run = nsg_create,
    .positionals = 1};
SIMPLE(nsg_list_c, "list", "List network security groups", "[-g RG]", nsg_list_opts, nsg_list, 0);
SIMPLE(nsg_show_c, "show", "Show an NSG with its rules in order", "-g RG -n NAME", nsg_gn,
       nsg_show_cmd, 1);
SIMPLE(nsg_delete_c, "delete", "Delete an NSG no subnet or NIC uses", "-g RG -n NAME", nsg_gn,
       nsg_delete, 1);
const struct cmd cmd_nsg = {
    .name = "nsg",
    .summary = "Network security groups (firewalls): create, list, show, delete, rule",
    .help = "A network security group filters the traffic of the subnets and NICs it is "
            "attached to, by rules of priority, direction, protocol, addresses and ports. "
            "It is stateful: answers to an allowed connection are allowed.",
    .sub = (const struct cmd *const[]){&nsg_create_c, &nsg_list_c, &nsg_show_c, &nsg_delete_c,
                                       &rule_c, NULL},
};

/* public-ip */
static const struct cmd pip_create_c = {
    .name = "create",
    .summary = "Create a public IP (a set of forwarded host ports)",
    .usage = "-g RG -n NAME [--ports SPEC ...]",
    .help = "Create a public IP: this host's public address with host ports forwarded to the "
            "private IP of the NIC it is associated with (still subject to the NSGs).",
    .opts = pip_create_opts,
    .run = pip_create,
    .positionals = 1,
    .examples = "  kumo public-ip create -g web -n web-ip --ports 22 80 udp/53 tcp/8080:28080\n"};
SIMPLE(pip_list_c, "list", "List public IPs with their ports", "[-g RG]", pip_list_opts, pip_list,
       0);
SIMPLE(pip_show_c, "show", "Show a public IP", "-g RG -n NAME", pip_gn, pip_show_cmd, 1);
SIMPLE(pip_delete_c, "delete", "Delete a public IP no NIC uses", "-g RG -n NAME", pip_gn,
       pip_delete, 1);
const struct cmd cmd_public_ip = {
    .name = "public-ip",
    .summary = "Public IPs: create, list, show, delete",
    .sub =
        (const struct cmd *const[]){&pip_create_c, &pip_list_c, &pip_show_c, &pip_delete_c, NULL},
};

/* nic */
SIMPLE(nic_create_c, "create", "Create a NIC in a subnet",
       "-g RG -n NAME --vnet-name VNET --subnet SUBNET [--private-ip IP] [--nsg NSG] "
       "[--public-ip NAME]",
       nic_create_opts, nic_create, 1);
SIMPLE(nic_list_c, "list", "List NICs with their IPs", "[-g RG]", nic_list_opts, nic_list, 0);
SIMPLE(nic_show_c, "show", "Show a NIC", "-g RG -n NAME", nic_gn, nic_show_cmd, 1);
SIMPLE(nic_update_c, "update", "Change a NIC's NSG or public IP",
       "-g RG -n NAME [--nsg NSG|\"\"] [--public-ip NAME|\"\"]", nic_update_opts, nic_update, 1);
SIMPLE(nic_delete_c, "delete", "Delete a NIC no VM uses", "-g RG -n NAME", nic_gn, nic_delete, 1);
const struct cmd cmd_nic = {
    .name = "nic",
    .summary = "Network interfaces: create, list, show, update, delete",
    .help = "A NIC connects a VM to a subnet, with a private IP, optionally an NSG and a "
            "public IP. 'kumo vm create' makes NAME-nic unless given --nics.",
    .sub = (const struct cmd *const[]){&nic_create_c, &nic_list_c, &nic_show_c, &nic_update_c,
                                       &nic_delete_c, NULL},
};
