/*
 * bench.h: the little runtime every benchmark program in bench/programs shares.
 *
 * Contract of a program:  NAME [-t THREADS] [-s SCALE]
 *   The work is cut into a fixed number of chunks (BENCH_CHUNKS). SCALE sets how
 *   much work one chunk does; THREADS only sets how many POSIX threads take chunks
 *   from a shared counter. Each chunk returns a 64-bit result; the results are
 *   combined in chunk order after all threads finished, so the printed checksum
 *   depends on SCALE but never on THREADS (nor on the machine: the harness
 *   compares the guest's line with the native run's).
 *   Output: exactly one line "checksum <16 hex digits> <extra>" on stdout.
 *
 * Everything is deterministic: data comes from a seeded xorshift generator, and
 * floating-point code is compiled with -ffp-contract=off so that no fused
 * multiply-add changes the rounding between x86-64 and riscv64.
 */
#ifndef BENCH_H
#define BENCH_H

#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BENCH_CHUNKS 16

/* Provided by each program: one chunk of work; `scale` as given by -s. */
static uint64_t bench_chunk(int chunk, long scale);
/* Shared setup before the threads start (may do nothing). */
static void bench_setup(long scale);
/* Extra text after the checksum (e.g. a human-readable value), may be "". */
static void bench_extra(const uint64_t *results, char *buf, size_t len);

/* xorshift64*: small, fast, and the same sequence on every machine. */
static inline uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static inline uint64_t rng_seed(uint64_t n)
{
    /* splitmix64 of n: distinct, non-zero seeds for nearby n */
    uint64_t z = n + 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return z ? z : 1;
}

/* Order-dependent combination of the chunk results. */
static inline uint64_t mix64(uint64_t h, uint64_t v)
{
    h ^= v + 0x9E3779B97F4A7C15ULL + (h << 6) + (h >> 2);
    return h * 0xFF51AFD7ED558CCDULL;
}

static struct {
    long scale;
    int next; /* next chunk to take; guarded by lock */
    pthread_mutex_t lock;
    uint64_t results[BENCH_CHUNKS];
} bench_state = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void *bench_worker(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&bench_state.lock);
        int c = bench_state.next++;
        pthread_mutex_unlock(&bench_state.lock);
        if (c >= BENCH_CHUNKS) break;
        bench_state.results[c] = bench_chunk(c, bench_state.scale);
    }
    return NULL;
}

static void bench_usage(const char *argv0)
{
    fprintf(stderr, "usage: %s [-t THREADS] [-s SCALE]\n", argv0);
    exit(2);
}

int main(int argc, char **argv)
{
    long threads = 1, scale = 1;
    int opt;
    while ((opt = getopt(argc, argv, "t:s:")) != -1) {
        char *end;
        switch (opt) {
        case 't':
            threads = strtol(optarg, &end, 10);
            if (*end || threads < 1 || threads > 64) bench_usage(argv[0]);
            break;
        case 's':
            scale = strtol(optarg, &end, 10);
            if (*end || scale < 1) bench_usage(argv[0]);
            break;
        default: bench_usage(argv[0]);
        }
    }
    if (optind != argc) bench_usage(argv[0]);

    bench_state.scale = scale;
    bench_setup(scale);
    pthread_t tid[64];
    for (long i = 1; i < threads; i++) {
        if (pthread_create(&tid[i], NULL, bench_worker, NULL) != 0) {
            perror("pthread_create");
            return 1;
        }
    }
    bench_worker(NULL); /* the main thread is worker 0 */
    for (long i = 1; i < threads; i++)
        pthread_join(tid[i], NULL);

    uint64_t h = 0;
    for (int c = 0; c < BENCH_CHUNKS; c++)
        h = mix64(h, bench_state.results[c]);
    char extra[128] = "";
    bench_extra(bench_state.results, extra, sizeof(extra));
    printf("checksum %016" PRIx64 "%s%s\n", h, extra[0] ? " " : "", extra);
    return 0;
}

#endif
