# A hostile S-mode kernel for kumo-vmm's built-in SBI (--kernel
# rom_sbi.bin): it asks the SBI debug console to read into the boot ROM
# (0x1000). kumo-vmm must refuse with SBI_ERR_INVALID_PARAM (-3) while a
# read into RAM succeeds. Prints "rom-sbi ok" and shuts down normally, or
# "rom-sbi fail" and shuts down with the system-failure reason (exit 1).
# Position independent: the kernel slot loads it at RAM + 2 MiB.
    .section .text.init, "ax"
    .globl _start
_start:
    li      a7, 0x4442434E          # DBCN
    li      a6, 1                   # read(num_bytes, base_lo, base_hi)
    li      a0, 16
    li      a1, 0x1000
    li      a2, 0
    ecall
    li      t0, -3
    bne     a0, t0, fail
    li      a7, 0x4442434E
    li      a6, 1
    li      a0, 16
    la      a1, buf
    li      a2, 0
    ecall
    bnez    a0, fail
    la      a1, ok
    li      a0, 11                  # "rom-sbi ok\n"
    call    print
    li      a1, 0                   # no reason: a clean shutdown
    j       shutdown
fail:
    la      a1, bad
    li      a0, 13                  # "rom-sbi fail\n"
    call    print
    li      a1, 1                   # system failure
shutdown:
    li      a7, 0x53525354          # SRST
    li      a6, 0
    li      a0, 0                   # shutdown
    ecall
1:  j       1b

print:                              # a0 bytes at a1
    li      a7, 0x4442434E
    li      a6, 0                   # write
    li      a2, 0
    ecall
    ret

ok:     .ascii "rom-sbi ok\n"
ok_end:
bad:    .ascii "rom-sbi fail\n"
bad_end:
    .align  4
buf:    .zero 16
