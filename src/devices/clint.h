/*
 * clint.h - the SiFive Core-Local Interruptor: per-hart software interrupt
 * (msip) and timer comparator (mtimecmp), and the shared mtime counter.
 * Layout (QEMU virt / SiFive): msip at +0 (4 bytes per hart), mtimecmp at
 * +0x4000 (8 bytes per hart), mtime at +0xbff8.
 */
#ifndef KUMO_DEVICES_CLINT_H
#define KUMO_DEVICES_CLINT_H

#include <stdint.h>

struct device_model;

#define CLINT_SIZE 0x10000

/* The board attaches it from its table (machine/device.h). */
extern const struct device_model clint_device;

#endif
