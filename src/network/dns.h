/*
 * dns.h - the internal DNS of a VNet (docs/network.md, "Internal DNS"):
 * reading a query a guest sends to the platform resolver (RFC 1035 section
 * 4.1) and writing the answer when the name is a VM of the VNet. Pure
 * functions over untrusted bytes: every length is checked before it is
 * read, compression pointers are not followed (a question has none), names
 * are at most 255 bytes.
 */
#ifndef KUMO_NETWORK_DNS_H
#define KUMO_NETWORK_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_PORT        53
#define DNS_HEADER      12
#define DNS_NAME_MAX    255 /* wire bytes of a name */
#define DNS_UDP_MAX     512 /* answers fit a plain (non-EDNS) UDP message */
#define DNS_TYPE_A      1
#define DNS_TYPE_AAAA   28
#define DNS_TYPE_ANY    255
#define DNS_CLASS_IN    1
#define DNS_CLASS_ANY   255
#define DNS_RCODE_OK    0
#define DNS_RCODE_NXDOMAIN 3
#define DNS_TTL         10 /* seconds: addresses change when the configuration does */
#define DNS_ANSWERS_MAX 8

struct dns_query {
    uint16_t id;
    bool rd;                   /* recursion desired (copied to the answer) */
    size_t qend;               /* offset just after the question */
    uint16_t qtype, qclass;
    char name[DNS_NAME_MAX + 1]; /* lower case, labels joined by '.', no final dot */
    size_t nlabels;
    bool plain;                /* every label is [a-z0-9_-] (a host name could match) */
};

/* 0 if msg (len bytes, a UDP payload) is a standard query (QR 0, opcode 0)
 * with exactly one question and nothing else but at most one additional
 * record (EDNS); -1 otherwise. */
int dns_parse_query(const uint8_t *msg, size_t len, struct dns_query *q);

/* The response to q (parsed from msg): the question as asked, the rcode,
 * authoritative, and an A record (DNS_TTL) for each of the n addresses
 * (at most DNS_ANSWERS_MAX are used). Written to out (cap bytes); returns
 * its length, 0 if it does not fit. */
size_t dns_build_answer(const uint8_t *msg, const struct dns_query *q, uint8_t rcode,
                        const uint32_t *addrs, size_t n, uint8_t *out, size_t cap);

#endif
