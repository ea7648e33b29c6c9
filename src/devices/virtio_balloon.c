/*
 * virtio_balloon.c - virtio memory balloon (device ID 5). The host sets a
 * target ("give back N pages"); the guest driver inflates the balloon by
 * handing over page numbers it will not use, and the device returns those
 * pages to the host (madvise DONTNEED: the process's memory really shrinks).
 * Deflating gives pages back to the guest; they come back as zero pages when
 * touched. The statistics queue carries the guest's own memory figures
 * (free, available, swap, page faults...), kept for the control socket.
 */
#include "devices/virtio_balloon.h"

#include "devices/virtio.h"
#include "lib/log.h"
#include "machine/machine.h"
#include "machine/vmstate.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define VIRTIO_BALLOON_F_MUST_TELL_HOST (1ull << 0)
#define VIRTIO_BALLOON_F_STATS_VQ (1ull << 1)
#define VIRTIO_BALLOON_F_DEFLATE_ON_OOM (1ull << 2)

enum { INFLATEQ = 0, DEFLATEQ = 1, STATSQ = 2 };
#define BALLOON_PAGE 4096ull

struct balloon {
    struct virtio_dev vd;
    uint32_t num_pages; /* target: pages the guest should give back */
    uint32_t actual;    /* pages the guest says it has given */
    uint64_t returned;  /* pages currently returned to the host */
    struct virtq_req req, stats_req;
    bool have_stats_req;
    uint64_t stats[BALLOON_NSTATS];
    bool stats_valid;
};

static void release_page(struct balloon *b, uint32_t pfn)
{
    struct machine *m = b->vd.m;
    uint64_t pa = (uint64_t)pfn * BALLOON_PAGE;
    if (!in_ram(m, pa) || !in_ram(m, pa + BALLOON_PAGE - 1)) return; /* not RAM: ignore */
    uint8_t *host = m->ram + (pa - m->ram_base);
    madvise(host, BALLOON_PAGE, MADV_DONTNEED);
    machine_memory_written(m, pa, BALLOON_PAGE); /* its contents changed (to zero) */
}

/* Inflate or deflate: each request holds little-endian 32-bit page numbers. */
static void pages(struct balloon *b, unsigned q)
{
    struct virtio_dev *vd = &b->vd;
    while (virtq_pop(vd, q, &b->req) == 1) {
        for (unsigned k = 0; k < b->req.nout; k++) {
            const uint8_t *p = b->req.out[k].iov_base;
            for (size_t off = 0; off + 4 <= b->req.out[k].iov_len; off += 4) {
                uint32_t pfn;
                memcpy(&pfn, p + off, 4);
                if (q == INFLATEQ) {
                    release_page(b, pfn);
                    b->returned++;
                } else if (b->returned) {
                    b->returned--;
                }
            }
        }
        virtq_push(vd, q, &b->req, 0);
    }
    virtq_notify(vd, q);
}

/* The guest sent a statistics buffer: keep the figures, hold the buffer
 * (returning it later asks the guest for fresh figures). */
static void take_stats(struct balloon *b)
{
    struct virtio_dev *vd = &b->vd;
    if (virtq_pop(vd, STATSQ, &b->stats_req) != 1) return;
    b->have_stats_req = true;
    for (unsigned k = 0; k < b->stats_req.nout; k++) {
        const uint8_t *p = b->stats_req.out[k].iov_base;
        for (size_t off = 0; off + 10 <= b->stats_req.out[k].iov_len; off += 10) {
            uint16_t tag;
            uint64_t val;
            memcpy(&tag, p + off, 2);
            memcpy(&val, p + off + 2, 8);
            if (tag < BALLOON_NSTATS) b->stats[tag] = val;
        }
    }
    b->stats_valid = true;
}

static void balloon_notify(struct virtio_dev *vd, unsigned q)
{
    struct balloon *b = vd->opaque;
    virtio_lock(vd);
    if (q == STATSQ)
        take_stats(b);
    else
        pages(b, q);
    virtio_unlock(vd);
}

static uint64_t balloon_config_read(struct virtio_dev *vd, uint64_t off, int size)
{
    struct balloon *b = vd->opaque;
    uint32_t cfg[2] = {b->num_pages, b->actual};
    if (off + (uint64_t)size > sizeof(cfg)) return 0;
    uint64_t v = 0;
    memcpy(&v, (uint8_t *)cfg + off, (size_t)size);
    return v;
}

static void balloon_config_write(struct virtio_dev *vd, uint64_t off, uint64_t val, int size)
{
    struct balloon *b = vd->opaque;
    if (off == 4 && size == 4) b->actual = (uint32_t)val;
}

static void balloon_reset(struct virtio_dev *vd)
{
    struct balloon *b = vd->opaque;
    b->have_stats_req = false;
    b->actual = 0;
}

static void balloon_destroy(struct virtio_dev *vd)
{
    free(vd->opaque);
}

/* State: the target, what the guest gave, what the host took back, the
 * guest's last figures, and the statistics request the device holds (by
 * its head descriptor: its buffers are found again in guest RAM). */
static void balloon_save(struct virtio_dev *vd, struct vms_out *o)
{
    struct balloon *b = vd->opaque;
    vms_put_u32(o, b->num_pages);
    vms_put_u32(o, b->actual);
    vms_put_u64(o, b->returned);
    vms_put_bool(o, b->stats_valid);
    for (int k = 0; k < BALLOON_NSTATS; k++) vms_put_u64(o, b->stats[k]);
    vms_put_bool(o, b->have_stats_req);
    vms_put_u16(o, b->have_stats_req ? b->stats_req.head : 0);
}

static int balloon_load(struct virtio_dev *vd, struct vms_in *in)
{
    struct balloon *b = vd->opaque;
    uint32_t num = vms_get_u32(in), actual = vms_get_u32(in);
    uint64_t returned = vms_get_u64(in);
    bool valid = vms_get_bool(in);
    uint64_t stats[BALLOON_NSTATS];
    for (int k = 0; k < BALLOON_NSTATS; k++) stats[k] = vms_get_u64(in);
    bool have = vms_get_bool(in);
    uint16_t head = vms_get_u16(in);
    if (in->bad) return -1;
    uint64_t pages = vd->m->ram_size / BALLOON_PAGE;
    if (num > pages || returned > pages) return vms_fail(in, "balloon larger than the RAM");
    if (have && virtq_chain(vd, STATSQ, head, &b->stats_req) < 0)
        return vms_fail(in, "the held statistics request is not a valid chain");
    b->num_pages = num;
    b->actual = actual;
    b->returned = returned;
    b->stats_valid = valid;
    memcpy(b->stats, stats, sizeof(stats));
    b->have_stats_req = have;
    return 0;
}

static const struct virtio_device_ops balloon_ops = {
    .save = balloon_save,
    .load = balloon_load,
    .config_read = balloon_config_read,
    .config_write = balloon_config_write,
    .notify = balloon_notify,
    .reset = balloon_reset,
    .destroy = balloon_destroy,
};

static int balloon_attach(struct machine *m, const struct device_slot *at, const void *arg)
{
    (void)arg;
    struct balloon *b = calloc(1, sizeof(*b));
    if (!b) return -1;
    struct virtio_dev *vd = &b->vd;
    vd->device_id = 5;
    vd->features = VIRTIO_BALLOON_F_STATS_VQ | VIRTIO_BALLOON_F_DEFLATE_ON_OOM;
    vd->nqueues = 3;
    vd->queue_max = 128;
    vd->ops = &balloon_ops;
    vd->opaque = b;
    if (virtio_mmio_attach(m, vd, at->base, m->plic, at->irq) < 0) {
        free(b);
        return -1;
    }
    m->balloon = b;
    return 0;
}

const struct device_model virtio_balloon_device = {.attach = balloon_attach,
                                                   .fdt_node = virtio_mmio_fdt_node,
                                                   .state_kind = "virtio-balloon",
                                                   .quiesce = virtio_mmio_quiesce,
                                                   .save = virtio_mmio_save,
                                                   .load = virtio_mmio_load};

void virtio_balloon_set_target(struct balloon *b, uint64_t guest_mib)
{
    struct virtio_dev *vd = &b->vd;
    virtio_lock(vd);
    uint64_t total = vd->m->ram_size / BALLOON_PAGE;
    uint64_t keep = guest_mib * (1024 * 1024 / BALLOON_PAGE);
    b->num_pages = keep >= total ? 0 : (uint32_t)(total - keep);
    virtio_config_changed(vd);
    /* also ask for fresh statistics */
    if (b->have_stats_req) {
        b->have_stats_req = false;
        virtq_push(vd, STATSQ, &b->stats_req, 0);
        virtq_notify(vd, STATSQ);
    }
    virtio_unlock(vd);
}

void virtio_balloon_get(struct balloon *b, struct balloon_info *out)
{
    struct virtio_dev *vd = &b->vd;
    virtio_lock(vd);
    out->target_pages = b->num_pages;
    out->actual_pages = b->actual;
    out->returned_pages = b->returned;
    out->stats_valid = b->stats_valid;
    memcpy(out->stats, b->stats, sizeof(out->stats));
    if (b->have_stats_req) { /* refresh for next time */
        b->have_stats_req = false;
        virtq_push(vd, STATSQ, &b->stats_req, 0);
        virtq_notify(vd, STATSQ);
    }
    virtio_unlock(vd);
}
