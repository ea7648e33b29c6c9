/*
 * fdt.c - the virt board's flattened device tree, written with libfdt's
 * sequential-write API from the memory map in virt.c. Node names, compatible
 * strings and interrupt wiring follow QEMU's virt board, which is what
 * OpenSBI's generic platform, U-Boot and Linux expect.
 */
#include "machine/virt.h"

#include "cpu/hart.h"
#include "devices/plic.h"
#include "devices/uart.h"
#include "lib/log.h"
#include "machine/machine.h"

#include <libfdt.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

/* phandles */
enum { PH_PLIC = 1, PH_TEST = 2, PH_CPU_INTC = 16 /* + hart id */ };

static const char *mmu_type(int satp_mode)
{
    return satp_mode >= 10 ? "riscv,sv57" : satp_mode == 9 ? "riscv,sv48" : "riscv,sv39";
}

#define TRY(call)                                                                              \
    do {                                                                                       \
        int rc_ = (call);                                                                      \
        if (rc_ < 0) {                                                                         \
            log_error("device tree: %s: %s", #call, fdt_strerror(rc_));                       \
            return -1;                                                                         \
        }                                                                                      \
    } while (0)

static int prop_reg(void *fdt, uint64_t base, uint64_t size)
{
    fdt64_t reg[2] = {cpu_to_fdt64(base), cpu_to_fdt64(size)};
    return fdt_property(fdt, "reg", reg, sizeof(reg));
}

static int begin_node_at(void *fdt, const char *name, uint64_t addr)
{
    char buf[64];
    snprintf(buf, sizeof(buf), "%s@%llx", name, (unsigned long long)addr);
    return fdt_begin_node(fdt, buf);
}

static int cpus(void *fdt, const struct machine *m, const struct virt_config *cfg)
{
    TRY(fdt_begin_node(fdt, "cpus"));
    TRY(fdt_property_u32(fdt, "#address-cells", 1));
    TRY(fdt_property_u32(fdt, "#size-cells", 0));
    TRY(fdt_property_u32(fdt, "timebase-frequency", (uint32_t)MACHINE_TIMEBASE_HZ));
    for (int k = 0; k < m->nharts; k++) {
        TRY(begin_node_at(fdt, "cpu", (uint64_t)k));
        TRY(fdt_property_string(fdt, "device_type", "cpu"));
        TRY(fdt_property_u32(fdt, "reg", (uint32_t)k));
        TRY(fdt_property_string(fdt, "status", "okay"));
        TRY(fdt_property_string(fdt, "compatible", "riscv"));
        TRY(fdt_property_string(fdt, "riscv,isa", VIRT_ISA_STRING));
        TRY(fdt_property_string(fdt, "mmu-type", mmu_type(cfg->satp_mode)));
        TRY(fdt_property_u32(fdt, "phandle", PH_CPU_INTC + 256 + (uint32_t)k));
        TRY(fdt_begin_node(fdt, "interrupt-controller"));
        TRY(fdt_property_u32(fdt, "#interrupt-cells", 1));
        TRY(fdt_property(fdt, "interrupt-controller", NULL, 0));
        TRY(fdt_property_string(fdt, "compatible", "riscv,cpu-intc"));
        TRY(fdt_property_u32(fdt, "phandle", PH_CPU_INTC + (uint32_t)k));
        TRY(fdt_end_node(fdt));
        TRY(fdt_end_node(fdt));
    }
    TRY(fdt_begin_node(fdt, "cpu-map"));
    TRY(fdt_begin_node(fdt, "cluster0"));
    for (int k = 0; k < m->nharts; k++) {
        char name[16];
        snprintf(name, sizeof(name), "core%d", k);
        TRY(fdt_begin_node(fdt, name));
        TRY(fdt_property_u32(fdt, "cpu", PH_CPU_INTC + 256 + (uint32_t)k));
        TRY(fdt_end_node(fdt));
    }
    TRY(fdt_end_node(fdt));
    TRY(fdt_end_node(fdt));
    TRY(fdt_end_node(fdt));
    return 0;
}

/* interrupts-extended = <&intc0 a &intc0 b &intc1 a ...> */
static int irqs_extended(void *fdt, const struct machine *m, uint32_t a, uint32_t b)
{
    fdt32_t cells[4 * MACHINE_MAX_HARTS];
    int n = 0;
    for (int k = 0; k < m->nharts; k++) {
        cells[n++] = cpu_to_fdt32(PH_CPU_INTC + (uint32_t)k);
        cells[n++] = cpu_to_fdt32(a);
        cells[n++] = cpu_to_fdt32(PH_CPU_INTC + (uint32_t)k);
        cells[n++] = cpu_to_fdt32(b);
    }
    return fdt_property(fdt, "interrupts-extended", cells, (int)(n * sizeof(fdt32_t)));
}

static int soc(void *fdt, const struct machine *m)
{
    const struct virt_memmap_entry *mm = virt_memmap;
    TRY(fdt_begin_node(fdt, "soc"));
    TRY(fdt_property_u32(fdt, "#address-cells", 2));
    TRY(fdt_property_u32(fdt, "#size-cells", 2));
    TRY(fdt_property_string(fdt, "compatible", "simple-bus"));
    TRY(fdt_property(fdt, "ranges", NULL, 0));

    TRY(begin_node_at(fdt, "clint", mm[VIRT_CLINT].base));
    TRY(fdt_property(fdt, "compatible", "sifive,clint0\0riscv,clint0",
                     sizeof("sifive,clint0\0riscv,clint0")));
    TRY(prop_reg(fdt, mm[VIRT_CLINT].base, mm[VIRT_CLINT].size));
    TRY(irqs_extended(fdt, m, IRQ_M_SOFT, IRQ_M_TIMER));
    TRY(fdt_end_node(fdt));

    TRY(begin_node_at(fdt, "plic", mm[VIRT_PLIC].base));
    TRY(fdt_property(fdt, "compatible", "sifive,plic-1.0.0\0riscv,plic0",
                     sizeof("sifive,plic-1.0.0\0riscv,plic0")));
    TRY(fdt_property_u32(fdt, "#address-cells", 0));
    TRY(fdt_property_u32(fdt, "#interrupt-cells", 1));
    TRY(fdt_property(fdt, "interrupt-controller", NULL, 0));
    TRY(prop_reg(fdt, mm[VIRT_PLIC].base, mm[VIRT_PLIC].size));
    TRY(fdt_property_u32(fdt, "riscv,ndev", PLIC_NDEV));
    TRY(irqs_extended(fdt, m, IRQ_M_EXT, IRQ_S_EXT));
    TRY(fdt_property_u32(fdt, "phandle", PH_PLIC));
    TRY(fdt_end_node(fdt));

    TRY(begin_node_at(fdt, "serial", mm[VIRT_UART0].base));
    TRY(fdt_property_string(fdt, "compatible", "ns16550a"));
    TRY(prop_reg(fdt, mm[VIRT_UART0].base, mm[VIRT_UART0].size));
    TRY(fdt_property_u32(fdt, "clock-frequency", UART_CLOCK_HZ));
    TRY(fdt_property_u32(fdt, "interrupts", VIRT_UART0_IRQ));
    TRY(fdt_property_u32(fdt, "interrupt-parent", PH_PLIC));
    TRY(fdt_end_node(fdt));

    TRY(begin_node_at(fdt, "test", mm[VIRT_TEST].base));
    TRY(fdt_property(fdt, "compatible", "sifive,test1\0sifive,test0\0syscon",
                     sizeof("sifive,test1\0sifive,test0\0syscon")));
    TRY(prop_reg(fdt, mm[VIRT_TEST].base, mm[VIRT_TEST].size));
    TRY(fdt_property_u32(fdt, "phandle", PH_TEST));
    TRY(fdt_end_node(fdt));

    TRY(begin_node_at(fdt, "rtc", mm[VIRT_RTC].base));
    TRY(fdt_property_string(fdt, "compatible", "google,goldfish-rtc"));
    TRY(prop_reg(fdt, mm[VIRT_RTC].base, mm[VIRT_RTC].size));
    TRY(fdt_property_u32(fdt, "interrupts", VIRT_RTC_IRQ));
    TRY(fdt_property_u32(fdt, "interrupt-parent", PH_PLIC));
    TRY(fdt_end_node(fdt));

    TRY(begin_node_at(fdt, "pvpanic", mm[VIRT_PVPANIC].base));
    TRY(fdt_property_string(fdt, "compatible", "qemu,pvpanic-mmio"));
    TRY(prop_reg(fdt, mm[VIRT_PVPANIC].base, 2));
    TRY(fdt_end_node(fdt));

    /* Slots in address order: the first disk (slot 0) becomes vda. */
    for (int i = 0; i < VIRT_VIRTIO_COUNT; i++) {
        uint64_t base = mm[VIRT_VIRTIO].base + (uint64_t)i * mm[VIRT_VIRTIO].size;
        TRY(begin_node_at(fdt, "virtio_mmio", base));
        TRY(fdt_property_string(fdt, "compatible", "virtio,mmio"));
        TRY(prop_reg(fdt, base, mm[VIRT_VIRTIO].size));
        TRY(fdt_property_u32(fdt, "interrupts", VIRT_VIRTIO_IRQ + (uint32_t)i));
        TRY(fdt_property_u32(fdt, "interrupt-parent", PH_PLIC));
        TRY(fdt_end_node(fdt));
    }
    /* the power button's transport, after the eight slots (not a disk) */
    TRY(begin_node_at(fdt, "virtio_mmio", mm[VIRT_POWER_BUTTON].base));
    TRY(fdt_property_string(fdt, "compatible", "virtio,mmio"));
    TRY(prop_reg(fdt, mm[VIRT_POWER_BUTTON].base, mm[VIRT_POWER_BUTTON].size));
    TRY(fdt_property_u32(fdt, "interrupts", VIRT_POWER_BUTTON_IRQ));
    TRY(fdt_property_u32(fdt, "interrupt-parent", PH_PLIC));
    TRY(fdt_end_node(fdt));
    TRY(fdt_end_node(fdt));
    return 0;
}

static int syscon_node(void *fdt, const char *name, const char *compat, uint32_t value)
{
    TRY(fdt_begin_node(fdt, name));
    TRY(fdt_property_string(fdt, "compatible", compat));
    TRY(fdt_property_u32(fdt, "regmap", PH_TEST));
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
    char path[64];
    snprintf(path, sizeof(path), "/soc/serial@%llx",
             (unsigned long long)virt_memmap[VIRT_UART0].base);
    TRY(fdt_property_string(fdt, "stdout-path", path));
    if (p->initrd_end > p->initrd_start) {
        TRY(fdt_property_u64(fdt, "linux,initrd-start", p->initrd_start));
        TRY(fdt_property_u64(fdt, "linux,initrd-end", p->initrd_end));
    }
    uint8_t seed[64];
    if (getrandom(seed, sizeof(seed), 0) == (ssize_t)sizeof(seed))
        TRY(fdt_property(fdt, "rng-seed", seed, sizeof(seed)));
    TRY(fdt_end_node(fdt));

    TRY(begin_node_at(fdt, "memory", m->ram_base));
    TRY(fdt_property_string(fdt, "device_type", "memory"));
    TRY(prop_reg(fdt, m->ram_base, m->ram_size));
    TRY(fdt_end_node(fdt));

    if (cpus(fdt, m, cfg) < 0 || soc(fdt, m) < 0) return -1;
    if (syscon_node(fdt, "poweroff", "syscon-poweroff", 0x5555) < 0 ||
        syscon_node(fdt, "reboot", "syscon-reboot", 0x7777) < 0)
        return -1;
    TRY(fdt_end_node(fdt));
    TRY(fdt_finish(fdt));
    return (int)fdt_totalsize(fdt);
}
