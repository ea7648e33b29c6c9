#!/usr/bin/python3
"""bench/lb.py: a scale set's load balancer (kumod's TCP proxy, src/cloud/lb.c)
against the path it adds a hop to: one instance's own public IP port (the
slirp host forward in kumo-switch). Also times a scale-out by hand: from
`kumo vmss scale` to the new instance answering through the load balancer.

Starts its own kumod on a temporary data directory with a 1 vCPU / 128 MiB
size, makes a set of 2 instances serving a small page with busybox httpd,
then runs N sequential HTTP/1.0 GETs (a new TCP connection each) through
each path, alternating rounds, and prints requests per second, the median
latency and the ratio. Prints figures only; it asserts nothing.

Usage: bench/lb.py [--requests N] [--rounds R]
Environment: KUMO_BUILD (default build/), KUMO_GUEST_DIR (default guest).
"""
import argparse
import json
import os
import pathlib
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
BUILD = pathlib.Path(os.environ.get("KUMO_BUILD", ROOT / "build"))

USER_DATA = """#!/bin/sh
mkdir -p /www
echo "instance $(hostname)" > /www/index.html
httpd -p 80 -h /www
"""


def get(port):
    t0 = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    if b" 200 " not in data.split(b"\r\n", 1)[0]:
        raise RuntimeError(f"bad answer from port {port}: {data[:80]!r}")
    return time.perf_counter() - t0


def run_path(port, n):
    lat = [get(port) for _ in range(n)]
    return n / sum(lat), statistics.median(lat)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    guest = os.environ.get("KUMO_GUEST_DIR") or subprocess.run(
        [str(ROOT / "guest/build.sh")], capture_output=True, text=True, check=True).stdout.strip()
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="kumo-bench-lb-"))
    data = tmp / "data"
    env = dict(os.environ, KUMO_DATA_DIR=str(data))
    log = open(tmp / "kumod.log", "wb")
    kumod = subprocess.Popen([str(BUILD / "kumod"), "--data-dir", str(data), "--guest-dir", guest,
                              "--public-ports", "26100-26199"], stdout=log, stderr=log)

    def kumo(*a):
        r = subprocess.run([str(BUILD / "kumo"), *map(str, a), "-o", "json"], env=env,
                           capture_output=True, text=True)
        if r.returncode:
            raise RuntimeError(f"kumo {' '.join(map(str, a))}: {r.stderr}")
        return json.loads(r.stdout) if r.stdout.strip() else None

    try:
        for _ in range(100):
            if (data / "kumod.sock").exists() and (data / "token").exists():
                break
            time.sleep(0.1)
        time.sleep(0.5)
        kumo("size", "create", "-n", "Tiny", "--vcpus", 1, "--memory-mib", 128,
             "--price-per-hour", 0.01)
        kumo("group", "create", "-n", "rg")
        (tmp / "ud.sh").write_text(USER_DATA)
        s = kumo("vmss", "create", "-g", "rg", "-n", "web", "--size", "Tiny", "--instance-count", 2,
                 "--lb-port", 80, "--probe-protocol", "Http", "--probe-interval", 1,
                 "--user-data", tmp / "ud.sh")
        lb = s["loadBalancer"]["frontendPort"]

        def healthy():
            return [i for i in kumo("vmss", "list-instances", "-g", "rg", "-n", "web")
                    if i["health"] == "Healthy"]

        while len(healthy()) < 2:
            time.sleep(0.5)
        inst = kumo("vmss", "list-instances", "-g", "rg", "-n", "web")
        direct = inst[0]["networkInterfaces"][0]["publicIp"]["ports"][0]["hostPort"]
        for _ in range(20):  # warm both paths
            get(lb)
            get(direct)
        res = {"lb": [], "direct": []}
        for _ in range(args.rounds):
            res["direct"].append(run_path(direct, args.requests))
            res["lb"].append(run_path(lb, args.requests))
        d_rps = statistics.median(r for r, _ in res["direct"])
        l_rps = statistics.median(r for r, _ in res["lb"])
        d_lat = statistics.median(m for _, m in res["direct"])
        l_lat = statistics.median(m for _, m in res["lb"])
        print(f"{args.requests} sequential GETs (new connection each), median of {args.rounds} "
              "rounds, 2 instances (1 vCPU, 128 MiB)")
        print(f"{'path':<44} {'req/s':>8} {'median ms':>10}")
        print(f"{'one instance public IP port (slirp forward)':<44} {d_rps:8.0f} "
              f"{d_lat * 1000:10.2f}")
        print(f"{'load balancer (kumod proxy -> forwards)':<44} {l_rps:8.0f} "
              f"{l_lat * 1000:10.2f}")
        print(f"load balancer / direct: {l_rps / d_rps:.2f}x the requests per second")

        t0 = time.perf_counter()
        kumo("vmss", "scale", "-g", "rg", "-n", "web", "--new-capacity", 3)
        t_run = time.perf_counter() - t0
        while len(healthy()) < 3:
            time.sleep(0.2)
        t_healthy = time.perf_counter() - t0
        seen = set()
        deadline = time.time() + 30
        while "instance web_2" not in seen and time.time() < deadline:
            with socket.create_connection(("127.0.0.1", lb), timeout=10) as s:
                s.sendall(b"GET / HTTP/1.0\r\n\r\n")
                seen.add(s.makefile("rb").read().split(b"\r\n\r\n", 1)[-1].decode().strip())
        t_served = time.perf_counter() - t0
        print(f"scale 2 -> 3: instance Running after {t_run:.2f} s, probe Healthy after "
              f"{t_healthy:.2f} s, served through the load balancer after {t_served:.2f} s")
        kumo("vmss", "delete", "-g", "rg", "-n", "web", "--yes")
    finally:
        kumod.terminate()
        kumod.wait(30)
        # the switch outlives kumod by design: stop what this run started
        for p in pathlib.Path("/proc").iterdir():
            if not p.name.isdigit():
                continue
            try:
                if str(data).encode() + b"/" in (p / "cmdline").read_bytes():
                    os.kill(int(p.name), 15)
            except OSError:
                pass
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
