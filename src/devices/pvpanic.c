/*
 * pvpanic.c - see pvpanic.h. Reading the register returns the events the
 * device supports (bit 0 panicked, bit 1 crash loaded); writing bit 0
 * reports a panic.
 */
#include "devices/pvpanic.h"

#include "lib/log.h"
#include "machine/device.h"
#include "machine/machine.h"

#include <libfdt.h>

#define PVPANIC_PANICKED 1
#define PVPANIC_CRASH_LOADED 2

static uint64_t pvpanic_read(void *opaque, uint64_t off, int size)
{
    (void)opaque;
    (void)size;
    return off == 0 ? PVPANIC_PANICKED | PVPANIC_CRASH_LOADED : 0;
}

static void pvpanic_write(void *opaque, uint64_t off, uint64_t val, int size)
{
    struct machine *m = opaque;
    (void)size;
    if (off != 0) return;
    if (val & PVPANIC_PANICKED) {
        log_error("the guest kernel panicked (see the console output above)");
        machine_stop(m, STOP_POWEROFF, PVPANIC_EXIT_CODE);
    }
}

static const struct mmio_ops pvpanic_ops = {.read = pvpanic_read, .write = pvpanic_write};

static int pvpanic_attach(struct machine *m, const struct device_slot *at, const void *arg)
{
    (void)arg;
    return device_map(m, at, &pvpanic_ops, m);
}

/* Its node gives the two bytes the guest uses, as QEMU's does. */
static int pvpanic_fdt(void *fdt, const struct machine *m, const struct device_slot *at)
{
    (void)m;
    DT_TRY(dt_begin_device(fdt, at, DT_COMPAT("qemu,pvpanic-mmio")));
    DT_TRY(dt_prop_reg(fdt, at->base, 2));
    DT_TRY(fdt_end_node(fdt));
    return 0;
}

const struct device_model pvpanic_device = {.attach = pvpanic_attach, .fdt_node = pvpanic_fdt};
