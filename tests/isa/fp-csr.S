/*
 * fp-csr.S - FP control and status: fcsr/frm/fflags aliasing, flag accrual,
 * static vs dynamic rounding mode, invalid rounding modes are illegal
 * instructions, mstatus.FS (Off traps; writing FP state makes it Dirty and
 * sets SD).
 */
#include "test.h"
#include "fp.h"

  .text
  .globl test_main
test_main:
  FP_ON

  /* ---- fcsr = frm << 5 | fflags ---- */
  TCASE "fcsr write splits into frm/fflags"
  li a1, 0xff
  csrw fcsr, a1
  csrr a0, fflags
  CHECK a0, 0x1f
  csrr a0, frm
  CHECK a0, 7
  TCASE "fcsr reserved bits read zero"
  li a1, 0xffffffffffffffff
  csrw fcsr, a1
  csrr a0, fcsr
  CHECK a0, 0xff
  TCASE "frm write"
  csrwi fcsr, 0
  csrwi frm, 3
  csrr a0, fcsr
  CHECK a0, 3 << 5
  li a1, 0xfa
  csrw frm, a1              /* only 3 bits */
  csrr a0, frm
  CHECK a0, 2
  TCASE "fflags write keeps frm"
  li a1, 0xff
  csrw fflags, a1
  csrr a0, fcsr
  CHECK a0, (2 << 5) | 0x1f
  TCASE "csrrw on fflags returns old"
  csrrwi a0, fflags, 0x5
  CHECK a0, 0x1f
  csrrsi a0, fflags, 0x2
  CHECK a0, 0x5
  csrrci a0, fflags, 0x4
  CHECK a0, 0x7
  csrr a0, fflags
  CHECK a0, 0x3
  TCASE "fsrm/fsflags pseudo-instructions"
  fsrmi a0, 1
  CHECK a0, 2
  frrm a0
  CHECK a0, 1
  fsflagsi a0, 0x10
  CHECK a0, 0x3
  frflags a0
  CHECK a0, 0x10
  frcsr a0
  CHECK a0, (1 << 5) | 0x10

  /* ---- accrual ---- */
  TCASE "flags accrue across instructions"
  csrwi fcsr, 0
  LDF_S f1, S_ONE
  LDF_S f2, S_PZERO
  fdiv.s f3, f1, f2         /* DZ */
  CHECK_FLAGS DZ
  LDF_S f2, 0x33800000
  fadd.s f3, f1, f2         /* NX */
  CHECK_FLAGS DZ | NX
  fadd.s f3, f1, f1         /* exact: flags stay */
  CHECK_FLAGS DZ | NX
  LDF_S f2, S_SNAN
  feq.s a0, f1, f2          /* NV */
  CHECK_FLAGS DZ | NX | NV
  TCASE "fflags cleared by write"
  csrwi fflags, 0
  fadd.s f3, f1, f1
  CHECK_FLAGS 0

  /* ---- dynamic vs static rounding ---- */
  TCASE "dyn rm follows frm (RUP)"
  csrwi frm, 3              /* RUP */
  LDF_S f1, S_ONE
  LDF_S f2, 0x33800000      /* 2^-24 */
  fadd.s f3, f1, f2         /* dyn */
  CHECKFS f3, 0x3f800001
  TCASE "static rm overrides frm"
  fadd.s f3, f1, f2, rne
  CHECKFS f3, S_ONE
  TCASE "dyn rm follows frm (RTZ)"
  csrwi frm, 1
  LDF_S f1, S_ONE
  LDF_S f2, S_THREE
  fdiv.s f3, f1, f2
  CHECKFS f3, 0x3eaaaaaa
  fdiv.s f3, f1, f2, rne
  CHECKFS f3, 0x3eaaaaab
  TCASE "dyn rm follows frm (RDN, -0)"
  csrwi frm, 2
  fsub.s f3, f1, f1
  CHECKFS f3, S_NZERO
  TCASE "dyn rm follows frm (RMM)"
  csrwi frm, 4
  LDF_S f1, 0x40200000      /* 2.5 */
  fcvt.w.s a0, f1
  CHECK a0, 3
  fcvt.w.s a0, f1, rne
  CHECK a0, 2
  TCASE "dyn rm double"
  csrwi frm, 3
  LDF_D f1, D_ONE
  LDF_D f2, D_THREE
  fdiv.d f3, f1, f2
  CHECKF f3, 0x3fd5555555555556
  csrwi frm, 0

  /* ---- invalid rounding modes ---- */
  LDF_S f1, S_ONE
  LDF_S f2, S_TWO
  TCASE "fadd.s static rm 5 is illegal"
  ILLEGAL .insn r 0x53, 5, 0x00, f3, f1, f2
  TCASE "fadd.s static rm 6 is illegal"
  ILLEGAL .insn r 0x53, 6, 0x00, f3, f1, f2
  TCASE "fmul.d static rm 5 is illegal"
  ILLEGAL .insn r 0x53, 5, 0x09, f3, f1, f2
  TCASE "fmadd.s static rm 6 is illegal"
  ILLEGAL .insn r4 0x43, 6, 0, f4, f1, f2, f3
  TCASE "fcvt.w.s static rm 5 is illegal"
  ILLEGAL .insn r 0x53, 5, 0x60, a0, f1, x0
  TCASE "static rm 0-4 are legal"
  .insn r 0x53, 0, 0x00, f3, f1, f2
  .insn r 0x53, 1, 0x00, f3, f1, f2
  .insn r 0x53, 2, 0x00, f3, f1, f2
  .insn r 0x53, 3, 0x00, f3, f1, f2
  .insn r 0x53, 4, 0x00, f3, f1, f2
  CHECKFS f3, S_THREE
  TCASE "dyn rm with frm = 5 is illegal"
  csrwi frm, 5
  ILLEGAL fadd.s f3, f1, f2, dyn
  TCASE "dyn rm with frm = 6 is illegal"
  csrwi frm, 6
  ILLEGAL fsqrt.d f3, f1, dyn
  TCASE "dyn rm with frm = 7 is illegal"
  csrwi frm, 7
  ILLEGAL fmadd.d f4, f1, f2, f3, dyn
  TCASE "dyn rm with frm = 7: fcvt.w.s is illegal"
  ILLEGAL fcvt.w.s a0, f1, dyn
  TCASE "frm = 7: static rm and rm-less ops still work"
  fadd.s f3, f1, f2, rne
  CHECKFS f3, S_THREE
  fsgnjn.s f3, f1, f1
  CHECKFS f3, S_MONE
  fmin.s f3, f1, f2
  CHECKFS f3, S_ONE
  feq.s a0, f1, f1
  CHECK a0, 1
  fmv.x.w a0, f2
  CHECK a0, S_TWO
  csrwi frm, 0

  /* ---- mstatus.FS ---- */
  TCASE "FS = Off: FP instructions are illegal"
  li t0, MSTATUS_FS
  csrc mstatus, t0
  ILLEGAL fadd.s f3, f1, f2
  TCASE "FS = Off: flw is illegal"
  la s0, fpbuf
  ILLEGAL flw f1, 0(s0)
  TCASE "FS = Off: fsd is illegal"
  ILLEGAL fsd f1, 0(s0)
  TCASE "FS = Off: fmv.x.w is illegal"
  ILLEGAL fmv.x.w a0, f1
  TCASE "FS = Off: fmv.d.x is illegal"
  ILLEGAL fmv.d.x f1, a0
  TCASE "FS = Off: fcsr access is illegal"
  ILLEGAL csrr a0, fcsr
  TCASE "FS = Off: fflags access is illegal"
  ILLEGAL csrw fflags, zero
  TCASE "FS = Off: frm access is illegal"
  ILLEGAL csrr a0, frm
  TCASE "FS = Off: an FP block reached by a chained jump traps (each time)"
  /* From the second time round the translator may chain the branch into
   * the FP block; that block's own check must send its own instructions to
   * the interpreter (which traps), not those of the block it came from. */
  li s1, 4
  li s2, 0
.Lchain_again:
  ARM_TRAP .Lchain_res
  addi s2, s2, 1
  bnez s1, .Lchain_fp       /* taken: a block ends here */
  NOTRAP
.Lchain_fp:
  fadd.s f3, f1, f2
  NOTRAP
.Lchain_res:
  CHK_CAUSE CAUSE_ILLEGAL
  CHK_EPC .Lchain_fp
  addi s1, s1, -1
  bnez s1, .Lchain_again
  CHECK s2, 4
  TCASE "FS = Off: mstatus.SD clear"
  csrr a0, mstatus
  srli a0, a0, 63
  CHECK a0, 0

  TCASE "FS = Initial + FP register write -> Dirty, SD"
  li t0, MSTATUS_FS
  csrc mstatus, t0
  li t0, 1 << 13
  csrs mstatus, t0
  li a1, S_ONE
  fmv.w.x f1, a1
  csrr a0, mstatus
  srli a1, a0, 13
  andi a1, a1, 3
  CHECK a1, 3
  srli a1, a0, 63
  CHECK a1, 1
  TCASE "FS = Clean + flw -> Dirty"
  li t0, MSTATUS_FS
  csrc mstatus, t0
  li t0, 2 << 13
  csrs mstatus, t0
  csrr a0, mstatus
  srli a1, a0, 63
  CHECK a1, 0               /* SD is clear while FS is Clean */
  flw f1, 0(s0)
  csrr a0, mstatus
  srli a1, a0, 13
  andi a1, a1, 3
  CHECK a1, 3
  srli a1, a0, 63
  CHECK a1, 1
  TCASE "FS = Clean + fadd -> Dirty"
  li t0, MSTATUS_FS
  csrc mstatus, t0
  li t0, 2 << 13
  csrs mstatus, t0
  fadd.d f2, f1, f1
  csrr a0, mstatus
  srli a1, a0, 13
  andi a1, a1, 3
  CHECK a1, 3
  TCASE "FS = Clean + fflags write -> Dirty"
  li t0, MSTATUS_FS
  csrc mstatus, t0
  li t0, 2 << 13
  csrs mstatus, t0
  csrwi fflags, 1
  csrr a0, mstatus
  srli a1, a0, 13
  andi a1, a1, 3
  CHECK a1, 3
  TCASE "sstatus shows FS and SD"
  csrr a0, sstatus
  srli a1, a0, 13
  andi a1, a1, 3
  CHECK a1, 3
  srli a1, a0, 63
  CHECK a1, 1
  PASS

  .data
  .balign 8
fpbuf:
  .dword 0x3f800000
