/*
 * fpu.h - IEEE-754 arithmetic for the RISC-V F and D extensions.
 *
 * What the hart calls to execute every floating-point instruction.  Results
 * and exception flags are bit-exact with the RISC-V unprivileged ISA
 * (chapters "F" and "D"):
 *
 *   - values are raw bit patterns: binary32 in uint32_t, binary64 in uint64_t;
 *   - every arithmetic NaN result is the canonical NaN (no payload propagation);
 *   - tininess is detected after rounding; UF is raised only when the result
 *     is also inexact;
 *   - rm is a resolved static rounding mode 0..4 (the hart resolves DYN from
 *     frm and raises illegal-instruction for 5, 6 and 7 itself);
 *   - each function ORs the flags it raises into *flags and never clears any.
 *
 * FNMSUB/FNMADD negate the product and (for FNMADD) the addend before the
 * single rounding, as the ISA defines: nmadd(a, b, c) = -(a*b) - c rounded once.
 *
 * Thread safety: every function is reentrant.  fpu_set_host_fastpath() is a
 * test knob; call it before other threads use the FPU.
 */
#ifndef KUMO_CPU_FPU_H
#define KUMO_CPU_FPU_H

#include <stdint.h>

enum fpu_rm { FPU_RNE = 0, FPU_RTZ = 1, FPU_RDN = 2, FPU_RUP = 3, FPU_RMM = 4 };

/* Same bit positions as the fflags CSR. */
enum fpu_flag { FPU_NX = 1, FPU_UF = 2, FPU_OF = 4, FPU_DZ = 8, FPU_NV = 16 };

#define F32_CANONICAL_NAN 0x7fc00000u
#define F64_CANONICAL_NAN 0x7ff8000000000000ull

/* ---- binary32 (F) ---- */
uint32_t f32_add(uint32_t a, uint32_t b, int rm, uint32_t *flags);
uint32_t f32_sub(uint32_t a, uint32_t b, int rm, uint32_t *flags);
uint32_t f32_mul(uint32_t a, uint32_t b, int rm, uint32_t *flags);
uint32_t f32_div(uint32_t a, uint32_t b, int rm, uint32_t *flags);
uint32_t f32_sqrt(uint32_t a, int rm, uint32_t *flags);
uint32_t f32_madd(uint32_t a, uint32_t b, uint32_t c, int rm, uint32_t *flags);  /*  (a*b)+c */
uint32_t f32_msub(uint32_t a, uint32_t b, uint32_t c, int rm, uint32_t *flags);  /*  (a*b)-c */
uint32_t f32_nmsub(uint32_t a, uint32_t b, uint32_t c, int rm, uint32_t *flags); /* -(a*b)+c */
uint32_t f32_nmadd(uint32_t a, uint32_t b, uint32_t c, int rm, uint32_t *flags); /* -(a*b)-c */
/* FMIN.S/FMAX.S (ISA 2.2+: minimumNumber/maximumNumber, -0 < +0). */
uint32_t f32_min(uint32_t a, uint32_t b, uint32_t *flags);
uint32_t f32_max(uint32_t a, uint32_t b, uint32_t *flags);
int f32_eq(uint32_t a, uint32_t b, uint32_t *flags); /* quiet: NV only on sNaN */
int f32_lt(uint32_t a, uint32_t b, uint32_t *flags); /* signaling: NV on any NaN */
int f32_le(uint32_t a, uint32_t b, uint32_t *flags);
uint32_t f32_classify(uint32_t a); /* FCLASS.S 10-bit mask */
int32_t f32_to_i32(uint32_t a, int rm, uint32_t *flags);
uint32_t f32_to_u32(uint32_t a, int rm, uint32_t *flags);
int64_t f32_to_i64(uint32_t a, int rm, uint32_t *flags);
uint64_t f32_to_u64(uint32_t a, int rm, uint32_t *flags);
uint32_t i32_to_f32(int32_t v, int rm, uint32_t *flags);
uint32_t u32_to_f32(uint32_t v, int rm, uint32_t *flags);
uint32_t i64_to_f32(int64_t v, int rm, uint32_t *flags);
uint32_t u64_to_f32(uint64_t v, int rm, uint32_t *flags);

/* ---- binary64 (D) ---- */
uint64_t f64_add(uint64_t a, uint64_t b, int rm, uint32_t *flags);
uint64_t f64_sub(uint64_t a, uint64_t b, int rm, uint32_t *flags);
uint64_t f64_mul(uint64_t a, uint64_t b, int rm, uint32_t *flags);
uint64_t f64_div(uint64_t a, uint64_t b, int rm, uint32_t *flags);
uint64_t f64_sqrt(uint64_t a, int rm, uint32_t *flags);
uint64_t f64_madd(uint64_t a, uint64_t b, uint64_t c, int rm, uint32_t *flags);
uint64_t f64_msub(uint64_t a, uint64_t b, uint64_t c, int rm, uint32_t *flags);
uint64_t f64_nmsub(uint64_t a, uint64_t b, uint64_t c, int rm, uint32_t *flags);
uint64_t f64_nmadd(uint64_t a, uint64_t b, uint64_t c, int rm, uint32_t *flags);
uint64_t f64_min(uint64_t a, uint64_t b, uint32_t *flags);
uint64_t f64_max(uint64_t a, uint64_t b, uint32_t *flags);
int f64_eq(uint64_t a, uint64_t b, uint32_t *flags);
int f64_lt(uint64_t a, uint64_t b, uint32_t *flags);
int f64_le(uint64_t a, uint64_t b, uint32_t *flags);
uint32_t f64_classify(uint64_t a);
int32_t f64_to_i32(uint64_t a, int rm, uint32_t *flags);
uint32_t f64_to_u32(uint64_t a, int rm, uint32_t *flags);
int64_t f64_to_i64(uint64_t a, int rm, uint32_t *flags);
uint64_t f64_to_u64(uint64_t a, int rm, uint32_t *flags);
uint64_t i32_to_f64(int32_t v, int rm, uint32_t *flags);
uint64_t u32_to_f64(uint32_t v, int rm, uint32_t *flags);
uint64_t i64_to_f64(int64_t v, int rm, uint32_t *flags);
uint64_t u64_to_f64(uint64_t v, int rm, uint32_t *flags);

/* ---- between formats ---- */
uint64_t f32_to_f64(uint32_t a, uint32_t *flags); /* exact; NV on sNaN; NaN -> canonical */
uint32_t f64_to_f32(uint64_t a, int rm, uint32_t *flags);

/*
 * Host fast paths.  On x86-64, add, sub, mul, div, sqrt and the fused
 * multiply-adds in RNE/RTZ/RDN/RUP run on the SSE unit (the binary64 FMA and
 * some RNE paths need FMA3, probed once at start-up); RMM, every other
 * operation, special operands and results near the overflow/underflow
 * thresholds use the portable software implementation.  Both give the same
 * bits and flags (fpu.c, part 2, says why).
 *
 * Host state: on x86-64 a call may reset MXCSR to the C default 0x1f80
 * (round to nearest, all exceptions masked, no sticky flags, DAZ/FTZ off);
 * it never leaves any other state behind and results never depend on the
 * MXCSR it finds.  (Reading MXCSR is slow on some CPUs, so it is not saved.)
 *
 * fpu_set_host_fastpath() is a test knob: 0 forces the software
 * implementation, 1 (the default) uses every host path, 2 only those that do
 * not need FMA3 (as on an old CPU).  Returns 1 if host fast paths exist on
 * this build, 0 if the FPU is software only.
 */
int fpu_set_host_fastpath(int enable);

#endif /* KUMO_CPU_FPU_H */
