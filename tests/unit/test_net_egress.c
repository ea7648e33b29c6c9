/*
 * test_net_egress.c - the NAT egress policy (src/network/egress.c): what is
 * always denied (this host, loopback, link-local and the host's metadata
 * address, reserved ranges, the host's own interface addresses), private
 * networks denied by default and allowed by configuration, deny prefixes,
 * and configuration words that are refused.
 */
#include "network/egress.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "check.h"

static uint32_t ip(const char *s)
{
    struct in_addr a;
    inet_pton(AF_INET, s, &a);
    return ntohl(a.s_addr);
}

static enum egress_verdict check(const struct egress_policy *p, const char *s)
{
    return egress_check(p, ip(s));
}

static void test_defaults(void)
{
    struct egress_policy p;
    egress_init(&p);
    struct {
        const char *addr;
        enum egress_verdict want;
    } cases[] = {
        {"8.8.8.8", EGRESS_OK},
        {"1.1.1.1", EGRESS_OK},
        {"127.0.0.1", EGRESS_THIS_HOST},
        {"127.255.0.9", EGRESS_THIS_HOST},
        {"0.0.0.0", EGRESS_THIS_HOST},
        {"0.1.2.3", EGRESS_THIS_HOST},
        {"169.254.169.254", EGRESS_LINK_LOCAL},
        {"169.254.0.1", EGRESS_LINK_LOCAL},
        {"10.0.0.1", EGRESS_PRIVATE},
        {"10.255.255.254", EGRESS_PRIVATE},
        {"172.16.0.1", EGRESS_PRIVATE},
        {"172.31.255.1", EGRESS_PRIVATE},
        {"172.32.0.1", EGRESS_OK},
        {"192.168.1.1", EGRESS_PRIVATE},
        {"100.64.0.1", EGRESS_PRIVATE},
        {"198.18.0.1", EGRESS_PRIVATE},
        {"224.0.0.1", EGRESS_RESERVED},
        {"239.255.255.250", EGRESS_RESERVED},
        {"255.255.255.255", EGRESS_RESERVED},
        {"240.0.0.1", EGRESS_RESERVED},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        enum egress_verdict v = check(&p, cases[i].addr);
        CHECK(v == cases[i].want, "%s: %s, want %s", cases[i].addr, egress_verdict_name(v),
              egress_verdict_name(cases[i].want));
    }
}

/* Every IPv4 address of this machine's interfaces is "this host". */
static void test_host_addresses(void)
{
    struct egress_policy p;
    egress_init(&p);
    struct ifaddrs *ifa;
    CHECK(getifaddrs(&ifa) == 0, "getifaddrs");
    int seen = 0;
    for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) continue;
        uint32_t a = ntohl(((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr);
        CHECK(egress_check(&p, a) == EGRESS_THIS_HOST, "%s's address %08x", i->ifa_name, a);
        seen++;
    }
    freeifaddrs(ifa);
    CHECK(seen > 0, "the host has an IPv4 address (lo at least)");
    /* a public address of the host: denied once the host has it */
    p.host[p.nhost++] = ip("203.0.113.7");
    CHECK(check(&p, "203.0.113.7") == EGRESS_THIS_HOST, "host's own public address");
    CHECK(check(&p, "203.0.113.8") == EGRESS_OK, "its neighbour on the internet");
    /* and even allowing private networks never opens the host's own LAN address */
    char err[256];
    CHECK(egress_add(&p, "allow-private", err, sizeof(err)) == 0, "%s", err);
    p.host[p.nhost++] = ip("192.168.7.20");
    CHECK(check(&p, "192.168.7.20") == EGRESS_THIS_HOST, "host's LAN address");
    CHECK(check(&p, "192.168.7.21") == EGRESS_OK, "a LAN neighbour, private allowed");
}

static void test_configuration(void)
{
    struct egress_policy p;
    egress_init(&p);
    char err[256];
    CHECK(egress_add(&p, "allow:192.168.10.0/24", err, sizeof(err)) == 0, "%s", err);
    CHECK(check(&p, "192.168.10.5") == EGRESS_OK, "allowed LAN prefix");
    CHECK(check(&p, "192.168.11.5") == EGRESS_PRIVATE, "the rest of 192.168/16 stays denied");
    CHECK(egress_add(&p, "deny:8.8.4.0/24", err, sizeof(err)) == 0, "%s", err);
    CHECK(check(&p, "8.8.4.4") == EGRESS_DENIED, "deny prefix");
    CHECK(check(&p, "8.8.8.8") == EGRESS_OK, "outside the deny prefix");
    CHECK(egress_add(&p, "deny:192.168.10.128/25", err, sizeof(err)) == 0, "%s", err);
    CHECK(check(&p, "192.168.10.200") == EGRESS_DENIED, "deny wins over allow");
    CHECK(egress_add(&p, "allow:10.1.2.3", err, sizeof(err)) == 0, "a bare address is a /32");
    CHECK(check(&p, "10.1.2.3") == EGRESS_OK && check(&p, "10.1.2.4") == EGRESS_PRIVATE, "/32");

    const char *bad[] = {"allow:127.0.0.0/8", "allow:169.254.169.254", "allow:0.0.0.0/0",
                         "allow:224.0.0.0/4", "allow:10.0.0.1/8", "allow:10.0.0.0/33",
                         "allow:nonsense",    "permit:10.0.0.0/8", "deny:",
                         "allow:120.0.0.0/5"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = 0;
        CHECK(egress_add(&p, bad[i], err, sizeof(err)) < 0 && strstr(err, "egress"),
              "'%s' refused with a message (%s)", bad[i], err);
    }
    CHECK(check(&p, "127.0.0.1") == EGRESS_THIS_HOST, "nothing opened loopback");
}

int main(void)
{
    test_defaults();
    test_host_addresses();
    test_configuration();
    printf("%d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
