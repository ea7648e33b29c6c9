"""virtio-net on user-mode networking (libslirp): DHCP, reaching the gateway,
and a host port forwarded to a web server inside the guest."""
import socket
import subprocess
import time
import urllib.request

from conftest import boot_cmd, run


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_dhcp_and_gateway(vmm, guest):
    r = run(boot_cmd(vmm, guest, "ip -4 addr show eth0; ping -c 2 -W 5 10.0.2.2",
                     extra=["--net", "user"]), timeout=120)
    assert r.returncode == 0, r.stdout[-2000:]
    assert "kumo guest: eth0 10.0.2.15/24" in r.stdout
    assert "2 packets received" in r.stdout


def test_mac_option(vmm, guest):
    r = run(boot_cmd(vmm, guest, "cat /sys/class/net/eth0/address",
                     extra=["--net", "user,mac=52:54:00:ab:cd:ef"]), timeout=120)
    assert "52:54:00:ab:cd:ef" in r.stdout


def test_bad_net_options(vmm, guest):
    for spec, msg in (("bogus", "unknown network back end"), ("user,mac=01:00:5e:00:00:01", "unicast"),
                      ("user,hostfwd=tcp:1", "hostfwd="), ("switch=/nonexistent.sock,nic=a",
                                                           "cannot connect to the switch")):
        r = run(boot_cmd(vmm, guest, "true", extra=["--net", spec]), timeout=60)
        assert r.returncode != 0, spec
        assert msg in r.stderr, (spec, r.stderr)


def test_hostfwd_reaches_a_guest_web_server(vmm, guest, tmp_path):
    port = free_port()
    body = "hello-from-the-guest-%d" % port
    cmd = (f"mkdir -p /w; echo {body} > /w/index.html; httpd -f -p 8080 -h /w & "
           "echo server-up; sleep 300")  # the test kills it once it has its answer
    p = subprocess.Popen(boot_cmd(vmm, guest, cmd,
                                  extra=["--net", f"user,hostfwd=tcp:127.0.0.1:{port}-:8080"]),
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    try:
        got = None
        deadline = time.monotonic() + 180  # a sanitized build on a busy host boots slowly
        while time.monotonic() < deadline and got is None:
            try:
                got = urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html",
                                             timeout=10).read().decode()
            except OSError:
                time.sleep(0.5)
        assert got is not None and body in got
    finally:
        p.kill()
        p.wait()


def test_hostfwd_answers_a_client_on_the_hosts_network(vmm, guest, lan_host):
    """A client on the host's LAN connects to a forwarded port: the guest's
    answers reach it (libslirp passes the client's private address, which
    the egress policy closes to connections of the guest's own)."""
    port = free_port()
    body = "hello-lan-client-%d" % port
    cmd = (f"mkdir -p /w; echo {body} > /w/index.html; httpd -f -p 8080 -h /w & "
           "echo server-up; sleep 300")
    p = subprocess.Popen(boot_cmd(vmm, guest, cmd,
                                  extra=["--net", f"user,hostfwd=tcp:{lan_host.host_side}:{port}-:8080"]),
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    try:
        got = ""
        deadline = time.monotonic() + 180  # a sanitized build on a busy host boots slowly
        while time.monotonic() < deadline and body not in got:
            c = lan_host.run(["curl", "-s", "-m", "10", f"http://{lan_host.host_side}:{port}/index.html"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            got = c.communicate(timeout=30)[0]
            if body not in got:
                time.sleep(0.5)
        assert body in got, got
    finally:
        p.kill()
        p.wait()


def http_server(popen, tmp_path, name, body):
    """python3 -m http.server on 0.0.0.0 serving body as /index.html; (proc, port)."""
    d = tmp_path / name
    d.mkdir()
    (d / "index.html").write_text(body + "\n")
    p = popen(["/usr/bin/python3", "-u", "-m", "http.server", "0", "--bind", "0.0.0.0"],
              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=d)
    return p, int(p.stdout.readline().split("port ")[1].split()[0])


def test_user_nat_reaches_outside_but_never_the_host(vmm, guest, tmp_path, outside, lan_host):
    """The guest reaches a server outside this host, and not this host: not
    through the loopback alias 10.0.2.2, not at the host's own addresses, not
    at 127.0.0.1 routed out on purpose, not the host's metadata address, and
    not a LAN neighbour until the operator allows its network."""
    servers = []
    try:
        mine, port = http_server(subprocess.Popen, tmp_path, "host", "host-secret")
        servers.append(mine)
        out_srv, oport = http_server(outside.run, tmp_path, "outside", "outside-ok")
        servers.append(out_srv)
        lan_srv, lport = http_server(lan_host.run, tmp_path, "lan", "lan-ok")
        servers.append(lan_srv)
        host_addrs = [a for a in (outside.host_side, lan_host.host_side) if a]
        out = subprocess.run(["ip", "-4", "-o", "addr", "show"], capture_output=True, text=True)
        host_addrs += [ln.split()[3].split("/")[0] for ln in out.stdout.splitlines()
                       if not ln.split()[3].startswith("127.")]

        def script(extra=""):
            s = (f"wget -q -T 10 -O - http://{outside.addr}:{oport}/ ; "
                 f"wget -q -T 3 -O - http://10.0.2.2:{port}/ ; ")
            for a in host_addrs:
                s += f"wget -q -T 3 -O - http://{a}:{port}/ ; "
            s += ("wget -q -T 3 -O - http://169.254.169.254/ ; "
                  f"wget -q -T 3 -O - http://{lan_host.addr}:{lport}/ ; "
                  # 127.0.0.1 sent out of eth0 on purpose, as a hostile guest would
                  "echo 1 > /proc/sys/net/ipv4/conf/all/route_localnet; "
                  "echo 1 > /proc/sys/net/ipv4/conf/eth0/route_localnet; "
                  "ip route add 127.0.0.2/32 via 10.0.2.2 dev eth0 table 100; "
                  "ip rule add pref 10 to 127.0.0.2 lookup 100; "
                  "ip rule del pref 0; ip rule add pref 20 lookup local; "
                  f"wget -q -T 3 -O - http://127.0.0.2:{port}/ ; echo done-{extra}")
            return s

        r = run(boot_cmd(vmm, guest, script("a"), extra=["--net", "user"]), timeout=240)
        assert "done-a" in r.stdout, r.stdout[-3000:]
        assert "outside-ok" in r.stdout, r.stdout[-3000:]  # the NAT works
        assert "host-secret" not in r.stdout, r.stdout[-3000:]
        assert "lan-ok" not in r.stdout, r.stdout[-3000:]
        # the guest's packets really left it and were dropped by the policy
        for addr, why in [(a, "this host") for a in host_addrs] + [
                ("127.0.0.2", "this host"), ("169.254.169.254", "link-local"),
                (lan_host.addr, "private network")]:
            assert f"packet to {addr} dropped ({why}" in r.stderr, (addr, r.stderr)
        # the operator allows the LAN: then it is reached, the host still not
        r = run(boot_cmd(vmm, guest, script("b"),
                         extra=["--net", f"user,egress=allow:{lan_host.addr}/32"]), timeout=240)
        assert "done-b" in r.stdout and "lan-ok" in r.stdout, r.stdout[-3000:]
        assert "host-secret" not in r.stdout, r.stdout[-3000:]
        # and an operator cannot open this host or loopback
        r = run(boot_cmd(vmm, guest, "true", extra=["--net", "user,egress=allow:127.0.0.0/8"]),
                timeout=60)
        assert r.returncode != 0 and "never reach" in r.stderr, r.stderr
    finally:
        for p in servers:
            p.kill()
            p.wait()
