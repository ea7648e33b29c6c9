/*
 * sgemm: single-precision floating point multiply-add throughput. Each chunk
 * owns 8 rows of C (of a 128 x 128 problem) and computes C += A * B for them
 * SCALE times, in i-k-j order (the inner loop streams over a row of B). The
 * checksum is taken over the bits of C. Compiled with -ffp-contract=off, so the
 * products and sums round exactly as written on every machine.
 */
#include "bench.h"

#define N    128
#define ROWS (N / BENCH_CHUNKS)

static float A[N][N], B[N][N];

static void bench_setup(long scale)
{
    (void)scale;
    uint64_t s = rng_seed(3000);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            /* small exact binary fractions in [-0.5, 0.5) */
            A[i][j] = (float)((int)(rng_next(&s) % 1024) - 512) / 1024.0f;
            B[i][j] = (float)((int)(rng_next(&s) % 1024) - 512) / 1024.0f;
        }
}

static uint64_t bench_chunk(int chunk, long scale)
{
    float C[ROWS][N];
    memset(C, 0, sizeof(C));
    for (long pass = 0; pass < scale; pass++) {
        float f = 1.0f / (float)(pass + 1);
        for (int i = 0; i < ROWS; i++) {
            const float *a = A[chunk * ROWS + i];
            for (int k = 0; k < N; k++) {
                float aik = a[k] * f;
                for (int j = 0; j < N; j++)
                    C[i][j] += aik * B[k][j];
            }
        }
    }
    uint64_t h = 0;
    for (int i = 0; i < ROWS; i++)
        for (int j = 0; j < N; j++) {
            uint32_t bits;
            memcpy(&bits, &C[i][j], sizeof(bits));
            h = mix64(h, bits);
        }
    return h;
}

static void bench_extra(const uint64_t *results, char *buf, size_t len)
{
    (void)results;
    (void)buf;
    (void)len;
}
