"""Everything the benchmark needs before the first VM starts.

- kumo-vmm (scripts/build.sh), the guest kernel and base initramfs
  (guest/build.sh, cached), QEMU and OpenSBI from Debian;
- the workload programs of bench/programs, built twice from the same source:
  natively (gcc) and for the guest (riscv64-linux-gnu-gcc, static);
- the bench initramfs: the guest's own initramfs.cpio.gz followed by a second,
  uncompressed newc archive with /bench (programs, session script, plans). The
  kernel unpacks concatenated archives one after the other (zero padding between
  them is skipped), so the guest image itself is not rebuilt.
"""

import hashlib
import os
import shutil
import subprocess
import sys

CFLAGS = ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Werror",
          "-ffp-contract=off", "-pthread"]
CROSS_CC = "riscv64-linux-gnu-gcc"
FW_JUMP = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin"


class BuildError(Exception):
    pass


class Paths:
    """Where things are. Filled in by prepare()."""

    def __init__(self, root):
        self.root = root
        self.bench = os.path.join(root, "bench")
        self.out = os.path.join(root, "build-bench")
        self.kumo_vmm = os.path.join(root, "build", "kumo-vmm")
        self.qemu = shutil.which("qemu-system-riscv64")
        self.fw_jump = FW_JUMP if os.path.exists(FW_JUMP) else None
        self.guest_dir = None
        self.image = None
        self.base_initrd = None
        self.bench_initrd = None
        self.native = {}          # program name -> native binary


def log(msg):
    print("[bench] " + msg, file=sys.stderr, flush=True)


def _run(argv, cwd=None, capture=False):
    try:
        r = subprocess.run(argv, cwd=cwd, check=True, text=True,
                           stdout=subprocess.PIPE if capture else None)
    except FileNotFoundError:
        raise BuildError("not found: %s" % argv[0])
    except subprocess.CalledProcessError as e:
        raise BuildError("failed (status %d): %s" % (e.returncode, " ".join(argv)))
    return r.stdout if capture else None


def programs(paths):
    """Names of the workload programs: every bench/programs/*.c."""
    d = os.path.join(paths.bench, "programs")
    return sorted(f[:-2] for f in os.listdir(d) if f.endswith(".c"))


def _compile(cc, src, deps, out, extra):
    newest = max(os.path.getmtime(p) for p in [src] + deps)
    if os.path.exists(out) and os.path.getmtime(out) >= newest:
        return
    os.makedirs(os.path.dirname(out), exist_ok=True)
    _run([cc] + CFLAGS + extra + ["-o", out, src, "-lm"])


def prepare(paths, plans, skip_build=False, profile_build=False):
    """Build or locate everything; write the plans into the bench initramfs.
    A guest directory already set in paths (--guest) is used as it is.
    profile_build: use build-bench/kumo-prof/kumo-vmm instead, the release
    build plus debug information (same -O level), so perf can name source lines."""
    if profile_build:
        d = os.path.join(paths.out, "kumo-prof")
        if not os.path.exists(os.path.join(d, "build.ninja")):
            log("configuring %s (release + debug info, for perf)" % d)
            _run(["meson", "setup", d, "--buildtype=release", "-Ddebug=true"], cwd=paths.root,
                 capture=True)
        log("building %s" % d)
        _run(["ninja", "-C", d, "kumo-vmm"], cwd=paths.root, capture=True)
        paths.kumo_vmm = os.path.join(d, "kumo-vmm")
    elif not skip_build:
        log("building kumo-vmm (scripts/build.sh)")
        _run([os.path.join(paths.root, "scripts", "build.sh")], cwd=paths.root)
    if not paths.guest_dir:
        log("guest kernel and initramfs (guest/build.sh; cached after the first build)")
        out = _run([os.path.join(paths.root, "guest", "build.sh")], cwd=paths.root, capture=True)
        lines = [l for l in out.splitlines() if l.strip()]
        if not lines or not os.path.isdir(lines[-1]):
            raise BuildError("guest/build.sh did not print its output directory")
        paths.guest_dir = lines[-1]
    paths.image = os.path.join(paths.guest_dir, "Image")
    paths.base_initrd = os.path.join(paths.guest_dir, "initramfs.cpio.gz")

    for tool, hint in ((paths.kumo_vmm, "run scripts/build.sh"),
                       (paths.qemu, "apt-get install qemu-system-misc"),
                       (shutil.which(CROSS_CC),
                        "apt-get install gcc-riscv64-linux-gnu libc6-dev-riscv64-cross"),
                       (shutil.which("gcc"), "apt-get install gcc"),
                       (shutil.which("cpio"), "apt-get install cpio")):
        if not tool or not os.path.exists(tool):
            raise BuildError("missing tool (%s)" % hint)

    # Run a private copy: other work on the tree may rebuild build/kumo-vmm
    # while the benchmark runs, and one invocation must measure one binary.
    paths.kumo_source = paths.kumo_vmm
    snap = os.path.join(paths.out, "bin", "kumo-vmm")
    os.makedirs(os.path.dirname(snap), exist_ok=True)
    shutil.copy2(paths.kumo_vmm, snap + ".tmp")
    os.replace(snap + ".tmp", snap)
    paths.kumo_vmm = snap
    paths.kumo_sha256 = sha256_file(snap)

    src_dir = os.path.join(paths.bench, "programs")
    header = [os.path.join(src_dir, "bench.h")]
    root = os.path.join(paths.out, "rootfs")
    log("compiling bench/programs natively and for riscv64")
    for name in programs(paths):
        src = os.path.join(src_dir, name + ".c")
        native = os.path.join(paths.out, "native", name)
        _compile("gcc", src, header, native, [])
        _compile(CROSS_CC, src, header, os.path.join(root, "bench", name), ["-static"])
        paths.native[name] = native

    # The session script and this run's plans.
    bench_dir = os.path.join(root, "bench")
    shutil.copy(os.path.join(paths.bench, "guest", "session"), os.path.join(bench_dir, "session"))
    plan_dir = os.path.join(bench_dir, "plans")
    shutil.rmtree(plan_dir, ignore_errors=True)
    os.makedirs(plan_dir)
    for name, text in plans.items():
        with open(os.path.join(plan_dir, name), "w") as f:
            f.write(text)

    # newc archive of /bench, then base + bench concatenated.
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel = os.path.relpath(dirpath, root)
        if rel != ".":
            files.append(rel)
        files += [os.path.join(rel, f) if rel != "." else f for f in sorted(filenames)]
    cpio = subprocess.run(["cpio", "-o", "-H", "newc", "--quiet", "-R", "0:0",
                           "--reproducible"], cwd=root, check=True,
                          input=("\n".join(files) + "\n").encode(),
                          stdout=subprocess.PIPE).stdout
    paths.bench_initrd = os.path.join(paths.out, "initramfs-bench.cpio")
    with open(paths.bench_initrd, "wb") as f:
        with open(paths.base_initrd, "rb") as base:
            shutil.copyfileobj(base, f)
        # The kernel looks for an uncompressed archive only at a 4-byte aligned
        # offset, and skips zero bytes between archives.
        f.write(b"\0" * (-f.tell() % 4))
        f.write(cpio)
    log("bench initramfs: %s (%.1f MiB)"
        % (paths.bench_initrd, os.path.getsize(paths.bench_initrd) / 2**20))


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
