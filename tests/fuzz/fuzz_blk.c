/*
 * fuzz_blk.c - libFuzzer harness for the virtio block device
 * (src/devices/virtio_blk.c) on a real raw image, with its worker pool and
 * two virtqueues: the guest controls the rings, the descriptor chains and
 * every request header (type, sector, lengths, discard and write-zeroes
 * segments), so any input must end in served requests (OK, IOERR or UNSUPP
 * in the status byte) or a device marked NEEDS_RESET, never in a transfer
 * outside guest RAM or the disk (ASan watches) or undefined behaviour.
 *
 * Input: a header chooses the queue size, the ring addresses and the
 * features; the rest is copied into guest RAM, where the rings,
 * descriptors, request headers and data live.
 */
#include "devices/plic.h"
#include "devices/virtio.h"
#include "devices/virtio_blk.h"
#include "machine/device.h"
#include "machine/machine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RAM_BASE  0x80000000ull
#define RAM_SIZE  (64 * 1024)
#define MMIO_BASE 0x10001000ull
#define DISK_SIZE (256 * 1024)

static struct machine *m;
static struct blk *disk;

static void reg(uint64_t off, uint32_t val)
{
    machine_write(m, MMIO_BASE + off, 4, val);
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void setup(void)
{
    char path[] = "/tmp/kumo-fuzz-blk-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0 || ftruncate(fd, DISK_SIZE) < 0) abort();
    close(fd);
    m = machine_new(RAM_BASE, RAM_SIZE);
    m->plic = plic_attach(m, 0xc000000); /* the device interrupts through m->plic */
    struct device_slot at = {.name = "virtio_mmio", .base = MMIO_BASE, .size = 0x1000, .irq = 1};
    struct blk_config cfg = {.path = path, .format = "raw", .serial = "fuzz", .num_queues = 2};
    if (virtio_blk_device.attach(m, &at, &cfg) < 0) abort();
    unlink(path); /* the open image stays */
    disk = m->disks[0];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!m) setup();
    if (size < 24) return 0;
    uint32_t num = rd32(data) & 0x1ff; /* may be invalid on purpose */
    uint32_t desc = rd32(data + 4) % RAM_SIZE;
    uint32_t avail = rd32(data + 8) % (RAM_SIZE + 64);
    uint32_t used = rd32(data + 12) % (RAM_SIZE + 64);
    uint32_t feat_lo = rd32(data + 16), feat_hi = rd32(data + 20) & 1;
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
        /* the second queue's rings sit right after the first's, overlapping at will */
        uint32_t shift = q * 2048;
        reg(0x030, q);
        reg(0x038, num);
        reg(0x080, (uint32_t)(RAM_BASE + (desc + shift) % RAM_SIZE));
        reg(0x084, 0);
        reg(0x090, (uint32_t)(RAM_BASE + (avail + shift) % (RAM_SIZE + 64)));
        reg(0x094, 0);
        reg(0x0a0, (uint32_t)(RAM_BASE + (used + shift) % (RAM_SIZE + 64)));
        reg(0x0a4, 0);
        reg(0x044, 1);
    }
    reg(0x070, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
                   VIRTIO_STATUS_DRIVER_OK);
    reg(0x050, 0);
    reg(0x050, 1);
    virtio_blk_drain(disk); /* every request served before the next input rewrites RAM */
    uint64_t v;
    machine_read(m, MMIO_BASE + 0x060, 4, &v);
    reg(0x064, (uint32_t)v);
    machine_read(m, MMIO_BASE + 0x100, 8, &v); /* capacity */
    machine_read(m, MMIO_BASE + 0x122, 2, &v); /* num_queues */
    return 0;
}
