/*
 * virt.h - the "virt" board, compatible with QEMU's riscv64 virt machine:
 * its devices (one table, virt_devices[]: a row per device with its
 * place and its model, read by the bus setup and the device tree), its
 * virtio-mmio slots and what goes in them, and the assembly of harts and
 * devices into a machine.
 */
#ifndef KUMO_MACHINE_VIRT_H
#define KUMO_MACHINE_VIRT_H

#include "devices/virtio_blk.h"
#include "devices/virtio_net.h"
#include "machine/device.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct machine;
struct console;

/* Memory: the reset vector ROM (a row of the table) and RAM. */
#define VIRT_MROM_BASE 0x1000ull
#define VIRT_MROM_SIZE 0xf000ull
#define VIRT_DRAM_BASE 0x80000000ull

/* A device of the board: its place and its model (the device's file). */
struct virt_device {
    struct device_slot at;
    const struct device_model *model;
};

/* Every device but RAM and the virtio slots, in device-tree order. */
extern const struct virt_device virt_devices[];
extern const size_t virt_ndevices;

/* The row holding `model` (the first), or NULL. */
const struct virt_device *virt_find(const struct device_model *model);

/* virtio-mmio transports: slot i is 4 KiB at VIRT_VIRTIO_BASE + i * 4 KiB
 * on PLIC source VIRT_VIRTIO_IRQ + i. Disks and then NICs take the slots
 * from 0 up (the first disk is vda); the board's own virtio devices
 * (virt.c's list: entropy source, balloon, guest channel) take the free
 * ones from the last down; the rest answer "no device". */
#define VIRT_VIRTIO_BASE 0x10001000ull
#define VIRT_VIRTIO_IRQ 1
#define VIRT_VIRTIO_COUNT 8
/* Disks and NICs together; the entropy source and the balloon always keep
 * their slots, the guest channel only when one is left. */
#define VIRT_MAX_DEVICES (VIRT_VIRTIO_COUNT - 2)
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

/* What each virtio slot holds for a configuration, and its place. */
struct virt_virtio_slots {
    struct device_slot at[VIRT_VIRTIO_COUNT];
    const struct device_model *model[VIRT_VIRTIO_COUNT];
    const void *arg[VIRT_VIRTIO_COUNT]; /* the model's configuration, or NULL */
};

/* Fill `s` for cfg; -1 with a message when the disks and NICs do not fit. */
int virt_virtio_slots(const struct virt_config *cfg, struct virt_virtio_slots *s);

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
