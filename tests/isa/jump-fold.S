/*
 * jump-fold.S - loops whose back edge is a plain jump (`j`), the shapes a
 * compiler writes for `while (cond) body` and for a loop entered in its
 * middle. kumo-vmm folds a `j` to another place in the same page into the
 * block it ends (exec.c, build_block): the jump becomes a no-op that still
 * counts as an instruction, and decoding goes on at the target. Each case
 * checks what any implementation must do: the loop's result, the
 * instructions retired, and that rewriting the jump's target (FENCE.I) is
 * seen.
 */
#include "test.h"

  .text
  .globl test_main
test_main:
  TCASE "a loop tested at the top, j back"
  li a0, 0
  li a1, 100
1:
  beqz a1, 3f
  addi a0, a0, 3
  addi a1, a1, -1
  j 1b
3:
  CHECK a0, 300

  TCASE "a loop entered in its middle: the jump block is a loop once folded"
  li a0, 0
  li a1, 50
  j 2f
1:
  addi a0, a0, 2
  j 2f
2:
  addi a1, a1, -1
  bnez a1, 1b
  CHECK a0, 98

  TCASE "the folded jumps are retired instructions"
  li a1, 50
  csrr t0, minstret
  j 2f
1:
  addi a0, a0, 2
  j 2f
2:
  addi a1, a1, -1
  bnez a1, 1b
  csrr t1, minstret
  sub t1, t1, t0
  CHECK t1, 200             /* the first csrr, j, 50 x (addi, bnez), 49 x (addi, j) */

  TCASE "a jump's target rewritten is seen after FENCE.I"
  call fold_fn
  CHECK a0, 1
  call fold_fn
  CHECK a0, 1
  la a1, fold_target
  li a2, (7 << 20) | 0x513  /* addi a0, x0, 7 */
  sw a2, 0(a1)
  fence.i
  call fold_fn
  CHECK a0, 7
  call fold_fn
  CHECK a0, 7
  PASS

/* fold_fn: a0 = the value fold_target sets; the jump to it is folded */
  .balign 4
fold_fn:
  li a0, 0
  j 1f
  nop
  .balign 4                 /* the sw that rewrites it is aligned */
1:
  .option push
  .option norvc
fold_target:
  addi a0, x0, 1
  .option pop
  ret
