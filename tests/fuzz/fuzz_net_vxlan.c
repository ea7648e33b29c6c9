/*
 * fuzz_net_vxlan.c - libFuzzer harness for what arrives from other hosts:
 * UDP payloads through the VXLAN decapsulation (src/network/vxlan.c) and
 * the data plane's handling of the inner frames (sw_vxlan_input: ARP
 * answered for local NICs, replies delivered, endpoints learned, IPv4 to
 * local NICs through the NSGs), interleaved with local NICs' frames that
 * go the other way (to remote NICs, learned endpoints, floods). Nothing may
 * crash, read out of bounds, hit undefined behaviour or leak, and for every
 * output frame:
 *
 *   - isolation: a frame from VNI x reaches only ports of x's VNet, and
 *     what goes back over VXLAN is for x's VNet;
 *   - it is well formed and addressed to the destination port's MAC;
 *   - anti-spoofing: an IPv4 packet or ARP message delivered to a local
 *     port never carries a local NIC's address as its source, and one with
 *     a configured remote NIC's address only came from that NIC's host;
 *   - nothing that arrived over VXLAN is sent on to another host, except
 *     ARP answers to the host that asked;
 *   - the learned table stays within its bound.
 *
 * Input: records of [selector][len_hi][len_lo][len bytes]. Selector <
 * 0x40: a UDP payload from underlay host (selector % 4): 192.168.50.2 (the
 * remote NICs' host), .3, .4, or the switch's own address; 0x40-0x7f: a
 * frame from local NIC (selector % local NICs); 0xf0-0xf7: advance the
 * clock by len seconds and sweep; 0xff: stop.
 */
#include "network/switch.h"
#include "network/vxlan.h"

#include <stdlib.h>
#include <string.h>

static const char *config =
    "{\"underlay\":{\"address\":\"192.168.50.1\"},"
    "\"vnets\":["
    " {\"name\":\"v1\",\"address_space\":[\"10.0.0.0/16\"],"
    "  \"vxlan\":{\"vni\":1,\"flood\":[\"192.168.50.2\",\"192.168.50.3\"]},\"subnets\":["
    "  {\"name\":\"web\",\"prefix\":\"10.0.1.0/24\",\"nsg\":\"web\"},"
    "  {\"name\":\"db\",\"prefix\":\"10.0.2.0/24\"}]},"
    " {\"name\":\"v2\",\"address_space\":[\"10.0.0.0/16\"],\"vxlan\":{\"vni\":2,\"learn\":false},"
    "  \"subnets\":[{\"name\":\"web\",\"prefix\":\"10.0.1.0/24\"}]}],"
    "\"nsgs\":[{\"name\":\"web\",\"rules\":["
    "  {\"name\":\"no-ssh\",\"priority\":100,\"direction\":\"Inbound\",\"access\":\"Deny\","
    "   \"protocol\":\"Tcp\",\"destination_port_range\":\"22\"}]}],"
    "\"conntrack\":{\"max_entries\":32},"
    "\"nics\":["
    " {\"id\":\"a\",\"vnet\":\"v1\",\"subnet\":\"web\",\"mac\":\"52:54:00:00:00:01\"},"
    " {\"id\":\"b\",\"vnet\":\"v1\",\"subnet\":\"db\",\"mac\":\"52:54:00:00:00:02\"},"
    " {\"id\":\"c\",\"vnet\":\"v2\",\"subnet\":\"web\",\"mac\":\"52:54:00:00:00:03\"},"
    " {\"id\":\"r\",\"vnet\":\"v1\",\"subnet\":\"web\",\"mac\":\"52:54:00:00:00:04\","
    "  \"private_ip\":\"10.0.1.20\",\"host\":\"192.168.50.2\"},"
    " {\"id\":\"s\",\"vnet\":\"v2\",\"subnet\":\"web\",\"mac\":\"52:54:00:00:00:05\","
    "  \"private_ip\":\"10.0.1.4\",\"host\":\"192.168.50.2\"}]}";

static const uint32_t hosts[4] = {0xc0a83202u, 0xc0a83203u, 0xc0a83204u, 0xc0a83201u};
static const size_t local_nics[3] = {0, 1, 2};

static struct sw *sw;
static struct sw_out out;
static uint64_t now_ms;

static json_t *doc; /* parsed once */

static void reset(void)
{
    if (!doc && !(doc = json_loads(config, 0, NULL))) abort();
    struct net_config *cfg;
    char err[512];
    sw_destroy(sw);
    sw = sw_create();
    if (!sw || net_config_load(doc, NULL, &cfg, err, sizeof(err)) < 0 || sw_apply(sw, cfg) < 0)
        abort();
    now_ms = 1000;
}

static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

/* The local NIC whose address ip is in VNet v, or -1. */
static int local_ip(size_t v, uint32_t ip)
{
    int j = net_config_nic_by_ip(sw->cfg, v, ip);
    return j >= 0 && !net_nic_remote(&sw->cfg->nics[j]) ? j : -1;
}

/* from_host: the underlay source of the input (0: a local NIC's frame). */
static void check_output(size_t vnet, uint32_t from_host)
{
    const struct net_config *cfg = sw->cfg;
    for (size_t v = 0; v < cfg->nvnets; v++)
        if (sw->vnets[v].learned && sw->vnets[v].learned->n > VX_LEARN_MAX) __builtin_trap();
    for (size_t k = 0; k < out.n; k++) {
        const struct sw_out_frame *o = &out.f[k];
        struct net_frame f;
        if (o->len < NET_ETH_HLEN || o->len > NET_FRAME_MAX) __builtin_trap();
        if (net_parse_frame(o->data, o->len, &f) != NET_PARSE_OK) __builtin_trap();
        if (o->dest == SW_TO_NAT) {
            if (from_host || o->index != vnet) __builtin_trap();
            continue;
        }
        if (o->dest == SW_TO_VXLAN || o->dest == SW_TO_FLOOD) {
            if (o->index != vnet) __builtin_trap(); /* isolation */
            if (from_host) {                        /* only ARP answers, to the asker */
                if (o->dest != SW_TO_VXLAN || o->host != from_host || f.ethertype != NET_ETH_ARP ||
                    f.arp.op != NET_ARP_REPLY || local_ip(vnet, f.arp.spa) < 0)
                    __builtin_trap();
            }
            continue;
        }
        if (o->index >= cfg->nnics || cfg->nics[o->index].vnet != vnet ||
            net_nic_remote(&cfg->nics[o->index]))
            __builtin_trap();
        const struct net_nic *to = &cfg->nics[o->index];
        if (memcmp(f.dst_mac, to->mac, 6) && memcmp(f.dst_mac, bcast, 6)) __builtin_trap();
        if (!from_host) continue;
        uint32_t src = f.ethertype == NET_ETH_IPV4  ? f.src_ip
                       : f.ethertype == NET_ETH_ARP ? f.arp.spa
                                                    : 0;
        if (local_ip(vnet, src) >= 0) __builtin_trap(); /* a local NIC's address from outside */
        int j = net_config_nic_by_ip(cfg, vnet, src);
        if (j >= 0 && cfg->nics[j].host != from_host) __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    reset();
    size_t i = 0;
    while (i + 3 <= size) {
        uint8_t sel = data[i];
        size_t len = (size_t)data[i + 1] << 8 | data[i + 2];
        i += 3;
        if (sel == 0xff) break;
        if (sel >= 0xf0 && sel <= 0xf7) {
            now_ms += len * 1000;
            sw_tick(sw, now_ms);
            continue;
        }
        if (len > size - i) len = size - i;
        uint8_t *buf = malloc(len ? len : 1); /* a private copy: overreads are caught */
        if (!buf) abort();
        memcpy(buf, data + i, len);
        i += len;
        now_ms += 10;
        if (sel < 0x40) {
            uint32_t vni;
            const uint8_t *inner;
            size_t ilen;
            uint32_t host = hosts[sel % 4];
            if (vxlan_decap(buf, len, &vni, &inner, &ilen) == VXLAN_OK) {
                sw_vxlan_input(sw, vni, host, inner, ilen, now_ms, &out);
                int v = net_config_vnet_by_vni(sw->cfg, vni);
                if (v < 0 && out.n) __builtin_trap();
                if (v >= 0) check_output((size_t)v, host);
            }
        } else if (sel < 0x80) {
            size_t nic = local_nics[sel % 3];
            sw_port_input(sw, nic, buf, len, now_ms, &out);
            check_output(sw->cfg->nics[nic].vnet, 0);
        }
        free(buf);
    }
    return 0;
}
