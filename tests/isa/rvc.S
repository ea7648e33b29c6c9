/*
 * rvc.S - C extension (RV64C): every compressed instruction, checked against
 * the behaviour of its 32-bit expansion (unprivileged ISA ch. 16), plus
 * 32-bit instructions at 2-byte alignment and one straddling a 4 KiB page.
 */
#include "test.h"

  .text
  .globl test_main
test_main:
  FP_ON
  .option rvc

  /* ---- quadrant 1 ---- */
  TCASE "c.li"
  c.li a0, -32
  CHECK a0, -32
  c.li a0, 31
  CHECK a0, 31
  TCASE "c.lui"
  c.lui a0, 1
  CHECK a0, 0x1000
  c.lui a0, 0x1f
  CHECK a0, 0x1f000
  c.lui a0, 0xfffff              /* nzimm = -1 << 12 */
  CHECK a0, 0xfffffffffffff000
  c.lui a0, 0xfffe0              /* nzimm[17] set: -0x20000 */
  CHECK a0, 0xfffffffffffe0000
  TCASE "c.addi"
  li a0, 10
  c.addi a0, -11
  CHECK a0, -1
  c.addi a0, 31
  CHECK a0, 30
  li a0, 0x7fffffffffffffff
  c.addi a0, 1
  CHECK a0, 0x8000000000000000
  TCASE "c.nop"
  li a0, 3
  c.nop
  CHECK a0, 3
  TCASE "c.addiw (RV32 c.jal encoding)"
  li a0, 0x7fffffff
  c.addiw a0, 1
  CHECK a0, 0xffffffff80000000
  li a0, 0x1234567880000000
  c.addiw a0, 0                  /* sext.w */
  CHECK a0, 0xffffffff80000000
  li a0, 0xffffffff00000000
  c.addiw a0, -1
  CHECK a0, -1
  TCASE "c.addi16sp"
  mv s1, sp
  c.addi16sp sp, -512
  sub a0, s1, sp
  CHECK a0, 512
  c.addi16sp sp, 496
  sub a0, s1, sp
  CHECK a0, 16
  c.addi16sp sp, 16
  CHECKR sp, s1
  TCASE "c.srli"
  li a0, 0x8000000000000000
  c.srli a0, 63
  CHECK a0, 1
  li a0, -1
  c.srli a0, 32
  CHECK a0, 0xffffffff
  li a0, 0x80
  c.srli a0, 1
  CHECK a0, 0x40
  TCASE "c.srai"
  li a0, 0x8000000000000000
  c.srai a0, 63
  CHECK a0, -1
  li a0, 0x8000000000000000
  c.srai a0, 32
  CHECK a0, 0xffffffff80000000
  li a0, 0x4000000000000000
  c.srai a0, 1
  CHECK a0, 0x2000000000000000
  TCASE "c.andi"
  li a0, 0x123456789abcdef0
  c.andi a0, -32
  CHECK a0, 0x123456789abcdee0
  li a0, 0x123456789abcdef7
  c.andi a0, 31
  CHECK a0, 0x17
  li a0, 0x5555
  c.andi a0, 0
  CHECK a0, 0
  TCASE "c.sub"
  li a0, 5
  li a1, 7
  c.sub a0, a1
  CHECK a0, -2
  TCASE "c.xor"
  li a0, 0xff00ff00ff00ff00
  li a1, 0x0ff00ff00ff00ff0
  c.xor a0, a1
  CHECK a0, 0xf0f0f0f0f0f0f0f0
  TCASE "c.or"
  li a0, 0xff00ff00ff00ff00
  c.or a0, a1
  CHECK a0, 0xfff0fff0fff0fff0
  TCASE "c.and"
  li a0, 0xff00ff00ff00ff00
  c.and a0, a1
  CHECK a0, 0x0f000f000f000f00
  TCASE "c.subw"
  li a0, 0x80000000
  li a1, 1
  c.subw a0, a1
  CHECK a0, 0x7fffffff
  li a0, 0
  c.subw a0, a1
  CHECK a0, -1
  li a0, 0x100000000
  li a1, 0x80000000
  c.subw a0, a1
  CHECK a0, 0xffffffff80000000
  TCASE "c.addw"
  li a0, 0x7fffffff
  li a1, 1
  c.addw a0, a1
  CHECK a0, 0xffffffff80000000
  li a0, 0x1ffffffff
  c.addw a0, a1
  CHECK a0, 0
  TCASE "c.j"
  c.j 1f
  FAIL
1:
  TCASE "c.j backwards"
  li a0, 0
  j 3f
2:
  c.addi a0, 1
  c.j 4f
3:
  c.j 2b
4:
  CHECK a0, 1
  TCASE "c.beqz"
  li s0, 0
  c.beqz s0, 1f
  FAIL
1:
  li s0, 0x100000000
  c.beqz s0, 2f
  j 3f
2:
  FAIL
3:
  TCASE "c.bnez"
  li s0, 0x8000000000000000
  c.bnez s0, 1f
  FAIL
1:
  li s0, 0
  c.bnez s0, 2f
  j 3f
2:
  FAIL
3:

  /* ---- quadrant 2 ---- */
  TCASE "c.slli"
  li a0, 1
  c.slli a0, 63
  CHECK a0, 0x8000000000000000
  li a0, 0xffffffff
  c.slli a0, 32
  CHECK a0, 0xffffffff00000000
  li a0, 3
  c.slli a0, 1
  CHECK a0, 6
  TCASE "c.mv"
  li a1, 0x123456789
  c.mv a0, a1
  CHECK a0, 0x123456789
  c.mv t0, a1
  CHECK t0, 0x123456789
  TCASE "c.add"
  li a0, 0x7fffffffffffffff
  li a1, 2
  c.add a0, a1
  CHECK a0, 0x8000000000000001
  li t0, 1
  c.add t0, t0
  CHECK t0, 2
  TCASE "c.jr"
  la a1, 1f
  c.jr a1
  FAIL
1:
  TCASE "c.jalr link is pc+2"
  la a1, 1f
  c.jalr a1
2:
  FAIL
1:
  la a2, 2b
  CHECKR ra, a2
  TCASE "c.jalr rs1 == ra"
  la ra, 1f
  c.jalr ra
2:
  FAIL
1:
  la a2, 2b
  CHECKR ra, a2
  TCASE "c.ebreak"
  ARM_TRAP 2f
1:
  c.ebreak
  NOTRAP
2:
  CHK_CAUSE CAUSE_BREAKPOINT
  CHK_EPC 1b
  TCASE "ebreak (32-bit)"
  ARM_TRAP 2f
1:
  ebreak
  NOTRAP
2:
  CHK_CAUSE CAUSE_BREAKPOINT
  CHK_EPC 1b

  /* ---- loads and stores, register-based (quadrant 0) ---- */
  TCASE "c.lw sign-extends"
  la s0, cdata
  c.lw a0, 0(s0)
  CHECK a0, 0xffffffff87654321
  c.lw a0, 4(s0)
  CHECK a0, 0x12345678
  TCASE "c.ld"
  c.ld a0, 0(s0)
  CHECK a0, 0x1234567887654321
  c.ld a0, 8(s0)
  CHECK a0, 0xfedcba9876543210
  TCASE "c.sw"
  la s1, cbuf
  li a1, 0x1111111111111111
  sd a1, 0(s1)
  li a2, 0xaaaaaaaa80000001
  c.sw a2, 4(s1)
  ld a0, 0(s1)
  CHECK a0, 0x8000000111111111
  TCASE "c.sd"
  li a2, 0x0123456789abcdef
  c.sd a2, 8(s1)
  ld a0, 8(s1)
  CHECK a0, 0x0123456789abcdef
  TCASE "c.lw/c.sw max offset"
  c.sw a2, 124(s1)
  lw a0, 124(s1)
  CHECK a0, 0xffffffff89abcdef
  TCASE "c.ld/c.sd max offset"
  c.sd a2, 248(s1)
  c.ld a0, 248(s1)
  CHECK a0, 0x0123456789abcdef
  TCASE "c.fld/c.fsd"
  c.fld fa0, 8(s0)
  fmv.x.d a0, fa0
  CHECK a0, 0xfedcba9876543210
  c.fsd fa0, 16(s1)
  ld a0, 16(s1)
  CHECK a0, 0xfedcba9876543210
  c.fsd fa0, 248(s1)
  ld a0, 248(s1)
  CHECK a0, 0xfedcba9876543210
  TCASE "c.addi4spn"
  c.addi4spn a0, sp, 4
  addi a1, sp, 4
  CHECKR a0, a1
  c.addi4spn a0, sp, 1020
  addi a1, sp, 1020
  CHECKR a0, a1

  /* ---- stack-pointer based ---- */
  TCASE "c.sdsp/c.ldsp"
  mv s1, sp
  la sp, cbuf
  li a1, 0x5566778899aabbcc
  c.sdsp a1, 0(sp)
  c.sdsp a1, 504(sp)
  c.ldsp a0, 0(sp)
  CHECK a0, 0x5566778899aabbcc
  ld a0, 504(sp)
  CHECK a0, 0x5566778899aabbcc
  c.ldsp t0, 504(sp)
  CHECK t0, 0x5566778899aabbcc
  TCASE "c.swsp/c.lwsp"
  li a1, 0x00000000f0000001
  c.swsp a1, 252(sp)
  c.lwsp a0, 252(sp)
  CHECK a0, 0xfffffffff0000001
  c.swsp a1, 8(sp)
  ld a0, 8(sp)
  CHECK a0, 0x01234567f0000001
  TCASE "c.fsdsp/c.fldsp"
  li a1, 0x400921fb54442d18
  fmv.d.x f1, a1
  c.fsdsp f1, 16(sp)
  c.fsdsp f1, 504(sp)
  c.fldsp f2, 16(sp)
  fmv.x.d a0, f2
  CHECK a0, 0x400921fb54442d18
  c.fldsp f3, 504(sp)
  fmv.x.d a0, f3
  CHECK a0, 0x400921fb54442d18
  mv sp, s1

  /* ---- illegal: the all-zero parcel ---- */
  TCASE "0x0000 is illegal"
  ARM_TRAP 2f
1:
  .hword 0
  NOTRAP
2:
  CHK_CAUSE CAUSE_ILLEGAL
  CHK_EPC 1b
  CHK_TVAL 0

  /* ---- 32-bit instructions at 2-byte alignment ---- */
  TCASE "32-bit insn at pc % 4 == 2"
  .balign 4
  li a0, 0
  c.nop
  .option norvc
  addi a0, a0, 1            /* at 2 mod 4 */
  addi a0, a0, 2
  .option rvc
  c.addi a0, 4
  .option norvc
  addi a0, a0, 8            /* at 2 mod 4 again */
  .option rvc
  CHECK a0, 15
  TCASE "jal to and from a 2-mod-4 address"
  .balign 4
  c.nop
  .option norvc
1:
  jal a1, 2f                /* at 2 mod 4 */
3:
  FAIL
  .balign 4
  .option rvc
  c.nop
  .option norvc
2:
  la a2, 3b                 /* target at 2 mod 4 */
  CHECKR a1, a2
  la a2, 1b
  andi a2, a2, 3
  CHECK a2, 2
  .option rvc
  TCASE "32-bit insn straddling a page boundary"
  li a0, 0
  j straddle

  .balign 4096
  .skip 4096 - 8
straddle:                   /* 8 bytes before a page boundary */
  c.addi a0, 1
  c.addi a0, 1
  c.addi a0, 1
  .option norvc
  addi a0, a0, 0x100        /* bytes page-2 .. page+1 */
  .option rvc
  c.addi a0, 2
  CHECK a0, 0x105
  la a1, straddle
  addi a1, a1, 6
  li a2, 0xfff
  and a1, a1, a2
  CHECK a1, 0xffe
  .option norvc
  PASS

  .data
  .balign 16
cdata:
  .dword 0x1234567887654321
  .dword 0xfedcba9876543210
  .balign 16
cbuf:
  .skip 1040
