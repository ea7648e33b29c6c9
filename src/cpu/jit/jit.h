/*
 * jit.h - the translator from decoded RISC-V blocks to host machine code.
 *
 * Two contracts live here:
 *
 * 1. The dispatcher's (src/cpu/exec.c): a hart with the translator on owns
 *    one `struct jit` (its own code cache: translated code is only ever run
 *    by the hart that made it, so no other thread can be inside code that is
 *    flushed). A block (block.h) that has run `countdown` times is handed to
 *    jit_translate; exec.c then enters its code with jit_run, which returns
 *    to the dispatcher at the next event, lookup miss or exception.
 *
 * 2. The front end's (jit.c: code cache, bookkeeping, jump cache, chaining)
 *    with a host back end (emit_x86_64.c; an AArch64 back end would be one
 *    more file implementing the be_* functions below): the back end lowers
 *    a whole block into the code cache and emits the few shared routines
 *    (enter, exit, jump-cache lookup) once per cache.
 *
 * Translated code keeps the interpreter's invariants (docs/architecture.md,
 * "How a block becomes host code"): a block charges its instruction count
 * on entry and refunds the rest on a trap; every block entry first checks
 * the hart's events word and budget, so interrupts are taken at block
 * boundaries; guest registers live in host registers only within a block;
 * exceptions leave with the architectural state of the faulting
 * instruction.
 */
#ifndef KUMO_CPU_JIT_JIT_H
#define KUMO_CPU_JIT_JIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hart;
struct block;

/* kumo-vmm --jit: how guest code runs. */
enum jit_mode {
    JIT_OFF = 0,   /* the interpreter only; nothing executable is mapped */
    JIT_ON = 1,    /* hot blocks are translated */
    JIT_CHECK = 2, /* every block is translated and run in lockstep with the
                      interpreter, comparing the architectural state */
};

/* Why jit_run returned. */
enum jit_exit {
    JIT_EXIT_LOOKUP = 0, /* go on at h->pc (look the block up) */
    JIT_EXIT_CHAIN = 1,  /* the same; h->jit_link is a jump to patch to that block */
    JIT_EXIT_EXC = 2,    /* exception pending (h->exc_*), h->pc = the faulting pc */
    JIT_EXIT_PARK = 3,   /* the hart stopped itself (SBI HSM); h->pc = where to resume */
    JIT_EXIT_INTERP = 4, /* run the block at h->pc in the interpreter once (its FP
                            instructions would trap: FS off, or a bad dynamic frm) */
};

/* kumo-vmm's exit status when --jit check found a difference. */
#define JIT_CHECK_EXIT 123

/* Default code cache per hart (bytes of host code; flushed whole when full). */
#define JIT_CACHE_DEFAULT (32u << 20)
/* Default number of runs before a block is translated. */
#define JIT_THRESHOLD_DEFAULT 16

/* Is there a back end for this host (x86-64)? */
bool jit_available(void);

struct jit *jit_new(struct hart *h, size_t cache_bytes, bool chain);
void jit_free(struct jit *j);
/* Drop every translation (the decoded blocks are being dropped too). */
void jit_flush(struct jit *j);
/* Forget the jump cache (a page holding code was written). */
void jit_forget_targets(struct jit *j);
/* Translate b; NULL when the cache is full (flush everything, then retry). */
void *jit_translate(struct jit *j, struct block *b);
/* Does b end with a branch or jal to its own start (a loop, translated so
 * that it keeps its registers; --jit check runs it twice)? */
bool jit_block_selfloop(const struct block *b);
/* Run translated code from `code` (h->pc is its block's pc). */
int jit_run(struct jit *j, void *code);
/* b (translated) now runs at guest pc `pc`: remember it for indirect jumps. */
void jit_note_target(struct jit *j, uint64_t pc, const struct block *b);
/* After JIT_EXIT_CHAIN: patch the pending jump (h->jit_link) to b, if it
 * is the block that jump means. */
void jit_link(struct jit *j, const struct block *b);
/* Translation counts, for -vv. */
void jit_log_stats(const struct jit *j, int hart_id);

/* The differential checker (check.c), for JIT_CHECK. */
struct jit_check *jit_check_new(void);
void jit_check_free(struct jit_check *c, int hart_id); /* prints its counts */
uint64_t jit_check_compared(const struct jit_check *c);
/* Run b (translated) and the interpreter on it from the same state and
 * compare: an enum jit_exit, or -1 after printing a difference. */
int jit_check_step(struct hart *h, struct block *b);
/* Hooks in the slow paths of mmu.c while a checked block runs. */
void jit_check_note_write(struct hart *h, uint64_t pa, uint64_t len);
void jit_check_note_device(struct hart *h);
/* Around a sleep inside a block (WFI, SBI suspend): asleep gives up the
 * hart's turn to run blocks, !asleep takes it back. No-op without a checker. */
void jit_check_sleep(struct hart *h, bool asleep);

/* ---- the back end's side ------------------------------------------------------ */

/* A direct exit whose target is in the same page: jump to be patched. */
struct jit_exit_rec {
    uint8_t *site;              /* RX address of the jump (back-end specific) */
    const uint8_t *target_host; /* host address of the target block's first byte */
    uint64_t epoch : 63;        /* the cache epoch it belongs to */
    uint64_t forward : 1;       /* a jump forward: may skip the event/budget check */
};

/* Jump cache entry: guest pc -> code, valid while the fetch TLB maps pc's
 * page the same way (addend) as when it was made. */
struct jit_jc_entry {
    uint64_t pc;
    uintptr_t addend; /* host - guest address of the page, as in the fetch TLB */
    void *code;
    uint64_t pad;
};
#define JIT_JC_BITS 14
#define JIT_JC_SIZE (1u << JIT_JC_BITS)
/* The entry of a pc: its page number mixed in, or every page's offset k
 * would share one entry. */
static inline unsigned jit_jc_index(uint64_t pc)
{
    return (unsigned)(((uint32_t)pc ^ ((uint32_t)pc >> 12)) >> 1) & (JIT_JC_SIZE - 1);
}

/* The code cache and what the back end may use of the front end. */
struct jit {
    struct hart *h;
    uint8_t *rw, *rx; /* the same memory: writable view, executable view */
    size_t size, used, routines_end;
    uint64_t epoch; /* bumped by every flush */
    bool chain;     /* patch direct jumps between blocks (off in check mode) */
    /* shared routines (RX addresses), emitted once by be_routines */
    int (*enter)(struct hart *h, void *code);
    void *exit;        /* leave with the result in eax */
    void *exit_lookup; /* h->pc = r14 (the current block's pc register), leave */
    void *exit_interp; /* the same with JIT_EXIT_INTERP */
    void *lookup;      /* jump-cache lookup of the guest pc in the pc register */
    struct jit_jc_entry *jc;
    void *perf_map; /* FILE *: KUMO_JIT_PERFMAP=1 writes /tmp/perf-PID.map */
    unsigned next_hint; /* the TLB hint slot (h->jit_hint) of the next load/store site */
    struct {
        uint64_t blocks, selfloops, bytes, helpers, flushes, patched, jc_fills, jc_forgets;
    } stats;
};

/* Translation of one block, given to the back end. */
struct jit_block_in {
    const struct block *b;
    unsigned page_off; /* offset of the block's first byte in its 4 KiB page */
    uint32_t bits[65]; /* each instruction's encoding (illegal-instruction tval) */
    int8_t rank[32];   /* guest x registers by uses in the block, most first;
                          -1 ends the list (x0 never appears) */
    bool selfloop;     /* the block ends with a branch or jal to its own start */
};

/* Emit the shared routines at j->rw[j->used...]; sets j->enter, exit_lookup,
 * lookup, advances j->used. False if they do not fit. */
bool be_routines(struct jit *j);
/* Translate a block at j->rw[j->used...]; returns its RX entry and advances
 * j->used, or NULL if the cache is full. */
void *be_translate(struct jit *j, const struct jit_block_in *in);
/* Point the direct jump at `site` (RX) to `target` (RX). */
void be_patch(struct jit *j, uint8_t *site, const void *target);
/* A block's entry past its event and budget checks (for forward jumps: a
 * chain of those is bounded, every loop has a backward jump, which checks). */
void *be_fast_entry(void *code);

/* RW address of an RX address in the cache. */
static inline uint8_t *jit_rw(const struct jit *j, const void *rx)
{
    return j->rw + ((const uint8_t *)rx - j->rx);
}

#endif
