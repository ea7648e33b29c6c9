/*
 * fuzz_dev_net.c - libFuzzer harness for the virtio-net back end
 * (src/devices/virtio_net.c, included): transmit chains the fuzzer builds
 * (fuzz_dev.h) go to a fake back end that checks what it is handed, and
 * received frames of any size (device operation) go into the guest's
 * receive buffers, merged or not, or wait, or are dropped.
 */
#include "../../src/devices/virtio_net.c"

#include "fuzz_dev.h"

#include <sys/eventfd.h>

static struct vnet *nic;
static struct virtio_device_ops sync_ops;
static uint8_t rxframe[NETDEV_MAX_FRAME + 64];

/* The back end: frames must be whole and within bounds. */
static int fake_fill(struct netdev *nd, struct pollfd *fds, int max, int *timeout_ms)
{
    (void)nd, (void)fds, (void)max, (void)timeout_ms;
    return 0;
}
static void fake_dispatch(struct netdev *nd, struct pollfd *fds, int n, bool error)
{
    (void)nd, (void)fds, (void)n, (void)error;
}
static void fake_send(struct netdev *nd, const uint8_t *frame, size_t len)
{
    (void)nd;
    if (len < 14 || len > NETDEV_MAX_FRAME + HDR_LEN) abort();
    volatile uint8_t sum = 0;
    for (size_t k = 0; k < len; k++)
        sum ^= frame[k]; /* ASan checks every byte */
}
static void fake_close(struct netdev *nd)
{
    (void)nd;
}
static const struct netdev_ops fake_ops = {
    .fill = fake_fill, .dispatch = fake_dispatch, .send = fake_send, .close = fake_close};
static struct netdev fake = {.ops = &fake_ops};

/* What the NIC's thread does when kicked. */
static void serve_now(struct virtio_dev *vd, unsigned q)
{
    struct vnet *v = vd->opaque;
    (void)q;
    transmit(v);
    flush_pending(v);
}

/* opcode 7: a frame arrives from the network */
static void receive(struct fd_in *in)
{
    size_t len = fd_u16(in);
    if (len > sizeof(rxframe)) len = sizeof(rxframe);
    size_t n = in->n < len ? in->n : len;
    memcpy(rxframe, in->p, n);
    in->p += n;
    in->n -= n;
    if (len > NETDEV_MAX_FRAME) len = NETDEV_MAX_FRAME; /* what back ends deliver at most */
    rx_callback(nic, rxframe, len);
    flush_pending(nic);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!fd_m) {
        fd_init();
        nic = calloc(1, sizeof(*nic));
        nic->nd = &fake;
        fake.rx = rx_callback;
        fake.rx_opaque = nic;
        memcpy(nic->mac, "\x52\x54\x00\x12\x34\x56", 6);
        nic->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        struct virtio_dev *vd = &nic->vd;
        vd->device_id = 1;
        vd->features = VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS | VIRTIO_NET_F_MRG_RXBUF;
        vd->nqueues = 2;
        vd->queue_max = QUEUE_SIZE;
        sync_ops = net_ops;
        sync_ops.notify = serve_now; /* no NIC thread: served here */
        sync_ops.start = NULL;
        vd->ops = &sync_ops;
        vd->opaque = nic;
        if (virtio_mmio_attach(fd_m, vd, FD_MMIO, fd_plic, FD_IRQ) < 0) abort(); /* no thread */
    }
    struct fd_in in = {data, size};
    fd_setup(&nic->vd, &in);
    fd_run(&nic->vd, &in, receive);
    /* frames left waiting from this input must not leak into the next */
    while (nic->pending_count) {
        free(nic->pending[nic->pending_head]);
        nic->pending_head = (nic->pending_head + 1) % PENDING_MAX;
        nic->pending_count--;
    }
    return 0;
}
