/*
 * test.h - macros shared by the kumo ISA conformance programs (tests/isa/).
 *
 * Each program is one assembly file that defines `test_main`; crt.S supplies
 * _start, the M- and S-mode trap handlers, HTIF console/exit and the failure
 * report.  Conventions:
 *
 *   gp (x3)      number of the current test case (CASE sets it).  Never
 *                clobber it inside a test.
 *   t5, t6       scratch of the CHECK macros: do not test values held in them
 *                across a CHECK.
 *   a6, a7       clobbered on the failure path only.
 *
 * A failing program prints "FAIL #n <case name> ..." on the HTIF console and
 * writes (n << 1) | 1 to tohost.  Passing writes 1.
 *
 * Trap handling (see crt.S): the M handler records mcause/mepc/mtval/mstatus
 * in `trap_info` and then
 *   - interrupt: clears the matching mie bit and returns to mepc;
 *   - exception, ARM_TRAP armed: returns to the armed label in the same mode;
 *   - exception, ENTER armed: returns to ENTER's resume label in M-mode;
 *   - otherwise: reports an unexpected trap and fails.
 * The S handler (stvec) does the same for delegated traps with
 * `strap_info` (ARM_STRAP); it forwards failure requests to M.
 */
#ifndef KUMO_TEST_H
#define KUMO_TEST_H

#define PRV_U 0
#define PRV_S 1
#define PRV_M 3

#define MSTATUS_SIE  (1 << 1)
#define MSTATUS_MIE  (1 << 3)
#define MSTATUS_SPIE (1 << 5)
#define MSTATUS_MPIE (1 << 7)
#define MSTATUS_SPP  (1 << 8)
#define MSTATUS_MPP  (3 << 11)
#define MSTATUS_FS   (3 << 13)
#define MSTATUS_MPRV (1 << 17)
#define MSTATUS_SUM  (1 << 18)
#define MSTATUS_MXR  (1 << 19)
#define MSTATUS_TVM  (1 << 20)
#define MSTATUS_TW   (1 << 21)
#define MSTATUS_TSR  (1 << 22)
#define MSTATUS_SD   (1 << 63)

#define CAUSE_MISALIGNED_FETCH 0
#define CAUSE_FETCH_ACCESS     1
#define CAUSE_ILLEGAL          2
#define CAUSE_BREAKPOINT       3
#define CAUSE_MISALIGNED_LOAD  4
#define CAUSE_LOAD_ACCESS      5
#define CAUSE_MISALIGNED_STORE 6
#define CAUSE_STORE_ACCESS     7
#define CAUSE_ECALL_U          8
#define CAUSE_ECALL_S          9
#define CAUSE_ECALL_M          11
#define CAUSE_FETCH_PAGE       12
#define CAUSE_LOAD_PAGE        13
#define CAUSE_STORE_PAGE       15
#define IRQ_BIT                (1 << 63)
#define IRQ_SSI 1
#define IRQ_MSI 3
#define IRQ_STI 5
#define IRQ_MTI 7
#define IRQ_SEI 9
#define IRQ_MEI 11

#define CLINT_MSIP     0x2000000
#define CLINT_MTIMECMP 0x2004000
#define CLINT_MTIME    0x200bff8

/* Offsets inside trap_info / strap_info (crt.S). */
#define TI_CAUSE  0
#define TI_EPC    8
#define TI_TVAL   16
#define TI_STATUS 24
#define TI_COUNT  32
#define TI_RESUME 40
#define TI_EXIT   48
#define TI_LOG    56   /* 8 causes, ring indexed by (count - 1) & 7 */
#define TI_SIZE   120

#define FAIL_MAGIC 0x4641494c  /* a7 value of a failure request ecall */
#define FAIL_PLAIN   0
#define FAIL_VALUE   1         /* t5 = got, t6 = expected */
#define FAIL_STRAP   2         /* unexpected trap in the S handler */
#define FAIL_NOTRAP  3         /* an expected trap did not happen */

#ifdef __ASSEMBLER__

/* Assemble exactly what is written: no linker relaxation, and no automatic
 * compression (programs that test RVC say `.option rvc` themselves). */
.option norelax
.option norvc

/* CASE n, "name": start test case n. */
.macro CASE num, name
  li gp, \num
  .pushsection .testnames, "a"
  .balign 8
  .dword \num
  .dword .Lcasename\@
  .popsection
  .pushsection .rodata.casenames, "a"
.Lcasename\@:
  .asciz "\name"
  .popsection
.endm

/* TCASE name: start the next automatically numbered case. */
.set __casenum, 0
.macro TCASE name
  .set __casenum, __casenum + 1
  CASE __casenum, "\name"
.endm

/* Register-register op: rd = insn(a, b) must equal exp (a0 = a1 op a2). */
.macro TEST_RR insn, a, b, exp
  TCASE "\insn \a \b"
  li a1, \a
  li a2, \b
  \insn a0, a1, a2
  CHECK a0, \exp
.endm

/* Register-immediate op: a0 = insn(a1 = a, imm). */
.macro TEST_RI insn, a, imm, exp
  TCASE "\insn \a \imm"
  li a1, \a
  \insn a0, a1, \imm
  CHECK a0, \exp
.endm

/* Unary op: a0 = insn(a1 = a). */
.macro TEST_R insn, a, exp
  TCASE "\insn \a"
  li a1, \a
  \insn a0, a1
  CHECK a0, \exp
.endm

/* Same-register forms: rd == rs1 == rs2. */
.macro TEST_RR_SAME insn, a, exp
  TCASE "\insn same \a"
  li a1, \a
  \insn a1, a1, a1
  CHECK a1, \exp
.endm

/* FAIL: fail the current case. */
.macro FAIL
  li a6, FAIL_PLAIN
  j fail
.endm

/* CHECK reg, value: reg must equal the constant. */
.macro CHECK reg, val
  li t6, \val
  beq \reg, t6, .Lok\@
  mv t5, \reg
  li a6, FAIL_VALUE
  j fail
.Lok\@:
.endm

/* CHECKR reg, reg2: reg must equal reg2. */
.macro CHECKR reg, reg2
  beq \reg, \reg2, .Lok\@
  mv t5, \reg
  mv t6, \reg2
  li a6, FAIL_VALUE
  j fail
.Lok\@:
.endm

/* CHECKF freg, bits: the raw 64 bits of freg must equal the constant. */
.macro CHECKF freg, val
  fmv.x.d t5, \freg
  CHECK t5, \val
.endm

/* CHECKFS freg, bits: single-precision view: the low 32 bits must equal
 * val and the upper 32 bits must be all ones (NaN-boxed). */
.macro CHECKFS freg, val
  fmv.x.d t5, \freg
  CHECK t5, (0xffffffff00000000 | (\val))
.endm

/* CHECKMEM symbol, value: the 64-bit word at symbol must equal value. */
.macro CHECKMEM sym, val
  la t5, \sym
  ld t5, 0(t5)
  CHECK t5, \val
.endm

/* ARM_TRAP label: the next exception taken by the M handler resumes at
 * label, in the mode it came from.  Also sets trap_info.cause to -1. */
.macro ARM_TRAP label
  la t6, trap_info
  la t5, \label
  sd t5, TI_RESUME(t6)
  li t5, -1
  sd t5, TI_CAUSE(t6)
.endm

/* ARM_STRAP label: same for the S handler (strap_info). */
.macro ARM_STRAP label
  la t6, strap_info
  la t5, \label
  sd t5, TI_RESUME(t6)
  li t5, -1
  sd t5, TI_CAUSE(t6)
.endm

/* NOTRAP: placed right after an instruction that must trap. */
.macro NOTRAP
  li a6, FAIL_NOTRAP
  j fail
.endm

/* EXPECT_TRAP cause, insn...: execute insn, which must trap to M with the
 * given mcause; resumes after it. */
.macro EXPECT_TRAP cause, insn:vararg
  ARM_TRAP .Lres\@
  \insn
  NOTRAP
.Lres\@:
  CHK_CAUSE \cause
.endm

.macro CHK_INFO field, val
  la t5, trap_info
  ld t5, \field(t5)
  CHECK t5, \val
.endm
.macro CHK_SINFO field, val
  la t5, strap_info
  ld t5, \field(t5)
  CHECK t5, \val
.endm
.macro CHK_CAUSE val
  CHK_INFO TI_CAUSE, \val
.endm
.macro CHK_TVAL val
  CHK_INFO TI_TVAL, \val
.endm
/* CHK_TVAL_REG reg: mtval of the last M trap equals reg (not t5/t6). */
.macro CHK_TVAL_REG reg
  la t5, trap_info
  ld t5, TI_TVAL(t5)
  CHECKR t5, \reg
.endm
.macro CHK_SCAUSE val
  CHK_SINFO TI_CAUSE, \val
.endm
.macro CHK_STVAL val
  CHK_SINFO TI_TVAL, \val
.endm
/* CHK_EPC label: mepc of the last M trap was label. */
.macro CHK_EPC label
  la t6, \label
  la t5, trap_info
  ld t5, TI_EPC(t5)
  CHECKR t5, t6
.endm
.macro CHK_SEPC label
  la t6, \label
  la t5, strap_info
  ld t5, TI_EPC(t5)
  CHECKR t5, t6
.endm
/* CHK_FROM mode: the last M trap came from privilege `mode` (mstatus.MPP). */
.macro CHK_FROM mode
  la t5, trap_info
  ld t5, TI_STATUS(t5)
  srli t5, t5, 11
  andi t5, t5, 3
  CHECK t5, \mode
.endm

/* ILLEGAL insn...: insn must trap to M with cause 2; mtval must be 0 or the
 * instruction's bits. */
.macro ILLEGAL insn:vararg
  ARM_TRAP .Lres\@
.Linsn\@:
  \insn
  NOTRAP
.Lres\@:
  CHK_CAUSE CAUSE_ILLEGAL
  CHK_EPC .Linsn\@
  la t5, trap_info
  ld t5, TI_TVAL(t5)
  beqz t5, .Ltok\@
  la t6, .Linsn\@
  lwu t6, 0(t6)
  CHECKR t5, t6
.Ltok\@:
.endm

/* ENTER mode, entry, resume (M-mode only): drop to `mode` at `entry`; the
 * next exception not armed with ARM_TRAP (usually an ecall) returns to
 * `resume` in M-mode.  Clobbers t5, t6. */
.macro ENTER mode, entry, resume
  la t6, trap_info
  la t5, \resume
  sd t5, TI_EXIT(t6)
  li t5, MSTATUS_MPP
  csrc mstatus, t5
  li t5, (\mode << 11)
  csrs mstatus, t5
  la t5, \entry
  csrw mepc, t5
  mret
.endm

/* RESET_TRAPS: zero both trap records (counts and logs included). */
.macro RESET_TRAPS
  call reset_traps
.endm

/* PASS: the program passed (M-mode). */
.macro PASS
  j pass
.endm

/* Enable the FPU (mstatus.FS = Initial) and clear fcsr. */
.macro FP_ON
  li t5, (1 << 13)
  csrs mstatus, t5
  csrwi fcsr, 0
.endm

#endif /* __ASSEMBLER__ */
#endif /* KUMO_TEST_H */
