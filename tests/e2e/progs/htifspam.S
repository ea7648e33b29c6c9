# A guest that asks HTIF for an unknown command 1000 times, then passes:
# kumo-vmm must keep running and log the complaint a bounded number of
# times (guest-triggered warnings are rate-limited).
    .section .text.init, "ax"
    .globl _start
_start:
    la      t0, tohost
    li      t1, 1000
    li      t2, 0x0200000000000000  # device 2, command 0: nothing there
1:  sd      t2, 0(t0)
    addi    t1, t1, -1
    bnez    t1, 1b
    li      t2, 1                   # pass
    sd      t2, 0(t0)
2:  j       2b
    .section .tohost, "aw"
    .align  6
    .globl  tohost
tohost:   .dword 0
    .globl  fromhost
fromhost: .dword 0
