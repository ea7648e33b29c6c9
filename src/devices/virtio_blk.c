/*
 * virtio_blk.c - virtio block device (device ID 2) on a disk image.
 *
 * The vCPU that notifies only wakes the disk's worker thread; the worker
 * takes requests off the queue, applies the disk's rate limit (waiting
 * exactly until the tokens exist), does the I/O through the storage layer
 * (raw or qcow2), and completes the request. A request is completed only
 * after its data is where the guest was told it is: a write is in the image
 * file, a flush has reached stable storage (fsync).
 */
#include "devices/virtio_blk.h"

#include "devices/virtio.h"
#include "lib/log.h"
#include "machine/machine.h"
#include "machine/vmstate.h"
#include "storage/disk.h"
#include "storage/ratelimit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define VIRTIO_BLK_F_SIZE_MAX (1ull << 1)
#define VIRTIO_BLK_F_SEG_MAX (1ull << 2)
#define VIRTIO_BLK_F_RO (1ull << 5)
#define VIRTIO_BLK_F_BLK_SIZE (1ull << 6)
#define VIRTIO_BLK_F_FLUSH (1ull << 9)
#define VIRTIO_BLK_F_DISCARD (1ull << 13)
#define VIRTIO_BLK_F_WRITE_ZEROES (1ull << 14)

enum {
    BLK_T_IN = 0,
    BLK_T_OUT = 1,
    BLK_T_FLUSH = 4,
    BLK_T_GET_ID = 8,
    BLK_T_DISCARD = 11,
    BLK_T_WRITE_ZEROES = 13,
};
enum { BLK_S_OK = 0, BLK_S_IOERR = 1, BLK_S_UNSUPP = 2 };

#define SECTOR 512ull
#define QUEUE_SIZE 256
#define SEG_MAX (QUEUE_SIZE - 2)
#define SIZE_MAX_BYTES (1u << 20)
#define MAX_DISCARD_SECTORS (1u << 22)
#define ID_BYTES 20

struct blk {
    struct virtio_dev vd;
    struct disk *disk;
    uint64_t capacity; /* sectors */
    bool readonly;
    char id[ID_BYTES];
    struct ratelimit rl;
    _Atomic bool limited;
    pthread_mutex_t rl_lock; /* the limiter can be changed while the worker uses it */
    struct blk_stats stats;  /* updated by the worker, read by the control socket */

    pthread_t worker;
    pthread_mutex_t wlock;
    pthread_cond_t wake;
    bool pending, quit, running;
    bool quiet;              /* quiesced: take no request (vmstate) */
    bool busy;               /* the worker serves requests */
    pthread_cond_t idle;     /* busy went false */
    struct virtq_req req;     /* the worker's request being served */
    uint8_t bounce[SIZE_MAX_BYTES]; /* for copying scattered data */
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Copy from the request's readable buffers, skipping `skip` bytes. */
static size_t copy_out(const struct virtq_req *r, size_t skip, void *dst, size_t len)
{
    size_t done = 0;
    for (unsigned k = 0; k < r->nout && done < len; k++) {
        size_t l = r->out[k].iov_len;
        if (skip >= l) {
            skip -= l;
            continue;
        }
        size_t n = l - skip < len - done ? l - skip : len - done;
        memcpy((uint8_t *)dst + done, (uint8_t *)r->out[k].iov_base + skip, n);
        done += n;
        skip = 0;
    }
    return done;
}

/* Copy into the request's writable buffers from byte `skip` on. */
static size_t copy_in(const struct virtq_req *r, size_t skip, const void *src, size_t len)
{
    size_t done = 0;
    for (unsigned k = 0; k < r->nin && done < len; k++) {
        size_t l = r->in[k].iov_len;
        if (skip >= l) {
            skip -= l;
            continue;
        }
        size_t n = l - skip < len - done ? l - skip : len - done;
        memcpy((uint8_t *)r->in[k].iov_base + skip, (const uint8_t *)src + done, n);
        done += n;
        skip = 0;
    }
    return done;
}

/* Wait until the limiter lets `bytes` (one operation) through. */
static void throttle(struct blk *b, uint64_t bytes)
{
    if (!atomic_load(&b->limited)) return;
    for (;;) {
        pthread_mutex_lock(&b->rl_lock);
        uint64_t wait = ratelimit_consume(&b->rl, bytes, now_ns());
        pthread_mutex_unlock(&b->rl_lock);
        if (wait == 0 || b->quit) return;
        struct timespec ts = {.tv_sec = (time_t)(wait / 1000000000ull),
                              .tv_nsec = (long)(wait % 1000000000ull)};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
        }
    }
}

static uint8_t do_rw(struct blk *b, const struct virtq_req *r, uint32_t type, uint64_t sector,
                     uint32_t *written)
{
    bool is_read = type == BLK_T_IN;
    size_t len = is_read ? r->in_len - 1 : r->out_len - 16;
    if (len % SECTOR) return BLK_S_IOERR;
    if (sector > b->capacity || len / SECTOR > b->capacity - sector) return BLK_S_IOERR;
    if (!is_read && b->readonly) return BLK_S_IOERR;
    throttle(b, len);
    uint64_t off = sector * SECTOR;
    size_t done = 0;
    while (done < len) {
        size_t n = len - done < sizeof(b->bounce) ? len - done : sizeof(b->bounce);
        if (is_read) {
            if (disk_read(b->disk, off + done, b->bounce, n) < 0) return BLK_S_IOERR;
            copy_in(r, done, b->bounce, n);
        } else {
            copy_out(r, 16 + done, b->bounce, n);
            if (disk_write(b->disk, off + done, b->bounce, n) < 0) return BLK_S_IOERR;
        }
        done += n;
    }
    if (is_read) {
        *written = (uint32_t)len;
        atomic_fetch_add(&b->stats.rd_ops, 1);
        atomic_fetch_add(&b->stats.rd_bytes, len);
    } else {
        atomic_fetch_add(&b->stats.wr_ops, 1);
        atomic_fetch_add(&b->stats.wr_bytes, len);
    }
    return BLK_S_OK;
}

static uint8_t do_discard(struct blk *b, const struct virtq_req *r, uint32_t type)
{
    if (b->readonly) return BLK_S_IOERR;
    size_t len = r->out_len - 16;
    if (len == 0 || len % 16) return BLK_S_IOERR;
    for (size_t at = 0; at < len; at += 16) {
        uint8_t seg[16];
        copy_out(r, 16 + at, seg, 16);
        uint64_t sector;
        uint32_t num, flags;
        memcpy(&sector, seg, 8);
        memcpy(&num, seg + 8, 4);
        memcpy(&flags, seg + 12, 4);
        if (num > MAX_DISCARD_SECTORS || sector > b->capacity || num > b->capacity - sector)
            return BLK_S_IOERR;
        if (flags & ~1u) return BLK_S_UNSUPP;
        throttle(b, 0);
        int rc = type == BLK_T_DISCARD
                     ? disk_discard(b->disk, sector * SECTOR, num * SECTOR)
                     : disk_write_zeroes(b->disk, sector * SECTOR, num * SECTOR, flags & 1);
        if (rc < 0) return BLK_S_IOERR;
    }
    return BLK_S_OK;
}

/* Serve one request; returns the bytes written into guest buffers. */
static uint32_t serve(struct blk *b, struct virtq_req *r)
{
    uint8_t hdr[16];
    uint32_t written = 0;
    uint8_t status;
    if (r->nin == 0 || r->out_len < 16 || r->in[r->nin - 1].iov_len < 1 ||
        copy_out(r, 0, hdr, 16) != 16)
        return 0; /* no room for a status byte: nothing we can report */
    uint32_t type;
    uint64_t sector;
    memcpy(&type, hdr, 4);
    memcpy(&sector, hdr + 8, 8);
    switch (type) {
    case BLK_T_IN:
    case BLK_T_OUT: status = do_rw(b, r, type, sector, &written); break;
    case BLK_T_FLUSH:
        throttle(b, 0);
        status = disk_flush(b->disk) < 0 ? BLK_S_IOERR : BLK_S_OK;
        break;
    case BLK_T_GET_ID: {
        size_t n = r->in_len - 1 < ID_BYTES ? r->in_len - 1 : ID_BYTES;
        copy_in(r, 0, b->id, n);
        written = (uint32_t)n;
        status = BLK_S_OK;
        break;
    }
    case BLK_T_DISCARD:
    case BLK_T_WRITE_ZEROES: status = do_discard(b, r, type); break;
    default: status = BLK_S_UNSUPP;
    }
    /* the status byte is the last byte of the last writable buffer */
    const struct iovec *last = &r->in[r->nin - 1];
    ((uint8_t *)last->iov_base)[last->iov_len - 1] = status;
    machine_memory_written(b->vd.m, r->in_gpa[r->nin - 1] + last->iov_len - 1, 1);
    return written + 1;
}

static void *worker(void *arg)
{
    struct blk *b = arg;
    struct virtio_dev *vd = &b->vd;
    for (;;) {
        pthread_mutex_lock(&b->wlock);
        b->busy = false;
        pthread_cond_broadcast(&b->idle);
        while ((!b->pending || b->quiet) && !b->quit) pthread_cond_wait(&b->wake, &b->wlock);
        if (b->quit) {
            pthread_mutex_unlock(&b->wlock);
            return NULL;
        }
        b->pending = false;
        b->busy = true;
        pthread_mutex_unlock(&b->wlock);
        for (;;) {
            pthread_mutex_lock(&b->wlock);
            bool stop = b->quiet;
            if (stop) b->pending = true; /* come back to the queue afterwards */
            pthread_mutex_unlock(&b->wlock);
            if (stop) break;
            virtio_lock(vd);
            int got = virtq_pop(vd, 0, &b->req);
            virtio_unlock(vd);
            if (got != 1) break;
            uint32_t written = serve(b, &b->req);
            virtio_lock(vd);
            virtq_push(vd, 0, &b->req, written);
            virtq_notify(vd, 0);
            virtio_unlock(vd);
        }
    }
}

/* Quiesced: the request being served completes, no other is taken. */
static void blk_quiesce(struct virtio_dev *vd, bool quiet)
{
    struct blk *b = vd->opaque;
    pthread_mutex_lock(&b->wlock);
    b->quiet = quiet;
    if (quiet) {
        while (b->busy) pthread_cond_wait(&b->idle, &b->wlock);
    } else {
        pthread_cond_signal(&b->wake);
    }
    pthread_mutex_unlock(&b->wlock);
}

/* State: only what must match (the requests are in the queues). */
static void blk_save(struct virtio_dev *vd, struct vms_out *o)
{
    struct blk *b = vd->opaque;
    vms_put_u64(o, b->capacity);
    vms_put_bool(o, b->readonly);
}

static int blk_load(struct virtio_dev *vd, struct vms_in *in)
{
    struct blk *b = vd->opaque;
    uint64_t capacity = vms_get_u64(in);
    bool readonly = vms_get_bool(in);
    if (in->bad) return -1;
    if (capacity != b->capacity)
        return vms_fail(in, "the disk had %llu sectors, this one has %llu: give the disk the "
                            "VM was saved with",
                        (unsigned long long)capacity, (unsigned long long)b->capacity);
    if (readonly != b->readonly)
        return vms_fail(in, "the disk was %s, give readonly=%s", readonly ? "read-only" : "writable",
                        readonly ? "on" : "off");
    /* requests the guest queued before the save and the device had not taken */
    pthread_mutex_lock(&b->wlock);
    b->pending = true;
    pthread_cond_signal(&b->wake);
    pthread_mutex_unlock(&b->wlock);
    return 0;
}

static void blk_notify(struct virtio_dev *vd, unsigned q)
{
    struct blk *b = vd->opaque;
    (void)q;
    pthread_mutex_lock(&b->wlock);
    b->pending = true;
    pthread_cond_signal(&b->wake);
    pthread_mutex_unlock(&b->wlock);
}

static uint64_t blk_config_read(struct virtio_dev *vd, uint64_t off, int size)
{
    struct blk *b = vd->opaque;
    uint8_t cfg[64] = {0};
    uint32_t u32;
    memcpy(cfg + 0, &b->capacity, 8);
    u32 = SIZE_MAX_BYTES;
    memcpy(cfg + 8, &u32, 4);
    u32 = SEG_MAX;
    memcpy(cfg + 12, &u32, 4);
    u32 = SECTOR;
    memcpy(cfg + 20, &u32, 4);
    u32 = MAX_DISCARD_SECTORS;
    memcpy(cfg + 36, &u32, 4); /* max_discard_sectors */
    memcpy(cfg + 48, &u32, 4); /* max_write_zeroes_sectors */
    u32 = 1;
    memcpy(cfg + 40, &u32, 4); /* max_discard_seg */
    memcpy(cfg + 44, &u32, 4); /* discard_sector_alignment */
    memcpy(cfg + 52, &u32, 4); /* max_write_zeroes_seg */
    cfg[56] = 1;               /* write_zeroes_may_unmap */
    if (off + (uint64_t)size > sizeof(cfg)) return 0;
    uint64_t v = 0;
    memcpy(&v, cfg + off, (size_t)size);
    return v;
}

static void blk_destroy(struct virtio_dev *vd)
{
    struct blk *b = vd->opaque;
    pthread_mutex_lock(&b->wlock);
    b->quit = true;
    pthread_cond_signal(&b->wake);
    pthread_mutex_unlock(&b->wlock);
    if (b->running) pthread_join(b->worker, NULL);
    disk_close(b->disk);
    pthread_mutex_destroy(&b->rl_lock);
    pthread_cond_destroy(&b->wake);
    pthread_cond_destroy(&b->idle);
    pthread_mutex_destroy(&b->wlock);
    free(b);
}

static const struct virtio_device_ops blk_ops = {
    .config_read = blk_config_read,
    .notify = blk_notify,
    .destroy = blk_destroy,
    .quiesce = blk_quiesce,
    .save = blk_save,
    .load = blk_load,
};

static int blk_attach(struct machine *m, const struct device_slot *at, const void *arg)
{
    const struct blk_config *cfg = arg;
    char err[512];
    struct disk_options o = {.format = cfg->format, .readonly = cfg->readonly};
    struct disk *d = disk_open(cfg->path, &o, err, sizeof(err));
    if (!d) {
        log_error("--disk %s: %s", cfg->path, err);
        return -1;
    }
    struct blk *b = calloc(1, sizeof(*b));
    if (!b) {
        disk_close(d);
        return -1;
    }
    b->disk = d;
    b->capacity = disk_size(d) / SECTOR;
    b->readonly = cfg->readonly;
    snprintf(b->id, sizeof(b->id), "%s", cfg->serial ? cfg->serial : "kumo-disk");
    ratelimit_init(&b->rl, &cfg->limits, now_ns());
    b->limited = cfg->limits.bandwidth.size || cfg->limits.ops.size;
    pthread_mutex_init(&b->rl_lock, NULL);
    pthread_mutex_init(&b->wlock, NULL);
    pthread_cond_init(&b->wake, NULL);
    pthread_cond_init(&b->idle, NULL);
    struct virtio_dev *vd = &b->vd;
    vd->device_id = 2;
    vd->features = VIRTIO_BLK_F_SIZE_MAX | VIRTIO_BLK_F_SEG_MAX | VIRTIO_BLK_F_BLK_SIZE |
                   VIRTIO_BLK_F_FLUSH | (cfg->readonly ? VIRTIO_BLK_F_RO
                                                       : VIRTIO_BLK_F_DISCARD |
                                                             VIRTIO_BLK_F_WRITE_ZEROES);
    vd->nqueues = 1;
    vd->queue_max = QUEUE_SIZE;
    vd->ops = &blk_ops;
    vd->opaque = b;
    if (pthread_create(&b->worker, NULL, worker, b) != 0) {
        blk_destroy(vd);
        return -1;
    }
    b->running = true;
    if (virtio_mmio_attach(m, vd, at->base, m->plic, at->irq) < 0) {
        blk_destroy(vd);
        return -1;
    }
    if (m->ndisks < MACHINE_MAX_DEVICES) m->disks[m->ndisks++] = b;
    return 0;
}

const struct device_model virtio_blk_device = {.attach = blk_attach,
                                               .fdt_node = virtio_mmio_fdt_node,
                                               .state_kind = "virtio-blk",
                                               .quiesce = virtio_mmio_quiesce,
                                               .save = virtio_mmio_save,
                                               .load = virtio_mmio_load};

void virtio_blk_get_stats(struct blk *b, struct blk_stats *out)
{
    out->rd_ops = atomic_load(&b->stats.rd_ops);
    out->rd_bytes = atomic_load(&b->stats.rd_bytes);
    out->wr_ops = atomic_load(&b->stats.wr_ops);
    out->wr_bytes = atomic_load(&b->stats.wr_bytes);
}

void virtio_blk_set_limits(struct blk *b, const struct ratelimit_config *c)
{
    pthread_mutex_lock(&b->rl_lock);
    ratelimit_update(&b->rl, c, now_ns());
    atomic_store(&b->limited, c->bandwidth.size || c->ops.size);
    pthread_mutex_unlock(&b->rl_lock);
}

void virtio_blk_get_rates(struct blk *b, struct ratelimit_rates *r)
{
    pthread_mutex_lock(&b->rl_lock);
    ratelimit_rates_of(&b->rl, r);
    pthread_mutex_unlock(&b->rl_lock);
}
