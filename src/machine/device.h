/*
 * device.h - how a device joins a board. The board's table (virt.c) gives
 * each device its place: a row with the device-tree node name, the MMIO
 * region and the PLIC source. The device's own file gives what happens
 * there: a struct device_model with the function that creates the device
 * and maps its registers, and the function that writes its device-tree
 * node. Adding a device is its file plus one row; nothing else in the
 * board names it.
 *
 * The device-tree writers use libfdt's sequential-write API and the small
 * helpers below, so that every node spells reg, interrupts and phandles
 * the same way (the way QEMU's virt board does).
 */
#ifndef KUMO_MACHINE_DEVICE_H
#define KUMO_MACHINE_DEVICE_H

#include <stdbool.h>
#include <stdint.h>

struct machine;
struct mmio_ops;
struct vms_in;
struct vms_out;

/* Where the board puts a device: one row of its table. */
struct device_slot {
    const char *name;    /* device-tree node name: the node is name@base */
    uint64_t base, size; /* MMIO region */
    unsigned irq;        /* PLIC source, 0 when the device has no interrupt line */
};

struct device_model {
    /* Create the device at `at` and map its registers (machine_add_region);
     * record it where the rest of the VMM reaches it (m->plic, m->uart,
     * m->disks, ...) and register its destructor (machine_on_free). arg is
     * the device's configuration (struct blk_config, struct net_config) or
     * NULL. Devices with an interrupt line find the PLIC in m->plic, which
     * the board attaches before them. 0, or -1 after a message. */
    int (*attach)(struct machine *m, const struct device_slot *at, const void *arg);
    /* Write the device's node under /soc; NULL for a device without one
     * (ROM). 0, or -1 after a message. */
    int (*fdt_node)(void *fdt, const struct machine *m, const struct device_slot *at);

    /* ---- the device's state (machine/vmstate.h, docs/vmstate.md); all NULL
     * for a device without any. `dev` is the object the device mapped its
     * registers with (device_map's or virtio_mmio_attach's opaque). ---- */
    /* Names the state's format ("ns16550a", "virtio-blk"): a section saved
     * by another kind of device is refused, not loaded. */
    const char *state_kind;
    /* quiet: finish the requests in flight, then stop touching guest memory,
     * queues and interrupt lines from the device's own threads (the harts
     * are paused, so nothing new arrives); host input waits or is dropped
     * as a real device would. !quiet: carry on (and look at the queues
     * again). NULL: the device does nothing on its own. */
    void (*quiesce)(void *dev, bool quiet);
    /* Append the device's state (quiet, harts paused) to out. */
    void (*save)(void *dev, struct vms_out *out);
    /* Take the state save wrote into a device just attached, after RAM and
     * the harts were loaded. -1 (vms_fail) when the section holds what
     * save could not have written; the machine is then freed unrun. */
    int (*load)(void *dev, struct vms_in *in);
};

/* Record the device attached at `at` in m->devs (the board does, after each
 * attach). -1 after a message when the table is full. */
int device_note(struct machine *m, const struct device_model *model,
                const struct device_slot *at);

/* Map a device's registers at `at` (a region named after the node). */
int device_map(struct machine *m, const struct device_slot *at, const struct mmio_ops *ops,
               void *opaque);

/* ---- helpers for device-tree writers (machine/device.c) ---- */

/* phandles: the PLIC, the test device (syscon) and each hart's interrupt
 * controller (DT_PHANDLE_CPU_INTC + hart id). */
enum { DT_PHANDLE_PLIC = 1, DT_PHANDLE_TEST = 2, DT_PHANDLE_CPU_INTC = 16 };

/* Evaluate a libfdt call; on failure print which call failed and why, and
 * return -1 from the enclosing function. */
#define DT_TRY(call)                                                                               \
    do {                                                                                           \
        int dt_rc_ = (call);                                                                       \
        if (dt_rc_ < 0) {                                                                          \
            dt_error(#call, dt_rc_);                                                               \
            return -1;                                                                             \
        }                                                                                          \
    } while (0)

void dt_error(const char *call, int fdt_err);
/* Begin node "name@<addr in hex>". */
int dt_begin_node_at(void *fdt, const char *name, uint64_t addr);
/* reg = <base size> with two cells each. */
int dt_prop_reg(void *fdt, uint64_t base, uint64_t size);
/* interrupts = <irq>; interrupt-parent = <&plic>. */
int dt_prop_plic_irq(void *fdt, unsigned irq);
/* interrupts-extended = <&intc0 a &intc0 b &intc1 a &intc1 b ...>: one pair
 * per hart (the CLINT's and the PLIC's outputs). */
int dt_prop_per_hart_irqs(void *fdt, const struct machine *m, uint32_t a, uint32_t b);
/* Begin the node name@base of the device at `at` with its compatible
 * property: DT_COMPAT("vendor,a\0vendor,b") (NUL-separated strings). */
#define DT_COMPAT(list) list, (int)sizeof(list)
int dt_begin_device(void *fdt, const struct device_slot *at, const char *compat, int compat_len);
/* The whole node of a plain device: compatible, reg = <base size> and, when
 * it has one, its PLIC interrupt. */
int dt_plain_device(void *fdt, const struct device_slot *at, const char *compat, int compat_len);

#endif
