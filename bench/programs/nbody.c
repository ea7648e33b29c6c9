/*
 * nbody: double-precision floating point (add, mul, div, sqrt), the classic
 * five-body planetary simulation. Each chunk simulates its own system (initial
 * velocities nudged by the chunk number) for SCALE * 20000 steps and returns the
 * bits of its final energy. Compiled with -ffp-contract=off: no fused
 * multiply-adds, so the result is bit-identical on x86-64 and riscv64.
 */
#include "bench.h"
#include <math.h>

#define PI            3.141592653589793
#define SOLAR_MASS    (4 * PI * PI)
#define DAYS_PER_YEAR 365.24
#define NBODIES       5

struct body {
    double x[3], v[3], mass;
};

static const struct body initial[NBODIES] = {
    {{0, 0, 0}, {0, 0, 0}, SOLAR_MASS},
    {{4.84143144246472090e+00, -1.16032004402742839e+00, -1.03622044471123109e-01},
     {1.66007664274403694e-03 * DAYS_PER_YEAR, 7.69901118419740425e-03 * DAYS_PER_YEAR,
      -6.90460016972063023e-05 * DAYS_PER_YEAR},
     9.54791938424326609e-04 * SOLAR_MASS},
    {{8.34336671824457987e+00, 4.12479856412430479e+00, -4.03523417114321381e-01},
     {-2.76742510726862411e-03 * DAYS_PER_YEAR, 4.99852801234917238e-03 * DAYS_PER_YEAR,
      2.30417297573763929e-05 * DAYS_PER_YEAR},
     2.85885980666130812e-04 * SOLAR_MASS},
    {{1.28943695621391310e+01, -1.51111514016986312e+01, -2.23307578892655734e-01},
     {2.96460137564761618e-03 * DAYS_PER_YEAR, 2.37847173959480950e-03 * DAYS_PER_YEAR,
      -2.96589568540237556e-05 * DAYS_PER_YEAR},
     4.36624404335156298e-05 * SOLAR_MASS},
    {{1.53796971148509165e+01, -2.59193146099879641e+01, 1.79258772950371181e-01},
     {2.68067772490389322e-03 * DAYS_PER_YEAR, 1.62824170038242295e-03 * DAYS_PER_YEAR,
      -9.51592254519715870e-05 * DAYS_PER_YEAR},
     5.15138902046611451e-05 * SOLAR_MASS},
};

static void advance(struct body *b, double dt)
{
    for (int i = 0; i < NBODIES; i++) {
        for (int j = i + 1; j < NBODIES; j++) {
            double d[3];
            for (int k = 0; k < 3; k++)
                d[k] = b[i].x[k] - b[j].x[k];
            double d2 = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
            double mag = dt / (d2 * sqrt(d2));
            for (int k = 0; k < 3; k++) {
                b[i].v[k] -= d[k] * b[j].mass * mag;
                b[j].v[k] += d[k] * b[i].mass * mag;
            }
        }
    }
    for (int i = 0; i < NBODIES; i++)
        for (int k = 0; k < 3; k++)
            b[i].x[k] += dt * b[i].v[k];
}

static double energy(const struct body *b)
{
    double e = 0;
    for (int i = 0; i < NBODIES; i++) {
        e += 0.5 * b[i].mass *
             (b[i].v[0] * b[i].v[0] + b[i].v[1] * b[i].v[1] + b[i].v[2] * b[i].v[2]);
        for (int j = i + 1; j < NBODIES; j++) {
            double d[3];
            for (int k = 0; k < 3; k++)
                d[k] = b[i].x[k] - b[j].x[k];
            e -= b[i].mass * b[j].mass / sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
        }
    }
    return e;
}

static void bench_setup(long scale)
{
    (void)scale;
}

static uint64_t bench_chunk(int chunk, long scale)
{
    struct body b[NBODIES];
    memcpy(b, initial, sizeof(b));
    b[1].v[0] *= 1.0 + chunk * 1e-3;
    /* offset the sun's momentum so the system's centre of mass stays put */
    for (int i = 1; i < NBODIES; i++)
        for (int k = 0; k < 3; k++)
            b[0].v[k] -= b[i].v[k] * b[i].mass / SOLAR_MASS;
    for (long step = 0; step < scale * 20000; step++)
        advance(b, 0.01);
    double e = energy(b);
    uint64_t bits;
    memcpy(&bits, &e, sizeof(bits));
    return bits;
}

static void bench_extra(const uint64_t *results, char *buf, size_t len)
{
    double e;
    memcpy(&e, &results[0], sizeof(e));
    snprintf(buf, len, "energy0=%.12f", e);
}
