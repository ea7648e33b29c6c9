/*
 * virtio_net.h - a virtio network card attached to a host back end
 * (user-mode NAT, or a port on kumo-switch; see netdev.h).
 */
#ifndef KUMO_DEVICES_VIRTIO_NET_H
#define KUMO_DEVICES_VIRTIO_NET_H

#include <stdint.h>

struct device_model;

struct net_config {
    const char *backend; /* "user[,hostfwd=...]" or "switch=PATH,nic=ID" */
    uint8_t mac[6];
};

struct vnet;

struct nic_stats {
    _Atomic uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes;
    uint64_t rx_dropped, tx_dropped;
};

void virtio_net_get_stats(struct vnet *v, struct nic_stats *out);

/* In a virtio slot of the board (machine/virt.c), with a struct net_config
 * as its argument; it is added to m->nics. */
extern const struct device_model virtio_net_device;

#endif
