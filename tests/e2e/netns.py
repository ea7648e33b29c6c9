"""Network namespaces for the tests that need several "machines" on this one:
a Lab makes namespaces, veth pairs and a bridge joining them, and removes
all of it (and kills what still runs inside) when it is closed. Names carry
the test process's pid, so two runs never collide and leftovers of a killed
run are recognisable (kumo-<pid>-...).

Needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN) and iproute2; `available()`
says whether this machine offers them.
"""
import os
import shutil
import subprocess

import pytest


def available():
    """None when namespaces can be made here, else why not."""
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    if not shutil.which("ip"):
        return "needs iproute2's ip"
    return None


def need():
    why = available()
    if why:
        pytest.skip(why)


def sh(*cmd, check=True, timeout=30):
    r = subprocess.run(list(cmd), stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)}: exit {r.returncode}: {r.stderr.strip()}")
    return r


class Lab:
    """Namespaces joined by one bridge: add(name, address) makes namespace
    kumo-PID-name with a veth whose other end is on the bridge (in the
    root namespace when bridge_addr is given, so the root can reach them)."""

    def __init__(self, tag, subnet="192.168.77", mtu=1500, bridge_addr=None):
        self.tag = f"kumo{os.getpid() % 100000}{tag}"[:10]
        self.subnet = subnet
        self.mtu = mtu
        self.bridge = f"{self.tag}br"[:15]
        self.spaces = []
        self.links = []
        sh("ip", "link", "add", self.bridge, "type", "bridge")
        sh("ip", "link", "set", self.bridge, "mtu", str(mtu), "up")
        if bridge_addr:
            sh("ip", "addr", "add", f"{subnet}.{bridge_addr}/24", "dev", self.bridge)

    def ns(self, name):
        return f"{self.tag}-{name}"

    def add(self, name, host_octet):
        """Namespace `name` with eth0 = subnet.host_octet/24 on the bridge."""
        ns = self.ns(name)
        sh("ip", "netns", "add", ns)
        self.spaces.append(ns)
        outer = f"{self.tag}{len(self.spaces)}"[:15]
        sh("ip", "link", "add", outer, "type", "veth", "peer", "name", "eth0", "netns", ns)
        self.links.append(outer)
        sh("ip", "link", "set", outer, "mtu", str(self.mtu), "master", self.bridge, "up")
        self.run(name, "ip", "link", "set", "lo", "up")
        self.run(name, "ip", "link", "set", "eth0", "mtu", str(self.mtu), "up")
        self.run(name, "ip", "addr", "add", f"{self.subnet}.{host_octet}/24", "dev", "eth0")
        return f"{self.subnet}.{host_octet}"

    def link(self, name, up):
        """Cut (or restore) namespace name's link to the bridge."""
        i = self.spaces.index(self.ns(name))
        sh("ip", "link", "set", self.links[i], "up" if up else "down")

    def run(self, name, *cmd, check=True, timeout=30):
        return sh("ip", "netns", "exec", self.ns(name), *cmd, check=check, timeout=timeout)

    def prefix(self, name):
        """The command prefix that runs a program inside namespace name."""
        return ["ip", "netns", "exec", self.ns(name)]

    def pids(self, name):
        r = sh("ip", "netns", "pids", self.ns(name), check=False)
        return [int(p) for p in r.stdout.split()]

    def close(self):
        for ns in self.spaces:
            r = sh("ip", "netns", "pids", ns, check=False)
            for p in r.stdout.split():
                try:
                    os.kill(int(p), 9)
                except OSError:
                    pass
        for ns in self.spaces:
            sh("ip", "netns", "del", ns, check=False)
        for link in self.links:
            sh("ip", "link", "del", link, check=False)
        sh("ip", "link", "del", self.bridge, check=False)
        self.spaces = []
