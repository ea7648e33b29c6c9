/*
 * branchy: unpredictable control flow. Each chunk runs
 *   1. a tiny register-machine interpreter (switch dispatch: an indirect jump per
 *      bytecode) executing a Collatz step counter, whose odd/even branch depends
 *      on the data, over SCALE * 1000 starting values;
 *   2. a hand-written quicksort of SCALE arrays of 8192 random 32-bit keys
 *      (every comparison is a coin flip for the branch predictor).
 */
#include "bench.h"

enum op { MOV, ADDI, SHR1, AND1, MUL3P1, JZ, JGE, JMP, HALT };

struct insn {
    uint8_t op, a, b;
    int32_t imm; /* immediate or jump target */
};

/* r0 = first n, r5 = end n, r6 = total steps; r1 = current value. */
static const struct insn collatz[] = {
    /* 0  loop_n: */ {JGE, 0, 5, 13}, /* n >= end: done */
    /* 1          */ {MOV, 1, 0, 0},
    /* 2  loop_c: */ {ADDI, 3, 1, -1},
    /* 3          */ {JZ, 3, 0, 11}, /* value == 1: next n */
    /* 4          */ {AND1, 2, 1, 0},
    /* 5          */ {JZ, 2, 0, 8},
    /* 6          */ {MUL3P1, 1, 1, 0}, /* odd */
    /* 7          */ {JMP, 0, 0, 9},
    /* 8  even:   */ {SHR1, 1, 1, 0},
    /* 9          */ {ADDI, 6, 6, 1}, /* one more step */
    /* 10         */ {JMP, 0, 0, 2},
    /* 11 next:   */ {ADDI, 0, 0, 1},
    /* 12         */ {JMP, 0, 0, 0},
    /* 13 end:    */ {HALT, 0, 0, 0},
};

static uint64_t interpret(const struct insn *code, uint64_t r[8])
{
    uint64_t executed = 0;
    for (int pc = 0;;) {
        const struct insn *i = &code[pc++];
        executed++;
        switch (i->op) {
        case MOV: r[i->a] = r[i->b]; break;
        case ADDI: r[i->a] = r[i->b] + (int64_t)i->imm; break;
        case SHR1: r[i->a] = r[i->b] >> 1; break;
        case AND1: r[i->a] = r[i->b] & 1; break;
        case MUL3P1: r[i->a] = r[i->b] * 3 + 1; break;
        case JZ:
            if (r[i->a] == 0) pc = i->imm;
            break;
        case JGE:
            if (r[i->a] >= r[i->b]) pc = i->imm;
            break;
        case JMP: pc = i->imm; break;
        case HALT: return executed;
        default: abort();
        }
    }
}

static void sort_keys(uint32_t *a, long n)
{
    while (n > 16) {
        uint32_t pivot = a[n / 2];
        long i = -1, j = n;
        for (;;) {
            do
                i++;
            while (a[i] < pivot);
            do
                j--;
            while (a[j] > pivot);
            if (i >= j) break;
            uint32_t t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
        /* recurse into the smaller half, loop on the larger one */
        if (j + 1 < n - j - 1) {
            sort_keys(a, j + 1);
            a += j + 1;
            n -= j + 1;
        } else {
            sort_keys(a + j + 1, n - j - 1);
            n = j + 1;
        }
    }
    for (long i = 1; i < n; i++) {
        uint32_t v = a[i];
        long k = i;
        for (; k > 0 && a[k - 1] > v; k--)
            a[k] = a[k - 1];
        a[k] = v;
    }
}

static void bench_setup(long scale)
{
    (void)scale;
}

#define SORT_N 8192

static uint64_t bench_chunk(int chunk, long scale)
{
    uint64_t span = (uint64_t)scale * 1000;
    uint64_t r[8] = {0};
    r[0] = 1 + (uint64_t)chunk * span;
    r[5] = r[0] + span;
    uint64_t executed = interpret(collatz, r);
    uint64_t h = mix64(r[6], executed);

    static _Thread_local uint32_t keys[SORT_N];
    uint64_t s = rng_seed(1000 + chunk);
    for (long pass = 0; pass < scale; pass++) {
        for (int i = 0; i < SORT_N; i++)
            keys[i] = (uint32_t)rng_next(&s);
        sort_keys(keys, SORT_N);
        for (int i = 1; i < SORT_N; i++)
            if (keys[i - 1] > keys[i]) {
                fprintf(stderr, "branchy: sort is wrong\n");
                exit(1);
            }
        h = mix64(h, keys[0] ^ ((uint64_t)keys[SORT_N / 2] << 32) ^ keys[SORT_N - 1]);
    }
    return h;
}

static void bench_extra(const uint64_t *results, char *buf, size_t len)
{
    (void)results;
    (void)buf;
    (void)len;
}
