/*
 * pvpanic.h - QEMU's pvpanic MMIO device (qemu,pvpanic-mmio): the guest
 * kernel writes to it when it panics, so the VMM can end with a failure
 * status instead of leaving a dead guest spinning.
 */
#ifndef KUMO_DEVICES_PVPANIC_H
#define KUMO_DEVICES_PVPANIC_H

#include <stdint.h>

struct device_model;

#define PVPANIC_SIZE 0x1000
#define PVPANIC_EXIT_CODE 1

/* The board attaches it from its table (machine/device.h). */
extern const struct device_model pvpanic_device;

#endif
