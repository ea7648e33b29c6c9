/*
 * switch_priv.h - what the parts of the data plane share among themselves
 * (switch.c and vxlan.c), not the switch's users: building output frames
 * and the NSG + conntrack policy of a new or tracked flow.
 */
#ifndef KUMO_NETWORK_SWITCH_PRIV_H
#define KUMO_NETWORK_SWITCH_PRIV_H

#include "network/switch.h"

/* Room for one output frame of len bytes to dest/index (host 0), or NULL
 * when the output is full (the frame is then dropped). */
uint8_t *sw_emit(struct sw_out *out, enum sw_dest dest, size_t index, size_t len);

/* Emit the IPv4 packet of f (without Ethernet padding) with destination
 * MAC dst_mac; routed: the source MAC becomes the gateway's and the TTL is
 * decremented. host: the underlay address for SW_TO_VXLAN. The copy, or
 * NULL when the output is full. */
uint8_t *sw_forward(struct sw_out *out, enum sw_dest dest, size_t index, uint32_t host,
                    const struct net_frame *f, const uint8_t dst_mac[6], bool routed);

/* May the IPv4 packet f of VNet v go from src to dst (NIC indexes; -1: a
 * side whose NSGs are not this switch's: the NAT, the Internet, or a NIC
 * on another host)? Tracked flows pass; a new flow is checked against the
 * NSGs of the sides that are this switch's and then tracked. */
bool sw_policy(struct sw *sw, size_t v, const struct net_frame *f, int src, int dst, uint64_t now);

/* vxlan.c's parts of a local NIC's traffic. */

/* An ARP request of local NIC nic for an address of its subnet that no
 * configured NIC has: an endpoint learned over VXLAN sets *mac (false:
 * the caller answers); otherwise the request is replicated to the VNet's
 * flood list (true) when it has one. */
bool vx_port_arp(struct sw *sw, size_t nic, const struct net_frame *f, const uint8_t **mac,
                 struct sw_out *out);

/* Is ip a learned endpoint of VNet v with MAC mac? */
bool vx_learned_mac_is(struct sw *sw, size_t v, uint32_t ip, const uint8_t mac[6]);

/* An IPv4 packet of local NIC nic to an address of its VNet that is not on
 * this host: NIC j (remote) or, j < 0, an endpoint learned over VXLAN.
 * Checked against the sender's outbound NSGs and sent to the host. */
void vx_port_ip(struct sw *sw, size_t nic, const struct net_frame *f, int j, bool routed,
                uint64_t now, struct sw_out *out);

#endif
