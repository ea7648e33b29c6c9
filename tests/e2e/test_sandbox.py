"""kumo-vmm's sandbox (src/vmm/sandbox.h) from the outside: what /proc shows of
a running VMM, a forbidden system call killing it with SIGSYS, files it was
not given staying closed (by path, and through a qcow2 header rewritten to
name a host file before a guest reboot), and a guest reboot that reopens its
own backing chain."""
import json
import os
import pathlib
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time

import pytest

from conftest import BUILD, run


def kumo_img(*args):
    r = run([str(BUILD / "kumo-img"), *args])
    assert r.returncode == 0, r.stderr
    return r.stdout


def control(path, req, timeout=10):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    s.connect(str(path))
    f = s.makefile("rw")
    f.write(json.dumps(req) + "\n")
    f.flush()
    line = f.readline()
    s.close()
    return json.loads(line) if line else None


def status_fields(pid):
    out = {}
    for line in open(f"/proc/{pid}/status"):
        k, _, v = line.partition(":")
        out[k] = v.split()
    return out


def start(vmm, progs, tmp_path, extra=(), **kw):
    """A VMM spinning a bare-metal program, with a control socket, once it
    answers (the sandbox is on before the guest's first instruction)."""
    sock = tmp_path / "ctl.sock"
    p = subprocess.Popen([vmm, "--elf", str(progs / "spin.elf"), "--control", str(sock),
                          "--console", "none", *extra],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, **kw)
    deadline = time.time() + 60
    while True:
        assert p.poll() is None, p.stderr.read().decode()
        assert time.time() < deadline, "the control socket never answered"
        try:
            if control(sock, {"op": "status"})["ok"]:
                return p, sock
        except (OSError, TypeError, ValueError):
            pass
        time.sleep(0.1)


def stop(p):
    if p.poll() is None:
        p.kill()
    p.wait()


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping to a given uid needs root")
def test_proc_shows_seccomp_no_new_privs_and_the_given_uid(vmm, progs, tmp_path):
    p, sock = start(vmm, progs, tmp_path, ["--sandbox-uid", "4242", "--sandbox-gid", "4343"])
    try:
        st = status_fields(p.pid)
        assert st["Seccomp"] == ["2"], st["Seccomp"]
        assert st["NoNewPrivs"] == ["1"]
        assert st["Uid"] == ["4242"] * 4, st["Uid"]
        assert st["Gid"] == ["4343"] * 4, st["Gid"]
        assert st["CapEff"] == ["0000000000000000"] and st["CapPrm"] == ["0000000000000000"]
        # every thread, not just the main one, is filtered
        for tid in os.listdir(f"/proc/{p.pid}/task"):
            t = {}
            for line in open(f"/proc/{p.pid}/task/{tid}/status"):
                k, _, v = line.partition(":")
                t[k] = v.split()
            assert t["Seccomp"] == ["2"] and t["Uid"][0] == "4242", (tid, t["Seccomp"])
        # resource limits: no core dumps, a bounded number of files
        limits = open(f"/proc/{p.pid}/limits").read()
        assert "Max core file size        0" in limits, limits
        nofile = [ln for ln in limits.splitlines() if ln.startswith("Max open files")][0]
        assert int(nofile.split()[3]) < 2048, nofile
    finally:
        stop(p)


def test_forbidden_system_call_kills_with_sigsys(vmm, progs, tmp_path):
    p, sock = start(vmm, progs, tmp_path)
    try:
        assert status_fields(p.pid)["Seccomp"] == ["2"]
        try:
            r = control(sock, {"op": "sandbox_test", "test": "forbidden"})
        except OSError:
            r = None  # the VMM died before it could answer: what we want
        assert r is None, r
        p.wait(timeout=30)
        assert p.returncode == -signal.SIGSYS, (p.returncode, p.stderr.read().decode())
    finally:
        stop(p)


def test_cannot_open_what_it_was_not_given(vmm, progs, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("the host's\n")
    os.chmod(secret, 0o644)
    disk = tmp_path / "disk.raw"
    disk.write_bytes(b"\0" * (1 << 20))
    p, sock = start(vmm, progs, tmp_path, ["--disk", f"path={disk},format=raw"])
    try:
        for path in (secret, "/etc/passwd", disk, BUILD / "kumo-vmm", "/proc/self/status"):
            r = control(sock, {"op": "sandbox_test", "test": f"open:{path}"})
            assert r["ok"] and r["result"].startswith("refused"), (path, r)
    finally:
        stop(p)


def test_sandbox_off_is_unconfined(vmm, progs, tmp_path):
    p, sock = start(vmm, progs, tmp_path, ["--sandbox", "off"])
    try:
        st = status_fields(p.pid)
        assert st["Seccomp"] == ["0"] and st["NoNewPrivs"] == ["0"], st
        assert st["Uid"][0] == str(os.geteuid())
        r = control(sock, {"op": "sandbox_test", "test": "forbidden"})
        assert not r["ok"] and "sandbox is off" in r["error"], r
    finally:
        stop(p)


@pytest.mark.skipif(os.geteuid() != 0, reason="becomes another user to test the unprivileged way")
def test_unprivileged_user_gets_namespaces_and_seccomp(vmm, progs):
    tmp_path = pathlib.Path(tempfile.mkdtemp(prefix="kumo-sandbox-"))  # reachable by any uid
    os.chmod(tmp_path, 0o777)
    uid = 4244

    def become():
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)

    p, sock = start(vmm, progs, tmp_path, preexec_fn=become)
    try:
        st = status_fields(p.pid)
        assert st["Seccomp"] == ["2"] and st["NoNewPrivs"] == ["1"], st
        assert st["Uid"][0] == str(uid)
        # a user namespace of its own (when the host allows them), and no
        # capabilities left in it
        own = os.readlink("/proc/self/ns/user")
        userns = subprocess.run(["unshare", "-U", "true"], preexec_fn=become).returncode == 0
        if userns:
            assert os.readlink(f"/proc/{p.pid}/ns/user") != own
            assert os.readlink(f"/proc/{p.pid}/ns/mnt") != os.readlink("/proc/self/ns/mnt")
        assert st["CapEff"] == ["0000000000000000"], st["CapEff"]
        r = control(sock, {"op": "sandbox_test", "test": "open:/etc/passwd"})
        assert r["result"].startswith("refused"), r
    finally:
        stop(p)
        shutil.rmtree(tmp_path, ignore_errors=True)


def linux_boot(vmm, guest, disk, cmd, cache="readwrite"):
    return subprocess.Popen(
        [vmm, "--kernel", str(guest / "Image"), "--append",
         f'console=ttyS0 root=/dev/vda rw kumo.run="{cmd}"', "--mem", "256",
         "--disk", f"path={disk},format=qcow2,cache={cache}"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_for(stream, marker, timeout=300):
    buf = b""
    deadline = time.time() + timeout
    while marker not in buf:
        assert time.time() < deadline, buf[-2000:]
        chunk = os.read(stream.fileno(), 4096)
        assert chunk, buf[-2000:]
        buf += chunk
    return buf


# cache=none: each image is opened a second time with O_DIRECT, and the
# reboot must get that descriptor again from the sealed file set too
@pytest.mark.parametrize("cache", ["readwrite", "none"])
def test_reboot_reopens_its_backing_chain(vmm, guest, tmp_path, cache):
    base = tmp_path / "base.ext4"
    base.write_bytes((guest / "rootfs.ext4").read_bytes())
    top = tmp_path / "top.qcow2"
    kumo_img("create", "-f", "qcow2", "-b", str(base), "-F", "raw", str(top))
    cmd = ("if [ -f /root/booted ]; then echo second-boot:$(($(cat /root/n) * 7)); "
           "else echo 6 > /root/n; touch /root/booted; sync; reboot -f; fi")
    p = linux_boot(vmm, guest, top, cmd, cache)
    try:
        out = wait_for(p.stdout, b"second-boot:42")
        p.wait(timeout=120)
        assert p.returncode == 0, (p.returncode, out[-1500:], p.stderr.read())
    finally:
        stop(p)


def test_reboot_cannot_follow_a_header_rewritten_to_a_host_file(vmm, guest, tmp_path):
    """The overlay's backing file name is changed (as a hostile image or a
    swap would) while the VM runs: the reboot must not open the new name."""
    base = tmp_path / "base.ext4"
    base.write_bytes((guest / "rootfs.ext4").read_bytes())
    top = tmp_path / "top.qcow2"
    kumo_img("create", "-f", "qcow2", "-b", str(base), "-F", "raw", str(top))
    p = linux_boot(vmm, guest, top, "echo sandbox-ready; sleep 4; reboot -f")
    try:
        wait_for(p.stdout, b"sandbox-ready")
        with open(top, "r+b") as f:
            hdr = f.read(24)
            off, size = struct.unpack(">QI", hdr[8:20])
            # the same length, so nothing else in the header moves
            name = "/etc" + "/." * ((size - 11) // 2) + ("/" if (size - 11) % 2 else "") + "/passwd"
            assert len(name) == size
            f.seek(off)
            f.write(name.encode())
        p.wait(timeout=180)
        err = p.stderr.read().decode()
        assert p.returncode == 125, (p.returncode, err)
        assert "not one of the files" in err, err
    finally:
        stop(p)
