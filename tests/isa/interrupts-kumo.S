/*
 * interrupts-kumo.S - interrupt priority across levels (privileged 1.12
 * 3.1.9): interrupts destined for M-mode are taken in the order
 * MEI > MSI > MTI > SEI > SSI > STI.  QEMU 7.2 (no AIA) takes the
 * lowest-numbered pending interrupt instead, so SSI (1) would win over
 * MSI (3) and MTI (7).
 */
#include "test.h"

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
.macro CHK_LOG info, i, val
  la t5, \info
  ld t5, TI_LOG + 8 * \i(t5)
  CHECK t5, \val
.endm

  .text
  .globl test_main
test_main:
  li a7, 0
  li t0, CLINT_MTIMECMP
  li t1, -1
  sd t1, 0(t0)
  csrw mie, zero
  csrw mideleg, zero
  csrw menvcfg, zero
  TCASE "MTI before SSI before STI (not delegated)"
  RESET_TRAPS
  li t0, (1 << IRQ_SSI) | (1 << IRQ_STI)
  csrs mip, t0
  li t0, CLINT_MTIMECMP
  sd zero, 0(t0)
  li t0, (1 << IRQ_SSI) | (1 << IRQ_STI) | (1 << IRQ_MTI)
  csrs mie, t0
  csrsi mstatus, MSTATUS_MIE
  WAIT_COUNT trap_info, 3
  csrci mstatus, MSTATUS_MIE
  CHK_LOG trap_info, 0, IRQ_BIT | IRQ_MTI
  CHK_LOG trap_info, 1, IRQ_BIT | IRQ_SSI
  CHK_LOG trap_info, 2, IRQ_BIT | IRQ_STI
  li t0, CLINT_MTIMECMP
  li t1, -1
  sd t1, 0(t0)
  li t0, (1 << IRQ_SSI) | (1 << IRQ_STI)
  csrc mip, t0

  TCASE "MSI before SSI"
  RESET_TRAPS
  li t0, 1 << IRQ_SSI
  csrs mip, t0
  li t0, CLINT_MSIP
  li t1, 1
  sw t1, 0(t0)
  li t0, (1 << IRQ_SSI) | (1 << IRQ_MSI)
  csrs mie, t0
  csrsi mstatus, MSTATUS_MIE
  WAIT_COUNT trap_info, 2
  csrci mstatus, MSTATUS_MIE
  CHK_LOG trap_info, 0, IRQ_BIT | IRQ_MSI
  CHK_LOG trap_info, 1, IRQ_BIT | IRQ_SSI
  li t0, CLINT_MSIP
  sw zero, 0(t0)
  li t0, 1 << IRQ_SSI
  csrc mip, t0
  PASS
