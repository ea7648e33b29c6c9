#!/usr/bin/python3
"""bench/az.py: kumod's Azure Resource Manager endpoint (src/cloud/arm)
driven by the real az CLI, against the same work through kumo's own CLI and
API, in the same invocation on the same kumod.

1. Wall time of `az group create` + `az vm create --image Default --size
   Standard_B1ls --admin-username --ssh-key-values --public-ip-sku Standard`
   until az returns (the VM runs), against `kumo group create` + `kumo vm
   create --public-ip` (which also returns when the VM runs); also the time
   until the guest's console shows its boot line, and az's floor (`az group
   show`: Python start-up plus one request). The two sequences alternate;
   each VM is deleted before the next round.
2. Requests per second of `az vm list`-style GETs (GET /subscriptions/S/
   providers/Microsoft.Compute/virtualMachines, TLS, a bearer token checked
   on every request) against kumod's own GET /v1/resourceGroups/RG/
   virtualMachines (plain HTTP on loopback) listing the same VMs, with wrk
   (Debian's wrk) when it is installed, else a small keep-alive client.

Prints figures only; it asserts nothing.

Usage: bench/az.py [--reps N] [--vms N] [--seconds S]
Environment: KUMO_BUILD (default build/), KUMO_GUEST_DIR (default: guest/build.sh).
"""
import argparse
import http.client
import json
import os
import pathlib
import re
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

ROOT = pathlib.Path(__file__).resolve().parent.parent
BUILD = pathlib.Path(os.environ.get("KUMO_BUILD", ROOT / "build"))
PUBKEY = ("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC728VC0Vj1lg9LTPhh9ErMwFq2nQWoEz24CuZs+nwFsdl/"
          "UMHEc2JEyEESikB76w8NjDu4Iy/wqp3JzIYj/QwwpBaCq5VU38bXxbmhXsLECUeQSqmRbh81nrtwMWJTLknv4"
          "spczW//NvCogGXL/c+xDtmOFPiycb1LVSjbiqGO+U+TbUfiLZbGPsYMrw/HbuuWRmFLr6rZuvCfOVgfPFTuqW"
          "SB+uyplOPOGKdq17w/hapZEnvufWC6PF3pwvky7POBgsICBchI3YKIjysR8zKkBp/ilN2JBIc9pYWACyE2Rp0h"
          "p/gM9wvm9da48wljXrVQGTCrIhs4TQMJkxg6vJe5 bench@kumo")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def guest_dir():
    d = os.environ.get("KUMO_GUEST_DIR")
    if d:
        return d
    r = subprocess.run([str(ROOT / "guest" / "build.sh")], capture_output=True, text=True,
                       check=True)
    return r.stdout.strip().splitlines()[-1]


class Setup:
    def __init__(self, tmp):
        self.tmp = pathlib.Path(tmp)
        self.data = self.tmp / "data"
        self.arm_port, self.tcp_port = free_port(), free_port()
        self.log = open(self.tmp / "kumod.log", "wb")
        self.proc = subprocess.Popen(
            [str(BUILD / "kumod"), "--data-dir", str(self.data), "--arm",
             f"127.0.0.1:{self.arm_port}", "--listen-tcp", f"127.0.0.1:{self.tcp_port}",
             "--guest-dir", guest_dir(), "--public-ports", "29000-29499"],
            stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL)
        for _ in range(300):
            if (self.data / "kumod.sock").exists() and (self.data / "arm" / "ca.crt").exists():
                break
            time.sleep(0.1)
        time.sleep(0.5)
        self.cfg = self.tmp / "az"
        self.kumo("az-login", "--sp-name", "bench", "--config-dir", str(self.cfg))
        self.env = dict(os.environ, AZURE_CONFIG_DIR=str(self.cfg),
                        REQUESTS_CA_BUNDLE=str(self.data / "arm" / "ca.crt"),
                        AZURE_CORE_COLLECT_TELEMETRY="false")
        self.key = self.tmp / "id.pub"
        self.key.write_text(PUBKEY + "\n")

    def kumo(self, *args):
        r = subprocess.run([str(BUILD / "kumo"), "--data-dir", str(self.data), *map(str, args)],
                           capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            sys.exit(f"kumo {' '.join(map(str, args))} failed:\n{r.stderr}")
        return r.stdout

    def az(self, *args):
        r = subprocess.run(["az", *map(str, args)], capture_output=True, text=True, env=self.env,
                           stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            sys.exit(f"az {' '.join(map(str, args))} failed:\n{r.stderr}")
        return r.stdout

    def booted(self, group, vm, timeout=300):
        deadline = time.time() + timeout
        while "kumo guest: booted" not in self.kumo("vm", "log", "-g", group, vm):
            if time.time() > deadline:
                sys.exit(f"{group}/{vm} did not boot")
            time.sleep(0.1)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(60)
        self.log.close()
        # what kumod leaves running (its switch, a VM): found by the data directory
        for p in pathlib.Path("/proc").iterdir():
            try:
                if p.name.isdigit() and str(self.data).encode() in (p / "cmdline").read_bytes():
                    os.kill(int(p.name), 9)
            except OSError:
                pass


def timed(f):
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


def create_az(s, n):
    g = f"az{n}"
    t0 = time.perf_counter()
    s.az("group", "create", "-n", g, "-l", "local", "-o", "none")
    s.az("vm", "create", "-g", g, "-n", "vm", "--image", "Default", "--size", "Standard_B1ls",
         "--admin-username", "azureuser", "--ssh-key-values", f"@{s.key}", "--public-ip-sku",
         "Standard", "-o", "none")
    running = time.perf_counter() - t0
    s.booted(g, "vm")
    return running, time.perf_counter() - t0, g


def create_kumo(s, n):
    g = f"k{n}"
    t0 = time.perf_counter()
    s.kumo("group", "create", "-n", g)
    s.kumo("vm", "create", "-g", g, "-n", "vm", "--image", "default", "--size", "B1ls",
           "--public-ip")
    running = time.perf_counter() - t0
    s.booted(g, "vm")
    return running, time.perf_counter() - t0, g


def token(s):
    sp = json.loads((s.cfg / "service_principal_entries.json").read_text())[0]
    form = urllib.parse.urlencode({
        "grant_type": "client_credentials", "client_id": sp["client_id"],
        "client_secret": sp["client_secret"], "scope": "https://management.kumo.local//.default"})
    ctx = ssl.create_default_context(cafile=str(s.data / "arm" / "ca.crt"))
    c = http.client.HTTPSConnection("127.0.0.1", s.arm_port, context=ctx)
    c.request("POST", "/adfs/oauth2/token", form,
              {"Content-Type": "application/x-www-form-urlencoded"})
    return json.loads(c.getresponse().read())["access_token"]


def wrk(url, header, seconds):
    r = subprocess.run(["wrk", "-t2", "-c8", f"-d{seconds}s", "-H", header, url],
                       capture_output=True, text=True)
    m = re.search(r"Requests/sec:\s+([\d.]+)", r.stdout)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", r.stdout)
    if not m or bad:
        sys.exit(f"wrk failed:\n{r.stdout}\n{r.stderr}")
    return float(m.group(1))


def client(host, port, path, headers, seconds, tls_ca=None, threads=8):
    """Keep-alive GETs from `threads` threads for `seconds`: requests/s."""
    counts = [0] * threads
    stop = time.time() + seconds

    def run(i):
        if tls_ca:
            c = http.client.HTTPSConnection(host, port,
                                            context=ssl.create_default_context(cafile=tls_ca))
        else:
            c = http.client.HTTPConnection(host, port)
        while time.time() < stop:
            c.request("GET", path, headers=headers)
            r = c.getresponse()
            r.read()
            if r.status != 200:
                raise RuntimeError(f"{path}: {r.status}")
            counts[i] += 1
    ts = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    t0 = time.time()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return sum(counts) / (time.time() - t0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--vms", type=int, default=4, help="VMs the GETs list")
    ap.add_argument("--seconds", type=int, default=10)
    a = ap.parse_args()
    if not shutil.which("az"):
        sys.exit("az is missing: scripts/deps.sh installs Debian's azure-cli")
    tmp = tempfile.mkdtemp(prefix="kumo-bench-az-")
    s = Setup(tmp)
    try:
        rows = {"az": [], "kumo": []}
        floor = []
        for n in range(a.reps):
            order = [("az", create_az), ("kumo", create_kumo)]
            if n % 2:
                order.reverse()
            for name, f in order:
                running, booted, g = f(s, n)
                rows[name].append((running, booted))
                print(f"  round {n + 1} {name:4s}: running {running:6.2f} s, booted "
                      f"{booted:6.2f} s", flush=True)
                s.kumo("vm", "delete", "-g", g, "vm", "--yes")
            floor.append(timed(lambda: s.az("group", "show", "-n", "az0", "-o", "none")))

        def med(name, i):
            return statistics.median(r[i] for r in rows[name])
        print("\n1. group + VM create until it runs (median of %d)" % a.reps)
        print(f"   {'':28s} {'az (ARM)':>10s} {'kumo':>10s} {'ratio':>7s}")
        for i, what in ((0, "command returns (Running)"), (1, "guest's boot line")):
            za, zk = med("az", i), med("kumo", i)
            print(f"   {what:28s} {za:9.2f}s {zk:9.2f}s {za / zk:6.2f}x")
        print(f"   az's floor (az group show: start-up + 1 request): "
              f"{statistics.median(floor):.2f} s")

        # the GETs list `vms` VMs in one group, through both front ends
        s.kumo("group", "create", "-n", "list")
        for i in range(a.vms):
            s.kumo("vm", "create", "-g", "list", "-n", f"l{i}", "--size", "B1ls", "--no-wait")
        time.sleep(2)
        sub = s.az("account", "show", "--query", "id", "-o", "tsv").strip()
        arm_path = (f"/subscriptions/{sub}/providers/Microsoft.Compute/virtualMachines"
                    "?api-version=2020-06-01")
        v1_path = "/v1/resourceGroups/list/virtualMachines"
        tok = token(s)
        kumod_token = (s.data / "token").read_text().strip()
        print(f"\n2. list GETs of {a.vms} VMs, {a.seconds} s each, 8 connections")
        if shutil.which("wrk"):
            tool = "wrk -t2 -c8"
            arm = wrk(f"https://127.0.0.1:{s.arm_port}{arm_path}", f"Authorization: Bearer {tok}",
                      a.seconds)
            v1 = wrk(f"http://127.0.0.1:{s.tcp_port}{v1_path}",
                     f"Authorization: Bearer {kumod_token}", a.seconds)
        else:
            tool = "python keep-alive client, 8 threads"
            arm = client("127.0.0.1", s.arm_port, arm_path, {"Authorization": f"Bearer {tok}"},
                         a.seconds, tls_ca=str(s.data / "arm" / "ca.crt"))
            v1 = client("127.0.0.1", s.tcp_port, v1_path,
                        {"Authorization": f"Bearer {kumod_token}"}, a.seconds)
        print(f"   ({tool})")
        print(f"   ARM  GET .../Microsoft.Compute/virtualMachines (TLS, JWT): {arm:9.0f} req/s")
        print(f"   /v1  GET /v1/resourceGroups/list/virtualMachines (HTTP):   {v1:9.0f} req/s")
        print(f"   ratio ARM / v1: {arm / v1:.2f}")
        for i in range(a.vms):
            s.kumo("vm", "delete", "-g", "list", f"l{i}", "--yes")
    finally:
        s.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
