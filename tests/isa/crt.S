/*
 * crt.S - start-up, trap handlers, HTIF console and pass/fail reporting for
 * the kumo ISA conformance programs.  Linked into every program; the program
 * supplies `test_main` (entered in M-mode, gp = 0).  See test.h.
 *
 * Built with -DQEMU_VIRT (a developer aid, see README.md), the console is
 * the virt board's UART and pass/fail go to its sifive,test device, so that
 * programs needing rdtime/Sstc can be checked on `qemu-system-riscv64 -M
 * virt`, whose CLINT provides the time CSR.
 */
#include "test.h"

  .section .text.init, "ax", @progbits
  .globl _start
_start:
  /* Nothing is initialised: set up traps first. */
  la t0, trap_m
  csrw mtvec, t0
  la t0, m_save
  csrw mscratch, t0
  la sp, stack_top
  li gp, 0
  /* PMP: give S and U access to everything (entry 0, NAPOT over the whole
   * address space, RWX), as firmware would.  If PMP is absent the write
   * traps and the M handler skips nothing: use a private mtvec here. */
  la t0, 1f
  csrw mtvec, t0
  li t0, -1
  csrw pmpaddr0, t0
  li t0, 0x1f
  csrw pmpcfg0, t0
  .balign 4
1:
  la t0, trap_m
  csrw mtvec, t0
  csrw satp, zero
  sfence.vma
  csrw medeleg, zero
  csrw mideleg, zero
  csrw mie, zero
  csrw mip, zero
  csrw mstatus, zero
  la t0, strap_s
  csrw stvec, t0
  la t0, s_save
  csrw sscratch, t0
  call reset_traps
  j test_main

  .text
/* reset_traps: zero trap_info and strap_info.  Clobbers t5, t6. */
  .globl reset_traps
reset_traps:
  la t5, trap_info
  addi t6, t5, 2 * TI_SIZE
1:
  sd zero, 0(t5)
  addi t5, t5, 8
  bltu t5, t6, 1b
  ret

  .globl pass
pass:
#ifdef QEMU_VIRT
  li t0, 0x5555             /* sifive,test0: poweroff */
  li t1, 0x100000
  sw t0, 0(t1)
#endif
  li t0, 1
  la t1, tohost
  sd t0, 0(t1)
1:
  j 1b

/* fail: failure request from any mode; a6 = kind (test.h FAIL_*). */
  .globl fail
fail:
  li a7, FAIL_MAGIC
  ecall
1:
  j 1b

/* ------------------------------------------------------------------------
 * M-mode trap handler.
 */
  .balign 4
  .globl trap_m
trap_m:
  csrrw t0, mscratch, t0
  sd t1, 8(t0)
  sd t2, 16(t0)
  sd t3, 24(t0)
  csrr t1, mscratch
  sd t1, 0(t0)
  csrw mscratch, t0

  csrr t1, mcause
  /* A failure request (ecall with a7 = FAIL_MAGIC) from any mode. */
  li t2, FAIL_MAGIC
  bne a7, t2, 1f
  li t2, CAUSE_ECALL_U
  beq t1, t2, m_fail_request
  li t2, CAUSE_ECALL_S
  beq t1, t2, m_fail_request
  li t2, CAUSE_ECALL_M
  beq t1, t2, m_fail_request
1:
  la t2, trap_info
  sd t1, TI_CAUSE(t2)
  csrr t3, mepc
  sd t3, TI_EPC(t2)
  csrr t3, mtval
  sd t3, TI_TVAL(t2)
  csrr t3, mstatus
  sd t3, TI_STATUS(t2)
  ld t3, TI_COUNT(t2)
  andi t0, t3, 7
  slli t0, t0, 3
  add t0, t0, t2
  sd t1, TI_LOG(t0)
  addi t3, t3, 1
  sd t3, TI_COUNT(t2)
  bltz t1, m_irq
  ld t3, TI_RESUME(t2)
  beqz t3, 2f
  sd zero, TI_RESUME(t2)
  csrw mepc, t3
  j m_out
2:
  ld t3, TI_EXIT(t2)
  beqz t3, m_unexpected
  sd zero, TI_EXIT(t2)
  csrw mepc, t3
  li t3, MSTATUS_MPP
  csrs mstatus, t3
  j m_out
m_irq:
  /* Mask the interrupt that was taken, so it is not taken again. */
  andi t1, t1, 63
  li t3, 1
  sll t3, t3, t1
  csrc mie, t3
m_out:
  csrr t0, mscratch
  ld t1, 8(t0)
  ld t2, 16(t0)
  ld t3, 24(t0)
  ld t0, 0(t0)
  mret

m_unexpected:
  la a0, msg_unexpected
  jal ra, puts
  csrr a0, mcause
  jal ra, puthex
  la a0, msg_mepc
  jal ra, puts
  csrr a0, mepc
  jal ra, puthex
  la a0, msg_mtval
  jal ra, puts
  csrr a0, mtval
  jal ra, puthex
  li a0, '\n'
  jal a5, putc
  li a6, FAIL_PLAIN
  j m_report

m_fail_request:
  j m_report

/* Print "FAIL #n name [details]" and exit with test number gp. */
m_report:
  la a0, msg_fail
  jal ra, puts
  mv a0, gp
  jal ra, putdec
  li a0, ' '
  jal a5, putc
  /* Look the case name up in .testnames. */
  la s1, __testnames_start
  la s2, __testnames_end
1:
  bgeu s1, s2, 3f
  ld a0, 0(s1)
  beq a0, gp, 2f
  addi s1, s1, 16
  j 1b
2:
  ld a0, 8(s1)
  jal ra, puts
3:
  li a0, FAIL_VALUE
  bne a6, a0, 4f
  la a0, msg_got
  jal ra, puts
  mv a0, t5
  jal ra, puthex
  la a0, msg_exp
  jal ra, puts
  mv a0, t6
  jal ra, puthex
4:
  li a0, FAIL_STRAP
  bne a6, a0, 5f
  la a0, msg_strap
  jal ra, puts
  la s1, strap_info
  ld a0, TI_CAUSE(s1)
  jal ra, puthex
  la a0, msg_mepc
  jal ra, puts
  ld a0, TI_EPC(s1)
  jal ra, puthex
  la a0, msg_mtval
  jal ra, puts
  ld a0, TI_TVAL(s1)
  jal ra, puthex
5:
  li a0, FAIL_NOTRAP
  bne a6, a0, 6f
  la a0, msg_notrap
  jal ra, puts
6:
  li a0, '\n'
  jal a5, putc
  mv a0, gp
  bnez a0, 7f
  li a0, 1000       /* failure outside any case */
7:
#ifdef QEMU_VIRT
  slli a1, a0, 16           /* sifive,test0: fail with exit code */
  li a2, 0x3333
  or a1, a1, a2
  li a2, 0x100000
  sw a1, 0(a2)
#endif
  slli a0, a0, 1
  ori a0, a0, 1
  la a1, tohost
  sd a0, 0(a1)
8:
  j 8b

/* putc: a0 = byte; link in a5; clobbers a1, a2. */
putc:
#ifdef QEMU_VIRT
  li a2, 0x10000000         /* ns16550a THR */
  sb a0, 0(a2)
  jr a5
#endif
  la a2, tohost
1:
  ld a1, 0(a2)
  bnez a1, 1b
  andi a1, a0, 0xff
  li a2, 0x0101
  slli a2, a2, 48
  or a1, a1, a2
  la a2, tohost
  sd a1, 0(a2)
1:
  ld a1, 0(a2)
  bnez a1, 1b
  la a2, fromhost
  sd zero, 0(a2)
  jr a5

/* puts: a0 = NUL-terminated string; clobbers a0-a3, a5. */
puts:
  mv a3, a0
1:
  lbu a0, 0(a3)
  beqz a0, 2f
  jal a5, putc
  addi a3, a3, 1
  j 1b
2:
  ret

/* puthex: a0 = value, printed as 0x + 16 digits; clobbers a0-a5. */
puthex:
  mv a3, a0
  li a0, '0'
  jal a5, putc
  li a0, 'x'
  jal a5, putc
  li a4, 60
1:
  srl a0, a3, a4
  andi a0, a0, 15
  addi a0, a0, '0'
  li a1, '9'
  ble a0, a1, 2f
  addi a0, a0, 'a' - '0' - 10
2:
  jal a5, putc
  addi a4, a4, -4
  bgez a4, 1b
  ret

/* putdec: a0 = unsigned value; clobbers a0-a5. */
putdec:
  mv a3, a0
  li a4, 1
  li a1, 10
1:                      /* a4 = largest power of ten <= a3 */
  divu a0, a3, a4
  bltu a0, a1, 2f
  mul a4, a4, a1
  j 1b
2:
  divu a0, a3, a4
  remu a3, a3, a4
  addi a0, a0, '0'
  jal a5, putc
  li a1, 10
  divu a4, a4, a1
  bnez a4, 2b
  ret

/* ------------------------------------------------------------------------
 * S-mode trap handler (for delegated traps).
 */
  .balign 4
  .globl strap_s
strap_s:
  csrrw t0, sscratch, t0
  sd t1, 8(t0)
  sd t2, 16(t0)
  sd t3, 24(t0)
  csrr t1, sscratch
  sd t1, 0(t0)
  csrw sscratch, t0

  csrr t1, scause
  li t2, FAIL_MAGIC
  bne a7, t2, 1f
  li t2, CAUSE_ECALL_U
  bne t1, t2, 1f
  ecall                 /* forward the failure request to M */
1:
  la t2, strap_info
  sd t1, TI_CAUSE(t2)
  csrr t3, sepc
  sd t3, TI_EPC(t2)
  csrr t3, stval
  sd t3, TI_TVAL(t2)
  csrr t3, sstatus
  sd t3, TI_STATUS(t2)
  ld t3, TI_COUNT(t2)
  andi t0, t3, 7
  slli t0, t0, 3
  add t0, t0, t2
  sd t1, TI_LOG(t0)
  addi t3, t3, 1
  sd t3, TI_COUNT(t2)
  bltz t1, s_irq
  ld t3, TI_RESUME(t2)
  beqz t3, s_unexpected
  sd zero, TI_RESUME(t2)
  csrw sepc, t3
  j s_out
s_irq:
  andi t1, t1, 63
  li t3, 1
  sll t3, t3, t1
  csrc sie, t3
s_out:
  csrr t0, sscratch
  ld t1, 8(t0)
  ld t2, 16(t0)
  ld t3, 24(t0)
  ld t0, 0(t0)
  sret
s_unexpected:
  li a6, FAIL_STRAP
  j fail

  .section .rodata
msg_fail:       .asciz "FAIL #"
msg_got:        .asciz " got "
msg_exp:        .asciz " expected "
msg_unexpected: .asciz "unexpected trap mcause="
msg_mepc:       .asciz " epc="
msg_mtval:      .asciz " tval="
msg_strap:      .asciz " unexpected S trap scause="
msg_notrap:     .asciz " (expected trap not taken)"

  .data
  .balign 64
  .globl trap_info, strap_info
trap_info:  .skip TI_SIZE
strap_info: .skip TI_SIZE
  .balign 64
  .globl m_save, s_save
m_save:     .skip 64
s_save:     .skip 64

  /* HTIF mailbox, alone on its page. */
  .section .tohost, "aw", @progbits
  .balign 4096
  .globl tohost
tohost:     .dword 0
  .size tohost, 8
  .balign 64
  .globl fromhost
fromhost:   .dword 0
  .size fromhost, 8
  .balign 4096

  .bss
  .balign 4096
stack:      .skip 16384
  .globl stack_top
stack_top:
