/*
 * fp-d.S - D extension (double precision): loads/stores, fmv.x.d/fmv.d.x,
 * sign injection, arithmetic with flags, fclass, fmin/fmax, comparisons,
 * conversions (to/from integers with saturation, to/from single with
 * NaN-boxing), fused multiply-add single rounding.
 */
#include "test.h"
#include "fp.h"

#define D_THIRD 0x3fd5555555555555

  .text
  .globl test_main
test_main:
  FP_ON

  /* ---- loads, stores, moves ---- */
  TCASE "fld/fsd"
  la s0, ddata
  fld f1, 0(s0)
  CHECKF f1, 0x400921fb54442d18
  fld f2, 8(s0)
  fsd f2, 16(s0)
  ld a0, 16(s0)
  CHECK a0, 0x8000000000000001
  TCASE "fmv.d.x/fmv.x.d keep NaN payloads"
  li a1, 0x7ff0000000000001
  fmv.d.x f1, a1
  fmv.x.d a0, f1
  CHECK a0, 0x7ff0000000000001
  li a1, 0xfff8dead0000beef
  fmv.d.x f1, a1
  fsd f1, 24(s0)
  ld a0, 24(s0)
  CHECK a0, 0xfff8dead0000beef
  TCASE "fmv.d (fsgnj.d) of sNaN is not canonicalised"
  fmv.d f2, f1
  CHECKF f2, 0xfff8dead0000beef

  /* ---- sign injection ---- */
  T_D2N fsgnj.d, D_ONE, D_MONE, D_MONE, 0
  T_D2N fsgnjn.d, D_ONE, D_MONE, D_ONE, 0
  T_D2N fsgnjx.d, D_MONE, D_MONE, D_ONE, 0
  T_D2N fsgnjx.d, D_MONE, D_ONE, D_MONE, 0
  T_D2N fsgnj.d, D_SNAN, D_NZERO, 0xfff0000000000001, 0

  /* ---- arithmetic ---- */
  T_D2 fadd.d, D_ONE, D_TWO, D_THREE, 0
  T_D2 fadd.d, D_ONE, D_MONE, D_NZERO, 0, rdn
  T_D2 fadd.d, D_ONE, 0x3ca0000000000000, D_ONE, NX          /* 1 + 2^-53: tie */
  T_D2 fadd.d, D_ONE, 0x3ca0000000000000, 0x3ff0000000000001, NX, rup
  T_D2 fadd.d, D_MAX, D_MAX, D_PINF, OF | NX
  T_D2 fadd.d, D_MAX, D_MAX, D_MAX, OF | NX, rtz
  T_D2 fadd.d, D_PINF, D_NINF, D_QNAN, NV
  T_D2 fadd.d, D_SNAN, D_ONE, D_QNAN, NV
  T_D2 fadd.d, 0xfff8000000001234, D_ONE, D_QNAN, 0
  T_D2 fsub.d, D_THREE, D_ONE, D_TWO, 0
  T_D2 fsub.d, D_PINF, D_PINF, D_QNAN, NV
  T_D2 fmul.d, D_TWO, D_THREE, 0x4018000000000000, 0
  T_D2 fmul.d, D_PZERO, D_NINF, D_QNAN, NV
  T_D2 fmul.d, D_MAX, D_TWO, D_PINF, OF | NX
  T_D2 fmul.d, D_MINS, D_HALF, D_PZERO, UF | NX
  T_D2 fmul.d, D_MINN, D_HALF, 0x0008000000000000, 0
  T_D2 fdiv.d, D_ONE, D_THREE, D_THIRD, NX
  T_D2 fdiv.d, D_ONE, D_THREE, 0x3fd5555555555556, NX, rup
  T_D2 fdiv.d, D_ONE, D_PZERO, D_PINF, DZ
  T_D2 fdiv.d, D_MONE, D_PZERO, D_NINF, DZ
  T_D2 fdiv.d, D_PZERO, D_PZERO, D_QNAN, NV
  T_D1 fsqrt.d, 0x4010000000000000, D_TWO, 0
  T_D1 fsqrt.d, D_TWO, 0x3ff6a09e667f3bcd, NX
  T_D1 fsqrt.d, D_MONE, D_QNAN, NV
  T_D1 fsqrt.d, D_NZERO, D_NZERO, 0

  /* ---- min / max ---- */
  T_D2N fmin.d, D_NZERO, D_PZERO, D_NZERO, 0
  T_D2N fmin.d, D_PZERO, D_NZERO, D_NZERO, 0
  T_D2N fmax.d, D_NZERO, D_PZERO, D_PZERO, 0
  T_D2N fmax.d, D_PZERO, D_NZERO, D_PZERO, 0
  T_D2N fmin.d, D_QNAN, D_MONE, D_MONE, 0
  T_D2N fmax.d, D_ONE, D_SNAN, D_ONE, NV
  T_D2N fmin.d, 0x7ff8000000000123, 0xfff8000000000456, D_QNAN, 0
  T_D2N fmax.d, D_SNAN, D_SNAN, D_QNAN, NV

  /* ---- comparisons ---- */
  T_DCMP feq.d, D_NZERO, D_PZERO, 1, 0
  T_DCMP feq.d, D_QNAN, D_ONE, 0, 0
  T_DCMP feq.d, D_SNAN, D_ONE, 0, NV
  T_DCMP flt.d, D_ONE, D_TWO, 1, 0
  T_DCMP flt.d, D_QNAN, D_TWO, 0, NV
  T_DCMP fle.d, D_TWO, D_TWO, 1, 0
  T_DCMP fle.d, D_TWO, D_QNAN, 0, NV

  /* ---- fclass ---- */
  T_D2X fclass.d, D_NINF, 1 << 0, 0
  T_D2X fclass.d, D_MONE, 1 << 1, 0
  T_D2X fclass.d, 0x800fffffffffffff, 1 << 2, 0
  T_D2X fclass.d, D_NZERO, 1 << 3, 0
  T_D2X fclass.d, D_PZERO, 1 << 4, 0
  T_D2X fclass.d, D_MINS, 1 << 5, 0
  T_D2X fclass.d, D_MAX, 1 << 6, 0
  T_D2X fclass.d, D_PINF, 1 << 7, 0
  T_D2X fclass.d, D_SNAN, 1 << 8, 0
  T_D2X fclass.d, D_QNAN, 1 << 9, 0

  /* ---- double -> integer ---- */
  T_D2X fcvt.w.d, 0x3ff8000000000000, 2, NX, rne      /* 1.5 */
  T_D2X fcvt.w.d, 0x4004000000000000, 2, NX, rne      /* 2.5 */
  T_D2X fcvt.w.d, 0x4004000000000000, 3, NX, rmm
  T_D2X fcvt.w.d, 0xc004000000000000, -3, NX, rdn     /* -2.5 */
  T_D2X fcvt.w.d, 0xc004000000000000, -2, NX, rup
  T_D2X fcvt.w.d, 0x41dfffffffc00000, 0x7fffffff, 0, rtz   /* 2^31 - 1 */
  T_D2X fcvt.w.d, 0x41e0000000000000, 0x7fffffff, NV, rtz  /* 2^31 */
  T_D2X fcvt.w.d, 0xc1e0000000000000, 0xffffffff80000000, 0, rtz  /* -2^31 */
  T_D2X fcvt.w.d, 0xc1e0000000200000, 0xffffffff80000000, NV, rtz /* -2^31 - 1 */
  T_D2X fcvt.w.d, D_QNAN, 0x7fffffff, NV, rtz
  T_D2X fcvt.w.d, D_PINF, 0x7fffffff, NV, rtz
  T_D2X fcvt.w.d, D_NINF, 0xffffffff80000000, NV, rtz
  T_D2X fcvt.wu.d, D_MONE, 0, NV, rtz
  T_D2X fcvt.wu.d, 0xbfe0000000000000, 0, NX, rtz     /* -0.5 */
  T_D2X fcvt.wu.d, 0xbfe0000000000000, 0, NX, rne
  T_D2X fcvt.wu.d, 0xbfe0000000000000, 0, NV, rdn
  T_D2X fcvt.wu.d, 0x41efffffffe00000, 0xffffffffffffffff, 0, rtz /* 2^32 - 1 */
  T_D2X fcvt.wu.d, 0x41f0000000000000, 0xffffffffffffffff, NV, rtz
  T_D2X fcvt.wu.d, D_QNAN, 0xffffffffffffffff, NV, rtz
  T_D2X fcvt.l.d, 0x43e0000000000000, 0x7fffffffffffffff, NV, rtz /* 2^63 */
  T_D2X fcvt.l.d, 0xc3e0000000000000, 0x8000000000000000, 0, rtz
  T_D2X fcvt.l.d, D_QNAN, 0x7fffffffffffffff, NV, rtz
  T_D2X fcvt.l.d, D_NINF, 0x8000000000000000, NV, rtz
  T_D2X fcvt.l.d, 0xc00c000000000000, -3, NX, rtz     /* -3.5 */
  T_D2X fcvt.lu.d, D_MONE, 0, NV, rtz
  T_D2X fcvt.lu.d, D_NINF, 0, NV, rtz
  T_D2X fcvt.lu.d, D_PINF, 0xffffffffffffffff, NV, rtz
  T_D2X fcvt.lu.d, 0x43efffffffffffff, 0xfffffffffffff800, 0, rtz

  /* ---- integer -> double ---- */
  T_X2D fcvt.d.w, -1, D_MONE, 0
  T_X2D fcvt.d.w, 0x180000000, 0xc1e0000000000000, 0  /* low word -2^31 */
  T_X2D fcvt.d.wu, 0xffffffff, 0x41efffffffe00000, 0
  T_X2D fcvt.d.wu, 0xffffffffffffffff, 0x41efffffffe00000, 0
  T_X2D fcvt.d.l, 0x7fffffffffffffff, 0x43e0000000000000, NX
  T_X2D fcvt.d.l, 0x7fffffffffffffff, 0x43dfffffffffffff, NX, rtz
  T_X2D fcvt.d.l, 0x20000000000001, 0x4340000000000000, NX   /* 2^53 + 1 */
  T_X2D fcvt.d.lu, -1, 0x43f0000000000000, NX
  T_X2D fcvt.d.lu, 0, D_PZERO, 0

  /* ---- single <-> double ---- */
  TCASE "fcvt.s.d rounds and NaN-boxes"
  LDF_D f1, D_THIRD
  fsflags zero
  fcvt.s.d f3, f1
  CHECKFS f3, 0x3eaaaaab
  CHECK_FLAGS NX
  TCASE "fcvt.d.s is exact"
  LDF_S f1, 0x3eaaaaab
  fsflags zero
  fcvt.d.s f3, f1
  CHECKF f3, 0x3fd5555560000000
  CHECK_FLAGS 0
  TCASE "fcvt.d.s subnormal single"
  LDF_S f1, S_MINS
  fcvt.d.s f3, f1
  CHECKF f3, 0x36a0000000000000
  TCASE "fcvt.s.d overflow"
  LDF_D f1, D_MAX
  fsflags zero
  fcvt.s.d f3, f1
  CHECKFS f3, S_PINF
  CHECK_FLAGS OF | NX
  fcvt.s.d f3, f1, rtz
  CHECKFS f3, S_MAX
  TCASE "fcvt.s.d underflow"
  LDF_D f1, D_MINN
  fsflags zero
  fcvt.s.d f3, f1
  CHECKFS f3, S_PZERO
  CHECK_FLAGS UF | NX
  TCASE "fcvt.s.d of NaN is canonical"
  LDF_D f1, 0xfff8000012345678
  fsflags zero
  fcvt.s.d f3, f1
  CHECKFS f3, S_QNAN
  CHECK_FLAGS 0
  TCASE "fcvt.d.s of sNaN is canonical, NV"
  LDF_S f1, S_SNAN
  fsflags zero
  fcvt.d.s f3, f1
  CHECKF f3, D_QNAN
  CHECK_FLAGS NV
  TCASE "fcvt.d.s of a non-boxed value is canonical NaN"
  LDF_D f1, D_ONE
  fsflags zero
  fcvt.d.s f3, f1
  CHECKF f3, D_QNAN
  CHECK_FLAGS 0

  /* ---- fused multiply-add ---- */
  /* a = 1 + 2^-27; a*a = 1 + 2^-26 + 2^-54; c = -(1 + 2^-26) */
  T_D3 fmadd.d, 0x3ff0000002000000, 0x3ff0000002000000, 0xbff0000004000000, 0x3c90000000000000, 0
  TCASE "fmul.d + fadd.d differ from fmadd.d"
  LDF_D f1, 0x3ff0000002000000
  LDF_D f3, 0xbff0000004000000
  fmul.d f4, f1, f1
  fadd.d f4, f4, f3
  CHECKF f4, D_PZERO
  T_D3 fnmadd.d, 0x3ff0000002000000, 0x3ff0000002000000, 0xbff0000004000000, 0xbc90000000000000, 0
  T_D3 fmsub.d, D_TWO, D_THREE, D_ONE, 0x4014000000000000, 0
  T_D3 fnmsub.d, D_TWO, D_THREE, D_ONE, 0xc014000000000000, 0
  T_D3 fnmadd.d, D_TWO, D_THREE, D_ONE, 0xc01c000000000000, 0
  T_D3 fmadd.d, D_PZERO, D_PINF, D_QNAN, D_QNAN, NV
  T_D3 fmadd.d, D_ONE, D_ONE, D_SNAN, D_QNAN, NV

  /* A block that branches to itself is translated as a loop that keeps its
   * registers in host ones; an FP op's integer result (a5 here) must count
   * as written by the loop: a call into fpu.c (fcvt.d.l) drops the
   * caller-saved host registers, and a5, used least, has one; at the next
   * iteration it is read again after the call, from the hart's copy. */
  TCASE "a loop's integer result of an FP op survives a call into fpu.c"
  li a1, 5
  li a2, 7
  li a3, 20
  li a4, 0
  li a5, 100
1:
  fcvt.d.l ft1, a2
  add a4, a4, a5
  add a4, a4, a2
  xor a2, a2, a1
  fcvt.d.l ft0, a1
  fcvt.l.d a5, ft0
  addi a1, a1, 1
  addi a3, a3, -1
  bnez a3, 1b
  CHECK a4, 0x20e
  CHECK a5, 24
  PASS

  .data
  .balign 8
ddata:
  .dword 0x400921fb54442d18, 0x8000000000000001, 0, 0
