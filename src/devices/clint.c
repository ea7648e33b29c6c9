/*
 * clint.c - see clint.h. mtime is derived from the host's monotonic clock
 * (machine_time); the comparators live in the harts, which evaluate them
 * when they poll, so this device only stores values and kicks harts.
 */
#include "devices/clint.h"

#include "cpu/hart.h"
#include "machine/device.h"
#include "machine/machine.h"

#include <libfdt.h>
#include <stdlib.h>

#define MSIP_BASE 0x0
#define MTIMECMP_BASE 0x4000
#define MTIME 0xbff8

/* Read `size` bytes at byte offset `off` within a 64-bit register value. */
static uint64_t part(uint64_t reg, uint64_t off, int size)
{
    uint64_t v = reg >> (8 * (off & 7));
    return size == 8 ? v : v & ((1ull << (8 * size)) - 1);
}

static uint64_t merge(uint64_t reg, uint64_t off, uint64_t val, int size)
{
    if (size == 8) return val;
    unsigned sh = 8 * (unsigned)(off & 7);
    uint64_t mask = ((1ull << (8 * size)) - 1) << sh;
    return (reg & ~mask) | ((val << sh) & mask);
}

static uint64_t clint_read(void *opaque, uint64_t off, int size)
{
    struct machine *m = opaque;
    if (off < MTIMECMP_BASE) {
        unsigned hart = (unsigned)(off / 4);
        if (hart >= (unsigned)m->nharts || size > 4) return 0;
        return (atomic_load(&m->harts[hart]->mip) & MIP_MSIP) ? 1 : 0;
    }
    if (off >= MTIMECMP_BASE && off < MTIME) {
        unsigned hart = (unsigned)((off - MTIMECMP_BASE) / 8);
        if (hart >= (unsigned)m->nharts) return 0;
        return part(atomic_load(&m->harts[hart]->mtimecmp), off, size);
    }
    if (off >= MTIME && off < MTIME + 8) return part(machine_time(m), off, size);
    return 0;
}

static void clint_write(void *opaque, uint64_t off, uint64_t val, int size)
{
    struct machine *m = opaque;
    if (off < MTIMECMP_BASE) {
        unsigned hart = (unsigned)(off / 4);
        if (hart < (unsigned)m->nharts && (off & 3) == 0)
            hart_set_irq(m->harts[hart], MIP_MSIP, val & 1);
        return;
    }
    if (off >= MTIMECMP_BASE && off < MTIME) {
        unsigned hart = (unsigned)((off - MTIMECMP_BASE) / 8);
        if (hart >= (unsigned)m->nharts) return;
        struct hart *h = m->harts[hart];
        atomic_store(&h->mtimecmp, merge(atomic_load(&h->mtimecmp), off, val, size));
        hart_kick(h);
        return;
    }
    if (off >= MTIME && off < MTIME + 8) {
        /* Moving mtime moves the time base; every comparator is re-checked. */
        uint64_t now = machine_time(m), nv = merge(now, off, val, size);
        m->time_base_ns += (now - nv) * (1000000000ull / MACHINE_TIMEBASE_HZ);
        for (int k = 0; k < m->nharts; k++) hart_kick(m->harts[k]);
    }
}

static const struct mmio_ops clint_ops = {.read = clint_read, .write = clint_write};

static int clint_attach(struct machine *m, const struct device_slot *at, const void *arg)
{
    (void)arg;
    return device_map(m, at, &clint_ops, m);
}

static int clint_fdt(void *fdt, const struct machine *m, const struct device_slot *at)
{
    DT_TRY(dt_begin_device(fdt, at, DT_COMPAT("sifive,clint0\0riscv,clint0")));
    DT_TRY(dt_prop_reg(fdt, at->base, at->size));
    DT_TRY(dt_prop_per_hart_irqs(fdt, m, IRQ_M_SOFT, IRQ_M_TIMER));
    DT_TRY(fdt_end_node(fdt));
    return 0;
}

const struct device_model clint_device = {.attach = clint_attach, .fdt_node = clint_fdt};
