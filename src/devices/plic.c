/*
 * plic.c - see plic.h. Register map (offsets from the base):
 *   0x000000 + 4*s          priority of source s
 *   0x001000                pending bits (32 sources per word)
 *   0x002000 + 0x80*c       enable bits of context c
 *   0x200000 + 0x1000*c     threshold of context c; +4 claim/complete
 * Context c belongs to hart c/2: even = M-mode (MEIP), odd = S-mode (SEIP).
 *
 * Gateway: a source whose line is high becomes pending unless it is already
 * claimed (in service); completing it lets a still-high line pend again.
 */
#include "devices/plic.h"

#include "cpu/hart.h"
#include "machine/device.h"
#include "machine/machine.h"
#include "machine/vmstate.h"

#include <libfdt.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define NWORDS ((PLIC_NDEV + 1 + 31) / 32)
#define MAX_CTX (2 * MACHINE_MAX_HARTS)

struct plic {
    struct machine *m;
    pthread_mutex_t lock;
    int nctx;
    uint32_t priority[PLIC_NDEV + 1];
    uint32_t level[NWORDS];   /* input line state */
    uint32_t pending[NWORDS];
    uint32_t claimed[NWORDS]; /* in service: between claim and complete */
    uint32_t enable[MAX_CTX][NWORDS];
    uint32_t threshold[MAX_CTX];
    bool irq_out[MAX_CTX];
};

/* Best pending, enabled source above the threshold for context c (0 = none). */
static unsigned best_source(const struct plic *p, int c)
{
    unsigned best = 0;
    uint32_t best_prio = p->threshold[c];
    for (unsigned w = 0; w < NWORDS; w++) {
        uint32_t bits = p->pending[w] & p->enable[c][w] & ~p->claimed[w];
        while (bits) {
            unsigned s = w * 32 + (unsigned)__builtin_ctz(bits);
            bits &= bits - 1;
            if (s == 0 || s > PLIC_NDEV) continue;
            if (p->priority[s] > best_prio) {
                best_prio = p->priority[s];
                best = s;
            }
        }
    }
    return best;
}

/* Recompute every context's output line; call with the lock held. */
static void update(struct plic *p)
{
    for (int c = 0; c < p->nctx; c++) {
        bool on = best_source(p, c) != 0;
        if (on == p->irq_out[c]) continue;
        p->irq_out[c] = on;
        struct hart *h = p->m->harts[c / 2];
        hart_set_irq(h, (c & 1) ? MIP_SEIP : MIP_MEIP, on);
    }
}

static void set_bit(uint32_t *words, unsigned s, bool on)
{
    if (on)
        words[s / 32] |= 1u << (s % 32);
    else
        words[s / 32] &= ~(1u << (s % 32));
}

static bool get_bit(const uint32_t *words, unsigned s)
{
    return (words[s / 32] >> (s % 32)) & 1;
}

void plic_set_level(struct plic *p, unsigned source, bool level)
{
    if (source == 0 || source > PLIC_NDEV) return;
    pthread_mutex_lock(&p->lock);
    set_bit(p->level, source, level);
    if (level && !get_bit(p->claimed, source)) set_bit(p->pending, source, true);
    if (!level) set_bit(p->pending, source, false);
    update(p);
    pthread_mutex_unlock(&p->lock);
}

static uint64_t plic_read(void *opaque, uint64_t off, int size)
{
    struct plic *p = opaque;
    uint64_t v = 0;
    if (size != 4) return 0;
    pthread_mutex_lock(&p->lock);
    if (off < 0x1000) {
        unsigned s = (unsigned)(off / 4);
        v = s <= PLIC_NDEV ? p->priority[s] : 0;
    } else if (off < 0x1000 + 4 * NWORDS) {
        v = p->pending[(off - 0x1000) / 4];
    } else if (off >= 0x2000 && off < 0x2000 + 0x80ull * (uint64_t)p->nctx) {
        unsigned c = (unsigned)((off - 0x2000) / 0x80), w = (unsigned)((off - 0x2000) % 0x80) / 4;
        v = w < NWORDS ? p->enable[c][w] : 0;
    } else if (off >= 0x200000 && off < 0x200000 + 0x1000ull * (uint64_t)p->nctx) {
        unsigned c = (unsigned)((off - 0x200000) / 0x1000), reg = (unsigned)(off % 0x1000);
        if (reg == 0) {
            v = p->threshold[c];
        } else if (reg == 4) { /* claim */
            unsigned s = best_source(p, (int)c);
            if (s) {
                set_bit(p->pending, s, false);
                set_bit(p->claimed, s, true);
            }
            v = s;
            update(p);
        }
    }
    pthread_mutex_unlock(&p->lock);
    return v;
}

static void plic_write(void *opaque, uint64_t off, uint64_t val, int size)
{
    struct plic *p = opaque;
    if (size != 4) return;
    pthread_mutex_lock(&p->lock);
    if (off < 0x1000) {
        unsigned s = (unsigned)(off / 4);
        if (s >= 1 && s <= PLIC_NDEV) p->priority[s] = (uint32_t)val & 7;
    } else if (off >= 0x2000 && off < 0x2000 + 0x80ull * (uint64_t)p->nctx) {
        unsigned c = (unsigned)((off - 0x2000) / 0x80), w = (unsigned)((off - 0x2000) % 0x80) / 4;
        if (w < NWORDS) p->enable[c][w] = (uint32_t)val & (w == 0 ? ~1u : ~0u);
    } else if (off >= 0x200000 && off < 0x200000 + 0x1000ull * (uint64_t)p->nctx) {
        unsigned c = (unsigned)((off - 0x200000) / 0x1000), reg = (unsigned)(off % 0x1000);
        if (reg == 0) {
            p->threshold[c] = (uint32_t)val & 7;
        } else if (reg == 4) { /* complete */
            unsigned s = (unsigned)val;
            if (s >= 1 && s <= PLIC_NDEV && get_bit(p->claimed, s)) {
                set_bit(p->claimed, s, false);
                if (get_bit(p->level, s)) set_bit(p->pending, s, true);
            }
        }
    }
    update(p);
    pthread_mutex_unlock(&p->lock);
}

static const struct mmio_ops plic_ops = {.read = plic_read, .write = plic_write};

struct plic *plic_attach(struct machine *m, uint64_t base)
{
    struct plic *p = calloc(1, sizeof(*p));
    if (!p) return NULL;
    p->m = m;
    p->nctx = 2 * m->nharts;
    pthread_mutex_init(&p->lock, NULL);
    struct region r = {.base = base, .size = PLIC_SIZE, .name = "plic", .ops = &plic_ops,
                       .opaque = p};
    if (machine_add_region(m, &r) < 0) {
        plic_free(p);
        return NULL;
    }
    return p;
}

void plic_free(struct plic *p)
{
    if (!p) return;
    pthread_mutex_destroy(&p->lock);
    free(p);
}

static void free_plic(void *p)
{
    plic_free(p);
}

static int plic_board_attach(struct machine *m, const struct device_slot *at, const void *arg)
{
    (void)arg;
    m->plic = plic_attach(m, at->base);
    if (!m->plic) return -1;
    machine_on_free(m, free_plic, m->plic);
    return 0;
}

/* State: every register and line; the outputs are recomputed. */
static void plic_save(void *dev, struct vms_out *o)
{
    struct plic *p = dev;
    pthread_mutex_lock(&p->lock);
    vms_put_u32(o, (uint32_t)p->nctx);
    for (unsigned s = 1; s <= PLIC_NDEV; s++) vms_put_u8(o, (uint8_t)p->priority[s]);
    for (unsigned w = 0; w < NWORDS; w++) {
        vms_put_u32(o, p->level[w]);
        vms_put_u32(o, p->pending[w]);
        vms_put_u32(o, p->claimed[w]);
    }
    for (int c = 0; c < p->nctx; c++) {
        for (unsigned w = 0; w < NWORDS; w++) vms_put_u32(o, p->enable[c][w]);
        vms_put_u8(o, (uint8_t)p->threshold[c]);
    }
    pthread_mutex_unlock(&p->lock);
}

static int plic_load(void *dev, struct vms_in *in)
{
    struct plic *p = dev;
    uint32_t nctx = vms_get_u32(in);
    if (in->bad) return -1;
    if (nctx != (uint32_t)p->nctx)
        return vms_fail(in, "%u interrupt contexts, this PLIC has %d", nctx, p->nctx);
    struct plic t = {0};
    for (unsigned s = 1; s <= PLIC_NDEV; s++) t.priority[s] = vms_get_u8(in);
    for (unsigned w = 0; w < NWORDS; w++) {
        t.level[w] = vms_get_u32(in);
        t.pending[w] = vms_get_u32(in);
        t.claimed[w] = vms_get_u32(in);
    }
    for (int c = 0; c < p->nctx; c++) {
        for (unsigned w = 0; w < NWORDS; w++) t.enable[c][w] = vms_get_u32(in);
        t.threshold[c] = vms_get_u8(in);
    }
    if (in->bad) return -1;
    uint32_t beyond = ~0u << ((PLIC_NDEV + 1) % 32); /* bits past the last source */
    for (unsigned s = 1; s <= PLIC_NDEV; s++)
        if (t.priority[s] > 7) return vms_fail(in, "priority %u of source %u", t.priority[s], s);
    if (((t.level[0] | t.pending[0] | t.claimed[0]) & 1) ||
        ((t.level[NWORDS - 1] | t.pending[NWORDS - 1] | t.claimed[NWORDS - 1]) & beyond))
        return vms_fail(in, "a source that does not exist");
    for (int c = 0; c < p->nctx; c++)
        if (t.threshold[c] > 7 || (t.enable[c][0] & 1) || (t.enable[c][NWORDS - 1] & beyond))
            return vms_fail(in, "context %d out of range", c);
    pthread_mutex_lock(&p->lock);
    memcpy(p->priority, t.priority, sizeof(p->priority));
    memcpy(p->level, t.level, sizeof(p->level));
    memcpy(p->pending, t.pending, sizeof(p->pending));
    memcpy(p->claimed, t.claimed, sizeof(p->claimed));
    memcpy(p->enable, t.enable, sizeof(p->enable));
    memcpy(p->threshold, t.threshold, sizeof(p->threshold));
    for (int c = 0; c < p->nctx; c++) {
        p->irq_out[c] = best_source(p, c) != 0;
        hart_set_irq(p->m->harts[c / 2], (c & 1) ? MIP_SEIP : MIP_MEIP, p->irq_out[c]);
    }
    pthread_mutex_unlock(&p->lock);
    return 0;
}

static int plic_fdt(void *fdt, const struct machine *m, const struct device_slot *at)
{
    DT_TRY(dt_begin_device(fdt, at, DT_COMPAT("sifive,plic-1.0.0\0riscv,plic0")));
    DT_TRY(fdt_property_u32(fdt, "#address-cells", 0));
    DT_TRY(fdt_property_u32(fdt, "#interrupt-cells", 1));
    DT_TRY(fdt_property(fdt, "interrupt-controller", NULL, 0));
    DT_TRY(dt_prop_reg(fdt, at->base, at->size));
    DT_TRY(fdt_property_u32(fdt, "riscv,ndev", PLIC_NDEV));
    DT_TRY(dt_prop_per_hart_irqs(fdt, m, IRQ_M_EXT, IRQ_S_EXT));
    DT_TRY(fdt_property_u32(fdt, "phandle", DT_PHANDLE_PLIC));
    DT_TRY(fdt_end_node(fdt));
    return 0;
}

const struct device_model plic_device = {.attach = plic_board_attach,
                                         .fdt_node = plic_fdt,
                                         .state_kind = "sifive-plic",
                                         .save = plic_save,
                                         .load = plic_load};
