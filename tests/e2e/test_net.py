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
