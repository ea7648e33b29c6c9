/*
 * priv-traps.S - synchronous traps into M-mode and xRET (privileged 1.12):
 * ecall from M/S/U (11/9/8), ebreak (3), illegal instruction (2, mtval = 0
 * or the bits), access faults on an address with nothing behind it (1/5/7,
 * mtval = address), the mstatus stack on a trap (MPP/MPIE/MIE) and the
 * MRET/SRET rules (xIE = xPIE, xPIE = 1, xPP = U).  MPRV cleared by an xRET
 * to a mode below M is in priv-kumo.S.
 */
#include "test.h"

#define HOLE 0x40000000         /* no device or memory here */

/* get the field of trap_info.status: (status >> shift) & mask -> a0 */
.macro TSTATUS shift, mask
  la a0, trap_info
  ld a0, TI_STATUS(a0)
  srli a0, a0, \shift
  andi a0, a0, \mask
.endm

  .text
  .globl test_main
test_main:
  li a7, 0                  /* not a failure request */

  /* ---- ecall / ebreak ---- */
  TCASE "ecall from M"
  ARM_TRAP 2f
1:
  ecall
  NOTRAP
2:
  CHK_CAUSE CAUSE_ECALL_M
  CHK_EPC 1b
  CHK_FROM PRV_M
  TCASE "ecall from S"
  ENTER PRV_S, 1f, 2f
1:
  ecall
2:
  CHK_CAUSE CAUSE_ECALL_S
  CHK_EPC 1b
  CHK_FROM PRV_S
  TCASE "ecall from U"
  ENTER PRV_U, 1f, 2f
1:
  ecall
2:
  CHK_CAUSE CAUSE_ECALL_U
  CHK_EPC 1b
  CHK_FROM PRV_U
  TCASE "ebreak from M"
  ARM_TRAP 2f
1:
  ebreak
  NOTRAP
2:
  CHK_CAUSE CAUSE_BREAKPOINT
  CHK_EPC 1b
  TCASE "ebreak from U"
  ENTER PRV_U, 1f, 2f
1:
  ebreak
2:
  CHK_CAUSE CAUSE_BREAKPOINT
  CHK_EPC 1b
  CHK_FROM PRV_U

  /* ---- illegal instructions ---- */
  TCASE "all-zero word is illegal"
  ILLEGAL .word 0
  CHK_TVAL 0
  TCASE "custom-0 opcode is illegal"
  ILLEGAL .word 0x0000000b
  TCASE "all-ones word is illegal"
  ILLEGAL .word 0xffffffff
  TCASE "illegal instruction from U"
  ENTER PRV_U, 1f, 2f
1:
  .word 0
2:
  CHK_CAUSE CAUSE_ILLEGAL
  CHK_EPC 1b
  CHK_FROM PRV_U
  TCASE "mret from S is illegal"
  ENTER PRV_S, 1f, 2f
1:
  mret
2:
  CHK_CAUSE CAUSE_ILLEGAL
  CHK_EPC 1b
  TCASE "mret from U is illegal"
  ENTER PRV_U, 1f, 2f
1:
  mret
2:
  CHK_CAUSE CAUSE_ILLEGAL
  TCASE "sret from U is illegal"
  ENTER PRV_U, 1f, 2f
1:
  sret
2:
  CHK_CAUSE CAUSE_ILLEGAL
  TCASE "sfence.vma from U is illegal"
  ENTER PRV_U, 1f, 2f
1:
  sfence.vma
2:
  CHK_CAUSE CAUSE_ILLEGAL

  /* ---- access faults ---- */
  TCASE "load from a hole: access fault"
  li s0, HOLE
  EXPECT_TRAP CAUSE_LOAD_ACCESS, ld a0, 0(s0)
  CHK_TVAL HOLE
  TCASE "lw from a hole + offset"
  EXPECT_TRAP CAUSE_LOAD_ACCESS, lw a0, 0x10(s0)
  CHK_TVAL HOLE + 0x10
  TCASE "store to a hole: access fault"
  EXPECT_TRAP CAUSE_STORE_ACCESS, sd a0, 8(s0)
  CHK_TVAL HOLE + 8
  TCASE "sb to a hole"
  EXPECT_TRAP CAUSE_STORE_ACCESS, sb a0, 3(s0)
  CHK_TVAL HOLE + 3
  /* An AMO to a hole must be a Store/AMO access fault (7): in mem-kumo.S,
   * QEMU 7.2 reports 5. */
  TCASE "fetch from a hole: instruction access fault"
  ARM_TRAP 2f
  jalr ra, 0(s0)
  NOTRAP
2:
  CHK_CAUSE CAUSE_FETCH_ACCESS
  CHK_TVAL HOLE
  CHK_INFO TI_EPC, HOLE
  TCASE "load from a hole in U"
  ENTER PRV_U, 1f, 2f
1:
  li s0, HOLE
  ld a0, 0x20(s0)
2:
  CHK_CAUSE CAUSE_LOAD_ACCESS
  CHK_TVAL HOLE + 0x20
  CHK_FROM PRV_U

  /* ---- the mstatus stack on a trap ---- */
  TCASE "trap from M: MPIE = MIE, MIE = 0, MPP = M"
  csrw mie, zero
  csrsi mstatus, MSTATUS_MIE
  ARM_TRAP 2f
  ecall
  NOTRAP
2:
  TSTATUS 7, 1              /* MPIE */
  CHECK a0, 1
  TSTATUS 3, 1              /* MIE seen by the handler */
  CHECK a0, 0
  TSTATUS 11, 3
  CHECK a0, PRV_M
  csrr a0, mstatus          /* handler's mret restored MIE = 1 */
  andi a0, a0, MSTATUS_MIE
  CHECK a0, MSTATUS_MIE
  csrci mstatus, MSTATUS_MIE

  /* ---- MRET ---- */
  TCASE "mret to M: MIE = MPIE, MPIE = 1, MPP = U"
  li t0, MSTATUS_MPP | MSTATUS_MPIE
  csrs mstatus, t0          /* MPP = M, MPIE = 1 */
  csrci mstatus, MSTATUS_MIE
  la t0, 1f
  csrw mepc, t0
  mret
  FAIL
1:
  csrr a0, mstatus
  andi a1, a0, MSTATUS_MIE
  CHECK a1, MSTATUS_MIE
  andi a1, a0, MSTATUS_MPIE
  CHECK a1, MSTATUS_MPIE
  srli a1, a0, 11
  andi a1, a1, 3
  CHECK a1, PRV_U
  csrci mstatus, MSTATUS_MIE
  TCASE "mret with MPIE = 0 clears MIE"
  li t0, MSTATUS_MPP
  csrs mstatus, t0
  li t0, MSTATUS_MPIE
  csrc mstatus, t0
  csrsi mstatus, MSTATUS_MIE
  la t0, 1f
  csrw mepc, t0
  mret
  FAIL
1:
  csrr a0, mstatus
  andi a1, a0, MSTATUS_MIE
  CHECK a1, 0
  andi a1, a0, MSTATUS_MPIE
  CHECK a1, MSTATUS_MPIE
  TCASE "mret to S: MPIE -> MIE seen at next trap"
  li t0, MSTATUS_MPIE
  csrs mstatus, t0
  ENTER PRV_S, 1f, 2f
1:
  ecall
2:
  TSTATUS 7, 1              /* MPIE at the ecall = MIE while in S */
  CHECK a0, 1
  csrci mstatus, MSTATUS_MIE

  /* ---- SRET ---- */
  TCASE "sret from M to S: SIE = SPIE, SPIE = 1, SPP = U"
  li t0, MSTATUS_SPP | MSTATUS_SPIE
  csrs mstatus, t0
  csrci mstatus, MSTATUS_SIE
  la t0, 1f
  csrw sepc, t0
  la t6, trap_info
  la t5, 2f
  sd t5, TI_EXIT(t6)
  sret
  FAIL
1:
  csrr s1, sstatus          /* now in S */
  ecall
2:
  CHK_CAUSE CAUSE_ECALL_S
  andi a1, s1, MSTATUS_SIE
  CHECK a1, MSTATUS_SIE
  andi a1, s1, MSTATUS_SPIE
  CHECK a1, MSTATUS_SPIE
  andi a1, s1, MSTATUS_SPP
  CHECK a1, 0
  TCASE "sret from S to U"
  ENTER PRV_S, 1f, 3f
1:
  li t0, MSTATUS_SPP
  csrc sstatus, t0
  la t0, 2f
  csrw sepc, t0
  sret
  FAIL
2:
  ecall                     /* from U */
3:
  CHK_CAUSE CAUSE_ECALL_U
  TCASE "sret from S to S with SPIE = 0"
  ENTER PRV_S, 1f, 3f
1:
  li t0, MSTATUS_SPP
  csrs sstatus, t0
  li t0, MSTATUS_SPIE
  csrc sstatus, t0
  csrsi sstatus, MSTATUS_SIE
  la t0, 2f
  csrw sepc, t0
  sret
  FAIL
2:
  csrr s1, sstatus
  ecall
3:
  CHK_CAUSE CAUSE_ECALL_S
  andi a1, s1, MSTATUS_SIE
  CHECK a1, 0
  andi a1, s1, MSTATUS_SPIE
  CHECK a1, MSTATUS_SPIE
  /* "xRET below M clears MPRV" (1.12) is in priv-kumo.S: QEMU 7.2 keeps MPRV. */
  PASS
