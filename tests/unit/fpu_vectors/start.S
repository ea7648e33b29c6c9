/* start.S - entry of the bare-metal FPU vector generator (M-mode, spike board). */
    .section .text.init, "ax"
    .globl _start
_start:
    la      sp, _stack_top
    la      t0, trap
    csrw    mtvec, t0
    li      t0, (3 << 13)       /* mstatus.FS = dirty: enable the FPU */
    csrs    mstatus, t0
    csrwi   fcsr, 0
    la      t0, _bss_start
    la      t1, _bss_end
1:  bgeu    t0, t1, 2f
    sd      zero, 0(t0)
    addi    t0, t0, 8
    j       1b
2:  call    main
    call    htif_exit           /* exit code in a0 */
3:  j       3b

    /* Any trap is a bug of the generator: exit with code 0x7e (mcause kept in
     * a fresh register for a debugger). */
    .align 2
trap:
    csrr    a1, mcause
    li      a0, 0x7e
    call    htif_exit
4:  j       4b
