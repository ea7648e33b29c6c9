/*
 * bitmanip.S - Zba, Zbb and Zbs (bit-manipulation 1.0.0), with edge inputs
 * (0, all ones, sign bits, shift amounts beyond the width).
 */
#include "test.h"

#define MIN64 0x8000000000000000
#define MAX64 0x7fffffffffffffff

  .text
  .globl test_main
test_main:
  /* ---------------- Zba ---------------- */
  TEST_RR add.uw, 0xffffffff80000000, 1, 0x80000001
  TEST_RR add.uw, 0xffffffffffffffff, 0, 0xffffffff
  TEST_RR add.uw, 0x1234567800000000, -1, -1
  TEST_RR add.uw, 0xffffffff, 0xffffffff00000001, 0
  TCASE "zext.w (add.uw rd, rs, zero)"
  li a1, 0x8000000080000000
  zext.w a0, a1
  CHECK a0, 0x80000000
  TEST_RR sh1add, 1, 2, 4
  TEST_RR sh1add, MIN64, 5, 5
  TEST_RR sh1add, -1, 0, -2
  TEST_RR sh2add, 1, 2, 6
  TEST_RR sh2add, 0x4000000000000001, 0, 4
  TEST_RR sh2add, -1, 4, 0
  TEST_RR sh3add, 1, 2, 10
  TEST_RR sh3add, 0x2000000000000001, 1, 9
  TEST_RR sh3add, -1, -1, -9
  TEST_RR sh1add.uw, 0xffffffff80000000, 1, 0x100000001
  TEST_RR sh1add.uw, 0x12345678ffffffff, 0, 0x1fffffffe
  TEST_RR sh2add.uw, 0xffffffff80000000, 1, 0x200000001
  TEST_RR sh2add.uw, 0xffffffffffffffff, 4, 0x400000000
  TEST_RR sh3add.uw, 0xffffffff80000000, 1, 0x400000001
  TEST_RR sh3add.uw, 0xffffffffffffffff, -1, 0x7fffffff7
  TEST_RI slli.uw, 0xffffffff80000001, 4, 0x800000010
  TEST_RI slli.uw, 0xffffffffffffffff, 0, 0xffffffff
  TEST_RI slli.uw, 0xffffffffffffffff, 32, 0xffffffff00000000
  TEST_RI slli.uw, 0x0000000180000000, 63, 0
  TEST_RI slli.uw, 0x0000000000000001, 63, MIN64

  /* ---------------- Zbb: logic with negate ---------------- */
  TEST_RR andn, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0, 0xf000f000f000f000
  TEST_RR andn, -1, 0, -1
  TEST_RR andn, -1, -1, 0
  TEST_RR orn, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0, 0xff0fff0fff0fff0f
  TEST_RR orn, 0, 0, -1
  TEST_RR orn, 0, -1, 0
  TEST_RR xnor, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0, 0x0f0f0f0f0f0f0f0f
  TEST_RR xnor, 0, 0, -1
  TEST_RR xnor, -1, 0, 0

  /* ---------------- Zbb: counts ---------------- */
  TEST_R clz, 0, 64
  TEST_R clz, 1, 63
  TEST_R clz, -1, 0
  TEST_R clz, MAX64, 1
  TEST_R clz, 0x0000000100000000, 31
  TEST_R ctz, 0, 64
  TEST_R ctz, MIN64, 63
  TEST_R ctz, -1, 0
  TEST_R ctz, 0x0000000100000000, 32
  TEST_R cpop, 0, 0
  TEST_R cpop, -1, 64
  TEST_R cpop, MIN64, 1
  TEST_R cpop, 0x5555555555555555, 32
  TEST_R cpop, 0x0123456789abcdef, 32
  TEST_R clzw, 0, 32
  TEST_R clzw, 0xffffffff00000000, 32
  TEST_R clzw, 1, 31
  TEST_R clzw, 0x80000000, 0
  TEST_R clzw, 0xffffffff00010000, 15
  TEST_R ctzw, 0, 32
  TEST_R ctzw, 0xffffffff00000000, 32
  TEST_R ctzw, 0x80000000, 31
  TEST_R ctzw, 0x0000000100000002, 1
  TEST_R cpopw, 0xffffffff00000001, 1
  TEST_R cpopw, -1, 32
  TEST_R cpopw, 0, 0
  TEST_R cpopw, 0x00000000f0f0f0f0, 16

  /* ---------------- Zbb: min/max ---------------- */
  TEST_RR max, -1, 1, 1
  TEST_RR max, MIN64, MAX64, MAX64
  TEST_RR max, 5, 5, 5
  TEST_RR maxu, -1, 1, -1
  TEST_RR maxu, MIN64, MAX64, MIN64
  TEST_RR min, -1, 1, -1
  TEST_RR min, MIN64, MAX64, MIN64
  TEST_RR minu, -1, 1, 1
  TEST_RR minu, MIN64, MAX64, MAX64
  TEST_RR minu, 0, -1, 0

  /* ---------------- Zbb: sign/zero extension ---------------- */
  TEST_R sext.b, 0x80, -128
  TEST_R sext.b, 0x7f, 127
  TEST_R sext.b, 0x12345678000000ff, -1
  TEST_R sext.b, 0xffffffffffffff00, 0
  TEST_R sext.h, 0x8000, 0xffffffffffff8000
  TEST_R sext.h, 0x7fff, 0x7fff
  TEST_R sext.h, 0x123456789abcffff, -1
  TEST_R zext.h, 0xffffffffffff8000, 0x8000
  TEST_R zext.h, -1, 0xffff
  TEST_R zext.h, 0x12340000, 0

  /* ---------------- Zbb: rotates ---------------- */
  TEST_RR rol, 0x8000000000000001, 1, 3
  TEST_RR rol, 0x8000000000000001, 65, 3
  TEST_RR rol, 0x0123456789abcdef, 0, 0x0123456789abcdef
  TEST_RR rol, 0x0123456789abcdef, 4, 0x123456789abcdef0
  TEST_RR rol, 0x0123456789abcdef, 32, 0x89abcdef01234567
  TEST_RR rol, 0x0123456789abcdef, -4, 0xf0123456789abcde
  TEST_RR ror, 1, 1, MIN64
  TEST_RR ror, 1, 64, 1
  TEST_RR ror, 0x0123456789abcdef, 4, 0xf0123456789abcde
  TEST_RR ror, 0x0123456789abcdef, 63, 0x02468acf13579bde
  TEST_RI rori, 1, 1, MIN64
  TEST_RI rori, 0x0123456789abcdef, 36, 0x789abcdef0123456
  TEST_RI rori, 0x0123456789abcdef, 0, 0x0123456789abcdef
  TEST_RI rori, 0x0123456789abcdef, 63, 0x02468acf13579bde
  TEST_RR rolw, 0x80000001, 1, 3
  TEST_RR rolw, 0x40000000, 1, 0xffffffff80000000
  TEST_RR rolw, 0xffffffff00000001, 33, 2
  TEST_RR rolw, 0x12345678, 4, 0x23456781
  TEST_RR rolw, 0x12345678, 0, 0x12345678
  TEST_RR rorw, 1, 1, 0xffffffff80000000
  TEST_RR rorw, 0x12345678, 4, 0xffffffff81234567
  TEST_RR rorw, 0xaaaaaaaa12345678, 36, 0xffffffff81234567
  TEST_RR rorw, 0xffffffff80000000, 0, 0xffffffff80000000
  TEST_RI roriw, 1, 1, 0xffffffff80000000
  TEST_RI roriw, 0x12345678, 4, 0xffffffff81234567
  TEST_RI roriw, 0xffffffff00000002, 1, 1
  TEST_RI roriw, 0x0000000080000000, 0, 0xffffffff80000000
  TEST_RI roriw, 0x0000000012345678, 31, 0x2468acf0

  /* ---------------- Zbb: byte ops ---------------- */
  TEST_R rev8, 0x0102030405060708, 0x0807060504030201
  TEST_R rev8, 0xff, MIN64 | 0x7f00000000000000
  TEST_R rev8, 0, 0
  TEST_R orc.b, 0x0001000010000000, 0x00ff0000ff000000
  TEST_R orc.b, 0x8000000000000001, 0xff000000000000ff
  TEST_R orc.b, 0, 0
  TEST_R orc.b, 0x0102040810204080, -1

  /* ---------------- Zbs ---------------- */
  TEST_RR bclr, -1, 0, 0xfffffffffffffffe
  TEST_RR bclr, -1, 63, MAX64
  TEST_RR bclr, -1, 64, 0xfffffffffffffffe    /* index mod 64 */
  TEST_RR bclr, 0, 5, 0
  TEST_RR bset, 0, 63, MIN64
  TEST_RR bset, 0, 0x7f, MIN64
  TEST_RR bset, 0x10, 4, 0x10
  TEST_RR bset, 0, 31, 0x80000000
  TEST_RR binv, 0, 64, 1
  TEST_RR binv, -1, 32, 0xfffffffeffffffff
  TEST_RR binv, MIN64, 63, 0
  TEST_RR bext, MIN64, 63, 1
  TEST_RR bext, MIN64, 127, 1
  TEST_RR bext, MAX64, 63, 0
  TEST_RR bext, 0x10, 4, 1
  TEST_RR bext, 0x10, 3, 0
  TEST_RI bclri, -1, 63, MAX64
  TEST_RI bclri, -1, 0, -2
  TEST_RI bclri, 0x100000000, 32, 0
  TEST_RI bseti, 0, 63, MIN64
  TEST_RI bseti, 0, 32, 0x100000000
  TEST_RI bseti, 1, 0, 1
  TEST_RI binvi, 0, 63, MIN64
  TEST_RI binvi, -1, 31, 0xffffffff7fffffff
  TEST_RI binvi, 1, 0, 0
  TEST_RI bexti, MIN64, 63, 1
  TEST_RI bexti, -1, 31, 1
  TEST_RI bexti, 0xfffffffeffffffff, 32, 0
  PASS
