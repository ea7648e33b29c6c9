/*
 * csr-kumo.S - kumo-specific CSR checks where QEMU 7.2 departs from the
 * privileged spec 1.12:
 *   - mepc[0] and sepc[0] always read zero (3.1.14, 4.1.7); QEMU stores
 *     bit 0 and clears it only when executing xRET.
 *   - CSRRS/CSRRC with rs1 != x0 "will attempt to write the CSR" even when
 *     the register holds 0 (unprivileged Zicsr chapter), so such an access to
 *     a read-only CSR is an illegal instruction; QEMU decides on the value.
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
  PASS
