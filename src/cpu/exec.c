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
#include "cpu/decode.h"
#include "cpu/fpu.h"
#include "cpu/internal.h"
#include "machine/machine.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define BLOCK_MAX 64
#define BC_HASH_BITS 14
#define BC_HASH_SIZE (1u << BC_HASH_BITS)
#define BC_ARENA_SIZE (16u << 20)
#define NO_PAGE UINT32_MAX

struct block {
    const uint8_t *host;     /* host address of the first instruction (the key) */
    struct block *hash_next;
    /* Successors, filled in lazily. 0: taken branch/jump target and 1: fall
     * through, both in the same page (following one costs a generation
     * check instead of a TLB lookup and a hash probe); 2: the last target of
     * an indirect jump ending this block (checked against the fetch TLB). */
    struct block *link[3];
    uint32_t page;           /* RAM page index, NO_PAGE for ROM */
    uint32_t gen;            /* that page's generation when decoded */
    uint32_t n;              /* instructions, not counting the BLOCK_END sentinel */
    uint32_t pad;
    struct insn insns[];
};

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
        __atomic_or_fetch(&m->page_flags[page], PAGE_CODE, __ATOMIC_SEQ_CST);
        const uint8_t *host_page = m->ram + ((size_t)page << PAGE_SHIFT);
        mmu_drop_write_page(h, host_page);
        for (int k = 0; k < m->nharts; k++)
            if (m->harts[k] != h)
                atomic_fetch_or_explicit(&m->harts[k]->events, EV_TLB_FLUSH | EV_CHECK,
                                         memory_order_seq_cst);
    }
    *gen = atomic_load_explicit(&m->page_gen[page], memory_order_acquire);
    return page;
}

static struct block *build_block(struct hart *h, const uint8_t *host, uint64_t pc,
                                 uint32_t avail)
{
    struct block_cache *bc = h->bc;
    size_t need = sizeof(struct block) + (BLOCK_MAX + 1) * sizeof(struct insn);
    if (bc->used + need > BC_ARENA_SIZE) block_cache_flush(h);
    struct block *b = (struct block *)(bc->arena + bc->used);
    b->host = host;
    b->link[0] = b->link[1] = b->link[2] = NULL;
    b->page = claim_code_page(h, host, &b->gen);

    uint32_t off = 0, n = 0;
    while (n < BLOCK_MAX && off + 2 <= avail) {
        int len = insn_length((uint16_t)(host[off] | host[off + 1] << 8));
        if (off + (uint32_t)len > avail) break;
        struct insn *in = &b->insns[n++];
        decode(read_insn_bits(host + off, len), in);
        in->handler = handler_of[in->op];
        in->off = (uint16_t)off;
        off += (uint32_t)len;
        if (op_ends_block((enum op)in->op)) break;
    }
    if (n == 0) {
        /* A 32-bit instruction whose second half is on the next page. */
        uint32_t avail2;
        const uint8_t *hi = mmu_fetch_ptr(h, pc + 2, &avail2);
        if (!hi) return NULL;
        b = bc->scratch;
        b->link[0] = b->link[1] = b->link[2] = NULL;
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
    end->off = (uint16_t)off;
    return b;
}

/* The block at h->pc, or NULL with an exception pending (fetch fault). */
static inline struct block *get_block(struct hart *h)
{
    uint64_t pc = h->pc;
    const struct tlb_entry *e = &h->tlb_fetch->e[ACC_EXEC][(pc >> PAGE_SHIFT) & (TLB_SIZE - 1)];
    const uint8_t *host;
    uint32_t avail;
    if (likely(e->tag == (pc & ~PAGE_MASK))) {
        host = (const uint8_t *)(e->addend + pc);
        avail = (uint32_t)(PAGE_SIZE - (pc & PAGE_MASK));
    } else {
        host = mmu_fetch_ptr(h, pc, &avail);
        if (!host) return NULL;
    }
    for (struct block *b = h->bc->hash[block_hash(host)]; b; b = b->hash_next) {
        if (b->host != host) continue;
        if (b->page == NO_PAGE ||
            b->gen == atomic_load_explicit(&h->m->page_gen[b->page], memory_order_relaxed))
            return b;
        break; /* stale: decode again; the new block shadows this one */
    }
    return build_block(h, host, pc, avail);
}

/* ---- sleeping in WFI -------------------------------------------------------- */

void hart_wait_for_interrupt(struct hart *h)
{
    struct machine *m = h->m;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pthread_mutex_lock(&h->wfi_lock);
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
    pthread_mutex_unlock(&h->wfi_lock);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int64_t ns = (int64_t)(t1.tv_sec - t0.tv_sec) * 1000000000 + (t1.tv_nsec - t0.tv_nsec);
    if (ns > 0) atomic_fetch_add_explicit(&h->idle_ns, (uint64_t)ns, memory_order_relaxed);
}

/* ---- polling between blocks -------------------------------------------------- */

void hart_serve_fences(struct hart *h, unsigned ev)
{
    /* Requesters post their event bits before counting the request, so
     * every request counted in `req` had its bits taken by the caller. */
    if (ev & EV_TLB_FLUSH) hart_tlb_flush(h);
    if (ev & EV_FLUSH_CODE) block_cache_flush(h);
}

void hart_remote_fence(struct hart *self, struct hart *target, bool icache)
{
    if (target == self) {
        hart_tlb_flush(self);
        if (icache) block_cache_flush(self);
        return;
    }
    atomic_fetch_or(&target->events, EV_TLB_FLUSH | (icache ? EV_FLUSH_CODE : 0));
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
            atomic_fetch_or(&self->events, mine & ~(EV_TLB_FLUSH | EV_FLUSH_CODE));
        }
        sched_yield();
    }
}

void hart_serve_requests(struct hart *h)
{
    unsigned req = atomic_load(&h->fence_req);
    unsigned ev = atomic_exchange(&h->events, 0);
    hart_serve_fences(h, ev);
    atomic_store(&h->fence_done, req);
    /* the rest (interrupt checks) for the next poll */
    atomic_fetch_or(&h->events, ev & ~(EV_TLB_FLUSH | EV_FLUSH_CODE));
}

static enum hart_exit poll(struct hart *h)
{
    unsigned req = atomic_load(&h->fence_req);
    unsigned ev = atomic_exchange_explicit(&h->events, 0, memory_order_acq_rel);
    hart_serve_fences(h, ev);
    atomic_store(&h->fence_done, req);
    h->instret += (uint64_t)(h->budget_start - h->budget);
    int64_t budget = HART_BUDGET;
    if (h->max_insns) {
        if (h->instret >= h->max_insns) return HART_EXIT_INSN_LIMIT;
        if (h->max_insns - h->instret < (uint64_t)budget)
            budget = (int64_t)(h->max_insns - h->instret);
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
            if (likely(nb_ != NULL) &&                                                         \
                likely(atomic_load_explicit(&h->events, memory_order_relaxed) == 0) &&         \
                likely(h->budget > 0) &&                                                       \
                likely(nb_->page == NO_PAGE || nb_->gen == atomic_load_explicit(               \
                           &h->m->page_gen[nb_->page], memory_order_relaxed))) {              \
                b = nb_;                                                                       \
                h->budget -= b->n;                                                             \
                pc_base = t_;                                                                  \
                i = b->insns;                                                                  \
                goto *i->handler;                                                         \
            }                                                                                  \
            prev = b;                                                                          \
            prev_slot = (slot);                                                                \
            prev_epoch = h->bc->epoch;                                                         \
            prev_target = t_;                                                                  \
        }                                                                                      \
        goto next_block;                                                                       \
    } while (0)
#define RAISE(cause, tval)                                                                     \
    do {                                                                                       \
        hart_raise(h, (cause), (tval));                                                        \
        goto exception;                                                                        \
    } while (0)
#define RD x[i->rd]
#define RS1 x[i->rs1]
#define RS2 x[i->rs2]
#define IMM ((int64_t)i->imm)
#define SX32(v) ((uint64_t)(int64_t)(int32_t)(uint32_t)(v))
#define ALU(name, expr)                                                                        \
    L_##name:                                                                                  \
    {                                                                                          \
        uint64_t a = RS1, c = RS2;                                                             \
        (void)a;                                                                               \
        (void)c;                                                                               \
        RD = (expr);                                                                           \
        NEXT;                                                                                  \
    }
#define ALUI(name, expr)                                                                       \
    L_##name:                                                                                  \
    {                                                                                          \
        uint64_t a = RS1;                                                                      \
        (void)a;                                                                               \
        RD = (expr);                                                                           \
        NEXT;                                                                                  \
    }
#define BRANCH(name, cond)                                                                     \
    L_##name:                                                                                  \
    {                                                                                          \
        uint64_t a = RS1, c = RS2;                                                             \
        if (cond) CHAIN(0, PC + IMM);                                                          \
        CHAIN(1, PC + i->len);                                                                 \
    }
/* Loads and stores: one compare against the TLB for the common case. */
#define LOAD(name, type, size, conv)                                                           \
    L_##name:                                                                                  \
    {                                                                                          \
        uint64_t va = RS1 + IMM, v;                                                            \
        const struct tlb_entry *e =                                                            \
            &h->tlb_data->e[ACC_READ][(va >> PAGE_SHIFT) & (TLB_SIZE - 1)];                    \
        if (likely(e->tag == (va & (~PAGE_MASK | (size - 1))))) {                              \
            v = conv(__atomic_load_n((type *)(e->addend + va), __ATOMIC_RELAXED));             \
        } else {                                                                               \
            if (!mmu_load(h, va, size, &v)) goto exception;                                    \
            v = conv((type)v);                                                                 \
        }                                                                                      \
        RD = v;                                                                                \
        NEXT;                                                                                  \
    }
#define STORE_VALUE(size, val)                                                                 \
    do {                                                                                       \
        uint64_t va = RS1 + IMM, v = (val);                                                    \
        const struct tlb_entry *e =                                                            \
            &h->tlb_data->e[ACC_WRITE][(va >> PAGE_SHIFT) & (TLB_SIZE - 1)];                   \
        if (likely(e->tag == (va & (~PAGE_MASK | (size - 1))))) {                              \
            void *p = (void *)(e->addend + va);                                                \
            switch (size) {                                                                    \
            case 1: __atomic_store_n((uint8_t *)p, (uint8_t)v, __ATOMIC_RELAXED); break;       \
            case 2: __atomic_store_n((uint16_t *)p, (uint16_t)v, __ATOMIC_RELAXED); break;     \
            case 4: __atomic_store_n((uint32_t *)p, (uint32_t)v, __ATOMIC_RELAXED); break;     \
            default: __atomic_store_n((uint64_t *)p, v, __ATOMIC_RELAXED); break;              \
            }                                                                                  \
        } else if (!mmu_store(h, va, size, v)) {                                               \
            goto exception;                                                                    \
        }                                                                                      \
    } while (0)
#define STORE(name, size)                                                                      \
    L_##name:                                                                                  \
    STORE_VALUE(size, RS2);                                                                    \
    NEXT;

#define S8(v) ((uint64_t)(int64_t)(int8_t)(v))
#define S16(v) ((uint64_t)(int64_t)(int16_t)(v))
#define S32(v) ((uint64_t)(int64_t)(int32_t)(v))
#define U64(v) ((uint64_t)(v))

next_block:
    if (unlikely(atomic_load_explicit(&h->events, memory_order_relaxed) != 0 ||
                 h->budget <= 0)) {
        why = poll(h);
        if (why != HART_EXIT_NONE) goto leave;
    }
    b = get_block(h);
    if (unlikely(!b)) {
        prev = NULL;
        hart_take_trap(h, h->exc_cause, h->exc_tval, false);
        goto next_block;
    }
    if (prev) {
        /* link only blocks of the same cache epoch, never the scratch block */
        if (prev_epoch == h->bc->epoch && h->pc == prev_target && b != h->bc->scratch &&
            prev != h->bc->scratch)
            prev->link[prev_slot] = b;
        prev = NULL;
    }
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
    hart_take_trap(h, h->exc_cause, h->exc_tval, false);
    goto next_block;

illegal_insn:
    hart_raise(h, EXC_ILLEGAL, read_insn_bits(b->host + i->off, i->len));
    goto exception;

L_ILLEGAL:
    RAISE(EXC_ILLEGAL, (uint32_t)i->imm);

L_BLOCK_END:
    CHAIN(1, PC);

    /* ---- RV64I ---- */
L_LUI:
    RD = (uint64_t)IMM;
    NEXT;
L_AUIPC:
    RD = PC + (uint64_t)IMM;
    NEXT;
L_JAL:
{
    uint64_t pc = PC;
    RD = pc + i->len;
    CHAIN(0, pc + (uint64_t)IMM);
}
L_JALR:
{
    uint64_t target = (RS1 + (uint64_t)IMM) & ~1ull, pc = PC;
    RD = pc + i->len;
    h->pc = target;
    /* Returns and indirect calls mostly go where they went last time. */
    struct block *nb = b->link[2];
    if (nb && likely(atomic_load_explicit(&h->events, memory_order_relaxed) == 0) &&
        likely(h->budget > 0)) {
        const struct tlb_entry *e =
            &h->tlb_fetch->e[ACC_EXEC][(target >> PAGE_SHIFT) & (TLB_SIZE - 1)];
        if (e->tag == (target & ~PAGE_MASK) &&
            (const uint8_t *)(e->addend + target) == nb->host &&
            (nb->page == NO_PAGE ||
             nb->gen == atomic_load_explicit(&h->m->page_gen[nb->page], memory_order_relaxed))) {
            b = nb;
            h->budget -= b->n;
            pc_base = target;
            i = b->insns;
            goto *i->handler;
        }
    }
    prev = b;
    prev_slot = 2;
    prev_epoch = h->bc->epoch;
    prev_target = target;
    goto next_block;
}
    BRANCH(BEQ, a == c)
    BRANCH(BNE, a != c)
    BRANCH(BLT, (int64_t)a < (int64_t)c)
    BRANCH(BGE, (int64_t)a >= (int64_t)c)
    BRANCH(BLTU, a < c)
    BRANCH(BGEU, a >= c)

    LOAD(LB, uint8_t, 1, S8)
    LOAD(LH, uint16_t, 2, S16)
    LOAD(LW, uint32_t, 4, S32)
    LOAD(LD, uint64_t, 8, U64)
    LOAD(LBU, uint8_t, 1, U64)
    LOAD(LHU, uint16_t, 2, U64)
    LOAD(LWU, uint32_t, 4, U64)
    STORE(SB, 1)
    STORE(SH, 2)
    STORE(SW, 4)
    STORE(SD, 8)

    ALUI(ADDI, a + (uint64_t)IMM)
    ALUI(SLTI, (int64_t)a < IMM)
    ALUI(SLTIU, a < (uint64_t)IMM)
    ALUI(XORI, a ^ (uint64_t)IMM)
    ALUI(ORI, a | (uint64_t)IMM)
    ALUI(ANDI, a & (uint64_t)IMM)
    ALUI(SLLI, a << i->imm)
    ALUI(SRLI, a >> i->imm)
    ALUI(SRAI, (uint64_t)((int64_t)a >> i->imm))
    ALU(ADD, a + c)
    ALU(SUB, a - c)
    ALU(SLL, a << (c & 63))
    ALU(SLT, (int64_t)a < (int64_t)c)
    ALU(SLTU, a < c)
    ALU(XOR, a ^ c)
    ALU(SRL, a >> (c & 63))
    ALU(SRA, (uint64_t)((int64_t)a >> (c & 63)))
    ALU(OR, a | c)
    ALU(AND, a & c)
    ALUI(ADDIW, SX32(a + (uint64_t)IMM))
    ALUI(SLLIW, SX32((uint32_t)a << i->imm))
    ALUI(SRLIW, SX32((uint32_t)a >> i->imm))
    ALUI(SRAIW, (uint64_t)(int64_t)((int32_t)(uint32_t)a >> i->imm))
    ALU(ADDW, SX32(a + c))
    ALU(SUBW, SX32(a - c))
    ALU(SLLW, SX32((uint32_t)a << (c & 31)))
    ALU(SRLW, SX32((uint32_t)a >> (c & 31)))
    ALU(SRAW, (uint64_t)(int64_t)((int32_t)(uint32_t)a >> (c & 31)))

L_FENCE:
    /* x86 is TSO: only store->load ordering needs a real barrier. */
    if ((i->rm & 0x50) && (i->rm & 0x0a))
        atomic_thread_fence(memory_order_seq_cst);
    else
        atomic_signal_fence(memory_order_seq_cst);
    NEXT;
L_FENCE_I:
    block_cache_flush(h);
    JUMP(PC + 4);
L_ECALL:
    if (h->priv == PRIV_S && h->m->ecall_hook) {
        /* built-in firmware (direct kernel boot): the VMM answers the call */
        h->pc = PC;
        int r = h->m->ecall_hook(h);
        if (r == ECALL_PARK) {
            h->pc = PC + 4;
            why = HART_EXIT_PARK;
            goto leave;
        }
        JUMP(PC + 4);
    }
    RAISE(EXC_ECALL_U + h->priv, 0);
L_EBREAK:
    RAISE(EXC_BREAKPOINT, PC);

    /* ---- privileged ---- */
L_MRET:
    h->pc = PC;
    if (!hart_mret(h)) goto illegal_insn;
    atomic_fetch_or_explicit(&h->events, EV_CHECK, memory_order_relaxed);
    goto next_block;
L_SRET:
    h->pc = PC;
    if (!hart_sret(h)) goto illegal_insn;
    atomic_fetch_or_explicit(&h->events, EV_CHECK, memory_order_relaxed);
    goto next_block;
L_WFI:
    if (h->priv == PRIV_U || (h->priv == PRIV_S && (h->mstatus & MSTATUS_TW))) goto illegal_insn;
    h->pc = PC + 4;
    hart_wait_for_interrupt(h);
    goto next_block;
L_SFENCE_VMA:
    if (h->priv == PRIV_U || (h->priv == PRIV_S && (h->mstatus & MSTATUS_TVM))) goto illegal_insn;
    if (i->rs1)
        mmu_flush_tlb_page(h, RS1);
    else
        hart_tlb_flush(h);
    JUMP(PC + 4);

    /* ---- Zicsr ---- */
L_CSRRW:
L_CSRRS:
L_CSRRC:
L_CSRRWI:
L_CSRRSI:
L_CSRRCI:
    h->pc = PC;
    if (!csr_exec(h, i->op, i->rd, i->rs1, (uint32_t)i->imm & 0xfff)) goto illegal_insn;
    JUMP(PC + 4);

    /* ---- M ---- */
    ALU(MUL, a * c)
    ALU(MULH, (uint64_t)(((__int128)(int64_t)a * (__int128)(int64_t)c) >> 64))
    ALU(MULHSU, (uint64_t)(((__int128)(int64_t)a * (__int128)c) >> 64))
    ALU(MULHU, (uint64_t)(((unsigned __int128)a * c) >> 64))
    ALU(DIV, c == 0 ? ~0ull
             : ((int64_t)a == INT64_MIN && (int64_t)c == -1) ? a
             : (uint64_t)((int64_t)a / (int64_t)c))
    ALU(DIVU, c == 0 ? ~0ull : a / c)
    ALU(REM, c == 0 ? a
             : ((int64_t)a == INT64_MIN && (int64_t)c == -1) ? 0
             : (uint64_t)((int64_t)a % (int64_t)c))
    ALU(REMU, c == 0 ? a : a % c)
    ALU(MULW, SX32((uint32_t)a * (uint32_t)c))
    ALU(DIVW, (uint32_t)c == 0 ? ~0ull
              : ((int32_t)(uint32_t)a == INT32_MIN && (int32_t)(uint32_t)c == -1) ? SX32(a)
              : SX32((int32_t)(uint32_t)a / (int32_t)(uint32_t)c))
    ALU(DIVUW, (uint32_t)c == 0 ? ~0ull : SX32((uint32_t)a / (uint32_t)c))
    ALU(REMW, (uint32_t)c == 0 ? SX32(a)
              : ((int32_t)(uint32_t)a == INT32_MIN && (int32_t)(uint32_t)c == -1) ? 0
              : SX32((int32_t)(uint32_t)a % (int32_t)(uint32_t)c))
    ALU(REMUW, (uint32_t)c == 0 ? SX32(a) : SX32((uint32_t)a % (uint32_t)c))

    /* ---- A ---- */
#define AMO(name, type, size, expr)                                                            \
    L_##name:                                                                                  \
    {                                                                                          \
        void *p;                                                                               \
        uint64_t pa;                                                                           \
        type src = (type)RS2;                                                                  \
        if (!mmu_atomic_ptr(h, RS1, size, false, &p, &pa)) goto exception;                     \
        type old = __atomic_load_n((type *)p, __ATOMIC_RELAXED), nv;                           \
        do {                                                                                   \
            nv = (expr);                                                                       \
        } while (!__atomic_compare_exchange_n((type *)p, &old, nv, true, __ATOMIC_SEQ_CST,     \
                                              __ATOMIC_RELAXED));                              \
        RD = size == 4 ? SX32(old) : (uint64_t)old;                                            \
        NEXT;                                                                                  \
    }
    AMO(AMOSWAP_W, uint32_t, 4, src)
    AMO(AMOADD_W, uint32_t, 4, old + src)
    AMO(AMOXOR_W, uint32_t, 4, old ^ src)
    AMO(AMOAND_W, uint32_t, 4, old & src)
    AMO(AMOOR_W, uint32_t, 4, old | src)
    AMO(AMOMIN_W, uint32_t, 4, (int32_t)old < (int32_t)src ? old : src)
    AMO(AMOMAX_W, uint32_t, 4, (int32_t)old > (int32_t)src ? old : src)
    AMO(AMOMINU_W, uint32_t, 4, old < src ? old : src)
    AMO(AMOMAXU_W, uint32_t, 4, old > src ? old : src)
    AMO(AMOSWAP_D, uint64_t, 8, src)
    AMO(AMOADD_D, uint64_t, 8, old + src)
    AMO(AMOXOR_D, uint64_t, 8, old ^ src)
    AMO(AMOAND_D, uint64_t, 8, old & src)
    AMO(AMOOR_D, uint64_t, 8, old | src)
    AMO(AMOMIN_D, uint64_t, 8, (int64_t)old < (int64_t)src ? old : src)
    AMO(AMOMAX_D, uint64_t, 8, (int64_t)old > (int64_t)src ? old : src)
    AMO(AMOMINU_D, uint64_t, 8, old < src ? old : src)
    AMO(AMOMAXU_D, uint64_t, 8, old > src ? old : src)
#define LR(name, type, size)                                                                   \
    L_##name:                                                                                  \
    {                                                                                          \
        void *p;                                                                               \
        uint64_t pa;                                                                           \
        if (!mmu_atomic_ptr(h, RS1, size, true, &p, &pa)) goto exception;                      \
        type v = __atomic_load_n((type *)p, __ATOMIC_ACQUIRE);                                 \
        h->resv_addr = pa;                                                                     \
        h->resv_value = v;                                                                     \
        RD = size == 4 ? SX32(v) : (uint64_t)v;                                                \
        NEXT;                                                                                  \
    }
#define SC(name, type, size)                                                                   \
    L_##name:                                                                                  \
    {                                                                                          \
        void *p;                                                                               \
        uint64_t pa;                                                                           \
        type src = (type)RS2;                                                                  \
        if (!mmu_atomic_ptr(h, RS1, size, false, &p, &pa)) goto exception;                     \
        bool ok = false;                                                                       \
        if (h->resv_addr == pa) {                                                              \
            type expected = (type)h->resv_value;                                               \
            ok = __atomic_compare_exchange_n((type *)p, &expected, src, false,                 \
                                             __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);              \
        }                                                                                      \
        h->resv_addr = ~0ull;                                                                  \
        RD = !ok;                                                                              \
        NEXT;                                                                                  \
    }
    LR(LR_W, uint32_t, 4)
    LR(LR_D, uint64_t, 8)
    SC(SC_W, uint32_t, 4)
    SC(SC_D, uint64_t, 8)

    /* ---- F and D ---- */
#define FS_ON()                                                                                \
    do {                                                                                       \
        if (unlikely(!(h->mstatus & MSTATUS_FS))) goto illegal_insn;                           \
    } while (0)
#define FP_DIRTY() (h->mstatus |= MSTATUS_FS | MSTATUS_SD)
#define ROUNDING()                                                                             \
    ({                                                                                         \
        unsigned rm_ = i->rm == 7 ? h->frm : i->rm;                                            \
        if (unlikely(rm_ > 4)) goto illegal_insn;                                              \
        (int)rm_;                                                                              \
    })
#define F32(r) unbox32(f[r])
#define FOP_S(name, expr)                                                                      \
    L_##name:                                                                                  \
    {                                                                                          \
        FS_ON();                                                                               \
        uint32_t a = F32(i->rs1), c = F32(i->rs2), d = F32(i->rs3);                            \
        (void)a;                                                                               \
        (void)c;                                                                               \
        (void)d;                                                                               \
        int rm = ROUNDING();                                                                   \
        (void)rm;                                                                              \
        f[i->rd] = box32(expr);                                                                \
        FP_DIRTY();                                                                            \
        NEXT;                                                                                  \
    }
#define FOP_D(name, expr)                                                                      \
    L_##name:                                                                                  \
    {                                                                                          \
        FS_ON();                                                                               \
        uint64_t a = f[i->rs1], c = f[i->rs2], d = f[i->rs3];                                  \
        (void)a;                                                                               \
        (void)c;                                                                               \
        (void)d;                                                                               \
        int rm = ROUNDING();                                                                   \
        (void)rm;                                                                              \
        f[i->rd] = (expr);                                                                     \
        FP_DIRTY();                                                                            \
        NEXT;                                                                                  \
    }
/* FP ops without a rounding mode (the rm field is a function code there). */
#define FOPN_S(name, expr)                                                                     \
    L_##name:                                                                                  \
    {                                                                                          \
        FS_ON();                                                                               \
        uint32_t a = F32(i->rs1), c = F32(i->rs2);                                             \
        (void)c;                                                                               \
        f[i->rd] = box32(expr);                                                                \
        FP_DIRTY();                                                                            \
        NEXT;                                                                                  \
    }
#define FOPN_D(name, expr)                                                                     \
    L_##name:                                                                                  \
    {                                                                                          \
        FS_ON();                                                                               \
        uint64_t a = f[i->rs1], c = f[i->rs2];                                                 \
        (void)c;                                                                               \
        f[i->rd] = (expr);                                                                     \
        FP_DIRTY();                                                                            \
        NEXT;                                                                                  \
    }
/* FP -> integer register results. */
#define FTOX(name, type, expr, needs_rm)                                                       \
    L_##name:                                                                                  \
    {                                                                                          \
        FS_ON();                                                                               \
        type a = (type)(sizeof(type) == 4 ? F32(i->rs1) : f[i->rs1]);                          \
        type c = (type)(sizeof(type) == 4 ? F32(i->rs2) : f[i->rs2]);                          \
        (void)c;                                                                               \
        int rm = (needs_rm) ? ROUNDING() : 0;                                                  \
        (void)rm;                                                                              \
        uint32_t flags_before = h->fflags;                                                     \
        RD = (uint64_t)(expr);                                                                 \
        if (h->fflags != flags_before) FP_DIRTY();                                             \
        NEXT;                                                                                  \
    }
/* integer register -> FP */
#define XTOF(name, expr)                                                                       \
    L_##name:                                                                                  \
    {                                                                                          \
        FS_ON();                                                                               \
        uint64_t a = RS1;                                                                      \
        int rm = ROUNDING();                                                                   \
        (void)rm;                                                                              \
        f[i->rd] = (expr);                                                                     \
        FP_DIRTY();                                                                            \
        NEXT;                                                                                  \
    }
#define FL (&h->fflags)

L_FLW:
{
    FS_ON();
    uint64_t va = RS1 + IMM, v;
    const struct tlb_entry *e = &h->tlb_data->e[ACC_READ][(va >> PAGE_SHIFT) & (TLB_SIZE - 1)];
    if (likely(e->tag == (va & (~PAGE_MASK | 3))))
        v = __atomic_load_n((uint32_t *)(e->addend + va), __ATOMIC_RELAXED);
    else if (!mmu_load(h, va, 4, &v))
        goto exception;
    f[i->rd] = box32((uint32_t)v);
    FP_DIRTY();
    NEXT;
}
L_FLD:
{
    FS_ON();
    uint64_t va = RS1 + IMM, v;
    const struct tlb_entry *e = &h->tlb_data->e[ACC_READ][(va >> PAGE_SHIFT) & (TLB_SIZE - 1)];
    if (likely(e->tag == (va & (~PAGE_MASK | 7))))
        v = __atomic_load_n((uint64_t *)(e->addend + va), __ATOMIC_RELAXED);
    else if (!mmu_load(h, va, 8, &v))
        goto exception;
    f[i->rd] = v;
    FP_DIRTY();
    NEXT;
}
L_FSW:
    FS_ON();
    STORE_VALUE(4, (uint32_t)f[i->rs2]);
    NEXT;
L_FSD:
    FS_ON();
    STORE_VALUE(8, f[i->rs2]);
    NEXT;

    FOP_S(FMADD_S, f32_madd(a, c, d, rm, FL))
    FOP_S(FMSUB_S, f32_msub(a, c, d, rm, FL))
    FOP_S(FNMSUB_S, f32_nmsub(a, c, d, rm, FL))
    FOP_S(FNMADD_S, f32_nmadd(a, c, d, rm, FL))
    FOP_S(FADD_S, f32_add(a, c, rm, FL))
    FOP_S(FSUB_S, f32_sub(a, c, rm, FL))
    FOP_S(FMUL_S, f32_mul(a, c, rm, FL))
    FOP_S(FDIV_S, f32_div(a, c, rm, FL))
    FOP_S(FSQRT_S, f32_sqrt(a, rm, FL))
    FOPN_S(FSGNJ_S, (a & 0x7fffffffu) | (c & 0x80000000u))
    FOPN_S(FSGNJN_S, (a & 0x7fffffffu) | (~c & 0x80000000u))
    FOPN_S(FSGNJX_S, a ^ (c & 0x80000000u))
    FOPN_S(FMIN_S, f32_min(a, c, FL))
    FOPN_S(FMAX_S, f32_max(a, c, FL))
    FTOX(FCVT_W_S, uint32_t, (int64_t)f32_to_i32(a, rm, FL), 1)
    FTOX(FCVT_WU_S, uint32_t, (int64_t)(int32_t)f32_to_u32(a, rm, FL), 1)
    FTOX(FCVT_L_S, uint32_t, f32_to_i64(a, rm, FL), 1)
    FTOX(FCVT_LU_S, uint32_t, f32_to_u64(a, rm, FL), 1)
L_FMV_X_W:
    FS_ON();
    RD = SX32((uint32_t)f[i->rs1]);
    NEXT;
    FTOX(FEQ_S, uint32_t, f32_eq(a, c, FL), 0)
    FTOX(FLT_S, uint32_t, f32_lt(a, c, FL), 0)
    FTOX(FLE_S, uint32_t, f32_le(a, c, FL), 0)
    FTOX(FCLASS_S, uint32_t, f32_classify(a), 0)
    XTOF(FCVT_S_W, box32(i32_to_f32((int32_t)a, rm, FL)))
    XTOF(FCVT_S_WU, box32(u32_to_f32((uint32_t)a, rm, FL)))
    XTOF(FCVT_S_L, box32(i64_to_f32((int64_t)a, rm, FL)))
    XTOF(FCVT_S_LU, box32(u64_to_f32(a, rm, FL)))
L_FMV_W_X:
    FS_ON();
    f[i->rd] = box32((uint32_t)RS1);
    FP_DIRTY();
    NEXT;

    FOP_D(FMADD_D, f64_madd(a, c, d, rm, FL))
    FOP_D(FMSUB_D, f64_msub(a, c, d, rm, FL))
    FOP_D(FNMSUB_D, f64_nmsub(a, c, d, rm, FL))
    FOP_D(FNMADD_D, f64_nmadd(a, c, d, rm, FL))
    FOP_D(FADD_D, f64_add(a, c, rm, FL))
    FOP_D(FSUB_D, f64_sub(a, c, rm, FL))
    FOP_D(FMUL_D, f64_mul(a, c, rm, FL))
    FOP_D(FDIV_D, f64_div(a, c, rm, FL))
    FOP_D(FSQRT_D, f64_sqrt(a, rm, FL))
    FOPN_D(FSGNJ_D, (a & ~(1ull << 63)) | (c & (1ull << 63)))
    FOPN_D(FSGNJN_D, (a & ~(1ull << 63)) | (~c & (1ull << 63)))
    FOPN_D(FSGNJX_D, a ^ (c & (1ull << 63)))
    FOPN_D(FMIN_D, f64_min(a, c, FL))
    FOPN_D(FMAX_D, f64_max(a, c, FL))
L_FCVT_S_D:
{
    FS_ON();
    int rm = ROUNDING();
    f[i->rd] = box32(f64_to_f32(f[i->rs1], rm, FL));
    FP_DIRTY();
    NEXT;
}
L_FCVT_D_S:
{
    FS_ON();
    (void)ROUNDING();
    f[i->rd] = f32_to_f64(F32(i->rs1), FL);
    FP_DIRTY();
    NEXT;
}
    FTOX(FCVT_W_D, uint64_t, (int64_t)f64_to_i32(a, rm, FL), 1)
    FTOX(FCVT_WU_D, uint64_t, (int64_t)(int32_t)f64_to_u32(a, rm, FL), 1)
    FTOX(FCVT_L_D, uint64_t, f64_to_i64(a, rm, FL), 1)
    FTOX(FCVT_LU_D, uint64_t, f64_to_u64(a, rm, FL), 1)
L_FMV_X_D:
    FS_ON();
    RD = f[i->rs1];
    NEXT;
    FTOX(FEQ_D, uint64_t, f64_eq(a, c, FL), 0)
    FTOX(FLT_D, uint64_t, f64_lt(a, c, FL), 0)
    FTOX(FLE_D, uint64_t, f64_le(a, c, FL), 0)
    FTOX(FCLASS_D, uint64_t, f64_classify(a), 0)
    XTOF(FCVT_D_W, i32_to_f64((int32_t)a, rm, FL))
    XTOF(FCVT_D_WU, u32_to_f64((uint32_t)a, rm, FL))
    XTOF(FCVT_D_L, i64_to_f64((int64_t)a, rm, FL))
    XTOF(FCVT_D_LU, u64_to_f64(a, rm, FL))
L_FMV_D_X:
    FS_ON();
    f[i->rd] = RS1;
    FP_DIRTY();
    NEXT;

    /* ---- Zba ---- */
    ALU(ADD_UW, (uint64_t)(uint32_t)a + c)
    ALU(SH1ADD, (a << 1) + c)
    ALU(SH2ADD, (a << 2) + c)
    ALU(SH3ADD, (a << 3) + c)
    ALU(SH1ADD_UW, ((uint64_t)(uint32_t)a << 1) + c)
    ALU(SH2ADD_UW, ((uint64_t)(uint32_t)a << 2) + c)
    ALU(SH3ADD_UW, ((uint64_t)(uint32_t)a << 3) + c)
    ALUI(SLLI_UW, (uint64_t)(uint32_t)a << i->imm)

    /* ---- Zbb ---- */
    ALU(ANDN, a & ~c)
    ALU(ORN, a | ~c)
    ALU(XNOR, ~(a ^ c))
    ALUI(CLZ, a ? (uint64_t)__builtin_clzll(a) : 64)
    ALUI(CLZW, (uint32_t)a ? (uint64_t)__builtin_clz((uint32_t)a) : 32)
    ALUI(CTZ, a ? (uint64_t)__builtin_ctzll(a) : 64)
    ALUI(CTZW, (uint32_t)a ? (uint64_t)__builtin_ctz((uint32_t)a) : 32)
    ALUI(CPOP, (uint64_t)__builtin_popcountll(a))
    ALUI(CPOPW, (uint64_t)__builtin_popcount((uint32_t)a))
    ALU(MAX, (int64_t)a > (int64_t)c ? a : c)
    ALU(MAXU, a > c ? a : c)
    ALU(MIN, (int64_t)a < (int64_t)c ? a : c)
    ALU(MINU, a < c ? a : c)
    ALUI(SEXT_B, S8(a))
    ALUI(SEXT_H, S16(a))
    ALUI(ZEXT_H, a & 0xffff)
    ALU(ROL, (a << (c & 63)) | (a >> ((64 - (c & 63)) & 63)))
    ALU(ROR, (a >> (c & 63)) | (a << ((64 - (c & 63)) & 63)))
    ALUI(RORI, (a >> i->imm) | (a << ((64 - i->imm) & 63)))
    ALU(ROLW, SX32(((uint32_t)a << (c & 31)) | ((uint32_t)a >> ((32 - (c & 31)) & 31))))
    ALU(RORW, SX32(((uint32_t)a >> (c & 31)) | ((uint32_t)a << ((32 - (c & 31)) & 31))))
    ALUI(RORIW, SX32(((uint32_t)a >> i->imm) | ((uint32_t)a << ((32 - i->imm) & 31))))
L_ORC_B:
{
    uint64_t a = RS1, r = 0;
    for (int k = 0; k < 64; k += 8)
        if ((a >> k) & 0xff) r |= 0xffull << k;
    RD = r;
    NEXT;
}
    ALUI(REV8, __builtin_bswap64(a))

    /* ---- Zbs ---- */
    ALU(BCLR, a & ~(1ull << (c & 63)))
    ALUI(BCLRI, a & ~(1ull << i->imm))
    ALU(BEXT, (a >> (c & 63)) & 1)
    ALUI(BEXTI, (a >> i->imm) & 1)
    ALU(BINV, a ^ (1ull << (c & 63)))
    ALUI(BINVI, a ^ (1ull << i->imm))
    ALU(BSET, a | (1ull << (c & 63)))
    ALUI(BSETI, a | (1ull << i->imm))
}
