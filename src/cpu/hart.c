/*
 * hart.c - creating, resetting and signalling a hart. The interpreter that
 * runs it lives in exec.c.
 */
#include "cpu/internal.h"
#include "machine/machine.h"

#include <stdlib.h>
#include <string.h>

/* misa: RV64 with A, C, D, F, I, M, S and U */
#define MISA_RV64GC_SU                                                                         \
    ((2ull << 62) | (1u << ('A' - 'A')) | (1u << ('C' - 'A')) | (1u << ('D' - 'A')) |         \
     (1u << ('F' - 'A')) | (1u << ('I' - 'A')) | (1u << ('M' - 'A')) | (1u << ('S' - 'A')) |   \
     (1u << ('U' - 'A')))

struct hart *hart_new(struct machine *m, int id)
{
    struct hart *h = aligned_alloc(64, (sizeof(struct hart) + 63) & ~(size_t)63);
    if (!h) return NULL;
    memset(h, 0, sizeof(*h));
    h->m = m;
    h->id = id;
    h->max_satp_mode = 10; /* Sv57 */
    h->bc = block_cache_new();
    if (!h->bc) {
        free(h);
        return NULL;
    }
    pthread_mutex_init(&h->wfi_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->wfi_cond, &ca);
    pthread_condattr_destroy(&ca);
    hart_reset(h, 0);
    return h;
}

void hart_free(struct hart *h)
{
    if (!h) return;
    block_cache_free(h->bc);
    pthread_cond_destroy(&h->wfi_cond);
    pthread_mutex_destroy(&h->wfi_lock);
    free(h);
}

void hart_reset(struct hart *h, uint64_t pc)
{
    memset(h->x, 0, sizeof(h->x));
    memset(h->f, 0, sizeof(h->f));
    h->pc = pc;
    h->priv = PRIV_M;
    h->fflags = h->frm = 0;
    h->mstatus = (2ull << 32) | (2ull << 34); /* UXL = SXL = 64 */
    h->misa = MISA_RV64GC_SU;
    h->medeleg = h->mideleg = h->mie = 0;
    atomic_store(&h->mip, 0);
    h->mip_sw = 0;
    h->mtvec = h->stvec = h->mscratch = h->sscratch = 0;
    h->mepc = h->sepc = h->mcause = h->scause = h->mtval = h->stval = 0;
    h->satp = 0;
    h->satp_mode = 0;
    h->sta_shmem = 0;
    h->satp_root = 0;
    h->mcounteren = h->scounteren = 0;
    h->menvcfg = h->senvcfg = 0;
    h->stimecmp = UINT64_MAX;
    atomic_store(&h->mtimecmp, 0);
    h->mhartid = (uint64_t)h->id;
    memset(h->pmpcfg, 0, sizeof(h->pmpcfg));
    memset(h->pmpaddr, 0, sizeof(h->pmpaddr));
    h->instret = 0;
    h->instret_off = h->cycle_off = 0;
    h->budget = h->budget_start = 0;
    h->resv_addr = ~0ull;
    atomic_store(&h->events, 0);
    hart_tlb_flush(h);
    block_cache_flush(h);
    mmu_update_ctx(h);
}

void hart_kick(struct hart *h)
{
    atomic_fetch_or(&h->events, EV_CHECK);
    if (atomic_load(&h->wfi)) {
        pthread_mutex_lock(&h->wfi_lock);
        pthread_cond_signal(&h->wfi_cond);
        pthread_mutex_unlock(&h->wfi_lock);
    }
}

void hart_set_irq(struct hart *h, uint64_t mip_bits, bool level)
{
    if (level)
        atomic_fetch_or(&h->mip, mip_bits);
    else
        atomic_fetch_and(&h->mip, ~mip_bits);
    hart_kick(h);
}

void hart_set_stimecmp(struct hart *h, uint64_t when)
{
    h->stimecmp = when;
    hart_update_timers(h, machine_time(h->m));
}

bool hart_load_virtual(struct hart *h, uint64_t va, int size, uint64_t *val)
{
    return mmu_load(h, va, size, val);
}

void hart_csrs_written(struct hart *h)
{
    hart_tlb_flush(h);
    mmu_update_ctx(h);
}
