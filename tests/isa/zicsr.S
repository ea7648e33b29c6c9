/*
 * zicsr.S - Zicsr: CSRRW/CSRRS/CSRRC and the immediate forms, read-only CSR
 * rules (no write when rs1 = x0 / uimm = 0 for RS/RC; any write to a
 * read-only CSR is an illegal instruction), unimplemented CSR numbers trap
 * with cause 2 (mtval = the instruction bits or 0), a few WARL fields.
 * mscratch is the M trap handler's pointer (crt.S): restore it before any
 * trap.
 */
#include "test.h"

  .text
  .globl test_main
test_main:
  TCASE "csrrw returns old, writes new"
  li a1, 0x1122334455667788
  csrw mscratch, a1
  li a2, -1
  csrrw a0, mscratch, a2
  CHECK a0, 0x1122334455667788
  csrr a0, mscratch
  CHECK a0, -1
  TCASE "csrrw rd == rs1"
  li a0, 0x55
  csrrw a0, mscratch, a0
  CHECK a0, -1
  csrr a0, mscratch
  CHECK a0, 0x55
  TCASE "csrrs"
  li a1, 0xf00
  csrrs a0, mscratch, a1
  CHECK a0, 0x55
  csrr a0, mscratch
  CHECK a0, 0xf55
  TCASE "csrrc"
  li a1, 0x105
  csrrc a0, mscratch, a1
  CHECK a0, 0xf55
  csrr a0, mscratch
  CHECK a0, 0xe50
  TCASE "csrrs/csrrc rs1 = x0 read only"
  csrrs a0, mscratch, x0
  CHECK a0, 0xe50
  csrrc a0, mscratch, x0
  CHECK a0, 0xe50
  csrr a0, mscratch
  CHECK a0, 0xe50
  TCASE "csrrwi zero-extends uimm"
  csrrwi a0, mscratch, 31
  CHECK a0, 0xe50
  csrr a0, mscratch
  CHECK a0, 31
  TCASE "csrrci"
  csrrci a0, mscratch, 0x15
  CHECK a0, 31
  csrr a0, mscratch
  CHECK a0, 0x0a
  TCASE "csrrsi"
  csrrsi a0, mscratch, 0x10
  CHECK a0, 0x0a
  csrr a0, mscratch
  CHECK a0, 0x1a
  TCASE "csrrsi/csrrci uimm 0"
  csrrsi a0, mscratch, 0
  csrrci a0, mscratch, 0
  CHECK a0, 0x1a
  csrr a0, mscratch
  CHECK a0, 0x1a
  TCASE "csrrwi 0 writes"
  csrrwi a0, mscratch, 0
  CHECK a0, 0x1a
  csrr a0, mscratch
  CHECK a0, 0
  TCASE "csrw rd = x0"
  li a1, 0x77
  csrw mscratch, a1
  csrr a0, mscratch
  CHECK a0, 0x77
  la a1, m_save              /* the M trap handler needs mscratch */
  csrw mscratch, a1
  li a1, 0x77
  TCASE "sscratch is independent"
  li a1, 0x1234
  csrw sscratch, a1
  csrr a0, sscratch
  CHECK a0, 0x1234
  la a1, s_save              /* restore crt's value */
  csrw sscratch, a1

  /* ---- read-only CSRs ---- */
  TCASE "mhartid reads 0"
  csrr a0, mhartid
  CHECK a0, 0
  TCASE "read-only CSR read forms"
  csrrs a0, mhartid, x0
  csrrc a0, mhartid, x0
  csrrsi a0, mhartid, 0
  csrrci a0, mhartid, 0
  csrr a0, mvendorid
  csrr a0, marchid
  csrr a0, mimpid
  CHECK zero, 0
  TCASE "csrrw to mhartid is illegal"
  ILLEGAL csrrw a0, mhartid, a1
  TCASE "csrrw x0 to mhartid is illegal"
  ILLEGAL csrrw x0, mhartid, x0
  TCASE "csrrwi to mvendorid is illegal"
  ILLEGAL csrrwi a0, mvendorid, 0
  TCASE "csrrs nonzero to mimpid is illegal"
  li a1, 1
  ILLEGAL csrrs a0, mimpid, a1
  /* csrrs/csrrc with rs1 != x0 holding 0 to a read-only CSR: csr-kumo.S
   * (QEMU 7.2 decides on the value, not on the register number). */
  TCASE "csrrci nonzero to marchid is illegal"
  ILLEGAL csrrci a0, marchid, 1
  TCASE "csrrsi nonzero to mhartid is illegal"
  ILLEGAL csrrsi a0, mhartid, 4
  TCASE "illegal CSR leaves rd"
  li a0, 0x5a5a
  ILLEGAL csrrw a0, mhartid, a1
  CHECK a0, 0x5a5a

  /* ---- unimplemented CSR numbers ---- */
  TCASE "csr 0x107 unimplemented"
  ILLEGAL csrr a0, 0x107
  TCASE "csr 0x30b unimplemented"
  ILLEGAL csrr a0, 0x30b
  TCASE "csr 0x7c0 (custom) unimplemented"
  ILLEGAL csrw 0x7c0, a0
  TCASE "csr 0x800 (custom) unimplemented"
  ILLEGAL csrrs a0, 0x800, x0
  TCASE "csr 0xfc0 (custom) unimplemented"
  ILLEGAL csrr a0, 0xfc0

  /* ---- a few WARL facts of an RV64 hart ---- */
  TCASE "misa: MXL = 64, IMAFDC + S + U"
  csrr a0, misa
  srli a1, a0, 62
  CHECK a1, 2
  li a2, (1 << 0) | (1 << 2) | (1 << 3) | (1 << 5) | (1 << 8) | (1 << 12) | (1 << 18) | (1 << 20)
  and a1, a0, a2
  CHECKR a1, a2
  TCASE "mstatus.UXL = SXL = 64-bit"
  csrr a0, mstatus
  srli a0, a0, 32
  andi a0, a0, 0xf
  CHECK a0, 0xa
  /* mepc/sepc bit 0 reading zero is checked in csr-kumo.S (QEMU 7.2 keeps
   * bit 0 and masks it only on xRET). */
  TCASE "mscratch holds 64 bits"
  li a1, 0x8000000000000001
  csrw mscratch, a1
  csrr a0, mscratch
  CHECK a0, 0x8000000000000001
  la a1, m_save              /* restore the trap handler's value */
  csrw mscratch, a1
  PASS
