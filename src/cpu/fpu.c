/*
 * fpu.c - RISC-V F/D floating-point arithmetic, bit-exact (contract in fpu.h).
 *
 * Three parts:
 *   1. a portable software implementation.  Both formats share one code path:
 *      an operand is unpacked into sign, exponent and a 64-bit significand
 *      with its leading one at bit 63; the operation is done exactly in 64- or
 *      128-bit integers, keeping a "sticky" bit for anything shifted out; then
 *      round_pack() rounds once, in any of the five modes, and raises the flags.
 *   2. x86-64 host fast paths for add, sub, mul, div, sqrt and the FMAs in
 *      RNE/RTZ/RDN/RUP; each gives the software path's bits and
 *      flags or hands the case over to it (the comment there says why).
 *   3. the public entry points, which pick a path.
 *
 * Tests: tests/unit/test_fpu.c checks both paths against hand-written vectors,
 * against vectors from QEMU's RISC-V FPU (tests/unit/fpu_vectors/) and against
 * each other.
 */
#include "fpu.h"

#include <stdbool.h>

#ifndef __SIZEOF_INT128__
#error "fpu.c needs unsigned __int128 (every 64-bit gcc/clang target has it)"
#endif
__extension__ typedef unsigned __int128 u128;

/* x86-64 code (host fast paths, the square-root guess), unless the build asks
 * for the portable code only. */
#if defined(__x86_64__) && !defined(KUMO_FPU_SOFT_ONLY)
#define HOST_X86 1
#endif

/* ------------------------------------------------------------------------ */
/* Part 1: software implementation                                          */
/* ------------------------------------------------------------------------ */

/* A binary interchange format.  emin = 1 - bias, emax = bias. */
struct fmt {
    int p;         /* precision in bits, hidden bit included: 24 or 53 */
    int bias;      /* 127 or 1023 */
    int sbit;      /* position of the sign bit: 31 or 63 */
    uint64_t cnan; /* RISC-V canonical NaN */
};

static const struct fmt FMT32 = {24, 127, 31, F32_CANONICAL_NAN};
static const struct fmt FMT64 = {53, 1023, 63, F64_CANONICAL_NAN};

enum { C_ZERO, C_FIN, C_INF, C_QNAN, C_SNAN };

/* An unpacked operand.  For C_FIN: value = (-1)^sign * sig * 2^(exp - 63),
 * with bit 63 of sig set (subnormal inputs are normalised too). */
struct unp {
    int cls;
    int sign;
    int32_t exp;
    uint64_t sig;
};

static inline int clz64(uint64_t x)
{
    return __builtin_clzll(x); /* x != 0 at every call site */
}

static inline int clz128(u128 x)
{
    uint64_t hi = (uint64_t)(x >> 64);
    return hi ? clz64(hi) : 64 + clz64((uint64_t)x);
}

/* x >> n, with any 1 bit shifted out ORed into bit 0 ("jamming"). */
static inline uint64_t shr_jam64(uint64_t x, int32_t n)
{
    if (n <= 0) return x;
    if (n >= 64) return x != 0;
    return (x >> n) | ((x << (64 - n)) != 0);
}

static inline u128 shr_jam128(u128 x, int32_t n)
{
    if (n <= 0) return x;
    if (n >= 128) return x != 0;
    return (x >> n) | ((x << (128 - n)) != 0);
}

static inline uint32_t emask_of(const struct fmt *f)
{
    return (uint32_t)(2 * f->bias + 1);
}

static inline uint64_t pack_zero(int sign, const struct fmt *f)
{
    return (uint64_t)sign << f->sbit;
}

static inline uint64_t pack_inf(int sign, const struct fmt *f)
{
    return ((uint64_t)sign << f->sbit) | ((uint64_t)emask_of(f) << (f->p - 1));
}

static inline struct unp unpack(uint64_t x, const struct fmt *f)
{
    const int fb = f->p - 1; /* stored fraction bits */
    const uint32_t emask = emask_of(f);
    const uint32_t be = (uint32_t)(x >> fb) & emask;
    const uint64_t frac = x & ((UINT64_C(1) << fb) - 1);
    struct unp u = {C_FIN, (int)(x >> f->sbit) & 1, 0, 0};

    if (be == emask) {
        u.cls = !frac ? C_INF : (frac >> (fb - 1)) ? C_QNAN : C_SNAN;
    } else if (be == 0) {
        if (!frac) {
            u.cls = C_ZERO;
        } else {
            int lz = clz64(frac);
            u.sig = frac << lz;
            u.exp = (1 - f->bias) - fb + 63 - lz;
        }
    } else {
        u.sig = (frac | (UINT64_C(1) << fb)) << (63 - fb);
        u.exp = (int32_t)be - f->bias;
    }
    return u;
}

/* Should the kept magnitude k be incremented, given the discarded bits r
 * (half = the weight of the first discarded bit)? */
static inline bool round_up(uint64_t k, uint64_t r, uint64_t half, int sign, int rm)
{
    switch (rm) {
    case FPU_RTZ: return false;
    case FPU_RDN: return r != 0 && sign;
    case FPU_RUP: return r != 0 && !sign;
    case FPU_RMM: return r >= half;
    default: return r > half || (r == half && (k & 1));
    }
}

/*
 * Round (-1)^sign * sig * 2^(exp - 63) to format f, raise flags, pack.
 * sig must have bit 63 set; its bit 0 may be a sticky bit standing for
 * "something nonzero below".
 */
static uint64_t round_pack(int sign, int32_t exp, uint64_t sig, const struct fmt *f, int rm,
                           uint32_t *flags)
{
    const int rb = 64 - f->p; /* bits below the rounding point: 40 or 11 */
    const uint64_t rmask = (UINT64_C(1) << rb) - 1, half = UINT64_C(1) << (rb - 1);
    const int32_t emin = 1 - f->bias, emax = f->bias;
    const uint64_t s = (uint64_t)sign << f->sbit;
    bool tiny = false;
    uint64_t k, r;

    if (exp < emin) {
        /* Tininess after rounding: tiny unless rounding to p bits with an
         * unbounded exponent carries the value up to 2^emin. */
        k = sig >> rb;
        r = sig & rmask;
        tiny = exp < emin - 1 || k != (UINT64_C(1) << f->p) - 1 || !round_up(k, r, half, sign, rm);
        sig = shr_jam64(sig, emin - exp);
        exp = emin;
    }
    k = sig >> rb;
    r = sig & rmask;
    if (r) {
        *flags |= tiny ? (FPU_NX | FPU_UF) : FPU_NX;
        if (round_up(k, r, half, sign, rm)) k++;
    }
    /* k is now in [2^(p-1), 2^p] for a normal result, in [0, 2^(p-1)] for a
     * subnormal one.  k == 2^p and k == 2^(p-1) from a subnormal carry into
     * the exponent field by themselves in the addition below. */
    if (exp > emax || (exp == emax && (k >> f->p))) {
        bool to_inf;
        *flags |= FPU_OF | FPU_NX;
        switch (rm) {
        case FPU_RTZ: to_inf = false; break;
        case FPU_RDN: to_inf = sign; break;
        case FPU_RUP: to_inf = !sign; break;
        default: to_inf = true; break;
        }
        return to_inf ? pack_inf(sign, f) : pack_inf(sign, f) - 1;
    }
    return s + ((uint64_t)(uint32_t)(exp + f->bias - 1) << (f->p - 1)) + k;
}

/* NaN operand(s): raise NV for a signaling one; the result is canonical. */
static inline bool nan2(const struct unp *x, const struct unp *y, uint32_t *flags)
{
    if (x->cls < C_QNAN && y->cls < C_QNAN) return false;
    if (x->cls == C_SNAN || y->cls == C_SNAN) *flags |= FPU_NV;
    return true;
}

static inline uint64_t invalid(const struct fmt *f, uint32_t *flags)
{
    *flags |= FPU_NV;
    return f->cnan;
}

static uint64_t soft_add(uint64_t a, uint64_t b, int negb, const struct fmt *f, int rm,
                         uint32_t *flags)
{
    struct unp x = unpack(a, f), y = unpack(b, f);
    uint64_t mx, my, m;
    int32_t exp;
    int sign;

    y.sign ^= negb;
    if (nan2(&x, &y, flags)) return f->cnan;
    if (x.cls == C_INF) {
        if (y.cls == C_INF && x.sign != y.sign) return invalid(f, flags);
        return pack_inf(x.sign, f);
    }
    if (y.cls == C_INF) return pack_inf(y.sign, f);
    if (y.cls == C_ZERO) {
        if (x.cls == C_ZERO) return pack_zero(x.sign == y.sign ? x.sign : rm == FPU_RDN, f);
        return a;
    }
    if (x.cls == C_ZERO) return b ^ ((uint64_t)negb << f->sbit);

    if (x.exp < y.exp || (x.exp == y.exp && x.sig < y.sig)) {
        struct unp t = x;
        x = y;
        y = t;
    }
    /* |x| >= |y|.  One bit of headroom for the carry of an addition. */
    mx = x.sig >> 1;
    my = shr_jam64(y.sig >> 1, x.exp - y.exp);
    sign = x.sign;
    exp = x.exp + 1;
    if (x.sign == y.sign) {
        m = mx + my;
    } else {
        m = mx - my;
        if (!m) return pack_zero(rm == FPU_RDN, f);
    }
    int lz = clz64(m);
    return round_pack(sign, exp - lz, m << lz, f, rm, flags);
}

static uint64_t soft_mul(uint64_t a, uint64_t b, const struct fmt *f, int rm, uint32_t *flags)
{
    struct unp x = unpack(a, f), y = unpack(b, f);
    int sign = x.sign ^ y.sign;

    if (nan2(&x, &y, flags)) return f->cnan;
    if (x.cls == C_INF || y.cls == C_INF) {
        if (x.cls == C_ZERO || y.cls == C_ZERO) return invalid(f, flags);
        return pack_inf(sign, f);
    }
    if (x.cls == C_ZERO || y.cls == C_ZERO) return pack_zero(sign, f);

    u128 pr = (u128)x.sig * y.sig; /* in [2^126, 2^128) */
    int32_t exp = x.exp + y.exp;
    if (pr >> 127)
        exp++;
    else
        pr <<= 1;
    uint64_t m = (uint64_t)(pr >> 64) | ((uint64_t)pr != 0);
    return round_pack(sign, exp, m, f, rm, flags);
}

static uint64_t soft_div(uint64_t a, uint64_t b, const struct fmt *f, int rm, uint32_t *flags)
{
    struct unp x = unpack(a, f), y = unpack(b, f);
    int sign = x.sign ^ y.sign;

    if (nan2(&x, &y, flags)) return f->cnan;
    if (x.cls == C_INF) {
        if (y.cls == C_INF) return invalid(f, flags);
        return pack_inf(sign, f);
    }
    if (y.cls == C_INF) return pack_zero(sign, f);
    if (y.cls == C_ZERO) {
        if (x.cls == C_ZERO) return invalid(f, flags);
        *flags |= FPU_DZ;
        return pack_inf(sign, f);
    }
    if (x.cls == C_ZERO) return pack_zero(sign, f);

    /* Quotient with its leading one at bit 63. */
    int32_t exp = x.exp - y.exp;
    u128 n;
    if (x.sig >= y.sig) {
        n = (u128)x.sig << 63;
    } else {
        n = (u128)x.sig << 64;
        exp--;
    }
    uint64_t q = (uint64_t)(n / y.sig);
    uint64_t rem = (uint64_t)(n - (u128)q * y.sig);
    return round_pack(sign, exp, q | (rem != 0), f, rm, flags);
}

/* floor(sqrt(n)) and whether it is exact, for n in [2^126, 2^128): one bit
 * per step.  Slow; the fallback of isqrt128(). */
static uint64_t isqrt128_bitwise(u128 n, bool *exact)
{
    u128 rem = 0, root = 0;
    for (int i = 0; i < 64; i++) {
        rem = (rem << 2) | (n >> 126);
        n <<= 2;
        root <<= 1;
        u128 trial = (root << 1) | 1;
        if (rem >= trial) {
            rem -= trial;
            root |= 1;
        }
    }
    *exact = rem == 0;
    return (uint64_t)root;
}

/*
 * About 2^31 * sqrt(hi / 4) (at most 2^62), for hi in [2^62, 2^64), from the
 * host's binary64 square root.  Only a first guess, good to ~2^-50:
 * isqrt128() corrects it with exact integer arithmetic whatever the host's
 * rounding mode, and falls back to the bitwise method if the guess is far
 * off.  On x86-64 it runs under the default MXCSR and leaves MXCSR at the
 * default (no sticky flags behind).
 */
static inline uint64_t sqrt_guess(uint64_t hi)
{
#ifdef HOST_X86
    static const uint32_t def = 0x1f80;
    static const double two31 = 2147483648.0;
    int64_t g;
    double d;
    __asm__ volatile("ldmxcsr %[def]\n\t"
                     "cvtsi2sdq %[h], %[d]\n\t"
                     "sqrtsd %[d], %[d]\n\t"
                     "mulsd %[s], %[d]\n\t"
                     "cvttsd2siq %[d], %[g]\n\t"
                     "ldmxcsr %[def]"
                     : [g] "=r"(g), [d] "=&x"(d)
                     : [h] "r"((int64_t)(hi >> 2)), [s] "m"(two31), [def] "m"(def));
    return (uint64_t)g;
#else
    return (uint64_t)(__builtin_sqrt((double)(hi >> 2)) * 2147483648.0);
#endif
}

/* floor(sqrt(n)) and whether it is exact, for n in [2^126, 2^128). */
static uint64_t isqrt128(u128 n, bool *exact)
{
    uint64_t g = sqrt_guess((uint64_t)(n >> 64)), r, q;
    u128 sq, d;

    /* sqrt(n) ~ 2^32 * sqrt(hi) = 4g, in [2^63, 2^64) */
    r = g >= (UINT64_C(1) << 62) ? UINT64_MAX : g << 2;
    if (r < (UINT64_C(1) << 63)) r = UINT64_C(1) << 63;
    /* One Newton step, r += (n - r^2) / 2r, with 64-bit division: the
     * difference is ~2^76 for a good guess. */
    sq = (u128)r * r;
    d = sq <= n ? n - sq : sq - n;
    if (d >> 96) return isqrt128_bitwise(n, exact);
    q = (uint64_t)(d >> 32) / (r >> 31);
    if (sq <= n) {
        r = q > UINT64_MAX - r ? UINT64_MAX : r + q; /* the root is below 2^64 */
    } else {
        r -= q; /* q < r: d < r^2 */
    }
    /* Now within a unit or two. */
    for (int i = 0; i < 4 && (u128)r * r > n; i++)
        r--;
    for (int i = 0; i < 4 && r < UINT64_MAX && (u128)(r + 1) * (r + 1) <= n; i++)
        r++;
    if ((u128)r * r > n || (r < UINT64_MAX && (u128)(r + 1) * (r + 1) <= n))
        return isqrt128_bitwise(n, exact);
    *exact = (u128)r * r == n;
    return r;
}

static uint64_t soft_sqrt(uint64_t a, const struct fmt *f, int rm, uint32_t *flags)
{
    struct unp x = unpack(a, f);

    if (nan2(&x, &x, flags)) return f->cnan;
    if (x.cls == C_ZERO) return a; /* sqrt(-0) = -0 */
    if (x.sign) return invalid(f, flags);
    if (x.cls == C_INF) return a;

    /* value = sig * 2^e.  Scale sig by 2^k (k = 64 or 63) so that e - k is
     * even; the root of sig * 2^k then has its leading one at bit 63. */
    int32_t e = x.exp - 63;
    int k = (e % 2 == 0) ? 64 : 63;
    bool exact;
    uint64_t root = isqrt128((u128)x.sig << k, &exact);
    return round_pack(0, 63 + (e - k) / 2, root | !exact, f, rm, flags);
}

/* (-1)^negp * a * b + (-1)^negc * c with a single rounding. */
static uint64_t soft_fma(uint64_t a, uint64_t b, uint64_t c, int negp, int negc,
                         const struct fmt *f, int rm, uint32_t *flags)
{
    struct unp x = unpack(a, f), y = unpack(b, f), z = unpack(c, f);
    int ps = x.sign ^ y.sign ^ negp;
    bool inf_zero = (x.cls == C_INF && y.cls == C_ZERO) || (x.cls == C_ZERO && y.cls == C_INF);

    z.sign ^= negc;
    if (x.cls >= C_QNAN || y.cls >= C_QNAN || z.cls >= C_QNAN) {
        /* RISC-V raises NV for inf * 0 even when the addend is a quiet NaN. */
        if (x.cls == C_SNAN || y.cls == C_SNAN || z.cls == C_SNAN || inf_zero) *flags |= FPU_NV;
        return f->cnan;
    }
    if (inf_zero) return invalid(f, flags);
    if (x.cls == C_INF || y.cls == C_INF) {
        if (z.cls == C_INF && z.sign != ps) return invalid(f, flags);
        return pack_inf(ps, f);
    }
    if (z.cls == C_INF) return pack_inf(z.sign, f);
    if (x.cls == C_ZERO || y.cls == C_ZERO) {
        /* Exact zero product. */
        if (z.cls == C_ZERO) return pack_zero(ps == z.sign ? ps : rm == FPU_RDN, f);
        return c ^ ((uint64_t)negc << f->sbit);
    }

    /* Exact product, leading one at bit 127. */
    u128 pm = (u128)x.sig * y.sig;
    int32_t pe = x.exp + y.exp;
    if (pm >> 127)
        pe++;
    else
        pm <<= 1;
    if (z.cls == C_ZERO) {
        uint64_t m = (uint64_t)(pm >> 64) | ((uint64_t)pm != 0);
        return round_pack(ps, pe, m, f, rm, flags);
    }

    /* Both terms with the leading one at bit 126 (headroom for a carry; the
     * bits shifted out are zero: the product has at most 106 significant
     * bits and the addend 53). */
    u128 big = pm >> 1, small = (u128)z.sig << 63;
    int32_t be = pe, se = z.exp;
    int bs = ps, ss = z.sign;
    if (se > be || (se == be && small > big)) {
        u128 t = big;
        big = small;
        small = t;
        int32_t te = be;
        be = se;
        se = te;
        int ts = bs;
        bs = ss;
        ss = ts;
    }
    small = shr_jam128(small, be - se);
    u128 m;
    if (bs == ss) {
        m = big + small;
    } else {
        m = big - small;
        if (!m) return pack_zero(rm == FPU_RDN, f);
    }
    int lz = clz128(m);
    m <<= lz;
    uint64_t m64 = (uint64_t)(m >> 64) | ((uint64_t)m != 0);
    return round_pack(bs, be + 1 - lz, m64, f, rm, flags);
}

/* Magnitude mag (sign given apart) to format f. */
static uint64_t soft_from_int(int sign, uint64_t mag, const struct fmt *f, int rm, uint32_t *flags)
{
    if (!mag) return 0;
    int lz = clz64(mag);
    return round_pack(sign, 63 - lz, mag << lz, f, rm, flags);
}

/*
 * Float to a bits-wide integer (bits = 32 or 64), returned in the low bits of
 * the result as two's complement.  Out of range and NaN give NV (only) and the
 * RISC-V saturated value.
 */
static uint64_t soft_to_int(uint64_t a, const struct fmt *f, int rm, bool is_signed, int bits,
                            uint32_t *flags)
{
    struct unp x = unpack(a, f);
    const uint64_t umax = bits == 64 ? UINT64_MAX : (UINT64_C(1) << bits) - 1;
    const uint64_t smax = umax >> 1, smin = smax + 1; /* smin as a magnitude */
    uint64_t mag;
    bool inexact = false, too_big = false;

    switch (x.cls) {
    case C_ZERO: return 0;
    case C_QNAN:
    case C_SNAN: *flags |= FPU_NV; return is_signed ? smax : umax;
    case C_INF: too_big = true; break;
    default:
        if (x.exp >= 64) {
            too_big = true;
        } else {
            uint64_t fr; /* fraction bits, aligned so that 1/2 is bit 63 */
            if (x.exp == 63) {
                mag = x.sig;
                fr = 0;
            } else if (x.exp >= 0) {
                mag = x.sig >> (63 - x.exp);
                fr = x.sig << (x.exp + 1);
            } else if (x.exp == -1) {
                mag = 0;
                fr = x.sig;
            } else {
                mag = 0;
                fr = 1; /* nonzero, below one half */
            }
            if (fr) {
                inexact = true;
                if (round_up(mag, fr, UINT64_C(1) << 63, x.sign, rm)) mag++;
            }
            if (is_signed)
                too_big = mag > (x.sign ? smin : smax);
            else
                too_big = x.sign ? mag != 0 : mag > umax;
        }
        break;
    }
    if (too_big) {
        *flags |= FPU_NV;
        if (is_signed) return x.sign ? (UINT64_C(0) - smin) & umax : smax;
        return x.sign ? 0 : umax;
    }
    if (inexact) *flags |= FPU_NX;
    return (x.sign ? UINT64_C(0) - mag : mag) & umax;
}

static uint64_t soft_convert(uint64_t a, const struct fmt *from, const struct fmt *to, int rm,
                             uint32_t *flags)
{
    struct unp x = unpack(a, from);

    switch (x.cls) {
    case C_ZERO: return pack_zero(x.sign, to);
    case C_INF: return pack_inf(x.sign, to);
    case C_SNAN: *flags |= FPU_NV; /* fall through */
    case C_QNAN: return to->cnan;
    default: return round_pack(x.sign, x.exp, x.sig, to, rm, flags);
    }
}

/* ---- operations that need no rounding: plain bit manipulation ---- */

static inline bool is_nan(uint64_t a, const struct fmt *f)
{
    uint64_t mag = a & ~(UINT64_C(1) << f->sbit);
    return mag > pack_inf(0, f);
}

static inline bool is_snan(uint64_t a, const struct fmt *f)
{
    return is_nan(a, f) && !((a >> (f->p - 2)) & 1);
}

/* a < b in the total order of non-NaN values with -0 < +0. */
static inline bool less_signed_zero(uint64_t a, uint64_t b, const struct fmt *f)
{
    int sa = (int)(a >> f->sbit) & 1, sb = (int)(b >> f->sbit) & 1;
    if (sa != sb) return sa;
    return sa ? a > b : a < b;
}

static uint64_t minmax(uint64_t a, uint64_t b, bool want_max, const struct fmt *f, uint32_t *flags)
{
    bool na = is_nan(a, f), nb = is_nan(b, f);
    if (is_snan(a, f) || is_snan(b, f)) *flags |= FPU_NV;
    if (na && nb) return f->cnan;
    if (na) return b;
    if (nb) return a;
    return less_signed_zero(a, b, f) != want_max ? a : b;
}

static inline bool both_zero(uint64_t a, uint64_t b, const struct fmt *f)
{
    return ((a | b) & ~(UINT64_C(1) << f->sbit)) == 0;
}

static int cmp_eq(uint64_t a, uint64_t b, const struct fmt *f, uint32_t *flags)
{
    if (is_nan(a, f) || is_nan(b, f)) {
        if (is_snan(a, f) || is_snan(b, f)) *flags |= FPU_NV;
        return 0;
    }
    return a == b || both_zero(a, b, f);
}

static int cmp_lt(uint64_t a, uint64_t b, bool or_equal, const struct fmt *f, uint32_t *flags)
{
    if (is_nan(a, f) || is_nan(b, f)) {
        *flags |= FPU_NV;
        return 0;
    }
    if (a == b || both_zero(a, b, f)) return or_equal;
    return less_signed_zero(a, b, f);
}

static uint32_t classify(uint64_t a, const struct fmt *f)
{
    struct unp x = unpack(a, f);
    int neg = x.sign;
    switch (x.cls) {
    case C_ZERO: return neg ? 1u << 3 : 1u << 4;
    case C_INF: return neg ? 1u << 0 : 1u << 7;
    case C_SNAN: return 1u << 8;
    case C_QNAN: return 1u << 9;
    default:
        if (x.exp < 1 - f->bias) return neg ? 1u << 2 : 1u << 5;
        return neg ? 1u << 1 : 1u << 6;
    }
}

/* ------------------------------------------------------------------------ */
/* Part 2: x86-64 host fast paths                                           */
/* ------------------------------------------------------------------------ */
/*
 * Contract with the rest of the process: on x86-64 an FPU call may leave MXCSR
 * at the C default 0x1f80 (round to nearest, all exceptions masked, sticky
 * flags clear, DAZ/FTZ off), and nothing is read from the caller's MXCSR.
 * Loading MXCSR is cheap, but reading it (stmxcsr) costs ~10 ns on AMD Zen,
 * more than a software add, so the common paths never read it:
 *
 *  A. "check" paths load the MXCSR of the rounding mode, compute, and decide
 *     NX with an exact test instead of the sticky flag.  Operands or results
 *     that could overflow, underflow or be NaN go to the software path, by
 *     conservative range guards.
 *     - binary32 add/sub/mul/div/sqrt, any of RNE/RTZ/RDN/RUP: computed in
 *       binary64, then rounded to binary32.  Rounding twice is harmless: in
 *       RNE because 53 >= 2*24+2 (Figueroa, "When is double rounding
 *       innocuous?", 1995); in a directed mode because the binary32 grid is a
 *       subset of the binary64 grid.  NX: binary64 products of two binary32
 *       values are exact, so (double)r == a*b (mul), r*b == a (div) and
 *       r*r == a (sqrt) are exact tests.  For add, the binary64 sum is exact
 *       when the exponents differ by <= 28, and the binary32 sum is surely
 *       inexact when they differ by >= 25 and neither operand is zero.
 *     - binary32 FMA in RNE: a*b is exact in binary64 and the binary64 sum
 *       s = a*b + c comes with its exact error (2Sum).  Rounding s to binary32
 *       gives the right result unless s is inexact and is exactly a binary32
 *       midpoint (then: software).
 *     - binary64 in RNE (mul, div, sqrt and FMA need FMA3): add/sub use
 *       Fast2Sum, whose error term is exact.  For mul, div and sqrt the
 *       residuals a*b - p, a - q*b and a - r*r are representable and one FMA
 *       computes them exactly, given exponent guards against underflow.  FMA:
 *       see chk_fma64().
 *  B. "flags" paths load the MXCSR of the mode, run the one instruction and
 *     read the sticky flags with stmxcsr: binary64 in directed modes and the
 *     FMAs in directed modes.  x86 SSE follows IEEE 754 with tininess detected
 *     after rounding, like RISC-V.  A NaN result is recomputed in software
 *     (canonical NaN; RISC-V's NV rule for inf*0 + qNaN).
 * Each asm statement loads MXCSR, computes and loads the default again, so the
 * compiler cannot move the arithmetic outside the window and no sticky flag
 * is left behind.
 */

#ifdef HOST_X86
#define HOST_FP 1

#include <string.h> /* memcpy: bit casts between integers and float/double */

static int host_fast = 1; /* fpu_set_host_fastpath(): 0, 1 or 2 (no FMA3) */
static int cpu_fma;       /* CPU and OS support AVX + FMA3 */

__attribute__((constructor)) static void fpu_host_probe(void)
{
    __builtin_cpu_init();
    cpu_fma = __builtin_cpu_supports("avx") && __builtin_cpu_supports("fma");
}

static inline bool host_fma(void)
{
    return cpu_fma && host_fast == 1;
}

static const uint32_t mxcsr_default = 0x1f80;

/* All exceptions masked, DAZ and FTZ off, flags clear, rounding control. */
static const uint32_t mxcsr_for_rm[4] = {
    [FPU_RNE] = 0x1f80 | (0u << 13),
    [FPU_RTZ] = 0x1f80 | (3u << 13),
    [FPU_RDN] = 0x1f80 | (1u << 13),
    [FPU_RUP] = 0x1f80 | (2u << 13),
};

/* MXCSR flags (IE DE ZE OE UE PE = bits 0..5) to fflags; DE is dropped. */
static inline uint32_t mxcsr_flags(uint32_t m)
{
    return ((m & 0x01) << 4) | ((m & 0x04) << 1) | ((m & 0x08) >> 1) | ((m & 0x10) >> 3) |
           ((m & 0x20) >> 5);
}

static inline double dbl(uint64_t x)
{
    double d;
    memcpy(&d, &x, sizeof d);
    return d;
}

static inline uint64_t dbits(double d)
{
    uint64_t x;
    memcpy(&x, &d, sizeof x);
    return x;
}

static inline float flt(uint32_t x)
{
    float f;
    memcpy(&f, &x, sizeof f);
    return f;
}

static inline uint32_t fbits(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    return x;
}

#define MAG32       UINT32_C(0x7fffffff)
#define MAG64       UINT64_C(0x7fffffffffffffff)
#define MINNORM32   UINT32_C(0x00800000)
#define TOPBINADE32 UINT32_C(0x7f000000) /* 2^127: the binade where overflow starts */

static inline uint32_t bexp32(uint32_t a)
{
    return (a >> 23) & 0xff;
}

static inline uint32_t bexp64(uint64_t a)
{
    return (uint32_t)(a >> 52) & 0x7ff;
}

/* Result of a binary32 check path that must not be tiny, overflow or NaN. */
static inline bool mid_range32(uint32_t r)
{
    uint32_t mag = r & MAG32;
    return mag > MINNORM32 && mag < TOPBINADE32;
}

/* ---- A: binary32 through binary64 ---- */

static bool chk_add32(uint32_t a, uint32_t b, int rm, uint32_t *res, uint32_t *flags)
{
    uint32_t ea = bexp32(a), eb = bexp32(b);
    double s, rd;
    float r;
    bool inexact;

    if (ea == 0xff || eb == 0xff) return false;
    __asm__ volatile(
        "ldmxcsr %[csr]\n\t"
        "cvtss2sd %[a], %[s]\n\t"
        "cvtss2sd %[b], %[rd]\n\t"
        "addsd %[rd], %[s]\n\t"
        "cvtsd2ss %[s], %[r]\n\t"
        "cvtss2sd %[r], %[rd]\n\t"
        "ldmxcsr %[def]"
        : [s] "=&x"(s), [rd] "=&x"(rd), [r] "=&x"(r)
        : [a] "x"(flt(a)), [b] "x"(flt(b)), [csr] "m"(mxcsr_for_rm[rm]), [def] "m"(mxcsr_default));
    /* Overflow candidates go to software.  A tiny sum is exact: no UF. */
    if ((fbits(r) & MAG32) >= TOPBINADE32) return false;
    ea += !ea; /* subnormals share the exponent of the smallest normals */
    eb += !eb;
    if (!(a & MAG32) || !(b & MAG32))
        inexact = false;
    else if ((ea > eb ? ea - eb : eb - ea) <= 28)
        inexact = dbits(rd) != dbits(s);
    else
        inexact = true;
    if (inexact) *flags |= FPU_NX;
    *res = fbits(r);
    return true;
}

static bool chk_mul32(uint32_t a, uint32_t b, int rm, uint32_t *res, uint32_t *flags)
{
    double p, rd;
    float r;

    if (bexp32(a) == 0xff || bexp32(b) == 0xff) return false;
    __asm__ volatile(
        "ldmxcsr %[csr]\n\t"
        "cvtss2sd %[a], %[p]\n\t"
        "cvtss2sd %[b], %[rd]\n\t"
        "mulsd %[rd], %[p]\n\t"
        "cvtsd2ss %[p], %[r]\n\t"
        "cvtss2sd %[r], %[rd]\n\t"
        "ldmxcsr %[def]"
        : [p] "=&x"(p), [rd] "=&x"(rd), [r] "=&x"(r)
        : [a] "x"(flt(a)), [b] "x"(flt(b)), [csr] "m"(mxcsr_for_rm[rm]), [def] "m"(mxcsr_default));
    if (!mid_range32(fbits(r))) return false;
    if (dbits(rd) != dbits(p)) *flags |= FPU_NX;
    *res = fbits(r);
    return true;
}

static bool chk_div32(uint32_t a, uint32_t b, int rm, uint32_t *res, uint32_t *flags)
{
    double da, db, q;
    float r;

    if (bexp32(a) == 0xff || bexp32(b) == 0xff || !(b & MAG32)) return false;
    __asm__ volatile(
        "ldmxcsr %[csr]\n\t"
        "cvtss2sd %[a], %[da]\n\t"
        "cvtss2sd %[b], %[db]\n\t"
        "movapd %[da], %[q]\n\t"
        "divsd %[db], %[q]\n\t"
        "cvtsd2ss %[q], %[r]\n\t"
        "cvtss2sd %[r], %[q]\n\t"
        "mulsd %[db], %[q]\n\t" /* q = r*b, exact */
        "ldmxcsr %[def]"
        : [da] "=&x"(da), [db] "=&x"(db), [q] "=&x"(q), [r] "=&x"(r)
        : [a] "x"(flt(a)), [b] "x"(flt(b)), [csr] "m"(mxcsr_for_rm[rm]), [def] "m"(mxcsr_default));
    if (!mid_range32(fbits(r))) return false;
    if (dbits(q) != dbits(da)) *flags |= FPU_NX;
    *res = fbits(r);
    return true;
}

static bool chk_sqrt32(uint32_t a, int rm, uint32_t *res, uint32_t *flags)
{
    double da, q;
    float r;

    if (a == 0 || a >= UINT32_C(0x7f800000)) return false; /* zero, negative, inf, NaN */
    __asm__ volatile("ldmxcsr %[csr]\n\t"
                     "cvtss2sd %[a], %[da]\n\t"
                     "sqrtsd %[da], %[q]\n\t"
                     "cvtsd2ss %[q], %[r]\n\t"
                     "cvtss2sd %[r], %[q]\n\t"
                     "mulsd %[q], %[q]\n\t" /* q = r*r, exact */
                     "ldmxcsr %[def]"
                     : [da] "=&x"(da), [q] "=&x"(q), [r] "=&x"(r)
                     : [a] "x"(flt(a)), [csr] "m"(mxcsr_for_rm[rm]), [def] "m"(mxcsr_default));
    if (dbits(q) != dbits(da)) *flags |= FPU_NX;
    *res = fbits(r);
    return true;
}

/* a*b + c in RNE (the caller flips signs for msub/nmsub/nmadd). */
static bool chk_fma32(uint32_t a, uint32_t b, uint32_t c, uint32_t *res, uint32_t *flags)
{
    double p, s, t, u, e, rd;
    float r;

    if (bexp32(a) == 0xff || bexp32(b) == 0xff || bexp32(c) == 0xff) return false;
    /* p = a*b (exact); s = p + c; 2Sum: t = s - p, u = s - t,
     * e = (p - u) + (c - t) is the exact error of s. */
    __asm__ volatile("ldmxcsr %[def]\n\t"
                     "cvtss2sd %[a], %[p]\n\t"
                     "cvtss2sd %[b], %[t]\n\t"
                     "mulsd %[t], %[p]\n\t"
                     "cvtss2sd %[c], %[e]\n\t"
                     "movapd %[p], %[s]\n\t"
                     "addsd %[e], %[s]\n\t"
                     "movapd %[s], %[t]\n\t"
                     "subsd %[p], %[t]\n\t"
                     "movapd %[s], %[u]\n\t"
                     "subsd %[t], %[u]\n\t"
                     "subsd %[t], %[e]\n\t"
                     "subsd %[u], %[p]\n\t"
                     "addsd %[p], %[e]\n\t"
                     "cvtsd2ss %[s], %[r]\n\t"
                     "cvtss2sd %[r], %[rd]\n\t"
                     "ldmxcsr %[def]"
                     : [p] "=&x"(p), [s] "=&x"(s), [t] "=&x"(t), [u] "=&x"(u), [e] "=&x"(e),
                       [rd] "=&x"(rd), [r] "=&x"(r)
                     : [a] "x"(flt(a)), [b] "x"(flt(b)), [c] "x"(flt(c)), [def] "m"(mxcsr_default));
    if (!mid_range32(fbits(r))) return false;
    if (dbits(e) & MAG64) {
        /* s is inexact: rounding it again is wrong only on a midpoint.  s is
         * in binary32's normal range, where the midpoints are the binary64
         * values whose low 29 fraction bits are 1000...0. */
        if ((dbits(s) & UINT64_C(0x1fffffff)) == UINT64_C(0x10000000)) return false;
        *flags |= FPU_NX;
    } else if (dbits(rd) != dbits(s)) {
        *flags |= FPU_NX;
    }
    *res = fbits(r);
    return true;
}

/* ---- A: binary64 in RNE ---- */

static bool chk_add64(uint64_t a, uint64_t b, uint64_t *res, uint32_t *flags)
{
    double s, z;

    if (bexp64(a) == 0x7ff || bexp64(b) == 0x7ff) return false;
    if ((a & MAG64) < (b & MAG64)) {
        uint64_t t = a;
        a = b;
        b = t;
    }
    /* |a| >= |b|: s = a + b, z = s - a is exact and b - z is the error. */
    __asm__ volatile("ldmxcsr %[def]\n\t"
                     "movapd %[a], %[s]\n\t"
                     "addsd %[b], %[s]\n\t"
                     "movapd %[s], %[z]\n\t"
                     "subsd %[a], %[z]\n\t"
                     "ldmxcsr %[def]"
                     : [s] "=&x"(s), [z] "=&x"(z)
                     : [a] "x"(dbl(a)), [b] "x"(dbl(b)), [def] "m"(mxcsr_default));
    if (bexp64(dbits(s)) == 0x7ff) return false; /* overflow: software */
    /* A tiny sum is exact: no UF. */
    if (dbits(z) != b && ((dbits(z) | b) & MAG64)) *flags |= FPU_NX;
    *res = dbits(s);
    return true;
}

/* Equal as binary64 values (finite; +0 == -0). */
static inline bool same_value64(uint64_t x, uint64_t y)
{
    return x == y || !((x | y) & MAG64);
}

/* Unbiased exponents below this could make a residual underflow. */
#define RESID_EMIN (-960)

static bool chk_mul64(uint64_t a, uint64_t b, uint64_t *res, uint32_t *flags)
{
    int32_t ea = (int32_t)bexp64(a), eb = (int32_t)bexp64(b);
    double p, e;

    /* Normal operands only, product at least 2^-960. */
    if (ea == 0 || eb == 0 || ea == 0x7ff || eb == 0x7ff || ea + eb - 2 * 1023 < RESID_EMIN)
        return false;
    __asm__ volatile("ldmxcsr %[def]\n\t"
                     "vmulsd %[b], %[a], %[p]\n\t"
                     "vmovapd %[p], %[e]\n\t"
                     "vfmsub231sd %[b], %[a], %[e]\n\t" /* e = a*b - p */
                     "ldmxcsr %[def]"
                     : [p] "=&x"(p), [e] "=&x"(e)
                     : [a] "x"(dbl(a)), [b] "x"(dbl(b)), [def] "m"(mxcsr_default));
    if (bexp64(dbits(p)) == 0x7ff) return false; /* overflow: software */
    if (dbits(e) & MAG64) *flags |= FPU_NX;
    *res = dbits(p);
    return true;
}

static bool chk_div64(uint64_t a, uint64_t b, uint64_t *res, uint32_t *flags)
{
    int32_t ea = (int32_t)bexp64(a), eb = (int32_t)bexp64(b);
    double q, r;

    /* Normal operands, quotient at least 2^-1021, a at least 2^-960. */
    if (ea == 0 || eb == 0 || ea == 0x7ff || eb == 0x7ff || ea - eb < -1020 ||
        ea - 1023 < RESID_EMIN)
        return false;
    __asm__ volatile("ldmxcsr %[def]\n\t"
                     "vdivsd %[b], %[a], %[q]\n\t"
                     "vmovapd %[a], %[r]\n\t"
                     "vfnmadd231sd %[b], %[q], %[r]\n\t" /* r = a - q*b */
                     "ldmxcsr %[def]"
                     : [q] "=&x"(q), [r] "=&x"(r)
                     : [a] "x"(dbl(a)), [b] "x"(dbl(b)), [def] "m"(mxcsr_default));
    if (bexp64(dbits(q)) == 0x7ff) return false; /* overflow: software */
    if (dbits(r) & MAG64) *flags |= FPU_NX;
    *res = dbits(q);
    return true;
}

static bool chk_sqrt64(uint64_t a, uint64_t *res, uint32_t *flags)
{
    int32_t ea = (int32_t)bexp64(a);
    double r, e;

    /* Positive normal operands of at least 2^-960. */
    if ((a >> 63) || ea == 0x7ff || ea - 1023 < RESID_EMIN) return false;
    __asm__ volatile("ldmxcsr %[def]\n\t"
                     "vsqrtsd %[a], %[a], %[r]\n\t"
                     "vmovapd %[a], %[e]\n\t"
                     "vfnmadd231sd %[r], %[r], %[e]\n\t" /* e = a - r*r */
                     "ldmxcsr %[def]"
                     : [r] "=&x"(r), [e] "=&x"(e)
                     : [a] "x"(dbl(a)), [def] "m"(mxcsr_default));
    if (dbits(e) & MAG64) *flags |= FPU_NX;
    *res = dbits(r);
    return true;
}

/*
 * a*b + c in RNE.  r = fma(a, b, c) is exact iff r - c == a*b.  Both sides as
 * unevaluated sums: a*b = p + ep (p = RN(a*b), ep = fma(a, b, -p), exact), and
 * r - c = d + dl (2Sum).  In both pairs the first term is the round-to-nearest
 * value of the sum, so equal sums have equal pairs.
 */
static bool chk_fma64(uint64_t a, uint64_t b, uint64_t c, uint64_t *res, uint32_t *flags)
{
    int32_t ea = (int32_t)bexp64(a), eb = (int32_t)bexp64(b), ec = (int32_t)bexp64(c);
    int32_t ep_exp = ea + eb - 2 * 1023;
    double r, p, ep, d, dl, t1, t2;

    /* Normal a, b with a*b in [2^-960, 2^1021); |c| < 2^1022: nothing overflows
     * and ep is exact. */
    if (ea == 0 || eb == 0 || ea == 0x7ff || eb == 0x7ff || ec >= 0x7fd || ep_exp < RESID_EMIN ||
        ep_exp > 1020)
        return false;
    __asm__ volatile("ldmxcsr %[def]\n\t"
                     "vmovapd %[c], %[r]\n\t"
                     "vfmadd231sd %[b], %[a], %[r]\n\t" /* r = a*b + c */
                     "vmulsd %[b], %[a], %[p]\n\t"      /* p = a*b */
                     "vmovapd %[p], %[ep]\n\t"
                     "vfmsub231sd %[b], %[a], %[ep]\n\t" /* ep = a*b - p */
                     "vsubsd %[c], %[r], %[d]\n\t"       /* d = r - c */
                     "vsubsd %[r], %[d], %[t1]\n\t"      /* t1 = d - r */
                     "vsubsd %[t1], %[d], %[t2]\n\t"     /* t2 = d - t1 */
                     "vsubsd %[t2], %[r], %[dl]\n\t"     /* dl = r - t2 */
                     "vaddsd %[c], %[t1], %[t1]\n\t"     /* t1 = t1 + c */
                     "vsubsd %[t1], %[dl], %[dl]\n\t"    /* dl = (r - t2) + (-c - t1) */
                     "ldmxcsr %[def]"
                     : [r] "=&x"(r), [p] "=&x"(p), [ep] "=&x"(ep), [d] "=&x"(d), [dl] "=&x"(dl),
                       [t1] "=&x"(t1), [t2] "=&x"(t2)
                     : [a] "x"(dbl(a)), [b] "x"(dbl(b)), [c] "x"(dbl(c)), [def] "m"(mxcsr_default));
    uint64_t rb = dbits(r);
    /* Tiny results go to software (|r| > 2^-1022 cannot be tiny). */
    if ((rb & MAG64) <= UINT64_C(0x0010000000000000)) return false;
    if (!same_value64(dbits(d), dbits(p)) || !same_value64(dbits(dl), dbits(ep))) *flags |= FPU_NX;
    *res = rb;
    return true;
}

/* ---- B: one instruction, flags from MXCSR ---- */

#define FLAGS_OP2(name, insn, T, U, isnan)                                                         \
    static bool name(U a, U b, int rm, U *res, uint32_t *flags)                                    \
    {                                                                                              \
        T x = 0, y = 0;                                                                            \
        uint32_t after = 0;                                                                        \
        memcpy(&x, &a, sizeof x);                                                                  \
        memcpy(&y, &b, sizeof y);                                                                  \
        __asm__ volatile("ldmxcsr %[csr]\n\t" insn " %[y], %[x]\n\t"                               \
                         "stmxcsr %[after]\n\t"                                                    \
                         "ldmxcsr %[def]"                                                          \
                         : [x] "+x"(x), [after] "+m"(after)                                        \
                         : [y] "x"(y), [csr] "m"(mxcsr_for_rm[rm]), [def] "m"(mxcsr_default));     \
        memcpy(&a, &x, sizeof a);                                                                  \
        if (isnan(a)) return false;                                                                \
        *flags |= mxcsr_flags(after);                                                              \
        *res = a;                                                                                  \
        return true;                                                                               \
    }

/* c = a*b + c with FMA3 (the caller checks host_fma()). */
#define FLAGS_FMA(name, insn, T, U, isnan)                                                         \
    static bool name(U a, U b, U c, int rm, U *res, uint32_t *flags)                               \
    {                                                                                              \
        T x = 0, y = 0, z = 0;                                                                     \
        uint32_t after = 0;                                                                        \
        memcpy(&x, &a, sizeof x);                                                                  \
        memcpy(&y, &b, sizeof y);                                                                  \
        memcpy(&z, &c, sizeof z);                                                                  \
        __asm__ volatile(                                                                          \
            "ldmxcsr %[csr]\n\t" insn " %[y], %[x], %[z]\n\t"                                      \
            "stmxcsr %[after]\n\t"                                                                 \
            "ldmxcsr %[def]"                                                                       \
            : [z] "+x"(z), [after] "+m"(after)                                                     \
            : [x] "x"(x), [y] "x"(y), [csr] "m"(mxcsr_for_rm[rm]), [def] "m"(mxcsr_default));      \
        memcpy(&c, &z, sizeof c);                                                                  \
        if (isnan(c)) return false;                                                                \
        *flags |= mxcsr_flags(after);                                                              \
        *res = c;                                                                                  \
        return true;                                                                               \
    }

static inline bool isnan32(uint32_t r)
{
    return (r & MAG32) > UINT32_C(0x7f800000);
}

static inline bool isnan64(uint64_t r)
{
    return (r & MAG64) > UINT64_C(0x7ff0000000000000);
}

FLAGS_OP2(flg_add64, "addsd", double, uint64_t, isnan64)
FLAGS_OP2(flg_mul64, "mulsd", double, uint64_t, isnan64)
FLAGS_OP2(flg_div64, "divsd", double, uint64_t, isnan64)
FLAGS_OP2(flg_sqrt64, "sqrtsd", double, uint64_t, isnan64) /* sqrt of the second operand */
FLAGS_FMA(flg_fma32, "vfmadd231ss", float, uint32_t, isnan32)
FLAGS_FMA(flg_fma64, "vfmadd231sd", double, uint64_t, isnan64)

/* ---- path selection ---- */

static inline bool host_ok(int rm)
{
    return host_fast && (unsigned)rm < 4;
}

static bool host_fma32(uint32_t a, uint32_t b, uint32_t c, int rm, uint32_t *res, uint32_t *flags)
{
    if (!host_ok(rm)) return false;
    if (rm == FPU_RNE) return chk_fma32(a, b, c, res, flags);
    return host_fma() && flg_fma32(a, b, c, rm, res, flags);
}

static bool host_add64(uint64_t a, uint64_t b, int rm, uint64_t *res, uint32_t *flags)
{
    if (!host_ok(rm)) return false;
    if (rm == FPU_RNE) return chk_add64(a, b, res, flags);
    return flg_add64(a, b, rm, res, flags);
}

#define HOST64(name, chk, flg)                                                                     \
    static bool name(uint64_t a, uint64_t b, int rm, uint64_t *res, uint32_t *flags)               \
    {                                                                                              \
        (void)b; /* unused by sqrt */                                                              \
        if (!host_ok(rm)) return false;                                                            \
        if (rm == FPU_RNE && host_fma()) return chk;                                               \
        return flg;                                                                                \
    }
HOST64(host_mul64, chk_mul64(a, b, res, flags), flg_mul64(a, b, rm, res, flags))
HOST64(host_div64, chk_div64(a, b, res, flags), flg_div64(a, b, rm, res, flags))
HOST64(host_sqrt64, chk_sqrt64(a, res, flags), flg_sqrt64(a, a, rm, res, flags))

static bool host_fma64(uint64_t a, uint64_t b, uint64_t c, int rm, uint64_t *res, uint32_t *flags)
{
    if (!host_ok(rm) || !host_fma()) return false;
    if (rm == FPU_RNE) return chk_fma64(a, b, c, res, flags);
    return flg_fma64(a, b, c, rm, res, flags);
}

#endif /* x86-64 */

int fpu_set_host_fastpath(int enable)
{
#ifdef HOST_FP
    host_fast = enable == 2 ? 2 : enable != 0;
    return 1;
#else
    (void)enable;
    return 0;
#endif
}

/* ------------------------------------------------------------------------ */
/* Part 3: public entry points                                              */
/* ------------------------------------------------------------------------ */

#define SIGN32 UINT32_C(0x80000000)
#define SIGN64 UINT64_C(0x8000000000000000)

/* ------------------------------------------------------------------------ */
/* Part 3: public entry points                                              */
/* ------------------------------------------------------------------------ */

#define SIGN32 UINT32_C(0x80000000)
#define SIGN64 UINT64_C(0x8000000000000000)

/* ---- binary32 ---- */

uint32_t f32_add(uint32_t a, uint32_t b, int rm, uint32_t *flags)
{
#ifdef HOST_FP
    uint32_t r;
    if (host_ok(rm) && chk_add32(a, b, rm, &r, flags)) return r;
#endif
    return (uint32_t)soft_add(a, b, 0, &FMT32, rm, flags);
}

uint32_t f32_sub(uint32_t a, uint32_t b, int rm, uint32_t *flags)
{
#ifdef HOST_FP
    uint32_t r;
    if (host_ok(rm) && chk_add32(a, b ^ SIGN32, rm, &r, flags)) return r;
#endif
    return (uint32_t)soft_add(a, b, 1, &FMT32, rm, flags);
}

uint32_t f32_mul(uint32_t a, uint32_t b, int rm, uint32_t *flags)
{
#ifdef HOST_FP
    uint32_t r;
    if (host_ok(rm) && chk_mul32(a, b, rm, &r, flags)) return r;
#endif
    return (uint32_t)soft_mul(a, b, &FMT32, rm, flags);
}

uint32_t f32_div(uint32_t a, uint32_t b, int rm, uint32_t *flags)
{
#ifdef HOST_FP
    uint32_t r;
    if (host_ok(rm) && chk_div32(a, b, rm, &r, flags)) return r;
#endif
    return (uint32_t)soft_div(a, b, &FMT32, rm, flags);
}

uint32_t f32_sqrt(uint32_t a, int rm, uint32_t *flags)
{
#ifdef HOST_FP
    uint32_t r;
    if (host_ok(rm) && chk_sqrt32(a, rm, &r, flags)) return r;
#endif
    return (uint32_t)soft_sqrt(a, &FMT32, rm, flags);
}

/* negp/negc select madd, msub, nmsub, nmadd. */
static inline uint32_t fma32(uint32_t a, uint32_t b, uint32_t c, int negp, int negc, int rm,
                             uint32_t *flags)
{
#ifdef HOST_FP
    uint32_t r;
    if (host_fma32(a ^ ((uint32_t)negp << 31), b, c ^ ((uint32_t)negc << 31), rm, &r, flags))
        return r;
#endif
    return (uint32_t)soft_fma(a, b, c, negp, negc, &FMT32, rm, flags);
}

uint32_t f32_madd(uint32_t a, uint32_t b, uint32_t c, int rm, uint32_t *flags)
{
    return fma32(a, b, c, 0, 0, rm, flags);
}

uint32_t f32_msub(uint32_t a, uint32_t b, uint32_t c, int rm, uint32_t *flags)
{
    return fma32(a, b, c, 0, 1, rm, flags);
}

uint32_t f32_nmsub(uint32_t a, uint32_t b, uint32_t c, int rm, uint32_t *flags)
{
    return fma32(a, b, c, 1, 0, rm, flags);
}

uint32_t f32_nmadd(uint32_t a, uint32_t b, uint32_t c, int rm, uint32_t *flags)
{
    return fma32(a, b, c, 1, 1, rm, flags);
}

uint32_t f32_min(uint32_t a, uint32_t b, uint32_t *flags)
{
    return (uint32_t)minmax(a, b, false, &FMT32, flags);
}

uint32_t f32_max(uint32_t a, uint32_t b, uint32_t *flags)
{
    return (uint32_t)minmax(a, b, true, &FMT32, flags);
}

int f32_eq(uint32_t a, uint32_t b, uint32_t *flags)
{
    return cmp_eq(a, b, &FMT32, flags);
}

int f32_lt(uint32_t a, uint32_t b, uint32_t *flags)
{
    return cmp_lt(a, b, false, &FMT32, flags);
}

int f32_le(uint32_t a, uint32_t b, uint32_t *flags)
{
    return cmp_lt(a, b, true, &FMT32, flags);
}

uint32_t f32_classify(uint32_t a)
{
    return classify(a, &FMT32);
}

int32_t f32_to_i32(uint32_t a, int rm, uint32_t *flags)
{
    return (int32_t)(uint32_t)soft_to_int(a, &FMT32, rm, true, 32, flags);
}

uint32_t f32_to_u32(uint32_t a, int rm, uint32_t *flags)
{
    return (uint32_t)soft_to_int(a, &FMT32, rm, false, 32, flags);
}

int64_t f32_to_i64(uint32_t a, int rm, uint32_t *flags)
{
    return (int64_t)soft_to_int(a, &FMT32, rm, true, 64, flags);
}

uint64_t f32_to_u64(uint32_t a, int rm, uint32_t *flags)
{
    return soft_to_int(a, &FMT32, rm, false, 64, flags);
}

uint32_t i32_to_f32(int32_t v, int rm, uint32_t *flags)
{
    uint64_t mag = v < 0 ? UINT64_C(0) - (uint64_t)(int64_t)v : (uint64_t)v;
    return (uint32_t)soft_from_int(v < 0, mag, &FMT32, rm, flags);
}

uint32_t u32_to_f32(uint32_t v, int rm, uint32_t *flags)
{
    return (uint32_t)soft_from_int(0, v, &FMT32, rm, flags);
}

uint32_t i64_to_f32(int64_t v, int rm, uint32_t *flags)
{
    uint64_t mag = v < 0 ? UINT64_C(0) - (uint64_t)v : (uint64_t)v;
    return (uint32_t)soft_from_int(v < 0, mag, &FMT32, rm, flags);
}

uint32_t u64_to_f32(uint64_t v, int rm, uint32_t *flags)
{
    return (uint32_t)soft_from_int(0, v, &FMT32, rm, flags);
}

/* ---- binary64 ---- */

uint64_t f64_add(uint64_t a, uint64_t b, int rm, uint32_t *flags)
{
#ifdef HOST_FP
    uint64_t r;
    if (host_add64(a, b, rm, &r, flags)) return r;
#endif
    return soft_add(a, b, 0, &FMT64, rm, flags);
}

uint64_t f64_sub(uint64_t a, uint64_t b, int rm, uint32_t *flags)
{
#ifdef HOST_FP
    uint64_t r;
    if (host_add64(a, b ^ SIGN64, rm, &r, flags)) return r;
#endif
    return soft_add(a, b, 1, &FMT64, rm, flags);
}

uint64_t f64_mul(uint64_t a, uint64_t b, int rm, uint32_t *flags)
{
#ifdef HOST_FP
    uint64_t r;
    if (host_mul64(a, b, rm, &r, flags)) return r;
#endif
    return soft_mul(a, b, &FMT64, rm, flags);
}

uint64_t f64_div(uint64_t a, uint64_t b, int rm, uint32_t *flags)
{
#ifdef HOST_FP
    uint64_t r;
    if (host_div64(a, b, rm, &r, flags)) return r;
#endif
    return soft_div(a, b, &FMT64, rm, flags);
}

uint64_t f64_sqrt(uint64_t a, int rm, uint32_t *flags)
{
#ifdef HOST_FP
    uint64_t r;
    if (host_sqrt64(a, 0, rm, &r, flags)) return r;
#endif
    return soft_sqrt(a, &FMT64, rm, flags);
}

static inline uint64_t fma64(uint64_t a, uint64_t b, uint64_t c, int negp, int negc, int rm,
                             uint32_t *flags)
{
#ifdef HOST_FP
    uint64_t r;
    if (host_fma64(a ^ ((uint64_t)negp << 63), b, c ^ ((uint64_t)negc << 63), rm, &r, flags))
        return r;
#endif
    return soft_fma(a, b, c, negp, negc, &FMT64, rm, flags);
}

uint64_t f64_madd(uint64_t a, uint64_t b, uint64_t c, int rm, uint32_t *flags)
{
    return fma64(a, b, c, 0, 0, rm, flags);
}

uint64_t f64_msub(uint64_t a, uint64_t b, uint64_t c, int rm, uint32_t *flags)
{
    return fma64(a, b, c, 0, 1, rm, flags);
}

uint64_t f64_nmsub(uint64_t a, uint64_t b, uint64_t c, int rm, uint32_t *flags)
{
    return fma64(a, b, c, 1, 0, rm, flags);
}

uint64_t f64_nmadd(uint64_t a, uint64_t b, uint64_t c, int rm, uint32_t *flags)
{
    return fma64(a, b, c, 1, 1, rm, flags);
}

uint64_t f64_min(uint64_t a, uint64_t b, uint32_t *flags)
{
    return minmax(a, b, false, &FMT64, flags);
}

uint64_t f64_max(uint64_t a, uint64_t b, uint32_t *flags)
{
    return minmax(a, b, true, &FMT64, flags);
}

int f64_eq(uint64_t a, uint64_t b, uint32_t *flags)
{
    return cmp_eq(a, b, &FMT64, flags);
}

int f64_lt(uint64_t a, uint64_t b, uint32_t *flags)
{
    return cmp_lt(a, b, false, &FMT64, flags);
}

int f64_le(uint64_t a, uint64_t b, uint32_t *flags)
{
    return cmp_lt(a, b, true, &FMT64, flags);
}

uint32_t f64_classify(uint64_t a)
{
    return classify(a, &FMT64);
}

int32_t f64_to_i32(uint64_t a, int rm, uint32_t *flags)
{
    return (int32_t)(uint32_t)soft_to_int(a, &FMT64, rm, true, 32, flags);
}

uint32_t f64_to_u32(uint64_t a, int rm, uint32_t *flags)
{
    return (uint32_t)soft_to_int(a, &FMT64, rm, false, 32, flags);
}

int64_t f64_to_i64(uint64_t a, int rm, uint32_t *flags)
{
    return (int64_t)soft_to_int(a, &FMT64, rm, true, 64, flags);
}

uint64_t f64_to_u64(uint64_t a, int rm, uint32_t *flags)
{
    return soft_to_int(a, &FMT64, rm, false, 64, flags);
}

uint64_t i32_to_f64(int32_t v, int rm, uint32_t *flags)
{
    uint64_t mag = v < 0 ? UINT64_C(0) - (uint64_t)(int64_t)v : (uint64_t)v;
    return soft_from_int(v < 0, mag, &FMT64, rm, flags);
}

uint64_t u32_to_f64(uint32_t v, int rm, uint32_t *flags)
{
    return soft_from_int(0, v, &FMT64, rm, flags);
}

uint64_t i64_to_f64(int64_t v, int rm, uint32_t *flags)
{
    uint64_t mag = v < 0 ? UINT64_C(0) - (uint64_t)v : (uint64_t)v;
    return soft_from_int(v < 0, mag, &FMT64, rm, flags);
}

uint64_t u64_to_f64(uint64_t v, int rm, uint32_t *flags)
{
    return soft_from_int(0, v, &FMT64, rm, flags);
}

/* ---- between formats ---- */

uint64_t f32_to_f64(uint32_t a, uint32_t *flags)
{
    return soft_convert(a, &FMT32, &FMT64, FPU_RNE, flags); /* always exact */
}

uint32_t f64_to_f32(uint64_t a, int rm, uint32_t *flags)
{
    return (uint32_t)soft_convert(a, &FMT64, &FMT32, rm, flags);
}
