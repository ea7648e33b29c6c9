# Prints through the NS16550A UART (no HTIF at all), then reports failure
# code 5 through the sifive_test device: kumo-vmm must print the text and
# exit with status 5.
    .section .text.init, "ax"
    .globl _start
_start:
    li      s0, 0x10000000      # UART0
    la      s1, msg
1:  lbu     a0, 0(s1)
    beqz    a0, 3f
2:  lbu     t0, 5(s0)           # LSR: wait for THR empty
    andi    t0, t0, 0x20
    beqz    t0, 2b
    sb      a0, 0(s0)
    addi    s1, s1, 1
    j       1b
3:  li      t0, 0x100000        # sifive_test
    li      t1, (5 << 16) | 0x3333
    sw      t1, 0(t0)
4:  j       4b
    .section .rodata
msg: .string "hello from the uart\n"
