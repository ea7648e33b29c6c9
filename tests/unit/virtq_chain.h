/*
 * virtq_chain.h - a test driver for virtio-mmio devices: sets a device up
 * through its registers as a guest driver would, lays out a split
 * virtqueue's rings in (fake) guest RAM, builds descriptor chains of guest
 * buffers there, publishes them and reads the used ring back. Everything
 * goes through the machine's bus (machine_read/machine_write) and guest RAM
 * (machine_host_ptr), never through the device's internals.
 *
 * Rings are placed at `ring_at` (descriptor table, then the available ring,
 * then the used ring, each aligned); buffers come after them.
 */
#ifndef KUMO_TESTS_UNIT_VIRTQ_CHAIN_H
#define KUMO_TESTS_UNIT_VIRTQ_CHAIN_H

#include "devices/virtio.h"
#include "machine/machine.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* virtio-mmio register offsets (virtio 1.x, 4.2.2) */
enum {
    VQ_MAGIC = 0x000,
    VQ_VERSION = 0x004,
    VQ_DEVICE_ID = 0x008,
    VQ_VENDOR_ID = 0x00c,
    VQ_DEVICE_FEATURES = 0x010,
    VQ_DEVICE_FEATURES_SEL = 0x014,
    VQ_DRIVER_FEATURES = 0x020,
    VQ_DRIVER_FEATURES_SEL = 0x024,
    VQ_QUEUE_SEL = 0x030,
    VQ_QUEUE_NUM_MAX = 0x034,
    VQ_QUEUE_NUM = 0x038,
    VQ_QUEUE_READY = 0x044,
    VQ_QUEUE_NOTIFY = 0x050,
    VQ_INTERRUPT_STATUS = 0x060,
    VQ_INTERRUPT_ACK = 0x064,
    VQ_STATUS = 0x070,
    VQ_QUEUE_DESC_LOW = 0x080,
    VQ_QUEUE_DESC_HIGH = 0x084,
    VQ_QUEUE_DRIVER_LOW = 0x090,
    VQ_QUEUE_DRIVER_HIGH = 0x094,
    VQ_QUEUE_DEVICE_LOW = 0x0a0,
    VQ_QUEUE_DEVICE_HIGH = 0x0a4,
    VQ_CONFIG_GENERATION = 0x0fc,
};

struct vq_chain {
    struct machine *m;
    uint64_t mmio; /* the transport's base address */
    unsigned q, num;
    uint64_t desc, avail, used; /* guest addresses of the rings */
    uint64_t next_buf;          /* where the next buffer goes */
    uint16_t next_desc;         /* next free descriptor */
    uint16_t avail_idx;         /* shadow of avail->idx */
};

/* One buffer of a chain: len bytes, device-writable or not; gpa is filled
 * in by vq_add_chain. */
struct vq_buf {
    uint32_t len;
    bool write;
    uint64_t gpa;
};

static inline uint32_t vq_reg(const struct vq_chain *c, uint64_t off)
{
    uint64_t v = 0;
    machine_read(c->m, c->mmio + off, 4, &v);
    return (uint32_t)v;
}

static inline void vq_set_reg(const struct vq_chain *c, uint64_t off, uint32_t val)
{
    machine_write(c->m, c->mmio + off, 4, val);
}

static inline void *vq_ram(const struct vq_chain *c, uint64_t gpa, uint64_t len)
{
    return machine_host_ptr(c->m, gpa, len);
}

static inline void vq_init(struct vq_chain *c, struct machine *m, uint64_t mmio)
{
    memset(c, 0, sizeof(*c));
    c->m = m;
    c->mmio = mmio;
}

/* Reset the device and negotiate `features` (VERSION_1 is added): true when
 * the device accepted them (FEATURES_OK stayed set). */
static inline bool vq_negotiate(struct vq_chain *c, uint64_t features)
{
    features |= VIRTIO_F_VERSION_1;
    vq_set_reg(c, VQ_STATUS, 0);
    vq_set_reg(c, VQ_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    for (uint32_t sel = 0; sel < 2; sel++) {
        vq_set_reg(c, VQ_DRIVER_FEATURES_SEL, sel);
        vq_set_reg(c, VQ_DRIVER_FEATURES, (uint32_t)(features >> (32 * sel)));
    }
    vq_set_reg(c, VQ_STATUS,
               VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
    return (vq_reg(c, VQ_STATUS) & VIRTIO_STATUS_FEATURES_OK) != 0;
}

/* Lay out queue q with num entries at ring_at (16-byte aligned), make it
 * ready and the device running (DRIVER_OK). After vq_negotiate. */
static inline void vq_setup(struct vq_chain *c, unsigned q, unsigned num, uint64_t ring_at)
{
    c->q = q;
    c->num = num;
    c->desc = ring_at;
    c->avail = (c->desc + 16ull * num + 1) & ~1ull;
    c->used = (c->avail + 6 + 2ull * num + 3) & ~3ull;
    c->next_buf = (c->used + 6 + 8ull * num + 4095) & ~4095ull;
    c->next_desc = 0;
    c->avail_idx = 0;
    memset(vq_ram(c, ring_at, c->next_buf - ring_at), 0, c->next_buf - ring_at);
    vq_set_reg(c, VQ_QUEUE_SEL, q);
    vq_set_reg(c, VQ_QUEUE_NUM, num);
    vq_set_reg(c, VQ_QUEUE_DESC_LOW, (uint32_t)c->desc);
    vq_set_reg(c, VQ_QUEUE_DESC_HIGH, (uint32_t)(c->desc >> 32));
    vq_set_reg(c, VQ_QUEUE_DRIVER_LOW, (uint32_t)c->avail);
    vq_set_reg(c, VQ_QUEUE_DRIVER_HIGH, (uint32_t)(c->avail >> 32));
    vq_set_reg(c, VQ_QUEUE_DEVICE_LOW, (uint32_t)c->used);
    vq_set_reg(c, VQ_QUEUE_DEVICE_HIGH, (uint32_t)(c->used >> 32));
    vq_set_reg(c, VQ_QUEUE_READY, 1);
    vq_set_reg(c, VQ_STATUS, vq_reg(c, VQ_STATUS) | VIRTIO_STATUS_DRIVER_OK);
}

/* Write descriptor i of the table at `table` (the queue's, or an indirect one). */
static inline void vq_write_desc(struct vq_chain *c, uint64_t table, unsigned i, uint64_t addr,
                                 uint32_t len, uint16_t flags, uint16_t next)
{
    uint8_t *d = vq_ram(c, table + 16ull * i, 16);
    memcpy(d, &addr, 8);
    memcpy(d + 8, &len, 4);
    memcpy(d + 12, &flags, 2);
    memcpy(d + 14, &next, 2);
}

/* Room for n bytes of guest RAM (buffers, indirect tables), zeroed. */
static inline uint64_t vq_alloc(struct vq_chain *c, uint64_t n)
{
    uint64_t at = c->next_buf;
    c->next_buf = (c->next_buf + n + 15) & ~15ull;
    memset(vq_ram(c, at, n), 0, n);
    return at;
}

/* Put head in the available ring (does not notify). */
static inline void vq_publish(struct vq_chain *c, uint16_t head)
{
    uint16_t *ring = vq_ram(c, c->avail, 4 + 2ull * c->num);
    ring[2 + c->avail_idx % c->num] = head;
    c->avail_idx++;
    __atomic_store_n(&ring[1], c->avail_idx, __ATOMIC_RELEASE);
}

/* Build a chain of the n buffers in the queue's descriptor table, with
 * fresh guest memory for each, and publish it. Returns its head. */
static inline uint16_t vq_add_chain(struct vq_chain *c, struct vq_buf *b, int n)
{
    uint16_t head = c->next_desc;
    for (int k = 0; k < n; k++) {
        uint16_t i = (uint16_t)((head + k) % c->num);
        b[k].gpa = vq_alloc(c, b[k].len);
        uint16_t flags =
            (uint16_t)((b[k].write ? VIRTQ_DESC_F_WRITE : 0) | (k + 1 < n ? VIRTQ_DESC_F_NEXT : 0));
        vq_write_desc(c, c->desc, i, b[k].gpa, b[k].len, flags, (uint16_t)((i + 1) % c->num));
    }
    c->next_desc = (uint16_t)((head + n) % c->num);
    vq_publish(c, head);
    return head;
}

static inline void vq_kick(struct vq_chain *c)
{
    vq_set_reg(c, VQ_QUEUE_NOTIFY, c->q);
}

static inline uint16_t vq_used_idx(struct vq_chain *c)
{
    const uint16_t *u = vq_ram(c, c->used, 4);
    return __atomic_load_n(&u[1], __ATOMIC_ACQUIRE);
}

/* Used entry k: the chain's head and the bytes the device wrote. */
static inline void vq_used_elem(struct vq_chain *c, unsigned k, uint32_t *id, uint32_t *len)
{
    const uint8_t *e = vq_ram(c, c->used + 4 + 8ull * (k % c->num), 8);
    memcpy(id, e, 4);
    memcpy(len, e + 4, 4);
}

/* The driver's used_event (EVENT_IDX): interrupt when the used index passes it. */
static inline void vq_set_used_event(struct vq_chain *c, uint16_t v)
{
    uint16_t *ring = vq_ram(c, c->avail, 6 + 2ull * c->num);
    __atomic_store_n(&ring[2 + c->num], v, __ATOMIC_RELEASE);
}

/* The device's avail_event (EVENT_IDX): how far it has read the available ring. */
static inline uint16_t vq_avail_event(struct vq_chain *c)
{
    const uint16_t *u = vq_ram(c, c->used + 4 + 8ull * c->num, 2);
    return __atomic_load_n(u, __ATOMIC_ACQUIRE);
}

#endif
