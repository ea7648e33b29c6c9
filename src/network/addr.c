/*
 * addr.c - parsing and formatting of the address forms in addr.h. The
 * parsers are strict on purpose: configuration is written by people and by
 * kumod, and "10.0.1.04" or "10.0.1.4 " is a mistake worth reporting rather
 * than guessing at.
 */
#include "network/addr.h"

#include <stdio.h>
#include <string.h>

/* One decimal part 0..max at *s; advances *s. */
static int parse_dec(const char **s, unsigned max, unsigned *out)
{
    const char *p = *s;
    unsigned v = 0;
    int digits = 0;
    while (*p >= '0' && *p <= '9') {
        if (digits > 0 && v == 0) return -1; /* leading zero */
        v = v * 10 + (unsigned)(*p - '0');
        if (v > max) return -1;
        p++;
        digits++;
    }
    if (digits == 0) return -1;
    *s = p;
    *out = v;
    return 0;
}

static int parse_ip4_prefix(const char **s, uint32_t *out)
{
    uint32_t ip = 0;
    for (int i = 0; i < 4; i++) {
        unsigned part;
        if (i > 0) {
            if (**s != '.') return -1;
            (*s)++;
        }
        if (parse_dec(s, 255, &part) < 0) return -1;
        ip = ip << 8 | part;
    }
    *out = ip;
    return 0;
}

int net_ip4_parse(const char *s, uint32_t *out)
{
    uint32_t ip;
    if (!s || parse_ip4_prefix(&s, &ip) < 0 || *s != '\0') return -1;
    *out = ip;
    return 0;
}

int net_cidr_parse(const char *s, struct net_cidr *out, bool bare_ok, bool host_bits_ok)
{
    uint32_t ip;
    unsigned len = 32;
    if (!s || parse_ip4_prefix(&s, &ip) < 0) return -1;
    if (*s == '/') {
        s++;
        if (parse_dec(&s, 32, &len) < 0) return -1;
    } else if (!bare_ok) {
        return -1;
    }
    if (*s != '\0') return -1;
    uint32_t net = ip & net_mask(len);
    if (net != ip && !host_bits_ok) return -2;
    out->addr = net;
    out->len = (uint8_t)len;
    return 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int net_mac_parse(const char *s, uint8_t mac[6])
{
    if (!s || strlen(s) != 17) return -1;
    char sep = s[2];
    if (sep != ':' && sep != '-') return -1;
    for (int i = 0; i < 6; i++) {
        const char *p = s + 3 * i;
        int hi = hexval(p[0]), lo = hexval(p[1]);
        if (hi < 0 || lo < 0) return -1;
        if (i < 5 && p[2] != sep) return -1;
        mac[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

const char *net_ip4_str(uint32_t ip, char buf[NET_IP4_STRLEN])
{
    snprintf(buf, NET_IP4_STRLEN, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255,
             ip & 255);
    return buf;
}

const char *net_cidr_str(struct net_cidr c, char buf[NET_CIDR_STRLEN])
{
    char ip[NET_IP4_STRLEN];
    snprintf(buf, NET_CIDR_STRLEN, "%s/%u", net_ip4_str(c.addr, ip), (unsigned)c.len);
    return buf;
}

const char *net_mac_str(const uint8_t mac[6], char buf[NET_MAC_STRLEN])
{
    snprintf(buf, NET_MAC_STRLEN, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2],
             mac[3], mac[4], mac[5]);
    return buf;
}
