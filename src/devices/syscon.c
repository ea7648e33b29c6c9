/*
 * syscon.c - see syscon.h.
 */
#include "devices/syscon.h"

#include "lib/log.h"
#include "machine/device.h"
#include "machine/machine.h"

#include <libfdt.h>

static uint64_t syscon_read(void *opaque, uint64_t off, int size)
{
    (void)opaque;
    (void)off;
    (void)size;
    return 0;
}

static void syscon_write(void *opaque, uint64_t off, uint64_t val, int size)
{
    struct machine *m = opaque;
    log_debug("test device: write %#llx (%d bytes) at +%#llx", (unsigned long long)val, size,
              (unsigned long long)off);
    if (off != 0 || size < 2) return; /* OpenSBI writes 16 bits, Linux 32 */
    switch (val & 0xffff) {
    case SYSCON_POWEROFF: machine_stop(m, STOP_POWEROFF, 0); break;
    case SYSCON_RESET: machine_stop(m, STOP_RESET, 0); break;
    case SYSCON_FAIL: {
        int code = (int)((val >> 16) & 0xffff);
        log_info("guest reported failure with code %d", code);
        machine_stop(m, STOP_POWEROFF, code == 0 ? 1 : code > 255 ? 255 : code);
        break;
    }
    }
}

static const struct mmio_ops syscon_ops = {.read = syscon_read, .write = syscon_write};

static int syscon_attach(struct machine *m, const struct device_slot *at, const void *arg)
{
    (void)arg;
    return device_map(m, at, &syscon_ops, m);
}

static int syscon_fdt(void *fdt, const struct machine *m, const struct device_slot *at)
{
    (void)m;
    DT_TRY(dt_begin_device(fdt, at, DT_COMPAT("sifive,test1\0sifive,test0\0syscon")));
    DT_TRY(dt_prop_reg(fdt, at->base, at->size));
    DT_TRY(fdt_property_u32(fdt, "phandle", DT_PHANDLE_TEST));
    DT_TRY(fdt_end_node(fdt));
    return 0;
}

const struct device_model syscon_device = {.attach = syscon_attach, .fdt_node = syscon_fdt};
