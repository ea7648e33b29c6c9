/*
 * fuzz_virtq.c - libFuzzer harness for the virtio-mmio transport and the
 * split virtqueue parser (src/devices/virtio_mmio.c): the guest controls the
 * rings, descriptors, lengths, addresses and register writes, so any input
 * must end in served requests or a device marked NEEDS_RESET, never in an
 * access outside guest RAM (ASan watches) or undefined behaviour.
 *
 * Input: a few header bytes choose the queue size, ring addresses, features
 * and how the device answers; the rest is copied into guest RAM, where the
 * rings and descriptors live.
 */
#include "devices/plic.h"
#include "devices/virtio.h"
#include "machine/machine.h"

#include <stdlib.h>
#include <string.h>

#define RAM_BASE 0x80000000ull
#define RAM_SIZE (64 * 1024)
#define MMIO_BASE 0x10001000ull

static struct machine *m;
static struct virtio_dev dev;
static uint32_t answer; /* bytes the device claims to have written */

static void notify(struct virtio_dev *vd, unsigned q)
{
    static struct virtq_req req;
    virtio_lock(vd);
    for (int k = 0; k < 64; k++) {
        int got = virtq_pop(vd, q, &req);
        if (got != 1) break;
        /* touch every buffer the way a device would */
        for (unsigned i = 0; i < req.nout; i++)
            if (req.out[i].iov_len) (void)*(volatile uint8_t *)req.out[i].iov_base;
        uint32_t written = 0;
        for (unsigned i = 0; i < req.nin && written < answer; i++) {
            size_t n = req.in[i].iov_len;
            if (n > answer - written) n = answer - written;
            memset(req.in[i].iov_base, 0xa5, n);
            written += (uint32_t)n;
        }
        virtq_push(vd, q, &req, written);
    }
    virtq_notify(vd, q);
    virtio_unlock(vd);
}

static const struct virtio_device_ops ops = {.notify = notify};

static void reg(uint64_t off, uint32_t val)
{
    machine_write(m, MMIO_BASE + off, 4, val);
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!m) {
        m = machine_new(RAM_BASE, RAM_SIZE);
        struct plic *p = plic_attach(m, 0xc000000);
        dev.device_id = 42;
        dev.nqueues = 2;
        dev.queue_max = 256;
        dev.ops = &ops;
        virtio_mmio_attach(m, &dev, MMIO_BASE, p, 1);
    }
    if (size < 24) return 0;
    uint32_t num = rd32(data) & 0x1ff;          /* may be invalid on purpose */
    uint32_t desc = rd32(data + 4) % RAM_SIZE;  /* offsets into RAM (may be out of range) */
    uint32_t avail = rd32(data + 8) % (RAM_SIZE + 64);
    uint32_t used = rd32(data + 12) % (RAM_SIZE + 64);
    uint32_t feat_hi = rd32(data + 16) & 1, feat_lo = rd32(data + 16) & (3u << 28);
    answer = rd32(data + 20) & 0xffff;
    memset(m->ram, 0, RAM_SIZE);
    memcpy(m->ram, data + 24, size - 24 < RAM_SIZE ? size - 24 : RAM_SIZE);

    reg(0x070, 0); /* reset */
    reg(0x070, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    reg(0x024, 0);
    reg(0x020, feat_lo);
    reg(0x024, 1);
    reg(0x020, feat_hi);
    reg(0x070, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
    for (unsigned q = 0; q < 2; q++) {
        reg(0x030, q);
        reg(0x038, num);
        reg(0x080, (uint32_t)(RAM_BASE + desc));
        reg(0x084, 0);
        reg(0x090, (uint32_t)(RAM_BASE + avail));
        reg(0x094, 0);
        reg(0x0a0, (uint32_t)(RAM_BASE + used));
        reg(0x0a4, 0);
        reg(0x044, 1);
    }
    reg(0x070, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
                   VIRTIO_STATUS_DRIVER_OK);
    reg(0x050, 0);
    reg(0x050, 1);
    reg(0x050, 7); /* no such queue */
    uint64_t v;
    machine_read(m, MMIO_BASE + 0x060, 4, &v);
    reg(0x064, (uint32_t)v);
    return 0;
}
