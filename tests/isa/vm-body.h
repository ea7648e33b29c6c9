/*
 * vm-body.h - the virtual-memory program, shared by vm-sv39.S, vm-sv48.S and
 * vm-sv57.S, which define before including it:
 *   VM_LEVELS   3, 4 or 5
 *   VM_MODE     satp.MODE: 8 (Sv39), 9 (Sv48), 10 (Sv57)
 *   HIGH_VA     a canonical VA needing all VPN levels (positive half)
 *   NEG_VA      a canonical VA in the negative half
 *   NONCANON_VA a VA whose upper bits are not a sign extension
 *
 * Address map built in M-mode (privileged 1.12, 4.3-4.6):
 *   0x80000000 + 4 MiB  identity, 2 MiB leaves, RWX, S only (code, data,
 *                       stack, page tables)
 *   + UOFF              alias of the same 4 MiB with U = 1 (U-mode code)
 *   TVA + n * 4 KiB     4 KiB test pages with various permissions
 *   MVA                 2 MiB superpage -> 0x80400000; MVA + 2 MiB is a
 *                       misaligned superpage
 *   GVA                 1 GiB superpage -> 0x80000000
 * Page faults are not delegated: they reach the M handler (crt.S).
 */
#include "test.h"
#include "vm.h"

#define UOFF 0x40000000
#define TVA  0x100000000
#define MVA  0x200000000
#define GVA  0x300000000
#define SUPER_PA 0x80400000

#define MAGIC0 0x1111222233334444
#define MAGIC1 0x5555666677778888
#define MAGIC2 0x99990000aaaabbbb

#define LI_A0_42 0x02a00513     /* addi a0, zero, 42 */
#define RET      0x00008067     /* jalr zero, 0(ra) */

/* MAP va, pa, flags, level */
.macro MAP va, pa, flags, level
  li a0, \va
  la a1, \pa
  li a2, \flags
  li a3, \level
  call pt_map
.endm
.macro MAPI va, pa, flags, level
  li a0, \va
  li a1, \pa
  li a2, \flags
  li a3, \level
  call pt_map
.endm
/* ENTER_U entry, resume: like ENTER PRV_U, at entry's U alias. */
.macro ENTER_U entry, resume
  la t6, trap_info
  la t5, \resume
  sd t5, TI_EXIT(t6)
  li t5, MSTATUS_MPP
  csrc mstatus, t5
  la t5, \entry
  li t6, UOFF
  add t5, t5, t6
  csrw mepc, t5
  mret
.endm
/* PF cause, va, insn...: insn must page-fault with cause and tval = va. */
.macro PF cause, va, insn:vararg
  ARM_TRAP .Lr\@
  \insn
  NOTRAP
.Lr\@:
  CHK_CAUSE \cause
  CHK_TVAL \va
.endm

  .text
  .globl test_main
test_main:
  li a7, 0
  /* ---- data in the physical test pages ---- */
  la s0, tpages
  li t0, MAGIC0
  sd t0, 0(s0)              /* tpage0 */
  li t0, MAGIC1
  li t1, 4096
  add t1, t1, s0
  sd t0, 0(t1)              /* tpage1 */
  li t0, LI_A0_42 | (RET << 32)
  li t1, 2 * 4096
  add t1, t1, s0
  sd t0, 0(t1)              /* tpage2: code */
  fence.i
  li t0, MAGIC2
  li t1, SUPER_PA + 0x1238
  sd t0, 0(t1)

  /* ---- page tables ---- */
  li a0, VM_LEVELS
  call pt_init
  mv s11, a0                /* root PA */
  MAPI 0x80000000, 0x80000000, PTE_V | PTE_RWX | PTE_AD, 1
  MAPI 0x80200000, 0x80200000, PTE_V | PTE_RWX | PTE_AD, 1
  MAPI 0x80000000 + UOFF, 0x80000000, PTE_V | PTE_RWX | PTE_U | PTE_AD, 1
  MAPI 0x80200000 + UOFF, 0x80200000, PTE_V | PTE_RWX | PTE_U | PTE_AD, 1
  MAP TVA + 0x0000, tpage0, PTE_V | PTE_R | PTE_W | PTE_AD, 0
  MAP TVA + 0x1000, tpage0, PTE_V | PTE_R | PTE_A, 0
  MAP TVA + 0x2000, tpage2, PTE_V | PTE_X | PTE_A, 0
  MAP TVA + 0x3000, tpage0, PTE_V | PTE_R | PTE_W | PTE_U | PTE_AD, 0
  MAP TVA + 0x4000, tpage0, PTE_R | PTE_W | PTE_AD, 0          /* V = 0 */
  MAP TVA + 0x5000, tpage0, PTE_V | PTE_W | PTE_AD, 0          /* W without R */
  MAP TVA + 0x6000, tpage3, PTE_V | PTE_R | PTE_W, 0           /* A = D = 0 */
  la t0, pte_ad
  sd a0, 0(t0)
  MAP TVA + 0x7000, tpage0, PTE_V | PTE_R | PTE_W | PTE_AD, 0
  la t0, pte_sfence
  sd a0, 0(t0)
  MAP TVA + 0x8000, tpage2, PTE_V | PTE_R | PTE_X | PTE_U | PTE_A, 0
  MAP TVA + 0x9000, tpage0, PTE_V | PTE_R | PTE_W | PTE_X | PTE_AD, 0
  MAP TVA + 0xa000, tpage0, PTE_V | PTE_R | PTE_W | PTE_A, 0    /* D = 0 */
  la t0, pte_d
  sd a0, 0(t0)
  MAPI MVA, SUPER_PA, PTE_V | PTE_R | PTE_W | PTE_AD, 1
  MAPI MVA + 0x200000, SUPER_PA + 0x1000, PTE_V | PTE_R | PTE_W | PTE_AD, 1
  MAPI GVA, 0x80000000, PTE_V | PTE_R | PTE_W | PTE_AD, 2
  MAP HIGH_VA, tpage1, PTE_V | PTE_R | PTE_AD, 0
  MAP NEG_VA, tpage1, PTE_V | PTE_R | PTE_AD, 0

  TCASE "satp: reserved MODE write is ignored"
  csrw satp, zero
  li t0, (7 << 60) | 0x1234
  csrw satp, t0
  csrr a0, satp
  CHECK a0, 0
  TCASE "satp: MODE and PPN read back"
  li t0, VM_MODE
  slli t0, t0, 60
  srli t1, s11, 12
  or s10, t0, t1            /* s10 = satp value */
  csrw satp, s10
  sfence.vma
  csrr a0, satp
  CHECKR a0, s10

  /* ---- S-mode translation ---- */
  TCASE "S load/store through a 4 KiB page"
  ENTER PRV_S, 1f, 2f
1:
  li s0, TVA
  ld s1, 0(s0)
  li t0, 0x42
  sd t0, 8(s0)
  ecall
2:
  CHECK s1, MAGIC0
  la t0, tpage0
  ld a0, 8(t0)
  CHECK a0, 0x42
  TCASE "S runs at identity VA, M unaffected by satp"
  la t0, tpage0
  ld a0, 0(t0)
  CHECK a0, MAGIC0
  TCASE "two VAs, one PA"
  ENTER PRV_S, 1f, 2f
1:
  li s0, TVA
  li t0, 0x77
  sd t0, 16(s0)
  li s1, TVA + 0x1000
  ld s2, 16(s1)
  ecall
2:
  CHECK s2, 0x77
  TCASE "store to read-only page: 15"
  ENTER PRV_S, 1f, 2f
1:
  li s0, TVA + 0x1000
  PF CAUSE_STORE_PAGE, TVA + 0x1008, sd zero, 8(s0)
  ecall
2:
  CHK_CAUSE CAUSE_ECALL_S
  la t0, tpage0
  ld a0, 8(t0)
  CHECK a0, 0x42            /* not written */
  TCASE "amoadd to read-only page: 15"
  ENTER PRV_S, 1f, 2f
1:
  li s0, TVA + 0x1000
  PF CAUSE_STORE_PAGE, TVA + 0x1000, amoadd.d a0, a0, (s0)
  ecall
2:
  CHK_CAUSE CAUSE_ECALL_S
  TCASE "load from execute-only page: 13"
  ENTER PRV_S, 1f, 2f
1:
  li s0, TVA + 0x2000
  PF CAUSE_LOAD_PAGE, TVA + 0x2004, lw a0, 4(s0)
  ecall
2:
  CHK_CAUSE CAUSE_ECALL_S
  TCASE "MXR: load from execute-only page"
  ENTER PRV_S, 1f, 2f
1:
  li t0, MSTATUS_MXR
  csrs sstatus, t0
  li s0, TVA + 0x2000
  lwu s1, 0(s0)
  li t0, MSTATUS_MXR
  csrc sstatus, t0
  ecall
2:
  CHECK s1, LI_A0_42
  TCASE "fetch from execute-only page"
  ENTER PRV_S, 1f, 2f
1:
  li s0, TVA + 0x2000
  li a0, 0
  jalr ra, 0(s0)
  mv s1, a0
  ecall
2:
  CHECK s1, 42
  TCASE "fetch from non-executable page: 12"
  ENTER PRV_S, 1f, 2f
1:
  li s0, TVA + 0x0000
  PF CAUSE_FETCH_PAGE, TVA, jalr ra, 0(s0)
  CHK_INFO TI_EPC, TVA
  ecall
2:
  CHK_CAUSE CAUSE_ECALL_S

  /* ---- U pages and SUM ---- */
  TCASE "S load from U page without SUM: 13"
  ENTER PRV_S, 1f, 2f
1:
  li s0, TVA + 0x3000
  PF CAUSE_LOAD_PAGE, TVA + 0x3000, ld a0, 0(s0)
  PF CAUSE_STORE_PAGE, TVA + 0x3010, sd a0, 16(s0)
  ecall
2:
  CHK_CAUSE CAUSE_ECALL_S
  TCASE "S load/store U page with SUM"
  ENTER PRV_S, 1f, 2f
1:
  li t0, MSTATUS_SUM
  csrs sstatus, t0
  li s0, TVA + 0x3000
  ld s1, 0(s0)
  sd s1, 24(s0)
  ecall
2:
  CHECK s1, MAGIC0
  TCASE "S fetch from U page faults even with SUM"
  ENTER PRV_S, 1f, 2f
1:
  li s0, TVA + 0x8000
  PF CAUSE_FETCH_PAGE, TVA + 0x8000, jalr ra, 0(s0)
  li t0, MSTATUS_SUM
  csrc sstatus, t0
  ecall
2:
  CHK_CAUSE CAUSE_ECALL_S

  /* ---- U mode ---- */
  TCASE "U load/store U page"
  ENTER_U 1f, 2f
1:
  li s0, TVA + 0x3000
  ld s1, 0(s0)
  li t0, 0x99
  sd t0, 32(s0)
  ecall
2:
  CHK_CAUSE CAUSE_ECALL_U
  CHECK s1, MAGIC0
  la t0, tpage0
  ld a0, 32(t0)
  CHECK a0, 0x99
  TCASE "U load from S page: 13"
  ENTER_U 1f, 2f
1:
  li s0, TVA
  PF CAUSE_LOAD_PAGE, TVA, ld a0, 0(s0)
  PF CAUSE_STORE_PAGE, TVA + 8, sd a0, 8(s0)
  ecall
2:
  CHK_CAUSE CAUSE_ECALL_U
  TCASE "U fetch from U page"
  ENTER_U 1f, 2f
1:
  li s0, TVA + 0x8000
  li a0, 0
  jalr ra, 0(s0)
  mv s1, a0
  ecall
2:
  CHK_CAUSE CAUSE_ECALL_U
  CHECK s1, 42
  TCASE "U fetch from S page: 12"
  ENTER_U 1f, 2f
1:
  li s0, TVA + 0x2000
  PF CAUSE_FETCH_PAGE, TVA + 0x2000, jalr ra, 0(s0)
  ecall
2:
  CHK_CAUSE CAUSE_ECALL_U
  TCASE "U fetch from S code (identity map): 12"
  ENTER_U 1f, 2f
1:
  la s0, test_main
  li t0, UOFF
  sub s0, s0, t0            /* identity VA of test_main */
  ARM_TRAP 3f
  jalr ra, 0(s0)
  NOTRAP
3:
  CHK_CAUSE CAUSE_FETCH_PAGE
  CHK_TVAL_REG s0
  ecall
2:
  CHK_CAUSE CAUSE_ECALL_U

  /* ---- invalid PTEs ---- */
  TCASE "V = 0: 13/15/12"
  ENTER PRV_S, 1f, 2f
1:
  li s0, TVA + 0x4000
  PF CAUSE_LOAD_PAGE, TVA + 0x4000, ld a0, 0(s0)
  PF CAUSE_STORE_PAGE, TVA + 0x4000, sd a0, 0(s0)
  PF CAUSE_FETCH_PAGE, TVA + 0x4000, jalr ra, 0(s0)
  ecall
2:
  CHK_CAUSE CAUSE_ECALL_S
  TCASE "W without R is reserved: 13/15"
  ENTER PRV_S, 1f, 2f
1:
  li s0, TVA + 0x5000
  PF CAUSE_LOAD_PAGE, TVA + 0x5000, ld a0, 0(s0)
  PF CAUSE_STORE_PAGE, TVA + 0x5000, sd a0, 0(s0)
  ecall
2:
  CHK_CAUSE CAUSE_ECALL_S
  TCASE "unmapped VA: 13"
  ENTER PRV_S, 1f, 2f
1:
  li s0, TVA + 0x100000
  PF CAUSE_LOAD_PAGE, TVA + 0x100000, ld a0, 0(s0)
  ecall
2:
  CHK_CAUSE CAUSE_ECALL_S
  TCASE "non-canonical VA: page fault"
  ENTER PRV_S, 1f, 2f
1:
  li s0, NONCANON_VA
  PF CAUSE_LOAD_PAGE, NONCANON_VA, ld a0, 0(s0)
  PF CAUSE_STORE_PAGE, NONCANON_VA, sd a0, 0(s0)
  ecall
2:
  CHK_CAUSE CAUSE_ECALL_S

  /* ---- superpages and the full VA width ---- */
  TCASE "2 MiB superpage"
  ENTER PRV_S, 1f, 2f
1:
  li s0, MVA + 0x1238
  ld s1, 0(s0)
  ecall
2:
  CHECK s1, MAGIC2
  TCASE "1 GiB superpage"
  ENTER PRV_S, 1f, 2f
1:
  la s0, tpage0
  li t0, GVA - 0x80000000
  add s0, s0, t0
  ld s1, 0(s0)
  ecall
2:
  CHECK s1, MAGIC0
  TCASE "misaligned 2 MiB superpage: 13"
  ENTER PRV_S, 1f, 2f
1:
  li s0, MVA + 0x200000
  PF CAUSE_LOAD_PAGE, MVA + 0x200000, ld a0, 0(s0)
  ecall
2:
  CHK_CAUSE CAUSE_ECALL_S
  TCASE "high VA (every level used)"
  ENTER PRV_S, 1f, 2f
1:
  li s0, HIGH_VA
  ld s1, 0(s0)
  ecall
2:
  CHECK s1, MAGIC1
  TCASE "negative canonical VA"
  ENTER PRV_S, 1f, 2f
1:
  li s0, NEG_VA
  ld s1, 0(s0)
  ecall
2:
  CHECK s1, MAGIC1

  /* ---- A and D bits (hardware update) ---- */
  TCASE "load sets A, not D"
  ENTER PRV_S, 1f, 2f
1:
  li s0, TVA + 0x6000
  ld s1, 0(s0)
  ecall
2:
  CHK_CAUSE CAUSE_ECALL_S
  la t0, pte_ad
  ld t0, 0(t0)
  ld a0, 0(t0)
  andi a0, a0, PTE_A | PTE_D
  CHECK a0, PTE_A
  TCASE "store sets D"
  ENTER PRV_S, 1f, 2f
1:
  li s0, TVA + 0x6000
  sd zero, 0(s0)
  ecall
2:
  CHK_CAUSE CAUSE_ECALL_S
  la t0, pte_ad
  ld t0, 0(t0)
  ld a0, 0(t0)
  andi a0, a0, PTE_A | PTE_D
  CHECK a0, PTE_A | PTE_D
  TCASE "store to A=1 D=0 page sets D"
  ENTER PRV_S, 1f, 2f
1:
  li s0, TVA + 0xa000
  ld s1, 0(s0)              /* may cache a read-only translation */
  sd s1, 40(s0)
  ecall
2:
  CHK_CAUSE CAUSE_ECALL_S
  la t0, pte_d
  ld t0, 0(t0)
  ld a0, 0(t0)
  andi a0, a0, PTE_D
  CHECK a0, PTE_D

  /* ---- sfence.vma ---- */
  TCASE "sfence.vma after changing a PTE"
  ENTER PRV_S, 1f, 2f
1:
  li s0, TVA + 0x7000
  ld s1, 0(s0)
  la t0, pte_sfence         /* page tables are identity-mapped */
  ld t0, 0(t0)
  ld t1, 0(t0)
  la t2, tpage1
  srli t2, t2, 12
  slli t2, t2, 10
  andi t1, t1, 0x3ff
  or t1, t1, t2
  sd t1, 0(t0)
  sfence.vma s0, zero
  ld s2, 0(s0)
  ecall
2:
  CHECK s1, MAGIC0
  CHECK s2, MAGIC1
  TCASE "sfence.vma (global) after removing a PTE"
  ENTER PRV_S, 1f, 2f
1:
  li s0, TVA + 0x7000
  la t0, pte_sfence
  ld t0, 0(t0)
  sd zero, 0(t0)
  sfence.vma
  PF CAUSE_LOAD_PAGE, TVA + 0x7000, ld a0, 0(s0)
  ecall
2:
  CHK_CAUSE CAUSE_ECALL_S

  /* ---- MPRV in M-mode ---- */
  TCASE "MPRV, MPP = S: M loads translated"
  li t0, MSTATUS_MPP
  csrc mstatus, t0
  li t0, (PRV_S << 11) | MSTATUS_MPRV
  csrs mstatus, t0
  li s0, TVA + 0x9000
  ld s1, 0(s0)
  li t0, MSTATUS_MPRV
  csrc mstatus, t0
  CHECK s1, MAGIC0
  TCASE "MPRV, MPP = S: S page store"
  li t0, (PRV_S << 11) | MSTATUS_MPRV
  csrs mstatus, t0
  li t0, 0x5a
  sd t0, 48(s0)
  li t0, MSTATUS_MPRV
  csrc mstatus, t0
  la t0, tpage0
  ld a0, 48(t0)
  CHECK a0, 0x5a
  TCASE "MPRV, MPP = S, SUM = 0: U page faults"
  li s0, TVA + 0x3000
  ARM_TRAP 1f
  li t0, (PRV_S << 11) | MSTATUS_MPRV
  csrs mstatus, t0
  ld a0, 0(s0)
  li t0, MSTATUS_MPRV
  csrc mstatus, t0
  NOTRAP
1:
  li t0, MSTATUS_MPRV
  csrc mstatus, t0
  CHK_CAUSE CAUSE_LOAD_PAGE
  CHK_TVAL TVA + 0x3000
  CHK_FROM PRV_M
  TCASE "MPRV, MPP = U: U page ok"
  li t0, MSTATUS_MPP
  csrc mstatus, t0          /* MPP = U */
  li t0, MSTATUS_MPRV
  csrs mstatus, t0
  ld s1, 0(s0)
  li t0, MSTATUS_MPRV
  csrc mstatus, t0
  CHECK s1, MAGIC0
  TCASE "MPRV, MPP = U: S page faults"
  li s0, TVA + 0x9000
  ARM_TRAP 1f
  li t0, MSTATUS_MPP
  csrc mstatus, t0
  li t0, MSTATUS_MPRV
  csrs mstatus, t0
  ld a0, 0(s0)
  li t0, MSTATUS_MPRV
  csrc mstatus, t0
  NOTRAP
1:
  li t0, MSTATUS_MPRV
  csrc mstatus, t0
  CHK_CAUSE CAUSE_LOAD_PAGE
  CHK_TVAL TVA + 0x9000
  TCASE "MPRV, MPP = M: untranslated"
  li t0, MSTATUS_MPP | MSTATUS_MPRV
  csrs mstatus, t0
  la s0, tpage0
  ld s1, 0(s0)
  li t0, MSTATUS_MPRV
  csrc mstatus, t0
  CHECK s1, MAGIC0

  csrw satp, zero
  sfence.vma
  PASS

  .data
  .balign 8
pte_ad:     .dword 0
pte_sfence: .dword 0
pte_d:      .dword 0
  .bss
  .balign 4096
  .globl tpages
tpages:
tpage0: .skip 4096
tpage1: .skip 4096
tpage2: .skip 4096
tpage3: .skip 4096
