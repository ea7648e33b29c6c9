/*
 * time-sstc-kumo.S - the time CSR (Zicntr) and Sstc (stimecmp, CSR 0x14D).
 * kumo-specific only because QEMU 7.2's spike board provides no rdtime: the
 * time CSR and stimecmp are illegal there.
 *   - time reads the CLINT's mtime (10 MHz) and increases;
 *   - mcounteren.TM / scounteren.TM gate S / U access to time;
 *   - menvcfg.STCE (bit 63) = 0: stimecmp is illegal in S;
 *     STCE = 1 and mcounteren.TM = 1: S can use it;
 *   - with STCE = 1, mip.STIP = (time >= stimecmp), read-only to software;
 *   - the S timer interrupt (delegated) fires when time >= stimecmp.
 */
#include "test.h"

#define CSR_STIMECMP 0x14d
#define MENVCFG_STCE (1 << 63)

.macro TIME_ACCESS mode, csr, ok
  ENTER \mode, .Lin\@, .Lout\@
.Lin\@:
  csrr a0, \csr
  ebreak
.Lout\@:
  .if \ok
  CHK_CAUSE CAUSE_BREAKPOINT
  .else
  CHK_CAUSE CAUSE_ILLEGAL
  CHK_EPC .Lin\@
  .endif
.endm

  .text
  .globl test_main
test_main:
  li a7, 0
  csrw mie, zero
  csrw mideleg, zero
  csrw menvcfg, zero

  /* ---- time ---- */
  TCASE "time follows mtime"
  li t0, CLINT_MTIME
  ld a0, 0(t0)
  rdtime a1
  bgeu a1, a0, 1f
  FAIL
1:
  ld a2, 0(t0)
  bgeu a2, a1, 1f
  FAIL
1:
  TCASE "time increases"
  rdtime a0
  li a2, 1000000
1:
  rdtime a1
  bne a1, a0, 2f
  addi a2, a2, -1
  bnez a2, 1b
  FAIL
2:
  bgtu a1, a0, 1f
  FAIL
1:
  TCASE "time is read-only"
  ILLEGAL csrw time, zero
  csrw mcounteren, zero
  csrw scounteren, zero
  TCASE "S time, mcounteren.TM = 0"
  TIME_ACCESS PRV_S, time, 0
  csrwi scounteren, 2
  TCASE "U time, scounteren.TM only"
  TIME_ACCESS PRV_U, time, 0
  csrwi mcounteren, 2
  csrwi scounteren, 0
  TCASE "S time, mcounteren.TM = 1"
  TIME_ACCESS PRV_S, time, 1
  TCASE "U time, mcounteren.TM only"
  TIME_ACCESS PRV_U, time, 0
  csrwi scounteren, 2
  TCASE "U time, both TM"
  TIME_ACCESS PRV_U, time, 1

  /* ---- Sstc ---- */
  TCASE "stimecmp in S with STCE = 0 is illegal"
  TIME_ACCESS PRV_S, CSR_STIMECMP, 0
  li t0, MENVCFG_STCE
  csrs menvcfg, t0
  csrr a0, menvcfg
  li a1, MENVCFG_STCE
  and a0, a0, a1
  CHECKR a0, a1
  TCASE "stimecmp in S with STCE = 1, TM = 1"
  TIME_ACCESS PRV_S, CSR_STIMECMP, 1
  csrw mcounteren, zero
  TCASE "stimecmp in S with TM = 0 is illegal"
  TIME_ACCESS PRV_S, CSR_STIMECMP, 0
  csrwi mcounteren, 2
  TCASE "stimecmp in U is illegal"
  TIME_ACCESS PRV_U, CSR_STIMECMP, 0
  TCASE "stimecmp = -1: STIP clear"
  li t0, -1
  csrw CSR_STIMECMP, t0
  csrr a0, CSR_STIMECMP
  CHECK a0, -1
  csrr a0, mip
  andi a0, a0, 1 << IRQ_STI
  CHECK a0, 0
  TCASE "STIP is read-only with STCE = 1"
  li t0, 1 << IRQ_STI
  csrs mip, t0
  csrr a0, mip
  andi a0, a0, 1 << IRQ_STI
  CHECK a0, 0
  TCASE "stimecmp = 0: STIP set"
  csrw CSR_STIMECMP, zero
  csrr a0, mip
  andi a0, a0, 1 << IRQ_STI
  CHECK a0, 1 << IRQ_STI
  li t0, 1 << IRQ_STI
  csrc mip, t0
  csrr a0, mip
  andi a0, a0, 1 << IRQ_STI
  CHECK a0, 1 << IRQ_STI
  li t0, -1
  csrw CSR_STIMECMP, t0

  TCASE "S timer interrupt from stimecmp"
  RESET_TRAPS
  li t0, 1 << IRQ_STI
  csrw mideleg, t0
  csrs mie, t0
  ENTER PRV_S, 1f, 3f
1:
  rdtime a0
  addi a0, a0, 1000         /* 100 us */
  csrw CSR_STIMECMP, a0
  csrr a1, sip
  andi a1, a1, 1 << IRQ_STI
  bnez a1, 9f               /* must not be pending yet */
  csrsi sstatus, MSTATUS_SIE
  li a4, 2000000
2:
  la a3, strap_info
  ld a3, TI_COUNT(a3)
  bnez a3, 4f
  addi a4, a4, -1
  bnez a4, 2b
9:
  FAIL
4:
  csrci sstatus, MSTATUS_SIE
  rdtime s1                 /* it did not fire early */
  csrr s2, CSR_STIMECMP
  csrr s3, sip
  li t0, -1
  csrw CSR_STIMECMP, t0
  csrr s4, sip
  ecall
3:
  CHK_CAUSE CAUSE_ECALL_S
  CHK_SCAUSE IRQ_BIT | IRQ_STI
  bgeu s1, s2, 1f
  FAIL
1:
  andi a0, s3, 1 << IRQ_STI
  CHECK a0, 1 << IRQ_STI
  andi a0, s4, 1 << IRQ_STI
  CHECK a0, 0
  csrw mideleg, zero
  csrw mie, zero
  csrw menvcfg, zero
  PASS
