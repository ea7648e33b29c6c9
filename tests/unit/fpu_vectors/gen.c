/*
 * gen.c - bare-metal RV64GC program that executes the real F/D instructions
 * on pseudo-random operands and prints test vectors for tests/unit/test_fpu.c.
 *
 * Runs under `qemu-system-riscv64 -M spike -bios none -kernel gen.elf`: M-mode,
 * no libc, console and exit through HTIF (tohost/fromhost).  The operands mix
 * special values, format boundaries, subnormals, integer-conversion limits
 * and operand pairs built to hit rounding ties, cancellation and
 * overflow/underflow thresholds; every op with a rounding mode runs in all five
 * static modes (the rm field of the instruction, not frm).
 *
 * Build with -DCHECK (and link src/cpu/fpu.c) to compare kumo's FPU, compiled
 * for RISC-V (software path), against the instructions inside the guest and
 * print only mismatches plus a summary: that allows millions of cases without
 * going through the console.  See README and Makefile.
 *
 * Knobs: SEED (64-bit), PER_UNIT (vectors per op and rounding mode; the
 * arithmetic ops get three units).
 */
#include <stdint.h>

#include "fpu_gen.h"
#include "fpu_ops.h"
#ifdef CHECK
#include "../../../src/cpu/fpu.h"
#endif

#ifndef SEED
#define SEED UINT64_C(0x6b756d6f2d667075)
#endif
#ifndef PER_UNIT
#define PER_UNIT 100
#endif

/* ---- HTIF console and exit ---- */

volatile uint64_t tohost __attribute__((section(".tohost"), aligned(64)));
volatile uint64_t fromhost __attribute__((section(".tohost"), aligned(64)));

static void htif_send(uint64_t cmd)
{
    while (tohost)
        ;
    tohost = cmd;
    while (tohost)
        ;
    fromhost = 0;
}

void htif_exit(int code)
{
    htif_send(((uint64_t)code << 1) | 1);
    for (;;)
        ;
}

static char line[256];
static int line_len;

static void put_str(const char *s)
{
    while (*s && line_len < (int)sizeof line - 1)
        line[line_len++] = *s++;
}

static void put_hex(uint64_t v, int digits) /* digits 0: no padding */
{
    char buf[17];
    int n = 0;
    do {
        buf[n++] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v || n < digits);
    while (n > 0 && line_len < (int)sizeof line - 1)
        line[line_len++] = buf[--n];
}

static void put_dec(uint64_t v)
{
    char buf[21];
    int n = 0;
    do {
        buf[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n > 0 && line_len < (int)sizeof line - 1)
        line[line_len++] = buf[--n];
}

static void flush_line(void)
{
    line[line_len++] = '\n';
    for (int i = 0; i < line_len; i++)
        htif_send((UINT64_C(1) << 56) | (UINT64_C(1) << 48) | (uint8_t)line[i]);
    line_len = 0;
}

/* ---- the real instructions ---- */

#define W_F32 "w"
#define W_F64 "d"

#define RM_SWITCH(M, ...)                                                                          \
    switch (rm) {                                                                                  \
    case 0: M(__VA_ARGS__, "rne"); break;                                                          \
    case 1: M(__VA_ARGS__, "rtz"); break;                                                          \
    case 2: M(__VA_ARGS__, "rdn"); break;                                                          \
    case 3: M(__VA_ARGS__, "rup"); break;                                                          \
    default: M(__VA_ARGS__, "rmm"); break;                                                         \
    }

#define ASM_FF1(wi, wo, insn, rms)                                                                 \
    __asm__ volatile("fmv." wi ".x ft0, %[a]\n\tfsflags zero\n\t" insn " ft2, ft0, " rms           \
                     "\n\tfrflags %[f]\n\tfmv.x." wo " %[r], ft2"                                  \
                     : [r] "=r"(r), [f] "=r"(f)                                                    \
                     : [a] "r"(a)                                                                  \
                     : "ft0", "ft2")
#define ASM_FF2(wi, wo, insn, rms)                                                                 \
    __asm__ volatile("fmv." wi ".x ft0, %[a]\n\tfmv." wi ".x ft1, %[b]\n\tfsflags zero\n\t" insn   \
                     " ft2, ft0, ft1, " rms "\n\tfrflags %[f]\n\tfmv.x." wo " %[r], ft2"           \
                     : [r] "=r"(r), [f] "=r"(f)                                                    \
                     : [a] "r"(a), [b] "r"(b)                                                      \
                     : "ft0", "ft1", "ft2")
#define ASM_FF3(wi, wo, insn, rms)                                                                 \
    __asm__ volatile("fmv." wi ".x ft0, %[a]\n\tfmv." wi ".x ft1, %[b]\n\tfmv." wi                 \
                     ".x ft2, %[c]\n\tfsflags zero\n\t" insn " ft3, ft0, ft1, ft2, " rms           \
                     "\n\tfrflags %[f]\n\tfmv.x." wo " %[r], ft3"                                  \
                     : [r] "=r"(r), [f] "=r"(f)                                                    \
                     : [a] "r"(a), [b] "r"(b), [c] "r"(c)                                          \
                     : "ft0", "ft1", "ft2", "ft3")
#define ASM_MM(wi, wo, insn)                                                                       \
    __asm__ volatile("fmv." wi ".x ft0, %[a]\n\tfmv." wi ".x ft1, %[b]\n\tfsflags zero\n\t" insn   \
                     " ft2, ft0, ft1\n\tfrflags %[f]\n\tfmv.x." wo " %[r], ft2"                    \
                     : [r] "=r"(r), [f] "=r"(f)                                                    \
                     : [a] "r"(a), [b] "r"(b)                                                      \
                     : "ft0", "ft1", "ft2")
#define ASM_CMP(wi, insn)                                                                          \
    __asm__ volatile("fmv." wi ".x ft0, %[a]\n\tfmv." wi ".x ft1, %[b]\n\tfsflags zero\n\t" insn   \
                     " %[r], ft0, ft1\n\tfrflags %[f]"                                             \
                     : [r] "=&r"(r), [f] "=r"(f)                                                   \
                     : [a] "r"(a), [b] "r"(b)                                                      \
                     : "ft0", "ft1")
#define ASM_CLS(wi, insn)                                                                          \
    __asm__ volatile("fmv." wi ".x ft0, %[a]\n\tfsflags zero\n\t" insn                             \
                     " %[r], ft0\n\tfrflags %[f]"                                                  \
                     : [r] "=&r"(r), [f] "=r"(f)                                                   \
                     : [a] "r"(a)                                                                  \
                     : "ft0")
#define ASM_F2I(wi, insn, rms)                                                                     \
    __asm__ volatile("fmv." wi ".x ft0, %[a]\n\tfsflags zero\n\t" insn " %[r], ft0, " rms          \
                     "\n\tfrflags %[f]"                                                            \
                     : [r] "=&r"(r), [f] "=r"(f)                                                   \
                     : [a] "r"(a)                                                                  \
                     : "ft0")
#define ASM_I2F(wo, insn, rms)                                                                     \
    __asm__ volatile("fsflags zero\n\t" insn " ft2, %[a], " rms "\n\tfrflags %[f]\n\tfmv.x." wo    \
                     " %[r], ft2"                                                                  \
                     : [r] "=r"(r), [f] "=r"(f)                                                    \
                     : [a] "r"(a)                                                                  \
                     : "ft2")
#define ASM_I2X(wo, insn)                                                                          \
    __asm__ volatile("fsflags zero\n\t" insn " ft2, %[a]\n\tfrflags %[f]\n\tfmv.x." wo             \
                     " %[r], ft2"                                                                  \
                     : [r] "=r"(r), [f] "=r"(f)                                                    \
                     : [a] "r"(a)                                                                  \
                     : "ft2")
#define ASM_F2F(wi, wo, insn)                                                                      \
    __asm__ volatile("fmv." wi ".x ft0, %[a]\n\tfsflags zero\n\t" insn " ft2, ft0\n\tfrflags %[f]" \
                     "\n\tfmv.x." wo " %[r], ft2"                                                  \
                     : [r] "=r"(r), [f] "=r"(f)                                                    \
                     : [a] "r"(a)                                                                  \
                     : "ft0", "ft2")

#define HW_FF1(i, o, insn) RM_SWITCH(ASM_FF1, W_##i, W_##o, insn)
#define HW_FF2(i, o, insn) RM_SWITCH(ASM_FF2, W_##i, W_##o, insn)
#define HW_FF3(i, o, insn) RM_SWITCH(ASM_FF3, W_##i, W_##o, insn)
#define HW_MM(i, o, insn)  ASM_MM(W_##i, W_##o, insn);
#define HW_CMP(i, o, insn) ASM_CMP(W_##i, insn);
#define HW_CLS(i, o, insn) ASM_CLS(W_##i, insn);
#define HW_F2I(i, o, insn) RM_SWITCH(ASM_F2I, W_##i, insn)
#define HW_I2F(i, o, insn) RM_SWITCH(ASM_I2F, W_##o, insn)
#define HW_I2X(i, o, insn) ASM_I2X(W_##o, insn);
#define HW_F2F(i, o, insn) ASM_F2F(W_##i, W_##o, insn);

#define DEF_HW(n, k, i, o, insn)                                                                   \
    static uint64_t hw_##n(uint64_t a, uint64_t b, uint64_t c, int rm, uint32_t *fl)               \
    {                                                                                              \
        uint64_t r, f;                                                                             \
        (void)a, (void)b, (void)c, (void)rm;                                                       \
        HW_##k(i, o, insn) *fl = (uint32_t)f;                                                      \
        return r & FPU_MASK_##o;                                                                   \
    }
FPU_OPS(DEF_HW)

#ifdef CHECK
FPU_OPS(FPU_DEF_SW)
#define SW_FN(n) sw_##n
#else
#define SW_FN(n) 0
#endif

struct op {
    const char *name;
    int kind, in, out;
    fpu_op_fn hw, sw;
};

#define OP_ENTRY(n, k, i, o, insn) {#n, FPU_K_##k, FPU_TY_##i, FPU_TY_##o, hw_##n, SW_FN(n)},
static const struct op ops[] = {FPU_OPS(OP_ENTRY)};

static const struct op *find_op(const char *name)
{
    for (unsigned i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        const char *a = ops[i].name, *b = name;
        while (*a && *a == *b)
            a++, b++;
        if (*a == *b) return &ops[i];
    }
    return 0;
}

static void operands(const struct op *o, uint64_t v[3])
{
    fpu_gen_operands(o->kind, o->in, o->out, v);
}

static int ty_digits(int ty)
{
    return ty == FPU_TY_BOOL ? 0 : fpu_ty_is64(ty) ? 16 : 8;
}

static void format_vector(const struct op *o, int rm, const uint64_t v[3], uint64_t r, uint32_t fl)
{
    put_str(o->name);
    put_str(" ");
    put_dec((uint64_t)rm);
    for (int i = 0; i < fpu_kind_nargs(o->kind); i++) {
        put_str(" ");
        put_hex(v[i], ty_digits(o->in));
    }
    put_str(" -> ");
    put_hex(r, ty_digits(o->out));
    put_str(" ");
    put_hex(fl, 0);
}

#ifdef CHECK
static uint64_t op_bad[sizeof ops / sizeof ops[0]];
#endif

int main(void)
{
    uint64_t total = 0, bad = 0;
    fpu_gen_seed(SEED);
    fpu_gen_mul32 = find_op("f32_mul")->hw;
    fpu_gen_mul64 = find_op("f64_mul")->hw;
    put_str("# kumo FPU vectors: RISC-V F/D instructions executed by QEMU (gen.c, seed ");
    put_hex(SEED, 16);
    put_str(")");
    flush_line();
    for (unsigned i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        const struct op *o = &ops[i];
        int nrm = fpu_kind_has_rm(o->kind) ? 5 : 1;
        int arith = o->kind == FPU_K_FF1 || o->kind == FPU_K_FF2 || o->kind == FPU_K_FF3;
        long n = (long)PER_UNIT * (arith ? 3 : 1);
        for (int rm = 0; rm < nrm; rm++) {
            for (long j = 0; j < n; j++) {
                uint64_t v[3];
                uint32_t fl = 0;
                operands(o, v);
                uint64_t r = o->hw(v[0], v[1], v[2], rm, &fl);
                total++;
#ifdef CHECK
                uint32_t sfl = 0;
                uint64_t sr = o->sw(v[0], v[1], v[2], rm, &sfl);
                if (sr != r || sfl != fl) {
                    op_bad[i]++;
                    if (++bad <= 200) {
                        format_vector(o, rm, v, r, fl);
                        put_str("   # kumo: ");
                        put_hex(sr, ty_digits(o->out));
                        put_str(" ");
                        put_hex(sfl, 0);
                        flush_line();
                    }
                }
#else
                format_vector(o, rm, v, r, fl);
                flush_line();
#endif
            }
        }
    }
#ifdef CHECK
    for (unsigned i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        if (!op_bad[i]) continue;
        put_str("# ");
        put_str(ops[i].name);
        put_str(" mismatches ");
        put_dec(op_bad[i]);
        flush_line();
    }
    put_str("# checked ");
    put_dec(total);
    put_str(" mismatches ");
    put_dec(bad);
    flush_line();
#else
    (void)bad;
    put_str("# end ");
    put_dec(total);
    flush_line();
#endif
    return bad ? 1 : 0;
}
