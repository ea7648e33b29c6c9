/*
 * virt.c - see virt.h. The memory map matches QEMU's hw/riscv/virt.c so that
 * firmware and kernels built for that board run unmodified.
 */
#include "machine/virt.h"

#include "cpu/hart.h"
#include "devices/clint.h"
#include "lib/log.h"
#include "machine/machine.h"

const struct virt_memmap_entry virt_memmap[VIRT_NREGIONS] = {
    [VIRT_MROM] = {"mrom", 0x1000, 0xf000},
    [VIRT_TEST] = {"test", 0x100000, 0x1000},
    [VIRT_RTC] = {"rtc", 0x101000, 0x1000},
    [VIRT_CLINT] = {"clint", 0x2000000, 0x10000},
    [VIRT_PLIC] = {"plic", 0xc000000, 0x600000},
    [VIRT_UART0] = {"uart0", 0x10000000, 0x100},
    [VIRT_VIRTIO] = {"virtio", 0x10001000, 0x1000},
    [VIRT_DRAM] = {"dram", 0x80000000, 0},
};

struct machine *virt_create(const struct virt_config *cfg)
{
    if (cfg->ncpus < 1 || cfg->ncpus > MACHINE_MAX_HARTS) {
        log_error("--cpus %d is out of range: use 1 to %d", cfg->ncpus, MACHINE_MAX_HARTS);
        return NULL;
    }
    struct machine *m = machine_new(virt_memmap[VIRT_DRAM].base, cfg->ram_size);
    if (!m) return NULL;
    for (int k = 0; k < cfg->ncpus; k++) {
        struct hart *h = hart_new(m, k);
        if (!h) {
            log_error("out of host memory creating vCPU %d", k);
            machine_free(m);
            return NULL;
        }
        m->harts[m->nharts++] = h;
    }
    if (machine_add_rom(m, virt_memmap[VIRT_MROM].base, virt_memmap[VIRT_MROM].size, "mrom") < 0 ||
        clint_attach(m, virt_memmap[VIRT_CLINT].base) < 0) {
        machine_free(m);
        return NULL;
    }
    return m;
}
