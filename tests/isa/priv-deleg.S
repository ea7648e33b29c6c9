/*
 * priv-deleg.S - trap delegation and S-mode restrictions (privileged 1.12):
 * medeleg/mideleg WARL bits, delegated exceptions go to stvec with
 * scause/sepc/stval/SPP/SPIE, M-mode traps are never delegated, TSR makes
 * sret in S illegal, TW makes wfi in S/U illegal, TVM makes satp and
 * sfence.vma in S illegal, U-mode cannot touch S or M CSRs and S cannot
 * touch M CSRs.
 * Lower-mode code returns to M with ebreak (never delegated here).
 */
#include "test.h"

.macro SSTATUS_FIELD shift, mask
  la a0, strap_info
  ld a0, TI_STATUS(a0)
  srli a0, a0, \shift
  andi a0, a0, \mask
.endm

  .text
  .globl test_main
test_main:
  li a7, 0

  /* ---- WARL ---- */
  /* medeleg[11] "should" be read-only zero in 1.12 (QEMU 7.2 keeps it
   * writable), so only the delegable causes are checked. */
  TCASE "medeleg: usual causes delegable"
  li t0, -1
  csrw medeleg, t0
  csrr a0, medeleg
  li a2, (1 << 0) | (1 << 2) | (1 << 3) | (1 << 8) | (1 << 12) | (1 << 13) | (1 << 15)
  and a1, a0, a2
  CHECKR a1, a2
  csrw medeleg, zero
  TCASE "mideleg: S interrupts delegable, M not"
  li t0, -1
  csrw mideleg, t0
  csrr a0, mideleg
  li a2, 0xaaa
  and a1, a0, a2
  CHECK a1, 0x222
  csrw mideleg, zero

  /* ---- delegated exceptions ---- */
  TCASE "ecall from U delegated to S"
  li t0, 1 << CAUSE_ECALL_U
  csrw medeleg, t0
  ENTER PRV_U, 1f, 3f
1:
  ARM_STRAP 2f
4:
  ecall
  NOTRAP
2:
  ebreak                    /* back to M */
3:
  CHK_CAUSE CAUSE_BREAKPOINT
  CHK_FROM PRV_U
  CHK_SCAUSE CAUSE_ECALL_U
  CHK_SEPC 4b
  SSTATUS_FIELD 8, 1        /* SPP = U */
  CHECK a0, 0
  TCASE "delegated trap does not touch mcause"
  csrr a0, mcause
  CHECK a0, CAUSE_BREAKPOINT

  TCASE "illegal in S delegated to S, SPP = S"
  li t0, 1 << CAUSE_ILLEGAL
  csrw medeleg, t0
  csrsi mstatus, MSTATUS_SIE
  ENTER PRV_S, 1f, 3f
1:
  ARM_STRAP 2f
4:
  .word 0
  NOTRAP
2:
  csrr s1, sstatus
  ebreak
3:
  CHK_CAUSE CAUSE_BREAKPOINT
  CHK_SCAUSE CAUSE_ILLEGAL
  CHK_SEPC 4b
  SSTATUS_FIELD 8, 1        /* SPP = S */
  CHECK a0, 1
  SSTATUS_FIELD 5, 1        /* SPIE = old SIE */
  CHECK a0, 1
  SSTATUS_FIELD 1, 1        /* SIE cleared on entry */
  CHECK a0, 0
  andi a0, s1, MSTATUS_SIE  /* sret restored SIE */
  CHECK a0, MSTATUS_SIE
  csrci mstatus, MSTATUS_SIE

  TCASE "delegated load access fault: stval"
  li t0, 1 << CAUSE_LOAD_ACCESS
  csrw medeleg, t0
  ENTER PRV_S, 1f, 3f
1:
  ARM_STRAP 2f
  li s0, 0x40000008
  ld a0, 0(s0)
  NOTRAP
2:
  ebreak
3:
  CHK_SCAUSE CAUSE_LOAD_ACCESS
  CHK_STVAL 0x40000008

  TCASE "traps in M are not delegated"
  li t0, 1 << CAUSE_ILLEGAL
  csrw medeleg, t0
  la t0, strap_info
  sd zero, TI_COUNT(t0)
  ILLEGAL .word 0
  CHK_SINFO TI_COUNT, 0
  csrw medeleg, zero

  /* ---- TSR ---- */
  TCASE "sret in S works with TSR = 0"
  ENTER PRV_S, 1f, 3f
1:
  li t0, MSTATUS_SPP
  csrs sstatus, t0
  la t0, 2f
  csrw sepc, t0
  sret
  FAIL
2:
  ebreak
3:
  CHK_CAUSE CAUSE_BREAKPOINT
  CHK_FROM PRV_S
  TCASE "sret in S with TSR = 1 is illegal"
  li t0, MSTATUS_TSR
  csrs mstatus, t0
  ENTER PRV_S, 1f, 3f
1:
  la t0, 2f
  csrw sepc, t0
4:
  sret
2:
  ebreak
3:
  CHK_CAUSE CAUSE_ILLEGAL
  CHK_EPC 4b
  TCASE "sret in M with TSR = 1 works"
  li t0, MSTATUS_SPP
  csrs mstatus, t0
  la t0, 1f
  csrw sepc, t0
  la t6, trap_info
  la t5, 2f
  sd t5, TI_EXIT(t6)
  sret
  FAIL
1:
  ebreak
2:
  CHK_CAUSE CAUSE_BREAKPOINT
  CHK_FROM PRV_S
  li t0, MSTATUS_TSR
  csrc mstatus, t0

  /* ---- TW ---- */
  TCASE "wfi in S with TW = 1 is illegal"
  li t0, MSTATUS_TW
  csrs mstatus, t0
  ENTER PRV_S, 1f, 3f
1:
  wfi
2:
  ebreak
3:
  CHK_CAUSE CAUSE_ILLEGAL
  CHK_EPC 1b
  TCASE "wfi in U with TW = 1 is illegal"
  ENTER PRV_U, 1f, 3f
1:
  wfi
2:
  ebreak
3:
  CHK_CAUSE CAUSE_ILLEGAL
  CHK_EPC 1b
  li t0, MSTATUS_TW
  csrc mstatus, t0

  /* ---- TVM ---- */
  TCASE "satp readable in S with TVM = 0"
  ENTER PRV_S, 1f, 3f
1:
  csrr a0, satp
  sfence.vma
  ebreak
3:
  CHK_CAUSE CAUSE_BREAKPOINT
  li t0, MSTATUS_TVM
  csrs mstatus, t0
  TCASE "csrr satp in S with TVM = 1 is illegal"
  ENTER PRV_S, 1f, 3f
1:
  csrr a0, satp
  ebreak
3:
  CHK_CAUSE CAUSE_ILLEGAL
  CHK_EPC 1b
  TCASE "csrw satp in S with TVM = 1 is illegal"
  ENTER PRV_S, 1f, 3f
1:
  csrw satp, zero
  ebreak
3:
  CHK_CAUSE CAUSE_ILLEGAL
  CHK_EPC 1b
  TCASE "sfence.vma in S with TVM = 1 is illegal"
  ENTER PRV_S, 1f, 3f
1:
  sfence.vma
  ebreak
3:
  CHK_CAUSE CAUSE_ILLEGAL
  CHK_EPC 1b
  TCASE "satp and sfence.vma in M with TVM = 1 work"
  csrr a0, satp
  csrw satp, zero
  sfence.vma
  li t0, MSTATUS_TVM
  csrc mstatus, t0

  /* ---- CSR privilege ---- */
.irp csr, sstatus, sie, stvec, sscratch, sepc, scause, stval, sip, satp
  TCASE "U reads \csr: illegal"
  ENTER PRV_U, 1f, 3f
1:
  csrr a0, \csr
  ebreak
3:
  CHK_CAUSE CAUSE_ILLEGAL
  CHK_EPC 1b
  CHK_FROM PRV_U
.endr
.irp csr, mstatus, misa, medeleg, mie, mtvec, mscratch, mepc, mcause, mip, mhartid, pmpcfg0
  TCASE "S reads \csr: illegal"
  ENTER PRV_S, 1f, 3f
1:
  csrr a0, \csr
  ebreak
3:
  CHK_CAUSE CAUSE_ILLEGAL
  CHK_EPC 1b
  CHK_FROM PRV_S
.endr
  TCASE "U writes mscratch: illegal"
  ENTER PRV_U, 1f, 3f
1:
  csrw mscratch, zero
  ebreak
3:
  CHK_CAUSE CAUSE_ILLEGAL
  TCASE "S can use sscratch"
  csrr s2, sscratch
  ENTER PRV_S, 1f, 3f
1:
  li a1, 0x1234
  csrw sscratch, a1
  csrr a0, sscratch
  ebreak
3:
  csrw sscratch, s2
  CHECK a0, 0x1234
  TCASE "sstatus is a view of mstatus"
  li t0, MSTATUS_SUM
  csrs sstatus, t0
  csrr a0, mstatus
  li a1, MSTATUS_SUM
  and a0, a0, a1
  CHECK a0, MSTATUS_SUM
  li t0, MSTATUS_SUM
  csrc mstatus, t0
  csrr a0, sstatus
  and a0, a0, a1
  CHECK a0, 0
  TCASE "sstatus hides M fields"
  li t0, MSTATUS_MPP | MSTATUS_MPIE | MSTATUS_TVM
  csrs mstatus, t0
  csrr a0, sstatus
  and a0, a0, t0
  CHECK a0, 0
  li t0, MSTATUS_TVM
  csrc mstatus, t0
  PASS
