/*
 * virtio_mmio.c - the virtio-mmio transport, version 2 (virtio 1.x spec,
 * section 4.2.2), and the split virtqueue (section 2.7) used by all devices.
 */
#include "devices/virtio.h"

#include "devices/plic.h"
#include "lib/log.h"
#include "machine/device.h"
#include "machine/machine.h"
#include "machine/vmstate.h"

#include <assert.h>
#include <string.h>

enum {
    REG_MAGIC = 0x000,
    REG_VERSION = 0x004,
    REG_DEVICE_ID = 0x008,
    REG_VENDOR_ID = 0x00c,
    REG_DEVICE_FEATURES = 0x010,
    REG_DEVICE_FEATURES_SEL = 0x014,
    REG_DRIVER_FEATURES = 0x020,
    REG_DRIVER_FEATURES_SEL = 0x024,
    REG_QUEUE_SEL = 0x030,
    REG_QUEUE_NUM_MAX = 0x034,
    REG_QUEUE_NUM = 0x038,
    REG_QUEUE_READY = 0x044,
    REG_QUEUE_NOTIFY = 0x050,
    REG_INTERRUPT_STATUS = 0x060,
    REG_INTERRUPT_ACK = 0x064,
    REG_STATUS = 0x070,
    REG_QUEUE_DESC_LOW = 0x080,
    REG_QUEUE_DESC_HIGH = 0x084,
    REG_QUEUE_DRIVER_LOW = 0x090,
    REG_QUEUE_DRIVER_HIGH = 0x094,
    REG_QUEUE_DEVICE_LOW = 0x0a0,
    REG_QUEUE_DEVICE_HIGH = 0x0a4,
    REG_SHM_SEL = 0x0ac,
    REG_SHM_LEN_LOW = 0x0b0,
    REG_SHM_LEN_HIGH = 0x0b4,
    REG_SHM_BASE_LOW = 0x0b8,
    REG_SHM_BASE_HIGH = 0x0bc,
    REG_CONFIG_GENERATION = 0x0fc,
    REG_CONFIG = 0x100,
};

#define ISR_USED 1
#define ISR_CONFIG 2
#define VIRTIO_VENDOR 0x6f6d756b /* "kumo" */

/* ---- guest memory ------------------------------------------------------------ */

/* Host pointer for guest RAM [gpa, gpa+len), or NULL: devices may only DMA
 * to RAM, never to ROM or device registers. */
static void *guest_ram(struct machine *m, uint64_t gpa, uint64_t len)
{
    if (!in_ram(m, gpa) || len > m->ram_size || gpa - m->ram_base > m->ram_size - len)
        return NULL;
    return m->ram + (gpa - m->ram_base);
}

/* ---- interrupts ------------------------------------------------------------------ */

static void update_irq(struct virtio_dev *vd)
{
    plic_set_level(vd->plic, vd->irq, atomic_load(&vd->isr) != 0);
}

void virtio_fail(struct virtio_dev *vd, const char *why)
{
    assert(virtio_lock_held(vd));
    static struct log_limit limit; /* a guest may reset and misbehave again, forever */
    if (!(vd->status & VIRTIO_STATUS_NEEDS_RESET))
        log_limited(&limit, LOG_WARN, "virtio device %u at IRQ %u: %s; device needs reset",
                    vd->device_id, vd->irq, why);
    vd->status |= VIRTIO_STATUS_NEEDS_RESET;
    atomic_fetch_or(&vd->isr, ISR_CONFIG);
    update_irq(vd);
}

void virtio_config_changed(struct virtio_dev *vd)
{
    assert(virtio_lock_held(vd));
    vd->config_generation++;
    atomic_fetch_or(&vd->isr, ISR_CONFIG);
    update_irq(vd);
}

bool virtio_running(const struct virtio_dev *vd)
{
    return (vd->status & VIRTIO_STATUS_DRIVER_OK) && !(vd->status & VIRTIO_STATUS_NEEDS_RESET);
}

/* ---- split virtqueues -------------------------------------------------------------- */

static uint16_t load16(const volatile void *p)
{
    return __atomic_load_n((const volatile uint16_t *)p, __ATOMIC_ACQUIRE);
}

struct desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags, next;
};

static void read_desc(const volatile uint8_t *table, unsigned i, struct desc *d)
{
    const volatile uint8_t *p = table + 16 * (size_t)i;
    memcpy(d, (const void *)p, 16); /* little-endian host, same layout */
}

/* Add one guest buffer to the request; false if it is not guest RAM. */
static bool add_buffer(struct virtio_dev *vd, struct virtq_req *r, const struct desc *d)
{
    if (d->len == 0) return true; /* carries nothing: devices never see it */
    void *p = guest_ram(vd->m, d->addr, d->len);
    if (!p) return false;
    if (d->flags & VIRTQ_DESC_F_WRITE) {
        if (r->nin == VIRTQ_MAX_SEGS / 2) return false;
        r->in[r->nin].iov_base = p;
        r->in[r->nin].iov_len = d->len;
        r->in_gpa[r->nin] = d->addr;
        r->nin++;
        r->in_len += d->len;
    } else {
        if (r->nin) return false; /* readable after writable: not allowed (2.7.4.2) */
        if (r->nout == VIRTQ_MAX_SEGS / 2) return false;
        r->out[r->nout].iov_base = p;
        r->out[r->nout].iov_len = d->len;
        r->nout++;
        r->out_len += d->len;
    }
    return true;
}

/* Gather the chain starting at descriptor `head` into r; false after
 * virtio_fail when the guest broke it. */
static bool walk_chain(struct virtio_dev *vd, struct virtqueue *vq, uint16_t head,
                       struct virtq_req *r)
{
    if (head >= vq->num) {
        virtio_fail(vd, "descriptor index out of range");
        return false;
    }
    r->head = head;
    r->nout = r->nin = 0;
    r->out_len = r->in_len = 0;

    const volatile uint8_t *table = vq->desc;
    unsigned table_len = vq->num, i = head, seen = 0;
    bool indirect = false;
    for (;;) {
        struct desc d;
        read_desc(table, i, &d);
        if (++seen > table_len) {
            virtio_fail(vd, "descriptor chain loops");
            return false;
        }
        if (d.flags & VIRTQ_DESC_F_INDIRECT) {
            if (indirect || !(vd->driver_features & VIRTIO_F_INDIRECT_DESC) ||
                (d.flags & VIRTQ_DESC_F_NEXT) || d.len == 0 || d.len % 16 ||
                d.len / 16 > VIRTQ_MAX_SEGS) {
                virtio_fail(vd, "invalid indirect descriptor");
                return false;
            }
            table = guest_ram(vd->m, d.addr, d.len);
            if (!table) {
                virtio_fail(vd, "indirect table outside guest RAM");
                return false;
            }
            table_len = d.len / 16;
            indirect = true;
            i = 0;
            seen = 0;
            continue;
        }
        if (!add_buffer(vd, r, &d)) {
            virtio_fail(vd, "buffer outside guest RAM, too many buffers, or readable after "
                            "writable");
            return false;
        }
        if (!(d.flags & VIRTQ_DESC_F_NEXT)) break;
        i = d.next;
        if (i >= table_len) {
            virtio_fail(vd, "next descriptor index out of range");
            return false;
        }
    }
    return true;
}

int virtq_pop(struct virtio_dev *vd, unsigned q, struct virtq_req *r)
{
    assert(virtio_lock_held(vd) && q < vd->nqueues);
    struct virtqueue *vq = &vd->vq[q];
    if (!vq->ready || !virtio_running(vd)) return 0;
    uint16_t avail_idx = load16(&vq->avail[1]);
    if (avail_idx == vq->last_avail) return 0;
    if ((uint16_t)(avail_idx - vq->last_avail) > vq->num) {
        virtio_fail(vd, "available ring index moved by more than the queue size");
        return -1;
    }
    uint16_t head = vq->avail[2 + vq->last_avail % vq->num];
    if (!walk_chain(vd, vq, head, r)) return -1;
    vq->last_avail++;
    if (vd->driver_features & VIRTIO_F_EVENT_IDX) {
        /* avail_event: tell the driver how far we have read */
        volatile uint16_t *avail_event =
            (volatile uint16_t *)(vq->used + 4 + 8 * (size_t)vq->num);
        __atomic_store_n(avail_event, vq->last_avail, __ATOMIC_RELEASE);
        machine_memory_written(vd->m, vq->used_addr + 4 + 8 * (uint64_t)vq->num, 2);
    }
    return 1;
}

int virtq_chain(struct virtio_dev *vd, unsigned q, uint16_t head, struct virtq_req *r)
{
    assert(virtio_lock_held(vd) && q < vd->nqueues);
    struct virtqueue *vq = &vd->vq[q];
    if (!vq->ready) return -1;
    return walk_chain(vd, vq, head, r) ? 0 : -1;
}

bool virtq_has_work(struct virtio_dev *vd, unsigned q)
{
    assert(virtio_lock_held(vd) && q < vd->nqueues);
    struct virtqueue *vq = &vd->vq[q];
    return vq->ready && virtio_running(vd) && load16(&vq->avail[1]) != vq->last_avail;
}

void virtq_fill(struct virtio_dev *vd, unsigned q, const struct virtq_req *r, uint32_t written,
                unsigned slot)
{
    assert(virtio_lock_held(vd) && q < vd->nqueues);
    struct virtqueue *vq = &vd->vq[q];
    if (!vq->ready) return;
    /* Data the device wrote may be code the guest will run. */
    uint32_t left = written;
    for (unsigned k = 0; k < r->nin && left; k++) {
        uint32_t n = r->in[k].iov_len < left ? (uint32_t)r->in[k].iov_len : left;
        machine_memory_written(vd->m, r->in_gpa[k], n);
        left -= n;
    }
    size_t at = 4 + 8 * (size_t)((uint16_t)(vq->used_idx + slot) % vq->num);
    volatile uint8_t *elem = vq->used + at;
    uint32_t id = r->head;
    __atomic_store_n((volatile uint32_t *)elem, id, __ATOMIC_RELAXED);
    __atomic_store_n((volatile uint32_t *)(elem + 4), written, __ATOMIC_RELAXED);
    machine_memory_written(vd->m, vq->used_addr + at, 8);
}

void virtq_flush(struct virtio_dev *vd, unsigned q, unsigned count)
{
    assert(virtio_lock_held(vd) && q < vd->nqueues);
    struct virtqueue *vq = &vd->vq[q];
    if (!vq->ready) return;
    vq->used_idx = (uint16_t)(vq->used_idx + count);
    __atomic_store_n((volatile uint16_t *)(vq->used + 2), vq->used_idx, __ATOMIC_RELEASE);
    machine_memory_written(vd->m, vq->used_addr + 2, 2);
}

void virtq_push(struct virtio_dev *vd, unsigned q, const struct virtq_req *r, uint32_t written)
{
    virtq_fill(vd, q, r, written, 0);
    virtq_flush(vd, q, 1);
}

void virtq_notify(struct virtio_dev *vd, unsigned q)
{
    assert(virtio_lock_held(vd) && q < vd->nqueues);
    struct virtqueue *vq = &vd->vq[q];
    if (!vq->ready) return;
    atomic_thread_fence(memory_order_seq_cst); /* used idx visible before reading flags */
    bool need;
    if (vd->driver_features & VIRTIO_F_EVENT_IDX) {
        uint16_t used_event = load16(&vq->avail[2 + vq->num]);
        uint16_t old = vq->signalled_used, new_idx = vq->used_idx;
        /* vring_need_event: did new_idx pass used_event since old? */
        need = !vq->signalled_valid ||
               (uint16_t)(new_idx - used_event - 1) < (uint16_t)(new_idx - old);
    } else {
        need = !(load16(&vq->avail[0]) & 1); /* VIRTQ_AVAIL_F_NO_INTERRUPT */
    }
    vq->signalled_used = vq->used_idx;
    vq->signalled_valid = true;
    if (need) {
        atomic_fetch_or(&vd->isr, ISR_USED);
        update_irq(vd);
    }
}

/* ---- the transport's registers -------------------------------------------------------- */

static void queue_reset(struct virtqueue *vq)
{
    memset(vq, 0, sizeof(*vq));
}

static void device_reset(struct virtio_dev *vd)
{
    if (vd->ops->reset) vd->ops->reset(vd);
    vd->status = 0;
    vd->driver_features = 0;
    vd->dev_features_sel = vd->drv_features_sel = vd->queue_sel = 0;
    atomic_store(&vd->isr, 0);
    for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) queue_reset(&vd->vq[q]);
    update_irq(vd);
}

static uint64_t all_features(const struct virtio_dev *vd)
{
    return vd->features | VIRTIO_F_VERSION_1 | VIRTIO_F_INDIRECT_DESC | VIRTIO_F_EVENT_IDX;
}

/* Map a queue's rings when the driver makes it ready. */
static void queue_enable(struct virtio_dev *vd, struct virtqueue *vq)
{
    if (vq->num == 0 || vq->num > vd->queue_max || (vq->num & (vq->num - 1))) {
        virtio_fail(vd, "queue size is zero, too large or not a power of two");
        return;
    }
    size_t n = vq->num;
    vq->desc = guest_ram(vd->m, vq->desc_addr, 16 * n);
    vq->avail = guest_ram(vd->m, vq->avail_addr, 6 + 2 * n);
    vq->used = guest_ram(vd->m, vq->used_addr, 6 + 8 * n);
    if (!vq->desc || !vq->avail || !vq->used || (vq->desc_addr & 15) || (vq->avail_addr & 1) ||
        (vq->used_addr & 3)) {
        virtio_fail(vd, "queue rings outside guest RAM or misaligned");
        return;
    }
    vq->last_avail = 0;
    vq->used_idx = 0;
    vq->signalled_valid = false;
    vq->ready = true;
}

static void set_low(uint64_t *v, uint64_t val)
{
    *v = (*v & ~0xffffffffull) | (uint32_t)val;
}

static void set_high(uint64_t *v, uint64_t val)
{
    *v = (*v & 0xffffffffull) | (uint64_t)(uint32_t)val << 32;
}

static uint64_t mmio_read(void *opaque, uint64_t off, int size)
{
    struct virtio_dev *vd = opaque;
    if (off >= REG_CONFIG) {
        virtio_lock(vd);
        uint64_t v = vd->ops->config_read ? vd->ops->config_read(vd, off - REG_CONFIG, size) : 0;
        virtio_unlock(vd);
        return v;
    }
    if (size != 4) return 0;
    uint64_t v = 0;
    virtio_lock(vd);
    struct virtqueue *vq = vd->queue_sel < vd->nqueues ? &vd->vq[vd->queue_sel] : NULL;
    switch (off) {
    case REG_MAGIC: v = 0x74726976; break;
    case REG_VERSION: v = 2; break;
    case REG_DEVICE_ID: v = vd->device_id; break;
    case REG_VENDOR_ID: v = VIRTIO_VENDOR; break;
    case REG_DEVICE_FEATURES:
        v = vd->dev_features_sel < 2 ? (uint32_t)(all_features(vd) >> (32 * vd->dev_features_sel))
                                     : 0;
        break;
    case REG_QUEUE_NUM_MAX: v = vq ? vd->queue_max : 0; break;
    case REG_QUEUE_READY: v = vq ? vq->ready : 0; break;
    case REG_INTERRUPT_STATUS: v = atomic_load(&vd->isr); break;
    case REG_STATUS: v = vd->status; break;
    case REG_SHM_LEN_LOW:
    case REG_SHM_LEN_HIGH: v = 0xffffffff; break; /* no shared memory regions */
    case REG_CONFIG_GENERATION: v = vd->config_generation; break;
    }
    virtio_unlock(vd);
    return v;
}

static void mmio_write(void *opaque, uint64_t off, uint64_t val, int size)
{
    struct virtio_dev *vd = opaque;
    if (off >= REG_CONFIG) {
        virtio_lock(vd);
        if (vd->ops->config_write) vd->ops->config_write(vd, off - REG_CONFIG, val, size);
        virtio_unlock(vd);
        return;
    }
    if (size != 4) return;
    if (off == REG_QUEUE_NOTIFY) {
        /* the hot path: no transport lock, the device takes what it needs */
        if (val < vd->nqueues && vd->ops->notify) vd->ops->notify(vd, (unsigned)val);
        return;
    }
    if ((off == REG_STATUS && val == 0) || (off == REG_QUEUE_READY && !(val & 1))) {
        /* A reset of the device or of a queue: the requests a device thread
         * is serving finish first and none is taken meanwhile, so that no
         * buffer is written after the driver has it back (quiesce, as for
         * a save; without the lock, which the device threads take). */
        if (vd->ops->quiesce) vd->ops->quiesce(vd, true);
        virtio_lock(vd);
        if (off == REG_STATUS)
            device_reset(vd);
        else if (vd->queue_sel < vd->nqueues)
            queue_reset(&vd->vq[vd->queue_sel]);
        virtio_unlock(vd);
        if (vd->ops->quiesce) vd->ops->quiesce(vd, false);
        return;
    }
    virtio_lock(vd);
    struct virtqueue *vq = vd->queue_sel < vd->nqueues ? &vd->vq[vd->queue_sel] : NULL;
    bool can_config_queue = vq && !vq->ready;
    switch (off) {
    case REG_DEVICE_FEATURES_SEL: vd->dev_features_sel = (uint32_t)val; break;
    case REG_DRIVER_FEATURES_SEL: vd->drv_features_sel = (uint32_t)val; break;
    case REG_DRIVER_FEATURES:
        if (vd->drv_features_sel < 2 && !(vd->status & VIRTIO_STATUS_FEATURES_OK)) {
            unsigned sh = 32 * vd->drv_features_sel;
            vd->driver_features = (vd->driver_features & ~(0xffffffffull << sh)) |
                                  ((uint64_t)(uint32_t)val << sh);
        }
        break;
    case REG_QUEUE_SEL: vd->queue_sel = (uint32_t)val; break;
    case REG_QUEUE_NUM:
        if (can_config_queue) vq->num = (uint32_t)val;
        break;
    case REG_QUEUE_READY: /* (0 is handled above) */
        if (vq && !vq->ready) queue_enable(vd, vq);
        break;
    case REG_INTERRUPT_ACK:
        atomic_fetch_and(&vd->isr, ~(uint32_t)val);
        update_irq(vd);
        break;
    case REG_STATUS: { /* (0, a reset, is handled above) */
        uint32_t old = vd->status;
        uint32_t nv = (uint32_t)val & 0xff;
        if ((nv & VIRTIO_STATUS_FEATURES_OK) && !(old & VIRTIO_STATUS_FEATURES_OK)) {
            /* accept only features we offered, and insist on virtio 1.x */
            if ((vd->driver_features & ~all_features(vd)) ||
                !(vd->driver_features & VIRTIO_F_VERSION_1))
                nv &= ~VIRTIO_STATUS_FEATURES_OK;
        }
        vd->status = nv | (old & VIRTIO_STATUS_NEEDS_RESET);
        if ((nv & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK)) {
            if (vd->ops->start) vd->ops->start(vd);
            /* Drivers may queue buffers and notify before DRIVER_OK (Linux's
             * balloon primes its statistics queue that way): look now. */
            for (unsigned q = 0; q < vd->nqueues && vd->ops->notify; q++)
                if (vd->vq[q].ready) vd->ops->notify(vd, q);
        }
        break;
    }
    case REG_QUEUE_DESC_LOW: if (can_config_queue) set_low(&vq->desc_addr, val); break;
    case REG_QUEUE_DESC_HIGH: if (can_config_queue) set_high(&vq->desc_addr, val); break;
    case REG_QUEUE_DRIVER_LOW: if (can_config_queue) set_low(&vq->avail_addr, val); break;
    case REG_QUEUE_DRIVER_HIGH: if (can_config_queue) set_high(&vq->avail_addr, val); break;
    case REG_QUEUE_DEVICE_LOW: if (can_config_queue) set_low(&vq->used_addr, val); break;
    case REG_QUEUE_DEVICE_HIGH: if (can_config_queue) set_high(&vq->used_addr, val); break;
    case REG_SHM_SEL: break;
    }
    virtio_unlock(vd);
}

static const struct mmio_ops virtio_mmio_ops = {.read = mmio_read, .write = mmio_write};

static void destroy(void *arg)
{
    struct virtio_dev *vd = arg;
    pthread_mutex_destroy(&vd->lock);
    if (vd->ops->destroy) vd->ops->destroy(vd); /* may free vd */
}

int virtio_mmio_attach(struct machine *m, struct virtio_dev *vd, uint64_t base,
                       struct plic *plic, unsigned irq)
{
    if (vd->nqueues > VIRTIO_MAX_QUEUES || vd->queue_max > VIRTQ_MAX_SIZE) return -1;
    vd->m = m;
    vd->plic = plic;
    vd->irq = irq;
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&vd->lock, &a);
    atomic_init(&vd->lock_owner, (pthread_t)0);
    vd->lock_depth = 0;
    pthread_mutexattr_destroy(&a);
    struct region r = {.base = base, .size = 0x1000, .name = "virtio-mmio",
                       .ops = &virtio_mmio_ops, .opaque = vd};
    if (machine_add_region(m, &r) < 0) {
        pthread_mutex_destroy(&vd->lock);
        return -1;
    }
    machine_on_free(m, destroy, vd);
    return 0;
}

int virtio_mmio_fdt_node(void *fdt, const struct machine *m, const struct device_slot *at)
{
    (void)m;
    return dt_plain_device(fdt, at, DT_COMPAT("virtio,mmio"));
}

/* ---- state ------------------------------------------------------------------------ */

#define TRANSPORT_STATE_VERSION 1

void virtio_mmio_quiesce(void *dev, bool quiet)
{
    struct virtio_dev *vd = dev;
    if (vd->ops->quiesce) vd->ops->quiesce(vd, quiet);
}

void virtio_mmio_save(void *dev, struct vms_out *o)
{
    struct virtio_dev *vd = dev;
    virtio_lock(vd);
    vms_put_u32(o, TRANSPORT_STATE_VERSION);
    vms_put_u32(o, vd->device_id);
    vms_put_u32(o, vd->nqueues);
    vms_put_u32(o, vd->status);
    vms_put_u64(o, vd->driver_features);
    vms_put_u32(o, vd->dev_features_sel);
    vms_put_u32(o, vd->drv_features_sel);
    vms_put_u32(o, vd->queue_sel);
    vms_put_u32(o, atomic_load(&vd->isr));
    vms_put_u32(o, vd->config_generation);
    for (unsigned q = 0; q < vd->nqueues; q++) {
        const struct virtqueue *vq = &vd->vq[q];
        vms_put_u32(o, vq->num);
        vms_put_bool(o, vq->ready);
        vms_put_u64(o, vq->desc_addr);
        vms_put_u64(o, vq->avail_addr);
        vms_put_u64(o, vq->used_addr);
        vms_put_u16(o, vq->last_avail);
        vms_put_u16(o, vq->used_idx);
        vms_put_u16(o, vq->signalled_used);
        vms_put_bool(o, vq->signalled_valid);
    }
    if (vd->ops->save) vd->ops->save(vd, o);
    virtio_unlock(vd);
}

int virtio_mmio_load(void *dev, struct vms_in *in)
{
    struct virtio_dev *vd = dev;
    uint32_t version = vms_get_u32(in), id = vms_get_u32(in), nq = vms_get_u32(in);
    if (in->bad) return -1;
    if (version != TRANSPORT_STATE_VERSION)
        return vms_fail(in, "virtio transport state version %u (this kumo-vmm reads %u)",
                        version, TRANSPORT_STATE_VERSION);
    if (id != vd->device_id || nq != vd->nqueues)
        return vms_fail(in, "virtio device %u with %u queues; this slot holds device %u with "
                            "%u: give the same device options the VM was saved with",
                        id, nq, vd->device_id, vd->nqueues);
    uint32_t status = vms_get_u32(in);
    uint64_t features = vms_get_u64(in);
    uint32_t dsel = vms_get_u32(in), fsel = vms_get_u32(in), qsel = vms_get_u32(in);
    uint32_t isr = vms_get_u32(in), gen = vms_get_u32(in);
    struct virtqueue vq[VIRTIO_MAX_QUEUES];
    memset(vq, 0, sizeof(vq));
    for (unsigned q = 0; q < nq; q++) {
        vq[q].num = vms_get_u32(in);
        vq[q].ready = vms_get_bool(in);
        vq[q].desc_addr = vms_get_u64(in);
        vq[q].avail_addr = vms_get_u64(in);
        vq[q].used_addr = vms_get_u64(in);
        vq[q].last_avail = vms_get_u16(in);
        vq[q].used_idx = vms_get_u16(in);
        vq[q].signalled_used = vms_get_u16(in);
        vq[q].signalled_valid = vms_get_bool(in);
    }
    if (in->bad) return -1;
    if (status > 0xff || (features & ~all_features(vd)) || isr > 3)
        return vms_fail(in, "status, features or interrupt bits this device cannot have");
    virtio_lock(vd);
    for (unsigned q = 0; q < nq; q++) {
        struct virtqueue *v = &vq[q];
        if (!v->ready) continue;
        size_t n = v->num;
        if (n == 0 || n > vd->queue_max || (n & (n - 1))) {
            virtio_unlock(vd);
            return vms_fail(in, "queue %u: size %zu", q, n);
        }
        v->desc = guest_ram(vd->m, v->desc_addr, 16 * n);
        v->avail = guest_ram(vd->m, v->avail_addr, 6 + 2 * n);
        v->used = guest_ram(vd->m, v->used_addr, 6 + 8 * n);
        if (!v->desc || !v->avail || !v->used || (v->desc_addr & 15) || (v->avail_addr & 1) ||
            (v->used_addr & 3)) {
            virtio_unlock(vd);
            return vms_fail(in, "queue %u: rings outside guest RAM or misaligned", q);
        }
    }
    vd->status = status;
    vd->driver_features = features;
    vd->dev_features_sel = dsel;
    vd->drv_features_sel = fsel;
    vd->queue_sel = qsel;
    atomic_store(&vd->isr, isr);
    vd->config_generation = gen;
    memcpy(vd->vq, vq, sizeof(vq));
    int rc = vd->ops->load ? vd->ops->load(vd, in) : 0;
    if (rc == 0) update_irq(vd);
    virtio_unlock(vd);
    return rc < 0 || in->bad ? -1 : 0;
}

/* ---- an empty slot ------------------------------------------------------------------- */

static uint64_t empty_read(void *opaque, uint64_t off, int size)
{
    (void)opaque;
    (void)size;
    switch (off) {
    case REG_MAGIC: return 0x74726976; /* "virt" */
    case REG_VERSION: return 2;        /* version 2: virtio 1.x (modern) */
    case REG_VENDOR_ID: return VIRTIO_VENDOR;
    default: return 0;                 /* device ID 0 and everything else */
    }
}

static void empty_write(void *opaque, uint64_t off, uint64_t val, int size)
{
    (void)opaque;
    (void)off;
    (void)val;
    (void)size;
}

static const struct mmio_ops empty_ops = {.read = empty_read, .write = empty_write};

static int empty_attach(struct machine *m, const struct device_slot *at, const void *arg)
{
    (void)arg;
    return device_map(m, at, &empty_ops, NULL);
}

const struct device_model virtio_mmio_empty_device = {.attach = empty_attach,
                                                      .fdt_node = virtio_mmio_fdt_node};
