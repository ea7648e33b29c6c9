/*
 * virtio_blk.c - virtio block device (device ID 2) on a disk image.
 *
 * Several requests are in flight per disk: the vCPU that notifies only wakes
 * one of the disk's workers (a small pool of threads, BLK_WORKERS); a worker
 * takes one request off one of the queues (one virtqueue per vCPU by default,
 * VIRTIO_BLK_F_MQ), wakes another worker if more are waiting, applies the
 * disk's rate limit (waiting exactly until the tokens exist), moves the data
 * with one vectored call straight between the guest's buffers and the image
 * (disk_readv/disk_writev: no bounce buffer), and completes the request. So
 * up to BLK_WORKERS requests run at once, in any order, as virtio allows.
 * A request is completed only after its data is where the guest was told it
 * is: a write is in the image file, a flush has reached stable storage
 * (fdatasync), whatever the disk's host caching mode.
 *
 * Why threads and not io_uring: qcow2 requests run the format's metadata
 * code (L2 lookups, allocation, copy-on-write) synchronously before and
 * after their data transfer, which a thread does naturally; the pool costs
 * one wake-up per request that finds every worker idle and nothing when
 * they are busy (the worker that pops wakes the next only when requests are
 * left). docs/performance.md has the measurement.
 */
#include "devices/virtio_blk.h"

#include "devices/virtio.h"
#include "lib/log.h"
#include "lib/threadrole.h"
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
#define VIRTIO_BLK_F_MQ (1ull << 12)
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
#define BLK_WORKERS VIRTIO_BLK_WORKERS

struct blk;

struct blk_worker {
    struct blk *b;
    pthread_t thread;
    bool running;
    struct virtq_req req;           /* the request being served */
    struct iovec data[VIRTQ_MAX_SEGS / 2]; /* its data buffers, header and status cut off */
};

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

    pthread_mutex_t wlock; /* guards pending, idle, quit */
    pthread_cond_t wake;
    pthread_cond_t drained; /* a worker went idle (virtio_blk_drain waits on it) */
    unsigned pending; /* notifications not yet picked up by a worker */
    unsigned idle;    /* workers waiting on wake */
    bool quit;
    bool quiet;       /* quiesced (vmstate): workers take no request */
    unsigned next_q;  /* round robin over the queues (under the virtio lock) */
    uint64_t gen;     /* device resets (under the virtio lock): stale requests are dropped */
    unsigned nworkers;
    struct blk_worker w[BLK_WORKERS];
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

/* The buffers holding bytes [skip, skip+len) of src[0..n) into dst; their number. */
static int slice(const struct iovec *src, unsigned n, size_t skip, size_t len, struct iovec *dst)
{
    int k = 0;
    for (unsigned i = 0; i < n && len; i++) {
        size_t l = src[i].iov_len;
        if (skip >= l) {
            skip -= l;
            continue;
        }
        size_t take = l - skip < len ? l - skip : len;
        dst[k].iov_base = (uint8_t *)src[i].iov_base + skip;
        dst[k].iov_len = take;
        k++;
        len -= take;
        skip = 0;
    }
    return k;
}

static uint8_t do_rw(struct blk_worker *w, uint32_t type, uint64_t sector, uint32_t *written)
{
    struct blk *b = w->b;
    const struct virtq_req *r = &w->req;
    bool is_read = type == BLK_T_IN;
    size_t len = is_read ? r->in_len - 1 : r->out_len - 16;
    if (len % SECTOR) return BLK_S_IOERR;
    if (sector > b->capacity || len / SECTOR > b->capacity - sector) return BLK_S_IOERR;
    if (!is_read && b->readonly) return BLK_S_IOERR;
    throttle(b, len);
    uint64_t off = sector * SECTOR;
    /* The guest's own buffers, minus the 16-byte header (writes) or the
     * status byte (reads): the image file reads into and writes from them. */
    int n = is_read ? slice(r->in, r->nin, 0, len, w->data)
                    : slice(r->out, r->nout, 16, len, w->data);
    if (len && (is_read ? disk_readv(b->disk, off, w->data, n)
                        : disk_writev(b->disk, off, w->data, n)) < 0)
        return BLK_S_IOERR;
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
static uint32_t serve(struct blk_worker *w)
{
    struct blk *b = w->b;
    struct virtq_req *r = &w->req;
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
    case BLK_T_OUT: status = do_rw(w, type, sector, &written); break;
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

/* Take a request from the next queue that has one (round robin, so one busy
 * queue cannot starve the others). With the virtio lock held. */
static int pop_any(struct blk *b, struct virtq_req *r, unsigned *q)
{
    struct virtio_dev *vd = &b->vd;
    for (unsigned i = 0; i < vd->nqueues; i++) {
        unsigned k = (b->next_q + i) % vd->nqueues;
        int got = virtq_pop(vd, k, r);
        if (got < 0) return got;
        if (got == 1) {
            b->next_q = k + 1;
            *q = k;
            return 1;
        }
    }
    return 0;
}

static bool any_work(struct blk *b)
{
    for (unsigned k = 0; k < b->vd.nqueues; k++)
        if (virtq_has_work(&b->vd, k)) return true;
    return false;
}

/* Wake one idle worker (there is more to do than the caller can take). */
static void wake_one(struct blk *b)
{
    pthread_mutex_lock(&b->wlock);
    b->pending++;
    if (b->idle) pthread_cond_signal(&b->wake);
    pthread_mutex_unlock(&b->wlock);
}

static void *worker(void *arg)
{
    struct blk_worker *w = arg;
    struct blk *b = w->b;
    struct virtio_dev *vd = &b->vd;
    pthread_setname_np(pthread_self(), "vblk");
    for (;;) {
        pthread_mutex_lock(&b->wlock);
        while ((!b->pending || b->quiet) && !b->quit) {
            b->idle++;
            pthread_cond_broadcast(&b->drained);
            pthread_cond_wait(&b->wake, &b->wlock);
            b->idle--;
        }
        thread_role(ROLE_DISK);
        if (b->quit) {
            pthread_mutex_unlock(&b->wlock);
            return NULL;
        }
        b->pending = 0;
        pthread_mutex_unlock(&b->wlock);
        for (;;) {
            unsigned q = 0;
            pthread_mutex_lock(&b->wlock);
            bool stop = b->quiet;
            if (stop) b->pending++; /* come back to the queues afterwards */
            pthread_mutex_unlock(&b->wlock);
            if (stop) break;
            virtio_lock(vd);
            int got = pop_any(b, &w->req, &q);
            bool more = got == 1 && any_work(b);
            uint64_t gen = b->gen;
            virtio_unlock(vd);
            if (got != 1) break;
            if (more) wake_one(b);
            uint32_t written = serve(w);
            virtio_lock(vd);
            if (gen == b->gen) { /* else the guest reset the device meanwhile */
                virtq_push(vd, q, &w->req, written);
                virtq_notify(vd, q);
            }
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
        /* every worker finishes the request it serves and waits */
        while (b->idle < b->nworkers && !b->quit) pthread_cond_wait(&b->drained, &b->wlock);
    } else {
        pthread_cond_broadcast(&b->wake);
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
    b->pending++;
    pthread_cond_signal(&b->wake);
    pthread_mutex_unlock(&b->wlock);
    return 0;
}

static void blk_notify(struct virtio_dev *vd, unsigned q)
{
    struct blk *b = vd->opaque;
    (void)q;
    pthread_mutex_lock(&b->wlock);
    b->pending++;
    if (b->idle) pthread_cond_signal(&b->wake);
    pthread_mutex_unlock(&b->wlock);
}

static void blk_reset(struct virtio_dev *vd)
{
    struct blk *b = vd->opaque;
    b->gen++;
    b->next_q = 0;
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
    uint16_t nq = (uint16_t)vd->nqueues;
    memcpy(cfg + 34, &nq, 2); /* num_queues */
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
    pthread_cond_broadcast(&b->wake);
    pthread_mutex_unlock(&b->wlock);
    for (unsigned i = 0; i < b->nworkers; i++)
        if (b->w[i].running) pthread_join(b->w[i].thread, NULL);
    disk_close(b->disk);
    pthread_mutex_destroy(&b->rl_lock);
    pthread_cond_destroy(&b->wake);
    pthread_cond_destroy(&b->drained);
    pthread_mutex_destroy(&b->wlock);
    free(b);
}

static const struct virtio_device_ops blk_ops = {
    .config_read = blk_config_read,
    .notify = blk_notify,
    .reset = blk_reset,
    .destroy = blk_destroy,
    .quiesce = blk_quiesce,
    .save = blk_save,
    .load = blk_load,
};

static int blk_attach(struct machine *m, const struct device_slot *at, const void *arg)
{
    const struct blk_config *cfg = arg;
    char err[512];
    struct disk_options o = {.format = cfg->format, .readonly = cfg->readonly,
                             .cache = cfg->cache};
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
    pthread_cond_init(&b->drained, NULL);
    struct virtio_dev *vd = &b->vd;
    vd->device_id = 2;
    vd->features = VIRTIO_BLK_F_SIZE_MAX | VIRTIO_BLK_F_SEG_MAX | VIRTIO_BLK_F_BLK_SIZE |
                   VIRTIO_BLK_F_FLUSH | (cfg->readonly ? VIRTIO_BLK_F_RO
                                                       : VIRTIO_BLK_F_DISCARD |
                                                             VIRTIO_BLK_F_WRITE_ZEROES);
    unsigned nq = cfg->num_queues ? cfg->num_queues : (unsigned)m->nharts;
    if (nq < 1) nq = 1;
    if (nq > VIRTIO_MAX_QUEUES) nq = VIRTIO_MAX_QUEUES;
    if (nq > 1) vd->features |= VIRTIO_BLK_F_MQ;
    vd->nqueues = nq;
    vd->queue_max = QUEUE_SIZE;
    vd->ops = &blk_ops;
    vd->opaque = b;
    b->nworkers = BLK_WORKERS;
    for (unsigned i = 0; i < b->nworkers; i++) {
        b->w[i].b = b;
        if (pthread_create(&b->w[i].thread, NULL, worker, &b->w[i]) != 0) {
            blk_destroy(vd);
            return -1;
        }
        b->w[i].running = true;
    }
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

int virtio_blk_release(struct blk *b, char *err, size_t errlen)
{
    if (b->readonly) return 0;
    if (disk_flush(b->disk) < 0) {
        char why[256];
        disk_last_error(b->disk, why, sizeof(why));
        snprintf(err, errlen, "cannot flush its disk: %s", why);
        return -1;
    }
    if (disk_unlock(b->disk) < 0) {
        snprintf(err, errlen, "cannot hand its disk over: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int virtio_blk_retake(struct blk *b, char *err, size_t errlen)
{
    return disk_relock(b->disk, err, errlen);
}

void virtio_blk_drain(struct blk *b)
{
    pthread_mutex_lock(&b->wlock);
    while ((b->idle < b->nworkers || b->pending) && !b->quit)
        pthread_cond_wait(&b->drained, &b->wlock);
    pthread_mutex_unlock(&b->wlock);
}

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

uint64_t virtio_blk_size(struct blk *b)
{
    return b->capacity * SECTOR;
}

void virtio_blk_get_rates(struct blk *b, struct ratelimit_rates *r)
{
    pthread_mutex_lock(&b->rl_lock);
    ratelimit_rates_of(&b->rl, r);
    pthread_mutex_unlock(&b->rl_lock);
}
