/*
 * virtio_blk.h - a virtio block device backed by a disk image (raw or qcow2),
 * with an optional rate limit (IOPS and bandwidth token buckets).
 */
#ifndef KUMO_DEVICES_VIRTIO_BLK_H
#define KUMO_DEVICES_VIRTIO_BLK_H

#include "storage/disk.h"
#include "storage/ratelimit.h"

#include <stdbool.h>
#include <stdint.h>

/* Worker threads per disk: requests served at once (the sandbox counts
 * them in the VMM's thread and address-space limits). */
#define VIRTIO_BLK_WORKERS 4

struct device_model;

struct blk_config {
    const char *path;
    const char *format; /* NULL: probe */
    bool readonly;
    const char *serial; /* VIRTIO_BLK_T_GET_ID answer, up to 20 bytes */
    struct ratelimit_config limits; /* all zero: unlimited */
    enum disk_cache cache;          /* host caching (disk.h): readwrite by default */
    unsigned num_queues;            /* virtqueues; 0: one per vCPU (at most 8) */
};

struct blk;

struct blk_stats {
    _Atomic uint64_t rd_ops, rd_bytes, wr_ops, wr_bytes;
};

/* Counters since the disk was attached. */
void virtio_blk_get_stats(struct blk *b, struct blk_stats *out);
/* Change the disk's limits while the guest runs (new tokens follow the new rates). */
void virtio_blk_set_limits(struct blk *b, const struct ratelimit_config *c);

/* In a virtio slot of the board (machine/virt.c), with a struct blk_config
 * as its argument; it is added to m->disks. */
extern const struct device_model virtio_blk_device;

/* The guest-visible size in bytes (a file holding the disk grows at most to
 * about this, plus format metadata). */
uint64_t virtio_blk_size(struct blk *b);
/* Wait until every request the guest had notified is served (no worker
 * busy, no notification unhandled). */
void virtio_blk_drain(struct blk *b);
/* Live migration, the device quiet: make what the guest wrote durable
 * (data and image metadata: a qcow2's tables) and let another process
 * open the image (its lock dropped); 0, or -1 with a message. Retake: the
 * lock again, the handover failed and the guest runs here on. */
int virtio_blk_release(struct blk *b, char *err, size_t errlen);
int virtio_blk_retake(struct blk *b, char *err, size_t errlen);

/* The limits the disk enforces now (ratelimit_rates_of). */
void virtio_blk_get_rates(struct blk *b, struct ratelimit_rates *r);

#endif
