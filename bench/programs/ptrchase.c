/*
 * ptrchase: memory latency and TLB reach. A 64 MiB array of 8 Mi next-indices
 * forms one random cycle (Sattolo's algorithm); each chunk follows it from its own
 * starting point for SCALE * 256 Ki dependent loads. 64 MiB is far beyond any TLB
 * (guest or host), so nearly every load is a TLB miss and a cache miss.
 * The setup (building the cycle: 8 Mi random swaps) runs on one thread and is
 * part of the measured time.
 */
#include "bench.h"

#define ENTRIES (8u * 1024 * 1024) /* x 8 bytes = 64 MiB */

static uint64_t *next;

static void bench_setup(long scale)
{
    (void)scale;
    next = malloc(sizeof(*next) * ENTRIES);
    if (!next) {
        perror("malloc");
        exit(1);
    }
    for (uint64_t i = 0; i < ENTRIES; i++)
        next[i] = i;
    /* Sattolo: a uniformly random single cycle through all entries. */
    uint64_t s = rng_seed(42);
    for (uint64_t i = ENTRIES - 1; i > 0; i--) {
        uint64_t j = rng_next(&s) % i;
        uint64_t t = next[i];
        next[i] = next[j];
        next[j] = t;
    }
}

static uint64_t bench_chunk(int chunk, long scale)
{
    uint64_t p = (uint64_t)chunk * (ENTRIES / BENCH_CHUNKS), sum = 0;
    for (long i = 0; i < scale * 256 * 1024; i++) {
        p = next[p];
        sum += p;
    }
    return sum ^ (p << 40);
}

static void bench_extra(const uint64_t *results, char *buf, size_t len)
{
    (void)results;
    (void)buf;
    (void)len;
}
