/*
 * counters.S - Zicntr/privileged counters: mcycle/minstret and their user
 * aliases cycle/instret increase; mcounteren gates S and U, scounteren
 * gates U (illegal instruction otherwise).  The time CSR is in
 * time-sstc-kumo.S (QEMU's spike board has no rdtime).
 */
#include "test.h"

/* COUNTER_ACCESS mode, csr, ok: read csr in `mode`; ok=1: must succeed,
 * ok=0: must be an illegal instruction. */
.macro COUNTER_ACCESS mode, csr, ok
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
  TCASE "mcycle increases"
  csrr a0, mcycle
  nop
  nop
  csrr a1, mcycle
  bgtu a1, a0, 1f
  FAIL
1:
  TCASE "minstret increases"
  csrr a0, minstret
  nop
  nop
  csrr a1, minstret
  bgtu a1, a0, 1f
  FAIL
1:
  TCASE "minstret counts a loop"
  csrr a0, minstret
  li a2, 1000
2:
  addi a2, a2, -1
  bnez a2, 2b
  csrr a1, minstret
  sub a1, a1, a0
  li a3, 2000
  bgeu a1, a3, 1f
  FAIL
1:
  TCASE "cycle/instret alias mcycle/minstret in M"
  rdcycle a0
  csrr a1, mcycle
  bgeu a1, a0, 1f
  FAIL
1:
  rdinstret a0
  csrr a1, minstret
  bgeu a1, a0, 1f
  FAIL
1:
  TCASE "mcycle is writable"
  li a1, 0x1000000000
  csrw mcycle, a1
  csrr a0, mcycle
  bltu a0, a1, 9f
  li a2, 0x2000000000
  bgeu a0, a2, 9f
  j 1f
9:
  FAIL
1:
  TCASE "minstret is writable"
  li a1, 0x1000000000
  csrw minstret, a1
  csrr a0, minstret
  bltu a0, a1, 9f
  li a2, 0x2000000000
  bgeu a0, a2, 9f
  j 1f
9:
  FAIL
1:
  TCASE "cycle is read-only"
  ILLEGAL csrw cycle, zero
  TCASE "instret is read-only"
  ILLEGAL csrw instret, zero

  /* ---- counter-enable gating ---- */
  csrw mcounteren, zero
  csrw scounteren, zero
  TCASE "S cycle, mcounteren.CY = 0"
  COUNTER_ACCESS PRV_S, cycle, 0
  TCASE "S instret, mcounteren.IR = 0"
  COUNTER_ACCESS PRV_S, instret, 0
  TCASE "U cycle, both 0"
  COUNTER_ACCESS PRV_U, cycle, 0
  csrwi scounteren, 5
  TCASE "U cycle, only scounteren.CY"
  COUNTER_ACCESS PRV_U, cycle, 0
  TCASE "U instret, only scounteren.IR"
  COUNTER_ACCESS PRV_U, instret, 0
  csrwi mcounteren, 1
  TCASE "S cycle, mcounteren.CY = 1"
  COUNTER_ACCESS PRV_S, cycle, 1
  TCASE "S instret, mcounteren.IR = 0 (CY = 1)"
  COUNTER_ACCESS PRV_S, instret, 0
  TCASE "U cycle, both CY"
  COUNTER_ACCESS PRV_U, cycle, 1
  TCASE "U instret, scounteren.IR only"
  COUNTER_ACCESS PRV_U, instret, 0
  csrwi mcounteren, 5
  csrwi scounteren, 4
  TCASE "S instret, mcounteren.IR = 1"
  COUNTER_ACCESS PRV_S, instret, 1
  TCASE "U instret, both IR"
  COUNTER_ACCESS PRV_U, instret, 1
  TCASE "U cycle, mcounteren.CY only"
  COUNTER_ACCESS PRV_U, cycle, 0
  TCASE "S mcycle always illegal"
  COUNTER_ACCESS PRV_S, mcycle, 0
  TCASE "S reads mcounteren: illegal"
  COUNTER_ACCESS PRV_S, mcounteren, 0
  TCASE "S reads scounteren"
  COUNTER_ACCESS PRV_S, scounteren, 1
  TCASE "U reads scounteren: illegal"
  COUNTER_ACCESS PRV_U, scounteren, 0
  TCASE "U cycle value increases"
  csrwi mcounteren, 7
  csrwi scounteren, 7
  ENTER PRV_U, 1f, 2f
1:
  rdcycle s1
  nop
  rdcycle s2
  ebreak
2:
  bgtu s2, s1, 1f
  FAIL
1:
  PASS
