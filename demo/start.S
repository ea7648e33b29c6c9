/*
 * start.S - entry of the bare-metal demo: set up a stack, enable the FPU,
 * clear .bss and call main(); main's return value is reported over HTIF.
 */
    .section .text.init, "ax", @progbits
    .globl _start
_start:
    csrr    t0, mhartid
    bnez    t0, park            /* only hart 0 runs the demo */
    la      sp, __stack_top
    li      t0, (1 << 13)       /* mstatus.FS = Initial */
    csrs    mstatus, t0
    csrwi   fcsr, 0
    la      t0, __bss_start
    la      t1, __bss_end
1:  bgeu    t0, t1, 2f
    sd      zero, 0(t0)
    addi    t0, t0, 8
    j       1b
2:  call    main
    call    htif_exit
park:
    wfi
    j       park
