/*
 * control.c - the operations of the control protocol (control.h). Edits
 * (add_nic, update_nsg, ...) are made on a copy of the current
 * configuration document, which is then validated and applied as a whole,
 * exactly like set_config: there is one validator and one apply path.
 */
#include "network/control.h"
#include "network/vxlan.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#define FLOWS_DEFAULT_LIMIT 1000

static json_t *error_response(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static json_t *error_response(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_t *r = json_object();
    json_object_set_new(r, "ok", json_false());
    json_object_set_new(r, "error", json_string(msg));
    return r;
}

static json_t *ok_response(void)
{
    json_t *r = json_object();
    json_object_set_new(r, "ok", json_true());
    return r;
}

static json_t *jint(uint64_t v)
{
    return json_integer((json_int_t)(v > (uint64_t)INT64_MAX ? (uint64_t)INT64_MAX : v));
}

static json_t *jip(uint32_t ip)
{
    char b[NET_IP4_STRLEN];
    return json_string(net_ip4_str(ip, b));
}

/* ------------------------------------------------------------- views -- */

json_t *ctl_nic_status(struct sw *sw, size_t i)
{
    const struct net_config *cfg = sw->cfg;
    const struct net_nic *n = &cfg->nics[i];
    const struct net_vnet *v = &cfg->vnets[n->vnet];
    const struct net_subnet *s = &v->subnets[n->subnet];
    char mac[NET_MAC_STRLEN];
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(n->id));
    json_object_set_new(o, "vnet", json_string(v->name));
    json_object_set_new(o, "subnet", json_string(s->name));
    json_object_set_new(o, "mac", json_string(net_mac_str(n->mac, mac)));
    json_object_set_new(o, "ip", jip(n->ip));
    json_object_set_new(o, "prefix_length", json_integer(s->prefix.len));
    json_object_set_new(o, "gateway", jip(s->gateway));
    json_object_set_new(o, "dns", jip(v->dns));
    json_object_set_new(o, "ip_allocated", json_boolean(!n->ip_static));
    json_object_set_new(o, "connected", json_boolean(sw->nics[i].port >= 0));
    if (net_nic_remote(n)) json_object_set_new(o, "host", jip(n->host));
    return o;
}

static json_t *drops_object(const uint64_t *drops)
{
    json_t *d = json_object();
    for (int k = 0; k < SW_DROP_COUNT; k++)
        json_object_set_new(d, sw_drop_name((enum sw_drop)k), jint(drops[k]));
    return d;
}

json_t *ctl_counters(struct sw *sw)
{
    const struct net_config *cfg = sw->cfg;
    json_t *r = json_object(), *ports = json_object(), *nsgs = json_object(),
           *vnets = json_object();
    for (size_t i = 0; i < cfg->nnics; i++) {
        const struct sw_port_stats *st = &sw->nics[i].st;
        json_t *p = json_object();
        uint64_t rx_drops = 0;
        for (int k = 0; k < SW_DROP_COUNT; k++)
            if (k != SW_DROP_PORT_DOWN && k != SW_DROP_PORT_FULL) rx_drops += st->drops[k];
        json_object_set_new(p, "connected", json_boolean(sw->nics[i].port >= 0));
        json_object_set_new(p, "rx_packets", jint(st->rx_packets));
        json_object_set_new(p, "rx_bytes", jint(st->rx_bytes));
        json_object_set_new(p, "tx_packets", jint(st->tx_packets));
        json_object_set_new(p, "tx_bytes", jint(st->tx_bytes));
        json_object_set_new(p, "rx_drops", jint(rx_drops));
        json_object_set_new(p, "tx_drops",
                            jint(st->drops[SW_DROP_PORT_DOWN] + st->drops[SW_DROP_PORT_FULL]));
        json_object_set_new(p, "drops", drops_object(st->drops));
        json_object_set_new(p, "arp_replies", jint(st->arp_replies));
        json_object_set_new(p, "dhcp_replies", jint(st->dhcp_replies));
        json_object_set_new(p, "dns_answers", jint(st->dns_answers));
        json_object_set_new(p, "metadata_requests", jint(st->metadata_requests));
        json_object_set_new(ports, cfg->nics[i].id, p);
    }
    for (size_t i = 0; i < cfg->nnsgs; i++) {
        const struct nsg *g = &cfg->nsgs[i];
        json_t *rules = json_array();
        for (size_t k = 0; k < g->nrules; k++) {
            const struct nsg_rule *rl = &g->rules[k];
            json_t *o = json_object();
            json_object_set_new(o, "name", json_string(rl->name));
            json_object_set_new(o, "direction", json_string(nsg_direction_name(rl->direction)));
            json_object_set_new(o, "priority", json_integer(rl->priority));
            json_object_set_new(o, "access", json_string(rl->allow ? "Allow" : "Deny"));
            json_object_set_new(o, "default", json_boolean(rl->is_default));
            json_object_set_new(o, "packets", jint(rl->packets));
            json_object_set_new(o, "bytes", jint(rl->bytes));
            json_array_append_new(rules, o);
        }
        json_t *o = json_object();
        json_object_set_new(o, "rules", rules);
        json_object_set_new(nsgs, g->name, o);
    }
    for (size_t i = 0; i < cfg->nvnets; i++) {
        const struct sw_vnet_rt *vr = &sw->vnets[i];
        struct ct_stats cs;
        ct_get_stats(vr->ct, &cs);
        json_t *ct = json_object(), *nat = json_object(), *o = json_object();
        json_object_set_new(ct, "entries", jint(cs.entries));
        json_object_set_new(ct, "max_entries", jint(cs.max_entries));
        json_object_set_new(ct, "created", jint(cs.created));
        json_object_set_new(ct, "evicted", jint(cs.evicted));
        json_object_set_new(ct, "expired", jint(cs.expired));
        json_object_set_new(nat, "to_nat_packets", jint(vr->nat.to_nat_packets));
        json_object_set_new(nat, "to_nat_bytes", jint(vr->nat.to_nat_bytes));
        json_object_set_new(nat, "from_nat_packets", jint(vr->nat.from_nat_packets));
        json_object_set_new(nat, "from_nat_bytes", jint(vr->nat.from_nat_bytes));
        json_object_set_new(nat, "drops", drops_object(vr->nat.drops));
        json_object_set_new(o, "conntrack", ct);
        json_object_set_new(o, "nat", nat);
        if (cfg->vnets[i].vni) {
            json_t *vx = json_object();
            json_object_set_new(vx, "vni", jint(cfg->vnets[i].vni));
            json_object_set_new(vx, "rx_packets", jint(vr->vx.rx_packets));
            json_object_set_new(vx, "rx_bytes", jint(vr->vx.rx_bytes));
            json_object_set_new(vx, "tx_packets", jint(vr->vx.tx_packets));
            json_object_set_new(vx, "tx_bytes", jint(vr->vx.tx_bytes));
            json_object_set_new(vx, "floods", jint(vr->vx.floods));
            json_object_set_new(vx, "learned", jint(vr->vx.learned));
            json_object_set_new(vx, "endpoints", jint(vr->learned ? vr->learned->n : 0));
            json_object_set_new(vx, "drops", drops_object(vr->vx.drops));
            json_object_set_new(o, "vxlan", vx);
        }
        json_object_set_new(vnets, cfg->vnets[i].name, o);
    }
    json_object_set_new(r, "ports", ports);
    json_object_set_new(r, "nsgs", nsgs);
    json_object_set_new(r, "vnets", vnets);
    json_object_set_new(r, "vxlan_no_vnet", jint(sw->vxlan_no_vnet));
    return r;
}

struct flows_ctx {
    json_t *arr;
    size_t limit;
    bool truncated;
    uint64_t now;
};

static const char *proto_name(uint8_t p)
{
    switch (p) {
    case 6: return "tcp";
    case 17: return "udp";
    case 1: return "icmp";
    default: return "other";
    }
}

static bool add_flow(const struct ct_entry *e, void *opaque)
{
    struct flows_ctx *fc = opaque;
    if (json_array_size(fc->arr) >= fc->limit) {
        fc->truncated = true;
        return false;
    }
    json_t *o = json_object();
    json_object_set_new(o, "proto", json_string(proto_name(e->key.proto)));
    json_object_set_new(o, "src", jip(e->key.src));
    json_object_set_new(o, "dst", jip(e->key.dst));
    if (e->key.proto == 1) {
        json_object_set_new(o, "id", json_integer(e->key.sport));
    } else {
        json_object_set_new(o, "sport", json_integer(e->key.sport));
        json_object_set_new(o, "dport", json_integer(e->key.dport));
    }
    json_object_set_new(o, "state", json_string(ct_state_name(e->state)));
    json_object_set_new(o, "packets", json_pack("[o,o]", jint(e->packets[0]), jint(e->packets[1])));
    json_object_set_new(o, "bytes", json_pack("[o,o]", jint(e->bytes[0]), jint(e->bytes[1])));
    json_object_set_new(o, "idle_ms", jint(fc->now - e->last_seen));
    json_object_set_new(o, "expires_in_ms", jint(e->expires - fc->now));
    json_array_append_new(fc->arr, o);
    return true;
}

/* ------------------------------------------------------------- edits -- */

static json_t *apply_doc(struct ctl_env *env, json_t *doc, const char *what)
{
    char err[1024];
    struct net_config *cfg;
    if (net_config_load(doc, env->sw->cfg, &cfg, err, sizeof(err)) < 0)
        return what ? error_response("%s: %s", what, err) : error_response("%s", err);
    if (env->apply(env->opaque, cfg, err, sizeof(err)) < 0)
        return what ? error_response("%s: %s", what, err) : error_response("%s", err);
    json_t *r = ok_response();
    json_t *nics = json_array();
    for (size_t i = 0; i < env->sw->cfg->nnics; i++)
        json_array_append_new(nics, ctl_nic_status(env->sw, i));
    json_object_set_new(r, "nics", nics);
    if (env->public_ip_errors)
        json_object_set_new(r, "public_ip_errors", env->public_ip_errors(env->opaque));
    return r;
}

struct collection {
    const char *kind;  /* "vnet" */
    const char *array; /* "vnets" */
    const char *key;   /* "name" */
};

static const struct collection collections[] = {
    {"vnet", "vnets", "name"},
    {"nsg", "nsgs", "name"},
    {"nic", "nics", "id"},
    {"public_ip", "public_ips", "name"},
};

static ssize_t find_in(json_t *arr, const char *key, const char *value)
{
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e) {
        json_t *k = json_object_get(e, key);
        if (json_is_string(k) && !strcmp(json_string_value(k), value)) return (ssize_t)i;
    }
    return -1;
}

static json_t *edit(struct ctl_env *env, json_t *req, const char *verb,
                    const struct collection *c)
{
    json_t *obj = NULL;
    const char *name;
    if (!strcmp(verb, "remove")) {
        json_t *n = json_object_get(req, c->key);
        if (!json_is_string(n))
            return error_response("%s_%s needs \"%s\" (a string)", verb, c->kind, c->key);
        name = json_string_value(n);
    } else {
        obj = json_object_get(req, c->kind);
        if (!json_is_object(obj))
            return error_response("%s_%s needs \"%s\" (an object)", verb, c->kind, c->kind);
        json_t *n = json_object_get(obj, c->key);
        if (!json_is_string(n))
            return error_response("%s.%s: missing (required)", c->kind, c->key);
        name = json_string_value(n);
    }
    json_t *doc = json_deep_copy(env->sw->cfg->doc);
    if (!doc) return error_response("out of memory");
    json_t *arr = json_object_get(doc, c->array);
    if (!arr) {
        arr = json_array();
        json_object_set_new(doc, c->array, arr);
    }
    if (!json_is_array(arr)) {
        json_decref(doc);
        return error_response("the configuration's %s is not an array", c->array);
    }
    ssize_t at = find_in(arr, c->key, name);
    if (!strcmp(verb, "add")) {
        if (at >= 0) {
            json_decref(doc);
            return error_response("%s '%s' already exists (use update_%s)", c->kind, name,
                                  c->kind);
        }
        json_array_append(arr, obj);
    } else {
        if (at < 0) {
            json_decref(doc);
            return error_response("there is no %s '%s'", c->kind, name);
        }
        if (!strcmp(verb, "update"))
            json_array_set(arr, (size_t)at, obj);
        else
            json_array_remove(arr, (size_t)at);
    }
    char what[160];
    snprintf(what, sizeof(what), "%s_%s '%.80s'", verb, c->kind, name);
    json_t *r = apply_doc(env, doc, what);
    json_decref(doc);
    return r;
}

/* ------------------------------------------------------------ dispatch -- */

static json_t *handle(struct ctl_env *env, json_t *req)
{
    if (!json_is_object(req)) return error_response("a request is a JSON object");
    json_t *jop = json_object_get(req, "op");
    if (!json_is_string(jop)) return error_response("missing \"op\" (a string)");
    const char *op = json_string_value(jop);
    struct sw *sw = env->sw;

    if (!strcmp(op, "ping")) {
        json_t *r = ok_response();
        json_object_set_new(r, "version", json_string(KUMO_VERSION));
        return r;
    }
    if (!strcmp(op, "set_config")) {
        json_t *doc = json_object_get(req, "config");
        if (!doc) return error_response("set_config needs \"config\" (an object)");
        return apply_doc(env, doc, NULL);
    }
    if (!strcmp(op, "get_config")) {
        json_t *r = ok_response();
        json_object_set(r, "config", sw->cfg->doc);
        return r;
    }
    if (!strcmp(op, "nics")) {
        json_t *r = ok_response(), *a = json_array();
        for (size_t i = 0; i < sw->cfg->nnics; i++) json_array_append_new(a, ctl_nic_status(sw, i));
        json_object_set_new(r, "nics", a);
        return r;
    }
    if (!strcmp(op, "get_nic")) {
        json_t *id = json_object_get(req, "id");
        if (!json_is_string(id)) return error_response("get_nic needs \"id\" (a string)");
        int i = net_config_find_nic(sw->cfg, json_string_value(id));
        if (i < 0) return error_response("there is no nic '%.80s'", json_string_value(id));
        json_t *r = ok_response();
        json_object_set_new(r, "nic", ctl_nic_status(sw, (size_t)i));
        return r;
    }
    if (!strcmp(op, "provisioning")) {
        json_t *id = json_object_get(req, "nic"), *clear = json_object_get(req, "clear");
        if (!json_is_string(id)) return error_response("provisioning needs \"nic\" (a string)");
        if (clear && !json_is_boolean(clear))
            return error_response("provisioning: \"clear\" is true or false");
        int i = net_config_find_nic(sw->cfg, json_string_value(id));
        if (i < 0) return error_response("there is no nic '%.80s'", json_string_value(id));
        struct sw_nic_rt *rt = &sw->nics[i];
        json_t *r = ok_response();
        json_object_set_new(r, "events", rt->reports ? json_deep_copy(rt->reports) : json_array());
        json_object_set_new(r, "seq", jint(rt->report_seq));
        if (json_is_true(clear)) json_array_clear(rt->reports);
        return r;
    }
    if (!strcmp(op, "counters")) {
        json_t *r = ctl_counters(sw);
        json_object_set_new(r, "ok", json_true());
        json_object_set_new(r, "nat_queue_drops", jint(env->nat_queue_drops));
        return r;
    }
    if (!strcmp(op, "flows")) {
        json_t *jv = json_object_get(req, "vnet"), *jl = json_object_get(req, "limit");
        if (!json_is_string(jv)) return error_response("flows needs \"vnet\" (a string)");
        int v = net_config_find_vnet(sw->cfg, json_string_value(jv));
        if (v < 0) return error_response("there is no vnet '%.80s'", json_string_value(jv));
        struct flows_ctx fc = {json_array(), FLOWS_DEFAULT_LIMIT, false, env->now_ms};
        if (json_is_integer(jl) && json_integer_value(jl) > 0)
            fc.limit = (size_t)json_integer_value(jl);
        ct_foreach(sw->vnets[v].ct, env->now_ms, add_flow, &fc);
        json_t *r = ok_response();
        json_object_set_new(r, "flows", fc.arr);
        json_object_set_new(r, "truncated", json_boolean(fc.truncated));
        return r;
    }
    for (size_t c = 0; c < sizeof(collections) / sizeof(collections[0]); c++) {
        static const char *const verbs[] = {"add", "update", "remove"};
        for (int v = 0; v < 3; v++) {
            char name[40];
            snprintf(name, sizeof(name), "%s_%s", verbs[v], collections[c].kind);
            if (!strcmp(op, name)) return edit(env, req, verbs[v], &collections[c]);
        }
    }
    return error_response("unknown op '%.60s' (ping, set_config, get_config, add_/update_/"
                          "remove_ vnet|nsg|nic|public_ip, nics, get_nic, counters, flows)",
                          op);
}

json_t *ctl_handle(struct ctl_env *env, json_t *req)
{
    json_t *r = handle(env, req);
    json_t *id = json_is_object(req) ? json_object_get(req, "id") : NULL;
    if (id) json_object_set(r, "id", id);
    return r;
}

char *ctl_handle_line(struct ctl_env *env, const char *line, size_t len)
{
    json_error_t je;
    json_t *req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je), *r;
    if (!req)
        r = error_response("invalid JSON at column %d: %s", je.column, je.text);
    else
        r = ctl_handle(env, req);
    char *text = json_dumps(r, JSON_COMPACT);
    json_decref(r);
    json_decref(req);
    return text;
}
