# Never finishes: kumo-vmm --max-insns must stop it with status 124.
    .section .text.init, "ax"
    .globl _start
_start:
    addi    t0, t0, 1
    j       _start
    .section .tohost, "aw"
    .align  6
    .globl  tohost
tohost:   .dword 0
