/*
 * fuzz_dev_small.c - libFuzzer harness for the small virtio back ends
 * (src/devices/virtio_balloon.c, virtio_console.c, virtio_rng.c), chosen by
 * the first byte: chains the fuzzer builds (fuzz_dev.h), plus the host's
 * side as device operations: balloon targets and statistics requests,
 * bytes for the console's receive queue.
 */
#include "devices/virtio_balloon.h"
#include "devices/virtio_console.h"
#include "devices/virtio_rng.h"

#include "fuzz_dev.h"

#include <stdlib.h>

static struct balloon *balloon;
static struct vcon *con;
static struct virtio_dev *devs[3];

static void balloon_op(struct fd_in *in)
{
    uint16_t v = fd_u16(in);
    if (v & 1) {
        virtio_balloon_set_target(balloon, v >> 1);
    } else {
        struct balloon_info bi;
        virtio_balloon_get(balloon, &bi);
    }
}

static void console_op(struct fd_in *in)
{
    uint8_t buf[256];
    size_t len = fd_u8(in);
    for (size_t k = 0; k < len; k++)
        buf[k] = fd_u8(in);
    virtio_console_send(con, buf, len);
    (void)virtio_console_driver_ready(con);
}

/* The device behind an MMIO slot (virtio_mmio.c keeps it as the opaque). */
static struct virtio_dev *dev_at(uint64_t base)
{
    const struct region *r = machine_find(fd_m, base, 4);
    return r ? r->opaque : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!fd_m) {
        fd_init();
        fd_attach(&virtio_balloon_device, 0, NULL);
        fd_attach(&virtio_console_device, 1, NULL);
        fd_attach(&virtio_rng_device, 2, NULL);
        balloon = fd_m->balloon;
        con = fd_m->agent;
        for (int k = 0; k < 3; k++)
            devs[k] = dev_at(FD_MMIO + 0x1000u * (unsigned)k);
    }
    if (size < 1) return 0;
    int which = data[0] % 3;
    struct fd_in in = {data + 1, size - 1};
    fd_base = FD_MMIO + 0x1000u * (unsigned)which;
    fd_setup(devs[which], &in);
    fd_run(devs[which], &in, which == 0 ? balloon_op : which == 1 ? console_op : NULL);
    return 0;
}
