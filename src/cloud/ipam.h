/*
 * ipam.h - private IP addresses in a subnet, as Azure hands them out: the
 * network address, the next three (.1 is the gateway, .2 and .3 reserved)
 * and the broadcast address are never given to a NIC; dynamic allocation
 * takes the lowest free address. Pure functions.
 */
#ifndef KUMO_CLOUD_IPAM_H
#define KUMO_CLOUD_IPAM_H

#include "network/addr.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IPAM_RESERVED_LOW 4 /* network, gateway, two reserved */

bool ipam_usable(struct net_cidr subnet, uint32_t ip);
uint32_t ipam_gateway(struct net_cidr subnet);
/* Addresses NICs can have (0 for prefixes smaller than /29). */
uint64_t ipam_capacity(struct net_cidr subnet);
/* The lowest usable address not in used[0..n). 0, or -1 when full. */
int ipam_next(struct net_cidr subnet, const uint32_t *used, size_t n, uint32_t *out);

#endif
