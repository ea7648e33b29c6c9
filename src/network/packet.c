/*
 * packet.c - bounds-checked parsing of untrusted frames and construction of
 * the few frames the switch originates (ARP replies, DHCP replies, echo
 * replies). See packet.h for the contract.
 */
#include "network/packet.h"

#include <string.h>

uint32_t net_csum_add(const void *data, size_t len, uint32_t sum)
{
    const uint8_t *p = data;
    uint64_t s = sum;
    while (len >= 2) {
        s += (uint32_t)(p[0] << 8 | p[1]);
        p += 2;
        len -= 2;
    }
    if (len) s += (uint32_t)(p[0] << 8);
    while (s >> 32) s = (s & 0xffffffffu) + (s >> 32);
    return (uint32_t)s;
}

uint16_t net_csum(const void *data, size_t len, uint32_t sum)
{
    uint32_t s = net_csum_add(data, len, sum);
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

static enum net_parse_error parse_arp(struct net_frame *f)
{
    const uint8_t *a = f->data + NET_ETH_HLEN;
    if (f->len < NET_ETH_HLEN + 28) return NET_PARSE_BAD_ARP;
    if (net_rd16(a) != 1 || net_rd16(a + 2) != NET_ETH_IPV4 || a[4] != 6 || a[5] != 4)
        return NET_PARSE_BAD_ARP;
    f->arp.op = net_rd16(a + 6);
    memcpy(f->arp.sha, a + 8, 6);
    f->arp.spa = net_rd32(a + 14);
    memcpy(f->arp.tha, a + 18, 6);
    f->arp.tpa = net_rd32(a + 24);
    return NET_PARSE_OK;
}

static enum net_parse_error parse_l4(struct net_frame *f)
{
    const uint8_t *l4 = f->data + f->l4_off;
    size_t n = f->l4_len;
    switch (f->proto) {
    case NET_IPPROTO_TCP: {
        if (n < 20) return NET_PARSE_BAD_L4;
        size_t doff = (size_t)(l4[12] >> 4) * 4;
        if (doff < 20 || doff > n) return NET_PARSE_BAD_L4;
        f->has_ports = true;
        f->sport = net_rd16(l4);
        f->dport = net_rd16(l4 + 2);
        f->tcp_flags = l4[13] & 0x3f;
        f->payload_off = f->l4_off + doff;
        f->payload_len = n - doff;
        return NET_PARSE_OK;
    }
    case NET_IPPROTO_UDP: {
        if (n < 8) return NET_PARSE_BAD_L4;
        size_t ulen = net_rd16(l4 + 4);
        if (ulen < 8 || ulen > n) return NET_PARSE_BAD_L4;
        f->has_ports = true;
        f->sport = net_rd16(l4);
        f->dport = net_rd16(l4 + 2);
        f->payload_off = f->l4_off + 8;
        f->payload_len = ulen - 8;
        return NET_PARSE_OK;
    }
    case NET_IPPROTO_ICMP:
        if (n < 8) return NET_PARSE_BAD_L4;
        f->icmp_type = l4[0];
        f->icmp_code = l4[1];
        f->icmp_id = net_rd16(l4 + 4);
        return NET_PARSE_OK;
    default:
        return NET_PARSE_OK;
    }
}

static enum net_parse_error parse_ipv4(struct net_frame *f)
{
    const uint8_t *ip = f->data + NET_ETH_HLEN;
    size_t avail = f->len - NET_ETH_HLEN;
    if (avail < 20 || ip[0] >> 4 != 4) return NET_PARSE_BAD_IP;
    size_t hlen = (size_t)(ip[0] & 15) * 4;
    size_t total = net_rd16(ip + 2);
    if (hlen < 20 || hlen > avail || total < hlen || total > avail) return NET_PARSE_BAD_IP;
    if (net_csum(ip, hlen, 0) != 0) return NET_PARSE_BAD_IP;
    uint16_t frag = net_rd16(ip + 6);
    f->ip_off = NET_ETH_HLEN;
    f->ip_hlen = hlen;
    f->ip_len = total;
    f->ttl = ip[8];
    f->proto = ip[9];
    f->src_ip = net_rd32(ip + 12);
    f->dst_ip = net_rd32(ip + 16);
    f->fragment = (frag & 0x2000) || (frag & 0x1fff);
    f->l4_off = NET_ETH_HLEN + hlen;
    f->l4_len = total - hlen;
    if (f->fragment) return NET_PARSE_OK;
    return parse_l4(f);
}

enum net_parse_error net_parse_frame(const uint8_t *data, size_t len, struct net_frame *f)
{
    memset(f, 0, sizeof(*f));
    f->data = data;
    f->len = len;
    if (len < NET_ETH_HLEN) return NET_PARSE_RUNT;
    memcpy(f->dst_mac, data, 6);
    memcpy(f->src_mac, data + 6, 6);
    f->ethertype = net_rd16(data + 12);
    switch (f->ethertype) {
    case NET_ETH_ARP: return parse_arp(f);
    case NET_ETH_IPV4: return parse_ipv4(f);
    default: return NET_PARSE_OK;
    }
}

bool net_icmp_is_error(uint8_t type)
{
    return type == NET_ICMP_UNREACH || type == NET_ICMP_TIME_EXCEED ||
           type == NET_ICMP_PARAM_PROB;
}

int net_parse_icmp_inner(const struct net_frame *f, struct net_inner *in)
{
    if (f->ethertype != NET_ETH_IPV4 || f->fragment || f->proto != NET_IPPROTO_ICMP ||
        !net_icmp_is_error(f->icmp_type) || f->l4_len < 8)
        return -1;
    const uint8_t *ip = f->data + f->l4_off + 8;
    size_t n = f->l4_len - 8;
    if (n < 20 || ip[0] >> 4 != 4) return -1;
    size_t hlen = (size_t)(ip[0] & 15) * 4;
    if (hlen < 20 || hlen + 8 > n) return -1;
    memset(in, 0, sizeof(*in));
    in->proto = ip[9];
    in->src_ip = net_rd32(ip + 12);
    in->dst_ip = net_rd32(ip + 16);
    const uint8_t *l4 = ip + hlen;
    if (in->proto == NET_IPPROTO_TCP || in->proto == NET_IPPROTO_UDP) {
        in->sport = net_rd16(l4);
        in->dport = net_rd16(l4 + 2);
    } else if (in->proto == NET_IPPROTO_ICMP) {
        in->icmp_type = l4[0];
        in->sport = in->dport = net_rd16(l4 + 4);
    }
    return 0;
}

size_t net_build_eth(uint8_t *buf, const uint8_t dst[6], const uint8_t src[6], uint16_t type)
{
    memcpy(buf, dst, 6);
    memcpy(buf + 6, src, 6);
    net_wr16(buf + 12, type);
    return NET_ETH_HLEN;
}

size_t net_build_arp(uint8_t *buf, uint16_t op, const uint8_t eth_dst[6], const uint8_t sha[6],
                     uint32_t spa, const uint8_t tha[6], uint32_t tpa)
{
    size_t n = net_build_eth(buf, eth_dst, sha, NET_ETH_ARP);
    uint8_t *a = buf + n;
    net_wr16(a, 1);
    net_wr16(a + 2, NET_ETH_IPV4);
    a[4] = 6;
    a[5] = 4;
    net_wr16(a + 6, op);
    memcpy(a + 8, sha, 6);
    net_wr32(a + 14, spa);
    memcpy(a + 18, tha, 6);
    net_wr32(a + 24, tpa);
    n += 28;
    /* pad to the Ethernet minimum of 60 bytes (without FCS) */
    memset(buf + n, 0, 60 - n);
    return 60;
}

static void build_ip_header(uint8_t *ip, size_t total, uint8_t proto, uint32_t src, uint32_t dst)
{
    ip[0] = 0x45;
    ip[1] = 0;
    net_wr16(ip + 2, (uint16_t)total);
    net_wr16(ip + 4, 0);      /* identification */
    net_wr16(ip + 6, 0x4000); /* don't fragment */
    ip[8] = 64;
    ip[9] = proto;
    net_wr16(ip + 10, 0);
    net_wr32(ip + 12, src);
    net_wr32(ip + 16, dst);
    net_wr16(ip + 10, net_csum(ip, 20, 0));
}

size_t net_build_udp(uint8_t *buf, const uint8_t dst_mac[6], const uint8_t src_mac[6],
                     uint32_t src_ip, uint32_t dst_ip, uint16_t sport, uint16_t dport,
                     const void *payload, size_t payload_len)
{
    size_t n = net_build_eth(buf, dst_mac, src_mac, NET_ETH_IPV4);
    uint8_t *ip = buf + n, *udp = ip + 20;
    size_t ulen = 8 + payload_len;
    build_ip_header(ip, 20 + ulen, NET_IPPROTO_UDP, src_ip, dst_ip);
    net_wr16(udp, sport);
    net_wr16(udp + 2, dport);
    net_wr16(udp + 4, (uint16_t)ulen);
    net_wr16(udp + 6, 0);
    memcpy(udp + 8, payload, payload_len);
    uint8_t pseudo[12];
    net_wr32(pseudo, src_ip);
    net_wr32(pseudo + 4, dst_ip);
    pseudo[8] = 0;
    pseudo[9] = NET_IPPROTO_UDP;
    net_wr16(pseudo + 10, (uint16_t)ulen);
    uint16_t c = net_csum(udp, ulen, net_csum_add(pseudo, sizeof(pseudo), 0));
    net_wr16(udp + 6, c ? c : 0xffff);
    return n + 20 + ulen;
}

size_t net_build_tcp(uint8_t *buf, const uint8_t dst_mac[6], const uint8_t src_mac[6],
                     const struct net_tcp_seg *s, const void *payload, size_t payload_len)
{
    size_t n = net_build_eth(buf, dst_mac, src_mac, NET_ETH_IPV4);
    size_t hlen = s->mss ? 24 : 20, tlen = hlen + payload_len;
    uint8_t *ip = buf + n, *tcp = ip + 20;
    build_ip_header(ip, 20 + tlen, NET_IPPROTO_TCP, s->src_ip, s->dst_ip);
    net_wr16(tcp, s->sport);
    net_wr16(tcp + 2, s->dport);
    net_wr32(tcp + 4, s->seq);
    net_wr32(tcp + 8, s->ack);
    tcp[12] = (uint8_t)(hlen / 4) << 4;
    tcp[13] = s->flags;
    net_wr16(tcp + 14, s->window);
    net_wr16(tcp + 16, 0);
    net_wr16(tcp + 18, 0); /* urgent pointer */
    if (s->mss) {
        tcp[20] = 2; /* MSS */
        tcp[21] = 4;
        net_wr16(tcp + 22, s->mss);
    }
    if (payload_len) memcpy(tcp + hlen, payload, payload_len);
    uint8_t pseudo[12];
    net_wr32(pseudo, s->src_ip);
    net_wr32(pseudo + 4, s->dst_ip);
    pseudo[8] = 0;
    pseudo[9] = NET_IPPROTO_TCP;
    net_wr16(pseudo + 10, (uint16_t)tlen);
    net_wr16(tcp + 16, net_csum(tcp, tlen, net_csum_add(pseudo, sizeof(pseudo), 0)));
    return n + 20 + tlen;
}

size_t net_build_echo_reply(uint8_t *buf, const struct net_frame *f, const uint8_t src_mac[6])
{
    size_t n = net_build_eth(buf, f->src_mac, src_mac, NET_ETH_IPV4);
    uint8_t *ip = buf + n, *icmp = ip + 20;
    build_ip_header(ip, 20 + f->l4_len, NET_IPPROTO_ICMP, f->dst_ip, f->src_ip);
    memcpy(icmp, f->data + f->l4_off, f->l4_len);
    icmp[0] = NET_ICMP_ECHO_REPLY;
    icmp[1] = 0;
    net_wr16(icmp + 2, 0);
    net_wr16(icmp + 2, net_csum(icmp, f->l4_len, 0));
    return n + 20 + f->l4_len;
}

void net_ip_dec_ttl(uint8_t *ip)
{
    uint16_t old = net_rd16(ip + 8);
    ip[8]--;
    uint16_t new = net_rd16(ip + 8);
    uint32_t sum = (uint32_t)(uint16_t)~net_rd16(ip + 10) + (uint16_t)~old + new;
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    net_wr16(ip + 10, (uint16_t)~sum);
}
