/*
 * zifencei.S - self-modifying code: store a new instruction over an existing
 * one, execute FENCE.I, run it and see the new behaviour.  Both a 4-byte
 * and a 2-byte (compressed) instruction are replaced.
 */
#include "test.h"

#define LI_A0(imm)  (((imm) << 20) | 0x513)      /* addi a0, x0, imm */
#define CLI_A0(imm) (0x4501 | ((imm) << 2))      /* c.li a0, imm */

  .text
  .globl test_main
test_main:
  TCASE "4-byte insn: before"
  call smc4
  CHECK a0, 1
  call smc4                 /* run it twice so it is "hot" */
  CHECK a0, 1
  TCASE "4-byte insn: replaced"
  la a1, smc4_insn
  li a2, LI_A0(2)
  sw a2, 0(a1)
  fence.i
  call smc4
  CHECK a0, 2
  TCASE "4-byte insn: replaced again"
  li a2, LI_A0(-7)
  sw a2, 0(a1)
  fence.i
  call smc4
  CHECK a0, -7

  TCASE "2-byte insn: before"
  call smc2
  CHECK a0, 1
  TCASE "2-byte insn: replaced"
  la a1, smc2_insn
  li a2, CLI_A0(3)
  sh a2, 0(a1)
  fence.i
  call smc2
  CHECK a0, 3

  TCASE "4-byte insn replaced by two 2-byte insns"
  la a1, smc4_insn
  li a2, (CLI_A0(9) << 16) | CLI_A0(5)  /* c.li a0,5 ; c.li a0,9 */
  sw a2, 0(a1)
  fence.i
  call smc4
  CHECK a0, 9

  TCASE "next instruction after fence.i"
  la a1, 1f
  li a2, LI_A0(11)
  sw a2, 0(a1)
  fence.i
1:
  li a0, 10                 /* 4-byte addi; replaced by li a0, 11 */
  CHECK a0, 11

  TCASE "loop body patched between iterations"
  li s1, 0                  /* sum */
  li s2, 0                  /* iteration */
  la s3, 2f
2:
  addi a0, zero, 1          /* patched to addi a0, zero, 100 */
  add s1, s1, a0
  addi s2, s2, 1
  li a2, LI_A0(100)
  sw a2, 0(s3)
  fence.i
  li a3, 3
  blt s2, a3, 2b
  CHECK s1, 201
  PASS

/* Functions whose code is rewritten (kept 4-byte aligned). */
  .balign 4
smc4:
smc4_insn:
  addi a0, zero, 1
  ret
  .balign 4
smc2:
  .option push
  .option rvc
smc2_insn:
  c.li a0, 1
  c.nop
  .option pop
  ret
