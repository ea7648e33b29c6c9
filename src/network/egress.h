/*
 * egress.h - where a VM's traffic may go when it leaves through NAT: one
 * policy for kumo-switch's NAT (switch.c) and kumo-vmm's user-mode NAT
 * (devices/netdev_user.c), checked on the destination of every packet
 * before libslirp sees it (libslirp would open a host socket to it).
 * Both NATs carry IPv4 only.
 *
 * Always denied (a guest never reaches the host it runs on, nor the host's
 * neighbourhood services):
 *   this host: 0/8, 127/8, and every address of the host's own interfaces
 *   link-local: 169.254/16 (the host's own cloud metadata at 169.254.169.254
 *     included; a VM's metadata service is answered inside kumo-switch)
 *   multicast, broadcast and reserved: 224/3, 255.255.255.255
 * Denied by default, allowed by the operator (configuration):
 *   the private networks a host sits on: 10/8, 172.16/12, 192.168/16,
 *   100.64/10 (carrier-grade NAT), 198.18/15 (benchmarking)
 * The operator may also allow single prefixes (a LAN service the VMs must
 * reach; never one of the always-denied ranges) and deny more.
 *
 * Configuration words (kumo-switch --egress, kumo-vmm --net user,egress=),
 * each one of:
 *   allow-private          allow all of the private networks above
 *   allow:CIDR             allow this prefix (inside a private network)
 *   deny:CIDR              deny this prefix too
 */
#ifndef KUMO_NETWORK_EGRESS_H
#define KUMO_NETWORK_EGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EGRESS_MAX_RULES 32
#define EGRESS_MAX_HOST  64

struct egress_prefix {
    uint32_t addr; /* host byte order */
    uint8_t len;
};

struct egress_policy {
    bool allow_private;
    struct egress_prefix allow[EGRESS_MAX_RULES], deny[EGRESS_MAX_RULES];
    size_t nallow, ndeny;
    uint32_t host[EGRESS_MAX_HOST]; /* the host's own addresses */
    size_t nhost;
};

enum egress_verdict {
    EGRESS_OK,
    EGRESS_THIS_HOST,  /* 0/8, 127/8, the host's own addresses */
    EGRESS_LINK_LOCAL, /* 169.254/16 */
    EGRESS_RESERVED,   /* multicast, broadcast, 240/4 */
    EGRESS_PRIVATE,    /* a private network not allowed */
    EGRESS_DENIED,     /* a deny: prefix */
};

/* The defaults above, with the host's addresses (egress_refresh_host). */
void egress_init(struct egress_policy *p);

/* Apply one configuration word; -1 with a message when it is malformed or
 * allows an always-denied range. */
int egress_add(struct egress_policy *p, const char *word, char *err, size_t errlen);

/* Read the host's interface addresses into p (getifaddrs); -1 if they
 * cannot be read (p keeps the previous ones). */
int egress_refresh_host(struct egress_policy *p);

enum egress_verdict egress_check(const struct egress_policy *p, uint32_t dst);
const char *egress_verdict_name(enum egress_verdict v);

#endif
