/*
 * public_ip.c - kumo public-ip: public IPs, each a set of host ports
 * forwarded to the private IP of the NIC it is associated with (create,
 * list, show, update of its ports, delete).
 */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *pip_ports(const json_t *ip)
{
    char *out = fmt_str("%s", "");
    size_t i;
    const json_t *p;
    json_array_foreach(json_object_get(ip, "ports"), i, p)
    {
        const char *proto = lower(member_text(p, "protocol"));
        out = fmt_str("%s%s%s/%lld->%lld", out, *out ? "," : "", proto, member_int(p, "port"),
                      member_int(p, "hostPort"));
    }
    return *out ? out : "-";
}

static const struct column pip_columns[] = {
    COL("Name", "name", CELL_TEXT),
    COL("Address", "ipAddress", CELL_TEXT),
    COL_GET("Ports (port->host port)", pip_ports),
    COL("NIC", "networkInterface", CELL_TEXT),
    {0},
};

static void pip_view(struct cli *c, const json_t *ip)
{
    struct table *t = kv_new();
    kv_add(t, "Name", member_text(ip, "name"));
    kv_add(t, "Resource group", member_text(ip, "resourceGroup"));
    kv_add(t, "Address", member_text(ip, "ipAddress"));
    size_t i;
    const json_t *p;
    json_array_foreach(json_object_get(ip, "ports"), i, p)
        kv_add(t, fmt_str("Port %s/%lld", member_text(p, "protocol"), member_int(p, "port")),
               fmt_str("%s:%lld%s", member_text(ip, "ipAddress"), member_int(p, "hostPort"),
                       pip_port_failed(ip, p) ? " (not forwarded: the host port is in use)" : ""));
    kv_add(t, "NIC", member_text(ip, "networkInterface"));
    kv_add(t, "State", fmt_state(ip));
    kv_print(t, c->out);
}

static const struct resource pip = {
    .what = "public IP",
    .collection = "publicIPAddresses",
    .scope = RES_GROUP,
    .columns = pip_columns,
    .view = pip_view,
};

/* --ports [tcp/|udp/]PORT[:HOSTPORT] ... as body's "ports". 0, or -1
 * after a usage error. */
static int ports_into(struct cli *c, const struct args *a, json_t *body)
{
    int np;
    const char *const *ports = arg_list(a, "ports", &np);
    json_t *arr = json_array();
    json_object_set_new(body, "ports", arr);
    for (int i = 0; i < np; i++) {
        const char *s = ports[i], *proto = "Tcp";
        if (!*s && np == 1) break; /* --ports "": none */
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
            usage_error(c,
                        "--ports: '%s' is not [tcp/|udp/]PORT[:HOSTPORT] (e.g. 80, udp/53, "
                        "tcp/22:20022)",
                        ports[i]);
            return -1;
        }
        json_t *o = json_pack("{ss si}", "protocol", proto, "port", (int)port);
        if (got == 2) json_object_set_new(o, "hostPort", json_integer(host));
        json_array_append_new(arr, o);
    }
    return 0;
}

static int pip_create(struct cli *c, struct args *a)
{
    const char *n;
    char *p = res_path(c, a, &pip, false, NULL, NULL);
    if (!p || !(n = need_name(c, a, pip.what))) {
        free(p);
        return KX_USAGE;
    }
    json_t *body = json_pack("{ss}", "name", n);
    if (arg_has(a, "ports") && ports_into(c, a, body) < 0) {
        json_decref(body);
        free(p);
        return KX_USAGE;
    }
    int rc = send_show(c, "POST", p, body, pip_view);
    free(p);
    return rc;
}

static int pip_update(struct cli *c, struct args *a)
{
    char *p = res_path(c, a, &pip, true, NULL, NULL);
    if (!p) return KX_USAGE;
    if (!arg_has(a, "ports")) {
        free(p);
        return usage_error(c, "nothing to change: give --ports SPEC ... (all the ports it "
                              "forwards; \"\" for none)");
    }
    json_t *body = json_object();
    if (ports_into(c, a, body) < 0) {
        json_decref(body);
        free(p);
        return KX_USAGE;
    }
    int rc = send_show(c, "PATCH", p, body, pip_view);
    free(p);
    return rc;
}

static const struct opt pip_opts[] = {OPT_G("public IP"), OPT_N("public IP"), {0}};
static const struct opt pip_create_opts[] = {
    OPT_G("public IP"),
    OPT_N("new public IP"),
    {"ports", 0, OPT_LIST, "SPEC",
     "[tcp/|udp/]PORT[:HOSTPORT] to forward (default: tcp 22, 80, 443; host ports are picked "
     "from kumod's range unless given)",
     "ports"},
    {0},
};

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
static const struct opt pip_update_opts[] = {
    OPT_G("public IP"),
    OPT_N("public IP"),
    {"ports", 0, OPT_LIST, "SPEC",
     "[tcp/|udp/]PORT[:HOSTPORT]: every port it forwards from now on (those kept keep their "
     "host port; \"\" alone: none)",
     "ports"},
    {0},
};
static const struct cmd pip_update_c = {
    .name = "update",
    .summary = "Change the ports a public IP forwards, live",
    .usage = "-g RG -n NAME --ports SPEC ...",
    .help = "Replace the set of ports a public IP forwards. Ports it keeps keep their host "
            "port; new ones get the lowest free host port of kumod's range unless given. With "
            "kumo-switch the change is live: a VM behind it needs no restart (the NSGs still "
            "decide what gets in: 'kumo vm open-port' does both).",
    .opts = pip_update_opts,
    .run = pip_update,
    .positionals = 1,
    .examples = "  kumo public-ip update -g web -n web1-ip --ports 22 80 443 8080\n"};
static const struct cmd pip_list_c =
    RES_LIST(&pip, "List public IPs with their ports", group_filter_opts);
static const struct cmd pip_show_c = RES_SHOW(&pip, "Show a public IP", pip_opts);
static const struct cmd pip_delete_c = RES_DELETE(&pip, "Delete a public IP no NIC uses", pip_opts);
const struct cmd cmd_public_ip = {
    .name = "public-ip",
    .summary = "Public IPs: create, list, show, update, delete",
    .sub = (const struct cmd *const[]){&pip_create_c, &pip_list_c, &pip_show_c, &pip_update_c,
                                       &pip_delete_c, NULL},
};
