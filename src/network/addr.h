/*
 * addr.h - IPv4 addresses, CIDR prefixes and MAC addresses: strict parsing
 * from configuration text and formatting for messages. Addresses are held in
 * host byte order (10.0.1.4 is 0x0a000104) everywhere in src/network; the
 * frame code converts at the wire.
 */
#ifndef KUMO_NETWORK_ADDR_H
#define KUMO_NETWORK_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct net_cidr {
    uint32_t addr; /* network address (host bits zero once validated) */
    uint8_t len;   /* prefix length 0..32 */
};

#define NET_IP4_STRLEN  16 /* "255.255.255.255" + NUL */
#define NET_CIDR_STRLEN 28 /* "255.255.255.255/32" + NUL, with room to spare */
#define NET_MAC_STRLEN  18 /* "52:54:00:12:34:56" + NUL */

static inline uint32_t net_mask(unsigned len)
{
    return len == 0 ? 0 : len >= 32 ? 0xffffffffu : ~((1u << (32 - len)) - 1);
}

static inline bool net_cidr_contains(struct net_cidr c, uint32_t ip)
{
    return (ip & net_mask(c.len)) == c.addr;
}

/* Last address of the prefix (its broadcast address). */
static inline uint32_t net_cidr_last(struct net_cidr c)
{
    return c.addr | ~net_mask(c.len);
}

static inline bool net_cidr_overlap(struct net_cidr a, struct net_cidr b)
{
    unsigned len = a.len < b.len ? a.len : b.len;
    return ((a.addr ^ b.addr) & net_mask(len)) == 0;
}

/* a lies entirely inside b */
static inline bool net_cidr_inside(struct net_cidr a, struct net_cidr b)
{
    return a.len >= b.len && net_cidr_contains(b, a.addr);
}

/* Dotted quad, exactly four decimal parts 0..255, no leading zeros (which
 * some parsers read as octal), nothing else. 0 on success, -1 otherwise. */
int net_ip4_parse(const char *s, uint32_t *out);

/* "a.b.c.d/len". A bare address is accepted as /32 when bare_ok. Host bits
 * set below the prefix are an error (reported by returning -2) unless
 * host_bits_ok, in which case they are cleared. 0 on success, -1 if
 * malformed, -2 if host bits are set. */
int net_cidr_parse(const char *s, struct net_cidr *out, bool bare_ok, bool host_bits_ok);

/* "52:54:00:12:34:56" (colons or dashes, either case). 0 on success. */
int net_mac_parse(const char *s, uint8_t mac[6]);

const char *net_ip4_str(uint32_t ip, char buf[NET_IP4_STRLEN]);
const char *net_cidr_str(struct net_cidr c, char buf[NET_CIDR_STRLEN]);
const char *net_mac_str(const uint8_t mac[6], char buf[NET_MAC_STRLEN]);

static inline bool net_mac_is_multicast(const uint8_t mac[6])
{
    return mac[0] & 1;
}

static inline bool net_mac_is_zero(const uint8_t mac[6])
{
    return (mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]) == 0;
}

#endif
