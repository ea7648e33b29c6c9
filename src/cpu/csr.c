/*
 * csr.c - the control and status registers: their access rules (privilege,
 * read-only, counter enables, TVM, FS), their WARL write masks, and the
 * side effects of writing them (TLB context, interrupt re-evaluation).
 */
#include "cpu/decode.h"
#include "cpu/internal.h"
#include "machine/machine.h"

enum {
    CSR_FFLAGS = 0x001, CSR_FRM = 0x002, CSR_FCSR = 0x003,
    CSR_CYCLE = 0xc00, CSR_TIME = 0xc01, CSR_INSTRET = 0xc02,
    CSR_HPMCOUNTER3 = 0xc03, CSR_HPMCOUNTER31 = 0xc1f,
    CSR_SSTATUS = 0x100, CSR_SIE = 0x104, CSR_STVEC = 0x105, CSR_SCOUNTEREN = 0x106,
    CSR_SENVCFG = 0x10a, CSR_SSCRATCH = 0x140, CSR_SEPC = 0x141, CSR_SCAUSE = 0x142,
    CSR_STVAL = 0x143, CSR_SIP = 0x144, CSR_STIMECMP = 0x14d, CSR_SATP = 0x180,
    CSR_MSTATUS = 0x300, CSR_MISA = 0x301, CSR_MEDELEG = 0x302, CSR_MIDELEG = 0x303,
    CSR_MIE = 0x304, CSR_MTVEC = 0x305, CSR_MCOUNTEREN = 0x306, CSR_MENVCFG = 0x30a,
    CSR_MCOUNTINHIBIT = 0x320, CSR_MHPMEVENT3 = 0x323, CSR_MHPMEVENT31 = 0x33f,
    CSR_MSCRATCH = 0x340, CSR_MEPC = 0x341, CSR_MCAUSE = 0x342, CSR_MTVAL = 0x343,
    CSR_MIP = 0x344, CSR_PMPCFG0 = 0x3a0, CSR_PMPCFG15 = 0x3af, CSR_PMPADDR0 = 0x3b0,
    CSR_PMPADDR63 = 0x3ef, CSR_MCYCLE = 0xb00, CSR_MINSTRET = 0xb02,
    CSR_MHPMCOUNTER3 = 0xb03, CSR_MHPMCOUNTER31 = 0xb1f,
    CSR_MVENDORID = 0xf11, CSR_MARCHID = 0xf12, CSR_MIMPID = 0xf13, CSR_MHARTID = 0xf14,
    CSR_MCONFIGPTR = 0xf15,
    CSR_TSELECT = 0x7a0, CSR_TDATA1 = 0x7a1, CSR_TDATA2 = 0x7a2, CSR_TDATA3 = 0x7a3,
    CSR_TINFO = 0x7a4,
};

#define SSTATUS_MASK (MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_UBE | MSTATUS_SPP | MSTATUS_VS |  \
                      MSTATUS_FS | MSTATUS_XS | MSTATUS_SUM | MSTATUS_MXR | MSTATUS_UXL |  \
                      MSTATUS_SD)
#define MSTATUS_WRITABLE (MSTATUS_SIE | MSTATUS_MIE | MSTATUS_SPIE | MSTATUS_MPIE |          \
                          MSTATUS_SPP | MSTATUS_MPP | MSTATUS_FS | MSTATUS_MPRV |           \
                          MSTATUS_SUM | MSTATUS_MXR | MSTATUS_TVM | MSTATUS_TW | MSTATUS_TSR)
#define SSTATUS_WRITABLE (MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_FS |            \
                          MSTATUS_SUM | MSTATUS_MXR)
#define MIE_MASK (MIP_SSIP | MIP_MSIP | MIP_STIP | MIP_MTIP | MIP_SEIP | MIP_MEIP)
#define MEDELEG_MASK 0xb3ffull /* exceptions 0-9, 12, 13, 15: not ecall-from-M */
#define MENVCFG_STCE (1ull << 63)

uint64_t hart_instret_now(const struct hart *h)
{
    return h->instret + (uint64_t)(h->budget_start - h->budget);
}

uint64_t hart_read_mip(struct hart *h)
{
    return atomic_load_explicit(&h->mip, memory_order_relaxed) | (h->mip_sw & MIP_SEIP);
}

static uint64_t fix_sd(uint64_t s)
{
    if ((s & MSTATUS_FS) == MSTATUS_FS) return s | MSTATUS_SD;
    return s & ~MSTATUS_SD;
}

static void write_mstatus(struct hart *h, uint64_t val, uint64_t mask)
{
    uint64_t old = h->mstatus;
    if (mask & MSTATUS_MPP) {
        uint64_t mpp = (val & MSTATUS_MPP) >> MSTATUS_MPP_SHIFT;
        if (mpp == 2) val = (val & ~MSTATUS_MPP) | (old & MSTATUS_MPP); /* WARL: keep */
    }
    uint64_t s = fix_sd((old & ~mask) | (val & mask));
    h->mstatus = s;
    if ((old ^ s) & MSTATUS_MXR) hart_tlb_flush(h);
    mmu_update_ctx(h);
}

/* Is a counter (0 cycle, 1 time, 2 instret, 3.. hpm) readable at this privilege? */
static bool counter_enabled(const struct hart *h, unsigned idx)
{
    if (h->priv == PRIV_M) return true;
    if (!((h->mcounteren >> idx) & 1)) return false;
    if (h->priv == PRIV_U && !((h->scounteren >> idx) & 1)) return false;
    return true;
}

/*
 * Read CSR `csr`. Returns false if it does not exist or may not be accessed
 * at the current privilege (illegal instruction).
 */
static bool csr_read(struct hart *h, uint32_t csr, uint64_t *val)
{
    switch (csr) {
    case CSR_FFLAGS: *val = h->fflags; return true;
    case CSR_FRM: *val = h->frm; return true;
    case CSR_FCSR: *val = h->frm << 5 | h->fflags; return true;
    case CSR_CYCLE:
        if (!counter_enabled(h, 0)) return false;
        *val = hart_instret_now(h) - 1 + (uint64_t)h->cycle_off;
        return true;
    case CSR_TIME:
        if (!counter_enabled(h, 1)) return false;
        *val = machine_time(h->m);
        return true;
    case CSR_INSTRET:
        if (!counter_enabled(h, 2)) return false;
        *val = hart_instret_now(h) - 1 + (uint64_t)h->instret_off;
        return true;
    case CSR_SSTATUS: *val = h->mstatus & SSTATUS_MASK; return true;
    case CSR_SIE: *val = h->mie & h->mideleg; return true;
    case CSR_STVEC: *val = h->stvec; return true;
    case CSR_SCOUNTEREN: *val = h->scounteren; return true;
    case CSR_SENVCFG: *val = h->senvcfg; return true;
    case CSR_SSCRATCH: *val = h->sscratch; return true;
    case CSR_SEPC: *val = h->sepc; return true;
    case CSR_SCAUSE: *val = h->scause; return true;
    case CSR_STVAL: *val = h->stval; return true;
    case CSR_SIP:
        hart_update_timers(h, machine_time(h->m));
        *val = hart_read_mip(h) & h->mideleg;
        return true;
    case CSR_STIMECMP:
        if (h->priv == PRIV_S && (!(h->menvcfg & MENVCFG_STCE) || !(h->mcounteren & 2)))
            return false;
        *val = h->stimecmp;
        return true;
    case CSR_SATP:
        if (h->priv == PRIV_S && (h->mstatus & MSTATUS_TVM)) return false;
        *val = h->satp;
        return true;
    case CSR_MSTATUS: *val = h->mstatus; return true;
    case CSR_MISA: *val = h->misa; return true;
    case CSR_MEDELEG: *val = h->medeleg; return true;
    case CSR_MIDELEG: *val = h->mideleg; return true;
    case CSR_MIE: *val = h->mie; return true;
    case CSR_MTVEC: *val = h->mtvec; return true;
    case CSR_MCOUNTEREN: *val = h->mcounteren; return true;
    case CSR_MENVCFG: *val = h->menvcfg; return true;
    case CSR_MCOUNTINHIBIT: *val = 0; return true;
    case CSR_MSCRATCH: *val = h->mscratch; return true;
    case CSR_MEPC: *val = h->mepc; return true;
    case CSR_MCAUSE: *val = h->mcause; return true;
    case CSR_MTVAL: *val = h->mtval; return true;
    case CSR_MIP:
        hart_update_timers(h, machine_time(h->m));
        *val = hart_read_mip(h);
        return true;
    case CSR_MCYCLE: *val = hart_instret_now(h) - 1 + (uint64_t)h->cycle_off; return true;
    case CSR_MINSTRET: *val = hart_instret_now(h) - 1 + (uint64_t)h->instret_off; return true;
    case CSR_MVENDORID:
    case CSR_MARCHID:
    case CSR_MIMPID:
    case CSR_MCONFIGPTR: *val = 0; return true;
    case CSR_MHARTID: *val = h->mhartid; return true;
    /* Sdtrig, hard-wired for a hart without triggers (debug spec 5.5/5.7):
     * tselect holds only 0, tdata1 reads type 0 ("no trigger at this
     * tselect"), tdata2/3 read 0, tinfo reads 1 (the selected trigger does
     * not exist); writes are ignored. */
    case CSR_TSELECT:
    case CSR_TDATA1:
    case CSR_TDATA2:
    case CSR_TDATA3: *val = 0; return true;
    case CSR_TINFO: *val = 1; return true;
    }
    if (csr >= CSR_HPMCOUNTER3 && csr <= CSR_HPMCOUNTER31) {
        if (!counter_enabled(h, csr - CSR_CYCLE)) return false;
        *val = 0;
        return true;
    }
    if ((csr >= CSR_MHPMCOUNTER3 && csr <= CSR_MHPMCOUNTER31) ||
        (csr >= CSR_MHPMEVENT3 && csr <= CSR_MHPMEVENT31)) {
        *val = 0;
        return true;
    }
    if (csr >= CSR_PMPCFG0 && csr <= CSR_PMPCFG15) {
        if (csr & 1) return false; /* RV64: odd pmpcfg registers do not exist */
        unsigned base = (csr - CSR_PMPCFG0) * 4;
        uint64_t v = 0;
        for (unsigned k = 0; k < 8; k++)
            if (base + k < PMP_COUNT) v |= (uint64_t)h->pmpcfg[base + k] << (8 * k);
        *val = v;
        return true;
    }
    if (csr >= CSR_PMPADDR0 && csr <= CSR_PMPADDR63) {
        unsigned i = csr - CSR_PMPADDR0;
        *val = i < PMP_COUNT ? h->pmpaddr[i] : 0;
        return true;
    }
    return false;
}

static bool pmp_locked(const struct hart *h, unsigned i)
{
    return h->pmpcfg[i] & 0x80;
}

static void write_pmpcfg(struct hart *h, uint32_t csr, uint64_t val)
{
    unsigned base = (csr - CSR_PMPCFG0) * 4;
    for (unsigned k = 0; k < 8; k++) {
        unsigned i = base + k;
        if (i >= PMP_COUNT || pmp_locked(h, i)) continue;
        uint8_t c = (uint8_t)(val >> (8 * k)) & 0x9f; /* L, A, X, W, R */
        if ((c & 3) == 2) c &= (uint8_t)~3;          /* W without R is reserved: clear */
        h->pmpcfg[i] = c;
    }
    hart_tlb_flush(h);
}

static void write_pmpaddr(struct hart *h, unsigned i, uint64_t val)
{
    if (i >= PMP_COUNT || pmp_locked(h, i)) return;
    /* A locked TOR entry above also locks its base address. */
    if (i + 1 < PMP_COUNT && pmp_locked(h, i + 1) && ((h->pmpcfg[i + 1] >> 3) & 3) == 1) return;
    h->pmpaddr[i] = val & ((1ull << 54) - 1);
    hart_tlb_flush(h);
}

static void write_satp(struct hart *h, uint64_t val)
{
    uint64_t mode = val >> 60;
    if (mode != 0 && (mode < 8 || mode > (uint64_t)h->max_satp_mode)) return; /* ignored */
    h->satp = val & (0xfull << 60 | 0xffffull << 44 | ((1ull << 44) - 1));
    h->satp_mode = (int)mode;
    h->satp_root = (val & ((1ull << 44) - 1)) << 12;
    /* The TLB is tagged by satp: switch to this address space's translations. */
    mmu_switch_space(h);
}

static bool csr_write(struct hart *h, uint32_t csr, uint64_t val)
{
    switch (csr) {
    case CSR_FFLAGS: h->fflags = val & 0x1f; goto fs_dirty;
    case CSR_FRM: h->frm = val & 7; goto fs_dirty;
    case CSR_FCSR:
        h->fflags = val & 0x1f;
        h->frm = (val >> 5) & 7;
        goto fs_dirty;
    case CSR_SSTATUS: write_mstatus(h, val, SSTATUS_WRITABLE); return true;
    case CSR_SIE: h->mie = (h->mie & ~h->mideleg) | (val & h->mideleg & MIE_MASK); return true;
    case CSR_STVEC: h->stvec = val & ~2ull; return true;
    case CSR_SCOUNTEREN: h->scounteren = (uint32_t)val; return true;
    case CSR_SENVCFG: h->senvcfg = val & 1; return true;
    case CSR_SSCRATCH: h->sscratch = val; return true;
    case CSR_SEPC: h->sepc = val & ~1ull; return true;
    case CSR_SCAUSE: h->scause = val; return true;
    case CSR_STVAL: h->stval = val; return true;
    case CSR_SIP:
        /* Only SSIP is writable through sip, and only when delegated. */
        if (h->mideleg & MIP_SSIP) {
            if (val & MIP_SSIP)
                atomic_fetch_or(&h->mip, MIP_SSIP);
            else
                atomic_fetch_and(&h->mip, ~MIP_SSIP);
        }
        return true;
    case CSR_STIMECMP:
        if (h->priv == PRIV_S && (!(h->menvcfg & MENVCFG_STCE) || !(h->mcounteren & 2)))
            return false;
        h->stimecmp = val;
        hart_update_timers(h, machine_time(h->m));
        return true;
    case CSR_SATP:
        if (h->priv == PRIV_S && (h->mstatus & MSTATUS_TVM)) return false;
        write_satp(h, val);
        return true;
    case CSR_MSTATUS: write_mstatus(h, val, MSTATUS_WRITABLE); return true;
    case CSR_MISA: return true; /* fixed */
    case CSR_MEDELEG: h->medeleg = val & MEDELEG_MASK; return true;
    case CSR_MIDELEG: h->mideleg = val & MIP_S_MASK; return true;
    case CSR_MIE: h->mie = val & MIE_MASK; return true;
    case CSR_MTVEC: h->mtvec = val & ~2ull; return true; /* modes 0 and 1 only */
    case CSR_MCOUNTEREN: h->mcounteren = (uint32_t)val; return true;
    case CSR_MENVCFG:
        h->menvcfg = val & (MENVCFG_STCE | 1);
        if (!(h->menvcfg & MENVCFG_STCE)) atomic_fetch_and(&h->mip, ~MIP_STIP);
        hart_update_timers(h, machine_time(h->m));
        return true;
    case CSR_MCOUNTINHIBIT: return true; /* hardwired to zero */
    case CSR_MSCRATCH: h->mscratch = val; return true;
    case CSR_MEPC: h->mepc = val & ~1ull; return true;
    case CSR_MCAUSE: h->mcause = val; return true;
    case CSR_MTVAL: h->mtval = val; return true;
    case CSR_MIP: {
        /* SSIP and SEIP are software-writable; STIP too unless Sstc drives it. */
        uint64_t mask = MIP_SSIP;
        if (!(h->menvcfg & MENVCFG_STCE)) mask |= MIP_STIP;
        uint64_t old = atomic_load(&h->mip), nv;
        do {
            nv = (old & ~mask) | (val & mask);
        } while (!atomic_compare_exchange_weak(&h->mip, &old, nv));
        h->mip_sw = val & MIP_SEIP;
        return true;
    }
    case CSR_TSELECT:
    case CSR_TDATA1:
    case CSR_TDATA2:
    case CSR_TDATA3:
    case CSR_TINFO: return true; /* no triggers: nothing to write */
    case CSR_MCYCLE: h->cycle_off = (int64_t)(val - hart_instret_now(h)); return true;
    case CSR_MINSTRET: h->instret_off = (int64_t)(val - hart_instret_now(h)); return true;
    }
    if ((csr >= CSR_MHPMCOUNTER3 && csr <= CSR_MHPMCOUNTER31) ||
        (csr >= CSR_MHPMEVENT3 && csr <= CSR_MHPMEVENT31))
        return true; /* hardwired to zero */
    if (csr >= CSR_PMPCFG0 && csr <= CSR_PMPCFG15) {
        write_pmpcfg(h, csr, val);
        return true;
    }
    if (csr >= CSR_PMPADDR0 && csr <= CSR_PMPADDR63) {
        write_pmpaddr(h, csr - CSR_PMPADDR0, val);
        return true;
    }
    return false;
fs_dirty:
    h->mstatus |= MSTATUS_FS | MSTATUS_SD;
    return true;
}

bool csr_exec(struct hart *h, int op, int rd, int rs1, uint32_t csr)
{
    bool is_imm = op == OP_CSRRWI || op == OP_CSRRSI || op == OP_CSRRCI;
    int kind = (op == OP_CSRRW || op == OP_CSRRWI) ? 0 : (op == OP_CSRRS || op == OP_CSRRSI) ? 1 : 2;
    uint64_t src = is_imm ? (uint64_t)rs1 : h->x[rs1];
    bool do_read = kind != 0 || rd != 32;
    bool do_write = kind == 0 || rs1 != 0;

    /* Privilege in bits 9:8; bits 11:10 == 3 means read-only. */
    if (h->priv < (int)((csr >> 8) & 3)) goto illegal;
    if (do_write && (csr >> 10) == 3) goto illegal;
    if (csr <= CSR_FCSR && csr != 0 && !(h->mstatus & MSTATUS_FS)) goto illegal;

    uint64_t old = 0;
    /* Reads have no side effects here, so a CSRRW with rd = x0 may read too:
     * that is how a missing or inaccessible CSR is detected. */
    (void)do_read;
    if (!csr_read(h, csr, &old)) goto illegal;
    if (do_write) {
        /* mip.SEIP reads as software bit | PLIC line, but a read-modify-write
         * uses the software bit alone (privileged spec 3.1.9), or the line
         * would be latched into the software bit. */
        uint64_t base = csr == CSR_MIP ? (old & ~MIP_SEIP) | (h->mip_sw & MIP_SEIP) : old;
        uint64_t nv = kind == 0 ? src : kind == 1 ? base | src : base & ~src;
        if (!csr_write(h, csr, nv)) goto illegal;
        /* Interrupt enables, pending bits, privilege-related state and
         * timers need a fresh look before the next instruction; the FP
         * status registers and scratch/epc/cause/tval/counters do not.
         * The status and enable registers, which kernels write all the
         * time (irq save/restore, SUM around user copies), only when the
         * write lets an interrupt in: a timer that expired meanwhile is
         * seen at the next poll, within a budget, as while they run. */
        if (csr == CSR_SSTATUS || csr == CSR_MSTATUS || csr == CSR_SIE || csr == CSR_MIE) {
            if (hart_irq_takeable(h))
                atomic_fetch_or_explicit(&h->events, EV_CHECK, memory_order_relaxed);
        } else if (csr >= CSR_SSTATUS && csr != CSR_SSCRATCH && csr != CSR_SEPC && csr != CSR_SCAUSE &&
            csr != CSR_STVAL && csr != CSR_MSCRATCH && csr != CSR_MEPC && csr != CSR_MCAUSE &&
            csr != CSR_MTVAL && csr < CSR_MCYCLE)
            atomic_fetch_or_explicit(&h->events, EV_CHECK, memory_order_relaxed);
    }
    h->x[rd] = old;
    h->x[0] = 0;
    return true;
illegal:
    return false;
}
