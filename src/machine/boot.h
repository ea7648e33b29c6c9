/*
 * boot.h - putting a guest into a freshly built machine: a bare-metal ELF,
 * a Linux kernel booted directly (the VMM acting as SBI firmware), or M-mode
 * firmware (OpenSBI) started from the reset vector as on QEMU.
 */
#ifndef KUMO_MACHINE_BOOT_H
#define KUMO_MACHINE_BOOT_H

#include <stdint.h>

struct machine;
struct virt_config;

struct boot_config {
    const char *elf;      /* bare-metal program (M-mode, HTIF) */
    const char *kernel;   /* Linux Image (or a raw S-mode binary) */
    const char *initrd;
    const char *append;   /* kernel command line */
    const char *bios;     /* M-mode firmware: boots from the reset vector */
    const char *dump_dtb; /* write the device tree here */
};

/* Kernel load offset from the start of RAM (Linux RV64 Image text_offset). */
#define BOOT_KERNEL_OFFSET 0x200000ull

/* Load everything and set every hart's start state. Returns 0, or -1 after
 * printing what is wrong and how to fix it. */
int boot_load(struct machine *m, const struct virt_config *vc, const struct boot_config *bc);

#endif
