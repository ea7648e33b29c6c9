/*
 * nsg.c - parsing of NSG rule fields, the default rules, and first-match
 * evaluation. See nsg.h for the semantics.
 */
#include "network/nsg.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_PORT_RANGES 1024

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

int nsg_parse_direction(const char *s, enum nsg_direction *out, char *err, size_t errlen)
{
    if (!strcasecmp(s, "Inbound")) {
        *out = NSG_INBOUND;
    } else if (!strcasecmp(s, "Outbound")) {
        *out = NSG_OUTBOUND;
    } else {
        return fail(err, errlen, "'%.40s' is not a direction (Inbound or Outbound)", s);
    }
    return 0;
}

int nsg_parse_access(const char *s, bool *allow, char *err, size_t errlen)
{
    if (!strcasecmp(s, "Allow")) {
        *allow = true;
    } else if (!strcasecmp(s, "Deny")) {
        *allow = false;
    } else {
        return fail(err, errlen, "'%.40s' is not an access (Allow or Deny)", s);
    }
    return 0;
}

int nsg_parse_protocol(const char *s, enum nsg_protocol *out, char *err, size_t errlen)
{
    if (!strcasecmp(s, "Tcp")) {
        *out = NSG_PROTO_TCP;
    } else if (!strcasecmp(s, "Udp")) {
        *out = NSG_PROTO_UDP;
    } else if (!strcasecmp(s, "Icmp")) {
        *out = NSG_PROTO_ICMP;
    } else if (!strcasecmp(s, "Any") || !strcmp(s, "*")) {
        *out = NSG_PROTO_ANY;
    } else {
        return fail(err, errlen, "'%.40s' is not a protocol (Tcp, Udp, Icmp, Any or *)", s);
    }
    return 0;
}

int nsg_parse_prefix(const char *s, struct nsg_prefix *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (!strcmp(s, "*")) {
        out->kind = NSG_PREFIX_ANY;
        return 0;
    }
    if (!strcasecmp(s, "VirtualNetwork")) {
        out->kind = NSG_PREFIX_VNET;
        return 0;
    }
    if (!strcasecmp(s, "Internet")) {
        out->kind = NSG_PREFIX_INTERNET;
        return 0;
    }
    if (!strcasecmp(s, "AzureLoadBalancer")) {
        out->kind = NSG_PREFIX_AZURE_LB;
        return 0;
    }
    int r = net_cidr_parse(s, &out->cidr, true, false);
    if (r == -2) {
        struct net_cidr c;
        char buf[NET_CIDR_STRLEN];
        net_cidr_parse(s, &c, true, true);
        return fail(err, errlen, "'%s' has host bits set (did you mean %s?)", s,
                    net_cidr_str(c, buf));
    }
    if (r < 0)
        return fail(err, errlen,
                    "'%.40s' is not an address prefix (a CIDR such as 10.0.0.0/16, an IP, *, "
                    "VirtualNetwork, Internet or AzureLoadBalancer)",
                    s);
    out->kind = NSG_PREFIX_CIDR;
    return 0;
}

/* A port number 0..65535 of up to 5 digits at *p; advances *p. */
static int parse_port(const char **p, uint16_t *out)
{
    const char *s = *p;
    unsigned v = 0;
    int digits = 0;
    while (*s >= '0' && *s <= '9') {
        if (++digits > 5) return -1;
        v = v * 10 + (unsigned)(*s - '0');
        s++;
    }
    if (digits == 0 || v > 65535) return -1;
    *p = s;
    *out = (uint16_t)v;
    return 0;
}

static void skip_spaces(const char **p)
{
    while (**p == ' ') (*p)++;
}

int nsg_parse_ports(const char *s, struct nsg_port_range **ranges, size_t *n, bool *is_any,
                    char *err, size_t errlen)
{
    const char *p = s;
    skip_spaces(&p);
    *is_any = false;
    if (*p == '*') {
        p++;
        skip_spaces(&p);
        if (*p != '\0')
            return fail(err, errlen, "'%.40s': * cannot be combined with other ports", s);
        *is_any = true;
        free(*ranges);
        *ranges = NULL;
        *n = 0;
        return 0;
    }
    for (;;) {
        struct nsg_port_range r;
        skip_spaces(&p);
        if (parse_port(&p, &r.lo) < 0)
            return fail(err, errlen,
                        "'%.40s' is not a port range (80, 10000-10005, a comma list, or *; "
                        "ports are 0-65535)",
                        s);
        r.hi = r.lo;
        skip_spaces(&p);
        if (*p == '-') {
            p++;
            skip_spaces(&p);
            if (parse_port(&p, &r.hi) < 0)
                return fail(err, errlen, "'%.40s' is not a port range (ports are 0-65535)", s);
            if (r.hi < r.lo)
                return fail(err, errlen, "'%.40s': range %u-%u ends before it starts", s, r.lo,
                            r.hi);
        }
        if (*n >= MAX_PORT_RANGES)
            return fail(err, errlen, "more than %d port ranges", MAX_PORT_RANGES);
        struct nsg_port_range *nr = realloc(*ranges, (*n + 1) * sizeof(**ranges));
        if (!nr) return fail(err, errlen, "out of memory");
        *ranges = nr;
        nr[(*n)++] = r;
        skip_spaces(&p);
        if (*p == '\0') return 0;
        if (*p != ',') return fail(err, errlen, "'%.40s' is not a port range", s);
        p++;
    }
}

const char *nsg_direction_name(enum nsg_direction d)
{
    return d == NSG_INBOUND ? "Inbound" : "Outbound";
}

const char *nsg_protocol_name(enum nsg_protocol p)
{
    switch (p) {
    case NSG_PROTO_TCP: return "Tcp";
    case NSG_PROTO_UDP: return "Udp";
    case NSG_PROTO_ICMP: return "Icmp";
    default: return "*";
    }
}

void nsg_prefix_str(const struct nsg_prefix *p, char *buf, size_t len)
{
    char c[NET_CIDR_STRLEN];
    switch (p->kind) {
    case NSG_PREFIX_ANY: snprintf(buf, len, "*"); break;
    case NSG_PREFIX_VNET: snprintf(buf, len, "VirtualNetwork"); break;
    case NSG_PREFIX_INTERNET: snprintf(buf, len, "Internet"); break;
    case NSG_PREFIX_AZURE_LB: snprintf(buf, len, "AzureLoadBalancer"); break;
    case NSG_PREFIX_CIDR: snprintf(buf, len, "%s", net_cidr_str(p->cidr, c)); break;
    }
}

void nsg_rule_clear(struct nsg_rule *r)
{
    free(r->src);
    free(r->dst);
    free(r->sports);
    free(r->dports);
    r->src = r->dst = NULL;
    r->sports = r->dports = NULL;
    r->nsrc = r->ndst = r->nsports = r->ndports = 0;
}

void nsg_clear(struct nsg *nsg)
{
    for (size_t i = 0; i < nsg->nrules; i++) nsg_rule_clear(&nsg->rules[i]);
    free(nsg->rules);
    free(nsg->name);
    memset(nsg, 0, sizeof(*nsg));
}

static const struct {
    const char *name;
    uint16_t priority;
    enum nsg_direction dir;
    enum nsg_prefix_kind src, dst;
    bool allow;
} default_rules[NSG_DEFAULT_RULES] = {
    {"AllowVNetInBound", 65000, NSG_INBOUND, NSG_PREFIX_VNET, NSG_PREFIX_VNET, true},
    {"AllowAzureLoadBalancerInBound", 65001, NSG_INBOUND, NSG_PREFIX_AZURE_LB, NSG_PREFIX_ANY,
     true},
    {"DenyAllInBound", 65500, NSG_INBOUND, NSG_PREFIX_ANY, NSG_PREFIX_ANY, false},
    {"AllowVnetOutBound", 65000, NSG_OUTBOUND, NSG_PREFIX_VNET, NSG_PREFIX_VNET, true},
    {"AllowInternetOutBound", 65001, NSG_OUTBOUND, NSG_PREFIX_ANY, NSG_PREFIX_INTERNET, true},
    {"DenyAllOutBound", 65500, NSG_OUTBOUND, NSG_PREFIX_ANY, NSG_PREFIX_ANY, false},
};

static int cmp_rules(const void *a, const void *b)
{
    const struct nsg_rule *x = a, *y = b;
    if (x->direction != y->direction) return x->direction < y->direction ? -1 : 1;
    return (x->priority > y->priority) - (x->priority < y->priority);
}

int nsg_finish(struct nsg *nsg, char *err, size_t errlen)
{
    size_t n = nsg->nrules;
    for (size_t i = 0; i < n; i++) {
        const struct nsg_rule *a = &nsg->rules[i];
        for (int d = 0; d < NSG_DEFAULT_RULES; d++)
            if (!strcasecmp(a->name, default_rules[d].name))
                return fail(err, errlen, "rules[%zu].name: '%s' is the name of a default rule", i,
                            a->name);
        for (size_t j = 0; j < i; j++) {
            const struct nsg_rule *b = &nsg->rules[j];
            if (!strcasecmp(a->name, b->name))
                return fail(err, errlen, "rules[%zu] and rules[%zu] are both named '%s'", j, i,
                            a->name);
            if (a->priority == b->priority && a->direction == b->direction)
                return fail(err, errlen,
                            "two rules share priority %u and direction %s: rules[%zu] '%s' and "
                            "rules[%zu] '%s'",
                            a->priority, nsg_direction_name(a->direction), j, b->name, i,
                            a->name);
        }
    }
    struct nsg_rule *rules = realloc(nsg->rules, (n + NSG_DEFAULT_RULES) * sizeof(*rules));
    if (!rules) return fail(err, errlen, "out of memory");
    nsg->rules = rules;
    for (int d = 0; d < NSG_DEFAULT_RULES; d++) {
        struct nsg_rule *r = &rules[n + (size_t)d];
        memset(r, 0, sizeof(*r));
        snprintf(r->name, sizeof(r->name), "%s", default_rules[d].name);
        r->priority = default_rules[d].priority;
        r->direction = default_rules[d].dir;
        r->allow = default_rules[d].allow;
        r->is_default = true;
        r->protocol = NSG_PROTO_ANY;
        r->src = calloc(1, sizeof(*r->src));
        r->dst = calloc(1, sizeof(*r->dst));
        nsg->nrules = n + (size_t)d + 1;
        if (!r->src || !r->dst) return fail(err, errlen, "out of memory");
        r->nsrc = r->ndst = 1;
        r->src->kind = default_rules[d].src;
        r->dst->kind = default_rules[d].dst;
    }
    qsort(rules, nsg->nrules, sizeof(*rules), cmp_rules);
    return 0;
}

static bool in_vnet(uint32_t ip, const struct nsg_vnet_ctx *vnet)
{
    for (size_t i = 0; i < vnet->nspaces; i++)
        if (net_cidr_contains(vnet->spaces[i], ip)) return true;
    return false;
}

static bool prefix_matches(const struct nsg_prefix *p, size_t n, uint32_t ip,
                           const struct nsg_vnet_ctx *vnet)
{
    for (size_t i = 0; i < n; i++) {
        switch (p[i].kind) {
        case NSG_PREFIX_ANY: return true;
        case NSG_PREFIX_CIDR:
            if (net_cidr_contains(p[i].cidr, ip)) return true;
            break;
        case NSG_PREFIX_VNET:
            if (in_vnet(ip, vnet)) return true;
            break;
        case NSG_PREFIX_INTERNET:
            if (!in_vnet(ip, vnet)) return true;
            break;
        case NSG_PREFIX_AZURE_LB:
            if (ip == NSG_AZURE_LB_ADDR) return true;
            break;
        }
    }
    return false;
}

static bool ports_match(const struct nsg_port_range *r, size_t n, bool has_ports, uint16_t port)
{
    if (n == 0) return true; /* "*" */
    if (!has_ports) return false;
    for (size_t i = 0; i < n; i++)
        if (port >= r[i].lo && port <= r[i].hi) return true;
    return false;
}

bool nsg_rule_matches(const struct nsg_rule *r, const struct nsg_packet *p,
                      const struct nsg_vnet_ctx *vnet)
{
    switch (r->protocol) {
    case NSG_PROTO_ANY: break;
    case NSG_PROTO_TCP:
        if (p->proto != 6) return false;
        break;
    case NSG_PROTO_UDP:
        if (p->proto != 17) return false;
        break;
    case NSG_PROTO_ICMP:
        if (p->proto != 1) return false;
        break;
    }
    return ports_match(r->sports, r->nsports, p->has_ports, p->sport) &&
           ports_match(r->dports, r->ndports, p->has_ports, p->dport) &&
           prefix_matches(r->src, r->nsrc, p->src, vnet) &&
           prefix_matches(r->dst, r->ndst, p->dst, vnet);
}

struct nsg_rule *nsg_evaluate(struct nsg *nsg, enum nsg_direction dir, const struct nsg_packet *p,
                              const struct nsg_vnet_ctx *vnet)
{
    for (size_t i = 0; i < nsg->nrules; i++) {
        struct nsg_rule *r = &nsg->rules[i];
        if (r->direction != dir || !nsg_rule_matches(r, p, vnet)) continue;
        r->packets++;
        r->bytes += p->bytes;
        return r;
    }
    return NULL;
}

void nsg_carry_counters(struct nsg *to, const struct nsg *from)
{
    for (size_t i = 0; i < to->nrules; i++) {
        struct nsg_rule *r = &to->rules[i];
        for (size_t j = 0; j < from->nrules; j++) {
            const struct nsg_rule *o = &from->rules[j];
            if (o->direction == r->direction && o->is_default == r->is_default &&
                !strcmp(o->name, r->name)) {
                r->packets = o->packets;
                r->bytes = o->bytes;
                break;
            }
        }
    }
}
