# Atomics across harts (kumo-vmm --elf atomics.elf --cpus 4): every hart
# runs the same loop N times: amoadd.w on one counter (its old value to
# a0), amoadd.d with rd = x0 on another, an LR/SC increment of a third,
# a spinlock made of amoswap.w.aq / amoswap.w.rl around a plain load, add
# and store of a fourth, and amoor.d / amoxor.d with rd = x0 on a word of
# bits (its own bit set once per iteration, and another toggled twice).
# The harts start together (a barrier) and count themselves done with
# amoadd.w. Hart 0 waits for all and checks
# every counter is NHARTS * N and the bits word holds exactly the harts'
# bits. The loop is hot, so the translator runs it (its inline AMOs), and
# the harts run at once on host threads. Pass: tohost = 1; failure n:
# (n << 1) | 1.
    .equ N, 200000
    .section .text.init, "ax"
    .globl _start
_start:
    csrr    s11, mhartid
    la      s0, counters
    li      s1, N
    li      s2, 1
    sll     s2, s2, s11             # this hart's bit
    slli    s3, s2, 32              # the bit it toggles twice
    li      s4, 1
    addi    s5, s0, 8
    addi    s6, s0, 16
    addi    s7, s0, 24              # the plain counter, under the lock at 32
    addi    s8, s0, 32
    addi    s9, s0, 40
    addi    s10, s0, 48
    # start together: count in at 56, wait for every hart
    addi    t1, s0, 56
    amoadd.w zero, s4, (t1)
    la      t2, nharts
    lw      t2, 0(t2)
0:  lw      t0, 0(t1)
    bne     t0, t2, 0b
1:  # amoadd.w with the old value: it must be below NHARTS * N
    amoadd.w a0, s4, (s0)
    # amoadd.d, result unused
    amoadd.d zero, s4, (s5)
    # LR/SC increment
2:  lr.d    t0, (s6)
    addi    t0, t0, 1
    sc.d    t1, t0, (s6)
    bnez    t1, 2b
    # spinlock around a plain read-modify-write
3:  amoswap.w.aq t0, s4, (s8)
    bnez    t0, 3b
    ld      t0, 0(s7)
    addi    t0, t0, 1
    sd      t0, 0(s7)
    amoswap.w.rl zero, zero, (s8)
    # bits: set ours, toggle the other twice
    amoor.d zero, s2, (s9)
    amoxor.d zero, s3, (s9)
    amoxor.d zero, s3, (s9)
    addi    s1, s1, -1
    bnez    s1, 1b
    # done
    amoadd.w zero, s4, (s10)
    bnez    s11, park
    # hart 0: wait for every hart, then check
    la      t1, nharts
    lw      t2, 0(t1)
4:  lw      t0, 48(s0)
    bne     t0, t2, 4b
    fence
    li      t3, N
    mul     t3, t3, t2              # NHARTS * N
    lwu     t0, 0(s0)
    li      a0, (1 << 1) | 1        # test 1: amoadd.w lost an addition
    bne     t0, t3, report
    ld      t0, 8(s0)
    li      a0, (2 << 1) | 1        # test 2: amoadd.d (rd = x0) lost one
    bne     t0, t3, report
    ld      t0, 16(s0)
    li      a0, (3 << 1) | 1        # test 3: an SC succeeded that should not have
    bne     t0, t3, report
    ld      t0, 24(s0)
    li      a0, (4 << 1) | 1        # test 4: the amoswap spinlock let two in
    bne     t0, t3, report
    li      t4, 1
    sll     t4, t4, t2
    addi    t4, t4, -1              # (1 << NHARTS) - 1: the harts' bits, no toggled one
    ld      t0, 40(s0)
    li      a0, (5 << 1) | 1        # test 5: amoor.d / amoxor.d lost an update
    bne     t0, t4, report
    li      a0, 1
report:
    la      t1, tohost
    sd      a0, 0(t1)
5:  j       5b
park:
    wfi
    j       park

    # a page of their own: not the code's, not tohost's (a watched page,
    # whose stores all take the slow path)
    .section .data.counters, "aw"
    .align  12
counters:
    .dword 0, 0, 0, 0, 0, 0, 0, 0
nharts:
    .word 4
    .align  12

    .section .tohost, "aw"
    .align  6
    .globl  tohost
tohost:   .dword 0
    .align  6
    .globl  fromhost
fromhost: .dword 0
