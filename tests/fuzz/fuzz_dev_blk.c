/*
 * fuzz_dev_blk.c - libFuzzer harness for the virtio-blk back end
 * (src/devices/virtio_blk.c, included for its request server) on a raw and
 * a qcow2 image: read, write, flush, get-id, discard and write-zeroes
 * requests in chains the fuzzer builds (fuzz_dev.h). Requests are served by
 * the disk's own worker pool; each input waits until they are all served
 * (virtio_blk_drain) before the next one rewrites guest memory.
 */
#include "../../src/devices/virtio_blk.c"

#include "fuzz_dev.h"
#include <stdlib.h>
#include "storage/qcow2.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

static struct blk *disks[2];
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
    virtio_blk_drain(disks[which]);
    return 0;
}
