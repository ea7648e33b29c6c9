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


class OutsideHost:
    """A host outside this one for NAT tests: a network namespace joined to
    this host by a veth pair, at an address of a documentation range
    (198.51.100.0/24: neither this host's nor a private network's, so the
    NATs' egress policy lets VMs reach it). `socket()` makes sockets that
    live in that namespace; `run()` starts a program there. With
    private=True the address is in 192.168.0.0/16 instead: a LAN host that
    VMs reach only when the operator allows it."""

    libc = None

    def __init__(self, private=False):
        import ctypes
        if OutsideHost.libc is None:
            OutsideHost.libc = ctypes.CDLL(None, use_errno=True)
        k = random.randrange(1, 63)
        self.name = f"kumo-out-{os.getpid()}-{k}"
        net = f"192.168.{random.randrange(100, 250)}" if private else "198.51.100"
        self.host_side = f"{net}.{4 * k + 1}"
        self.addr = f"{net}.{4 * k + 2}"
        self.link = f"ko{os.getpid() % 100000}x{k}"
        cmds = [["ip", "netns", "add", self.name],
                ["ip", "link", "add", self.link, "type", "veth", "peer", "name", self.link + "p"],
                ["ip", "link", "set", self.link + "p", "netns", self.name],
                ["ip", "addr", "add", f"{self.host_side}/30", "dev", self.link],
                ["ip", "link", "set", self.link, "up"],
                ["ip", "netns", "exec", self.name, "ip", "addr", "add", f"{self.addr}/30", "dev",
                 self.link + "p"],
                ["ip", "netns", "exec", self.name, "ip", "link", "set", self.link + "p", "up"],
                ["ip", "netns", "exec", self.name, "ip", "link", "set", "lo", "up"],
                ["ip", "netns", "exec", self.name, "ip", "route", "add", "default", "via",
                 self.host_side]]
        for c in cmds:
            r = subprocess.run(c, capture_output=True, text=True)
            if r.returncode != 0:
                self.close()
                raise OSError(f"{' '.join(c)}: {r.stderr.strip()}")

    def socket(self, *args):
        """socket.socket(*args), created inside the namespace."""
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        ns = os.open(f"/run/netns/{self.name}", os.O_RDONLY)
        try:
            if OutsideHost.libc.setns(ns, 0x40000000) != 0:  # CLONE_NEWNET
                raise OSError("setns into the outside host's namespace failed")
            try:
                return socket.socket(*args)
            finally:
                OutsideHost.libc.setns(own, 0x40000000)
        finally:
            os.close(own)
            os.close(ns)

    def run(self, argv, **kw):
        return subprocess.Popen(["ip", "netns", "exec", self.name, *argv], **kw)

    def close(self):
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)
        subprocess.run(["ip", "link", "del", self.link], capture_output=True)


@pytest.fixture
def outside():
    """An OutsideHost (needs root and `ip netns`; the test is skipped otherwise)."""
    if os.geteuid() != 0:
        pytest.skip("an outside host (network namespace) needs root")
    try:
        h = OutsideHost()
    except OSError as e:
        pytest.skip(f"cannot make an outside host: {e}")
    yield h
    h.close()


@pytest.fixture
def lan_host():
    """An OutsideHost on a private network (a LAN neighbour of this host)."""
    if os.geteuid() != 0:
        pytest.skip("a LAN host (network namespace) needs root")
    try:
        h = OutsideHost(private=True)
    except OSError as e:
        pytest.skip(f"cannot make a LAN host: {e}")
    yield h
    h.close()
