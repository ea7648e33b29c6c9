# Cross-hart self-modifying code (kumo-vmm --elf smc.elf --cpus 2): hart 1
# calls a function f in a loop (hot: translated, chained); hart 0 rewrites
# f's first instruction from "li a0, 1" to "li a0, 2", then raises a flag.
# Hart 1, seeing the flag, executes FENCE.I and calls f once more: it must
# return 2. Hart 0 also wrote f's page before hart 1 first ran it, so the
# page's write-TLB entry on hart 0 predates the code. Pass: tohost = 1;
# failure n: (n << 1) | 1.
    .section .text.init, "ax"
    .globl _start
_start:
    csrr    t0, mhartid
    bnez    t0, worker
    # hart 0: put f in its page (a store before any hart decodes it)
    la      t1, f
    li      t2, 0x00100513          # addi a0, zero, 1
    sw      t2, 0(t1)
    li      t2, 0x00008067          # ret
    sw      t2, 4(t1)
    fence
    la      t1, go
    li      t2, 1
    sd      t2, 0(t1)
    # wait until hart 1 has called f many times
    la      t1, count
    li      t3, 20000
1:  ld      t2, 0(t1)
    bltu    t2, t3, 1b
    # rewrite f, then tell hart 1
    la      t1, f
    li      t2, 0x00200513          # addi a0, zero, 2
    sw      t2, 0(t1)
    fence   w, w
    la      t1, flag
    li      t2, 1
    sd      t2, 0(t1)
    # hart 1's answer
    la      t1, answer
2:  ld      t2, 0(t1)
    beqz    t2, 2b
    li      t3, 2
    li      t0, (1 << 1) | 1        # test 1: f still returned the old value
    bne     t2, t3, report
    la      t1, early
    ld      t2, 0(t1)
    li      t0, (2 << 1) | 1        # test 2: f returned something else before
    bnez    t2, report
    li      t0, 1
report:
    la      t1, tohost
    sd      t0, 0(t1)
3:  j       3b

worker:
    la      t1, go
4:  ld      t2, 0(t1)
    beqz    t2, 4b
    fence.i
    la      s0, count
    la      s1, flag
    la      s2, answer
loop:
    ld      s3, 0(s1)               # the flag, read before the call
    jal     f
    li      t0, 1
    beq     a0, t0, 5f
    li      t0, 2                   # after the rewrite, before FENCE.I: either
    beq     a0, t0, 5f
    la      t1, early
    sd      a0, 0(t1)
5:  bnez    s3, seen
    ld      t2, 0(s0)
    addi    t2, t2, 1
    sd      t2, 0(s0)
    j       loop
seen:
    fence.i
    jal     f
    sd      a0, 0(s2)
6:  wfi
    j       6b

    .data
    .align  3
go:     .dword 0
count:  .dword 0
flag:   .dword 0
answer: .dword 0
early:  .dword 0

    .section .data.f, "aw"
    .align  12
f:  .word 0, 0                      # written by hart 0
    .align  12

    .section .tohost, "aw"
    .align  6
    .globl  tohost
tohost:   .dword 0
    .align  6
    .globl  fromhost
fromhost: .dword 0
