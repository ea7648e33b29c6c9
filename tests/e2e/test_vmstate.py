"""A VM's saved state with real guests (docs/vmstate.md): a guest computing a
checksum over disk writes and reads, with a ping running, saved and restored
at random moments prints the checksum the test computes itself; clones of one
saved guest differ in their random numbers, MACs and host names, keep the
saved uptime and take the real time; kill -9 during a save leaves the
previous state usable; damaged states and other machines are refused."""
import hashlib
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import time

import pytest

from conftest import BUILD, boot_cmd, run

# A long checksum over the disk: each round writes numbers, syncs, reads
# them back and chains their md5 (printed as C<round>=); a ping runs all
# along. expected_chain() is the same computation on the host.
ROUNDS = 480
CHECKSUM = ("ping -i 0.3 10.0.2.2 >/tmp/ping.log 2>&1 & "
            f"s=0; i=0; while [ $i -lt {ROUNDS} ]; do "
            "seq $((i*700)) $((i*700+1500)) | dd of=/dev/vda bs=4k seek=$((i*4)) conv=fsync 2>/dev/null; "
            "s=$( { echo $s; dd if=/dev/vda bs=4k skip=$((i*4)) count=4 2>/dev/null; } | md5sum | cut -c1-32); "
            "echo C$i=$s; i=$((i+1)); done; echo SUM=$s; kill $!; "
            "echo PINGS=$(grep -c 'bytes from' /tmp/ping.log)")


def round_block(i):
    """The 16 KiB the guest reads back in round i: its numbers, then the
    zeros of the fresh disk."""
    data = "".join(f"{k}\n" for k in range(i * 700, i * 700 + 1501)).encode()
    return data.ljust(16384, b"\0")


def expected_chain():
    """What CHECKSUM prints after each round, computed here."""
    s, chain = "0", []
    for i in range(ROUNDS):
        s = hashlib.md5(s.encode() + b"\n" + round_block(i)).hexdigest()
        chain.append(s)
    return chain


def assert_checksum(out, disk):
    """The guest's SUM= is the host's; if not, say at which round its chain
    went wrong and whether the disk holds that round's bytes."""
    chain = expected_chain()
    got = re.search(r"SUM=([0-9a-f]{32})", out)
    if got and got.group(1) == chain[-1]:
        return
    printed = {int(m.group(1)): m.group(2) for m in re.finditer(r"C(\d+)=([0-9a-f]{32})", out)}
    bad = next((i for i in range(ROUNDS) if printed.get(i) not in (None, chain[i])), None)
    where = "no round printed a wrong value"
    if bad is not None:
        with open(disk, "rb") as f:
            f.seek(bad * 16384)
            on_disk = f.read(16384)
        want = round_block(bad)
        diff = [k for k in range(16384) if on_disk[k] != want[k]]
        where = (f"round {bad} printed {printed[bad]}, not {chain[bad]}; the disk holds "
                 + ("that round's bytes" if not diff else
                    f"{len(diff)} wrong bytes from offset {diff[0]}: "
                    f"{on_disk[diff[0]:diff[0] + 32]!r} for {want[diff[0]:diff[0] + 32]!r}"))
    pytest.fail(f"the guest's checksum is wrong ({got and got.group(1)}, not {chain[-1]}): "
                f"{where}\n{out[-3000:]}")


def control(sock, req, timeout=120):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    s.connect(str(sock))
    s.sendall((json.dumps(req) + "\n").encode())
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    s.close()
    return json.loads(buf)


def send_save(sock, state, then="continue", timeout=120):
    """A save as kumod asks it of a sandboxed kumo-vmm (which opens no
    files): the file made here, its descriptor sent with the request; the
    connection and the temporary file's path, the reply still to read."""
    tmp = f"{state}.tmp-test"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    s.connect(str(sock))
    socket.send_fds(s, [(json.dumps({"op": "save", "path": str(state), "then": then}) + "\n")
                        .encode()], [fd])
    os.close(fd)
    return s, tmp


def save(sock, state, then="continue", timeout=120):
    """Save the VM's state to `state`: written into a temporary file, renamed
    over `state` once kumo-vmm synced it. The reply."""
    s, tmp = send_save(sock, state, then, timeout)
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    s.close()
    reply = json.loads(buf)
    if reply.get("ok"):
        os.rename(tmp, state)
    else:
        os.unlink(tmp)
    return reply


def wait_for(pred, timeout, what):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def wait_socket(sock, proc, timeout=60, finished=None):
    """Wait until the VMM's control socket answers; finished() says whether
    a VMM that already exited with 0 did so because its guest ran to its end
    (a restore taken just before the end can finish before the first poll)."""
    def up():
        if proc.poll() is not None:
            if proc.returncode == 0 and finished and finished():
                return True
            pytest.fail(f"kumo-vmm exited with {proc.returncode}: {proc.stderr.read()[-2000:]}")
        try:
            return control(sock, {"op": "status"}, timeout=5)["ok"]
        except OSError:
            return False
    wait_for(up, timeout, "the control socket")


def start(args, sock, finished=None):
    if os.path.exists(sock):
        os.unlink(sock)
    p = subprocess.Popen(args + ["--control", str(sock)], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_socket(sock, p, finished=finished)
    return p


def text(path):
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


def raw_disk(path, mib=16):
    with open(path, "wb") as f:
        f.truncate(mib << 20)


def test_checksum_survives_saves_and_restores(vmm, guest, tmp_path):
    """The right checksum (the test computes it too) through up to four
    save/restore cycles taken at random moments while the disk and the NIC
    are busy."""
    dev = ["--net", "user", "--console", "none"]
    raw_disk(tmp_path / "b.raw")
    log_b, sock, state = tmp_path / "b.log", tmp_path / "b.sock", tmp_path / "b.state"
    disk = ["--disk", f"path={tmp_path / 'b.raw'}"]
    args = boot_cmd(vmm, guest, run=CHECKSUM, cpus=2, extra=[*disk, *dev,
                                                             "--console-log", str(log_b)])
    p = start(args, sock)
    wait_for(lambda: "booted" in text(log_b), 300, "the guest's boot")
    rng = random.Random(os.getpid())
    restores = 0
    for cycle in range(4):
        time.sleep(rng.uniform(0.5, 3.0))
        if re.search(r"SUM=[0-9a-f]{32}", text(log_b)):
            break
        reply = save(sock, state, "stop")
        assert reply["ok"], reply
        assert p.wait(timeout=60) == 0, p.stderr.read()
        p = start([vmm, "--restore", str(state), *disk, *dev, "--console-log", str(log_b)],
                  sock, finished=lambda: "kumo guest: run exit=" in text(log_b))
        restores += 1
    assert restores >= 2, "the guest finished before two restores: make the work longer"
    assert p.wait(timeout=900) == 0, p.stderr.read()[-2000:]
    out = text(log_b)
    assert_checksum(out, tmp_path / "b.raw")
    pings = int(re.search(r"PINGS=(\d+)", out).group(1))
    assert pings > 0, out[-2000:]
    assert "kumo guest: run exit=0" in out


def guest_lines(log, key):
    """The values the guest printed as KEY=<number> (not the echo of its
    command line)."""
    return re.findall(key + r"=([0-9][0-9.]*)", text(log))


# The template: prints its random numbers, MAC, host name, uptime and wall
# clock every half second.
REPORT = ("while :; do echo R=$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' ') "
          "M=$(cat /sys/class/net/eth0/address) H=$(hostname) "
          "U=$(cut -d' ' -f1 /proc/uptime) D=$(date +%s); sleep 0.5; done")


def test_clones_differ_and_keep_time(vmm, guest, tmp_path):
    log = tmp_path / "t.log"
    sock, state = tmp_path / "t.sock", tmp_path / "t.state"
    args = boot_cmd(vmm, guest, run=REPORT, append="kumo.hostname=template kumo.dhcp=0",
                    extra=["--net", "user", "--console", "none", "--console-log", str(log)])
    p = start(args, sock)
    wait_for(lambda: len(guest_lines(log, "U")) >= 2, 300, "the template's reports")
    reply = save(sock, state, "stop")
    assert reply["ok"], reply
    assert p.wait(timeout=60) == 0
    saved_uptime = float(guest_lines(log, "U")[-1])
    time.sleep(8)  # the guest's time should not see this, its wall clock should

    restored_at = time.time()
    clones = []
    for k in (1, 2):
        clog = tmp_path / f"c{k}.log"
        csock = tmp_path / f"c{k}.sock"
        cargs = [vmm, "--restore", str(state), "--kernel", str(guest / "Image"),
                 "--initrd", str(guest / "initramfs.cpio.gz"),
                 "--append", f"console=ttyS0 kumo.hostname=clone{k} kumo.dhcp=0",
                 "--net", f"user,mac=52:54:00:00:00:0{k}", "--console", "none",
                 "--console-log", str(clog)]
        clones.append((start(cargs, csock), clog, csock))
    try:
        seen = clone_reports(clones, saved_uptime, restored_at)
    finally:
        for proc, _, _ in clones:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
    assert seen[0][0] != seen[1][0], seen  # random numbers
    assert seen[0][1] == "52:54:00:00:00:01" and seen[1][1] == "52:54:00:00:00:02", seen
    assert seen[0][2] == "clone1" and seen[1][2] == "clone2", seen


def clone_reports(clones, saved_uptime, restored_at):
    """(random, MAC, host name) each clone reports after its restore."""
    seen = []
    for proc, clog, csock in clones:
        wait_for(lambda: "kumo guest: restored" in text(clog), 120, "the restore handler")
        # the reports printed after the handler finished
        def after():
            t = text(clog)
            tail = t[t.index("kumo guest: restored"):]
            m = re.findall(r"R=([0-9a-f]+) M=(\S+) H=(\S+) U=([0-9.]+) D=([0-9]+)", tail)
            return m[1] if len(m) >= 2 else None
        rand, mac, host, up, date = wait_for(after, 60, "a report after the restore")
        seen.append((rand, mac, host))
        assert float(up) < saved_uptime + 6, (up, saved_uptime)  # uptime went on from the save
        # the real time (a report printed after the restore), not the saved
        # time 8 s before it
        assert restored_at - 2 <= int(date) <= time.time() + 1, (date, restored_at, time.time())
        control(csock, {"op": "stop"})
        proc.wait(timeout=60)
    return seen


def test_kill_during_save_keeps_the_previous_state(vmm, guest, tmp_path):
    log, sock, state = tmp_path / "k.log", tmp_path / "k.sock", tmp_path / "k.state"
    fill = ("dd if=/dev/urandom of=/tmp/fill bs=1M count=200 2>/dev/null; echo FILLED; "
            "i=0; while :; do i=$((i+1)); echo N=$i; sleep 1; done")
    args = boot_cmd(vmm, guest, run=fill, mem=512,
                    extra=["--console", "none", "--console-log", str(log)])
    p = start(args, sock)
    # (a line of its own: the kernel's command line has the word too)
    wait_for(lambda: re.search(r"^FILLED", text(log), re.M), 600, "200 MiB of data in the guest")
    reply = save(sock, state, "continue")
    assert reply["ok"] and reply["ram_bytes"] > 200 << 20, reply
    good = state.read_bytes()[:4096]
    # a second save, killed while it writes
    t, tmp = send_save(sock, state)
    wait_for(lambda: os.path.getsize(tmp) > 8192, 60, "the second save to begin")
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=30)
    t.close()
    assert state.read_bytes()[:4096] == good  # the previous state, whole
    os.unlink(tmp)
    # ... and usable: the guest goes on counting
    n_before = len(guest_lines(log, "N"))
    p = start([vmm, "--restore", str(state), "--console", "none", "--console-log", str(log)],
              sock)
    wait_for(lambda: len(guest_lines(log, "N")) > n_before + 2, 120, "the restored guest")
    control(sock, {"op": "stop"})
    p.wait(timeout=60)


def test_damaged_states_and_other_machines_refused(vmm, guest, tmp_path):
    log, sock, state = tmp_path / "d.log", tmp_path / "d.sock", tmp_path / "d.state"
    raw_disk(tmp_path / "d.raw")
    disk = ["--disk", f"path={tmp_path / 'd.raw'}"]
    args = boot_cmd(vmm, guest, run="while :; do sleep 1; done",
                    extra=[*disk, "--console", "none", "--console-log", str(log)])
    p = start(args, sock)
    wait_for(lambda: "kumo guest: booted" in text(log), 300, "boot")
    reply = save(sock, state, "stop")
    assert reply["ok"], reply
    p.wait(timeout=60)

    def refused(path, extra, want):
        r = run([vmm, "--restore", str(path), "--console", "none", *extra], timeout=60)
        assert r.returncode == 125 and want in r.stderr, (r.returncode, r.stderr)

    size = state.stat().st_size
    bad = tmp_path / "bad.state"
    shutil.copy(state, bad)
    os.truncate(bad, size // 2)
    refused(bad, disk, "truncated")
    shutil.copy(state, bad)
    with open(bad, "r+b") as f:
        f.seek(4096 + 200)
        b = f.read(1)
        f.seek(4096 + 200)
        f.write(bytes([b[0] ^ 4]))
    refused(bad, disk, "corrupted")
    refused(state, disk + ["--mem", "512"], "give --mem 256")
    refused(state, disk + ["--cpus", "2"], "give --cpus 1")
    refused(state, [], "--disk")
    raw_disk(tmp_path / "other.raw", mib=8)
    refused(state, ["--disk", f"path={tmp_path / 'other.raw'}"], "the disk had")
    # and the good one still restores
    p = start([vmm, "--restore", str(state), *disk, "--console", "none"], sock)
    assert control(sock, {"op": "status"})["state"] == "running"
    control(sock, {"op": "stop"})
    p.wait(timeout=60)


def test_save_of_a_guest_larger_than_a_gib(vmm, guest, tmp_path):
    """A sandboxed VMM saves a 1.5 GiB guest (the file is larger than the
    sandbox's 1 GiB floor for file sizes) and the restore runs on."""
    log, sock, state = tmp_path / "g.log", tmp_path / "g.sock", tmp_path / "g.state"
    args = boot_cmd(vmm, guest, run="i=0; while :; do i=$((i+1)); echo G=$i; sleep 0.2; done",
                    mem=1536, extra=["--console", "none", "--console-log", str(log)])
    p = start(args, sock)
    wait_for(lambda: len(guest_lines(log, "G")) > 2, 300, "the guest's ticks")
    reply = save(sock, state, "stop")
    assert reply["ok"] and reply["bytes"] > 1536 << 20, reply
    assert p.wait(timeout=60) == 0
    n = len(guest_lines(log, "G"))
    p = start([vmm, "--restore", str(state), "--console", "none", "--console-log", str(log)], sock)
    wait_for(lambda: len(guest_lines(log, "G")) > n + 2, 60, "the restored guest's ticks")
    control(sock, {"op": "stop"})
    p.wait(timeout=60)


def test_pause_and_resume(vmm, guest, tmp_path):
    log, sock = tmp_path / "p.log", tmp_path / "p.sock"
    args = boot_cmd(vmm, guest, run="i=0; while :; do i=$((i+1)); echo T=$i; sleep 0.2; done",
                    extra=["--console", "none", "--console-log", str(log)])
    p = start(args, sock)
    wait_for(lambda: len(guest_lines(log, "T")) > 2, 300, "the guest's ticks")
    # a sandboxed VMM makes no files: a save by path is refused, saying how
    r = control(sock, {"op": "save", "path": str(tmp_path / "p.state")})
    assert not r["ok"] and "SCM_RIGHTS" in r["error"], r
    assert not (tmp_path / "p.state").exists()
    r = control(sock, {"op": "pause"})
    assert r["ok"] and r["state"] == "paused"
    n = len(guest_lines(log, "T"))
    time.sleep(2)
    assert len(guest_lines(log, "T")) <= n + 1  # nothing runs (one line may be in flight)
    assert control(sock, {"op": "status"})["state"] == "paused"
    assert control(sock, {"op": "resume"})["state"] == "running"
    wait_for(lambda: len(guest_lines(log, "T")) > n + 3, 60, "ticks after the resume")
    control(sock, {"op": "stop"})
    p.wait(timeout=60)


def migrate(sock, incoming, timeout=300):
    """Live-migrate the VM whose control socket is `sock` to the kumo-vmm
    waiting on `incoming`, as kumod asks a sandboxed VMM (which connects
    nowhere): the socket connected here, sent with the request."""
    wait_for(lambda: os.path.exists(incoming), 60, "the destination's socket")
    peer = socket.socket(socket.AF_UNIX)
    peer.connect(str(incoming))
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    s.connect(str(sock))
    socket.send_fds(s, [(json.dumps({"op": "migrate"}) + "\n").encode()], [peer.fileno()])
    peer.close()
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    s.close()
    return json.loads(buf)


def test_live_migration_keeps_the_computation(vmm, guest, tmp_path):
    """A guest computing the disk checksum (disk and NIC busy) moved twice
    between kumo-vmm processes while it runs prints the checksum the test
    computes; each source exits 0 once its destination runs the VM."""
    dev = ["--net", "user", "--console", "none"]
    raw_disk(tmp_path / "b.raw")
    disk = ["--disk", f"path={tmp_path / 'b.raw'}"]
    logs = [tmp_path / f"m{k}.log" for k in range(3)]
    args = lambda k: boot_cmd(vmm, guest, run=CHECKSUM, cpus=2,  # noqa: E731
                              extra=[*disk, *dev, "--console-log", str(logs[k])])
    sock = tmp_path / "m0.sock"
    p = start(args(0), sock)
    wait_for(lambda: "kumo guest: booted" in text(logs[0]), 300, "the guest's boot")
    rng = random.Random(os.getpid())
    replies = []
    for k in (1, 2):
        time.sleep(rng.uniform(0.5, 2.0))
        if re.search(r"SUM=[0-9a-f]{32}", "".join(text(x) for x in logs)):
            break
        incoming, nsock = tmp_path / f"m{k}.in", tmp_path / f"m{k}.sock"
        if nsock.exists():
            nsock.unlink()
        q = subprocess.Popen(args(k) + ["--incoming", str(incoming), "--control", str(nsock)],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        reply = migrate(sock, incoming)
        assert reply.get("ok"), (reply, q.poll(), q.stderr.read() if q.poll() is not None else "")
        assert reply["rounds"] >= 1 and reply["downtime_ms"] <= reply["total_ms"], reply
        replies.append(reply)
        assert p.wait(timeout=60) == 0, p.stderr.read()  # the source ends
        p, sock = q, nsock
    assert replies, "the guest finished before the first migration: make the work longer"
    assert p.wait(timeout=900) == 0, p.stderr.read()[-2000:]
    out = "".join(text(x) for x in logs)
    assert_checksum(out, tmp_path / "b.raw")
    assert int(re.search(r"PINGS=(\d+)", out).group(1)) > 0, out[-2000:]
    assert "kumo guest: run exit=0" in out
    print("\nmigrations:", [(r["rounds"], round(r["total_ms"]), round(r["downtime_ms"], 1),
                             r["bytes_sent"] >> 20) for r in replies])


def fake_destination(path, behaviour):
    """A destination that fails: "close" hangs up after the first bytes of
    RAM, "refuse" reads everything and answers an error."""
    import threading
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(str(path))
    srv.listen(1)

    def serve():
        c, _ = srv.accept()
        if behaviour == "close":
            c.recv(65536)
        else:
            # everything, until the source waits for the answer (idle)
            c.settimeout(1.0)
            got = 0
            while True:
                try:
                    chunk = c.recv(1 << 20)
                except socket.timeout:
                    if got:
                        break
                    continue
                if not chunk:
                    break
                got += len(chunk)
            c.sendall(b"error: this destination says no\n")
        c.close()
        srv.close()
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return t


def test_failed_migration_leaves_the_vm_running(vmm, guest, tmp_path):
    """A destination that hangs up mid-stream, and one that refuses the VM
    after it was sent: each time the source VM runs on (its guest ticking,
    its disk its own again), and then migrates to a real destination."""
    log, sock = tmp_path / "f.log", tmp_path / "f.sock"
    raw_disk(tmp_path / "f.raw")
    disk = ["--disk", f"path={tmp_path / 'f.raw'}"]
    work = "i=0; while :; do i=$((i+1)); echo T=$i > /dev/vda; echo T=$i; sleep 0.2; done"
    args = boot_cmd(vmm, guest, run=work, extra=[*disk, "--console", "none",
                                                 "--console-log", str(log)])
    p = start(args, sock)
    wait_for(lambda: len(guest_lines(log, "T")) > 2, 300, "the guest's ticks")
    for k, behaviour in enumerate(("close", "refuse")):
        dest = tmp_path / f"fake{k}.in"
        t = fake_destination(dest, behaviour)
        reply = migrate(sock, dest)
        t.join(timeout=60)
        assert not reply["ok"] and not reply["paused"], reply
        want = "went away" if behaviour == "close" else "this destination says no"
        assert want in reply["error"], reply
        assert control(sock, {"op": "status"})["state"] == "running"
        n = len(guest_lines(log, "T"))
        wait_for(lambda: len(guest_lines(log, "T")) > n + 2, 60, "ticks after the failure")
        # the disk is locked again: nobody else may open it for writing
        r = run([vmm, "--kernel", str(guest / "Image"), *disk, "--console", "none"], timeout=60)
        assert r.returncode != 0 and "in use" in r.stderr, r.stderr
    # and a real destination takes it
    log2, sock2, dest = tmp_path / "f2.log", tmp_path / "f2.sock", tmp_path / "real.in"
    q = subprocess.Popen(boot_cmd(vmm, guest, run=work,
                                  extra=[*disk, "--console", "none", "--console-log", str(log2),
                                         "--incoming", str(dest), "--control", str(sock2)]),
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    reply = migrate(sock, dest)
    assert reply["ok"], (reply, q.stderr.read() if q.poll() is not None else "")
    assert p.wait(timeout=60) == 0
    wait_for(lambda: len(guest_lines(log2, "T")) > 2, 60, "ticks at the destination")
    control(sock2, {"op": "stop"})
    q.wait(timeout=60)
