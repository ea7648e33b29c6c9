/*
 * test_net_nsg.c - NSG rules (src/network/nsg.c): every field form of the
 * parsers, the validation of a rule set, the six default rules, first-match
 * evaluation by priority, the VirtualNetwork/Internet/AzureLoadBalancer tags,
 * port lists and ranges, and the per-rule counters.
 */
#include "network/config.h"
#include "network/nsg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))

static void test_prefix_forms(void)
{
    struct nsg_prefix p;
    char err[256];
    CHECK(nsg_parse_prefix("*", &p, err, sizeof(err)) == 0 && p.kind == NSG_PREFIX_ANY, "*");
    CHECK(nsg_parse_prefix("10.0.0.0/16", &p, err, sizeof(err)) == 0 &&
              p.kind == NSG_PREFIX_CIDR && p.cidr.addr == IP(10, 0, 0, 0) && p.cidr.len == 16,
          "cidr");
    CHECK(nsg_parse_prefix("10.0.1.4", &p, err, sizeof(err)) == 0 && p.kind == NSG_PREFIX_CIDR &&
              p.cidr.addr == IP(10, 0, 1, 4) && p.cidr.len == 32,
          "single IP is a /32");
    CHECK(nsg_parse_prefix("VirtualNetwork", &p, err, sizeof(err)) == 0 &&
              p.kind == NSG_PREFIX_VNET,
          "VirtualNetwork");
    CHECK(nsg_parse_prefix("internet", &p, err, sizeof(err)) == 0 &&
              p.kind == NSG_PREFIX_INTERNET,
          "tags are case-insensitive");
    CHECK(nsg_parse_prefix("AzureLoadBalancer", &p, err, sizeof(err)) == 0 &&
              p.kind == NSG_PREFIX_AZURE_LB,
          "AzureLoadBalancer");
    CHECK(nsg_parse_prefix("0.0.0.0/0", &p, err, sizeof(err)) == 0 && p.cidr.len == 0, "/0");
    CHECK(nsg_parse_prefix("10.0.1.5/24", &p, err, sizeof(err)) < 0 &&
              strstr(err, "did you mean 10.0.1.0/24"),
          "host bits: %s", err);
    const char *bad[] = {"10.0.0.0/33", "300.1.1.1", "foo", "", "10.0.0", "10.0.0.01",
                         "10.0.0.0/", " 10.0.0.0", "10.0.0.0/8 ", "1.2.3.4.5"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK(nsg_parse_prefix(bad[i], &p, err, sizeof(err)) < 0, "'%s' must be rejected", bad[i]);
}

static void test_port_forms(void)
{
    struct nsg_port_range *r = NULL;
    size_t n = 0;
    bool any;
    char err[256];
    CHECK(nsg_parse_ports("*", &r, &n, &any, err, sizeof(err)) == 0 && any && n == 0, "*");
    CHECK(nsg_parse_ports("80", &r, &n, &any, err, sizeof(err)) == 0 && !any && n == 1 &&
              r[0].lo == 80 && r[0].hi == 80,
          "single");
    n = 0;
    CHECK(nsg_parse_ports("10000-10005", &r, &n, &any, err, sizeof(err)) == 0 && n == 1 &&
              r[0].lo == 10000 && r[0].hi == 10005,
          "range");
    n = 0;
    CHECK(nsg_parse_ports("80, 443,8000-8080", &r, &n, &any, err, sizeof(err)) == 0 && n == 3 &&
              r[1].lo == 443 && r[2].lo == 8000 && r[2].hi == 8080,
          "comma list");
    n = 0;
    CHECK(nsg_parse_ports("0-65535", &r, &n, &any, err, sizeof(err)) == 0 && n == 1 &&
              r[0].hi == 65535,
          "full range");
    const char *bad[] = {"*,80", "70000", "90-80", "", "80,", ",80", "8a", "-5", "1-2-3",
                         "123456"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        n = 0;
        CHECK(nsg_parse_ports(bad[i], &r, &n, &any, err, sizeof(err)) < 0,
              "'%s' must be rejected", bad[i]);
    }
    free(r);

    enum nsg_protocol pr;
    enum nsg_direction d;
    bool allow;
    CHECK(nsg_parse_protocol("tcp", &pr, err, sizeof(err)) == 0 && pr == NSG_PROTO_TCP, "tcp");
    CHECK(nsg_parse_protocol("Udp", &pr, err, sizeof(err)) == 0 && pr == NSG_PROTO_UDP, "udp");
    CHECK(nsg_parse_protocol("ICMP", &pr, err, sizeof(err)) == 0 && pr == NSG_PROTO_ICMP, "icmp");
    CHECK(nsg_parse_protocol("*", &pr, err, sizeof(err)) == 0 && pr == NSG_PROTO_ANY, "*");
    CHECK(nsg_parse_protocol("Any", &pr, err, sizeof(err)) == 0 && pr == NSG_PROTO_ANY, "Any");
    CHECK(nsg_parse_protocol("Gre", &pr, err, sizeof(err)) < 0, "Gre rejected");
    CHECK(nsg_parse_direction("inbound", &d, err, sizeof(err)) == 0 && d == NSG_INBOUND, "in");
    CHECK(nsg_parse_direction("Outbound", &d, err, sizeof(err)) == 0 && d == NSG_OUTBOUND, "out");
    CHECK(nsg_parse_direction("Both", &d, err, sizeof(err)) < 0, "Both rejected");
    CHECK(nsg_parse_access("Allow", &allow, err, sizeof(err)) == 0 && allow, "allow");
    CHECK(nsg_parse_access("deny", &allow, err, sizeof(err)) == 0 && !allow, "deny");
    CHECK(nsg_parse_access("Permit", &allow, err, sizeof(err)) < 0, "Permit rejected");
}

/* A configuration with one VNet (10.0.0.0/16 and 10.8.0.0/16) and one NSG
 * whose rules are given as JSON. */
static struct net_config *with_rules(const char *rules_json, char *err, size_t errlen)
{
    char doc[8192];
    snprintf(doc, sizeof(doc),
             "{\"vnets\":[{\"name\":\"v\",\"address_space\":[\"10.0.0.0/16\",\"10.8.0.0/16\"],"
             "\"subnets\":[{\"name\":\"s\",\"prefix\":\"10.0.1.0/24\",\"nsg\":\"g\"}]}],"
             "\"nsgs\":[{\"name\":\"g\",\"rules\":%s}]}",
             rules_json);
    struct net_config *cfg = NULL;
    if (net_config_parse(doc, strlen(doc), NULL, &cfg, err, errlen) < 0) return NULL;
    return cfg;
}

static const struct nsg_rule *eval(struct net_config *cfg, enum nsg_direction dir, uint32_t src,
                                   uint32_t dst, uint8_t proto, uint16_t sport, uint16_t dport)
{
    struct nsg_packet p = {src, dst, proto, proto == 6 || proto == 17, sport, dport, 100};
    struct nsg_vnet_ctx ctx = {cfg->vnets[0].spaces, cfg->vnets[0].nspaces};
    return nsg_evaluate(&cfg->nsgs[0], dir, &p, &ctx);
}

/* Build a JSON array of rules: rules_begin(), add_rule()..., rules_end().
 * prio is the JSON text of the priority (so that a test can pass "\"100\"");
 * extra is more fields, starting with a comma. */
static char rules_buf[8192];

static void rules_begin(void)
{
    strcpy(rules_buf, "[");
}

static void add_rule(const char *name, const char *prio, const char *dir, const char *access,
                     const char *proto, const char *extra)
{
    size_t n = strlen(rules_buf);
    snprintf(rules_buf + n, sizeof(rules_buf) - n,
             "%s{\"name\":\"%s\",\"priority\":%s,\"direction\":\"%s\",\"access\":\"%s\","
             "\"protocol\":\"%s\"%s}",
             n > 1 ? "," : "", name, prio, dir, access, proto, extra);
}

static const char *rules_end(void)
{
    strcat(rules_buf, "]");
    return rules_buf;
}

static void test_defaults(void)
{
    char err[512];
    struct net_config *cfg = with_rules("[]", err, sizeof(err));
    CHECK(cfg != NULL, "empty rule list: %s", err);
    if (!cfg) return;
    CHECK(cfg->nsgs[0].nrules == 6, "six default rules, got %zu", cfg->nsgs[0].nrules);
    uint32_t vm = IP(10, 0, 1, 4), peer = IP(10, 8, 3, 9), inet = IP(93, 184, 216, 34);
    const struct nsg_rule *r;
    r = eval(cfg, NSG_INBOUND, peer, vm, 6, 1234, 22);
    CHECK(r && r->allow && !strcmp(r->name, "AllowVNetInBound") && r->priority == 65000,
          "VNet inbound allowed by 65000 (second address space counts)");
    r = eval(cfg, NSG_INBOUND, inet, vm, 6, 1234, 22);
    CHECK(r && !r->allow && !strcmp(r->name, "DenyAllInBound") && r->priority == 65500,
          "Internet inbound denied by 65500");
    r = eval(cfg, NSG_INBOUND, NSG_AZURE_LB_ADDR, vm, 6, 1234, 80);
    CHECK(r && r->allow && !strcmp(r->name, "AllowAzureLoadBalancerInBound"),
          "AzureLoadBalancer inbound allowed by 65001");
    r = eval(cfg, NSG_OUTBOUND, vm, inet, 17, 5000, 53);
    CHECK(r && r->allow && !strcmp(r->name, "AllowInternetOutBound") && r->priority == 65001,
          "Internet outbound allowed by 65001");
    r = eval(cfg, NSG_OUTBOUND, vm, peer, 1, 0, 0);
    CHECK(r && r->allow && !strcmp(r->name, "AllowVnetOutBound"), "VNet outbound allowed");
    r = eval(cfg, NSG_OUTBOUND, inet, vm, 6, 1, 2);
    CHECK(r && !r->allow && !strcmp(r->name, "DenyAllOutBound"),
          "outbound from outside the VNet to it matches neither 65000 nor 65001 (%s)",
          r ? r->name : "-");
    net_config_free(cfg);
}

static void test_priorities_and_fields(void)
{
    char err[512];
    rules_begin();
    add_rule("deny-ssh-from-peer", "100", "Inbound", "Deny", "Tcp",
             ",\"source_address_prefix\":\"10.8.0.0/16\",\"destination_port_range\":\"22\"");
    add_rule("allow-ssh", "200", "Inbound", "Allow", "Tcp", ",\"destination_port_range\":22");
    add_rule("allow-web", "300", "Inbound", "Allow", "Tcp",
             ",\"source_address_prefix\":\"Internet\","
             "\"destination_port_range\":\"80,443,8000-8080\"");
    add_rule("allow-dns-udp", "310", "Inbound", "Allow", "Udp",
             ",\"source_address_prefix\":[\"1.1.1.1\",\"8.8.8.0/24\"],"
             "\"source_port_range\":\"53\"");
    add_rule("allow-ping", "320", "Inbound", "Allow", "Icmp", "");
    add_rule("deny-vnet-highports", "330", "Inbound", "Deny", "*",
             ",\"source_address_prefix\":\"VirtualNetwork\","
             "\"destination_port_range\":\"1024-65535\"");
    add_rule("block-internet", "100", "Outbound", "Deny", "Any",
             ",\"destination_address_prefix\":\"Internet\"");
    add_rule("but-allow-one", "4096", "Outbound", "Allow", "Any",
             ",\"destination_address_prefix\":\"203.0.113.7\"");
    struct net_config *cfg = with_rules(rules_end(), err, sizeof(err));
    CHECK(cfg != NULL, "config: %s", err);
    if (!cfg) return;
    uint32_t vm = IP(10, 0, 1, 4), peer = IP(10, 8, 0, 5), inet = IP(198, 51, 100, 1);
    const struct nsg_rule *r;
    r = eval(cfg, NSG_INBOUND, peer, vm, 6, 40000, 22);
    CHECK(r && !r->allow && r->priority == 100, "lower number wins: 100 denies peer ssh");
    r = eval(cfg, NSG_INBOUND, IP(10, 0, 9, 9), vm, 6, 40000, 22);
    CHECK(r && r->allow && r->priority == 200, "other VNet source: 200 allows ssh");
    r = eval(cfg, NSG_INBOUND, inet, vm, 6, 40000, 22);
    CHECK(r && r->allow && r->priority == 200, "internet ssh allowed by 200 (source *)");
    for (uint16_t port = 7999; port <= 8081; port++) {
        r = eval(cfg, NSG_INBOUND, inet, vm, 6, 40000, port);
        bool in = port >= 8000 && port <= 8080;
        CHECK(r && r->allow == in && (!in || r->priority == 300), "port %u in range list", port);
    }
    r = eval(cfg, NSG_INBOUND, inet, vm, 6, 40000, 443);
    CHECK(r && r->allow && r->priority == 300, "443 in comma list");
    r = eval(cfg, NSG_INBOUND, inet, vm, 17, 40000, 443);
    CHECK(r && !r->allow, "Tcp rule does not match UDP");
    r = eval(cfg, NSG_INBOUND, peer, vm, 6, 40000, 80);
    CHECK(r && r->allow && r->priority == 65000, "allow-web is Internet only (%u)",
          r ? r->priority : 0);
    r = eval(cfg, NSG_INBOUND, IP(8, 8, 8, 8), vm, 17, 53, 33333);
    CHECK(r && r->allow && r->priority == 310, "source prefix list + source port");
    r = eval(cfg, NSG_INBOUND, IP(8, 8, 9, 8), vm, 17, 53, 33333);
    CHECK(r && !r->allow, "outside the source prefix list");
    r = eval(cfg, NSG_INBOUND, IP(1, 1, 1, 1), vm, 17, 54, 33333);
    CHECK(r && !r->allow, "wrong source port");
    r = eval(cfg, NSG_INBOUND, inet, vm, 1, 0, 0);
    CHECK(r && r->allow && r->priority == 320, "Icmp rule");
    r = eval(cfg, NSG_INBOUND, IP(10, 0, 2, 2), vm, 6, 1, 5000);
    CHECK(r && !r->allow && r->priority == 330, "VirtualNetwork tag + range");
    r = eval(cfg, NSG_INBOUND, IP(10, 0, 2, 2), vm, 1, 0, 0);
    CHECK(r && r->allow && r->priority == 320,
          "ICMP: allow-ping at 320 (%u)", r ? r->priority : 0);
    r = eval(cfg, NSG_INBOUND, IP(10, 0, 2, 2), vm, 47, 0, 0);
    CHECK(r && r->allow && r->priority == 65000,
          "a rule with ports (330) does not match a protocol without ports");
    r = eval(cfg, NSG_OUTBOUND, vm, inet, 6, 1, 443);
    CHECK(r && !r->allow && r->priority == 100, "user rule overrides AllowInternetOutBound");
    r = eval(cfg, NSG_OUTBOUND, vm, IP(203, 0, 113, 7), 6, 1, 443);
    CHECK(r && !r->allow && r->priority == 100, "first match stops: 4096 never reached");
    r = eval(cfg, NSG_OUTBOUND, vm, peer, 6, 1, 443);
    CHECK(r && r->allow && r->priority == 65000, "VNet outbound unaffected");

    /* counters: packets and bytes of the rule that matched */
    const struct nsg_rule *ssh = NULL;
    for (size_t i = 0; i < cfg->nsgs[0].nrules; i++)
        if (!strcmp(cfg->nsgs[0].rules[i].name, "allow-ssh")) ssh = &cfg->nsgs[0].rules[i];
    CHECK(ssh && ssh->packets == 2 && ssh->bytes == 200, "allow-ssh counted 2 packets, 200 B");
    /* the rules are sorted: inbound first, by priority */
    for (size_t i = 1; i < cfg->nsgs[0].nrules; i++) {
        const struct nsg_rule *a = &cfg->nsgs[0].rules[i - 1], *b = &cfg->nsgs[0].rules[i];
        CHECK(a->direction < b->direction ||
                  (a->direction == b->direction && a->priority < b->priority),
              "sorted at %zu", i);
    }

    /* counters follow rules across a configuration change by name */
    rules_begin();
    add_rule("allow-ssh", "150", "Inbound", "Allow", "Tcp", ",\"destination_port_range\":22");
    struct net_config *cfg2 = with_rules(rules_end(), err, sizeof(err));
    CHECK(cfg2 != NULL, "cfg2: %s", err);
    if (cfg2) {
        nsg_carry_counters(&cfg2->nsgs[0], &cfg->nsgs[0]);
        const struct nsg_rule *s2 = NULL, *deny = NULL;
        for (size_t i = 0; i < cfg2->nsgs[0].nrules; i++) {
            if (!strcmp(cfg2->nsgs[0].rules[i].name, "allow-ssh")) s2 = &cfg2->nsgs[0].rules[i];
            if (!strcmp(cfg2->nsgs[0].rules[i].name, "DenyAllInBound"))
                deny = &cfg2->nsgs[0].rules[i];
        }
        CHECK(s2 && s2->packets == 2, "allow-ssh kept its counters");
        CHECK(deny && deny->packets == 5, "DenyAllInBound kept its counters (%llu)",
              deny ? (unsigned long long)deny->packets : 0ull);
        net_config_free(cfg2);
    }
    net_config_free(cfg);
}

static void expect_error(const char *rules, const char *want)
{
    char err[512] = "";
    struct net_config *cfg = with_rules(rules, err, sizeof(err));
    CHECK(!cfg && strstr(err, want), "want error containing '%s', got '%s'", want,
          cfg ? "(accepted)" : err);
    net_config_free(cfg);
}

/* One rule (plus extra fields) that must be rejected with want. */
static void expect_rule_error(const char *name, const char *prio, const char *dir,
                              const char *access, const char *proto, const char *extra,
                              const char *want)
{
    rules_begin();
    add_rule(name, prio, dir, access, proto, extra);
    expect_error(rules_end(), want);
}

static void test_validation(void)
{
    rules_begin();
    add_rule("a", "100", "Inbound", "Allow", "Tcp", "");
    add_rule("b", "100", "Outbound", "Allow", "Tcp", "");
    add_rule("c", "200", "Inbound", "Allow", "Tcp", "");
    add_rule("d", "200", "Inbound", "Deny", "Udp", "");
    expect_error(rules_end(), "nsgs[0]: two rules share priority 200 and direction Inbound: "
                              "rules[2] 'c' and rules[3] 'd'");
    rules_begin();
    add_rule("a", "100", "Inbound", "Allow", "Tcp", "");
    add_rule("b", "101", "Inbound", "Allow", "Tcp", "");
    add_rule("x", "50", "Inbound", "Allow", "Tcp", "");
    expect_error(rules_end(), "nsgs[0].rules[2].priority: 50 is outside 100-4096");
    rules_begin();
    add_rule("a", "100", "Inbound", "Allow", "Tcp", "");
    add_rule("A", "101", "Inbound", "Allow", "Tcp", "");
    expect_error(rules_end(), "are both named");
    expect_rule_error("a", "4097", "Inbound", "Allow", "Tcp", "", "4097 is outside 100-4096");
    expect_rule_error("DenyAllInBound", "100", "Inbound", "Allow", "Tcp", "",
                      "is the name of a default rule");
    expect_rule_error("a", "100", "Sideways", "Allow", "Tcp", "",
                      "rules[0].direction: 'Sideways' is not a direction");
    expect_rule_error("a", "100", "Inbound", "Maybe", "Tcp", "", "rules[0].access");
    expect_rule_error("a", "100", "Inbound", "Allow", "Sctp", "", "rules[0].protocol");
    expect_rule_error("a", "100", "Inbound", "Allow", "Icmp", ",\"destination_port_range\":\"80\"",
                      "must be * for protocol Icmp");
    expect_rule_error("a", "100", "Inbound", "Allow", "Tcp",
                      ",\"source_address_prefix\":\"10.0.0.1/8\"",
                      "rules[0].source_address_prefix: '10.0.0.1/8' has host bits set (did you "
                      "mean 10.0.0.0/8?)");
    expect_rule_error("a", "100", "Inbound", "Allow", "Tcp",
                      ",\"destination_port_range\":[\"80\",\"*\"]", "* cannot be combined");
    expect_rule_error("a", "100", "Inbound", "Allow", "Tcp", ",\"destination_port_range\":[]",
                      "must not be an empty array");
    expect_rule_error("a", "100", "Inbound", "Allow", "Tcp", ",\"prority\":5",
                      "rules[0]: unknown field 'prority'");
    expect_error("[{\"name\":\"a\",\"direction\":\"Inbound\",\"access\":\"Allow\",\"protocol\":"
                 "\"Tcp\"}]",
                 "rules[0].priority: missing (required)");
    expect_rule_error("bad name!", "100", "Inbound", "Allow", "Tcp", "",
                      "rules[0].name: 'bad name!' may only contain");
    expect_rule_error("a", "\"100\"", "Inbound", "Allow", "Tcp", "",
                      "priority: expected an integer, not a string");
    char longname[200];
    memset(longname, 'x', 81);
    longname[81] = 0;
    expect_rule_error(longname, "100", "Inbound", "Allow", "Tcp", "", "longer than 80 characters");
}

int main(void)
{
    test_prefix_forms();
    test_port_forms();
    test_defaults();
    test_priorities_and_fields();
    test_validation();
    printf("%d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
