/*
 * pmp.S - physical memory protection (privileged 1.12, 3.7), configured the
 * way firmware does: a few protected regions first, then one NAPOT entry
 * that opens the rest of memory to S and U.
 *   entry 0  NAPOT 4 KiB  page A   no access
 *   entry 1  NAPOT 4 KiB  page B   R
 *   entry 2  OFF          (TOR base = page C)
 *   entry 3  TOR          C .. C + 8 KiB   RW (no X)
 *   entry 4  NAPOT        everything       RWX
 * S/U accesses that fail raise access faults (1/5/7, mtval = address);
 * M-mode is unaffected until an entry is locked (L).
 */
#include "test.h"

#define CFG_R 0x01
#define CFG_W 0x02
#define CFG_X 0x04
#define CFG_TOR 0x08
#define CFG_NAPOT 0x18
#define CFG_L 0x80
#define LI_A0_42 0x02a00513
#define RET 0x00008067

.macro AF cause, reg, insn:vararg
  ARM_TRAP .Lr\@
  \insn
  NOTRAP
.Lr\@:
  CHK_CAUSE \cause
  CHK_TVAL_REG \reg
.endm

  .text
  .globl test_main
test_main:
  li a7, 0
  /* data and code in the protected pages */
  la s2, pageA
  li t0, 0xaaaa
  sd t0, 0(s2)
  la s3, pageB
  li t0, 0xbbbb
  sd t0, 0(s3)
  la s4, pageC
  li t0, LI_A0_42 | (RET << 32)
  sd t0, 0(s4)
  li t0, 0xcccc
  sd t0, 8(s4)
  la s5, pageD
  li t0, LI_A0_42 | (RET << 32)
  sd t0, 0(s5)
  fence.i

  TCASE "program PMP"
  srli t0, s2, 2
  ori t0, t0, (4096 / 8) - 1
  csrw pmpaddr0, t0
  srli t0, s3, 2
  ori t0, t0, (4096 / 8) - 1
  csrw pmpaddr1, t0
  srli t0, s4, 2
  csrw pmpaddr2, t0
  li t1, 8192
  add t0, s4, t1
  srli t0, t0, 2
  csrw pmpaddr3, t0
  li t0, -1
  csrw pmpaddr4, t0
  li t0, CFG_NAPOT | (CFG_NAPOT | CFG_R) << 8 | (CFG_TOR | CFG_R | CFG_W) << 24 | (CFG_NAPOT | CFG_R | CFG_W | CFG_X) << 32
  csrw pmpcfg0, t0
  sfence.vma
  csrr a0, pmpcfg0
  CHECKR a0, t0
  csrr a0, pmpaddr0
  srli t0, s2, 2
  ori t0, t0, (4096 / 8) - 1
  CHECKR a0, t0

  TCASE "M-mode ignores unlocked entries"
  ld a0, 0(s2)
  CHECK a0, 0xaaaa
  sd a0, 8(s2)
  sd a0, 16(s3)

  TCASE "S: no-access page"
  ENTER PRV_S, 1f, 2f
1:
  AF CAUSE_LOAD_ACCESS, s2, ld a0, 0(s2)
  AF CAUSE_STORE_ACCESS, s2, sd a0, 0(s2)
  addi s6, s2, 0x7f8
  AF CAUSE_LOAD_ACCESS, s6, ld a0, 0x7f8(s2)
  AF CAUSE_FETCH_ACCESS, s2, jalr ra, 0(s2)
  ecall
2:
  CHK_CAUSE CAUSE_ECALL_S
  TCASE "S: read-only page"
  ENTER PRV_S, 1f, 2f
1:
  ld s1, 0(s3)
  addi s6, s3, 24
  AF CAUSE_STORE_ACCESS, s6, sd a0, 24(s3)
  AF CAUSE_STORE_ACCESS, s3, amoswap.d a0, a0, (s3)
  ecall
2:
  CHK_CAUSE CAUSE_ECALL_S
  CHECK s1, 0xbbbb
  TCASE "S: TOR region read/write, no execute"
  ENTER PRV_S, 1f, 2f
1:
  ld s1, 8(s4)
  li t0, 0x1234
  li t1, 4096
  add t1, t1, s4
  sd t0, 0(t1)              /* second page of the TOR range */
  AF CAUSE_FETCH_ACCESS, s4, jalr ra, 0(s4)
  ecall
2:
  CHK_CAUSE CAUSE_ECALL_S
  CHECK s1, 0xcccc
  TCASE "S: just above the TOR range (entry 4, RWX)"
  ENTER PRV_S, 1f, 2f
1:
  li a0, 0
  jalr ra, 0(s5)
  mv s1, a0
  ecall
2:
  CHK_CAUSE CAUSE_ECALL_S
  CHECK s1, 42
  TCASE "U: no-access and read-only pages"
  ENTER PRV_U, 1f, 2f
1:
  AF CAUSE_LOAD_ACCESS, s2, lw a0, 0(s2)
  ld s1, 0(s3)
  AF CAUSE_STORE_ACCESS, s3, sb a0, 0(s3)
  ecall
2:
  CHK_CAUSE CAUSE_ECALL_U
  CHECK s1, 0xbbbb
  TCASE "S: the dword just below page A is allowed"
  ENTER PRV_S, 1f, 2f
1:
  addi s6, s2, -8            /* last dword before page A: allowed */
  ld a0, 0(s6)
  ecall
2:
  CHK_CAUSE CAUSE_ECALL_S

  /* ---- locking ---- */
  TCASE "locked entry applies to M"
  li t0, CFG_L
  csrs pmpcfg0, t0          /* entry 0: NAPOT, no access, locked */
  sfence.vma
  AF CAUSE_LOAD_ACCESS, s2, ld a0, 0(s2)
  AF CAUSE_STORE_ACCESS, s2, sd a0, 0(s2)
  TCASE "locked entry ignores writes"
  csrr s1, pmpaddr0
  csrw pmpaddr0, zero
  csrr a0, pmpaddr0
  CHECKR a0, s1
  li t0, 0xff
  csrc pmpcfg0, t0
  csrr a0, pmpcfg0
  andi a0, a0, 0xff
  CHECK a0, CFG_L | CFG_NAPOT
  TCASE "unlocked entries stay writable"
  li t0, CFG_W << 8
  csrs pmpcfg0, t0          /* entry 1: now RW */
  csrr a0, pmpcfg0
  srli a0, a0, 8
  andi a0, a0, 0xff
  CHECK a0, CFG_NAPOT | CFG_R | CFG_W
  TCASE "M still reaches other memory"
  ld a0, 0(s3)
  CHECK a0, 0xbbbb
  PASS

  .bss
  .balign 8192
pageA: .skip 4096
pageB: .skip 4096
pageC: .skip 8192
pageD: .skip 4096
