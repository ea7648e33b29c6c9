/*
 * interrupts.S - interrupts (privileged 1.12 3.1.9, 3.1.6.1, 4.1.3) on the
 * CLINT: software interrupt via msip, machine timer via mtimecmp, priority
 * among M-level and among S-level interrupts (M before S is in
 * interrupts-kumo.S), global enables per privilege level,
 * delegation of S interrupts (STIP raised by M software), the mip/mie vs
 * sip/sie views, wfi wake-up, vectored mtvec.
 * Handlers (crt.S) mask the mie/sie bit of each interrupt they take and log
 * the causes in trap_info/strap_info.
 */
#include "test.h"

/* WAIT_COUNT info, n: spin until info.count >= n (bounded). */
.macro WAIT_COUNT info, n
  li a4, 2000000
.Lw\@:
  la a3, \info
  ld a3, TI_COUNT(a3)
  li a5, \n
  bgeu a3, a5, .Ld\@
  addi a4, a4, -1
  bnez a4, .Lw\@
  FAIL
.Ld\@:
.endm
/* CHK_LOG info, i, val: the i-th logged cause (from 0) must be val. */
.macro CHK_LOG info, i, val
  la t5, \info
  ld t5, TI_LOG + 8 * \i(t5)
  CHECK t5, \val
.endm
.macro MSIP v
  li t0, CLINT_MSIP
  li t1, \v
  sw t1, 0(t0)
.endm
.macro MTIMECMP_NEVER
  li t0, CLINT_MTIMECMP
  li t1, -1
  sd t1, 0(t0)
.endm
.macro MTIMECMP_NOW
  li t0, CLINT_MTIMECMP
  sd zero, 0(t0)
.endm

  .text
  .globl test_main
test_main:
  li a7, 0
  MTIMECMP_NEVER
  MSIP 0
  csrw mie, zero
  csrw mideleg, zero
  csrw menvcfg, zero        /* Sstc off: M software owns mip.STIP */

  /* ---- software interrupt ---- */
  TCASE "msip sets mip.MSIP"
  MSIP 1
  csrr a0, mip
  andi a0, a0, 1 << IRQ_MSI
  CHECK a0, 1 << IRQ_MSI
  TCASE "no trap while mstatus.MIE = 0"
  csrsi mie, 1 << IRQ_MSI
  nop
  nop
  CHK_INFO TI_COUNT, 0
  TCASE "MSI taken when MIE = 1"
  csrsi mstatus, MSTATUS_MIE
  WAIT_COUNT trap_info, 1
  csrci mstatus, MSTATUS_MIE
  CHK_CAUSE IRQ_BIT | IRQ_MSI
  CHK_FROM PRV_M
  TCASE "msip = 0 clears mip.MSIP"
  MSIP 0
  csrr a0, mip
  andi a0, a0, 1 << IRQ_MSI
  CHECK a0, 0
  TCASE "mip.MSIP is read-only to csr writes"
  csrsi mip, 1 << IRQ_MSI
  csrr a0, mip
  andi a0, a0, 1 << IRQ_MSI
  CHECK a0, 0

  /* ---- timer interrupt ---- */
  TCASE "mtime advances"
  li t0, CLINT_MTIME
  ld a0, 0(t0)
  li a2, 100000
1:
  ld a1, 0(t0)
  bne a1, a0, 2f
  addi a2, a2, -1
  bnez a2, 1b
  FAIL
2:
  TCASE "MTI fires when mtime >= mtimecmp"
  RESET_TRAPS
  li t0, CLINT_MTIME
  ld a0, 0(t0)
  addi a0, a0, 1000         /* 100 us at 10 MHz */
  li t0, CLINT_MTIMECMP
  sd a0, 0(t0)
  csrr a1, mip
  andi a1, a1, 1 << IRQ_MTI
  CHECK a1, 0               /* not yet pending */
  li t0, 1 << IRQ_MTI
  csrs mie, t0
  csrsi mstatus, MSTATUS_MIE
  WAIT_COUNT trap_info, 1
  csrci mstatus, MSTATUS_MIE
  CHK_CAUSE IRQ_BIT | IRQ_MTI
  li t0, CLINT_MTIME        /* it did not fire early */
  ld a1, 0(t0)
  li t0, CLINT_MTIMECMP
  ld a0, 0(t0)
  bgeu a1, a0, 1f
  FAIL
1:
  TCASE "mtimecmp in the future clears MTIP"
  csrr a0, mip
  andi a0, a0, 1 << IRQ_MTI
  CHECK a0, 1 << IRQ_MTI
  MTIMECMP_NEVER
  csrr a0, mip
  andi a0, a0, 1 << IRQ_MTI
  CHECK a0, 0

  /* ---- priority ---- */
  TCASE "MSI before MTI"
  RESET_TRAPS
  MSIP 1
  MTIMECMP_NOW
  li t0, (1 << IRQ_MSI) | (1 << IRQ_MTI)
  csrs mie, t0
  csrsi mstatus, MSTATUS_MIE
  WAIT_COUNT trap_info, 2
  csrci mstatus, MSTATUS_MIE
  CHK_LOG trap_info, 0, IRQ_BIT | IRQ_MSI
  CHK_LOG trap_info, 1, IRQ_BIT | IRQ_MTI
  MSIP 0
  MTIMECMP_NEVER
  TCASE "SSI before STI (not delegated)"
  RESET_TRAPS
  li t0, (1 << IRQ_SSI) | (1 << IRQ_STI)
  csrs mip, t0
  csrs mie, t0
  csrsi mstatus, MSTATUS_MIE
  WAIT_COUNT trap_info, 2
  csrci mstatus, MSTATUS_MIE
  CHK_LOG trap_info, 0, IRQ_BIT | IRQ_SSI
  CHK_LOG trap_info, 1, IRQ_BIT | IRQ_STI
  li t0, (1 << IRQ_SSI) | (1 << IRQ_STI)
  csrc mip, t0
  /* M-level before S-level interrupts (MTI before SSI) is checked in
   * interrupts-kumo.S: QEMU 7.2 without AIA takes the lowest-numbered one. */

  /* ---- global enables by privilege ---- */
  TCASE "M interrupt taken in S even with MIE = 0"
  RESET_TRAPS
  MSIP 1
  csrsi mie, 1 << IRQ_MSI
  csrci mstatus, MSTATUS_MIE
  ENTER PRV_S, 1f, 2f
1:
  nop
  nop
  ecall
2:
  MSIP 0
  CHK_LOG trap_info, 0, IRQ_BIT | IRQ_MSI
  CHK_LOG trap_info, 1, CAUSE_ECALL_S
  la a0, trap_info
  ld a0, TI_COUNT(a0)
  CHECK a0, 2
  TCASE "M interrupt taken in U"
  RESET_TRAPS
  MTIMECMP_NOW
  li t0, 1 << IRQ_MTI
  csrs mie, t0
  ENTER PRV_U, 1f, 2f
1:
  nop
  ecall
2:
  MTIMECMP_NEVER
  CHK_LOG trap_info, 0, IRQ_BIT | IRQ_MTI
  CHK_LOG trap_info, 1, CAUSE_ECALL_U

  /* ---- delegation ---- */
  TCASE "STIP set by M, delegated: S handler"
  RESET_TRAPS
  li t0, 1 << IRQ_STI
  csrw mideleg, t0
  csrs mie, t0
  csrs mip, t0
  csrsi mstatus, MSTATUS_SIE
  ENTER PRV_S, 1f, 2f
1:
  nop
  nop
  ecall
2:
  CHK_SINFO TI_COUNT, 1
  CHK_SCAUSE IRQ_BIT | IRQ_STI
  la a0, strap_info
  ld a0, TI_STATUS(a0)
  andi a0, a0, MSTATUS_SPP
  CHECK a0, MSTATUS_SPP
  CHK_CAUSE CAUSE_ECALL_S
  li t0, 1 << IRQ_STI
  csrc mip, t0
  csrci mstatus, MSTATUS_SIE
  TCASE "delegated interrupt not taken in M"
  RESET_TRAPS
  li t0, 1 << IRQ_SSI
  csrw mideleg, t0
  csrs mie, t0
  csrs mip, t0
  csrsi mstatus, MSTATUS_MIE
  nop
  nop
  csrci mstatus, MSTATUS_MIE
  CHK_INFO TI_COUNT, 0
  CHK_SINFO TI_COUNT, 0
  TCASE "delegated interrupt not taken in S with SIE = 0"
  csrci mstatus, MSTATUS_SIE
  ENTER PRV_S, 1f, 2f
1:
  nop
  nop
  ecall
2:
  CHK_SINFO TI_COUNT, 0
  TCASE "delegated interrupt taken in U regardless of SIE"
  ENTER PRV_U, 1f, 2f
1:
  nop
  nop
  ecall
2:
  CHK_SINFO TI_COUNT, 1
  CHK_SCAUSE IRQ_BIT | IRQ_SSI
  la a0, strap_info
  ld a0, TI_STATUS(a0)
  andi a0, a0, MSTATUS_SPP
  CHECK a0, 0
  li t0, 1 << IRQ_SSI
  csrc mip, t0
  TCASE "S raises SSIP through sip"
  RESET_TRAPS
  li t0, 1 << IRQ_SSI
  csrs mie, t0
  ENTER PRV_S, 1f, 2f
1:
  csrsi sstatus, MSTATUS_SIE
  csrsi sip, 1 << IRQ_SSI
  nop
  nop
  csrci sstatus, MSTATUS_SIE
  csrr s1, sip
  ecall
2:
  CHK_SINFO TI_COUNT, 1
  CHK_SCAUSE IRQ_BIT | IRQ_SSI
  andi a0, s1, 1 << IRQ_SSI
  CHECK a0, 1 << IRQ_SSI     /* still pending: the handler masked sie */
  li t0, 1 << IRQ_SSI
  csrc mip, t0

  /* ---- views ---- */
  TCASE "sie is mie masked by mideleg"
  csrw mie, zero
  li t0, 0x222
  csrw mideleg, t0
  li t0, -1
  csrw sie, t0
  csrr a0, mie
  CHECK a0, 0x222
  csrr a0, sie
  CHECK a0, 0x222
  li t0, 0x888
  csrs mie, t0
  csrr a0, sie
  CHECK a0, 0x222
  TCASE "sie without delegation reads 0, ignores writes"
  csrw mie, zero
  csrw mideleg, zero
  li t0, -1
  csrw sie, t0
  csrr a0, sie
  CHECK a0, 0
  csrr a0, mie
  CHECK a0, 0
  li t0, 0x222
  csrw mie, t0
  csrr a0, sie
  CHECK a0, 0
  csrw mie, zero
  TCASE "sip is mip masked by mideleg"
  li t0, (1 << IRQ_SSI) | (1 << IRQ_STI)
  csrs mip, t0
  csrr a0, sip
  CHECK a0, 0
  li t0, 0x222
  csrw mideleg, t0
  csrr a0, sip
  CHECK a0, (1 << IRQ_SSI) | (1 << IRQ_STI)
  TCASE "sip.SSIP writable, sip.STIP not"
  csrw sip, zero
  csrr a0, sip
  CHECK a0, 1 << IRQ_STI
  csrr a0, mip
  andi a0, a0, 0x222
  CHECK a0, 1 << IRQ_STI
  li t0, 1 << IRQ_STI
  csrc mip, t0
  csrw mideleg, zero

  /* ---- wfi ---- */
  TCASE "wfi wakes on pending+enabled with MIE = 0"
  RESET_TRAPS
  csrci mstatus, MSTATUS_MIE
  csrsi mie, 1 << IRQ_MSI
  MSIP 1
  wfi
  CHK_INFO TI_COUNT, 0
  TCASE "wfi then timer"
  MSIP 0
  csrw mie, zero
  li t0, CLINT_MTIME
  ld a0, 0(t0)
  addi a0, a0, 500
  li t0, CLINT_MTIMECMP
  sd a0, 0(t0)
  li t0, 1 << IRQ_MTI
  csrs mie, t0
1:
  wfi
  csrr a1, mip
  andi a1, a1, 1 << IRQ_MTI
  beqz a1, 1b
  CHK_INFO TI_COUNT, 0
  MTIMECMP_NEVER
  csrw mie, zero

  /* ---- vectored mtvec ---- */
  TCASE "vectored mtvec: interrupt goes to base + 4*cause"
  RESET_TRAPS
  la t0, vec_table
  ori t0, t0, 1
  csrw mtvec, t0
  csrr a0, mtvec
  CHECKR a0, t0
  la t0, vec_hits
  sd zero, 0(t0)
  MSIP 1
  csrsi mie, 1 << IRQ_MSI
  csrsi mstatus, MSTATUS_MIE
  WAIT_COUNT trap_info, 1
  csrci mstatus, MSTATUS_MIE
  MSIP 0
  CHECKMEM vec_hits, 1
  CHK_CAUSE IRQ_BIT | IRQ_MSI
  TCASE "vectored mtvec: exceptions go to base"
  ARM_TRAP 1f
  ecall
  NOTRAP
1:
  CHK_CAUSE CAUSE_ECALL_M
  CHECKMEM vec_hits, 1
  la t0, trap_m
  csrw mtvec, t0
  PASS

  .balign 256
vec_table:
  j trap_m                  /* 0: exceptions */
  j trap_m
  j trap_m
  j vec_msi                 /* 3: MSI */
  j trap_m
  j trap_m
  j trap_m
  j trap_m
  j trap_m
  j trap_m
  j trap_m
  j trap_m
vec_msi:
  csrw mscratch, t0         /* count the hit; trap_m restores mscratch */
  la t0, vec_hits
  sd gp, 8(t0)
  ld gp, 0(t0)
  addi gp, gp, 1
  sd gp, 0(t0)
  ld gp, 8(t0)
  la t0, m_save
  csrrw t0, mscratch, t0
  j trap_m

  .data
  .balign 8
vec_hits:
  .dword 0, 0
