"""kumo-switch's VXLAN (RFC 7348) against Linux's own vxlan device.

Two network namespaces made by the test on one bridge (the underlay):
"host" runs kumo-switch with a VNet of VNI 4242 whose underlay address is
192.168.77.1; "linux" holds a Linux vxlan device (ip link add ... type
vxlan id 4242 dstport 4789) with an address of the VNet's subnet, its
default forwarding entry pointing at the switch. A real guest behind the
switch (on its shared-memory rings) and the Linux endpoint then exchange
frames:

- learned: the guest's ARP for the endpoint is flooded to the VNet's hosts
  (head-end replication), the endpoint answers and is learned; ping and TCP
  both ways, a 2 MB transfer (outer datagrams above the underlay's MTU are
  fragmented), an NSG rule of the guest's NIC enforced by the guest's host
  against traffic from the other host;
- fed by the control plane: the switch is given the endpoint as a NIC on
  another host (with learning and flooding off) and reaches it from the
  table alone.

Namespaces, links and processes in them are removed at the end. Needs root,
and KUMO_GUEST_DIR for the guest.
"""
import json
import os
import pathlib
import re
import signal
import socket
import subprocess
import time

import pytest

import netns
from conftest import BUILD
from test_switch import Guest, guest_images, guests, mac_str, rule  # noqa: F401 (fixture)

VNI = 4242
EP_MAC = "02:11:00:00:00:09"


def switch_binary():
    for p in (BUILD / "kumo-switch", BUILD / "src" / "network" / "kumo-switch"):
        if p.exists():
            return str(p)
    pytest.fail(f"kumo-switch is missing under {BUILD}")


class NsSwitch:
    """kumo-switch inside a namespace of the lab (its sockets are files, so
    guests outside the namespace still connect)."""

    def __init__(self, lab, name, config, tmp):
        self.dir = pathlib.Path(tmp)
        self.ports = str(self.dir / "ports.sock")
        self.control = str(self.dir / "control.sock")
        (self.dir / "config.json").write_text(json.dumps(config))
        self.log = open(self.dir / "switch.log", "w+")
        self.proc = subprocess.Popen(lab.prefix(name) + [
            switch_binary(), "--ports", self.ports, "--control", self.control, "--config",
            str(self.dir / "config.json"), "-v"], stdin=subprocess.DEVNULL, stdout=self.log,
            stderr=subprocess.STDOUT)
        for _ in range(300):
            if os.path.exists(self.control) or self.proc.poll() is not None:
                break
            time.sleep(0.02)
        if not os.path.exists(self.control):
            self.log.seek(0)
            pytest.fail("kumo-switch did not start:\n" + self.log.read())
        self.ctl = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.ctl.connect(self.control)
        self.ctl_file = self.ctl.makefile("rb")

    def request(self, **req):
        self.ctl.sendall(json.dumps(req).encode() + b"\n")
        return json.loads(self.ctl_file.readline())

    def stop(self):
        self.ctl.close()
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=10)
        self.log.seek(0)
        log = self.log.read()
        self.log.close()
        assert rc == 0, log
        assert "runtime error" not in log and "AddressSanitizer" not in log, log
        return log


def config(flood=True, learn=True, remote=None):
    nics = [{"id": "n1", "vnet": "v1", "subnet": "web", "mac": mac_str(1), "nsg": "n1-nsg",
             "hostname": "vm1"}]
    if remote:
        nics.append(remote)
    vx = {"vni": VNI, "learn": learn}
    if flood:
        vx["flood"] = ["192.168.77.2"]
    return {
        "underlay": {"address": "192.168.77.1"},
        "vnets": [{"name": "v1", "address_space": ["10.0.0.0/16"], "vxlan": vx,
                   "subnets": [{"name": "web", "prefix": "10.0.1.0/24"}]}],
        "nsgs": [{"name": "n1-nsg", "rules": [
            rule("no-9000", 100, "Inbound", "Deny", "Tcp", destination_port_range="9000")]}],
        "nics": nics,
    }


@pytest.fixture
def lab():
    netns.need()
    lab = netns.Lab("vx")
    try:
        yield lab
    finally:
        lab.close()


def linux_endpoint(lab, ip, mac):
    """The vxlan device of namespace "linux": VNI 4242, port 4789, with ip
    and mac, flooding to the switch's host."""
    lab.run("linux", "ip", "link", "add", "vx0", "type", "vxlan", "id", str(VNI), "dstport",
            "4789", "local", "192.168.77.2", "dev", "eth0")
    lab.run("linux", "bridge", "fdb", "append", "00:00:00:00:00:00", "dev", "vx0", "dst",
            "192.168.77.1")
    lab.run("linux", "ip", "link", "set", "vx0", "address", mac)
    lab.run("linux", "ip", "addr", "add", f"{ip}/24", "dev", "vx0")
    lab.run("linux", "ip", "link", "set", "vx0", "up")
    # Between namespaces nothing computes a checksum the stack left to the
    # "hardware" (veth passes them on unfinished, a real NIC fills them in):
    # the inner TCP checksums must be complete when they leave the device.
    lab.run("linux", "ethtool", "-K", "vx0", "tx", "off")


def test_linux_vxlan_device_and_guest(lab, guests, tmp_path):
    vmm, guest = guest_images()
    lab.add("host", 1)
    lab.add("linux", 2)
    linux_endpoint(lab, "10.0.1.50", EP_MAC)
    sw = NsSwitch(lab, "host", config(), tmp_path)
    vm = guests(vmm, guest, tmp_path, "vm1", sw.ports, "n1", 1).start()
    assert "kumo guest: eth0 10.0.1.4/24" in vm.log()
    # the guest's frames take the shared-memory rings to the switch, whose
    # data plane puts them on the underlay (and the underlay's in its ring)
    log = (sw.dir / "switch.log").read_text(errors="replace")
    assert "NIC 'n1' connected (10.0.1.4, shared-memory rings)" in log, log

    # learned: the guest's ARP is flooded, the Linux endpoint answers
    vm.ok("ping -c 2 -W 5 10.0.1.50")
    c = sw.request(op="counters")["vnets"]["v1"]["vxlan"]
    assert c["floods"] >= 1 and c["learned"] == 1 and c["endpoints"] == 1, c
    r = lab.run("linux", "ping", "-c", "2", "-W", "5", "10.0.1.4", check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    neigh = lab.run("linux", "ip", "neigh", "show", "10.0.1.4").stdout
    assert mac_str(1) in neigh, neigh  # the guest's own MAC: switched at L2

    # TCP both ways: the guest serves, the endpoint fetches; and back
    vm.ok("mkdir -p /www && dd if=/dev/urandom of=/www/big bs=1024 count=2048 2>/dev/null && "
          "md5sum /www/big > /www/big.md5 && echo hello-over-vxlan > /www/index.html && "
          "httpd -p 8080 -h /www")
    vm.wait_listening(8080)
    r = lab.run("linux", "curl", "-s", "-m", "20", "http://10.0.1.4:8080/", check=False)
    assert "hello-over-vxlan" in r.stdout, r.stdout + r.stderr
    big = tmp_path / "big"
    r = lab.run("linux", "curl", "-s", "-m", "120", "-o", str(big), "http://10.0.1.4:8080/big",
                check=False, timeout=150)
    assert r.returncode == 0, r.stderr
    want = re.search(r"\b[0-9a-f]{32}\b", vm.ok("cat /www/big.md5")).group(0)
    got = subprocess.run(["md5sum", str(big)], capture_output=True, text=True).stdout.split()[0]
    assert got == want and big.stat().st_size == 2048 * 1024
    srv = subprocess.Popen(lab.prefix("linux") + [
        "/usr/bin/python3", "-c",
        "import socket\n"
        "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
        "s.bind(('10.0.1.50', 7000)); s.listen(1); c, a = s.accept()\n"
        "c.sendall(('hello-from-linux ' + a[0] + '\\n').encode()); c.close()\n"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        out = ""
        for _ in range(20):
            o, st = vm.sh("nc -w 5 10.0.1.50 7000 </dev/null")
            if "hello-from-linux" in o:
                out = o
                break
            time.sleep(0.3)
        assert "hello-from-linux 10.0.1.4" in out, out
    finally:
        srv.kill()
        srv.wait()

    # the NSG of the guest's NIC, enforced on the guest's host for traffic
    # from the other host: port 9000 is denied, 8080 is not
    vm.ok("httpd -p 9000 -h /www")
    vm.wait_listening(9000)
    r = lab.run("linux", "curl", "-s", "-m", "3", "http://10.0.1.4:9000/", check=False)
    assert r.returncode != 0 and "hello" not in r.stdout, r.stdout
    r = lab.run("linux", "curl", "-s", "-m", "10", "http://10.0.1.4:8080/", check=False)
    assert "hello-over-vxlan" in r.stdout
    c = sw.request(op="counters")["vnets"]["v1"]["vxlan"]
    assert c["drops"]["policy"] >= 1 and c["rx_packets"] > 100 and c["tx_packets"] > 1000, c
    assert c["drops"]["spoofed"] == 0, c

    # fed by the control plane: the endpoint (now 10.0.1.60 with another
    # MAC) as a NIC on host 192.168.77.2; no flooding, no learning
    lab.run("linux", "ip", "addr", "flush", "dev", "vx0")
    lab.run("linux", "ip", "link", "set", "vx0", "address", "02:11:00:00:00:0a")
    lab.run("linux", "ip", "addr", "add", "10.0.1.60/24", "dev", "vx0")
    remote = {"id": "linux-ep", "vnet": "v1", "subnet": "web", "mac": "02:11:00:00:00:0a",
              "private_ip": "10.0.1.60", "host": "192.168.77.2", "hostname": "linuxep"}
    r = sw.request(op="set_config", config=config(flood=False, learn=False, remote=remote))
    assert r["ok"], r
    vm.ok("ping -c 2 -W 5 10.0.1.60")
    vm.ok("ping -c 1 -W 5 linuxep")  # its name resolves in the VNet (internal DNS)
    r = lab.run("linux", "curl", "-s", "-m", "10", "http://10.0.1.4:8080/", check=False)
    assert "hello-over-vxlan" in r.stdout, r.stdout + r.stderr
    c2 = sw.request(op="counters")["vnets"]["v1"]["vxlan"]
    assert c2["floods"] == c["floods"] and c2["learned"] == c["learned"], (c, c2)
    vm.stop()
    sw.stop()
