/*
 * virt.c - see virt.h. The memory map matches QEMU's hw/riscv/virt.c so that
 * firmware and kernels built for that board run unmodified.
 */
#include "machine/virt.h"

#include "cpu/hart.h"
#include "devices/clint.h"
#include "devices/plic.h"
#include "devices/pvpanic.h"
#include "devices/rtc.h"
#include "devices/syscon.h"
#include "devices/uart.h"
#include "devices/virtio_balloon.h"
#include "devices/virtio_console.h"
#include "devices/virtio_input.h"
#include "devices/virtio_rng.h"
#include "lib/log.h"
#include "machine/machine.h"
#include "machine/sbi.h"

const struct virt_memmap_entry virt_memmap[VIRT_NREGIONS] = {
    [VIRT_MROM] = {"mrom", 0x1000, 0xf000},
    [VIRT_TEST] = {"test", 0x100000, 0x1000},
    [VIRT_RTC] = {"rtc", 0x101000, 0x1000},
    [VIRT_PVPANIC] = {"pvpanic", 0x102000, 0x1000},
    [VIRT_CLINT] = {"clint", 0x2000000, 0x10000},
    [VIRT_PLIC] = {"plic", 0xc000000, 0x600000},
    [VIRT_UART0] = {"serial", 0x10000000, 0x100},
    [VIRT_VIRTIO] = {"virtio_mmio", 0x10001000, 0x1000},
    [VIRT_POWER_BUTTON] = {"virtio_mmio", 0x10009000, 0x1000},
    [VIRT_DRAM] = {"memory", 0x80000000, 0},
};

/* An empty virtio-mmio slot: a valid transport that reports device ID 0
 * ("no device"), so the guest probes it and moves on. */
static uint64_t empty_virtio_read(void *opaque, uint64_t off, int size)
{
    (void)opaque;
    (void)size;
    switch (off) {
    case 0x000: return 0x74726976; /* "virt" */
    case 0x004: return 2;          /* version 2: virtio 1.x (modern) */
    case 0x00c: return 0x6f6d756b; /* vendor "kumo" */
    default: return 0;             /* device ID 0 and everything else */
    }
}

static void empty_virtio_write(void *opaque, uint64_t off, uint64_t val, int size)
{
    (void)opaque;
    (void)off;
    (void)val;
    (void)size;
}

static const struct mmio_ops empty_virtio_ops = {.read = empty_virtio_read,
                                                 .write = empty_virtio_write};

static void free_plic(void *p)
{
    plic_free(p);
}
static void free_uart(void *u)
{
    uart_free(u);
}
static void free_rtc(void *r)
{
    rtc_free(r);
}

struct machine *virt_create(const struct virt_config *cfg)
{
    if (cfg->ncpus < 1 || cfg->ncpus > MACHINE_MAX_HARTS) {
        log_error("--cpus %d is out of range: use 1 to %d", cfg->ncpus, MACHINE_MAX_HARTS);
        return NULL;
    }
    struct machine *m = machine_new(virt_memmap[VIRT_DRAM].base, cfg->ram_size);
    if (!m) return NULL;
    m->console = cfg->console;
    for (int k = 0; k < cfg->ncpus; k++) {
        struct hart *h = hart_new(m, k);
        if (!h) {
            log_error("out of host memory creating vCPU %d", k);
            goto fail;
        }
        h->max_satp_mode = cfg->satp_mode;
        m->harts[m->nharts++] = h;
    }
#define MAP(r) virt_memmap[r].base
    if (machine_add_rom(m, MAP(VIRT_MROM), virt_memmap[VIRT_MROM].size, "mrom") < 0 ||
        clint_attach(m, MAP(VIRT_CLINT)) < 0 || syscon_attach(m, MAP(VIRT_TEST)) < 0 ||
        pvpanic_attach(m, MAP(VIRT_PVPANIC)) < 0)
        goto fail;
    m->plic = plic_attach(m, MAP(VIRT_PLIC));
    if (!m->plic) goto fail;
    machine_on_free(m, free_plic, m->plic);
    struct rtc *rtc = rtc_attach(m, MAP(VIRT_RTC), m->plic, VIRT_RTC_IRQ);
    if (!rtc) goto fail;
    machine_on_free(m, free_rtc, rtc);
    m->uart = uart_attach(m, MAP(VIRT_UART0), m->plic, VIRT_UART0_IRQ, cfg->console);
    if (!m->uart) goto fail;
    machine_on_free(m, free_uart, m->uart);
    /* virtio slots: disks first (slot 0 is vda), then NICs, the guest
     * channel (virtio console), the memory balloon and the entropy source in
     * the last three when free; empty slots answer "no device" */
    if (cfg->ndisks + cfg->nnics > VIRT_MAX_DEVICES) {
        log_error("too many devices: %d disks and %d NICs, the board has %d virtio slots",
                  cfg->ndisks, cfg->nnics, VIRT_MAX_DEVICES);
        goto fail;
    }
    for (int i = 0; i < VIRT_VIRTIO_COUNT; i++) {
        uint64_t base = MAP(VIRT_VIRTIO) + (uint64_t)i * virt_memmap[VIRT_VIRTIO].size;
        unsigned irq = VIRT_VIRTIO_IRQ + (unsigned)i;
        if (i < cfg->ndisks) {
            if (virtio_blk_attach(m, base, m->plic, irq, &cfg->disks[i]) < 0) goto fail;
            continue;
        }
        if (i < cfg->ndisks + cfg->nnics) {
            if (virtio_net_attach(m, base, m->plic, irq, &cfg->nics[i - cfg->ndisks]) < 0)
                goto fail;
            continue;
        }
        if (i == VIRT_VIRTIO_COUNT - 3) {
            m->agent = virtio_console_attach(m, base, m->plic, irq);
            if (!m->agent) goto fail;
            continue;
        }
        if (i == VIRT_VIRTIO_COUNT - 2) {
            m->balloon = virtio_balloon_attach(m, base, m->plic, irq);
            if (!m->balloon) goto fail;
            continue;
        }
        if (i == VIRT_VIRTIO_COUNT - 1) {
            if (virtio_rng_attach(m, base, m->plic, VIRT_VIRTIO_IRQ + (unsigned)i) < 0)
                goto fail;
            continue;
        }
        struct region r = {.base = base, .size = virt_memmap[VIRT_VIRTIO].size,
                           .name = "virtio-mmio", .ops = &empty_virtio_ops};
        if (machine_add_region(m, &r) < 0) goto fail;
    }
    m->power_button =
        virtio_input_attach(m, MAP(VIRT_POWER_BUTTON), m->plic, VIRT_POWER_BUTTON_IRQ);
    if (!m->power_button) goto fail;
#undef MAP
    if (cfg->builtin_sbi) m->ecall_hook = sbi_ecall;
    return m;
fail:
    log_error("cannot build the virt board");
    machine_free(m);
    return NULL;
}
