# A hostile M-mode firmware (kumo-vmm --bios rom_mmu.bin): it tries to
# write the boot ROM through the hart's page-table walker. A level-0 page
# table placed on the ROM page (0x1000) makes the walker read the reset
# vector's words as PTEs; the third (ld t0, 24(t0); jr t0) looks like a
# readable leaf whose Accessed bit is clear, so a load through it would make
# the hart set that bit in the ROM. kumo-vmm must refuse (a load access
# fault) and leave the ROM as it was. Powers off through the test device:
# pass (exit 0) when the ROM word is unchanged and the load faulted with
# cause 5; exit 2 when the ROM changed, 3 when the load did not fault so.
# Position independent (a raw image at RAM).
    .section .text.init, "ax"
    .globl _start
_start:
    la      t0, trap
    csrw    mtvec, t0
    # PMP: everything for S-mode accesses (the walk runs as S with MPRV)
    li      t0, -1
    csrw    pmpaddr0, t0
    li      t0, 0x1f                # NAPOT, R, W, X
    csrw    pmpcfg0, t0
    # root -> level 1 (RAM) -> level 0 = the ROM page
    la      t1, root
    la      t2, level1
    srli    t3, t2, 12
    slli    t3, t3, 10
    ori     t3, t3, 1               # V: a pointer to the next level
    sd      t3, 0(t1)
    li      t3, 0x1000 >> 12
    slli    t3, t3, 10
    ori     t3, t3, 1
    sd      t3, 0(t2)
    li      s0, 0x1010              # the third ROM word: index 2
    ld      s1, 0(s0)               # as it was
    srli    t3, t1, 12
    li      t4, 8 << 60             # Sv39
    or      t3, t3, t4
    csrw    satp, t3
    sfence.vma
    li      s2, 0                   # the trap's cause
    # loads as S (MPRV, MPP = S) from va 0x2000: ROM word 2 is its PTE
    li      t0, (1 << 17) | (1 << 11)
    csrs    mstatus, t0
    li      t5, 0x2000
    ld      t6, 0(t5)
    li      t0, (1 << 17) | (3 << 11)
    csrc    mstatus, t0
    csrw    satp, zero
    ld      s3, 0(s0)               # after
    li      a0, (2 << 16) | 0x3333  # sifive_test: failure, code 2
    bne     s1, s3, done            # the ROM changed
    li      a0, (3 << 16) | 0x3333
    li      t0, 5
    bne     s2, t0, done            # no load access fault
    li      a0, 0x5555              # pass
done:
    li      t0, 0x100000
    sw      a0, 0(t0)
1:  j       1b

    .align  4
trap:
    csrr    s2, mcause
    li      t0, (1 << 17) | (3 << 11)
    csrc    mstatus, t0             # back to plain M accesses
    csrr    t0, mepc
    addi    t0, t0, 4
    csrw    mepc, t0
    li      t0, 3 << 11
    csrs    mstatus, t0             # mret to M
    mret

    .align  12
root:     .zero 4096
level1:   .zero 4096
