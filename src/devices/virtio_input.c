/*
 * virtio_input.c - see virtio_input.h. Queue 0 (eventq) carries events to
 * the guest, one 8-byte virtio_input_event per buffer the driver offers;
 * queue 1 (statusq) carries the guest's LED and similar events, read and
 * dropped. The configuration space answers the driver's select/subsel
 * questions (name, serial, ids, event bits) from a tiny fixed description:
 * EV_KEY with KEY_POWER only. Events are rare: served under the device lock
 * on whichever thread asks.
 */
#include "devices/virtio_input.h"

#include "devices/virtio.h"
#include "machine/device.h"
#include "machine/machine.h"

#include <stdlib.h>
#include <string.h>

#define EVENTQ  0
#define STATUSQ 1

/* virtio 1.x, 5.8.5: the select values */
#define CFG_UNSET     0x00
#define CFG_ID_NAME   0x01
#define CFG_ID_SERIAL 0x02
#define CFG_ID_DEVIDS 0x03
#define CFG_PROP_BITS 0x10
#define CFG_EV_BITS   0x11
#define CFG_ABS_INFO  0x12

/* Linux input event codes (include/uapi/linux/input-event-codes.h) */
#define EV_SYN      0x00
#define EV_KEY      0x01
#define SYN_REPORT  0
#define KEY_POWER   116
#define BUS_VIRTUAL 0x06

#define CFG_SIZE    0x88 /* select, subsel, size, 5 reserved, 128 bytes of data */
#define PENDING_MAX 64   /* events: 16 presses */
#define EVENT_SIZE  8    /* le16 type, le16 code, le32 value */

struct vinput {
    struct virtio_dev vd;
    uint8_t cfg[CFG_SIZE]; /* the configuration space for the current select (vd.lock) */
    uint8_t pending[PENDING_MAX][EVENT_SIZE]; /* not delivered yet (vd.lock) */
    unsigned npending;
};

static void put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

/* Fill cfg[] with the answer to the driver's select/subsel. */
static void answer(struct vinput *in)
{
    uint8_t select = in->cfg[0], subsel = in->cfg[1];
    uint8_t *data = in->cfg + 8;
    memset(in->cfg + 2, 0, CFG_SIZE - 2);
    size_t size = 0;
    switch (select) {
    case CFG_ID_NAME:
        if (subsel == 0) {
            size = strlen(VIRTIO_INPUT_NAME);
            memcpy(data, VIRTIO_INPUT_NAME, size);
        }
        break;
    case CFG_ID_DEVIDS:
        if (subsel == 0) {
            put_le16(data, BUS_VIRTUAL); /* bustype */
            put_le16(data + 2, 0x6b75);  /* vendor: "ku" */
            put_le16(data + 4, 0x0001);  /* product: the power button */
            put_le16(data + 6, 0x0001);  /* version */
            size = 8;
        }
        break;
    case CFG_EV_BITS:
        if (subsel == EV_KEY) {
            data[KEY_POWER / 8] |= (uint8_t)(1u << (KEY_POWER % 8));
            size = KEY_POWER / 8 + 1;
        }
        break;
    default: /* no serial, no properties, no absolute axes */ break;
    }
    in->cfg[2] = (uint8_t)size;
}

static uint64_t input_config_read(struct virtio_dev *vd, uint64_t off, int size)
{
    struct vinput *in = vd->opaque;
    uint64_t v = 0;
    for (int i = size - 1; i >= 0; i--) {
        v <<= 8;
        if (off + (uint64_t)i < CFG_SIZE) v |= in->cfg[off + (uint64_t)i];
    }
    return v;
}

static void input_config_write(struct virtio_dev *vd, uint64_t off, uint64_t val, int size)
{
    struct vinput *in = vd->opaque;
    bool changed = false;
    for (int i = 0; i < size; i++, val >>= 8) { /* only select and subsel are writable */
        if (off + (uint64_t)i <= 1) {
            in->cfg[off + (uint64_t)i] = (uint8_t)val;
            changed = true;
        }
    }
    if (changed) answer(in);
}

/* Copy pending events into the buffers the guest has offered. */
static void deliver(struct vinput *in)
{
    static __thread struct virtq_req req;
    struct virtio_dev *vd = &in->vd;
    if (!in->npending || !virtio_running(vd)) return;
    bool pushed = false;
    unsigned done = 0;
    while (done < in->npending && virtq_pop(vd, EVENTQ, &req) == 1) {
        if (req.nin == 0 || req.in[0].iov_len < EVENT_SIZE) {
            virtq_push(vd, EVENTQ, &req, 0); /* too small to hold an event */
        } else {
            memcpy(req.in[0].iov_base, in->pending[done], EVENT_SIZE);
            virtq_push(vd, EVENTQ, &req, EVENT_SIZE);
            done++;
        }
        pushed = true;
    }
    memmove(in->pending, in->pending[done], (in->npending - done) * EVENT_SIZE);
    in->npending -= done;
    if (pushed) virtq_notify(vd, EVENTQ);
}

static void input_notify(struct virtio_dev *vd, unsigned q)
{
    static __thread struct virtq_req req;
    struct vinput *in = vd->opaque;
    virtio_lock(vd);
    if (q == EVENTQ) {
        deliver(in); /* new event buffers */
    } else if (q == STATUSQ) {
        bool any = false;
        while (virtq_pop(vd, STATUSQ, &req) == 1) { /* LEDs and the like: dropped */
            virtq_push(vd, STATUSQ, &req, 0);
            any = true;
        }
        if (any) virtq_notify(vd, STATUSQ);
    }
    virtio_unlock(vd);
}

static void input_start(struct virtio_dev *vd)
{
    deliver(vd->opaque); /* (called with vd->lock held by the transport) */
}

static void input_destroy(struct virtio_dev *vd)
{
    free(vd->opaque);
}

static const struct virtio_device_ops input_ops = {.config_read = input_config_read,
                                                   .config_write = input_config_write,
                                                   .notify = input_notify,
                                                   .start = input_start,
                                                   .destroy = input_destroy};

static int input_attach(struct machine *m, const struct device_slot *at, const void *arg)
{
    (void)arg;
    struct vinput *in = calloc(1, sizeof(*in));
    if (!in) return -1;
    in->vd.device_id = 18;
    in->vd.nqueues = 2;
    in->vd.queue_max = 64;
    in->vd.ops = &input_ops;
    in->vd.opaque = in;
    answer(in);
    if (virtio_mmio_attach(m, &in->vd, at->base, m->plic, at->irq) < 0) {
        free(in);
        return -1;
    }
    m->power_button = in;
    return 0;
}

const struct device_model virtio_input_device = {.attach = input_attach,
                                                 .fdt_node = virtio_mmio_fdt_node};

static void queue_event(struct vinput *in, uint16_t type, uint16_t code, uint32_t value)
{
    uint8_t *e = in->pending[in->npending++];
    put_le16(e, type);
    put_le16(e + 2, code);
    e[4] = (uint8_t)value;
    e[5] = (uint8_t)(value >> 8);
    e[6] = (uint8_t)(value >> 16);
    e[7] = (uint8_t)(value >> 24);
}

int virtio_input_press_power(struct vinput *in)
{
    virtio_lock(&in->vd);
    int rc = -1;
    if (!virtio_running(&in->vd)) {
        rc = 0; /* nobody listens: a press is lost, as on a machine still booting */
    } else if (in->npending + 4 <= PENDING_MAX) {
        queue_event(in, EV_KEY, KEY_POWER, 1);
        queue_event(in, EV_SYN, SYN_REPORT, 0);
        queue_event(in, EV_KEY, KEY_POWER, 0);
        queue_event(in, EV_SYN, SYN_REPORT, 0);
        deliver(in);
        rc = 0;
    }
    virtio_unlock(&in->vd);
    return rc;
}

bool virtio_input_driver_ready(struct vinput *in)
{
    virtio_lock(&in->vd);
    bool ready = virtio_running(&in->vd);
    virtio_unlock(&in->vd);
    return ready;
}
