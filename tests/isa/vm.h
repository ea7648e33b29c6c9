/*
 * vm.h - page-table builder for the virtual-memory programs (included once,
 * in .text, by vm-body.h).  Page tables are built in M-mode in `pt_pool`.
 *
 *   pt_init        a0 = number of levels (3 Sv39, 4 Sv48, 5 Sv57); allocates
 *                  an empty root table.  Returns a0 = root PA.
 *   pt_map         a0 = VA, a1 = PA, a2 = PTE flags, a3 = leaf level (0 = 4 KiB,
 *                  1 = 2 MiB, 2 = 1 GiB); walks/allocates the tables and
 *                  writes the leaf.  Returns a0 = address of the leaf PTE.
 * Both clobber t0-t4, a4-a6 (and a0).
 */
#define PTE_V (1 << 0)
#define PTE_R (1 << 1)
#define PTE_W (1 << 2)
#define PTE_X (1 << 3)
#define PTE_U (1 << 4)
#define PTE_G (1 << 5)
#define PTE_A (1 << 6)
#define PTE_D (1 << 7)
#define PTE_RWX (PTE_R | PTE_W | PTE_X)
#define PTE_AD  (PTE_A | PTE_D)

#ifdef __ASSEMBLER__
  .text
/* pt_alloc: t2 = a zeroed 4 KiB page from pt_pool; link a6; clobbers t0, t1. */
pt_alloc:
  la t0, pt_next
  ld t2, 0(t0)
  li t1, 4096
  add t1, t1, t2
  sd t1, 0(t0)
  mv t0, t2
1:
  sd zero, 0(t0)
  addi t0, t0, 8
  bltu t0, t1, 1b
  jr a6

  .globl pt_init
pt_init:
  la t0, pt_levels
  sd a0, 0(t0)
  la t0, pt_next
  la t1, pt_pool
  sd t1, 0(t0)
  jal a6, pt_alloc
  la t0, pt_root
  sd t2, 0(t0)
  mv a0, t2
  ret

  .globl pt_map
pt_map:
  la t0, pt_root
  ld a4, 0(t0)
  la t0, pt_levels
  ld a5, 0(t0)
  addi a5, a5, -1
1:
  li t1, 9
  mul t1, t1, a5
  addi t1, t1, 12
  srl t2, a0, t1
  andi t2, t2, 511
  slli t2, t2, 3
  add t3, a4, t2            /* t3 = &table[idx] */
  beq a5, a3, 3f
  ld t4, 0(t3)
  andi t1, t4, PTE_V
  bnez t1, 2f
  jal a6, pt_alloc
  srli t4, t2, 12
  slli t4, t4, 10
  ori t4, t4, PTE_V
  sd t4, 0(t3)
2:
  srli t4, t4, 10
  slli a4, t4, 12
  addi a5, a5, -1
  j 1b
3:
  srli t4, a1, 12
  slli t4, t4, 10
  or t4, t4, a2
  sd t4, 0(t3)
  mv a0, t3
  ret

  .data
  .balign 8
pt_levels: .dword 0
pt_root:   .dword 0
pt_next:   .dword 0
  .bss
  .balign 4096
pt_pool:   .skip 64 * 4096
  .text

/* SV39_IDENTITY root: pt_init for Sv39 and 0x80000000 + 4 MiB mapped to
 * itself (two 2 MiB leaves, RWX, S only: code, data, the page tables);
 * root = the root table. Clobbers a0-a5, t0-t4, a6. */
.macro SV39_IDENTITY root
  li a0, 3
  call pt_init
  mv \root, a0
  li a0, 0x80000000
  li a1, 0x80000000
  li a2, PTE_V | PTE_RWX | PTE_AD
  li a3, 1
  call pt_map
  li a0, 0x80200000
  li a1, 0x80200000
  li a2, PTE_V | PTE_RWX | PTE_AD
  li a3, 1
  call pt_map
.endm

/* PTE_SET ptevar, reg: point the leaf PTE stored at ptevar to the PA in reg
 * (flags kept); clobbers t0-t2. */
.macro PTE_SET ptevar, reg
  la t0, \ptevar
  ld t0, 0(t0)
  ld t1, 0(t0)
  srli t2, \reg, 12
  slli t2, t2, 10
  andi t1, t1, 0x3ff
  or t1, t1, t2
  sd t1, 0(t0)
.endm
#endif
