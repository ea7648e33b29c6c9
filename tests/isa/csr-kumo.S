/*
 * csr-kumo.S - kumo-specific CSR checks where QEMU 7.2 departs from the
 * privileged spec 1.12:
 *   - mepc[0] and sepc[0] always read zero (3.1.14, 4.1.7); QEMU stores
 *     bit 0 and clears it only when executing xRET.
 *   - CSRRS/CSRRC with rs1 != x0 "will attempt to write the CSR" even when
 *     the register holds 0 (unprivileged Zicsr chapter), so such an access to
 *     a read-only CSR is an illegal instruction; QEMU decides on the value.
 *   - Sdtrig: kumo's harts have no triggers and hard-wire the trigger CSRs
 *     as the debug spec allows (tselect 0, tdata1 type 0 = no trigger, tinfo
 *     1); QEMU implements triggers.
 */
#include "test.h"

  .text
  .globl test_main
test_main:
  TCASE "mepc bit 0 reads zero"
  li a1, 0x80000003
  csrw mepc, a1
  csrr a0, mepc
  CHECK a0, 0x80000002
  TCASE "sepc bit 0 reads zero"
  li a1, 0x80000101
  csrw sepc, a1
  csrr a0, sepc
  CHECK a0, 0x80000100
  TCASE "csrrs rs1 != x0 holding 0 to mimpid is illegal"
  li a1, 0
  ILLEGAL csrrs a0, mimpid, a1
  TCASE "csrrc rs1 != x0 holding 0 to mhartid is illegal"
  li a1, 0
  ILLEGAL csrrc a0, mhartid, a1
  TCASE "csrrs rs1 = x0 to mhartid is legal"
  csrrs a0, mhartid, x0
  CHECK a0, 0
  TCASE "Sdtrig: tselect holds only 0"
  li a1, 1
  csrw tselect, a1
  csrr a0, tselect
  CHECK a0, 0
  csrw tselect, zero
  csrr a0, tselect
  CHECK a0, 0
  TCASE "Sdtrig: tdata1 type 0 (no trigger), writes ignored"
  li a1, (2 << 60) | 0x44
  csrw tdata1, a1
  csrr a0, tdata1
  CHECK a0, 0
  TCASE "Sdtrig: tdata2, tdata3 read 0; tinfo reads 1"
  li a1, 0x80001000
  csrw tdata2, a1
  csrr a0, tdata2
  CHECK a0, 0
  csrw tdata3, a1
  csrr a0, tdata3
  CHECK a0, 0
  csrr a0, tinfo
  CHECK a0, 1
  TCASE "Sdtrig: S-mode has no access"
  ENTER PRV_S, 1f, 2f
1:
  ARM_TRAP 3f
  csrr a0, tselect
  NOTRAP
3:
  ecall
2:
  CHK_CAUSE CAUSE_ECALL_S
  PASS
