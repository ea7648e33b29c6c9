#!/usr/bin/env bash
# bench/debian-ssh.sh - a Debian 13 VM as a user gets it from kumo: the time
# from `kumo vm create --image Debian13 --generate-ssh-keys` to its
# provisioningState Succeeded (cloud-init reported its network stage done)
# and to the first accepted `kumo vm ssh` login, against the time QEMU
# (qemu-system-riscv64 -M virt, same image, firmware and kernel, same
# vCPUs and memory) takes to its login prompt, in the same invocation
# (bench/debian-boot.sh --no-kumo does the QEMU boot).
#
# --python: then Python's hashlib.sha256 over 32 MiB (issue 13's anomaly: a
# user's first program after the boot), timed in the guest, 3 runs over SSH
# in the kumo VM; then the same VM's disk (deallocated, under a new overlay)
# boots under QEMU with the same firmware, a user-mode NIC forwarding SSH,
# and the same key logs in and runs the same program. Also natively.
#
#   bench/debian-ssh.sh [--cpus N] [--mem MIB] [--image FILE] [--timeout S]
#                       [--no-qemu] [--python] [--json FILE] [--keep]
#
# kumod runs in a temporary data directory with kumo-switch (the public
# IP's port for 22, the metadata service for cloud-init's reports); the VM
# is the only one. Also printed: kumo-vmm's CPU seconds at the login, the
# figure to trust on a busy host. Needs build/ (scripts/build.sh), the image
# (guest/debian/build.sh, cached), ssh and ssh-keygen, qemu-system-riscv64.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x build/kumod ] && [ -x build/kumo ] || scripts/build.sh
image=
for a in "$@"; do
	if [ "${prev:-}" = --image ]; then image=$a; fi
	prev=$a
done
if [ -z "$image" ]; then
	image=$(guest/debian/build.sh)/debian-13.qcow2
	set -- --image "$image" "$@"
fi
exec /usr/bin/python3 - "$@" <<'PY'
import argparse
import json
import os
import pathlib
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ap = argparse.ArgumentParser()
ap.add_argument("--image", required=True)
ap.add_argument("--cpus", type=int, default=2)
ap.add_argument("--mem", type=int, default=1024)
ap.add_argument("--timeout", type=float, default=3600)
ap.add_argument("--no-qemu", action="store_true")
ap.add_argument("--json")
ap.add_argument("--keep", action="store_true")
ap.add_argument("--python", action="store_true")
args = ap.parse_args()

PY_SHA = ("import hashlib,time;d=bytes(range(256))*(32*4096);t=time.perf_counter();"
          "h=hashlib.sha256(d).hexdigest();e=time.perf_counter()-t;"
          "print('HASHLIB',h[:16],'%.3f'%e)")
PY_RUNS = 3


def ssh_retrying(run_once):
    """run_once() -> CompletedProcess of an ssh, run again while ssh itself
    fails (255: sshd restarting as cloud-init's last stage ends); a failure
    of the remote program is returned as it is."""
    for _ in range(10):
        r = run_once()
        if r.returncode != 255:
            break
        time.sleep(3)
    return r


def hashlib_times(run):
    """PY_RUNS runs of PY_SHA through run(command) -> stdout; the seconds
    each took, measured by the guest."""
    out = []
    for _ in range(PY_RUNS):
        m = re.search(r"HASHLIB ([0-9a-f]{16}) ([0-9.]+)", run("python3 -c " + shlex.quote(PY_SHA)))
        if not m:
            raise RuntimeError("the Python program printed no result")
        out.append(float(m.group(2)))
    return out

work = pathlib.Path(tempfile.mkdtemp(prefix="kumo-debian-ssh-"))
data, home = work / "data", work / "home"
home.mkdir()
env = {k: v for k, v in os.environ.items() if not k.startswith("KUMO_")}
env.update(HOME=str(home), KUMO_DATA_DIR=str(data))
port_lo = 31000 + os.getpid() % 50 * 20


def kumo(*a, check=True, timeout=None):
    r = subprocess.run(["build/kumo", *map(str, a)], env=env, capture_output=True, text=True,
                       stdin=subprocess.DEVNULL, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError(f"kumo {' '.join(map(str, a))}: {r.stderr.strip()}")
    return r


def cpu_seconds(pid):
    total = 0
    try:
        for t in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{t}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return total / os.sysconf("SC_CLK_TCK")


log = open(work / "kumod.log", "ab")
kumod = subprocess.Popen(["build/kumod", "--data-dir", str(data), "--debian-image", args.image,
                          "--public-ports", f"{port_lo}-{port_lo + 19}",
                          "--provisioning-timeout", str(int(args.timeout))],
                         stdin=subprocess.DEVNULL, stdout=log, stderr=log)
result = {"image": args.image, "cpus": args.cpus, "mem_mib": args.mem}
failed = None
try:
    deadline = time.time() + 600
    while kumo("image", "show", "debian-13", "-o", "tsv", "--query", "provisioningState",
               check=False).stdout.strip() != "Succeeded":
        if time.time() > deadline or kumod.poll() is not None:
            raise RuntimeError("the image debian-13 is not ready (see kumod.log)")
        time.sleep(0.5)
    kumo("size", "create", "-n", "Bench", "--vcpus", args.cpus, "--memory-mib", args.mem,
         "--price-per-hour", 0.1)
    kumo("group", "create", "-n", "bench")
    t0 = time.monotonic()
    kumo("vm", "create", "-g", "bench", "-n", "deb", "--size", "Bench", "--image", "Debian13",
         "--public-ip", "--generate-ssh-keys", timeout=args.timeout)
    result["create_to_succeeded"] = time.monotonic() - t0
    print(f"[debian-ssh] kumo: provisioningState Succeeded after "
          f"{result['create_to_succeeded']:.1f} s", flush=True)
    pid = json.loads(kumo("vm", "show", "-g", "bench", "deb", "-o", "json").stdout)[
        "instanceView"]["pid"]
    while True:
        r = kumo("vm", "ssh", "-g", "bench", "deb", "--ssh-arg=-oBatchMode=yes",
                 "--ssh-arg=-oConnectTimeout=20", "--", "true", check=False, timeout=120)
        if r.returncode == 0:
            break
        if time.monotonic() - t0 > args.timeout:
            raise RuntimeError(f"no ssh login after {args.timeout:.0f} s: {r.stderr.strip()}")
        time.sleep(1)
    result["create_to_ssh"] = time.monotonic() - t0
    result["kumo_vmm_cpu_at_ssh"] = cpu_seconds(pid)
    print(f"[debian-ssh] kumo: ssh login accepted after {result['create_to_ssh']:.1f} s "
          f"(kumo-vmm CPU {result['kumo_vmm_cpu_at_ssh']:.1f} s)", flush=True)
    if args.python:
        def kumo_run(cmd):
            r = ssh_retrying(lambda: kumo("vm", "ssh", "-g", "bench", "deb",
                                          "--ssh-arg=-oBatchMode=yes", "--", cmd, timeout=600,
                                          check=False))
            if r.returncode != 0:
                raise RuntimeError(f"kumo vm ssh ... python3: {r.stderr.strip()}")
            return r.stdout
        c0 = cpu_seconds(pid)
        result["kumo_hashlib_s"] = hashlib_times(kumo_run)
        result["kumo_hashlib_vmm_cpu_s"] = cpu_seconds(pid) - c0
        result["admin"] = json.loads(kumo("vm", "show", "-g", "bench", "deb", "-o", "json").stdout)[
            "osProfile"]["adminUsername"]
        print(f"[debian-ssh] kumo: hashlib.sha256 of 32 MiB {result['kumo_hashlib_s']} s",
              flush=True)
    (work / "console.log").write_text(kumo("vm", "log", "-g", "bench", "deb",
                                           check=False).stdout)
    if args.python:  # the disk boots under QEMU next
        kumo("vm", "deallocate", "-g", "bench", "deb", timeout=600)
    else:
        kumo("vm", "delete", "-g", "bench", "deb", "--yes", check=False, timeout=600)
except (RuntimeError, subprocess.TimeoutExpired) as e:
    failed = str(e)
    print(f"[debian-ssh] FAIL {failed}", flush=True)
finally:
    kumod.send_signal(signal.SIGTERM)
    kumod.wait(60)
    # kumo-switch and any VM left: the processes naming this data directory
    for p in pathlib.Path("/proc").iterdir():
        try:
            if p.name.isdigit() and str(data).encode() in (p / "cmdline").read_bytes():
                os.kill(int(p.name), signal.SIGKILL)
        except (OSError, ProcessLookupError):
            pass

FW = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin"
UBOOT = "/usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin"
if args.python and not args.no_qemu and not failed:
    # the kumo VM's own disk (cloud-init done, the account and key in it)
    # under a new overlay, in QEMU with the firmware debian-boot.sh uses
    disk = sorted((data / "disks").glob("*.qcow2"), key=lambda f: f.stat().st_mtime)[-1]
    over = work / "qemu-python.qcow2"
    subprocess.run(["build/kumo-img", "create", "-f", "qcow2", "-b", str(disk), "-F", "qcow2",
                    str(over)], check=True, stdout=subprocess.DEVNULL)
    qport = port_lo + 19
    qlog = open(work / "qemu-python.log", "wb")
    q = subprocess.Popen(["qemu-system-riscv64", "-M", "virt", "-smp", str(args.cpus), "-m",
                          str(args.mem), "-nographic", "-bios", FW, "-kernel", UBOOT, "-drive",
                          f"file={over},format=qcow2,if=none,id=hd0,cache=writeback", "-device",
                          "virtio-blk-device,drive=hd0", "-netdev",
                          f"user,id=n0,hostfwd=tcp:127.0.0.1:{qport}-:22", "-device",
                          "virtio-net-device,netdev=n0"],
                         stdin=subprocess.DEVNULL, stdout=qlog, stderr=qlog)
    ssh = ["ssh", "-i", str(home / ".ssh" / "id_ed25519"), "-p", str(qport), "-o",
           "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o",
           "BatchMode=yes", "-o", "ConnectTimeout=20", "-o", "LogLevel=ERROR",
           f"{result['admin']}@127.0.0.1"]
    try:
        t0 = time.monotonic()
        while subprocess.run(ssh + ["true"], capture_output=True, timeout=120).returncode != 0:
            if time.monotonic() - t0 > args.timeout or q.poll() is not None:
                raise RuntimeError("no ssh login to QEMU's boot of the disk "
                                   f"(see {work / 'qemu-python.log'})")
            time.sleep(2)
        c0 = cpu_seconds(q.pid)

        def qemu_run(cmd):
            r = ssh_retrying(lambda: subprocess.run(ssh + [cmd], capture_output=True, text=True,
                                                    timeout=600))
            if r.returncode != 0:
                raise RuntimeError(f"ssh ... python3 (QEMU): {r.stderr.strip()}")
            return r.stdout
        result["qemu_hashlib_s"] = hashlib_times(qemu_run)
        result["qemu_hashlib_vmm_cpu_s"] = cpu_seconds(q.pid) - c0
        print(f"[debian-ssh] QEMU: hashlib.sha256 of 32 MiB {result['qemu_hashlib_s']} s",
              flush=True)
    except (RuntimeError, subprocess.SubprocessError) as e:
        failed = str(e)
        print(f"[debian-ssh] FAIL {failed}", flush=True)
    finally:
        q.kill()
        q.wait()
if args.python:
    native = subprocess.run([sys.executable, "-c", PY_SHA], capture_output=True, text=True)
    result["native_hashlib_s"] = float(native.stdout.split()[2])

if not args.no_qemu and not failed and not args.python:
    qjson = work / "qemu.json"
    subprocess.run(["bench/debian-boot.sh", "--no-kumo", "--reps", "1", "--image", args.image,
                    "--cpus", str(args.cpus), "--mem", str(args.mem), "--json", str(qjson)],
                   check=False)
    if qjson.exists():
        q = json.loads(qjson.read_text())
        if q["samples"]["qemu"]:
            result["qemu_login"] = q["samples"]["qemu"][0].get("login")
            result["qemu_cpu_at_login"] = q["samples"]["qemu"][0].get("cpu")

print()
print(f"Debian 13 image, {args.cpus} vCPUs, {args.mem} MiB (seconds)")
rows = [("kumo: vm create to provisioningState Succeeded", "create_to_succeeded"),
        ("kumo: vm create to an accepted ssh login", "create_to_ssh"),
        ("kumo-vmm CPU at the login", "kumo_vmm_cpu_at_ssh"),
        ("QEMU: start to the login prompt", "qemu_login"),
        ("QEMU CPU at the login prompt", "qemu_cpu_at_login")]
if args.python:
    for vmm in ("kumo", "qemu"):
        if result.get(f"{vmm}_hashlib_s"):
            result[f"{vmm}_hashlib_median_s"] = sorted(result[f"{vmm}_hashlib_s"])[PY_RUNS // 2]
    rows += [("kumo: hashlib.sha256 32 MiB (median of 3)", "kumo_hashlib_median_s"),
             ("QEMU: the same, on the same disk", "qemu_hashlib_median_s"),
             ("native (this host's python3)", "native_hashlib_s")]
for label, key in rows:
    v = result.get(key)
    fmt = "8.3f" if "hashlib" in key else "8.1f"
    print(f"  {label:<48} {v:{fmt}}" if v is not None else f"  {label:<48} {'-':>8}")
if result.get("kumo_hashlib_median_s") and result.get("qemu_hashlib_median_s"):
    print(f"  {'QEMU / kumo hashlib (above 1: kumo faster)':<48} "
          f"{result['qemu_hashlib_median_s'] / result['kumo_hashlib_median_s']:8.2f}")
if result.get("qemu_login") and result.get("create_to_ssh"):
    print(f"  {'QEMU login / kumo ssh (above 1: kumo faster)':<48} "
          f"{result['qemu_login'] / result['create_to_ssh']:8.2f}")
result["loadavg"] = os.getloadavg()
result["failure"] = failed
if args.json:
    pathlib.Path(args.json).write_text(json.dumps(result, indent=1))
if args.keep or failed:
    print(f"logs: {work}")
else:
    shutil.rmtree(work, ignore_errors=True)
sys.exit(1 if failed else 0)
PY
