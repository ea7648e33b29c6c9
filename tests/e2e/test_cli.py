"""kumo-vmm's command line, exit statuses and error messages, with bare-metal
programs (no guest image needed)."""
import pathlib

from conftest import BUILD, run


def test_demo_prints_what_it_computed(vmm):
    r = run([vmm, "--elf", str(BUILD / "demo" / "hello.elf")])
    assert r.returncode == 0, r.stderr
    # pi(100000) = 9592 primes, sum 0..999 = 499500, 4*atan(1) ~ 3.14159
    assert "primes below 100000: 9592" in r.stdout
    assert "atomic sum 0..999: 499500" in r.stdout
    assert "x 1e6: 31415" in r.stdout


def test_failing_test_number_is_the_exit_status(vmm, progs):
    r = run([vmm, "--elf", str(progs / "fail3.elf")])
    assert r.returncode == 3
    assert "test 3 failed" in r.stderr


def test_uart_output_and_syscon_failure_code(vmm, progs):
    r = run([vmm, "--elf", str(progs / "uart.elf")])
    assert r.stdout == "hello from the uart\n"
    assert r.returncode == 5


def test_instruction_limit(vmm, progs):
    r = run([vmm, "--elf", str(progs / "spin.elf"), "--max-insns", "100000"])
    assert r.returncode == 124
    assert "--max-insns 100000" in r.stderr


def test_no_arguments_is_a_usage_error(vmm):
    r = run([vmm])
    assert r.returncode == 2
    assert "nothing to run" in r.stderr


def test_unknown_option(vmm):
    r = run([vmm, "--frobnicate"])
    assert r.returncode == 2
    assert "unknown option --frobnicate" in r.stderr


def test_option_needs_a_value(vmm):
    r = run([vmm, "--elf"])
    assert r.returncode == 2
    assert "--elf needs a value" in r.stderr


def test_bad_numbers(vmm):
    for args, msg in ((["--mem", "0"], "--mem 0"), (["--cpus", "99"], "--cpus 99"),
                      (["--mmu", "sv32"], "--mmu sv32")):
        r = run([vmm, "--elf", "x"] + args)
        assert r.returncode == 2, args
        assert msg in r.stderr


def test_bad_disk_limits(vmm, tmp_path):
    """Inconsistent --disk limits are usage errors that name what is wrong;
    nothing is opened or written."""
    img = tmp_path / "d.img"
    for spec, msg in (("iops_max=5", "iops_max needs iops (the sustained rate)"),
                      ("iops=10,iops_max=5", "iops_max=5 must be above iops=10"),
                      ("iops=10,iops_max_length=5", "iops_max_length needs iops_max"),
                      ("bps_burst=5", "bps_burst needs bps"),
                      ("iops=0", "iops=0: give a positive number"),
                      ("iopz=5", "unknown setting 'iopz'")):
        r = run([vmm, "--kernel", "/dev/null", "--disk", f"path={img},{spec}"])
        assert r.returncode == 2, (spec, r.stderr)
        assert msg in r.stderr, (spec, r.stderr)
    assert not img.exists()


def test_missing_file(vmm, tmp_path):
    r = run([vmm, "--elf", str(tmp_path / "nope.elf")])
    assert r.returncode == 125
    assert "cannot open" in r.stderr and "No such file" in r.stderr


def test_not_an_elf_file(vmm, tmp_path):
    f = tmp_path / "text.elf"
    f.write_text("this is not a program\n")
    r = run([vmm, "--elf", str(f)])
    assert r.returncode == 125
    assert "not an ELF file" in r.stderr


def test_truncated_elf(vmm, tmp_path):
    data = (BUILD / "demo" / "hello.elf").read_bytes()
    for cut in (20, 64, 200, len(data) // 2):
        f = tmp_path / f"cut{cut}.elf"
        f.write_bytes(data[:cut])
        r = run([vmm, "--elf", str(f)])
        assert r.returncode == 125, cut
        assert "error:" in r.stderr and "Traceback" not in r.stderr
        assert "truncated" in r.stderr or "not an ELF" in r.stderr or "outside" in r.stderr


def test_elf_that_does_not_fit_in_ram(vmm, tmp_path):
    # move the demo's first loadable segment below RAM (0x80000000)
    data = bytearray((BUILD / "demo" / "hello.elf").read_bytes())
    phoff = int.from_bytes(data[0x20:0x28], "little")
    phentsize = int.from_bytes(data[0x36:0x38], "little")
    phnum = int.from_bytes(data[0x38:0x3a], "little")
    for k in range(phnum):
        ph = phoff + k * phentsize
        if int.from_bytes(data[ph:ph + 4], "little") == 1:  # PT_LOAD
            data[ph + 0x18:ph + 0x20] = (0x70000000).to_bytes(8, "little")
            break
    f = tmp_path / "low.elf"
    f.write_bytes(bytes(data))
    r = run([vmm, "--elf", str(f)])
    assert r.returncode == 125
    assert "does not fit in guest RAM" in r.stderr and "0x70000000" in r.stderr


def test_host_elf_is_rejected(vmm):
    r = run([vmm, "--elf", "/bin/true"])
    assert r.returncode == 125
    assert "not a RISC-V ELF" in r.stderr or "not an executable" in r.stderr


def test_dump_dtb(vmm, tmp_path):
    dtb = tmp_path / "virt.dtb"
    r = run([vmm, "--kernel", "/dev/null", "--dump-dtb", str(dtb)])
    # /dev/null is not a regular file: a clear error, no dtb
    assert r.returncode == 125 and "not a regular file" in r.stderr
    kernel = tmp_path / "raw.bin"
    kernel.write_bytes(b"\x6f\x00\x00\x00")  # j .
    r = run([vmm, "--kernel", str(kernel), "--cpus", "2", "--append", "console=ttyS0 quiet",
             "--dump-dtb", str(dtb)])
    assert r.returncode == 0, r.stderr
    blob = dtb.read_bytes()
    assert blob[:4] == b"\xd0\x0d\xfe\xed"  # FDT magic
    for s in (b"riscv-virtio", b"ns16550a", b"sifive,plic-1.0.0", b"riscv,clint0",
              b"console=ttyS0 quiet", b"google,goldfish-rtc", b"syscon-poweroff",
              b"virtio,mmio", b"riscv,sv57"):
        assert s in blob, s
