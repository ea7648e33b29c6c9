/*
 * switch.c - the data plane of switch.h: ARP proxy, DHCP, anti-spoofing,
 * switching and routing inside a VNet, the NSG + conntrack policy, and the
 * hand-off to and from the VNet's NAT.
 */
#include "network/switch.h"

#include "network/dhcp.h"
#include "network/switch_priv.h"
#include "network/vxlan.h"
#include "network/dns.h"
#include "network/imds.h"
#include "network/tcpserv.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

const uint8_t sw_gateway_mac[6] = {0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc};
/* libslirp's MAC: 52:55 followed by its IPv4 address (NET_NAT_HOST) */
const uint8_t sw_nat_mac[6] = {0x52, 0x55, 0xa8, 0x3f, 0x81, 0x01};
static const uint8_t broadcast_mac[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

const char *sw_drop_name(enum sw_drop d)
{
    static const char *const names[SW_DROP_COUNT] = {
        "malformed", "spoofed", "unsupported", "broadcast", "no_route",
        "ttl",       "policy",  "port_down",   "port_full", "egress",
    };
    return (unsigned)d < SW_DROP_COUNT ? names[d] : "?";
}

/* ------------------------------------------------------------ lifecycle -- */

struct sw *sw_create(void)
{
    struct sw *sw = calloc(1, sizeof(*sw));
    if (!sw) return NULL;
    sw->cfg = net_config_empty();
    if (!sw->cfg) {
        free(sw);
        return NULL;
    }
    egress_init(&sw->egress);
    return sw;
}

static void free_runtime(struct sw_vnet_rt *vnets, size_t n)
{
    for (size_t i = 0; vnets && i < n; i++) {
        ct_destroy(vnets[i].ct);
        vx_table_free(vnets[i].learned);
    }
    free(vnets);
}

static void free_imds(struct sw_nic_rt *nics, size_t n)
{
    for (size_t i = 0; nics && i < n; i++) {
        json_decref(nics[i].reports);
        nics[i].reports = NULL;
        if (!nics[i].imds) continue;
        tcps_clear(nics[i].imds);
        free(nics[i].imds);
        nics[i].imds = NULL;
    }
}

void sw_destroy(struct sw *sw)
{
    if (!sw) return;
    free_runtime(sw->vnets, sw->cfg->nvnets);
    free_imds(sw->nics, sw->cfg->nnics);
    free(sw->nics);
    net_config_free(sw->cfg);
    free(sw);
}

int sw_apply(struct sw *sw, struct net_config *cfg)
{
    struct net_config *old = sw->cfg;
    struct sw_nic_rt *nics = cfg->nnics ? calloc(cfg->nnics, sizeof(*nics)) : NULL;
    struct sw_vnet_rt *vnets = cfg->nvnets ? calloc(cfg->nvnets, sizeof(*vnets)) : NULL;
    if ((cfg->nnics && !nics) || (cfg->nvnets && !vnets)) goto fail;
    /* new conntrack tables first, so that failing leaves everything as it was */
    for (size_t i = 0; i < cfg->nvnets; i++) {
        if (net_config_find_vnet(old, cfg->vnets[i].name) >= 0) continue;
        vnets[i].ct = ct_create(&cfg->conntrack);
        if (!vnets[i].ct) goto fail;
    }
    for (size_t i = 0; i < cfg->nvnets; i++) {
        int o = net_config_find_vnet(old, cfg->vnets[i].name);
        if (o < 0) continue;
        vnets[i] = sw->vnets[o];
        sw->vnets[o].ct = NULL;
        sw->vnets[o].learned = NULL;
        ct_set_limits(vnets[i].ct, &cfg->conntrack); /* on failure it keeps its size */
    }
    for (size_t i = 0; i < cfg->nnics; i++) {
        const struct net_nic *n = &cfg->nics[i];
        int o = net_config_find_nic(old, n->id);
        nics[i].port = -1;
        nics[i].ct_owner = -1;
        if (o < 0) continue;
        const struct net_nic *on = &old->nics[o];
        nics[i].st = sw->nics[o].st;
        nics[i].reports = sw->nics[o].reports; /* a NIC's reports follow its id */
        nics[i].report_seq = sw->nics[o].report_seq;
        sw->nics[o].reports = NULL;
        if (!memcmp(on->mac, n->mac, 6) &&
            !strcmp(old->vnets[on->vnet].name, cfg->vnets[n->vnet].name)) {
            nics[i].port = sw->nics[o].port;
            nics[i].ct_owner = sw->nics[o].ct_owner;
            nics[i].imds = sw->nics[o].imds; /* open metadata connections go on */
            sw->nics[o].imds = NULL;
        }
    }
    /* conntrack quota slots: new NICs take the lowest one free in their VNet */
    for (size_t i = 0; i < cfg->nnics; i++) {
        if (nics[i].ct_owner >= 0) continue;
        for (int slot = 0; nics[i].ct_owner < 0; slot++) {
            bool used = false;
            for (size_t j = 0; j < cfg->nnics && !used; j++)
                used = j != i && cfg->nics[j].vnet == cfg->nics[i].vnet &&
                       nics[j].ct_owner == slot;
            if (!used) nics[i].ct_owner = slot;
        }
    }
    for (size_t v = 0; v < cfg->nvnets; v++) {
        uint32_t n = 0;
        for (size_t i = 0; i < cfg->nnics; i++) n += cfg->nics[i].vnet == v;
        uint32_t max = cfg->conntrack.max_entries;
        ct_set_quota(vnets[v].ct, n ? (max / n ? max / n : 1) : 0);
    }
    for (size_t i = 0; i < cfg->nnsgs; i++) {
        int o = net_config_find_nsg(old, cfg->nsgs[i].name);
        if (o >= 0) nsg_carry_counters(&cfg->nsgs[i], &old->nsgs[o]);
    }
    free_runtime(sw->vnets, old->nvnets);
    free_imds(sw->nics, old->nnics);
    free(sw->nics);
    net_config_free(old);
    sw->cfg = cfg;
    sw->nics = nics;
    sw->vnets = vnets;
    return 0;
fail:
    if (vnets) free_runtime(vnets, cfg->nvnets);
    free(nics);
    net_config_free(cfg);
    return -1;
}

void sw_tick(struct sw *sw, uint64_t now_ms)
{
    for (size_t i = 0; i < sw->cfg->nvnets; i++) {
        if (sw->vnets[i].ct) ct_expire(sw->vnets[i].ct, now_ms, 256);
        vx_table_expire(sw->vnets[i].learned, now_ms);
    }
}

/* --------------------------------------------------------------- output -- */

uint8_t *sw_emit(struct sw_out *out, enum sw_dest dest, size_t index, size_t len)
{
    if (out->n >= SW_OUT_MAX || len > NET_FRAME_MAX || len > SW_OUT_BYTES - out->used)
        return NULL;
    struct sw_out_frame *o = &out->f[out->n];
    o->dest = dest;
    o->index = index;
    o->host = 0;
    o->len = len;
    o->data = out->buf + out->used;
    out->used += (len + 7) & ~(size_t)7;
    if (out->used > SW_OUT_BYTES) out->used = SW_OUT_BYTES;
    out->n++;
    return o->data;
}

/* Forward the IP packet of f (without Ethernet padding) with new MACs;
 * host: the underlay address for SW_TO_VXLAN. */
uint8_t *sw_forward(struct sw_out *out, enum sw_dest dest, size_t index, uint32_t host,
                    const struct net_frame *f, const uint8_t dst_mac[6], bool routed)
{
    size_t len = NET_ETH_HLEN + f->ip_len;
    uint8_t *b = sw_emit(out, dest, index, len);
    if (!b) return NULL;
    out->f[out->n - 1].host = host;
    memcpy(b, f->data, len);
    memcpy(b, dst_mac, 6);
    memcpy(b + 6, routed ? sw_gateway_mac : f->src_mac, 6);
    if (routed) net_ip_dec_ttl(b + NET_ETH_HLEN);
    return b;
}

/* --------------------------------------------------------------- policy -- */

/* The conntrack key of f, if its flows are tracked (TCP, UDP, ICMP echo). */
static bool flow_key(const struct net_frame *f, struct ct_key *k)
{
    if (f->fragment) return false;
    k->src = f->src_ip;
    k->dst = f->dst_ip;
    k->proto = f->proto;
    if (f->has_ports) {
        k->sport = f->sport;
        k->dport = f->dport;
        return true;
    }
    if (f->proto == NET_IPPROTO_ICMP &&
        (f->icmp_type == NET_ICMP_ECHO || f->icmp_type == NET_ICMP_ECHO_REPLY)) {
        k->sport = k->dport = f->icmp_id;
        return true;
    }
    return false;
}

static bool nsg_pass(struct sw *sw, int nsg, enum nsg_direction dir, const struct nsg_packet *p,
                     const struct nsg_vnet_ctx *ctx)
{
    if (nsg < 0) return true; /* no NSG at this level: allowed */
    const struct nsg_rule *r = nsg_evaluate(&sw->cfg->nsgs[nsg], dir, p, ctx);
    return r && r->allow;
}

/* The NSGs of a new flow: the source NIC's outbound (NIC, then subnet) and
 * the destination NIC's inbound (subnet, then NIC); a side that is outside
 * the VNet (-1) has none. */
static bool nsgs_allow(struct sw *sw, size_t v, const struct net_frame *f, int src, int dst)
{
    const struct net_config *cfg = sw->cfg;
    const struct net_vnet *vn = &cfg->vnets[v];
    struct nsg_vnet_ctx ctx = {vn->spaces, vn->nspaces};
    struct nsg_packet p = {
        .src = f->src_ip, .dst = f->dst_ip, .proto = f->proto, .has_ports = f->has_ports,
        .sport = f->sport, .dport = f->dport, .bytes = (uint32_t)f->ip_len,
    };
    if (src >= 0) {
        const struct net_nic *n = &cfg->nics[src];
        if (!nsg_pass(sw, n->nsg, NSG_OUTBOUND, &p, &ctx) ||
            !nsg_pass(sw, vn->subnets[n->subnet].nsg, NSG_OUTBOUND, &p, &ctx))
            return false;
    }
    if (dst >= 0) {
        const struct net_nic *n = &cfg->nics[dst];
        if (!nsg_pass(sw, vn->subnets[n->subnet].nsg, NSG_INBOUND, &p, &ctx) ||
            !nsg_pass(sw, n->nsg, NSG_INBOUND, &p, &ctx))
            return false;
    }
    return true;
}

/* May the IPv4 packet f go from src to dst (NIC indexes, -1 = the NAT)?
 * Packets of a tracked flow pass; ICMP errors about a tracked flow pass;
 * anything else is a new flow for the NSGs, and tracked if allowed. */
bool sw_policy(struct sw *sw, size_t v, const struct net_frame *f, int src, int dst, uint64_t now)
{
    struct ct_table *ct = sw->vnets[v].ct;
    struct ct_key k;
    uint8_t flags = f->proto == NET_IPPROTO_TCP ? f->tcp_flags : 0;
    bool tracked = flow_key(f, &k);
    if (tracked) {
        bool reply = false;
        struct ct_entry *e = ct_find(ct, &k, now, &reply);
        if (e && f->proto == NET_IPPROTO_ICMP &&
            f->icmp_type != (reply ? NET_ICMP_ECHO_REPLY : NET_ICMP_ECHO))
            e = NULL; /* a request cannot pass as the reply of the opposite flow */
        if (e && f->proto == NET_IPPROTO_TCP &&
            (flags & (NET_TCP_SYN | NET_TCP_ACK)) == NET_TCP_SYN &&
            (e->state == CT_TCP_TIME_WAIT || e->state == CT_TCP_CLOSE)) {
            ct_remove(ct, e); /* a new connection reusing a closed one's ports */
            e = NULL;
        }
        if (e) {
            ct_update(ct, e, reply, flags, f->ip_len, now);
            return true;
        }
    } else {
        /* An ICMP error is related to a flow when it is about a packet of
         * that flow its receiver sent (the inner header) and it comes from
         * that packet's path: inside the VNet (no routers but the switch)
         * only from the inner destination itself; from the NAT only about a
         * destination outside the VNet (any router on the way out). */
        struct net_inner in;
        bool from_path = net_parse_icmp_inner(f, &in) == 0 &&
                         (src >= 0 ? f->src_ip == in.dst_ip
                                   : !net_vnet_contains(&sw->cfg->vnets[v], in.dst_ip));
        if (from_path && in.src_ip == f->dst_ip &&
            (in.proto == NET_IPPROTO_TCP || in.proto == NET_IPPROTO_UDP ||
             (in.proto == NET_IPPROTO_ICMP && in.icmp_type == NET_ICMP_ECHO))) {
            struct ct_key ik = {in.src_ip, in.dst_ip, in.sport, in.dport, in.proto};
            bool reply;
            if (ct_find(ct, &ik, now, &reply)) return true; /* related */
        }
    }
    /* DNS to the platform resolver is not subject to NSGs (as in Azure) */
    bool platform_dns = src >= 0 && dst < 0 && f->dst_ip == NET_PLATFORM_DNS && f->has_ports &&
                        f->dport == 53;
    if (!platform_dns && !nsgs_allow(sw, v, f, src, dst)) return false;
    bool create = tracked && !(flags & NET_TCP_RST) &&
                  !(f->proto == NET_IPPROTO_ICMP && f->icmp_type != NET_ICMP_ECHO);
    if (create) {
        /* charged to the NIC that sent it, or that receives it from outside */
        int who = src >= 0 ? src : dst;
        int owner = who >= 0 ? sw->nics[who].ct_owner : -1;
        struct ct_entry *e = ct_add_owned(ct, &k, flags, now, owner);
        if (e) ct_update(ct, e, false, flags, f->ip_len, now);
    }
    return true;
}

/* ------------------------------------------------------------ from NICs -- */

/* Is f the reply direction of a tracked flow of VNet v, one that a packet
 * from the NAT started? */
static bool answers_inbound(struct sw *sw, size_t v, const struct net_frame *f, uint64_t now)
{
    struct ct_key k;
    bool reply = false;
    return flow_key(f, &k) && ct_find(sw->vnets[v].ct, &k, now, &reply) != NULL && reply;
}

static inline void drop(struct sw_port_stats *st, enum sw_drop why)
{
    st->drops[why]++;
}

static void port_arp(struct sw *sw, size_t nic, const struct net_frame *f, struct sw_out *out)
{
    const struct net_config *cfg = sw->cfg;
    const struct net_nic *n = &cfg->nics[nic];
    struct sw_port_stats *st = &sw->nics[nic].st;
    const struct net_subnet *sn = &cfg->vnets[n->vnet].subnets[n->subnet];
    if (memcmp(f->arp.sha, n->mac, 6) || (f->arp.spa != n->ip && f->arp.spa != 0)) {
        drop(st, SW_DROP_SPOOFED);
        return;
    }
    if (f->arp.op != NET_ARP_REQUEST) return; /* replies and announcements: nothing to learn */
    const uint8_t *mac = NULL;
    if (f->arp.tpa == sn->gateway) {
        mac = sw_gateway_mac;
    } else if (net_cidr_contains(sn->prefix, f->arp.tpa)) {
        int j = net_config_nic_by_ip(cfg, n->vnet, f->arp.tpa);
        if (j >= 0 && (size_t)j != nic && cfg->nics[j].subnet == n->subnet) mac = cfg->nics[j].mac;
    }
    if (!mac && f->arp.tpa != sn->gateway && net_cidr_contains(sn->prefix, f->arp.tpa) &&
        vx_port_arp(sw, nic, f, &mac, out))
        return; /* not known here: asked of the VNet's other hosts */
    if (!mac) return; /* nobody has it: no answer, as on a real segment */
    uint8_t *b = sw_emit(out, SW_TO_PORT, nic, 60);
    if (!b) return;
    net_build_arp(b, NET_ARP_REPLY, n->mac, mac, f->arp.tpa, n->mac, f->arp.spa);
    st->arp_replies++;
}

static void port_dhcp(struct sw *sw, size_t nic, const struct net_frame *f, struct sw_out *out)
{
    const struct net_config *cfg = sw->cfg;
    const struct net_nic *n = &cfg->nics[nic];
    const struct net_vnet *vn = &cfg->vnets[n->vnet];
    const struct net_subnet *sn = &vn->subnets[n->subnet];
    struct dhcp_lease lease = {
        .ip = n->ip, .mask = net_mask(sn->prefix.len), .router = sn->gateway, .dns = vn->dns,
        .server_id = sn->gateway, .lease_secs = DHCP_LEASE_SECS, .hostname = n->hostname,
    };
    memcpy(lease.mac, n->mac, 6);
    struct dhcp_reply r;
    if (dhcp_handle(f->data + f->payload_off, f->payload_len, &lease, &r) != DHCP_OUT_REPLY)
        return;
    uint8_t *b = sw_emit(out, SW_TO_PORT, nic, NET_ETH_HLEN + 28 + r.len);
    if (!b) return;
    net_build_udp(b, r.broadcast ? broadcast_mac : n->mac, sw_gateway_mac, sn->gateway, r.dst_ip,
                  DHCP_SERVER_PORT, DHCP_CLIENT_PORT, r.data, r.len);
    sw->nics[nic].st.dhcp_replies++;
}

/* ------------------------------------------- platform services (IMDS) -- */

struct imds_ctx {
    struct sw *sw;
    size_t nic;
    struct sw_out *out;
};

static uint8_t *imds_emit(void *opaque, size_t len)
{
    struct imds_ctx *x = opaque;
    return sw_emit(x->out, SW_TO_PORT, x->nic, len);
}

static int imds_app(void *opaque, const uint8_t *req, size_t len, bool final, bool full,
                    uint8_t **resp, size_t *resp_len)
{
    struct imds_ctx *x = opaque;
    json_t *report = NULL;
    int r = imds_http(x->sw->cfg, x->nic, req, len, final, full, resp, resp_len, &report);
    if (r == 1) x->sw->nics[x->nic].st.metadata_requests++;
    if (report) sw_add_report(x->sw, x->nic, report);
    return r;
}

void sw_add_report(struct sw *sw, size_t nic, json_t *event)
{
    struct sw_nic_rt *rt = &sw->nics[nic];
    if (!rt->reports && !(rt->reports = json_array())) {
        json_decref(event);
        return;
    }
    json_object_set_new(event, "seq", json_integer((json_int_t)++rt->report_seq));
    const char *name = json_string_value(json_object_get(event, "name"));
    size_t i;
    json_t *old;
    json_array_foreach(rt->reports, i, old)
    {
        if (name && !strcmp(name, json_string_value(json_object_get(old, "name")))) {
            json_array_remove(rt->reports, i); /* the latest event of a stage */
            break;
        }
    }
    if (json_array_size(rt->reports) >= SW_REPORTS_MAX) json_array_remove(rt->reports, 0);
    json_array_append_new(rt->reports, event);
}

static void imds_env(struct sw *sw, size_t nic, struct imds_ctx *x, struct tcps_env *env)
{
    *env = (struct tcps_env){
        .ip = NET_IMDS_IP, .port = NET_IMDS_PORT, .mac = sw_gateway_mac,
        .peer_mac = sw->cfg->nics[nic].mac, .emit = imds_emit, .emit_opaque = x,
        .app = imds_app, .app_opaque = x,
    };
}

/* A packet from a NIC to 169.254.169.254: TCP port 80 is the metadata
 * service; nothing else is there. */
static void port_imds(struct sw *sw, size_t nic, const struct net_frame *f, uint64_t now,
                      struct sw_out *out)
{
    struct sw_nic_rt *rt = &sw->nics[nic];
    if (f->proto != NET_IPPROTO_TCP || f->dport != NET_IMDS_PORT) {
        drop(&rt->st, SW_DROP_NO_ROUTE);
        return;
    }
    if (!rt->imds) {
        rt->imds = malloc(sizeof(*rt->imds));
        if (!rt->imds) return;
        tcps_init(rt->imds, (uint32_t)(nic * 2654435761u) ^ (uint32_t)now);
    }
    struct imds_ctx x = {sw, nic, out};
    struct tcps_env env;
    imds_env(sw, nic, &x, &env);
    tcps_input(rt->imds, &env, f, now);
    if (!tcps_active(rt->imds)) { /* idle NICs hold nothing */
        free(rt->imds);
        rt->imds = NULL;
    }
}

uint64_t sw_nic_deadline(const struct sw *sw, size_t nic)
{
    if (nic >= sw->cfg->nnics || !sw->nics[nic].imds) return UINT64_MAX;
    return tcps_deadline(sw->nics[nic].imds);
}

uint64_t sw_timer_deadline(const struct sw *sw)
{
    uint64_t d = UINT64_MAX;
    for (size_t i = 0; i < sw->cfg->nnics; i++) {
        uint64_t t = sw_nic_deadline(sw, i);
        if (t < d) d = t;
    }
    return d;
}

void sw_nic_timers(struct sw *sw, size_t nic, uint64_t now_ms, struct sw_out *out)
{
    out->n = out->used = 0;
    if (nic >= sw->cfg->nnics || !sw->nics[nic].imds) return;
    struct tcps *t = sw->nics[nic].imds;
    struct imds_ctx x = {sw, nic, out};
    struct tcps_env env;
    imds_env(sw, nic, &x, &env);
    tcps_timer(t, &env, now_ms);
    if (!tcps_active(t)) { /* idle NICs hold nothing */
        free(t);
        sw->nics[nic].imds = NULL;
    }
}

/* ----------------------------------------------- platform services (DNS) -- */

/* A query from a NIC to the platform resolver: answered here when it asks
 * for a VM of the VNet ("NAME" or "NAME.internal", NAME a NIC's host name,
 * case-insensitive), or for anything else under "internal" (NXDOMAIN).
 * false: not ours, forward it. */
static bool port_dns(struct sw *sw, size_t nic, const struct net_frame *f, struct sw_out *out)
{
    const struct net_config *cfg = sw->cfg;
    const struct net_nic *n = &cfg->nics[nic];
    struct dns_query q;
    if (dns_parse_query(f->data + f->payload_off, f->payload_len, &q) < 0) return false;
    if (q.qclass != DNS_CLASS_IN && q.qclass != DNS_CLASS_ANY) return false;
    static const char zone[] = "internal";
    size_t nl = strlen(q.name), zl = sizeof(zone) - 1;
    bool in_zone = !strcmp(q.name, zone) ||
                   (nl > zl && q.name[nl - zl - 1] == '.' && !strcmp(q.name + nl - zl, zone));
    bool candidate = q.plain && (q.nlabels == 1 || (q.nlabels == 2 && in_zone));
    if (!candidate && !in_zone) return false;
    char host[DNS_NAME_MAX + 1];
    size_t hl = 0;
    while (q.name[hl] && q.name[hl] != '.') hl++;
    memcpy(host, q.name, hl);
    host[hl] = 0;
    uint32_t addrs[DNS_ANSWERS_MAX];
    size_t na = 0;
    for (size_t i = 0; candidate && i < cfg->nnics && na < DNS_ANSWERS_MAX; i++) {
        const struct net_nic *o = &cfg->nics[i];
        if (o->vnet == n->vnet && o->hostname && !strcasecmp(o->hostname, host))
            addrs[na++] = o->ip;
    }
    if (!na && !in_zone) return false; /* an unknown single label: the upstream's */
    uint8_t rcode = na ? DNS_RCODE_OK : DNS_RCODE_NXDOMAIN;
    if (q.qtype != DNS_TYPE_A && q.qtype != DNS_TYPE_ANY) na = 0; /* the name exists: no data */
    uint8_t msg[DNS_UDP_MAX];
    size_t len = dns_build_answer(f->data + f->payload_off, &q, rcode, addrs, na, msg, sizeof(msg));
    if (!len) return false;
    uint8_t *b = sw_emit(out, SW_TO_PORT, nic, NET_ETH_HLEN + 28 + len);
    if (!b) return true;
    net_build_udp(b, n->mac, sw_gateway_mac, NET_PLATFORM_DNS, f->src_ip, DNS_PORT, f->sport, msg,
                  len);
    sw->nics[nic].st.dns_answers++;
    return true;
}

static bool is_gateway(const struct net_vnet *vn, uint32_t ip)
{
    for (size_t s = 0; s < vn->nsubnets; s++)
        if (vn->subnets[s].gateway == ip) return true;
    return false;
}

static void port_ip(struct sw *sw, size_t nic, const struct net_frame *f, uint64_t now,
                    struct sw_out *out)
{
    const struct net_config *cfg = sw->cfg;
    const struct net_nic *n = &cfg->nics[nic];
    const struct net_vnet *vn = &cfg->vnets[n->vnet];
    const struct net_subnet *sn = &vn->subnets[n->subnet];
    struct sw_port_stats *st = &sw->nics[nic].st;

    if (f->fragment) {
        drop(st, SW_DROP_UNSUPPORTED);
        return;
    }
    if (f->proto == NET_IPPROTO_UDP && f->dport == DHCP_SERVER_PORT &&
        f->sport == DHCP_CLIENT_PORT && (f->src_ip == 0 || f->src_ip == n->ip) &&
        (f->dst_ip == 0xffffffffu || f->dst_ip == sn->gateway)) {
        port_dhcp(sw, nic, f, out);
        return;
    }
    if (f->src_ip != n->ip) {
        drop(st, SW_DROP_SPOOFED);
        return;
    }
    uint32_t dst = f->dst_ip;
    if (net_mac_is_multicast(f->dst_mac) || dst == 0xffffffffu || (dst >> 29) == 7 ||
        dst == net_cidr_last(sn->prefix)) {
        drop(st, SW_DROP_BROADCAST);
        return;
    }
    bool routed = !memcmp(f->dst_mac, sw_gateway_mac, 6);
    if (routed && dst == NET_IMDS_IP) {
        port_imds(sw, nic, f, now, out);
        return;
    }
    if (routed && dst == NET_PLATFORM_DNS && f->proto == NET_IPPROTO_UDP &&
        f->dport == DNS_PORT && port_dns(sw, nic, f, out))
        return;
    if (!routed) {
        /* switched: only to a NIC of the same subnet, and to its own IP */
        int j = net_config_nic_by_ip(cfg, n->vnet, dst);
        if (j < 0 && net_cidr_contains(sn->prefix, dst) &&
            vx_learned_mac_is(sw, n->vnet, dst, f->dst_mac)) {
            /* an endpoint learned over VXLAN, in the subnet */
        } else if (j < 0 || memcmp(cfg->nics[j].mac, f->dst_mac, 6) ||
                   cfg->nics[j].subnet != n->subnet) {
            drop(st, SW_DROP_NO_ROUTE);
            return;
        }
    }
    if (is_gateway(vn, dst)) {
        if (f->proto == NET_IPPROTO_ICMP && f->icmp_type == NET_ICMP_ECHO) {
            uint8_t *b = sw_emit(out, SW_TO_PORT, nic, NET_ETH_HLEN + 20 + f->l4_len);
            if (b) net_build_echo_reply(b, f, sw_gateway_mac);
        } else {
            drop(st, SW_DROP_NO_ROUTE);
        }
        return;
    }
    if (routed && f->ttl <= 1) {
        drop(st, SW_DROP_TTL);
        return;
    }
    if (net_vnet_contains(vn, dst)) {
        int j = net_config_nic_by_ip(cfg, n->vnet, dst);
        if ((j < 0 || net_nic_remote(&cfg->nics[j])) && vn->vni) {
            /* on another host: this host checks the sender's outbound
             * rules, the destination's host its inbound rules */
            vx_port_ip(sw, nic, f, j, routed, now, out);
            return;
        }
        if (j < 0 || (size_t)j == nic) {
            drop(st, SW_DROP_NO_ROUTE);
            return;
        }
        if (!sw_policy(sw, n->vnet, f, (int)nic, j, now)) {
            drop(st, SW_DROP_POLICY);
            return;
        }
        sw_forward(out, SW_TO_PORT, (size_t)j, 0, f, cfg->nics[j].mac, routed);
        return;
    }
    /* outside the VNet: through the NAT, but only where VMs may go
     * (egress.h: never this host, its loopback or link-local neighbours;
     * the host's private networks only if the operator allows them).
     * Answers of a flow that came in through the NAT (a public IP's port,
     * from a client on the host's network: libslirp passes its address)
     * go back to it: the NSGs admitted that flow. */
    if (!answers_inbound(sw, n->vnet, f, now) && egress_check(&sw->egress, dst) != EGRESS_OK) {
        drop(st, SW_DROP_EGRESS);
        return;
    }
    if (!sw_policy(sw, n->vnet, f, (int)nic, -1, now)) {
        drop(st, SW_DROP_POLICY);
        return;
    }
    sw_forward(out, SW_TO_NAT, n->vnet, 0, f, sw_nat_mac, true);
    sw->vnets[n->vnet].nat.to_nat_packets++;
    sw->vnets[n->vnet].nat.to_nat_bytes += f->ip_len;
}

void sw_port_input(struct sw *sw, size_t nic, const uint8_t *frame, size_t len, uint64_t now_ms,
                   struct sw_out *out)
{
    out->n = out->used = 0;
    if (nic >= sw->cfg->nnics) return;
    struct sw_port_stats *st = &sw->nics[nic].st;
    st->rx_packets++;
    st->rx_bytes += len;
    struct net_frame f;
    if (len > NET_FRAME_MAX || net_parse_frame(frame, len, &f) != NET_PARSE_OK) {
        drop(st, SW_DROP_MALFORMED);
        return;
    }
    if (memcmp(f.src_mac, sw->cfg->nics[nic].mac, 6)) {
        drop(st, SW_DROP_SPOOFED);
        return;
    }
    switch (f.ethertype) {
    case NET_ETH_ARP: port_arp(sw, nic, &f, out); break;
    case NET_ETH_IPV4: port_ip(sw, nic, &f, now_ms, out); break;
    default: drop(st, SW_DROP_UNSUPPORTED); break;
    }
}

/* ------------------------------------------------------------- from NAT -- */

void sw_nat_input(struct sw *sw, size_t v, const uint8_t *frame, size_t len, uint64_t now_ms,
                  struct sw_out *out)
{
    out->n = out->used = 0;
    if (v >= sw->cfg->nvnets) return;
    const struct net_config *cfg = sw->cfg;
    const struct net_vnet *vn = &cfg->vnets[v];
    struct sw_nat_stats *st = &sw->vnets[v].nat;
    struct net_frame f;
    if (len > NET_FRAME_MAX || net_parse_frame(frame, len, &f) != NET_PARSE_OK) {
        st->drops[SW_DROP_MALFORMED]++;
        return;
    }
    if (f.ethertype == NET_ETH_ARP) {
        /* the NAT resolving a NIC's address: every NIC is behind the gateway */
        if (f.arp.op != NET_ARP_REQUEST || net_config_nic_by_ip(cfg, v, f.arp.tpa) < 0) return;
        uint8_t *b = sw_emit(out, SW_TO_NAT, v, 60);
        if (b)
            net_build_arp(b, NET_ARP_REPLY, f.arp.sha, sw_gateway_mac, f.arp.tpa, f.arp.sha,
                          f.arp.spa);
        return;
    }
    if (f.ethertype != NET_ETH_IPV4 || f.fragment) {
        st->drops[SW_DROP_UNSUPPORTED]++;
        return;
    }
    uint32_t src = f.src_ip, dst = f.dst_ip;
    if (src == 0 || src == 0xffffffffu || (src >> 29) == 7 || net_vnet_contains(vn, src)) {
        st->drops[SW_DROP_SPOOFED]++; /* the outside cannot pose as the VNet */
        return;
    }
    if (dst == 0xffffffffu || (dst >> 29) == 7) {
        st->drops[SW_DROP_BROADCAST]++;
        return;
    }
    int j = net_config_nic_by_ip(cfg, v, dst);
    if (j < 0 || net_nic_remote(&cfg->nics[j])) { /* a NAT answers its own host's NICs */
        st->drops[SW_DROP_NO_ROUTE]++;
        return;
    }
    if (f.ttl <= 1) {
        st->drops[SW_DROP_TTL]++;
        return;
    }
    if (!sw_policy(sw, v, &f, -1, j, now_ms)) {
        st->drops[SW_DROP_POLICY]++;
        return;
    }
    sw_forward(out, SW_TO_PORT, (size_t)j, 0, &f, cfg->nics[j].mac, true);
    st->from_nat_packets++;
    st->from_nat_bytes += f.ip_len;
}
