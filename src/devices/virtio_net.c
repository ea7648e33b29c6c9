/*
 * virtio_net.c - virtio network device (device ID 1): one receive and one
 * transmit queue, the MAC address and link status in its configuration,
 * mergeable receive buffers.
 *
 * Each NIC has one thread. It waits in poll() on its back end's descriptors
 * and an eventfd that the vCPUs kick when the guest notifies a queue, sends
 * what the guest queued for transmission, and delivers received frames into
 * the guest's receive buffers. A vCPU never waits for the network: it only
 * writes the eventfd. Frames that arrive while the guest has no free receive
 * buffers wait in a small queue; beyond that they are dropped and counted,
 * as a real NIC's ring overflow would.
 */
#include "devices/virtio_net.h"

#include "devices/netdev.h"
#include "devices/virtio.h"
#include "lib/log.h"
#include "lib/threadrole.h"
#include "machine/machine.h"
#include "machine/vmstate.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define VIRTIO_NET_F_MAC (1ull << 5)
#define VIRTIO_NET_F_MRG_RXBUF (1ull << 15)
#define VIRTIO_NET_F_STATUS (1ull << 16)
#define VIRTIO_NET_S_LINK_UP 1

#define RXQ 0
#define TXQ 1
#define QUEUE_SIZE 256
#define HDR_LEN 12 /* struct virtio_net_hdr with num_buffers (virtio 1.x) */
#define PENDING_MAX 128
#define MAX_POLL 64

struct frame {
    size_t len;
    uint8_t data[];
};

struct vnet {
    struct virtio_dev vd;
    struct netdev *nd;
    uint8_t mac[6];
    pthread_t thread;
    bool running;
    int kick_fd;
    _Atomic bool quit;
    /* quiesced (vmstate): the thread waits, touching neither queues nor
     * the back end, once it has acknowledged */
    _Atomic bool quiet_req;
    bool quiet_ack;
    pthread_mutex_t qlock;
    pthread_cond_t qcond;
    /* frames waiting for receive buffers (net thread only) */
    struct frame *pending[PENDING_MAX];
    unsigned pending_head, pending_count;
    struct virtq_req req; /* net thread only */
    struct nic_stats stats;
    struct iovec txiov[VIRTQ_MAX_SEGS / 2]; /* net thread only */
    uint8_t txbuf[HDR_LEN + NETDEV_MAX_FRAME];
};

/* ---- receive ----------------------------------------------------------------------- */

/* Write [src, src+len) into the request's writable buffers at byte `at`. */
static size_t fill_in(struct virtq_req *r, size_t at, const uint8_t *src, size_t len)
{
    size_t done = 0;
    for (unsigned k = 0; k < r->nin && done < len; k++) {
        size_t l = r->in[k].iov_len;
        if (at >= l) {
            at -= l;
            continue;
        }
        size_t n = l - at < len - done ? l - at : len - done;
        memcpy((uint8_t *)r->in[k].iov_base + at, src + done, n);
        done += n;
        at = 0;
    }
    return done;
}

/* Deliver one frame into receive buffers. Returns 1 delivered, 0 no buffers
 * (try later), -1 dropped. Call with vd.lock held.
 *
 * With mergeable buffers a frame may take several chains; their used
 * entries must be consecutive with the first one (holding the header and
 * num_buffers) first, so entries are written as chains fill up and
 * published together at the end. */
static int deliver(struct vnet *v, const uint8_t *frame, size_t len)
{
    struct virtio_dev *vd = &v->vd;
    if (!virtio_running(vd) || !vd->vq[RXQ].ready) return -1;
    bool mrg = vd->driver_features & VIRTIO_NET_F_MRG_RXBUF;
    struct virtqueue *vq = &vd->vq[RXQ];
    uint16_t avail = __atomic_load_n(&vq->avail[1], __ATOMIC_ACQUIRE);
    uint16_t free_chains = (uint16_t)(avail - vq->last_avail);
    if (free_chains == 0) return 0;

    struct virtq_req *r = &v->req;
    size_t off = 0;
    unsigned nbufs = 0;
    uint8_t *hdr_at[HDR_LEN]; /* where each header byte went (first chain) */
    while (off < len || nbufs == 0) {
        if (nbufs == free_chains) {
            /* not enough buffers for the whole frame: wait for more, unless
             * no amount will do (all of them are in use and it still did not fit) */
            vq->last_avail = (uint16_t)(vq->last_avail - nbufs); /* un-take them */
            return nbufs == vq->num ? -1 : 0;
        }
        int got = virtq_pop(vd, RXQ, r);
        if (got <= 0) return -1;
        size_t written = 0;
        if (nbufs == 0) {
            if (r->in_len < HDR_LEN) {
                virtq_push(vd, RXQ, r, 0);
                return -1;
            }
            /* remember where the header lives, to write num_buffers at the end */
            size_t at = 0;
            for (unsigned k = 0; k < r->nin && at < HDR_LEN; k++)
                for (size_t b = 0; b < r->in[k].iov_len && at < HDR_LEN; b++)
                    hdr_at[at++] = (uint8_t *)r->in[k].iov_base + b;
            written = HDR_LEN;
        }
        size_t n = r->in_len - written < len - off ? r->in_len - written : len - off;
        fill_in(r, written, frame + off, n);
        written += n;
        off += n;
        virtq_fill(vd, RXQ, r, (uint32_t)written, nbufs);
        nbufs++;
        if (!mrg && off < len) { /* without mergeable buffers one chain must hold it all */
            virtq_fill(vd, RXQ, r, 0, 0);
            virtq_flush(vd, RXQ, 1);
            return -1;
        }
    }
    for (int b = 0; b < HDR_LEN; b++) *hdr_at[b] = 0; /* no offloads: all zero ... */
    *hdr_at[10] = (uint8_t)nbufs;                    /* ... but num_buffers */
    *hdr_at[11] = (uint8_t)(nbufs >> 8);
    virtq_flush(vd, RXQ, nbufs);
    return 1;
}

static void rx_callback(void *opaque, const uint8_t *frame, size_t len)
{
    struct vnet *v = opaque;
    atomic_fetch_add(&v->stats.rx_packets, 1);
    atomic_fetch_add(&v->stats.rx_bytes, len);
    virtio_lock(&v->vd);
    int rc = v->pending_count ? 0 : deliver(v, frame, len);
    if (rc == 1) virtq_notify(&v->vd, RXQ);
    virtio_unlock(&v->vd);
    if (rc != 0) {
        if (rc < 0) v->nd->rx_dropped++;
        return;
    }
    if (v->pending_count == PENDING_MAX) {
        v->nd->rx_dropped++;
        return;
    }
    struct frame *f = malloc(sizeof(*f) + len);
    if (!f) {
        v->nd->rx_dropped++;
        return;
    }
    f->len = len;
    memcpy(f->data, frame, len);
    v->pending[(v->pending_head + v->pending_count++) % PENDING_MAX] = f;
}

static void flush_pending(struct vnet *v)
{
    bool any = false;
    virtio_lock(&v->vd);
    while (v->pending_count) {
        struct frame *f = v->pending[v->pending_head];
        int rc = deliver(v, f->data, f->len);
        if (rc == 0) break;
        if (rc < 0) v->nd->rx_dropped++;
        any |= rc == 1;
        free(f);
        v->pending_head = (v->pending_head + 1) % PENDING_MAX;
        v->pending_count--;
    }
    if (any) virtq_notify(&v->vd, RXQ);
    virtio_unlock(&v->vd);
}

/* ---- transmit ---------------------------------------------------------------------- */

/* The frame of a transmit request: its readable buffers minus the header. */
static int frame_iov(const struct virtq_req *r, struct iovec *v, size_t *len)
{
    size_t skip = HDR_LEN;
    int n = 0;
    *len = 0;
    for (unsigned k = 0; k < r->nout; k++) {
        size_t l = r->out[k].iov_len;
        if (skip >= l) {
            skip -= l;
            continue;
        }
        v[n].iov_base = (uint8_t *)r->out[k].iov_base + skip;
        v[n].iov_len = l - skip;
        *len += l - skip;
        n++;
        skip = 0;
    }
    return n;
}

static void transmit(struct vnet *v)
{
    struct virtio_dev *vd = &v->vd;
    struct netdev *nd = v->nd;
    for (;;) {
        virtio_lock(vd);
        int got = virtq_pop(vd, TXQ, &v->req);
        size_t len = 0;
        bool sent = false;
        if (got == 1) {
            struct virtq_req *r = &v->req;
            if (nd->ops->sendv) {
                /* straight from the guest's buffers (they are ours until pushed) */
                len = 0;
                int n = frame_iov(r, v->txiov, &len);
                if (len >= 14 && len <= NETDEV_MAX_FRAME) {
                    nd->ops->sendv(nd, v->txiov, n, len);
                    sent = true;
                }
                len += HDR_LEN;
            } else {
                for (unsigned k = 0; k < r->nout; k++) {
                    size_t n = r->out[k].iov_len;
                    if (len + n > sizeof(v->txbuf)) n = sizeof(v->txbuf) - len;
                    memcpy(v->txbuf + len, r->out[k].iov_base, n);
                    len += n;
                }
            }
            virtq_push(vd, TXQ, r, 0);
        }
        if (got != 1) virtq_notify(vd, TXQ);
        virtio_unlock(vd);
        if (got != 1) break;
        if (!sent && len > HDR_LEN + 14) { /* a header and at least an Ethernet header */
            nd->ops->send(nd, v->txbuf + HDR_LEN, len - HDR_LEN);
            sent = true;
        }
        if (sent) {
            atomic_fetch_add(&v->stats.tx_packets, 1);
            atomic_fetch_add(&v->stats.tx_bytes, len - HDR_LEN);
        } else {
            nd->tx_dropped++;
        }
    }
    if (nd->ops->flush) nd->ops->flush(nd); /* one notification for the batch */
}

/* ---- the NIC's thread ---------------------------------------------------------------- */

static void *net_thread(void *arg)
{
    struct vnet *v = arg;
    struct pollfd fds[MAX_POLL];
    pthread_setname_np(pthread_self(), "vnet");
    while (!atomic_load(&v->quit)) {
        thread_role(ROLE_NET);
        if (atomic_load(&v->quiet_req)) {
            pthread_mutex_lock(&v->qlock);
            v->quiet_ack = true;
            pthread_cond_broadcast(&v->qcond);
            while (atomic_load(&v->quiet_req) && !atomic_load(&v->quit))
                pthread_cond_wait(&v->qcond, &v->qlock);
            v->quiet_ack = false;
            pthread_mutex_unlock(&v->qlock);
            continue;
        }
        int timeout = -1;
        fds[0] = (struct pollfd){.fd = v->kick_fd, .events = POLLIN};
        int n = v->nd->ops->fill(v->nd, fds + 1, MAX_POLL - 1, &timeout);
        int rc = poll(fds, (nfds_t)(n + 1), timeout);
        if (rc < 0 && errno != EINTR) break;
        if (fds[0].revents & POLLIN) {
            uint64_t x;
            if (read(v->kick_fd, &x, sizeof(x)) < 0) { /* drained either way */ }
        }
        v->nd->ops->dispatch(v->nd, fds + 1, n, rc < 0);
        transmit(v);
        flush_pending(v);
    }
    return NULL;
}

static void kick(struct vnet *v)
{
    uint64_t one = 1;
    if (write(v->kick_fd, &one, sizeof(one)) < 0) { /* counter full: a kick is pending */ }
}

static void net_notify(struct virtio_dev *vd, unsigned q)
{
    (void)q;
    kick(vd->opaque);
}

static void net_start(struct virtio_dev *vd)
{
    kick(vd->opaque);
}

static uint64_t net_config_read(struct virtio_dev *vd, uint64_t off, int size)
{
    struct vnet *v = vd->opaque;
    uint8_t cfg[12] = {0};
    memcpy(cfg, v->mac, 6);
    cfg[6] = VIRTIO_NET_S_LINK_UP; /* status */
    cfg[8] = 1;                    /* max_virtqueue_pairs */
    if (off + (uint64_t)size > sizeof(cfg)) return 0;
    uint64_t val = 0;
    memcpy(&val, cfg + off, (size_t)size);
    return val;
}

/* Quiesced: the NIC's thread parks between two rounds of its loop; frames
 * arriving meanwhile wait in the back end (or are dropped there). */
static void net_quiesce(struct virtio_dev *vd, bool quiet)
{
    struct vnet *v = vd->opaque;
    pthread_mutex_lock(&v->qlock);
    atomic_store(&v->quiet_req, quiet);
    if (quiet) {
        kick(v);
        while (v->running && !v->quiet_ack) pthread_cond_wait(&v->qcond, &v->qlock);
    } else {
        pthread_cond_broadcast(&v->qcond);
    }
    pthread_mutex_unlock(&v->qlock);
    if (!quiet) kick(v);
}

/* State: the MAC (a restored clone may be given another: its guest is told,
 * docs/vmstate.md) and the received frames waiting for buffers. */
static void net_save(struct virtio_dev *vd, struct vms_out *o)
{
    struct vnet *v = vd->opaque;
    vms_put_bytes(o, v->mac, 6);
    vms_put_u32(o, v->pending_count);
    for (unsigned k = 0; k < v->pending_count; k++) {
        const struct frame *f = v->pending[(v->pending_head + k) % PENDING_MAX];
        vms_put_u32(o, (uint32_t)f->len);
        vms_put_bytes(o, f->data, f->len);
    }
}

static int net_load(struct virtio_dev *vd, struct vms_in *in)
{
    struct vnet *v = vd->opaque;
    uint8_t mac[6];
    vms_get_bytes(in, mac, 6);
    uint32_t n = vms_get_u32(in);
    if (in->bad) return -1;
    if (n > PENDING_MAX) return vms_fail(in, "%u frames waiting, more than %d", n, PENDING_MAX);
    struct frame *got[PENDING_MAX];
    for (uint32_t k = 0; k < n; k++) {
        uint32_t len = vms_get_u32(in);
        got[k] = NULL;
        if (!in->bad && len > NETDEV_MAX_FRAME) vms_fail(in, "a frame of %u bytes", len);
        if (!in->bad) got[k] = malloc(sizeof(struct frame) + len);
        if (got[k]) {
            got[k]->len = len;
            vms_get_bytes(in, got[k]->data, len);
        } else if (!in->bad) {
            vms_fail(in, "out of memory");
        }
        if (in->bad) {
            for (uint32_t j = 0; j <= k; j++) free(got[j]);
            return -1;
        }
    }
    while (v->pending_count) {
        free(v->pending[v->pending_head]);
        v->pending_head = (v->pending_head + 1) % PENDING_MAX;
        v->pending_count--;
    }
    v->pending_head = 0;
    for (uint32_t k = 0; k < n; k++) v->pending[k] = got[k];
    v->pending_count = n;
    kick(v);
    return 0;
}

static void net_destroy(struct virtio_dev *vd)
{
    struct vnet *v = vd->opaque;
    atomic_store(&v->quit, true);
    if (v->running) {
        pthread_mutex_lock(&v->qlock);
        pthread_cond_broadcast(&v->qcond);
        pthread_mutex_unlock(&v->qlock);
        kick(v);
        pthread_join(v->thread, NULL);
    }
    if (v->nd) v->nd->ops->close(v->nd);
    while (v->pending_count) {
        free(v->pending[v->pending_head]);
        v->pending_head = (v->pending_head + 1) % PENDING_MAX;
        v->pending_count--;
    }
    if (v->kick_fd >= 0) close(v->kick_fd);
    pthread_cond_destroy(&v->qcond);
    pthread_mutex_destroy(&v->qlock);
    free(v);
}

static const struct virtio_device_ops net_ops = {
    .config_read = net_config_read,
    .notify = net_notify,
    .start = net_start,
    .destroy = net_destroy,
    .quiesce = net_quiesce,
    .save = net_save,
    .load = net_load,
};

static int net_attach(struct machine *m, const struct device_slot *at, const void *arg)
{
    const struct net_config *cfg = arg;
    char err[512];
    struct netdev *nd = netdev_open(cfg->backend, cfg->mac, err, sizeof(err));
    if (!nd) {
        log_error("--net %s: %s", cfg->backend, err);
        return -1;
    }
    struct vnet *v = calloc(1, sizeof(*v));
    if (!v) {
        nd->ops->close(nd);
        return -1;
    }
    v->nd = nd;
    nd->rx = rx_callback;
    nd->rx_opaque = v;
    memcpy(v->mac, cfg->mac, 6);
    v->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    pthread_mutex_init(&v->qlock, NULL);
    pthread_cond_init(&v->qcond, NULL);
    struct virtio_dev *vd = &v->vd;
    vd->device_id = 1;
    vd->features = VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS | VIRTIO_NET_F_MRG_RXBUF;
    vd->nqueues = 2;
    vd->queue_max = QUEUE_SIZE;
    vd->ops = &net_ops;
    vd->opaque = v;
    if (v->kick_fd < 0 || virtio_mmio_attach(m, vd, at->base, m->plic, at->irq) < 0) {
        net_destroy(vd);
        return -1;
    }
    if (pthread_create(&v->thread, NULL, net_thread, v) != 0) {
        log_error("cannot start the network thread");
        return -1; /* the transport's cleanup frees v */
    }
    v->running = true;
    if (m->nnics < MACHINE_MAX_DEVICES) m->nics[m->nnics++] = v;
    return 0;
}

const struct device_model virtio_net_device = {.attach = net_attach,
                                               .fdt_node = virtio_mmio_fdt_node,
                                               .state_kind = "virtio-net",
                                               .quiesce = virtio_mmio_quiesce,
                                               .save = virtio_mmio_save,
                                               .load = virtio_mmio_load};

void virtio_net_get_stats(struct vnet *v, struct nic_stats *out)
{
    out->rx_packets = atomic_load(&v->stats.rx_packets);
    out->rx_bytes = atomic_load(&v->stats.rx_bytes);
    out->tx_packets = atomic_load(&v->stats.tx_packets);
    out->tx_bytes = atomic_load(&v->stats.tx_bytes);
    out->rx_dropped = v->nd->rx_dropped;
    out->tx_dropped = v->nd->tx_dropped;
}
