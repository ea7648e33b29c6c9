/*
 * rv64m.S - M extension: multiply and divide, incl. the spec's table of
 * results for division by zero and signed overflow (unprivileged ISA ch. 7).
 */
#include "test.h"

#define MIN64 0x8000000000000000
#define MAX64 0x7fffffffffffffff

  .text
  .globl test_main
test_main:
  /* ---- mul ---- */
  TEST_RR mul, 0, 0, 0
  TEST_RR mul, 3, 7, 21
  TEST_RR mul, -3, 7, -21
  TEST_RR mul, -1, -1, 1
  TEST_RR mul, MAX64, 2, 0xfffffffffffffffe
  TEST_RR mul, 0x100000000, 0x100000000, 0
  TEST_RR mul, 0x123456789abcdef0, 0x0fedcba987654321, 0x2236d88fe5618cf0
  TEST_RR_SAME mul, 0xffffffff, 0xfffffffe00000001

  /* ---- mulh / mulhu / mulhsu: upper 64 bits of the 128-bit product ---- */
  TEST_RR mulh, -1, -1, 0
  TEST_RR mulh, MIN64, MIN64, 0x4000000000000000
  TEST_RR mulh, MIN64, MAX64, 0xc000000000000000
  TEST_RR mulh, -2, 3, -1
  TEST_RR mulh, 2, 3, 0
  TEST_RR mulh, 0x123456789abcdef0, 0x0fedcba987654321, 0x0121fa00ad77d742
  TEST_RR mulhu, -1, -1, 0xfffffffffffffffe
  TEST_RR mulhu, MIN64, 2, 1
  TEST_RR mulhu, -1, 2, 1
  TEST_RR mulhu, -2, 3, 2
  TEST_RR mulhu, 0x123456789abcdef0, 0x0fedcba987654321, 0x0121fa00ad77d742
  TEST_RR mulhsu, -1, -1, -1          /* -1 * (2^64-1) = -2^64 + 1 */
  TEST_RR mulhsu, MIN64, 2, -1        /* -2^63 * 2 = -2^64 */
  TEST_RR mulhsu, 2, MIN64, 1         /* 2 * 2^63 = 2^64 */
  TEST_RR mulhsu, -2, 3, -1
  TEST_RR mulhsu, 1, -1, 0
  TEST_RR mulhsu, MIN64, MIN64, 0xc000000000000000

  /* ---- mulw: low 32 bits, sign-extended ---- */
  TEST_RR mulw, 0x7fffffff, 2, 0xfffffffffffffffe
  TEST_RR mulw, 0x100000003, 0x100000005, 15
  TEST_RR mulw, 0x10000, 0x10000, 0
  TEST_RR mulw, 0x8000, 0x10000, 0xffffffff80000000
  TEST_RR mulw, -1, -1, 1
  TEST_RR mulw, 0xffffffff, 0xffffffff, 1

  /* ---- div / rem: truncation toward zero ---- */
  TEST_RR div, 20, 6, 3
  TEST_RR div, -20, 6, -3
  TEST_RR div, 20, -6, -3
  TEST_RR div, -20, -6, 3
  TEST_RR rem, 20, 6, 2
  TEST_RR rem, -20, 6, -2
  TEST_RR rem, 20, -6, 2
  TEST_RR rem, -20, -6, -2
  TEST_RR divu, 20, 6, 3
  TEST_RR divu, -20, 6, 0x2aaaaaaaaaaaaaa7
  TEST_RR divu, 20, -6, 0
  TEST_RR remu, 20, 6, 2
  TEST_RR remu, -20, 6, 2
  TEST_RR remu, 20, -6, 20
  TEST_RR divu, -1, -1, 1
  TEST_RR div, MIN64, 1, MIN64
  TEST_RR div, 0x123456789abcdef0, 0x10, 0x0123456789abcdef
  /* division by zero: quotient all ones, remainder = dividend */
  TEST_RR div, 20, 0, -1
  TEST_RR div, -20, 0, -1
  TEST_RR div, 0, 0, -1
  TEST_RR divu, 20, 0, 0xffffffffffffffff
  TEST_RR divu, 0, 0, 0xffffffffffffffff
  TEST_RR rem, 20, 0, 20
  TEST_RR rem, -20, 0, -20
  TEST_RR remu, 20, 0, 20
  TEST_RR remu, -20, 0, -20
  /* signed overflow: -2^63 / -1 = -2^63, remainder 0 */
  TEST_RR div, MIN64, -1, MIN64
  TEST_RR rem, MIN64, -1, 0
  TEST_RR divu, MIN64, -1, 0
  TEST_RR remu, MIN64, -1, MIN64

  /* ---- W forms: 32-bit operands, sign-extended results ---- */
  TEST_RR divw, 20, 6, 3
  TEST_RR divw, -20, 6, -3
  TEST_RR divw, 0x100000014, 6, 3           /* upper bits ignored */
  TEST_RR divw, 0x00000000ffffffec, 6, -3   /* low word is -20 */
  TEST_RR remw, -20, 6, -2
  TEST_RR remw, 0x00000000ffffffec, -6, -2
  TEST_RR divuw, 0xffffffec, 6, 0x2aaaaaa7
  TEST_RR divuw, 0xffffffffffffffec, 6, 0x2aaaaaa7
  TEST_RR divuw, 0xffffffff, 1, 0xffffffffffffffff
  TEST_RR remuw, 0xffffffec, 6, 2
  TEST_RR remuw, 0x80000000, 0xffffffff, 0xffffffff80000000
  /* by zero */
  TEST_RR divw, 20, 0, -1
  TEST_RR divw, 20, 0x100000000, -1         /* low word of divisor is 0 */
  TEST_RR divuw, 20, 0, 0xffffffffffffffff
  TEST_RR remw, -20, 0, -20
  TEST_RR remw, 0x0000000080000000, 0, 0xffffffff80000000
  TEST_RR remuw, 0x12345678ffffffec, 0, 0xffffffffffffffec
  TEST_RR remuw, 0x123456787fffffff, 0, 0x7fffffff
  /* overflow: -2^31 / -1 */
  TEST_RR divw, 0xffffffff80000000, -1, 0xffffffff80000000
  TEST_RR divw, 0x80000000, 0xffffffff, 0xffffffff80000000
  TEST_RR remw, 0xffffffff80000000, -1, 0
  TEST_RR divuw, 0x80000000, 0xffffffff, 0
  TEST_RR remuw, 0x80000000, 0xffffffff, 0xffffffff80000000

  TCASE "mul rd == rs1 == rs2 (div)"
  li a1, 49
  div a1, a1, a1
  CHECK a1, 1
  PASS
