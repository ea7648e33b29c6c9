/*
 * mem-kumo.S - kumo-specific: misaligned ordinary loads and stores
 * succeed (the privileged spec lets hardware handle them), while misaligned
 * LR/SC/AMO raise address-misaligned: cause 4 for LR, cause 6 (Store/AMO)
 * for SC and AMOs, mtval = the address.  An AMO or SC to an address with
 * nothing behind it is a Store/AMO access fault (cause 7).
 *
 * kumo-only because the spec lets misaligned loads/stores either succeed or
 * trap, and because QEMU 7.2 lets an SC with no matching reservation fail
 * without checking alignment, and reports misaligned AMOs with cause 4 and
 * AMO access faults with cause 5.  (QEMU 7.2 TCG does perform misaligned
 * loads/stores in M-mode, so the cases before "sc.w misaligned" were
 * checked there.)
 */
#include "test.h"

.macro TEST_MLD insn, off, exp
  TCASE "\insn misaligned +\off"
  la s0, mis_data
  \insn a0, \off(s0)
  CHECK a0, \exp
.endm

  .text
  .globl test_main
test_main:
  /* mis_data bytes: 01 82 03 84 05 86 07 88 09 8a 0b 8c 0d 8e 0f 90 */
  TEST_MLD lh, 1, 0x382
  TEST_MLD lhu, 1, 0x382
  TEST_MLD lw, 1, 0x5840382
  TEST_MLD lw, 2, 0xffffffff86058403
  TEST_MLD lw, 3, 0x7860584
  TEST_MLD lwu, 1, 0x5840382
  TEST_MLD lwu, 2, 0x86058403
  TEST_MLD lwu, 3, 0x7860584
  TEST_MLD ld, 1, 0x988078605840382
  TEST_MLD ld, 3, 0xb8a098807860584
  TEST_MLD ld, 4, 0x8c0b8a0988078605
  TEST_MLD ld, 7, 0xf8e0d8c0b8a0988

  /* misaligned stores, checked with aligned loads */
  TCASE "sh misaligned"
  la s0, st_buf
  sd zero, 0(s0)
  sd zero, 8(s0)
  li a1, 0x1234
  sh a1, 3(s0)
  ld a0, 0(s0)
  CHECK a0, 0x0000001234000000
  TCASE "sw misaligned"
  sd zero, 0(s0)
  li a1, 0x89abcdef
  sw a1, 5(s0)
  ld a0, 0(s0)
  CHECK a0, 0xabcdef0000000000
  ld a0, 8(s0)
  CHECK a0, 0x89
  TCASE "sd misaligned"
  sd zero, 0(s0)
  sd zero, 8(s0)
  li a1, 0x1122334455667788
  sd a1, 7(s0)
  ld a0, 0(s0)
  CHECK a0, 0x8800000000000000
  ld a0, 8(s0)
  CHECK a0, 0x0011223344556677
  TCASE "ld/sd misaligned across a page boundary"
  la s0, page2
  addi s1, s0, -3
  li a1, 0x0102030405060708
  sd a1, 0(s1)
  ld a0, 0(s1)
  CHECK a0, 0x0102030405060708
  ld a0, 0(s0)
  CHECK a0, 0x0102030405
  lw a0, -2(s0)
  CHECK a0, 0x04050607
  TCASE "flw/fsd misaligned"
  FP_ON
  la s0, mis_data
  flw f1, 1(s0)
  fmv.x.w a0, f1
  CHECK a0, 0x05840382
  fld f2, 3(s0)
  fmv.x.d a0, f2
  CHECK a0, 0x0b8a098807860584

  /* ---- misaligned atomics trap; memory is not changed ---- */
  TCASE "lr.w misaligned"
  la s0, amo_buf
  li a1, 0x1111111111111111
  sd a1, 0(s0)
  sd a1, 8(s0)
  addi s1, s0, 2
  EXPECT_TRAP CAUSE_MISALIGNED_LOAD, lr.w a0, (s1)
  CHK_TVAL_REG s1
  TCASE "lr.d misaligned"
  addi s1, s0, 4
  EXPECT_TRAP CAUSE_MISALIGNED_LOAD, lr.d a0, (s1)
  CHK_TVAL_REG s1
  TCASE "sc.w misaligned (no reservation)"
  addi s1, s0, 1
  EXPECT_TRAP CAUSE_MISALIGNED_STORE, sc.w a0, a1, (s1)
  CHK_TVAL_REG s1
  TCASE "sc.d misaligned (reservation held)"
  lr.d a0, (s0)
  addi s1, s0, 4
  EXPECT_TRAP CAUSE_MISALIGNED_STORE, sc.d a0, zero, (s1)
  CHK_TVAL_REG s1
.irp insn, amoswap.w, amoadd.w, amoand.w, amoor.w, amoxor.w, amomin.w, amomax.w, amominu.w, amomaxu.w
  TCASE "\insn misaligned"
  addi s1, s0, 2
  EXPECT_TRAP CAUSE_MISALIGNED_STORE, \insn a0, zero, (s1)
  CHK_TVAL_REG s1
.endr
.irp insn, amoswap.d, amoadd.d, amoand.d, amoor.d, amoxor.d, amomin.d, amomax.d, amominu.d, amomaxu.d
  TCASE "\insn misaligned"
  addi s1, s0, 4
  EXPECT_TRAP CAUSE_MISALIGNED_STORE, \insn a0, zero, (s1)
  CHK_TVAL_REG s1
.endr
  TCASE "amoadd.d to a hole: store access fault"
  li s1, 0x40000000
  EXPECT_TRAP CAUSE_STORE_ACCESS, amoadd.d a0, a0, (s1)
  CHK_TVAL 0x40000000
  TCASE "amoswap.w to a hole: store access fault"
  EXPECT_TRAP CAUSE_STORE_ACCESS, amoswap.w a0, a0, (s1)
  CHK_TVAL 0x40000000
  TCASE "memory unchanged by misaligned atomics"
  ld a0, 0(s0)
  CHECK a0, 0x1111111111111111
  ld a0, 8(s0)
  CHECK a0, 0x1111111111111111
  PASS

  .data
  .balign 16
mis_data:
  .byte 0x01, 0x82, 0x03, 0x84, 0x05, 0x86, 0x07, 0x88
  .byte 0x09, 0x8a, 0x0b, 0x8c, 0x0d, 0x8e, 0x0f, 0x90
  .balign 16
st_buf:
  .skip 16
amo_buf:
  .skip 16
  .balign 4096
  .skip 4096
page2:
  .skip 4096
