/*
 * hart_state.c - a hart's state as a section of a machine's saved state
 * (machine/vmstate.h, docs/vmstate.md): the architectural registers and
 * CSRs, the timer comparators, the LR/SC reservation and the SBI HSM state.
 * Nothing derived is saved (TLBs, decoded or translated code, the address
 * of the root page table): a loaded hart rebuilds it.
 *
 * A load checks every value against what the hart could hold (csr.c's WARL
 * masks, the modes it implements), so a damaged or forged file cannot put
 * a hart in a state its code assumes impossible.
 */
#include "cpu/internal.h"
#include "machine/machine.h"
#include "machine/vmstate.h"

#include <string.h>

#define HART_STATE_VERSION 1

/* What csr.c's writes (and traps, xRET, reset) can leave in each CSR. */
#define MSTATUS_CAN                                                                            \
    (MSTATUS_SIE | MSTATUS_MIE | MSTATUS_SPIE | MSTATUS_MPIE | MSTATUS_SPP | MSTATUS_MPP |    \
     MSTATUS_FS | MSTATUS_MPRV | MSTATUS_SUM | MSTATUS_MXR | MSTATUS_TVM | MSTATUS_TW |        \
     MSTATUS_TSR | MSTATUS_UXL | MSTATUS_SXL | MSTATUS_SD)
#define MIP_CAN (MIP_SSIP | MIP_MSIP | MIP_STIP | MIP_MTIP | MIP_SEIP | MIP_MEIP)
#define MEDELEG_CAN 0xb3ffull
#define MENVCFG_CAN ((1ull << 63) | 1)
#define SATP_CAN (0xfull << 60 | 0xffffull << 44 | ((1ull << 44) - 1))

void hart_state_save(const struct hart *h, struct vms_out *o)
{
    vms_put_u32(o, HART_STATE_VERSION);
    vms_put_u32(o, (uint32_t)h->id);
    vms_put_u8(o, (uint8_t)h->max_satp_mode);
    for (int r = 1; r < 32; r++) vms_put_u64(o, h->x[r]);
    for (int r = 0; r < 32; r++) vms_put_u64(o, h->f[r]);
    vms_put_u64(o, h->pc);
    vms_put_u8(o, (uint8_t)h->priv);
    vms_put_u8(o, (uint8_t)h->fflags);
    vms_put_u8(o, (uint8_t)h->frm);
    vms_put_u64(o, h->mstatus);
    vms_put_u64(o, h->misa);
    vms_put_u64(o, h->medeleg);
    vms_put_u64(o, h->mideleg);
    vms_put_u64(o, h->mie);
    vms_put_u64(o, atomic_load(&((struct hart *)h)->mip));
    vms_put_u64(o, h->mip_sw);
    vms_put_u64(o, h->mtvec);
    vms_put_u64(o, h->stvec);
    vms_put_u64(o, h->mscratch);
    vms_put_u64(o, h->sscratch);
    vms_put_u64(o, h->mepc);
    vms_put_u64(o, h->sepc);
    vms_put_u64(o, h->mcause);
    vms_put_u64(o, h->scause);
    vms_put_u64(o, h->mtval);
    vms_put_u64(o, h->stval);
    vms_put_u64(o, h->satp);
    vms_put_u32(o, h->mcounteren);
    vms_put_u32(o, h->scounteren);
    vms_put_u64(o, h->menvcfg);
    vms_put_u64(o, h->senvcfg);
    vms_put_u64(o, h->stimecmp);
    vms_put_u64(o, atomic_load(&((struct hart *)h)->mtimecmp));
    for (int k = 0; k < PMP_COUNT; k++) vms_put_u8(o, h->pmpcfg[k]);
    for (int k = 0; k < PMP_COUNT; k++) vms_put_u64(o, h->pmpaddr[k]);
    vms_put_u64(o, h->instret);
    vms_put_u64(o, (uint64_t)h->instret_off);
    vms_put_u64(o, (uint64_t)h->cycle_off);
    vms_put_u64(o, h->resv_addr);
    vms_put_u64(o, h->resv_value);
    vms_put_u8(o, (uint8_t)atomic_load(&((struct hart *)h)->hsm_state));
    vms_put_u64(o, h->start_pc);
    vms_put_u64(o, h->start_arg);
    vms_put_u64(o, h->sta_shmem);
}

int hart_state_load(struct hart *h, struct vms_in *in)
{
    uint32_t version = vms_get_u32(in);
    if (!in->bad && version != HART_STATE_VERSION)
        return vms_fail(in, "hart state version %u (this kumo-vmm reads %u)", version,
                        HART_STATE_VERSION);
    uint32_t id = vms_get_u32(in);
    if (!in->bad && id != (uint32_t)h->id)
        return vms_fail(in, "holds hart %u, loaded into hart %d", id, h->id);
    unsigned max_mode = vms_get_u8(in);
    if (!in->bad && max_mode != (unsigned)h->max_satp_mode)
        return vms_fail(in, "saved with the largest MMU mode sv%u, this machine has sv%u: give "
                            "the same --mmu",
                        39 + 9 * (max_mode - 8), 39 + 9 * (unsigned)(h->max_satp_mode - 8));

    uint64_t x[32], f[32];
    x[0] = 0;
    for (int r = 1; r < 32; r++) x[r] = vms_get_u64(in);
    for (int r = 0; r < 32; r++) f[r] = vms_get_u64(in);
    uint64_t pc = vms_get_u64(in);
    unsigned priv = vms_get_u8(in), fflags = vms_get_u8(in), frm = vms_get_u8(in);
    uint64_t mstatus = vms_get_u64(in), misa = vms_get_u64(in);
    uint64_t medeleg = vms_get_u64(in), mideleg = vms_get_u64(in), mie = vms_get_u64(in);
    uint64_t mip = vms_get_u64(in), mip_sw = vms_get_u64(in);
    uint64_t mtvec = vms_get_u64(in), stvec = vms_get_u64(in);
    uint64_t mscratch = vms_get_u64(in), sscratch = vms_get_u64(in);
    uint64_t mepc = vms_get_u64(in), sepc = vms_get_u64(in);
    uint64_t mcause = vms_get_u64(in), scause = vms_get_u64(in);
    uint64_t mtval = vms_get_u64(in), stval = vms_get_u64(in);
    uint64_t satp = vms_get_u64(in);
    uint32_t mcounteren = vms_get_u32(in), scounteren = vms_get_u32(in);
    uint64_t menvcfg = vms_get_u64(in), senvcfg = vms_get_u64(in);
    uint64_t stimecmp = vms_get_u64(in), mtimecmp = vms_get_u64(in);
    uint8_t pmpcfg[PMP_COUNT];
    uint64_t pmpaddr[PMP_COUNT];
    for (int k = 0; k < PMP_COUNT; k++) pmpcfg[k] = vms_get_u8(in);
    for (int k = 0; k < PMP_COUNT; k++) pmpaddr[k] = vms_get_u64(in);
    uint64_t instret = vms_get_u64(in);
    int64_t instret_off = (int64_t)vms_get_u64(in), cycle_off = (int64_t)vms_get_u64(in);
    uint64_t resv_addr = vms_get_u64(in), resv_value = vms_get_u64(in);
    unsigned hsm = vms_get_u8(in);
    uint64_t start_pc = vms_get_u64(in), start_arg = vms_get_u64(in);
    uint64_t sta_shmem = vms_get_u64(in);
    if (vms_in_end(in) < 0) return -1;

    /* Only what the hart could hold. */
    if (priv != PRIV_U && priv != PRIV_S && priv != PRIV_M)
        return vms_fail(in, "privilege level %u does not exist", priv);
    if (fflags > 0x1f || frm > 7) return vms_fail(in, "fflags/frm out of range");
    if ((mstatus & ~MSTATUS_CAN) || ((mstatus & MSTATUS_MPP) >> MSTATUS_MPP_SHIFT) == 2 ||
        (mstatus & (MSTATUS_UXL | MSTATUS_SXL)) != ((2ull << 32) | (2ull << 34)))
        return vms_fail(in, "mstatus %#llx is not one this hart can hold",
                        (unsigned long long)mstatus);
    if (misa != h->misa) return vms_fail(in, "misa %#llx: another ISA", (unsigned long long)misa);
    if ((medeleg & ~MEDELEG_CAN) || (mideleg & ~MIP_S_MASK) || (mie & ~MIP_CAN) ||
        (mip & ~MIP_CAN) || (mip_sw & ~MIP_SEIP))
        return vms_fail(in, "delegation or interrupt bits out of range");
    if ((mtvec & 2) || (stvec & 2) || (mepc & 1) || (sepc & 1))
        return vms_fail(in, "trap vector or exception PC misaligned");
    if ((satp & ~SATP_CAN) ||
        ((satp >> 60) != 0 && ((satp >> 60) < 8 || (satp >> 60) > (uint64_t)h->max_satp_mode)))
        return vms_fail(in, "satp %#llx: a mode this hart does not have",
                        (unsigned long long)satp);
    if ((menvcfg & ~MENVCFG_CAN) || (senvcfg & ~1ull))
        return vms_fail(in, "envcfg bits out of range");
    for (int k = 0; k < PMP_COUNT; k++)
        if ((pmpcfg[k] & ~0x9f) || (pmpcfg[k] & 3) == 2 || pmpaddr[k] >> 54)
            return vms_fail(in, "PMP entry %d out of range", k);
    if (hsm > HSM_SUSPENDED) return vms_fail(in, "SBI HSM state %u does not exist", hsm);
    if (sta_shmem & 63) return vms_fail(in, "SBI STA area misaligned");

    memcpy(h->x, x, sizeof(x));
    h->x[32] = 0;
    memcpy(h->f, f, sizeof(f));
    h->pc = pc;
    h->priv = (enum priv)priv;
    h->fflags = fflags;
    h->frm = frm;
    h->mstatus = mstatus;
    h->medeleg = medeleg;
    h->mideleg = mideleg;
    h->mie = mie;
    atomic_store(&h->mip, mip);
    h->mip_sw = mip_sw;
    h->mtvec = mtvec;
    h->stvec = stvec;
    h->mscratch = mscratch;
    h->sscratch = sscratch;
    h->mepc = mepc;
    h->sepc = sepc;
    h->mcause = mcause;
    h->scause = scause;
    h->mtval = mtval;
    h->stval = stval;
    h->satp = satp;
    h->satp_mode = (int)(satp >> 60);
    h->satp_root = (satp & ((1ull << 44) - 1)) << 12;
    h->mcounteren = mcounteren;
    h->scounteren = scounteren;
    h->menvcfg = menvcfg;
    h->senvcfg = senvcfg;
    h->mcountinhibit = 0;
    h->stimecmp = stimecmp;
    atomic_store(&h->mtimecmp, mtimecmp);
    memcpy(h->pmpcfg, pmpcfg, sizeof(pmpcfg));
    memcpy(h->pmpaddr, pmpaddr, sizeof(pmpaddr));
    h->instret = instret;
    h->instret_off = instret_off;
    h->cycle_off = cycle_off;
    h->budget = h->budget_start = 0;
    h->resv_addr = resv_addr;
    h->resv_value = resv_value;
    /* A hart caught between hart_stop and its thread's parking is stopped;
     * one in a retentive suspend wakes up (a spurious wake-up, as from WFI). */
    if (hsm == HSM_STOP_PENDING) hsm = HSM_STOPPED;
    if (hsm == HSM_SUSPENDED) hsm = HSM_STARTED;
    atomic_store(&h->hsm_state, (int)hsm);
    h->start_pc = start_pc;
    h->start_arg = start_arg;
    h->sta_shmem = sta_shmem;
    atomic_store(&h->events, EV_CHECK);
    hart_tlb_flush(h);
    block_cache_flush(h);
    mmu_update_ctx(h);
    return 0;
}
