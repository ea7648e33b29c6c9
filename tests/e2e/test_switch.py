"""End-to-end tests of kumo-switch with fake NICs and with real guests.

Each test starts build/src/network/kumo-switch (or $KUMO_BUILD/kumo-switch)
with a configuration, connects "NICs" to its SOCK_SEQPACKET port socket from
Python (raw Ethernet frames built with struct), and checks what comes out:
the hello protocol, DHCP, ARP, switching and routing, isolation between VNets,
NSG drops and stateful replies, NAT to the host's network, public IP port
forwarding, slow ports, the metadata service and internal DNS, and the
counters of the control socket.

The real-guest tests (KUMO_GUEST_DIR set to guest/build.sh's output) boot the
default guest under kumo-vmm on the switch and cover the issue's list: two VMs
ping and talk TCP both ways, a third in another VNet with the same address
space reaches neither; NSG rules allow 80 and deny 22, replies of outbound
connections pass, removing the allow rule keeps an open connection and
refuses new ones, rule counters count; a public IP answers curl from the host;
outbound NAT to a host server, then blocked by an outbound deny rule; the
metadata service returns the VM's data (400 without the Metadata header);
user data runs at first boot (once per instance on a disk root); VM names
resolve in their VNet.
"""
import array
import base64
import fcntl
import json
import mmap
import select
import os
import pathlib
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time

import re

import pytest

from conftest import BUILD

GW_MAC = bytes.fromhex("123456789abc")
BCAST = b"\xff" * 6


def mac(n):
    return bytes([0x52, 0x54, 0, 0, 0, n])


def mac_str(n):
    return "52:54:00:00:00:%02x" % n


def switch_binary():
    for p in (BUILD / "kumo-switch", BUILD / "src" / "network" / "kumo-switch"):
        if p.exists():
            return str(p)
    pytest.fail(f"kumo-switch is missing under {BUILD}: build first")


# ------------------------------------------------------------------ frames --

def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def aton(ip):
    return socket.inet_aton(ip)


def ntoa(b):
    return socket.inet_ntoa(b)


def eth(dst, src, etype, payload):
    return dst + src + struct.pack("!H", etype) + payload


def ipv4(src, dst, proto, payload, ttl=64):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0x4000, ttl, proto, 0,
                    aton(src), aton(dst))
    return h[:10] + struct.pack("!H", csum(h)) + h[12:] + payload


def l4_csum(src, dst, proto, seg):
    return csum(aton(src) + aton(dst) + struct.pack("!BBH", 0, proto, len(seg)) + seg)


def udp(src, dst, sport, dport, data):
    seg = struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data
    c = l4_csum(src, dst, 17, seg) or 0xFFFF
    return ipv4(src, dst, 17, seg[:6] + struct.pack("!H", c) + seg[8:])


SYN, ACK, FIN, RST, PSH = 0x02, 0x10, 0x01, 0x04, 0x08


def tcp(src, dst, sport, dport, flags, seq=0, ack=0, data=b""):
    seg = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0) + data
    c = l4_csum(src, dst, 6, seg)
    return ipv4(src, dst, 6, seg[:16] + struct.pack("!H", c) + seg[18:])


def icmp_echo(src, dst, ident, seq=1, reply=False):
    m = struct.pack("!BBHHH", 0 if reply else 8, 0, 0, ident, seq) + b"kumo-ping"
    m = m[:2] + struct.pack("!H", csum(m)) + m[4:]
    return ipv4(src, dst, 1, m)


def arp(op, sha, spa, tha, tpa, dst=BCAST):
    body = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, op, sha, aton(spa), tha, aton(tpa))
    return eth(dst, sha, 0x0806, body + b"\0" * 18)


def dhcp_msg(chaddr, mtype, xid=0x1234, req_ip=None, server=None, ciaddr="0.0.0.0"):
    m = struct.pack("!BBBBIHH4s4s4s4s16s64s128sI", 1, 1, 6, 0, xid, 0, 0, aton(ciaddr),
                    b"\0" * 4, b"\0" * 4, b"\0" * 4, chaddr + b"\0" * 10, b"", b"", 0x63825363)
    opts = bytes([53, 1, mtype])
    if req_ip:
        opts += bytes([50, 4]) + aton(req_ip)
    if server:
        opts += bytes([54, 4]) + aton(server)
    opts += bytes([55, 4, 1, 3, 6, 51, 255])
    return m + opts


def parse(frame):
    """A dict of the fields of an Ethernet/IPv4/ARP frame."""
    f = {"dst": frame[0:6], "src": frame[6:12], "type": struct.unpack("!H", frame[12:14])[0]}
    p = frame[14:]
    if f["type"] == 0x0806:
        op, sha, spa, tha, tpa = struct.unpack("!6xH6s4s6s4s", p[:28])
        f.update(op=op, sha=sha, spa=ntoa(spa), tha=tha, tpa=ntoa(tpa))
    elif f["type"] == 0x0800:
        ihl = (p[0] & 15) * 4
        total = struct.unpack("!H", p[2:4])[0]
        f.update(ttl=p[8], proto=p[9], ip_src=ntoa(p[12:16]), ip_dst=ntoa(p[16:20]),
                 ip_ok=csum(p[:ihl]) == 0)
        l4 = p[ihl:total]
        if f["proto"] in (6, 17):
            f["sport"], f["dport"] = struct.unpack("!HH", l4[:4])
        if f["proto"] == 17:
            f["data"] = l4[8:]
        elif f["proto"] == 6:
            seq, ack, off, flags = struct.unpack("!IIBB", l4[4:14])
            f.update(seq=seq, ack=ack, flags=flags, data=l4[(off >> 4) * 4:])
        elif f["proto"] == 1:
            f.update(icmp_type=l4[0], icmp_id=struct.unpack("!H", l4[4:6])[0])
    return f


def dhcp_options(data):
    opts, i = {}, 240
    while i < len(data) and data[i] != 255:
        if data[i] == 0:
            i += 1
            continue
        opts[data[i]] = data[i + 2:i + 2 + data[i + 1]]
        i += 2 + data[i + 1]
    return opts


# --------------------------------------------------------------- fixtures --

class Nic:
    def __init__(self, path, nic_id, mac_bytes):
        self.mac = mac_bytes
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock.connect(path)
        self.sock.send(json.dumps({"nic": nic_id, "mac": ":".join("%02x" % b for b in mac_bytes)})
                       .encode())
        self.sock.settimeout(5)
        self.hello = json.loads(self.sock.recv(4096))

    def send(self, frame):
        self.sock.send(frame)

    def send_ip(self, packet, dst=GW_MAC):
        self.sock.send(eth(dst, self.mac, 0x0800, packet))

    def recv(self, timeout=2.0):
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(70000)
        except socket.timeout:
            return None
        return data

    def recv_match(self, pred, timeout=5.0):
        """The first frame satisfying pred (parsed), skipping others."""
        end = time.time() + timeout
        while time.time() < end:
            data = self.recv(max(0.05, end - time.time()))
            if data is None:
                return None
            f = parse(data)
            if pred(f):
                return f
        return None

    def quiet(self, timeout=0.5):
        return self.recv(timeout) is None

    def close(self):
        self.sock.close()


class ShmNic(Nic):
    """A NIC on the shared-memory path (src/lib/shmring.h): a sealed memfd of
    two frame rings and two eventfds go with the hello; frames then travel
    through the rings, as kumo-vmm's do."""
    MAGIC = 0x676e69726f6d756b
    AREA = 448  # sizeof(struct shmring_area): header, two ring control blocks

    def __init__(self, path, nic_id, mac_bytes, ring=65536):
        self.mac, self.ring = mac_bytes, ring
        size = (self.AREA + 2 * ring + 4095) & ~4095
        fd = os.memfd_create("test-port", os.MFD_ALLOW_SEALING | os.MFD_CLOEXEC)
        os.ftruncate(fd, size)
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW)
        self.mm = mmap.mmap(fd, size)
        struct.pack_into("<QII", self.mm, 0, self.MAGIC, 1, ring)
        self.efd_tx = os.eventfd(0, os.EFD_CLOEXEC)
        self.efd_rx = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock.connect(path)
        hello = json.dumps({"nic": nic_id, "mac": ":".join("%02x" % b for b in mac_bytes),
                            "shm": True}).encode()
        self.sock.sendmsg([hello], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                     array.array("i", [fd, self.efd_tx, self.efd_rx]))])
        os.close(fd)
        self.sock.settimeout(5)
        self.hello = json.loads(self.sock.recv(4096))
        self.head = self.tail = 0  # our own cursors: TX head, RX tail

    def _ctl(self, ring, field):  # ring 0 TX, 1 RX; field 0 head, 1 tail, 2 want_kick
        return 64 + 192 * ring + 64 * field

    def _data(self, ring):
        return self.AREA + ring * self.ring

    def send(self, frame):
        total = 8 + ((len(frame) + 7) & ~7)
        at = self.head % self.ring
        if self.ring - at < total:  # a wrap record, then from the start
            struct.pack_into("<II", self.mm, self._data(0) + at, 0, 1)
            self.head += self.ring - at
            at = 0
        struct.pack_into("<II", self.mm, self._data(0) + at, len(frame), 0)
        self.mm[self._data(0) + at + 8:self._data(0) + at + 8 + len(frame)] = frame
        self.head += total
        struct.pack_into("<I", self.mm, self._ctl(0, 0), self.head & 0xffffffff)
        os.eventfd_write(self.efd_tx, 1)

    def send_ip(self, packet, dst=GW_MAC):
        self.send(eth(dst, self.mac, 0x0800, packet))

    def corrupt(self):
        """Publish a head the ring cannot have (not a record boundary)."""
        struct.pack_into("<I", self.mm, self._ctl(0, 0), (self.head + 3) & 0xffffffff)
        os.eventfd_write(self.efd_tx, 1)

    def recv(self, timeout=2.0):
        end = time.time() + timeout
        while True:
            head = struct.unpack_from("<I", self.mm, self._ctl(1, 0))[0]
            if head != self.tail & 0xffffffff:
                at = self.tail % self.ring
                ln, flags = struct.unpack_from("<II", self.mm, self._data(1) + at)
                if flags & 1:
                    self.tail += self.ring - at
                else:
                    data = bytes(self.mm[self._data(1) + at + 8:self._data(1) + at + 8 + ln])
                    self.tail += 8 + ((ln + 7) & ~7)
                struct.pack_into("<I", self.mm, self._ctl(1, 1), self.tail & 0xffffffff)
                if not flags & 1:
                    return data
                continue
            left = end - time.time()
            if left <= 0:
                return None
            struct.pack_into("<I", self.mm, self._ctl(1, 2), 1)  # want a kick
            if struct.unpack_from("<I", self.mm, self._ctl(1, 0))[0] == self.tail & 0xffffffff:
                select.select([self.efd_rx], [], [], left)
                try:
                    os.eventfd_read(self.efd_rx)
                except BlockingIOError:
                    pass

    def close(self):
        self.sock.close()
        os.close(self.efd_tx)
        os.close(self.efd_rx)


class Switch:
    def __init__(self, config, tmp):
        self.dir = pathlib.Path(tmp)
        self.ports = str(self.dir / "ports.sock")
        self.control = str(self.dir / "control.sock")
        cfg = self.dir / "config.json"
        cfg.write_text(json.dumps(config))
        self.log = open(self.dir / "switch.log", "w+")
        self.proc = subprocess.Popen([switch_binary(), "--ports", self.ports, "--control",
                                      self.control, "--config", str(cfg), "-v"],
                                     stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        for _ in range(200):
            if os.path.exists(self.ports) or self.proc.poll() is not None:
                break
            time.sleep(0.02)
        if not os.path.exists(self.ports):
            self.log.seek(0)
            pytest.fail("kumo-switch did not start:\n" + self.log.read())
        self.ctl = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.ctl.connect(self.control)
        self.ctl_file = self.ctl.makefile("rb")
        self.nics = []

    def nic(self, nic_id, n, shm=False):
        nic = (ShmNic if shm else Nic)(self.ports, nic_id, mac(n))
        self.nics.append(nic)
        assert nic.hello.get("ok"), nic.hello
        return nic

    def request(self, **req):
        self.ctl.sendall(json.dumps(req).encode() + b"\n")
        return json.loads(self.ctl_file.readline())

    def counters(self):
        r = self.request(op="counters")
        assert r["ok"], r
        return r

    def stop(self):
        for n in self.nics:
            n.close()
        self.ctl.close()
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=10)
        self.log.seek(0)
        log = self.log.read()
        self.log.close()
        assert rc == 0, log
        assert "runtime error" not in log and "AddressSanitizer" not in log, log
        return log


def rule(name, prio, direction, access, proto, **kw):
    r = {"name": name, "priority": prio, "direction": direction, "access": access,
         "protocol": proto}
    r.update(kw)
    return r


def free_port(kind=socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def base_config(web_rules=(), public_port=None, nic_port=80):
    cfg = {
        "vnets": [
            {"name": "v1", "address_space": ["10.0.0.0/16"], "subnets": [
                {"name": "web", "prefix": "10.0.1.0/24", "nsg": "web-nsg"},
                {"name": "db", "prefix": "10.0.2.0/24"}]},
            {"name": "v2", "address_space": ["10.0.0.0/16"], "subnets": [
                {"name": "web", "prefix": "10.0.1.0/24"}]},
        ],
        "nsgs": [
            {"name": "web-nsg", "rules": list(web_rules)},
            {"name": "db-nic", "rules": [
                rule("no-ssh", 100, "Inbound", "Deny", "Tcp", destination_port_range="22")]},
        ],
        "nics": [
            {"id": "n1", "vnet": "v1", "subnet": "web", "mac": mac_str(1)},
            {"id": "n2", "vnet": "v1", "subnet": "web", "mac": mac_str(2)},
            {"id": "n3", "vnet": "v1", "subnet": "db", "mac": mac_str(3), "nsg": "db-nic"},
            {"id": "n4", "vnet": "v2", "subnet": "web", "mac": mac_str(4)},
        ],
    }
    if public_port:
        cfg["public_ips"] = [{"name": "pip1", "host_address": "127.0.0.1",
                              "ports": [{"host_port": public_port, "nic_port": nic_port}]}]
        cfg["nics"][0]["public_ip"] = "pip1"
    return cfg


WEB_RULES = [rule("http-in", 100, "Inbound", "Allow", "Tcp", source_address_prefix="Internet",
                  destination_port_range="80")]


@pytest.fixture
def make_switch():
    made = []
    tmp = tempfile.TemporaryDirectory(prefix="kumo-switch-")

    def make(config):
        d = pathlib.Path(tmp.name) / str(len(made))
        d.mkdir()
        sw = Switch(config, d)
        made.append(sw)
        return sw

    yield make
    for sw in made:
        if sw.proc.poll() is None:
            sw.stop()
    tmp.cleanup()


def host_ipv4():
    """A non-loopback address of this host (what a guest reaches through the NAT)."""
    out = subprocess.run(["ip", "-4", "-o", "addr", "show"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        addr = line.split()[3].split("/")[0]
        if not addr.startswith("127.") and not addr.startswith("10.0."):
            return addr
    return None


# ------------------------------------------------------------------ tests --

def test_hello_protocol(make_switch):
    sw = make_switch(base_config())
    n1 = sw.nic("n1", 1)
    assert n1.hello == {"ok": True, "ip": "10.0.1.4"}
    bad = Nic(sw.ports, "nope", mac(9))
    assert bad.hello["ok"] is False and "unknown NIC 'nope'" in bad.hello["error"]
    assert bad.sock.recv(100) == b""  # closed
    wrong = Nic(sw.ports, "n2", mac(9))
    assert wrong.hello["ok"] is False and "has MAC 52:54:00:00:00:02" in wrong.hello["error"]
    dup = Nic(sw.ports, "n1", mac(1))
    assert dup.hello["ok"] is False and "already connected" in dup.hello["error"]
    # a NIC that reconnects (VM reboot) gets its port back
    n1.close()
    sw.nics.remove(n1)
    time.sleep(0.1)
    again = sw.nic("n1", 1)
    assert again.hello == {"ok": True, "ip": "10.0.1.4"}
    r = sw.request(op="get_nic", id="n1")
    assert r["ok"] and r["nic"]["connected"] is True
    sw.stop()


def test_dhcp(make_switch):
    sw = make_switch(base_config())
    n1 = sw.nic("n1", 1)
    n1.send(eth(BCAST, mac(1), 0x0800,
                udp("0.0.0.0", "255.255.255.255", 68, 67, dhcp_msg(mac(1), 1, xid=77))))
    f = n1.recv_match(lambda f: f.get("sport") == 67)
    assert f, "no DHCP OFFER"
    d = f["data"]
    opts = dhcp_options(d)
    assert d[0] == 2 and struct.unpack("!I", d[4:8])[0] == 77
    assert ntoa(d[16:20]) == "10.0.1.4"
    assert opts[53] == b"\x02"  # OFFER
    assert ntoa(opts[1]) == "255.255.255.0"
    assert ntoa(opts[3]) == "10.0.1.1"
    assert ntoa(opts[6]) == "168.63.129.16"
    assert ntoa(opts[54]) == "10.0.1.1"
    assert struct.unpack("!I", opts[51])[0] > 0
    assert f["src"] == GW_MAC and f["ip_src"] == "10.0.1.1"
    n1.send(eth(BCAST, mac(1), 0x0800,
                udp("0.0.0.0", "255.255.255.255", 68, 67,
                    dhcp_msg(mac(1), 3, xid=78, req_ip="10.0.1.4", server="10.0.1.1"))))
    f = n1.recv_match(lambda f: f.get("sport") == 67)
    assert f and dhcp_options(f["data"])[53] == b"\x05"  # ACK
    n1.send(eth(BCAST, mac(1), 0x0800,
                udp("0.0.0.0", "255.255.255.255", 68, 67,
                    dhcp_msg(mac(1), 3, xid=79, req_ip="10.0.1.99", server="10.0.1.1"))))
    f = n1.recv_match(lambda f: f.get("sport") == 67)
    assert f and dhcp_options(f["data"])[53] == b"\x06"  # NAK
    assert sw.counters()["ports"]["n1"]["dhcp_replies"] == 3
    sw.stop()


def test_shared_memory_rings(make_switch):
    """The ring path: negotiated in the hello, frames both ways (also to and
    from a socket NIC), the same anti-spoofing checks, and a VMM that breaks
    its ring loses its port, not the switch."""
    sw = make_switch(base_config())
    n1, n2 = sw.nic("n1", 1, shm=True), sw.nic("n2", 2)
    assert n1.hello == {"ok": True, "ip": "10.0.1.4", "shm": True}
    for k in range(300):  # more than the ring holds at once: it wraps
        n1.send_ip(udp("10.0.1.4", "10.0.1.5", 1000, 2000, b"ring %d " % k + b"x" * 900),
                   dst=mac(2))
        f = n2.recv_match(lambda f: f.get("proto") == 17)
        assert f and f["data"].startswith(b"ring %d " % k), (k, f)
        n2.send_ip(udp("10.0.1.5", "10.0.1.4", 2000, 1000, b"back %d " % k + b"y" * 700),
                   dst=mac(1))
        f = n1.recv_match(lambda f: f.get("proto") == 17)
        assert f and f["data"].startswith(b"back %d " % k), (k, f)
    n1.send_ip(udp("10.0.1.5", "10.0.1.4", 1, 2, b"spoof"), dst=mac(2))
    assert n2.quiet()
    c = sw.counters()["ports"]["n1"]
    assert c["drops"]["spoofed"] == 1 and c["rx_packets"] == 301 and c["tx_packets"] == 300, c
    n1.corrupt()
    n1.sock.settimeout(5)
    assert n1.sock.recv(100) == b"", "the switch must drop a port whose ring is broken"
    n2.send_ip(icmp_echo("10.0.1.5", "10.0.1.1", 7))
    assert n2.recv_match(lambda f: f.get("proto") == 1), "the switch goes on"
    log = sw.stop()
    assert "NIC 'n1' connected (10.0.1.4, shared-memory rings)" in log, log
    assert "the VM broke its shared transmit ring" in log, log


@pytest.mark.parametrize("shm", [False, True], ids=["socket", "rings"])
def test_arp_and_forwarding(make_switch, shm):
    sw = make_switch(base_config())
    n1, n2, n3 = sw.nic("n1", 1, shm), sw.nic("n2", 2, shm), sw.nic("n3", 3, shm)
    n1.send(arp(1, mac(1), "10.0.1.4", b"\0" * 6, "10.0.1.1"))
    f = n1.recv_match(lambda f: f["type"] == 0x0806)
    assert f and f["op"] == 2 and f["sha"] == GW_MAC and f["spa"] == "10.0.1.1"
    n1.send(arp(1, mac(1), "10.0.1.4", b"\0" * 6, "10.0.1.5"))
    f = n1.recv_match(lambda f: f["type"] == 0x0806)
    assert f and f["sha"] == mac(2)
    assert n2.quiet(0.3), "ARP must not be flooded"
    # switched within the subnet: MACs and TTL unchanged
    n1.send_ip(udp("10.0.1.4", "10.0.1.5", 1000, 2000, b"same subnet"), dst=mac(2))
    f = n2.recv_match(lambda f: f.get("proto") == 17)
    assert f and f["data"] == b"same subnet" and f["src"] == mac(1) and f["ttl"] == 64
    # routed to the db subnet
    n1.send_ip(udp("10.0.1.4", "10.0.2.4", 1000, 2000, b"routed"))
    f = n3.recv_match(lambda f: f.get("proto") == 17)
    assert f and f["data"] == b"routed" and f["src"] == GW_MAC and f["ttl"] == 63 and f["ip_ok"]
    # gateway ping
    n1.send_ip(icmp_echo("10.0.1.4", "10.0.1.1", 42))
    f = n1.recv_match(lambda f: f.get("proto") == 1)
    assert f and f["icmp_type"] == 0 and f["icmp_id"] == 42
    # spoofing
    n1.send_ip(udp("10.0.1.5", "10.0.2.4", 1, 2, b"spoof"))
    n1.send(eth(GW_MAC, mac(2), 0x0800, udp("10.0.1.4", "10.0.2.4", 1, 2, b"spoof")))
    assert n3.quiet()
    c = sw.counters()["ports"]["n1"]
    assert c["drops"]["spoofed"] == 2 and c["arp_replies"] == 2
    assert sw.counters()["ports"]["n3"]["tx_packets"] == 1
    sw.stop()


@pytest.mark.parametrize("shm", [False, True], ids=["socket", "rings"])
def test_isolation(make_switch, shm):
    sw = make_switch(base_config())
    n1, n2, n4 = sw.nic("n1", 1, shm), sw.nic("n2", 2, shm), sw.nic("n4", 4, shm)
    # n4 (VNet v2) has the same address as n1 (v1)
    assert n4.hello["ip"] == "10.0.1.4"
    n4.send(arp(1, mac(4), "10.0.1.4", b"\0" * 6, "10.0.1.5"))
    n4.send_ip(udp("10.0.1.4", "10.0.1.5", 1, 2, b"cross"))
    n4.send(eth(mac(2), mac(4), 0x0800, udp("10.0.1.4", "10.0.1.5", 1, 2, b"cross")))
    assert n4.quiet() and n2.quiet() and n1.quiet()
    n2.send_ip(udp("10.0.1.5", "10.0.1.4", 1, 2, b"to n1"), dst=mac(1))
    assert n1.recv_match(lambda f: f.get("data") == b"to n1")
    assert n4.quiet()
    c = sw.counters()["ports"]["n4"]
    assert c["drops"]["no_route"] == 2
    sw.stop()


def test_nsg_and_stateful(make_switch):
    cfg = base_config(web_rules=[
        rule("no-db-8080", 100, "Inbound", "Deny", "Tcp", source_address_prefix="10.0.2.0/24",
             destination_port_range="8080")])
    sw = make_switch(cfg)
    n1, n3 = sw.nic("n1", 1), sw.nic("n3", 3)
    # n3's NIC NSG denies ssh
    n1.send_ip(tcp("10.0.1.4", "10.0.2.4", 40000, 22, SYN))
    assert n3.quiet()
    # the web subnet's NSG denies db -> web:8080 for new flows...
    n3.send_ip(tcp("10.0.2.4", "10.0.1.4", 40001, 8080, SYN))
    assert n1.quiet()
    # ...but n1's connection from port 8080 to n3 gets its replies
    n1.send_ip(tcp("10.0.1.4", "10.0.2.4", 8080, 5432, SYN, seq=1))
    f = n3.recv_match(lambda f: f.get("proto") == 6)
    assert f and f["flags"] == SYN
    n3.send_ip(tcp("10.0.2.4", "10.0.1.4", 5432, 8080, SYN | ACK, seq=100, ack=2))
    f = n1.recv_match(lambda f: f.get("proto") == 6)
    assert f and f["flags"] == SYN | ACK, "the reply of an allowed flow passes"
    c = sw.counters()
    assert c["ports"]["n1"]["drops"]["policy"] == 1
    assert c["ports"]["n3"]["drops"]["policy"] == 1
    rules = {r["name"]: r for r in c["nsgs"]["web-nsg"]["rules"]}
    assert rules["no-db-8080"]["packets"] == 1
    flows = sw.request(op="flows", vnet="v1")
    assert flows["ok"]
    assert any(fl["proto"] == "tcp" and fl["sport"] == 8080 and fl["state"] == "SYN_RECV"
               for fl in flows["flows"]), flows
    # a rule change does not cut the established flow, but new flows follow it
    cfg["nsgs"][1]["rules"].append(rule("no-pg", 110, "Inbound", "Deny", "Tcp",
                                        destination_port_range="5432"))
    r = sw.request(op="set_config", config=cfg)
    assert r["ok"], r
    n1.send_ip(tcp("10.0.1.4", "10.0.2.4", 8080, 5432, ACK, seq=2, ack=101))
    assert n3.recv_match(lambda f: f.get("proto") == 6 and f["flags"] == ACK)
    n1.send_ip(tcp("10.0.1.4", "10.0.2.4", 8081, 5432, SYN))
    assert n3.quiet()
    sw.stop()


def test_nat_outbound(make_switch, outside):
    host = outside.addr  # a host beyond this one (conftest.OutsideHost)
    sw = make_switch(base_config())
    n1 = sw.nic("n1", 1)
    # UDP: out and back
    srv = outside.socket(socket.AF_INET, socket.SOCK_DGRAM)
    srv.bind(("0.0.0.0", 0))
    srv.settimeout(5)
    port = srv.getsockname()[1]
    n1.send_ip(udp("10.0.1.4", host, 5555, port, b"out via NAT"))
    data, peer = srv.recvfrom(100)
    assert data == b"out via NAT"
    srv.sendto(b"and back", peer)
    f = n1.recv_match(lambda f: f.get("proto") == 17)
    assert f and f["data"] == b"and back" and f["ip_src"] == host and f["dport"] == 5555
    # an unsolicited datagram from outside does not get in
    other = outside.socket(socket.AF_INET, socket.SOCK_DGRAM)
    other.sendto(b"unsolicited", (host, peer[1]))
    assert n1.quiet(0.5)
    # TCP: a handshake and data with a listener outside
    lst = outside.socket()
    lst.bind(("0.0.0.0", 0))
    lst.listen(1)
    lst.settimeout(5)
    tport = lst.getsockname()[1]
    n1.send_ip(tcp("10.0.1.4", host, 40000, tport, SYN, seq=1000))
    f = n1.recv_match(lambda f: f.get("proto") == 6)
    assert f and f["flags"] & (SYN | ACK) == SYN | ACK and f["ack"] == 1001
    n1.send_ip(tcp("10.0.1.4", host, 40000, tport, ACK | PSH, seq=1001, ack=f["seq"] + 1,
                   data=b"GET / HTTP/1.0\r\n\r\n"))
    conn, _ = lst.accept()
    conn.settimeout(5)
    assert conn.recv(100) == b"GET / HTTP/1.0\r\n\r\n"
    conn.close()
    c = sw.counters()
    assert c["vnets"]["v1"]["nat"]["to_nat_packets"] >= 3
    assert c["vnets"]["v1"]["nat"]["from_nat_packets"] >= 2
    # this host itself is not outside: its own addresses and loopback are
    # never reached through the NAT (egress policy), whatever listens there
    mine = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    mine.bind(("0.0.0.0", 0))
    mine.settimeout(1)
    for addr in [a for a in (host_ipv4(), outside.host_side, "127.0.0.1") if a]:
        n1.send_ip(udp("10.0.1.4", addr, 5556, mine.getsockname()[1], b"to the host"))
        with pytest.raises(socket.timeout):
            mine.recvfrom(100)
    drops = sw.counters()["ports"]["n1"]["drops"]
    assert drops["egress"] >= 2 + (1 if host_ipv4() else 0), drops
    sw.stop()


def serve_one_http(nic, nic_ip, port, body):
    """Play a web server on the fake NIC for one connection from the NAT."""
    syn = nic.recv_match(lambda f: f.get("proto") == 6 and f["dport"] == port and f["flags"] == SYN)
    assert syn, "no SYN reached the NIC"
    peer, pport = syn["ip_src"], syn["sport"]
    seq, ack = 5000, syn["seq"] + 1
    nic.send_ip(tcp(nic_ip, peer, port, pport, SYN | ACK, seq=seq, ack=ack))
    seq += 1
    req = b""
    while b"\r\n\r\n" not in req:
        f = nic.recv_match(lambda f: f.get("proto") == 6 and f["sport"] == pport)
        assert f, "no request"
        if f["data"]:
            req += f["data"]
            ack = f["seq"] + len(f["data"])
    resp = b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    nic.send_ip(tcp(nic_ip, peer, port, pport, ACK | PSH | FIN, seq=seq, ack=ack, data=resp))
    return peer, req


def test_public_ip(make_switch):
    hp = free_port()
    sw = make_switch(base_config(web_rules=WEB_RULES, public_port=hp))
    n1 = sw.nic("n1", 1)
    result = {}

    def client():
        try:
            s = socket.create_connection(("127.0.0.1", hp), timeout=10)
            s.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
            data = b""
            while b"hello from the VM" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            result["data"] = data
            s.close()
        except OSError as e:
            result["error"] = e

    t = threading.Thread(target=client)
    t.start()
    peer, req = serve_one_http(n1, "10.0.1.4", 80, b"hello from the VM")
    t.join(15)
    assert req.startswith(b"GET / HTTP/1.0"), req
    assert peer == "168.63.129.1", "connections from the host come from the NAT address"
    assert b"hello from the VM" in result.get("data", b""), result
    rules = {r["name"]: r for r in sw.counters()["nsgs"]["web-nsg"]["rules"]}
    assert rules["http-in"]["packets"] == 1
    sw.stop()


def fetch_through(host_port, nic, nic_ip, body):
    """GET / on 127.0.0.1:host_port from the host, served by a fake VM on nic."""
    result = {}

    def client():
        try:
            s = socket.create_connection(("127.0.0.1", host_port), timeout=10)
            s.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
            data = b""
            while body not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            result["data"] = data
            s.close()
        except OSError as e:
            result["error"] = e

    t = threading.Thread(target=client)
    t.start()
    serve_one_http(nic, nic_ip, 80, body)
    t.join(15)
    return result.get("data", result.get("error"))


def test_public_ip_port_in_use_fails_alone(make_switch):
    # another program on the host has the port of public IP pip2
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    busy_port = busy.getsockname()[1]
    sw = make_switch(base_config(web_rules=WEB_RULES))
    n1, n2 = sw.nic("n1", 1), sw.nic("n2", 2)
    cfg = base_config(web_rules=WEB_RULES, public_port=free_port())
    cfg["public_ips"].append({"name": "pip2", "host_address": "127.0.0.1",
                              "ports": [{"host_port": busy_port, "nic_port": 80}]})
    cfg["nics"][1]["public_ip"] = "pip2"
    r = sw.request(op="set_config", config=cfg)
    # only pip2's port fails, named in the answer; the rest is applied
    assert r["ok"], r
    assert r["public_ip_errors"] == [{
        "public_ip": "pip2", "protocol": "tcp", "port": 80, "host_port": busy_port,
        "error": f"cannot listen on 127.0.0.1:{busy_port}/tcp: Address already in use"}], r
    assert sw.request(op="get_config")["config"]["public_ips"][1]["name"] == "pip2"
    hp1 = cfg["public_ips"][0]["ports"][0]["host_port"]
    assert b"hello from n1" in fetch_through(hp1, n1, "10.0.1.4", b"hello from n1")
    # once the port is free, the next configuration forwards it
    busy.close()
    r = sw.request(op="update_nsg", nsg=cfg["nsgs"][0])
    assert r["ok"] and r["public_ip_errors"] == [], r
    assert b"hello from n2" in fetch_through(busy_port, n2, "10.0.1.5", b"hello from n2")
    log = sw.stop()
    assert f"public IP pip2: cannot listen on 127.0.0.1:{busy_port}/tcp" in log, log


def test_public_ip_denied_by_nsg(make_switch):
    hp = free_port()
    sw = make_switch(base_config(web_rules=WEB_RULES, public_port=hp, nic_port=81))
    n1 = sw.nic("n1", 1)
    s = socket.create_connection(("127.0.0.1", hp), timeout=5)
    s.sendall(b"GET / HTTP/1.0\r\n\r\n")
    assert n1.quiet(1.5), "port 81 is not allowed inbound from the Internet"
    s.close()
    c = sw.counters()
    assert c["vnets"]["v1"]["nat"]["drops"]["policy"] >= 1
    rules = {r["name"]: r for r in c["nsgs"]["web-nsg"]["rules"]}
    assert rules["DenyAllInBound"]["packets"] >= 1
    sw.stop()


def test_slow_port_drops_and_keeps_going(make_switch):
    sw = make_switch(base_config())
    n1, n2 = sw.nic("n1", 1), sw.nic("n2", 2)
    payload = b"x" * 1400
    for i in range(3000):  # n2 never reads
        n1.send_ip(udp("10.0.1.4", "10.0.1.5", 1000, 2000, payload), dst=mac(2))
    time.sleep(0.3)
    c = sw.counters()["ports"]
    assert c["n1"]["rx_packets"] == 3000
    assert c["n2"]["drops"]["port_full"] > 0
    assert c["n2"]["tx_packets"] + c["n2"]["drops"]["port_full"] == 3000
    assert c["n2"]["tx_drops"] == c["n2"]["drops"]["port_full"]
    # the switch still serves others
    n1.send_ip(icmp_echo("10.0.1.4", "10.0.1.1", 7))
    assert n1.recv_match(lambda f: f.get("proto") == 1)
    sw.stop()


def test_control_protocol(make_switch):
    sw = make_switch(base_config())
    r = sw.request(op="set_config", config={"vnets": [{"name": "v1"}]})
    assert not r["ok"] and "vnets[0].address_space: missing (required)" in r["error"]
    r = sw.request(op="add_nic", id=5, nic={"id": "n9", "vnet": "v1", "subnet": "db",
                                            "mac": mac_str(9)})
    assert r["ok"] and r["id"] == 5, r
    assert [n["ip"] for n in r["nics"] if n["id"] == "n9"] == ["10.0.2.5"]
    n9 = sw.nic("n9", 9)
    assert n9.hello["ip"] == "10.0.2.5"
    r = sw.request(op="remove_nic", id="n9")
    assert r["ok"], r
    assert n9.sock.recv(100) == b"", "a removed NIC's port is closed"
    r = sw.request(op="get_config")
    assert r["ok"] and [n["id"] for n in r["config"]["nics"]] == ["n1", "n2", "n3", "n4"]
    r = sw.request(op="bogus")
    assert not r["ok"] and "unknown op" in r["error"]
    sw.ctl.sendall(b"not json\n")
    r = json.loads(sw.ctl_file.readline())
    assert not r["ok"] and "invalid JSON" in r["error"]
    sw.stop()


def test_check_and_bad_config(tmp_path):
    good = tmp_path / "good.json"
    good.write_text(json.dumps(base_config()))
    r = subprocess.run([switch_binary(), "--check", "--config", str(good)], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    nics = json.loads(r.stdout)
    assert [n["ip"] for n in nics] == ["10.0.1.4", "10.0.1.5", "10.0.2.4", "10.0.1.4"]
    cfg = base_config()
    cfg["nics"][1]["mac"] = mac_str(1)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(cfg))
    r = subprocess.run([switch_binary(), "--ports", str(tmp_path / "p"), "--config", str(bad)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert "nics[1].mac: NIC mac 52:54:00:00:00:01 is already used by n1" in r.stderr


# ------------------------------------------------------------ real guests --

def guest_images():
    """(kumo-vmm, guest dir) when real guests can be booted, else skip."""
    vmm = BUILD / "kumo-vmm"
    if not vmm.exists():
        pytest.skip("kumo-vmm is not built")
    help_text = subprocess.run([str(vmm), "--help"], capture_output=True, text=True).stdout
    if "--net switch=" not in help_text:
        pytest.skip("kumo-vmm has no --net switch= option")
    d = os.environ.get("KUMO_GUEST_DIR")
    if not d or not (pathlib.Path(d) / "Image").exists():
        pytest.skip("set KUMO_GUEST_DIR to the default guest (guest/build.sh) to boot real guests")
    return str(vmm), pathlib.Path(d)


def boot(vmm, guest, sock, nic_id, n, run, log, extra=""):
    cmd = [vmm, "--kernel", str(guest / "Image"), "--initrd", str(guest / "initramfs.cpio.gz"),
           "--mem", "256", "--net", f"switch={sock},nic={nic_id}{extra},mac={mac_str(n)}",
           "--append", f'console=ttyS0 kumo.run="{run}"']
    return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)


def test_real_guests(make_switch, tmp_path, outside):
    """Three default guests: web (vm1) and client (vm2) in v1, vm3 in v2 with
    vm1's address. DHCP, ping, HTTP between VMs, an NSG deny, NAT to a server
    outside (and not to this host), curl through a public IP, and isolation."""
    vmm, guest = guest_images()
    host = outside.addr
    this_host = host_ipv4()
    hp = free_port()
    cfg = base_config(web_rules=WEB_RULES + [
        rule("no-vnet-8080", 110, "Inbound", "Deny", "Tcp",
             source_address_prefix="VirtualNetwork", destination_port_range="8080")],
        public_port=hp)
    sw = make_switch(cfg)
    srv = outside.run(["/usr/bin/python3", "-u", "-m", "http.server", "0", "--bind", "0.0.0.0"],
                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=tmp_path)
    mine = subprocess.Popen(["/usr/bin/python3", "-u", "-m", "http.server", "0", "--bind",
                             "0.0.0.0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, cwd=tmp_path)
    procs = []
    try:
        line = srv.stdout.readline()  # "Serving HTTP on 0.0.0.0 port N ..."
        srv_port = int(line.split("port ")[1].split()[0])
        my_port = int(mine.stdout.readline().split("port ")[1].split()[0])
        logs = {k: open(tmp_path / f"{k}.log", "w+") for k in ("vm1", "vm2", "vm3")}
        procs.append(boot(vmm, guest, sw.ports, "n1", 1,
                          "mkdir -p /www; echo hello-from-vm1 > /www/index.html; "
                          "httpd -p 8080 -h /www; httpd -f -p 80 -h /www", logs["vm1"]))
        client = ("sleep 3; ping -c 1 -W 5 10.0.1.1 && echo GW-PING-OK; "
                  "wget -q -T 10 -O - http://10.0.1.4/ && echo HTTP80-OK; "
                  "wget -q -T 3 -O - http://10.0.1.4:8080/ || echo HTTP8080-BLOCKED")
        client += f"; wget -q -T 10 -O /dev/null http://{host}:{srv_port}/ && echo NAT-OK"
        for addr in [a for a in (this_host, outside.host_side) if a]:
            client += (f"; wget -q -T 3 -O /dev/null http://{addr}:{my_port}/ "
                       f"|| echo NOT-THIS-HOST-{addr}")
        procs.append(boot(vmm, guest, sw.ports, "n2", 2, client, logs["vm2"]))
        procs.append(boot(vmm, guest, sw.ports, "n4", 4,
                          "sleep 3; ping -c 2 -W 2 10.0.1.5 || echo ISOLATED; "
                          "wget -q -T 3 -O - http://10.0.1.4/ || echo ISOLATED-HTTP", logs["vm3"],
                          extra=",shm=off"))  # the socket path, beside the rings of vm1, vm2
        for p in procs[1:]:
            p.wait(timeout=240)
        out = {}
        for k, f in logs.items():
            f.seek(0)
            out[k] = f.read()
        assert "kumo guest: eth0 10.0.1.5/24" in out["vm2"], out["vm2"][-3000:]
        assert "kumo guest: eth0 10.0.1.4/24" in out["vm3"], out["vm3"][-3000:]
        markers = ["GW-PING-OK", "HTTP80-OK", "HTTP8080-BLOCKED", "NAT-OK"] + [
            f"NOT-THIS-HOST-{a}" for a in (this_host, outside.host_side) if a]
        for marker in markers:
            assert marker in out["vm2"], (marker, out["vm2"][-3000:])
        assert "ISOLATED" in out["vm3"] and "ISOLATED-HTTP" in out["vm3"], out["vm3"][-3000:]
        # the web VM through its public IP, from the host
        body = None
        for _ in range(60):
            try:
                with socket.create_connection(("127.0.0.1", hp), timeout=10) as s:
                    s.sendall(b"GET / HTTP/1.0\r\n\r\n")
                    data = b""
                    while True:
                        chunk = s.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                body = data
                if b"hello-from-vm1" in data:
                    break
            except OSError:
                pass
            time.sleep(1)
        assert body and b"hello-from-vm1" in body, body
        c = sw.counters()
        assert c["ports"]["n1"]["dhcp_replies"] >= 2
        assert c["ports"]["n2"]["drops"]["policy"] >= 1
        assert c["ports"]["n2"]["drops"]["egress"] >= 1
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for p in (srv, mine):
            p.kill()
            p.wait()
    log = sw.stop()
    assert "NIC 'n1' connected (10.0.1.4, shared-memory rings)" in log, log
    assert "NIC 'n2' connected (10.0.1.5, shared-memory rings)" in log, log
    assert "NIC 'n4' connected (10.0.1.4)" in log, log


# ------------------------------------------- metadata and DNS, fake NICs --

def services_config():
    cfg = base_config()
    ud = base64.b64encode(b"#!/bin/sh\necho hi\n").decode()
    cfg["nics"][0].update(hostname="vm1", vm={"name": "vm1", "id": "id-1", "size": "Tiny",
                                              "location": "local", "resource_group": "rg",
                                              "user_data": ud})
    cfg["nics"][1].update(hostname="vm2", vm={"name": "vm2"})
    cfg["nics"][3].update(hostname="vm4")
    return cfg


def tcp_exchange(nic, ip, sport, request, timeout=5.0):
    """A TCP client on a fake NIC against 169.254.169.254:80: handshake,
    request, read the response to the server's FIN, close. Returns bytes."""
    nic.send_ip(tcp(ip, "169.254.169.254", sport, 80, SYN, seq=100))
    sa = nic.recv_match(lambda f: f.get("proto") == 6 and f["dport"] == sport, timeout)
    assert sa and sa["flags"] == SYN | ACK and sa["ack"] == 101, sa
    assert sa["src"] == GW_MAC and sa["ip_src"] == "169.254.169.254"
    rcv = sa["seq"] + 1
    nic.send_ip(tcp(ip, "169.254.169.254", sport, 80, ACK | PSH, seq=101, ack=rcv,
                    data=request))
    seq = 101 + len(request)
    body = b""
    end = time.time() + timeout
    while time.time() < end:
        f = nic.recv_match(lambda f: f.get("proto") == 6 and f["dport"] == sport,
                           end - time.time())
        assert f, "no response"
        if f["seq"] == rcv and f["data"]:
            body += f["data"]
            rcv += len(f["data"])
        if f["flags"] & FIN and f["seq"] + len(f["data"]) == rcv:
            rcv += 1
            nic.send_ip(tcp(ip, "169.254.169.254", sport, 80, ACK | FIN, seq=seq, ack=rcv))
            last = nic.recv_match(lambda f: f.get("proto") == 6 and f["dport"] == sport, timeout)
            assert last and last["flags"] == ACK and last["ack"] == seq + 1, last
            return body
        nic.send_ip(tcp(ip, "169.254.169.254", sport, 80, ACK, seq=seq, ack=rcv))
    raise AssertionError("no FIN")


def dns_query(name, qtype=1, ident=0x1234):
    q = struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0" + struct.pack("!HH", qtype, 1)


def test_metadata_and_dns_fake_nics(make_switch):
    sw = make_switch(services_config())
    n1, n2, n4 = sw.nic("n1", 1), sw.nic("n2", 2), sw.nic("n4", 4)
    get = b"GET /metadata/instance HTTP/1.1\r\nHost: 169.254.169.254\r\nMetadata: true\r\n\r\n"
    resp = tcp_exchange(n1, "10.0.1.4", 40000, get)
    head, _, body = resp.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK") and b"Connection: close" in head, resp
    doc = json.loads(body)
    assert doc["compute"]["name"] == "vm1" and doc["compute"]["vmSize"] == "Tiny"
    assert doc["compute"]["resourceGroupName"] == "rg" and doc["compute"]["location"] == "local"
    assert base64.b64decode(doc["compute"]["userData"]) == b"#!/bin/sh\necho hi\n"
    ipv4_ = doc["network"]["interface"][0]["ipv4"]
    assert ipv4_["ipAddress"][0]["privateIpAddress"] == "10.0.1.4"
    # each VM gets its own data: the switch knows which NIC asks
    doc2 = json.loads(tcp_exchange(n2, "10.0.1.5", 40000, get).partition(b"\r\n\r\n")[2])
    assert doc2["compute"]["name"] == "vm2" and doc2["compute"]["userData"] == ""
    assert doc2["network"]["interface"][0]["ipv4"]["ipAddress"][0]["privateIpAddress"] == \
        "10.0.1.5"
    resp = tcp_exchange(n1, "10.0.1.4", 40001, b"GET /metadata/instance HTTP/1.1\r\n\r\n")
    assert resp.startswith(b"HTTP/1.1 400 Bad Request"), resp
    resp = tcp_exchange(n1, "10.0.1.4", 40002,
                        b"GET /metadata/userdata HTTP/1.0\r\nMetadata: true\r\n\r\n")
    assert resp.partition(b"\r\n\r\n")[2] == base64.b64encode(b"#!/bin/sh\necho hi\n")
    # a SYN that is never acknowledged: the SYN+ACK is retransmitted (the
    # switch's timers), then the connection is reset
    n4.send_ip(tcp("10.0.1.4", "169.254.169.254", 41000, 80, SYN, seq=7))
    seen = []
    end = time.time() + 20
    while time.time() < end:
        f = n4.recv_match(lambda f: f.get("proto") == 6, end - time.time())
        if not f:
            break
        seen.append(f["flags"])
        if f["flags"] & RST:
            break
    assert seen.count(SYN | ACK) >= 3 and seen[-1] & RST, seen
    c = sw.counters()["ports"]
    assert c["n1"]["metadata_requests"] == 3 and c["n2"]["metadata_requests"] == 1

    # internal DNS: VM names of the VNet, from the platform resolver
    n2.send_ip(udp("10.0.1.5", "168.63.129.16", 5353, 53, dns_query("vm1")))
    f = n2.recv_match(lambda f: f.get("proto") == 17 and f["sport"] == 53)
    assert f and f["ip_src"] == "168.63.129.16" and f["dport"] == 5353
    d = f["data"]
    ident, flags, qd, an = struct.unpack("!HHHH", d[:8])
    assert ident == 0x1234 and flags & 0x8000 and flags & 0xF == 0 and an == 1
    assert d[-4:] == aton("10.0.1.4")
    n2.send_ip(udp("10.0.1.5", "168.63.129.16", 5353, 53, dns_query("nobody.internal")))
    f = n2.recv_match(lambda f: f.get("proto") == 17 and f["sport"] == 53)
    assert f and struct.unpack("!H", f["data"][2:4])[0] & 0xF == 3  # NXDOMAIN
    # another VNet does not see them
    n4.send_ip(udp("10.0.1.4", "168.63.129.16", 5353, 53, dns_query("vm1.internal")))
    f = n4.recv_match(lambda f: f.get("proto") == 17 and f["sport"] == 53)
    assert f and struct.unpack("!H", f["data"][2:4])[0] & 0xF == 3
    assert sw.counters()["ports"]["n2"]["dns_answers"] == 2
    sw.stop()


# ------------------------------------------------- real guests, interactive --

class Guest:
    """A default guest on the switch with its shell on a console socket:
    sh() runs a command and returns its output and exit status."""

    def __init__(self, vmm, guest, tmp, name, ports, nic_id, n, mem=192, disk=None, append=""):
        self.name = name
        self.sock_path = str(tmp / f"{name}.console")
        self.log_path = tmp / f"{name}.log"
        cmd = [vmm, "--kernel", str(guest / "Image"), "--mem", str(mem), "--net",
               f"switch={ports},nic={nic_id},mac={mac_str(n)}",
               "--console", f"socket:{self.sock_path}", "--console-log", str(self.log_path)]
        if disk:
            cmd += ["--disk", f"path={disk},format=raw"]
            append = "root=/dev/vda rw " + append
        else:
            cmd += ["--initrd", str(guest / "initramfs.cpio.gz")]
        cmd += ["--append", f"console=ttyS0 kumo.hostname={name} {append}".strip()]
        self.out = open(tmp / f"{name}.vmm", "w")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.out,
                                     stderr=subprocess.STDOUT)
        self.sock = None
        self.buf = b""
        self.count = 0

    def log(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_log(self, text, timeout=120):
        end = time.time() + timeout
        while time.time() < end:
            if text in self.log():
                return self.log()
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"{self.name}: {text!r} not on the console:\n{self.log()[-3000:]}")

    def connect(self, timeout=60):
        end = time.time() + timeout
        while time.time() < end and self.sock is None:
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(self.sock_path)
                self.sock = s
            except OSError:
                time.sleep(0.1)
        assert self.sock, f"{self.name}: no console socket"

    def died(self, what):
        """An AssertionError saying what happened to the VM: its exit status,
        kumo-vmm's own output and the end of the console."""
        self.out.flush()
        status = self.proc.poll()
        vmm_out = (pathlib.Path(self.out.name).read_text(errors="replace")
                   if os.path.exists(self.out.name) else "")
        return AssertionError(f"{self.name}: {what}; kumo-vmm "
                              f"{'exited with status %s' % status if status is not None else 'still runs'}"
                              f"\nkumo-vmm said:\n{vmm_out[-3000:]}\nconsole:\n{self.log()[-3000:]}")

    def start(self):
        """Boot to the shell."""
        self.wait_log("kumo guest: booted")
        # the shell's prompt: a ^C sent earlier reaches init's process group
        # (user data still running), which can end the shell it then starts
        end = time.time() + 120
        while ":~# " not in self.log().split("kumo guest: booted", 1)[-1]:
            if time.time() > end or self.proc.poll() is not None:
                raise self.died("no shell prompt on the console")
            time.sleep(0.1)
        self.connect()
        # the shell may not be reading yet: probe until it answers
        for _ in range(60):
            try:
                self.sock.sendall(b"\x03")  # drop a partial line of an earlier probe
                self.sh("true", timeout=2)
                return self
            except AssertionError:
                continue
            except OSError as e:
                raise self.died(f"the console socket failed ({e})")
        raise AssertionError(f"{self.name}: the shell does not answer:\n{self.log()[-2000:]}")

    def sh(self, cmd, timeout=60):
        """Run cmd in the guest's shell; (output, status)."""
        self.count += 1
        n = self.count
        self.sock.sendall(f"{cmd}\necho @@$(({n})):$?@@\n".encode())
        pat = re.compile(rb"@@%d:(\d+)@@" % n)
        end = time.time() + timeout
        while True:
            m = pat.search(self.buf)
            if m:
                out = self.buf[:m.start()].decode(errors="replace")
                self.buf = self.buf[m.end():]
                return out, int(m.group(1))
            left = end - time.time()
            if left <= 0:
                raise AssertionError(f"{self.name}: {cmd!r} did not finish:\n"
                                     f"{self.buf[-2000:].decode(errors='replace')}")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                raise self.died("the console closed")
            self.buf += chunk

    def wait_listening(self, port, timeout=10):
        """Wait until a TCP socket in the guest listens on port (a server
        started in the background may not have bound yet)."""
        self.ok(f"i=0; while ! grep -q ':{port:04X} 00000000:0000 0A' /proc/net/tcp; do "
                f"i=$((i+1)); [ $i -lt {timeout * 10} ] || exit 1; sleep 0.1; done")

    def ok(self, cmd, timeout=60):
        out, st = self.sh(cmd, timeout)
        assert st == 0, f"{self.name}: {cmd!r} exit {st}:\n{out[-2000:]}"
        return out

    def fails(self, cmd, timeout=60):
        out, st = self.sh(cmd, timeout)
        assert st != 0, f"{self.name}: {cmd!r} should have failed:\n{out[-2000:]}"
        return out

    def stop(self):
        if self.sock:
            self.sock.close()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.out.close()


@pytest.fixture
def guests(tmp_path):
    made = []

    def boot_guest(*a, **kw):
        g = Guest(*a, **kw)
        made.append(g)
        return g

    yield boot_guest
    for g in made:
        g.stop()


def md(path, header=True):
    """A guest command printing the metadata service's answer and a newline."""
    h = "--header 'Metadata: true' " if header else ""
    return f"wget -q -T 10 -O - {h}'http://169.254.169.254{path}' && echo"


def lines(out):
    return [line.strip() for line in out.splitlines()]


def test_real_guests_vnet_metadata_dns(make_switch, guests, tmp_path):
    """Two VMs in v1 ping and talk TCP both ways and resolve each other by
    name; vm3 in v2 (same address space) reaches neither; the metadata
    service gives each VM its own data; user data ran at boot."""
    vmm, guest = guest_images()
    cfg = services_config()
    cfg["nics"][0]["vm"]["user_data"] = base64.b64encode(
        b"#!/bin/sh\necho user-data-says-$(hostname) > /run/ud-proof\nexit 7\n").decode()
    cfg["nics"][3].update(private_ip="10.0.1.9", hostname="vm3")
    sw = make_switch(cfg)
    vm1 = guests(vmm, guest, tmp_path, "vm1", sw.ports, "n1", 1)
    vm2 = guests(vmm, guest, tmp_path, "vm2", sw.ports, "n2", 2)
    vm3 = guests(vmm, guest, tmp_path, "vm3", sw.ports, "n4", 4)
    for g in (vm1, vm2, vm3):
        g.start()
    # user data: run once at boot, its exit status on the console
    assert "kumo guest: user data ran (exit 7)" in vm1.log(), vm1.log()[-2000:]
    assert "user-data-says-vm1" in vm1.ok("cat /run/ud-proof")
    assert "user data ran" not in vm2.log()  # vm2 has none
    # ping and TCP both ways
    vm1.ok("ping -c 2 -W 5 10.0.1.5")
    vm2.ok("ping -c 2 -W 5 10.0.1.4")
    for g in (vm1, vm2):
        g.ok(f"mkdir -p /www && echo hello-from-{g.name} > /www/index.html && "
             "httpd -p 8080 -h /www")
    assert "hello-from-vm1" in vm2.ok("wget -q -T 10 -O - http://10.0.1.4:8080/")
    assert "hello-from-vm2" in vm1.ok("wget -q -T 10 -O - http://10.0.1.5:8080/")
    vm2.ok("nc -l -p 7000 > /tmp/got &")
    vm2.wait_listening(7000)
    vm1.ok("echo raw-tcp-payload | nc -w 5 10.0.1.5 7000")
    assert "raw-tcp-payload" in vm2.ok("sleep 1; cat /tmp/got")
    # internal DNS: names of the VNet, and ping by name
    out = vm2.ok("nslookup vm1")
    assert "10.0.1.4" in out, out
    assert "10.0.1.5" in vm1.ok("nslookup vm2.internal")
    vm1.ok("ping -c 1 -W 5 vm2")
    assert "hello-from-vm1" in vm2.ok("wget -q -T 10 -O - http://vm1:8080/")
    vm1.fails("nslookup vm3.internal")  # vm3 is in another VNet
    # isolation: vm3 (v2, same address space) reaches neither
    vm3.fails("ping -c 2 -W 2 10.0.1.4")
    vm3.fails("ping -c 2 -W 2 10.0.1.5")
    vm3.fails("wget -q -T 3 -O - http://10.0.1.4:8080/")
    vm3.fails("wget -q -T 3 -O - http://10.0.1.5:8080/")
    vm1.fails("ping -c 1 -W 2 10.0.1.9")
    # the metadata service, per VM
    out = vm1.ok(md("/metadata/instance"))
    doc = json.loads(next(line for line in lines(out) if line.startswith('{"compute"')))
    assert doc["compute"]["name"] == "vm1" and doc["compute"]["vmSize"] == "Tiny"
    assert doc["network"]["interface"][0]["ipv4"]["ipAddress"][0]["privateIpAddress"] == \
        "10.0.1.4"
    out = vm2.ok(md("/metadata/instance"))
    assert '"name":"vm2"' in out and '"privateIpAddress":"10.0.1.5"' in out, out
    assert "n4" in lines(vm3.ok(md("/metadata/instance/compute/name?format=text")))
    out = vm1.fails(md("/metadata/instance", header=False))
    assert "400 Bad Request" in out, out
    assert "id-1" in lines(vm1.ok(md("/metadata/instance/compute/vmId?format=text")))
    c = sw.counters()["ports"]
    assert c["n1"]["metadata_requests"] >= 4 and c["n2"]["dns_answers"] >= 2, c
    sw.stop()


def test_real_guests_nsg(make_switch, guests, tmp_path):
    """NSG rules: inbound TCP 80 allowed, 22 denied; replies of outbound
    connections pass although inbound is denied; removing the allow rule
    keeps an open connection but refuses a new one; counters count."""
    vmm, guest = guest_images()
    web_rules = [
        rule("allow-http", 100, "Inbound", "Allow", "Tcp", destination_port_range="80"),
        rule("deny-ssh", 110, "Inbound", "Deny", "Tcp", destination_port_range="22"),
        rule("deny-in", 4000, "Inbound", "Deny", "*"),
    ]
    cfg = base_config(web_rules=web_rules)
    sw = make_switch(cfg)
    # (kumo.ssh=0: port 22 is the web server's here, not dropbear's)
    web = guests(vmm, guest, tmp_path, "web", sw.ports, "n1", 1,
                 append="kumo.ssh=0").start()  # 10.0.1.4, web-nsg
    cli = guests(vmm, guest, tmp_path, "cli", sw.ports, "n3", 3).start()  # 10.0.2.4
    web.ok("mkdir -p /www && echo web-ok > /www/index.html && httpd -p 22 -h /www")
    web.ok("nc -l -p 80 -e cat &")  # an echo server for one long connection
    web.wait_listening(80)
    cli.ok("mkdir -p /www && echo cli-ok > /www/index.html && httpd -p 8081 -h /www")
    # an open connection to port 80
    cli.ok("mkfifo /tmp/f && (nc 10.0.1.4 80 < /tmp/f > /tmp/out &) && exec 3>/tmp/f")
    cli.ok("echo line-one >&3")
    assert "line-one" in cli.ok("sleep 1; cat /tmp/out")
    # port 80 answers a new connection too (a web server once nc holds its connection)
    web.ok("sleep 1; httpd -p 80 -h /www")
    assert "web-ok" in cli.ok("wget -q -T 10 -O - http://10.0.1.4/")
    # port 22 has a server, but the rule denies it
    cli.fails("wget -q -T 3 -O - http://10.0.1.4:22/")
    # replies of web's own outbound connection pass (inbound is denied by deny-in)
    assert "cli-ok" in web.ok("wget -q -T 10 -O - http://10.0.2.4:8081/")
    rules = {r["name"]: r for r in sw.counters()["nsgs"]["web-nsg"]["rules"]}
    assert rules["allow-http"]["packets"] == 2, rules  # the first packets of two flows
    assert rules["deny-ssh"]["packets"] >= 1, rules
    assert rules["allow-http"]["bytes"] >= 120 and rules["deny-ssh"]["bytes"] >= 60, rules
    # remove the allow rule: the open connection lives on, a new one is refused
    cfg["nsgs"][0]["rules"] = web_rules[1:]
    r = sw.request(op="update_nsg", nsg=cfg["nsgs"][0])
    assert r["ok"], r
    cli.ok("echo line-two >&3")
    out = cli.ok("sleep 1; cat /tmp/out")
    assert "line-one" in out and "line-two" in out, out
    cli.fails("wget -q -T 3 -O - http://10.0.1.4/")
    rules = {r["name"]: r for r in sw.counters()["nsgs"]["web-nsg"]["rules"]}
    assert rules["deny-in"]["packets"] >= 1 and rules["deny-ssh"]["packets"] >= 1, rules
    assert "allow-http" not in rules
    assert sw.counters()["ports"]["n3"]["drops"]["policy"] >= 2
    sw.stop()


def test_real_guests_public_ip_and_nat(make_switch, guests, tmp_path, outside):
    """A web server in a guest answers curl from the host through its public
    IP; the guest reaches a server outside through the NAT until an outbound
    deny rule blocks it."""
    vmm, guest = guest_images()
    host = outside.addr
    hp = free_port()
    cfg = base_config(web_rules=WEB_RULES, public_port=hp)
    sw = make_switch(cfg)
    srv = outside.run(["/usr/bin/python3", "-u", "-m", "http.server", "0", "--bind", "0.0.0.0"],
                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=tmp_path)
    try:
        srv_port = int(srv.stdout.readline().split("port ")[1].split()[0])
        vm = guests(vmm, guest, tmp_path, "vm1", sw.ports, "n1", 1).start()
        vm.ok("mkdir -p /www && echo public-hello > /www/index.html && httpd -p 80 -h /www")
        r = subprocess.run(["curl", "-s", "-m", "10", f"http://127.0.0.1:{hp}/"],
                           capture_output=True, text=True, timeout=30)
        assert "public-hello" in r.stdout, r
        url = f"http://{host}:{srv_port}/"
        vm.ok(f"wget -q -T 10 -O /dev/null {url}")
        cfg["nsgs"][0]["rules"] = WEB_RULES + [
            rule("no-host", 200, "Outbound", "Deny", "Tcp", destination_address_prefix=host,
                 destination_port_range=str(srv_port))]
        assert sw.request(op="update_nsg", nsg=cfg["nsgs"][0])["ok"]
        vm.fails(f"wget -q -T 3 -O /dev/null {url}")
        rules = {r["name"]: r for r in sw.counters()["nsgs"]["web-nsg"]["rules"]}
        assert rules["no-host"]["packets"] >= 1 and rules["http-in"]["packets"] >= 1, rules
    finally:
        srv.kill()
        srv.wait()
    sw.stop()


def test_real_guest_user_data_once_per_instance(make_switch, guests, tmp_path):
    """With the root on a disk, user data runs at the first boot of an
    instance only (a marker per instance id); a new instance id runs it again."""
    vmm, guest = guest_images()
    if not (guest / "rootfs.ext4").exists():
        pytest.skip("no rootfs.ext4")
    disk = tmp_path / "root.ext4"
    disk.write_bytes((guest / "rootfs.ext4").read_bytes())
    cfg = services_config()
    cfg["nics"][0]["vm"]["user_data"] = base64.b64encode(
        b"echo ran >> /root/user-data-runs\n").decode()
    sw = make_switch(cfg)

    def boot(name):
        g = guests(vmm, guest, tmp_path, name, sw.ports, "n1", 1, disk=disk,
                   append='kumo.run="cat /root/user-data-runs"')
        assert g.proc.wait(timeout=180) == 0, g.log()[-2000:]
        return g.log()

    def runs(log):  # lines the user data appended, as kumo.run printed them
        return lines(log.split("kumo guest: booted")[1]).count("ran")

    log = boot("first")
    assert "kumo guest: user data ran (exit 0)" in log and runs(log) == 1, log[-2000:]
    log = boot("second")
    assert "user data ran" not in log and "already ran for instance id-1" in log, log[-2000:]
    assert runs(log) == 1, log[-2000:]
    cfg["nics"][0]["vm"]["id"] = "id-2"  # a new instance on the same disk
    assert sw.request(op="set_config", config=cfg)["ok"]
    log = boot("third")
    assert "kumo guest: user data ran (exit 0)" in log and runs(log) == 2, log[-2000:]
    sw.stop()


def ssh_keypair(tmp_path, name="id_ed25519"):
    """A new ed25519 key pair in tmp_path: (private key path, public key line)."""
    key = tmp_path / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{name}@test",
                    "-f", str(key)], check=True)
    return key, (tmp_path / f"{name}.pub").read_text().strip()


def ssh(key, port, user, command, timeout=60):
    """ssh to 127.0.0.1:port as user with key; the CompletedProcess."""
    return subprocess.run(
        ["ssh", "-i", str(key), "-p", str(port), "-o", "BatchMode=yes",
         "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
         "-o", "ConnectTimeout=20", "-o", "LogLevel=ERROR", f"{user}@127.0.0.1", command],
        capture_output=True, text=True, timeout=timeout)


def test_real_guest_ssh_provisioning(make_switch, guests, tmp_path):
    """The default guest provisions itself from the metadata service: the
    admin account with its key (ssh through the public IP works, as the admin
    and as root), another key is refused; dropbear's host key is printed; the
    guest reports both stages to the switch; the NSG decides (deny 22: the
    connection fails)."""
    vmm, guest = guest_images()
    if not (guest / "rootfs.ext4").exists():
        pytest.skip("no rootfs.ext4")
    key, pub = ssh_keypair(tmp_path)
    other, _ = ssh_keypair(tmp_path, "other")
    hp = free_port()
    ssh_in = rule("ssh-in", 100, "Inbound", "Allow", "Tcp", source_address_prefix="Internet",
                  destination_port_range="22")
    cfg = base_config(web_rules=[ssh_in], public_port=hp, nic_port=22)
    cfg["nics"][0].update(hostname="vm1", vm={"name": "vm1", "id": "id-ssh",
                                              "admin_username": "azureuser",
                                              "public_keys": [pub]})
    sw = make_switch(cfg)
    disk = tmp_path / "root.ext4"
    disk.write_bytes((guest / "rootfs.ext4").read_bytes())
    vm = guests(vmm, guest, tmp_path, "vm1", sw.ports, "n1", 1, disk=disk)
    log = vm.wait_log("kumo guest: ssh host key ssh-ed25519 ", timeout=180)
    assert "kumo guest: admin user azureuser (1 SSH keys" in log, log[-2000:]
    host_key = re.search(r"ssh host key (ssh-ed25519 \S+)", log).group(1)
    vm.start()
    r = ssh(key, hp, "azureuser", "id -un; echo $HOME; cat /proc/sys/kernel/hostname")
    assert r.returncode == 0, r
    assert lines(r.stdout)[:3] == ["azureuser", "/home/azureuser", "vm1"], r.stdout
    r = ssh(key, hp, "root", "id -u")
    assert r.returncode == 0 and lines(r.stdout) == ["0"], r
    r = ssh(other, hp, "azureuser", "true")
    assert r.returncode == 255 and "Permission denied" in r.stderr, r
    # the host key the client saw is the one on the console
    scan = subprocess.run(["ssh-keyscan", "-t", "ed25519", "-p", str(hp), "127.0.0.1"],
                          capture_output=True, text=True, timeout=60)
    assert host_key in scan.stdout, (scan.stdout, host_key)
    events = {e["name"]: e for e in sw.request(op="provisioning", nic="n1")["events"]}
    assert events["init-network"]["result"] == "SUCCESS", events
    assert events["modules-final"]["result"] == "SUCCESS", events
    assert events["init-network"]["origin"] == "kumo-init", events
    # deny 22 (above the allow rule): the connection fails
    cfg["nsgs"][0]["rules"] = [
        rule("no-ssh", 100, "Inbound", "Deny", "Tcp", destination_port_range="22"),
        rule("ssh-in", 200, "Inbound", "Allow", "Tcp", source_address_prefix="Internet",
             destination_port_range="22")]
    r = sw.request(op="update_nsg", nsg=cfg["nsgs"][0])
    assert r["ok"], r
    r = ssh(key, hp, "azureuser", "true", timeout=90)
    assert r.returncode == 255, r
    sw.stop()
