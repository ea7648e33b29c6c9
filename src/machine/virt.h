/*
 * virt.h - the "virt" board, compatible with QEMU's riscv64 virt machine:
 * its memory map (one table, read by the bus setup and the device tree) and
 * the assembly of harts and devices into a machine.
 */
#ifndef KUMO_MACHINE_VIRT_H
#define KUMO_MACHINE_VIRT_H

#include "devices/virtio_blk.h"
#include "devices/virtio_net.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct machine;
struct console;

enum virt_region {
    VIRT_MROM,
    VIRT_TEST,
    VIRT_RTC,
    VIRT_PVPANIC,
    VIRT_CLINT,
    VIRT_PLIC,
    VIRT_UART0,
    VIRT_VIRTIO,
    VIRT_POWER_BUTTON,
    VIRT_DRAM,
    VIRT_NREGIONS
};

struct virt_memmap_entry {
    const char *name;
    uint64_t base, size;
};

extern const struct virt_memmap_entry virt_memmap[VIRT_NREGIONS];

#define VIRT_UART0_IRQ 10
#define VIRT_RTC_IRQ 11
#define VIRT_VIRTIO_IRQ 1 /* slot i uses IRQ 1 + i */
#define VIRT_VIRTIO_COUNT 8
/* disks and NICs share the slots; the last two are the memory balloon and
 * the entropy source */
#define VIRT_MAX_DEVICES (VIRT_VIRTIO_COUNT - 2)
/* One more virtio-mmio transport past QEMU's eight (in the gap before its
 * fw_cfg at 0x10100000, with the PLIC source QEMU leaves unused): the
 * power button, a virtio input device that every VM has (virtio_input.h). */
#define VIRT_POWER_BUTTON_IRQ 9
#define VIRT_MAX_DISKS VIRT_MAX_DEVICES
#define VIRT_MAX_NICS VIRT_MAX_DEVICES

/* The hart's ISA as the device tree advertises it. */
#define VIRT_ISA_STRING "rv64imafdc_zicsr_zifencei_zba_zbb_zbs_sstc"

struct virt_config {
    uint64_t ram_size;       /* bytes */
    int ncpus;
    int satp_mode;           /* largest MMU mode: 8 Sv39, 9 Sv48, 10 Sv57 */
    bool builtin_sbi;        /* direct kernel boot: the VMM is the SBI firmware */
    struct console *console; /* may be NULL */
    struct blk_config disks[VIRT_MAX_DISKS]; /* in slot order: vda, vdb, ... */
    int ndisks;
    struct net_config nics[VIRT_MAX_NICS];   /* after the disks: eth0, eth1, ... */
    int nnics;
};

/* Build the board: RAM, harts and devices. NULL (after a message) on failure. */
struct machine *virt_create(const struct virt_config *cfg);

struct fdt_params {
    const char *bootargs;
    uint64_t initrd_start, initrd_end; /* 0 when there is no initrd */
};

/* Write the board's flattened device tree into buf; returns its size, or -1
 * with a message when it does not fit. */
int virt_build_fdt(const struct machine *m, const struct virt_config *cfg,
                   const struct fdt_params *p, void *buf, size_t bufsize);

#endif
