# Reports "test 3 failed" through HTIF: kumo-vmm must exit with status 3.
    .section .text.init, "ax"
    .globl _start
_start:
    li      t0, (3 << 1) | 1
    la      t1, tohost
    sd      t0, 0(t1)
1:  j       1b
    .section .tohost, "aw"
    .align  6
    .globl  tohost
tohost:   .dword 0
    .align  6
    .globl  fromhost
fromhost: .dword 0
