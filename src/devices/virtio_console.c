/*
 * virtio_console.c - see virtio_console.h. Queue 0 (receiveq) carries the
 * host's bytes to the guest, queue 1 (transmitq) the guest's to the host,
 * kept in an inbox until the host takes them. Requests are small and rare,
 * so they are served under the device lock on whichever thread asks (the
 * vCPU that notifies, or the sender).
 */
#include "devices/virtio_console.h"

#include "devices/virtio.h"
#include "machine/machine.h"
#include "machine/vmstate.h"

#include <stdlib.h>
#include <string.h>

#define PENDING_MAX VIRTIO_CONSOLE_QUEUE_MAX
#define INBOX_MAX   VIRTIO_CONSOLE_QUEUE_MAX
#define RXQ         0
#define TXQ         1

struct vcon {
    struct virtio_dev vd;
    char pending[PENDING_MAX]; /* for the guest, not delivered yet (vd.lock) */
    size_t npending;
    char inbox[INBOX_MAX]; /* from the guest, not taken yet (vd.lock) */
    size_t ninbox;
    uint64_t dropped; /* bytes of the guest's that found the inbox full */
};

/* Copy pending bytes into the receive buffers the guest has offered. */
static void deliver(struct vcon *c)
{
    static __thread struct virtq_req req;
    struct virtio_dev *vd = &c->vd;
    if (!c->npending || !virtio_running(vd)) return;
    bool pushed = false;
    while (c->npending && virtq_pop(vd, RXQ, &req) == 1) {
        size_t done = 0;
        for (unsigned k = 0; k < req.nin && done < c->npending; k++) {
            size_t n = c->npending - done;
            if (n > req.in[k].iov_len) n = req.in[k].iov_len;
            memcpy(req.in[k].iov_base, c->pending + done, n);
            done += n;
        }
        virtq_push(vd, RXQ, &req, (uint32_t)done);
        memmove(c->pending, c->pending + done, c->npending - done);
        c->npending -= done;
        pushed = true;
    }
    if (pushed) virtq_notify(vd, RXQ);
}

static void con_notify(struct virtio_dev *vd, unsigned q)
{
    static __thread struct virtq_req req;
    struct vcon *c = vd->opaque;
    virtio_lock(vd);
    if (q == RXQ) {
        deliver(c); /* new receive buffers */
    } else if (q == TXQ) {
        bool any = false;
        while (virtq_pop(vd, TXQ, &req) == 1) { /* the guest's output: into the inbox */
            for (unsigned k = 0; k < req.nout; k++) {
                size_t n = req.out[k].iov_len, room = INBOX_MAX - c->ninbox;
                if (n > room) {
                    c->dropped += n - room;
                    n = room;
                }
                memcpy(c->inbox + c->ninbox, req.out[k].iov_base, n);
                c->ninbox += n;
            }
            virtq_push(vd, TXQ, &req, 0);
            any = true;
        }
        if (any) virtq_notify(vd, TXQ);
    }
    virtio_unlock(vd);
}

static void con_start(struct virtio_dev *vd)
{
    deliver(vd->opaque); /* (called with vd->lock held by the transport) */
}

static void con_destroy(struct virtio_dev *vd)
{
    free(vd->opaque);
}

/* State: the bytes waiting for the guest. */
static void con_save(struct virtio_dev *vd, struct vms_out *o)
{
    struct vcon *c = vd->opaque;
    vms_put_u32(o, (uint32_t)c->npending);
    vms_put_bytes(o, c->pending, c->npending);
}

static int con_load(struct virtio_dev *vd, struct vms_in *in)
{
    struct vcon *c = vd->opaque;
    uint32_t n = vms_get_u32(in);
    if (in->bad) return -1;
    if (n > PENDING_MAX) return vms_fail(in, "%u bytes waiting, more than %d", n, PENDING_MAX);
    /* what the host queued before the restore (a restored clone's message) goes after */
    char keep[PENDING_MAX];
    size_t nkeep = c->npending;
    memcpy(keep, c->pending, nkeep);
    vms_get_bytes(in, c->pending, n);
    if (in->bad) return -1;
    if (nkeep > PENDING_MAX - n) nkeep = PENDING_MAX - n;
    memcpy(c->pending + n, keep, nkeep);
    c->npending = n + nkeep;
    deliver(c);
    return 0;
}

static const struct virtio_device_ops con_ops = {
    .notify = con_notify, .start = con_start, .destroy = con_destroy,
    .save = con_save, .load = con_load};

static int con_attach(struct machine *m, const struct device_slot *at, const void *arg)
{
    (void)arg;
    struct vcon *c = calloc(1, sizeof(*c));
    if (!c) return -1;
    c->vd.device_id = 3;
    c->vd.nqueues = 2;
    c->vd.queue_max = 64;
    c->vd.ops = &con_ops;
    c->vd.opaque = c;
    if (virtio_mmio_attach(m, &c->vd, at->base, m->plic, at->irq) < 0) {
        free(c);
        return -1;
    }
    m->agent = c;
    return 0;
}

const struct device_model virtio_console_device = {.attach = con_attach,
                                                   .fdt_node = virtio_mmio_fdt_node,
                                                   .state_kind = "virtio-console",
                                                   .quiesce = virtio_mmio_quiesce,
                                                   .save = virtio_mmio_save,
                                                   .load = virtio_mmio_load};

int virtio_console_send(struct vcon *c, const void *buf, size_t len)
{
    virtio_lock(&c->vd);
    int rc = -1;
    if (len <= PENDING_MAX - c->npending) {
        memcpy(c->pending + c->npending, buf, len);
        c->npending += len;
        deliver(c);
        rc = 0;
    }
    virtio_unlock(&c->vd);
    return rc;
}

bool virtio_console_driver_ready(struct vcon *c)
{
    virtio_lock(&c->vd);
    bool ready = virtio_running(&c->vd);
    virtio_unlock(&c->vd);
    return ready;
}

size_t virtio_console_recv_lines(struct vcon *c, char *buf, size_t len, uint64_t *dropped)
{
    virtio_lock(&c->vd);
    size_t n = c->ninbox < len ? c->ninbox : len;
    while (n > 0 && c->inbox[n - 1] != '\n')
        n--;
    if (n == 0 && c->ninbox == INBOX_MAX) n = len < INBOX_MAX ? len : INBOX_MAX; /* no newline */
    memcpy(buf, c->inbox, n);
    memmove(c->inbox, c->inbox + n, c->ninbox - n);
    c->ninbox -= n;
    if (dropped) *dropped = c->dropped;
    virtio_unlock(&c->vd);
    return n;
}
