/*
 * fdt.c - the virt board's flattened device tree, written with libfdt's
 * sequential-write API: the root, /chosen, memory and the harts here; one
 * node per device by the device's own writer (virt.c's table and virtio
 * slots, machine/device.h). Node names, compatible strings and interrupt
 * wiring follow QEMU's virt board, which is what OpenSBI's generic
 * platform, U-Boot and Linux expect.
 */
#include "machine/virt.h"

#include "cpu/hart.h"
#include "devices/syscon.h"
#include "devices/uart.h"
#include "lib/log.h"
#include "machine/device.h"
#include "machine/machine.h"

#include <libfdt.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

static const char *mmu_type(int satp_mode)
{
    return satp_mode >= 10 ? "riscv,sv57" : satp_mode == 9 ? "riscv,sv48" : "riscv,sv39";
}

#define TRY DT_TRY

static int cpus(void *fdt, const struct machine *m, const struct virt_config *cfg)
{
    TRY(fdt_begin_node(fdt, "cpus"));
    TRY(fdt_property_u32(fdt, "#address-cells", 1));
    TRY(fdt_property_u32(fdt, "#size-cells", 0));
    TRY(fdt_property_u32(fdt, "timebase-frequency", (uint32_t)MACHINE_TIMEBASE_HZ));
    for (int k = 0; k < m->nharts; k++) {
        TRY(dt_begin_node_at(fdt, "cpu", (uint64_t)k));
        TRY(fdt_property_string(fdt, "device_type", "cpu"));
        TRY(fdt_property_u32(fdt, "reg", (uint32_t)k));
        TRY(fdt_property_string(fdt, "status", "okay"));
        TRY(fdt_property_string(fdt, "compatible", "riscv"));
        TRY(fdt_property_string(fdt, "riscv,isa", VIRT_ISA_STRING));
        TRY(fdt_property_string(fdt, "mmu-type", mmu_type(cfg->satp_mode)));
        TRY(fdt_property_u32(fdt, "phandle", DT_PHANDLE_CPU_INTC + 256 + (uint32_t)k));
        TRY(fdt_begin_node(fdt, "interrupt-controller"));
        TRY(fdt_property_u32(fdt, "#interrupt-cells", 1));
        TRY(fdt_property(fdt, "interrupt-controller", NULL, 0));
        TRY(fdt_property_string(fdt, "compatible", "riscv,cpu-intc"));
        TRY(fdt_property_u32(fdt, "phandle", DT_PHANDLE_CPU_INTC + (uint32_t)k));
        TRY(fdt_end_node(fdt));
        TRY(fdt_end_node(fdt));
    }
    TRY(fdt_begin_node(fdt, "cpu-map"));
    TRY(fdt_begin_node(fdt, "cluster0"));
    for (int k = 0; k < m->nharts; k++) {
        char name[16];
        snprintf(name, sizeof(name), "core%d", k);
        TRY(fdt_begin_node(fdt, name));
        TRY(fdt_property_u32(fdt, "cpu", DT_PHANDLE_CPU_INTC + 256 + (uint32_t)k));
        TRY(fdt_end_node(fdt));
    }
    TRY(fdt_end_node(fdt));
    TRY(fdt_end_node(fdt));
    TRY(fdt_end_node(fdt));
    return 0;
}

/* /soc: each device writes its own node, in the table's order, then the
 * virtio slots in address order (the first disk, slot 0, becomes vda). */
static int soc(void *fdt, const struct machine *m, const struct virt_config *cfg)
{
    TRY(fdt_begin_node(fdt, "soc"));
    TRY(fdt_property_u32(fdt, "#address-cells", 2));
    TRY(fdt_property_u32(fdt, "#size-cells", 2));
    TRY(fdt_property_string(fdt, "compatible", "simple-bus"));
    TRY(fdt_property(fdt, "ranges", NULL, 0));
    for (size_t i = 0; i < virt_ndevices; i++) {
        const struct virt_device *d = &virt_devices[i];
        if (d->model->fdt_node && d->model->fdt_node(fdt, m, &d->at) < 0) return -1;
    }
    struct virt_virtio_slots s;
    if (virt_virtio_slots(cfg, &s) < 0) return -1;
    for (int i = 0; i < VIRT_VIRTIO_COUNT; i++)
        if (s.model[i]->fdt_node(fdt, m, &s.at[i]) < 0) return -1;
    TRY(fdt_end_node(fdt));
    return 0;
}

/* The power-off and reboot values of the test device (phandle set by its node). */
static int syscon_node(void *fdt, const char *name, const char *compat, uint32_t value)
{
    TRY(fdt_begin_node(fdt, name));
    TRY(fdt_property_string(fdt, "compatible", compat));
    TRY(fdt_property_u32(fdt, "regmap", DT_PHANDLE_TEST));
    TRY(fdt_property_u32(fdt, "offset", 0));
    TRY(fdt_property_u32(fdt, "value", value));
    TRY(fdt_end_node(fdt));
    return 0;
}

int virt_build_fdt(const struct machine *m, const struct virt_config *cfg,
                   const struct fdt_params *p, void *fdt, size_t bufsize)
{
    TRY(fdt_create(fdt, (int)bufsize));
    TRY(fdt_finish_reservemap(fdt));
    TRY(fdt_begin_node(fdt, ""));
    TRY(fdt_property_u32(fdt, "#address-cells", 2));
    TRY(fdt_property_u32(fdt, "#size-cells", 2));
    TRY(fdt_property_string(fdt, "compatible", "riscv-virtio"));
    TRY(fdt_property_string(fdt, "model", "riscv-virtio,qemu"));

    TRY(fdt_begin_node(fdt, "chosen"));
    if (p->bootargs) TRY(fdt_property_string(fdt, "bootargs", p->bootargs));
    const struct virt_device *con = virt_find(&uart_device); /* the console */
    if (con) {
        char path[64];
        snprintf(path, sizeof(path), "/soc/%s@%llx", con->at.name,
                 (unsigned long long)con->at.base);
        TRY(fdt_property_string(fdt, "stdout-path", path));
    }
    if (p->initrd_end > p->initrd_start) {
        TRY(fdt_property_u64(fdt, "linux,initrd-start", p->initrd_start));
        TRY(fdt_property_u64(fdt, "linux,initrd-end", p->initrd_end));
    }
    uint8_t seed[64];
    if (getrandom(seed, sizeof(seed), 0) == (ssize_t)sizeof(seed))
        TRY(fdt_property(fdt, "rng-seed", seed, sizeof(seed)));
    TRY(fdt_end_node(fdt));

    TRY(dt_begin_node_at(fdt, "memory", m->ram_base));
    TRY(fdt_property_string(fdt, "device_type", "memory"));
    TRY(dt_prop_reg(fdt, m->ram_base, m->ram_size));
    TRY(fdt_end_node(fdt));

    if (cpus(fdt, m, cfg) < 0 || soc(fdt, m, cfg) < 0) return -1;
    if (syscon_node(fdt, "poweroff", "syscon-poweroff", SYSCON_POWEROFF) < 0 ||
        syscon_node(fdt, "reboot", "syscon-reboot", SYSCON_RESET) < 0)
        return -1;
    TRY(fdt_end_node(fdt));
    TRY(fdt_finish(fdt));
    return (int)fdt_totalsize(fdt);
}
