/*
 * device.c - the helpers devices share to join a board (see device.h):
 * mapping registers, and the device-tree properties (node names with unit
 * addresses, reg, PLIC and per-hart interrupts) spelled the way QEMU's virt
 * board spells them.
 */
#include "machine/device.h"

#include "lib/log.h"
#include "machine/machine.h"

#include <libfdt.h>
#include <stdio.h>

int device_map(struct machine *m, const struct device_slot *at, const struct mmio_ops *ops,
               void *opaque)
{
    struct region r = {
        .base = at->base, .size = at->size, .name = at->name, .ops = ops, .opaque = opaque};
    return machine_add_region(m, &r);
}

int device_note(struct machine *m, const struct device_model *model,
                const struct device_slot *at)
{
    if (m->ndevs == MACHINE_MAX_DEVICE_ROWS) {
        log_error("the board has more than %d devices", MACHINE_MAX_DEVICE_ROWS);
        return -1;
    }
    struct machine_device *d = &m->devs[m->ndevs++];
    const struct region *r = machine_find(m, at->base, 1);
    d->model = model;
    d->dev = r && !r->host ? r->opaque : NULL;
    snprintf(d->name, sizeof(d->name), "%s@%llx", at->name, (unsigned long long)at->base);
    return 0;
}

void dt_error(const char *call, int fdt_err)
{
    log_error("device tree: %s: %s", call, fdt_strerror(fdt_err));
}

int dt_prop_reg(void *fdt, uint64_t base, uint64_t size)
{
    fdt64_t reg[2] = {cpu_to_fdt64(base), cpu_to_fdt64(size)};
    return fdt_property(fdt, "reg", reg, sizeof(reg));
}

int dt_begin_node_at(void *fdt, const char *name, uint64_t addr)
{
    char buf[64];
    snprintf(buf, sizeof(buf), "%s@%llx", name, (unsigned long long)addr);
    return fdt_begin_node(fdt, buf);
}

int dt_begin_device(void *fdt, const struct device_slot *at, const char *compat, int compat_len)
{
    int rc = dt_begin_node_at(fdt, at->name, at->base);
    return rc < 0 ? rc : fdt_property(fdt, "compatible", compat, compat_len);
}

int dt_prop_plic_irq(void *fdt, unsigned irq)
{
    int rc = fdt_property_u32(fdt, "interrupts", irq);
    return rc < 0 ? rc : fdt_property_u32(fdt, "interrupt-parent", DT_PHANDLE_PLIC);
}

int dt_prop_per_hart_irqs(void *fdt, const struct machine *m, uint32_t a, uint32_t b)
{
    fdt32_t cells[4 * MACHINE_MAX_HARTS];
    int n = 0;
    for (int k = 0; k < m->nharts; k++) {
        cells[n++] = cpu_to_fdt32(DT_PHANDLE_CPU_INTC + (uint32_t)k);
        cells[n++] = cpu_to_fdt32(a);
        cells[n++] = cpu_to_fdt32(DT_PHANDLE_CPU_INTC + (uint32_t)k);
        cells[n++] = cpu_to_fdt32(b);
    }
    return fdt_property(fdt, "interrupts-extended", cells, (int)(n * sizeof(fdt32_t)));
}

int dt_plain_device(void *fdt, const struct device_slot *at, const char *compat, int compat_len)
{
    DT_TRY(dt_begin_device(fdt, at, compat, compat_len));
    DT_TRY(dt_prop_reg(fdt, at->base, at->size));
    if (at->irq) DT_TRY(dt_prop_plic_irq(fdt, at->irq));
    DT_TRY(fdt_end_node(fdt));
    return 0;
}
