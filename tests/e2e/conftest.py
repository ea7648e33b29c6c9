"""Shared fixtures for kumo's end-to-end tests.

Environment (set by meson, or by hand):
  KUMO_BUILD   the build directory holding kumo-vmm (default: <repo>/build)
"""
import os
import pathlib
import random
import socket
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("KUMO_BUILD", ROOT / "build"))


@pytest.fixture(scope="session")
def vmm():
    path = BUILD / "kumo-vmm"
    if not path.exists():
        pytest.fail(f"{path} is missing: build first (scripts/build.sh)")
    return str(path)


@pytest.fixture(scope="session")
def progs():
    return BUILD / "tests" / "e2e" / "progs"


def run(cmd, timeout=60, **kw):
    """Run a command, return CompletedProcess with text output."""
    return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout, **kw)


@pytest.fixture(scope="session")
def guest():
    """The default guest (Image, initramfs.cpio.gz, rootfs.ext4): from
    KUMO_GUEST_DIR, else built (or found in the cache) by guest/build.sh."""
    d = os.environ.get("KUMO_GUEST_DIR")
    if not d:
        r = subprocess.run([str(ROOT / "guest" / "build.sh")], capture_output=True, text=True)
        if r.returncode != 0:
            pytest.fail("guest/build.sh failed:\n" + r.stderr[-3000:])
        d = r.stdout.strip().splitlines()[-1]
    d = pathlib.Path(d)
    for f in ("Image", "initramfs.cpio.gz"):
        if not (d / f).exists():
            pytest.fail(f"{d / f} is missing")
    return d


def boot_cmd(vmm, guest, run=None, cpus=1, mem=256, extra=(), append=""):
    """kumo-vmm arguments for a direct boot of the default guest."""
    cmdline = "console=ttyS0 " + append
    if run is not None:
        cmdline += f' kumo.run="{run}"'
    return [vmm, "--kernel", str(guest / "Image"), "--initrd", str(guest / "initramfs.cpio.gz"),
            "--append", cmdline.strip(), "--cpus", str(cpus), "--mem", str(mem), *extra]


OPENSBI = pathlib.Path("/usr/lib/riscv64-linux-gnu/opensbi/generic")
UBOOT = pathlib.Path("/usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin")


def public_port_window(size=100):
    """kumod's --public-ports for a test: a window of `size` host ports
    (below Linux's ephemeral range) of which none is in use right now, so
    kumods of tests running side by side on one machine do not collide."""
    bases = list(range(20000, 32700 - size, size))
    random.shuffle(bases)
    for base in bases:
        held = []
        try:
            for port in range(base, base + size):
                s = socket.socket()
                held.append(s)
                s.bind(("127.0.0.1", port))
            return f"{base}-{base + size - 1}"
        except OSError:
            continue
        finally:
            for s in held:
                s.close()
    raise RuntimeError("no free window of host ports for public IPs")
