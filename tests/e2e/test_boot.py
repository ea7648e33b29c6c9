"""Booting the default Linux guest on kumo-vmm: SMP, firmware paths, the
interactive console, reboot and panic."""
import re

import pexpect
import pytest

from conftest import OPENSBI, UBOOT, boot_cmd, run


def check_run(r, cpus):
    out = r.stdout
    assert r.returncode == 0, out[-2000:] + r.stderr[-2000:]
    assert "kumo guest: booted" in out
    assert f"{cpus} CPUs" in out
    # every hart is listed in /proc/cpuinfo
    harts = re.findall(r"^hart\s*:\s*(\d+)", out, re.M)
    assert sorted(int(h) for h in harts) == list(range(cpus)), harts
    # the guest computed something and printed it: 12345 * 6789 and a sha256
    assert f"product={12345 * 6789}" in out
    assert "kumo guest: run exit=0" in out


RUN = "cat /proc/cpuinfo; echo product=$((12345 * 6789))"


@pytest.mark.parametrize("cpus", [1, 2, 4])
def test_direct_boot_smp(vmm, guest, cpus):
    r = run(boot_cmd(vmm, guest, RUN, cpus=cpus), timeout=120)
    check_run(r, cpus)


@pytest.mark.parametrize("fw", ["fw_jump.bin", "fw_dynamic.bin"])
def test_opensbi_boot(vmm, guest, fw):
    if not (OPENSBI / fw).exists():
        pytest.fail(f"{OPENSBI / fw} missing: apt-get install opensbi (scripts/deps.sh)")
    r = run(boot_cmd(vmm, guest, RUN, cpus=2, extra=["--bios", str(OPENSBI / fw)]),
            timeout=120)
    assert "OpenSBI v" in r.stdout
    check_run(r, 2)


def test_smp_work_on_all_harts(vmm, guest):
    # two busy shells at once, then check both finished with the right sums
    cmd = ("(i=0; s=0; while [ $i -lt 20000 ]; do s=$((s+i)); i=$((i+1)); done; echo A=$s) & "
           "(i=0; s=0; while [ $i -lt 20000 ]; do s=$((s+2*i)); i=$((i+1)); done; echo B=$s) & "
           "wait")
    r = run(boot_cmd(vmm, guest, cmd, cpus=2), timeout=180)
    assert r.returncode == 0
    assert f"A={sum(range(20000))}" in r.stdout
    assert f"B={2 * sum(range(20000))}" in r.stdout


def spawn(vmm_args, timeout=60):
    return pexpect.spawn(vmm_args[0], vmm_args[1:], encoding="utf-8", timeout=timeout,
                         codec_errors="replace")


def test_interactive_shell_and_poweroff(vmm, guest):
    p = spawn(boot_cmd(vmm, guest))
    p.expect("kumo guest: booted")
    p.expect(r"[#$] ")
    p.sendline("echo result=$((6 * 7))")
    p.expect("result=42")
    p.sendline("poweroff")
    p.expect(pexpect.EOF)
    p.close()
    assert p.exitstatus == 0


def test_ctrl_a_x_quits(vmm, guest):
    p = spawn(boot_cmd(vmm, guest))
    p.expect("kumo guest: booted")
    p.expect(r"[#$] ")
    p.send("\x01h")
    p.expect("Ctrl-A x")
    p.send("\x01x")
    p.expect("terminated by Ctrl-A x")
    p.expect(pexpect.EOF)
    p.close()
    assert p.exitstatus == 0


def test_reboot_comes_back(vmm, guest):
    p = spawn(boot_cmd(vmm, guest, cpus=2))
    p.expect("kumo guest: booted")
    p.expect(r"[#$] ")
    p.sendline("reboot")
    p.expect("kumo guest: booted")  # a second boot
    p.expect(r"[#$] ")
    p.sendline("echo again=$((2 + 3))")
    p.expect("again=5")
    p.sendline("poweroff")
    p.expect(pexpect.EOF)
    p.close()
    assert p.exitstatus == 0


def test_kernel_panic_is_a_failure(vmm, guest):
    # init exits -> "Attempted to kill init" -> the kernel reports the panic
    r = run(boot_cmd(vmm, guest, append="rdinit=/bin/false"), timeout=120)
    assert "Kernel panic" in r.stdout
    assert r.returncode != 0
    assert "panicked" in r.stderr


def test_uboot_reaches_its_prompt(vmm):
    for f in (OPENSBI / "fw_jump.bin", UBOOT):
        if not f.exists():
            pytest.fail(f"{f} missing: apt-get install opensbi u-boot-qemu (scripts/deps.sh)")
    p = spawn([vmm, "--bios", str(OPENSBI / "fw_jump.bin"), "--kernel", str(UBOOT)])
    p.expect("U-Boot 20")
    p.expect("Hit any key to stop autoboot")
    p.send(" ")
    p.expect("=> ")
    p.sendline("version")
    p.expect("U-Boot 20")
    p.expect("=> ")
    p.send("\x01x")
    p.expect(pexpect.EOF)
    p.close()
    assert p.exitstatus == 0


def test_console_none_and_log(vmm, guest, tmp_path):
    log = tmp_path / "console.log"
    r = run(boot_cmd(vmm, guest, "echo logged-$((40 + 2))",
                     extra=["--console", "none", "--console-log", str(log)]), timeout=120)
    assert r.returncode == 0
    assert "kumo guest" not in r.stdout  # nothing on stdout with --console none
    text = log.read_text(errors="replace")
    assert "kumo guest: booted" in text and "logged-42" in text


def test_console_socket(vmm, guest, tmp_path):
    import socket
    import subprocess
    import time
    path = tmp_path / "console.sock"
    p = subprocess.Popen(boot_cmd(vmm, guest, extra=["--console", f"socket:{path}"]),
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        # The socket file appears at bind(), a moment before listen(): until
        # then a connect is refused, so retry (up to 5 s) rather than race.
        for _ in range(100):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(str(path))
                break
            except (FileNotFoundError, ConnectionRefusedError):
                s.close()
                assert p.poll() is None, p.stderr.read()
                time.sleep(0.05)
        else:
            raise AssertionError("kumo-vmm never accepted on its console socket")
        s.settimeout(60)
        buf = b""
        while b"# " not in buf.split(b"kumo guest: booted")[-1] or b"booted" not in buf:
            chunk = s.recv(4096)
            assert chunk, buf[-500:]
            buf += chunk
        s.sendall(b"echo sock-$((3 * 14))\n")
        while b"sock-42" not in buf:
            chunk = s.recv(4096)
            assert chunk, buf[-500:]
            buf += chunk
        s.sendall(b"poweroff -f\n")
        assert p.wait(timeout=60) == 0
        s.close()
    finally:
        p.kill()
        p.wait()
