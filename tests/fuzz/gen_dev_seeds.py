#!/usr/bin/env python3
"""Seeds for the device, control-socket and CPU harnesses (tests/fuzz):
well-formed requests in fuzz_dev.h's operation language (a read, a write,
a flush... on virtio-blk; a sent and a received frame on virtio-net; the
balloon's, console's and entropy source's queues), one control request of
every operation, and the start of the ISA tests' programs for the hart.
Run from the repository root; writes tests/fuzz/seeds/{dev_blk,dev_net,
dev_small,control,cpu}/ (cpu needs a build with the ISA tests)."""
import glob
import json
import os
import struct
import subprocess
import sys

SEEDS = "tests/fuzz/seeds"


def u8(v): return struct.pack("<B", v)
def u16(v): return struct.pack("<H", v)
def u32(v): return struct.pack("<I", v)
def u64(v): return struct.pack("<Q", v)


def setup(nqueues, num_sel=8):
    """A well-behaved driver: all features it is offered, queues of 256."""
    return u8(0) + u32(0xffffffff) + u32(0xffffffff) + u16(num_sel) * nqueues


def desc(q, i, off, length, flags, nxt):
    return u8(0 | q << 4) + u16(i) + u32(q * 0x10000 + off) + u32(length) + u16(flags) + u16(nxt)


def avail(q, head):
    return u8(1 | q << 4) + u16(head)


def notify(q):
    return u8(2 | q << 4)


def ram(off, data):
    assert len(data) < 256
    return u8(5) + u32(off) + u8(len(data)) + data


NEXT, WRITE, INDIRECT = 1, 2, 4


def blk_request(kind, sector, data_len, i0=0, base=0x8000):
    hdr = u32(kind) + u32(0) + u64(sector)
    ops = ram(base, hdr)
    ops += desc(0, i0, base, 16, NEXT, i0 + 1)
    flags = NEXT | (WRITE if kind in (0, 8) else 0)
    if data_len:
        if kind == 11 or kind == 13:  # discard/write zeroes: one segment
            ops += ram(base + 0x100, u64(sector) + u32(8) + u32(0))
            ops += desc(0, i0 + 1, base + 0x100, 16, NEXT, i0 + 2)
        else:
            ops += desc(0, i0 + 1, base + 0x1000, data_len, flags, i0 + 2)
        ops += desc(0, i0 + 2, base + 0x3000, 1, WRITE, 0)
    else:
        ops += desc(0, i0 + 1, base + 0x3000, 1, WRITE, 0)
    return ops + avail(0, i0) + notify(0)


def write(name, sub, data):
    d = os.path.join(SEEDS, sub)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def main():
    # virtio-blk: the first byte picks the raw (0) or qcow2 (1) image
    for img in (0, 1):
        s = setup(1)
        for name, kind, sector, n in (("read", 0, 0, 512), ("write", 1, 8, 4096),
                                      ("flush", 4, 0, 0), ("id", 8, 0, 20),
                                      ("discard", 11, 16, 16), ("zeroes", 13, 24, 16)):
            write(f"{name}-{img}", "dev_blk", u8(img) + s + blk_request(kind, sector, n))
        # a chain through an indirect table
        ind = ram(0xc000, u64(0x8000 + 0x80000000) + u32(16) + u16(NEXT) + u16(1) +
                  u64(0x9000 + 0x80000000) + u32(512) + u16(NEXT | WRITE) + u16(2) +
                  u64(0xa000 + 0x80000000) + u32(1) + u16(WRITE) + u16(0))
        write(f"indirect-{img}", "dev_blk", u8(img) + s + ram(0x8000, u32(0) + u32(0) + u64(0)) +
              ind + desc(0, 0, 0xc000, 48, INDIRECT, 0) + avail(0, 0) + notify(0))
    # virtio-net: transmit one frame; post receive buffers, receive one
    s = setup(2)
    frame = b"\xff" * 6 + b"\x52\x54\x00\x12\x34\x56" + b"\x08\x06" + bytes(46)
    tx = ram(0x8000, bytes(12) + frame[:200])
    tx += desc(1, 0, 0x8000, 12 + len(frame), 0, 0) + avail(1, 0) + notify(1)
    write("tx", "dev_net", s + tx)
    rx = b""
    for k in range(4):
        rx += desc(0, k, 0x8000 + k * 0x800, 0x800, WRITE, 0) + avail(0, k)
    rx += notify(0) + u8(7) + u16(len(frame)) + frame
    write("rx", "dev_net", s + rx)
    big = bytes(range(256)) * 6
    rx_small = b"".join(desc(0, k, 0x8000 + k * 0x100, 0x100, WRITE, 0) + avail(0, k)
                        for k in range(8)) + notify(0) + u8(7) + u16(len(big)) + big
    write("rx-merged", "dev_net", s + rx_small)
    # balloon (0), console (1), entropy source (2)
    s3 = setup(3)
    pages = b"".join(u32(0x80000 + k) for k in range(8))
    write("balloon", "dev_small", u8(0) + s3 + ram(0x8000, pages) +
          desc(0, 0, 0x8000, len(pages), 0, 0) + avail(0, 0) + notify(0) +
          ram(0x28000 - 0x20000 + 0x20000, u16(0) + u64(123) + u16(4) + u64(456)) +
          desc(2, 0, 0x8000, 20, 0, 0) + avail(2, 0) + notify(2) + u8(7) + u16(2 * 40 + 1) +
          u8(7) + u16(0) + desc(1, 0, 0x8000, len(pages), 0, 0) + avail(1, 0) + notify(1))
    s2 = setup(2)
    write("console", "dev_small", u8(1) + s2 + desc(0, 0, 0x8000, 64, WRITE, 0) + avail(0, 0) +
          notify(0) + u8(7) + u8(9) + b"poweroff\n" + ram(0x18000, b"hello") +
          desc(1, 0, 0x8000, 5, 0, 0) + avail(1, 0) + notify(1))
    s1 = setup(1)
    write("rng", "dev_small", u8(2) + s1 + desc(0, 0, 0x8000, 64, WRITE, NEXT) +
          desc(0, 1, 0x9000, 64, WRITE, 0) + avail(0, 0) + notify(0))
    # the control socket: every operation
    reqs = [{"op": "status"}, {"op": "stop"}, {"op": "shutdown"},
            {"op": "set_cpu", "cap_pct": 20, "weight": 50, "affinity": "0"},
            {"op": "set_cpu", "cap_pct": 22.5},
            {"op": "set_disk_limits", "disk": 0, "iops": 100, "bps": 1000000, "iops_max": 200,
             "iops_max_length": 10},
            {"op": "balloon", "target_mib": 8}, {"op": "balloon"},
            {"op": "sandbox_test", "test": "open:/etc/passwd"}, {"op": "nope"}]
    for k, r in enumerate(reqs):
        write(f"req{k}", "control", (json.dumps(r) + "\n").encode())
    write("all", "control", "".join(json.dumps(r) + "\n" for r in reqs[2:]).encode())
    # the hart: the first 4 KiB of the ISA tests' programs, with and without the SBI
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    elfs = sorted(glob.glob(f"{build}/tests/isa/*.elf"))
    for k, elf in enumerate(elfs):
        out = subprocess.run(["riscv64-unknown-elf-objcopy", "-O", "binary", "-j", ".text",
                              "-j", ".text.init", elf, "/dev/stdout"], capture_output=True)
        if out.returncode == 0 and out.stdout:
            name = os.path.basename(elf)[:-4]
            write(name, "cpu", u8(k & 1) + out.stdout[:4096])


if __name__ == "__main__":
    main()
