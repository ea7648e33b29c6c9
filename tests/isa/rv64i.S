/*
 * rv64i.S - RV64I base integer instructions.
 * Values worked out from the unprivileged ISA (20191213), chapters 2 and 5.
 */
#include "test.h"

/* Branch helpers: a1 = a, a2 = b. */
.macro BR_TAKEN insn, a, b
  TCASE "\insn taken \a \b"
  li a1, \a
  li a2, \b
  \insn a1, a2, .Lt\@
  FAIL
.Lt\@:
.endm
.macro BR_NOT insn, a, b
  TCASE "\insn not-taken \a \b"
  li a1, \a
  li a2, \b
  \insn a1, a2, .Lbad\@
  j .Lok\@
.Lbad\@:
  FAIL
.Lok\@:
.endm

/* Load helper: a0 = insn off(s0) with s0 = ld_data. */
.macro TEST_LD insn, off, exp
  TCASE "\insn \off"
  la s0, ld_data
  \insn a0, \off(s0)
  CHECK a0, \exp
.endm

  .text
  .globl test_main
test_main:
  /* ---- register-register arithmetic ---- */
  TEST_RR add, 0, 0, 0
  TEST_RR add, 1, 1, 2
  TEST_RR add, 0x7fffffffffffffff, 1, 0x8000000000000000
  TEST_RR add, -1, 1, 0
  TEST_RR add, 0xffffffff, 1, 0x100000000
  TEST_RR sub, 0, 0, 0
  TEST_RR sub, 0, 1, -1
  TEST_RR sub, 0x8000000000000000, 1, 0x7fffffffffffffff
  TEST_RR sub, 3, 7, -4
  TEST_RR and, 0xff00ff00ff00ff00, 0x0f0f0f0f0f0f0f0f, 0x0f000f000f000f00
  TEST_RR or,  0xff00ff00ff00ff00, 0x0f0f0f0f0f0f0f0f, 0xff0fff0fff0fff0f
  TEST_RR xor, 0xff00ff00ff00ff00, 0x0f0f0f0f0f0f0f0f, 0xf00ff00ff00ff00f
  TEST_RR_SAME add, 13, 26
  TEST_RR_SAME sub, 13, 0
  TEST_RR_SAME xor, 13, 0

  /* slt/sltu, including the signed/unsigned boundary */
  TEST_RR slt, 0, 0, 0
  TEST_RR slt, -1, 0, 1
  TEST_RR slt, 0, -1, 0
  TEST_RR slt, 0x8000000000000000, 0x7fffffffffffffff, 1
  TEST_RR slt, 0x7fffffffffffffff, 0x8000000000000000, 0
  TEST_RR sltu, -1, 0, 0
  TEST_RR sltu, 0, -1, 1
  TEST_RR sltu, 0x8000000000000000, 0x7fffffffffffffff, 0
  TEST_RR sltu, 5, 5, 0
  TEST_RI slti, -1, 0, 1
  TEST_RI slti, 0, -1, 0
  TEST_RI slti, 0x8000000000000000, -2048, 1
  TEST_RI slti, 2047, 2047, 0
  TEST_RI slti, 2046, 2047, 1
  TEST_RI sltiu, 0, -1, 1              /* imm sign-extends to 2^64-1 */
  TEST_RI sltiu, -2, -1, 1
  TEST_RI sltiu, -1, -1, 0
  TEST_RI sltiu, 0, 1, 1               /* seqz */
  TEST_RI sltiu, 5, 1, 0

  /* ---- immediates ---- */
  TEST_RI addi, 0, 2047, 2047
  TEST_RI addi, 0, -2048, -2048
  TEST_RI addi, 0x7fffffffffffffff, 1, 0x8000000000000000
  TEST_RI addi, 5, -6, -1
  TEST_RI andi, 0xff00ff00ff00ff00, -16, 0xff00ff00ff00ff00
  TEST_RI andi, 0x123456789abcdef0, 0x7ff, 0x6f0
  TEST_RI andi, -1, -2048, 0xfffffffffffff800
  TEST_RI ori, 0x1200000000000000, 0x0f0, 0x12000000000000f0
  TEST_RI ori, 0, -1, -1
  TEST_RI xori, 0xff00ff00ff00ff00, -1, 0x00ff00ff00ff00ff   /* not */
  TEST_RI xori, 0x00ff00ff00ff00ff, 0x70f, 0x00ff00ff00ff07f0

  /* ---- shifts: only the low 6 bits (RV64) of rs2 count ---- */
  TEST_RR sll, 1, 0, 1
  TEST_RR sll, 1, 63, 0x8000000000000000
  TEST_RR sll, 1, 64, 1
  TEST_RR sll, 1, 65, 2
  TEST_RR sll, 0x21, -1, 0x8000000000000000
  TEST_RR srl, 0x8000000000000000, 63, 1
  TEST_RR srl, 0x8000000000000000, 64, 0x8000000000000000
  TEST_RR srl, -1, 0x7ff, 1
  TEST_RR srl, 0xf000000000000000, 4, 0x0f00000000000000
  TEST_RR sra, 0x8000000000000000, 63, -1
  TEST_RR sra, 0x8000000000000000, 4, 0xf800000000000000
  TEST_RR sra, 0x7000000000000000, 4, 0x0700000000000000
  TEST_RR sra, 0x8000000000000000, 0x40, 0x8000000000000000
  TEST_RR sra, -16, 0xffffffffffffffc2, -4
  TEST_RI slli, 1, 63, 0x8000000000000000
  TEST_RI slli, 0xffffffff, 32, 0xffffffff00000000
  TEST_RI srli, 0x8000000000000000, 63, 1
  TEST_RI srli, -1, 32, 0xffffffff
  TEST_RI srai, 0x8000000000000000, 32, 0xffffffff80000000
  TEST_RI srai, 0x4000000000000000, 62, 1
  TEST_RI srai, -1, 0, -1

  /* ---- W forms: 32-bit results sign-extended, upper input bits ignored ---- */
  TEST_RR addw, 0x7fffffff, 1, 0xffffffff80000000
  TEST_RR addw, 0x100000001, 1, 2
  TEST_RR addw, 0xffffffff, 0xffffffff, -2
  TEST_RR addw, 0xffffffff00000000, 0, 0
  TEST_RR subw, 0, 1, -1
  TEST_RR subw, 0x80000000, 1, 0x7fffffff
  TEST_RR subw, 0x100000000, 0x7fffffff, 0xffffffff80000001
  TEST_RI addiw, 0x7fffffff, 1, 0xffffffff80000000
  TEST_RI addiw, 0xaaaaaaaa80000000, 0, 0xffffffff80000000  /* sext.w */
  TEST_RI addiw, 0x123456789, -1, 0x23456788
  TEST_RI addiw, 0, -2048, -2048
  TEST_RR sllw, 1, 31, 0xffffffff80000000
  TEST_RR sllw, 1, 32, 1
  TEST_RR sllw, 1, 33, 2
  TEST_RR sllw, 0x180000001, 1, 2
  TEST_RR sllw, 3, 0xffffffffffffffff, 0xffffffff80000000
  TEST_RR srlw, 0x80000000, 0, 0xffffffff80000000
  TEST_RR srlw, 0x80000000, 1, 0x40000000
  TEST_RR srlw, 0xffffffff80000000, 31, 1
  TEST_RR srlw, 0x80000000, 32, 0xffffffff80000000
  TEST_RR srlw, 0x1ffffffff, 4, 0x0fffffff
  TEST_RR sraw, 0x80000000, 1, 0xffffffffc0000000
  TEST_RR sraw, 0x80000000, 31, -1
  TEST_RR sraw, 0x80000000, 33, 0xffffffffc0000000
  TEST_RR sraw, 0x7fffffff00000010, 4, 1
  TEST_RR sraw, 0x000000007ffffff0, 4, 0x7ffffff
  TEST_RI slliw, 1, 31, 0xffffffff80000000
  TEST_RI slliw, 0xffffffff00000003, 30, 0xffffffffc0000000
  TEST_RI slliw, 0x100000001, 0, 1
  TEST_RI srliw, 0xffffffff80000000, 0, 0xffffffff80000000
  TEST_RI srliw, 0xffffffff80000000, 1, 0x40000000
  TEST_RI srliw, 0x12345678ffffffff, 31, 1
  TEST_RI sraiw, 0x80000000, 1, 0xffffffffc0000000
  TEST_RI sraiw, 0x80000000, 31, -1
  TEST_RI sraiw, 0xffffffff7fffffff, 0, 0x7fffffff
  TEST_RI sraiw, 0x0000000100000040, 4, 4

  /* ---- lui / auipc ---- */
  TCASE "lui 0"
  lui a0, 0
  CHECK a0, 0
  TCASE "lui 0x80000 sign-extends"
  lui a0, 0x80000
  CHECK a0, 0xffffffff80000000
  TCASE "lui 0x7ffff"
  lui a0, 0x7ffff
  CHECK a0, 0x7ffff000
  TCASE "lui 0xfffff"
  lui a0, 0xfffff
  CHECK a0, 0xfffffffffffff000
  TCASE "lui x0 ignored"
  lui x0, 0x12345
  mv a0, x0
  CHECK a0, 0
  TCASE "auipc 0"
1:
  auipc a0, 0
  la a1, 1b
  CHECKR a0, a1
  TCASE "auipc +0x1000"
1:
  auipc a0, 1
  la a1, 1b
  li a2, 0x1000
  add a1, a1, a2
  CHECKR a0, a1
  TCASE "auipc -0x1000"
1:
  auipc a0, 0xfffff
  la a1, 1b
  li a2, 0x1000
  sub a1, a1, a2
  CHECKR a0, a1
  TCASE "auipc 0x80000 (-2 GiB)"
1:
  auipc a0, 0x80000
  la a1, 1b
  li a2, 0xffffffff80000000
  add a1, a1, a2
  CHECKR a0, a1

  /* ---- x0 ---- */
  TCASE "x0 stays zero"
  addi x0, x0, 5
  li a0, 7
  add x0, a0, a0
  add a0, x0, x0
  CHECK a0, 0

  /* ---- branches ---- */
  BR_TAKEN beq, 0, 0
  BR_TAKEN beq, -1, -1
  BR_NOT   beq, 0, 1
  BR_NOT   beq, 0x100000000, 0
  BR_TAKEN bne, 0, 1
  BR_TAKEN bne, 0x100000000, 0
  BR_NOT   bne, -1, -1
  BR_TAKEN blt, -1, 0
  BR_TAKEN blt, 0x8000000000000000, 0x7fffffffffffffff
  BR_NOT   blt, 0, -1
  BR_NOT   blt, 5, 5
  BR_TAKEN bge, 5, 5
  BR_TAKEN bge, 0, -1
  BR_TAKEN bge, 0x7fffffffffffffff, 0x8000000000000000
  BR_NOT   bge, -1, 0
  BR_TAKEN bltu, 0, -1
  BR_TAKEN bltu, 0x7fffffffffffffff, 0x8000000000000000
  BR_NOT   bltu, -1, 0
  BR_NOT   bltu, 5, 5
  BR_TAKEN bgeu, -1, 0
  BR_TAKEN bgeu, 5, 5
  BR_NOT   bgeu, 0, -1
  BR_NOT   bgeu, 0x7fffffffffffffff, 0x8000000000000000

  TCASE "branch backwards"
  li a0, 0
  li a1, 3
1:
  addi a0, a0, 1
  bne a0, a1, 1b
  CHECK a0, 3

  /* ---- jal / jalr ---- */
  TCASE "jal link"
  jal a0, 1f
2:
  FAIL
1:
  la a1, 2b
  CHECKR a0, a1
  TCASE "jal backwards"
  j 3f
1:
  jal a0, 4f
2:
  FAIL
3:
  jal a1, 1b
  FAIL
4:
  la a2, 2b
  CHECKR a0, a2
  TCASE "jalr link and target"
  la a1, 1f
  jalr a0, 0(a1)
2:
  FAIL
1:
  la a2, 2b
  CHECKR a0, a2
  TCASE "jalr offset"
  la a1, 1f
  addi a1, a1, -100
  jalr a0, 100(a1)
  FAIL
1:
  TCASE "jalr negative offset"
  la a1, 1f
  addi a1, a1, 64
  jalr a0, -64(a1)
  FAIL
1:
  TCASE "jalr clears bit 0"
  la a1, 1f
  addi a1, a1, 1
  jalr a0, 0(a1)
  FAIL
1:
  TCASE "jalr clears bit 0 of sum"
  la a1, 1f
  addi a1, a1, -1
  jalr a0, 2(a1)             /* target = 1f + 1, bit 0 cleared */
  FAIL
1:
  TCASE "jalr rd == rs1"
  la a0, 1f
  jalr a0, 0(a0)
2:
  FAIL
1:
  la a1, 2b
  CHECKR a0, a1
  TCASE "jalr x0 (ret)"
  la ra, 1f
  ret
  FAIL
1:
  TCASE "call/ret"
  li a0, 0
  call add_five
  CHECK a0, 5

  /* ---- loads: every width, sign and zero extension ---- */
  TEST_LD lb, 0, 0xffffffffffffff81
  TEST_LD lb, 1, 0x02
  TEST_LD lb, 7, 0xfffffffffffffff8
  TEST_LD lbu, 0, 0x81
  TEST_LD lbu, 7, 0xf8
  TEST_LD lh, 0, 0x0281
  TEST_LD lh, 2, 0xffffffffffff83f3
  TEST_LD lh, 6, 0xfffffffffffff8e7
  TEST_LD lhu, 2, 0x83f3
  TEST_LD lhu, 6, 0xf8e7
  TEST_LD lw, 0, 0xffffffff83f30281
  TEST_LD lw, 4, 0xfffffffff8e76554
  TEST_LD lw, 8, 0x7ffffffe
  TEST_LD lwu, 0, 0x83f30281
  TEST_LD lwu, 4, 0xf8e76554
  TEST_LD ld, 0, 0xf8e7655483f30281
  TEST_LD ld, 8, 0x123456787ffffffe
  TEST_LD lw, 12, 0x12345678
  TEST_LD lb, -1, 0x5a
  TEST_LD lhu, -2, 0x5aa5
  TCASE "load into x0 ignored"
  la s0, ld_data
  ld x0, 0(s0)
  mv a0, x0
  CHECK a0, 0

  /* ---- stores: every width, neighbours untouched ---- */
  TCASE "sb"
  la s0, st_buf
  li a1, -1
  sd a1, 0(s0)
  sd a1, 8(s0)
  li a1, 0x12345678aabbcc00
  sb a1, 3(s0)
  ld a0, 0(s0)
  CHECK a0, 0xffffffff00ffffff
  TCASE "sh"
  li a1, 0x1234
  sh a1, 6(s0)
  ld a0, 0(s0)
  CHECK a0, 0x1234ffff00ffffff
  TCASE "sw"
  li a1, 0xdeadbeef87654321
  sw a1, 8(s0)
  ld a0, 8(s0)
  CHECK a0, 0xffffffff87654321
  TCASE "sd"
  li a1, 0x0123456789abcdef
  sd a1, 8(s0)
  ld a0, 8(s0)
  CHECK a0, 0x0123456789abcdef
  ld a0, 0(s0)
  CHECK a0, 0x1234ffff00ffffff
  TCASE "sd negative offset"
  addi s1, s0, 16
  li a1, 0x55
  sd a1, -8(s1)
  ld a0, 8(s0)
  CHECK a0, 0x55
  TCASE "sw/lw round trip sign"
  li a1, 0x80000000
  sw a1, 16(s0)
  lw a0, 16(s0)
  CHECK a0, 0xffffffff80000000
  lwu a0, 16(s0)
  CHECK a0, 0x80000000

  /* ---- fences and hints just execute ---- */
  TCASE "fence"
  fence
  fence rw, rw
  fence r, w
  fence iorw, iorw
  fence.tso
  .word 0x0100000f           /* pause (Zihintpause encoding of fence w,0) */
  nop
  addi x0, x1, 0             /* HINT encodings */
  li a0, 1
  CHECK a0, 1

  PASS

add_five:
  addi a0, a0, 5
  ret

  .data
  .balign 16
  .byte 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xa5, 0x5a
ld_data:
  .byte 0x81, 0x02, 0xf3, 0x83, 0x54, 0x65, 0xe7, 0xf8
  .dword 0x123456787ffffffe
  .balign 16
st_buf:
  .skip 32
