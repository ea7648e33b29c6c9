/*
 * virtio_rng.h - the virtio entropy source (the guest's /dev/hwrng).
 */
#ifndef KUMO_DEVICES_VIRTIO_RNG_H
#define KUMO_DEVICES_VIRTIO_RNG_H

#include <stdint.h>

struct machine;
struct plic;

int virtio_rng_attach(struct machine *m, uint64_t base, struct plic *plic, unsigned irq);

#endif
