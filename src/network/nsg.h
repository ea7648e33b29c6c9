/*
 * nsg.h - network security groups: rules, their field forms, the six
 * default rules, and evaluation (lowest priority number first, first match
 * stops). The semantics are Azure's (docs/network.md, "NSG semantics"):
 *
 *   priority     100-4096 for user rules; unique per direction in an NSG
 *   protocol     Tcp, Udp, Icmp, Any (or *)
 *   prefixes     CIDR, single IP, *, VirtualNetwork, Internet, AzureLoadBalancer
 *   port ranges  80, 10000-10005, comma lists, *. A rule with a port range
 *                other than * only matches TCP and UDP packets.
 *   defaults     AllowVNetInBound 65000, AllowAzureLoadBalancerInBound 65001,
 *                DenyAllInBound 65500, AllowVnetOutBound 65000,
 *                AllowInternetOutBound 65001, DenyAllOutBound 65500
 *
 * This file knows nothing about flows or ports: stateful behaviour is the
 * switch's job (conntrack.h), and which NSGs apply to a packet is decided by
 * switch.c (subnet then NIC inbound, NIC then subnet outbound).
 */
#ifndef KUMO_NETWORK_NSG_H
#define KUMO_NETWORK_NSG_H

#include "network/addr.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NSG_NAME_MAX          80
#define NSG_PRIORITY_MIN      100
#define NSG_PRIORITY_MAX      4096
#define NSG_DEFAULT_RULES     6
#define NSG_AZURE_LB_ADDR     0xa83f8110u /* 168.63.129.16: the AzureLoadBalancer tag */

enum nsg_direction { NSG_INBOUND, NSG_OUTBOUND };
enum nsg_protocol { NSG_PROTO_ANY, NSG_PROTO_TCP, NSG_PROTO_UDP, NSG_PROTO_ICMP };
enum nsg_prefix_kind {
    NSG_PREFIX_ANY,      /* * */
    NSG_PREFIX_CIDR,     /* 10.0.0.0/16 or 10.0.1.4 (as /32) */
    NSG_PREFIX_VNET,     /* VirtualNetwork: the VNet's address spaces */
    NSG_PREFIX_INTERNET, /* Internet: everything outside them */
    NSG_PREFIX_AZURE_LB, /* AzureLoadBalancer: 168.63.129.16 */
};

struct nsg_prefix {
    enum nsg_prefix_kind kind;
    struct net_cidr cidr;
};

struct nsg_port_range {
    uint16_t lo, hi;
};

struct nsg_rule {
    char name[NSG_NAME_MAX + 1];
    uint16_t priority;
    enum nsg_direction direction;
    bool allow;
    bool is_default;
    enum nsg_protocol protocol;
    struct nsg_prefix *src, *dst; /* nsrc, ndst >= 1 */
    size_t nsrc, ndst;
    struct nsg_port_range *sports, *dports; /* 0 ranges = "*" */
    size_t nsports, ndports;
    /* counters: packets evaluated by this rule (it was the first match) */
    uint64_t packets, bytes;
};

struct nsg {
    char *name;
    struct nsg_rule *rules; /* sorted by direction, then priority; defaults included */
    size_t nrules;
};

/* What a rule is matched against: one IPv4 packet. */
struct nsg_packet {
    uint32_t src, dst;
    uint8_t proto;   /* IP protocol number */
    bool has_ports;  /* TCP or UDP */
    uint16_t sport, dport;
    uint32_t bytes;  /* for the counters */
};

/* The VNet whose address spaces the tags refer to. */
struct nsg_vnet_ctx {
    const struct net_cidr *spaces;
    size_t nspaces;
};

/* Field parsers. On error they return -1 and write a message (without the
 * field's name, which the caller prefixes) to err. */
int nsg_parse_direction(const char *s, enum nsg_direction *out, char *err, size_t errlen);
int nsg_parse_access(const char *s, bool *allow, char *err, size_t errlen);
int nsg_parse_protocol(const char *s, enum nsg_protocol *out, char *err, size_t errlen);
int nsg_parse_prefix(const char *s, struct nsg_prefix *out, char *err, size_t errlen);
/* Appends the ranges of s ("*", "80", "1000-2000", "80,443,8000-8080") to
 * *ranges (realloc'd); "*" clears the list to mean any port. *is_any is set
 * when s is "*". */
int nsg_parse_ports(const char *s, struct nsg_port_range **ranges, size_t *n, bool *is_any,
                    char *err, size_t errlen);

const char *nsg_direction_name(enum nsg_direction d);
const char *nsg_protocol_name(enum nsg_protocol p);
/* Text form of a prefix / port list, as accepted by the parsers. */
void nsg_prefix_str(const struct nsg_prefix *p, char *buf, size_t len);

/* Add the six default rules, check the user rules together (unique
 * priority per direction, unique names, names not those of default rules),
 * and sort. The NSG takes ownership of the rules array. 0 or -1 + err. */
int nsg_finish(struct nsg *nsg, char *err, size_t errlen);

/* Release a rule's arrays (not the rule itself). */
void nsg_rule_clear(struct nsg_rule *r);
void nsg_clear(struct nsg *nsg);

bool nsg_rule_matches(const struct nsg_rule *r, const struct nsg_packet *p,
                      const struct nsg_vnet_ctx *vnet);

/* The first rule of direction dir that matches p (never NULL: the default
 * deny-all rules match everything); its counters are advanced. */
struct nsg_rule *nsg_evaluate(struct nsg *nsg, enum nsg_direction dir, const struct nsg_packet *p,
                              const struct nsg_vnet_ctx *vnet);

/* Copy the counters of rules with the same name and direction from old
 * (used when a configuration is replaced). */
void nsg_carry_counters(struct nsg *to, const struct nsg *from);

#endif
