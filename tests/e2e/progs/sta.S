# An S-mode program for kumo-vmm's built-in SBI (kumo-vmm --kernel sta.bin):
# checks the steal-time extension (STA) and reports what it measured.
#   1. STA is probed present; a misaligned or out-of-RAM shared memory is
#      refused (SBI_ERR_INVALID_PARAM, SBI_ERR_INVALID_ADDRESS);
#   2. it registers a 64-byte area, spins for about 2 s of the guest's time,
#      then prints "sta seq=S steal=N elapsed=T" (hex; steal in ns, elapsed
#      in 10 MHz time ticks) and shuts down. Failures print "sta fail N" and
#      shut down with the system-failure reason (exit status 1).
# Position independent: the kernel slot loads it at RAM + 2 MiB.
    .section .text.init, "ax"
    .globl _start
_start:
    la      sp, stack_hi
    # probe: BASE (0x10) function 3, extension "STA"
    li      a7, 0x10
    li      a6, 3
    li      a0, 0x535441
    ecall
    li      s1, 1
    bnez    a0, fail
    beqz    a1, fail
    # misaligned: SBI_ERR_INVALID_PARAM (-3)
    li      s1, 2
    la      a0, shmem
    addi    a0, a0, 8
    li      a1, 0
    li      a2, 0
    call    set_shmem
    li      t0, -3
    bne     a0, t0, fail
    # not RAM (the CLINT at 0x2000000): SBI_ERR_INVALID_ADDRESS (-5)
    li      s1, 3
    li      a0, 0x2000000
    li      a1, 0
    li      a2, 0
    call    set_shmem
    li      t0, -5
    bne     a0, t0, fail
    # flags must be 0
    li      s1, 4
    la      a0, shmem
    li      a1, 0
    li      a2, 1
    call    set_shmem
    li      t0, -3
    bne     a0, t0, fail
    # register
    li      s1, 5
    la      a0, shmem
    li      a1, 0
    li      a2, 0
    call    set_shmem
    bnez    a0, fail
    # spin ~2 s of guest time (20,000,000 ticks at 10 MHz)
    rdtime  s2
    li      t1, 20000000
1:  rdtime  t0
    sub     t0, t0, s2
    bltu    t0, t1, 1b
    mv      s3, t0                  # elapsed ticks
    la      t2, shmem
    lwu     s4, 0(t2)               # sequence
    ld      s5, 8(t2)               # steal ns
    la      a0, msg_seq
    call    puts
    mv      a0, s4
    call    puthex
    la      a0, msg_steal
    call    puts
    mv      a0, s5
    call    puthex
    la      a0, msg_elapsed
    call    puts
    mv      a0, s3
    call    puthex
    li      a0, '\n'
    call    putc
    # disable: all-ones address
    li      s1, 6
    li      a0, -1
    li      a1, -1
    li      a2, 0
    call    set_shmem
    bnez    a0, fail
    li      a0, 0                   # shutdown, no reason
    j       shutdown

fail:
    la      a0, msg_fail
    call    puts
    mv      a0, s1
    call    puthex
    li      a0, '\n'
    call    putc
    li      a0, 1                   # system failure
shutdown:
    mv      a1, a0
    li      a0, 0
    li      a7, 0x53525354
    li      a6, 0
    ecall
2:  j       2b

# STA function 0: set_shmem(a0 = lo, a1 = hi, a2 = flags) -> a0 = error
set_shmem:
    li      a7, 0x535441
    li      a6, 0
    ecall
    ret

# legacy console putchar (extension 1)
putc:
    li      a7, 1
    ecall
    ret

puts:                               # a0 = NUL-terminated string
    addi    sp, sp, -16
    sd      ra, 0(sp)
    sd      s0, 8(sp)
    mv      s0, a0
3:  lbu     a0, 0(s0)
    beqz    a0, 4f
    call    putc
    addi    s0, s0, 1
    j       3b
4:  ld      ra, 0(sp)
    ld      s0, 8(sp)
    addi    sp, sp, 16
    ret

puthex:                             # a0 = value, 16 hex digits
    addi    sp, sp, -32
    sd      ra, 0(sp)
    sd      s0, 8(sp)
    sd      s6, 16(sp)
    mv      s0, a0
    li      s6, 60
5:  srl     a0, s0, s6
    andi    a0, a0, 15
    li      t0, 10
    blt     a0, t0, 6f
    addi    a0, a0, 'a' - 10 - '0'
6:  addi    a0, a0, '0'
    call    putc
    addi    s6, s6, -4
    bgez    s6, 5b
    ld      ra, 0(sp)
    ld      s0, 8(sp)
    ld      s6, 16(sp)
    addi    sp, sp, 32
    ret

msg_seq:     .asciz "sta seq="
msg_steal:   .asciz " steal="
msg_elapsed: .asciz " elapsed="
msg_fail:    .asciz "sta fail "

    .align  6
shmem:       .zero 64
    .align  4
stack_lo:    .zero 1024
stack_hi:
