/*
 * packet.h - the wire formats the switch reads and writes: Ethernet II,
 * ARP (RFC 826), IPv4 (RFC 791), ICMP (RFC 792), UDP (RFC 768) and TCP
 * (RFC 9293) headers. Every frame comes from a guest or from the outside
 * world, so net_parse_frame() checks each length against the bytes that are
 * really there before anything is read, and the rest of the switch only looks
 * at the fields it filled in.
 */
#ifndef KUMO_NETWORK_PACKET_H
#define KUMO_NETWORK_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NET_ETH_HLEN    14
#define NET_FRAME_MAX   65535 /* largest frame on a port (the port protocol's limit) */
#define NET_ETH_IPV4    0x0800
#define NET_ETH_ARP     0x0806
#define NET_ETH_IPV6    0x86dd
#define NET_ETH_VLAN    0x8100
#define NET_IPPROTO_ICMP 1
#define NET_IPPROTO_TCP  6
#define NET_IPPROTO_UDP  17

#define NET_TCP_FIN 0x01
#define NET_TCP_SYN 0x02
#define NET_TCP_RST 0x04
#define NET_TCP_PSH 0x08
#define NET_TCP_ACK 0x10

#define NET_ICMP_ECHO_REPLY   0
#define NET_ICMP_UNREACH      3
#define NET_ICMP_ECHO         8
#define NET_ICMP_TIME_EXCEED  11
#define NET_ICMP_PARAM_PROB   12

#define NET_ARP_REQUEST 1
#define NET_ARP_REPLY   2

/* Why a frame could not be parsed (counted per port as "malformed"). */
enum net_parse_error {
    NET_PARSE_OK = 0,
    NET_PARSE_RUNT,        /* shorter than an Ethernet header */
    NET_PARSE_BAD_ARP,     /* ARP that is not Ethernet/IPv4 or is cut short */
    NET_PARSE_BAD_IP,      /* bad version, header length, total length or checksum */
    NET_PARSE_BAD_L4,      /* TCP/UDP/ICMP header cut short or inconsistent */
};

struct net_arp {
    uint16_t op;
    uint8_t sha[6];
    uint32_t spa;
    uint8_t tha[6];
    uint32_t tpa;
};

/* A parsed frame: offsets and fields of what was found. Only the members
 * for the layers present are meaningful (ethertype says which L3, proto
 * which L4). */
struct net_frame {
    const uint8_t *data;
    size_t len;             /* bytes in the frame */
    uint8_t dst_mac[6], src_mac[6];
    uint16_t ethertype;

    struct net_arp arp;     /* ethertype == NET_ETH_ARP */

    /* ethertype == NET_ETH_IPV4 */
    size_t ip_off;          /* = NET_ETH_HLEN */
    size_t ip_hlen;         /* header bytes, 20..60 */
    size_t ip_len;          /* the IP total length (the frame may carry padding after it) */
    uint32_t src_ip, dst_ip;
    uint8_t proto, ttl;
    bool fragment;          /* MF set or a non-zero offset: no L4 header parsed */

    /* L4, when !fragment and proto is TCP, UDP or ICMP */
    size_t l4_off;          /* offset of the L4 header in data */
    size_t l4_len;          /* bytes from l4_off to the end of the IP packet */
    bool has_ports;         /* TCP or UDP */
    uint16_t sport, dport;
    uint8_t tcp_flags;
    size_t payload_off, payload_len; /* UDP/TCP payload */
    uint8_t icmp_type, icmp_code;
    uint16_t icmp_id;       /* echo request/reply identifier */
};

/* Parse as far as the switch needs. NET_PARSE_OK also for ethertypes it
 * does not know (the caller decides what to do with them). */
enum net_parse_error net_parse_frame(const uint8_t *data, size_t len, struct net_frame *f);

/* The packet quoted inside an ICMP error (unreachable, time exceeded,
 * parameter problem): its addresses, protocol and ports (or echo id). */
struct net_inner {
    uint32_t src_ip, dst_ip;
    uint8_t proto;
    uint16_t sport, dport; /* for ICMP echo: the id in both */
    uint8_t icmp_type;
};
bool net_icmp_is_error(uint8_t type);
/* 0 if f is an ICMP error quoting an IPv4 packet with at least 8 bytes of
 * its L4 header. */
int net_parse_icmp_inner(const struct net_frame *f, struct net_inner *in);

/* Internet checksum (RFC 1071) of len bytes added to sum; returns the folded
 * one's-complement value ready to store (in host order). */
uint16_t net_csum(const void *data, size_t len, uint32_t sum);
uint32_t net_csum_add(const void *data, size_t len, uint32_t sum);

/* Big-endian accessors. */
static inline uint16_t net_rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}
static inline uint32_t net_rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void net_wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void net_wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Builders: each writes a whole frame into buf (which has room for
 * NET_FRAME_MAX bytes) and returns its length. */
size_t net_build_eth(uint8_t *buf, const uint8_t dst[6], const uint8_t src[6], uint16_t type);
size_t net_build_arp(uint8_t *buf, uint16_t op, const uint8_t eth_dst[6], const uint8_t sha[6],
                     uint32_t spa, const uint8_t tha[6], uint32_t tpa);
/* IPv4 + UDP with both checksums. payload_len must be <= 1472 + ... (the
 * caller's data fits in NET_FRAME_MAX - 42). */
size_t net_build_udp(uint8_t *buf, const uint8_t dst_mac[6], const uint8_t src_mac[6],
                     uint32_t src_ip, uint32_t dst_ip, uint16_t sport, uint16_t dport,
                     const void *payload, size_t payload_len);
/* IPv4 + TCP with both checksums: a 20-byte TCP header, plus the MSS option
 * (4 bytes) when mss is not 0, then payload_len bytes of payload. */
struct net_tcp_seg {
    uint32_t src_ip, dst_ip;
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t flags;
    uint16_t window;
    uint16_t mss; /* 0: no option */
};
size_t net_build_tcp(uint8_t *buf, const uint8_t dst_mac[6], const uint8_t src_mac[6],
                     const struct net_tcp_seg *s, const void *payload, size_t payload_len);
/* An echo reply to the echo request f (same id, sequence and data). */
size_t net_build_echo_reply(uint8_t *buf, const struct net_frame *f, const uint8_t src_mac[6]);

/* Decrement the TTL of the IPv4 packet at ip (a writable copy) and patch
 * the header checksum incrementally (RFC 1624). */
void net_ip_dec_ttl(uint8_t *ip);

#endif
