/*
 * priv-kumo.S - kumo-specific privileged checks where QEMU 7.2 departs from
 * the privileged spec 1.12:
 *   - 3.1.6.3: "An MRET or SRET instruction that changes the privilege mode
 *     to a mode less privileged than M also sets MPRV=0"; QEMU 7.2 keeps
 *     MPRV set.
 */
#include "test.h"

  .text
  .globl test_main
test_main:
  li a7, 0
  TCASE "mret to S clears MPRV"
  li t0, MSTATUS_MPRV
  csrs mstatus, t0
  ENTER PRV_S, 1f, 2f
1:
  ecall
2:
  CHK_CAUSE CAUSE_ECALL_S
  csrr a0, mstatus
  li a1, MSTATUS_MPRV
  and a0, a0, a1
  CHECK a0, 0
  TCASE "sret clears MPRV"
  li t0, MSTATUS_MPRV | MSTATUS_MPP
  csrs mstatus, t0          /* MPP = M: M accesses stay untranslated */
  li t0, MSTATUS_SPP
  csrs mstatus, t0
  la t0, 1f
  csrw sepc, t0
  la t6, trap_info
  la t5, 2f
  sd t5, TI_EXIT(t6)
  sret
  FAIL
1:
  ecall
2:
  csrr a0, mstatus
  li a1, MSTATUS_MPRV
  and a0, a0, a1
  CHECK a0, 0
  PASS
