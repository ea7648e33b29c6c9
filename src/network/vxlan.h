/*
 * vxlan.h - VNets across hosts: VXLAN (RFC 7348) between kumo-switches.
 *
 * Each VNet that spans hosts has a VNI (24 bits); a switch sends an inner
 * Ethernet frame to another host as one UDP datagram to its underlay
 * address, port 4789 (IANA's; the configuration's underlay port), with the
 * 8-byte VXLAN header in front:
 *
 *     flags (8: the I bit 0x08 set, the rest 0) | reserved (24)
 *     VNI (24)                                  | reserved (8)
 *
 * On receipt only the I bit is checked; the reserved bits are ignored, as
 * the RFC says. So Linux's own vxlan device (ip link add ... type vxlan id
 * VNI dstport 4789) interoperates with kumo-switch.
 *
 * Which host has which address: the configuration names every NIC of the
 * VNet that lives on another host (a NIC with "host", fed by kumod's
 * control plane); endpoints that are not in it (a Linux vxlan device, a
 * host not yet known) are learned from what they send over VXLAN (ARP and
 * IPv4 sources, never an address or MAC a configured NIC has), and an ARP
 * request of a local NIC for an address nobody is known to have is
 * replicated to the VNet's flood list (head-end replication). Nothing but
 * ARP is flooded; broadcasts stay dropped (docs/network.md, "The model").
 *
 * Policy: a NIC's NSGs are enforced by its own host's switch (outbound
 * when it sends, inbound when a frame for it arrives), each switch with
 * its own connection tracking; DHCP, DNS and the metadata service are
 * answered by the NIC's own switch.
 */
#ifndef KUMO_NETWORK_VXLAN_H
#define KUMO_NETWORK_VXLAN_H

#include "network/switch.h"

#include <stddef.h>
#include <stdint.h>

#define VXLAN_HLEN    8
#define VXLAN_FLAG_I  0x08
#define VXLAN_VNI_MAX 0xffffffu

/* Largest datagram the switch sends or reads: header + largest frame. */
#define VXLAN_DGRAM_MAX (VXLAN_HLEN + NET_FRAME_MAX)

enum vxlan_error {
    VXLAN_OK = 0,
    VXLAN_SHORT,  /* shorter than the header plus an Ethernet header */
    VXLAN_NO_VNI, /* the I flag is not set: no valid VNI */
};

/* The VNI and inner frame of the UDP payload pkt (len bytes). */
enum vxlan_error vxlan_decap(const uint8_t *pkt, size_t len, uint32_t *vni, const uint8_t **inner,
                             size_t *inner_len);

/* The header for vni (at most VXLAN_VNI_MAX). */
void vxlan_header(uint8_t hdr[VXLAN_HLEN], uint32_t vni);

/* ---- endpoints learned over VXLAN (one table per VNet) ---- */

#define VX_LEARN_MAX    256    /* entries per VNet; the oldest is replaced */
#define VX_LEARN_AGE_MS 300000 /* an entry not refreshed for 5 minutes is forgotten */

struct vx_entry {
    uint32_t ip;
    uint8_t mac[6];
    uint32_t host; /* underlay address it was seen from */
    uint64_t seen_ms;
};

struct vx_table {
    size_t n;
    struct vx_entry e[VX_LEARN_MAX];
};

void vx_table_free(struct vx_table *t);
/* Forget entries older than VX_LEARN_AGE_MS. */
void vx_table_expire(struct vx_table *t, uint64_t now_ms);
/* The entry for ip, or NULL. */
const struct vx_entry *vx_table_find(const struct vx_table *t, uint32_t ip);

#endif
