/*
 * block.h - a decoded block: the unit the interpreter runs and the
 * translator translates (src/cpu/exec.c builds and caches them).
 *
 * A block is a run of instructions decoded from one guest page, ending at a
 * control transfer, a system instruction, the page end, or BLOCK_MAX
 * instructions, followed by a BLOCK_END sentinel. One `jal x0` to another
 * place in the same page may be folded (exec.c, build_block): it becomes
 * a no-op and the run goes on at its target, so instruction offsets are
 * signed and not always increasing. It is keyed by the host
 * address of its first byte (the guest-physical location), so it survives
 * changes of the virtual mapping; nothing in it depends on the guest pc it
 * runs at (pc-relative values are computed from the pc at run time).
 */
#ifndef KUMO_CPU_BLOCK_H
#define KUMO_CPU_BLOCK_H

#include "cpu/decode.h"

#include <stdint.h>

#define BLOCK_MAX 64
#define NO_PAGE   UINT32_MAX

struct block {
    const uint8_t *host; /* host address of the first instruction (the key) */
    struct block *hash_next;
    /* Successors, filled in lazily. 0: taken branch/jump target and 1: fall
     * through, both in the same page (following one costs a generation
     * check instead of a TLB lookup and a hash probe); 2: the last target of
     * an indirect jump ending this block (checked against the fetch TLB). */
    struct block *link[3];
    void *code;        /* translated host code (RX), or NULL */
    uint32_t page;     /* RAM page index, NO_PAGE for ROM */
    uint32_t gen;      /* that page's generation when decoded */
    /* A block of one 32-bit instruction whose second half is on the next
     * page also depends on that page: where it was (host address of the
     * second half) and its generation. Such a block is only entered from
     * the dispatcher, which checks both (never through a link or the jump
     * cache, which know the first page only). */
    const uint8_t *host2; /* NULL for every other block */
    uint32_t page2, gen2;
    uint8_t bytes[4]; /* the instruction (both halves) */
    bool whole;       /* decoded where the whole page could be fetched */
    uint32_t n;        /* instructions, not counting the BLOCK_END sentinel */
    int32_t countdown; /* runs left before it is translated (translator on) */
    struct insn insns[];
};

/* The encoding of instruction i of block b, as it was decoded (for an
 * illegal instruction's tval; the bytes in memory may have changed since). */
static inline uint32_t block_insn_bits(const struct block *b, const struct insn *i)
{
    (void)b;
    return i->bits;
}

#endif
