/*
 * test_net_vxlan.c - VNets across hosts (src/network/vxlan.c) with
 * synthetic frames: the VXLAN header both ways, the configuration's rules
 * for the underlay, VNIs, flood lists and NICs on other hosts; ARP for a
 * remote NIC answered locally; a local NIC's packets to a remote NIC sent
 * to its host (switched and routed); replies admitted by this host's
 * conntrack; inbound NSGs enforced here for packets from other hosts;
 * anti-spoofing of what arrives (a NIC only from its own host, never a
 * local NIC's address); flooding of unknown ARP and learning of endpoints
 * that are not configured (a Linux vxlan device); unknown VNIs; the NAT
 * never answering for a remote NIC.
 */
#include "network/packet.h"
#include "network/switch.h"
#include "network/vxlan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))

static const uint8_t GW[6] = {0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc};
static const uint8_t BCAST[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
static const uint8_t MACA[6] = {0x52, 0x54, 0, 0, 0, 1};  /* local, web 10.0.1.4, NSG no-ssh */
static const uint8_t MACB[6] = {0x52, 0x54, 0, 0, 0, 2};  /* local, web 10.0.1.5 */
static const uint8_t MACR[6] = {0x52, 0x54, 0, 0, 0, 3};  /* on H2, web 10.0.1.20 */
static const uint8_t MACS[6] = {0x52, 0x54, 0, 0, 0, 4};  /* on H2, db 10.0.2.20 */
static const uint8_t MACX[6] = {0x02, 0x11, 0, 0, 0, 9};  /* a Linux vxlan endpoint on H3 */
static const uint8_t MACY[6] = {0x02, 0x11, 0, 0, 0, 10}; /* another one */
enum { NA, NB, NR, NS };
static const uint32_t IPA = IP(10, 0, 1, 4), IPB = IP(10, 0, 1, 5), IPR = IP(10, 0, 1, 20),
                      IPS = IP(10, 0, 2, 20), IPX = IP(10, 0, 1, 50), IPY = IP(10, 0, 1, 60),
                      H1 = IP(192, 168, 50, 1), H2 = IP(192, 168, 50, 2), H3 = IP(192, 168, 50, 3);
#define VNI 4242

static const char *CONFIG =
    "{\"underlay\":{\"address\":\"192.168.50.1\"},"
    "\"vnets\":["
    " {\"name\":\"v1\",\"address_space\":[\"10.0.0.0/16\"],"
    "  \"vxlan\":{\"vni\":4242,\"flood\":[\"192.168.50.2\",\"192.168.50.3\"]},\"subnets\":["
    "  {\"name\":\"web\",\"prefix\":\"10.0.1.0/24\"},"
    "  {\"name\":\"db\",\"prefix\":\"10.0.2.0/24\"}]},"
    " {\"name\":\"v2\",\"address_space\":[\"10.0.0.0/16\"],\"vxlan\":{\"vni\":7},\"subnets\":["
    "  {\"name\":\"web\",\"prefix\":\"10.0.1.0/24\"}]}],"
    "\"nsgs\":["
    " {\"name\":\"no-ssh\",\"rules\":["
    "  {\"name\":\"deny-ssh\",\"priority\":100,\"direction\":\"Inbound\",\"access\":\"Deny\","
    "   \"protocol\":\"Tcp\",\"destination_port_range\":\"22\"}]}],"
    "\"nics\":["
    " {\"id\":\"a\",\"vnet\":\"v1\",\"subnet\":\"web\",\"mac\":\"52:54:00:00:00:01\","
    "  \"nsg\":\"no-ssh\"},"
    " {\"id\":\"b\",\"vnet\":\"v1\",\"subnet\":\"web\",\"mac\":\"52:54:00:00:00:02\"},"
    " {\"id\":\"r\",\"vnet\":\"v1\",\"subnet\":\"web\",\"mac\":\"52:54:00:00:00:03\","
    "  \"private_ip\":\"10.0.1.20\",\"host\":\"192.168.50.2\",\"hostname\":\"remote\"},"
    " {\"id\":\"s\",\"vnet\":\"v1\",\"subnet\":\"db\",\"mac\":\"52:54:00:00:00:04\","
    "  \"private_ip\":\"10.0.2.20\",\"host\":\"192.168.50.2\"}]}";

static uint8_t frame[NET_FRAME_MAX];
static struct sw_out out;

static struct sw *new_switch(void)
{
    struct sw *sw = sw_create();
    struct net_config *cfg;
    char err[512];
    if (net_config_parse(CONFIG, strlen(CONFIG), NULL, &cfg, err, sizeof(err)) < 0) {
        printf("config: %s\n", err);
        exit(1);
    }
    if (sw_apply(sw, cfg) < 0) exit(1);
    return sw;
}

static size_t tcp(const uint8_t dst_mac[6], const uint8_t src_mac[6], uint32_t src, uint32_t dst,
                  uint16_t sport, uint16_t dport, uint8_t flags, uint8_t ttl)
{
    size_t n = net_build_eth(frame, dst_mac, src_mac, NET_ETH_IPV4);
    uint8_t *ip = frame + n;
    memset(ip, 0, 40);
    ip[0] = 0x45;
    net_wr16(ip + 2, 40);
    ip[8] = ttl;
    ip[9] = NET_IPPROTO_TCP;
    net_wr32(ip + 12, src);
    net_wr32(ip + 16, dst);
    net_wr16(ip + 10, net_csum(ip, 20, 0));
    uint8_t *t = ip + 20;
    net_wr16(t, sport);
    net_wr16(t + 2, dport);
    t[12] = 5 << 4;
    t[13] = flags;
    net_wr16(t + 14, 65535);
    return n + 40;
}

static size_t arp(uint16_t op, const uint8_t eth_dst[6], const uint8_t sha[6], uint32_t spa,
                  const uint8_t tha[6], uint32_t tpa)
{
    return net_build_arp(frame, op, eth_dst, sha, spa, tha, tpa);
}

static const struct net_frame *one(enum sw_dest dest, size_t index)
{
    static struct net_frame f;
    if (out.n != 1 || out.f[0].dest != dest || out.f[0].index != index) return NULL;
    if (net_parse_frame(out.f[0].data, out.f[0].len, &f) != NET_PARSE_OK) return NULL;
    return &f;
}

static void test_header(void)
{
    uint8_t pkt[64] = {0};
    vxlan_header(pkt, 0x123456);
    CHECK(pkt[0] == 0x08 && pkt[1] == 0 && pkt[2] == 0 && pkt[3] == 0 && pkt[4] == 0x12 &&
              pkt[5] == 0x34 && pkt[6] == 0x56 && pkt[7] == 0,
          "header: I flag, 24-bit VNI, reserved bits zero");
    uint32_t vni = 0;
    const uint8_t *inner = NULL;
    size_t ilen = 0;
    CHECK(vxlan_decap(pkt, sizeof(pkt), &vni, &inner, &ilen) == VXLAN_OK && vni == 0x123456 &&
              inner == pkt + 8 && ilen == sizeof(pkt) - 8,
          "decapsulated: VNI and inner frame");
    pkt[3] = 0xff; /* reserved bits are ignored on receipt (RFC 7348 5) */
    pkt[7] = 0xff;
    pkt[0] |= 0x80;
    CHECK(vxlan_decap(pkt, sizeof(pkt), &vni, &inner, &ilen) == VXLAN_OK && vni == 0x123456,
          "reserved bits ignored");
    pkt[0] = 0;
    CHECK(vxlan_decap(pkt, sizeof(pkt), &vni, &inner, &ilen) == VXLAN_NO_VNI, "I flag required");
    CHECK(vxlan_decap(pkt, 8 + 13, &vni, &inner, &ilen) == VXLAN_SHORT, "runt refused");
    CHECK(vxlan_decap(pkt, 0, &vni, &inner, &ilen) == VXLAN_SHORT, "empty refused");
}

static void expect_error(const char *doc, const char *want)
{
    struct net_config *cfg = NULL;
    char err[512] = "";
    int r = net_config_parse(doc, strlen(doc), NULL, &cfg, err, sizeof(err));
    CHECK(r < 0 && strstr(err, want), "config refused with '%s' (got '%s')", want, err);
    net_config_free(cfg);
}

static void test_config(void)
{
    expect_error("{\"vnets\":[{\"name\":\"v\",\"address_space\":[\"10.0.0.0/16\"],"
                 "\"vxlan\":{\"vni\":5}}]}",
                 "vnets[0].vxlan: needs the host's underlay address");
    expect_error("{\"underlay\":{\"address\":\"1.2.3.4\"},\"vnets\":[{\"name\":\"v\","
                 "\"address_space\":[\"10.0.0.0/16\"],\"vxlan\":{\"vni\":16777216}}]}",
                 "vnets[0].vxlan.vni: 16777216 is outside 1-16777215");
    expect_error("{\"underlay\":{\"address\":\"1.2.3.4\"},\"vnets\":["
                 "{\"name\":\"v\",\"address_space\":[\"10.0.0.0/16\"],\"vxlan\":{\"vni\":5}},"
                 "{\"name\":\"w\",\"address_space\":[\"10.0.0.0/16\"],\"vxlan\":{\"vni\":5}}]}",
                 "vnets[1].vxlan: vni 5 is already used by vnets[0] 'v'");
    expect_error("{\"underlay\":{\"address\":\"1.2.3.4\"},\"vnets\":[{\"name\":\"v\","
                 "\"address_space\":[\"10.0.0.0/16\"],\"vxlan\":{\"vni\":5,\"flood\":"
                 "[\"1.2.3.4\"]}}]}",
                 "vnets[0].vxlan.flood[0]: 1.2.3.4 is this host's own underlay address");
    expect_error("{\"underlay\":{\"address\":\"224.0.0.1\"}}", "underlay.address: '224.0.0.1'");
    const char *base = "{\"underlay\":{\"address\":\"1.2.3.4\"},\"vnets\":[{\"name\":\"v\","
                       "\"address_space\":[\"10.0.0.0/16\"],%s\"subnets\":[{\"name\":\"s\","
                       "\"prefix\":\"10.0.0.0/24\"}]}],\"nsgs\":[{\"name\":\"g\"}],"
                       "\"nics\":[{\"id\":\"n\",\"vnet\":\"v\",\"subnet\":\"s\","
                       "\"mac\":\"52:54:00:00:00:01\",%s}]}";
    char doc[1024];
    snprintf(doc, sizeof(doc), base, "", "\"private_ip\":\"10.0.0.9\",\"host\":\"5.6.7.8\"");
    expect_error(doc, "nics[0].host: the NIC's VNet 'v' has no \"vxlan\"");
    snprintf(doc, sizeof(doc), base, "\"vxlan\":{\"vni\":3},", "\"host\":\"5.6.7.8\"");
    expect_error(doc, "nics[0]: a NIC on another host needs its private_ip");
    snprintf(doc, sizeof(doc), base, "\"vxlan\":{\"vni\":3},",
             "\"private_ip\":\"10.0.0.9\",\"host\":\"5.6.7.8\",\"nsg\":\"g\"");
    expect_error(doc, "nics[0]: a NIC on another host has no nsg");
    snprintf(doc, sizeof(doc), base, "\"vxlan\":{\"vni\":3},",
             "\"private_ip\":\"10.0.0.9\",\"host\":\"1.2.3.4\"");
    expect_error(doc, "nics[0].host: 1.2.3.4 is this host's own underlay address");
    snprintf(doc, sizeof(doc), base, "\"vxlan\":{\"vni\":3,\"learn\":1},",
             "\"private_ip\":\"10.0.0.9\"");
    expect_error(doc, "vnets[0].vxlan.learn: expected a boolean");

    struct net_config *cfg;
    char err[512];
    CHECK(net_config_parse(CONFIG, strlen(CONFIG), NULL, &cfg, err, sizeof(err)) == 0,
          "the test configuration loads: %s", err);
    CHECK(cfg->underlay_addr == H1 && cfg->underlay_port == 4789, "underlay, port 4789 default");
    CHECK(cfg->vnets[0].vni == VNI && cfg->vnets[0].nflood == 2 && cfg->vnets[0].learn,
          "VNI, flood list, learning by default");
    CHECK(net_config_vnet_by_vni(cfg, 7) == 1 && net_config_vnet_by_vni(cfg, 8) == -1,
          "VNet by VNI");
    CHECK(cfg->nics[NR].host == H2 && !cfg->nics[NA].host, "remote and local NICs");
    CHECK(cfg->nics[NA].ip == IPA && cfg->nics[NB].ip == IPB,
          "local NICs allocated around the remote ones");
    net_config_free(cfg);
}

static void test_to_remote(void)
{
    struct sw *sw = new_switch();
    static const uint8_t zero[6] = {0};
    const struct net_frame *f;

    /* ARP for the remote NIC is answered here, with its MAC */
    sw_port_input(sw, NA, frame, arp(NET_ARP_REQUEST, BCAST, MACA, IPA, zero, IPR), 1000, &out);
    f = one(SW_TO_PORT, NA);
    CHECK(f && f->arp.op == NET_ARP_REPLY && !memcmp(f->arp.sha, MACR, 6) && f->arp.spa == IPR,
          "ARP for a NIC on another host answered locally");

    /* switched: to H2, the frame unchanged */
    size_t len = tcp(MACR, MACA, IPA, IPR, 40000, 80, NET_TCP_SYN, 64);
    sw_port_input(sw, NA, frame, len, 1000, &out);
    CHECK(out.n == 1 && out.f[0].dest == SW_TO_VXLAN && out.f[0].index == 0 &&
              out.f[0].host == H2 && out.f[0].len == len && !memcmp(out.f[0].data, frame, len),
          "a SYN to a remote NIC goes to its host, as sent");
    CHECK(sw->vnets[0].vx.tx_packets == 1, "counted as VXLAN tx");

    /* the reply from H2 is admitted by this host's conntrack */
    len = tcp(MACA, MACR, IPR, IPA, 80, 40000, NET_TCP_SYN | NET_TCP_ACK, 64);
    sw_vxlan_input(sw, VNI, H2, frame, len, 1001, &out);
    f = one(SW_TO_PORT, NA);
    CHECK(f && f->src_ip == IPR && !memcmp(f->src_mac, MACR, 6) && f->ttl == 64,
          "the SYN-ACK from H2 reaches a");

    /* routed: to the remote NIC of the other subnet, via the gateway */
    len = tcp(GW, MACA, IPA, IPS, 40001, 5432, NET_TCP_SYN, 64);
    sw_port_input(sw, NA, frame, len, 1002, &out);
    f = one(SW_TO_VXLAN, 0);
    CHECK(f && out.f[0].host == H2 && !memcmp(f->dst_mac, MACS, 6) && !memcmp(f->src_mac, GW, 6) &&
              f->ttl == 63,
          "routed to the other subnet's remote NIC: its MAC, the gateway's, TTL 63");
    /* and its routed reply from H2 (source MAC the gateway's) */
    len = tcp(GW, GW, IPS, IPA, 5432, 40001, NET_TCP_SYN | NET_TCP_ACK, 63);
    sw_vxlan_input(sw, VNI, H2, frame, len, 1003, &out);
    f = one(SW_TO_PORT, NA);
    CHECK(f && !memcmp(f->dst_mac, MACA, 6) && !memcmp(f->src_mac, GW, 6) && f->ttl == 62,
          "routed reply from H2 delivered with the gateway's MAC");

    /* a switched frame to the remote NIC of another subnet is not switched */
    sw_port_input(sw, NA, frame, tcp(MACS, MACA, IPA, IPS, 40002, 5432, NET_TCP_SYN, 64), 1004,
                  &out);
    CHECK(out.n == 0 && sw->nics[NA].st.drops[SW_DROP_NO_ROUTE] == 1,
          "no L2 switching to another subnet");
    /* the NAT never reaches a remote NIC */
    sw_nat_input(sw, 0, frame, tcp(GW, GW, IP(93, 184, 216, 34), IPR, 80, 40000, NET_TCP_ACK, 64),
                 1005, &out);
    CHECK(out.n == 0 && sw->vnets[0].nat.drops[SW_DROP_NO_ROUTE] == 1,
          "the NAT answers its own host's NICs only");
    sw_destroy(sw);
}

static void test_from_remote(void)
{
    struct sw *sw = new_switch();
    struct sw_vxlan_stats *st = &sw->vnets[0].vx;
    const struct net_frame *f;
    size_t len;

    /* a new flow from H2 to a's port 22: a's NSG is enforced here */
    len = tcp(MACA, MACR, IPR, IPA, 50000, 22, NET_TCP_SYN, 64);
    sw_vxlan_input(sw, VNI, H2, frame, len, 1000, &out);
    CHECK(out.n == 0 && st->drops[SW_DROP_POLICY] == 1, "a's inbound NSG denies SSH from H2");
    len = tcp(MACA, MACR, IPR, IPA, 50000, 80, NET_TCP_SYN, 64);
    sw_vxlan_input(sw, VNI, H2, frame, len, 1000, &out);
    f = one(SW_TO_PORT, NA);
    CHECK(f && f->dport == 80, "port 80 allowed (no rule denies it)");
    /* b has no NSG: allowed */
    sw_vxlan_input(sw, VNI, H2, frame, tcp(MACB, MACR, IPR, IPB, 50001, 22, NET_TCP_SYN, 64), 1000,
                   &out);
    CHECK(one(SW_TO_PORT, NB) != NULL, "b has no NSG");

    /* anti-spoofing */
    sw_vxlan_input(sw, VNI, H3, frame, tcp(MACB, MACR, IPR, IPB, 50002, 22, NET_TCP_SYN, 64), 1000,
                   &out);
    CHECK(out.n == 0 && st->drops[SW_DROP_SPOOFED] == 1, "r's address from the wrong host");
    sw_vxlan_input(sw, VNI, H2, frame, tcp(MACB, MACS, IPR, IPB, 50003, 22, NET_TCP_SYN, 64), 1000,
                   &out);
    CHECK(out.n == 0 && st->drops[SW_DROP_SPOOFED] == 2, "r's address with s's MAC");
    sw_vxlan_input(sw, VNI, H2, frame, tcp(MACB, MACA, IPA, IPB, 50004, 22, NET_TCP_SYN, 64), 1000,
                   &out);
    CHECK(out.n == 0 && st->drops[SW_DROP_SPOOFED] == 3, "a local NIC's address from outside");
    sw_vxlan_input(sw, VNI, H3, frame, tcp(MACB, MACA, IPX, IPB, 50005, 22, NET_TCP_SYN, 64), 1000,
                   &out);
    CHECK(out.n == 0 && st->drops[SW_DROP_SPOOFED] == 4, "a local NIC's MAC is never learned");
    sw_vxlan_input(sw, VNI, H3, frame,
                   tcp(MACB, MACX, IP(172, 16, 0, 1), IPB, 50006, 22, NET_TCP_SYN, 64), 1000, &out);
    CHECK(out.n == 0 && st->drops[SW_DROP_SPOOFED] == 5, "sources outside the VNet refused");
    /* nothing is relayed to a third host */
    sw_vxlan_input(sw, VNI, H2, frame, tcp(MACS, MACR, IPR, IPS, 50007, 22, NET_TCP_SYN, 64), 1000,
                   &out);
    CHECK(out.n == 0 && st->drops[SW_DROP_NO_ROUTE] == 1, "no hairpin to another host");
    /* a frame for a's IP with b's MAC */
    sw_vxlan_input(sw, VNI, H2, frame, tcp(MACB, MACR, IPR, IPA, 50008, 80, NET_TCP_SYN, 64), 1000,
                   &out);
    CHECK(out.n == 0 && st->drops[SW_DROP_NO_ROUTE] == 2, "destination MAC must match");
    /* isolation: the same frame on VNet v2's VNI has no NIC to reach */
    sw_vxlan_input(sw, 7, H2, frame, tcp(MACA, MACR, IPR, IPA, 50009, 80, NET_TCP_SYN, 64), 1000,
                   &out);
    CHECK(out.n == 0, "another VNI is another VNet");
    sw_vxlan_input(sw, 99, H2, frame, tcp(MACA, MACR, IPR, IPA, 50010, 80, NET_TCP_SYN, 64), 1000,
                   &out);
    CHECK(out.n == 0 && sw->vxlan_no_vnet == 1, "unknown VNI counted");
    /* broadcast other than ARP is dropped */
    sw_vxlan_input(sw, VNI, H2, frame,
                   tcp(BCAST, MACR, IPR, IP(10, 0, 1, 255), 50011, 80, NET_TCP_SYN, 64), 1000,
                   &out);
    CHECK(out.n == 0 && st->drops[SW_DROP_BROADCAST] == 1, "broadcast dropped");
    /* ARP from H2 for a: answered over VXLAN with a's MAC */
    static const uint8_t zero[6] = {0};
    sw_vxlan_input(sw, VNI, H2, frame, arp(NET_ARP_REQUEST, BCAST, MACR, IPR, zero, IPA), 1000,
                   &out);
    f = one(SW_TO_VXLAN, 0);
    CHECK(f && out.f[0].host == H2 && f->arp.op == NET_ARP_REPLY && !memcmp(f->arp.sha, MACA, 6) &&
              f->arp.spa == IPA && !memcmp(f->dst_mac, MACR, 6),
          "ARP for a local NIC from another host answered to that host");
    /* ARP for a remote NIC from another host: not ours to answer */
    sw_vxlan_input(sw, VNI, H3, frame, arp(NET_ARP_REQUEST, BCAST, MACX, IPX, zero, IPR), 1000,
                   &out);
    CHECK(out.n == 0, "no answer for another host's NIC");
    sw_destroy(sw);
}

static void test_flood_and_learn(void)
{
    struct sw *sw = new_switch();
    struct sw_vxlan_stats *st = &sw->vnets[0].vx;
    static const uint8_t zero[6] = {0};
    const struct net_frame *f;

    /* a asks for an address nobody is known to have: flooded to the VNet's hosts */
    size_t len = arp(NET_ARP_REQUEST, BCAST, MACA, IPA, zero, IPX);
    sw_port_input(sw, NA, frame, len, 1000, &out);
    CHECK(out.n == 1 && out.f[0].dest == SW_TO_FLOOD && out.f[0].index == 0 &&
              out.f[0].len == len && !memcmp(out.f[0].data, frame, len),
          "unknown ARP flooded (head-end replication)");
    CHECK(st->floods == 1 && st->tx_packets == 2, "one flood, two copies");
    /* nothing is flooded for addresses outside the subnet or the gateway */
    sw_port_input(sw, NA, frame, arp(NET_ARP_REQUEST, BCAST, MACA, IPA, zero, IP(10, 0, 3, 9)),
                  1000, &out);
    CHECK(out.n == 0, "no flood outside the subnet");

    /* the Linux endpoint on H3 answers: learned, and the reply reaches a */
    len = arp(NET_ARP_REPLY, MACA, MACX, IPX, MACA, IPA);
    sw_vxlan_input(sw, VNI, H3, frame, len, 1001, &out);
    f = one(SW_TO_PORT, NA);
    CHECK(f && f->arp.op == NET_ARP_REPLY && !memcmp(f->arp.sha, MACX, 6),
          "the flooded request's reply delivered to a");
    CHECK(st->learned == 1 && sw->vnets[0].learned && sw->vnets[0].learned->n == 1,
          "the endpoint learned");
    /* from now on ARP for it is answered here */
    sw_port_input(sw, NA, frame, arp(NET_ARP_REQUEST, BCAST, MACA, IPA, zero, IPX), 1002, &out);
    f = one(SW_TO_PORT, NA);
    CHECK(f && !memcmp(f->arp.sha, MACX, 6) && f->arp.spa == IPX, "learned endpoint answered");
    /* and IP to it goes to H3 */
    sw_port_input(sw, NA, frame, tcp(MACX, MACA, IPA, IPX, 40000, 80, NET_TCP_SYN, 64), 1003, &out);
    CHECK(out.n == 1 && out.f[0].dest == SW_TO_VXLAN && out.f[0].host == H3,
          "switched to the learned endpoint's host");
    sw_port_input(sw, NA, frame, tcp(MACY, MACA, IPA, IPX, 40001, 80, NET_TCP_SYN, 64), 1003, &out);
    CHECK(out.n == 0, "not with another MAC");

    /* an endpoint that asks first (Linux learning from our reply) */
    sw_vxlan_input(sw, VNI, H3, frame, arp(NET_ARP_REQUEST, BCAST, MACY, IPY, zero, IPB), 1004,
                   &out);
    f = one(SW_TO_VXLAN, 0);
    CHECK(f && out.f[0].host == H3 && !memcmp(f->arp.sha, MACB, 6) && f->arp.tpa == IPY,
          "ARP from a new endpoint answered");
    len = tcp(MACB, MACY, IPY, IPB, 33000, 22, NET_TCP_SYN, 64);
    sw_vxlan_input(sw, VNI, H3, frame, len, 1005, &out);
    CHECK(one(SW_TO_PORT, NB) != NULL, "its packets reach b");
    CHECK(sw->vnets[0].learned->n == 2, "two endpoints");
    /* a configured NIC's address is never taken over by learning */
    sw_vxlan_input(sw, VNI, H3, frame, arp(NET_ARP_REQUEST, BCAST, MACY, IPR, zero, IPB), 1006,
                   &out);
    CHECK(out.n == 0 && !vx_table_find(sw->vnets[0].learned, IPR),
          "r's address cannot be learned from H3");

    /* entries survive a configuration change of their VNet, and age out */
    struct net_config *cfg;
    char err[512];
    CHECK(net_config_parse(CONFIG, strlen(CONFIG), sw->cfg, &cfg, err, sizeof(err)) == 0 &&
              sw_apply(sw, cfg) == 0,
          "reapplied");
    CHECK(sw->vnets[0].learned && sw->vnets[0].learned->n == 2, "kept across set_config");
    sw_tick(sw, 1005 + VX_LEARN_AGE_MS + 1);
    CHECK(sw->vnets[0].learned->n == 0, "aged out after 5 minutes");
    sw_destroy(sw);
}

int main(void)
{
    test_header();
    test_config();
    test_to_remote();
    test_from_remote();
    test_flood_and_learn();
    printf("%d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
