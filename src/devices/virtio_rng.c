/*
 * virtio_rng.c - virtio entropy device (device ID 4): fills every writable
 * buffer the guest offers with bytes from the host's getrandom(). Requests
 * are small and getrandom does not block once the host is booted, so they
 * are served on the notifying vCPU's thread.
 */
#include "devices/virtio_rng.h"

#include "devices/virtio.h"
#include "machine/machine.h"

#include <stdlib.h>
#include <sys/random.h>

static void rng_notify(struct virtio_dev *vd, unsigned q)
{
    static __thread struct virtq_req req;
    virtio_lock(vd);
    while (virtq_pop(vd, q, &req) == 1) {
        uint32_t done = 0;
        for (unsigned k = 0; k < req.nin; k++) {
            ssize_t n = getrandom(req.in[k].iov_base, req.in[k].iov_len, 0);
            if (n <= 0) break;
            done += (uint32_t)n;
            if ((size_t)n < req.in[k].iov_len) break;
        }
        virtq_push(vd, q, &req, done);
    }
    virtq_notify(vd, q);
    virtio_unlock(vd);
}

static void rng_destroy(struct virtio_dev *vd)
{
    free(vd);
}

static const struct virtio_device_ops rng_ops = {.notify = rng_notify, .destroy = rng_destroy};

static int rng_attach(struct machine *m, const struct device_slot *at, const void *arg)
{
    (void)arg;
    struct virtio_dev *vd = calloc(1, sizeof(*vd));
    if (!vd) return -1;
    vd->device_id = 4;
    vd->nqueues = 1;
    vd->queue_max = 256;
    vd->ops = &rng_ops;
    if (virtio_mmio_attach(m, vd, at->base, m->plic, at->irq) < 0) {
        free(vd);
        return -1;
    }
    return 0;
}

const struct device_model virtio_rng_device = {.attach = rng_attach,
                                               .fdt_node = virtio_mmio_fdt_node,
                                               .state_kind = "virtio-rng",
                                               .quiesce = virtio_mmio_quiesce,
                                               .save = virtio_mmio_save,
                                               .load = virtio_mmio_load};
