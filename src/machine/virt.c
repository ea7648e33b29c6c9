/*
 * virt.c - see virt.h. The memory map and interrupt numbers match QEMU's
 * hw/riscv/virt.c so that firmware and kernels built for that board run
 * unmodified.
 */
#include "machine/virt.h"

#include "cpu/hart.h"
#include "devices/clint.h"
#include "devices/plic.h"
#include "devices/pvpanic.h"
#include "devices/rtc.h"
#include "devices/syscon.h"
#include "devices/uart.h"
#include "devices/virtio.h"
#include "devices/virtio_balloon.h"
#include "devices/virtio_console.h"
#include "devices/virtio_input.h"
#include "devices/virtio_rng.h"
#include "lib/log.h"
#include "machine/machine.h"
#include "machine/sbi.h"

#include <assert.h>
#include <string.h>

/* The reset vector ROM (boot.c writes it for firmware boot). */
static int mrom_attach(struct machine *m, const struct device_slot *at, const void *arg)
{
    (void)arg;
    return machine_add_rom(m, at->base, at->size, at->name);
}

static const struct device_model mrom_device = {.attach = mrom_attach};

/* The board's devices, attached in this order (the PLIC before the devices
 * wired to it) and written to the device tree in this order. */
/* clang-format off */
const struct virt_device virt_devices[] = {
    /* node name   base            size            PLIC source   model (the device's file) */
    {{"mrom",      VIRT_MROM_BASE, VIRT_MROM_SIZE, 0},           &mrom_device},
    {{"clint",     0x2000000,      CLINT_SIZE,     0},           &clint_device},
    {{"plic",      0xc000000,      PLIC_SIZE,      0},           &plic_device},
    {{"serial",    0x10000000,     UART_SIZE,      10},          &uart_device},
    {{"test",      0x100000,       SYSCON_SIZE,    0},           &syscon_device},
    {{"rtc",       0x101000,       RTC_SIZE,       11},          &rtc_device},
    {{"pvpanic",   0x102000,       PVPANIC_SIZE,   0},           &pvpanic_device},
    /* a ninth virtio-mmio transport, past QEMU's eight (in the gap before
     * its fw_cfg at 0x10100000, on the PLIC source QEMU leaves unused):
     * the power button every VM has (virtio_input.h) */
    {{"virtio_mmio", 0x10009000,   0x1000,         9},           &virtio_input_device},
};
/* clang-format on */
const size_t virt_ndevices = sizeof(virt_devices) / sizeof(virt_devices[0]);

/* The board's own virtio devices: each takes the last free slot, in this
 * order, once the disks and NICs have theirs (see virt.h). */
static const struct device_model *const virt_virtio_own[] = {
    &virtio_rng_device,     /* the guest's /dev/hwrng */
    &virtio_balloon_device, /* memory the host can take back */
    &virtio_console_device, /* the host's channel to the guest: its power button */
};

const struct virt_device *virt_find(const struct device_model *model)
{
    for (size_t i = 0; i < virt_ndevices; i++)
        if (virt_devices[i].model == model) return &virt_devices[i];
    return NULL;
}

int virt_virtio_slots(const struct virt_config *cfg, struct virt_virtio_slots *s)
{
    if (cfg->ndisks + cfg->nnics > VIRT_MAX_DEVICES) {
        log_error("too many devices: %d disks and %d NICs, the board has %d virtio slots",
                  cfg->ndisks, cfg->nnics, VIRT_MAX_DEVICES);
        return -1;
    }
    memset(s, 0, sizeof(*s));
    int n = 0;
    for (int i = 0; i < cfg->ndisks; i++, n++) {
        s->model[n] = &virtio_blk_device;
        s->arg[n] = &cfg->disks[i];
    }
    for (int i = 0; i < cfg->nnics; i++, n++) {
        s->model[n] = &virtio_net_device;
        s->arg[n] = &cfg->nics[i];
    }
    size_t nown = sizeof(virt_virtio_own) / sizeof(virt_virtio_own[0]);
    for (size_t k = 0; k < nown && VIRT_VIRTIO_COUNT - 1 - (int)k >= n; k++)
        s->model[VIRT_VIRTIO_COUNT - 1 - k] = virt_virtio_own[k];
    for (int i = 0; i < VIRT_VIRTIO_COUNT; i++) {
        s->at[i] = (struct device_slot){.name = "virtio_mmio",
                                        .base = VIRT_VIRTIO_BASE + (uint64_t)i * 0x1000,
                                        .size = 0x1000,
                                        .irq = VIRT_VIRTIO_IRQ + (unsigned)i};
        if (!s->model[i]) s->model[i] = &virtio_mmio_empty_device;
    }
    return 0;
}

struct machine *virt_create(const struct virt_config *cfg)
{
    if (cfg->ncpus < 1 || cfg->ncpus > MACHINE_MAX_HARTS) {
        log_error("--cpus %d is out of range: use 1 to %d", cfg->ncpus, MACHINE_MAX_HARTS);
        return NULL;
    }
    struct machine *m = machine_new(VIRT_DRAM_BASE, cfg->ram_size);
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
    for (size_t i = 0; i < virt_ndevices; i++) {
        const struct virt_device *d = &virt_devices[i];
        assert(d->at.irq <= PLIC_NDEV && (d->at.irq == 0 || m->plic));
        if (d->model->attach(m, &d->at, NULL) < 0 || device_note(m, d->model, &d->at) < 0)
            goto fail;
    }
    struct virt_virtio_slots s;
    if (virt_virtio_slots(cfg, &s) < 0) goto fail;
    for (int i = 0; i < VIRT_VIRTIO_COUNT; i++)
        if (s.model[i]->attach(m, &s.at[i], s.arg[i]) < 0 ||
            device_note(m, s.model[i], &s.at[i]) < 0)
            goto fail;
    if (cfg->builtin_sbi) m->ecall_hook = sbi_ecall;
    return m;
fail:
    log_error("cannot build the virt board");
    machine_free(m);
    return NULL;
}
