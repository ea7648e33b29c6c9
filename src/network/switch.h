/*
 * switch.h - the data plane of kumo-switch, as pure functions: a frame in
 * from a NIC's port (or from a VNet's NAT) goes in, the frames it causes come
 * out as a list of (destination, frame). No sockets, no clocks: the caller
 * (main.c, nat.c, the unit tests, the fuzzer) passes the time and delivers
 * the output.
 *
 * The model (docs/network.md, "The model"):
 *  - Each VNet is an isolated L2/L3 domain; nothing a NIC sends ever leaves
 *    its VNet except through that VNet's NAT.
 *  - The switch is every subnet's gateway (first address of the subnet,
 *    MAC 12:34:56:78:9a:bc) and answers ARP itself: for the gateway, and for
 *    NICs of the same subnet with their real MAC. Nothing is flooded.
 *  - A NIC may only send from its MAC and its IP (0.0.0.0 for DHCP).
 *  - Frames to a same-subnet NIC's MAC are switched; frames to the gateway
 *    MAC are routed (TTL decremented) to a NIC of the VNet, or to the NAT
 *    when the destination is outside the VNet's address spaces.
 *  - Every new flow passes the NSGs (source NIC outbound: NIC then subnet;
 *    destination NIC inbound: subnet then NIC); conntrack admits the rest.
 */
#ifndef KUMO_NETWORK_SWITCH_H
#define KUMO_NETWORK_SWITCH_H

#include "network/config.h"
#include "network/egress.h"
#include "network/conntrack.h"
#include "network/packet.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Frames one input can cause: a forwarded packet (at most NET_FRAME_MAX
 * bytes) or a reply, or a burst of the metadata service's TCP segments. */
#define SW_OUT_MAX   24
#define SW_OUT_BYTES (2 * NET_FRAME_MAX + SW_OUT_MAX * 1600)

extern const uint8_t sw_gateway_mac[6];

/* Where an output frame goes: a NIC's port, the VNet's NAT, another host
 * over VXLAN (host: its underlay address; the VNet's VNI and the
 * configuration's underlay port), or every host of the VNet's flood list
 * (head-end replication, each a VXLAN copy). */
enum sw_dest { SW_TO_PORT, SW_TO_NAT, SW_TO_VXLAN, SW_TO_FLOOD };

struct sw_out_frame {
    enum sw_dest dest;
    size_t index;  /* NIC index (SW_TO_PORT), else VNet index */
    uint32_t host; /* SW_TO_VXLAN: the underlay address */
    size_t len;
    uint8_t *data; /* the (inner) Ethernet frame */
};

/* Output of one input frame. Holds its own buffer (about 166 KiB): allocate
 * it once and reuse it. */
struct sw_out {
    size_t n, used;
    struct sw_out_frame f[SW_OUT_MAX];
    uint8_t buf[SW_OUT_BYTES];
};

/* Why frames were dropped. Counted on the port (or NAT) they came from,
 * except the tx reasons, counted on the port they were going to. */
enum sw_drop {
    SW_DROP_MALFORMED,   /* runt, bad header lengths or checksum */
    SW_DROP_SPOOFED,     /* wrong source MAC or IP */
    SW_DROP_UNSUPPORTED, /* not IPv4/ARP (IPv6, VLAN...), IP fragments */
    SW_DROP_BROADCAST,   /* broadcast/multicast other than ARP and DHCP */
    SW_DROP_NO_ROUTE,    /* no NIC has the destination, or bad destination MAC */
    SW_DROP_TTL,         /* TTL expired when routing */
    SW_DROP_POLICY,      /* an NSG denied it */
    SW_DROP_PORT_DOWN,   /* destination NIC not connected */
    SW_DROP_PORT_FULL,   /* destination socket full (counted by the runtime) */
    SW_DROP_EGRESS,      /* leaving through NAT to where VMs may not go (egress.h) */
    SW_DROP_COUNT
};
const char *sw_drop_name(enum sw_drop d);

struct sw_port_stats {
    uint64_t rx_packets, rx_bytes; /* from the NIC */
    uint64_t tx_packets, tx_bytes; /* to the NIC */
    uint64_t drops[SW_DROP_COUNT];
    uint64_t arp_replies, dhcp_replies;
    uint64_t dns_answers;       /* queries for VM names answered by the switch */
    uint64_t metadata_requests; /* HTTP requests the metadata service answered */
};

struct sw_nat_stats {
    uint64_t to_nat_packets, to_nat_bytes;     /* VNet -> NAT (outbound) */
    uint64_t from_nat_packets, from_nat_bytes; /* NAT -> VNet (inbound) */
    uint64_t drops[SW_DROP_COUNT];             /* of frames from the NAT */
};

struct tcps;

#define SW_REPORTS_MAX 8 /* provisioning stages remembered per NIC */

struct sw_nic_rt {
    struct sw_port_stats st;
    int port; /* the runtime's handle of the connected port, -1 if none */
    struct tcps *imds; /* the NIC's metadata connections; NULL until its first */
    int ct_owner;      /* its slot in the VNet's conntrack quotas, kept across applies */
    /* The guest's provisioning reports (imds.h): the latest event of each
     * stage, each with "seq" (this NIC's count of reports when it came);
     * NULL until the first. Kept across configurations like the counters. */
    json_t *reports;
    uint64_t report_seq;
};

/* A VNet's traffic with other hosts (vxlan.c). */
struct sw_vxlan_stats {
    uint64_t rx_packets, rx_bytes; /* inner frames that arrived over VXLAN */
    uint64_t tx_packets, tx_bytes; /* inner frames sent (a flood counts once per host) */
    uint64_t drops[SW_DROP_COUNT]; /* of frames that arrived */
    uint64_t floods;               /* ARP requests replicated to the flood list */
    uint64_t learned;              /* endpoints learned (new entries) */
};

struct vx_table;

struct sw_vnet_rt {
    struct ct_table *ct;
    struct sw_nat_stats nat;
    struct sw_vxlan_stats vx;
    struct vx_table *learned; /* endpoints learned over VXLAN; NULL until the first */
};

struct sw {
    struct egress_policy egress; /* sw_create: the defaults and the host's addresses */
    struct net_config *cfg;
    struct sw_nic_rt *nics;   /* parallel to cfg->nics */
    struct sw_vnet_rt *vnets; /* parallel to cfg->vnets */
    uint64_t vxlan_no_vnet;   /* VXLAN datagrams for a VNI no VNet has (or malformed) */
};

/* Remember NIC nic's provisioning report (an event from imds_http; sw
 * takes it): it replaces the stage's earlier event, the oldest stage goes
 * when SW_REPORTS_MAX are kept. */
void sw_add_report(struct sw *sw, size_t nic, json_t *event);

/* A switch with the empty configuration. NULL if out of memory. */
struct sw *sw_create(void);
void sw_destroy(struct sw *sw);

/* Replace the configuration (sw takes ownership of cfg). Runtime state is
 * carried over by name: port counters and connections of NICs that keep
 * their id and MAC, conntrack tables of VNets that keep their name (so
 * established flows survive rule changes), and NSG rule counters of rules
 * that keep their NSG, name and direction. Each NIC may hold an equal share
 * of its VNet's conntrack table (conntrack.h quotas). On failure (out of memory) the
 * old configuration stays and cfg is freed. */
int sw_apply(struct sw *sw, struct net_config *cfg);

/* A frame sent by NIC nic's guest. */
void sw_port_input(struct sw *sw, size_t nic, const uint8_t *frame, size_t len, uint64_t now_ms,
                   struct sw_out *out);

/* A frame that arrived over VXLAN (vxlan.h): VNI vni, from the underlay
 * address src (the outer IPv4 source), inner Ethernet frame. */
void sw_vxlan_input(struct sw *sw, uint32_t vni, uint32_t src, const uint8_t *frame, size_t len,
                    uint64_t now_ms, struct sw_out *out);

/* A frame emitted by VNet vnet's NAT towards the VNet. */
void sw_nat_input(struct sw *sw, size_t vnet, const uint8_t *frame, size_t len, uint64_t now_ms,
                  struct sw_out *out);

/* Periodic housekeeping: expire idle flows a few buckets at a time. */
void sw_tick(struct sw *sw, uint64_t now_ms);

/* The metadata service's timers (retransmissions, timeouts): the earliest
 * time sw_nic_timers must run for some NIC (UINT64_MAX: none), and running
 * those of NIC nic that are due. */
uint64_t sw_timer_deadline(const struct sw *sw);
uint64_t sw_nic_deadline(const struct sw *sw, size_t nic);
void sw_nic_timers(struct sw *sw, size_t nic, uint64_t now_ms, struct sw_out *out);

/* The NAT's MAC address for a VNet (libslirp derives it from its address). */
extern const uint8_t sw_nat_mac[6];

#endif
