/*
 * nsg.c - kumo nsg: network security groups (create, list, show, delete)
 * and their security rules (kumo nsg rule: create, list, show, update,
 * delete).
 */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- views ---- */

static const char *rule_addr(const json_t *r, const char *one, const char *many)
{
    if (member_str(r, one)) return member_str(r, one);
    return join_strings(json_object_get(r, many), ",");
}

static const char *rule_source(const json_t *r)
{
    return rule_addr(r, "sourceAddressPrefix", "sourceAddressPrefixes");
}

static const char *rule_destination(const json_t *r)
{
    return rule_addr(r, "destinationAddressPrefix", "destinationAddressPrefixes");
}

static const struct column rule_columns[] = {
    COL("Name", "name", CELL_TEXT),
    COL(">Priority", "priority", CELL_INT),
    COL("Direction", "direction", CELL_TEXT),
    COL("Access", "access", CELL_TEXT),
    COL("Protocol", "protocol", CELL_TEXT),
    COL_GET("Source", rule_source),
    COL("SourcePorts", "sourcePortRange", CELL_TEXT),
    COL_GET("Destination", rule_destination),
    COL("DestinationPorts", "destinationPortRange", CELL_TEXT),
    {0},
};

static const struct column nsg_columns[] = {
    COL("Name", "name", CELL_TEXT),
    COL(">Rules", "rules", CELL_COUNT),
    COL("Subnets", "subnets", CELL_LIST),
    COL("NICs", "networkInterfaces", CELL_LIST),
    {0},
};

/* An NSG's rules, then its default rules: in the order they are checked
 * (lowest priority number first within each). */
static json_t *all_rules(const json_t *nsg)
{
    json_t *all = json_array();
    json_array_extend(all, json_object_get(nsg, "rules"));
    json_array_extend(all, json_object_get(nsg, "defaultRules"));
    return all;
}

static void nsg_view(struct cli *c, const json_t *n)
{
    struct table *t = kv_new();
    kv_add(t, "Name", member_text(n, "name"));
    kv_add(t, "Resource group", member_text(n, "resourceGroup"));
    kv_add(t, "Subnets", join_strings(json_object_get(n, "subnets"), ", "));
    kv_add(t, "NICs", join_strings(json_object_get(n, "networkInterfaces"), ", "));
    kv_add(t, "State", fmt_state(n));
    kv_print(t, c->out);
    json_t *all = all_rules(n);
    printf("\n");
    print_items(c, all, rule_columns, GROUP_NONE);
    json_decref(all);
}

static void rule_view(struct cli *c, const json_t *r)
{
    struct table *t = kv_new();
    kv_add(t, "Name", member_text(r, "name"));
    kv_add(t, "Priority", fmt_str("%lld", member_int(r, "priority")));
    kv_add(t, "Direction", member_text(r, "direction"));
    kv_add(t, "Access", member_text(r, "access"));
    kv_add(t, "Protocol", member_text(r, "protocol"));
    kv_add(t, "Source", rule_source(r));
    kv_add(t, "Source ports", member_text(r, "sourcePortRange"));
    kv_add(t, "Destination", rule_destination(r));
    kv_add(t, "Destination ports", member_text(r, "destinationPortRange"));
    kv_add(t, "Description",
           member_str(r, "description") && *member_str(r, "description")
               ? member_str(r, "description")
               : "-");
    if (member_bool(r, "default"))
        kv_add(t, "Default rule",
               "yes (cannot be changed; override it with a lower priority number)");
    kv_print(t, c->out);
}

static const struct resource nsg = {
    .what = "NSG",
    .noun = "network security group",
    .collection = "networkSecurityGroups",
    .scope = RES_GROUP,
    .columns = nsg_columns,
    .view = nsg_view,
};

static const struct resource rule = {
    .what = "rule",
    .collection = "rules",
    .scope = RES_CHILD,
    .parent_collection = "networkSecurityGroups",
    .parent_opt = "nsg-name",
    .parent_why = "the network security group of the rule",
    .columns = rule_columns,
    .view = rule_view,
};

/* ---- NSGs ---- */

static int nsg_create(struct cli *c, struct args *a)
{
    const char *n;
    char *p = res_path(c, a, &nsg, false, NULL, NULL);
    if (!p || !(n = need_name(c, a, nsg.what))) {
        free(p);
        return KX_USAGE;
    }
    int rc = send_show(c, "POST", p, json_pack("{ss}", "name", n), nsg_view);
    free(p);
    return rc;
}

/* ---- rules ---- */

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
        char *s = fmt_str("%s", "");
        for (int k = 0; k < n; k++)
            s = fmt_str("%s%s%s", s, k ? "," : "", v[k]);
        json_object_set_new(body, ports[i][1], json_string(s));
    }
    return KX_OK;
}

static int rule_create(struct cli *c, struct args *a)
{
    char *p = res_path(c, a, &rule, false, NULL, NULL);
    if (!p) return KX_USAGE;
    const char *n = need_name(c, a, rule.what);
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
    int rc = send_show(c, "POST", p, body, rule_view);
    free(p);
    return rc;
}

static int rule_list(struct cli *c, struct args *a)
{
    if (!arg_has(a, "include-default")) return res_list(c, a);
    const char *g = need_group(c, a);
    const char *n = g ? need_opt(c, a, "nsg-name", "the network security group") : NULL;
    if (!n) return KX_USAGE;
    char *p = res_path_of(&nsg, g, NULL, n);
    json_t *j;
    int rc = api(c, "GET", p, NULL, &j);
    free(p);
    if (rc) return rc;
    json_t *all = all_rules(j);
    print_items(c, all, rule_columns, GROUP_NONE);
    json_decref(all);
    json_decref(j);
    return KX_OK;
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
    char *p = res_path(c, a, &rule, true, NULL, NULL);
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
    if (member_bool(cur, "default")) {
        fprintf(stderr,
                "%s: error: '%s' is a default rule: it cannot change; override it with a "
                "rule of a lower priority number\n",
                c->prog, member_text(cur, "name"));
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
    rc = send_show(c, "PUT", p, body, rule_view);
    free(p);
    return rc;
}

/* ---- the command tables ---- */

static const struct opt nsg_opts[] = {OPT_G("NSG"), OPT_N("network security group"), {0}};

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

#define OPT_NSG                                                                                    \
    {                                                                                              \
        "nsg-name", 0, OPT_VALUE, "NSG", "the network security group", NULL                        \
    }

static const struct opt rule_create_opts[] = {
    OPT_G("NSG"), OPT_NSG, OPT_N("new rule"), RULE_FIELDS, {0},
};
static const struct opt rule_update_opts[] = {
    OPT_G("NSG"), OPT_NSG, OPT_N("rule"), RULE_FIELDS, {0},
};
static const struct opt rule_opts[] = {OPT_G("NSG"), OPT_NSG, OPT_N("rule"), {0}};
static const struct opt rule_list_opts[] = {
    OPT_G("NSG"),
    OPT_NSG,
    {"include-default", 0, OPT_FLAG, NULL, "also the six default rules", NULL},
    {0},
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
static const struct cmd rule_list_c = {.name = "list",
                                       .summary = "List an NSG's rules",
                                       .usage = "-g RG --nsg-name NSG [--include-default]",
                                       .opts = rule_list_opts,
                                       .run = rule_list,
                                       .res = &rule};
static const struct cmd rule_show_c =
    RES_SHOW(&rule, "Show a rule (also a default rule)", rule_opts);
static const struct cmd rule_delete_c = RES_DELETE(&rule, "Delete a rule", rule_opts);
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
    .opts = nsg_opts,
    .run = nsg_create,
    .positionals = 1};
static const struct cmd nsg_list_c =
    RES_LIST(&nsg, "List network security groups", group_filter_opts);
static const struct cmd nsg_show_c =
    RES_SHOW(&nsg, "Show an NSG with its rules in order", nsg_opts);
static const struct cmd nsg_delete_c =
    RES_DELETE(&nsg, "Delete an NSG no subnet or NIC uses", nsg_opts);
const struct cmd cmd_nsg = {
    .name = "nsg",
    .summary = "Network security groups (firewalls): create, list, show, delete, rule",
    .help = "A network security group filters the traffic of the subnets and NICs it is "
            "attached to, by rules of priority, direction, protocol, addresses and ports. "
            "It is stateful: answers to an allowed connection are allowed.",
    .sub = (const struct cmd *const[]){&nsg_create_c, &nsg_list_c, &nsg_show_c, &nsg_delete_c,
                                       &rule_c, NULL},
};
