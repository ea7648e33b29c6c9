/*
 * test_net_switch.c - the data plane (src/network/switch.c) fed with
 * synthetic frames: DHCP (DISCOVER/OFFER/REQUEST/ACK/NAK/INFORM), ARP for
 * the gateway and for peers, anti-spoofing, switching within a subnet,
 * routing between subnets, isolation between VNets (even with the same
 * addresses), NSGs on subnet and NIC in both directions, stateful replies
 * through conntrack (also from the NAT side), rule changes that keep
 * established flows, and the conntrack bound.
 */
#include "network/dhcp.h"
#include "network/packet.h"
#include "network/switch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))

static const uint8_t GW[6] = {0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc};
static const uint8_t BCAST[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
static const uint8_t MAC1[6] = {0x52, 0x54, 0, 0, 0, 1}; /* v1 web 10.0.1.4, NSG web-nsg */
static const uint8_t MAC2[6] = {0x52, 0x54, 0, 0, 0, 2}; /* v1 web 10.0.1.5 */
static const uint8_t MAC3[6] = {0x52, 0x54, 0, 0, 0, 3}; /* v1 db 10.0.2.4, NIC NSG db-nic */
static const uint8_t MAC4[6] = {0x52, 0x54, 0, 0, 0, 4}; /* v2 web 10.0.1.4 (same IP as n1) */
static const uint8_t MAC5[6] = {0x52, 0x54, 0, 0, 0, 5}; /* v1 web 10.0.1.6, NIC NSG no-internet */
enum { N1, N2, N3, N4, N5 };
#define V1 0
#define V2 1
static const uint32_t IP1 = IP(10, 0, 1, 4), IP2 = IP(10, 0, 1, 5), IP3 = IP(10, 0, 2, 4),
                      IP5 = IP(10, 0, 1, 6), GW1 = IP(10, 0, 1, 1), GW2 = IP(10, 0, 2, 1),
                      INET = IP(93, 184, 216, 34);

static const char *config_with(const char *web_rules)
{
    static char doc[8192];
    snprintf(
        doc, sizeof(doc),
        "{\"vnets\":["
        " {\"name\":\"v1\",\"address_space\":[\"10.0.0.0/16\"],\"dns\":\"10.0.0.53\",\"subnets\":["
        "  {\"name\":\"web\",\"prefix\":\"10.0.1.0/24\",\"nsg\":\"web-nsg\"},"
        "  {\"name\":\"db\",\"prefix\":\"10.0.2.0/24\"}]},"
        " {\"name\":\"v2\",\"address_space\":[\"10.0.0.0/16\"],\"subnets\":["
        "  {\"name\":\"web\",\"prefix\":\"10.0.1.0/24\"}]}],"
        "\"nsgs\":["
        " {\"name\":\"web-nsg\",\"rules\":%s},"
        " {\"name\":\"db-nic\",\"rules\":["
        "  {\"name\":\"no-ssh\",\"priority\":100,\"direction\":\"Inbound\",\"access\":\"Deny\","
        "   \"protocol\":\"Tcp\",\"destination_port_range\":\"22\"}]},"
        " {\"name\":\"no-internet\",\"rules\":["
        "  {\"name\":\"deny-out\",\"priority\":100,\"direction\":\"Outbound\",\"access\":\"Deny\","
        "   \"protocol\":\"*\",\"destination_address_prefix\":\"Internet\"}]}],"
        "\"conntrack\":{\"max_entries\":64},"
        "\"nics\":["
        " {\"id\":\"n1\",\"vnet\":\"v1\",\"subnet\":\"web\",\"mac\":\"52:54:00:00:00:01\","
        "  \"hostname\":\"web1\"},"
        " {\"id\":\"n2\",\"vnet\":\"v1\",\"subnet\":\"web\",\"mac\":\"52:54:00:00:00:02\"},"
        " {\"id\":\"n3\",\"vnet\":\"v1\",\"subnet\":\"db\",\"mac\":\"52:54:00:00:00:03\","
        "  \"nsg\":\"db-nic\"},"
        " {\"id\":\"n4\",\"vnet\":\"v2\",\"subnet\":\"web\",\"mac\":\"52:54:00:00:00:04\"},"
        " {\"id\":\"n5\",\"vnet\":\"v1\",\"subnet\":\"web\",\"mac\":\"52:54:00:00:00:05\","
        "  \"nsg\":\"no-internet\"}]}",
        web_rules);
    return doc;
}

static const char *WEB_RULES =
    "[{\"name\":\"http-in\",\"priority\":100,\"direction\":\"Inbound\",\"access\":\"Allow\","
    "\"protocol\":\"Tcp\",\"source_address_prefix\":\"Internet\",\"destination_port_range\":\"80\"}"
    ","
    "{\"name\":\"no-db-to-web\",\"priority\":110,\"direction\":\"Inbound\",\"access\":\"Deny\","
    "\"protocol\":\"Tcp\",\"source_address_prefix\":\"10.0.2.0/24\",\"destination_port_range\":"
    "\"8080\"},"
    "{\"name\":\"no-web-out-9000\",\"priority\":120,\"direction\":\"Outbound\",\"access\":\"Deny\","
    "\"protocol\":\"Tcp\",\"destination_port_range\":\"9000\"}]";

static struct sw *new_switch(const char *rules)
{
    struct sw *sw = sw_create();
    struct net_config *cfg;
    char err[512];
    const char *doc = config_with(rules);
    if (net_config_parse(doc, strlen(doc), NULL, &cfg, err, sizeof(err)) < 0) {
        printf("config: %s\n", err);
        exit(1);
    }
    if (sw_apply(sw, cfg) < 0) exit(1);
    return sw;
}

/* ---------------------------------------------------------- frames -- */

static uint8_t frame[NET_FRAME_MAX];
static struct sw_out out;

static size_t ipv4(uint8_t *b, const uint8_t dst_mac[6], const uint8_t src_mac[6], uint32_t src,
                   uint32_t dst, uint8_t proto, uint8_t ttl, const uint8_t *l4, size_t l4len)
{
    size_t n = net_build_eth(b, dst_mac, src_mac, NET_ETH_IPV4);
    uint8_t *ip = b + n;
    memset(ip, 0, 20);
    ip[0] = 0x45;
    net_wr16(ip + 2, (uint16_t)(20 + l4len));
    ip[8] = ttl;
    ip[9] = proto;
    net_wr32(ip + 12, src);
    net_wr32(ip + 16, dst);
    net_wr16(ip + 10, net_csum(ip, 20, 0));
    memcpy(ip + 20, l4, l4len);
    return n + 20 + l4len;
}

static size_t tcp(const uint8_t dst_mac[6], const uint8_t src_mac[6], uint32_t src, uint32_t dst,
                  uint16_t sport, uint16_t dport, uint8_t flags)
{
    uint8_t t[20] = {0};
    net_wr16(t, sport);
    net_wr16(t + 2, dport);
    t[12] = 5 << 4;
    t[13] = flags;
    net_wr16(t + 14, 65535);
    return ipv4(frame, dst_mac, src_mac, src, dst, NET_IPPROTO_TCP, 64, t, sizeof(t));
}

static size_t udp(const uint8_t dst_mac[6], const uint8_t src_mac[6], uint32_t src, uint32_t dst,
                  uint16_t sport, uint16_t dport)
{
    return net_build_udp(frame, dst_mac, src_mac, src, dst, sport, dport, "hello", 5);
}

static size_t icmp(const uint8_t dst_mac[6], const uint8_t src_mac[6], uint32_t src, uint32_t dst,
                   uint8_t type, uint16_t id)
{
    uint8_t m[16] = {type, 0, 0, 0};
    net_wr16(m + 4, id);
    net_wr16(m + 6, 1);
    memcpy(m + 8, "pingpong", 8);
    net_wr16(m + 2, net_csum(m, sizeof(m), 0));
    return ipv4(frame, dst_mac, src_mac, src, dst, NET_IPPROTO_ICMP, 64, m, sizeof(m));
}

static size_t arp_req(const uint8_t src_mac[6], uint32_t spa, uint32_t tpa)
{
    static const uint8_t zero[6] = {0};
    return net_build_arp(frame, NET_ARP_REQUEST, BCAST, src_mac, spa, zero, tpa);
}

static void in_port(struct sw *sw, size_t nic, size_t len)
{
    sw_port_input(sw, nic, frame, len, 1000, &out);
}

static void in_port_at(struct sw *sw, size_t nic, size_t len, uint64_t now)
{
    sw_port_input(sw, nic, frame, len, now, &out);
}

static void in_nat(struct sw *sw, size_t vnet, size_t len)
{
    sw_nat_input(sw, vnet, frame, len, 1000, &out);
}

/* The single output frame, parsed; NULL if there is not exactly one. */
static const struct net_frame *one(enum sw_dest dest, size_t index)
{
    static struct net_frame f;
    if (out.n != 1 || out.f[0].dest != dest || out.f[0].index != index) return NULL;
    if (net_parse_frame(out.f[0].data, out.f[0].len, &f) != NET_PARSE_OK) return NULL;
    return &f;
}

static uint64_t drops(struct sw *sw, size_t nic, enum sw_drop why)
{
    return sw->nics[nic].st.drops[why];
}

/* ------------------------------------------------------------ DHCP -- */

static size_t dhcp(const uint8_t mac[6], const uint8_t chaddr[6], uint8_t type, uint32_t ciaddr,
                   uint32_t req_ip, uint32_t server, bool bflag)
{
    uint8_t m[300] = {0};
    m[0] = 1;
    m[1] = 1;
    m[2] = 6;
    net_wr32(m + 4, 0xdeadbeef);
    if (bflag) net_wr16(m + 10, 0x8000);
    net_wr32(m + 12, ciaddr);
    memcpy(m + 28, chaddr, 6);
    net_wr32(m + 236, DHCP_MAGIC);
    size_t o = 240;
    m[o++] = 53;
    m[o++] = 1;
    m[o++] = type;
    if (req_ip) {
        m[o++] = 50;
        m[o++] = 4;
        net_wr32(m + o, req_ip);
        o += 4;
    }
    if (server) {
        m[o++] = 54;
        m[o++] = 4;
        net_wr32(m + o, server);
        o += 4;
    }
    m[o++] = 255;
    return net_build_udp(frame, ciaddr ? GW : BCAST, mac, ciaddr, ciaddr ? GW1 : 0xffffffffu, 68,
                         67, m, sizeof(m));
}

static uint32_t opt32(const struct net_frame *f, uint8_t code)
{
    size_t l;
    const uint8_t *p = dhcp_find_option(f->data + f->payload_off, f->payload_len, code, &l);
    return p && l == 4 ? net_rd32(p) : 0;
}

static int msg_type(const struct net_frame *f)
{
    size_t l;
    const uint8_t *p = dhcp_find_option(f->data + f->payload_off, f->payload_len, 53, &l);
    return p && l == 1 ? *p : -1;
}

static void test_dhcp(void)
{
    struct sw *sw = new_switch(WEB_RULES);
    const struct net_frame *f;

    in_port(sw, N1, dhcp(MAC1, MAC1, DHCP_DISCOVER, 0, 0, 0, false));
    f = one(SW_TO_PORT, N1);
    CHECK(f != NULL, "DISCOVER answered");
    if (f) {
        const uint8_t *b = f->data + f->payload_off;
        CHECK(f->sport == 67 && f->dport == 68 && f->src_ip == GW1 && f->dst_ip == IP1,
              "OFFER from the gateway, unicast to the offered address");
        CHECK(!memcmp(f->src_mac, GW, 6) && !memcmp(f->dst_mac, MAC1, 6), "OFFER MACs");
        CHECK(msg_type(f) == DHCP_OFFER, "type OFFER");
        CHECK(b[0] == 2 && net_rd32(b + 4) == 0xdeadbeef, "BOOTREPLY, same xid");
        CHECK(net_rd32(b + 16) == IP1, "yiaddr 10.0.1.4");
        CHECK(opt32(f, 1) == 0xffffff00u, "mask");
        CHECK(opt32(f, 3) == GW1, "router");
        CHECK(opt32(f, 6) == IP(10, 0, 0, 53), "DNS from the VNet");
        CHECK(opt32(f, 54) == GW1, "server id");
        CHECK(opt32(f, 51) == DHCP_LEASE_SECS, "lease time");
        CHECK(opt32(f, 28) == IP(10, 0, 1, 255), "broadcast address");
        size_t l;
        const uint8_t *h = dhcp_find_option(b, f->payload_len, 12, &l);
        CHECK(h && l == 4 && !memcmp(h, "web1", 4), "host name");
        CHECK(f->payload_len >= 300, "padded to 300 bytes");
    }
    in_port(sw, N1, dhcp(MAC1, MAC1, DHCP_REQUEST, 0, IP1, GW1, false));
    f = one(SW_TO_PORT, N1);
    CHECK(f && msg_type(f) == DHCP_ACK && net_rd32(f->data + f->payload_off + 16) == IP1,
          "REQUEST (selecting) -> ACK");
    in_port(sw, N1, dhcp(MAC1, MAC1, DHCP_REQUEST, 0, IP(10, 0, 1, 99), GW1, false));
    f = one(SW_TO_PORT, N1);
    CHECK(f && msg_type(f) == DHCP_NAK && f->dst_ip == 0xffffffffu &&
              !memcmp(f->dst_mac, BCAST, 6),
          "REQUEST for another address -> broadcast NAK");
    in_port(sw, N1, dhcp(MAC1, MAC1, DHCP_REQUEST, 0, IP1, IP(10, 0, 1, 77), false));
    CHECK(out.n == 0, "REQUEST to another server: silence");
    in_port(sw, N1, dhcp(MAC1, MAC1, DHCP_REQUEST, 0, IP1, 0, false));
    f = one(SW_TO_PORT, N1);
    CHECK(f && msg_type(f) == DHCP_ACK, "INIT-REBOOT -> ACK");
    in_port(sw, N1, dhcp(MAC1, MAC1, DHCP_REQUEST, IP1, 0, 0, false));
    f = one(SW_TO_PORT, N1);
    CHECK(f && msg_type(f) == DHCP_ACK && f->dst_ip == IP1 &&
              net_rd32(f->data + f->payload_off + 12) == IP1,
          "RENEW (unicast from ciaddr) -> unicast ACK");
    in_port(sw, N1, dhcp(MAC1, MAC1, DHCP_REQUEST, IP(10, 0, 1, 50), 0, 0, false));
    CHECK(out.n == 0 && drops(sw, N1, SW_DROP_SPOOFED) == 1,
          "RENEW from an address that is not the NIC's: spoofed");
    in_port(sw, N1, dhcp(MAC1, MAC1, DHCP_INFORM, IP1, 0, 0, false));
    f = one(SW_TO_PORT, N1);
    CHECK(f && msg_type(f) == DHCP_ACK && net_rd32(f->data + f->payload_off + 16) == 0 &&
              opt32(f, 51) == 0 && opt32(f, 3) == GW1,
          "INFORM -> ACK without address or lease");
    in_port(sw, N1, dhcp(MAC1, MAC1, DHCP_DISCOVER, 0, 0, 0, true));
    f = one(SW_TO_PORT, N1);
    CHECK(f && !memcmp(f->dst_mac, BCAST, 6) && f->dst_ip == 0xffffffffu,
          "broadcast flag -> broadcast OFFER");
    in_port(sw, N1, dhcp(MAC1, MAC1, DHCP_RELEASE, IP1, 0, GW1, false));
    CHECK(out.n == 0, "RELEASE: no answer");
    in_port(sw, N1, dhcp(MAC1, MAC2, DHCP_DISCOVER, 0, 0, 0, false));
    CHECK(out.n == 0, "DISCOVER for another client's hardware address: ignored");
    in_port(sw, N3, dhcp(MAC3, MAC3, DHCP_DISCOVER, 0, 0, 0, false));
    f = one(SW_TO_PORT, N3);
    CHECK(f && net_rd32(f->data + f->payload_off + 16) == IP3 && opt32(f, 3) == GW2 &&
              f->src_ip == GW2,
          "db subnet: its own address and gateway");
    in_port(sw, N4, dhcp(MAC4, MAC4, DHCP_DISCOVER, 0, 0, 0, false));
    f = one(SW_TO_PORT, N4);
    CHECK(f && opt32(f, 6) == IP(168, 63, 129, 16), "v2 gets the platform DNS");
    CHECK(sw->nics[N1].st.dhcp_replies == 7, "dhcp_replies counted (%llu)",
          (unsigned long long)sw->nics[N1].st.dhcp_replies);
    sw_destroy(sw);
}

/* ------------------------------------------------------------- ARP -- */

static void test_arp(void)
{
    struct sw *sw = new_switch(WEB_RULES);
    const struct net_frame *f;
    in_port(sw, N1, arp_req(MAC1, IP1, GW1));
    f = one(SW_TO_PORT, N1);
    CHECK(f && f->ethertype == NET_ETH_ARP && f->arp.op == NET_ARP_REPLY &&
              !memcmp(f->arp.sha, GW, 6) && f->arp.spa == GW1 && f->arp.tpa == IP1 &&
              !memcmp(f->dst_mac, MAC1, 6),
          "gateway ARP answered with the gateway MAC");
    in_port(sw, N1, arp_req(MAC1, IP1, IP2));
    f = one(SW_TO_PORT, N1);
    CHECK(f && !memcmp(f->arp.sha, MAC2, 6) && f->arp.spa == IP2,
          "same-subnet peer answered with its own MAC");
    in_port(sw, N1, arp_req(MAC1, IP1, IP3));
    CHECK(out.n == 0, "other subnet: no answer (use the gateway)");
    in_port(sw, N1, arp_req(MAC1, IP1, IP(10, 0, 1, 200)));
    CHECK(out.n == 0, "unused address: no answer");
    in_port(sw, N1, arp_req(MAC1, IP1, GW2));
    CHECK(out.n == 0, "another subnet's gateway: no answer");
    in_port(sw, N1, arp_req(MAC1, 0, IP2));
    CHECK(one(SW_TO_PORT, N1) != NULL, "ARP probe (sender 0.0.0.0) answered");
    in_port(sw, N4, arp_req(MAC4, IP1, IP2));
    CHECK(out.n == 0, "isolation: v2 cannot resolve v1's 10.0.1.5");
    in_port(sw, N4, arp_req(MAC4, IP1, GW1));
    f = one(SW_TO_PORT, N4);
    CHECK(f && f->arp.spa == GW1, "v2 resolves its own gateway");
    CHECK(sw->nics[N1].st.arp_replies == 3, "arp_replies counted");

    /* spoofed ARP */
    in_port(sw, N1, arp_req(MAC1, IP2, GW1));
    CHECK(out.n == 0 && drops(sw, N1, SW_DROP_SPOOFED) == 1, "ARP from a peer's IP: dropped");
    net_build_arp(frame, NET_ARP_REQUEST, BCAST, MAC1, IP1, BCAST, GW1);
    memcpy(frame + 14 + 8, MAC2, 6); /* sender hardware address of a peer */
    in_port(sw, N1, 60);
    CHECK(out.n == 0 && drops(sw, N1, SW_DROP_SPOOFED) == 2, "ARP with a peer's MAC: dropped");
    /* replies and gratuitous announcements are absorbed, not flooded */
    net_build_arp(frame, NET_ARP_REPLY, BCAST, MAC1, IP1, BCAST, IP1);
    in_port(sw, N1, 60);
    CHECK(out.n == 0, "gratuitous ARP absorbed");

    /* the NAT resolving a NIC: every NIC is behind the gateway */
    static const uint8_t natmac[6] = {0x52, 0x55, 0xa8, 0x3f, 0x81, 0x01};
    static const uint8_t zero[6] = {0};
    net_build_arp(frame, NET_ARP_REQUEST, BCAST, natmac, IP(168, 63, 129, 1), zero, IP3);
    in_nat(sw, V1, 60);
    f = one(SW_TO_NAT, V1);
    CHECK(f && f->arp.op == NET_ARP_REPLY && !memcmp(f->arp.sha, GW, 6) && f->arp.spa == IP3 &&
              !memcmp(f->dst_mac, natmac, 6),
          "NAT ARP for a NIC answered with the gateway MAC");
    net_build_arp(frame, NET_ARP_REQUEST, BCAST, natmac, IP(168, 63, 129, 1), zero,
                  IP(10, 0, 1, 99));
    in_nat(sw, V1, 60);
    CHECK(out.n == 0, "NAT ARP for an unused address: no answer");
    sw_destroy(sw);
}

/* ----------------------------------------------- forwarding and spoofing -- */

static void test_forwarding(void)
{
    struct sw *sw = new_switch(WEB_RULES);
    const struct net_frame *f;

    /* switched within the subnet: MACs and TTL untouched */
    size_t len = udp(MAC2, MAC1, IP1, IP2, 5000, 6000);
    in_port(sw, N1, len);
    f = one(SW_TO_PORT, N2);
    CHECK(f && !memcmp(f->src_mac, MAC1, 6) && !memcmp(f->dst_mac, MAC2, 6) && f->ttl == 64 &&
              out.f[0].len == len,
          "switched to n2 unchanged");
    /* routed to another subnet: gateway MAC, TTL - 1, valid checksum */
    in_port(sw, N1, udp(GW, MAC1, IP1, IP3, 5000, 6000));
    f = one(SW_TO_PORT, N3);
    CHECK(f && !memcmp(f->src_mac, GW, 6) && !memcmp(f->dst_mac, MAC3, 6) && f->ttl == 63,
          "routed to n3 (parse also checks the IP checksum)");
    /* routed within the subnet (to the gateway MAC) works too */
    in_port(sw, N1, udp(GW, MAC1, IP1, IP2, 5000, 6001));
    CHECK(one(SW_TO_PORT, N2) != NULL, "hairpin through the gateway");
    /* ping the gateway */
    in_port(sw, N1, icmp(GW, MAC1, IP1, GW1, NET_ICMP_ECHO, 9));
    f = one(SW_TO_PORT, N1);
    CHECK(f && f->proto == NET_IPPROTO_ICMP && f->icmp_type == NET_ICMP_ECHO_REPLY &&
              f->src_ip == GW1 && f->dst_ip == IP1 && f->icmp_id == 9 &&
              net_csum(f->data + f->l4_off, f->l4_len, 0) == 0,
          "gateway answers ping");
    in_port(sw, N1, icmp(GW, MAC1, IP1, GW2, NET_ICMP_ECHO, 9));
    CHECK(one(SW_TO_PORT, N1) != NULL, "...and pings of the other subnet's gateway");
    /* to the internet: through the NAT */
    in_port(sw, N1, tcp(GW, MAC1, IP1, INET, 40000, 443, NET_TCP_SYN));
    f = one(SW_TO_NAT, V1);
    CHECK(f && f->dst_ip == INET && f->ttl == 63, "internet via NAT");
    CHECK(sw->vnets[V1].nat.to_nat_packets == 1, "NAT counter");

    /* anti-spoofing */
    in_port(sw, N1, udp(MAC2, MAC3, IP1, IP2, 1, 2));
    CHECK(out.n == 0 && drops(sw, N1, SW_DROP_SPOOFED) == 1, "foreign source MAC");
    in_port(sw, N1, udp(MAC2, MAC1, IP2, IP2, 1, 2));
    CHECK(out.n == 0 && drops(sw, N1, SW_DROP_SPOOFED) == 2, "foreign source IP");
    in_port(sw, N1, udp(GW, MAC1, 0, INET, 68, 67));
    CHECK(out.n == 0 && drops(sw, N1, SW_DROP_SPOOFED) == 3, "0.0.0.0 only for DHCP");

    /* wrong destinations */
    in_port(sw, N1, udp(MAC3, MAC1, IP1, IP3, 1, 2));
    CHECK(out.n == 0 && drops(sw, N1, SW_DROP_NO_ROUTE) == 1,
          "no switching to another subnet's MAC");
    in_port(sw, N1, udp(MAC2, MAC1, IP1, IP3, 1, 2));
    CHECK(out.n == 0 && drops(sw, N1, SW_DROP_NO_ROUTE) == 2, "MAC and IP disagree");
    in_port(sw, N1, udp(GW, MAC1, IP1, IP(10, 0, 3, 3), 1, 2));
    CHECK(out.n == 0 && drops(sw, N1, SW_DROP_NO_ROUTE) == 3, "nobody has 10.0.3.3");
    in_port(sw, N1, udp(GW, MAC1, IP1, IP(127, 0, 0, 1), 1, 2));
    CHECK(out.n == 0 && drops(sw, N1, SW_DROP_EGRESS) == 1, "loopback is never reached");
    in_port(sw, N1, udp(BCAST, MAC1, IP1, 0xffffffffu, 1, 2));
    CHECK(out.n == 0 && drops(sw, N1, SW_DROP_BROADCAST) == 1, "broadcast dropped");
    in_port(sw, N1, udp(GW, MAC1, IP1, IP(10, 0, 1, 255), 1, 2));
    CHECK(out.n == 0 && drops(sw, N1, SW_DROP_BROADCAST) == 2, "subnet broadcast dropped");
    in_port(sw, N1, udp(GW, MAC1, IP1, IP(224, 0, 0, 251), 5353, 5353));
    CHECK(out.n == 0 && drops(sw, N1, SW_DROP_BROADCAST) == 3, "multicast dropped");
    len = udp(GW, MAC1, IP1, IP3, 1, 2);
    frame[14 + 8] = 1; /* TTL 1: patch and fix the checksum */
    net_wr16(frame + 14 + 10, 0);
    net_wr16(frame + 14 + 10, net_csum(frame + 14, 20, 0));
    in_port(sw, N1, len);
    CHECK(out.n == 0 && drops(sw, N1, SW_DROP_TTL) == 1, "TTL expired");

    /* malformed and unsupported */
    in_port(sw, N1, 10);
    CHECK(out.n == 0 && drops(sw, N1, SW_DROP_MALFORMED) == 1, "runt");
    len = udp(MAC2, MAC1, IP1, IP2, 1, 2);
    frame[14 + 10] ^= 1; /* bad header checksum */
    in_port(sw, N1, len);
    CHECK(out.n == 0 && drops(sw, N1, SW_DROP_MALFORMED) == 2, "bad IP checksum");
    len = udp(MAC2, MAC1, IP1, IP2, 1, 2);
    in_port(sw, N1, len - 4);
    CHECK(out.n == 0 && drops(sw, N1, SW_DROP_MALFORMED) == 3, "truncated datagram");
    len = udp(MAC2, MAC1, IP1, IP2, 1, 2);
    net_wr16(frame + 14 + 6, 0x2000); /* more fragments */
    net_wr16(frame + 14 + 10, 0);
    net_wr16(frame + 14 + 10, net_csum(frame + 14, 20, 0));
    in_port(sw, N1, len);
    CHECK(out.n == 0 && drops(sw, N1, SW_DROP_UNSUPPORTED) == 1, "fragment");
    net_build_eth(frame, MAC2, MAC1, NET_ETH_IPV6);
    memset(frame + 14, 0, 40);
    in_port(sw, N1, 54);
    CHECK(out.n == 0 && drops(sw, N1, SW_DROP_UNSUPPORTED) == 2, "IPv6");
    /* Ethernet padding after a short IP packet is stripped, not forwarded */
    len = udp(MAC2, MAC1, IP1, IP2, 7, 8);
    memset(frame + len, 0xee, 20);
    in_port(sw, N1, len + 20);
    CHECK(out.n == 1 && out.f[0].len == len, "padding stripped");
    sw_destroy(sw);
}

static void test_isolation(void)
{
    struct sw *sw = new_switch(WEB_RULES);
    /* n4 has n1's address, in another VNet */
    in_port(sw, N4, udp(GW, MAC4, IP1, IP2, 1, 2));
    CHECK(out.n == 0 && drops(sw, N4, SW_DROP_NO_ROUTE) == 1, "v2 cannot reach v1's 10.0.1.5");
    in_port(sw, N4, udp(MAC1, MAC4, IP1, IP1, 1, 2));
    CHECK(out.n == 0, "v2 cannot address v1's MAC");
    in_port(sw, N4, udp(MAC2, MAC4, IP1, IP2, 1, 2));
    CHECK(out.n == 0, "...nor any v1 MAC");
    in_port(sw, N2, udp(MAC1, MAC2, IP2, IP1, 1, 2));
    CHECK(one(SW_TO_PORT, N1) != NULL, "v1 10.0.1.5 -> 10.0.1.4 reaches n1, not n4");
    /* the NAT of v2 delivers to v2 only */
    in_nat(sw, V2, udp(GW, MAC4, INET, IP1, 53, 5353));
    CHECK(out.n == 0 || (out.f[0].dest == SW_TO_PORT && out.f[0].index == N4),
          "NAT of v2 delivers to n4 if at all");
    in_nat(sw, V2, udp(GW, MAC4, INET, IP2, 53, 5353));
    CHECK(out.n == 0, "NAT of v2 cannot reach v1's 10.0.1.5");
    /* a NAT frame posing as a VNet address is dropped */
    in_nat(sw, V1, udp(GW, MAC4, IP2, IP1, 53, 5353));
    CHECK(out.n == 0 && sw->vnets[V1].nat.drops[SW_DROP_SPOOFED] == 1, "NAT spoofing v1");
    sw_destroy(sw);
}

/* --------------------------------------------------- NSG and conntrack -- */

static void test_nsg_paths(void)
{
    struct sw *sw = new_switch(WEB_RULES);
    /* inbound to n3: the db subnet has no NSG, n3's NSG denies 22 */
    in_port(sw, N1, tcp(GW, MAC1, IP1, IP3, 40000, 22, NET_TCP_SYN));
    CHECK(out.n == 0 && drops(sw, N1, SW_DROP_POLICY) == 1, "NIC NSG denies ssh to n3");
    in_port(sw, N1, tcp(GW, MAC1, IP1, IP3, 40000, 5432, NET_TCP_SYN));
    CHECK(one(SW_TO_PORT, N3) != NULL, "NIC NSG defaults allow the VNet");
    /* inbound to the web subnet: subnet NSG denies 10.0.2.0/24 -> 8080 */
    in_port(sw, N3, tcp(GW, MAC3, IP3, IP1, 40000, 8080, NET_TCP_SYN));
    CHECK(out.n == 0 && drops(sw, N3, SW_DROP_POLICY) == 1, "subnet NSG denies db -> web:8080");
    in_port(sw, N3, tcp(GW, MAC3, IP3, IP1, 40000, 8081, NET_TCP_SYN));
    CHECK(one(SW_TO_PORT, N1) != NULL, "web:8081 allowed");
    /* outbound from the web subnet: subnet NSG denies tcp 9000, even inside the subnet */
    in_port(sw, N1, tcp(MAC2, MAC1, IP1, IP2, 40000, 9000, NET_TCP_SYN));
    CHECK(out.n == 0 && drops(sw, N1, SW_DROP_POLICY) == 2, "subnet outbound rule, same subnet");
    /* n5: NIC NSG denies Internet outbound; subnet allows; VNet still fine */
    in_port(sw, N5, tcp(GW, MAC5, IP5, INET, 40000, 443, NET_TCP_SYN));
    CHECK(out.n == 0 && drops(sw, N5, SW_DROP_POLICY) == 1, "NIC outbound deny");
    in_port(sw, N5, udp(MAC1, MAC5, IP5, IP1, 1, 2));
    CHECK(one(SW_TO_PORT, N1) != NULL, "VNet traffic from n5 allowed");
    /* platform DNS is exempt, as in Azure */
    in_port(sw, N5, udp(GW, MAC5, IP5, IP(168, 63, 129, 16), 33000, 53));
    CHECK(one(SW_TO_NAT, V1) != NULL, "platform DNS bypasses the NSG");
    in_nat(sw, V1, udp(GW, MAC5, IP(168, 63, 129, 16), IP5, 53, 33000));
    CHECK(one(SW_TO_PORT, N5) != NULL, "...and its answer comes back");
    in_port(sw, N5, udp(GW, MAC5, IP5, IP(168, 63, 129, 16), 33000, 54));
    CHECK(out.n == 0, "other ports of 168.63.129.16 are Internet");

    /* from the internet (NAT side): only http-in */
    in_nat(sw, V1, tcp(GW, MAC1, INET, IP1, 50000, 80, NET_TCP_SYN));
    CHECK(one(SW_TO_PORT, N1) != NULL, "internet -> web:80 allowed by http-in");
    in_nat(sw, V1, tcp(GW, MAC1, INET, IP1, 50000, 22, NET_TCP_SYN));
    CHECK(out.n == 0 && sw->vnets[V1].nat.drops[SW_DROP_POLICY] == 1,
          "internet -> web:22 denied (DenyAllInBound)");
    in_nat(sw, V1, tcp(GW, MAC1, INET, IP3, 50000, 80, NET_TCP_SYN));
    CHECK(out.n == 0, "internet -> db:80 denied (n3 NSG has no http rule)");

    /* rule counters */
    const struct nsg *g = &sw->cfg->nsgs[0];
    uint64_t http = 0, deny_all = 0;
    for (size_t i = 0; i < g->nrules; i++) {
        if (!strcmp(g->rules[i].name, "http-in")) http = g->rules[i].packets;
        if (!strcmp(g->rules[i].name, "DenyAllInBound")) deny_all = g->rules[i].packets;
    }
    CHECK(http == 1 && deny_all == 1, "rule counters http-in %llu, DenyAllInBound %llu",
          (unsigned long long)http, (unsigned long long)deny_all);
    sw_destroy(sw);
}

static void test_stateful(void)
{
    struct sw *sw = new_switch(WEB_RULES);
    const struct net_frame *f;
    /* n1 -> internet:443, the reply comes back through the NAT although
     * inbound from the Internet is denied */
    in_port(sw, N1, tcp(GW, MAC1, IP1, INET, 40000, 443, NET_TCP_SYN));
    CHECK(one(SW_TO_NAT, V1) != NULL, "SYN out");
    in_nat(sw, V1, tcp(GW, MAC1, INET, IP1, 443, 40000, NET_TCP_SYN | NET_TCP_ACK));
    f = one(SW_TO_PORT, N1);
    CHECK(f && !memcmp(f->src_mac, GW, 6) && !memcmp(f->dst_mac, MAC1, 6),
          "SYN+ACK admitted by conntrack");
    in_port(sw, N1, tcp(GW, MAC1, IP1, INET, 40000, 443, NET_TCP_ACK));
    in_nat(sw, V1, tcp(GW, MAC1, INET, IP1, 443, 40000, NET_TCP_ACK | NET_TCP_PSH));
    CHECK(one(SW_TO_PORT, N1) != NULL, "data admitted");
    in_nat(sw, V1, tcp(GW, MAC1, INET, IP1, 443, 40001, NET_TCP_ACK));
    CHECK(out.n == 0, "other port: not part of the flow");
    in_nat(sw, V1, tcp(GW, MAC1, INET, IP1, 444, 40000, NET_TCP_ACK));
    CHECK(out.n == 0, "other source port: not part of the flow");
    /* UDP and ping replies */
    in_port(sw, N1, udp(GW, MAC1, IP1, INET, 5353, 53));
    in_nat(sw, V1, udp(GW, MAC1, INET, IP1, 53, 5353));
    CHECK(one(SW_TO_PORT, N1) != NULL, "UDP reply admitted");
    in_nat(sw, V1, udp(GW, MAC1, INET, IP1, 53, 5354));
    CHECK(out.n == 0, "unsolicited UDP denied");
    in_port(sw, N1, icmp(GW, MAC1, IP1, INET, NET_ICMP_ECHO, 77));
    in_nat(sw, V1, icmp(GW, MAC1, INET, IP1, NET_ICMP_ECHO_REPLY, 77));
    CHECK(one(SW_TO_PORT, N1) != NULL, "echo reply admitted");
    in_nat(sw, V1, icmp(GW, MAC1, INET, IP1, NET_ICMP_ECHO, 77));
    CHECK(out.n == 0, "an echo request cannot pose as the reply");
    in_nat(sw, V1, icmp(GW, MAC1, INET, IP1, NET_ICMP_ECHO_REPLY, 78));
    CHECK(out.n == 0, "unsolicited echo reply denied");
    /* an ICMP error about the UDP flow is related */
    {
        uint8_t m[8 + 28] = {NET_ICMP_UNREACH, 3};
        uint8_t *inner = m + 8;
        inner[0] = 0x45;
        net_wr16(inner + 2, 28);
        inner[8] = 64;
        inner[9] = NET_IPPROTO_UDP;
        net_wr32(inner + 12, IP1);
        net_wr32(inner + 16, INET);
        net_wr16(inner + 20, 5353);
        net_wr16(inner + 22, 53);
        net_wr16(m + 2, net_csum(m, sizeof(m), 0));
        in_nat(sw, V1, ipv4(frame, GW, MAC1, INET, IP1, NET_IPPROTO_ICMP, 64, m, sizeof(m)));
        CHECK(one(SW_TO_PORT, N1) != NULL, "ICMP unreachable about a tracked flow admitted");
        net_wr16(inner + 20, 9999);
        net_wr16(m + 2, 0);
        net_wr16(m + 2, net_csum(m, sizeof(m), 0));
        in_nat(sw, V1, ipv4(frame, GW, MAC1, INET, IP1, NET_IPPROTO_ICMP, 64, m, sizeof(m)));
        CHECK(out.n == 0, "ICMP error about an unknown flow denied");
    }

    /* inside the VNet: n3 (NIC NSG denies inbound 22) may answer n1's
     * connection to n3:5432, but cannot open n1:22... which is allowed by
     * defaults. Use the subnet rule db -> web:8080 instead: n1 -> n3:8080
     * is fine, and n3's replies from port 8080 pass although a new flow
     * db -> web:8080 would not. */
    in_port(sw, N1, tcp(GW, MAC1, IP1, IP3, 8080, 8080, NET_TCP_SYN));
    CHECK(one(SW_TO_PORT, N3) != NULL, "n1 -> n3:8080");
    in_port(sw, N3, tcp(GW, MAC3, IP3, IP1, 8080, 8080, NET_TCP_SYN | NET_TCP_ACK));
    CHECK(one(SW_TO_PORT, N1) != NULL, "n3's reply to port 8080 admitted");
    in_port(sw, N3, tcp(GW, MAC3, IP3, IP1, 8081, 8080, NET_TCP_SYN));
    CHECK(out.n == 0, "a new db -> web:8080 flow is denied");

    /* ICMP errors about that flow (n1:8080 -> n3:8080): related only from its
     * peer path, here n3 itself; the NAT cannot pose as n3 (and web-nsg
     * admits nothing but HTTP from the Internet on its own) */
    {
        uint8_t m[8 + 28] = {NET_ICMP_UNREACH, 3};
        uint8_t *inner = m + 8;
        inner[0] = 0x45;
        net_wr16(inner + 2, 28);
        inner[8] = 64;
        inner[9] = NET_IPPROTO_TCP;
        net_wr32(inner + 12, IP1);
        net_wr32(inner + 16, IP3);
        net_wr16(inner + 20, 8080);
        net_wr16(inner + 22, 8080);
        net_wr16(m + 2, net_csum(m, sizeof(m), 0));
        uint64_t pol = drops(sw, N3, SW_DROP_POLICY);
        in_port(sw, N3, ipv4(frame, GW, MAC3, IP3, IP1, NET_IPPROTO_ICMP, 64, m, sizeof(m)));
        CHECK(one(SW_TO_PORT, N1) != NULL && drops(sw, N3, SW_DROP_POLICY) == pol,
              "an error from the flow's peer (n3) is related");
        in_nat(sw, V1, ipv4(frame, GW, MAC1, INET, IP1, NET_IPPROTO_ICMP, 64, m, sizeof(m)));
        CHECK(out.n == 0, "the NAT cannot send an error about a flow inside the VNet");
    }

    /* TCP teardown then reuse: a SYN after RST is a new flow for the rules */
    in_port(sw, N1, tcp(GW, MAC1, IP1, INET, 40000, 443, NET_TCP_RST));
    CHECK(one(SW_TO_NAT, V1) != NULL, "RST out");
    in_nat(sw, V1, tcp(GW, MAC1, INET, IP1, 443, 40000, NET_TCP_SYN));
    CHECK(out.n == 0, "after RST the reversed tuple is a new (denied) flow");
    sw_destroy(sw);
}

static struct net_config *parse(const char *doc, const struct net_config *prev)
{
    struct net_config *cfg;
    char err[512];
    if (net_config_parse(doc, strlen(doc), prev, &cfg, err, sizeof(err)) < 0) {
        printf("config: %s\n", err);
        exit(1);
    }
    return cfg;
}

static void test_rule_change(void)
{
    struct sw *sw = new_switch(WEB_RULES);
    /* internet -> n1:80 established */
    in_nat(sw, V1, tcp(GW, MAC1, INET, IP1, 50000, 80, NET_TCP_SYN));
    CHECK(one(SW_TO_PORT, N1) != NULL, "allowed before the change");
    in_port(sw, N1, tcp(GW, MAC1, IP1, INET, 80, 50000, NET_TCP_SYN | NET_TCP_ACK));
    in_nat(sw, V1, tcp(GW, MAC1, INET, IP1, 50000, 80, NET_TCP_ACK));
    /* the rule goes away */
    sw_port_input(sw, N1, frame, 0, 1000, &out); /* (a runt, counted) */
    uint64_t rx_before = sw->nics[N1].st.rx_packets;
    CHECK(sw_apply(sw, parse(config_with("[]"), sw->cfg)) == 0, "apply");
    CHECK(sw->nics[N1].st.rx_packets == rx_before, "port counters carried over");
    in_nat(sw, V1, tcp(GW, MAC1, INET, IP1, 50000, 80, NET_TCP_ACK | NET_TCP_PSH));
    CHECK(one(SW_TO_PORT, N1) != NULL, "established flow survives the rule change");
    in_port(sw, N1, tcp(GW, MAC1, IP1, INET, 80, 50000, NET_TCP_ACK | NET_TCP_PSH));
    CHECK(one(SW_TO_NAT, V1) != NULL, "...in both directions");
    in_nat(sw, V1, tcp(GW, MAC1, INET, IP1, 50001, 80, NET_TCP_SYN));
    CHECK(out.n == 0, "a new flow follows the new rules");
    /* and back: new flows allowed again */
    CHECK(sw_apply(sw, parse(config_with(WEB_RULES), sw->cfg)) == 0, "apply back");
    in_nat(sw, V1, tcp(GW, MAC1, INET, IP1, 50001, 80, NET_TCP_SYN));
    CHECK(one(SW_TO_PORT, N1) != NULL, "new flow allowed by the restored rule");
    sw_destroy(sw);
}

static void test_bound(void)
{
    struct sw *sw = new_switch(WEB_RULES);
    for (uint16_t p = 0; p < 1000; p++) {
        in_port_at(sw, N1, udp(GW, MAC1, IP1, INET, (uint16_t)(10000 + p), 53), 1000 + p);
        CHECK(out.n == 1, "flow %u forwarded", p);
    }
    /* v1 has 4 NICs: n1 may hold a quarter of the table */
    struct ct_stats st;
    ct_get_stats(sw->vnets[V1].ct, &st);
    CHECK(st.entries == 16 && st.evicted == 1000 - 16, "n1 bounded at its 16 flows (%llu)",
          (unsigned long long)st.entries);
    /* n2's flows survive any flood of n1's */
    for (uint16_t p = 0; p < 10; p++) in_port_at(sw, N2, udp(GW, MAC2, IP2, INET, p + 1, 53), 1900);
    for (uint16_t p = 0; p < 1000; p++)
        in_port_at(sw, N1, udp(GW, MAC1, IP1, INET, (uint16_t)(20000 + p), 53), 1900 + p);
    bool reply;
    int kept = 0;
    for (uint16_t p = 0; p < 10; p++) {
        struct ct_key k = {IP2, INET, (uint16_t)(p + 1), 53, NET_IPPROTO_UDP};
        kept += ct_find(sw->vnets[V1].ct, &k, 2000, &reply) != NULL;
    }
    CHECK(kept == 10, "n2 keeps its 10 flows (%d)", kept);
    ct_get_stats(sw->vnets[V1].ct, &st);
    CHECK(st.entries == 26, "16 + 10 flows (%llu)", (unsigned long long)st.entries);
    ct_get_stats(sw->vnets[V2].ct, &st);
    CHECK(st.entries == 0, "the other VNet's table is untouched");
    /* expiry by sweeping */
    for (int i = 0; i < 100; i++) sw_tick(sw, 1000 + 2000 + 31000);
    ct_get_stats(sw->vnets[V1].ct, &st);
    CHECK(st.entries == 0, "idle UDP flows expired after 30 s (%llu left)",
          (unsigned long long)st.entries);
    sw_destroy(sw);
}

/* Leaving through the NAT: only where egress.h allows. */
static void test_egress(void)
{
    struct sw *sw = new_switch(WEB_RULES);
    struct {
        uint32_t ip;
        const char *what;
        enum sw_drop why;
    } denied[] = {
        {IP(127, 0, 0, 1), "loopback", SW_DROP_EGRESS},
        {IP(0, 1, 2, 3), "0/8", SW_DROP_EGRESS},
        {IP(169, 254, 1, 1), "link-local", SW_DROP_EGRESS},
        /* the metadata address is the switch's own service, never the host's */
        {IP(169, 254, 169, 254), "host metadata", SW_DROP_NO_ROUTE},
        {IP(192, 168, 1, 10), "a LAN host", SW_DROP_EGRESS},
        {IP(172, 20, 0, 1), "172.16/12", SW_DROP_EGRESS},
        {IP(10, 1, 0, 1), "10/8 outside the VNet", SW_DROP_EGRESS},
        {IP(100, 64, 0, 1), "CGNAT", SW_DROP_EGRESS},
        {IP(224, 0, 0, 251), "multicast", SW_DROP_BROADCAST},
    };
    for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++) {
        uint64_t e = drops(sw, N1, denied[i].why);
        in_port(sw, N1, tcp(GW, MAC1, IP1, denied[i].ip, 40000, 22, NET_TCP_SYN));
        CHECK(out.n == 0, "%s not reached", denied[i].what);
        CHECK(drops(sw, N1, denied[i].why) == e + 1, "%s: dropped as %s", denied[i].what,
              sw_drop_name(denied[i].why));
    }
    /* the host's own (public) address */
    sw->egress.host[sw->egress.nhost++] = IP(203, 0, 113, 9);
    in_port(sw, N1, tcp(GW, MAC1, IP1, IP(203, 0, 113, 9), 40000, 22, NET_TCP_SYN));
    CHECK(out.n == 0, "the host's own address not reached");
    in_port(sw, N1, tcp(GW, MAC1, IP1, INET, 40000, 22, NET_TCP_SYN));
    CHECK(one(SW_TO_NAT, V1) != NULL, "the internet is");
    /* a LAN client that connected in (a public IP's port; libslirp passes
     * its address): the guest's answers reach it, a connection of the
     * guest's own does not */
    in_nat(sw, V1, tcp(GW, MAC1, IP(192, 168, 1, 20), IP1, 51000, 80, NET_TCP_SYN));
    CHECK(one(SW_TO_PORT, N1) != NULL, "a LAN client connects in");
    in_port(sw, N1, tcp(GW, MAC1, IP1, IP(192, 168, 1, 20), 80, 51000, NET_TCP_SYN | NET_TCP_ACK));
    CHECK(one(SW_TO_NAT, V1) != NULL, "the guest's answer reaches the LAN client");
    in_port(sw, N1, tcp(GW, MAC1, IP1, IP(192, 168, 1, 20), 40002, 22, NET_TCP_SYN));
    CHECK(out.n == 0, "a connection of the guest's own to the LAN client does not");
    /* an operator-allowed LAN prefix */
    char err[256];
    CHECK(egress_add(&sw->egress, "allow:192.168.1.0/24", err, sizeof(err)) == 0, "%s", err);
    in_port(sw, N1, tcp(GW, MAC1, IP1, IP(192, 168, 1, 10), 40001, 22, NET_TCP_SYN));
    CHECK(one(SW_TO_NAT, V1) != NULL, "allowed LAN host reached");
    in_port(sw, N1, tcp(GW, MAC1, IP1, IP(192, 168, 2, 10), 40001, 22, NET_TCP_SYN));
    CHECK(out.n == 0, "the rest of the LAN still not");
    sw_destroy(sw);
}

int main(void)
{
    test_dhcp();
    test_arp();
    test_forwarding();
    test_isolation();
    test_nsg_paths();
    test_stateful();
    test_rule_change();
    test_bound();
    test_egress();
    printf("%d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
