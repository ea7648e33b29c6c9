"""A kumo cluster on this one machine (docs/cluster.md), for tests/e2e/
test_cluster.py and bench/cluster.py: three hosts as three network
namespaces on a bridge (netns.Lab), three etcd members on the bridge's
address in the root namespace (so a host whose link is cut is cut off from
all of them), a kumod in each host namespace with its own data directory
and a shared directory for images and disks, and a fourth namespace with a
Linux vxlan device and a UDP collector of the VMs' heartbeats.

Everything made here is removed by Cluster.close(): processes (by their
pids and by the namespaces they run in), namespaces, links, directories.
"""
import http.client
import json
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import netns
from conftest import BUILD

ETCD = "/usr/bin/etcd"
TINY = {"name": "Tiny", "vcpus": 1, "memoryMiB": 128, "pricePerHour": 0.01, "maxDataDisks": 2}


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=60):
        super().__init__("kumo", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


class Etcd:
    """Member i of the lab's etcd cluster, on the bridge address."""

    def __init__(self, cl, i):
        self.cl, self.i, self.proc = cl, i, None
        self.name = f"e{i}"
        self.client = f"http://{cl.bridge_ip}:{cl.port0 + i}"
        self.peer = f"http://{cl.bridge_ip}:{cl.port0 + 10 + i}"
        self.dir = cl.root / self.name

    def start(self, state="new"):
        log = open(self.cl.root / f"{self.name}.log", "ab")
        self.proc = subprocess.Popen(
            [ETCD, "--name", self.name, "--data-dir", str(self.dir),
             "--listen-client-urls", self.client, "--advertise-client-urls", self.client,
             "--listen-peer-urls", self.peer, "--initial-advertise-peer-urls", self.peer,
             "--initial-cluster", self.cl.initial, "--initial-cluster-state", state,
             "--initial-cluster-token", f"kumo-lab-{os.getpid()}",
             "--heartbeat-interval", "100", "--election-timeout", "1000"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        log.close()

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class Host:
    """A kumod in namespace `name` (address ip on the bridge)."""

    def __init__(self, cl, name, ip, extra=()):
        self.cl, self.name, self.ip = cl, name, ip
        self.data = cl.root / name
        self.extra = list(extra)
        self.proc = None
        self.token = None

    def start(self, timeout=120):
        self.data.mkdir(exist_ok=True)
        log = open(self.cl.root / f"{self.name}.log", "ab")
        cmd = self.cl.lab.prefix(self.name) + [
            str(BUILD / "kumod"), "--data-dir", str(self.data), "--cluster",
            "etcd=" + self.cl.etcd_urls, "--host-name", self.name, "--underlay", self.ip,
            "--public-address", self.ip, "--shared-dir", str(self.cl.shared),
            "--guest-dir", str(self.cl.guest), "--cluster-ttl", str(self.cl.ttl),
            "--host-cpus", "2", "--cpu-ratio", "2", "--metrics-interval", "5",
            "--stop-timeout", "10", "--shutdown-timeout", "0", *self.extra]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        log.close()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"kumod {self.name} exited {self.proc.returncode}:\n"
                                     + self.log()[-3000:])
            try:
                if self.request("GET", "/v1/health", token=False)[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        else:
            raise AssertionError(f"kumod {self.name} did not come up:\n" + self.log()[-3000:])
        self.token = (self.data / "token").read_text().strip()
        return self

    def log(self):
        p = self.cl.root / f"{self.name}.log"
        return p.read_text(errors="replace") if p.exists() else ""

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def vmm_pids(self):
        """kumo-vmm processes of this host (their command lines name its data dir)."""
        out = []
        needle = str(self.data) + "/vms/"
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                cmd = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if "kumo-vmm" in cmd and needle in cmd:
                out.append(int(pid))
        return out

    def kill9(self, vmms=True):
        """kill -9 of kumod (and of its kumo-vmm processes)."""
        pids = self.vmm_pids() if vmms else []
        if self.alive():
            self.proc.kill()
            self.proc.wait()
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def stop(self):
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def request(self, method, path, body=None, token=True, timeout=120):
        conn = UnixHTTPConnection(str(self.data / "kumod.sock"), timeout)
        h = {}
        if token:
            h["Authorization"] = f"Bearer {self.token}"
        data = json.dumps(body).encode() if body is not None else None
        if data is not None:
            h["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=h)
        r = conn.getresponse()
        raw = r.read().decode(errors="replace")
        conn.close()
        try:
            j = json.loads(raw) if raw else None
        except ValueError:
            j = None
        return r.status, j

    def ok(self, method, path, body=None):
        st, j = self.request(method, path, body)
        assert 200 <= st < 300, (self.name, method, path, st, j)
        return j

    def vm(self, group, name):
        st, j = self.request("GET", f"/v1/resourceGroups/{group}/virtualMachines/{name}")
        return j if st == 200 else None

    def hosts(self):
        return {h["name"]: h for h in self.ok("GET", "/v1/hosts")["value"]}

    def kumo(self, *args, timeout=120):
        env = dict(os.environ, KUMO_DATA_DIR=str(self.data))
        return subprocess.run([str(BUILD / "kumo"), *args], capture_output=True, text=True,
                              env=env, timeout=timeout, stdin=subprocess.DEVNULL)


class Console:
    """A running VM's shell through its console socket (on its host)."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        deadline = time.time() + 60
        while True:
            try:
                self.sock.connect(path)
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.2)
        self.buf = b""
        self.n = 0

    def sh(self, cmd, timeout=60):
        self.n += 1
        marker = re.compile(rb"@@%d:(\d+)@@" % self.n)
        self.sock.sendall(f"{cmd}\necho @@$(({self.n})):$?@@\n".encode())
        deadline = time.time() + timeout
        while True:
            m = marker.search(self.buf)
            if m:
                out = self.buf[:m.start()].decode(errors="replace")
                self.buf = self.buf[m.end():]
                return out, int(m.group(1))
            left = deadline - time.time()
            if left <= 0:
                raise AssertionError(f"{cmd!r} did not finish:\n{self.buf[-2000:]!r}")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                raise AssertionError("the console closed")
            self.buf += chunk

    def ready(self, timeout=120):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                self.sock.sendall(b"\x03")
                self.sh("true", timeout=3)
                return self
            except AssertionError:
                continue
        raise AssertionError("the guest's shell does not answer")

    def close(self):
        self.sock.close()


COLLECTOR = r"""
import socket, subprocess, sys, threading, time
ip, port, out, poke = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
def refresh():
    # an ARP request every second: Linux replicates it to every host, whose
    # switches learn (and keep) this endpoint (docs/network.md)
    while True:
        subprocess.run(["ip", "neigh", "flush", "dev", "vx0"], capture_output=True)
        subprocess.run(["ping", "-c", "1", "-W", "1", poke], capture_output=True)
        time.sleep(1)
threading.Thread(target=refresh, daemon=True).start()
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((ip, port))
f = open(out, "a", buffering=1)
while True:
    data, addr = s.recvfrom(2048)
    f.write("%.3f %s %s\n" % (time.time(), addr[0], data.decode(errors="replace").strip()))
"""

# A VM's user data: a heartbeat to the collector every half second, with
# the boot's id (a VM that ran twice at once would show two ids of the same
# address interleaved). The guest runs user data once per instance (a
# marker on its disk, guest/init); removing the marker makes it run at
# every boot, so a VM restarted on another host beats again.
HEARTBEAT = """#!/bin/sh
rm -f /var/lib/kumo/user-data-ran.*; sync
B=$(cat /proc/sys/kernel/random/boot_id)
( while true; do echo "hb $(hostname) $B" | nc -u -w 1 {ip} {port}; sleep 0.5; done ) \
  </dev/null >/dev/null 2>&1 &
"""


class Cluster:
    def __init__(self, guest, ttl=5, hosts=3):
        why = netns.available()
        if why:
            raise RuntimeError(why)
        self.guest = guest
        self.ttl = ttl
        self.root = pathlib.Path(tempfile.mkdtemp(prefix="kumo-cluster-"))
        self.shared = self.root / "shared"
        self.shared.mkdir()
        n = os.getpid() % 200 + 20
        self.subnet = f"10.201.{n}"
        self.bridge_ip = f"{self.subnet}.1"
        self.lab = netns.Lab("cl", subnet=self.subnet, mtu=1600, bridge_addr=1)
        self.port0 = 23100 + (os.getpid() % 50) * 20
        self.etcd = [Etcd(self, i) for i in range(3)]
        self.initial = ",".join(f"{e.name}={e.peer}" for e in self.etcd)
        self.etcd_urls = ",".join(e.client for e in self.etcd)
        self.hosts = {}
        self.collector = None
        self.ext_ip = None
        self.heartbeats = self.root / "heartbeats.txt"
        try:
            for e in self.etcd:
                e.start()
            self.wait_etcd()
            for i in range(hosts):
                name = f"h{i + 1}"
                ip = self.lab.add(name, 11 + i)
                self.hosts[name] = Host(self, name, ip)
            self.ext_ip = self.lab.add("ext", 99)
            # the first host makes the cluster; then the others join
            first = self.hosts["h1"].start()
            for h in list(self.hosts.values())[1:]:
                h.start()
            self.wait_image(first)
            first.ok("POST", "/v1/sizes", TINY)
        except BaseException:
            self.close()
            raise

    def wait_etcd(self, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            up = 0
            for e in self.etcd:
                r = subprocess.run(["curl", "-s", "-m", "2", "-d", '{"key":"AA=="}',
                                    e.client + "/v3/kv/range"], capture_output=True, text=True)
                up += '"header"' in r.stdout
            if up == len(self.etcd):
                return
            time.sleep(0.2)
        raise AssertionError("the etcd members did not start")

    def wait_image(self, h, timeout=300):
        deadline = time.time() + timeout
        while time.time() < deadline:
            st, j = h.request("GET", "/v1/images/default")
            if st == 200 and j.get("provisioningState", j.get("state")) == "Succeeded":
                return
            time.sleep(0.5)
        raise AssertionError(f"the default image was not imported: {j}")

    def up(self):
        return [h for h in self.hosts.values() if h.alive()]

    def fenced(self):
        """Hosts whose kumod says it is cut off from etcd."""
        out = []
        for h in self.up():
            st, j = h.request("GET", "/v1/health", token=False)
            if st == 200 and j.get("cluster", {}).get("fenced"):
                out.append(h.name)
        return out

    def any(self):
        return self.up()[0]

    def leader(self):
        """The host every live host names as the leader (None if they differ)."""
        names = set()
        for h in self.up():
            try:
                ls = [n for n, x in h.hosts().items() if x.get("leader")]
            except (OSError, AssertionError):
                return None
            names.add(tuple(ls))
        if len(names) == 1:
            ls = names.pop()
            if len(ls) == 1:
                return ls[0]
        return None

    def start_collector(self, vni, port=9999, ip="10.0.0.200"):
        """The fourth namespace's vxlan device in the VNet of VNI vni, and the
        heartbeat collector on ip:port."""
        run = lambda *a: self.lab.run("ext", *a)  # noqa: E731
        run("ip", "link", "add", "vx0", "type", "vxlan", "id", str(vni), "dstport", "4789",
            "local", self.ext_ip, "dev", "eth0")
        for h in self.hosts.values():
            run("bridge", "fdb", "append", "00:00:00:00:00:00", "dev", "vx0", "dst", h.ip)
        run("ip", "link", "set", "vx0", "address", "02:11:00:00:00:99")
        run("ip", "addr", "add", f"{ip}/24", "dev", "vx0")
        run("ip", "link", "set", "vx0", "up")
        run("ethtool", "-K", "vx0", "tx", "off")
        self.collector = subprocess.Popen(
            self.lab.prefix("ext") + ["/usr/bin/python3", "-c", COLLECTOR, ip, str(port),
                                      str(self.heartbeats), "10.0.0.254"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return ip

    def heartbeat_runs(self):
        """{vm address: [(boot id, first seen, last seen), ...]} in order."""
        runs = {}
        if not self.heartbeats.exists():
            return runs
        for line in self.heartbeats.read_text().splitlines():
            parts = line.split()
            if len(parts) < 5 or parts[2] != "hb":
                continue
            t, addr, boot = float(parts[0]), parts[1], parts[4]
            lst = runs.setdefault(addr, [])
            if lst and lst[-1][0] == boot:
                lst[-1][2] = t
            else:
                lst.append([boot, t, t])
        return runs

    def ran_twice(self):
        """Addresses whose heartbeats show two boots alive at once: a boot
        heard again after another boot of the same address was heard."""
        bad = {}
        for addr, runs in self.heartbeat_runs().items():
            seen = set()
            for boot, _, _ in runs:
                if boot in seen:
                    bad[addr] = runs
                seen.add(boot)
        return bad

    def close(self):
        if self.collector and self.collector.poll() is None:
            self.collector.kill()
            self.collector.wait()
        for h in self.hosts.values():
            h.kill9()
        for e in self.etcd:
            e.kill()
        self.lab.close()  # kills what still runs in the namespaces (the switches)
        # kumo-vmm processes run in the hosts' namespaces too; any left by a
        # kumod killed earlier are matched by their data directory
        for h in self.hosts.values():
            for p in h.vmm_pids():
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if os.environ.get("KUMO_CLUSTER_KEEP"):  # for a look at the logs afterwards
            print(f"cluster lab kept in {self.root}")
        else:
            shutil.rmtree(self.root, ignore_errors=True)
