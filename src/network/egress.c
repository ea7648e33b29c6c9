/*
 * egress.c - see egress.h.
 */
#include "network/egress.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t mask(unsigned len)
{
    return len == 0 ? 0 : len >= 32 ? 0xffffffffu : ~((1u << (32 - len)) - 1);
}

static bool in_prefix(struct egress_prefix p, uint32_t ip)
{
    return (ip & mask(p.len)) == p.addr;
}

#define P(a, b, c, d, l)                                                                           \
    {                                                                                              \
        ((uint32_t)(a) << 24) | ((b) << 16) | ((c) << 8) | (d), (l)                                \
    }

static const struct egress_prefix this_host[] = {P(0, 0, 0, 0, 8), P(127, 0, 0, 0, 8)};
static const struct egress_prefix link_local[] = {P(169, 254, 0, 0, 16)};
static const struct egress_prefix reserved[] = {P(224, 0, 0, 0, 3)}; /* multicast + 240/4 */
static const struct egress_prefix private_nets[] = {
    P(10, 0, 0, 0, 8),    P(172, 16, 0, 0, 12), P(192, 168, 0, 0, 16),
    P(100, 64, 0, 0, 10), P(198, 18, 0, 0, 15),
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static bool in_any(const struct egress_prefix *list, size_t n, uint32_t ip)
{
    for (size_t i = 0; i < n; i++)
        if (in_prefix(list[i], ip)) return true;
    return false;
}

void egress_init(struct egress_policy *p)
{
    memset(p, 0, sizeof(*p));
    egress_refresh_host(p);
}

int egress_refresh_host(struct egress_policy *p)
{
    struct ifaddrs *ifa;
    if (getifaddrs(&ifa) < 0) return -1;
    size_t n = 0;
    for (struct ifaddrs *i = ifa; i && n < EGRESS_MAX_HOST; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) continue;
        uint32_t a = ntohl(((const struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr);
        bool dup = false;
        for (size_t k = 0; k < n; k++)
            dup = dup || p->host[k] == a;
        if (!dup) p->host[n++] = a;
    }
    freeifaddrs(ifa);
    p->nhost = n;
    return 0;
}

static int parse_prefix(const char *s, struct egress_prefix *out)
{
    char buf[32];
    const char *slash = strchr(s, '/');
    size_t alen = slash ? (size_t)(slash - s) : strlen(s);
    if (alen == 0 || alen >= sizeof(buf)) return -1;
    memcpy(buf, s, alen);
    buf[alen] = 0;
    struct in_addr a;
    if (inet_pton(AF_INET, buf, &a) != 1) return -1;
    unsigned len = 32;
    if (slash) {
        char *end;
        unsigned long l = strtoul(slash + 1, &end, 10);
        if (!slash[1] || *end || l > 32) return -1;
        len = (unsigned)l;
    }
    uint32_t ip = ntohl(a.s_addr);
    if (ip & ~mask(len)) return -1; /* host bits set: say what is meant */
    *out = (struct egress_prefix){ip, (uint8_t)len};
    return 0;
}

/* An allow may open a private network's part, never the host or below. */
static bool overlaps_always_denied(struct egress_prefix p)
{
    const struct egress_prefix *lists[] = {this_host, link_local, reserved};
    size_t sizes[] = {N(this_host), N(link_local), N(reserved)};
    for (size_t l = 0; l < 3; l++)
        for (size_t i = 0; i < sizes[l]; i++) {
            unsigned len = p.len < lists[l][i].len ? p.len : lists[l][i].len;
            if (((p.addr ^ lists[l][i].addr) & mask(len)) == 0) return true;
        }
    return false;
}

int egress_add(struct egress_policy *p, const char *word, char *err, size_t errlen)
{
    struct egress_prefix x;
    if (strcmp(word, "allow-private") == 0) {
        p->allow_private = true;
        return 0;
    }
    bool allow = strncmp(word, "allow:", 6) == 0, deny = strncmp(word, "deny:", 5) == 0;
    if (!allow && !deny) {
        snprintf(err, errlen, "egress '%s': use allow-private, allow:CIDR or deny:CIDR", word);
        return -1;
    }
    const char *cidr = word + (allow ? 6 : 5);
    if (parse_prefix(cidr, &x) < 0) {
        snprintf(err, errlen,
                 "egress '%s': %s is not an IPv4 prefix like 192.168.1.0/24 (host bits zero)", word,
                 cidr);
        return -1;
    }
    if (allow && overlaps_always_denied(x)) {
        snprintf(err, errlen,
                 "egress '%s': %s overlaps this host, link-local or reserved addresses, which "
                 "VMs never reach",
                 word, cidr);
        return -1;
    }
    struct egress_prefix *list = allow ? p->allow : p->deny;
    size_t *n = allow ? &p->nallow : &p->ndeny;
    if (*n == EGRESS_MAX_RULES) {
        snprintf(err, errlen, "egress: at most %d allow and %d deny prefixes", EGRESS_MAX_RULES,
                 EGRESS_MAX_RULES);
        return -1;
    }
    list[(*n)++] = x;
    return 0;
}

enum egress_verdict egress_check(const struct egress_policy *p, uint32_t dst)
{
    if (in_any(this_host, N(this_host), dst)) return EGRESS_THIS_HOST;
    for (size_t i = 0; i < p->nhost; i++)
        if (p->host[i] == dst) return EGRESS_THIS_HOST;
    if (in_any(link_local, N(link_local), dst)) return EGRESS_LINK_LOCAL;
    if (in_any(reserved, N(reserved), dst)) return EGRESS_RESERVED;
    if (in_any(p->deny, p->ndeny, dst)) return EGRESS_DENIED;
    if (in_any(private_nets, N(private_nets), dst) && !p->allow_private &&
        !in_any(p->allow, p->nallow, dst))
        return EGRESS_PRIVATE;
    return EGRESS_OK;
}

const char *egress_verdict_name(enum egress_verdict v)
{
    static const char *const names[] = {"allowed",  "this host",       "link-local",
                                        "reserved", "private network", "denied"};
    return (unsigned)v < N(names) ? names[v] : "?";
}
