# A Linux user program (static, raw system calls) for a test where a
# virtio-blk read lands on a code page: it maps a page read-write-execute,
# writes "li a0, 1; ret" there and calls it 1000 times (the translator makes
# it hot), then reads 4 KiB with O_DIRECT from /dev/vda at offset 64 KiB
# straight into that page (the device writes guest memory: DMA), holding
# "li a0, 2; ret"; after riscv_flush_icache the call must return 2.
# Prints "dma-code: ok" and exits 0, or "dma-code: FAIL" and exits 1.
    .text
    .globl _start
_start:
    li      a0, 0
    li      a1, 4096
    li      a2, 7                   # PROT_READ | PROT_WRITE | PROT_EXEC
    li      a3, 0x22                # MAP_PRIVATE | MAP_ANONYMOUS
    li      a4, -1
    li      a5, 0
    li      a7, 222                 # mmap
    ecall
    bltz    a0, fail
    mv      s0, a0
    li      t0, 0x00100513          # addi a0, zero, 1
    sw      t0, 0(s0)
    li      t0, 0x00008067          # ret
    sw      t0, 4(s0)
    call    flush
    li      s1, 1000
    li      s2, 0
1:  jalr    s0
    add     s2, s2, a0
    addi    s1, s1, -1
    bnez    s1, 1b
    li      t0, 1000
    bne     s2, t0, fail
    li      a0, -100                # AT_FDCWD
    la      a1, dev
    li      a2, 0x4000              # O_RDONLY | O_DIRECT
    li      a3, 0
    li      a7, 56                  # openat
    ecall
    bltz    a0, fail
    mv      s3, a0
    mv      a0, s3
    mv      a1, s0
    li      a2, 4096
    li      a3, 65536
    li      a7, 67                  # pread64
    ecall
    li      t0, 4096
    bne     a0, t0, fail
    call    flush
    jalr    s0
    li      t0, 2
    bne     a0, t0, fail
    la      a1, ok
    li      a2, 13
    li      s4, 0
    j       out
fail:
    la      a1, bad
    li      a2, 15
    li      s4, 1
out:
    li      a0, 1
    li      a7, 64                  # write
    ecall
    mv      a0, s4
    li      a7, 93                  # exit
    ecall

flush:                              # riscv_flush_icache(page, page + 4096, 0)
    mv      a0, s0
    li      t0, 4096
    add     a1, s0, t0
    li      a2, 0
    li      a7, 259
    ecall
    ret

    .section .rodata
dev:    .asciz "/dev/vda"
ok:     .ascii "dma-code: ok\n"
bad:    .ascii "dma-code: FAIL\n"
