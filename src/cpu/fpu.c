/*
 * fpu.c - RISC-V F/D floating-point arithmetic, bit-exact (contract in fpu.h).
 *
 * Three parts:
 *   1. a portable software implementation.  Both formats share one code path:
 *      an operand is unpacked into sign, exponent and a 64-bit significand
 *      with its leading one at bit 63; the operation is done exactly in 64- or
 *      128-bit integers, keeping a "sticky" bit for anything shifted out; then
 *      round_pack() rounds once, in any of the five modes, and raises the flags.
 *   2. x86-64 host fast paths: the SSE (and FMA3) instruction run under a
 *      private MXCSR (mask all traps, DAZ/FTZ off, the wanted rounding mode),
 *      and MXCSR's sticky flags are read back and the caller's MXCSR restored
 *      in the same asm statement, so the compiler cannot move the arithmetic
 *      outside the window.  x86 SSE is IEEE-754 with tininess detected after
 *      rounding, as RISC-V.  A NaN host result is thrown away and recomputed in
 *      software (NaN canonicalisation and RISC-V's FMA NV rule live there).
 *   3. the public entry points, which pick a path.
 */
#include "fpu.h"

#include <stdbool.h>

#ifndef __SIZEOF_INT128__
#error "fpu.c needs unsigned __int128 (every 64-bit gcc/clang target has it)"
#endif
__extension__ typedef unsigned __int128 u128;

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

/* floor(sqrt(n)) and whether it is exact, for n in [2^126, 2^128). */
static uint64_t isqrt128(u128 n, bool *exact)
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
static uint64_t soft_from_int(int sign, uint64_t mag, const struct fmt *f, int rm,
                              uint32_t *flags)
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

static uint64_t minmax(uint64_t a, uint64_t b, bool want_max, const struct fmt *f,
                       uint32_t *flags)
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

#if defined(__x86_64__) && !defined(KUMO_FPU_SOFT_ONLY)
#define HOST_FP 1

#include <string.h> /* memcpy: bit casts between integers and float/double */

static int host_fast = 1; /* fpu_set_host_fastpath() */
static int host_fma;      /* CPU and OS support AVX + FMA3 */

__attribute__((constructor)) static void fpu_host_probe(void)
{
    __builtin_cpu_init();
    host_fma = __builtin_cpu_supports("avx") && __builtin_cpu_supports("fma");
}

/* MXCSR for the operation: all exceptions masked (0x1f80), DAZ and FTZ
 * off, sticky flags clear, rounding control from the RISC-V mode. */
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

static inline bool host_ok(int rm)
{
    return host_fast && (unsigned)rm < 4;
}

/* One asm statement: save MXCSR, load ours, compute, read flags, restore. */
#define HOST_OP2(name, insn, T, U)                                                                 \
    static inline U name(U a, U b, int rm, uint32_t *fl)                                           \
    {                                                                                              \
        T x, y;                                                                                    \
        uint32_t csr = mxcsr_for_rm[rm], saved = 0, after = 0;                                     \
        memcpy(&x, &a, sizeof x);                                                                  \
        memcpy(&y, &b, sizeof y);                                                                  \
        __asm__ volatile("stmxcsr %[saved]\n\t"                                                    \
                         "ldmxcsr %[csr]\n\t" insn " %[y], %[x]\n\t"                               \
                         "stmxcsr %[after]\n\t"                                                    \
                         "ldmxcsr %[saved]"                                                        \
                         : [x] "+x"(x), [saved] "+m"(saved), [after] "+m"(after)                   \
                         : [y] "x"(y), [csr] "m"(csr));                                            \
        *fl = mxcsr_flags(after);                                                                  \
        memcpy(&a, &x, sizeof a);                                                                  \
        return a;                                                                                  \
    }

HOST_OP2(host_addss, "addss", float, uint32_t)
HOST_OP2(host_subss, "subss", float, uint32_t)
HOST_OP2(host_mulss, "mulss", float, uint32_t)
HOST_OP2(host_divss, "divss", float, uint32_t)
HOST_OP2(host_sqrtss, "sqrtss", float, uint32_t) /* sqrt of the second operand */
HOST_OP2(host_addsd, "addsd", double, uint64_t)
HOST_OP2(host_subsd, "subsd", double, uint64_t)
HOST_OP2(host_mulsd, "mulsd", double, uint64_t)
HOST_OP2(host_divsd, "divsd", double, uint64_t)
HOST_OP2(host_sqrtsd, "sqrtsd", double, uint64_t)

/* c = a * b + c, fused (VEX-encoded FMA3; only called when host_fma). */
#define HOST_FMA(name, insn, T, U)                                                                 \
    static inline U name(U a, U b, U c, int rm, uint32_t *fl)                                      \
    {                                                                                              \
        T x, y, z;                                                                                 \
        uint32_t csr = mxcsr_for_rm[rm], saved = 0, after = 0;                                     \
        memcpy(&x, &a, sizeof x);                                                                  \
        memcpy(&y, &b, sizeof y);                                                                  \
        memcpy(&z, &c, sizeof z);                                                                  \
        __asm__ volatile("stmxcsr %[saved]\n\t"                                                    \
                         "ldmxcsr %[csr]\n\t" insn " %[y], %[x], %[z]\n\t"                         \
                         "stmxcsr %[after]\n\t"                                                    \
                         "ldmxcsr %[saved]"                                                        \
                         : [z] "+x"(z), [saved] "+m"(saved), [after] "+m"(after)                   \
                         : [x] "x"(x), [y] "x"(y), [csr] "m"(csr));                                \
        *fl = mxcsr_flags(after);                                                                  \
        memcpy(&c, &z, sizeof c);                                                                  \
        return c;                                                                                  \
    }

HOST_FMA(host_fmass, "vfmadd231ss", float, uint32_t)
HOST_FMA(host_fmasd, "vfmadd231sd", double, uint64_t)

#endif /* x86-64 */

int fpu_set_host_fastpath(int enable)
{
#ifdef HOST_FP
    host_fast = enable != 0;
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

static inline bool nan32(uint32_t r)
{
    return (r & ~SIGN32) > UINT32_C(0x7f800000);
}

static inline bool nan64(uint64_t r)
{
    return (r & ~SIGN64) > UINT64_C(0x7ff0000000000000);
}

/* Try the host instruction; keep its result unless it is a NaN. */
#ifdef HOST_FP
#define TRY_HOST(cond, call, isnan)                                                                \
    do {                                                                                           \
        if (cond) {                                                                                \
            uint32_t hfl;                                                                          \
            __typeof__(call) hr = call;                                                            \
            if (!isnan(hr)) {                                                                      \
                *flags |= hfl;                                                                     \
                return hr;                                                                         \
            }                                                                                      \
        }                                                                                          \
    } while (0)
#define HOST_FMA_OK(rm) (host_ok(rm) && host_fma)
#else
#define TRY_HOST(cond, call, isnan) ((void)0)
#endif

/* ---- binary32 ---- */

uint32_t f32_add(uint32_t a, uint32_t b, int rm, uint32_t *flags)
{
    TRY_HOST(host_ok(rm), host_addss(a, b, rm, &hfl), nan32);
    return (uint32_t)soft_add(a, b, 0, &FMT32, rm, flags);
}

uint32_t f32_sub(uint32_t a, uint32_t b, int rm, uint32_t *flags)
{
    TRY_HOST(host_ok(rm), host_subss(a, b, rm, &hfl), nan32);
    return (uint32_t)soft_add(a, b, 1, &FMT32, rm, flags);
}

uint32_t f32_mul(uint32_t a, uint32_t b, int rm, uint32_t *flags)
{
    TRY_HOST(host_ok(rm), host_mulss(a, b, rm, &hfl), nan32);
    return (uint32_t)soft_mul(a, b, &FMT32, rm, flags);
}

uint32_t f32_div(uint32_t a, uint32_t b, int rm, uint32_t *flags)
{
    TRY_HOST(host_ok(rm), host_divss(a, b, rm, &hfl), nan32);
    return (uint32_t)soft_div(a, b, &FMT32, rm, flags);
}

uint32_t f32_sqrt(uint32_t a, int rm, uint32_t *flags)
{
    TRY_HOST(host_ok(rm), host_sqrtss(a, a, rm, &hfl), nan32);
    return (uint32_t)soft_sqrt(a, &FMT32, rm, flags);
}

uint32_t f32_madd(uint32_t a, uint32_t b, uint32_t c, int rm, uint32_t *flags)
{
    TRY_HOST(HOST_FMA_OK(rm), host_fmass(a, b, c, rm, &hfl), nan32);
    return (uint32_t)soft_fma(a, b, c, 0, 0, &FMT32, rm, flags);
}

uint32_t f32_msub(uint32_t a, uint32_t b, uint32_t c, int rm, uint32_t *flags)
{
    TRY_HOST(HOST_FMA_OK(rm), host_fmass(a, b, c ^ SIGN32, rm, &hfl), nan32);
    return (uint32_t)soft_fma(a, b, c, 0, 1, &FMT32, rm, flags);
}

uint32_t f32_nmsub(uint32_t a, uint32_t b, uint32_t c, int rm, uint32_t *flags)
{
    TRY_HOST(HOST_FMA_OK(rm), host_fmass(a ^ SIGN32, b, c, rm, &hfl), nan32);
    return (uint32_t)soft_fma(a, b, c, 1, 0, &FMT32, rm, flags);
}

uint32_t f32_nmadd(uint32_t a, uint32_t b, uint32_t c, int rm, uint32_t *flags)
{
    TRY_HOST(HOST_FMA_OK(rm), host_fmass(a ^ SIGN32, b, c ^ SIGN32, rm, &hfl), nan32);
    return (uint32_t)soft_fma(a, b, c, 1, 1, &FMT32, rm, flags);
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
    TRY_HOST(host_ok(rm), host_addsd(a, b, rm, &hfl), nan64);
    return soft_add(a, b, 0, &FMT64, rm, flags);
}

uint64_t f64_sub(uint64_t a, uint64_t b, int rm, uint32_t *flags)
{
    TRY_HOST(host_ok(rm), host_subsd(a, b, rm, &hfl), nan64);
    return soft_add(a, b, 1, &FMT64, rm, flags);
}

uint64_t f64_mul(uint64_t a, uint64_t b, int rm, uint32_t *flags)
{
    TRY_HOST(host_ok(rm), host_mulsd(a, b, rm, &hfl), nan64);
    return soft_mul(a, b, &FMT64, rm, flags);
}

uint64_t f64_div(uint64_t a, uint64_t b, int rm, uint32_t *flags)
{
    TRY_HOST(host_ok(rm), host_divsd(a, b, rm, &hfl), nan64);
    return soft_div(a, b, &FMT64, rm, flags);
}

uint64_t f64_sqrt(uint64_t a, int rm, uint32_t *flags)
{
    TRY_HOST(host_ok(rm), host_sqrtsd(a, a, rm, &hfl), nan64);
    return soft_sqrt(a, &FMT64, rm, flags);
}

uint64_t f64_madd(uint64_t a, uint64_t b, uint64_t c, int rm, uint32_t *flags)
{
    TRY_HOST(HOST_FMA_OK(rm), host_fmasd(a, b, c, rm, &hfl), nan64);
    return soft_fma(a, b, c, 0, 0, &FMT64, rm, flags);
}

uint64_t f64_msub(uint64_t a, uint64_t b, uint64_t c, int rm, uint32_t *flags)
{
    TRY_HOST(HOST_FMA_OK(rm), host_fmasd(a, b, c ^ SIGN64, rm, &hfl), nan64);
    return soft_fma(a, b, c, 0, 1, &FMT64, rm, flags);
}

uint64_t f64_nmsub(uint64_t a, uint64_t b, uint64_t c, int rm, uint32_t *flags)
{
    TRY_HOST(HOST_FMA_OK(rm), host_fmasd(a ^ SIGN64, b, c, rm, &hfl), nan64);
    return soft_fma(a, b, c, 1, 0, &FMT64, rm, flags);
}

uint64_t f64_nmadd(uint64_t a, uint64_t b, uint64_t c, int rm, uint32_t *flags)
{
    TRY_HOST(HOST_FMA_OK(rm), host_fmasd(a ^ SIGN64, b, c ^ SIGN64, rm, &hfl), nan64);
    return soft_fma(a, b, c, 1, 1, &FMT64, rm, flags);
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
