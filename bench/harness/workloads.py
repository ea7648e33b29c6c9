"""The workloads: what runs in the guest, how it is timed and checked.

Every measurement alternates the VMMs: repetition r runs kumo first when r is
even and QEMU first when it is odd (boot rotates through three variants), so a
slow drift of the host (thermal, page cache, another tenant) does not favour one
side. Exactly one VM runs at a time, except in the idle-20 and density groups,
which are about many VMs.

Both VMMs get the same kernel Image, the same initramfs and the same kernel
command line; only the firmware differs where the row says so (kumo's built-in
SBI with direct boot, kumo with OpenSBI fw_jump, QEMU with its default OpenSBI).
"""

import os
import re
import resource
import shlex
import shutil
import subprocess
import time

from . import build
from .vm import VM, VMError, child_setup, host_busy_seconds, kumo_argv, qemu_argv

MIB = 1 << 20
NOISE_CORES = 0.25  # other processes' CPU during a run above which the run is called noisy
DATA_BYTES = 8 * MIB

# name, SCALE (-s), what it measures. SCALE is chosen so that one run takes
# roughly 2-10 s under QEMU TCG on the 2-core reference machine.
CPU_PROGRAMS = [
    ("intmath", 600, "integer ALU: table CRC-32 over 32 KiB, 64-bit mul/div/rem chain"),
    ("ptrchase", 1, "memory latency / TLB: dependent loads around a 64 MiB random cycle"),
    ("branchy", 12, "unpredictable branches: switch-dispatch interpreter + quicksort"),
    ("memops", 60, "libc memcpy/memset/memchr/strlen/memcmp, 16 B - 64 KiB, unaligned"),
    ("nbody", 4, "double precision: 5-body simulation (add, mul, div, sqrt)"),
    ("sgemm", 60, "single precision: 128x128 matrix multiply-accumulate"),
]
QUICK_CPU = ("intmath", "nbody")

TOOLS = [
    ("gzip", "busybox gzip -9 of the 8 MiB input"),
    ("gunzip", "busybox gunzip of that output"),
    ("sha256sum", "busybox sha256sum of the 8 MiB input"),
    ("sort", "busybox sort of the 8 MiB input (about 130k lines)"),
    ("procs", "process churn: fork + exec of a small static program, each child maps, "
              "touches, write-protects and unmaps 1 MiB four times (bench/programs/procs.c)"),
]
# Tools rows that are bench/programs (checked against the native run), with their -s.
TOOL_PROGRAMS = {"procs": 20}
QUICK_TOOLS = ("sha256sum",)

BOOT_APPEND = 'console=ttyS0 kumo.run="true"'

# Disk workloads (bench/programs/diskio.c in the guest, on virtio disks). Every
# disk session attaches a read-only test disk (serial bench-data: DISK_MIB MiB
# of pseudo-random data) and a writable scratch disk (bench-scratch) of the
# same format; the guest finds them by serial (/sys/block/vdX/serial).
DISK_MIB = 512
DISK_SEED = 20261127          # content of the test image (diskio fill -s)
SCRATCH_SEED = 5              # content of the scratch images before any write
DISK_FORMATS = [
    ("raw", "raw image"),
    ("qcow2", "qcow2, 64 KiB clusters, every cluster allocated"),
    ("qcow2-overlay", "empty qcow2 overlay (64 KiB clusters) over a raw base: reads go "
                      "to the base, writes allocate clusters in the overlay"),
]
# name, unit, diskio arguments ({data}, {scratch}: the device), what it measures
DISK_STEPS = [
    ("randread-qd1", "IOPS", "randread {data} -n 30000 -t 1",
     "4 KiB O_DIRECT reads at random 4 KiB-aligned offsets, 1 thread (queue depth 1)"),
    ("randread-qd4", "IOPS", "randread {data} -n 40000 -t 4",
     "the same with 4 threads (queue depth 4)"),
    ("seqread", "MiB/s", "seqread {data} -c 2048",
     "1 MiB O_DIRECT sequential reads, 2 GiB (4 passes over the disk)"),
    ("seqwrite", "MiB/s", "seqwrite {scratch} -c %d -s $SEED" % DISK_MIB,
     "1 MiB O_DIRECT sequential writes over the whole scratch disk, then fsync"),
]
# The rate limiter (kumo --disk iops=/bps=; QEMU throttling.iops-total/bps-total):
# name, unit, target, diskio arguments, what. The rate is taken after the warm-up
# (-w), which drains the bucket's initial second's worth of tokens.
LIMIT_IOPS = 200
LIMIT_BPS = 10 * MIB
LIMIT_STEPS = [
    ("limit-iops", "IOPS", LIMIT_IOPS, "randread {iops} -n 2400 -w 400",
     "4 KiB random reads, queue depth 1, on an iops=%d disk; rate over the 2000 "
     "ops after a 400-op warm-up" % LIMIT_IOPS),
    ("limit-iops-qd4", "IOPS", LIMIT_IOPS, "randread {iops} -n 2400 -w 400 -t 4",
     "the same with queue depth 4"),
    ("limit-bps", "MiB/s", LIMIT_BPS // MIB, "seqread {bps} -c 120 -w 20",
     "1 MiB sequential reads on a bps=%d (10 MiB/s) disk; rate over the 100 MiB "
     "after a 20 MiB warm-up" % LIMIT_BPS),
]

DISK_PLAN_HEAD = r"""# disk_dev SERIAL: the /dev node of the virtio disk with that serial
disk_dev() {
	for b in /sys/block/vd*; do
		if [ "$(cat "$b/serial" 2>/dev/null)" = "$1" ]; then
			echo "/dev/${b##*/}"
			return 0
		fi
	done
	echo "no disk with serial $1" >&2
	return 1
}
"""


def session_append(plan, steps):
    return 'console=ttyS0 kumo.run="sh /bench/session %s"' % " ".join([plan] + list(steps))


# --- plans (written into the bench initramfs) ------------------------------------

def _step(name, setup, cmd, check):
    return "step %s\n" % " ".join(shlex.quote(x) for x in (name, setup, cmd, check))


def make_plans():
    need_data = "[ -f /tmp/data ] || /bench/gendata %d >/tmp/data" % DATA_BYTES
    need_gz = need_data + "; [ -f /tmp/data.gz ] || gzip -9 -c </tmp/data >/tmp/data.gz"
    cpu1 = "".join(_step(n, "", "/bench/%s -s %d -t 1" % (n, s), "") for n, s, _ in CPU_PROGRAMS)
    cpu2 = "".join(_step(n + "-2t", "", "/bench/%s -s %d -t 2" % (n, s), "")
                   for n, s, _ in CPU_PROGRAMS)
    tools = (_step("gzip", need_data, "gzip -9 -c </tmp/data >/tmp/data.gz",
                   "sha256sum </tmp/data.gz; gunzip -c </tmp/data.gz | sha256sum; "
                   "echo bytes $(wc -c </tmp/data.gz)")
             + _step("gunzip", need_gz, "gunzip -c </tmp/data.gz >/tmp/data.out",
                     "sha256sum </tmp/data.out; rm -f /tmp/data.out")
             + _step("sha256sum", need_data, "sha256sum </tmp/data", "")
             + _step("sort", need_data, "sort /tmp/data >/tmp/sorted",
                     "sha256sum </tmp/sorted; rm -f /tmp/sorted")
             + "".join(_step(n, "", "/bench/%s -s %d -t 1" % (n, sc), "")
                       for n, sc in TOOL_PROGRAMS.items()))
    disk = DISK_PLAN_HEAD
    for name, _, args, _ in DISK_STEPS:
        if "{scratch}" in args:
            setup = ("SCRATCH=$(disk_dev bench-scratch) && "
                     "SEED=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ') && [ -n \"$SEED\" ]")
            check = "/bench/diskio verify $SCRATCH -c %d -s $SEED" % DISK_MIB
        else:
            setup, check = "DATA=$(disk_dev bench-data)", ""
        disk += _step(name, setup, "/bench/diskio " + args.format(data="$DATA", scratch="$SCRATCH"),
                      check)
    limits = DISK_PLAN_HEAD
    for name, _, _, args, _ in LIMIT_STEPS:
        var = "IOPS" if "{iops}" in args else "BPS"
        limits += _step(name, "%s=$(disk_dev bench-%s)" % (var, var.lower()),
                        "/bench/diskio " + args.format(iops="$IOPS", bps="$BPS"), "")
    return {"cpu": cpu1, "cpu2": cpu2, "tools": tools, "idle": "idle\n",
            "disk": disk, "limits": limits}


# --- the runner --------------------------------------------------------------------

class Runner:
    def __init__(self, paths, results, args, log_dir):
        self.paths = paths
        self.results = results
        self.args = args
        self.log_dir = log_dir
        self.perf_dir = os.path.join(paths.out, "perf", os.path.basename(log_dir))
        self.expected = {}   # step name -> expected output text (from native runs)
        self.tool_ref = {}   # busybox step -> sha256 the guest must print
        self.tool_seen = {}  # gzip output sha256 of the first run (all must agree)
        self.disk_ref = {}   # disk step -> checksum the guest must print (native diskio)
        self._nlog = 0
        self.noisy = []         # runs during which other processes used the CPU
        self.last_noise = None  # other processes' CPU (cores) during the last VM run

    # helpers ------------------------------------------------------------------
    def _log_path(self, what):
        self._nlog += 1
        return os.path.join(self.log_dir, "%03d-%s.log" % (self._nlog, what))

    def _argv(self, variant, cpus, mem, initrd, append, disks=()):
        if variant == "qemu":
            return qemu_argv(self.paths, cpus, mem, initrd, append, disks)
        bios = self.paths.fw_jump if variant == "kumo-fw" else None
        argv = kumo_argv(self.paths, cpus, mem, initrd, append, bios, disks)
        if variant == "interp":
            argv += ["--jit", "off"]  # the interpreter alone
        return argv

    def _wrapper(self, variant, what):
        if not self.args.perf or variant == "qemu":
            return None
        os.makedirs(self.perf_dir, exist_ok=True)
        data = os.path.join(self.perf_dir, what + ".data")
        return ["perf", "record", "-q", "-e", "cpu-clock", "-g", "-o", data, "--"]

    def _affinity(self, cpus):
        """Host CPUs for a run with `cpus` vCPUs (or threads): one-vCPU runs all go
        to the same host CPU (--pin), since the CPUs of a host are not always
        equal (on the reference machine one ran the same work 45% slower)."""
        if cpus == 1 and self.args.pin is not None:
            return {self.args.pin}
        return None

    @staticmethod
    def order(rep, variants):
        k = rep % len(variants)
        return variants[k:] + variants[:k]

    def variants(self, interp=False):
        """kumo (translated), QEMU and, for the boot, cpu and tools rows unless
        --no-interp, kumo with --jit off (the interpreter): a third column."""
        if self.args.perf:
            return ["kumo"]
        if interp and not self.args.no_interp:
            return ["kumo", "interp", "qemu"]
        return ["kumo", "qemu"]

    # boot -------------------------------------------------------------------------
    def boot(self, reps, cpu_counts):
        variants = self.variants(interp=True) + (["kumo-fw"] if self.paths.fw_jump else [])
        if self.args.perf:
            variants = ["kumo"]
        if not self.paths.fw_jump:
            self.results.note("OpenSBI fw_jump.bin not installed (apt-get install opensbi): "
                              "kumo --bios rows skipped")
        for cpus in cpu_counts:
            rows = {}
            for stage in ("init", "exit"):
                rows[("kumo", stage)] = self.results.row(
                    "boot %dcpu to %s" % (cpus, stage), "boot", "s",
                    "process start -> %s; kumo direct boot (built-in SBI) vs QEMU (OpenSBI)"
                    % ("'kumo guest: booted'" if stage == "init" else "process exit after poweroff"),
                    "direct")
                rows[("kumo-fw", stage)] = self.results.row(
                    "boot-fw %dcpu to %s" % (cpus, stage), "boot", "s",
                    "as above, kumo with --bios fw_jump.bin (OpenSBI) vs QEMU", "fw_jump")
            rows[("kumo", "cpu")] = self.results.row(
                "boot %dcpu to exit" % cpus, "boot-cpu", "cpu-s",
                "CPU time of the VMM process from start to exit; kumo direct boot", "direct")
            rows[("kumo-fw", "cpu")] = self.results.row(
                "boot-fw %dcpu to exit" % cpus, "boot-cpu", "cpu-s",
                "CPU time of the VMM process from start to exit; kumo with fw_jump", "fw_jump")
            for rep in range(reps):
                for variant in self.order(rep, variants):
                    what = "boot-%s-%dcpu-r%d" % (variant, cpus, rep)
                    log = self._log_path(what)
                    t = self._boot_once(variant, cpus, log, what)
                    label = "boot %dcpu" % cpus if variant != "kumo-fw" else "boot-fw %dcpu" % cpus
                    if isinstance(t, str):
                        self.results.fail(label, variant, rep, t, log)
                        continue
                    print("  %-8s %d vCPU: init %.3f s, exit %.3f s"
                          % (variant, cpus, t[0], t[1]), flush=True)
                    ex = {"rep": rep, "other_cores": self.last_noise}
                    for stage, value in zip(("init", "exit", "cpu"), t):
                        if variant == "qemu":
                            rows[("kumo", stage)].add("qemu", value, ex)
                            rows[("kumo-fw", stage)].add("qemu", value, ex)
                        elif variant == "interp":
                            rows[("kumo", stage)].add("interp", value, ex)
                        else:
                            rows[(variant, stage)].add("kumo", value, ex)
            if not self.paths.fw_jump or self.args.perf:
                for stage in ("init", "exit"):
                    self.results.rows.pop(("boot", "boot-fw %dcpu to %s" % (cpus, stage)), None)
                self.results.rows.pop(("boot-cpu", "boot-fw %dcpu to exit" % cpus), None)

    def _noise(self, busy0, vm, what):
        """CPU the rest of the host used while `vm` ran (in cores): other
        processes on this machine disturb the timing. Noted, not hidden."""
        if vm.cpu_total is None or vm.exit_time is None or vm.exit_time <= 0:
            return None
        other = (host_busy_seconds() - busy0 - vm.cpu_total) / vm.exit_time
        if other > NOISE_CORES:
            self.noisy.append("%s: other processes used %.2f cores during the run"
                              % (what, other))
        return round(other, 3)

    def quiet(self):
        """With --wait-quiet S: before a VM starts, wait (up to S seconds) until
        the rest of the host has used less than NOISE_CORES for a whole second."""
        deadline = time.monotonic() + self.args.wait_quiet
        while time.monotonic() < deadline:
            b0 = host_busy_seconds()
            time.sleep(1.0)
            if host_busy_seconds() - b0 < NOISE_CORES:
                return

    def _boot_once(self, variant, cpus, log, what):
        self.quiet()
        busy0 = host_busy_seconds()
        vm = VM(self._argv(variant, cpus, self.args.mem, self.paths.base_initrd, BOOT_APPEND),
                log, self._wrapper(variant, what), self._affinity(cpus))
        try:
            _, t_init, _ = vm.wait_line(r"^kumo guest: booted", self.args.timeout)
            _, _, m = vm.wait_line(r"^kumo guest: run exit=(\d+)", self.args.timeout)
            status = vm.wait_exit(self.args.timeout)
        except VMError as e:
            vm.stop()
            return str(e)
        if m.group(1) != "0":
            return "guest command failed: run exit=%s" % m.group(1)
        if status != 0:
            return "VMM exit status %d after guest poweroff" % status
        self.last_noise = self._noise(busy0, vm, what)
        return (t_init, vm.exit_time, vm.cpu_total)

    # sessions (a boot that runs steps of a plan) -----------------------------------
    def session(self, variant, plan, steps, cpus, what, disks=()):
        """Boot once and run `steps` of `plan`. Returns ({step: result}, error)
        where result = {"time": s, "status": n, "out": [lines]}; error is None or
        a message saying why the session (and steps without a result) failed."""
        log = self._log_path(what)
        self.quiet()
        busy0 = host_busy_seconds()
        vm = VM(self._argv(variant, cpus, self.args.mem, self.paths.bench_initrd,
                           session_append(plan, steps), disks), log,
                self._wrapper(variant, what), self._affinity(cpus))
        error = None
        try:
            vm.wait_line(r"^kumo guest: booted", self.args.timeout)
            budget = self.args.timeout * max(1, len(steps))
            _, _, m = vm.wait_line(r"^kumo guest: run exit=(\d+)", budget)
            status = vm.wait_exit(60)
            if m.group(1) != "0":
                error = "session script failed: run exit=%s" % m.group(1)
            elif status != 0:
                error = "VMM exit status %d after guest poweroff" % status
        except VMError as e:
            error = str(e)
            vm.stop()
        self.last_noise = self._noise(busy0, vm, what) if not error else None
        return parse_steps(vm.snapshot(), vm.cpu_marks), error, log

    # guest CPU programs -------------------------------------------------------------
    def cpu(self, reps, names, threads):
        plan = "cpu" if threads == 1 else "cpu2"
        suffix = "" if threads == 1 else "-2t"
        group = "cpu" if threads == 1 else "scaling"
        progs = [(n, s, d) for n, s, d in CPU_PROGRAMS if n in names]
        if not progs:
            return
        rows = {n: self.results.row(n + suffix, group, "s", d) for n, _, d in progs}
        steps = [n + suffix for n, _, _ in progs]
        for rep in range(reps):
            # native first (no VM running), then the VMMs, alternating
            for n, s, _ in progs:
                self.quiet()
                t, out, err = self._native(n, s, threads)
                if err:
                    self.results.fail(n + suffix, "native", rep, err)
                    continue
                prev = self.expected.setdefault(n + suffix, out)
                if prev != out:
                    self.results.fail(n + suffix, "native", rep,
                                      "native output changed between runs: %r vs %r" % (prev, out))
                    continue
                rows[n].add("native", t, {"rep": rep, "cpu": self.last_native_cpu})
                self._cpu_row(rows[n]).add("native", self.last_native_cpu)
            for variant in self.order(rep, self.variants(interp=threads == 1)):
                what = "%s-%s-r%d" % (plan, variant, rep)
                print("  %s: %s, %d vCPU ..." % (what, ", ".join(steps), threads), flush=True)
                res, error, log = self.session(variant, plan, steps, threads, what)
                self._collect(rows, suffix, res, error, log, variant, rep, self._check_native)

    def _native(self, name, scale, threads):
        argv = [self.paths.native[name], "-s", str(scale), "-t", str(threads)]
        u0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.monotonic()
        r = subprocess.run(argv, capture_output=True, text=True, start_new_session=True,
                           preexec_fn=child_setup(self.args.nice, self._affinity(threads)))
        t = time.monotonic() - t0
        u1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        if r.returncode != 0:
            return None, None, "native run failed (status %d): %s" % (r.returncode, r.stderr.strip())
        self.last_native_cpu = (u1.ru_utime + u1.ru_stime) - (u0.ru_utime + u0.ru_stime)
        return t, r.stdout.strip(), None

    def _check_native(self, step, out):
        want = self.expected.get(step)
        got = "\n".join(out).strip()
        if want is None:
            return "no native reference to compare with (native run failed?)"
        if got != want:
            return "WRONG RESULT: guest printed %r, native printed %r" % (got, want)
        return None

    def _collect(self, rows, suffix, res, error, log, variant, rep, check):
        for n, row in rows.items():
            step = n + suffix
            r = res.get(step)
            if r is None or "time" not in r:
                why = error or "step produced no BENCH END line"
                if r and r.get("setup_failed") is not None:
                    why = "setup failed (status %s): %s" % (r["setup_failed"], " | ".join(r["out"]))
                self.results.fail(row.name, variant, rep, why, log)
                continue
            if r["status"] != 0:
                self.results.fail(row.name, variant, rep, "exit status %d: %s"
                                  % (r["status"], " | ".join(r["out"][-5:])), log)
                continue
            bad = check(step, r["out"])
            if bad:
                self.results.fail(row.name, variant, rep, bad, log)
                continue
            row.add(variant, r["time"], {"rep": rep, "other_cores": self.last_noise,
                                         "cpu": r.get("cpu")})
            if r.get("cpu") is not None:
                self._cpu_row(row).add(variant, r["cpu"])
            cpu = "  (VMM CPU %.3f s)" % r["cpu"] if r.get("cpu") is not None else ""
            print("    %-12s %-5s %8.3f s%s" % (step, variant, r["time"], cpu), flush=True)

    def _cpu_row(self, row):
        """The companion row of `row` holding CPU seconds instead of wall time."""
        return self.results.row(row.name, row.group + "-cpu", "cpu-s",
                                row.desc + " (CPU time of the VMM / native process)")

    # busybox tools ------------------------------------------------------------------
    def tools(self, reps, names):
        tools = [(n, d) for n, d in TOOLS if n in names]
        if not tools:
            return
        self._tool_references()
        rows = {n: self.results.row(n, "tools", "s", d) for n, d in tools}
        steps = [n for n, _ in tools]
        for rep in range(reps):
            for variant in self.order(rep, self.variants(interp=True)):
                what = "tools-%s-r%d" % (variant, rep)
                print("  %s: %s ..." % (what, ", ".join(steps)), flush=True)
                res, error, log = self.session(variant, "tools", steps, 1, what)
                self._collect(rows, "", res, error, log, variant, rep, self._check_tool)

    def _tool_references(self):
        """Native reference results: the hashes the guest must print."""
        data_dir = os.path.join(self.paths.out, "data")
        os.makedirs(data_dir, exist_ok=True)
        data = os.path.join(data_dir, "data")
        with open(data, "wb") as f:
            subprocess.run([self.paths.native["gendata"], str(DATA_BYTES)], stdout=f, check=True)
        sha_data = build.sha256_file(data)
        ref = {"gunzip": sha_data, "sha256sum": sha_data}
        sorted_path = os.path.join(data_dir, "sorted")
        with open(data, "rb") as fi, open(sorted_path, "wb") as fo:
            subprocess.run(["sort"], stdin=fi, stdout=fo, check=True, env=dict(os.environ, LC_ALL="C"))
        ref["sort"] = build.sha256_file(sorted_path)
        self.tool_ref = ref
        for name, scale in TOOL_PROGRAMS.items():
            _, out, err = self._native(name, scale, 1)
            if err:
                raise VMError("%s: %s" % (name, err))
            self.expected[name] = out

    def _check_tool(self, step, out):
        """gunzip, sha256sum, sort: the guest's hash must be the native one.
        gzip: busybox's deflate output differs from every host gzip (Debian's
        busybox is built with other options), so its check is the round trip
        (the guest's gunzip of it gives the native input back) plus identical
        bytes in every run, under both VMMs. procs: the native run's checksum."""
        if step in TOOL_PROGRAMS:
            return self._check_native(step, out)
        hashes = [m.group(0) for line in out for m in [re.search(r"\b[0-9a-f]{64}\b", line)] if m]
        if not hashes:
            return "no sha256 in the guest's output: %r" % out
        if step == "gzip":
            if len(hashes) < 2 or hashes[1] != self.tool_ref["sha256sum"]:
                return ("WRONG RESULT: gunzip of the guest's gzip output has sha256 %s, native "
                        "input %s" % (hashes[1] if len(hashes) > 1 else None,
                                      self.tool_ref["sha256sum"]))
            first = self.tool_seen.setdefault("gzip", hashes[0])
            if hashes[0] != first:
                return ("WRONG RESULT: gzip output sha256 %s differs from an earlier run's %s"
                        % (hashes[0], first))
            return None
        want = self.tool_ref.get(step)
        if hashes[0] != want:
            return "WRONG RESULT: guest sha256 %s, native %s" % (hashes[0], want)
        return None

    # disks ---------------------------------------------------------------------------
    def _disk_path(self, name):
        return os.path.join(self.paths.out, "disk", name)

    def _kumo_img(self):
        for d in (os.path.dirname(getattr(self.paths, "kumo_source", self.paths.kumo_vmm)),
                  os.path.join(self.paths.root, "build")):
            p = os.path.join(d, "kumo-img")
            if os.path.isfile(p):
                return p
        raise VMError("kumo-img not found next to kumo-vmm nor in build/ (scripts/build.sh)")

    def _host(self, argv, what):
        r = subprocess.run(argv, capture_output=True, text=True)
        if r.returncode != 0:
            raise VMError("%s failed (status %d): %s %s"
                          % (what, r.returncode, r.stdout.strip(), r.stderr.strip()))
        return r.stdout

    def disk_images(self):
        """The images in build-bench/disk/, made once and kept: data.raw
        (DISK_MIB MiB of pseudo-random data, `diskio fill`), data.qcow2 (the
        same converted to qcow2 with 64 KiB clusters: every cluster allocated),
        scratch-base.raw (the base of the scratch overlays), scratch.raw and
        scratch.qcow2 (written by every seqwrite run). The overlays are made
        anew for each session (_disk_set)."""
        d = self._disk_path("")
        os.makedirs(d, exist_ok=True)
        stamp = "mib %d seed %d scratch %d\n" % (DISK_MIB, DISK_SEED, SCRATCH_SEED)
        stamp_path = os.path.join(d, "images.stamp")
        names = ("data.raw", "data.qcow2", "scratch-base.raw", "scratch.raw", "scratch.qcow2")
        try:
            with open(stamp_path) as f:
                if f.read() == stamp and all(os.path.isfile(os.path.join(d, n)) for n in names):
                    return
        except OSError:
            pass
        print("  making the disk images in %s (%d MiB each, once) ..." % (d, DISK_MIB), flush=True)
        img, diskio = self._kumo_img(), self.paths.native["diskio"]
        for n in names + ("images.stamp",):
            if os.path.exists(os.path.join(d, n)):
                os.unlink(os.path.join(d, n))
        self._host([diskio, "fill", os.path.join(d, "data.raw"), "-c", str(DISK_MIB),
                    "-s", str(DISK_SEED)], "diskio fill")
        self._host([diskio, "fill", os.path.join(d, "scratch-base.raw"), "-c", str(DISK_MIB),
                    "-s", str(SCRATCH_SEED)], "diskio fill")
        shutil.copyfile(os.path.join(d, "scratch-base.raw"), os.path.join(d, "scratch.raw"))
        for src, dst in (("data.raw", "data.qcow2"), ("scratch-base.raw", "scratch.qcow2")):
            self._host([img, "convert", "-f", "raw", "-O", "qcow2", "-o", "cluster_size=65536",
                        os.path.join(d, src), os.path.join(d, dst)], "kumo-img convert")
            out = self._host([img, "check", os.path.join(d, dst)], "kumo-img check")
            if "100.00% allocated" not in out:
                raise VMError("%s is not fully allocated: %s" % (dst, out.strip()))
        with open(stamp_path, "w") as f:
            f.write(stamp)

    def _disk_set(self, fmt):
        """The two disks of a disk session in format `fmt` (fresh overlays)."""
        if fmt == "qcow2-overlay":
            img = self._kumo_img()
            for over, base in (("data-overlay.qcow2", "data.raw"),
                               ("scratch-overlay.qcow2", "scratch-base.raw")):
                path = self._disk_path(over)
                if os.path.exists(path):
                    os.unlink(path)
                self._host([img, "create", "-f", "qcow2", "-b", self._disk_path(base), "-F", "raw",
                            "-o", "cluster_size=65536", path], "kumo-img create")
            data, scratch, f = "data-overlay.qcow2", "scratch-overlay.qcow2", "qcow2"
        else:
            data, scratch, f = "data." + fmt, "scratch." + fmt, fmt
        return [{"path": self._disk_path(data), "format": f, "serial": "bench-data",
                 "readonly": True},
                {"path": self._disk_path(scratch), "format": f, "serial": "bench-scratch"}]

    def _disk_references(self, steps):
        """The checksum each read step must print: the same diskio run natively
        on data.raw (buffered; the data, not the speed, is what counts)."""
        data = self._disk_path("data.raw")
        for name, args in steps:
            if name in self.disk_ref or not args.startswith(("randread", "seqread")):
                continue
            argv = [self.paths.native["diskio"]] + args.format(
                data=data, iops=data, bps=data).split() + ["-B"]
            out = self._host(argv, "native " + " ".join(argv[1:]))
            m = re.search(r"^check ([0-9a-f]{16})$", out, re.M)
            if not m:
                raise VMError("native diskio printed no checksum: %r" % out)
            self.disk_ref[name] = m.group(1)

    def _disk_result(self, step, out):
        """(rate, ops or bytes, extra) from diskio's output, or a message."""
        text = "\n".join(out)
        m = re.search(r"^(iops|mibps) ([\d.]+) (?:ops (\d+)|bytes (\d+)) secs ([\d.]+)", text, re.M)
        if not m:
            return "no rate in the guest's output: %r" % out[-5:]
        extra = {"guest_secs": float(m.group(5))}
        for key, pat in (("lat_us", r"^lat_us p50 (\d+) p99 (\d+) max (\d+)"),
                         ("all", r"^(?:iops|mibps)_all ([\d.]+)"),
                         ("write_fsync_secs", r"write_secs ([\d.]+) fsync_secs ([\d.]+)")):
            mm = re.search(pat, text, re.M)
            if mm:
                v = [float(x) for x in mm.groups()]
                extra[key] = v if len(v) > 1 else v[0]
        want = self.disk_ref.get(step)
        if want is not None:
            mm = re.search(r"^check ([0-9a-f]{16})$", text, re.M)
            if not mm or mm.group(1) != want:
                return ("WRONG RESULT: guest checksum %s, native (host file) %s"
                        % (mm and mm.group(1), want))
        amount = int(m.group(3) or m.group(4))
        return float(m.group(2)), amount, extra

    def _verify_scratch(self, fmt, path, seed):
        """After the VM exited: the scratch image holds what seqwrite wrote
        (qcow2: also a clean `kumo-img check`). None, or what is wrong."""
        img, target, tmp = self._kumo_img(), path, None
        try:
            if fmt != "raw":
                r = subprocess.run([img, "check", path], capture_output=True, text=True)
                if r.returncode != 0:
                    return "kumo-img check of the scratch image: %s" % (r.stdout + r.stderr).strip()
                tmp = path + ".verify.raw"
                self._host([img, "convert", "-f", "qcow2", "-O", "raw", path, tmp],
                           "kumo-img convert")
                target = tmp
            r = subprocess.run([self.paths.native["diskio"], "verify", target, "-c", str(DISK_MIB),
                                "-s", seed, "-B"], capture_output=True, text=True)
            if r.returncode != 0:
                return ("WRONG RESULT: the scratch image after the VM exited: %s"
                        % (r.stdout + r.stderr).strip())
        except VMError as e:
            return str(e)
        finally:
            if tmp and os.path.exists(tmp):
                os.unlink(tmp)
        return None

    def _rate_step(self, row, step, r, error, log, variant, rep, disk=None):
        """Check one disk step's result and add its rate to `row` (and the VMM
        CPU time per op or per MiB to the companion row)."""
        if r is None or "time" not in r:
            why = error or "step produced no BENCH END line"
            if r and r.get("setup_failed") is not None:
                why = "setup failed (status %s): %s" % (r["setup_failed"], " | ".join(r["out"]))
            self.results.fail(row.name, variant, rep, why, log)
            return
        if r["status"] != 0:
            self.results.fail(row.name, variant, rep, "exit status %d: %s"
                              % (r["status"], " | ".join(r["out"][-5:])), log)
            return
        got = self._disk_result(step, r["out"])
        if isinstance(got, str):
            self.results.fail(row.name, variant, rep, got, log)
            return
        rate, amount, extra = got
        if step == "seqwrite":
            text = "\n".join(r["out"])
            seed = re.search(r"^seed (\d+)$", text, re.M)
            if not re.search(r"^verify ok ", text, re.M) or not seed:
                self.results.fail(row.name, variant, rep, "the guest's read-back of its writes "
                                  "failed: %r" % r["out"][-3:], log)
                return
            bad = self._verify_scratch(disk["fmt"], disk["path"], seed.group(1))
            if bad:
                self.results.fail(row.name, variant, rep, bad, log)
                return
        per_op = row.unit == "IOPS"
        extra.update({"rep": rep, "other_cores": self.last_noise, "cpu": r.get("cpu"),
                      "host_secs": r["time"],
                      "host_rate": (amount if per_op else amount / MIB) / r["time"]})
        row.add(variant, rate, extra)
        cpu = ""
        if r.get("cpu") is not None:
            # VMM CPU time per operation (us) or per MiB (ms), START -> END
            norm = r["cpu"] * 1e6 / amount if per_op else r["cpu"] * 1e3 / (amount / MIB)
            self.results.row(row.name, row.group + "-cpu", "us/op" if per_op else "ms/MiB",
                             row.desc + " (VMM CPU time per operation or MiB)").add(variant, norm)
            cpu = "  (VMM CPU %.3f s)" % r["cpu"]
        print("    %-22s %-5s %9.1f %s%s" % (row.name, variant, rate, row.unit, cpu), flush=True)

    def disk(self, reps, names, formats):
        """Disk throughput: one session per format, VMM and repetition, running
        the selected DISK_STEPS on a test disk and a scratch disk of that format."""
        steps = [s for s in DISK_STEPS if s[0] in names]
        formats = [f for f in DISK_FORMATS if f[0] in formats]
        if not steps or not formats:
            return
        try:
            self.disk_images()
            self._disk_references([(n, a) for n, _, a, _ in steps])
        except (VMError, OSError) as e:
            self.results.fail("disk", "native", 0, "preparing the disk images: %s" % e)
            return
        rows = {(n, f): self.results.row("%s %s" % (n, f), "disk", unit, "%s; %s" % (d, fd))
                for f, fd in formats for n, unit, _, d in steps}
        for rep in range(reps):
            for fmt, _ in formats:
                for variant in self.order(rep, self.variants()):
                    what = "disk-%s-%s-r%d" % (fmt, variant, rep)
                    print("  %s: %s ..." % (what, ", ".join(n for n, _, _, _ in steps)), flush=True)
                    try:
                        disks = self._disk_set(fmt)
                    except VMError as e:
                        self.results.fail("disk %s" % fmt, variant, rep, str(e))
                        continue
                    res, error, log = self.session(variant, "disk", [n for n, _, _, _ in steps],
                                                   1, what, disks)
                    for n, _, _, _ in steps:
                        self._rate_step(rows[(n, fmt)], n, res.get(n), error, log, variant, rep,
                                        {"fmt": fmt, "path": disks[1]["path"]})

    def limits(self, reps, names):
        """The disk rate limiter: measured rate against the configured one."""
        steps = [s for s in LIMIT_STEPS if s[0] in names]
        if not steps:
            return
        try:
            self.disk_images()
            self._disk_references([(n, a) for n, _, _, a, _ in steps])
        except (VMError, OSError) as e:
            self.results.fail("limits", "native", 0, "preparing the disk images: %s" % e)
            return
        data = self._disk_path("data.raw")
        disks = [{"path": data, "format": "raw", "serial": "bench-iops", "readonly": True,
                  "iops": LIMIT_IOPS},
                 {"path": data, "format": "raw", "serial": "bench-bps", "readonly": True,
                  "bps": LIMIT_BPS}]
        rows = {}
        for n, unit, target, _, d in steps:
            row = self.results.row(n, "limits", unit, d)
            row.target = target
            rows[n] = row
        for rep in range(reps):
            for variant in self.order(rep, self.variants()):
                what = "limits-%s-r%d" % (variant, rep)
                print("  %s: %s ..." % (what, ", ".join(rows)), flush=True)
                res, error, log = self.session(variant, "limits", list(rows), 1, what, disks)
                for n, row in rows.items():
                    self._rate_step(row, n, res.get(n), error, log, variant, rep)

    # memory and idle ------------------------------------------------------------------
    def memory(self, reps, settle=2.0, window=10.0):
        """One idle 256 MiB guest per VMM: RSS, the guest's view, idle CPU."""
        rss = self.results.row("VmRSS", "memory", "MiB", "VMM process resident set, guest idle")
        hwm = self.results.row("VmHWM (peak RSS)", "memory", "MiB", "peak resident set")
        touched = self.results.row("guest RAM - MemFree", "memory", "MiB",
                                   "guest RAM the guest uses now, from its /proc/meminfo "
                                   "(pages it touched and freed again are not counted)")
        beyond = self.results.row("RSS beyond guest use", "memory", "MiB",
                                  "VmRSS - (guest RAM - MemFree): an upper bound of the VMM's "
                                  "own memory (it still includes touched-then-freed guest pages)")
        code = self.results.row("RssShmem (kumo: translated code)", "memory", "MiB",
                                "resident shared memory: for kumo-vmm its code caches (a "
                                "memfd per vCPU, JIT_CACHE_DEFAULT = 32 MiB each at most)")
        idle = self.results.row("idle CPU, 1 guest", "idle", "%core",
                                "host CPU time of one idle guest over 10 s, % of one "
                                "core (scheduler ns accounting; utime+stime in the JSON)")
        for rep in range(reps):
            for variant in self.order(rep, self.variants(interp=True)):
                what = "idle-%s-r%d" % (variant, rep)
                print("  %s ..." % what, flush=True)
                log = self._log_path(what)
                self.quiet()
                vm = VM(self._argv(variant, 1, self.args.mem, self.paths.bench_initrd,
                                   session_append("idle", [])), log, None, self._affinity(1))
                try:
                    vm.wait_line(r"^BENCH IDLE", self.args.timeout)
                    time.sleep(settle)
                    r, h = vm.status_kib("VmRSS"), vm.status_kib("VmHWM")
                    shm = vm.status_kib("RssShmem")
                    c0, n0 = vm.cpu_seconds(), vm.cpu_ns_seconds()
                    time.sleep(window)
                    c1, n1 = vm.cpu_seconds(), vm.cpu_ns_seconds()
                    if not vm.alive():
                        raise VMError("VM exited while idle")
                except (VMError, OSError) as e:
                    vm.stop()
                    self.results.fail("memory/idle", variant, rep, str(e), log)
                    continue
                vm.stop()
                mem = {}
                for _, text in vm.snapshot():
                    m = re.match(r"BENCH MEM (\w+):\s+(\d+) kB", text)
                    if m:
                        mem[m.group(1)] = int(m.group(2))
                rss.add(variant, r / 1024)
                hwm.add(variant, h / 1024)
                if shm is not None:
                    code.add(variant, shm / 1024)
                idle.add(variant, 100 * (n1 - n0) / window,
                         {"utime+stime_pct": 100 * (c1 - c0) / window})
                if "MemFree" in mem:
                    used = self.args.mem - mem["MemFree"] / 1024
                    touched.add(variant, used, mem)
                    beyond.add(variant, r / 1024 - used)
                print("    %-5s RSS %.1f MiB, guest MemFree %s kB, idle CPU %.3f%%"
                      % (variant, r / 1024, mem.get("MemFree"), 100 * (n1 - n0) / window),
                      flush=True)

    def _start_idle_fleet(self, variant, count, mem, stop_check=None):
        """Start `count` idle guests one after another (each waits for the
        previous to reach BENCH IDLE). Returns (vms, boot_times, error)."""
        vms, boots = [], []
        for i in range(count):
            log = self._log_path("fleet-%s-%d" % (variant, i))
            vm = VM(self._argv(variant, 1, mem, self.paths.bench_initrd,
                               session_append("idle", [])), log)
            vms.append(vm)
            try:
                _, t, _ = vm.wait_line(r"^BENCH IDLE", self.args.fleet_timeout)
            except VMError as e:
                return vms, boots, "guest %d: %s (log %s)" % (i + 1, e, log)
            boots.append(t)
            if stop_check:
                why = stop_check(vms, boots)
                if why:
                    return vms, boots, why
        return vms, boots, None

    def idle_fleet(self, reps, count=20, mem=128, settle=2.0, window=10.0):
        cpu = self.results.row("idle CPU, %d guests" % count, "idle", "%core",
                               "host CPU of %d idle %d MiB guests together over 10 s" % (count, mem))
        rss = self.results.row("RSS, %d guests" % count, "idle", "MiB",
                               "sum of VmRSS of %d idle %d MiB guests" % (count, mem))
        for rep in range(reps):
            for variant in self.order(rep, ["kumo", "qemu"]):
                print("  idle fleet: %d x %s (%d MiB) ..." % (count, variant, mem), flush=True)
                vms, boots, error = self._start_idle_fleet(variant, count, mem)
                try:
                    if error:
                        raise VMError(error)
                    time.sleep(settle)
                    c0 = sum(v.cpu_seconds() for v in vms)
                    n0 = sum(v.cpu_ns_seconds() for v in vms)
                    time.sleep(window)
                    c1 = sum(v.cpu_seconds() for v in vms)
                    n1 = sum(v.cpu_ns_seconds() for v in vms)
                    total_rss = sum(v.status_kib("VmRSS") for v in vms) / 1024
                    if not all(v.alive() for v in vms):
                        raise VMError("a guest exited while idle")
                except (VMError, OSError) as e:
                    self.results.fail(cpu.name, variant, rep, str(e))
                    continue
                finally:
                    for v in vms:
                        v.stop()
                cpu.add(variant, 100 * (n1 - n0) / window,
                        {"utime+stime_pct": 100 * (c1 - c0) / window,
                         "boot_first_s": boots[0], "boot_last_s": boots[-1]})
                rss.add(variant, total_rss)
                print("    %-5s %d guests: CPU %.1f%% of a core, RSS %.0f MiB, boot of last %.2f s"
                      % (variant, count, 100 * (n1 - n0) / window, total_rss, boots[-1]), flush=True)

    # density ---------------------------------------------------------------------------
    def density(self, max_guests, mem=128, reserve_mib=4096, boot_limit=60.0):
        """Start idle kumo guests until something limits it."""
        row = self.results.row("kumo guests running at once", "density", "guests",
                               "idle %d MiB kumo guests started one after another" % mem)

        def limit(vms, boots):
            avail = _mem_available_mib()
            if avail < reserve_mib:
                return "host MemAvailable %d MiB < reserve %d MiB" % (avail, reserve_mib)
            if boots[-1] > boot_limit:
                return "boot of guest %d took %.1f s > %.0f s" % (len(boots), boots[-1], boot_limit)
            if len(vms) % 10 == 0:
                print("    %d guests up, last boot %.2f s, host MemAvailable %d MiB"
                      % (len(vms), boots[-1], avail), flush=True)
            return None

        print("  density: up to %d kumo guests of %d MiB ..." % (max_guests, mem), flush=True)
        avail0 = _mem_available_mib()
        vms, boots, why = self._start_idle_fleet("kumo", max_guests, mem, limit)
        try:
            running = [v for v in vms if v.alive()]
            n_ok = len(boots)
            time.sleep(2)
            c0 = sum(v.cpu_ns_seconds() for v in running)
            time.sleep(10)
            c1 = sum(v.cpu_ns_seconds() for v in running)
            total_rss = sum(v.status_kib("VmRSS") or 0 for v in running) / 1024
            avail1 = _mem_available_mib()
        finally:
            for v in vms:
                v.stop(grace=2.0)
        row.add("kumo", n_ok, {
            "limited_by": why or "reached --density-max %d" % max_guests,
            "guests_booted": n_ok,
            "boot_time_first_s": round(boots[0], 3) if boots else None,
            "boot_time_last_s": round(boots[-1], 3) if boots else None,
            "total_rss_mib": round(total_rss, 1),
            "rss_per_guest_mib": round(total_rss / max(1, len(running)), 1),
            "host_mem_available_before_after_mib": [avail0, avail1],
            "idle_cpu_all_guests_pct_of_core": round(100 * (c1 - c0) / 10, 1),
        })


def _mem_available_mib():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) // 1024
    return 0


def parse_steps(lines, cpu_marks=None):
    """Console lines -> {step: {"time", "cpu", "status", "out", "setup_failed"}}.
    cpu_marks: line index -> VMM CPU seconds (for START and END lines)."""
    cpu_marks = cpu_marks or {}
    res = {}
    starts = {}
    for k, (t, text) in enumerate(lines):
        m = re.match(r"BENCH (START|END|OUT|SETUP-FAILED) (\S+)(?: (.*))?$", text)
        if not m:
            continue
        kind, name, rest = m.group(1), m.group(2), m.group(3) or ""
        r = res.setdefault(name, {"out": []})
        if kind == "START":
            starts[name] = (t, cpu_marks.get(k))
        elif kind == "END" and name in starts:
            t0, c0 = starts[name]
            r["time"] = t - t0
            c1 = cpu_marks.get(k)
            if c0 is not None and c1 is not None:
                r["cpu"] = c1 - c0
            r["status"] = int(rest) if rest.isdigit() else -1
        elif kind == "OUT":
            r["out"].append(rest)
        elif kind == "SETUP-FAILED":
            r["setup_failed"] = rest
    return res
