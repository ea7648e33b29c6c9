/*
 * plic.h - the Platform-Level Interrupt Controller (SiFive PLIC, as on QEMU
 * virt): 95 level-triggered sources, priorities 0-7, and two contexts per
 * hart (M-mode then S-mode) with enable bits, a threshold and claim/complete.
 *
 * Devices call plic_set_level() from any thread; the PLIC drives MEIP/SEIP
 * of the harts.
 */
#ifndef KUMO_DEVICES_PLIC_H
#define KUMO_DEVICES_PLIC_H

#include <stdbool.h>
#include <stdint.h>

struct device_model;
struct machine;
struct plic;

#define PLIC_NDEV 95
#define PLIC_SIZE 0x600000

/* The board attaches it from its table (machine/device.h), before the
 * devices wired to it; it becomes m->plic. */
extern const struct device_model plic_device;

/* A PLIC at base on its own (fuzzing, tests): for m's harts, which must
 * exist already; freed by plic_free. NULL when out of memory or the region
 * is taken. */
struct plic *plic_attach(struct machine *m, uint64_t base);
void plic_free(struct plic *p);
void plic_set_level(struct plic *p, unsigned source, bool level);

#endif
