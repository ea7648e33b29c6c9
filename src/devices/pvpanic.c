/*
 * pvpanic.c - see pvpanic.h. Reading the register returns the events the
 * device supports (bit 0 panicked, bit 1 crash loaded); writing bit 0
 * reports a panic.
 */
#include "devices/pvpanic.h"

#include "lib/log.h"
#include "machine/machine.h"

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

int pvpanic_attach(struct machine *m, uint64_t base)
{
    struct region r = {.base = base, .size = PVPANIC_SIZE, .name = "pvpanic",
                       .ops = &pvpanic_ops, .opaque = m};
    return machine_add_region(m, &r);
}
