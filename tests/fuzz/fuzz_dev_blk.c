/*
 * fuzz_dev_blk.c - libFuzzer harness for the virtio-blk back end
 * (src/devices/virtio_blk.c, included for its request server) on a raw and
 * a qcow2 image: read, write, flush, get-id, discard and write-zeroes
 * requests in chains the fuzzer builds (fuzz_dev.h). Requests are served on
 * this thread, as the disk's worker would.
 */
#include "../../src/devices/virtio_blk.c"

#include "fuzz_dev.h"
#include <stdlib.h>
#include "storage/qcow2.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

static struct blk *disks[2];
static struct virtio_device_ops sync_ops[2];

/* The worker's loop, on the notifying thread. */
static void serve_now(struct virtio_dev *vd, unsigned q)
{
    struct blk *b = vd->opaque;
    (void)q;
    for (int k = 0; k < 256; k++) {
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

static char *image(const char *name, bool qcow2)
{
    static char paths[2][64];
    int fd = memfd_create(name, 0);
    char *path = paths[qcow2];
    snprintf(path, 64, "/proc/self/fd/%d", fd);
    if (qcow2) {
        char err[256];
        if (qcow2_create(path, 4u << 20, NULL, NULL, 0, err, sizeof(err)) < 0) {
            fprintf(stderr, "qcow2_create: %s\n", err);
            abort();
        }
    } else if (ftruncate(fd, 4u << 20) < 0) {
        abort();
    }
    return path;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!fd_m) {
        fd_init();
        const char *paths[2] = {image("raw", false), image("qcow2", true)};
        for (int k = 0; k < 2; k++) {
            struct blk_config cfg = {.path = paths[k], .format = k ? "qcow2" : "raw"};
            fd_attach(&virtio_blk_device, k, &cfg);
            disks[k] = fd_m->disks[k];
            sync_ops[k] = *disks[k]->vd.ops;
            sync_ops[k].notify = serve_now; /* the worker thread stays asleep */
            disks[k]->vd.ops = &sync_ops[k];
        }
    }
    if (size < 1) return 0;
    /* the first byte picks the image */
    int which = data[0] & 1;
    struct fd_in in = {data + 1, size - 1};
    struct virtio_dev *vd = &disks[which]->vd;
    fd_base = FD_MMIO + 0x1000u * (unsigned)which;
    fd_setup(vd, &in);
    fd_run(vd, &in, NULL);
    return 0;
}
