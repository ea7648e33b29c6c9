#!/usr/bin/env bash
# bench/debian-boot.sh - the Debian 13 image (guest/debian/build.sh) booting
# its own kernel: kumo-vmm against QEMU (qemu-system-riscv64 -M virt, TCG),
# same image, same firmware (Debian 12's OpenSBI fw_dynamic.bin and U-Boot
# qemu-riscv64_smode), same kernel and initramfs (the image's, found by
# U-Boot's distro boot in /boot/extlinux/extlinux.conf), same host, same run.
#
#   bench/debian-boot.sh [--reps N] [--cpus N] [--mem MIB] [--image FILE]
#                        [--no-qemu|--no-kumo] [--json FILE] [--keep] [--timeout S]
#
# Each boot starts from a new qcow2 overlay of the image (a first boot: new
# machine id and SSH host keys, cloud-init's first run with no datasource),
# with a user-mode NIC, and is timed on the host from just before the VMM
# process starts to these console events:
#   uboot    U-Boot's banner (the firmware has run)
#   kernel   "Linux version" (U-Boot has loaded kernel and initramfs from the disk)
#   systemd  "Welcome to Debian" (the initramfs found and mounted the root)
#   login    the "login:" prompt of the serial getty (after cloud-init's
#            network stage: host keys made, users set up)
# and the VMM process's CPU time (all threads) at the login prompt, which is
# the figure to trust on a busy host. Repetitions alternate which VMM goes
# first; the table shows medians and QEMU/kumo ratios (above 1: kumo faster).
#
# Needs: build/kumo-vmm and build/kumo-img (scripts/build.sh), the image
# (guest/debian/build.sh, cached), qemu-system-riscv64 (package
# qemu-system-misc), opensbi and u-boot-qemu.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x build/kumo-vmm ] || [ ! -x build/kumo-img ]; then
	scripts/build.sh
fi
image_arg=()
for a in "$@"; do [ "$a" != --image ] || image_arg=(x); done
if [ ${#image_arg[@]} -eq 0 ]; then
	image=$(guest/debian/build.sh)/debian-13.qcow2
	set -- --image "$image" "$@"
fi
exec /usr/bin/python3 - "$@" <<'PY'
import argparse
import json
import os
import pathlib
import re
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

FW = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin"
UBOOT = "/usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin"
EVENTS = [("uboot", re.compile(rb"U-Boot \d{4}\.\d\d")),
          ("kernel", re.compile(rb"Linux version \d")),
          ("systemd", re.compile(rb"Welcome to .*Debian")),
          ("login", re.compile(rb"login: "))]

ap = argparse.ArgumentParser()
ap.add_argument("--image", required=True)
ap.add_argument("--reps", type=int, default=2)
ap.add_argument("--cpus", type=int, default=2)
ap.add_argument("--mem", type=int, default=1024)
ap.add_argument("--timeout", type=float, default=1800)
ap.add_argument("--no-qemu", action="store_true")
ap.add_argument("--no-kumo", action="store_true")
ap.add_argument("--json")
ap.add_argument("--keep", action="store_true", help="keep the console logs")
args = ap.parse_args()

for f in (FW, UBOOT, args.image):
    if not os.path.exists(f):
        sys.exit(f"debian-boot: {f} not found")
qemu = shutil.which("qemu-system-riscv64")
if not qemu and not args.no_qemu:
    sys.exit("debian-boot: qemu-system-riscv64 not found (apt-get install qemu-system-misc), "
             "or --no-qemu")
image = os.path.abspath(args.image)
work = pathlib.Path(tempfile.mkdtemp(prefix="kumo-debian-boot-"))


def cpu_seconds(pid):
    """user + system time of every thread of pid, in seconds."""
    total = 0
    try:
        for t in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{t}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return total / os.sysconf("SC_CLK_TCK")


def overlay(name):
    path = work / f"{name}.qcow2"
    subprocess.run(["build/kumo-img", "create", "-f", "qcow2", "-b", image, "-F", "qcow2",
                    str(path)], check=True, stdout=subprocess.DEVNULL)
    return path


def argv(vmm, disk):
    if vmm == "kumo":
        return ["build/kumo-vmm", "--cpus", str(args.cpus), "--mem", str(args.mem),
                "--bios", FW, "--kernel", UBOOT, "--disk", f"path={disk},format=qcow2",
                "--net", "user", "--console", "stdio"]
    return [qemu, "-M", "virt", "-smp", str(args.cpus), "-m", str(args.mem), "-nographic",
            "-bios", FW, "-kernel", UBOOT,
            "-drive", f"file={disk},format=qcow2,if=none,id=hd0,cache=writeback",
            "-device", "virtio-blk-device,drive=hd0",
            "-netdev", "user,id=n0", "-device", "virtio-net-device,netdev=n0"]


def boot(vmm, rep):
    disk = overlay(f"{vmm}-{rep}")
    log = work / f"{vmm}-{rep}.log"
    t0 = time.monotonic()
    p = subprocess.Popen(argv(vmm, disk), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    buf = b""
    got = {}
    cpu = None
    try:
        while len(got) < len(EVENTS):
            left = args.timeout - (time.monotonic() - t0)
            if left <= 0:
                raise RuntimeError(f"no {EVENTS[len(got)][0]} event after {args.timeout:.0f} s")
            r, _, _ = select.select([p.stdout], [], [], min(left, 1.0))
            if not r:
                if p.poll() is not None:
                    raise RuntimeError(f"{vmm} exited with status {p.returncode}")
                continue
            chunk = os.read(p.stdout.fileno(), 65536)
            if not chunk:
                raise RuntimeError(f"{vmm} closed its console (status {p.wait()})")
            now = time.monotonic()
            buf += chunk
            for name, rx in EVENTS:
                if name not in got and rx.search(buf):
                    got[name] = now - t0
                    if name == "login":
                        cpu = cpu_seconds(p.pid)
    finally:
        p.kill()
        rest = p.communicate()[0] or b""
        log.write_bytes(buf + rest)
        disk.unlink(missing_ok=True)
    got["cpu"] = cpu
    return got


vmms = [v for v in ("kumo", "qemu") if not getattr(args, "no_" + v)]
samples = {v: [] for v in vmms}
failures = []
for rep in range(args.reps):
    order = vmms if rep % 2 == 0 else list(reversed(vmms))
    for vmm in order:
        try:
            s = boot(vmm, rep)
            samples[vmm].append(s)
            print(f"[debian-boot] {vmm} rep {rep + 1}: " +
                  ", ".join(f"{k} {v:.1f} s" for k, v in s.items()), flush=True)
        except RuntimeError as e:
            failures.append(f"{vmm} rep {rep + 1}: {e} (log {work}/{vmm}-{rep}.log)")
            print(f"[debian-boot] FAIL {failures[-1]}", flush=True)


def med(vmm, key):
    vals = [s[key] for s in samples.get(vmm, []) if s.get(key) is not None]
    return statistics.median(vals) if vals else None


print()
print(f"Debian 13 image, {args.cpus} vCPUs, {args.mem} MiB, {args.reps} reps (medians, seconds)")
print(f"{'event':<10}" + "".join(f"{v:>10}" for v in vmms) +
      ("  QEMU/kumo" if len(vmms) == 2 else ""))
for key in [e[0] for e in EVENTS] + ["cpu"]:
    row = f"{key:<10}"
    vals = [med(v, key) for v in vmms]
    row += "".join(f"{x:>10.1f}" if x is not None else f"{'-':>10}" for x in vals)
    if len(vmms) == 2 and None not in vals and vals[0] > 0:
        row += f"  {vals[1] / vals[0]:>9.2f}"
    print(row)
if args.json:
    with open(args.json, "w") as f:
        json.dump({"image": image, "cpus": args.cpus, "mem_mib": args.mem,
                   "samples": samples, "failures": failures,
                   "loadavg": os.getloadavg()}, f, indent=1)
if failures:
    print("\nfailures:\n  " + "\n  ".join(failures))
if args.keep or failures:
    print(f"console logs: {work}")
else:
    shutil.rmtree(work, ignore_errors=True)
sys.exit(1 if failures else 0)
PY
