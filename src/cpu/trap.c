/*
 * trap.c - exceptions, interrupts, their delegation to S-mode, xRET, and the
 * timer comparators (CLINT mtimecmp and Sstc stimecmp) that raise MTIP/STIP.
 */
#include "cpu/internal.h"
#include "lib/log.h"

void hart_take_trap(struct hart *h, uint64_t cause, uint64_t tval, bool interrupt)
{
    if (!interrupt && cause == EXC_ILLEGAL)
        log_debug("hart %d: illegal instruction %#llx at pc %#llx (privilege %d)", h->id,
                  (unsigned long long)tval, (unsigned long long)h->pc, h->priv);
    uint64_t deleg = interrupt ? h->mideleg : h->medeleg;
    uint64_t vector_off = interrupt ? 4 * cause : 0;
    uint64_t mcause = cause | (interrupt ? 1ull << 63 : 0);

    if (h->priv <= PRIV_S && cause < 64 && ((deleg >> cause) & 1)) {
        h->scause = mcause;
        h->sepc = h->pc;
        h->stval = tval;
        uint64_t s = h->mstatus & ~(MSTATUS_SPP | MSTATUS_SPIE | MSTATUS_SIE);
        if (h->priv == PRIV_S) s |= MSTATUS_SPP;
        if (h->mstatus & MSTATUS_SIE) s |= MSTATUS_SPIE;
        h->mstatus = s;
        h->priv = PRIV_S;
        h->pc = (h->stvec & ~3ull) + ((h->stvec & 1) ? vector_off : 0);
    } else {
        h->mcause = mcause;
        h->mepc = h->pc;
        h->mtval = tval;
        uint64_t s = h->mstatus & ~(MSTATUS_MPP | MSTATUS_MPIE | MSTATUS_MIE);
        s |= (uint64_t)h->priv << MSTATUS_MPP_SHIFT;
        if (h->mstatus & MSTATUS_MIE) s |= MSTATUS_MPIE;
        h->mstatus = s;
        h->priv = PRIV_M;
        h->pc = (h->mtvec & ~3ull) + ((h->mtvec & 1) ? vector_off : 0);
    }
    mmu_update_ctx(h);
}

bool hart_mret(struct hart *h)
{
    if (h->priv != PRIV_M) return false;
    uint64_t s = h->mstatus;
    int mpp = (int)((s & MSTATUS_MPP) >> MSTATUS_MPP_SHIFT);
    s &= ~(MSTATUS_MIE | MSTATUS_MPP);
    if (s & MSTATUS_MPIE) s |= MSTATUS_MIE;
    s |= MSTATUS_MPIE; /* MPP = U (0) */
    if (mpp != PRIV_M) s &= ~MSTATUS_MPRV;
    h->mstatus = s;
    h->priv = (enum priv)mpp;
    h->pc = h->mepc;
    mmu_update_ctx(h);
    return true;
}

bool hart_sret(struct hart *h)
{
    if (h->priv == PRIV_U || (h->priv == PRIV_S && (h->mstatus & MSTATUS_TSR))) return false;
    uint64_t s = h->mstatus;
    int spp = (s & MSTATUS_SPP) ? PRIV_S : PRIV_U;
    s &= ~(MSTATUS_SIE | MSTATUS_SPP | MSTATUS_MPRV);
    if (s & MSTATUS_SPIE) s |= MSTATUS_SIE;
    s |= MSTATUS_SPIE;
    h->mstatus = s;
    h->priv = (enum priv)spp;
    h->pc = h->sepc;
    mmu_update_ctx(h);
    return true;
}

static void set_mip_bit(struct hart *h, uint64_t bit, bool on)
{
    if (on)
        atomic_fetch_or_explicit(&h->mip, bit, memory_order_relaxed);
    else
        atomic_fetch_and_explicit(&h->mip, ~bit, memory_order_relaxed);
}

void hart_update_timers(struct hart *h, uint64_t now)
{
    uint64_t mip = atomic_load_explicit(&h->mip, memory_order_relaxed);
    bool mtip = now >= atomic_load_explicit(&h->mtimecmp, memory_order_relaxed);
    if (mtip != !!(mip & MIP_MTIP)) set_mip_bit(h, MIP_MTIP, mtip);
    if (h->menvcfg & (1ull << 63)) { /* Sstc: STIP follows stimecmp */
        bool stip = now >= h->stimecmp;
        if (stip != !!(mip & MIP_STIP)) set_mip_bit(h, MIP_STIP, stip);
    }
}

uint64_t hart_pending_irqs(struct hart *h)
{
    return hart_read_mip(h) & h->mie;
}

/* Highest priority first: MEI, MSI, MTI, SEI, SSI, STI. */
static int highest(uint64_t bits)
{
    static const int order[] = {IRQ_M_EXT, IRQ_M_SOFT, IRQ_M_TIMER,
                                IRQ_S_EXT, IRQ_S_SOFT, IRQ_S_TIMER};
    for (unsigned i = 0; i < sizeof(order) / sizeof(order[0]); i++)
        if (bits & (1ull << order[i])) return order[i];
    return -1;
}

/* The interrupts the hart would take now: pending, enabled, and let in by
 * its privilege and mstatus (M-level ones before S-level ones). */
static uint64_t takeable(struct hart *h)
{
    uint64_t pending = hart_pending_irqs(h);
    if (!pending) return 0;
    uint64_t m_irqs = pending & ~h->mideleg;
    uint64_t s_irqs = pending & h->mideleg;
    bool m_on = h->priv < PRIV_M || (h->mstatus & MSTATUS_MIE);
    bool s_on = h->priv < PRIV_S || (h->priv == PRIV_S && (h->mstatus & MSTATUS_SIE));
    uint64_t take = m_on ? m_irqs : 0;
    if (!take && s_on) take = s_irqs;
    return take;
}

bool hart_irq_takeable(struct hart *h)
{
    return takeable(h) != 0;
}

bool hart_check_interrupts(struct hart *h)
{
    uint64_t take = takeable(h);
    if (!take) return false;
    hart_take_trap(h, (uint64_t)highest(take), 0, true);
    return true;
}
