/*
 * pmp-split.S - PMP splits a code page: only its last word may be executed
 * by S-mode, and that word is a jump back into the part that may not. The
 * jump's target must raise an instruction access fault (privileged 1.12,
 * 3.7: every fetch is checked), even after M-mode ran the same code (PMP
 * does not bind M-mode's unlocked entries) and whatever a VMM decoded and
 * cached from the whole page then. kumo-vmm folds a jump into the block it
 * ends only where the whole page may be fetched (exec.c, build_block).
 */
#include "test.h"

#define CFG_RW  0x03
#define CFG_RWX 0x07
#define CFG_TOR 0x08
#define JAL_BACK_F00 0x900ff06f /* jal x0, . - 0xf00 */
#define LI_A0_42 0x02a00513
#define ECALL 0x00000073

  .text
  .globl test_main
test_main:
  la s2, fpage
  li t1, JAL_BACK_F00
  li t2, 0xffc
  add t2, s2, t2
  sw t1, 0(t2)
  li t1, LI_A0_42
  sw t1, 0xfc(s2)
  li t1, ECALL
  sw t1, 0x100(s2)
  fence.i

  TCASE "M-mode runs the jump and its target"
  li s3, 3
1:
  li a0, 0
  ARM_TRAP 2f
  jr t2
2:
  CHK_CAUSE CAUSE_ECALL_M
  CHECK a0, 42
  addi s3, s3, -1
  bnez s3, 1b

  TCASE "S-mode: the target in the part PMP closes faults"
  srli t0, t2, 2
  csrw pmpaddr0, t0         /* entry 0: TOR [0, fpage + 0xffc) RW */
  li t0, -1
  srli t0, t0, 10
  csrw pmpaddr1, t0         /* entry 1: TOR [fpage + 0xffc, top) RWX */
  li t0, ((CFG_TOR | CFG_RWX) << 8) | (CFG_TOR | CFG_RW)
  csrw pmpcfg0, t0
  li a0, 0
  ENTER PRV_S, fpage + 0xffc, 2f
2:
  CHK_CAUSE CAUSE_FETCH_ACCESS
  CHK_EPC fpage + 0xfc
  CHECK a0, 0
  TCASE "S-mode: again"
  li a0, 0
  ENTER PRV_S, fpage + 0xffc, 2f
2:
  CHK_CAUSE CAUSE_FETCH_ACCESS
  CHK_EPC fpage + 0xfc
  CHECK a0, 0

  csrw pmpcfg0, zero
  PASS

  .bss
  .balign 4096
fpage: .skip 4096
