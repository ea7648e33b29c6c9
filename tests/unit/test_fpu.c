/*
 * test_fpu.c - unit tests of the RISC-V F/D arithmetic (src/cpu/fpu.c).
 *
 * usage: test_fpu [fpu_vectors.txt [random-iterations]]
 *
 *   1. hand-written vectors worked out from the ISA and IEEE 754;
 *   2. every line of fpu_vectors.txt (real RISC-V instructions run by QEMU,
 *      see fpu_vectors/README), when given;
 *   3. host fast paths against the software path on pseudo-random operands
 *      (x86-64 only; default 10000 per op and rounding mode);
 *   4. the caller's MXCSR (rounding mode, flags, DAZ/FTZ) does not change any
 *      result, and the FPU leaves MXCSR at the default 0x1f80 (x86-64 only).
 * Parts 1 to 3 run with all host fast paths, with those that need no FMA3,
 * and (1 and 2) with software only.
 * Each check also verifies that flags already set in *flags are kept.
 *
 * Prints every failure (the first 50 of each part) and returns 1 if any.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/fpu.h"
#include "fpu_vectors/fpu_gen.h"
#include "fpu_vectors/fpu_ops.h"

FPU_OPS(FPU_DEF_SW)

struct op {
    const char *name;
    int kind, in, out;
    fpu_op_fn fn;
};

#define OP_ENTRY(n, k, i, o, insn) {#n, FPU_K_##k, FPU_TY_##i, FPU_TY_##o, sw_##n},
static const struct op ops[] = {FPU_OPS(OP_ENTRY)};
#define NOPS (sizeof ops / sizeof ops[0])

static const struct op *find_op(const char *name)
{
    for (size_t i = 0; i < NOPS; i++)
        if (!strcmp(ops[i].name, name)) return &ops[i];
    return NULL;
}

static const char *const rm_name[] = {"rne", "rtz", "rdn", "rup", "rmm"};

static unsigned long n_checks, n_fail, part_fail;
static const char *mode_name = "";

static void print_case(const struct op *o, int rm, const uint64_t v[3])
{
    printf("%s %s", o->name, fpu_kind_has_rm(o->kind) ? rm_name[rm] : "-");
    for (int i = 0; i < fpu_kind_nargs(o->kind); i++)
        printf(" %0*" PRIx64, fpu_ty_is64(o->in) ? 16 : 8, v[i]);
}

/* Run op and compare with the expected result and flags. */
static void check(const char *src, const struct op *o, int rm, const uint64_t v[3], uint64_t want,
                  uint32_t want_fl)
{
    uint32_t fl = 0, fl2 = FPU_NV | FPU_NX;
    uint64_t got = o->fn(v[0], v[1], v[2], rm, &fl);
    uint64_t got2 = o->fn(v[0], v[1], v[2], rm, &fl2);

    n_checks++;
    if (got == want && fl == want_fl && got2 == want && fl2 == (want_fl | FPU_NV | FPU_NX)) return;
    n_fail++;
    if (++part_fail > 50) return;
    printf("FAIL [%s%s] ", src, mode_name);
    print_case(o, rm, v);
    printf(": expected %" PRIx64 " flags %02x, got %" PRIx64 " flags %02x", want, want_fl, got, fl);
    if (got2 != got || fl2 != (fl | FPU_NV | FPU_NX))
        printf(" (with NV|NX preset: %" PRIx64 " flags %02x)", got2, fl2);
    printf("\n");
}

/* ------------------------------------------------------------------------ */
/* 1. hand-written vectors                                                  */
/* ------------------------------------------------------------------------ */

#define ALL -1 /* same result in every rounding mode */
#define NX  FPU_NX
#define UF  FPU_UF
#define OF  FPU_OF
#define DZ  FPU_DZ
#define NV  FPU_NV

/* binary32 */
#define S_0    0x00000000u
#define S_N0   0x80000000u
#define S_1    0x3f800000u
#define S_N1   0xbf800000u
#define S_2    0x40000000u
#define S_N2   0xc0000000u
#define S_3    0x40400000u
#define S_HALF 0x3f000000u
#define S_INF  0x7f800000u
#define S_NINF 0xff800000u
#define S_QNAN 0x7fc00000u
#define S_SNAN 0x7f800001u
#define S_MAX  0x7f7fffffu
#define S_NMAX 0xff7fffffu
#define S_MINN 0x00800000u
#define S_MINS 0x00000001u
#define S_MAXS 0x007fffffu
/* binary64 */
#define D_0    0x0000000000000000ull
#define D_N0   0x8000000000000000ull
#define D_1    0x3ff0000000000000ull
#define D_N1   0xbff0000000000000ull
#define D_2    0x4000000000000000ull
#define D_3    0x4008000000000000ull
#define D_HALF 0x3fe0000000000000ull
#define D_INF  0x7ff0000000000000ull
#define D_NINF 0xfff0000000000000ull
#define D_QNAN 0x7ff8000000000000ull
#define D_SNAN 0x7ff0000000000001ull
#define D_MAX  0x7fefffffffffffffull
#define D_NMAX 0xffefffffffffffffull
#define D_MINN 0x0010000000000000ull
#define D_MINS 0x0000000000000001ull
#define D_MAXS 0x000fffffffffffffull

struct hv {
    const char *op;
    int rm;
    uint64_t a, b, c, r;
    uint32_t fl;
};

/* clang-format off */
static const struct hv hand[] = {
    /* ---- add/sub: exact, ties in every mode, signed zeros, NaNs, overflow ---- */
    {"f32_add", ALL, S_1, S_2, 0, S_3, 0},
    {"f32_add", 0, S_1, 0x33800000, 0, S_1, NX},                 /* 1 + 2^-24: tie, even is 1 */
    {"f32_add", 1, S_1, 0x33800000, 0, S_1, NX},
    {"f32_add", 2, S_1, 0x33800000, 0, S_1, NX},
    {"f32_add", 3, S_1, 0x33800000, 0, 0x3f800001, NX},
    {"f32_add", 4, S_1, 0x33800000, 0, 0x3f800001, NX},          /* RMM: away */
    {"f32_add", 0, 0x3f800001, 0x33800000, 0, 0x3f800002, NX},   /* tie, odd below */
    {"f32_add", 1, 0x3f800001, 0x33800000, 0, 0x3f800001, NX},
    {"f32_add", 2, 0x3f800001, 0x33800000, 0, 0x3f800001, NX},
    {"f32_add", 3, 0x3f800001, 0x33800000, 0, 0x3f800002, NX},
    {"f32_add", 4, 0x3f800001, 0x33800000, 0, 0x3f800002, NX},
    {"f32_add", 0, S_N1, 0xb3800000, 0, S_N1, NX},               /* -1 - 2^-24 */
    {"f32_add", 1, S_N1, 0xb3800000, 0, S_N1, NX},
    {"f32_add", 2, S_N1, 0xb3800000, 0, 0xbf800001, NX},
    {"f32_add", 3, S_N1, 0xb3800000, 0, S_N1, NX},
    {"f32_add", 4, S_N1, 0xb3800000, 0, 0xbf800001, NX},
    {"f32_add", 0, S_1, S_N1, 0, S_0, 0},                        /* exact zero: +0 ... */
    {"f32_add", 1, S_1, S_N1, 0, S_0, 0},
    {"f32_add", 2, S_1, S_N1, 0, S_N0, 0},                       /* ... except in RDN */
    {"f32_add", 3, S_1, S_N1, 0, S_0, 0},
    {"f32_add", 4, S_1, S_N1, 0, S_0, 0},
    {"f32_add", ALL, S_N0, S_N0, 0, S_N0, 0},
    {"f32_add", 0, S_0, S_N0, 0, S_0, 0},
    {"f32_add", 1, S_0, S_N0, 0, S_0, 0},
    {"f32_add", 2, S_0, S_N0, 0, S_N0, 0},
    {"f32_add", 3, S_0, S_N0, 0, S_0, 0},
    {"f32_add", 4, S_0, S_N0, 0, S_0, 0},
    {"f32_add", ALL, S_N0, S_MINS, 0, S_MINS, 0},
    {"f32_add", ALL, S_INF, S_NINF, 0, S_QNAN, NV},
    {"f32_add", ALL, S_INF, S_1, 0, S_INF, 0},
    {"f32_add", ALL, S_NINF, S_NINF, 0, S_NINF, 0},
    {"f32_add", ALL, 0x7fc00123, S_1, 0, S_QNAN, 0},             /* no payload propagation */
    {"f32_add", ALL, 0xffc00000, S_1, 0, S_QNAN, 0},             /* canonical NaN is positive */
    {"f32_add", ALL, S_SNAN, S_1, 0, S_QNAN, NV},
    {"f32_add", ALL, S_1, 0xff800005, 0, S_QNAN, NV},
    {"f32_add", ALL, S_SNAN, S_INF, 0, S_QNAN, NV},
    {"f32_add", 0, S_MAX, S_MAX, 0, S_INF, OF | NX},
    {"f32_add", 1, S_MAX, S_MAX, 0, S_MAX, OF | NX},
    {"f32_add", 2, S_MAX, S_MAX, 0, S_MAX, OF | NX},
    {"f32_add", 3, S_MAX, S_MAX, 0, S_INF, OF | NX},
    {"f32_add", 4, S_MAX, S_MAX, 0, S_INF, OF | NX},
    {"f32_add", 0, S_NMAX, S_NMAX, 0, S_NINF, OF | NX},
    {"f32_add", 1, S_NMAX, S_NMAX, 0, S_NMAX, OF | NX},
    {"f32_add", 2, S_NMAX, S_NMAX, 0, S_NINF, OF | NX},
    {"f32_add", 3, S_NMAX, S_NMAX, 0, S_NMAX, OF | NX},
    {"f32_add", 4, S_NMAX, S_NMAX, 0, S_NINF, OF | NX},
    {"f32_add", 0, S_MAX, S_1, 0, S_MAX, NX},                    /* far below half an ulp */
    {"f32_add", 1, S_MAX, S_1, 0, S_MAX, NX},
    {"f32_add", 2, S_MAX, S_1, 0, S_MAX, NX},
    {"f32_add", 3, S_MAX, S_1, 0, S_INF, OF | NX},               /* RUP still overflows */
    {"f32_add", 4, S_MAX, S_1, 0, S_MAX, NX},
    {"f32_add", ALL, S_MINS, S_MINS, 0, 0x00000002, 0},          /* exact subnormal: no UF */
    {"f32_add", ALL, S_MINN, 0x80000001, 0, S_MAXS, 0},
    {"f32_sub", ALL, S_3, S_1, 0, S_2, 0},
    {"f32_sub", 0, S_1, S_1, 0, S_0, 0},
    {"f32_sub", 2, S_1, S_1, 0, S_N0, 0},
    {"f32_sub", 0, S_0, S_0, 0, S_0, 0},
    {"f32_sub", 2, S_0, S_0, 0, S_N0, 0},
    {"f32_sub", ALL, S_N0, S_0, 0, S_N0, 0},
    {"f32_sub", ALL, S_INF, S_INF, 0, S_QNAN, NV},
    {"f32_sub", ALL, S_INF, S_NINF, 0, S_INF, 0},
    {"f64_add", 0, D_1, 0x3ca0000000000000, 0, D_1, NX},         /* 1 + 2^-53 */
    {"f64_add", 1, D_1, 0x3ca0000000000000, 0, D_1, NX},
    {"f64_add", 2, D_1, 0x3ca0000000000000, 0, D_1, NX},
    {"f64_add", 3, D_1, 0x3ca0000000000000, 0, 0x3ff0000000000001, NX},
    {"f64_add", 4, D_1, 0x3ca0000000000000, 0, 0x3ff0000000000001, NX},
    {"f64_add", 0, D_MAX, D_MAX, 0, D_INF, OF | NX},
    {"f64_add", 1, D_MAX, D_MAX, 0, D_MAX, OF | NX},
    {"f64_add", 2, D_NMAX, D_NMAX, 0, D_NINF, OF | NX},
    {"f64_add", 3, D_NMAX, D_NMAX, 0, D_NMAX, OF | NX},
    {"f64_add", 2, D_1, D_N1, 0, D_N0, 0},
    {"f64_add", 0, D_1, D_N1, 0, D_0, 0},
    {"f64_add", ALL, D_INF, D_NINF, 0, D_QNAN, NV},
    {"f64_add", ALL, 0x7ff8000000000123, D_1, 0, D_QNAN, 0},
    {"f64_add", ALL, D_SNAN, D_1, 0, D_QNAN, NV},
    {"f64_add", ALL, D_MINS, D_MINS, 0, 0x0000000000000002, 0},
    {"f64_sub", ALL, 0x3ff0000000000001, D_1, 0, 0x3cb0000000000000, 0},
    {"f64_sub", 2, D_0, D_0, 0, D_N0, 0},
    {"f64_sub", 4, D_0, D_0, 0, D_0, 0},

    /* ---- mul: underflow with tininess after rounding, overflow ---- */
    {"f32_mul", ALL, 0x3fc00000, 0x3fc00000, 0, 0x40100000, 0},  /* 1.5 * 1.5 */
    {"f32_mul", ALL, S_MINN, S_HALF, 0, 0x00400000, 0},          /* tiny but exact: no UF */
    {"f32_mul", 0, S_MINS, S_HALF, 0, S_0, UF | NX},             /* 2^-150: tie */
    {"f32_mul", 1, S_MINS, S_HALF, 0, S_0, UF | NX},
    {"f32_mul", 2, S_MINS, S_HALF, 0, S_0, UF | NX},
    {"f32_mul", 3, S_MINS, S_HALF, 0, S_MINS, UF | NX},
    {"f32_mul", 4, S_MINS, S_HALF, 0, S_MINS, UF | NX},
    {"f32_mul", 0, 0x80000001, S_HALF, 0, S_N0, UF | NX},
    {"f32_mul", 1, 0x80000001, S_HALF, 0, S_N0, UF | NX},
    {"f32_mul", 2, 0x80000001, S_HALF, 0, 0x80000001, UF | NX},
    {"f32_mul", 3, 0x80000001, S_HALF, 0, S_N0, UF | NX},
    {"f32_mul", 4, 0x80000001, S_HALF, 0, 0x80000001, UF | NX},
    /* (1 - 2^-24) * 2^-126 = 2^-126 - 2^-150: 24 significant bits, so tiny even
     * after rounding; as a subnormal it is a tie between maxsub and minnorm. */
    {"f32_mul", 0, 0x3f7fffff, S_MINN, 0, S_MINN, UF | NX},
    {"f32_mul", 1, 0x3f7fffff, S_MINN, 0, S_MAXS, UF | NX},
    {"f32_mul", 2, 0x3f7fffff, S_MINN, 0, S_MAXS, UF | NX},
    {"f32_mul", 3, 0x3f7fffff, S_MINN, 0, S_MINN, UF | NX},
    {"f32_mul", 4, 0x3f7fffff, S_MINN, 0, S_MINN, UF | NX},
    {"f32_mul", 0, S_MAX, S_2, 0, S_INF, OF | NX},
    {"f32_mul", 1, S_MAX, S_2, 0, S_MAX, OF | NX},
    {"f32_mul", 2, S_MAX, S_2, 0, S_MAX, OF | NX},
    {"f32_mul", 3, S_MAX, S_2, 0, S_INF, OF | NX},
    {"f32_mul", 4, S_MAX, S_2, 0, S_INF, OF | NX},
    {"f32_mul", 2, S_MAX, S_N2, 0, S_NINF, OF | NX},
    {"f32_mul", 3, S_MAX, S_N2, 0, S_NMAX, OF | NX},
    {"f32_mul", ALL, S_0, S_INF, 0, S_QNAN, NV},
    {"f32_mul", ALL, S_NINF, S_N0, 0, S_QNAN, NV},
    {"f32_mul", ALL, S_N0, 0x40a00000, 0, S_N0, 0},
    {"f32_mul", ALL, S_N1, S_NINF, 0, S_INF, 0},
    {"f32_mul", ALL, S_QNAN, S_0, 0, S_QNAN, 0},
    {"f64_mul", ALL, 0x3ff8000000000000, 0x3ff8000000000000, 0, 0x4002000000000000, 0},
    {"f64_mul", 0, 0x3fefffffffffffff, D_MINN, 0, D_MINN, UF | NX},
    {"f64_mul", 1, 0x3fefffffffffffff, D_MINN, 0, D_MAXS, UF | NX},
    {"f64_mul", 2, 0x3fefffffffffffff, D_MINN, 0, D_MAXS, UF | NX},
    {"f64_mul", 3, 0x3fefffffffffffff, D_MINN, 0, D_MINN, UF | NX},
    {"f64_mul", 4, 0x3fefffffffffffff, D_MINN, 0, D_MINN, UF | NX},
    {"f64_mul", 0, D_MINS, D_HALF, 0, D_0, UF | NX},
    {"f64_mul", 3, D_MINS, D_HALF, 0, D_MINS, UF | NX},
    {"f64_mul", 4, D_MINS, D_HALF, 0, D_MINS, UF | NX},
    {"f64_mul", 0, D_MAX, D_2, 0, D_INF, OF | NX},
    {"f64_mul", 1, D_MAX, D_2, 0, D_MAX, OF | NX},
    {"f64_mul", ALL, D_SNAN, D_1, 0, D_QNAN, NV},
    {"f64_mul", ALL, D_INF, D_0, 0, D_QNAN, NV},

    /* ---- div ---- */
    {"f32_div", 0, S_1, S_3, 0, 0x3eaaaaab, NX},
    {"f32_div", 1, S_1, S_3, 0, 0x3eaaaaaa, NX},
    {"f32_div", 2, S_1, S_3, 0, 0x3eaaaaaa, NX},
    {"f32_div", 3, S_1, S_3, 0, 0x3eaaaaab, NX},
    {"f32_div", 4, S_1, S_3, 0, 0x3eaaaaab, NX},
    {"f32_div", 0, S_N1, S_3, 0, 0xbeaaaaab, NX},
    {"f32_div", 1, S_N1, S_3, 0, 0xbeaaaaaa, NX},
    {"f32_div", 2, S_N1, S_3, 0, 0xbeaaaaab, NX},
    {"f32_div", 3, S_N1, S_3, 0, 0xbeaaaaaa, NX},
    {"f32_div", 4, S_N1, S_3, 0, 0xbeaaaaab, NX},
    {"f32_div", ALL, 0x40c00000, S_3, 0, S_2, 0},
    {"f32_div", ALL, S_1, S_0, 0, S_INF, DZ},
    {"f32_div", ALL, S_N1, S_0, 0, S_NINF, DZ},
    {"f32_div", ALL, S_1, S_N0, 0, S_NINF, DZ},
    {"f32_div", ALL, S_MINS, S_0, 0, S_INF, DZ},
    {"f32_div", ALL, S_0, S_0, 0, S_QNAN, NV},
    {"f32_div", ALL, S_INF, S_NINF, 0, S_QNAN, NV},
    {"f32_div", ALL, S_INF, S_0, 0, S_INF, 0},                    /* exact: no DZ */
    {"f32_div", ALL, S_0, S_INF, 0, S_0, 0},
    {"f32_div", ALL, S_N1, S_INF, 0, S_N0, 0},
    {"f32_div", ALL, S_QNAN, S_0, 0, S_QNAN, 0},
    {"f32_div", ALL, S_SNAN, S_0, 0, S_QNAN, NV},
    {"f32_div", 0, S_MAX, S_HALF, 0, S_INF, OF | NX},
    {"f32_div", 1, S_MAX, S_HALF, 0, S_MAX, OF | NX},
    {"f32_div", 0, S_MINS, S_2, 0, S_0, UF | NX},
    {"f32_div", 3, S_MINS, S_2, 0, S_MINS, UF | NX},
    {"f64_div", 0, D_1, D_3, 0, 0x3fd5555555555555, NX},
    {"f64_div", 1, D_1, D_3, 0, 0x3fd5555555555555, NX},
    {"f64_div", 2, D_1, D_3, 0, 0x3fd5555555555555, NX},
    {"f64_div", 3, D_1, D_3, 0, 0x3fd5555555555556, NX},
    {"f64_div", 4, D_1, D_3, 0, 0x3fd5555555555555, NX},
    {"f64_div", ALL, D_1, D_0, 0, D_INF, DZ},
    {"f64_div", ALL, D_N0, D_0, 0, D_QNAN, NV},
    {"f64_div", ALL, D_INF, D_INF, 0, D_QNAN, NV},

    /* ---- sqrt ---- */
    {"f32_sqrt", ALL, 0x40800000, 0, 0, S_2, 0},
    {"f32_sqrt", ALL, 0x40100000, 0, 0, 0x3fc00000, 0},
    {"f32_sqrt", 0, S_2, 0, 0, 0x3fb504f3, NX},
    {"f32_sqrt", 1, S_2, 0, 0, 0x3fb504f3, NX},
    {"f32_sqrt", 2, S_2, 0, 0, 0x3fb504f3, NX},
    {"f32_sqrt", 3, S_2, 0, 0, 0x3fb504f4, NX},
    {"f32_sqrt", 4, S_2, 0, 0, 0x3fb504f3, NX},
    {"f32_sqrt", 0, S_MINS, 0, 0, 0x1a3504f3, NX},
    {"f32_sqrt", 3, S_MINS, 0, 0, 0x1a3504f4, NX},
    {"f32_sqrt", ALL, S_0, 0, 0, S_0, 0},
    {"f32_sqrt", ALL, S_N0, 0, 0, S_N0, 0},
    {"f32_sqrt", ALL, S_N1, 0, 0, S_QNAN, NV},
    {"f32_sqrt", ALL, 0x80000001, 0, 0, S_QNAN, NV},
    {"f32_sqrt", ALL, S_NINF, 0, 0, S_QNAN, NV},
    {"f32_sqrt", ALL, S_INF, 0, 0, S_INF, 0},
    {"f32_sqrt", ALL, 0xffc00000, 0, 0, S_QNAN, 0},
    {"f32_sqrt", ALL, S_SNAN, 0, 0, S_QNAN, NV},
    {"f64_sqrt", 0, D_2, 0, 0, 0x3ff6a09e667f3bcd, NX},
    {"f64_sqrt", 1, D_2, 0, 0, 0x3ff6a09e667f3bcc, NX},
    {"f64_sqrt", 2, D_2, 0, 0, 0x3ff6a09e667f3bcc, NX},
    {"f64_sqrt", 3, D_2, 0, 0, 0x3ff6a09e667f3bcd, NX},
    {"f64_sqrt", 4, D_2, 0, 0, 0x3ff6a09e667f3bcd, NX},
    {"f64_sqrt", ALL, 0x4010000000000000, 0, 0, D_2, 0},
    {"f64_sqrt", ALL, D_MINS, 0, 0, 0x1e60000000000000, 0},      /* sqrt(2^-1074) = 2^-537 */
    {"f64_sqrt", ALL, D_N0, 0, 0, D_N0, 0},
    {"f64_sqrt", ALL, D_N1, 0, 0, D_QNAN, NV},
    {"f64_sqrt", ALL, D_SNAN, 0, 0, D_QNAN, NV},

    /* ---- fused multiply-add ---- */
    {"f32_madd", ALL, S_1, S_1, S_1, S_2, 0},
    /* (1 + 2^-12)^2 - 1 = 2^-11 + 2^-24 exactly; rounding the product first would give 2^-11 */
    {"f32_madd", ALL, 0x3f800800, 0x3f800800, S_N1, 0x3a000400, 0},
    {"f32_madd", ALL, S_MAX, S_2, 0xff7fffff, S_MAX, 0},         /* 2max - max: no overflow */
    {"f32_madd", ALL, S_MINN, S_1, 0x80000001, S_MAXS, 0},
    {"f32_madd", ALL, S_INF, S_0, S_QNAN, S_QNAN, NV},           /* inf*0 + qNaN raises NV */
    {"f32_madd", ALL, S_0, S_NINF, 0x7fc00042, S_QNAN, NV},
    {"f32_madd", ALL, S_INF, S_0, S_1, S_QNAN, NV},
    {"f32_madd", ALL, S_QNAN, S_INF, S_0, S_QNAN, 0},
    {"f32_madd", ALL, S_1, S_QNAN, S_1, S_QNAN, 0},
    {"f32_madd", ALL, S_1, S_1, S_SNAN, S_QNAN, NV},
    {"f32_madd", ALL, S_SNAN, S_1, S_1, S_QNAN, NV},
    {"f32_madd", ALL, S_INF, S_1, S_NINF, S_QNAN, NV},
    {"f32_madd", ALL, S_INF, S_1, S_INF, S_INF, 0},
    {"f32_madd", ALL, S_INF, S_N1, S_1, S_NINF, 0},
    {"f32_madd", ALL, S_1, S_1, S_NINF, S_NINF, 0},
    {"f32_madd", 0, S_1, S_1, S_N1, S_0, 0},
    {"f32_madd", 2, S_1, S_1, S_N1, S_N0, 0},
    {"f32_madd", 0, S_0, S_1, S_N0, S_0, 0},
    {"f32_madd", 1, S_0, S_1, S_N0, S_0, 0},
    {"f32_madd", 2, S_0, S_1, S_N0, S_N0, 0},
    {"f32_madd", 3, S_0, S_1, S_N0, S_0, 0},
    {"f32_madd", 4, S_0, S_1, S_N0, S_0, 0},
    {"f32_madd", ALL, S_N0, S_1, S_N0, S_N0, 0},
    {"f32_madd", 0, S_N0, S_1, S_0, S_0, 0},
    {"f32_madd", 2, S_N0, S_1, S_0, S_N0, 0},
    {"f32_madd", ALL, S_0, S_1, S_N1, S_N1, 0},
    {"f32_madd", 0, 0x3f7fffff, S_MINN, S_N0, S_MINN, UF | NX},
    {"f32_madd", 1, 0x3f7fffff, S_MINN, S_N0, S_MAXS, UF | NX},
    {"f32_madd", 0, S_MAX, S_MAX, S_NINF, S_NINF, 0},
    {"f32_madd", 0, S_MAX, S_2, S_1, S_INF, OF | NX},
    {"f32_msub", ALL, S_1, S_2, S_3, S_N1, 0},
    {"f32_msub", 0, S_0, S_1, S_0, S_0, 0},
    {"f32_msub", 2, S_0, S_1, S_0, S_N0, 0},
    {"f32_msub", ALL, S_N0, S_1, S_0, S_N0, 0},
    {"f32_msub", ALL, S_INF, S_1, S_INF, S_QNAN, NV},
    {"f32_nmsub", ALL, S_1, S_2, S_3, S_1, 0},
    {"f32_nmsub", 0, S_0, S_1, S_0, S_0, 0},
    {"f32_nmsub", 2, S_0, S_1, S_0, S_N0, 0},
    {"f32_nmsub", ALL, S_INF, S_1, S_INF, S_QNAN, NV},
    {"f32_nmadd", ALL, S_1, S_2, S_3, 0xc0a00000, 0},
    {"f32_nmadd", ALL, S_0, S_1, S_0, S_N0, 0},
    {"f32_nmadd", ALL, S_INF, S_1, S_NINF, S_QNAN, NV},
    {"f32_nmadd", ALL, S_0, S_INF, S_QNAN, S_QNAN, NV},
    /* -(x*1) - 2^-30 with x = 0x3eaaaaab: the negation is inside the rounding */
    {"f32_nmadd", 0, S_1, 0x3eaaaaab, 0x30800000, 0xbeaaaaab, NX},
    {"f32_nmadd", 1, S_1, 0x3eaaaaab, 0x30800000, 0xbeaaaaab, NX},
    {"f32_nmadd", 2, S_1, 0x3eaaaaab, 0x30800000, 0xbeaaaaac, NX},
    {"f32_nmadd", 3, S_1, 0x3eaaaaab, 0x30800000, 0xbeaaaaab, NX},
    {"f32_nmadd", 4, S_1, 0x3eaaaaab, 0x30800000, 0xbeaaaaab, NX},
    {"f32_nmsub", 2, S_1, 0x3eaaaaab, 0xb0800000, 0xbeaaaaac, NX},
    /* (1 + 2^-13)(1 - 2^-12) = 1 - 2^-13 - 2^-25 is a binary32 midpoint; +-2^-80
     * decides the rounding.  A binary64 intermediate would land on the midpoint
     * and round to even (0x3f7ff800) in both cases. */
    {"f32_madd", 0, 0x3f800400, 0x3f7ff000, 0x97800000, 0x3f7ff7ff, NX},
    {"f32_madd", 0, 0x3f800400, 0x3f7ff000, 0x17800000, 0x3f7ff800, NX},
    {"f32_madd", 4, 0x3f800400, 0x3f7ff000, 0x97800000, 0x3f7ff7ff, NX},
    {"f32_madd", 1, 0x3f800400, 0x3f7ff000, 0x97800000, 0x3f7ff7ff, NX},
    {"f32_madd", 3, 0x3f800400, 0x3f7ff000, 0x17800000, 0x3f7ff800, NX},
    {"f32_nmsub", 3, S_1, 0x3eaaaaab, 0xb0800000, 0xbeaaaaab, NX},
    /* (1 + 2^-27)^2 - 1 = 2^-26 + 2^-54 exactly */
    {"f64_madd", ALL, 0x3ff0000002000000, 0x3ff0000002000000, D_N1, 0x3e50000001000000, 0},
    /* (1 + 2^-52)^2 - (1 + 2^-51) = 2^-104: massive cancellation */
    {"f64_madd", ALL, 0x3ff0000000000001, 0x3ff0000000000001, 0xbff0000000000002,
     0x3970000000000000, 0},
    {"f64_madd", ALL, D_MAX, D_2, D_NMAX, D_MAX, 0},
    {"f64_madd", ALL, D_INF, D_0, D_QNAN, D_QNAN, NV},
    {"f64_madd", ALL, D_1, D_1, D_SNAN, D_QNAN, NV},
    {"f64_madd", 0, D_1, D_1, D_N1, D_0, 0},
    {"f64_madd", 2, D_1, D_1, D_N1, D_N0, 0},
    {"f64_madd", 0, 0x3fefffffffffffff, D_MINN, D_0, D_MINN, UF | NX},
    {"f64_madd", 2, 0x3fefffffffffffff, D_MINN, D_0, D_MAXS, UF | NX},
    {"f64_msub", ALL, D_1, D_2, D_3, D_N1, 0},
    {"f64_nmsub", ALL, D_1, D_2, D_3, D_1, 0},
    {"f64_nmadd", ALL, D_1, D_2, D_3, 0xc014000000000000, 0},
    {"f64_nmadd", ALL, D_0, D_1, D_0, D_N0, 0},

    /* ---- min/max (minimumNumber/maximumNumber, -0 < +0) ---- */
    {"f32_min", ALL, S_1, S_2, 0, S_1, 0},
    {"f32_max", ALL, S_1, S_2, 0, S_2, 0},
    {"f32_min", ALL, S_N0, S_0, 0, S_N0, 0},
    {"f32_min", ALL, S_0, S_N0, 0, S_N0, 0},
    {"f32_max", ALL, S_N0, S_0, 0, S_0, 0},
    {"f32_max", ALL, S_0, S_N0, 0, S_0, 0},
    {"f32_min", ALL, S_QNAN, S_1, 0, S_1, 0},
    {"f32_min", ALL, S_1, 0x7fc00042, 0, S_1, 0},
    {"f32_min", ALL, S_SNAN, S_1, 0, S_1, NV},
    {"f32_max", ALL, S_1, S_SNAN, 0, S_1, NV},
    {"f32_min", ALL, S_QNAN, S_QNAN, 0, S_QNAN, 0},
    {"f32_min", ALL, S_SNAN, S_QNAN, 0, S_QNAN, NV},
    {"f32_max", ALL, 0xffc00001, 0xffc00000, 0, S_QNAN, 0},
    {"f32_max", ALL, S_NINF, S_QNAN, 0, S_NINF, 0},
    {"f32_min", ALL, S_N1, S_N2, 0, S_N2, 0},
    {"f32_max", ALL, S_N1, S_N2, 0, S_N1, 0},
    {"f32_min", ALL, S_NINF, S_INF, 0, S_NINF, 0},
    {"f32_max", ALL, S_NINF, S_INF, 0, S_INF, 0},
    {"f32_min", ALL, S_MINS, 0x80000001, 0, 0x80000001, 0},
    {"f64_min", ALL, D_N0, D_0, 0, D_N0, 0},
    {"f64_max", ALL, D_N0, D_0, 0, D_0, 0},
    {"f64_min", ALL, D_QNAN, D_N1, 0, D_N1, 0},
    {"f64_max", ALL, D_SNAN, D_N1, 0, D_N1, NV},
    {"f64_max", ALL, D_SNAN, D_SNAN, 0, D_QNAN, NV},
    {"f64_min", ALL, D_1, D_2, 0, D_1, 0},
    {"f64_max", ALL, D_NINF, D_MAX, 0, D_MAX, 0},

    /* ---- comparisons ---- */
    {"f32_eq", ALL, S_1, S_1, 0, 1, 0},
    {"f32_eq", ALL, S_1, S_2, 0, 0, 0},
    {"f32_eq", ALL, S_0, S_N0, 0, 1, 0},
    {"f32_eq", ALL, S_QNAN, S_QNAN, 0, 0, 0},                   /* quiet */
    {"f32_eq", ALL, S_SNAN, S_1, 0, 0, NV},
    {"f32_eq", ALL, S_1, S_SNAN, 0, 0, NV},
    {"f32_lt", ALL, S_QNAN, S_1, 0, 0, NV},                     /* signaling */
    {"f32_le", ALL, S_1, S_QNAN, 0, 0, NV},
    {"f32_lt", ALL, S_N0, S_0, 0, 0, 0},
    {"f32_le", ALL, S_N0, S_0, 0, 1, 0},
    {"f32_le", ALL, S_0, S_N0, 0, 1, 0},
    {"f32_lt", ALL, S_N1, S_1, 0, 1, 0},
    {"f32_lt", ALL, S_1, S_N1, 0, 0, 0},
    {"f32_lt", ALL, S_N2, S_N1, 0, 1, 0},
    {"f32_lt", ALL, S_N1, S_N2, 0, 0, 0},
    {"f32_le", ALL, S_N1, S_N1, 0, 1, 0},
    {"f32_lt", ALL, S_NINF, S_INF, 0, 1, 0},
    {"f32_lt", ALL, S_MINS, S_MINN, 0, 1, 0},
    {"f32_le", ALL, S_INF, S_INF, 0, 1, 0},
    {"f32_lt", ALL, S_INF, S_INF, 0, 0, 0},
    {"f32_le", ALL, S_2, S_1, 0, 0, 0},
    {"f64_eq", ALL, D_0, D_N0, 0, 1, 0},
    {"f64_eq", ALL, D_QNAN, D_1, 0, 0, 0},
    {"f64_eq", ALL, D_SNAN, D_1, 0, 0, NV},
    {"f64_lt", ALL, D_QNAN, D_1, 0, 0, NV},
    {"f64_lt", ALL, D_N0, D_0, 0, 0, 0},
    {"f64_le", ALL, 0xc000000000000000, D_N1, 0, 1, 0},
    {"f64_le", ALL, D_N1, 0xc000000000000000, 0, 0, 0},
    {"f64_lt", ALL, D_MINS, D_0, 0, 0, 0},

    /* ---- classify: one of each class ---- */
    {"f32_classify", ALL, S_NINF, 0, 0, 1 << 0, 0},
    {"f32_classify", ALL, S_N1, 0, 0, 1 << 1, 0},
    {"f32_classify", ALL, 0x80000001, 0, 0, 1 << 2, 0},
    {"f32_classify", ALL, 0x807fffff, 0, 0, 1 << 2, 0},
    {"f32_classify", ALL, S_N0, 0, 0, 1 << 3, 0},
    {"f32_classify", ALL, S_0, 0, 0, 1 << 4, 0},
    {"f32_classify", ALL, S_MINS, 0, 0, 1 << 5, 0},
    {"f32_classify", ALL, S_MAXS, 0, 0, 1 << 5, 0},
    {"f32_classify", ALL, S_MINN, 0, 0, 1 << 6, 0},
    {"f32_classify", ALL, S_MAX, 0, 0, 1 << 6, 0},
    {"f32_classify", ALL, S_INF, 0, 0, 1 << 7, 0},
    {"f32_classify", ALL, S_SNAN, 0, 0, 1 << 8, 0},
    {"f32_classify", ALL, 0xffbfffff, 0, 0, 1 << 8, 0},
    {"f32_classify", ALL, S_QNAN, 0, 0, 1 << 9, 0},
    {"f32_classify", ALL, 0xffc00001, 0, 0, 1 << 9, 0},
    {"f64_classify", ALL, D_NINF, 0, 0, 1 << 0, 0},
    {"f64_classify", ALL, D_NMAX, 0, 0, 1 << 1, 0},
    {"f64_classify", ALL, 0x800fffffffffffff, 0, 0, 1 << 2, 0},
    {"f64_classify", ALL, D_N0, 0, 0, 1 << 3, 0},
    {"f64_classify", ALL, D_0, 0, 0, 1 << 4, 0},
    {"f64_classify", ALL, D_MINS, 0, 0, 1 << 5, 0},
    {"f64_classify", ALL, D_MINN, 0, 0, 1 << 6, 0},
    {"f64_classify", ALL, D_INF, 0, 0, 1 << 7, 0},
    {"f64_classify", ALL, D_SNAN, 0, 0, 1 << 8, 0},
    {"f64_classify", ALL, 0x7ff7ffffffffffff, 0, 0, 1 << 8, 0},
    {"f64_classify", ALL, D_QNAN, 0, 0, 1 << 9, 0},
    {"f64_classify", ALL, 0xfff8000000000001, 0, 0, 1 << 9, 0},

    /* ---- float -> integer: rounding, saturation, NV without NX ---- */
    {"f32_to_i32", 0, 0x3fc00000, 0, 0, 2, NX},                   /* 1.5 */
    {"f32_to_i32", 1, 0x3fc00000, 0, 0, 1, NX},
    {"f32_to_i32", 2, 0x3fc00000, 0, 0, 1, NX},
    {"f32_to_i32", 3, 0x3fc00000, 0, 0, 2, NX},
    {"f32_to_i32", 4, 0x3fc00000, 0, 0, 2, NX},
    {"f32_to_i32", 0, 0x40200000, 0, 0, 2, NX},                   /* 2.5 */
    {"f32_to_i32", 1, 0x40200000, 0, 0, 2, NX},
    {"f32_to_i32", 2, 0x40200000, 0, 0, 2, NX},
    {"f32_to_i32", 3, 0x40200000, 0, 0, 3, NX},
    {"f32_to_i32", 4, 0x40200000, 0, 0, 3, NX},
    {"f32_to_i32", 0, 0xc0200000, 0, 0, 0xfffffffe, NX},          /* -2.5 */
    {"f32_to_i32", 1, 0xc0200000, 0, 0, 0xfffffffe, NX},
    {"f32_to_i32", 2, 0xc0200000, 0, 0, 0xfffffffd, NX},
    {"f32_to_i32", 3, 0xc0200000, 0, 0, 0xfffffffe, NX},
    {"f32_to_i32", 4, 0xc0200000, 0, 0, 0xfffffffd, NX},
    {"f32_to_i32", 0, 0xbf000000, 0, 0, 0, NX},                   /* -0.5 */
    {"f32_to_i32", 1, 0xbf000000, 0, 0, 0, NX},
    {"f32_to_i32", 2, 0xbf000000, 0, 0, 0xffffffff, NX},
    {"f32_to_i32", 3, 0xbf000000, 0, 0, 0, NX},
    {"f32_to_i32", 4, 0xbf000000, 0, 0, 0xffffffff, NX},
    {"f32_to_i32", ALL, 0x4f000000, 0, 0, 0x7fffffff, NV},        /* 2^31 */
    {"f32_to_i32", ALL, 0xcf000000, 0, 0, 0x80000000, 0},         /* -2^31 */
    {"f32_to_i32", ALL, 0x4effffff, 0, 0, 0x7fffff80, 0},
    {"f32_to_i32", ALL, 0xcf000001, 0, 0, 0x80000000, NV},
    {"f32_to_i32", ALL, S_QNAN, 0, 0, 0x7fffffff, NV},
    {"f32_to_i32", ALL, 0xffc00000, 0, 0, 0x7fffffff, NV},        /* NaN of either sign: max */
    {"f32_to_i32", ALL, S_SNAN, 0, 0, 0x7fffffff, NV},
    {"f32_to_i32", ALL, S_INF, 0, 0, 0x7fffffff, NV},
    {"f32_to_i32", ALL, S_NINF, 0, 0, 0x80000000, NV},
    {"f32_to_i32", ALL, S_N0, 0, 0, 0, 0},
    {"f32_to_i32", 0, S_MINS, 0, 0, 0, NX},
    {"f32_to_i32", 3, S_MINS, 0, 0, 1, NX},
    {"f32_to_i32", 2, 0x80000001, 0, 0, 0xffffffff, NX},
    {"f32_to_u32", 0, 0xbf000000, 0, 0, 0, NX},                   /* -0.5 rounds to 0: valid */
    {"f32_to_u32", 1, 0xbf000000, 0, 0, 0, NX},
    {"f32_to_u32", 2, 0xbf000000, 0, 0, 0, NV},                   /* rounds to -1: invalid */
    {"f32_to_u32", 3, 0xbf000000, 0, 0, 0, NX},
    {"f32_to_u32", 4, 0xbf000000, 0, 0, 0, NV},
    {"f32_to_u32", ALL, S_N1, 0, 0, 0, NV},
    {"f32_to_u32", ALL, S_N0, 0, 0, 0, 0},
    {"f32_to_u32", ALL, 0x4f800000, 0, 0, 0xffffffff, NV},        /* 2^32 */
    {"f32_to_u32", ALL, 0x4f7fffff, 0, 0, 0xffffff00, 0},
    {"f32_to_u32", ALL, 0x4f000000, 0, 0, 0x80000000, 0},
    {"f32_to_u32", ALL, S_QNAN, 0, 0, 0xffffffff, NV},
    {"f32_to_u32", ALL, 0xffc00000, 0, 0, 0xffffffff, NV},
    {"f32_to_u32", ALL, S_INF, 0, 0, 0xffffffff, NV},
    {"f32_to_u32", ALL, S_NINF, 0, 0, 0, NV},
    {"f32_to_u32", 0, S_HALF, 0, 0, 0, NX},
    {"f32_to_u32", 3, S_HALF, 0, 0, 1, NX},
    {"f32_to_u32", 4, S_HALF, 0, 0, 1, NX},
    {"f32_to_u32", 1, 0xbf666666, 0, 0, 0, NX},                   /* -0.9 */
    {"f32_to_u32", 0, 0xbf666666, 0, 0, 0, NV},
    {"f32_to_i64", ALL, 0x5f000000, 0, 0, 0x7fffffffffffffff, NV},
    {"f32_to_i64", ALL, 0xdf000000, 0, 0, 0x8000000000000000, 0},
    {"f32_to_i64", ALL, 0x5effffff, 0, 0, 0x7fffff8000000000, 0},
    {"f32_to_i64", ALL, S_QNAN, 0, 0, 0x7fffffffffffffff, NV},
    {"f32_to_i64", ALL, S_NINF, 0, 0, 0x8000000000000000, NV},
    {"f32_to_i64", 4, 0xc0200000, 0, 0, 0xfffffffffffffffd, NX},
    {"f32_to_u64", ALL, 0x5f800000, 0, 0, 0xffffffffffffffff, NV},
    {"f32_to_u64", ALL, 0x5f7fffff, 0, 0, 0xffffff0000000000, 0},
    {"f32_to_u64", ALL, S_N1, 0, 0, 0, NV},
    {"f32_to_u64", 1, 0xbf666666, 0, 0, 0, NX},
    {"f32_to_u64", ALL, 0xff800001, 0, 0, 0xffffffffffffffff, NV},
    {"f32_to_u64", ALL, S_NINF, 0, 0, 0, NV},
    {"f64_to_i32", 0, 0x41dfffffffe00000, 0, 0, 0x7fffffff, NV},   /* 2^31 - 0.5 */
    {"f64_to_i32", 1, 0x41dfffffffe00000, 0, 0, 0x7fffffff, NX},
    {"f64_to_i32", 2, 0x41dfffffffe00000, 0, 0, 0x7fffffff, NX},
    {"f64_to_i32", 3, 0x41dfffffffe00000, 0, 0, 0x7fffffff, NV},
    {"f64_to_i32", 4, 0x41dfffffffe00000, 0, 0, 0x7fffffff, NV},
    {"f64_to_i32", 0, 0xc1e0000000100000, 0, 0, 0x80000000, NX},   /* -2^31 - 0.5 */
    {"f64_to_i32", 1, 0xc1e0000000100000, 0, 0, 0x80000000, NX},
    {"f64_to_i32", 2, 0xc1e0000000100000, 0, 0, 0x80000000, NV},
    {"f64_to_i32", 3, 0xc1e0000000100000, 0, 0, 0x80000000, NX},
    {"f64_to_i32", 4, 0xc1e0000000100000, 0, 0, 0x80000000, NV},
    {"f64_to_i32", ALL, 0xc1e0000000200000, 0, 0, 0x80000000, NV}, /* -2^31 - 1 */
    {"f64_to_i32", ALL, D_QNAN, 0, 0, 0x7fffffff, NV},
    {"f64_to_i32", ALL, 0x7fe0000000000000, 0, 0, 0x7fffffff, NV},
    {"f64_to_u32", 0, 0x41efffffffff0000, 0, 0, 0xffffffff, NV},   /* 2^32 - 2^-5 */
    {"f64_to_u32", 1, 0x41efffffffff0000, 0, 0, 0xffffffff, NX},
    {"f64_to_u32", 0, 0x41efffffffe00000, 0, 0, 0xffffffff, 0},    /* 2^32 - 1 */
    {"f64_to_u32", 0, 0x41effffffff00000, 0, 0, 0xffffffff, NV},   /* 2^32 - 0.5 */
    {"f64_to_u32", 1, 0x41effffffff00000, 0, 0, 0xffffffff, NX},
    {"f64_to_u32", 2, 0x41effffffff00000, 0, 0, 0xffffffff, NX},
    {"f64_to_u32", 3, 0x41effffffff00000, 0, 0, 0xffffffff, NV},
    {"f64_to_u32", 4, 0x41effffffff00000, 0, 0, 0xffffffff, NV},
    {"f64_to_u32", 0, 0xbfe0000000000000, 0, 0, 0, NX},            /* -0.5 */
    {"f64_to_u32", 1, 0xbfe0000000000000, 0, 0, 0, NX},
    {"f64_to_u32", 2, 0xbfe0000000000000, 0, 0, 0, NV},
    {"f64_to_u32", 3, 0xbfe0000000000000, 0, 0, 0, NX},
    {"f64_to_u32", 4, 0xbfe0000000000000, 0, 0, 0, NV},
    {"f64_to_u32", ALL, D_N1, 0, 0, 0, NV},
    {"f64_to_u32", ALL, D_NINF, 0, 0, 0, NV},
    {"f64_to_u32", ALL, 0xfff8000000000000, 0, 0, 0xffffffff, NV},
    {"f64_to_i64", ALL, 0x43e0000000000000, 0, 0, 0x7fffffffffffffff, NV},
    {"f64_to_i64", ALL, 0xc3e0000000000000, 0, 0, 0x8000000000000000, 0},
    {"f64_to_i64", ALL, 0xc3e0000000000001, 0, 0, 0x8000000000000000, NV},
    {"f64_to_i64", ALL, 0x43dfffffffffffff, 0, 0, 0x7ffffffffffffc00, 0},
    {"f64_to_i64", ALL, D_SNAN, 0, 0, 0x7fffffffffffffff, NV},
    {"f64_to_i64", ALL, D_NINF, 0, 0, 0x8000000000000000, NV},
    {"f64_to_i64", 4, 0xc004000000000000, 0, 0, 0xfffffffffffffffd, NX}, /* -2.5 */
    {"f64_to_u64", ALL, 0x43f0000000000000, 0, 0, 0xffffffffffffffff, NV},
    {"f64_to_u64", ALL, 0x43efffffffffffff, 0, 0, 0xfffffffffffff800, 0},
    {"f64_to_u64", ALL, 0x43e0000000000000, 0, 0, 0x8000000000000000, 0},
    {"f64_to_u64", 0, 0xbfd0000000000000, 0, 0, 0, NX},            /* -0.25 */
    {"f64_to_u64", 2, 0xbfd0000000000000, 0, 0, 0, NV},
    {"f64_to_u64", 4, 0xbfd0000000000000, 0, 0, 0, NX},
    {"f64_to_u64", 0, D_HALF, 0, 0, 0, NX},
    {"f64_to_u64", 1, D_HALF, 0, 0, 0, NX},
    {"f64_to_u64", 2, D_HALF, 0, 0, 0, NX},
    {"f64_to_u64", 3, D_HALF, 0, 0, 1, NX},
    {"f64_to_u64", 4, D_HALF, 0, 0, 1, NX},
    {"f64_to_u64", 0, 0x3ff8000000000000, 0, 0, 2, NX},

    /* ---- integer -> float ---- */
    {"i32_to_f32", 0, 0x01000001, 0, 0, 0x4b800000, NX},          /* 2^24 + 1: tie */
    {"i32_to_f32", 1, 0x01000001, 0, 0, 0x4b800000, NX},
    {"i32_to_f32", 2, 0x01000001, 0, 0, 0x4b800000, NX},
    {"i32_to_f32", 3, 0x01000001, 0, 0, 0x4b800001, NX},
    {"i32_to_f32", 4, 0x01000001, 0, 0, 0x4b800001, NX},
    {"i32_to_f32", 0, 0xfeffffff, 0, 0, 0xcb800000, NX},          /* -(2^24 + 1) */
    {"i32_to_f32", 1, 0xfeffffff, 0, 0, 0xcb800000, NX},
    {"i32_to_f32", 2, 0xfeffffff, 0, 0, 0xcb800001, NX},
    {"i32_to_f32", 3, 0xfeffffff, 0, 0, 0xcb800000, NX},
    {"i32_to_f32", 4, 0xfeffffff, 0, 0, 0xcb800001, NX},
    {"i32_to_f32", ALL, 0x80000000, 0, 0, 0xcf000000, 0},
    {"i32_to_f32", ALL, 0, 0, 0, S_0, 0},
    {"i32_to_f32", ALL, 0xffffffff, 0, 0, S_N1, 0},
    {"i32_to_f32", 0, 0x7fffffff, 0, 0, 0x4f000000, NX},
    {"i32_to_f32", 1, 0x7fffffff, 0, 0, 0x4effffff, NX},
    {"i32_to_f32", 2, 0x7fffffff, 0, 0, 0x4effffff, NX},
    {"i32_to_f32", 3, 0x7fffffff, 0, 0, 0x4f000000, NX},
    {"i32_to_f32", 4, 0x7fffffff, 0, 0, 0x4f000000, NX},
    {"u32_to_f32", 0, 0xffffffff, 0, 0, 0x4f800000, NX},
    {"u32_to_f32", 1, 0xffffffff, 0, 0, 0x4f7fffff, NX},
    {"u32_to_f32", 2, 0xffffffff, 0, 0, 0x4f7fffff, NX},
    {"u32_to_f32", 3, 0xffffffff, 0, 0, 0x4f800000, NX},
    {"u32_to_f32", 4, 0xffffffff, 0, 0, 0x4f800000, NX},
    {"u32_to_f32", ALL, 0x80000000, 0, 0, 0x4f000000, 0},
    {"i64_to_f32", ALL, 0x8000000000000000, 0, 0, 0xdf000000, 0},
    {"i64_to_f32", ALL, 1, 0, 0, S_1, 0},
    {"i64_to_f32", 4, 0x0000000001000001, 0, 0, 0x4b800001, NX},
    {"u64_to_f32", 0, 0xffffffffffffffff, 0, 0, 0x5f800000, NX},
    {"u64_to_f32", 1, 0xffffffffffffffff, 0, 0, 0x5f7fffff, NX},
    {"u64_to_f32", ALL, 0, 0, 0, S_0, 0},
    {"i64_to_f64", 0, 0x0020000000000001, 0, 0, 0x4340000000000000, NX}, /* 2^53 + 1 */
    {"i64_to_f64", 1, 0x0020000000000001, 0, 0, 0x4340000000000000, NX},
    {"i64_to_f64", 2, 0x0020000000000001, 0, 0, 0x4340000000000000, NX},
    {"i64_to_f64", 3, 0x0020000000000001, 0, 0, 0x4340000000000001, NX},
    {"i64_to_f64", 4, 0x0020000000000001, 0, 0, 0x4340000000000001, NX},
    {"i64_to_f64", 0, 0xffdfffffffffffff, 0, 0, 0xc340000000000000, NX},
    {"i64_to_f64", 2, 0xffdfffffffffffff, 0, 0, 0xc340000000000001, NX},
    {"i64_to_f64", 4, 0xffdfffffffffffff, 0, 0, 0xc340000000000001, NX},
    {"i64_to_f64", ALL, 0x8000000000000000, 0, 0, 0xc3e0000000000000, 0},
    {"i64_to_f64", ALL, 0xffffffffffffffff, 0, 0, D_N1, 0},
    {"u64_to_f64", 0, 0xffffffffffffffff, 0, 0, 0x43f0000000000000, NX},
    {"u64_to_f64", 1, 0xffffffffffffffff, 0, 0, 0x43efffffffffffff, NX},
    {"u64_to_f64", ALL, 0x8000000000000000, 0, 0, 0x43e0000000000000, 0},
    {"u64_to_f64", ALL, 0, 0, 0, D_0, 0},
    {"i32_to_f64", ALL, 0x80000000, 0, 0, 0xc1e0000000000000, 0},
    {"i32_to_f64", ALL, 0x7fffffff, 0, 0, 0x41dfffffffc00000, 0},
    {"u32_to_f64", ALL, 0xffffffff, 0, 0, 0x41efffffffe00000, 0},

    /* ---- between formats ---- */
    {"f32_to_f64", ALL, S_1, 0, 0, D_1, 0},
    {"f32_to_f64", ALL, 0x3fc00000, 0, 0, 0x3ff8000000000000, 0},
    {"f32_to_f64", ALL, S_MINS, 0, 0, 0x36a0000000000000, 0},
    {"f32_to_f64", ALL, S_MAXS, 0, 0, 0x380fffffc0000000, 0},
    {"f32_to_f64", ALL, S_N0, 0, 0, D_N0, 0},
    {"f32_to_f64", ALL, S_INF, 0, 0, D_INF, 0},
    {"f32_to_f64", ALL, S_NINF, 0, 0, D_NINF, 0},
    {"f32_to_f64", ALL, 0x7fc12345, 0, 0, D_QNAN, 0},
    {"f32_to_f64", ALL, 0xffc00000, 0, 0, D_QNAN, 0},
    {"f32_to_f64", ALL, S_SNAN, 0, 0, D_QNAN, NV},
    {"f64_to_f32", ALL, D_1, 0, 0, S_1, 0},
    {"f64_to_f32", 0, D_MAX, 0, 0, S_INF, OF | NX},
    {"f64_to_f32", 1, D_MAX, 0, 0, S_MAX, OF | NX},
    {"f64_to_f32", 2, D_MAX, 0, 0, S_MAX, OF | NX},
    {"f64_to_f32", 3, D_MAX, 0, 0, S_INF, OF | NX},
    {"f64_to_f32", 4, D_MAX, 0, 0, S_INF, OF | NX},
    {"f64_to_f32", 0, D_NMAX, 0, 0, S_NINF, OF | NX},
    {"f64_to_f32", 1, D_NMAX, 0, 0, S_NMAX, OF | NX},
    {"f64_to_f32", 2, D_NMAX, 0, 0, S_NINF, OF | NX},
    {"f64_to_f32", 3, D_NMAX, 0, 0, S_NMAX, OF | NX},
    {"f64_to_f32", 0, D_MINS, 0, 0, S_0, UF | NX},
    {"f64_to_f32", 1, D_MINS, 0, 0, S_0, UF | NX},
    {"f64_to_f32", 2, D_MINS, 0, 0, S_0, UF | NX},
    {"f64_to_f32", 3, D_MINS, 0, 0, S_MINS, UF | NX},
    {"f64_to_f32", 4, D_MINS, 0, 0, S_0, UF | NX},
    {"f64_to_f32", 0, 0x8000000000000001, 0, 0, S_N0, UF | NX},
    {"f64_to_f32", 2, 0x8000000000000001, 0, 0, 0x80000001, UF | NX},
    {"f64_to_f32", 0, 0x3ff0000010000000, 0, 0, S_1, NX},           /* 1 + 2^-24: tie */
    {"f64_to_f32", 1, 0x3ff0000010000000, 0, 0, S_1, NX},
    {"f64_to_f32", 2, 0x3ff0000010000000, 0, 0, S_1, NX},
    {"f64_to_f32", 3, 0x3ff0000010000000, 0, 0, 0x3f800001, NX},
    {"f64_to_f32", 4, 0x3ff0000010000000, 0, 0, 0x3f800001, NX},
    /* (1 - 2^-25) * 2^-126: tiny before rounding, not after when it rounds up */
    {"f64_to_f32", 0, 0x380ffffff0000000, 0, 0, S_MINN, NX},
    {"f64_to_f32", 1, 0x380ffffff0000000, 0, 0, S_MAXS, UF | NX},
    {"f64_to_f32", 2, 0x380ffffff0000000, 0, 0, S_MAXS, UF | NX},
    {"f64_to_f32", 3, 0x380ffffff0000000, 0, 0, S_MINN, NX},
    {"f64_to_f32", 4, 0x380ffffff0000000, 0, 0, S_MINN, NX},
    {"f64_to_f32", 0, 0x368fffffffffffff, 0, 0, S_0, UF | NX},      /* just below 2^-150 */
    {"f64_to_f32", 3, 0x368fffffffffffff, 0, 0, S_MINS, UF | NX},
    {"f64_to_f32", 0, 0x369ffffffffffffe, 0, 0, S_MINS, UF | NX},   /* just below 2^-149 */
    {"f64_to_f32", 0, 0x3690000000000000, 0, 0, S_0, UF | NX},      /* 2^-150: tie */
    {"f64_to_f32", 3, 0x3690000000000000, 0, 0, S_MINS, UF | NX},
    {"f64_to_f32", 4, 0x3690000000000000, 0, 0, S_MINS, UF | NX},
    {"f64_to_f32", 0, 0x3690000000000001, 0, 0, S_MINS, UF | NX},
    {"f64_to_f32", ALL, 0x36a0000000000000, 0, 0, S_MINS, 0},       /* 2^-149 exactly */
    /* (1 - 2^-25) * 2^128: halfway between max and 2^128 */
    {"f64_to_f32", 0, 0x47effffff0000000, 0, 0, S_INF, OF | NX},
    {"f64_to_f32", 1, 0x47effffff0000000, 0, 0, S_MAX, NX},
    {"f64_to_f32", 2, 0x47effffff0000000, 0, 0, S_MAX, NX},
    {"f64_to_f32", 3, 0x47effffff0000000, 0, 0, S_INF, OF | NX},
    {"f64_to_f32", 4, 0x47effffff0000000, 0, 0, S_INF, OF | NX},
    {"f64_to_f32", 0, 0x47efffffefffffff, 0, 0, S_MAX, NX},
    {"f64_to_f32", 4, 0x47efffffefffffff, 0, 0, S_MAX, NX},
    {"f64_to_f32", ALL, D_SNAN, 0, 0, S_QNAN, NV},
    {"f64_to_f32", ALL, 0x7ff8000000000123, 0, 0, S_QNAN, 0},
    {"f64_to_f32", ALL, 0xfff8000000000000, 0, 0, S_QNAN, 0},
    {"f64_to_f32", ALL, D_NINF, 0, 0, S_NINF, 0},
    {"f64_to_f32", ALL, D_N0, 0, 0, S_N0, 0},
};
/* clang-format on */

static void run_hand(void)
{
    for (size_t i = 0; i < sizeof hand / sizeof hand[0]; i++) {
        const struct hv *h = &hand[i];
        const struct op *o = find_op(h->op);
        uint64_t v[3] = {h->a, h->b, h->c};
        if (!o) {
            printf("FAIL [hand] unknown op %s\n", h->op);
            n_fail++;
            continue;
        }
        if (h->rm == ALL) {
            int nrm = fpu_kind_has_rm(o->kind) ? 5 : 1;
            for (int rm = 0; rm < nrm; rm++)
                check("hand", o, rm, v, h->r, h->fl);
        } else {
            check("hand", o, h->rm, v, h->r, h->fl);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* 2. vectors from QEMU                                                     */
/* ------------------------------------------------------------------------ */

/* Returns the number of vectors checked, or -1 if the file is unusable. */
static long run_file(const char *path)
{
    FILE *f = fopen(path, "r");
    char buf[512];
    long lineno = 0, n = 0;

    if (!f) {
        perror(path);
        return -1;
    }
    while (fgets(buf, sizeof buf, f)) {
        char *save = NULL, *tok, *hash;
        uint64_t v[3] = {0, 0, 0}, want;
        uint32_t want_fl;
        int rm, nargs;
        const struct op *o;

        lineno++;
        if ((hash = strchr(buf, '#'))) *hash = 0;
        tok = strtok_r(buf, " \t\r\n", &save);
        if (!tok) continue;
        o = find_op(tok);
        if (!o) goto bad;
        if (!(tok = strtok_r(NULL, " \t\r\n", &save))) goto bad;
        rm = (int)strtol(tok, NULL, 10);
        if (rm < 0 || rm > 4) goto bad;
        nargs = fpu_kind_nargs(o->kind);
        for (int i = 0; i < nargs; i++) {
            if (!(tok = strtok_r(NULL, " \t\r\n", &save))) goto bad;
            v[i] = strtoull(tok, NULL, 16);
        }
        if (!(tok = strtok_r(NULL, " \t\r\n", &save)) || strcmp(tok, "->")) goto bad;
        if (!(tok = strtok_r(NULL, " \t\r\n", &save))) goto bad;
        want = strtoull(tok, NULL, 16);
        if (!(tok = strtok_r(NULL, " \t\r\n", &save))) goto bad;
        want_fl = (uint32_t)strtoul(tok, NULL, 16);
        check("vector", o, rm, v, want, want_fl);
        n++;
        continue;
    bad:
        printf("FAIL [vector] %s:%ld: cannot parse\n", path, lineno);
        n_fail++;
    }
    fclose(f);
    return n;
}

/* ------------------------------------------------------------------------ */
/* 3. host fast path against software path                                  */
/* ------------------------------------------------------------------------ */

static unsigned long run_host_vs_soft(long iters, int mode)
{
    static const char *const host_ops[] = {
        "f32_add",  "f32_sub",   "f32_mul",   "f32_div",  "f32_sqrt",  "f32_madd",
        "f32_msub", "f32_nmsub", "f32_nmadd", "f64_add",  "f64_sub",   "f64_mul",
        "f64_div",  "f64_sqrt",  "f64_madd",  "f64_msub", "f64_nmsub", "f64_nmadd",
    };
    unsigned long n = 0;

    fpu_gen_seed(UINT64_C(0x686f73742d766563) + (uint64_t)mode);
    fpu_gen_mul32 = find_op("f32_mul")->fn;
    fpu_gen_mul64 = find_op("f64_mul")->fn;
    for (size_t i = 0; i < sizeof host_ops / sizeof host_ops[0]; i++) {
        const struct op *o = find_op(host_ops[i]);
        for (int rm = 0; rm < 4; rm++) {
            for (long j = 0; j < iters; j++) {
                uint64_t v[3], want;
                uint32_t want_fl = 0;
                fpu_set_host_fastpath(mode);
                fpu_gen_operands(o->kind, o->in, o->out, v);
                fpu_set_host_fastpath(0);
                want = o->fn(v[0], v[1], v[2], rm, &want_fl);
                fpu_set_host_fastpath(mode);
                check("host-vs-soft", o, rm, v, want, want_fl);
                n++;
            }
        }
    }
    return n;
}

/* ------------------------------------------------------------------------ */
/* 4. the caller's MXCSR                                                    */
/* ------------------------------------------------------------------------ */

#if defined(__x86_64__)
static uint32_t get_mxcsr(void)
{
    uint32_t m;
    __asm__ volatile("stmxcsr %0" : "=m"(m));
    return m;
}

static void set_mxcsr(uint32_t m)
{
    __asm__ volatile("ldmxcsr %0" : : "m"(m));
}

/* The FPU must ignore the caller's MXCSR (rounding mode, DAZ/FTZ, flags)
 * and leave either that state or the C default 0x1f80 behind, never flags
 * of its own (see fpu.h). */
static void run_mxcsr(void)
{
    /* Caller state: round toward zero, DAZ and FTZ on, PE and UE already set. */
    const uint32_t odd = 0x1f80 | (3u << 13) | 0x8040 | 0x30;
    const uint32_t saved = get_mxcsr();
    static const struct {
        const char *op;
        int rm;
        uint64_t a, b, c, r;
        uint32_t fl;
    } cases[] = {
        {"f32_add", 0, S_1, 0x33800000, 0, S_1, NX},
        {"f32_add", 3, S_1, 0x33800000, 0, 0x3f800001, NX},
        {"f32_mul", 0, 0x3f7fffff, S_MINN, 0, S_MINN, UF | NX},
        {"f32_mul", 3, S_MINS, S_HALF, 0, S_MINS, UF | NX},
        {"f32_mul", 0, 0x3fc00001, 0x3fc00001, 0, 0x40100002, NX},
        {"f32_div", 0, S_1, S_3, 0, 0x3eaaaaab, NX},
        {"f32_sqrt", 0, S_2, 0, 0, 0x3fb504f3, NX},
        {"f32_madd", 0, 0x3f800800, 0x3f800800, S_N1, 0x3a000400, 0},
        {"f32_madd", 1, 0x3f800800, 0x3f800800, S_N1, 0x3a000400, 0},
        {"f64_add", 0, D_1, 0x3ca0000000000000, 0, D_1, NX},
        {"f64_add", 3, D_1, 0x3ca0000000000000, 0, 0x3ff0000000000001, NX},
        {"f64_mul", 0, 0x3ff0000000000001, 0x3ff0000000000001, 0, 0x3ff0000000000002, NX},
        {"f64_mul", 0, 0x3fefffffffffffff, D_MINN, 0, D_MINN, UF | NX},
        {"f64_div", 0, D_1, D_3, 0, 0x3fd5555555555555, NX},
        {"f64_div", 3, D_1, D_3, 0, 0x3fd5555555555556, NX},
        {"f64_sqrt", 0, D_2, 0, 0, 0x3ff6a09e667f3bcd, NX},
        {"f64_madd", 0, 0x3ff0000002000000, 0x3ff0000002000000, D_N1, 0x3e50000001000000, 0},
    };

    fpu_set_host_fastpath(1);
    for (int pass = 0; pass < 2; pass++) {
        const uint32_t before = pass ? odd : 0x1f80;
        mode_name = pass ? " odd-caller-mxcsr" : " default-mxcsr";
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            uint64_t v[3] = {cases[i].a, cases[i].b, cases[i].c};
            set_mxcsr(before);
            check("mxcsr", find_op(cases[i].op), cases[i].rm, v, cases[i].r, cases[i].fl);
            uint32_t after = get_mxcsr();
            n_checks++;
            if (after != 0x1f80 && after != before) {
                n_fail++;
                printf("FAIL [mxcsr] after %s: MXCSR %08x, expected %08x or 00001f80\n",
                       cases[i].op, after, before);
            }
        }
    }
    set_mxcsr(saved);
    mode_name = "";
}
#endif

/* ------------------------------------------------------------------------ */

static void report(const char *what, unsigned long before_fail)
{
    unsigned long f = n_fail - before_fail;
    printf("%-40s %s", what, f ? "FAILED" : "ok");
    if (f) printf(" (%lu failures)", f);
    printf("\n");
}

int main(int argc, char **argv)
{
    static const struct {
        int mode;
        const char *name;
    } modes[] = {{1, ""}, {2, " host-without-fma3"}, {0, " soft-only"}};
    const char *vectors = argc > 1 ? argv[1] : NULL;
    long iters = argc > 2 ? strtol(argv[2], NULL, 0) : 10000;
    int host = fpu_set_host_fastpath(1);
    char what[128];

    for (size_t m = host ? 0 : 2; m < sizeof modes / sizeof modes[0]; m++) {
        unsigned long f0;
        fpu_set_host_fastpath(modes[m].mode);
        mode_name = modes[m].name;

        f0 = n_fail;
        part_fail = 0;
        run_hand();
        snprintf(what, sizeof what, "hand-written vectors%s", mode_name);
        report(what, f0);

        if (vectors) {
            f0 = n_fail;
            part_fail = 0;
            long n = run_file(vectors);
            if (n <= 0) {
                printf("FAIL [vector] no vectors read from %s\n", vectors);
                n_fail++;
            }
            snprintf(what, sizeof what, "%ld QEMU vectors%s", n, mode_name);
            report(what, f0);
        }

        if (modes[m].mode) {
            f0 = n_fail;
            part_fail = 0;
            unsigned long n = run_host_vs_soft(iters, modes[m].mode);
            snprintf(what, sizeof what, "%lu host-vs-soft cases%s", n, mode_name);
            report(what, f0);
        }
    }
    mode_name = "";
    fpu_set_host_fastpath(1);

#if defined(__x86_64__)
    if (host) {
        unsigned long f0 = n_fail;
        part_fail = 0;
        run_mxcsr();
        report("caller MXCSR ignored, left at default", f0);
    }
#endif
    if (!host) printf("host fast paths: not available on this build, software only\n");
    if (!vectors) printf("note: no vector file given (usage: %s fpu_vectors.txt)\n", argv[0]);

    printf("%lu checks, %lu failures\n", n_checks, n_fail);
    return n_fail ? 1 : 0;
}
