/*
 * rtc.c - see rtc.h. Registers: TIME_LOW (0x00; reading it latches
 * TIME_HIGH), TIME_HIGH (0x04), ALARM_LOW (0x08; writing it arms the alarm
 * with ALARM_HIGH), ALARM_HIGH (0x0c), IRQ_ENABLED (0x10), CLEAR_ALARM
 * (0x14), ALARM_STATUS (0x18), CLEAR_INTERRUPT (0x1c). The alarm is checked
 * by a small thread that sleeps until it is due.
 */
#include "devices/rtc.h"

#include "devices/plic.h"
#include "machine/device.h"
#include "lib/threadrole.h"
#include "machine/machine.h"
#include "machine/vmstate.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

struct rtc {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_t thread;
    bool quit;
    struct plic *plic;
    unsigned irq;
    int64_t offset_ns; /* guest time = host realtime + offset (guest may set the time) */
    uint32_t time_high_latch;
    uint32_t alarm_high;
    uint64_t alarm_ns;
    bool alarm_armed, irq_enabled, irq_pending;
    bool quiet; /* quiesced (vmstate): the alarm waits */
};

static uint64_t now_ns(const struct rtc *r)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec + (uint64_t)r->offset_ns;
}

static void update_irq(struct rtc *r)
{
    plic_set_level(r->plic, r->irq, r->irq_pending && r->irq_enabled);
}

static void *alarm_thread(void *arg)
{
    struct rtc *r = arg;
    pthread_setname_np(pthread_self(), "rtc");
    pthread_mutex_lock(&r->lock);
    while (!r->quit) {
        thread_role(ROLE_TIMER);
        if (!r->alarm_armed || r->quiet) {
            pthread_cond_wait(&r->cond, &r->lock);
            continue;
        }
        uint64_t now = now_ns(r);
        if (now >= r->alarm_ns) {
            r->alarm_armed = false;
            r->irq_pending = true;
            update_irq(r);
            continue;
        }
        uint64_t wait = r->alarm_ns - now;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t abs = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec + wait;
        ts.tv_sec = (time_t)(abs / 1000000000ull);
        ts.tv_nsec = (long)(abs % 1000000000ull);
        pthread_cond_timedwait(&r->cond, &r->lock, &ts);
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

static uint64_t rtc_read(void *opaque, uint64_t off, int size)
{
    struct rtc *r = opaque;
    uint64_t v = 0;
    (void)size;
    pthread_mutex_lock(&r->lock);
    switch (off) {
    case 0x00: {
        uint64_t t = now_ns(r);
        r->time_high_latch = (uint32_t)(t >> 32);
        v = (uint32_t)t;
        break;
    }
    case 0x04: v = r->time_high_latch; break;
    case 0x08: v = (uint32_t)r->alarm_ns; break;
    case 0x0c: v = (uint32_t)(r->alarm_ns >> 32); break;
    case 0x10: v = r->irq_enabled; break;
    case 0x18: v = r->alarm_armed; break;
    }
    pthread_mutex_unlock(&r->lock);
    return v;
}

static void rtc_write(void *opaque, uint64_t off, uint64_t val, int size)
{
    struct rtc *r = opaque;
    (void)size;
    pthread_mutex_lock(&r->lock);
    switch (off) {
    case 0x00: { /* set the time: low word, with the high word written before */
        uint64_t want = (uint64_t)r->time_high_latch << 32 | (uint32_t)val;
        r->offset_ns += (int64_t)(want - now_ns(r));
        break;
    }
    case 0x04: r->time_high_latch = (uint32_t)val; break;
    case 0x08:
        r->alarm_ns = (uint64_t)r->alarm_high << 32 | (uint32_t)val;
        r->alarm_armed = true;
        pthread_cond_signal(&r->cond);
        break;
    case 0x0c: r->alarm_high = (uint32_t)val; break;
    case 0x10:
        r->irq_enabled = val & 1;
        update_irq(r);
        break;
    case 0x14: r->alarm_armed = false; break;
    case 0x1c:
        r->irq_pending = false;
        update_irq(r);
        break;
    }
    pthread_mutex_unlock(&r->lock);
}

static const struct mmio_ops rtc_ops = {.read = rtc_read, .write = rtc_write};

static void rtc_quiesce(void *dev, bool quiet)
{
    struct rtc *r = dev;
    pthread_mutex_lock(&r->lock);
    r->quiet = quiet;
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->lock);
}

/* State: the guest's offset from the host's real time, so that a restored
 * guest reads the real time of its restore (plus what it set) and an alarm
 * set before is due when it was due. */
static void rtc_save(void *dev, struct vms_out *o)
{
    struct rtc *r = dev;
    pthread_mutex_lock(&r->lock);
    vms_put_u64(o, (uint64_t)r->offset_ns);
    vms_put_u32(o, r->time_high_latch);
    vms_put_u32(o, r->alarm_high);
    vms_put_u64(o, r->alarm_ns);
    vms_put_bool(o, r->alarm_armed);
    vms_put_bool(o, r->irq_enabled);
    vms_put_bool(o, r->irq_pending);
    pthread_mutex_unlock(&r->lock);
}

static int rtc_load(void *dev, struct vms_in *in)
{
    struct rtc *r = dev;
    int64_t offset = (int64_t)vms_get_u64(in);
    uint32_t latch = vms_get_u32(in), alarm_high = vms_get_u32(in);
    uint64_t alarm = vms_get_u64(in);
    bool armed = vms_get_bool(in), enabled = vms_get_bool(in), pending = vms_get_bool(in);
    if (in->bad) return -1;
    pthread_mutex_lock(&r->lock);
    r->offset_ns = offset;
    r->time_high_latch = latch;
    r->alarm_high = alarm_high;
    r->alarm_ns = alarm;
    r->alarm_armed = armed;
    r->irq_enabled = enabled;
    r->irq_pending = pending;
    update_irq(r);
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->lock);
    return 0;
}

static void rtc_free(void *arg)
{
    struct rtc *r = arg;
    pthread_mutex_lock(&r->lock);
    r->quit = true;
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->lock);
    pthread_join(r->thread, NULL);
    pthread_cond_destroy(&r->cond);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

static int rtc_attach(struct machine *m, const struct device_slot *at, const void *arg)
{
    (void)arg;
    struct rtc *r = calloc(1, sizeof(*r));
    if (!r) return -1;
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->cond, NULL);
    r->plic = m->plic;
    r->irq = at->irq;
    if (device_map(m, at, &rtc_ops, r) < 0 || pthread_create(&r->thread, NULL, alarm_thread, r)) {
        pthread_cond_destroy(&r->cond);
        pthread_mutex_destroy(&r->lock);
        free(r);
        return -1;
    }
    machine_on_free(m, rtc_free, r);
    return 0;
}

static int rtc_fdt(void *fdt, const struct machine *m, const struct device_slot *at)
{
    (void)m;
    return dt_plain_device(fdt, at, DT_COMPAT("google,goldfish-rtc"));
}

const struct device_model rtc_device = {.attach = rtc_attach,
                                        .fdt_node = rtc_fdt,
                                        .state_kind = "goldfish-rtc",
                                        .quiesce = rtc_quiesce,
                                        .save = rtc_save,
                                        .load = rtc_load};
