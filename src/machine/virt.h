/*
 * virt.h - the "virt" board, compatible with QEMU's riscv64 virt machine:
 * its memory map (one table, read by the bus setup and the device tree) and
 * the assembly of harts and devices into a machine.
 */
#ifndef KUMO_MACHINE_VIRT_H
#define KUMO_MACHINE_VIRT_H

#include <stdint.h>

struct machine;

enum virt_region {
    VIRT_MROM,
    VIRT_TEST,
    VIRT_RTC,
    VIRT_CLINT,
    VIRT_PLIC,
    VIRT_UART0,
    VIRT_VIRTIO,
    VIRT_DRAM,
    VIRT_NREGIONS
};

struct virt_memmap_entry {
    const char *name;
    uint64_t base, size;
};

extern const struct virt_memmap_entry virt_memmap[VIRT_NREGIONS];

struct virt_config {
    uint64_t ram_size; /* bytes */
    int ncpus;
};

/* Build the board: RAM, harts and devices. NULL (after a message) on failure. */
struct machine *virt_create(const struct virt_config *cfg);

#endif
