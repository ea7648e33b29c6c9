/*
 * config.c - JSON configuration to struct net_config, with validation.
 * Every error names the field it is about ("nsgs[0].rules[2].priority: 50
 * is outside 100-4096") so that a person or kumod can fix it without
 * guessing. Unknown fields are errors too: a misspelt "prority" must not be
 * silently ignored.
 *
 * Order: NSGs, VNets (subnets refer to NSGs), public IPs, NICs (refer to all
 * three), then address allocation for NICs without a private_ip.
 */
#include "network/config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_LIST     4000 /* entries in any list of the document */
#define PATH_MAX_LEN 160

struct ctx {
    char *err;
    size_t errlen;
};

static int failp(struct ctx *c, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int failp(struct ctx *c, const char *path, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (path && path[0])
        snprintf(c->err, c->errlen, "%s: %s", path, msg);
    else
        snprintf(c->err, c->errlen, "%s", msg);
    return -1;
}

/* Field paths are short ("nsgs[12].rules[3].priority"); a path that does
 * not fit is cut, which only shortens a message. */
static void pathf(char *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void pathf(char *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, PATH_MAX_LEN, fmt, ap);
    va_end(ap);
}

static void field_path(char *out, const char *path, const char *key)
{
    if (path[0])
        pathf(out, "%s.%s", path, key);
    else
        pathf(out, "%s", key);
}

static void index_path(char *out, const char *path, const char *key, size_t i)
{
    if (path[0])
        pathf(out, "%s.%s[%zu]", path, key, i);
    else
        pathf(out, "%s[%zu]", key, i);
}

static const char *json_type_name(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

static int want_object(struct ctx *c, const json_t *j, const char *path)
{
    if (!json_is_object(j)) return failp(c, path, "expected an object, not %s", json_type_name(j));
    return 0;
}

/* Fields of obj must be among allowed (NULL-terminated). */
static int check_keys(struct ctx *c, json_t *obj, const char *path, const char *const *allowed)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        bool ok = false;
        for (const char *const *a = allowed; *a; a++)
            if (!strcmp(key, *a)) ok = true;
        if (!ok) {
            char list[256] = "";
            size_t used = 0;
            for (const char *const *a = allowed; *a && used < sizeof(list); a++) {
                int n = snprintf(list + used, sizeof(list) - used, "%s%s", a == allowed ? "" : ", ",
                                 *a);
                if (n < 0) break;
                used += (size_t)n;
            }
            return failp(c, path, "unknown field '%.60s' (known fields: %s)", key, list);
        }
    }
    return 0;
}

/* *out = the string field key of obj; absent: *out = NULL (error if required). */
static int get_str(struct ctx *c, json_t *obj, const char *key, const char *path, bool required,
                   const char **out)
{
    char fp[PATH_MAX_LEN];
    field_path(fp, path, key);
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v) return required ? failp(c, fp, "missing (required)") : 0;
    if (!json_is_string(v)) return failp(c, fp, "expected a string, not %s", json_type_name(v));
    if (strlen(json_string_value(v)) != json_string_length(v))
        return failp(c, fp, "contains a NUL character");
    *out = json_string_value(v);
    return 0;
}

static int get_int(struct ctx *c, json_t *obj, const char *key, const char *path, bool required,
                   long long min, long long max, long long *out, bool *present)
{
    char fp[PATH_MAX_LEN];
    field_path(fp, path, key);
    json_t *v = json_object_get(obj, key);
    if (present) *present = v != NULL;
    if (!v) return required ? failp(c, fp, "missing (required)") : 0;
    if (!json_is_integer(v)) return failp(c, fp, "expected an integer, not %s", json_type_name(v));
    long long x = json_integer_value(v);
    if (x < min || x > max) return failp(c, fp, "%lld is outside %lld-%lld", x, min, max);
    *out = x;
    return 0;
}

/* Optional array field; *out NULL and *n 0 when absent. */
static int get_array(struct ctx *c, json_t *obj, const char *key, const char *path, bool required,
                     json_t **out, size_t *n)
{
    char fp[PATH_MAX_LEN];
    field_path(fp, path, key);
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    *n = 0;
    if (!v) return required ? failp(c, fp, "missing (required)") : 0;
    if (!json_is_array(v)) return failp(c, fp, "expected an array, not %s", json_type_name(v));
    if (json_array_size(v) > MAX_LIST)
        return failp(c, fp, "has %zu entries; at most %d are allowed", json_array_size(v),
                     MAX_LIST);
    *out = v;
    *n = json_array_size(v);
    return 0;
}

/* Names of VNets, subnets, NSGs, rules, public IPs and NIC ids: 1-80
 * characters, letters, digits, '_', '.', '-'; beginning with a letter or
 * digit and ending with a letter, digit or '_' (Azure's rule). */
static int check_name(struct ctx *c, const char *s, const char *path)
{
    size_t n = strlen(s);
    if (n == 0) return failp(c, path, "must not be empty");
    if (n > NET_NAME_MAX)
        return failp(c, path, "'%.20s...' is longer than %d characters", s, NET_NAME_MAX);
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        bool alnum =
            (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
        if (!alnum && ch != '_' && ch != '.' && ch != '-')
            return failp(c, path,
                         "'%.80s' may only contain letters, digits, '_', '.' and '-'", s);
        if (i == 0 && !alnum) return failp(c, path, "'%.80s' must begin with a letter or digit", s);
        if (i == n - 1 && !alnum && ch != '_')
            return failp(c, path, "'%.80s' must end with a letter, digit or '_'", s);
    }
    return 0;
}

static int get_name(struct ctx *c, json_t *obj, const char *key, const char *path,
                    const char **out)
{
    char fp[PATH_MAX_LEN];
    if (get_str(c, obj, key, path, true, out) < 0) return -1;
    field_path(fp, path, key);
    return check_name(c, *out, fp);
}

static char *dup_or_fail(struct ctx *c, const char *s)
{
    char *d = strdup(s);
    if (!d) failp(c, "", "out of memory");
    return d;
}

/* ---------------------------------------------------------------- NSGs -- */

/* A field that is a string or an array of strings (or, for ports, integers):
 * calls fn for each element. Absent: fn("*"). */
typedef int (*elem_fn)(struct ctx *c, const char *s, const char *path, void *opaque);

static int foreach_elem(struct ctx *c, json_t *obj, const char *key, const char *path,
                        bool ints_ok, elem_fn fn, void *opaque)
{
    char fp[PATH_MAX_LEN], ep[PATH_MAX_LEN], num[16];
    field_path(fp, path, key);
    json_t *v = json_object_get(obj, key);
    if (!v) return fn(c, "*", fp, opaque);
    if (json_is_string(v)) return fn(c, json_string_value(v), fp, opaque);
    if (ints_ok && json_is_integer(v)) {
        snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
        return fn(c, num, fp, opaque);
    }
    if (!json_is_array(v))
        return failp(c, fp, "expected a string or an array of strings, not %s",
                     json_type_name(v));
    size_t n = json_array_size(v);
    if (n == 0) return failp(c, fp, "must not be an empty array");
    if (n > MAX_LIST) return failp(c, fp, "has more than %d entries", MAX_LIST);
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(v, i);
        pathf(ep, "%s[%zu]", fp, i);
        const char *s;
        if (json_is_string(e)) {
            s = json_string_value(e);
        } else if (ints_ok && json_is_integer(e)) {
            snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(e));
            s = num;
        } else {
            return failp(c, ep, "expected a string, not %s", json_type_name(e));
        }
        if (fn(c, s, ep, opaque) < 0) return -1;
    }
    return 0;
}

struct prefix_list {
    struct nsg_prefix **p;
    size_t *n;
};

static int add_prefix(struct ctx *c, const char *s, const char *path, void *opaque)
{
    struct prefix_list *l = opaque;
    struct nsg_prefix pf;
    char e[256];
    if (nsg_parse_prefix(s, &pf, e, sizeof(e)) < 0) return failp(c, path, "%s", e);
    struct nsg_prefix *np = realloc(*l->p, (*l->n + 1) * sizeof(*np));
    if (!np) return failp(c, path, "out of memory");
    *l->p = np;
    np[(*l->n)++] = pf;
    return 0;
}

struct port_list {
    struct nsg_port_range **r;
    size_t *n;
    bool any, specific;
};

static int add_ports(struct ctx *c, const char *s, const char *path, void *opaque)
{
    struct port_list *l = opaque;
    char e[256];
    bool any;
    struct nsg_port_range *r = NULL;
    size_t n = 0;
    if (nsg_parse_ports(s, &r, &n, &any, e, sizeof(e)) < 0) {
        free(r);
        return failp(c, path, "%s", e);
    }
    if (any) {
        l->any = true;
    } else {
        l->specific = true;
        struct nsg_port_range *nr = realloc(*l->r, (*l->n + n) * sizeof(*nr));
        if (!nr) {
            free(r);
            return failp(c, path, "out of memory");
        }
        memcpy(nr + *l->n, r, n * sizeof(*nr));
        *l->r = nr;
        *l->n += n;
    }
    free(r);
    if (l->any && l->specific) return failp(c, path, "* cannot be combined with other ports");
    return 0;
}

static const char *const rule_keys[] = {
    "name", "priority", "direction", "access", "protocol", "source_address_prefix",
    "destination_address_prefix", "source_port_range", "destination_port_range",
    "description", NULL};

static int parse_rule(struct ctx *c, json_t *j, const char *path, struct nsg_rule *r)
{
    const char *s;
    long long prio;
    char e[256], fp[PATH_MAX_LEN];
    if (want_object(c, j, path) < 0 || check_keys(c, j, path, rule_keys) < 0) return -1;
    if (get_name(c, j, "name", path, &s) < 0) return -1;
    snprintf(r->name, sizeof(r->name), "%s", s);
    if (get_int(c, j, "priority", path, true, NSG_PRIORITY_MIN, NSG_PRIORITY_MAX, &prio, NULL) < 0)
        return -1;
    r->priority = (uint16_t)prio;
    if (get_str(c, j, "direction", path, true, &s) < 0) return -1;
    field_path(fp, path, "direction");
    if (nsg_parse_direction(s, &r->direction, e, sizeof(e)) < 0) return failp(c, fp, "%s", e);
    if (get_str(c, j, "access", path, true, &s) < 0) return -1;
    field_path(fp, path, "access");
    if (nsg_parse_access(s, &r->allow, e, sizeof(e)) < 0) return failp(c, fp, "%s", e);
    if (get_str(c, j, "protocol", path, true, &s) < 0) return -1;
    field_path(fp, path, "protocol");
    if (nsg_parse_protocol(s, &r->protocol, e, sizeof(e)) < 0) return failp(c, fp, "%s", e);
    if (get_str(c, j, "description", path, false, &s) < 0) return -1;
    if (s && strlen(s) > 140) {
        field_path(fp, path, "description");
        return failp(c, fp, "is longer than 140 characters");
    }

    struct prefix_list src = {&r->src, &r->nsrc}, dst = {&r->dst, &r->ndst};
    if (foreach_elem(c, j, "source_address_prefix", path, false, add_prefix, &src) < 0 ||
        foreach_elem(c, j, "destination_address_prefix", path, false, add_prefix, &dst) < 0)
        return -1;
    struct port_list sp = {&r->sports, &r->nsports, false, false};
    struct port_list dp = {&r->dports, &r->ndports, false, false};
    if (foreach_elem(c, j, "source_port_range", path, true, add_ports, &sp) < 0 ||
        foreach_elem(c, j, "destination_port_range", path, true, add_ports, &dp) < 0)
        return -1;
    if (r->protocol == NSG_PROTO_ICMP && (r->nsports || r->ndports)) {
        field_path(fp, path, r->nsports ? "source_port_range" : "destination_port_range");
        return failp(c, fp, "must be * for protocol Icmp (ICMP has no ports)");
    }
    return 0;
}

static int parse_nsgs(struct ctx *c, json_t *doc, struct net_config *cfg)
{
    json_t *arr;
    size_t n;
    if (get_array(c, doc, "nsgs", "", false, &arr, &n) < 0) return -1;
    if (n == 0) return 0;
    cfg->nsgs = calloc(n, sizeof(*cfg->nsgs));
    if (!cfg->nsgs) return failp(c, "nsgs", "out of memory");
    cfg->nnsgs = n;
    static const char *const keys[] = {"name", "rules", NULL};
    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX_LEN], rp[PATH_MAX_LEN], e[400];
        json_t *j = json_array_get(arr, i);
        struct nsg *g = &cfg->nsgs[i];
        const char *name;
        index_path(path, "", "nsgs", i);
        if (want_object(c, j, path) < 0 || check_keys(c, j, path, keys) < 0) return -1;
        if (get_name(c, j, "name", path, &name) < 0) return -1;
        for (size_t k = 0; k < i; k++)
            if (!strcmp(cfg->nsgs[k].name, name))
                return failp(c, path, "name '%s' is already used by nsgs[%zu]", name, k);
        if (!(g->name = dup_or_fail(c, name))) return -1;
        json_t *rules;
        size_t nr;
        if (get_array(c, j, "rules", path, false, &rules, &nr) < 0) return -1;
        if (nr > 1000) return failp(c, path, "has %zu rules; at most 1000 are allowed", nr);
        if (nr) {
            g->rules = calloc(nr, sizeof(*g->rules));
            if (!g->rules) return failp(c, path, "out of memory");
        }
        for (size_t k = 0; k < nr; k++) {
            g->nrules = k + 1;
            index_path(rp, path, "rules", k);
            if (parse_rule(c, json_array_get(rules, k), rp, &g->rules[k]) < 0) return -1;
        }
        if (nsg_finish(g, e, sizeof(e)) < 0) return failp(c, path, "%s", e);
    }
    return 0;
}

static int nsg_ref(struct ctx *c, const struct net_config *cfg, json_t *obj, const char *path,
                   int *out)
{
    const char *s;
    *out = -1;
    if (get_str(c, obj, "nsg", path, false, &s) < 0) return -1;
    if (!s) return 0;
    *out = net_config_find_nsg(cfg, s);
    if (*out < 0) {
        char fp[PATH_MAX_LEN];
        field_path(fp, path, "nsg");
        return failp(c, fp, "no NSG is named '%.80s'", s);
    }
    return 0;
}

/* --------------------------------------------------------------- VNets -- */

static const struct {
    uint32_t addr;
    uint8_t len;
    const char *what;
} reserved_ranges[] = {
    {0x00000000u, 8, "reserved (\"this network\")"},
    {0x7f000000u, 8, "reserved (loopback)"},
    {0xa9fe0000u, 16, "reserved (link-local)"},
    {0xe0000000u, 3, "reserved (multicast, class E and broadcast)"},
    {NET_NAT_NETWORK, NET_NAT_PREFIX, "used by the platform (NAT and DNS at 168.63.129.16)"},
};

static int parse_cidr_field(struct ctx *c, const char *s, const char *path, struct net_cidr *out)
{
    int r = net_cidr_parse(s, out, false, false);
    if (r == -2) {
        struct net_cidr fixed;
        char buf[NET_CIDR_STRLEN];
        net_cidr_parse(s, &fixed, false, true);
        return failp(c, path, "'%s' has host bits set (did you mean %s?)", s,
                     net_cidr_str(fixed, buf));
    }
    if (r < 0) return failp(c, path, "'%.40s' is not a CIDR prefix such as 10.0.0.0/16", s);
    return 0;
}

static int parse_subnet(struct ctx *c, json_t *j, const char *path, struct net_config *cfg,
                        struct net_vnet *v, size_t idx)
{
    static const char *const keys[] = {"name", "prefix", "nsg", NULL};
    struct net_subnet *sn = &v->subnets[idx];
    const char *name, *prefix;
    char fp[PATH_MAX_LEN], a[NET_CIDR_STRLEN], b[NET_CIDR_STRLEN];
    if (want_object(c, j, path) < 0 || check_keys(c, j, path, keys) < 0) return -1;
    if (get_name(c, j, "name", path, &name) < 0) return -1;
    for (size_t k = 0; k < idx; k++)
        if (!strcmp(v->subnets[k].name, name))
            return failp(c, path, "name '%s' is already used by subnets[%zu]", name, k);
    if (!(sn->name = dup_or_fail(c, name))) return -1;
    if (get_str(c, j, "prefix", path, true, &prefix) < 0) return -1;
    field_path(fp, path, "prefix");
    if (parse_cidr_field(c, prefix, fp, &sn->prefix) < 0) return -1;
    if (sn->prefix.len < 8 || sn->prefix.len > 29)
        return failp(c, fp, "subnet %s: the prefix length must be 8-29 (a /29 has 3 usable "
                     "addresses after the 5 Azure reserves)",
                     net_cidr_str(sn->prefix, a));
    bool inside = false;
    for (size_t k = 0; k < v->nspaces; k++)
        if (net_cidr_inside(sn->prefix, v->spaces[k])) inside = true;
    if (!inside) {
        char spaces[200] = "";
        size_t used = 0;
        for (size_t k = 0; k < v->nspaces && used < sizeof(spaces); k++) {
            int n = snprintf(spaces + used, sizeof(spaces) - used, "%s%s", k ? ", " : "",
                             net_cidr_str(v->spaces[k], b));
            if (n < 0) break;
            used += (size_t)n;
        }
        return failp(c, fp, "subnet %s is not inside the VNet's address space %s",
                     net_cidr_str(sn->prefix, a), spaces);
    }
    for (size_t k = 0; k < idx; k++)
        if (net_cidr_overlap(sn->prefix, v->subnets[k].prefix))
            return failp(c, fp, "subnet %s overlaps subnets[%zu] '%s' %s",
                         net_cidr_str(sn->prefix, a), k, v->subnets[k].name,
                         net_cidr_str(v->subnets[k].prefix, b));
    sn->gateway = sn->prefix.addr + 1;
    return nsg_ref(c, cfg, j, path, &sn->nsg);
}

/* A VNet's "vxlan": {"vni": N, "flood": ["ADDR", ...], "learn": bool}. */
static int parse_vxlan(struct ctx *c, json_t *vnet, const char *path, struct net_config *cfg,
                       size_t idx)
{
    static const char *const keys[] = {"vni", "flood", "learn", NULL};
    struct net_vnet *v = &cfg->vnets[idx];
    char fp[PATH_MAX_LEN], ep[PATH_MAX_LEN];
    json_t *j = json_object_get(vnet, "vxlan");
    if (!j) return 0;
    field_path(fp, path, "vxlan");
    if (want_object(c, j, fp) < 0 || check_keys(c, j, fp, keys) < 0) return -1;
    if (!cfg->underlay_addr)
        return failp(c, fp, "needs the host's underlay address (the top-level \"underlay\": "
                            "{\"address\": ...}) to send VXLAN from");
    long long vni;
    if (get_int(c, j, "vni", fp, true, 1, 0xffffff, &vni, NULL) < 0) return -1;
    for (size_t k = 0; k < idx; k++)
        if (cfg->vnets[k].vni == (uint32_t)vni)
            return failp(c, fp, "vni %lld is already used by vnets[%zu] '%s'", vni, k,
                         cfg->vnets[k].name);
    v->vni = (uint32_t)vni;
    v->learn = true;
    json_t *learn = json_object_get(j, "learn");
    if (learn) {
        field_path(ep, fp, "learn");
        if (!json_is_boolean(learn))
            return failp(c, ep, "expected a boolean, not %s", json_type_name(learn));
        v->learn = json_is_true(learn);
    }
    json_t *arr;
    size_t n;
    if (get_array(c, j, "flood", fp, false, &arr, &n) < 0) return -1;
    if (n > NET_VXLAN_FLOOD_MAX) {
        field_path(ep, fp, "flood");
        return failp(c, ep, "has %zu addresses; at most %d hosts are allowed", n,
                     NET_VXLAN_FLOOD_MAX);
    }
    if (n && !(v->flood = calloc(n, sizeof(*v->flood)))) return failp(c, fp, "out of memory");
    for (size_t k = 0; k < n; k++) {
        json_t *e = json_array_get(arr, k);
        uint32_t a;
        index_path(ep, fp, "flood", k);
        if (!json_is_string(e)) return failp(c, ep, "expected a string, not %s", json_type_name(e));
        if (net_ip4_parse(json_string_value(e), &a) < 0 || a == 0 || a == 0xffffffffu ||
            (a >> 28) >= 0xe)
            return failp(c, ep, "'%.40s' is not a host's unicast IPv4 address",
                         json_string_value(e));
        if (a == cfg->underlay_addr)
            return failp(c, ep, "%s is this host's own underlay address", json_string_value(e));
        for (size_t q = 0; q < k; q++)
            if (v->flood[q] == a) return failp(c, ep, "%s is listed twice", json_string_value(e));
        v->flood[k] = a;
        v->nflood = k + 1;
    }
    return 0;
}

static int parse_vnet(struct ctx *c, json_t *j, const char *path, struct net_config *cfg,
                      size_t idx)
{
    static const char *const keys[] = {"name", "address_space", "dns", "subnets", "vxlan", NULL};
    struct net_vnet *v = &cfg->vnets[idx];
    const char *name, *dns;
    char fp[PATH_MAX_LEN], a[NET_CIDR_STRLEN], b[NET_CIDR_STRLEN];
    if (want_object(c, j, path) < 0 || check_keys(c, j, path, keys) < 0) return -1;
    if (get_name(c, j, "name", path, &name) < 0) return -1;
    for (size_t k = 0; k < idx; k++)
        if (!strcmp(cfg->vnets[k].name, name))
            return failp(c, path, "name '%s' is already used by vnets[%zu]", name, k);
    if (!(v->name = dup_or_fail(c, name))) return -1;

    json_t *arr;
    size_t n;
    if (get_array(c, j, "address_space", path, true, &arr, &n) < 0) return -1;
    field_path(fp, path, "address_space");
    if (n == 0) return failp(c, fp, "must list at least one prefix");
    if (n > 64) return failp(c, fp, "has %zu prefixes; at most 64 are allowed", n);
    v->spaces = calloc(n, sizeof(*v->spaces));
    if (!v->spaces) return failp(c, fp, "out of memory");
    for (size_t k = 0; k < n; k++) {
        char ep[PATH_MAX_LEN];
        json_t *e = json_array_get(arr, k);
        index_path(ep, path, "address_space", k);
        if (!json_is_string(e)) return failp(c, ep, "expected a string, not %s", json_type_name(e));
        struct net_cidr *sp = &v->spaces[k];
        if (parse_cidr_field(c, json_string_value(e), ep, sp) < 0) return -1;
        v->nspaces = k + 1;
        if (sp->len < 8 || sp->len > 29)
            return failp(c, ep, "%s: the prefix length must be 8-29", net_cidr_str(*sp, a));
        for (size_t r = 0; r < sizeof(reserved_ranges) / sizeof(reserved_ranges[0]); r++) {
            struct net_cidr res = {reserved_ranges[r].addr, reserved_ranges[r].len};
            if (net_cidr_overlap(*sp, res))
                return failp(c, ep, "%s overlaps %s, which is %s", net_cidr_str(*sp, a),
                             net_cidr_str(res, b), reserved_ranges[r].what);
        }
        for (size_t q = 0; q < k; q++)
            if (net_cidr_overlap(*sp, v->spaces[q]))
                return failp(c, ep, "%s overlaps address_space[%zu] %s", net_cidr_str(*sp, a), q,
                             net_cidr_str(v->spaces[q], b));
    }

    if (get_str(c, j, "dns", path, false, &dns) < 0) return -1;
    v->dns = NET_PLATFORM_DNS;
    if (dns) {
        field_path(fp, path, "dns");
        if (net_ip4_parse(dns, &v->dns) < 0)
            return failp(c, fp, "'%.40s' is not an IPv4 address", dns);
        if (v->dns == 0 || v->dns == 0xffffffffu || (v->dns >> 28) == 0xe)
            return failp(c, fp, "%s cannot be a DNS server", dns);
    }

    if (get_array(c, j, "subnets", path, false, &arr, &n) < 0) return -1;
    if (n) {
        v->subnets = calloc(n, sizeof(*v->subnets));
        if (!v->subnets) return failp(c, path, "out of memory");
    }
    for (size_t k = 0; k < n; k++) {
        char sp[PATH_MAX_LEN];
        v->nsubnets = k + 1;
        v->subnets[k].nsg = -1;
        index_path(sp, path, "subnets", k);
        if (parse_subnet(c, json_array_get(arr, k), sp, cfg, v, k) < 0) return -1;
    }
    return parse_vxlan(c, j, path, cfg, idx);
}

static int parse_vnets(struct ctx *c, json_t *doc, struct net_config *cfg)
{
    json_t *arr;
    size_t n;
    if (get_array(c, doc, "vnets", "", false, &arr, &n) < 0) return -1;
    if (n == 0) return 0;
    cfg->vnets = calloc(n, sizeof(*cfg->vnets));
    if (!cfg->vnets) return failp(c, "vnets", "out of memory");
    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX_LEN];
        cfg->nvnets = i + 1;
        index_path(path, "", "vnets", i);
        if (parse_vnet(c, json_array_get(arr, i), path, cfg, i) < 0) return -1;
    }
    return 0;
}

/* ---------------------------------------------------------- public IPs -- */

static int parse_pip(struct ctx *c, json_t *j, const char *path, struct net_config *cfg,
                     size_t idx)
{
    static const char *const keys[] = {"name", "host_address", "ports", NULL};
    static const char *const port_keys[] = {"host_port", "nic_port", "protocol", NULL};
    struct net_public_ip *p = &cfg->pips[idx];
    const char *name, *host;
    char fp[PATH_MAX_LEN];
    if (want_object(c, j, path) < 0 || check_keys(c, j, path, keys) < 0) return -1;
    if (get_name(c, j, "name", path, &name) < 0) return -1;
    for (size_t k = 0; k < idx; k++)
        if (!strcmp(cfg->pips[k].name, name))
            return failp(c, path, "name '%s' is already used by public_ips[%zu]", name, k);
    if (!(p->name = dup_or_fail(c, name))) return -1;
    if (get_str(c, j, "host_address", path, false, &host) < 0) return -1;
    p->host_addr = 0x7f000001u;
    if (host) {
        field_path(fp, path, "host_address");
        if (net_ip4_parse(host, &p->host_addr) < 0)
            return failp(c, fp, "'%.40s' is not an IPv4 address", host);
        if ((p->host_addr >> 28) >= 0xe)
            return failp(c, fp, "%s is not a unicast address", host);
    }
    json_t *arr;
    size_t n;
    if (get_array(c, j, "ports", path, false, &arr, &n) < 0) return -1;
    if (n) {
        p->ports = calloc(n, sizeof(*p->ports));
        if (!p->ports) return failp(c, path, "out of memory");
    }
    for (size_t k = 0; k < n; k++) {
        char pp[PATH_MAX_LEN];
        json_t *e = json_array_get(arr, k);
        long long hp, np;
        const char *proto;
        index_path(pp, path, "ports", k);
        if (want_object(c, e, pp) < 0 || check_keys(c, e, pp, port_keys) < 0) return -1;
        if (get_int(c, e, "host_port", pp, true, 1, 65535, &hp, NULL) < 0 ||
            get_int(c, e, "nic_port", pp, true, 1, 65535, &np, NULL) < 0 ||
            get_str(c, e, "protocol", pp, false, &proto) < 0)
            return -1;
        p->nports = k + 1;
        p->ports[k].host_port = (uint16_t)hp;
        p->ports[k].nic_port = (uint16_t)np;
        if (proto && !strcasecmp(proto, "Udp")) {
            p->ports[k].udp = true;
        } else if (proto && strcasecmp(proto, "Tcp")) {
            field_path(fp, pp, "protocol");
            return failp(c, fp, "'%.40s' is not Tcp or Udp", proto);
        }
        /* host address:port:protocol is unique across every public IP */
        for (size_t q = 0; q <= idx; q++) {
            const struct net_public_ip *o = &cfg->pips[q];
            size_t lim = q == idx ? k : o->nports;
            for (size_t r = 0; r < lim; r++) {
                const struct net_pip_port *op = &o->ports[r];
                if (op->host_port == hp && op->udp == p->ports[k].udp &&
                    (o->host_addr == p->host_addr || !o->host_addr || !p->host_addr)) {
                    char ip[NET_IP4_STRLEN];
                    return failp(c, pp, "host port %s:%lld/%s is already used by public_ips[%zu] "
                                 "'%s'",
                                 net_ip4_str(p->host_addr, ip), hp, p->ports[k].udp ? "udp" : "tcp",
                                 q, o->name);
                }
            }
        }
    }
    p->nic = -1;
    return 0;
}

static int parse_pips(struct ctx *c, json_t *doc, struct net_config *cfg)
{
    json_t *arr;
    size_t n;
    if (get_array(c, doc, "public_ips", "", false, &arr, &n) < 0) return -1;
    if (n == 0) return 0;
    cfg->pips = calloc(n, sizeof(*cfg->pips));
    if (!cfg->pips) return failp(c, "public_ips", "out of memory");
    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX_LEN];
        cfg->npips = i + 1;
        index_path(path, "", "public_ips", i);
        if (parse_pip(c, json_array_get(arr, i), path, cfg, i) < 0) return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- NICs -- */

static int check_hostname(struct ctx *c, const char *s, const char *path)
{
    size_t n = strlen(s);
    if (n == 0 || n > NET_HOSTNAME_MAX)
        return failp(c, path, "must be 1-%d characters", NET_HOSTNAME_MAX);
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        bool alnum =
            (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
        if (!alnum && (ch != '-' || i == 0 || i == n - 1))
            return failp(c, path, "'%.63s' is not a host name (letters, digits and inner '-')", s);
    }
    return 0;
}

/* Free text of the vm object: 1-NET_VM_TEXT_MAX printable ASCII characters. */
static int check_text(struct ctx *c, const char *s, const char *path)
{
    size_t n = strlen(s);
    if (n == 0 || n > NET_VM_TEXT_MAX)
        return failp(c, path, "must be 1-%d characters", NET_VM_TEXT_MAX);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            return failp(c, path, "may only contain printable ASCII characters");
    return 0;
}

static bool b64_char(char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           ch == '+' || ch == '/';
}

/* Standard base64 with padding (RFC 4648 section 4), no line breaks. */
static int check_base64(struct ctx *c, const char *s, const char *path)
{
    size_t n = strlen(s);
    if (n % 4) return failp(c, path, "is not base64 (its length is not a multiple of 4)");
    for (size_t i = 0; i < n; i++) {
        size_t from_end = n - i;
        if (s[i] == '=' && from_end <= 2 && (from_end == 1 || s[i + 1] == '=')) continue;
        if (!b64_char(s[i]))
            return failp(c, path, "is not base64 (RFC 4648, with padding): character %zu", i);
    }
    size_t pad = n && s[n - 1] == '=' ? (n > 1 && s[n - 2] == '=' ? 2 : 1) : 0;
    size_t bytes = n / 4 * 3 - pad;
    if (bytes > NET_USER_DATA_MAX)
        return failp(c, path, "%zu bytes decoded; at most %d", bytes, NET_USER_DATA_MAX);
    return 0;
}

static void vm_free(struct net_vm *vm)
{
    if (!vm) return;
    free(vm->name);
    free(vm->id);
    free(vm->size);
    free(vm->location);
    free(vm->resource_group);
    free(vm->user_data);
    free(vm->admin_username);
    for (size_t i = 0; i < vm->npublic_keys; i++)
        free(vm->public_keys[i]);
    free(vm);
}

/* One line of an authorized_keys file: printable ASCII, 1-NET_VM_KEY_MAX
 * characters (the key's own syntax is kumod's to check). */
static int check_key_line(struct ctx *c, const char *s, const char *path)
{
    size_t n = strlen(s);
    if (n == 0 || n > NET_VM_KEY_MAX)
        return failp(c, path, "must be 1-%d characters", NET_VM_KEY_MAX);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            return failp(c, path, "may only contain printable ASCII characters (one line)");
    return 0;
}

static int parse_public_keys(struct ctx *c, json_t *j, const char *path, struct net_vm *vm)
{
    char fp[PATH_MAX_LEN];
    field_path(fp, path, "public_keys");
    json_t *a = json_object_get(j, "public_keys");
    if (!a) return 0;
    if (!json_is_array(a)) return failp(c, fp, "expected an array, not %s", json_type_name(a));
    if (json_array_size(a) > NET_VM_KEYS_MAX)
        return failp(c, fp, "%zu keys; at most %d", json_array_size(a), NET_VM_KEYS_MAX);
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
        char ep[PATH_MAX_LEN + 24];
        snprintf(ep, sizeof(ep), "%s[%zu]", fp, i);
        if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
            return failp(c, ep, "expected a string without NUL characters");
        if (check_key_line(c, json_string_value(v), ep) < 0) return -1;
        if (!(vm->public_keys[vm->npublic_keys] = dup_or_fail(c, json_string_value(v))))
            return -1;
        vm->npublic_keys++;
    }
    return 0;
}

/* The optional "vm" object of a NIC: what the metadata service answers. */
static int parse_vm(struct ctx *c, json_t *j, const char *path, struct net_nic *nic)
{
    static const char *const keys[] = {"name",      "id",          "size",
                                       "location",  "resource_group", "user_data",
                                       "admin_username", "public_keys", NULL};
    char fp[PATH_MAX_LEN];
    if (want_object(c, j, path) < 0 || check_keys(c, j, path, keys) < 0) return -1;
    struct net_vm *vm = calloc(1, sizeof(*vm));
    if (!vm) return failp(c, path, "out of memory");
    nic->vm = vm;
    struct {
        const char *key;
        char **dst;
        bool required;
    } fields[] = {
        {"name", &vm->name, true},         {"id", &vm->id, false},
        {"size", &vm->size, false},        {"location", &vm->location, false},
        {"resource_group", &vm->resource_group, false}, {"user_data", &vm->user_data, false},
        {"admin_username", &vm->admin_username, false},
    };
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        const char *s;
        if (get_str(c, j, fields[i].key, path, fields[i].required, &s) < 0) return -1;
        if (!s) continue;
        field_path(fp, path, fields[i].key);
        if (!strcmp(fields[i].key, "user_data")) {
            if (check_base64(c, s, fp) < 0) return -1;
        } else if (!strcmp(fields[i].key, "id")) {
            if (check_name(c, s, fp) < 0) return -1;
        } else if (check_text(c, s, fp) < 0) {
            return -1;
        }
        if (!(*fields[i].dst = dup_or_fail(c, s))) return -1;
    }
    return parse_public_keys(c, j, path, vm);
}

static const uint8_t gateway_mac_bytes[6] = {0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc};

/* A NIC's "host": the underlay address of the host it lives on, for a NIC
 * of a VNet that spans hosts. Such a NIC is reached over VXLAN; its own
 * host enforces its NSGs, forwards its public IP and answers its metadata,
 * so it has none of those here, and it needs its address fixed. */
static int parse_nic_host(struct ctx *c, json_t *j, const char *path, struct net_config *cfg,
                          struct net_nic *nic)
{
    const char *host;
    char fp[PATH_MAX_LEN];
    if (get_str(c, j, "host", path, false, &host) < 0) return -1;
    if (!host) return 0;
    field_path(fp, path, "host");
    if (net_ip4_parse(host, &nic->host) < 0 || nic->host == 0 || nic->host == 0xffffffffu ||
        (nic->host >> 28) >= 0xe)
        return failp(c, fp, "'%.40s' is not a host's unicast IPv4 address", host);
    if (nic->host == cfg->underlay_addr)
        return failp(c, fp, "%s is this host's own underlay address: leave \"host\" out for a "
                            "NIC on this switch",
                     host);
    if (!cfg->vnets[nic->vnet].vni)
        return failp(c, fp, "the NIC's VNet '%s' has no \"vxlan\" (a VNI): it cannot reach "
                            "another host",
                     cfg->vnets[nic->vnet].name);
    if (!nic->ip_static)
        return failp(c, path, "a NIC on another host needs its private_ip");
    if (nic->nsg >= 0 || nic->public_ip >= 0 || nic->vm)
        return failp(c, path, "a NIC on another host has no nsg, public_ip or vm here (its own "
                              "host enforces and serves them)");
    return 0;
}

static int parse_nic(struct ctx *c, json_t *j, const char *path, struct net_config *cfg,
                     size_t idx)
{
    static const char *const keys[] = {"id",  "vnet",      "subnet",   "mac", "private_ip",
                                       "nsg", "public_ip", "hostname", "vm",  "host", NULL};
    struct net_nic *nic = &cfg->nics[idx];
    const char *id, *vnet, *subnet, *mac, *ip, *pip, *hostname;
    char fp[PATH_MAX_LEN], a[NET_IP4_STRLEN], b[NET_IP4_STRLEN], cs[NET_CIDR_STRLEN];
    if (want_object(c, j, path) < 0 || check_keys(c, j, path, keys) < 0) return -1;
    if (get_name(c, j, "id", path, &id) < 0) return -1;
    for (size_t k = 0; k < idx; k++)
        if (!strcmp(cfg->nics[k].id, id))
            return failp(c, path, "id '%s' is already used by nics[%zu]", id, k);
    if (!(nic->id = dup_or_fail(c, id))) return -1;

    if (get_str(c, j, "vnet", path, true, &vnet) < 0) return -1;
    int v = net_config_find_vnet(cfg, vnet);
    field_path(fp, path, "vnet");
    if (v < 0) return failp(c, fp, "no VNet is named '%.80s'", vnet);
    nic->vnet = (size_t)v;
    const struct net_vnet *vn = &cfg->vnets[v];

    if (get_str(c, j, "subnet", path, true, &subnet) < 0) return -1;
    field_path(fp, path, "subnet");
    size_t s = 0;
    while (s < vn->nsubnets && strcmp(vn->subnets[s].name, subnet)) s++;
    if (s == vn->nsubnets)
        return failp(c, fp, "VNet '%s' has no subnet named '%.80s'", vn->name, subnet);
    nic->subnet = s;
    const struct net_subnet *sn = &vn->subnets[s];

    if (get_str(c, j, "mac", path, true, &mac) < 0) return -1;
    field_path(fp, path, "mac");
    if (net_mac_parse(mac, nic->mac) < 0)
        return failp(c, fp, "'%.40s' is not a MAC address such as 52:54:00:12:34:56", mac);
    if (net_mac_is_multicast(nic->mac) || net_mac_is_zero(nic->mac) ||
        !memcmp(nic->mac, gateway_mac_bytes, 6))
        return failp(c, fp, "%s cannot be a NIC's address (multicast, zero or the gateway's)",
                     mac);
    for (size_t k = 0; k < idx; k++)
        if (!memcmp(cfg->nics[k].mac, nic->mac, 6))
            return failp(c, fp, "NIC mac %s is already used by %s", mac, cfg->nics[k].id);

    if (get_str(c, j, "private_ip", path, false, &ip) < 0) return -1;
    if (ip) {
        field_path(fp, path, "private_ip");
        if (net_ip4_parse(ip, &nic->ip) < 0)
            return failp(c, fp, "'%.40s' is not an IPv4 address", ip);
        uint32_t first = sn->prefix.addr + 4, last = net_cidr_last(sn->prefix) - 1;
        if (!net_cidr_contains(sn->prefix, nic->ip))
            return failp(c, fp, "%s is not inside subnet '%s' %s", ip, sn->name,
                         net_cidr_str(sn->prefix, cs));
        if (nic->ip < first || nic->ip > last)
            return failp(c, fp,
                         "%s is reserved (the network address, the gateway %s, two reserved "
                         "addresses and the broadcast address); usable addresses are %s-%s",
                         ip, net_ip4_str(sn->gateway, cs), net_ip4_str(first, a),
                         net_ip4_str(last, b));
        nic->ip_static = true;
        for (size_t k = 0; k < idx; k++)
            if (cfg->nics[k].vnet == nic->vnet && cfg->nics[k].ip_static &&
                cfg->nics[k].ip == nic->ip)
                return failp(c, fp, "%s is already used by %s", ip, cfg->nics[k].id);
    }

    if (nsg_ref(c, cfg, j, path, &nic->nsg) < 0) return -1;

    if (get_str(c, j, "public_ip", path, false, &pip) < 0) return -1;
    nic->public_ip = -1;
    if (pip) {
        field_path(fp, path, "public_ip");
        size_t p = 0;
        while (p < cfg->npips && strcmp(cfg->pips[p].name, pip)) p++;
        if (p == cfg->npips) return failp(c, fp, "no public IP is named '%.80s'", pip);
        if (cfg->pips[p].nic >= 0)
            return failp(c, fp, "public IP '%s' is already assigned to %s", pip,
                         cfg->nics[cfg->pips[p].nic].id);
        cfg->pips[p].nic = (int)idx;
        nic->public_ip = (int)p;
    }

    if (get_str(c, j, "hostname", path, false, &hostname) < 0) return -1;
    if (hostname) {
        field_path(fp, path, "hostname");
        if (check_hostname(c, hostname, fp) < 0) return -1;
        if (!(nic->hostname = dup_or_fail(c, hostname))) return -1;
    }

    json_t *vm = json_object_get(j, "vm");
    if (vm) {
        field_path(fp, path, "vm");
        if (parse_vm(c, vm, fp, nic) < 0) return -1;
    }
    return parse_nic_host(c, j, path, cfg, nic);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Give every NIC without a private_ip an address: the one it had in prev if
 * that is still free and in the same subnet, else the lowest free usable
 * address of its subnet. */
static int allocate_ips(struct ctx *c, struct net_config *cfg, const struct net_config *prev)
{
    size_t n = cfg->nnics;
    uint32_t *used = n ? malloc(n * sizeof(*used)) : NULL;
    if (n && !used) return failp(c, "nics", "out of memory");
    int rc = 0;
    /* keep previous addresses */
    for (size_t v = 0; v < cfg->nvnets && prev; v++) {
        size_t nu = 0;
        for (size_t i = 0; i < n; i++)
            if (cfg->nics[i].vnet == v && cfg->nics[i].ip_static) used[nu++] = cfg->nics[i].ip;
        qsort(used, nu, sizeof(*used), cmp_u32);
        for (size_t i = 0; i < n; i++) {
            struct net_nic *nic = &cfg->nics[i];
            if (nic->vnet != v || nic->ip_static) continue;
            int p = net_config_find_nic(prev, nic->id);
            if (p < 0) continue;
            const struct net_nic *o = &prev->nics[p];
            const struct net_vnet *ov = &prev->vnets[o->vnet];
            const struct net_subnet *sn = &cfg->vnets[v].subnets[nic->subnet];
            if (strcmp(ov->name, cfg->vnets[v].name) ||
                strcmp(ov->subnets[o->subnet].name, sn->name))
                continue;
            if (!net_cidr_contains(sn->prefix, o->ip) || o->ip < sn->prefix.addr + 4 ||
                o->ip >= net_cidr_last(sn->prefix))
                continue;
            if (nu && bsearch(&o->ip, used, nu, sizeof(*used), cmp_u32)) continue;
            nic->ip = o->ip;
        }
    }
    /* allocate the rest, subnet by subnet */
    for (size_t v = 0; v < cfg->nvnets && rc == 0; v++) {
        const struct net_vnet *vn = &cfg->vnets[v];
        for (size_t s = 0; s < vn->nsubnets && rc == 0; s++) {
            size_t nu = 0;
            bool need = false;
            for (size_t i = 0; i < n; i++) {
                const struct net_nic *nic = &cfg->nics[i];
                if (nic->vnet != v || nic->subnet != s) continue;
                if (nic->ip)
                    used[nu++] = nic->ip;
                else
                    need = true;
            }
            if (!need) continue;
            qsort(used, nu, sizeof(*used), cmp_u32);
            const struct net_subnet *sn = &vn->subnets[s];
            uint32_t cand = sn->prefix.addr + 4, last = net_cidr_last(sn->prefix) - 1;
            size_t u = 0;
            for (size_t i = 0; i < n && rc == 0; i++) {
                struct net_nic *nic = &cfg->nics[i];
                if (nic->vnet != v || nic->subnet != s || nic->ip) continue;
                while (u < nu && used[u] < cand) u++;
                while (u < nu && used[u] == cand && cand <= last) {
                    cand++;
                    u++;
                }
                if (cand > last || cand < sn->prefix.addr + 4) {
                    char path[PATH_MAX_LEN], cs[NET_CIDR_STRLEN];
                    index_path(path, "", "nics", i);
                    rc = failp(c, path, "subnet '%s' %s has no free address left", sn->name,
                               net_cidr_str(sn->prefix, cs));
                    break;
                }
                nic->ip = cand++;
            }
        }
    }
    free(used);
    return rc;
}

static int parse_nics(struct ctx *c, json_t *doc, struct net_config *cfg,
                      const struct net_config *prev)
{
    json_t *arr;
    size_t n;
    if (get_array(c, doc, "nics", "", false, &arr, &n) < 0) return -1;
    if (n == 0) return 0;
    cfg->nics = calloc(n, sizeof(*cfg->nics));
    if (!cfg->nics) return failp(c, "nics", "out of memory");
    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX_LEN];
        cfg->nnics = i + 1;
        cfg->nics[i].nsg = cfg->nics[i].public_ip = -1;
        index_path(path, "", "nics", i);
        if (parse_nic(c, json_array_get(arr, i), path, cfg, i) < 0) return -1;
    }
    return allocate_ips(c, cfg, prev);
}

/* ------------------------------------------------------------ underlay -- */

static int parse_underlay(struct ctx *c, json_t *doc, struct net_config *cfg)
{
    static const char *const keys[] = {"address", "port", NULL};
    json_t *j = json_object_get(doc, "underlay");
    cfg->underlay_port = NET_VXLAN_PORT;
    if (!j) return 0;
    if (want_object(c, j, "underlay") < 0 || check_keys(c, j, "underlay", keys) < 0) return -1;
    const char *addr;
    if (get_str(c, j, "address", "underlay", true, &addr) < 0) return -1;
    if (net_ip4_parse(addr, &cfg->underlay_addr) < 0 || cfg->underlay_addr == 0 ||
        cfg->underlay_addr == 0xffffffffu || (cfg->underlay_addr >> 28) >= 0xe)
        return failp(c, "underlay.address", "'%.40s' is not a unicast IPv4 address of this host",
                     addr);
    long long port;
    bool present;
    if (get_int(c, j, "port", "underlay", false, 1, 65535, &port, &present) < 0) return -1;
    if (present) cfg->underlay_port = (uint16_t)port;
    return 0;
}

/* ----------------------------------------------------------- conntrack -- */

static int parse_conntrack(struct ctx *c, json_t *doc, struct net_config *cfg)
{
    static const char *const keys[] = {
        "max_entries",     "tcp_syn_sent", "tcp_syn_recv",  "tcp_established", "tcp_fin_wait",
        "tcp_time_wait",   "tcp_close",    "udp_unreplied", "udp_replied",     "icmp",
        NULL};
    static const enum ct_state states[] = {CT_TCP_SYN_SENT,  CT_TCP_SYN_RECV, CT_TCP_ESTABLISHED,
                                           CT_TCP_FIN_WAIT,  CT_TCP_TIME_WAIT, CT_TCP_CLOSE,
                                           CT_UDP_UNREPLIED, CT_UDP_REPLIED,  CT_ICMP};
    ct_default_limits(&cfg->conntrack);
    json_t *j = json_object_get(doc, "conntrack");
    if (!j) return 0;
    if (want_object(c, j, "conntrack") < 0 || check_keys(c, j, "conntrack", keys) < 0) return -1;
    long long x;
    bool present;
    if (get_int(c, j, "max_entries", "conntrack", false, 1, 1 << 22, &x, &present) < 0) return -1;
    if (present) cfg->conntrack.max_entries = (uint32_t)x;
    for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
        if (get_int(c, j, keys[i + 1], "conntrack", false, 1, 864000, &x, &present) < 0) return -1;
        if (present) cfg->conntrack.timeout[states[i]] = (uint32_t)x;
    }
    return 0;
}

/* ------------------------------------------------------------- public -- */

struct net_config *net_config_empty(void)
{
    struct net_config *cfg = calloc(1, sizeof(*cfg));
    if (!cfg) return NULL;
    cfg->doc = json_object();
    if (!cfg->doc) {
        free(cfg);
        return NULL;
    }
    ct_default_limits(&cfg->conntrack);
    return cfg;
}

int net_config_load(json_t *doc, const struct net_config *prev, struct net_config **out,
                    char *err, size_t errlen)
{
    static const char *const keys[] = {"vnets",     "nsgs",     "nics", "public_ips",
                                       "conntrack", "underlay", NULL};
    struct ctx c = {err, errlen};
    *out = NULL;
    if (want_object(&c, doc, "configuration") < 0 || check_keys(&c, doc, "", keys) < 0) return -1;
    struct net_config *cfg = calloc(1, sizeof(*cfg));
    if (!cfg) return failp(&c, "", "out of memory");
    if (parse_conntrack(&c, doc, cfg) < 0 || parse_underlay(&c, doc, cfg) < 0 ||
        parse_nsgs(&c, doc, cfg) < 0 ||
        parse_vnets(&c, doc, cfg) < 0 || parse_pips(&c, doc, cfg) < 0 ||
        parse_nics(&c, doc, cfg, prev) < 0) {
        net_config_free(cfg);
        return -1;
    }
    cfg->doc = json_incref(doc);
    *out = cfg;
    return 0;
}

int net_config_parse(const char *text, size_t len, const struct net_config *prev,
                     struct net_config **out, char *err, size_t errlen)
{
    json_error_t je;
    *out = NULL;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!doc) {
        snprintf(err, errlen, "invalid JSON at line %d column %d: %s", je.line, je.column,
                 je.text);
        return -1;
    }
    int r = net_config_load(doc, prev, out, err, errlen);
    json_decref(doc);
    return r;
}

void net_config_free(struct net_config *cfg)
{
    if (!cfg) return;
    for (size_t i = 0; i < cfg->nvnets; i++) {
        struct net_vnet *v = &cfg->vnets[i];
        for (size_t s = 0; s < v->nsubnets; s++) free(v->subnets[s].name);
        free(v->subnets);
        free(v->spaces);
        free(v->flood);
        free(v->name);
    }
    free(cfg->vnets);
    for (size_t i = 0; i < cfg->nnics; i++) {
        free(cfg->nics[i].id);
        free(cfg->nics[i].hostname);
        vm_free(cfg->nics[i].vm);
    }
    free(cfg->nics);
    for (size_t i = 0; i < cfg->nnsgs; i++) nsg_clear(&cfg->nsgs[i]);
    free(cfg->nsgs);
    for (size_t i = 0; i < cfg->npips; i++) {
        free(cfg->pips[i].name);
        free(cfg->pips[i].ports);
    }
    free(cfg->pips);
    if (cfg->doc) json_decref(cfg->doc);
    free(cfg);
}

int net_config_find_nic(const struct net_config *cfg, const char *id)
{
    for (size_t i = 0; i < cfg->nnics; i++)
        if (cfg->nics[i].id && !strcmp(cfg->nics[i].id, id)) return (int)i;
    return -1;
}

int net_config_find_vnet(const struct net_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->nvnets; i++)
        if (cfg->vnets[i].name && !strcmp(cfg->vnets[i].name, name)) return (int)i;
    return -1;
}

int net_config_find_nsg(const struct net_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->nnsgs; i++)
        if (cfg->nsgs[i].name && !strcmp(cfg->nsgs[i].name, name)) return (int)i;
    return -1;
}

int net_config_nic_by_ip(const struct net_config *cfg, size_t v, uint32_t ip)
{
    for (size_t i = 0; i < cfg->nnics; i++)
        if (cfg->nics[i].vnet == v && cfg->nics[i].ip == ip) return (int)i;
    return -1;
}

int net_config_vnet_by_vni(const struct net_config *cfg, uint32_t vni)
{
    for (size_t i = 0; vni && i < cfg->nvnets; i++)
        if (cfg->vnets[i].vni == vni) return (int)i;
    return -1;
}

bool net_vnet_contains(const struct net_vnet *v, uint32_t ip)
{
    for (size_t i = 0; i < v->nspaces; i++)
        if (net_cidr_contains(v->spaces[i], ip)) return true;
    return false;
}
