/*
 * virtio_rng.h - the virtio entropy source (the guest's /dev/hwrng).
 */
#ifndef KUMO_DEVICES_VIRTIO_RNG_H
#define KUMO_DEVICES_VIRTIO_RNG_H

#include <stdint.h>

struct device_model;

/* In a virtio slot of the board (machine/virt.c). */
extern const struct device_model virtio_rng_device;

#endif
