#!/usr/bin/python3
"""bench/cluster.py: kumod's cluster mode (docs/cluster.md) against one host
alone, on this machine, with real guests. Figures only; it asserts nothing.

- creates per second: N VM creates (1 vCPU / 128 MiB, no wait for the boot)
  sent by 3 clients at once, to one kumod in single-host mode (SQLite
  alone), to a 1-host cluster, and to a 3-host cluster (one client per
  host); each create is one transaction (in a cluster: the write lock and
  an etcd transaction, with fsyncs on three members);
- time from a host's death (kill -9 of its kumod and kumo-vmm) to its VM
  Running on another host, and to the guest's first heartbeat from there;
- VM-to-VM TCP throughput (busybox wget of a 16 MiB file from busybox httpd)
  and ping round trips (ping -c 20) between two VMs of one host (kumo-switch
  alone) and of two hosts (VXLAN between the switches).

The hosts are network namespaces on a bridge, the etcd members three
processes on the bridge's address, as in tests/e2e/test_cluster.py
(tests/e2e/cluster_lab.py). Needs root and etcd.

Usage: bench/cluster.py [--creates N] [--reps R]
Environment: KUMO_BUILD (default build/), KUMO_GUEST_DIR.
"""
import argparse
import json
import os
import pathlib
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
os.environ.setdefault("KUMO_BUILD", str(ROOT / "build"))
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from cluster_lab import HEARTBEAT, TINY, Cluster, Console, Host  # noqa: E402
from conftest import BUILD  # noqa: E402

G = "rg"
VMS = f"/v1/resourceGroups/{G}/virtualMachines"


def wait(pred, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            r = pred()
            if r:
                return r
        except (OSError, AssertionError, KeyError, TypeError):
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{what}: not within {timeout} s")


def pids_with(needle):
    """Processes whose command line has needle (this run's data directory)."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            cmd = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if needle in cmd:
            out.append(int(pid))
    return out


def burst(clients, n):
    """n creates from len(clients) threads at once: creates per second."""
    names = [f"c{i}" for i in range(n)]
    codes = {}

    def run(ci):
        h = clients[ci]
        for i in range(ci, n, len(clients)):
            st, j = h.request("POST", VMS, {"name": names[i], "size": "Tiny", "vnet": "bnet",
                                            "nsg": None})
            codes[i] = st
    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(clients))]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.perf_counter() - t0
    bad = [c for c in codes.values() if c != 202]
    if bad:
        raise RuntimeError(f"creates refused: {bad}")
    return n / took


def cleanup(h, timeout=600):
    """Delete every VM (a VM still being created refuses: asked again)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        left = h.ok("GET", VMS)["value"]
        if not left:
            return
        for v in left:
            if v["provisioningState"] != "Deleting":
                h.request("DELETE", f"{VMS}/{v['name']}")
        time.sleep(2)
    raise RuntimeError("VMs deleted: not within the time")


class Single(Host):
    """kumod in single-host mode, in the root namespace."""

    def __init__(self, root, guest):
        self.root = pathlib.Path(root)
        self.name, self.data, self.proc, self.token = "single", self.root / "single", None, None
        self.guest = guest

    def start(self, timeout=120):
        self.data.mkdir(exist_ok=True)
        log = open(self.root / "single.log", "ab")
        self.proc = subprocess.Popen(
            [str(BUILD / "kumod"), "--data-dir", str(self.data), "--guest-dir", self.guest,
             "--host-cpus", "6", "--cpu-ratio", "4", "--shutdown-timeout", "0",
             "--metrics-interval", "5"], stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                if self.request("GET", "/v1/health", token=False)[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        self.token = (self.data / "token").read_text().strip()
        return self

    def log(self):
        return (self.root / "single.log").read_text(errors="replace")


def net_figures(cl, console_of):
    """TCP MB/s and ping ms between a@h1 and b@h1 (within) and c@h2 (across)."""
    out = {}
    srv = console_of("a")
    srv.sh("mkdir -p /www && dd if=/dev/zero of=/www/big bs=1M count=16 2>/dev/null && "
           "httpd -p 8080 -h /www")
    ip_a = cl.any().vm(G, "a")["networkInterfaces"][0]["privateIp"]
    for peer, label in (("b", "within a host"), ("c", "across hosts")):
        con = console_of(peer)
        con.sh(f"ping -c 2 -W 5 {ip_a}")  # ARP, flows, warm
        tput, rtt = [], []
        for _ in range(ARGS.reps):
            t0 = time.perf_counter()  # a console round trip is ms; the transfer seconds
            o, st = con.sh(f"wget -q -O /dev/null http://{ip_a}:8080/big", timeout=300)
            if st == 0:
                tput.append(16 * 1048576 / 1e6 / (time.perf_counter() - t0))
            o, st = con.sh(f"ping -c 20 -i 0.2 {ip_a}", timeout=120)
            m = re.search(r"= [\d.]+/([\d.]+)/", o)
            if m:
                rtt.append(float(m.group(1)))
        out[label] = {"tcp_MBps": tput, "ping_avg_ms": rtt}
        con.close()
    srv.close()
    return out


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--creates", type=int, default=12)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--skip-creates", action="store_true", help="only the 3-host figures")
    ap.add_argument("--only-creates", action="store_true", help="only creates per second")
    ARGS = ap.parse_args()
    guest = os.environ.get("KUMO_GUEST_DIR")
    if not guest:
        sys.exit("set KUMO_GUEST_DIR (guest/build.sh prints it)")
    res = {"build": str(BUILD), "creates": ARGS.creates}

    if ARGS.skip_creates:
        cl = Cluster(guest, hosts=3)
        try:
            cl.hosts["h1"].ok("POST", "/v1/resourceGroups", {"name": G})
            res.update(cluster_faults_and_net(cl))
        finally:
            cl.close()
        print(json.dumps(res, indent=1))
        return
    # single host mode
    tmp = tempfile.mkdtemp(prefix="kumo-bench-single-")
    s = Single(tmp, guest).start()
    try:
        wait(lambda: s.request("GET", "/v1/images/default")[1]["provisioningState"] == "Succeeded",
             300, "image")
        s.ok("POST", "/v1/sizes", TINY)
        s.ok("POST", "/v1/resourceGroups", {"name": G})
        res["single_host_creates_per_s"] = [burst([s, s, s], ARGS.creates)]
        cleanup(s)
        for _ in range(ARGS.reps - 1):
            res["single_host_creates_per_s"].append(burst([s, s, s], ARGS.creates))
            cleanup(s)
    finally:
        s.stop()
        for p in pids_with(str(s.data) + "/"):  # its VMs and its switch, by their data dir
            try:
                os.kill(p, 9)
            except ProcessLookupError:
                pass
        shutil.rmtree(tmp, ignore_errors=True)

    for nhosts in (1, 3):
        cl = Cluster(guest, hosts=nhosts)
        try:
            hs = list(cl.hosts.values())
            for h in hs:  # room for the burst
                h.ok("PATCH", f"/v1/hosts/{h.name}", {"cpus": 6, "cpuAllocationRatio": 4})
            hs[0].ok("POST", "/v1/resourceGroups", {"name": G})
            key = f"cluster_{nhosts}_hosts_creates_per_s"
            res[key] = []
            for _ in range(ARGS.reps):
                res[key].append(burst([hs[i % nhosts] for i in range(3)], ARGS.creates))
                cleanup(hs[0])
            if nhosts == 3 and not ARGS.only_creates:
                res.update(cluster_faults_and_net(cl))
        finally:
            cl.close()
    print(json.dumps(res, indent=1))
    outdir = ROOT / "bench" / "results"
    outdir.mkdir(exist_ok=True)
    (outdir / time.strftime("%Y%m%d-%H%M%S-cluster.json")).write_text(json.dumps(res, indent=1))


def cluster_faults_and_net(cl):
    res = {}
    h1 = cl.hosts["h1"]

    def console_of(name):
        v = cl.any().vm(G, name)
        return Console(cl.hosts[v["host"]].vm(G, name)["instanceView"]["consoleSocket"]).ready()

    for name, host in (("a", "h1"), ("b", "h1"), ("c", "h2")):
        h1.ok("POST", VMS, {"name": name, "size": "Tiny", "vnet": "net", "nsg": None,
                            "host": host})
    for name in "abc":
        wait(lambda: cl.any().vm(G, name)["powerState"] == "Running", 240, name)
    res["network"] = net_figures(cl, console_of)
    cleanup(h1)

    # failover: a VM on h3 with a heartbeat; kill -9 h3
    vni = None
    import base64
    res["failover_s"], res["failover_heartbeat_s"] = [], []
    for rep in range(ARGS.reps):
        ud = base64.b64encode(HEARTBEAT.format(ip="10.0.0.200", port=9999).encode()).decode()
        h1.ok("POST", VMS, {"name": f"f{rep}", "size": "Tiny", "vnet": "net", "nsg": None,
                            "host": "h3", "userData": ud})
        if vni is None:
            vni = h1.ok("GET", f"/v1/resourceGroups/{G}/virtualNetworks/net")["vxlanVni"]
            cl.start_collector(vni)
        v = wait(lambda: (lambda x: x if x and x["powerState"] == "Running" else None)(
            cl.any().vm(G, f"f{rep}")), 240, "f Running")
        ip = v["networkInterfaces"][0]["privateIp"]
        wait(lambda: ip in cl.heartbeat_runs(), 120, "heartbeat")
        t0 = time.time()
        cl.hosts["h3"].kill9()
        wait(lambda: (lambda x: x["powerState"] == "Running" and x["host"] != "h3")(
            cl.any().vm(G, f"f{rep}")), 240, "moved")
        res["failover_s"].append(time.time() - t0)
        def beat_after():
            later = [r for r in cl.heartbeat_runs().get(ip, []) if r[1] > t0]
            return later[0] if later else None
        res["failover_heartbeat_s"].append(wait(beat_after, 240, "heartbeat again")[1] - t0)
        cl.hosts["h3"].start()
        wait(lambda: cl.any().hosts()["h3"]["state"] == "Up", 60, "h3 Up")
        cleanup(h1)
    res["ran_twice"] = bool(cl.ran_twice())
    return res


if __name__ == "__main__":
    main()
