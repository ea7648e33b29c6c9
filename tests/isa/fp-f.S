/*
 * fp-f.S - F extension (single precision): loads/stores, moves, NaN-boxing,
 * sign injection, arithmetic with spec-derived results and flags, canonical
 * NaN outputs, fclass, fmin/fmax signed-zero and NaN rules, comparisons,
 * conversions with saturation, fused multiply-add single rounding.
 */
#include "test.h"
#include "fp.h"

  .text
  .globl test_main
test_main:
  FP_ON

  /* ---- loads, stores, moves, NaN-boxing ---- */
  TCASE "flw NaN-boxes"
  la s0, fdata
  flw f1, 0(s0)
  CHECKFS f1, 0x40490fdb
  flw f2, 4(s0)
  CHECKFS f2, 0xbf800000
  TCASE "fsw stores 32 bits"
  la s1, fbuf
  li a1, -1
  sd a1, 0(s1)
  fsw f2, 4(s1)
  ld a0, 0(s1)
  CHECK a0, 0xbf800000ffffffff
  TCASE "fmv.w.x NaN-boxes"
  li a1, 0x123456783f800000
  fmv.w.x f1, a1
  CHECKF f1, 0xffffffff3f800000
  TCASE "fmv.x.w sign-extends"
  fmv.x.w a0, f2
  CHECK a0, 0xffffffffbf800000
  LDF_S f1, 0x7f800000
  fmv.x.w a0, f1
  CHECK a0, 0x7f800000
  TCASE "fmv.x.w/fsw of a non-boxed value move raw bits"
  LDF_D f1, 0x123456789abcdef0
  fmv.x.w a0, f1
  CHECK a0, 0xffffffff9abcdef0
  fsw f1, 0(s1)
  lwu a0, 0(s1)
  CHECK a0, 0x9abcdef0
  TCASE "non-boxed input reads as canonical NaN"
  LDF_D f1, D_ONE               /* upper half not all ones */
  LDF_S f2, S_ONE
  fsflags zero
  fadd.s f3, f1, f2
  CHECKFS f3, S_QNAN
  CHECK_FLAGS 0
  fsgnj.s f3, f1, f2
  CHECKFS f3, S_QNAN
  TCASE "partially boxed input reads as canonical NaN"
  LDF_D f1, 0xfffffffe3f800000
  fmv.s f3, f1
  CHECKFS f3, S_QNAN
  /* the translator skips the NaN-box check of a register boxed earlier in
   * the block: it must see a later fld or fmv.d.x undo that (one block) */
  TCASE "a register unboxed later in the block reads as canonical NaN"
  li t0, S_ONE
  sw t0, 0(s1)
  li t0, D_ONE
  sd t0, 8(s1)
  fsflags zero
  flw f1, 0(s1)
  fadd.s f4, f1, f1
  fmv.d.x f1, t0
  fadd.s f3, f1, f1
  flw f2, 0(s1)
  fld f2, 8(s1)
  fmul.s f5, f2, f4
  CHECKFS f3, S_QNAN
  CHECKFS f4, S_TWO
  CHECKFS f5, S_QNAN
  CHECK_FLAGS 0
  /* the second operand, also the destination, not boxed: the slow path
   * for it is one of several copies (one per reason), and the first copy's
   * boxed result must not make the second trust that register */
  TCASE "a non-boxed second operand that is also the destination"
  LDF_S f2, S_TWO
  LDF_D f7, D_ONE
  LDF_D f8, D_ONE
  fsflags zero
  fmul.s f7, f2, f7
  fadd.s f8, f2, f8
  CHECKFS f7, S_QNAN
  CHECKFS f8, S_QNAN
  CHECK_FLAGS 0
  /* and skips the inexact test when NX is already set */
  TCASE "inexact results with NX already set"
  LDF_S f1, S_ONE
  LDF_S f2, 0x33800000          /* 2^-24: 1 + 2^-24 ties to 1 */
  LDF_S f6, 0x3eaaaaab          /* about 1/3 */
  li t0, NX | UF
  fsflags t0
  fadd.s f3, f1, f2
  fmul.s f4, f6, f6
  fsub.s f5, f1, f2
  CHECKFS f3, S_ONE
  CHECKFS f4, 0x3de38e3a
  CHECKFS f5, 0x3f7fffff
  CHECK_FLAGS NX | UF
  li t0, UF                     /* another flag is no reason to skip it */
  fsflags t0
  fmul.s f4, f6, f6
  CHECK_FLAGS NX | UF
  li t0, UF
  fsflags t0
  fadd.s f3, f1, f2
  CHECK_FLAGS NX | UF
  TCASE "fclass of non-boxed value is quiet NaN"
  LDF_D f1, 0x000000003f800000
  fclass.s a0, f1
  CHECK a0, 1 << 9

  /* ---- sign injection ---- */
  T_S2N fsgnj.s, S_ONE, S_MONE, S_MONE, 0
  T_S2N fsgnj.s, S_MONE, S_ONE, S_ONE, 0
  T_S2N fsgnjn.s, S_ONE, S_MONE, S_ONE, 0
  T_S2N fsgnjn.s, S_ONE, S_ONE, S_MONE, 0
  T_S2N fsgnjx.s, S_MONE, S_MONE, S_ONE, 0
  T_S2N fsgnjx.s, S_MONE, S_ONE, S_MONE, 0
  T_S2N fsgnj.s, S_SNAN, S_NZERO, 0xff800001, 0   /* no NaN canonicalisation, no flags */
  TCASE "fneg.s / fabs.s / fmv.s"
  LDF_S f1, S_THREE
  fneg.s f3, f1
  CHECKFS f3, 0xc0400000
  fabs.s f4, f3
  CHECKFS f4, S_THREE
  fmv.s f5, f3
  CHECKFS f5, 0xc0400000

  /* ---- add / sub ---- */
  T_S2 fadd.s, S_ONE, S_TWO, S_THREE, 0
  T_S2 fadd.s, S_ONE, S_MONE, S_PZERO, 0
  T_S2 fadd.s, S_ONE, S_MONE, S_NZERO, 0, rdn    /* x - x = -0 in RDN */
  T_S2 fadd.s, S_NZERO, S_NZERO, S_NZERO, 0
  T_S2 fadd.s, S_ONE, 0x33800000, S_ONE, NX      /* 1 + 2^-24: tie to even */
  T_S2 fadd.s, S_ONE, 0x33800000, 0x3f800001, NX, rup
  T_S2 fadd.s, S_ONE, 0x33800000, S_ONE, NX, rtz
  T_S2 fadd.s, S_ONE, 0x33800000, S_ONE, NX, rdn
  T_S2 fadd.s, S_ONE, 0x33800000, 0x3f800001, NX, rmm  /* tie away */
  T_S2 fadd.s, 0x3f800001, 0x33800000, 0x3f800002, NX  /* tie to even, up */
  T_S2 fadd.s, S_MAX, S_MAX, S_PINF, OF | NX
  T_S2 fadd.s, S_MAX, S_MAX, S_MAX, OF | NX, rtz
  T_S2 fadd.s, S_PINF, S_NINF, S_QNAN, NV
  T_S2 fadd.s, S_PINF, S_ONE, S_PINF, 0
  T_S2 fadd.s, S_SNAN, S_ONE, S_QNAN, NV
  T_S2 fadd.s, 0x7fc12345, S_ONE, S_QNAN, 0       /* payload not kept */
  T_S2 fadd.s, 0xffc00000, S_ONE, S_QNAN, 0       /* sign not kept */
  T_S2 fsub.s, S_THREE, S_ONE, S_TWO, 0
  T_S2 fsub.s, S_ONE, S_ONE, S_PZERO, 0
  T_S2 fsub.s, S_ONE, S_ONE, S_NZERO, 0, rdn
  T_S2 fsub.s, S_PINF, S_PINF, S_QNAN, NV
  T_S2 fsub.s, S_MINN, 0x00800001, 0x80000001, 0    /* exact subnormal result */

  /* ---- mul / div / sqrt ---- */
  T_S2 fmul.s, S_TWO, S_THREE, 0x40c00000, 0
  T_S2 fmul.s, S_MONE, S_PZERO, S_NZERO, 0
  T_S2 fmul.s, S_MAX, S_TWO, S_PINF, OF | NX
  T_S2 fmul.s, S_MAX, S_TWO, S_MAX, OF | NX, rdn
  T_S2 fmul.s, S_PZERO, S_PINF, S_QNAN, NV
  T_S2 fmul.s, S_MINN, S_HALF, 0x00400000, 0        /* exact subnormal: no UF */
  T_S2 fmul.s, S_MINS, S_HALF, S_PZERO, UF | NX     /* tie to even -> 0 */
  T_S2 fmul.s, S_MINS, S_HALF, S_MINS, UF | NX, rup
  T_S2 fmul.s, 0x00000003, S_HALF, 0x00000002, UF | NX  /* 1.5 ulp -> 2 */
  T_S2 fdiv.s, S_ONE, S_THREE, 0x3eaaaaab, NX
  T_S2 fdiv.s, S_ONE, S_THREE, 0x3eaaaaaa, NX, rtz
  T_S2 fdiv.s, 0x40c00000, S_TWO, S_THREE, 0
  T_S2 fdiv.s, S_ONE, S_PZERO, S_PINF, DZ
  T_S2 fdiv.s, S_MONE, S_PZERO, S_NINF, DZ
  T_S2 fdiv.s, S_ONE, S_NZERO, S_NINF, DZ
  T_S2 fdiv.s, S_PZERO, S_PZERO, S_QNAN, NV
  T_S2 fdiv.s, S_PINF, S_PINF, S_QNAN, NV
  T_S2 fdiv.s, S_PINF, S_PZERO, S_PINF, 0           /* inf / 0: no DZ */
  T_S1 fsqrt.s, 0x40800000, S_TWO, 0
  T_S1 fsqrt.s, S_TWO, 0x3fb504f3, NX
  T_S1 fsqrt.s, S_MONE, S_QNAN, NV
  T_S1 fsqrt.s, S_NZERO, S_NZERO, 0
  T_S1 fsqrt.s, S_PINF, S_PINF, 0
  T_S1 fsqrt.s, S_NINF, S_QNAN, NV
  T_S1 fsqrt.s, S_SNAN, S_QNAN, NV

  /* ---- min / max (IEEE 754-2019 minimumNumber/maximumNumber) ---- */
  T_S2N fmin.s, S_ONE, S_TWO, S_ONE, 0
  T_S2N fmin.s, S_MONE, S_TWO, S_MONE, 0
  T_S2N fmax.s, S_MONE, S_TWO, S_TWO, 0
  T_S2N fmin.s, S_NZERO, S_PZERO, S_NZERO, 0
  T_S2N fmin.s, S_PZERO, S_NZERO, S_NZERO, 0
  T_S2N fmax.s, S_NZERO, S_PZERO, S_PZERO, 0
  T_S2N fmax.s, S_PZERO, S_NZERO, S_PZERO, 0
  T_S2N fmin.s, S_QNAN, S_ONE, S_ONE, 0
  T_S2N fmin.s, S_ONE, 0x7fc12345, S_ONE, 0
  T_S2N fmax.s, S_SNAN, S_ONE, S_ONE, NV
  T_S2N fmin.s, S_ONE, S_SNAN, S_ONE, NV
  T_S2N fmax.s, S_QNAN, S_QNAN, S_QNAN, 0
  T_S2N fmin.s, S_SNAN, 0x7fc12345, S_QNAN, NV
  T_S2N fmax.s, S_NINF, S_PINF, S_PINF, 0

  /* ---- comparisons ---- */
  T_SCMP feq.s, S_ONE, S_ONE, 1, 0
  T_SCMP feq.s, S_ONE, S_TWO, 0, 0
  T_SCMP feq.s, S_NZERO, S_PZERO, 1, 0
  T_SCMP feq.s, S_QNAN, S_QNAN, 0, 0               /* quiet comparison */
  T_SCMP feq.s, S_SNAN, S_ONE, 0, NV
  T_SCMP flt.s, S_MONE, S_ONE, 1, 0
  T_SCMP flt.s, S_ONE, S_ONE, 0, 0
  T_SCMP flt.s, S_NZERO, S_PZERO, 0, 0
  T_SCMP flt.s, S_QNAN, S_ONE, 0, NV               /* signaling comparison */
  T_SCMP fle.s, S_ONE, S_ONE, 1, 0
  T_SCMP fle.s, S_TWO, S_ONE, 0, 0
  T_SCMP fle.s, S_PZERO, S_NZERO, 1, 0
  T_SCMP fle.s, S_ONE, S_QNAN, 0, NV
  T_SCMP flt.s, S_NINF, S_PINF, 1, 0

  /* ---- fclass: one bit per class ---- */
  T_S2X fclass.s, S_NINF, 1 << 0, 0
  T_S2X fclass.s, S_MONE, 1 << 1, 0
  T_S2X fclass.s, 0x807fffff, 1 << 2, 0
  T_S2X fclass.s, S_NZERO, 1 << 3, 0
  T_S2X fclass.s, S_PZERO, 1 << 4, 0
  T_S2X fclass.s, S_MINS, 1 << 5, 0
  T_S2X fclass.s, S_ONE, 1 << 6, 0
  T_S2X fclass.s, S_PINF, 1 << 7, 0
  T_S2X fclass.s, S_SNAN, 1 << 8, 0
  T_S2X fclass.s, 0xffbfffff, 1 << 8, 0
  T_S2X fclass.s, S_QNAN, 1 << 9, 0
  T_S2X fclass.s, 0xffc00001, 1 << 9, 0

  /* ---- float -> integer, with saturation ---- */
  T_S2X fcvt.w.s, 0x3fc00000, 2, NX, rne           /*  1.5 */
  T_S2X fcvt.w.s, 0xbfc00000, -2, NX, rne          /* -1.5 */
  T_S2X fcvt.w.s, 0x40200000, 2, NX, rne           /*  2.5: tie to even */
  T_S2X fcvt.w.s, 0x40200000, 3, NX, rmm
  T_S2X fcvt.w.s, 0x3ff33333, 1, NX, rtz           /*  1.9 */
  T_S2X fcvt.w.s, 0xbff33333, -2, NX, rdn          /* -1.9 */
  T_S2X fcvt.w.s, 0x3f99999a, 2, NX, rup           /*  1.2 */
  T_S2X fcvt.w.s, S_MONE, -1, 0, rtz
  T_S2X fcvt.w.s, 0xcf000000, 0xffffffff80000000, 0, rtz  /* -2^31 exact */
  T_S2X fcvt.w.s, S_QNAN, 0x7fffffff, NV, rtz
  T_S2X fcvt.w.s, 0xffc00000, 0x7fffffff, NV, rtz         /* -NaN too */
  T_S2X fcvt.w.s, S_PINF, 0x7fffffff, NV, rtz
  T_S2X fcvt.w.s, S_NINF, 0xffffffff80000000, NV, rtz
  T_S2X fcvt.w.s, 0x4f32d05e, 0x7fffffff, NV, rtz         /* 3e9 */
  T_S2X fcvt.w.s, 0xcf32d05e, 0xffffffff80000000, NV, rtz /* -3e9 */
  T_S2X fcvt.wu.s, S_MONE, 0, NV, rtz
  T_S2X fcvt.wu.s, 0xbf000000, 0, NX, rtz                 /* -0.5 -> -0 */
  T_S2X fcvt.wu.s, 0xbf000000, 0, NX, rne
  T_S2X fcvt.wu.s, 0xbf000000, 0, NV, rdn                 /* -> -1 */
  T_S2X fcvt.wu.s, 0x4f32d05e, 0xffffffffb2d05e00, 0, rtz /* 3e9 fits; sign-extended */
  T_S2X fcvt.wu.s, S_QNAN, 0xffffffffffffffff, NV, rtz
  T_S2X fcvt.wu.s, S_PINF, 0xffffffffffffffff, NV, rtz
  T_S2X fcvt.wu.s, S_NINF, 0, NV, rtz
  T_S2X fcvt.wu.s, 0x4f800000, 0xffffffffffffffff, NV, rtz  /* 2^32 */
  T_S2X fcvt.l.s, 0x5f000000, 0x7fffffffffffffff, NV, rtz   /* 2^63 */
  T_S2X fcvt.l.s, 0xdf000000, 0x8000000000000000, 0, rtz    /* -2^63 */
  T_S2X fcvt.l.s, S_QNAN, 0x7fffffffffffffff, NV, rtz
  T_S2X fcvt.l.s, S_NINF, 0x8000000000000000, NV, rtz
  T_S2X fcvt.l.s, 0x4f32d05e, 3000000000, 0, rtz
  T_S2X fcvt.lu.s, S_MONE, 0, NV, rtz
  T_S2X fcvt.lu.s, S_QNAN, 0xffffffffffffffff, NV, rtz
  T_S2X fcvt.lu.s, 0x5f800000, 0xffffffffffffffff, NV, rtz  /* 2^64 */
  T_S2X fcvt.lu.s, 0x5f000000, 0x8000000000000000, 0, rtz

  /* ---- integer -> float ---- */
  T_X2S fcvt.s.w, -1, S_MONE, 0
  T_X2S fcvt.s.w, 0x100000001, S_ONE, 0              /* low 32 bits only */
  T_X2S fcvt.s.w, 0x7fffffff, 0x4f000000, NX
  T_X2S fcvt.s.w, 0x7fffffff, 0x4effffff, NX, rtz
  T_X2S fcvt.s.wu, 0xffffffff, 0x4f800000, NX
  T_X2S fcvt.s.wu, 0xffffffff80000000, 0x4f000000, 0  /* 2^31 */
  T_X2S fcvt.s.l, 0x7fffffffffffffff, 0x5f000000, NX
  T_X2S fcvt.s.l, 0x8000000000000000, 0xdf000000, 0
  T_X2S fcvt.s.l, 0, S_PZERO, 0
  T_X2S fcvt.s.lu, -1, 0x5f800000, NX
  T_X2S fcvt.s.lu, 0x1000001, 0x4b800000, NX          /* 2^24 + 1: tie to even */
  T_X2S fcvt.s.lu, 0x1000003, 0x4b800002, NX          /* 2^24 + 3: tie to even, up */

  /* ---- fused multiply-add: one rounding ---- */
  /* a = 1 + 2^-12; a*a = 1 + 2^-11 + 2^-24; c = -(1 + 2^-11) */
  T_S3 fmadd.s, 0x3f800800, 0x3f800800, 0xbf801000, 0x33800000, 0
  TCASE "fmul.s + fadd.s differ from fmadd.s"
  LDF_S f1, 0x3f800800
  LDF_S f3, 0xbf801000
  fmul.s f4, f1, f1
  fadd.s f4, f4, f3
  CHECKFS f4, S_PZERO
  T_S3 fmsub.s, 0x3f800800, 0x3f800800, 0xbf801000, 0x40001000, NX
  T_S3 fnmsub.s, 0x3f800800, 0x3f800800, 0xbf801000, 0xc0001000, NX
  T_S3 fnmadd.s, 0x3f800800, 0x3f800800, 0xbf801000, 0xb3800000, 0
  T_S3 fmadd.s, S_TWO, S_THREE, S_ONE, 0x40e00000, 0
  T_S3 fmsub.s, S_TWO, S_THREE, S_ONE, 0x40a00000, 0
  T_S3 fnmadd.s, S_TWO, S_THREE, S_ONE, 0xc0e00000, 0
  T_S3 fnmsub.s, S_TWO, S_THREE, S_ONE, 0xc0a00000, 0
  T_S3 fmadd.s, S_PINF, S_PZERO, S_QNAN, S_QNAN, NV   /* inf*0 + qNaN is invalid */
  T_S3 fmadd.s, S_PINF, S_ONE, S_NINF, S_QNAN, NV
  T_S3 fmadd.s, S_ONE, S_ONE, S_SNAN, S_QNAN, NV
  T_S3 fmadd.s, S_ONE, S_QNAN, S_ONE, S_QNAN, 0
  T_S3 fmadd.s, S_MAX, S_TWO, S_NINF, S_NINF, 0       /* no overflow before add */
  T_S3 fmadd.s, S_ONE, S_MONE, S_ONE, S_PZERO, 0
  T_S3 fmadd.s, S_ONE, S_MONE, S_ONE, S_NZERO, 0, rdn
  PASS

  .data
  .balign 8
fdata:
  .word 0x40490fdb, 0xbf800000
fbuf:
  .dword 0, 0
