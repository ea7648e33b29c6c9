#!/usr/bin/env python3
"""Write the seed corpora of fuzz_net_frame, fuzz_net_config,
fuzz_net_services and fuzz_net_vxlan.

The frame seeds are conversations in the harness's record format
([selector][len16][frame]...) over its built-in configuration: NIC a
(52:54:00:00:00:01, 10.0.1.4, VNet v1 web, host name a, with a vm object and
user data), b (…02, 10.0.1.5, host name b), c (…03, 10.9.2.4, v1 db) and d
(…04, 10.0.1.4, VNet v2). The services seeds follow fuzz_net_services.c's
three modes (HTTP, DNS, TCP records). Run it again after changing a
harness's configuration or record format.
"""
import json
import pathlib
import socket
import struct

HERE = pathlib.Path(__file__).resolve().parent
GW = bytes.fromhex("123456789abc")
NAT = bytes.fromhex("5255a83f8101")
BCAST = b"\xff" * 6
A, B, C, D = 0, 1, 2, 3
FROM_NAT_V1, FROM_NAT_V2 = 0x80, 0x81
TICK, TICK_MS, SWAP = 0xF0, 0xF8, 0xFE
IMDS = "169.254.169.254"
PDNS = "168.63.129.16"
INET = "93.184.216.34"


def mac(n):
    return bytes([0x52, 0x54, 0, 0, 0, n])


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def eth(dst, src, etype, payload):
    return dst + src + struct.pack("!H", etype) + payload


def ipv4(src, dst, proto, payload, ttl=64):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0x4000, ttl, proto, 0,
                    socket.inet_aton(src), socket.inet_aton(dst))
    return h[:10] + struct.pack("!H", csum(h)) + h[12:] + payload


def udp(src, dst, sp, dp, data=b"x"):
    return ipv4(src, dst, 17, struct.pack("!HHHH", sp, dp, 8 + len(data), 0) + data)


def tcp(src, dst, sp, dp, flags, data=b"", seq=1, ack=1, window=65535, mss=None):
    opts = struct.pack("!BBH", 2, 4, mss) if mss else b""
    off = (20 + len(opts)) // 4 << 4
    return ipv4(src, dst, 6, struct.pack("!HHIIBBHHH", sp, dp, seq, ack, off, flags, window, 0, 0)
                + opts + data)


def dns_q(name, qtype=1, ident=0x4242):
    q = struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0" + struct.pack("!HH", qtype, 1)


# the first SYN+ACK of the metadata server in a fresh harness run: its ISN
# depends on the clock and a salt, so seeds acknowledge a guess and let the
# fuzzer (and the RST/ACK paths) do the rest
HTTP_GET = b"GET /metadata/instance HTTP/1.1\r\nHost: 169.254.169.254\r\nMetadata: true\r\n\r\n"


def icmp(src, dst, typ, ident, inner=b""):
    m = struct.pack("!BBHHH", typ, 0, 0, ident, 1) + (inner or b"pingdata")
    return ipv4(src, dst, 1, m[:2] + struct.pack("!H", csum(m)) + m[4:])


def arp(op, sha, spa, tpa, dst=BCAST):
    return eth(dst, sha, 0x0806, struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, op, sha,
                                             socket.inet_aton(spa), b"\0" * 6,
                                             socket.inet_aton(tpa)))


def dhcp(chaddr, mtype, req_ip=None, server=None):
    m = struct.pack("!BBBBIHH16s16s64s128sI", 1, 1, 6, 0, 0x1234, 0, 0x8000, b"\0" * 16,
                    chaddr + b"\0" * 10, b"", b"", 0x63825363)
    o = bytes([53, 1, mtype])
    if req_ip:
        o += bytes([50, 4]) + socket.inet_aton(req_ip)
    if server:
        o += bytes([54, 4]) + socket.inet_aton(server)
    return udp("0.0.0.0", "255.255.255.255", 68, 67, m + o + b"\xff")


def rec(sel, frame=b""):
    return bytes([sel]) + struct.pack("!H", len(frame)) + frame


def from_nic(n, packet, dst=GW):
    return rec(n, eth(dst, mac(n + 1), 0x0800, packet))


def from_nat(v, packet, dst=GW):
    return rec(FROM_NAT_V1 + v, eth(dst, NAT, 0x0800, packet))


def frame_seeds():
    s = {}
    s["dhcp"] = (rec(A, eth(BCAST, mac(1), 0x0800, dhcp(mac(1), 1)))
                 + rec(A, eth(BCAST, mac(1), 0x0800, dhcp(mac(1), 3, "10.0.1.4", "10.0.1.1")))
                 + rec(D, eth(BCAST, mac(4), 0x0800, dhcp(mac(4), 1))))
    s["arp"] = (rec(A, arp(1, mac(1), "10.0.1.4", "10.0.1.1"))
                + rec(A, arp(1, mac(1), "10.0.1.4", "10.0.1.5"))
                + rec(D, arp(1, mac(4), "10.0.1.4", "10.0.1.5"))
                + rec(FROM_NAT_V1, arp(1, NAT, "168.63.129.1", "10.0.1.4")))
    s["tcp_nat"] = (from_nic(A, tcp("10.0.1.4", INET, 40000, 443, 0x02))
                    + from_nat(0, tcp(INET, "10.0.1.4", 443, 40000, 0x12))
                    + from_nic(A, tcp("10.0.1.4", INET, 40000, 443, 0x10, b"GET /"))
                    + from_nat(0, tcp(INET, "10.0.1.4", 443, 40000, 0x18, b"HTTP/1.0 200"))
                    + rec(SWAP)
                    + from_nic(A, tcp("10.0.1.4", INET, 40000, 443, 0x11))
                    + from_nat(0, tcp(INET, "10.0.1.4", 443, 40000, 0x11))
                    + rec(TICK, b"") + bytes([TICK, 0, 200]))
    s["inbound"] = (from_nat(0, tcp(INET, "10.0.1.4", 50000, 80, 0x02))
                    + from_nat(0, tcp(INET, "10.0.1.4", 50000, 22, 0x02))
                    + from_nat(0, icmp(INET, "10.0.1.5", 8, 9))
                    + from_nat(1, udp(INET, "10.0.1.4", 53, 5353)))
    s["routed"] = (from_nic(A, udp("10.0.1.4", "10.9.2.4", 1000, 2000))
                   + from_nic(C, udp("10.9.2.4", "10.0.1.4", 2000, 1000))
                   + from_nic(A, udp("10.0.1.4", "10.0.1.5", 1, 2), dst=mac(2))
                   + from_nic(D, udp("10.0.1.4", "10.0.1.5", 1, 2)))
    inner = ipv4("10.0.1.4", INET, 17, struct.pack("!HHHH", 5353, 53, 8, 0))[:28]
    s["icmp"] = (from_nic(A, icmp("10.0.1.4", "10.0.1.1", 8, 1))
                 + from_nic(A, icmp("10.0.1.4", INET, 8, 2))
                 + from_nat(0, icmp(INET, "10.0.1.4", 0, 2))
                 + from_nic(A, udp("10.0.1.4", INET, 5353, 53))
                 + from_nat(0, icmp(INET, "10.0.1.4", 3, 0, inner)))
    s["dns"] = (from_nic(B, udp("10.0.1.5", "168.63.129.16", 3333, 53, b"\x12\x34" + b"\0" * 10))
                + from_nat(0, udp("168.63.129.16", "10.0.1.5", 53, 3333, b"\x12\x34")))
    s["flood"] = b"".join(from_nic(A, udp("10.0.1.4", INET, 10000 + i, 53)) for i in range(40))
    s["imds"] = (from_nic(A, tcp("10.0.1.4", IMDS, 40000, 80, 0x02, seq=100, mss=1460))
                 + from_nic(A, tcp("10.0.1.4", IMDS, 40000, 80, 0x18, HTTP_GET, seq=101, ack=0))
                 + bytes([TICK_MS, 0, 250])
                 + from_nic(A, tcp("10.0.1.4", IMDS, 40000, 80, 0x11, seq=101 + len(HTTP_GET)))
                 + bytes([TICK_MS, 1, 0]) + bytes([TICK, 0, 40]))
    s["imds_many"] = b"".join(
        from_nic(B, tcp("10.0.1.5", IMDS, 41000 + i, 80, 0x02, seq=i * 1000, window=i * 100))
        for i in range(6)) + bytes([TICK_MS, 3, 0]) + bytes([TICK, 0, 11])
    s["imds_other"] = (from_nic(A, tcp("10.0.1.4", IMDS, 1, 443, 0x02))
                       + from_nic(A, udp("10.0.1.4", IMDS, 1, 80))
                       + from_nic(D, tcp("10.0.1.4", IMDS, 2, 80, 0x10, seq=5, ack=6))
                       + from_nic(A, tcp("10.0.1.4", "169.254.1.1", 3, 80, 0x02)))
    s["dns_internal"] = (from_nic(A, udp("10.0.1.4", PDNS, 3333, 53, dns_q("b")))
                         + from_nic(B, udp("10.0.1.5", PDNS, 3334, 53, dns_q("A.internal")))
                         + from_nic(B, udp("10.0.1.5", PDNS, 3335, 53, dns_q("nope.internal")))
                         + from_nic(A, udp("10.0.1.4", PDNS, 3336, 53, dns_q("b", 28)))
                         + from_nic(D, udp("10.0.1.4", PDNS, 3337, 53, dns_q("a")))
                         + from_nic(A, udp("10.0.1.4", PDNS, 3338, 53, dns_q("example.com"))))
    return s


def services_seeds():
    s = {}
    reqs = {
        "instance": HTTP_GET,
        "leaf": b"GET /metadata/instance/compute/vmId?format=text HTTP/1.0\r\nMetadata: true\r\n\r\n",
        "userdata": b"GET /metadata/userdata HTTP/1.1\nmetadata:TRUE\n\n",
        "noheader": b"GET /metadata/instance HTTP/1.1\r\nHost: x\r\n\r\n",
        "array": b"GET /metadata/instance/network/interface/1/ipv4?format=text HTTP/1.1\r\n"
                 b"Metadata: true\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n",
        "partial": b"GET /metadata/instance HTTP/1.1\r\nMetad",
        "report": b"POST /kumo/v1/provisioning HTTP/1.1\r\nContent-Length: 80\r\n\r\n"
                  b'{"name":"modules-final","event_type":"finish","result":"FAIL","description":"x"}',
    }
    for i, (k, v) in enumerate(reqs.items()):
        s["http_" + k] = bytes([0, i * 4 & 0xff]) + v
    s["dns_a"] = bytes([1]) + dns_q("vm1.internal")
    s["dns_edns"] = bytes([1]) + (lambda q: q[:10] + b"\0\1" + q[12:])(dns_q("example.com", 28)) \
        + bytes([0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0])

    def seg(flags, dseq=0, dack=0, wnd=65535, plen=0, raw=False, step=0, port=0):
        return bytes([flags | port << 6]) + struct.pack("!hhHBB", dseq, dack, wnd,
                                                       plen | (0x80 if raw else 0), step)
    # a whole exchange: SYN (MSS 1460 in dack), ACK + request in three parts,
    # ACK the response as it comes, FIN
    conv = [seg(0x02, dack=1460), seg(0x10, dack=0), seg(0x18, plen=30), seg(0x18, plen=30),
            seg(0x18, plen=20)]
    conv += [seg(0x10, step=1) for _ in range(8)] + [seg(0x11, step=5), seg(0x10, step=250)]
    s["tcp_exchange"] = bytes([2]) + b"".join(conv)
    s["tcp_lossy"] = bytes([2]) + b"".join(
        [seg(0x02, dack=536, wnd=1000), seg(0x10), seg(0x18, plen=76, wnd=0),
         seg(0x10, step=40, wnd=0), seg(0x10, dack=-500, step=30, wnd=500),
         seg(0x10, step=30), seg(0x10, step=30), seg(0x10, step=30), seg(0x04, dseq=3)])
    s["tcp_ports"] = bytes([2]) + b"".join(
        [seg(0x02, port=p) for p in range(4)] + [seg(0x02, dseq=9, port=1), seg(0x10, step=255)])
    s["tcp_raw"] = bytes([2]) + seg(0x02) + seg(0x10) + seg(0x18, plen=20, raw=True) + \
        b"GET / HTTP/1.1\r\n\x00\r\n\r\n" + seg(0x11, step=2)
    return s


CONFIG = {
    "vnets": [{"name": "v1", "address_space": ["10.0.0.0/16", "10.8.0.0/16"], "dns": "10.0.0.53",
               "subnets": [{"name": "web", "prefix": "10.0.1.0/24", "nsg": "web"},
                           {"name": "db", "prefix": "10.8.2.0/29"}]},
              {"name": "v2", "address_space": ["10.0.0.0/16"],
               "subnets": [{"name": "web", "prefix": "10.0.1.0/24"}]}],
    "nsgs": [{"name": "web", "rules": [
        {"name": "http", "priority": 100, "direction": "Inbound", "access": "Allow",
         "protocol": "Tcp", "source_address_prefix": ["Internet", "10.8.0.0/16"],
         "destination_port_range": "80,443,8000-8080", "description": "web"},
        {"name": "no-out", "priority": 4096, "direction": "Outbound", "access": "Deny",
         "protocol": "*", "destination_address_prefix": "203.0.113.7",
         "source_port_range": 1234}]}],
    "public_ips": [{"name": "p", "host_address": "0.0.0.0",
                    "ports": [{"host_port": 8080, "nic_port": 80, "protocol": "Tcp"},
                              {"host_port": 5353, "nic_port": 53, "protocol": "Udp"}]}],
    "nics": [{"id": "n1", "vnet": "v1", "subnet": "web", "mac": "52:54:00:00:00:01",
              "public_ip": "p", "hostname": "web-1",
              "vm": {"name": "web 1", "id": "i-1", "size": "Standard_B1s", "location": "local",
                     "resource_group": "rg", "user_data": "IyEvYmluL3NoCmVjaG8gaGkK"}},
             {"id": "n2", "vnet": "v1", "subnet": "db", "mac": "52:54:00:00:00:02",
              "private_ip": "10.8.2.6", "nsg": "web"},
             {"id": "n3", "vnet": "v2", "subnet": "web", "mac": "52:54:00:00:00:03"}],
    "conntrack": {"max_entries": 1000, "tcp_established": 600, "udp_unreplied": 10},
}


def config_seeds():
    s = {"full": json.dumps(CONFIG, indent=1), "empty": "{}"}
    lines = [
        {"op": "ping", "id": 1},
        {"op": "add_nic", "nic": {"id": "n9", "vnet": "v1", "subnet": "web",
                                  "mac": "52:54:00:00:00:09"}},
        {"op": "update_nsg", "nsg": {"name": "g", "rules": []}},
        {"op": "add_vnet", "vnet": {"name": "v3", "address_space": ["192.168.0.0/16"]}},
        {"op": "remove_nic", "id": "n1"},
        {"op": "remove_public_ip", "name": "p"},
        {"op": "counters"},
        {"op": "flows", "vnet": "v1", "limit": 5},
        {"op": "get_config"},
        {"op": "nics"},
        {"op": "set_config", "config": CONFIG},
    ]
    s["control"] = "\n".join(json.dumps(x) for x in lines)
    return s


def vxlan_seeds():
    """fuzz_net_vxlan.c's records: UDP payloads from underlay hosts (selector
    0: 192.168.50.2, where remote NIC r 10.0.1.20 ...04 lives; 1: .3) and
    frames of local NICs (0x40 + n: a 10.0.1.4, b 10.0.2.4 in v1)."""
    def vx(vni, frame, flags=0x08):
        return struct.pack("!B3xI", flags, vni << 8) + frame

    ep = bytes.fromhex("021100000009")
    r = mac(4)
    s = {}
    s["arp-for-a"] = rec(1, vx(1, arp(1, ep, "10.0.1.50", "10.0.1.4")))
    s["learned-tcp"] = (rec(1, vx(1, arp(1, ep, "10.0.1.50", "10.0.1.4"))) +
                        rec(1, vx(1, eth(mac(1), ep, 0x0800,
                                         tcp("10.0.1.50", "10.0.1.4", 3333, 80, 0x02)))) +
                        rec(0x40, eth(ep, mac(1), 0x0800,
                                      tcp("10.0.1.4", "10.0.1.50", 80, 3333, 0x12))))
    s["remote-nic"] = (rec(0x40, eth(r, mac(1), 0x0800,
                                     tcp("10.0.1.4", "10.0.1.20", 4000, 22, 0x02))) +
                       rec(0, vx(1, eth(mac(1), r, 0x0800,
                                        tcp("10.0.1.20", "10.0.1.4", 22, 4000, 0x12)))) +
                       rec(0, vx(1, eth(mac(1), r, 0x0800,
                                        tcp("10.0.1.20", "10.0.1.4", 5000, 22, 0x02)))))
    s["flood-and-reply"] = (rec(0x40, arp(1, mac(1), "10.0.1.4", "10.0.1.77")) +
                            rec(1, vx(1, arp(2, ep, "10.0.1.77", "10.0.1.4", dst=mac(1)))) +
                            bytes([0xF0, 0x01, 0x2d]))
    s["routed"] = (rec(0x41, eth(GW, mac(2), 0x0800, tcp("10.0.2.4", "10.0.1.20", 1, 2, 0x02))) +
                   rec(0, vx(1, eth(GW, GW, 0x0800, tcp("10.0.1.20", "10.0.2.4", 2, 1, 0x12)))))
    s["bad-header"] = rec(0, vx(1, arp(1, r, "10.0.1.20", "10.0.1.4"), flags=0)) + rec(2, b"\x08")
    return s


def main():
    for name, seeds in (("net_frame", frame_seeds()), ("net_config", config_seeds()),
                        ("net_services", services_seeds()), ("net_vxlan", vxlan_seeds())):
        d = HERE / "seeds" / name
        d.mkdir(parents=True, exist_ok=True)
        for k, v in seeds.items():
            (d / k).write_bytes(v if isinstance(v, bytes) else v.encode())


if __name__ == "__main__":
    main()
