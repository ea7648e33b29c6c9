/*
 * vxlan.c - the data plane between hosts (vxlan.h): the VXLAN header, the
 * table of endpoints learned over VXLAN, a local NIC's traffic to another
 * host, and what arrives from other hosts (sw_vxlan_input).
 */
#include "network/vxlan.h"

#include "network/switch_priv.h"

#include <stdlib.h>
#include <string.h>

/* ----------------------------------------------------------------- wire -- */

enum vxlan_error vxlan_decap(const uint8_t *pkt, size_t len, uint32_t *vni, const uint8_t **inner,
                             size_t *inner_len)
{
    if (len < VXLAN_HLEN + NET_ETH_HLEN) return VXLAN_SHORT;
    if (!(pkt[0] & VXLAN_FLAG_I)) return VXLAN_NO_VNI;
    *vni = (uint32_t)pkt[4] << 16 | (uint32_t)pkt[5] << 8 | pkt[6];
    *inner = pkt + VXLAN_HLEN;
    *inner_len = len - VXLAN_HLEN;
    return VXLAN_OK;
}

void vxlan_header(uint8_t hdr[VXLAN_HLEN], uint32_t vni)
{
    memset(hdr, 0, VXLAN_HLEN);
    hdr[0] = VXLAN_FLAG_I;
    hdr[4] = (uint8_t)(vni >> 16);
    hdr[5] = (uint8_t)(vni >> 8);
    hdr[6] = (uint8_t)vni;
}

/* -------------------------------------------------------- learned table -- */

void vx_table_free(struct vx_table *t)
{
    free(t);
}

void vx_table_expire(struct vx_table *t, uint64_t now_ms)
{
    if (!t) return;
    for (size_t i = 0; i < t->n;) {
        if (now_ms - t->e[i].seen_ms > VX_LEARN_AGE_MS)
            t->e[i] = t->e[--t->n];
        else
            i++;
    }
}

const struct vx_entry *vx_table_find(const struct vx_table *t, uint32_t ip)
{
    for (size_t i = 0; t && i < t->n; i++)
        if (t->e[i].ip == ip) return &t->e[i];
    return NULL;
}

static bool mac_is_configured(const struct net_config *cfg, const uint8_t mac[6])
{
    for (size_t i = 0; i < cfg->nnics; i++)
        if (!memcmp(cfg->nics[i].mac, mac, 6)) return true;
    return false;
}

static bool is_subnet_gateway(const struct net_vnet *vn, uint32_t ip)
{
    for (size_t s = 0; s < vn->nsubnets; s++)
        if (vn->subnets[s].gateway == ip) return true;
    return false;
}

/* The sender (ip, mac) of a frame that came over VXLAN from host, for an
 * address no configured NIC has: learned (or refreshed) if the VNet learns
 * and the pair can be an endpoint of it. false: it cannot (spoofed). */
static bool learn(struct sw *sw, size_t v, uint32_t ip, const uint8_t mac[6], uint32_t host,
                  uint64_t now)
{
    const struct net_config *cfg = sw->cfg;
    const struct net_vnet *vn = &cfg->vnets[v];
    if (!vn->learn || !net_vnet_contains(vn, ip) || is_subnet_gateway(vn, ip) ||
        net_mac_is_multicast(mac) || net_mac_is_zero(mac) || !memcmp(mac, sw_gateway_mac, 6) ||
        mac_is_configured(cfg, mac))
        return false;
    struct sw_vnet_rt *rt = &sw->vnets[v];
    if (!rt->learned) {
        rt->learned = calloc(1, sizeof(*rt->learned));
        if (!rt->learned) return false;
    }
    struct vx_table *t = rt->learned;
    struct vx_entry *e = (struct vx_entry *)vx_table_find(t, ip);
    if (!e) {
        if (t->n < VX_LEARN_MAX) {
            e = &t->e[t->n++];
        } else { /* replace the oldest */
            e = &t->e[0];
            for (size_t i = 1; i < t->n; i++)
                if (t->e[i].seen_ms < e->seen_ms) e = &t->e[i];
        }
        e->ip = ip;
        rt->vx.learned++;
    }
    memcpy(e->mac, mac, 6);
    e->host = host;
    e->seen_ms = now;
    return true;
}

/* ------------------------------------------------ from a local NIC -- */

bool vx_port_arp(struct sw *sw, size_t nic, const struct net_frame *f, const uint8_t **mac,
                 struct sw_out *out)
{
    const struct net_nic *n = &sw->cfg->nics[nic];
    const struct net_vnet *vn = &sw->cfg->vnets[n->vnet];
    struct sw_vnet_rt *rt = &sw->vnets[n->vnet];
    if (!vn->vni) return false;
    const struct vx_entry *e = vx_table_find(rt->learned, f->arp.tpa);
    if (e) {
        *mac = e->mac;
        return false;
    }
    if (!vn->nflood) return false;
    uint8_t *b = sw_emit(out, SW_TO_FLOOD, n->vnet, f->len);
    if (!b) return true;
    memcpy(b, f->data, f->len);
    rt->vx.floods++;
    rt->vx.tx_packets += vn->nflood;
    rt->vx.tx_bytes += (uint64_t)f->len * vn->nflood;
    return true;
}

bool vx_learned_mac_is(struct sw *sw, size_t v, uint32_t ip, const uint8_t mac[6])
{
    if (!sw->cfg->vnets[v].vni) return false;
    const struct vx_entry *e = vx_table_find(sw->vnets[v].learned, ip);
    return e && !memcmp(e->mac, mac, 6);
}

void vx_port_ip(struct sw *sw, size_t nic, const struct net_frame *f, int j, bool routed,
                uint64_t now, struct sw_out *out)
{
    const struct net_config *cfg = sw->cfg;
    const struct net_nic *n = &cfg->nics[nic];
    struct sw_vnet_rt *rt = &sw->vnets[n->vnet];
    struct sw_port_stats *st = &sw->nics[nic].st;
    const uint8_t *mac;
    uint32_t host;
    if (j >= 0) {
        mac = cfg->nics[j].mac;
        host = cfg->nics[j].host;
    } else {
        const struct vx_entry *e = vx_table_find(rt->learned, f->dst_ip);
        if (!e) {
            st->drops[SW_DROP_NO_ROUTE]++;
            return;
        }
        mac = e->mac;
        host = e->host;
    }
    if (!sw_policy(sw, n->vnet, f, (int)nic, -1, now)) {
        st->drops[SW_DROP_POLICY]++;
        return;
    }
    if (sw_forward(out, SW_TO_VXLAN, n->vnet, host, f, mac, routed)) {
        rt->vx.tx_packets++;
        rt->vx.tx_bytes += NET_ETH_HLEN + f->ip_len;
    }
}

/* ------------------------------------------------ from another host -- */

/* Is the sender of an IPv4 packet or ARP message that came from host
 * allowed to be (ip, mac)? A configured NIC only from its own host, with
 * its MAC (or the gateway's, when its switch routed the packet); any other
 * address only as a learned endpoint. */
static bool sender_ok(struct sw *sw, size_t v, uint32_t ip, const uint8_t mac[6], uint32_t host,
                      bool ip_packet, uint64_t now)
{
    const struct net_config *cfg = sw->cfg;
    int j = net_config_nic_by_ip(cfg, v, ip);
    if (j >= 0) {
        const struct net_nic *n = &cfg->nics[j];
        return net_nic_remote(n) && n->host == host &&
               (!memcmp(n->mac, mac, 6) || (ip_packet && !memcmp(mac, sw_gateway_mac, 6)));
    }
    return learn(sw, v, ip, mac, host, now);
}

static void vx_arp(struct sw *sw, size_t v, uint32_t host, const struct net_frame *f, uint64_t now,
                   struct sw_out *out)
{
    const struct net_config *cfg = sw->cfg;
    struct sw_vxlan_stats *st = &sw->vnets[v].vx;
    if (memcmp(f->arp.sha, f->src_mac, 6)) {
        st->drops[SW_DROP_SPOOFED]++;
        return;
    }
    if (f->arp.spa == 0) return; /* a probe: nothing to learn, answered by nobody but the owner */
    if (!sender_ok(sw, v, f->arp.spa, f->arp.sha, host, false, now)) {
        st->drops[SW_DROP_SPOOFED]++;
        return;
    }
    int k = net_config_nic_by_ip(cfg, v, f->arp.tpa);
    if (k < 0 || net_nic_remote(&cfg->nics[k])) return; /* not ours to answer or receive */
    const struct net_nic *n = &cfg->nics[k];
    if (f->arp.op == NET_ARP_REQUEST) {
        uint8_t *b = sw_emit(out, SW_TO_VXLAN, v, 60);
        if (!b) return;
        out->f[out->n - 1].host = host;
        net_build_arp(b, NET_ARP_REPLY, f->arp.sha, n->mac, n->ip, f->arp.sha, f->arp.spa);
        st->tx_packets++;
        st->tx_bytes += 60;
        return;
    }
    /* a reply to one of our NIC's requests (flooded): deliver it */
    if (f->arp.op != NET_ARP_REPLY || memcmp(f->dst_mac, n->mac, 6) ||
        memcmp(f->arp.tha, n->mac, 6))
        return;
    uint8_t *b = sw_emit(out, SW_TO_PORT, (size_t)k, f->len);
    if (b) memcpy(b, f->data, f->len);
}

static void vx_ip(struct sw *sw, size_t v, uint32_t host, const struct net_frame *f, uint64_t now,
                  struct sw_out *out)
{
    const struct net_config *cfg = sw->cfg;
    struct sw_vxlan_stats *st = &sw->vnets[v].vx;
    if (f->fragment) {
        st->drops[SW_DROP_UNSUPPORTED]++;
        return;
    }
    if (net_mac_is_multicast(f->dst_mac) || f->dst_ip == 0xffffffffu || (f->dst_ip >> 29) == 7) {
        st->drops[SW_DROP_BROADCAST]++;
        return;
    }
    if (!sender_ok(sw, v, f->src_ip, f->src_mac, host, true, now)) {
        st->drops[SW_DROP_SPOOFED]++;
        return;
    }
    int k = net_config_nic_by_ip(cfg, v, f->dst_ip);
    if (k < 0 || net_nic_remote(&cfg->nics[k])) { /* never relayed to a third host */
        st->drops[SW_DROP_NO_ROUTE]++;
        return;
    }
    const struct net_nic *n = &cfg->nics[k];
    bool routed = !memcmp(f->dst_mac, sw_gateway_mac, 6);
    if (!routed && memcmp(f->dst_mac, n->mac, 6)) {
        st->drops[SW_DROP_NO_ROUTE]++;
        return;
    }
    if (routed && f->ttl <= 1) {
        st->drops[SW_DROP_TTL]++;
        return;
    }
    if (!sw_policy(sw, v, f, -1, k, now)) {
        st->drops[SW_DROP_POLICY]++;
        return;
    }
    sw_forward(out, SW_TO_PORT, (size_t)k, 0, f, n->mac, routed);
}

void sw_vxlan_input(struct sw *sw, uint32_t vni, uint32_t src, const uint8_t *frame, size_t len,
                    uint64_t now_ms, struct sw_out *out)
{
    out->n = out->used = 0;
    int v = net_config_vnet_by_vni(sw->cfg, vni);
    if (v < 0) {
        sw->vxlan_no_vnet++;
        return;
    }
    struct sw_vxlan_stats *st = &sw->vnets[v].vx;
    st->rx_packets++;
    st->rx_bytes += len;
    struct net_frame f;
    if (len > NET_FRAME_MAX || net_parse_frame(frame, len, &f) != NET_PARSE_OK) {
        st->drops[SW_DROP_MALFORMED]++;
        return;
    }
    if (net_mac_is_multicast(f.src_mac) || net_mac_is_zero(f.src_mac)) {
        st->drops[SW_DROP_SPOOFED]++;
        return;
    }
    switch (f.ethertype) {
    case NET_ETH_ARP: vx_arp(sw, (size_t)v, src, &f, now_ms, out); break;
    case NET_ETH_IPV4: vx_ip(sw, (size_t)v, src, &f, now_ms, out); break;
    default: st->drops[SW_DROP_UNSUPPORTED]++; break;
    }
}
