"""Devices as the guest uses them: virtio disks on raw and qcow2 images
(writes that survive, clean file systems, backing chains, kill -9), the
memory balloon, and the control socket."""
import json
import os
import shutil
import signal
import socket
import subprocess
import time

import pytest

from conftest import BUILD, boot_cmd, run


def kumo_img(*args):
    r = run([str(BUILD / "kumo-img"), *args])
    assert r.returncode == 0, r.stderr
    return r.stdout


def disk_boot(vmm, guest, disk_args, cmd, extra=(), timeout=180):
    args = [vmm, "--kernel", str(guest / "Image"), "--append",
            f'console=ttyS0 root=/dev/vda rw kumo.run="{cmd}"', "--mem", "256"]
    for d in disk_args:
        args += ["--disk", d]
    return run(args + list(extra), timeout=timeout)


def fsck_clean(path, fmt):
    img = path
    if fmt == "qcow2":
        img = str(path) + ".raw"
        subprocess.run(["qemu-img", "convert", "-O", "raw", str(path), img], check=True)
    r = subprocess.run(["e2fsck", "-fn", str(img)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


CACHES = ["readwrite", "readonly", "none"]


@pytest.mark.parametrize("cache", CACHES)
@pytest.mark.parametrize("fmt", ["raw", "qcow2"])
def test_guest_writes_survive_and_images_stay_clean(vmm, guest, tmp_path, fmt, cache):
    base = tmp_path / "base.ext4"
    shutil.copy(guest / "rootfs.ext4", base)
    if fmt == "raw":
        disk = base
    else:
        disk = tmp_path / "disk.qcow2"
        kumo_img("create", "-f", "qcow2", "-b", str(base), "-F", "raw", str(disk))
    before = (guest / "rootfs.ext4").read_bytes() if fmt == "qcow2" else None
    payload = "kumo-%s-%d" % (fmt, os.getpid())
    # two vCPUs: two virtqueues, the writes of both CPUs in flight at once
    r = disk_boot(vmm, guest, [f"path={disk},format={fmt},cache={cache}"],
                  f"dd if=/dev/urandom of=/root/blob bs=64k count=64 2>/dev/null & "
                  f"dd if=/dev/urandom of=/root/blob2 bs=4k count=512 2>/dev/null & wait; "
                  f"sha256sum /root/blob /root/blob2 > /root/blob.sum; echo {payload} > /root/note; "
                  f"sync", extra=["--cpus", "2"])
    assert r.returncode == 0, r.stdout[-1500:]
    # second boot reads back what the first wrote (in another caching mode)
    other = CACHES[(CACHES.index(cache) + 1) % len(CACHES)]
    r = disk_boot(vmm, guest, [f"path={disk},format={fmt},cache={other}"],
                  "cat /root/note; sha256sum -c /root/blob.sum")
    assert payload in r.stdout and "/root/blob: OK" in r.stdout, r.stdout[-1500:]
    assert "/root/blob2: OK" in r.stdout, r.stdout[-1500:]
    if fmt == "qcow2":
        c = subprocess.run(["qemu-img", "check", str(disk)], capture_output=True, text=True)
        assert c.returncode == 0, c.stdout + c.stderr
        # the base image is untouched by the guest's writes
        assert base.read_bytes() == before
    fsck_clean(disk, fmt)


def test_backing_chain_of_three(vmm, guest, tmp_path):
    base = tmp_path / "base.ext4"
    shutil.copy(guest / "rootfs.ext4", base)
    mid, top = tmp_path / "mid.qcow2", tmp_path / "top.qcow2"
    kumo_img("create", "-f", "qcow2", "-b", str(base), "-F", "raw", str(mid))
    r = disk_boot(vmm, guest, [f"path={mid},format=qcow2"], "echo layer-two > /root/two; sync")
    assert r.returncode == 0
    kumo_img("create", "-f", "qcow2", "-b", str(mid), "-F", "qcow2", str(top))
    base_sum = subprocess.run(["sha256sum", str(base)], capture_output=True, text=True).stdout
    mid_sum = subprocess.run(["sha256sum", str(mid)], capture_output=True, text=True).stdout
    r = disk_boot(vmm, guest, [f"path={top},format=qcow2"],
                  "cat /root/two; ls /bin/busybox && echo layer-three > /root/three; sync")
    assert "layer-two" in r.stdout and "/bin/busybox" in r.stdout
    # writes went to the top only
    assert subprocess.run(["sha256sum", str(base)], capture_output=True, text=True).stdout == base_sum
    assert subprocess.run(["sha256sum", str(mid)], capture_output=True, text=True).stdout == mid_sum
    for img in (mid, top):
        c = subprocess.run(["qemu-img", "check", str(img)], capture_output=True, text=True)
        assert c.returncode == 0, c.stdout


@pytest.mark.parametrize("cache", CACHES)
def test_kill_9_during_heavy_writes(vmm, guest, tmp_path, cache):
    base = tmp_path / "base.ext4"
    shutil.copy(guest / "rootfs.ext4", base)
    disk = tmp_path / "disk.qcow2"
    kumo_img("create", "-f", "qcow2", "-b", str(base), "-F", "raw", str(disk))
    for attempt in range(4):
        args = [vmm, "--kernel", str(guest / "Image"), "--disk",
                f"path={disk},format=qcow2,cache={cache}", "--cpus", "2", "--append", 'console=ttyS0 root=/dev/vda rw kumo.run="i=0; while true; do '
                'dd if=/dev/urandom of=/root/f$((i % 7)) bs=32k count=32 2>/dev/null; '
                'i=$((i+1)); done"']
        p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
        time.sleep(3 + attempt)
        p.send_signal(signal.SIGKILL)
        p.wait()
        c = subprocess.run(["qemu-img", "check", str(disk)], capture_output=True, text=True)
        # leaked clusters (status 3) are allowed, corruption (2) is not
        assert c.returncode in (0, 3), c.stdout + c.stderr
    # the file system still mounts (the journal replays) and works
    r = disk_boot(vmm, guest, [f"path={disk},format=qcow2,cache={cache}"],
                  "echo mounted-fine; ls /root | wc -l")
    assert "mounted-fine" in r.stdout, r.stdout[-2000:]


def control(path, req):
    s = socket.socket(socket.AF_UNIX)
    s.connect(str(path))
    f = s.makefile("rw")
    f.write(json.dumps(req) + "\n")
    f.flush()
    reply = json.loads(f.readline())
    s.close()
    return reply


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def test_balloon_returns_memory_to_the_host(vmm, guest, tmp_path):
    sock = tmp_path / "ctl.sock"
    # (the marker is computed so that the kernel's echo of its command line
    # does not match it)
    cmd = ("dd if=/dev/zero of=/tmp/fill bs=1M count=120 2>/dev/null; rm /tmp/fill; "
           "echo fill$((40 + 2))ed; sleep 60")
    p = subprocess.Popen(boot_cmd(vmm, guest, cmd, mem=256, extra=["--control", str(sock)]),
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        buf = b""
        while b"fill42ed" not in buf:
            chunk = os.read(p.stdout.fileno(), 4096)
            assert chunk, buf[-1000:]
            buf += chunk
        before = rss_kib(p.pid)
        assert before > 100 * 1024  # the guest touched its memory
        r = control(sock, {"op": "balloon", "target_mib": 64})
        assert r["ok"] and r["target_mib"] == 192
        for _ in range(100):
            r = control(sock, {"op": "balloon"})
            if r["actual_mib"] == 192:
                break
            time.sleep(0.1)
        assert r["actual_mib"] == 192 and r["returned_mib"] == 192, r
        assert "guest" in r and r["guest"]["mem_total"] > 0
        after = rss_kib(p.pid)
        assert after < before - 100 * 1024, (before, after)
        # deflate: the guest gets its memory back
        control(sock, {"op": "balloon", "target_mib": 256})
        for _ in range(100):
            r = control(sock, {"op": "balloon"})
            if r["actual_mib"] == 0:
                break
            time.sleep(0.1)
        assert r["actual_mib"] == 0, r
        bad = control(sock, {"op": "balloon", "target_mib": "lots"})
        assert not bad["ok"] and "target_mib" in bad["error"]
    finally:
        p.kill()
        p.wait()


def test_disk_limits_change_at_run_time(vmm, guest, tmp_path):
    base = tmp_path / "base.ext4"
    shutil.copy(guest / "rootfs.ext4", base)
    sock = tmp_path / "ctl.sock"
    args = [vmm, "--kernel", str(guest / "Image"), "--disk", f"path={base},format=raw,iops=20",
            "--control", str(sock), "--append",
            'console=ttyS0 root=/dev/vda rw kumo.run="sleep 3; echo go; '
            'dd if=/dev/vda of=/dev/null bs=4k count=400 iflag=direct 2>&1 | tail -1; sleep 30"']
    p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    try:
        for _ in range(200):
            if sock.exists() and control(sock, {"op": "status"})["ok"]:
                break
            time.sleep(0.05)
        r = control(sock, {"op": "set_disk_limits", "disk": 0, "iops": 0})
        assert r["ok"]
        s = control(sock, {"op": "status"})
        assert s["ok"] and len(s["disks"]) == 1 and s["vcpus"] == 1
        bad = control(sock, {"op": "set_disk_limits", "disk": 3})
        assert not bad["ok"] and "no such disk" in bad["error"]
    finally:
        p.kill()
        p.wait()
