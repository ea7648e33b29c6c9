/*
 * fpu_ops.h - the FPU operations that test vectors cover, as one list shared
 * by tests/unit/test_fpu.c (host) and gen.c (the bare-metal RISC-V generator).
 *
 * X(name, kind, in, out, insn)
 *   name  the fpu.h function, also the op name in fpu_vectors.txt
 *   kind  operand shape (FPU_K_*), which also says whether rm is used
 *   in    type of every operand, out: type of the result (FPU_TY_*)
 *   insn  the RISC-V mnemonic that gen.c executes
 *
 * Vector line format (all numbers hex except rm, which is 0..4):
 *   <name> <rm> <operand>... -> <result> <fflags>
 * Operands and results are the raw bits, zero-extended: 32-bit types are
 * printed with 8 digits, 64-bit ones with 16, booleans and FCLASS masks
 * without padding.  Ops without a rounding mode print rm 0.
 */
#ifndef KUMO_TEST_FPU_OPS_H
#define KUMO_TEST_FPU_OPS_H

#include <stdint.h>

enum fpu_kind {
    FPU_K_FF1, /* fd = op(fs1, rm) */
    FPU_K_FF2, /* fd = op(fs1, fs2, rm) */
    FPU_K_FF3, /* fd = op(fs1, fs2, fs3, rm) */
    FPU_K_MM,  /* fd = op(fs1, fs2) */
    FPU_K_CMP, /* rd = op(fs1, fs2) */
    FPU_K_CLS, /* rd = op(fs1) */
    FPU_K_F2I, /* rd = op(fs1, rm) */
    FPU_K_I2F, /* fd = op(rs1, rm) */
    FPU_K_I2X, /* fd = op(rs1, rm), always exact (the assembler takes no rm) */
    FPU_K_F2F, /* fd = op(fs1), exact */
};

enum fpu_ty { FPU_TY_F32, FPU_TY_F64, FPU_TY_I32, FPU_TY_U32, FPU_TY_I64, FPU_TY_U64, FPU_TY_BOOL };

/* C type and zero-extension mask of each FPU_TY_*. */
#define FPU_CT_F32    uint32_t
#define FPU_CT_F64    uint64_t
#define FPU_CT_I32    int32_t
#define FPU_CT_U32    uint32_t
#define FPU_CT_I64    int64_t
#define FPU_CT_U64    uint64_t
#define FPU_CT_BOOL   uint32_t
#define FPU_MASK_F32  UINT64_C(0xffffffff)
#define FPU_MASK_F64  UINT64_MAX
#define FPU_MASK_I32  UINT64_C(0xffffffff)
#define FPU_MASK_U32  UINT64_C(0xffffffff)
#define FPU_MASK_I64  UINT64_MAX
#define FPU_MASK_U64  UINT64_MAX
#define FPU_MASK_BOOL UINT64_C(0xffffffff)

static inline int fpu_kind_nargs(int kind)
{
    switch (kind) {
    case FPU_K_FF3: return 3;
    case FPU_K_FF2:
    case FPU_K_MM:
    case FPU_K_CMP: return 2;
    default: return 1;
    }
}

static inline int fpu_kind_has_rm(int kind)
{
    return kind == FPU_K_FF1 || kind == FPU_K_FF2 || kind == FPU_K_FF3 || kind == FPU_K_F2I ||
           kind == FPU_K_I2F || kind == FPU_K_I2X;
}

static inline int fpu_ty_is64(int ty)
{
    return ty == FPU_TY_F64 || ty == FPU_TY_I64 || ty == FPU_TY_U64;
}

#define FPU_OPS(X)                                                                                 \
    X(f32_add, FF2, F32, F32, "fadd.s")                                                            \
    X(f32_sub, FF2, F32, F32, "fsub.s")                                                            \
    X(f32_mul, FF2, F32, F32, "fmul.s")                                                            \
    X(f32_div, FF2, F32, F32, "fdiv.s")                                                            \
    X(f32_sqrt, FF1, F32, F32, "fsqrt.s")                                                          \
    X(f32_madd, FF3, F32, F32, "fmadd.s")                                                          \
    X(f32_msub, FF3, F32, F32, "fmsub.s")                                                          \
    X(f32_nmsub, FF3, F32, F32, "fnmsub.s")                                                        \
    X(f32_nmadd, FF3, F32, F32, "fnmadd.s")                                                        \
    X(f32_min, MM, F32, F32, "fmin.s")                                                             \
    X(f32_max, MM, F32, F32, "fmax.s")                                                             \
    X(f32_eq, CMP, F32, BOOL, "feq.s")                                                             \
    X(f32_lt, CMP, F32, BOOL, "flt.s")                                                             \
    X(f32_le, CMP, F32, BOOL, "fle.s")                                                             \
    X(f32_classify, CLS, F32, BOOL, "fclass.s")                                                    \
    X(f32_to_i32, F2I, F32, I32, "fcvt.w.s")                                                       \
    X(f32_to_u32, F2I, F32, U32, "fcvt.wu.s")                                                      \
    X(f32_to_i64, F2I, F32, I64, "fcvt.l.s")                                                       \
    X(f32_to_u64, F2I, F32, U64, "fcvt.lu.s")                                                      \
    X(i32_to_f32, I2F, I32, F32, "fcvt.s.w")                                                       \
    X(u32_to_f32, I2F, U32, F32, "fcvt.s.wu")                                                      \
    X(i64_to_f32, I2F, I64, F32, "fcvt.s.l")                                                       \
    X(u64_to_f32, I2F, U64, F32, "fcvt.s.lu")                                                      \
    X(f64_add, FF2, F64, F64, "fadd.d")                                                            \
    X(f64_sub, FF2, F64, F64, "fsub.d")                                                            \
    X(f64_mul, FF2, F64, F64, "fmul.d")                                                            \
    X(f64_div, FF2, F64, F64, "fdiv.d")                                                            \
    X(f64_sqrt, FF1, F64, F64, "fsqrt.d")                                                          \
    X(f64_madd, FF3, F64, F64, "fmadd.d")                                                          \
    X(f64_msub, FF3, F64, F64, "fmsub.d")                                                          \
    X(f64_nmsub, FF3, F64, F64, "fnmsub.d")                                                        \
    X(f64_nmadd, FF3, F64, F64, "fnmadd.d")                                                        \
    X(f64_min, MM, F64, F64, "fmin.d")                                                             \
    X(f64_max, MM, F64, F64, "fmax.d")                                                             \
    X(f64_eq, CMP, F64, BOOL, "feq.d")                                                             \
    X(f64_lt, CMP, F64, BOOL, "flt.d")                                                             \
    X(f64_le, CMP, F64, BOOL, "fle.d")                                                             \
    X(f64_classify, CLS, F64, BOOL, "fclass.d")                                                    \
    X(f64_to_i32, F2I, F64, I32, "fcvt.w.d")                                                       \
    X(f64_to_u32, F2I, F64, U32, "fcvt.wu.d")                                                      \
    X(f64_to_i64, F2I, F64, I64, "fcvt.l.d")                                                       \
    X(f64_to_u64, F2I, F64, U64, "fcvt.lu.d")                                                      \
    X(i32_to_f64, I2X, I32, F64, "fcvt.d.w")                                                       \
    X(u32_to_f64, I2X, U32, F64, "fcvt.d.wu")                                                      \
    X(i64_to_f64, I2F, I64, F64, "fcvt.d.l")                                                       \
    X(u64_to_f64, I2F, U64, F64, "fcvt.d.lu")                                                      \
    X(f32_to_f64, F2F, F32, F64, "fcvt.d.s")                                                       \
    X(f64_to_f32, FF1, F64, F32, "fcvt.s.d")

/* Uniform wrappers around the fpu.h functions (only where fpu.h is included):
 * FPU_OPS(FPU_DEF_SW) defines sw_<name>(a, b, c, rm, flags) for every op. */
typedef uint64_t (*fpu_op_fn)(uint64_t a, uint64_t b, uint64_t c, int rm, uint32_t *flags);

#define FPU_SW_CALL_FF1(n, i) n((FPU_CT_##i)a, rm, fl)
#define FPU_SW_CALL_FF2(n, i) n((FPU_CT_##i)a, (FPU_CT_##i)b, rm, fl)
#define FPU_SW_CALL_FF3(n, i) n((FPU_CT_##i)a, (FPU_CT_##i)b, (FPU_CT_##i)c, rm, fl)
#define FPU_SW_CALL_MM(n, i)  n((FPU_CT_##i)a, (FPU_CT_##i)b, fl)
#define FPU_SW_CALL_CMP(n, i) n((FPU_CT_##i)a, (FPU_CT_##i)b, fl)
#define FPU_SW_CALL_CLS(n, i) n((FPU_CT_##i)a)
#define FPU_SW_CALL_F2I(n, i) n((FPU_CT_##i)a, rm, fl)
#define FPU_SW_CALL_I2F(n, i) n((FPU_CT_##i)a, rm, fl)
#define FPU_SW_CALL_I2X(n, i) n((FPU_CT_##i)a, rm, fl)
#define FPU_SW_CALL_F2F(n, i) n((FPU_CT_##i)a, fl)

#define FPU_DEF_SW(n, k, i, o, insn)                                                               \
    static uint64_t sw_##n(uint64_t a, uint64_t b, uint64_t c, int rm, uint32_t *fl)               \
    {                                                                                              \
        (void)a, (void)b, (void)c, (void)rm, (void)fl;                                             \
        return (uint64_t)FPU_SW_CALL_##k(n, i) & FPU_MASK_##o;                                     \
    }

#endif /* KUMO_TEST_FPU_OPS_H */
