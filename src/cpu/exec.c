/*
 * exec.c - the interpreter: a cache of decoded instruction blocks and the
 * threaded (computed goto) loop that runs them.
 *
 * A block is a run of instructions decoded from one guest page, ending at a
 * control transfer, a system instruction, the page end, or BLOCK_MAX
 * instructions. Blocks are keyed by the host address of their first byte
 * (which names the guest-physical location), so they survive changes of the
 * virtual mapping. A block from RAM remembers its page's generation number;
 * any store to a page holding decoded code bumps it (machine.c), which
 * retires the page's blocks at their next lookup. FENCE.I drops them all.
 *
 * Between blocks the loop checks one atomic word (events from other threads)
 * and one counter (the instruction budget that paces timer polling), so
 * interrupts and timers cost nothing per instruction.
 */
#include "cpu/block.h"
#include "cpu/decode.h"
#include "cpu/fpu.h"
#include "cpu/internal.h"
#include "cpu/jit/jit.h"
#include "machine/machine.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define BC_HASH_BITS 14
#define BC_HASH_SIZE (1u << BC_HASH_BITS)
#define BC_ARENA_SIZE (16u << 20)

struct block_cache {
    struct block *hash[BC_HASH_SIZE];
    uint8_t *arena;
    size_t used;
    uint64_t epoch; /* bumped by every flush: blocks from older epochs are gone */
    /* a block for one instruction that straddles two pages, never cached */
    struct block *scratch;
    uint8_t scratch_bytes[4];
};

struct block_cache *block_cache_new(void)
{
    struct block_cache *bc = calloc(1, sizeof(*bc));
    if (!bc) return NULL;
    bc->arena = machine_map_anon(BC_ARENA_SIZE, "kumo:code-cache");
    if (!bc->arena) bc->arena = MAP_FAILED;
    bc->scratch = calloc(1, sizeof(struct block) + 2 * sizeof(struct insn));
    if (bc->arena == MAP_FAILED || !bc->scratch) {
        if (bc->arena != MAP_FAILED) machine_unmap_anon(bc->arena, BC_ARENA_SIZE);
        free(bc->scratch);
        free(bc);
        return NULL;
    }
    return bc;
}

void block_cache_free(struct block_cache *bc)
{
    if (!bc) return;
    machine_unmap_anon(bc->arena, BC_ARENA_SIZE);
    free(bc->scratch);
    free(bc);
}

void block_cache_flush(struct hart *h)
{
    h->stats.block_flush++;
#ifdef KUMO_JIT
    jit_flush(h->jit); /* translations point into the blocks */
#endif
    struct block_cache *bc = h->bc;
    memset(bc->hash, 0, sizeof(bc->hash));
    bc->used = 0;
    bc->epoch++;
}

static inline unsigned block_hash(const uint8_t *host)
{
    uintptr_t v = (uintptr_t)host >> 1;
    return (unsigned)((v ^ (v >> BC_HASH_BITS) ^ (v >> (2 * BC_HASH_BITS))) & (BC_HASH_SIZE - 1));
}

static uint32_t read_insn_bits(const uint8_t *p, int len)
{
    uint32_t w = (uint32_t)p[0] | (uint32_t)p[1] << 8;
    if (len == 4) w |= (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    return w;
}

/* The interpreter's handler labels, indexed by op; set by hart_run. */
static void *const *handler_of;

/* Note that a RAM page now holds decoded code: its stores must be seen. */
static uint32_t claim_code_page(struct hart *h, const uint8_t *host, uint32_t *gen)
{
    struct machine *m = h->m;
    if (host < m->ram || host >= m->ram + m->ram_size) return NO_PAGE;
    uint32_t page = (uint32_t)((size_t)(host - m->ram) >> PAGE_SHIFT);
    if (!(__atomic_load_n(&m->page_flags[page], __ATOMIC_ACQUIRE) & PAGE_CODE)) {
        uint8_t f = __atomic_or_fetch(&m->page_flags[page], PAGE_CODE, __ATOMIC_SEQ_CST);
        if (f & PAGE_WTLB) { /* some hart may write to it through its TLB */
            const uint8_t *host_page = m->ram + ((size_t)page << PAGE_SHIFT);
            mmu_drop_write_page(h, host_page);
            for (int k = 0; k < m->nharts; k++)
                if (m->harts[k] != h)
                    atomic_fetch_or_explicit(&m->harts[k]->events, EV_DROP_WRITES | EV_CHECK,
                                             memory_order_seq_cst);
            /* no new write entry can be made now that it holds code */
            __atomic_and_fetch(&m->page_flags[page], (uint8_t)~PAGE_WTLB, __ATOMIC_SEQ_CST);
        }
    }
    *gen = atomic_load_explicit(&m->page_gen[page], memory_order_acquire);
    return page;
}

static struct block *build_block(struct hart *h, const uint8_t *host, uint64_t pc,
                                 uint32_t avail, bool whole)
{
    struct block_cache *bc = h->bc;
    size_t need = sizeof(struct block) + (BLOCK_MAX + 1) * sizeof(struct insn);
    if (bc->used + need > BC_ARENA_SIZE) block_cache_flush(h);
    struct block *b = (struct block *)(bc->arena + bc->used);
    h->stats.blocks++;
    b->host = host;
    b->link[0] = b->link[1] = b->link[2] = NULL;
    b->code = NULL;
    b->countdown = h->jit ? h->jit_threshold : INT32_MAX;
    b->page = claim_code_page(h, host, &b->gen);
    b->host2 = NULL;

    /* Decode from the block's start (offset 0) on. A `jal x0` (j) to
     * another place in the same page is folded: it becomes a no-op (it still
     * counts as an instruction) and decoding goes on at its target, once per
     * block. A loop entered in its middle (`j test; body: ...; test: ...;
     * bnez body`) then ends with the branch back to its own start: one
     * block, translated as a loop. Only where the whole
     * page may be fetched (it has a fetch TLB entry; get_block uses such a
     * block only where that holds); the page's generation covers every
     * byte the block came from. */
    uint32_t page_off = (uint32_t)(pc & PAGE_MASK), n = 0;
    const uint8_t *page = host - page_off;
    uint32_t limit = page_off + avail; /* end of what may be read, from the page start */
    bool fold = whole && limit == PAGE_SIZE;
    b->whole = whole;
    int32_t off = 0;
    while (n < BLOCK_MAX && page_off + off + 2 <= limit) {
        uint32_t pos = page_off + (uint32_t)off;
        int len = insn_length((uint16_t)(page[pos] | page[pos + 1] << 8));
        if (pos + (uint32_t)len > limit) break;
        struct insn *in = &b->insns[n++];
        decode(read_insn_bits(page + pos, len), in);
        in->handler = handler_of[in->op];
        in->off = (int16_t)off;
        off += len;
        if (in->op == OP_JAL && in->rd == 32 && fold) {
            int64_t t = (int64_t)in->off + in->imm; /* the target's offset */
            if (t != 0 && (int64_t)page_off + t >= 0 && (int64_t)page_off + t < (int64_t)PAGE_SIZE) {
                in->op = OP_ADDI; /* addi x0, x0, 0 */
                in->rs1 = 0;
                in->imm = 0;
                in->bits = 0x13;
                in->handler = handler_of[OP_ADDI];
                off = (int32_t)t;
                fold = false;
                h->stats.folds++;
                continue;
            }
        }
        if (op_ends_block((enum op)in->op)) break;
    }
    if (n == 0 && avail == PAGE_SIZE - (pc & PAGE_MASK)) {
        /* A 32-bit instruction whose second half is on the next page: a
         * block of its own, depending on both pages. */
        uint32_t avail2;
        const uint8_t *hi = mmu_fetch_ptr(h, pc + 2, &avail2);
        if (!hi) return NULL;
        h->stats.straddles++;
        b->host2 = hi;
        b->page2 = claim_code_page(h, hi, &b->gen2);
        memcpy(b->bytes, host, 2);
        memcpy(b->bytes + 2, hi, 2);
        decode(read_insn_bits(b->bytes, 4), &b->insns[0]);
        b->insns[0].handler = handler_of[b->insns[0].op];
        b->insns[0].off = 0;
        n = 1;
        off = 4;
    }
    if (n == 0) {
        /* The same where the first page is not cacheable (PMP splits it,
         * not host memory): decoded at every run. */
        uint32_t avail2;
        const uint8_t *hi = mmu_fetch_ptr(h, pc + 2, &avail2);
        if (!hi) return NULL;
        b = bc->scratch;
        b->host2 = NULL;
        b->link[0] = b->link[1] = b->link[2] = NULL;
        b->code = NULL;
        b->countdown = INT32_MAX; /* never translated */
        memcpy(bc->scratch_bytes, host, 2);
        memcpy(bc->scratch_bytes + 2, hi, 2);
        b->host = bc->scratch_bytes;
        b->page = NO_PAGE;
        decode(read_insn_bits(bc->scratch_bytes, 4), &b->insns[0]);
        b->insns[0].handler = handler_of[b->insns[0].op];
        b->insns[0].off = 0;
        n = 1;
        off = 4;
    } else {
        unsigned idx = block_hash(host);
        b->hash_next = bc->hash[idx];
        bc->hash[idx] = b;
        bc->used += sizeof(struct block) + (n + 1) * sizeof(struct insn);
        bc->used = (bc->used + 15) & ~(size_t)15;
    }
    b->n = n;
    struct insn *end = &b->insns[n];
    memset(end, 0, sizeof(*end));
    end->op = OP_BLOCK_END;
    end->handler = handler_of[OP_BLOCK_END];
    end->off = (int16_t)off;
    return b;
}

/* The block at h->pc, or NULL with an exception pending (fetch fault). */
static inline struct block *get_block(struct hart *h)
{
    uint64_t pc = h->pc;
    const struct tlb_entry *e = &h->tlb_fetch->e[ACC_EXEC][(pc >> PAGE_SHIFT) & (TLB_SIZE - 1)];
    const uint8_t *host;
    uint32_t avail;
    bool whole = true;
    if (likely(e->tag == (pc & ~PAGE_MASK))) {
        host = (const uint8_t *)(e->addend + pc);
        avail = (uint32_t)(PAGE_SIZE - (pc & PAGE_MASK));
    } else {
        host = mmu_fetch_page(h, pc, &avail, &whole);
        if (!host) return NULL;
    }
    for (struct block *b = h->bc->hash[block_hash(host)]; b; b = b->hash_next) {
        if (b->host != host) continue;
        /* where only part of the page may be fetched (PMP splits it), a
         * block decoded from the whole page may hold what may not run */
        if (unlikely(!whole) && b->whole) continue;
        if (b->page != NO_PAGE &&
            b->gen != atomic_load_explicit(&h->m->page_gen[b->page], memory_order_relaxed))
            break; /* stale: decode again; the new block shadows this one */
        if (unlikely(b->host2)) {
            /* the second half: the same page, mapped the same way, unchanged */
            uint64_t pc2 = pc + 2;
            const struct tlb_entry *e2 =
                &h->tlb_fetch->e[ACC_EXEC][(pc2 >> PAGE_SHIFT) & (TLB_SIZE - 1)];
            const uint8_t *host2;
            uint32_t avail2;
            if (e2->tag == (pc2 & ~PAGE_MASK))
                host2 = (const uint8_t *)(e2->addend + pc2);
            else if (!(host2 = mmu_fetch_ptr(h, pc2, &avail2)))
                return NULL;
            if (host2 != b->host2 ||
                (b->page2 != NO_PAGE &&
                 b->gen2 != atomic_load_explicit(&h->m->page_gen[b->page2], memory_order_relaxed)))
                break;
        }
        return b;
    }
    return build_block(h, host, pc, avail, whole);
}

/* ---- sleeping in WFI -------------------------------------------------------- */

void hart_wait_for_interrupt(struct hart *h)
{
    struct machine *m = h->m;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
#ifdef KUMO_JIT
    if (unlikely(h->check)) jit_check_sleep(h, true);
#endif
    pthread_mutex_lock(&h->wfi_lock);
    h->idle_since_ns = (uint64_t)t0.tv_sec * 1000000000u + (uint64_t)t0.tv_nsec;
    atomic_store(&h->wfi, true);
    for (;;) {
        if (atomic_load(&m->stop) || atomic_load(&h->events)) break;
        uint64_t now = machine_time(m);
        hart_update_timers(h, now);
        if (hart_pending_irqs(h)) break;
        uint64_t due = UINT64_MAX;
        if (h->mie & MIP_MTIP) due = atomic_load(&h->mtimecmp);
        if ((h->mie & MIP_STIP) && (h->menvcfg & (1ull << 63)) && h->stimecmp < due)
            due = h->stimecmp;
        if (due == UINT64_MAX || due - now > 100ull * MACHINE_TIMEBASE_HZ) {
            pthread_cond_wait(&h->wfi_cond, &h->wfi_lock);
        } else {
            uint64_t ns = m->time_base_ns + due * (1000000000ull / MACHINE_TIMEBASE_HZ);
            struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000ull),
                                  .tv_nsec = (long)(ns % 1000000000ull)};
            pthread_cond_timedwait(&h->wfi_cond, &h->wfi_lock, &ts);
        }
    }
    atomic_store(&h->wfi, false);
    /* counted under the lock, so hart_idle_ns never sees the wait twice */
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int64_t ns = (int64_t)(t1.tv_sec - t0.tv_sec) * 1000000000 + (t1.tv_nsec - t0.tv_nsec);
    if (ns > 0) atomic_fetch_add_explicit(&h->idle_ns, (uint64_t)ns, memory_order_relaxed);
    h->idle_since_ns = 0;
    pthread_mutex_unlock(&h->wfi_lock);
#ifdef KUMO_JIT
    if (unlikely(h->check)) jit_check_sleep(h, false);
#endif
}

/* An exception retires nothing (its block's count was refunded), but uses
 * up one unit of budget, so that a loop of them (a trap vector that faults,
 * a handler that traps at once) still reaches the polls, its interrupts
 * and --max-insns. instret stays exact. */
static inline void trap_taken(struct hart *h)
{
    h->budget--;
    h->instret--;
    h->traps++;
}

/* ---- polling between blocks -------------------------------------------------- */

/* Carry out the remote SFENCE.VMA requests posted to h. */
static void serve_sfence(struct hart *h)
{
    pthread_mutex_lock(&h->fence_lock);
    typeof(h->sfence_req) req = h->sfence_req;
    h->sfence_req.all = false;
    h->sfence_req.n = 0;
    pthread_mutex_unlock(&h->fence_lock);
    if (req.all) {
        mmu_sfence(h, false, 0, false, 0);
        return;
    }
    for (int k = 0; k < req.n; k++) {
        uint64_t va = req.r[k].va, size = req.r[k].size, asid = req.r[k].asid;
        bool by_asid = asid != ~0ull;
        uint64_t first = va & ~PAGE_MASK, last = (va + size - 1) & ~PAGE_MASK;
        if ((va == 0 && size == 0) || size == ~0ull || last < first ||
            (last - first) >> PAGE_SHIFT >= 64) {
            mmu_sfence(h, false, 0, by_asid, asid);
            continue;
        }
        for (uint64_t p = first;; p += PAGE_SIZE) {
            mmu_sfence(h, true, p, by_asid, asid);
            if (p == last) break;
        }
    }
}

void hart_serve_fences(struct hart *h, unsigned ev)
{
    /* Requesters post their event bits before counting the request, so
     * every request counted in `req` had its bits taken by the caller. */
    if (ev & EV_DROP_WRITES) mmu_drop_code_writes(h);
    if (ev & EV_DROP_ALL_W) mmu_drop_all_writes(h);
    if (ev & EV_SFENCE) serve_sfence(h);
    if (ev & EV_FENCE_I) hart_fence_i(h);
#ifdef KUMO_JIT
    /* a page holding code was written: indirect jumps must find blocks anew */
    if (ev & EV_CODE) jit_forget_targets(h->jit);
#endif
}

/* Post a request (its event bits) to target and wait until it has served it. */
static void remote_request(struct hart *self, struct hart *target, unsigned bits)
{
    atomic_fetch_or(&target->events, bits);
    unsigned ticket = atomic_fetch_add(&target->fence_req, 1) + 1;
    hart_kick(target);
    while ((int)(atomic_load(&target->fence_done) - ticket) < 0) {
        if (atomic_load(&self->m->stop) || atomic_load(&target->hsm_state) == HSM_STOPPED) break;
        unsigned req = atomic_load(&self->fence_req);
        unsigned mine = atomic_exchange(&self->events, 0);
        if (mine) {
            hart_serve_fences(self, mine);
            atomic_store(&self->fence_done, req);
            /* keep the other bits (interrupt checks) for the next poll */
            atomic_fetch_or(&self->events,
                            mine & ~(EV_SFENCE | EV_FENCE_I | EV_DROP_WRITES | EV_DROP_ALL_W));
        }
        sched_yield();
    }
}

void hart_fence_i(struct hart *h)
{
    h->stats.fence_i++;
    /* Every store to a page holding decoded code moves the page's
     * generation on, which retires the page's blocks; except a store made
     * through a write-TLB entry that another hart created before this
     * hart decoded the page, until that hart drops such entries
     * (EV_DROP_WRITES, counting the page as written). Make sure every
     * hart that may still hold one has done so. */
    struct machine *m = h->m;
    for (int k = 0; k < m->nharts; k++) {
        struct hart *o = m->harts[k];
        if (o != h && (atomic_load(&o->events) & EV_DROP_WRITES) &&
            atomic_load(&o->hsm_state) != HSM_STOPPED)
            remote_request(h, o, 0);
    }
}

void hart_remote_fence_i(struct hart *self, struct hart *target)
{
    if (target == self)
        hart_fence_i(self);
    else
        remote_request(self, target, EV_FENCE_I);
}

void hart_remote_sfence(struct hart *self, struct hart *target, uint64_t va, uint64_t size,
                        uint64_t asid)
{
    pthread_mutex_lock(&target->fence_lock);
    int n = target->sfence_req.n;
    if (n < (int)(sizeof(target->sfence_req.r) / sizeof(target->sfence_req.r[0]))) {
        target->sfence_req.r[n].va = va;
        target->sfence_req.r[n].size = size;
        target->sfence_req.r[n].asid = asid;
        target->sfence_req.n = n + 1;
    } else {
        target->sfence_req.all = true;
    }
    pthread_mutex_unlock(&target->fence_lock);
    if (target == self)
        serve_sfence(self);
    else
        remote_request(self, target, EV_SFENCE);
}

void hart_serve_requests(struct hart *h)
{
    unsigned req = atomic_load(&h->fence_req);
    unsigned ev = atomic_exchange(&h->events, 0);
    hart_serve_fences(h, ev);
    atomic_store(&h->fence_done, req);
    /* the rest (interrupt checks) for the next poll */
    atomic_fetch_or(&h->events, ev & ~(EV_SFENCE | EV_FENCE_I | EV_DROP_WRITES | EV_DROP_ALL_W));
}

void hart_drop_writes_all(struct machine *m)
{
    for (int k = 0; k < m->nharts; k++) {
        struct hart *t = m->harts[k];
        atomic_fetch_or(&t->events, EV_DROP_ALL_W);
        unsigned ticket = atomic_fetch_add(&t->fence_req, 1) + 1;
        hart_kick(t);
        /* running, in WFI, stopped by HSM or paused: its thread serves it */
        while ((int)(atomic_load(&t->fence_done) - ticket) < 0 && !atomic_load(&m->stop))
            sched_yield();
    }
}

static enum hart_exit poll(struct hart *h)
{
    unsigned req = atomic_load(&h->fence_req);
    unsigned ev = atomic_exchange_explicit(&h->events, 0, memory_order_acq_rel);
    hart_serve_fences(h, ev);
    atomic_store(&h->fence_done, req);
    h->instret += (uint64_t)(h->budget_start - h->budget);
    int64_t budget = h->jit ? HART_BUDGET_JIT : HART_BUDGET;
    if (h->max_insns) {
        /* fetch faults count too: a trap vector that faults loops for ever */
        uint64_t done = h->instret + h->traps;
        if (done >= h->max_insns) return HART_EXIT_INSN_LIMIT;
        if (h->max_insns - done < (uint64_t)budget) budget = (int64_t)(h->max_insns - done);
    }
    h->budget = h->budget_start = budget;
    if (atomic_load_explicit(&h->m->stop, memory_order_relaxed)) return HART_EXIT_STOP;
    if (atomic_load_explicit(&h->m->pause_req, memory_order_relaxed)) return HART_EXIT_PAUSE;
    if (h->m->pace_hook) {
        h->m->pace_hook(h, h->m->pace_arg);
        if (atomic_load_explicit(&h->m->stop, memory_order_relaxed)) return HART_EXIT_STOP;
    }
    hart_update_timers(h, machine_time(h->m));
    hart_check_interrupts(h);
    return HART_EXIT_NONE;
}

/* ---- FP helpers ---------------------------------------------------------------- */

static inline uint32_t unbox32(uint64_t v)
{
    return (v >> 32) == 0xffffffffu ? (uint32_t)v : F32_CANONICAL_NAN;
}

static inline uint64_t box32(uint32_t v)
{
    return 0xffffffff00000000ull | v;
}

/* ---- the interpreter ------------------------------------------------------------- */

enum hart_exit hart_run(struct hart *h)
{
    static void *const dispatch[OP_COUNT] = {
#define OP(name) [OP_##name] = &&L_##name,
#include "cpu/ops.def"
#undef OP
    };
    uint64_t *const x = h->x;
    uint64_t *const f = h->f;
    const struct insn *i;
    struct block *b;
    struct block *prev = NULL; /* block to link to the next one, if eligible */
    int prev_slot = 0;
    uint64_t prev_epoch = 0, prev_target = 0;
    uint64_t pc_base;
    enum hart_exit why;

    handler_of = dispatch;
    h->budget = 0; /* poll first */
    h->budget_start = 0;

#define OPL(name) L_##name:
#define PC (pc_base + i->off)
#define NEXT                                                                                   \
    do {                                                                                       \
        i++;                                                                                   \
        goto *i->handler;                                                                 \
    } while (0)
#define JUMP(target)                                                                           \
    do {                                                                                       \
        h->pc = (target);                                                                      \
        goto next_block;                                                                       \
    } while (0)
/* A direct transfer to `target` (slot 0: taken, 1: fall-through): follow the
 * block's link when the target is in the same page, else look it up. */
#define CHAIN(slot, target)                                                                    \
    do {                                                                                       \
        uint64_t t_ = (target);                                                                \
        h->pc = t_;                                                                            \
        if (((t_ ^ pc_base) >> PAGE_SHIFT) == 0) {                                             \
            struct block *nb_ = b->link[slot];                                                 \
            if (likely(nb_ != NULL) && likely(nb_->countdown > 0) &&                           \
                likely(atomic_load_explicit(&h->events, memory_order_relaxed) == 0) &&         \
                likely(h->budget > 0) &&                                                       \
                likely(nb_->page == NO_PAGE || nb_->gen == atomic_load_explicit(               \
                           &h->m->page_gen[nb_->page], memory_order_relaxed))) {              \
                b = nb_;                                                                       \
                b->countdown--;                                                                \
                h->budget -= b->n;                                                             \
                pc_base = t_;                                                                  \
                i = b->insns;                                                                  \
                goto *i->handler;                                                              \
            }                                                                                  \
            prev = b;                                                                          \
            prev_slot = (slot);                                                                \
            prev_epoch = h->bc->epoch;                                                         \
            prev_target = t_;                                                                  \
        }                                                                                      \
        goto next_block;                                                                       \
    } while (0)
#define JUMP_SET goto next_block
#define EXCEPTION goto exception
#define ILLEGAL_INSN goto illegal_insn
#define LEAVE(w)                                                                               \
    do {                                                                                       \
        why = (w);                                                                             \
        goto leave;                                                                            \
    } while (0)
/* Returns and indirect calls mostly go where they went last time (link 2,
 * checked against the fetch TLB). */
#define INDIRECT(target)                                                                       \
    do {                                                                                       \
        uint64_t t_ = (target);                                                                \
        h->pc = t_;                                                                            \
        struct block *nb_ = b->link[2];                                                        \
        if (nb_ && likely(nb_->countdown > 0) &&                                               \
            likely(atomic_load_explicit(&h->events, memory_order_relaxed) == 0) &&             \
            likely(h->budget > 0)) {                                                           \
            const struct tlb_entry *e_ =                                                       \
                &h->tlb_fetch->e[ACC_EXEC][(t_ >> PAGE_SHIFT) & (TLB_SIZE - 1)];               \
            if (e_->tag == (t_ & ~PAGE_MASK) &&                                                \
                (const uint8_t *)(e_->addend + t_) == nb_->host &&                             \
                (nb_->page == NO_PAGE ||                                                       \
                 nb_->gen == atomic_load_explicit(&h->m->page_gen[nb_->page],                  \
                                                  memory_order_relaxed))) {                    \
                b = nb_;                                                                       \
                b->countdown--;                                                                \
                h->budget -= b->n;                                                             \
                pc_base = t_;                                                                  \
                i = b->insns;                                                                  \
                goto *i->handler;                                                              \
            }                                                                                  \
        }                                                                                      \
        prev = b;                                                                              \
        prev_slot = 2;                                                                         \
        prev_epoch = h->bc->epoch;                                                             \
        prev_target = t_;                                                                      \
        goto next_block;                                                                       \
    } while (0)

next_block:
    if (unlikely(atomic_load_explicit(&h->events, memory_order_relaxed) != 0 ||
                 h->budget <= 0)) {
        why = poll(h);
        if (why != HART_EXIT_NONE) goto leave;
    }
    b = get_block(h);
    if (unlikely(!b)) {
        prev = NULL;
        trap_taken(h);
        hart_take_trap(h, h->exc_cause, h->exc_tval, false);
        goto next_block;
    }
    if (prev) {
        /* link only blocks of the same cache epoch, never the scratch block */
        if (prev_epoch == h->bc->epoch && h->pc == prev_target && b != h->bc->scratch &&
            prev != h->bc->scratch && !b->host2)
            prev->link[prev_slot] = b;
        prev = NULL;
    }
    if (unlikely(b->countdown <= 0)) {
#ifdef KUMO_JIT
        if (h->jit) {
            if (!b->code && !jit_translate(h->jit, b)) {
                /* the code cache is full: start over, blocks and code */
                block_cache_flush(h);
                goto next_block;
            }
            if (h->check) {
                switch (jit_check_step(h, b)) {
                case -1:
                    machine_stop(h->m, STOP_ERROR, JIT_CHECK_EXIT);
                    why = HART_EXIT_STOP;
                    goto leave;
                case JIT_EXIT_PARK: why = HART_EXIT_PARK; goto leave;
                case JIT_EXIT_EXC: trap_taken(h); goto next_block;
                default: goto next_block;
                }
            }
            if (likely(!b->host2)) { /* see block.h */
                jit_link(h->jit, b);
                jit_note_target(h->jit, h->pc, b);
            }
            switch (jit_run(h->jit, b->code)) {
            case JIT_EXIT_EXC:
                trap_taken(h);
                hart_take_trap(h, h->exc_cause, h->exc_tval, false);
                break;
            case JIT_EXIT_PARK: why = HART_EXIT_PARK; goto leave;
            case JIT_EXIT_INTERP:
                /* the block at h->pc, which may be one reached through a
                 * chain or the jump cache rather than b: the interpreter
                 * runs it (its FP instruction traps) */
                b = get_block(h);
                if (unlikely(!b)) {
                    trap_taken(h);
                    hart_take_trap(h, h->exc_cause, h->exc_tval, false);
                    goto next_block;
                }
                goto interpret;
            default: break;
            }
            goto next_block;
        }
#endif
        b->countdown = INT32_MAX;
    }
interpret:
    if (b->countdown > 0) b->countdown--;
    h->jit_link = NULL;
    h->budget -= b->n;
    pc_base = h->pc;
    i = b->insns;
    goto *i->handler;

leave:
    h->instret += (uint64_t)(h->budget_start - h->budget);
    h->budget_start = h->budget = 0;
    return why;

exception:
    h->pc = PC;
    h->budget += (int64_t)(b->n - (uint32_t)(i - b->insns));
    trap_taken(h);
    hart_take_trap(h, h->exc_cause, h->exc_tval, false);
    goto next_block;

illegal_insn:
    hart_raise(h, EXC_ILLEGAL, block_insn_bits(b, i));
    goto exception;

#include "cpu/exec_ops.h"

#undef OPL
#undef PC
#undef NEXT
#undef JUMP
#undef JUMP_SET
#undef CHAIN
#undef INDIRECT
#undef EXCEPTION
#undef ILLEGAL_INSN
#undef LEAVE
}

/* ---- one instruction at a time ------------------------------------------------- */

int exec_one(struct hart *h, const struct insn *i, uint64_t at, uint32_t bits)
{
    uint64_t *const x = h->x;
    uint64_t *const f = h->f;
#define OPL(name) case OP_##name:
#define PC at /* not "pc": ops declare locals of that name */
#define NEXT return EXEC_NEXT
#define JUMP(target)                                                                           \
    do {                                                                                       \
        h->pc = (target);                                                                      \
        return EXEC_JUMP;                                                                      \
    } while (0)
#define CHAIN(slot, target) JUMP(target)
#define INDIRECT(target) JUMP(target)
#define JUMP_SET return EXEC_JUMP
#define EXCEPTION                                                                              \
    do {                                                                                       \
        h->pc = at;                                                                            \
        return EXEC_EXC;                                                                       \
    } while (0)
#define ILLEGAL_INSN                                                                           \
    do {                                                                                       \
        hart_raise(h, EXC_ILLEGAL, bits);                                                      \
        EXCEPTION;                                                                             \
    } while (0)
#define LEAVE(w) return EXEC_PARK
    switch ((enum op)i->op) {
#include "cpu/exec_ops.h"
    case OP_COUNT: break;
    }
#undef OPL
#undef PC
#undef NEXT
#undef JUMP
#undef JUMP_SET
#undef CHAIN
#undef INDIRECT
#undef EXCEPTION
#undef ILLEGAL_INSN
#undef LEAVE
    hart_raise(h, EXC_ILLEGAL, bits);
    h->pc = at;
    return EXEC_EXC;
}
