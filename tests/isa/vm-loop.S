/*
 * vm-loop.S - loads and stores of a loop under Sv39: a loop runs long
 * enough to be translated, and its accesses must see every change to the
 * translation the spec requires them to see.
 *
 * kumo-vmm translates a block that branches to itself as a loop, and the
 * loads and stores of such a loop whose address is computed (not a stride)
 * probe the TLB entry the same access hit last before the one the address
 * indexes (docs/architecture.md, "TLB hints"). These cases exercise that
 * guess going wrong in every way: a second page, two pages that index the
 * same TLB entry (2 MiB apart), a translation moved to the entry's second
 * way, a remapped page after SFENCE.VMA, and a page that lost its write
 * permission. Loads that share a base register cross into the next page
 * (page groups: the later ones start from the first one's TLB entry), in a
 * loop and in a block that is not one. A loop faults in its second
 * iteration after a load wrote a register in the first (the back edge must
 * have kept that value). Every outcome checked is what the
 * privileged spec requires of any implementation (run-qemu.sh runs this
 * program under QEMU too).
 *
 * Address map: 0x80000000 + 4 MiB identity (2 MiB leaves, RWX, S only);
 * TVA, TVA + 4 KiB: tpage0, tpage1; TVB = TVA + 2 MiB: tpage2. Every word of
 * tpageN holds 1 << N; tpage3 (8s) is what TVA is remapped to.
 */
#include "test.h"
#include "vm.h"

#define TVA 0x100000000
#define TVB (TVA + 0x200000)
#define ITERS 64

/* PTE_CLEAR / PTE_ADD ptevar, bits: clear or set flag bits of the leaf PTE
 * stored at ptevar; clobber t0-t2. */
.macro PTE_CLEAR ptevar, bits
  la t0, \ptevar
  ld t0, 0(t0)
  ld t1, 0(t0)
  li t2, \bits
  not t2, t2
  and t1, t1, t2
  sd t1, 0(t0)
.endm
.macro PTE_ADD ptevar, bits
  la t0, \ptevar
  ld t0, 0(t0)
  ld t1, 0(t0)
  ori t1, t1, \bits
  sd t1, 0(t0)
.endm

/* FILL page, value: every word of page = value; clobbers t0-t2. */
.macro FILL page, value
  la t0, \page
  li t1, \value
  li t2, 512
1:
  sd t1, 0(t0)
  addi t0, t0, 8
  addi t2, t2, -1
  bnez t2, 1b
.endm

/* SUM base, alt: a0 = the sum of ITERS words read by sum_loop (iteration i
 * reads base + (i & 1) * alt + (8 i mod 2 KiB)); clobbers t1-t4, a1, a2. */
.macro SUM base, alt
  li a0, \base
  li a1, ITERS
  li a2, \alt
  call sum_loop
.endm

  .text
  .globl test_main
test_main:
  /* every word of tpageN is 1 << N (tpage1 is not next to tpage0: an
   * access through the wrong translation reads another value) */
  FILL tpage0, 1
  FILL tpage1, 2
  FILL tpage2, 4
  FILL tpage3, 8

  SV39_IDENTITY s11
  li a0, TVA
  la a1, tpage0
  li a2, PTE_V | PTE_R | PTE_W | PTE_AD
  li a3, 0
  call pt_map
  la t0, pte_tva
  sd a0, 0(t0)
  li a0, TVA + 0x1000
  la a1, tpage1
  li a2, PTE_V | PTE_R | PTE_W | PTE_AD
  li a3, 0
  call pt_map
  li a0, TVB
  la a1, tpage2
  li a2, PTE_V | PTE_R | PTE_W | PTE_AD
  li a3, 0
  call pt_map

  li t0, 8
  slli t0, t0, 60
  srli t1, s11, 12
  or s9, t0, t1             /* s9 = satp, Sv39 */

  TCASE "a loop reads one page, again and again"
  ENTER PRV_S, 1f, 2f
1:
  csrw satp, s9
  sfence.vma
  SUM TVA, 0
  mv s1, a0
  SUM TVA, 0
  mv s2, a0
  SUM TVA, 0
  mv s3, a0
  ecall
2:
  CHK_CAUSE CAUSE_ECALL_S
  CHECK s1, ITERS
  CHECK s2, ITERS
  CHECK s3, ITERS

  TCASE "a loop alternates two pages"
  ENTER PRV_S, 1f, 2f
1:
  csrw satp, s9
  SUM TVA, 0x1000
  mv s1, a0
  SUM TVA, 0x1000
  mv s2, a0
  ecall
2:
  CHK_CAUSE CAUSE_ECALL_S
  CHECK s1, ITERS / 2 * (1 + 2)
  CHECK s2, ITERS / 2 * (1 + 2)

  TCASE "a loop alternates two pages 2 MiB apart"
  ENTER PRV_S, 1f, 2f
1:
  csrw satp, s9
  SUM TVA, 0x200000
  mv s1, a0
  SUM TVA, 0x200000
  mv s2, a0
  SUM TVB, 0
  mv s3, a0
  SUM TVA, 0
  mv s4, a0
  ecall
2:
  CHK_CAUSE CAUSE_ECALL_S
  CHECK s1, ITERS / 2 * (1 + 4)
  CHECK s2, ITERS / 2 * (1 + 4)
  CHECK s3, ITERS * 4
  CHECK s4, ITERS

  TCASE "a page read outside the loop in between"
  ENTER PRV_S, 1f, 2f
1:
  csrw satp, s9
  SUM TVA, 0
  mv s1, a0
  li t0, TVB
  ld s2, 8(t0)              /* TVB's translation where TVA's was */
  SUM TVA, 0
  mv s3, a0
  SUM TVB, 0
  mv s4, a0
  ecall
2:
  CHK_CAUSE CAUSE_ECALL_S
  CHECK s1, ITERS
  CHECK s2, 4
  CHECK s3, ITERS
  CHECK s4, ITERS * 4

  TCASE "a loop reads the new page after a remap and SFENCE.VMA"
  ENTER PRV_S, 1f, 2f
1:
  csrw satp, s9
  SUM TVA, 0
  mv s1, a0
  la s7, tpage3
  PTE_SET pte_tva, s7
  li t0, TVA
  sfence.vma t0, zero
  SUM TVA, 0
  mv s2, a0
  SUM TVA, 0x200000
  mv s3, a0
  la s7, tpage0
  PTE_SET pte_tva, s7
  sfence.vma
  SUM TVA, 0
  mv s4, a0
  ecall
2:
  CHK_CAUSE CAUSE_ECALL_S
  CHECK s1, ITERS
  CHECK s2, ITERS * 8
  CHECK s3, ITERS / 2 * (8 + 4)
  CHECK s4, ITERS

  TCASE "a loop's stores land in the page mapped"
  ENTER PRV_S, 1f, 2f
1:
  csrw satp, s9
  li a0, TVA
  li a1, ITERS
  li a2, 0x1000
  li a3, 16
  call store_loop
  li a0, TVA
  li a1, ITERS
  li a2, 0x1000
  li a3, 16
  call store_loop
  SUM TVA, 0x1000
  mv s1, a0
  li a0, TVA
  li a1, ITERS
  li a2, 0
  li a3, 1
  call store_loop
  li a0, TVA + 0x1000
  li a1, ITERS
  li a2, 0
  li a3, 2
  call store_loop
  SUM TVA, 0x1000
  mv s2, a0
  ecall
2:
  CHK_CAUSE CAUSE_ECALL_S
  CHECK s1, ITERS * 16
  CHECK s2, ITERS / 2 * (1 + 2)
  la t0, tpage1
  ld t1, 0(t0)
  CHECK t1, 2
  ld t1, 8(t0)
  CHECK t1, 2

  TCASE "a loop's stores alternate two pages that share a TLB entry"
  ENTER PRV_S, 1f, 2f
1:
  csrw satp, s9
  li a0, TVA
  li a1, ITERS
  li a2, 0x200000
  li a3, 64
  call store_loop
  SUM TVA, 0x200000
  mv s1, a0
  li a0, TVA
  li a1, ITERS
  li a2, 0
  li a3, 1
  call store_loop
  li a0, TVB
  li a1, ITERS
  li a2, 0
  li a3, 4
  call store_loop
  SUM TVA, 0x200000
  mv s2, a0
  ecall
2:
  CHK_CAUSE CAUSE_ECALL_S
  CHECK s1, ITERS * 64
  CHECK s2, ITERS / 2 * (1 + 4)
  la t0, tpage2
  ld t1, 8(t0)
  CHECK t1, 4

  TCASE "a loop's store faults once the page is read-only"
  ENTER PRV_S, 1f, 2f
1:
  csrw satp, s9
  li a0, TVA
  li a1, ITERS
  li a2, 0
  li a3, 1
  call store_loop
  PTE_CLEAR pte_tva, PTE_W
  li t0, TVA
  sfence.vma t0, zero
  li a0, TVA
  li a1, ITERS
  li a2, 0
  li a3, 32
  call store_loop
  ecall
2:
  CHK_CAUSE CAUSE_STORE_PAGE
  CHK_EPC store_insn
  CHK_TVAL TVA
  PTE_ADD pte_tva, PTE_W
  la t0, tpage0
  ld t1, 0(t0)
  CHECK t1, 1

  TCASE "accesses through one base register cross into the next page"
  ENTER PRV_S, 1f, 2f
1:
  csrw satp, s9
  li a0, TVA + 0xff8        /* 0(a0) in tpage0, 8(a0) and 16(a0) in tpage1 */
  li a1, ITERS
  li a2, -0xff8 + 0x100     /* odd iterations: all three in tpage0 */
  call group_loop
  mv s1, a0
  li a0, TVA + 0xff8
  li a1, ITERS
  li a2, 0x200000 - 0xff8   /* odd iterations: all three in tpage2 */
  call group_loop
  mv s2, a0
  li a0, TVA + 0xff8
  li a1, ITERS
  li a2, -0xff8 + 0x100
  call group_calls
  mv s3, a0
  ecall
2:
  CHK_CAUSE CAUSE_ECALL_S
  CHECK s1, ITERS / 2 * (1 + 2 + 2 + 3)
  CHECK s2, ITERS / 2 * (1 + 2 + 2 + 12)
  CHECK s3, ITERS / 2 * (1 + 2 + 2 + 3)

  TCASE "a loop faults in its second iteration, after a load wrote a register"
  la t0, tpage1 + 0xff8
  li t1, 77
  sd t1, 0(t0)              /* what the loop's first iteration loads into a3 */
  ENTER PRV_S, 1f, 2f
1:
  csrw satp, s9
  li a0, TVA + 0x1ff0       /* the loop's block (from 1:) faults in its second iteration */
  li a1, TVA + 0x1000
  call fault_loop
  ecall
2:
  CHK_CAUSE CAUSE_LOAD_PAGE
  CHK_EPC fault_insn
  CHK_TVAL TVA + 0x2000
  CHECK a2, 2               /* the loop's first iteration's loads */
  CHECK a3, 77
  CHECK a0, TVA + 0x2000

  csrw satp, zero
  sfence.vma
  PASS

/* fault_loop: a0 = address, a1 = another; loads from a0 upwards, 8 bytes a
 * step (into a3), and from a1 (into a2) each iteration, until a load
 * faults (the M-mode handler clobbers t0-t3). */
fault_loop:
  li a2, 0
  li a3, 0
1:
fault_insn:
  ld a3, 0(a0)
  ld a2, 0(a1)
  addi a0, a0, 8
  j 1b

/* SUM3: t3 += the words at 0, 8 and 16 from t1 (clobbers t2, t5, t6) */
.macro SUM3
  ld t2, 0(t1)
  ld t5, 8(t1)
  ld t6, 16(t1)
  add t3, t3, t2
  add t3, t3, t5
  add t3, t3, t6
.endm

/* group_loop: a0 = base, a1 = iterations, a2 = the offset added in odd
 * iterations; returns in a0 the sum of the words at 0, 8 and 16 from the
 * base of each iteration. The three loads share their base register: the
 * second and third start from the first one's TLB entry (page groups). */
group_loop:
  li t3, 0
  li t4, 0
1:
  andi t1, t4, 1
  mul t1, t1, a2
  add t1, t1, a0
  SUM3
  addi t4, t4, 1
  bne t4, a1, 1b
  mv a0, t3
  ret

/* group_calls: the same sum, the loads in a function called each
 * iteration (a block that is not a loop) */
group_calls:
  addi sp, sp, -16
  sd ra, 0(sp)
  li t3, 0
  li t4, 0
1:
  andi t1, t4, 1
  mul t1, t1, a2
  add t1, t1, a0
  call group_sum
  addi t4, t4, 1
  bne t4, a1, 1b
  mv a0, t3
  ld ra, 0(sp)
  addi sp, sp, 16
  ret
group_sum:
  SUM3
  ret

/* sum_loop: a0 = base, a1 = iterations, a2 = the alternate page's offset;
 * returns the sum in a0. One block that branches to itself; the load's
 * address is computed each iteration (not a stride). */
sum_loop:
  li t3, 0
  li t4, 0
1:
  andi t1, t4, 1
  mul t1, t1, a2
  add t1, t1, a0
  slli t2, t4, 3
  andi t2, t2, 0x7f8
  add t1, t1, t2
  ld t2, 0(t1)
  add t3, t3, t2
  addi t4, t4, 1
  bne t4, a1, 1b
  mv a0, t3
  ret

/* store_loop: a0 = base, a1 = iterations, a2 = the alternate page's
 * offset, a3 = the value stored; the same shape as sum_loop. */
store_loop:
  li t4, 0
1:
  andi t1, t4, 1
  mul t1, t1, a2
  add t1, t1, a0
  slli t2, t4, 3
  andi t2, t2, 0x7f8
  add t1, t1, t2
store_insn:
  sd a3, 0(t1)
  addi t4, t4, 1
  bne t4, a1, 1b
  ret

  .data
  .balign 8
pte_tva: .dword 0
  .bss
  .balign 4096
  .globl tpages
tpages:
tpage0: .skip 4096
tpage2: .skip 4096
tpage1: .skip 4096
tpage3: .skip 4096
