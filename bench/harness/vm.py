"""One virtual machine process (kumo-vmm or qemu-system-riscv64) seen from the host.

A VM's console goes to a pipe; a reader thread stamps every line with the host's
monotonic clock the moment its newline arrives, relative to the instant just
before the process was started. All timings of the harness come from these
stamps (boot: process start -> "kumo guest: booted"; a workload step: the
guest's "BENCH START" line -> its "BENCH END" line), never from the guest clock.
"""

import os
import re
import resource
import signal
import subprocess
import threading
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
_ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Za-z0-9]|\r")


def set_nice(n):
    """In a child after setsid(): scheduling priority `n` for the process and,
    with autogrouping (sched_autogroup_enabled), for its session's group, since
    the scheduler first shares the CPUs between session groups."""
    os.setpriority(os.PRIO_PROCESS, 0, n)
    try:
        with open("/proc/self/autogroup", "w") as f:
            f.write(str(n))
    except OSError:
        pass


def child_setup(nice, affinity):
    """A preexec_fn: priority `nice` (0: unchanged) and CPU set `affinity`
    (None: any CPU), or None when there is nothing to do."""
    if not nice and not affinity:
        return None

    def setup():
        if nice:
            set_nice(nice)
        if affinity:
            os.sched_setaffinity(0, affinity)
    return setup


_live = set()   # VMs started and not yet ended: stop_all() ends them


def stop_all():
    """End every VM this harness started that still runs (on interrupt)."""
    for vm in list(_live):
        vm.stop(grace=2.0)


class VMError(Exception):
    """The VM did not do what the harness waited for (timeout, early exit)."""


def host_busy_seconds():
    """CPU time the host's CPUs spent busy since boot (from /proc/stat), minus
    this harness's own CPU time: what the VMs and everything else used."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal ...
    busy = (v[0] + v[1] + v[2] + v[5] + v[6] + (v[7] if len(v) > 7 else 0)) / CLK_TCK
    own = resource.getrusage(resource.RUSAGE_SELF)
    return busy - own.ru_utime - own.ru_stime


# Host caching of the disks (bench/run --disk-cache): QEMU's name -> kumo's.
DISK_CACHE = "writeback"
KUMO_CACHE = {"writeback": "readwrite", "none": "none"}


def kumo_argv(paths, cpus, mem, initrd, append, bios=None, disks=()):
    argv = [paths.kumo_vmm, "--kernel", paths.image, "--initrd", initrd,
            "--append", append, "--mem", str(mem), "--cpus", str(cpus)]
    if bios:
        argv += ["--bios", bios]
    for d in disks:
        spec = "path=%s,format=%s,serial=%s,cache=%s" % (_no_comma(d["path"]), d["format"],
                                                         d["serial"], KUMO_CACHE[DISK_CACHE])
        if d.get("readonly"):
            spec += ",readonly=on"
        if d.get("iops"):
            spec += ",iops=%d" % d["iops"]
        if d.get("bps"):
            spec += ",bps=%d" % d["bps"]
        argv += ["--disk", spec]
    return argv


def qemu_argv(paths, cpus, mem, initrd, append, disks=()):
    # QEMU's default firmware (its built-in OpenSBI fw_dynamic) loads the kernel.
    argv = [paths.qemu, "-M", "virt", "-m", str(mem), "-smp", str(cpus),
            "-nographic", "-kernel", paths.image, "-initrd", initrd,
            "-append", append]
    # Disks: kumo does preadv/pwritev on guest memory from a pool of worker
    # threads per disk, through the host page cache (cache=readwrite) or
    # around it (cache=none: O_DIRECT), and a guest flush becomes fdatasync.
    # QEMU's peers: cache=writeback or cache=none, with aio=threads (a thread
    # pool doing preadv/pwritev).
    for i, d in enumerate(disks):
        drive = ("file=%s,format=%s,if=none,id=d%d,cache=%s,aio=threads"
                 % (_no_comma(d["path"]), d["format"], i, DISK_CACHE))
        if d.get("readonly"):
            drive += ",readonly=on"
        if d.get("iops"):
            drive += ",throttling.iops-total=%d" % d["iops"]
        if d.get("bps"):
            drive += ",throttling.bps-total=%d" % d["bps"]
        argv += ["-drive", drive, "-device", "virtio-blk-device,drive=d%d,serial=%s" % (i, d["serial"])]
    return argv


def _no_comma(path):
    if "," in path:
        raise ValueError("disk image path with a comma: %s" % path)
    return path


class VM:
    nice = 0   # scheduling priority of VM processes (bench/run --nice)

    def __init__(self, argv, log_path, wrapper=None, affinity=None):
        self.argv = argv
        self.log_path = log_path
        self.lines = []          # (seconds since start, text)
        self.exit_time = None    # seconds since start when the process ended
        self.returncode = None
        self.cpu_total = None    # utime + stime of the whole run, once it ended
        self.cpu_marks = {}      # line index -> VMM CPU seconds when it arrived
        self._own_cpu = not wrapper  # under a wrapper (perf) the pid is not the VMM's
        self._cond = threading.Condition()
        self._eof = False
        full = list(wrapper or []) + list(argv)
        self._log = open(log_path, "wb")
        self._log.write(("# " + " ".join(_quote(a) for a in full) + "\n").encode())
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(full, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT,
                                     start_new_session=True,
                                     preexec_fn=child_setup(VM.nice, affinity))
        self.pid = self.proc.pid
        _live.add(self)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    # --- console ------------------------------------------------------------
    def _read(self):
        fd = self.proc.stdout.fileno()
        partial = b""
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            now = time.monotonic() - self.t0
            if not chunk:
                break
            self._log.write(chunk)
            partial += chunk
            if b"\n" not in chunk:
                continue
            *complete, partial = partial.split(b"\n")
            with self._cond:
                for raw in complete:
                    text = _ANSI.sub(b"", raw).decode("utf-8", "replace")
                    if self._own_cpu and text.startswith(("BENCH START ", "BENCH END ")):
                        # the VMM's CPU time at this instant: a step's CPU time
                        # does not grow when other processes take the host's CPUs
                        try:
                            self.cpu_marks[len(self.lines)] = self.cpu_ns_seconds()
                        except OSError:
                            pass
                    self.lines.append((now, text))
                self._cond.notify_all()
        _, status, usage = os.wait4(self.pid, 0)
        end = time.monotonic() - self.t0
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        self.cpu_total = usage.ru_utime + usage.ru_stime
        self._log.close()
        with self._cond:
            if partial:
                self.lines.append((end, _ANSI.sub(b"", partial).decode("utf-8", "replace")))
            self.returncode = self.proc.returncode
            self.exit_time = end
            self._eof = True
            self._cond.notify_all()
        _live.discard(self)

    def wait_line(self, pattern, timeout, start=0):
        """Wait for a console line matching `pattern` (a regex), looking at
        lines from index `start` on. Returns (index, time, match)."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        i = start
        with self._cond:
            while True:
                while i < len(self.lines):
                    m = rx.search(self.lines[i][1])
                    if m:
                        return i, self.lines[i][0], m
                    i += 1
                if self._eof:
                    raise VMError("VM exited (status %s) before a line matching %r; last line: %r"
                                  % (self.returncode, pattern, self.last_line()))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise VMError("no line matching %r within %.0f s; last line: %r"
                                  % (pattern, timeout, self.last_line()))
                self._cond.wait(min(left, 1.0))

    def wait_exit(self, timeout):
        """Wait for the process to end; returns its exit status."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._eof:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise VMError("VM still running after %.0f s; last line: %r"
                                  % (timeout, self.last_line()))
                self._cond.wait(min(left, 1.0))
        return self.returncode

    def last_line(self):
        for _, text in reversed(self.lines):
            if text.strip():
                return text
        return ""

    def snapshot(self):
        with self._cond:
            return list(self.lines)

    # --- host-side view of the process ----------------------------------------
    def cpu_seconds(self):
        """utime + stime of the VM process (all its threads), in seconds."""
        with open("/proc/%d/stat" % self.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        # fields[0] is field 3 (state); utime and stime are fields 14 and 15
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def cpu_ns_seconds(self):
        """CPU time of the VM from the scheduler's nanosecond accounting
        (/proc/PID/task/*/schedstat, summed over threads): the same quantity
        as utime+stime without its 10 ms tick granularity."""
        total = 0
        task_dir = "/proc/%d/task" % self.pid
        for tid in os.listdir(task_dir):
            try:
                with open(os.path.join(task_dir, tid, "schedstat")) as f:
                    total += int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                pass  # the thread just ended
        return total / 1e9

    def status_kib(self, key):
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        return None

    def alive(self):
        return not self._eof

    def stop(self, grace=5.0):
        """End the VM: SIGTERM, then SIGKILL after `grace` seconds."""
        if self._eof:
            return
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.wait_exit(wait)
                return
            except VMError:
                continue


def _quote(arg):
    if re.fullmatch(r"[\w@%+=:,./-]+", arg):
        return arg
    return "'" + arg.replace("'", "'\\''") + "'"
