"""The translator (kumo-vmm --jit): code rewritten while another hart runs
it, atomics from several harts at once, a disk read landing on a code
page, a Linux boot under the differential checker (every block run
translated and interpreted, compared), and no memory both writable and
executable (none executable with --jit off). The other e2e tests run with
the translator on (the default) and the boot tests once more with --jit
off (meson: e2e-boot-interp)."""
import subprocess
import time

import pytest

from conftest import boot_cmd, run


@pytest.mark.parametrize("mode", ["on", "off", "check"])
def test_code_rewritten_by_another_hart(vmm, progs, mode):
    # smc.S: hart 1 calls f in a loop, hart 0 rewrites f and raises a flag;
    # after FENCE.I hart 1 must get the new result (else tohost = 3 or 5)
    r = run([vmm, "--jit", mode, "--elf", str(progs / "smc.elf"), "--cpus", "2",
             "--max-insns", "400000000"], timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("mode", ["on", "off", "check"])
def test_atomics_across_harts(vmm, progs, mode):
    # atomics.S: four harts at once, each N times: amoadd.w/.d, an LR/SC
    # increment, an amoswap spinlock around a plain increment, amoor/amoxor
    # on a bits word; hart 0 checks every total (else tohost = 2k + 1)
    r = run([vmm, "--jit", mode, "--elf", str(progs / "atomics.elf"), "--cpus", "4",
             "--max-insns", "4000000000"], timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("mode", ["on", "off"])
def test_disk_read_onto_a_code_page(vmm, guest, progs, tmp_path, mode):
    # the disk: the program at offset 0, at 64 KiB a page holding "li a0, 2; ret"
    prog = (progs / "dmacode").read_bytes()
    assert len(prog) < 65536
    disk = tmp_path / "disk.raw"
    page = (0x00200513).to_bytes(4, "little") + (0x00008067).to_bytes(4, "little")
    disk.write_bytes(prog.ljust(65536, b"\0") + page.ljust(4096, b"\0") + bytes(65536))
    cmd = ("dd if=/dev/vda of=/tmp/dmacode bs=4096 count=16 2>/dev/null; "
           "chmod +x /tmp/dmacode; /tmp/dmacode")
    r = run(boot_cmd(vmm, guest, run=cmd, extra=("--jit", mode, "--disk",
                                                 f"path={disk},format=raw")), timeout=180)
    assert "dma-code: ok" in r.stdout, r.stdout[-2000:] + r.stderr[-2000:]
    assert "run exit=0" in r.stdout
    assert r.returncode == 0


def test_linux_boot_under_the_checker(vmm, guest):
    # every block of the boot and of the commands, translated and interpreted
    r = run(boot_cmd(vmm, guest, run="echo checked-$((6 * 7)); ls /proc > /dev/null",
                     extra=("--jit", "check", "-v")), timeout=900)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]
    assert "checked-42" in r.stdout
    assert "jit check: " in r.stderr and "blocks compared" in r.stderr, r.stderr[-2000:]


@pytest.mark.parametrize("mode", ["on", "off"])
def test_no_writable_and_executable_memory(vmm, progs, mode):
    # spin.elf loops for ever: look at the VMM's mappings while it runs
    p = subprocess.Popen([vmm, "--jit", mode, "--elf", str(progs / "spin.elf")],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.0)
        with open("/proc/%d/maps" % p.pid) as f:
            maps = [line.split() for line in f]
    finally:
        p.kill()
        p.wait()
    assert not [m for m in maps if "w" in m[1] and "x" in m[1]], maps
    jit = [m for m in maps if len(m) > 5 and "kumo-jit" in m[5]]
    execs = [m for m in jit if "x" in m[1]]
    if mode == "off":
        assert not jit, jit          # nothing mapped for translated code at all
    else:
        assert len(execs) == 1 and execs[0][1] == "r-xs", jit  # one executable view
        assert [m for m in jit if m[1] == "rw-s"], jit          # and one writable view
