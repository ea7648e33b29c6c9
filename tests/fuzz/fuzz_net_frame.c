/*
 * fuzz_net_frame.c - libFuzzer harness for the switch's data plane
 * (src/network/switch.c with packet, DHCP, NSG and conntrack): any sequence
 * of frames from any NIC or NAT must be handled without a crash, an
 * out-of-bounds access, undefined behaviour or a leak, and the invariants of
 * the model must hold for every frame that comes out:
 *
 *   - isolation: output goes only to ports and NATs of the input's VNet;
 *   - it is a well-formed frame addressed to the destination port's MAC
 *     (or broadcast, for DHCP);
 *   - anti-spoofing: an IPv4 packet forwarded from one NIC to another
 *     carries the sender's own address.
 *
 * The platform services the switch answers itself are on the same path:
 * the metadata service (169.254.169.254:80, a TCP server in the switch,
 * with its retransmission and timeout timers) and the internal DNS (queries
 * to 168.63.129.16:53); their output must obey the same invariants, and the
 * metadata connections a NIC holds stay within their bound.
 *
 * Input: records of [selector][len_hi][len_lo][len bytes]. Selector < 0x80:
 * a frame from NIC (selector % nics); 0x80-0xef: from the NAT of VNet
 * (selector % vnets); 0xf0-0xf7: advance the clock by len seconds, run the
 * expiry sweep and the NICs' timers; 0xf8-0xfd: advance the clock by len
 * milliseconds and run the NICs' timers; 0xfe: switch to the other NSG
 * configuration (conntrack, counters and metadata connections are carried
 * over); 0xff: stop.
 */
#include "network/switch.h"
#include "network/tcpserv.h"

#include <stdlib.h>
#include <string.h>

static const char *config_a =
    "{\"vnets\":["
    " {\"name\":\"v1\",\"address_space\":[\"10.0.0.0/16\",\"10.9.0.0/16\"],\"subnets\":["
    "  {\"name\":\"web\",\"prefix\":\"10.0.1.0/24\",\"nsg\":\"web\"},"
    "  {\"name\":\"db\",\"prefix\":\"10.9.2.0/24\"}]},"
    " {\"name\":\"v2\",\"address_space\":[\"10.0.0.0/16\"],\"subnets\":["
    "  {\"name\":\"web\",\"prefix\":\"10.0.1.0/29\"}]}],"
    "\"nsgs\":["
    " {\"name\":\"web\",\"rules\":["
    "  {\"name\":\"http\",\"priority\":100,\"direction\":\"Inbound\",\"access\":\"Allow\","
    "   \"protocol\":\"Tcp\",\"destination_port_range\":\"80,443,8000-8100\"},"
    "  {\"name\":\"no-udp\",\"priority\":200,\"direction\":\"Outbound\",\"access\":\"Deny\","
    "   \"protocol\":\"Udp\",\"destination_address_prefix\":\"Internet\","
    "   \"destination_port_range\":\"1-52,54-65535\"}]},"
    " {\"name\":\"nic\",\"rules\":["
    "  {\"name\":\"ping\",\"priority\":4096,\"direction\":\"Inbound\",\"access\":\"Allow\","
    "   \"protocol\":\"Icmp\",\"source_address_prefix\":\"Internet\"}]}],"
    "\"conntrack\":{\"max_entries\":32,\"udp_unreplied\":5,\"tcp_syn_sent\":5},"
    "\"nics\":["
    " {\"id\":\"a\",\"vnet\":\"v1\",\"subnet\":\"web\",\"mac\":\"52:54:00:00:00:01\","
    "  \"hostname\":\"a\",\"vm\":{\"name\":\"vm-a\",\"id\":\"i-a\",\"size\":\"Tiny\","
    "  \"location\":\"local\",\"resource_group\":\"rg\",\"user_data\":"
    "  \"IyEvYmluL3NoCmVjaG8gaGVsbG8gZnJvbSB1c2VyIGRhdGEK\"}},"
    " {\"id\":\"b\",\"vnet\":\"v1\",\"subnet\":\"web\",\"mac\":\"52:54:00:00:00:02\","
    "  \"nsg\":\"nic\",\"hostname\":\"b\",\"vm\":{\"name\":\"vm-a\",\"resource_group\":\"rg\"}},"
    " {\"id\":\"c\",\"vnet\":\"v1\",\"subnet\":\"db\",\"mac\":\"52:54:00:00:00:03\"},"
    " {\"id\":\"d\",\"vnet\":\"v2\",\"subnet\":\"web\",\"mac\":\"52:54:00:00:00:04\"}]}";

/* config_a with the NSGs' rules replaced by a deny-everything rule */
static char config_b[4096];

static struct sw *sw;
static struct sw_out out;
static uint64_t now_ms;
static bool using_b;
static json_t *doc_a, *doc_b; /* parsed once */

static void load(json_t *doc)
{
    struct net_config *cfg;
    char err[512];
    if (net_config_load(doc, sw->cfg, &cfg, err, sizeof(err)) < 0) abort();
    if (sw_apply(sw, cfg) < 0) abort();
}

static void reset(void)
{
    if (!doc_a) {
        const char *from = strstr(config_a, "\"nsgs\"");
        const char *to = strstr(config_a, "\"conntrack\"");
        size_t head = (size_t)(from - config_a);
        memcpy(config_b, config_a, head);
        strcpy(config_b + head,
               "\"nsgs\":[{\"name\":\"web\",\"rules\":[{\"name\":\"deny\",\"priority\":100,"
               "\"direction\":\"Inbound\",\"access\":\"Deny\",\"protocol\":\"*\"}]},"
               "{\"name\":\"nic\",\"rules\":[]}],");
        strcat(config_b, to);
        doc_a = json_loads(config_a, 0, NULL);
        doc_b = json_loads(config_b, 0, NULL);
        if (!doc_a || !doc_b) abort();
    }
    sw_destroy(sw);
    sw = sw_create();
    if (!sw) abort();
    load(doc_a);
    using_b = false;
    now_ms = 1000;
}

static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

static void check_output(size_t vnet, int src_nic)
{
    const struct net_config *cfg = sw->cfg;
    for (size_t i = 0; i < cfg->nnics; i++)
        if (sw->nics[i].imds && tcps_active(sw->nics[i].imds) > TCPS_CONNS) __builtin_trap();
    for (size_t k = 0; k < out.n; k++) {
        const struct sw_out_frame *o = &out.f[k];
        struct net_frame f;
        if (o->len < NET_ETH_HLEN || o->len > NET_FRAME_MAX) __builtin_trap();
        if (net_parse_frame(o->data, o->len, &f) != NET_PARSE_OK) __builtin_trap();
        if (o->dest == SW_TO_NAT) {
            if (o->index != vnet) __builtin_trap(); /* isolation */
            continue;
        }
        if (o->index >= cfg->nnics || cfg->nics[o->index].vnet != vnet) __builtin_trap();
        const struct net_nic *to = &cfg->nics[o->index];
        if (memcmp(f.dst_mac, to->mac, 6) && memcmp(f.dst_mac, bcast, 6)) __builtin_trap();
        if (src_nic >= 0 && (size_t)src_nic != o->index && f.ethertype == NET_ETH_IPV4 &&
            f.src_ip != cfg->nics[src_nic].ip)
            __builtin_trap(); /* anti-spoofing */
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
        if (sel >= 0xf0 && sel <= 0xfd) {
            now_ms += sel <= 0xf7 ? len * 1000 : len;
            if (sel <= 0xf7) sw_tick(sw, now_ms);
            for (size_t n = 0; n < sw->cfg->nnics; n++) {
                if (sw_nic_deadline(sw, n) > now_ms) continue;
                sw_nic_timers(sw, n, now_ms, &out);
                check_output(sw->cfg->nics[n].vnet, (int)n);
            }
            continue;
        }
        if (sel == 0xfe) {
            load(using_b ? doc_a : doc_b);
            using_b = !using_b;
            continue;
        }
        if (len > size - i) len = size - i;
        /* a private copy, so that reading past len is caught by ASan */
        uint8_t *frame = malloc(len ? len : 1);
        if (!frame) abort();
        memcpy(frame, data + i, len);
        i += len;
        now_ms += 10;
        if (sel < 0x80) {
            size_t nic = sel % sw->cfg->nnics;
            sw_port_input(sw, nic, frame, len, now_ms, &out);
            check_output(sw->cfg->nics[nic].vnet, (int)nic);
        } else {
            size_t v = sel % sw->cfg->nvnets;
            sw_nat_input(sw, v, frame, len, now_ms, &out);
            check_output(v, -1);
        }
        free(frame);
    }
    return 0;
}
