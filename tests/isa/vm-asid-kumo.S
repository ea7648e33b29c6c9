/*
 * vm-asid-kumo.S - address-space identifiers and SFENCE.VMA by address and
 * by ASID (Sv39).
 *
 * kumo-vmm tags its TLB with satp: translations of an address space survive
 * a switch to another one and back, and SFENCE.VMA drops only what it
 * names. The cases marked (kumo) check that a stale translation is still
 * used where the privileged spec allows either outcome (QEMU 7.2 flushes
 * on every satp write, so it reads the new value there); every other case
 * checks what the spec requires of any implementation.
 *
 * Address map: 0x80000000 + 4 MiB identity (2 MiB leaves, RWX, S only);
 * TVA a 4 KiB page (tpage0 or tpage1); MVA a 2 MiB superpage.
 */
#include "test.h"
#include "vm.h"

#define TVA 0x100000000
#define MVA 0x200000000
#define SUPER_PA0 0x80400000
#define SUPER_PA1 0x80600000
#define MAGIC0 0x1111222233334444
#define MAGIC1 0x5555666677778888
#define SUPER0 0x0123456789abcdef
#define SUPER1 0xfedcba9876543210

  .text
  .globl test_main
test_main:
  la s0, tpages
  li t0, MAGIC0
  sd t0, 0(s0)
  li t0, MAGIC1
  li t1, 4096
  add t1, t1, s0
  sd t0, 0(t1)
  li t1, SUPER_PA0 + 0x5000
  li t0, SUPER0
  sd t0, 0(t1)
  li t1, SUPER_PA1 + 0x5000
  li t0, SUPER1
  sd t0, 0(t1)

  SV39_IDENTITY s11
  li a0, TVA
  la a1, tpage0
  li a2, PTE_V | PTE_R | PTE_W | PTE_AD
  li a3, 0
  call pt_map
  la t0, pte_tva
  sd a0, 0(t0)
  li a0, MVA
  li a1, SUPER_PA0
  li a2, PTE_V | PTE_R | PTE_W | PTE_AD
  li a3, 1
  call pt_map
  la t0, pte_mva
  sd a0, 0(t0)

  li t0, 8
  slli t0, t0, 60
  srli t1, s11, 12
  or t1, t0, t1
  li t2, 1
  slli t2, t2, 44
  or s9, t1, t2             /* s9 = satp, ASID 1 */
  slli t2, t2, 1
  or s10, t1, t2            /* s10 = satp, ASID 2 */

  TCASE "satp: ASID reads back"
  csrw satp, s10
  csrr a0, satp
  CHECKR a0, s10
  csrw satp, zero
  sfence.vma

  TCASE "ASIDs: a fenced ASID sees the new PTE, another keeps its own (kumo)"
  ENTER PRV_S, 1f, 2f
1:
  csrw satp, s9
  sfence.vma
  li s0, TVA
  ld s1, 0(s0)              /* ASID 1 caches TVA -> tpage0 */
  la s7, tpage1
  PTE_SET pte_tva, s7
  li t0, 2
  sfence.vma zero, t0       /* orders the PTE store for ASID 2 only */
  csrw satp, s10
  ld s2, 0(s0)              /* ASID 2: must walk, tpage1 */
  csrw satp, s9
  ld s3, 0(s0)              /* ASID 1: still tpage0 (kumo; the spec allows both) */
  li t0, 1
  sfence.vma s0, t0
  ld s4, 0(s0)              /* ASID 1, fenced: tpage1 */
  ecall
2:
  CHK_CAUSE CAUSE_ECALL_S
  CHECK s1, MAGIC0
  CHECK s2, MAGIC1
  CHECK s3, MAGIC0
  CHECK s4, MAGIC1

  TCASE "sfence.vma by address inside a superpage drops all of it"
  ENTER PRV_S, 1f, 2f
1:
  csrw satp, s9
  sfence.vma
  li s0, MVA
  li s5, MVA + 0x5000
  li s6, MVA + 0x1000
  ld t0, 0x100(s0)          /* cache two 4 KiB pieces of the superpage */
  ld s1, 0(s5)
  li s7, SUPER_PA1
  PTE_SET pte_mva, s7
  sfence.vma s6, zero       /* an address in another piece */
  ld s2, 0(s5)
  ecall
2:
  CHK_CAUSE CAUSE_ECALL_S
  CHECK s1, SUPER0
  CHECK s2, SUPER1

  TCASE "sfence.vma by address for every ASID"
  ENTER PRV_S, 1f, 2f
1:
  csrw satp, s9
  li s0, TVA
  ld s1, 0(s0)              /* tpage1 in ASID 1 */
  csrw satp, s10
  ld s2, 0(s0)              /* tpage1 in ASID 2 */
  la s7, tpage0
  PTE_SET pte_tva, s7
  sfence.vma s0, zero
  ld s3, 0(s0)              /* tpage0 in ASID 2 */
  csrw satp, s9
  ld s4, 0(s0)              /* tpage0 in ASID 1 */
  ecall
2:
  CHK_CAUSE CAUSE_ECALL_S
  CHECK s1, MAGIC1
  CHECK s2, MAGIC1
  CHECK s3, MAGIC0
  CHECK s4, MAGIC0

  TCASE "sfence.vma of another address leaves a translation (kumo)"
  ENTER PRV_S, 1f, 2f
1:
  csrw satp, s9
  li s0, TVA
  ld s1, 0(s0)              /* tpage0 */
  la s7, tpage1
  PTE_SET pte_tva, s7
  li t0, TVA + 0x1000
  sfence.vma t0, zero
  ld s2, 0(s0)              /* still tpage0 (kumo; the spec allows both) */
  sfence.vma zero, zero
  ld s3, 0(s0)              /* tpage1 */
  ecall
2:
  CHK_CAUSE CAUSE_ECALL_S
  CHECK s1, MAGIC0
  CHECK s2, MAGIC0
  CHECK s3, MAGIC1

  csrw satp, zero
  sfence.vma
  PASS

  .data
  .balign 8
pte_tva: .dword 0
pte_mva: .dword 0
  .bss
  .balign 4096
  .globl tpages
tpages:
tpage0: .skip 4096
tpage1: .skip 4096
