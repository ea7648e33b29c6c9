/*
 * virtio.h - the virtio 1.x device model over the MMIO transport (version 2)
 * and split virtqueues.
 *
 * A device (blk, net, rng, ...) describes itself with struct virtio_device
 * and gets a transport with virtio_mmio_attach(). Everything the guest
 * wrote (ring indexes, descriptors, lengths, addresses) is untrusted: the
 * queue code checks every address against guest RAM and every chain for
 * loops and bounds. A broken queue puts the device into DEVICE_NEEDS_RESET
 * instead of touching host memory outside the guest.
 */
#ifndef KUMO_DEVICES_VIRTIO_H
#define KUMO_DEVICES_VIRTIO_H

#include "machine/device.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct machine;
struct plic;
struct vms_in;
struct vms_out;

/* device status bits */
#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER 2
#define VIRTIO_STATUS_DRIVER_OK 4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED 128

/* transport feature bits */
#define VIRTIO_F_INDIRECT_DESC (1ull << 28)
#define VIRTIO_F_EVENT_IDX (1ull << 29)
#define VIRTIO_F_VERSION_1 (1ull << 32)

#define VIRTQ_MAX_SIZE 1024
#define VIRTIO_MAX_QUEUES 8
#define VIRTQ_MAX_SEGS 1024 /* most buffers in one chain */

/* descriptor flags */
#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4

struct virtqueue {
    /* set by the driver through the transport */
    uint32_t num;
    bool ready;
    uint64_t desc_addr, avail_addr, used_addr;
    /* host views of the rings, valid while ready */
    const volatile uint8_t *desc;
    volatile uint16_t *avail; /* flags, idx, ring[num], used_event */
    volatile uint8_t *used;   /* flags, idx, ring[num] of {id, len}, avail_event */
    uint16_t last_avail;      /* next avail entry the device will take */
    uint16_t used_idx;        /* shadow of used->idx */
    uint16_t signalled_used;  /* used_idx when the guest was last interrupted */
    bool signalled_valid;
};

/* One request taken from a queue: a chain of guest buffers, readable
 * (driver -> device) first, then writable (device -> driver). */
struct virtq_req {
    uint16_t head;
    unsigned nout, nin;
    struct iovec out[VIRTQ_MAX_SEGS / 2];
    struct iovec in[VIRTQ_MAX_SEGS / 2];
    uint64_t in_gpa[VIRTQ_MAX_SEGS / 2]; /* guest addresses of the writable buffers */
    size_t out_len, in_len;
};

struct virtio_dev;

struct virtio_device_ops {
    /* Read/write the device-specific configuration space (offset from 0x100). */
    uint64_t (*config_read)(struct virtio_dev *vd, uint64_t off, int size);
    void (*config_write)(struct virtio_dev *vd, uint64_t off, uint64_t val, int size);
    /* The driver notified queue q (called on the vCPU thread: hand work off). */
    void (*notify)(struct virtio_dev *vd, unsigned q);
    /* The driver set DRIVER_OK, or reset the device (status written as 0). */
    void (*start)(struct virtio_dev *vd);
    void (*reset)(struct virtio_dev *vd);
    /* The machine is being freed: stop threads and free the device. */
    void (*destroy)(struct virtio_dev *vd);
    /* The device's own state (after the transport's, machine/vmstate.h):
     * quiesce as device_model.quiesce (called without the lock), save and
     * load with the lock held; load runs after the transport and its queues
     * are loaded. Each NULL when the device has nothing of its own.
     * quiesce also brackets a reset of the device or of a queue (a vCPU's
     * register write): the device's threads finish what they serve and take
     * nothing until it is done. */
    void (*quiesce)(struct virtio_dev *vd, bool quiet);
    void (*save)(struct virtio_dev *vd, struct vms_out *out);
    int (*load)(struct virtio_dev *vd, struct vms_in *in);
};

struct virtio_dev {
    /* filled by the device before virtio_mmio_attach */
    uint32_t device_id;
    uint64_t features; /* offered; VERSION_1, INDIRECT_DESC, EVENT_IDX added by the transport */
    unsigned nqueues;
    uint16_t queue_max;
    const struct virtio_device_ops *ops;
    void *opaque; /* the device's own state */

    /* transport state */
    struct machine *m;
    struct plic *plic;
    unsigned irq;
    pthread_mutex_t lock; /* guards everything below and the queues: virtio_lock() */
    _Atomic pthread_t lock_owner; /* the thread holding lock (0: none) */
    unsigned lock_depth;          /* how many times it holds it (lock is recursive) */
    uint32_t status;
    uint64_t driver_features;
    uint32_t dev_features_sel, drv_features_sel, queue_sel;
    _Atomic uint32_t isr;
    uint32_t config_generation;
    struct virtqueue vq[VIRTIO_MAX_QUEUES];
};

/* Attach a device at a virtio-mmio slot (base address, PLIC source). */
int virtio_mmio_attach(struct machine *m, struct virtio_dev *vd, uint64_t base,
                       struct plic *plic, unsigned irq);

/* The node of a virtio-mmio slot, whatever device it holds: the
 * device_model.fdt_node of every virtio device. */
int virtio_mmio_fdt_node(void *fdt, const struct machine *m, const struct device_slot *at);

/* The state of a virtio device (machine/vmstate.h): the transport (status,
 * features, every queue's addresses and indexes), then the device's own
 * (virtio_device_ops save/load). dev is the struct virtio_dev. These are
 * the device_model's quiesce/save/load of every virtio device. */
void virtio_mmio_quiesce(void *dev, bool quiet);
void virtio_mmio_save(void *dev, struct vms_out *out);
int virtio_mmio_load(void *dev, struct vms_in *in);

/* An empty slot: a transport that answers device ID 0 ("no device"), so
 * the guest probes it and moves on. */
extern const struct device_model virtio_mmio_empty_device;

/* The device's lock (recursive): take it with these, never with
 * pthread_mutex_lock, so that the functions below can check (assert) that
 * their caller holds it. The transport holds it while it calls the
 * device's config_read/config_write/start/reset. */
static inline void virtio_lock(struct virtio_dev *vd)
{
    pthread_mutex_lock(&vd->lock);
    if (vd->lock_depth++ == 0)
        atomic_store_explicit(&vd->lock_owner, pthread_self(), memory_order_relaxed);
}

static inline void virtio_unlock(struct virtio_dev *vd)
{
    if (--vd->lock_depth == 0)
        atomic_store_explicit(&vd->lock_owner, (pthread_t)0, memory_order_relaxed);
    pthread_mutex_unlock(&vd->lock);
}

/* Does the calling thread hold the device's lock? */
static inline bool virtio_lock_held(struct virtio_dev *vd)
{
    return pthread_equal(atomic_load_explicit(&vd->lock_owner, memory_order_relaxed),
                         pthread_self());
}

/* Queue operations for device back ends. Call with the device's lock held
 * (virtio_lock), as also virtio_config_changed and virtio_fail. */
/* Take the next request: 1 = got one, 0 = queue empty, -1 = the guest broke
 * the queue (the device is now in NEEDS_RESET). */
int virtq_pop(struct virtio_dev *vd, unsigned q, struct virtq_req *r);
/* The request whose chain starts at descriptor `head` of queue q, already
 * taken (a request in flight when the state was saved): 0, or -1 after
 * virtio_fail when the chain is broken. */
int virtq_chain(struct virtio_dev *vd, unsigned q, uint16_t head, struct virtq_req *r);
/* Are there requests on queue q that virtq_pop has not taken yet? */
bool virtq_has_work(struct virtio_dev *vd, unsigned q);
/* Return a request with `written` bytes written into its writable buffers. */
void virtq_push(struct virtio_dev *vd, unsigned q, const struct virtq_req *r, uint32_t written);
/* The same in two steps, for a result spread over several chains (merged
 * receive buffers): write used entry number `slot` after the last published
 * one, then publish `count` entries at once. */
void virtq_fill(struct virtio_dev *vd, unsigned q, const struct virtq_req *r, uint32_t written,
                unsigned slot);
void virtq_flush(struct virtio_dev *vd, unsigned q, unsigned count);
/* Interrupt the guest for queue q if it wants one (EVENT_IDX rules). */
void virtq_notify(struct virtio_dev *vd, unsigned q);
/* Is the device running (DRIVER_OK, not needing reset)? */
bool virtio_running(const struct virtio_dev *vd);
/* Announce a configuration change (config generation + interrupt). */
void virtio_config_changed(struct virtio_dev *vd);
/* Mark the device broken: NEEDS_RESET and a configuration interrupt. */
void virtio_fail(struct virtio_dev *vd, const char *why);

#endif
