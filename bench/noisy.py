#!/usr/bin/python3
"""bench/noisy.py (run through bench/noisy.sh): noisy neighbours on one host core.

Two kumo-vmm guests pinned to the same host core: the noisy one spins, the
victim runs a fixed CPU job in a loop (a shell count to 1000) and prints a
tick after each job. For each setting the script measures, over a window,
the victim's share of the two VMs' vCPU busy time (kumo-vmm's counters), its
jobs per second (ticks on its console) and the noisy one's busy percent of a
core. Settings: no limits; kumo-vmm's cap on the noisy one (20 %, 5 %); kumo-vmm's
weight (10 vs 100); and, as the peer, the Linux CFS bandwidth controller
(cgroup v1 cpu.cfs_quota_us, 20 ms per 100 ms: what libvirt sets for QEMU's
<vcpu_quota>) on the noisy process, when the host has a writable cgroup v1
cpu hierarchy. Figures only, no pass/fail: timings go here, not in tests.
"""
import argparse
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CG = "/sys/fs/cgroup/cpu"


def control(path, req):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    f = s.makefile("rw")
    f.write(json.dumps(req) + "\n")
    f.flush()
    r = json.loads(f.readline())
    s.close()
    return r


class Guest:
    def __init__(self, vmm, guest, name, cmd, core, tmp):
        self.sock = os.path.join(tmp, name + ".sock")
        append = 'console=ttyS0 kumo.run="%s"' % cmd
        self.p = subprocess.Popen(
            [vmm, "--kernel", os.path.join(guest, "Image"), "--initrd",
             os.path.join(guest, "initramfs.cpio.gz"), "--append", append, "--mem", "128",
             "--control", self.sock, "--cpu-affinity", core],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.ticks = 0
        self.started = threading.Event()
        threading.Thread(target=self.read, daemon=True).start()

    def read(self):
        buf = b""
        while True:
            chunk = os.read(self.p.stdout.fileno(), 4096)
            if not chunk:
                return
            buf = (buf + chunk)[-4096:]
            if b"go42" in buf:
                self.started.set()
            n = len(re.findall(rb"tick\d", chunk))
            self.ticks += n

    def status(self):
        return control(self.sock, {"op": "status"})

    def stop(self):
        self.p.kill()
        self.p.wait()


def measure(noisy, victim, seconds):
    a = (noisy.status(), victim.status(), victim.ticks)
    time.sleep(seconds)
    b = (noisy.status(), victim.status(), victim.ticks)
    nb = sum(b[0]["vcpu_busy_ns"]) - sum(a[0]["vcpu_busy_ns"])
    vb = sum(b[1]["vcpu_busy_ns"]) - sum(a[1]["vcpu_busy_ns"])
    wall = b[0]["uptime_ns"] - a[0]["uptime_ns"]
    return {"victim_share": vb / (vb + nb) if vb + nb else 0.0,
            "victim_jobs_per_s": (b[2] - a[2]) / seconds,
            "noisy_busy_pct": 100.0 * nb / wall,
            "victim_busy_pct": 100.0 * vb / wall}


def cgroup_cap(pid, quota_us):
    """Peer: put every thread of pid in a cgroup v1 with a CFS quota."""
    d = os.path.join(CG, "kumo-bench-noisy")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "cpu.cfs_period_us"), "w") as f:
        f.write("100000")
    with open(os.path.join(d, "cpu.cfs_quota_us"), "w") as f:
        f.write(str(quota_us))
    for tid in os.listdir("/proc/%d/task" % pid):
        with open(os.path.join(d, "tasks"), "w") as f:
            f.write(tid)
    return d


def cgroup_release(pid, d):
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open(os.path.join(CG, "tasks"), "w") as f:
                f.write(tid)
        except OSError:
            pass
    try:
        os.rmdir(d)
    except OSError:
        pass


def main():
    ap = argparse.ArgumentParser(description="noisy neighbours: the victim's share")
    ap.add_argument("--vmm", default=os.path.join(ROOT, "build", "kumo-vmm"))
    ap.add_argument("--guest", default=os.environ.get("KUMO_GUEST_DIR"))
    ap.add_argument("--seconds", type=float, default=8.0, help="window per setting (default 8)")
    ap.add_argument("--json", help="also write the figures to this file")
    a = ap.parse_args()
    if not a.guest:
        a.guest = subprocess.run([os.path.join(ROOT, "guest", "build.sh")], check=True,
                                 capture_output=True, text=True).stdout.strip().splitlines()[-1]
    core = str(sorted(os.sched_getaffinity(0))[-1])
    tmp = "/tmp/kumo-bench-noisy-%d" % os.getpid()
    os.makedirs(tmp, exist_ok=True)
    job = ("echo go$((40 + 2)); i=0; while true; do j=0; while [ $j -lt 1000 ]; do "
           "j=$((j + 1)); done; i=$((i + 1)); echo tick$i; done")
    noisy = Guest(a.vmm, a.guest, "noisy", "echo go$((40 + 2)); while true; do :; done", core,
                  tmp)
    victim = Guest(a.vmm, a.guest, "victim", job, core, tmp)
    rows = []
    try:
        for g in (noisy, victim):
            if not g.started.wait(300):
                sys.exit("a guest did not start; see its console")
        time.sleep(1)
        rows.append(("no limits", measure(noisy, victim, a.seconds)))
        for cap in (20, 5):
            control(noisy.sock, {"op": "set_cpu", "cap_pct": cap})
            time.sleep(0.5)
            rows.append(("kumo cap %d%% on noisy" % cap, measure(noisy, victim, a.seconds)))
        control(noisy.sock, {"op": "set_cpu", "cap_pct": 100, "weight": 10})
        time.sleep(0.5)
        rows.append(("kumo weight 10 vs 100", measure(noisy, victim, a.seconds)))
        control(noisy.sock, {"op": "set_cpu", "weight": 100})
        if os.access(CG, os.W_OK):
            d = cgroup_cap(noisy.p.pid, 20000)
            time.sleep(0.5)
            rows.append(("peer: cgroup v1 CFS quota 20%", measure(noisy, victim, a.seconds)))
            cgroup_release(noisy.p.pid, d)
        else:
            print("(no writable cgroup v1 cpu hierarchy at %s: no peer row)" % CG)
    finally:
        noisy.stop()
        victim.stop()
    print("noisy neighbours on host core %s, %.0f s per setting" % (core, a.seconds))
    print("%-32s %13s %15s %12s %12s" % ("setting", "victim share", "victim jobs/s",
                                         "victim busy", "noisy busy"))
    for name, r in rows:
        print("%-32s %12.1f%% %15.2f %11.1f%% %11.1f%%" % (
            name, 100 * r["victim_share"], r["victim_jobs_per_s"], r["victim_busy_pct"],
            r["noisy_busy_pct"]))
    base = rows[0][1]
    for name, r in rows[1:]:
        if base["victim_jobs_per_s"] > 0:
            print("%s: victim share x%.2f, victim jobs/s x%.2f vs no limits" % (
                name, r["victim_share"] / base["victim_share"],
                r["victim_jobs_per_s"] / base["victim_jobs_per_s"]))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"core": core, "seconds": a.seconds, "rows": dict(rows)}, f, indent=1)


if __name__ == "__main__":
    main()
