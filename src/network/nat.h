/*
 * nat.h - each VNet's way out: a libslirp instance that NATs the VNet's
 * outbound flows onto host sockets, resolves DNS for the platform address
 * 168.63.129.16, and forwards public IP ports (host address:port) to NIC
 * private addresses (slirp "hostfwd").
 *
 * libslirp sees a small network of its own, 168.63.129.0/24, with itself at
 * 168.63.129.1 and the resolver at .16; it has no DHCP (the switch serves
 * DHCP), no IPv6, and no access to the host's loopback. Everything it
 * exchanges with the VNet goes through the switch's NSG and conntrack
 * (sw_port_input / sw_nat_input), the switch answering its ARP requests for
 * NIC addresses with the gateway's MAC.
 *
 * Instances are kept by VNet name across configuration changes, so NATed
 * connections survive NSG and NIC edits.
 */
#ifndef KUMO_NETWORK_NAT_H
#define KUMO_NETWORK_NAT_H

#include "network/config.h"
#include "network/pollset.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct nat;

/* Called with each frame a VNet's NAT emits towards the VNet. */
typedef void (*nat_deliver_fn)(void *opaque, size_t vnet, const uint8_t *frame, size_t len);

struct nat *nat_create(nat_deliver_fn deliver, void *opaque);
void nat_destroy(struct nat *nat);

/* Make the instances and public IP forwards match cfg: one instance per
 * VNet, one forward per port of each public IP assigned to a NIC. A host
 * port that cannot be listened on (another program has it) fails only its
 * own forward: the rest applies, nat_failures() lists it, and the next
 * nat_sync() tries it again. -1 (with a message) only when an instance
 * cannot be made or memory runs out; nothing has changed then. */
int nat_sync(struct nat *nat, const struct net_config *cfg, char *err, size_t errlen);

/* A public IP port whose forward the last nat_sync() could not make:
 * indices into that configuration's pips[] and their ports[], and the
 * errno of the listen (EADDRINUSE, EACCES...). */
struct nat_failure {
    size_t pip, port;
    int err;
};
size_t nat_failures(const struct nat *nat, const struct nat_failure **out);

/* A frame from the VNet (index in the configuration last synced) to its
 * NAT. Queued (at most a few hundred frames per VNet; more are dropped and
 * counted) and fed to libslirp by nat_flush(), never from inside a libslirp
 * callback. */
void nat_output(struct nat *nat, size_t vnet, const uint8_t *frame, size_t len);

/* Feed queued frames to libslirp. Returns true if any were fed (the caller
 * should then poll without sleeping once, so that libslirp sends what it
 * held back waiting for an ARP answer). */
bool nat_flush(struct nat *nat);

/* Event loop integration: add libslirp's descriptors to ps and lower
 * *timeout_ms to its next timer; then, after poll(), let it handle them. */
void nat_fill(struct nat *nat, struct pollset *ps, int *timeout_ms);
void nat_poll(struct nat *nat, struct pollset *ps, bool poll_failed);

uint64_t nat_queue_drops(const struct nat *nat);

#endif
