# A guest that traps forever: mtvec points at an illegal instruction, so
# every trap traps again and no instruction ever retires. kumo-vmm must
# still reach its poll point: the CPU cap throttles it, signals stop it.
    .section .text.init, "ax"
    .globl _start
_start:
    la      t0, bad
    csrw    mtvec, t0
bad:
    .word   0                       # illegal: traps to itself
    .section .tohost, "aw"
    .align  6
    .globl  tohost
tohost:   .dword 0
