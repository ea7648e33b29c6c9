/*
 * fuzz_dev.h - a fake guest for the virtio device harnesses (fuzz_dev_*.c):
 * guest RAM on a machine with a PLIC, one device on the virtio-mmio
 * transport, and a driver whose every move comes from the fuzz input.
 *
 * The input is a header (features, queue sizes and ring placement) and then
 * a stream of operations, each an opcode byte and its operands:
 *   write a descriptor (address mostly in RAM, sometimes across its end, in
 *   the device's own MMIO window or anywhere; any length, flags and next:
 *   loops, indirect tables, oversized chains), make a head available (or
 *   move the avail index anywhere), notify a queue, write or read any
 *   register with any size and alignment, write raw bytes into RAM, and a
 *   device-specific operation (a received frame, a balloon target...).
 * Every path must end in served requests or a device in NEEDS_RESET, never
 * in an access outside guest RAM (ASan), undefined behaviour (UBSan), a
 * hang or a crash. Notifications are served synchronously on the harness's
 * thread (devices with a worker get a notify that does the worker's job),
 * so runs are reproducible.
 */
#ifndef KUMO_FUZZ_DEV_H
#define KUMO_FUZZ_DEV_H

#include "devices/plic.h"
#include "devices/virtio.h"
#include "machine/device.h"
#include "machine/machine.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FD_RAM_BASE 0x80000000ull
#define FD_RAM_SIZE (256u * 1024)
#define FD_MMIO     0x10001000ull
#define FD_IRQ      1
#define FD_QSTRIDE  0x10000u /* each queue's rings and buffers: RAM + q * stride */
#define FD_MAX_OPS  256

static struct machine *fd_m;
static struct plic *fd_plic;
static uint64_t fd_base = FD_MMIO; /* the device being driven */

struct fd_in {
    const uint8_t *p;
    size_t n;
};

static uint64_t fd_bytes(struct fd_in *in, int k)
{
    uint64_t v = 0;
    for (int i = 0; i < k; i++) {
        uint8_t b = 0;
        if (in->n) {
            b = *in->p++;
            in->n--;
        }
        v |= (uint64_t)b << (8 * i);
    }
    return v;
}
#define fd_u8(in)  ((uint8_t)fd_bytes(in, 1))
#define fd_u16(in) ((uint16_t)fd_bytes(in, 2))
#define fd_u32(in) ((uint32_t)fd_bytes(in, 4))
#define fd_u64(in) fd_bytes(in, 8)

static void fd_init(void)
{
    fd_m = machine_new(FD_RAM_BASE, FD_RAM_SIZE);
    fd_plic = plic_attach(fd_m, 0xc000000);
    fd_m->plic = fd_plic;
}

/* Attach a device model in virtio slot k (FD_MMIO + k pages, IRQ 1 + k). */
static void fd_attach(const struct device_model *model, int k, const void *arg)
{
    struct device_slot at = {.name = "virtio_mmio",
                             .base = FD_MMIO + 0x1000u * (unsigned)k,
                             .size = 0x1000,
                             .irq = 1u + (unsigned)k};
    if (model->attach(fd_m, &at, arg) < 0) abort();
}

static void fd_reg(uint64_t off, int size, uint64_t val)
{
    machine_write(fd_m, fd_base + off, size, val);
}

static uint64_t fd_read(uint64_t off, int size)
{
    uint64_t v = 0;
    machine_read(fd_m, fd_base + off, size, &v);
    return v;
}

/* A guest-physical address from 32 bits of input. */
static uint64_t fd_addr(uint32_t v)
{
    switch (v >> 30) {
    case 0: return FD_RAM_BASE + (v % FD_RAM_SIZE);                 /* in RAM */
    case 1: return FD_RAM_BASE + FD_RAM_SIZE - (v & 0xfff);         /* across its end */
    case 2: return fd_base + (v & 0x1ff);                           /* the device itself */
    default: return (uint64_t)(v & 0x3fffffffu) << (v & 3 ? 4 : 0); /* anywhere */
    }
}

/* Host view of RAM at offset off (bounded by the caller's len). */
static uint8_t *fd_ram(uint64_t off, size_t len)
{
    if (off >= FD_RAM_SIZE || len > FD_RAM_SIZE - off) return NULL;
    return fd_m->ram + off;
}

struct fd_queue {
    uint16_t num; /* what the driver set (may be invalid) */
    uint16_t avail_idx;
};
static struct fd_queue fd_q[VIRTIO_MAX_QUEUES];

/* Reset and set the device up as the header says. */
static void fd_setup(struct virtio_dev *vd, struct fd_in *in)
{
    memset(fd_m->ram, 0, FD_RAM_SIZE);
    fd_reg(0x070, 4, 0); /* reset */
    uint8_t how = fd_u8(in);
    fd_reg(0x070, 4, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    fd_reg(0x014, 4, 0);
    uint32_t offered_lo = (uint32_t)fd_read(0x010, 4);
    fd_reg(0x014, 4, 1);
    uint32_t offered_hi = (uint32_t)fd_read(0x010, 4);
    uint32_t lo = fd_u32(in), hi = fd_u32(in);
    if (!(how & 1)) { /* mostly a well-behaved driver: a subset of what is offered */
        lo &= offered_lo;
        hi = (hi & offered_hi) | 1; /* VERSION_1 */
    }
    fd_reg(0x024, 4, 0);
    fd_reg(0x020, 4, lo);
    fd_reg(0x024, 4, 1);
    fd_reg(0x020, 4, hi);
    fd_reg(0x070, 4, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
    for (unsigned q = 0; q < vd->nqueues && q < VIRTIO_MAX_QUEUES; q++) {
        fd_reg(0x030, 4, q);
        uint16_t num = fd_u16(in);
        if (!(how & 2)) num = (uint16_t)(1u << (num % 9)); /* 1..256, a power of two */
        fd_q[q] = (struct fd_queue){.num = num};
        fd_reg(0x038, 4, num);
        uint64_t base = FD_RAM_BASE + (uint64_t)q * FD_QSTRIDE;
        uint64_t desc = base, avail = base + 0x4000, used = base + 0x6000;
        if (how & 4) { /* misplaced rings */
            desc = fd_addr(fd_u32(in));
            avail = fd_addr(fd_u32(in));
            used = fd_addr(fd_u32(in));
        }
        fd_reg(0x080, 4, (uint32_t)desc);
        fd_reg(0x084, 4, desc >> 32);
        fd_reg(0x090, 4, (uint32_t)avail);
        fd_reg(0x094, 4, avail >> 32);
        fd_reg(0x0a0, 4, (uint32_t)used);
        fd_reg(0x0a4, 4, used >> 32);
        fd_reg(0x044, 4, 1);
    }
    fd_reg(0x070, 4,
           VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
               VIRTIO_STATUS_DRIVER_OK);
}

/* Run the operation stream; device_op handles opcode 7 (may be NULL). */
static void fd_run(struct virtio_dev *vd, struct fd_in *in, void (*device_op)(struct fd_in *in))
{
    for (int ops = 0; in->n && ops < FD_MAX_OPS; ops++) {
        uint8_t op = fd_u8(in);
        unsigned q = (op >> 4) % (vd->nqueues ? vd->nqueues : 1);
        uint64_t qoff = (uint64_t)q * FD_QSTRIDE;
        switch (op & 7) {
        case 0: { /* a descriptor: {addr, len, flags, next} */
            uint16_t i = fd_u16(in) % 512;
            uint64_t addr = fd_addr(fd_u32(in));
            uint32_t len = fd_u32(in);
            if (!(op & 8)) len &= 0x1fff; /* usually small */
            uint16_t flags = fd_u16(in), next = fd_u16(in);
            if (!(op & 8)) flags &= 7, next %= 512;
            uint8_t *d = fd_ram(qoff + (uint64_t)i * 16, 16);
            if (d) {
                memcpy(d, &addr, 8);
                memcpy(d + 8, &len, 4);
                memcpy(d + 12, &flags, 2);
                memcpy(d + 14, &next, 2);
            }
            break;
        }
        case 1: { /* make a head available (or move the index anywhere) */
            uint16_t head = fd_u16(in);
            uint16_t *avail = (uint16_t *)fd_ram(qoff + 0x4000, 4 + 2 * 1024);
            struct fd_queue *fq = &fd_q[q];
            if (!avail) break;
            if (op & 8) {
                fq->avail_idx = fd_u16(in);
            } else {
                uint16_t num = fq->num ? fq->num : 1;
                if (num <= 1024) avail[2 + fq->avail_idx % num] = head % 512;
                fq->avail_idx++;
            }
            __atomic_store_n(&avail[1], fq->avail_idx, __ATOMIC_RELEASE);
            break;
        }
        case 2: fd_reg(0x050, 4, (op & 8) ? fd_u8(in) : q); break; /* notify */
        case 3: { /* any register, any size, any alignment */
            uint16_t off = fd_u16(in) % 0x200;
            int size = 1 << (fd_u8(in) % 4);
            fd_reg(off, size, fd_u64(in));
            break;
        }
        case 4: { /* read a register */
            uint16_t off = fd_u16(in) % 0x200;
            (void)fd_read(off, 1 << (fd_u8(in) % 4));
            break;
        }
        case 5: { /* raw bytes into RAM */
            uint32_t off = fd_u32(in) % FD_RAM_SIZE;
            size_t len = fd_u8(in);
            uint8_t *dst = fd_ram(off, len);
            for (size_t k = 0; dst && k < len; k++)
                dst[k] = fd_u8(in);
            break;
        }
        case 6: { /* used_event / avail flags */
            uint16_t *avail = (uint16_t *)fd_ram(qoff + 0x4000, 4 + 2 * 1025);
            uint16_t num = fd_q[q].num && fd_q[q].num <= 1024 ? fd_q[q].num : 1;
            if (!avail) break;
            if (op & 8)
                avail[0] = fd_u16(in);
            else
                avail[2 + num] = fd_u16(in);
            break;
        }
        case 7:
            if (device_op) device_op(in);
            break;
        }
    }
}

#endif
