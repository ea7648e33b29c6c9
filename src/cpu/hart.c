/*
 * hart.c - creating, resetting and signalling a hart. The interpreter that
 * runs it lives in exec.c.
 */
#include "cpu/internal.h"
#include "lib/log.h"
#include "machine/machine.h"

#include "cpu/jit/jit.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* misa: RV64 with A, C, D, F, I, M, S and U */
#define MISA_RV64GC_SU                                                                         \
    ((2ull << 62) | (1u << ('A' - 'A')) | (1u << ('C' - 'A')) | (1u << ('D' - 'A')) |         \
     (1u << ('F' - 'A')) | (1u << ('I' - 'A')) | (1u << ('M' - 'A')) | (1u << ('S' - 'A')) |   \
     (1u << ('U' - 'A')))

/* ---- translator configuration ------------------------------------------------------- */

static struct {
    bool init;
    int mode;
    size_t cache_bytes;
    int threshold;
} jit_conf;

static bool jit_built(void)
{
#ifdef KUMO_JIT
    return jit_available();
#else
    return false;
#endif
}

static void jit_conf_init(void)
{
    if (jit_conf.init) return;
    jit_conf.init = true;
    jit_conf.mode = jit_built() ? JIT_ON : JIT_OFF;
    jit_conf.cache_bytes = JIT_CACHE_DEFAULT;
    jit_conf.threshold = JIT_THRESHOLD_DEFAULT;
    const char *v = getenv("KUMO_JIT");
    if (v && *v) {
        int mode = !strcmp(v, "off") ? JIT_OFF : !strcmp(v, "on") ? JIT_ON
                 : !strcmp(v, "check") ? JIT_CHECK : -1;
        if (mode < 0)
            log_warn("KUMO_JIT=%s: expected off, on or check; ignored", v);
        else if (mode != JIT_OFF && !jit_built())
            log_warn("KUMO_JIT=%s: this build has no translator (x86-64 hosts only); "
                     "using the interpreter", v);
        else
            jit_conf.mode = mode;
    }
    v = getenv("KUMO_JIT_THRESHOLD");
    if (v && *v >= '0' && *v <= '9') jit_conf.threshold = atoi(v); /* 0: at once */
    v = getenv("KUMO_JIT_CACHE_MB");
    if (v && atoi(v) > 0) jit_conf.cache_bytes = (size_t)atoi(v) << 20;
}

bool hart_set_jit_mode(int mode)
{
    jit_conf_init();
    if (mode != JIT_OFF && !jit_built()) {
        log_error("this kumo-vmm has no translator (it is built for x86-64 hosts only): "
                  "use --jit off");
        return false;
    }
    jit_conf.mode = mode;
    return true;
}

int hart_jit_mode(void)
{
    jit_conf_init();
    return jit_conf.mode;
}

size_t hart_jit_cache_bytes(void)
{
    jit_conf_init();
    return jit_conf.mode ? jit_conf.cache_bytes : 0;
}

/* ---- harts ------------------------------------------------------------------------------ */

struct hart *hart_new(struct machine *m, int id)
{
    struct hart *h = aligned_alloc(64, (sizeof(struct hart) + 63) & ~(size_t)63);
    if (!h) return NULL;
    memset(h, 0, sizeof(*h));
    h->m = m;
    h->id = id;
    h->max_satp_mode = 10; /* Sv57 */
    h->bc = block_cache_new();
    if (!h->bc || !mmu_init(h)) {
        block_cache_free(h->bc);
        free(h);
        return NULL;
    }
    jit_conf_init();
    h->jit_mode = jit_conf.mode;
    h->jit_threshold = jit_conf.mode == JIT_CHECK ? 0 : jit_conf.threshold;
#ifdef KUMO_JIT
    if (jit_conf.mode != JIT_OFF) {
        h->jit = jit_new(h, jit_conf.cache_bytes, jit_conf.mode != JIT_CHECK);
        if (h->jit && jit_conf.mode == JIT_CHECK && !(h->check = jit_check_new())) {
            jit_free(h->jit);
            h->jit = NULL;
        }
        if (!h->jit) {
            mmu_free(h);
            block_cache_free(h->bc);
            free(h);
            return NULL;
        }
    }
#endif
    pthread_mutex_init(&h->wfi_lock, NULL);
    pthread_mutex_init(&h->fence_lock, NULL);
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
    const struct hart_stats *st = &h->stats;
    log_debug("hart %d: %" PRIu64 " blocks decoded (%" PRIu64 " across pages, %" PRIu64
              " with a jump folded), %" PRIu64 " block cache flushes; address "
              "spaces: %" PRIu64 " switches, %" PRIu64 " new; SFENCE.VMA: %" PRIu64 " whole, %" PRIu64
              " by page; %" PRIu64 " FENCE.I; %" PRIu64 " pages counted written by "
              "EV_DROP_WRITES; %" PRIu64 " whole-TLB flushes",
              h->id, st->blocks, st->straddles, st->folds, st->block_flush, st->space_switch, st->space_new,
              st->sfence_all, st->sfence_va, st->fence_i, st->drop_writes, st->tlb_flush);
#ifdef KUMO_JIT
    jit_log_stats(h->jit, h->id);
    jit_free(h->jit);
    jit_check_free(h->check, h->id);
#endif
    block_cache_free(h->bc);
    mmu_free(h);
    pthread_mutex_destroy(&h->fence_lock);
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
    h->traps = 0;
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

void hart_code_written(struct machine *m)
{
    for (int k = 0; k < m->nharts; k++)
        atomic_fetch_or_explicit(&m->harts[k]->events, EV_CODE, memory_order_seq_cst);
}

uint64_t hart_idle_ns(struct hart *h)
{
    pthread_mutex_lock(&h->wfi_lock);
    uint64_t idle = atomic_load(&h->idle_ns);
    if (h->idle_since_ns) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        uint64_t now = (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
        if (now > h->idle_since_ns) idle += now - h->idle_since_ns;
    }
    pthread_mutex_unlock(&h->wfi_lock);
    return idle;
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
