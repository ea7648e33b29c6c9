#!/usr/bin/python3
"""bench/vmstate.py: a VM's saved state and live migration, kumo-vmm against
QEMU in the same invocation (docs/vmstate.md, "Figures").

One guest (the default guest's kernel and initramfs) with --mem MiB of RAM
(default 1024) fills --fill MiB of it with random data (a file in its
tmpfs), then idles, or, for the busy migration, rewrites --hot MiB of it
without end. Measured for kumo-vmm and qemu-system-riscv64 (TCG, QMP):

  save      the state to a file: time (pause to file complete) and size
            (kumo: control "save"; QEMU: migrate to "exec:cat > FILE")
  restore   from the file to a running guest (kumo: --restore until the
            guest's "kumo guest: restored" line; QEMU: -incoming
            "exec:cat FILE" until query-status says running)
  migrate   live migration to a second process on this host, idle and busy
            guest: total time and downtime (kumo: control "migrate"; QEMU:
            -incoming unix: and QMP migrate, query-migrate's figures)

Figures only, no pass/fail; the results go to bench/results/ as JSON.
"""
import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def wait_for(pred, timeout, what):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise SystemExit("timed out waiting for " + what)


def text(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def kumo_control(sock, req, fd=None, timeout=600):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    s.connect(sock)
    line = (json.dumps(req) + "\n").encode()
    if fd is None:
        s.sendall(line)
    else:
        socket.send_fds(s, [line], [fd])
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    s.close()
    return json.loads(buf)


class Qmp:
    def __init__(self, path):
        wait_for(lambda: os.path.exists(path), 60, "QEMU's QMP socket")
        self.s = socket.socket(socket.AF_UNIX)
        self.s.connect(path)
        self.f = self.s.makefile("rw")
        self.f.readline()  # greeting
        self.cmd("qmp_capabilities")

    def cmd(self, name, **args):
        self.f.write(json.dumps({"execute": name, "arguments": args}) + "\n")
        self.f.flush()
        while True:
            r = json.loads(self.f.readline())
            if "event" in r:
                continue
            if "error" in r:
                raise SystemExit("QMP %s: %s" % (name, r["error"]))
            return r["return"]

    def close(self):
        self.s.close()


def fill_script(fill, hot):
    s = ("mount -o remount,size=95%% /tmp; i=0; while [ $i -lt %d ]; do "
         "dd if=/dev/urandom of=/tmp/f$i bs=1M count=16 2>/dev/null; i=$((i+16)); done; "
         "echo FILL-DONE; " % fill)
    if hot:
        s += ("while :; do dd if=/dev/zero of=/tmp/hot bs=1M count=%d conv=notrunc "
              "2>/dev/null; done" % hot)
    else:
        s += "while :; do sleep 1; done"
    return s


class Bench:
    def __init__(self, a):
        self.a = a
        self.tmp = tempfile.mkdtemp(prefix="kumo-bench-vmstate-")
        self.image = os.path.join(a.guest, "Image")
        self.initrd = os.path.join(a.guest, "initramfs.cpio.gz")
        self.procs = []

    def path(self, name):
        return os.path.join(self.tmp, name)

    def spawn(self, argv):
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
        self.procs.append(p)
        return p

    def cleanup(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # ---- kumo --------------------------------------------------------------

    def kumo_argv(self, log, hot, extra=()):
        append = 'console=ttyS0 kumo.dhcp=0 kumo.run="%s"' % fill_script(self.a.fill, hot)
        return [self.a.kumo, "--kernel", self.image, "--initrd", self.initrd, "--append", append,
                "--mem", str(self.a.mem), "--console", "none", "--console-log", log, *extra]

    def kumo_boot(self, name, hot=0):
        log, sock = self.path(name + ".log"), self.path(name + ".sock")
        p = self.spawn(self.kumo_argv(log, hot, ["--control", sock]))
        wait_for(lambda: re.search(r"^FILL-DONE", text(log), re.M), 900, "the guest's fill")
        time.sleep(1)
        return p, log, sock

    def kumo_save_restore(self):
        p, log, sock = self.kumo_boot("ks")
        state = self.path("ks.state")
        fd = os.open(state, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        t0 = time.monotonic()
        r = kumo_control(sock, {"op": "save", "path": state, "then": "stop"}, fd=fd)
        t_save = time.monotonic() - t0
        os.close(fd)
        if not r.get("ok"):
            raise SystemExit("kumo save: %s" % r)
        p.wait(timeout=60)
        size = os.stat(state).st_blocks * 512
        log2, sock2 = self.path("kr.log"), self.path("kr.sock")
        t0 = time.monotonic()
        q = self.spawn([self.a.kumo, "--restore", state, "--console", "none", "--console-log",
                        log2, "--control", sock2])
        wait_for(lambda: "kumo guest: restored" in text(log2), 120, "the restored guest")
        t_restore = time.monotonic() - t0
        kumo_control(sock2, {"op": "stop"})
        q.wait(timeout=60)
        return {"save_s": t_save, "save_ms_vmm": r["save_ms"], "file_bytes": size,
                "restore_s": t_restore}

    def kumo_migrate(self, hot):
        name = "km-hot" if hot else "km-idle"
        p, log, sock = self.kumo_boot(name, hot)
        incoming = self.path(name + ".in")
        q = self.spawn(self.kumo_argv(self.path(name + "-dst.log"), hot,
                                      ["--incoming", incoming]))
        wait_for(lambda: os.path.exists(incoming), 60, "the destination")
        peer = socket.socket(socket.AF_UNIX)
        peer.connect(incoming)
        t0 = time.monotonic()
        r = kumo_control(sock, {"op": "migrate"}, fd=peer.fileno())
        wall = time.monotonic() - t0
        peer.close()
        if not r.get("ok"):
            raise SystemExit("kumo migrate: %s" % r)
        p.wait(timeout=60)
        q.kill()
        q.wait()
        return {"total_ms": r["total_ms"], "downtime_ms": r["downtime_ms"], "rounds": r["rounds"],
                "mib_sent": r["bytes_sent"] / 2**20, "wall_s": wall}

    # ---- QEMU --------------------------------------------------------------

    def qemu_argv(self, log, qmp, hot, extra=()):
        append = 'console=ttyS0 kumo.dhcp=0 kumo.run="%s"' % fill_script(self.a.fill, hot)
        return [self.a.qemu, "-M", "virt", "-m", str(self.a.mem), "-smp", "1", "-display", "none",
                "-kernel", self.image, "-initrd", self.initrd, "-append", append,
                "-serial", "file:" + log, "-monitor", "none",
                "-qmp", "unix:%s,server=on,wait=off" % qmp, *extra]

    def qemu_boot(self, name, hot=0):
        log, qmp = self.path(name + ".log"), self.path(name + ".qmp")
        p = self.spawn(self.qemu_argv(log, qmp, hot))
        wait_for(lambda: re.search(r"^FILL-DONE", text(log), re.M), 1800, "QEMU guest's fill")
        time.sleep(1)
        return p, log, Qmp(qmp)

    def qemu_wait_migration(self, qmp, timeout=900):
        end = time.time() + timeout
        while time.time() < end:
            info = qmp.cmd("query-migrate")
            if info.get("status") == "completed":
                return info
            if info.get("status") in ("failed", "cancelled"):
                raise SystemExit("QEMU migration: %s" % info)
            time.sleep(0.02)
        raise SystemExit("QEMU migration did not complete")

    def qemu_save_restore(self):
        p, log, qmp = self.qemu_boot("qs")
        state = self.path("qs.state")
        qmp.cmd("stop")
        t0 = time.monotonic()
        qmp.cmd("migrate", uri="exec:cat > %s" % state)
        self.qemu_wait_migration(qmp)
        t_save = time.monotonic() - t0
        qmp.close()
        p.kill()
        p.wait()
        size = os.stat(state).st_blocks * 512
        qmp2 = self.path("qr.qmp")
        t0 = time.monotonic()
        q = self.spawn(self.qemu_argv(self.path("qr.log"), qmp2, 0,
                                      ["-incoming", "exec:cat %s" % state]))
        m = Qmp(qmp2)
        wait_for(lambda: m.cmd("query-status").get("status") == "paused" or
                 m.cmd("query-status").get("status") == "running", 120, "QEMU's restore")
        m.cmd("cont")
        wait_for(lambda: m.cmd("query-status").get("status") == "running", 60, "QEMU running")
        t_restore = time.monotonic() - t0
        m.close()
        q.kill()
        q.wait()
        return {"save_s": t_save, "file_bytes": size, "restore_s": t_restore}

    def qemu_migrate(self, hot):
        name = "qm-hot" if hot else "qm-idle"
        p, log, qmp = self.qemu_boot(name, hot)
        incoming = self.path(name + ".in")
        q = self.spawn(self.qemu_argv(self.path(name + "-dst.log"), self.path(name + "-dst.qmp"),
                                      hot, ["-incoming", "unix:" + incoming]))
        wait_for(lambda: os.path.exists(incoming), 60, "QEMU's destination")
        t0 = time.monotonic()
        qmp.cmd("migrate", uri="unix:" + incoming)
        info = self.qemu_wait_migration(qmp)
        wall = time.monotonic() - t0
        qmp.close()
        p.kill()
        q.kill()
        p.wait()
        q.wait()
        ram = info.get("ram", {})
        return {"total_ms": info.get("total-time"), "downtime_ms": info.get("downtime"),
                "rounds": ram.get("dirty-sync-count"),
                "mib_sent": ram.get("transferred", 0) / 2**20, "wall_s": wall}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kumo", default=os.path.join(ROOT, "build", "kumo-vmm"))
    ap.add_argument("--qemu", default=shutil.which("qemu-system-riscv64"))
    ap.add_argument("--guest", default=os.environ.get("KUMO_GUEST_DIR"))
    ap.add_argument("--mem", type=int, default=1024, help="guest RAM, MiB")
    ap.add_argument("--fill", type=int, default=768, help="MiB of random data in the guest")
    ap.add_argument("--hot", type=int, default=64, help="MiB the busy guest rewrites")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results"))
    a = ap.parse_args()
    if not a.guest:
        a.guest = subprocess.run([os.path.join(ROOT, "guest", "build.sh")], check=True,
                                 capture_output=True, text=True).stdout.strip().splitlines()[-1]
    if not a.qemu:
        raise SystemExit("qemu-system-riscv64 not found: apt-get install qemu-system-misc")
    b = Bench(a)
    res = {"mem_mib": a.mem, "fill_mib": a.fill, "hot_mib": a.hot, "kumo": {}, "qemu": {}}
    try:
        for who, run in (("kumo", b.kumo_save_restore), ("qemu", b.qemu_save_restore)):
            print("%s: save and restore..." % who, flush=True)
            res[who]["save_restore"] = run()
        for hot in (0, a.hot):
            key = "migrate_busy" if hot else "migrate_idle"
            for who, run in (("kumo", b.kumo_migrate), ("qemu", b.qemu_migrate)):
                print("%s: %s..." % (who, key), flush=True)
                res[who][key] = run(hot)
    finally:
        b.cleanup()
    os.makedirs(a.out, exist_ok=True)
    out = os.path.join(a.out, time.strftime("%Y%m%d-%H%M%S-vmstate.json"))
    with open(out, "w") as f:
        json.dump(res, f, indent=1)
    k, q = res["kumo"], res["qemu"]
    print("\n%d MiB guest, %d MiB of data                kumo        QEMU"
          % (a.mem, a.fill))
    print("save: time (s)                          %8.2f    %8.2f"
          % (k["save_restore"]["save_s"], q["save_restore"]["save_s"]))
    print("save: file on disk (MiB)                %8.0f    %8.0f"
          % (k["save_restore"]["file_bytes"] / 2**20, q["save_restore"]["file_bytes"] / 2**20))
    print("restore to a running guest (s)          %8.3f    %8.3f"
          % (k["save_restore"]["restore_s"], q["save_restore"]["restore_s"]))
    for key in ("migrate_idle", "migrate_busy"):
        print("%-13s total (ms)                %8.0f    %8.0f"
              % (key, k[key]["total_ms"], q[key]["total_ms"] or 0))
        print("%-13s downtime (ms)             %8.1f    %8.1f"
              % (key, k[key]["downtime_ms"], q[key]["downtime_ms"] or 0))
        print("%-13s sent (MiB), rounds        %5.0f,%2d    %5.0f,%2s"
              % (key, k[key]["mib_sent"], k[key]["rounds"], q[key]["mib_sent"],
                 q[key]["rounds"]))
    print("\nresults:", out)


if __name__ == "__main__":
    sys.exit(main())
