/*
 * block.h - a decoded block: the unit the interpreter runs and the
 * translator translates (src/cpu/exec.c builds and caches them).
 *
 * A block is a run of instructions decoded from one guest page, ending at a
 * control transfer, a system instruction, the page end, or BLOCK_MAX
 * instructions, followed by a BLOCK_END sentinel. It is keyed by the host
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
    uint32_t n;        /* instructions, not counting the BLOCK_END sentinel */
    int32_t countdown; /* runs left before it is translated (translator on) */
    struct insn insns[];
};

#endif
