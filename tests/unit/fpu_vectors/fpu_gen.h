/*
 * fpu_gen.h - pseudo-random FPU operands, shared by gen.c (vectors from the
 * real instructions under QEMU) and tests/unit/test_fpu.c (host fast path
 * against software path).  Plain integer C: no libc, no floating point.
 *
 * The mix: special values (zeros, infinities, quiet and signaling NaNs,
 * subnormal and normal limits, 1 +- ulp, integer-conversion limits 2^24, 2^31,
 * 2^32, 2^53, 2^63, 2^64 and their neighbours, half-integers), random bits,
 * exponents near the underflow and overflow thresholds, fractions with
 * structured low bits (rounding ties), second operands built from the first
 * (equal, negated, a few ulps away, half an ulp, product/quotient near the
 * limits) and addends built from the product (cancellation, ties after the
 * fused add).
 *
 * Call fpu_gen_seed() and set fpu_gen_mul32/64 before fpu_gen_operands().
 */
#ifndef KUMO_TEST_FPU_GEN_H
#define KUMO_TEST_FPU_GEN_H

#include <stdint.h>

#include "fpu_ops.h"

static uint64_t rng;

static void fpu_gen_seed(uint64_t seed)
{
    rng = seed;
}

static uint64_t rnd(void) /* splitmix64 */
{
    uint64_t z = (rng += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static int rndn(int n)
{
    return (int)(rnd() % (uint64_t)n);
}

struct fd {
    int p, eb; /* precision (hidden bit included), exponent bits */
};
static const struct fd FD32 = {24, 8}, FD64 = {53, 11};

#define FB(F)    ((F)->p - 1)
#define BIAS(F)  ((1 << ((F)->eb - 1)) - 1)
#define EMAXF(F) ((1 << (F)->eb) - 2) /* largest finite biased exponent */
#define SBIT(F)  (UINT64_C(1) << ((F)->p - 1 + (F)->eb))
#define FMASK(F) ((UINT64_C(1) << FB(F)) - 1)
#define WMASK(F) (SBIT(F) | (SBIT(F) - 1))

/* Biased exponent clamped to the finite range (0 = zero/subnormal). */
static uint64_t mk(const struct fd *F, uint64_t sign, int64_t ef, uint64_t frac)
{
    if (ef < 0) ef = 0;
    if (ef > EMAXF(F)) ef = EMAXF(F);
    return (sign ? SBIT(F) : 0) | ((uint64_t)ef << FB(F)) | (frac & FMASK(F));
}

static int64_t expf_of(const struct fd *F, uint64_t a)
{
    return (int64_t)((a >> FB(F)) & (uint64_t)(EMAXF(F) + 1));
}

static uint64_t pattern(const struct fd *F) /* structured fractions */
{
    int fb = FB(F);
    uint64_t fm = FMASK(F), r = rnd();
    switch (rndn(10)) {
    case 0: return 0;
    case 1: return 1;
    case 2: return fm;
    case 3: return fm - 1;
    case 4: return UINT64_C(1) << (fb - 1);
    case 5: return (UINT64_C(1) << (fb - 1)) | 1;
    case 6: return r & fm & ~((UINT64_C(1) << rndn(fb)) - 1);
    case 7: return (r | ((UINT64_C(1) << rndn(fb)) - 1)) & fm;
    case 8: return (UINT64_C(1) << rndn(fb)) | (UINT64_C(1) << rndn(fb));
    default: return r & fm;
    }
}

static uint64_t special(const struct fd *F)
{
    int fb = FB(F), bias = BIAS(F), emf = EMAXF(F);
    uint64_t s = rnd() & 1, fm = FMASK(F), inf = (uint64_t)(emf + 1) << fb;
    static const int pow2[] = {31, 32, 63, 64, 24, 53};
    int k = pow2[rndn(6)];
    switch (rndn(24)) {
    case 0: return mk(F, s, 0, 0);
    case 1: return (s ? SBIT(F) : 0) | inf;
    case 2: return inf | (UINT64_C(1) << (fb - 1)); /* canonical NaN */
    case 3: return (s ? SBIT(F) : 0) | inf | (UINT64_C(1) << (fb - 1)) | (rnd() & fm);
    case 4: return (s ? SBIT(F) : 0) | inf | ((rnd() & (fm >> 1)) | 1); /* sNaN */
    case 5: return mk(F, s, 0, 1);
    case 6: return mk(F, s, 0, fm);
    case 7: return mk(F, s, 1, 0);
    case 8: return mk(F, s, emf, fm);
    case 9: return mk(F, s, bias, 0);                            /* 1 */
    case 10: return mk(F, s, bias, 1);                           /* 1 + ulp */
    case 11: return mk(F, s, bias - 1, fm);                      /* 1 - ulp/2 */
    case 12: return mk(F, s, bias - 1, 0);                       /* 0.5 */
    case 13: return mk(F, s, bias, UINT64_C(1) << (fb - 1));     /* 1.5 */
    case 14: return mk(F, s, bias + 1, UINT64_C(1) << (fb - 2)); /* 2.5 */
    case 15: return mk(F, s, bias + k, 0);                       /* 2^k */
    case 16: return mk(F, s, bias + k - 1, fm);                  /* just below 2^k */
    case 17: return mk(F, s, bias + k, 1);                       /* just above 2^k */
    case 18: return mk(F, s, bias - 2, 0);                       /* 0.25 */
    case 19: return mk(F, s, bias - 1, UINT64_C(1) << (fb - 1)); /* 0.75 */
    case 20:
        return mk(F, s, bias + k - 1,
                  fm & ~((UINT64_C(1) << (fb > k ? fb - k : 0)) - 1)); /* 2^k - 1/2 */
    case 21: return mk(F, s, bias + rndn(8), pattern(F));              /* small numbers */
    case 22: return mk(F, 1, bias + rndn(3) - 1, 0);                   /* -0.5, -1, -2 */
    default:                                                           /* 2^k - 1 */
        return mk(F, s, bias + k - 1, fm & ~((UINT64_C(1) << (fb > k - 1 ? fb - k + 1 : 0)) - 1));
    }
}

static uint64_t rnd_float(const struct fd *F)
{
    int fb = FB(F), bias = BIAS(F), emf = EMAXF(F);
    uint64_t s = rnd() & 1, fm = FMASK(F);
    switch (rndn(13)) {
    case 0:
    case 1: return special(F);
    case 2: return rnd() & WMASK(F);
    case 3: return mk(F, s, bias + rndn(80) - 16, rnd());
    case 4: return mk(F, s, bias + rndn(9) - 4, rnd());
    case 5: return mk(F, s, rndn(4), rnd());
    case 6: return mk(F, s, emf - rndn(4), rnd());
    case 7: { /* multiples of 1/2 in [2^(n-1), 2^n) */
        int n = rndn(67);
        uint64_t fr = rnd() & fm;
        if (n < fb) fr &= ~((UINT64_C(1) << (fb - n)) - 1);
        return mk(F, s, bias + n - 1, fr);
    }
    case 8: return mk(F, s, bias + rndn(280) - 140, pattern(F));
    case 9: return mk(F, s, 1 + rndn(emf), rnd());
    case 10: return mk(F, s, rndn(3 * F->p + 10), rnd()); /* low exponents */
    default: return mk(F, s, rndn(emf + 1), pattern(F));
    }
}

/* Second operand of a binary op, often built from the first. */
static uint64_t related(const struct fd *F, uint64_t a)
{
    int bias = BIAS(F), emin = 1 - bias;
    int64_t ea = expf_of(F, a) - bias;
    uint64_t s = rnd() & 1;
    switch (rndn(12)) {
    case 0: return a;
    case 1: return a ^ SBIT(F);
    case 2: { /* a few ulps away: cancellation */
        uint64_t d = (uint64_t)rndn(5), x = (rnd() & 1) ? a + d : a - d;
        return (x ^ ((rnd() & 1) ? SBIT(F) : 0)) & WMASK(F);
    }
    case 3: /* around half an ulp of a: rounding ties in add/sub */
        return mk(F, s, expf_of(F, a) - F->p + rndn(4) - 1, pattern(F));
    case 4: /* a*b or a/b near the overflow threshold */
        if (rnd() & 1) return mk(F, s, (bias - ea) + bias + rndn(4) - 2, pattern(F));
        return mk(F, s, (ea - bias) + bias + rndn(4) - 2, pattern(F));
    case 5: /* a*b or a/b near or below the underflow threshold */
        if (rnd() & 1) return mk(F, s, (emin - ea - rndn(F->p + 3)) + bias, rnd());
        return mk(F, s, (ea - emin + rndn(F->p + 3)) + bias, rnd());
    case 6: /* same binade */ return mk(F, s, expf_of(F, a), pattern(F));
    case 7: { /* a*b or a/b anywhere in the low range of exponents */
        int t = emin - F->p - 5 + rndn(4 * F->p + 15);
        if (rnd() & 1) return mk(F, s, (t - ea) + bias, rnd());
        return mk(F, s, (ea - t) + bias, rnd());
    }
    default: return rnd_float(F);
    }
}

static uint64_t addend(const struct fd *F, fpu_op_fn mul, uint64_t a, uint64_t b)
{
    uint32_t fl;
    uint64_t p = mul(a, b, 0, rndn(5), &fl);
    uint64_t s = rnd() & 1;
    switch (rndn(9)) {
    case 0:
    case 1: /* c ~ -(a*b): massive cancellation */
    {
        uint64_t d = (uint64_t)rndn(4);
        p ^= SBIT(F);
        return ((rnd() & 1) ? p + d : p - d) & WMASK(F);
    }
    case 2: /* c ~ half an ulp of a*b: ties after the fused add */
        return mk(F, s, expf_of(F, p) - F->p + rndn(5) - 2, pattern(F));
    case 3: return mk(F, s, expf_of(F, p) + rndn(120) - 60, rnd());
    case 4: return p;
    default: return rnd_float(F);
    }
}

static uint64_t sqrt_operand(const struct fd *F, fpu_op_fn mul)
{
    int fb = FB(F), bias = BIAS(F);
    uint32_t fl;
    if (rndn(3) == 0) {
        /* x with few enough bits that x*x is exact, +- an ulp */
        uint64_t x = mk(F, 0, bias + rndn(200) - 100,
                        rnd() & FMASK(F) & ~((UINT64_C(1) << (fb - F->p / 2 + 1)) - 1));
        uint64_t sq = mul(x, x, 0, 0, &fl);
        return (sq + (uint64_t)rndn(3) - 1) & WMASK(F);
    }
    return rnd_float(F);
}

/* binary64 values aimed at the binary32 range, with ties around bit 29. */
static uint64_t narrow_operand(void)
{
    static const uint64_t low[] = {0, UINT64_C(1) << 28, (UINT64_C(1) << 28) - 1,
                                   (UINT64_C(1) << 28) + 1, UINT64_C(1) << 29};
    if (rndn(3) == 0) return rnd_float(&FD64);
    uint64_t fr = (rnd() & ~((UINT64_C(1) << 29) - 1)) | low[rndn(5)];
    if (rnd() & 1) fr = rnd(); /* random low bits */
    return mk(&FD64, rnd() & 1, 1023 + rndn(290) - 160, fr);
}

static uint64_t rnd_int(int ty, int p)
{
    int is64 = fpu_ty_is64(ty), sgn = ty == FPU_TY_I32 || ty == FPU_TY_I64;
    int w = is64 ? 64 : 32;
    uint64_t v;
    switch (rndn(7)) {
    case 0: {
        static const uint64_t sp[] = {0,
                                      1,
                                      UINT64_MAX,
                                      UINT64_C(0x7fffffff),
                                      UINT64_C(0xffffffff80000000),
                                      UINT64_C(0x80000000),
                                      UINT64_C(0xffffffff),
                                      UINT64_C(0x7fffffffffffffff),
                                      UINT64_C(0x8000000000000000),
                                      (UINT64_C(1) << 24) + 1,
                                      (UINT64_C(1) << 24) - 1,
                                      (UINT64_C(1) << 53) + 1,
                                      (UINT64_C(1) << 53) - 1,
                                      UINT64_C(3) << 62};
        v = sp[rndn(14)];
        break;
    }
    case 1: v = rnd(); break;
    case 2: v = rnd() >> rndn(64); break;
    case 3: /* exactly halfway between two floats: p+1 significant bits, last one set */
        if (p >= w) {
            v = rnd();
            break;
        }
        v = ((rnd() | 1 | (UINT64_C(1) << p)) & ((UINT64_C(1) << (p + 1)) - 1)) << rndn(w - p);
        break;
    case 4: { /* p+1..p+3 significant bits */
        int k = p + 1 + rndn(3);
        if (k > w) k = w;
        v = ((rnd() & ((UINT64_C(1) << k) - 1)) | (UINT64_C(1) << (k - 1))) << rndn(w + 1 - k);
        break;
    }
    case 5: v = ((rnd() >> rndn(64)) | 1) << rndn(32); break;
    default: v = (uint64_t)rndn(2001) - 1000; break;
    }
    if (sgn && (rnd() & 1)) v = 0 - v;
    if (!is64) {
        v &= UINT64_C(0xffffffff);
        if (rndn(4) == 0) v >>= rndn(32);
    }
    return v;
}

/* Multiplications used to build addends and squares (set by the user). */
static fpu_op_fn fpu_gen_mul32, fpu_gen_mul64;

/* Operands for one vector of an op of this kind and types. */
static void fpu_gen_operands(int kind, int in, int out, uint64_t v[3])
{
    const struct fd *F = in == FPU_TY_F64 ? &FD64 : &FD32;
    fpu_op_fn mul = in == FPU_TY_F64 ? fpu_gen_mul64 : fpu_gen_mul32;
    v[0] = v[1] = v[2] = 0;
    switch (kind) {
    case FPU_K_I2F:
    case FPU_K_I2X: v[0] = rnd_int(in, out == FPU_TY_F64 ? 53 : 24); return;
    case FPU_K_FF1:
        if (out != in)
            v[0] = narrow_operand();
        else
            v[0] = sqrt_operand(F, mul);
        return;
    case FPU_K_F2I: v[0] = rnd_float(F); return;
    case FPU_K_FF3:
        v[0] = rnd_float(F);
        v[1] = (rnd() & 1) ? rnd_float(F) : related(F, v[0]);
        v[2] = addend(F, mul, v[0], v[1]);
        return;
    default:
        v[0] = rnd_float(F);
        v[1] = related(F, v[0]);
        return;
    }
}

#endif /* KUMO_TEST_FPU_GEN_H */
