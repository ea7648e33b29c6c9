/*
 * fp.h - helpers for the F/D programs.  Values are IEEE 754 bit patterns.
 * Flags: NV 0x10, DZ 0x08, OF 0x04, UF 0x02, NX 0x01.
 */
#define NV 0x10
#define DZ 0x08
#define OF 0x04
#define UF 0x02
#define NX 0x01

/* single */
#define S_ONE    0x3f800000
#define S_TWO    0x40000000
#define S_THREE  0x40400000
#define S_HALF   0x3f000000
#define S_MONE   0xbf800000
#define S_PZERO  0x00000000
#define S_NZERO  0x80000000
#define S_PINF   0x7f800000
#define S_NINF   0xff800000
#define S_QNAN   0x7fc00000     /* canonical NaN */
#define S_SNAN   0x7f800001
#define S_MAX    0x7f7fffff
#define S_MINN   0x00800000     /* smallest normal */
#define S_MINS   0x00000001     /* smallest subnormal */
/* double */
#define D_ONE    0x3ff0000000000000
#define D_TWO    0x4000000000000000
#define D_THREE  0x4008000000000000
#define D_HALF   0x3fe0000000000000
#define D_MONE   0xbff0000000000000
#define D_PZERO  0x0000000000000000
#define D_NZERO  0x8000000000000000
#define D_PINF   0x7ff0000000000000
#define D_NINF   0xfff0000000000000
#define D_QNAN   0x7ff8000000000000
#define D_SNAN   0x7ff0000000000001
#define D_MAX    0x7fefffffffffffff
#define D_MINN   0x0010000000000000
#define D_MINS   0x0000000000000001

#ifdef __ASSEMBLER__
.macro LDF_S freg, val
  li t0, \val
  fmv.w.x \freg, t0
.endm
.macro LDF_D freg, val
  li t0, \val
  fmv.d.x \freg, t0
.endm
/* CHECK_FLAGS v: fflags must equal v. */
.macro CHECK_FLAGS v
  frflags t5
  CHECK t5, \v
.endm

/* f3 = insn(f1 = a, f2 = b [, rm]) */
.macro T_S2 insn, a, b, exp, flags, rm
  TCASE "\insn \a \b \rm"
  LDF_S f1, \a
  LDF_S f2, \b
  fsflags zero
  .ifb \rm
  \insn f3, f1, f2
  .else
  \insn f3, f1, f2, \rm
  .endif
  CHECKFS f3, \exp
  CHECK_FLAGS \flags
.endm
.macro T_D2 insn, a, b, exp, flags, rm
  TCASE "\insn \a \b \rm"
  LDF_D f1, \a
  LDF_D f2, \b
  fsflags zero
  .ifb \rm
  \insn f3, f1, f2
  .else
  \insn f3, f1, f2, \rm
  .endif
  CHECKF f3, \exp
  CHECK_FLAGS \flags
.endm
/* ops without a rounding mode (sign injection, min/max) */
.macro T_S2N insn, a, b, exp, flags
  TCASE "\insn \a \b"
  LDF_S f1, \a
  LDF_S f2, \b
  fsflags zero
  \insn f3, f1, f2
  CHECKFS f3, \exp
  CHECK_FLAGS \flags
.endm
.macro T_D2N insn, a, b, exp, flags
  TCASE "\insn \a \b"
  LDF_D f1, \a
  LDF_D f2, \b
  fsflags zero
  \insn f3, f1, f2
  CHECKF f3, \exp
  CHECK_FLAGS \flags
.endm
/* f3 = insn(f1 = a [, rm]) */
.macro T_S1 insn, a, exp, flags, rm
  TCASE "\insn \a \rm"
  LDF_S f1, \a
  fsflags zero
  .ifb \rm
  \insn f3, f1
  .else
  \insn f3, f1, \rm
  .endif
  CHECKFS f3, \exp
  CHECK_FLAGS \flags
.endm
.macro T_D1 insn, a, exp, flags, rm
  TCASE "\insn \a \rm"
  LDF_D f1, \a
  fsflags zero
  .ifb \rm
  \insn f3, f1
  .else
  \insn f3, f1, \rm
  .endif
  CHECKF f3, \exp
  CHECK_FLAGS \flags
.endm
/* f4 = insn(f1 = a, f2 = b, f3 = c) */
.macro T_S3 insn, a, b, c, exp, flags, rm
  TCASE "\insn \a \b \c"
  LDF_S f1, \a
  LDF_S f2, \b
  LDF_S f3, \c
  fsflags zero
  .ifb \rm
  \insn f4, f1, f2, f3
  .else
  \insn f4, f1, f2, f3, \rm
  .endif
  CHECKFS f4, \exp
  CHECK_FLAGS \flags
.endm
.macro T_D3 insn, a, b, c, exp, flags, rm
  TCASE "\insn \a \b \c"
  LDF_D f1, \a
  LDF_D f2, \b
  LDF_D f3, \c
  fsflags zero
  .ifb \rm
  \insn f4, f1, f2, f3
  .else
  \insn f4, f1, f2, f3, \rm
  .endif
  CHECKF f4, \exp
  CHECK_FLAGS \flags
.endm
/* a0 = insn(f1 = a, f2 = b): comparisons */
.macro T_SCMP insn, a, b, exp, flags
  TCASE "\insn \a \b"
  LDF_S f1, \a
  LDF_S f2, \b
  fsflags zero
  \insn a0, f1, f2
  CHECK a0, \exp
  CHECK_FLAGS \flags
.endm
.macro T_DCMP insn, a, b, exp, flags
  TCASE "\insn \a \b"
  LDF_D f1, \a
  LDF_D f2, \b
  fsflags zero
  \insn a0, f1, f2
  CHECK a0, \exp
  CHECK_FLAGS \flags
.endm
/* a0 = insn(f1 = a [, rm]): fclass and conversions to integer */
.macro T_S2X insn, a, exp, flags, rm
  TCASE "\insn \a \rm"
  LDF_S f1, \a
  fsflags zero
  .ifb \rm
  \insn a0, f1
  .else
  .ifb \rm
  \insn a0, f1
  .else
  \insn a0, f1, \rm
  .endif
  .endif
  CHECK a0, \exp
  CHECK_FLAGS \flags
.endm
.macro T_D2X insn, a, exp, flags, rm
  TCASE "\insn \a \rm"
  LDF_D f1, \a
  fsflags zero
  .ifb \rm
  \insn a0, f1
  .else
  .ifb \rm
  \insn a0, f1
  .else
  \insn a0, f1, \rm
  .endif
  .endif
  CHECK a0, \exp
  CHECK_FLAGS \flags
.endm
/* f3 = insn(a1 = x [, rm]): conversions from integer */
.macro T_X2S insn, x, exp, flags, rm
  TCASE "\insn \x \rm"
  li a1, \x
  fsflags zero
  .ifb \rm
  \insn f3, a1
  .else
  \insn f3, a1, \rm
  .endif
  CHECKFS f3, \exp
  CHECK_FLAGS \flags
.endm
.macro T_X2D insn, x, exp, flags, rm
  TCASE "\insn \x \rm"
  li a1, \x
  fsflags zero
  .ifb \rm
  \insn f3, a1
  .else
  \insn f3, a1, \rm
  .endif
  CHECKF f3, \exp
  CHECK_FLAGS \flags
.endm
#endif
