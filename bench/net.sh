#!/usr/bin/env bash
# bench/net.sh - VM-to-VM networking: kumo (two kumo-vmm guests on one
# kumo-switch VNet; frames through the shared-memory rings, and again through
# the port sockets, shm=off) against QEMU (two qemu-system-riscv64 TCG guests
# joined by -netdev socket), same kernel, same initramfs, same host, same run;
# and the connection-tracking table's memory per flow and its limit.
#
#   bench/net.sh [--mb N] [--reps N] [--pings N] [--no-qemu|--no-kumo|--no-socket]
#                [--json FILE] [--keep]
#
# Each side boots two 1-vCPU, 256 MiB guests with their shells on console
# sockets and runs, REPS times:
#   throughput  each guest serves an MB MiB file from tmpfs with busybox
#               httpd (sendfile); the other fetches it: wget -O - URL | wc -c,
#               timed on the host from the command to its end (the console
#               round trip of an empty command is subtracted); both directions.
#               (busybox nc is not used: it alone caps TCP at ~2 MB/s in these
#               guests, even over loopback, under kumo and QEMU alike)
#   host CPU    CPU time of the side's processes (both VMMs, and kumo-switch)
#               during each transfer, per MB: robust to other load on the
#               host, where the MB/s figure is not; also split into the VMMs'
#               and the switch's share
#   latency     ping -c PINGS -i 0.2 PEER (ICMP echo round trip, min/avg/max)
# kumo guests get their addresses from the switch's DHCP; QEMU's point-to-point
# socket link has no DHCP, so those guests are given the same addresses
# statically (kumo.dhcp=0). On the switch, the two NICs are in one subnet
# with an NSG (one allow rule), so every new flow passes the NSG and the
# conntrack table, like production traffic.
#
# The conntrack figures come from a small C program built here against
# src/network/conntrack.c: sizeof(struct ct_entry), and the heap really used
# (mallinfo2) by a table filled to its default limit of 65536 flows.
#
# Needs: build/kumo-vmm and build/kumo-switch (scripts/build.sh), the default
# guest (guest/build.sh, or KUMO_GUEST_DIR), qemu-system-riscv64 (package
# qemu-system-misc), cc. 2-5 minutes on 2 cores (3 reps), more on a busy host.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x build/kumo-vmm ] || [ ! -x build/kumo-switch ]; then
	scripts/build.sh
fi
guest=${KUMO_GUEST_DIR:-$(guest/build.sh)}
exec /usr/bin/python3 - "$guest" "$@" <<'PY'
import argparse
import json
import os
import pathlib
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path.cwd()
GUEST = pathlib.Path(sys.argv[1])
ap = argparse.ArgumentParser(prog="bench/net.sh")
ap.add_argument("--mb", type=int, default=32, help="MiB per throughput run (default 32)")
ap.add_argument("--reps", type=int, default=3, help="repetitions (default 3)")
ap.add_argument("--pings", type=int, default=20, help="echo requests per latency run")
ap.add_argument("--no-qemu", action="store_true", help="kumo only")
ap.add_argument("--no-kumo", action="store_true", help="QEMU only")
ap.add_argument("--no-socket", action="store_true",
                help="skip kumo on the port sockets (shm=off)")
ap.add_argument("--json", help="where to write the results (default: "
                "bench/results/DATE-HOST-net.json)")
ap.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
args = ap.parse_args(sys.argv[2:])
QEMU = shutil.which("qemu-system-riscv64")
LOAD_AT_START = os.getloadavg()
MEM = 256
IP = {"a": "10.0.1.4", "b": "10.0.1.5"}
MAC = {"a": "52:54:00:00:00:01", "b": "52:54:00:00:00:02"}


class ConsoleClosed(Exception):
    pass


class Guest:
    """One VM with its shell on a unix console socket."""

    def __init__(self, name, argv, sock_path, log_path):
        self.name, self.sock_path = name, sock_path
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        self.sock, self.buf, self.n = None, b"", 0

    def _connect(self, end):
        while True:
            if self.proc.poll() is not None or time.time() > end:
                raise SystemExit(f"{self.name}: the VM did not start (see {self.log.name})")
            s = socket.socket(socket.AF_UNIX)
            try:
                s.connect(self.sock_path)
                self.sock, self.buf = s, b""
                return
            except OSError:
                s.close()
                time.sleep(0.1)

    def start(self, timeout=180):
        end = time.time() + timeout
        self._connect(end)
        while time.time() < end:
            try:
                # ^C drops whatever part of an earlier probe reached the shell
                self.sock.sendall(b"\x03")
                self.sh("true", 2)
                return self
            except TimeoutError:
                pass
            except (ConsoleClosed, OSError):
                # QEMU's socket chardev, connected to while it starts, may
                # drop the first connection: connect again.
                self.sock.close()
                time.sleep(0.2)
                self._connect(end)
        raise SystemExit(f"{self.name}: no shell")

    def sh(self, cmd, timeout=300):
        self.n += 1
        pat = re.compile(rb"@@%d:(\d+)@@" % self.n)
        self.sock.sendall(f"{cmd}\necho @@$(({self.n})):$?@@\n".encode())
        end = time.time() + timeout
        while not pat.search(self.buf):
            left = end - time.time()
            if left <= 0:
                raise TimeoutError(cmd)
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                raise ConsoleClosed(f"{self.name}: console closed")
            self.buf += chunk
        m = pat.search(self.buf)
        out, self.buf = self.buf[:m.start()].decode(errors="replace"), self.buf[m.end():]
        return out, int(m.group(1))

    def wait_for(self, regex, timeout=300):
        """Read the console until regex (bytes) matches; consume through it."""
        pat = re.compile(regex)
        end = time.time() + timeout
        while not pat.search(self.buf):
            left = end - time.time()
            if left <= 0:
                raise TimeoutError(regex)
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                raise ConsoleClosed(f"{self.name}: console closed")
            self.buf += chunk
        m = pat.search(self.buf)
        self.buf = self.buf[m.end():]
        return m

    def ok(self, cmd, timeout=300):
        out, st = self.sh(cmd, timeout)
        if st:
            raise SystemExit(f"{self.name}: {cmd!r} failed ({st}):\n{out[-1500:]}")
        return out

    def stop(self):
        if self.sock:
            self.sock.close()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.log.close()


def kumo_pair(tmp, shm=True):
    cfg = {
        "vnets": [{"name": "v", "address_space": ["10.0.0.0/16"],
                   "subnets": [{"name": "s", "prefix": "10.0.1.0/24", "nsg": "g"}]}],
        "nsgs": [{"name": "g", "rules": [
            {"name": "allow-bench", "priority": 100, "direction": "Inbound", "access": "Allow",
             "protocol": "Tcp", "destination_port_range": "8000"}]}],
        "nics": [{"id": k, "vnet": "v", "subnet": "s", "mac": MAC[k], "private_ip": IP[k]}
                 for k in ("a", "b")],
    }
    (tmp / "switch.json").write_text(json.dumps(cfg))
    ports = str(tmp / "ports.sock")
    sw = subprocess.Popen([str(ROOT / "build/kumo-switch"), "--ports", ports, "--config",
                           str(tmp / "switch.json")], stdout=open(tmp / "switch.log", "w"),
                          stderr=subprocess.STDOUT)
    for _ in range(100):
        if os.path.exists(ports):
            break
        time.sleep(0.05)
    guests = {}
    for k in ("a", "b"):
        sock = str(tmp / f"kumo-{k}.console")
        argv = [str(ROOT / "build/kumo-vmm"), "--kernel", str(GUEST / "Image"), "--initrd",
                str(GUEST / "initramfs.cpio.gz"), "--mem", str(MEM), "--cpus", "1",
                "--net", f"switch={ports},nic={k}{'' if shm else ',shm=off'},mac={MAC[k]}",
                "--console", f"socket:{sock}", "--append", f"console=ttyS0 kumo.hostname={k}"]
        guests[k] = Guest(f"kumo-{k}", argv, sock, tmp / f"kumo-{k}.log")
    return sw, guests


def qemu_pair(tmp):
    port = socket.socket()
    port.bind(("127.0.0.1", 0))
    pnum = port.getsockname()[1]
    port.close()
    guests = {}
    for k in ("a", "b"):
        sock = str(tmp / f"qemu-{k}.console")
        net = f"socket,id=n0,listen=127.0.0.1:{pnum}" if k == "a" else \
            f"socket,id=n0,connect=127.0.0.1:{pnum}"
        argv = [QEMU, "-M", "virt", "-m", str(MEM), "-smp", "1", "-display", "none",
                "-monitor", "none", "-chardev", f"socket,id=c0,path={sock},server=on,wait=off",
                "-serial", "chardev:c0", "-kernel", str(GUEST / "Image"), "-initrd",
                str(GUEST / "initramfs.cpio.gz"), "-netdev", net, "-device",
                f"virtio-net-device,netdev=n0,mac={MAC[k]}",
                "-append", f"console=ttyS0 kumo.hostname={k} kumo.dhcp=0"]
        guests[k] = Guest(f"qemu-{k}", argv, sock, tmp / f"qemu-{k}.log")
        if k == "a":
            time.sleep(1)  # the listener first
    return None, guests


def cpu_seconds(pids):
    """CPU time of the processes (all their threads), from schedstat (ns)."""
    total = 0
    for pid in pids:
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                    total += int(f.read().split()[0])
        except (OSError, ValueError):
            pass
    return total / 1e9


def measure(label, guests, static, pids, sw_pid=None):
    a, b = guests["a"].start(), guests["b"].start()
    for k, g in guests.items():
        if static:
            g.ok(f"ip addr add {IP[k]}/24 dev eth0")
    a.ok(f"ping -c 3 -W 5 {IP['b']} >/dev/null")  # ARP, warm up
    res = {"throughput_MBps": {"a->b": [], "b->a": []}, "rtt_ms": [], "console_rtt_s": [],
           "cpu_ms_per_MB": {"a->b": [], "b->a": []},
           "switch_cpu_ms_per_MB": {"a->b": [], "b->a": []}}
    count = args.mb * 16
    for _ in range(args.reps):
        t = time.monotonic()
        a.ok("true")
        res["console_rtt_s"].append(time.monotonic() - t)
    overhead = min(res["console_rtt_s"])
    nbytes = count * 65536
    for g in (a, b):
        g.ok(f"mkdir -p /tmp/w && dd if=/dev/zero of=/tmp/w/f bs=64k count={count} 2>/dev/null"
             " && httpd -p 8000 -h /tmp/w")
    for rep in range(args.reps):
        for src, dst, key in ((a, b, "a->b"), (b, a, "b->a")):
            peer = IP["a"] if src is a else IP["b"]
            c = cpu_seconds(pids)
            c_sw = cpu_seconds([sw_pid]) if sw_pid else 0
            t = time.monotonic()
            out = dst.ok(f"wget -q -O - http://{peer}:8000/f | wc -c")
            secs = max(time.monotonic() - t - overhead, 1e-6)
            cpu = cpu_seconds(pids) - c
            cpu_sw = cpu_seconds([sw_pid]) - c_sw if sw_pid else 0
            if str(nbytes) not in out:
                raise SystemExit(f"{dst.name}: short transfer: {out[-500:]}")
            res["throughput_MBps"][key].append(nbytes / 1e6 / secs)
            res["cpu_ms_per_MB"][key].append(cpu * 1e3 / (nbytes / 1e6))
            res["switch_cpu_ms_per_MB"][key].append(cpu_sw * 1e3 / (nbytes / 1e6))
        out = a.ok(f"ping -c {args.pings} -i 0.2 -q {IP['b']}")
        m = re.search(r"min/avg/max = ([\d.]+)/([\d.]+)/([\d.]+)", out)
        if m:
            res["rtt_ms"].append([float(x) for x in m.groups()])
    print(f"{label}: done", file=sys.stderr)
    return res


def conntrack_memory(tmp):
    src = tmp / "ctmem.c"
    src.write_text(r'''
#include "network/conntrack.h"
#include <malloc.h>
#include <stdio.h>
int main(void)
{
    struct ct_limits lim;
    ct_default_limits(&lim);
    struct mallinfo2 m = mallinfo2();
    size_t before = m.uordblks + m.hblkhd; /* small blocks + mmapped ones */
    struct ct_table *t = ct_create(&lim);
    m = mallinfo2();
    size_t empty = m.uordblks + m.hblkhd;
    for (uint32_t i = 0; i < lim.max_entries; i++) {
        struct ct_key k = {0x0a000104u, 0x0a000105u + (i >> 16), (uint16_t)i, 80, 6};
        struct ct_entry *e = ct_add(t, &k, 0x02, 1000);
        if (e) ct_update(t, e, false, 0x02, 60, 1000);
    }
    m = mallinfo2();
    size_t full = m.uordblks + m.hblkhd;
    struct ct_stats st;
    ct_get_stats(t, &st);
    printf("{\"sizeof_entry\":%zu,\"limit\":%u,\"entries\":%llu,\"table_empty_bytes\":%zu,"
           "\"table_full_bytes\":%zu}\n", sizeof(struct ct_entry), lim.max_entries,
           (unsigned long long)st.entries, empty - before, full - before);
    ct_destroy(t);
    return 0;
}
''')
    exe = tmp / "ctmem"
    subprocess.run(["cc", "-std=gnu11", "-O2", "-D_GNU_SOURCE", f"-I{ROOT / 'src'}", str(src),
                    str(ROOT / "src/network/conntrack.c"), "-o", str(exe)], check=True)
    return json.loads(subprocess.run([str(exe)], capture_output=True, text=True,
                                     check=True).stdout)


def summary(res):
    out = {}
    for key, xs in res["throughput_MBps"].items():
        out[key] = (min(xs), statistics.median(xs), max(xs)) if xs else None
    for key, xs in res["cpu_ms_per_MB"].items():
        out["cpu " + key] = (min(xs), statistics.median(xs), max(xs)) if xs else None
    for key, xs in res.get("switch_cpu_ms_per_MB", {}).items():
        out["switch cpu " + key] = (min(xs), statistics.median(xs), max(xs)) if xs else None
    avgs = [r[1] for r in res["rtt_ms"]]
    mins = [r[0] for r in res["rtt_ms"]]
    out["rtt_avg"] = statistics.median(avgs) if avgs else None
    out["rtt_min"] = min(mins) if mins else None
    return out


with tempfile.TemporaryDirectory(prefix="kumo-netbench-") as d:
    tmp = pathlib.Path(d)
    if args.keep:
        tmp = pathlib.Path(tempfile.mkdtemp(prefix="kumo-netbench-"))
        print(f"work directory: {tmp}", file=sys.stderr)
    results = {"mb": args.mb, "reps": args.reps, "pings": args.pings}
    sides = [] if args.no_kumo else [("kumo", kumo_pair, False)]
    if not args.no_kumo and not args.no_socket:
        sides.append(("kumo-socket", lambda t: kumo_pair(t, shm=False), False))
    if not args.no_qemu:
        if QEMU:
            sides.append(("qemu", qemu_pair, True))
        else:
            print("qemu-system-riscv64 not found: kumo only", file=sys.stderr)
    for label, make, static in sides:
        sw, guests = make(tmp)
        try:
            pids = [g.proc.pid for g in guests.values()] + ([sw.pid] if sw else [])
            results[label] = measure(label, guests, static, pids, sw.pid if sw else None)
        except ConsoleClosed as e:
            raise SystemExit(f"{e} (the VM's log is in the work directory; use --keep)")
        finally:
            for g in guests.values():
                g.stop()
            if sw:
                sw.terminate()
                sw.wait()
    results["conntrack"] = conntrack_memory(tmp)

SIDES = [k for k in ("kumo", "kumo-socket", "qemu") if k in results]
sums = {k: summary(results[k]) for k in SIDES}
HEAD = {"kumo": "kumo (rings)", "kumo-socket": "kumo (sockets)", "qemu": "QEMU (-netdev socket)"}


def cell(side, key, fmt):
    v = sums.get(side, {}).get(key)
    return "-" if v is None else fmt(v)


def ratio(key, pick):
    k, q = sums.get("kumo", {}).get(key), sums.get("qemu", {}).get(key)
    return "-" if k is None or q is None or not pick(q) else f"{pick(k) / pick(q):.2f}"


lines = [f"VM-to-VM, 1 vCPU / {MEM} MiB guests, {args.mb} MiB per transfer, {args.reps} reps "
         "(min / median / max; host CPU: all processes of the side, then the switch alone)",
         f"{'':30}" + "".join(f"{HEAD[k]:>24}" for k in SIDES) + f"{'kumo/QEMU':>11}"]
tp = lambda v: f"{v[0]:.1f} / {v[1]:.1f} / {v[2]:.1f}"
tp3 = lambda v: f"{v[0]:.2f} / {v[1]:.2f} / {v[2]:.2f}"
ms = lambda v: f"{v:.3f}"


def row(what, key, fmt, pick):
    lines.append(f"{what:30}" + "".join(f"{cell(k, key, fmt):>24}" for k in SIDES)
                 + f"{ratio(key, pick):>11}")


for key in ("a->b", "b->a"):
    row("TCP throughput " + key + " MB/s", key, tp, lambda v: v[1])
for key in ("a->b", "b->a"):
    row("host CPU " + key + " ms/MB", "cpu " + key, tp, lambda v: v[1])
for key in ("a->b", "b->a"):
    row("  of it kumo-switch " + key, "switch cpu " + key, tp3, lambda v: v[1])
for key, what in (("rtt_avg", "ping RTT avg (median) ms"), ("rtt_min", "ping RTT min ms")):
    row(what, key, ms, lambda v: v)
ct = results["conntrack"]
per = ct["table_full_bytes"] / max(ct["entries"], 1)
lines += ["", f"conntrack: limit {ct['limit']} flows per VNet (default; 'conntrack.max_entries', "
          f"at most 4194304); sizeof(struct ct_entry) = {ct['sizeof_entry']} B; "
          f"heap {ct['table_empty_bytes']} B empty, {ct['table_full_bytes']} B with "
          f"{ct['entries']} flows = {per:.1f} B per flow (entry, malloc overhead, bucket)"]
text = "\n".join(lines) + "\n"
print("\n" + text, end="")


def command(argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True).stdout.strip()
    except OSError:
        return None


results["summary"] = sums
results["table"] = text
results["machine"] = {
    "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    "host": socket.gethostname(),
    "cores": os.cpu_count(),
    "loadavg_at_start": LOAD_AT_START,
    "loadavg_at_end": os.getloadavg(),
    "kumo_revision": command(["git", "-C", str(ROOT), "describe", "--always", "--dirty"]),
    "qemu_version": QEMU and command([QEMU, "--version"]).splitlines()[0],
    "guest_dir": str(GUEST),
}
out = args.json or str(ROOT / "bench" / "results" /
                       (time.strftime("%Y%m%d-%H%M%S-") + (socket.gethostname().split(".")[0]
                                                          or "host") + "-net.json"))
pathlib.Path(out).write_text(json.dumps(results, indent=1) + "\n")
print(f"results: {out}")
PY
