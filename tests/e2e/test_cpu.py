"""kumo-vmm's CPU controls with real guests: an idle vCPU counts as idle, not
busy; a noisy neighbour on the same host core held to its cap (measured by
kumo-vmm's own busy and throttled counters over several seconds), and its
weight giving the victim the larger share; command-line and control-socket
errors. Figures (shares with and without limits) come from bench/noisy.sh;
here only relations that hold on a loaded machine are asserted."""
import json
import os
import re
import socket
import subprocess
import time

import pytest

from conftest import boot_cmd


def control(path, req):
    s = socket.socket(socket.AF_UNIX)
    s.connect(str(path))
    f = s.makefile("rw")
    f.write(json.dumps(req) + "\n")
    f.flush()
    reply = json.loads(f.readline())
    s.close()
    return reply


def wait_for(p, marker, timeout=300):
    """Read the console until marker (bytes) appears."""
    buf = b""
    deadline = time.time() + timeout
    while marker not in buf:
        assert time.time() < deadline, buf[-2000:]
        chunk = os.read(p.stdout.fileno(), 4096)
        assert chunk, buf[-2000:]
        buf += chunk
    return buf


def boot(vmm, guest, tmp_path, name, cmd, extra=()):
    sock = tmp_path / f"{name}.sock"
    p = subprocess.Popen(boot_cmd(vmm, guest, cmd, mem=128,
                                  extra=["--control", str(sock), *extra]),
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    return p, sock


def window(socks, seconds):
    """Busy, idle, throttled and wall ns of each VM over a window."""
    a = [control(s, {"op": "status"}) for s in socks]
    time.sleep(seconds)
    b = [control(s, {"op": "status"}) for s in socks]
    out = []
    for x, y in zip(a, b):
        d = {k: sum(y[k]) - sum(x[k])
             for k in ("vcpu_busy_ns", "vcpu_idle_ns", "vcpu_throttled_ns")}
        d["wall"] = y["uptime_ns"] - x["uptime_ns"]
        out.append(d)
    return out


# A CPU-bound shell loop; the marker is computed so that the kernel's echo of
# its command line does not match it.
SPIN = "echo spin$((40 + 2)); while true; do :; done"


def test_idle_vcpu_is_idle_not_busy(vmm, guest, tmp_path):
    p, sock = boot(vmm, guest, tmp_path, "idle",
                   "echo idle$((40 + 2)); sleep 600")
    try:
        wait_for(p, b"idle42")
        time.sleep(0.5)
        (w,) = window([sock], 3)
        # sleeping in WFI: idle time accrues with the wall clock, busy barely
        assert w["vcpu_idle_ns"] > w["wall"] // 2, w
        assert w["vcpu_busy_ns"] < w["vcpu_idle_ns"] // 4, w
        assert w["vcpu_throttled_ns"] == 0, w
        s = control(sock, {"op": "status"})
        assert s["cpu"] == {"cap_pct": 100.0, "weight": 100, "affinity": None,
                            "weight_applies_to": s["cpu"]["weight_applies_to"]}
        assert len(s["vcpu_idle_ns"]) == len(s["vcpu_throttled_ns"]) == 1
    finally:
        p.kill()
        p.wait()


def test_noisy_neighbour_held_to_its_cap_and_weight(vmm, guest, tmp_path):
    cpus = sorted(os.sched_getaffinity(0))
    core = str(cpus[-1])
    # both VMs on the same host core, both spinning
    # run niced (e.g. `nice scripts/test.sh`), the VMs' threads inherit that
    # nice, and weights are absolute nice values: give the victim a weight of
    # about the default (nice 0) explicitly, at start (a sandboxed VMM gives
    # up the privilege to lower its nice later)
    niced = os.nice(0) != 0
    if niced and os.geteuid() != 0:
        pytest.skip("niced test run and not root: cannot renice the victim to nice 0")
    noisy, nsock = boot(vmm, guest, tmp_path, "noisy", SPIN, ["--cpu-affinity", core])
    victim, vsock = boot(vmm, guest, tmp_path, "victim", SPIN,
                         ["--cpu-affinity", core] + (["--cpu-weight", "99"] if niced else []))
    try:
        wait_for(noisy, b"spin42")
        wait_for(victim, b"spin42")
        for s in (nsock, vsock):
            assert control(s, {"op": "status"})["cpu"]["affinity"] == core
        # cap the noisy one at 5 % of a core (below what it gets on its half of
        # the core even when the host is busy: 12 % at load average 12)
        r = control(nsock, {"op": "set_cpu", "cap_pct": 5})
        assert r["ok"] and r["cpu"]["cap_pct"] == 5.0, r
        time.sleep(0.5)
        n, v = window([nsock, vsock], 5)
        busy_pct = 100.0 * n["vcpu_busy_ns"] / n["wall"]
        # the cap is a ceiling whatever else the host runs (load only lowers it)
        assert busy_pct <= 5.0 + 2.0, (busy_pct, n)
        # and it bound: the noisy vCPU wanted more and was held back (unless the
        # host gave it less than its cap anyway)
        assert n["vcpu_throttled_ns"] > n["wall"] // 4 or busy_pct < 4.0, n
        assert v["vcpu_throttled_ns"] == 0, v
        # lifted: the noisy one is no longer throttled
        r = control(nsock, {"op": "set_cpu", "cap_pct": 100})
        assert r["ok"] and r["cpu"]["cap_pct"] == 100.0
        time.sleep(0.2)
        n, v = window([nsock, vsock], 2)
        assert n["vcpu_throttled_ns"] < 20_000_000, n  # at most one last sleep
        # weight: the noisy one at 10, the victim at the default 100 (nice 10 vs
        # 0 in the same scheduling group: CFS gives ~9:1); half would mean the
        # weight did nothing
        r = control(nsock, {"op": "set_cpu", "weight": 10})
        assert r["ok"] and r["cpu"]["weight"] == 10, r
        time.sleep(0.5)
        n, v = window([nsock, vsock], 5)
        share = v["vcpu_busy_ns"] / (v["vcpu_busy_ns"] + n["vcpu_busy_ns"])
        assert share > 0.65, (share, n, v)
    finally:
        for p in (noisy, victim):
            p.kill()
            p.wait()


def test_cpu_option_and_control_errors(vmm, guest, tmp_path):
    for args, words in ((["--cpu-cap", "0"], "--cpu-cap 0"),
                        (["--cpu-cap", "150"], "from 1 to 100"),
                        (["--cpu-weight", "0"], "--cpu-weight 0"),
                        (["--cpu-affinity", "3-1"], "--cpu-affinity")):
        r = subprocess.run(boot_cmd(vmm, guest, "true", extra=args), capture_output=True,
                           text=True, timeout=30)
        assert r.returncode == 2 and words in r.stderr, (args, r.returncode, r.stderr)
    p, sock = boot(vmm, guest, tmp_path, "errs", "echo up$((40 + 2)); sleep 600",
                   ["--cpu-cap", "22.5"])
    try:
        wait_for(p, b"up42")
        assert control(sock, {"op": "status"})["cpu"]["cap_pct"] == 22.5
        for req, words in (({"cap_pct": 0}, "cap_pct"), ({"cap_pct": "x"}, "cap_pct"),
                           ({"weight": 20000}, "weight"), ({"affinity": 3}, "affinity"),
                           ({"affinity": "1-"}, "CPU list")):
            r = control(sock, {"op": "set_cpu", **req})
            assert not r["ok"] and words in r["error"], (req, r)
        # a weight above the default (nice -3) needs CAP_SYS_NICE, which a
        # sandboxed VMM gives up with root, or an RLIMIT_NICE that allows it
        # (raised to 40 by the sandbox where the host lets root do that)
        r = control(sock, {"op": "set_cpu", "weight": 200})
        if nice_limit(p.pid) >= 20 + 3:
            assert r["ok"] and r["cpu"]["weight"] == 200, r
        else:
            assert not r["ok"] and "CAP_SYS_NICE" in r["error"], r
    finally:
        p.kill()
        p.wait()
    # without the sandbox, root keeps CAP_SYS_NICE: it applies
    if os.geteuid() == 0:
        p, sock = boot(vmm, guest, tmp_path, "errs2", "echo up$((40 + 2)); sleep 600",
                       ["--sandbox", "off"])
        try:
            wait_for(p, b"up42")
            r = control(sock, {"op": "set_cpu", "weight": 200})
            assert r["ok"] and r["cpu"]["weight"] == 200, r
        finally:
            p.kill()
            p.wait()


def nice_limit(pid):
    """The soft RLIMIT_NICE of a process (20 - the lowest nice it may set)."""
    for line in open(f"/proc/{pid}/limits"):
        if line.startswith("Max nice priority"):
            return int(line.split()[3])
    return 0


def thread_nices(pid):
    """{thread name: nice} of a process."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            name = open(f"/proc/{pid}/task/{tid}/comm").read().strip()
            stat = open(f"/proc/{pid}/task/{tid}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[name] = int(stat[16])  # field 19 of stat: nice
    return out


def test_weight_goes_to_threads_or_to_the_session_group(vmm, guest, tmp_path):
    # not a session leader (as here): nice on each vCPU thread
    p, sock = boot(vmm, guest, tmp_path, "thr", "echo up$((40 + 2)); sleep 600",
                   ["--cpu-weight", "50"])
    try:
        wait_for(p, b"up42")
        s = control(sock, {"op": "status"})
        assert s["cpu"]["weight"] == 50 and s["cpu"]["weight_applies_to"] == "vCPU threads", s
        assert thread_nices(p.pid).get("vcpu0") == 3, thread_nices(p.pid)
        assert control(sock, {"op": "set_cpu", "weight": 10})["ok"]
        assert thread_nices(p.pid).get("vcpu0") == 10, thread_nices(p.pid)
    finally:
        p.kill()
        p.wait()
    # a session leader with autogroups (how kumod starts VMs): the session's group
    try:
        enabled = open("/proc/sys/kernel/sched_autogroup_enabled").read().strip() == "1"
    except OSError:
        enabled = False
    if not enabled:
        pytest.skip("the kernel does not group sessions (sched_autogroup_enabled)")
    sock = tmp_path / "grp.sock"
    p = subprocess.Popen(boot_cmd(vmm, guest, "echo up$((40 + 2)); sleep 600", mem=128,
                                  extra=["--control", str(sock), "--cpu-weight", "50"]),
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(p, b"up42")
        s = control(sock, {"op": "status"})
        assert s["cpu"]["weight_applies_to"] == "session group", s
        assert open(f"/proc/{p.pid}/autogroup").read().split()[-1] == "3"  # "/autogroup-N nice 3"
        # the VM's own threads stay even (at the nice they inherited)
        assert thread_nices(p.pid).get("vcpu0") == os.nice(0)
        # changed at run time (down: a sandboxed VMM may always lower its share)
        assert control(sock, {"op": "set_cpu", "weight": 10})["ok"]
        assert open(f"/proc/{p.pid}/autogroup").read().split()[-1] == "10"
    finally:
        p.kill()
        p.wait()


def test_steal_time_is_visible_to_the_guest(vmm, progs):
    """SBI STA: an S-mode program registers its steal-time area, spins ~2 s
    of its own clock under a 20 % cap, and reads how long its vCPU was held
    back; the program itself checks the extension's error answers."""
    r = subprocess.run([vmm, "--kernel", str(progs / "sta.bin"), "--cpu-cap", "20"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    m = re.search(r"sta seq=([0-9a-f]{16}) steal=([0-9a-f]{16}) elapsed=([0-9a-f]{16})",
                  r.stdout)
    assert m, r.stdout
    seq, steal, ticks = (int(g, 16) for g in m.groups())
    elapsed_ns = ticks * 100  # 10 MHz timebase
    assert seq > 0 and seq % 2 == 0, seq  # updated, and not caught mid-update
    # held to 20 % of a core, the vCPU waited at least most of the rest
    assert 0.6 * elapsed_ns <= steal <= elapsed_ns, (steal, elapsed_ns)
