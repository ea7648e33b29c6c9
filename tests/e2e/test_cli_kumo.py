"""kumo, the command line client, end to end: build/kumo driven as a user
drives it, against a kumod started in a temporary data directory, with real
VMs of the default guest (small ones: 1 vCPU, 128 MiB).

Environment: KUMO_BUILD (build directory with kumo, kumod, kumo-vmm),
KUMO_GUEST_DIR (the default guest; else guest/build.sh's cache).
"""
import json
import os
import pathlib
import re
import select
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

from conftest import BUILD, public_port_window

KUMO = BUILD / "kumo"
KUMOD = BUILD / "kumod"

# exit codes (docs/user-guide-cloud.md)
OK, ERROR, USAGE, NOTFOUND, CONFLICT, TIMEOUT, UNREACHABLE, AUTH = 0, 1, 2, 3, 4, 5, 6, 7


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def clean_env(home):
    """An environment with no KUMO_* settings and a private default data dir."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUMO_")}
    env["XDG_STATE_HOME"] = str(home)
    env["HOME"] = str(home)
    env.pop("KUMO_BUILD", None)
    return env


def run_kumo(args, env, input=None, timeout=180):
    if not KUMO.exists():
        pytest.fail(f"{KUMO} is missing: build first")
    r = subprocess.run([str(KUMO), *args], input=input, capture_output=True, text=True,
                       env=env, timeout=timeout,
                       stdin=subprocess.DEVNULL if input is None else None)
    return r


class Cloud:
    """A kumod on a temporary data directory, and kumo pointed at it."""

    def __init__(self, vmm, guest, tmp, args=()):
        self.data = tmp / "data"
        self.home = tmp / "home"
        self.home.mkdir()
        self.port = free_port()
        self.logf = open(tmp / "kumod.log", "ab")
        self.logpath = tmp / "kumod.log"
        # host ports for public IPs: a window of their own, so that other kumods on
        # this machine (other tests) do not collide with this one
        self.ports = public_port_window()
        self.port_base = int(self.ports.split("-")[0])
        cmd = [str(KUMOD), "--data-dir", str(self.data), "--listen-tcp", f"127.0.0.1:{self.port}",
               "--vmm", vmm, "--guest-dir", str(guest), "--metrics-interval", "1",
               "--stop-timeout", "10", "--public-ports", self.ports, *args]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.logf,
                                     stderr=self.logf)
        self.env = clean_env(self.home)
        self.env["KUMO_DATA_DIR"] = str(self.data)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"kumod exited:\n{self.log()}")
            if (self.data / "kumod.sock").exists() and (self.data / "token").exists():
                if self.kumo("status").returncode == OK:
                    break
            time.sleep(0.05)
        else:
            pytest.fail("kumod did not come up:\n" + self.log())
        self.token = (self.data / "token").read_text().strip()

    def log(self):
        return self.logpath.read_text(errors="replace")[-4000:]

    def kumo(self, *args, env=None, input=None, timeout=180):
        return run_kumo([str(a) for a in args], env or self.env, input=input, timeout=timeout)

    def ok(self, *args, **kw):
        r = self.kumo(*args, **kw)
        assert r.returncode == OK, f"kumo {' '.join(map(str, args))}: {r.returncode}\n{r.stdout}\n{r.stderr}"
        return r

    def json(self, *args):
        return json.loads(self.ok(*args, "-o", "json").stdout)

    def stop(self):
        try:
            for g in self.json("group", "list"):
                for vm in self.json("vm", "list", "-g", g["name"]):
                    self.kumo("vm", "delete", "-g", g["name"], vm["name"], "--yes", "--timeout", "60")
        except Exception:  # noqa: BLE001 - best effort, then kill by data dir
            pass
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logf.close()
        for _ in range(20):  # VMs and the switch
            pids = vmm_pids(self.data)
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.1)


def vmm_pids(data):
    pids = []
    for p in pathlib.Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            cmd = (p / "cmdline").read_bytes().split(b"\0")
            state = (p / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and any(str(data).encode() + b"/" in a for a in cmd):
            pids.append(int(p.name))
    return pids


@pytest.fixture
def cloud_factory(vmm, guest, tmp_path):
    if not KUMOD.exists():
        pytest.fail(f"{KUMOD} is missing: build first")
    made = []

    def make(args=(), name="c"):
        d = tmp_path / name
        d.mkdir()
        c = Cloud(vmm, guest, d, args)
        made.append(c)
        c.ok("size", "create", "-n", "Tiny", "--vcpus", 1, "--memory-mib", 128,
             "--price-per-hour", 0.01)
        c.ok("size", "create", "-n", "Tiny2", "--vcpus", 2, "--memory-mib", 160,
             "--price-per-hour", 0.02)
        c.ok("group", "create", "-n", "rg")
        return c

    yield make
    for c in made:
        c.stop()


@pytest.fixture
def cloud(cloud_factory):
    return cloud_factory()


def wait_log(c, vm, text, since=0, timeout=120):
    """Wait until `kumo vm log` (after byte `since`) has a whole line with text."""
    deadline = time.time() + timeout
    log = ""
    while time.time() < deadline:
        log = c.ok("vm", "log", "-g", "rg", vm).stdout[since:]
        i = log.find(text)
        if i >= 0 and "\n" in log[i:]:
            return log
        time.sleep(0.2)
    raise AssertionError(f"{text!r} not in the log of {vm}:\n{log[-3000:]}")


def wait_prompt(c, vm, since=0, timeout=120):
    """Wait until the guest's shell shows its prompt (after byte `since` of
    the log): a line typed ahead of it is discarded when the shell sets up
    line editing, though the tty has echoed it."""
    deadline = time.time() + timeout
    while f"{vm}:~# " not in c.ok("vm", "log", "-g", "rg", vm).stdout[since:]:
        assert time.time() < deadline, f"no shell prompt on {vm}'s console"
        time.sleep(0.2)


def kv(out):
    """The 'Key:  value' lines of a show view."""
    d = {}
    for line in out.splitlines():
        m = re.match(r"^([A-Za-z][^:]*):\s+(.*)$", line)
        if m:
            d.setdefault(m.group(1), m.group(2))
    return d


def table(out):
    """Rows of an az-style table as dicts (header, dashes, rows)."""
    lines = [l for l in out.splitlines() if l.strip()]
    assert len(lines) >= 2 and set(lines[1].replace(" ", "")) == {"-"}, out
    # column starts from the dashes
    spans, i = [], 0
    dash = lines[1]
    while i < len(dash):
        if dash[i] == "-":
            j = i
            while j < len(dash) and dash[j] == "-":
                j += 1
            spans.append((i, j))
            i = j
        else:
            i += 1
    def cells(line):
        return [line[a:(spans[k + 1][0] if k + 1 < len(spans) else None)].strip()
                for k, (a, _) in enumerate(spans)]
    head = cells(lines[0])
    return [dict(zip(head, cells(l))) for l in lines[2:]]


# ---------------------------------------------------------------------------
# no kumod needed


def command_tree(env, words=()):
    """Every command path, found from the help pages."""
    r = run_kumo([*words, "--help"], env)
    assert r.returncode == OK, (words, r.stderr)
    assert r.stdout.startswith("Usage: kumo"), (words, r.stdout[:200])
    if "\nCommands:\n" not in r.stdout:
        return [tuple(words)]
    block = r.stdout.split("\nCommands:\n", 1)[1].split("\n\n", 1)[0]
    subs = [m.group(1) for m in re.finditer(r"^  (\S+)", block, re.M)]
    assert subs, r.stdout
    paths = []
    for s in subs:
        paths += command_tree(env, (*words, s))
    return paths


def test_help_on_every_command(tmp_path):
    env = clean_env(tmp_path)
    paths = command_tree(env)
    leaves = {" ".join(p) for p in paths}
    for must in ["vm create", "vm list", "vm show", "vm start", "vm stop", "vm deallocate",
                 "vm restart", "vm resize", "vm delete", "vm console", "vm log", "vm disk attach",
                 "disk create", "disk update", "image create", "vnet create", "subnet create",
                 "vnet subnet list", "nsg create", "nsg rule create", "nsg rule update",
                 "public-ip create", "nic update", "group delete", "size list", "cost",
                 "metrics vm", "status", "location list", "host update", "snapshot create"]:
        assert must in leaves, (must, sorted(leaves))
    for p in paths:
        r = run_kumo([*p, "--help"], env)
        out = r.stdout
        assert r.returncode == OK and r.stderr == "", (p, r.stderr)
        assert out.startswith(f"Usage: kumo {' '.join(p)}"), (p, out[:200])
        assert "Global options:" in out and "--output FORMAT" in out, p
        assert all(len(l) <= 100 for l in out.splitlines()), p
        # -h and 'kumo help ...' are the same page
        assert run_kumo([*p, "-h"], env).stdout == out
        assert run_kumo(["help", *p], env).stdout == out
    top = run_kumo(["--help"], env)
    assert "Exit codes:" in top.stdout and "KUMO_URL" in top.stdout
    # --help wins over everything else on the line, and needs no kumod
    r = run_kumo(["vm", "create", "--bogus", "--help"], env)
    assert r.returncode == OK and "--data-disk-sizes-gb" in r.stdout
    assert run_kumo(["--version"], env).stdout.startswith("kumo ")


@pytest.mark.parametrize("args,text", [
    (["bogus"], "unknown command 'bogus'"),
    (["vm", "craete"], "unknown command 'craete' (did you mean 'create'?)"),
    (["vm"], "missing command: one of create, list"),
    ([], "missing command"),
    (["vm", "create", "-g", "rg", "-n", "a", "--sizee", "B1s"], "unknown option --sizee (did you mean --size?)"),
    (["vm", "create", "-n", "a", "--size", "B1s"], "missing -g/--resource-group RG"),
    (["vm", "create", "-g", "rg", "--size", "B1s"], "missing the VM's name"),
    (["vm", "create", "-g", "rg", "-n", "a"], "missing --size SIZE"),
    (["vm", "create", "-g", "rg", "-n", "a", "--size"], "--size SIZE: the option needs a value"),
    (["vm", "create", "-g", "rg", "-n", "a", "--size", "B1s", "--data-disk-sizes-gb", "8", "x"],
     "--data-disk-sizes-gb: 'x' is not a size in GiB"),
    (["vm", "create", "-g", "rg", "-n", "a", "--size", "B1s", "--data-disk-sizes-gb"],
     "--data-disk-sizes-gb needs one or more values"),
    (["vm", "create", "-g", "rg", "-n", "a", "--size", "B1s", "--user-data", "/nonexistent"],
     "--user-data: cannot read /nonexistent"),
    (["vm", "create", "-g", "rg", "-n", "a", "--size", "B1s", "--tags", "novalue"],
     "--tags: 'novalue' is not KEY=VALUE"),
    (["vm", "create", "-g", "rg", "-n", "a", "--size", "B1s", "--nics", "n1", "--vnet", "v"],
     "leave out --vnet"),
    (["vm", "create", "-g", "rg", "-n", "a", "--size", "B1s", "--size", "B2s"], "given twice"),
    (["vm", "list", "-o", "yaml"], "'yaml' is not an output format: use table, json or tsv"),
    (["vm", "show", "-g", "rg", "a", "b"], "unexpected argument 'b'"),
    (["vm", "show", "-g", "rg", "-n", "a", "b"], "two names given"),
    (["vm", "resize", "-g", "rg", "a"], "missing --size SIZE"),
    (["vm", "restart", "-g", "rg", "a", "--restart"], "unknown option --restart"),
    (["vm", "stop", "-g", "rg", "a", "--timeout", "soon"], "--timeout: 'soon' is not a number"),
    (["vm", "log", "-g", "rg", "a", "--tail", "-5"], "--tail: '-5' is not a whole number"),
    (["vm", "disk", "detach", "-g", "rg", "--vm-name", "a"], "-n DISK or --lun N"),
    (["disk", "create", "-g", "rg", "-n", "d"], "missing --size-gb GIB"),
    (["nsg", "rule", "create", "-g", "rg", "--nsg-name", "n", "-n", "r"], "missing --priority N"),
    (["nsg", "rule", "create", "-g", "rg", "-n", "r", "--priority", "100"], "missing --nsg-name NSG"),
    (["public-ip", "create", "-g", "rg", "-n", "p", "--ports", "http"], "--ports: 'http' is not"),
    (["cost", "--group-by", "team"], "--group-by: 'team' is not one of"),
    (["cost", "--from", "yesterday"], None),  # passed to kumod: not a usage error
    (["cost", "--from", "5x"], None),
    (["usage", "--from", "2hours"], None),
    (["image", "create", "-n", "i", "--source", "/nonexistent.qcow2"], "--source: cannot find"),
    (["group", "update", "-n", "g"], "nothing to change"),
    (["size", "update", "-n", "B1s"], "nothing to change"),
])
def test_usage_errors(tmp_path, args, text):
    r = run_kumo(args, clean_env(tmp_path))
    if text is None:  # reaches for kumod (none runs): not a usage error
        assert r.returncode in (UNREACHABLE, USAGE), (args, r.returncode, r.stderr)
        if r.returncode == USAGE:
            assert "is not a time" in r.stderr
        return
    assert r.returncode == USAGE, (args, r.returncode, r.stdout, r.stderr)
    assert text in r.stderr, (args, r.stderr)
    assert r.stderr.startswith("kumo"), r.stderr
    assert "--help' for usage." in r.stderr
    assert r.stdout == "", r.stdout


def test_user_data_limit(tmp_path):
    big = tmp_path / "big"
    big.write_bytes(b"x" * (64 * 1024 + 1))
    r = run_kumo(["vm", "create", "-g", "rg", "-n", "a", "--size", "B1s", "--user-data", str(big)],
                 clean_env(tmp_path))
    assert r.returncode == USAGE and "is larger than 64 KiB" in r.stderr, r.stderr


def test_no_kumod(tmp_path):
    env = clean_env(tmp_path)
    # the default data directory ($XDG_STATE_HOME/kumo) holds no kumod
    r = run_kumo(["vm", "list"], env)
    assert r.returncode == UNREACHABLE, r
    assert f"cannot reach kumod at {tmp_path}/kumo/kumod.sock: no such socket" in r.stderr, r.stderr
    assert f"Start it with 'kumod --data-dir {tmp_path}/kumo'" in r.stderr
    # --data-dir and KUMO_DATA_DIR name another one
    r = run_kumo(["status", "--data-dir", str(tmp_path / "elsewhere")], env)
    assert r.returncode == UNREACHABLE and "elsewhere/kumod.sock" in r.stderr, r.stderr
    r = run_kumo(["group", "list"], {**env, "KUMO_DATA_DIR": str(tmp_path / "other")})
    assert r.returncode == UNREACHABLE and "other/kumod.sock" in r.stderr, r.stderr
    # a socket left over by a kumod that died
    d = tmp_path / "stale"
    d.mkdir()
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(d / "kumod.sock"))
    s.close()
    (d / "token").write_text("0" * 64)
    r = run_kumo(["--data-dir", str(d), "vm", "list"], env)
    assert r.returncode == UNREACHABLE and "connection refused" in r.stderr, r.stderr
    # TCP: nobody listens
    port = free_port()
    r = run_kumo(["vm", "list"], {**env, "KUMO_URL": f"http://127.0.0.1:{port}"})
    assert r.returncode == UNREACHABLE, r
    assert f"cannot reach kumod at http://127.0.0.1:{port}: connection refused" in r.stderr
    assert f"kumod --listen-tcp 127.0.0.1:{port}" in r.stderr
    r = run_kumo(["vm", "list", "--url", "ftp://x"], env)
    assert r.returncode == USAGE and "is not an http:// URL" in r.stderr, r.stderr


# ---------------------------------------------------------------------------
# with kumod


def test_vm_story_create_port_stop_deallocate_resize_cost_delete(cloud):
    c = cloud
    t0 = time.time()
    r = c.ok("vm", "create", "-g", "rg", "-n", "web", "--size", "Tiny", "--public-ip",
             "--data-disk-sizes-gb", "2", "--data-disk-tier", "Premium_SSD", "--tags", "app=web")
    t_create = time.time() - t0
    view = kv(r.stdout)
    assert view["Name"] == "web" and view["Power state"] == "Running", r.stdout
    assert view["Provisioning"] == "Succeeded"
    assert view["Size"] == "Tiny: 1 vCPU, 128 MiB"
    assert view["Private IP"].startswith("10.0.0.4 (NIC web-nic in web-vnet/default"), view
    m = re.match(r"127\.0\.0\.1 \(web-ip\): (.*)", view["Public IP"])
    assert m, view
    ports = {int(p): int(h) for p, h in re.findall(r"tcp/(\d+) -> 127\.0\.0\.1:(\d+)", m.group(1))}
    assert set(ports) == {22, 80, 443}, view
    assert view["OS disk"] == "web-osdisk (Standard_SSD, 4 GiB)"
    assert view["Data disk 0"] == "web-data0 (Premium_SSD, 2 GiB)"
    assert view["Console"] == "kumo vm console -g rg web"
    assert r.stderr == ""  # no progress line when stderr is not a terminal
    log = wait_log(c, "web", "kumo guest: booted")
    print(f"\n[measure] kumo vm create -> Running {t_create:.2f} s, -> booted "
          f"{time.time() - t0:.2f} s")
    # --follow keeps printing what the VM writes
    f = subprocess.Popen([str(KUMO), "vm", "log", "-g", "rg", "web", "--follow", "--tail", "200"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=c.env)
    try:
        # the shell must be reading: a line sent before its prompt is lost when
        # it sets up line editing (the tty discards what was typed ahead)
        deadline = time.time() + 60
        while "web:~# " not in c.ok("vm", "log", "-g", "rg", "web").stdout:
            assert time.time() < deadline, "no shell prompt on web's console"
            time.sleep(0.2)
        c.ok("vm", "console", "-g", "rg", "web", input="echo followed-$((3*5))\n")
        got, deadline = b"", time.time() + 30
        while b"followed-15" not in got and time.time() < deadline:
            r, _, _ = select.select([f.stdout], [], [], 1)
            if r:
                got += os.read(f.stdout.fileno(), 65536)
        assert b"followed-15" in got, got[-2000:]
    finally:
        f.terminate()
        f.wait(10)
    # the implicit network, as az vm create makes it
    assert [v["name"] for v in c.json("vnet", "list", "-g", "rg")] == ["web-vnet"]
    nsg = c.json("nsg", "show", "-g", "rg", "web-nsg")
    assert [(x["name"], x["destinationPortRange"]) for x in nsg["rules"]] == [("AllowSSH", "22")]
    assert c.json("nic", "show", "-g", "rg", "web-nic")["publicIp"] == "web-ip"
    assert [p["name"] for p in c.json("public-ip", "list", "-g", "rg")] == ["web-ip"]

    # list: table, json, tsv; with -g, $KUMO_GROUP, and across groups
    rows = table(c.ok("vm", "list", "-g", "rg").stdout)
    assert rows == [{"Name": "web", "Size": "Tiny", "vCPUs": "1", "Memory": "128 MiB",
                     "PowerState": "Running", "Provisioning": "Succeeded",
                     "PrivateIp": "10.0.0.4", "PublicIp": "127.0.0.1",
                     "Ports": f"22->{ports[22]},80->{ports[80]}(blocked),"
                              f"443->{ports[443]}(blocked)"}], rows  # the NSG lets SSH in only
    rows = table(c.ok("vm", "list").stdout)
    assert rows[0]["ResourceGroup"] == "rg" and rows[0]["Name"] == "web"
    assert table(c.ok("vm", "list", env={**c.env, "KUMO_GROUP": "rg"}).stdout)[0]["Name"] == "web"
    vms = c.json("vm", "list", "-g", "rg")
    assert isinstance(vms, list) and vms[0]["tags"] == {"app": "web"}
    assert c.ok("vm", "list", "-g", "rg", "-o", "tsv").stdout.split("\t")[:2] == ["web", "Tiny"]
    shown = c.json("vm", "show", "-g", "rg", "-n", "web")
    assert shown["powerState"] == "Running" and shown["networkInterfaces"][0]["privateIp"] == "10.0.0.4"
    assert shown == c.json("vm", "show", "-g", "rg", "web")  # -n or the last word

    # the port: 80 is closed until an NSG rule opens it
    switch = c.json("status")["health"]["network"] == "kumo-switch"
    if switch:
        assert "kumo guest: eth0 10.0.0.4/24" in log
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{ports[80]}/", timeout=3).read()
    r = c.ok("nsg", "rule", "create", "-g", "rg", "--nsg-name", "web-nsg", "-n", "AllowHTTP",
             "--priority", 1010, "--protocol", "Tcp", "--destination-port-ranges", 80)
    assert kv(r.stdout)["Destination ports"] == "80" and kv(r.stdout)["Access"] == "Allow"
    rules = table(c.ok("nsg", "rule", "list", "-g", "rg", "--nsg-name", "web-nsg").stdout)
    assert [x["Name"] for x in rules] == ["AllowSSH", "AllowHTTP"]
    if not switch:  # the NAT fallback forwards what the NSGs allow at the next start
        before = len(c.ok("vm", "log", "-g", "rg", "web").stdout)
        c.ok("vm", "restart", "-g", "rg", "web")
        wait_log(c, "web", "kumo guest: booted", since=before)
    # a web server in the guest, started through the console from a pipe
    r = c.ok("vm", "console", "-g", "rg", "web", "--linger", "1",
             input="mkdir -p /tmp/www && echo hello-from-kumo-cli > /tmp/www/index.html && "
                   "httpd -p 80 -h /tmp/www && echo started-$((6*7))\n")
    assert "started-42" in r.stdout, r.stdout
    body = None
    for _ in range(50):
        try:
            body = urllib.request.urlopen(f"http://127.0.0.1:{ports[80]}/", timeout=5).read().decode()
            break
        except OSError:
            time.sleep(0.2)
    assert body and "hello-from-kumo-cli" in body, body

    # stop: still allocated and billed; deallocate: released, not billed
    r = c.ok("vm", "stop", "-g", "rg", "web")
    assert "is Stopped: still allocated" in r.stdout and "billed" in r.stdout, r.stdout
    assert c.json("location", "show")["allocated"]["vcpus"] == 1
    usage = c.json("usage", "-g", "rg")
    assert [u["meter"] for u in usage if u["resourceType"] == "virtualMachine" and u["end"] is None] == ["VM Tiny"]
    r = c.ok("vm", "deallocate", "-g", "rg", "web")
    assert "is Deallocated" in r.stdout and "not billed" in r.stdout, r.stdout
    assert c.json("location", "show")["allocated"]["vcpus"] == 0
    assert not [u for u in c.json("usage", "-g", "rg")
                if u["resourceType"] == "virtualMachine" and u["end"] is None]
    r = c.kumo("vm", "console", "-g", "rg", "web")
    assert r.returncode == CONFLICT and "is Deallocated" in r.stderr and "kumo vm start" in r.stderr

    # resize while deallocated (at once), start: the guest has 2 vCPUs
    before = len(c.ok("vm", "log", "-g", "rg", "web").stdout)
    c.ok("vm", "resize", "-g", "rg", "web", "--size", "Tiny2")
    vm = c.json("vm", "show", "-g", "rg", "web")
    assert vm["size"] == "Tiny2" and vm["vcpus"] == 2 and vm["powerState"] == "Deallocated"
    r = c.ok("vm", "start", "-g", "rg", "web")
    assert "is Running" in r.stdout
    log = wait_log(c, "web", "kumo guest: booted", since=before)
    assert "2 CPUs)" in log[log.index("kumo guest: booted"):].splitlines()[0], log[-500:]
    wait_prompt(c, "web", since=before)
    r = c.ok("vm", "console", "-g", "rg", "web", input="echo cpus=$(nproc)\n")
    assert "cpus=2" in r.stdout, r.stdout
    # vertical scaling of a running VM needs --restart
    r = c.kumo("vm", "resize", "-g", "rg", "web", "--size", "Tiny")
    assert r.returncode == CONFLICT, r
    assert "needs a restart" in r.stderr and "--restart" in r.stderr, r.stderr
    r = c.ok("vm", "resize", "-g", "rg", "web", "--size", "Tiny", "--restart", "-o", "json")
    vm = json.loads(r.stdout)
    assert vm["size"] == "Tiny" and vm["powerState"] == "Running", vm

    # the history and the cost report
    hist = table(c.ok("vm", "history", "-g", "rg", "web").stdout)
    states = [h["PowerState"] for h in hist]
    assert states[0] == "Creating" and "Stopped" in states and "Deallocated" in states
    assert hist[-1]["PowerState"] == "Running" and hist[-1]["Size"] == "Tiny"
    cost = c.json("cost", "--group-by", "vm", "-g", "rg")
    rows = {x["key"]: x for x in cost["rows"]}
    assert {"rg/virtualMachine/web", "rg/disk/web-osdisk", "rg/disk/web-data0",
            "rg/publicIPAddress/web-ip"} <= set(rows), rows
    assert [m["meter"] for m in rows["rg/virtualMachine/web"]["meters"]] == ["VM Tiny", "VM Tiny2"]
    assert abs(sum(x["cost"] for x in cost["rows"]) - cost["total"]) < 1e-12
    out = c.ok("cost", "--group-by", "vm").stdout
    assert re.search(r"rg\s+VM\s+web\s+VM Tiny: [0-9.]+ h, VM Tiny2: [0-9.]+ h\s+0\.\d{6}", out), out
    assert re.search(r"Total: 0\.\d{6} USD from ", out), out
    meter = table(c.ok("cost", "--group-by", "meter", "--from", "1h").stdout.split("\n\n")[0])
    assert {"VM Tiny", "VM Tiny2", "Public IP", "Disk Premium_SSD P1", "Disk Standard_SSD E1"} <= {
        x["Meter"] for x in meter}, meter
    assert table(c.ok("cost").stdout.split("\n\n")[0])[0]["ResourceGroup"] == "rg"
    # metrics: kumod samples every second here
    deadline = time.time() + 30
    while time.time() < deadline:
        m = c.json("metrics", "vm", "-g", "rg", "web", "--from", "2m", "--names", "cpuPercent",
                   "memoryMiB")
        # the newest sample is of the VM as it runs now (Tiny again)
        if m["metrics"]["memoryMiB"] and m["metrics"]["memoryMiB"][-1]["value"] == 128:
            break
        time.sleep(0.5)
    assert m["metrics"]["memoryMiB"][-1]["value"] == 128, m
    assert {s["value"] for s in m["metrics"]["memoryMiB"]} <= {128, 160}, m
    rows = table(c.ok("metrics", "vm", "-g", "rg", "web", "--from", "2m").stdout)
    assert rows and "cpuPercent" in rows[0] and rows[-1]["memoryUsedMiB"] != "-"
    assert "kumo_vm_cpu_percent" in c.ok("metrics", "prometheus").stdout

    # delete: the VM, its disks, NIC and public IP go; the VNet and NSG stay. stdin is
    # not a terminal: kumo cannot ask, so it needs --yes (the behaviour issue 21 asked for)
    r = c.kumo("vm", "delete", "-g", "rg", "web")
    assert r.returncode == USAGE and "add --yes" in r.stderr and "nothing was deleted" in r.stderr, r
    r = c.ok("vm", "delete", "-g", "rg", "web", "--yes")
    assert ("Deleted VM 'web' of resource group 'rg' with its OS disk 'web-osdisk', data disk "
            "'web-data0', NIC 'web-nic' and public IP 'web-ip'.") in r.stdout, r.stdout
    r = c.kumo("vm", "show", "-g", "rg", "web")
    assert r.returncode == NOTFOUND and "virtual machine 'web' not found" in r.stderr, r
    assert c.json("disk", "list", "-g", "rg") == []
    assert c.json("public-ip", "list", "-g", "rg") == []
    assert [v["name"] for v in c.json("vnet", "list", "-g", "rg")] == ["web-vnet"]
    assert c.ok("vm", "list", "-g", "rg").stdout.strip() == "(none)"
    assert not [p for p in vmm_pids(c.data) if b"/vms/" in pathlib.Path(f"/proc/{p}/cmdline").read_bytes()]


def test_console_on_a_terminal(cloud):
    pexpect = pytest.importorskip("pexpect")
    c = cloud
    c.ok("vm", "create", "-g", "rg", "-n", "t", "--size", "Tiny", "--no-nsg")
    wait_log(c, "t", "kumo guest: booted")
    child = pexpect.spawn(str(KUMO), ["vm", "console", "-g", "rg", "t"], env=c.env,
                          encoding="utf-8", timeout=30)
    try:
        child.expect("Connected to VM 't'")
        child.expect("Ctrl-] or Ctrl-A x detaches")
        child.send("echo $((40+2))-ok\r")
        child.expect("42-ok")
        # Ctrl-C goes to the guest (a raw terminal), not to kumo
        child.send("sleep 30\r")
        time.sleep(0.5)
        child.sendcontrol("c")
        child.send("echo after-$((1+1))\r")
        child.expect("after-2")
        child.sendcontrol("]")
        child.expect("detached from VM 't'")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == OK, (child.exitstatus, child.signalstatus)
    # Ctrl-A x detaches too; the VM keeps running
    child = pexpect.spawn(str(KUMO), ["vm", "console", "-g", "rg", "t"], env=c.env,
                          encoding="utf-8", timeout=30)
    try:
        child.expect("Connected")
        child.send("\x01x")
        child.expect("detached")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == OK
    assert c.json("vm", "show", "-g", "rg", "t")["powerState"] == "Running"


def test_networks_disks_outputs_and_api_errors(cloud):
    c = cloud
    # groups
    r = c.ok("group", "create", "-n", "net", "--tags", "team=blue", "env=test")
    assert kv(r.stdout)["Tags"] == "team=blue env=test"
    r = c.kumo("group", "create", "-n", "NET")
    assert r.returncode == CONFLICT and "already exists" in r.stderr, r
    assert {g["name"] for g in c.json("group", "list")} == {"rg", "net"}
    c.ok("group", "update", "net", "--tags", "team=red")
    assert c.json("group", "show", "-g", "net")["tags"] == {"team": "red"}
    # vnet, subnets
    v = c.json("vnet", "create", "-g", "net", "-n", "v1", "--address-prefixes", "10.1.0.0/16",
               "--subnet-name", "front")
    assert v["addressSpaces"] == ["10.1.0.0/16"] and v["subnets"][0]["addressPrefix"] == "10.1.0.0/24"
    r = c.kumo("vnet", "create", "-g", "net", "-n", "v2", "--address-prefixes", "10.1.0.1/16")
    assert r.returncode == ERROR and "10.1.0.0/16" in r.stderr and "--address-prefixes" in r.stderr, r.stderr
    c.ok("subnet", "create", "-g", "net", "--vnet-name", "v1", "-n", "back", "--address-prefix",
         "10.1.1.0/24")
    rows = table(c.ok("vnet", "subnet", "list", "-g", "net", "--vnet-name", "v1").stdout)
    assert [(x["Name"], x["AddressPrefix"], x["FreeIPs"]) for x in rows] == [
        ("back", "10.1.1.0/24", "251"), ("front", "10.1.0.0/24", "251")], rows
    r = c.kumo("subnet", "create", "-g", "net", "--vnet-name", "v1", "-n", "bad",
               "--address-prefix", "10.2.0.0/24")
    assert r.returncode == ERROR and "--address-prefix" in r.stderr, r.stderr
    # NSG with rules, attached to a subnet
    c.ok("nsg", "create", "-g", "net", "-n", "n1")
    c.ok("nsg", "rule", "create", "-g", "net", "--nsg-name", "n1", "-n", "AllowWeb",
         "--priority", 200, "--protocol", "Tcp", "--destination-port-ranges", 80, 443,
         "--source-address-prefixes", "Internet")
    rule = c.json("nsg", "rule", "update", "-g", "net", "--nsg-name", "n1", "-n", "AllowWeb",
                  "--access", "Deny", "--source-address-prefixes", "10.0.0.0/8", "192.168.0.0/16")
    assert rule["access"] == "Deny" and rule["destinationPortRange"] == "80,443"
    assert rule["sourceAddressPrefixes"] == ["10.0.0.0/8", "192.168.0.0/16"] and rule["priority"] == 200
    r = c.kumo("nsg", "rule", "create", "-g", "net", "--nsg-name", "n1", "-n", "Dup",
               "--priority", 200)
    assert r.returncode == CONFLICT and "priority" in r.stderr, r.stderr
    r = c.kumo("nsg", "rule", "create", "-g", "net", "--nsg-name", "n1", "-n", "Low",
               "--priority", 50)
    assert r.returncode == USAGE and "--priority: '50' is not a whole number from 100" in r.stderr
    r = c.kumo("nsg", "rule", "create", "-g", "net", "--nsg-name", "n1", "-n", "Side",
               "--priority", 300, "--direction", "Sideways")
    assert r.returncode == ERROR and "option --direction" in r.stderr, r.stderr
    r = c.kumo("nsg", "rule", "update", "-g", "net", "--nsg-name", "n1", "-n", "DenyAllInBound",
               "--access", "Allow")
    assert r.returncode == CONFLICT and "default rule" in r.stderr
    rows = table(c.ok("nsg", "rule", "list", "-g", "net", "--nsg-name", "n1", "--include-default").stdout)
    assert rows[0]["Name"] == "AllowWeb" and len(rows) == 7, rows
    c.ok("subnet", "update", "-g", "net", "--vnet-name", "v1", "-n", "front", "--nsg", "n1")
    r = c.kumo("nsg", "delete", "-g", "net", "-n", "n1", "--yes")
    assert r.returncode == CONFLICT and "v1/front" in r.stderr, r.stderr
    # public IP and NIC
    ip = c.json("public-ip", "create", "-g", "net", "-n", "ip1", "--ports", "22", "udp/53")
    assert sorted((p["protocol"], p["port"]) for p in ip["ports"]) == [("Tcp", 22), ("Udp", 53)]
    nic = c.json("nic", "create", "-g", "net", "-n", "nic1", "--vnet-name", "v1", "--subnet",
                 "front", "--private-ip", "10.1.0.10", "--public-ip", "ip1")
    assert nic["privateIp"] == "10.1.0.10" and nic["privateIpAllocation"] == "Static"
    r = c.kumo("public-ip", "delete", "-g", "net", "-n", "ip1", "--yes")
    assert r.returncode == CONFLICT and "nic1" in r.stderr
    assert c.json("nic", "update", "-g", "net", "-n", "nic1", "--public-ip", "")["publicIp"] is None
    # disks and snapshots
    d = c.json("disk", "create", "-g", "net", "-n", "data1", "--size-gb", 5, "--sku", "Premium_SSD")
    assert d["billedSize"] == {"name": "P2", "sizeGiB": 8} and d["iops"] == 120
    assert d["caching"] == "ReadOnly", d  # Azure's default for a Premium data disk
    r = c.kumo("disk", "update", "-g", "net", "-n", "data1", "--caching", "Fast")
    assert r.returncode == ERROR and "--caching" in r.stderr and "ReadOnly" in r.stderr, r.stderr
    r = c.kumo("disk", "create", "-g", "net", "-n", "data2", "--size-gb", 5, "--sku", "Gold")
    assert r.returncode == ERROR and "--sku" in r.stderr, r.stderr
    c.ok("snapshot", "create", "-g", "net", "-n", "s1", "--disk", "data1")
    d2 = c.json("disk", "create", "-g", "net", "-n", "copy", "--snapshot", "s1")
    assert d2["source"] == {"snapshot": "s1"} and d2["sizeGiB"] == 5
    assert c.json("disk", "update", "-g", "net", "-n", "copy", "--size-gb", 9)["sizeGiB"] == 9
    r = c.kumo("disk", "update", "-g", "net", "-n", "copy", "--size-gb", 6)
    assert r.returncode in (ERROR, CONFLICT) and "grow" in r.stderr, r.stderr
    rows = table(c.ok("disk", "list", "-g", "net").stdout)
    assert [(x["Name"], x["Tier"], x["BilledAs"]) for x in rows] == [
        ("copy", "Standard_SSD", "E3 (16 GiB)"), ("data1", "Premium_SSD", "P2 (8 GiB)")], rows
    tsv = c.ok("disk", "list", "-g", "net", "-o", "tsv").stdout.splitlines()
    assert [l.split("\t")[0] for l in tsv] == ["copy", "data1"]
    # a VM with an existing disk and NIC
    ud = c.home / "user-data"
    ud.write_text("#cloud-config\nhostname: vm2\n")
    c.ok("vm", "create", "-g", "net", "-n", "vm2", "--size", "Tiny", "--nics", "nic1",
         "--attach-data-disks", "data1", "--data-disk-caching", "None", "--os-disk-caching",
         "readonly", "--user-data", ud)
    vmj = c.json("vm", "show", "-g", "net", "vm2")
    assert vmj["hasUserData"] is True
    # the caching modes reach kumo-vmm: data1 bypasses the host page cache
    assert c.json("disk", "show", "-g", "net", "-n", "data1")["caching"] == "None"
    assert c.json("disk", "show", "-g", "net", "-n", "vm2-osdisk")["caching"] == "ReadOnly"
    # (kumo-vmm parses --disk in place: its cmdline shows each key and value apart)
    argv = open("/proc/%d/cmdline" % vmj["instanceView"]["pid"]).read().split("\0")
    assert argv[argv.index("kumo-os") + 1:][:2] == ["cache", "readonly"], argv
    assert argv[argv.index("kumo-lun0") + 1:][:2] == ["cache", "none"], argv
    r = c.kumo("disk", "update", "-g", "net", "-n", "data1", "--caching", "ReadWrite")
    assert r.returncode == CONFLICT and "caching" in r.stderr, r.stderr
    r = c.kumo("disk", "delete", "-g", "net", "-n", "data1", "--yes")
    assert r.returncode == CONFLICT and "vm2" in r.stderr, r.stderr
    vm = c.json("vm", "stop", "-g", "net", "vm2")
    assert vm["powerState"] == "Stopped"
    assert c.json("disk", "update", "-g", "net", "-n", "data1",
                  "--caching", "readwrite")["caching"] == "ReadWrite"
    vm = c.json("vm", "disk", "attach", "-g", "net", "--vm-name", "vm2", "--new", "--size-gb", 1,
                "--sku", "Standard_HDD")
    assert [(d["lun"], d["name"]) for d in vm["dataDisks"]] == [(0, "data1"), (1, "vm2-data1")], vm
    vm = c.json("vm", "disk", "detach", "-g", "net", "--vm-name", "vm2", "-n", "data1")
    assert [d["name"] for d in vm["dataDisks"]] == ["vm2-data1"]
    r = c.kumo("vm", "disk", "detach", "-g", "net", "--vm-name", "vm2", "-n", "data1")
    assert r.returncode == NOTFOUND and "is not a data disk" in r.stderr
    c.ok("vm", "delete", "-g", "net", "vm2", "--keep-disks", "--yes")
    assert {d["name"] for d in c.json("disk", "list", "-g", "net")} >= {"data1", "vm2-osdisk"}
    # sizes, locations, hosts, images, status
    rows = {x["Name"]: x for x in table(c.ok("size", "list", "--family", "B").stdout)}
    assert set(rows) == {"B1ls", "B1s", "B1ms", "B2s", "B2ms", "B4ms"}, rows
    assert rows["B1s"]["USD/hour"] == "0.0104" and rows["B1s"]["Memory"] == "1 GiB"
    assert kv(c.ok("size", "show", "B2s").stdout)["Memory"] == "4 GiB (4096 MiB)"
    assert all(s["vcpus"] >= 8 for s in c.json("size", "list", "--min-vcpus", 8))
    assert c.json("image", "show", "default")["builtin"] is True
    host = c.json("host", "list")[0]["name"]
    assert c.json("host", "update", "-n", host, "--cpu-ratio", 2)["cpuAllocationRatio"] == 2
    st = kv(c.ok("status").stdout)
    assert st["kumod"].startswith("ok, version") and "Location local" in st
    # a group delete takes everything in it: from a pipe it needs --yes, and
    # nothing goes without it (issue 21's behaviour change)
    r = c.kumo("group", "delete", "-n", "net")
    assert r.returncode == USAGE and "add --yes" in r.stderr, r.stderr
    assert c.json("group", "show", "-n", "net")["provisioningState"] == "Succeeded"
    # API errors: message, option, exit code
    r = c.kumo("vm", "create", "-g", "rg", "-n", "x", "--size", "B9s")
    assert r.returncode == ERROR, r
    assert "unknown size 'B9s'" in r.stderr and "'kumo size list'" in r.stderr and "option --size" in r.stderr
    assert "GET /v1" not in r.stderr
    r = c.kumo("vm", "create", "-g", "rg", "-n", "x", "--size", "Tiny", "--os-disk-tier", "Gold")
    assert r.returncode == ERROR and "option --os-disk-tier" in r.stderr, r.stderr
    r = c.kumo("vm", "create", "-g", "nosuch", "-n", "x", "--size", "Tiny")
    assert r.returncode == NOTFOUND and "resource group 'nosuch' not found" in r.stderr
    r = c.kumo("vm", "start", "-g", "rg", "ghost")
    assert r.returncode == NOTFOUND and "'ghost' not found" in r.stderr
    r = c.kumo("disk", "show", "-g", "net", "-n", "../disks")
    assert r.returncode == NOTFOUND, r


def http_get(port, tries=50):
    for _ in range(tries):
        try:
            return urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=3).read()
        except OSError:
            time.sleep(0.2)
    return None


def test_public_ip_whose_host_port_is_taken(cloud):
    c = cloud
    ip = c.json("public-ip", "create", "-g", "rg", "-n", "p1", "--ports", "22")
    hp = ip["ports"][0]["hostPort"]
    # another program on the host takes p1's host port before a NIC uses it
    busy = socket.socket()
    busy.bind(("127.0.0.1", hp))
    busy.listen(1)
    try:
        # kumod picks host ports that are free for new public IPs
        assert c.json("public-ip", "create", "-g", "rg", "-n", "p0")["ports"][0]["hostPort"] != hp
        c.ok("public-ip", "delete", "-g", "rg", "p0", "--yes")
        c.ok("vm", "create", "-g", "rg", "-n", "v1", "--size", "Tiny", "--public-ip-name", "p1")
        c.ok("vm", "create", "-g", "rg", "-n", "v2", "--size", "Tiny", "--public-ip")
        # only p1 fails, and says why and what to do; v2's network is whole
        ip = c.json("public-ip", "show", "-g", "rg", "p1")
        assert ip["provisioningState"] == "Failed", ip
        assert ip["error"]["code"] == "HostPortInUse", ip
        msg = ip["error"]["message"]
        assert msg.startswith(f"TCP port 22 is not forwarded: kumo-switch cannot listen on "
                              f"127.0.0.1:{hp}/tcp: Address already in use"), msg
        assert "Stop that program" in msg and "new public IP" in msg, msg
        assert ip["portErrors"] == [{"protocol": "Tcp", "port": 22, "hostPort": hp,
                                     "message": msg}], ip
        r = c.ok("public-ip", "show", "-g", "rg", "p1")
        assert f"127.0.0.1:{hp} (not forwarded: the host port is in use)" in r.stdout, r.stdout
        assert "State:" in r.stdout and "Failed: TCP port 22 is not forwarded" in r.stdout
        r = c.ok("vm", "show", "-g", "rg", "v1")
        assert f"tcp/22 -> 127.0.0.1:{hp} (not forwarded: host port in use)" in r.stdout
        v2 = c.json("public-ip", "show", "-g", "rg", "v2-ip")
        assert v2["provisioningState"] == "Succeeded" and "portErrors" not in v2, v2
        for vm in ("v1", "v2"):
            wait_log(c, vm, "kumo guest: booted")
            wait_prompt(c, vm)
            # port 22 is dropbear's: a web server takes it, as a test of the forward
            c.ok("vm", "console", "-g", "rg", vm, input=f"mkdir -p /w; echo {vm}-port22 > "
                 "/w/index.html; killall dropbear; while pidof dropbear; do sleep 0.1; done >/dev/null; "
                 "httpd -p 22 -h /w\n")
        v2_port = [p["hostPort"] for p in v2["ports"] if p["port"] == 22][0]
        assert http_get(v2_port) == b"v2-port22\n"
        assert "public IP pip-" in c.log() and f"(host port {hp})" in c.log()
    finally:
        busy.close()
    # once the port is free, the next network change forwards it
    c.ok("nsg", "rule", "create", "-g", "rg", "--nsg-name", "v1-nsg", "-n", "AllowWeb",
         "--priority", 1010, "--protocol", "Tcp", "--destination-port-ranges", 80)
    ip = c.json("public-ip", "show", "-g", "rg", "p1")
    assert ip["provisioningState"] == "Succeeded" and "error" not in ip, ip
    assert http_get(hp) == b"v1-port22\n"


def test_stop_is_graceful_first(cloud_factory):
    c = cloud_factory(args=["--shutdown-timeout", "8"])
    c.ok("vm", "create", "-g", "rg", "-n", "g", "--size", "Tiny", "--no-nsg")
    wait_log(c, "g", "kumo guest: booted")
    wait_prompt(c, "g")
    # data written just before the stop, not synced: the guest's own shutdown syncs it
    c.ok("vm", "console", "-g", "rg", "g", input="echo graceful-$((3*4)) > /root/kept\n")
    before = len(c.ok("vm", "log", "-g", "rg", "g").stdout)
    r = c.ok("vm", "stop", "-g", "rg", "g")
    assert "VM 'g' is Stopped" in r.stdout, r.stdout
    msgs = [h["Message"] for h in table(c.ok("vm", "history", "-g", "rg", "g").stdout)]
    i = msgs.index("stop requested")
    assert msgs[i + 1:] == ["asked the guest to shut down", "the guest shut down",
                            "stopped (still allocated)"], msgs
    assert "kumo guest: powering off" in c.ok("vm", "log", "-g", "rg", "g").stdout[before:]
    c.ok("vm", "start", "-g", "rg", "g")
    wait_log(c, "g", "kumo guest: booted", since=before)
    wait_prompt(c, "g", since=before)
    r = c.ok("vm", "console", "-g", "rg", "g", input="cat /root/kept\n")
    assert re.search(r"^graceful-12\r?$", r.stdout, re.M), r.stdout

    # a guest that does not listen: powered off after --shutdown-timeout
    before = len(c.ok("vm", "log", "-g", "rg", "g").stdout)
    c.ok("vm", "console", "-g", "rg", "g", input="for p in /proc/[0-9]*; do ls -l $p/fd "
         "2>/dev/null | grep -q /dev/hvc && kill -9 ${p#/proc/}; done; echo deaf-$((6*7))\n")
    # the console returns once its input is sent: wait until the guest ran it
    wait_log(c, "g", "deaf-42", since=before)
    t0 = time.time()
    c.ok("vm", "stop", "-g", "rg", "g")
    assert time.time() - t0 >= 8
    msgs = [h["Message"] for h in table(c.ok("vm", "history", "-g", "rg", "g").stdout)]
    assert msgs[-3:] == ["asked the guest to shut down",
                         "the guest did not shut down in time: powering it off",
                         "stopped (still allocated)"], msgs
    # --skip-shutdown: at once, without asking
    before = len(c.ok("vm", "log", "-g", "rg", "g").stdout)
    c.ok("vm", "start", "-g", "rg", "g")
    wait_log(c, "g", "kumo guest: booted", since=before)
    c.ok("vm", "stop", "-g", "rg", "g", "--skip-shutdown")
    msgs = [h["Message"] for h in table(c.ok("vm", "history", "-g", "rg", "g").stdout)]
    assert msgs[-2:] == ["stop requested (skipping the guest's shutdown)",
                         "stopped (still allocated)"], msgs
    # the query is checked
    r = subprocess.run(["curl", "-s", "-X", "POST", "--unix-socket", str(c.data / "kumod.sock"),
                        "-H", f"Authorization: Bearer {c.token}",
                        "http://kumo/v1/resourceGroups/rg/virtualMachines/g/stop?skipShutdown=yes"],
                       capture_output=True, text=True, timeout=30)
    assert "query.skipShutdown: 'yes' is not true or false" in r.stdout, r.stdout


def test_tokens_and_tcp(cloud):
    c = cloud
    url = f"http://127.0.0.1:{c.port}"
    # wrong token: exit 7, the message says where the token comes from
    r = c.kumo("vm", "list", "-g", "rg", "--token", "0" * 64)
    assert r.returncode == AUTH, r
    assert "token is wrong" in r.stderr and "--token or KUMO_TOKEN" in r.stderr, r.stderr
    r = c.kumo("group", "list", env={**c.env, "KUMO_TOKEN": "nope"})
    assert r.returncode == AUTH
    # TCP with the token
    env = clean_env(c.home)
    env.update(KUMO_URL=url, KUMO_TOKEN=c.token)
    assert [g["name"] for g in json.loads(c.kumo("group", "list", "-o", "json", env=env).stdout)] == ["rg"]
    r = c.kumo("group", "list", "--url", url, "--token", c.token, env=clean_env(c.home))
    assert r.returncode == OK and "rg" in r.stdout
    # TCP without a token (and no token file in the default data directory)
    r = c.kumo("group", "list", "--url", url, env=clean_env(c.home))
    assert r.returncode == AUTH and "no API token" in r.stderr and "KUMO_TOKEN" in r.stderr, r.stderr
    # health needs no token
    r = c.kumo("status", "--url", url, "-o", "json", env=clean_env(c.home))
    assert r.returncode == AUTH and json.loads(r.stdout)["health"]["status"] == "ok", r


SLOW_VMM = """#!/bin/sh
# kumo-vmm that takes 4 s to start (but answers --help at once)
case "$*" in *--console*) sleep 4 ;; esac
exec {vmm} "$@"
"""


def test_no_wait_timeout_progress_capacity(cloud_factory, vmm, tmp_path):
    slow = tmp_path / "slow-vmm"
    slow.write_text(SLOW_VMM.format(vmm=vmm))
    slow.chmod(0o755)
    c = cloud_factory(["--vmm", str(slow)])
    # --no-wait: back at once with the VM as kumod accepted it
    t0 = time.time()
    vm = c.json("vm", "create", "-g", "rg", "-n", "a", "--size", "Tiny", "--no-wait")
    assert time.time() - t0 < 3
    assert vm["provisioningState"] == "Creating", vm
    # an operation on it while it runs: 409
    r = c.kumo("vm", "stop", "-g", "rg", "a")
    assert r.returncode == CONFLICT and "OperationInProgress" in r.stderr, r.stderr
    # --timeout: exit 5, the operation goes on
    r = c.kumo("vm", "create", "-g", "rg", "-n", "b", "--size", "Tiny", "--timeout", "1")
    assert r.returncode == TIMEOUT, r
    assert "timed out after 1 s waiting for VM 'b'" in r.stderr and "kumo vm show -g rg b" in r.stderr
    deadline = time.time() + 60
    while c.json("vm", "show", "-g", "rg", "b")["powerState"] != "Running":
        assert time.time() < deadline
        time.sleep(0.2)
    # on a terminal, a progress line while waiting
    pexpect = pytest.importorskip("pexpect")
    child = pexpect.spawn(str(KUMO), ["vm", "restart", "-g", "rg", "b"], env=c.env,
                          encoding="utf-8", timeout=60)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == OK, child.before
    assert re.search(r"VM 'b': (Stopping|Starting) \(Updating\) \.\.\. \d+\.\ds", child.before), \
        child.before
    assert "is Running" in child.before
    # a restart right after the start: the guest was still booting, so the
    # shutdown request is repeated until its init listens (never the timeout)
    msgs = [h["Message"] for h in table(c.ok("vm", "history", "-g", "rg", "b").stdout)]
    assert not any("did not shut down in time" in m for m in msgs), msgs
    # capacity: a size bigger than what is left
    host = c.json("host", "list")[0]["name"]
    c.ok("host", "update", "-n", host, "--cpus", 1, "--cpu-ratio", 2)
    r = c.kumo("vm", "create", "-g", "rg", "-n", "big", "--size", "Tiny2")
    assert r.returncode == CONFLICT and "not enough capacity" in r.stderr, r.stderr


def test_failed_operation(cloud_factory, vmm, tmp_path):
    """A VM whose kumo-vmm dies at start ends Failed: exit 1 with the reason."""
    bad = tmp_path / "bad-vmm"
    bad.write_text("#!/bin/sh\ncase \"$*\" in *--console*) echo boom >&2; exit 3 ;; esac\n"
                   f"exec {vmm} \"$@\"\n")
    bad.chmod(0o755)
    c = cloud_factory(["--vmm", str(bad)])
    r = c.kumo("vm", "create", "-g", "rg", "-n", "f", "--size", "Tiny")
    assert r.returncode == ERROR, r
    assert "VM 'f' failed:" in r.stderr, r.stderr
    assert "Provisioning:    Failed" in r.stdout, r.stdout


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs 2 host cores")
def test_dedicated_vm_and_cpu_credits_in_vm_show(cloud_factory):
    c = cloud_factory(["--host-cpus", "2"])
    # the initial bank, as accepted: a create that waits returns once the
    # guest reported its provisioning, and the boot until then is already
    # charged (29.99 of 72)
    vm = c.json("vm", "create", "-g", "rg", "-n", "b", "--size", "B1ls", "--dedicated",
                "--no-wait")
    assert vm["cpuCredits"]["credits"] == 30 and vm["cpuCredits"]["baselinePercent"] == 5, vm
    view = kv(c.ok("vm", "show", "-g", "rg", "b").stdout)
    assert view["Host CPUs"] == "dedicated: host cores 1, shared with no other VM", view
    assert re.match(r"(30\.00|[12]\d\.\d\d) of 72 banked \(3 an hour below a 5 % baseline\)",
                    view["CPU credits"]), view
    vm = c.json("vm", "show", "-g", "rg", "b")
    assert vm["dedicated"] is True and vm["hostCpus"] == "1", vm
    # a second dedicated VM does not fit: core 0 stays shared
    r = c.kumo("vm", "create", "-g", "rg", "-n", "b2", "--size", "Tiny", "--dedicated")
    assert r.returncode == CONFLICT and "dedicated" in r.stderr, r.stderr
    # a shared VM has neither line
    view = kv(c.ok("vm", "create", "-g", "rg", "-n", "s", "--size", "Tiny").stdout)
    assert "Host CPUs" not in view and "CPU credits" not in view, view


# ---------------------------------------------------------------------------
# az's names and habits (issue 21): sizes, aliases, --query, tsv, logs,
# idempotent groups, IP lists, completion, the console after a restart


def test_completion_scripts(tmp_path):
    env = clean_env(tmp_path)
    r = run_kumo(["completion", "bash"], env)
    assert r.returncode == OK and "complete -F _kumo kumo" in r.stdout, r
    script = tmp_path / "kumo.bash"
    script.write_text(r.stdout)

    def complete(*words):
        line = " ".join(words)
        out = subprocess.run(
            ["bash", "-c", f"source {script}; COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; "
                           "_kumo; echo \"${COMPREPLY[@]}\""],
            capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        return out.stdout.split()

    assert complete("kumo", "vm", "cr") == ["create"]
    assert "list-ip-addresses" in complete("kumo", "vm", "")
    assert complete("kumo", "vm", "create", "--custom") == ["--custom-data"]
    assert complete("kumo", "vm", "log", "-g", "rg", "--li") == ["--lines"]
    assert complete("kumo", "vm", "list", "-o", "j") == ["json"]
    assert "--query" in complete("kumo", "disk", "list", "--")
    r = run_kumo(["completion", "zsh"], env)
    assert r.returncode == OK and "bashcompinit" in r.stdout
    r = run_kumo(["completion", "fish"], env)
    assert r.returncode == USAGE and "bash" in r.stderr


@pytest.mark.parametrize("args,text", [
    (["vm", "list", "--query", "[?"], "--query: the expression ends too early at column 3"),
    (["vm", "list", "--query", "foo(@)"], "--query: unknown function foo()"),
    (["vm", "log", "-g", "rg", "a", "--lines", "0"], "--lines: '0' is not a whole number"),
])
def test_query_and_lines_usage_errors(tmp_path, args, text):
    r = run_kumo(args, clean_env(tmp_path))
    assert r.returncode == USAGE and text in r.stderr, (r.returncode, r.stderr)


def test_az_names_query_tsv_and_ip_lists(cloud):
    c = cloud
    # Azure's size names, and a nearest-name suggestion on a typo
    r = c.kumo("vm", "create", "-g", "rg", "-n", "x", "--size", "B1sm")
    assert r.returncode == ERROR and "unknown size 'B1sm'" in r.stderr, r.stderr
    assert "did you mean 'B1ms'" in r.stderr, r.stderr
    assert c.json("vm", "list", "-g", "rg") == []  # nothing made
    ud = c.home / "cloud-init"
    ud.write_text("#cloud-config\n")
    # az's flag names: --vnet-name, --private-ip-address, --custom-data, --storage-sku
    vm = c.json("vm", "create", "-g", "rg", "-n", "az1", "--size", "Standard_B1s",
                "--vnet-name", "azv", "--private-ip-address", "10.0.0.9", "--custom-data", ud,
                "--storage-sku", "Standard_HDD", "--public-ip")
    assert vm["size"] == "B1s" and vm["hasUserData"] is True, vm
    assert vm["networkInterfaces"][0]["privateIp"] == "10.0.0.9"
    assert vm["networkInterfaces"][0]["vnet"] == "azv" and vm["osDisk"]["tier"] == "Standard_HDD"
    c.ok("subnet", "create", "-g", "rg", "--vnet-name", "azv", "-n", "two",
         "--address-prefixes", "10.0.1.0/24")
    assert [s["name"] for s in c.json("subnet", "list", "-g", "rg", "--vnet-name", "azv")] == [
        "default", "two"]
    c.ok("vm", "resize", "-g", "rg", "az1", "--size", "Standard_B1ms", "--restart")
    assert c.json("vm", "show", "-g", "rg", "az1")["size"] == "B1ms"

    # --query: JMESPath on the JSON, printed as json, table or tsv
    q = "[?powerState=='Running'].name"
    assert c.json("vm", "list", "--query", q) == ["az1"]
    assert c.ok("vm", "list", "--query", q, "-o", "tsv").stdout == "az1\n"
    assert table(c.ok("vm", "list", "--query", q).stdout) == [{"Result": "az1"}]
    rows = table(c.ok("vm", "list", "-g", "rg", "--query",
                      "[].{name: name, ip: networkInterfaces[0].privateIp}").stdout)
    assert rows == [{"Name": "az1", "Ip": "10.0.0.9"}], rows
    assert c.json("vm", "show", "-g", "rg", "az1", "--query", "length(dataDisks)") == 0
    r = c.kumo("vm", "show", "-g", "rg", "az1", "--query", "length(vcpus)")
    assert r.returncode == USAGE and "length(): expected a string, array or object" in r.stderr

    # -o tsv: raw values, the same columns with or without -g (ResourceGroup last)
    with_g = c.ok("vm", "list", "-g", "rg", "-o", "tsv").stdout.splitlines()
    without = c.ok("vm", "list", "-o", "tsv").stdout.splitlines()
    assert with_g == without and len(with_g) == 1, (with_g, without)
    cells = with_g[0].split("\t")
    assert cells[:4] == ["az1", "B1ms", "1", "2048"] and cells[-1] == "rg", cells
    sizes = {l.split("\t")[0]: l.split("\t") for l in c.ok("size", "list", "-o", "tsv").stdout.splitlines()}
    assert sizes["B1s"][3] == "1024" and sizes["B1s"][6] == "0.0104", sizes["B1s"]
    assert table(c.ok("size", "list").stdout)[0]["Memory"].endswith("GiB")  # tables keep units

    # idempotent group create (a name that differs in case is still a conflict)
    g = c.json("group", "create", "-n", "rg", "--tags", "team=blue")
    assert g["name"] == "rg" and g["tags"] == {"team": "blue"}, g
    assert c.json("group", "create", "-n", "rg", "-l", "local")["tags"] == {"team": "blue"}

    # az vm list-ip-addresses and vm show -d, from the VMs' JSON
    ips = c.json("vm", "list-ip-addresses", "-g", "rg")
    net = ips[0]["virtualMachine"]["network"]
    assert ips[0]["virtualMachine"]["name"] == "az1" and net["privateIpAddresses"] == ["10.0.0.9"]
    assert net["publicIpAddresses"][0]["name"] == "az1-ip"
    hp = {p["port"]: p["hostPort"] for p in net["publicIpAddresses"][0]["ports"]}
    rows = table(c.ok("vm", "list-ip-addresses").stdout)
    assert rows[0]["VirtualMachine"] == "az1" and rows[0]["PrivateIPAddresses"] == "10.0.0.9"
    assert f"tcp/22->{hp[22]}" in rows[0]["PublicPorts"], rows
    r = c.kumo("vm", "list-ip-addresses", "-g", "rg", "-n", "ghost")
    assert r.returncode == NOTFOUND and "'ghost' not found" in r.stderr
    d = c.json("vm", "show", "-g", "rg", "az1", "-d")
    assert d["privateIps"] == "10.0.0.9" and d["publicIps"] == "127.0.0.1", d
    assert "privateIps" not in c.json("vm", "show", "-g", "rg", "az1")

    # vm log --lines N (and --tail N, the same): the last N lines. The log
    # keeps the boot before the resize's restart: wait for the second boot,
    # and compare on a log that did not grow meanwhile (a slow guest may
    # still print)
    deadline = time.time() + 120
    while c.ok("vm", "log", "-g", "rg", "az1").stdout.count("kumo guest: booted") < 2:
        assert time.time() < deadline, c.ok("vm", "log", "-g", "rg", "az1").stdout[-3000:]
        time.sleep(0.2)
    for _ in range(50):
        whole = c.ok("vm", "log", "-g", "rg", "az1").stdout
        last3 = c.ok("vm", "log", "-g", "rg", "az1", "--lines", "3").stdout
        tail3 = c.ok("vm", "log", "-g", "rg", "az1", "--tail", "3").stdout
        if c.ok("vm", "log", "-g", "rg", "az1").stdout == whole:
            break
        time.sleep(0.5)
    assert last3.splitlines() == whole.splitlines()[-3:] and len(last3.splitlines()) == 3
    assert tail3 == last3

    # snapshot create --source (az's name for --disk)
    c.ok("disk", "create", "-g", "rg", "-n", "d1", "--size-gb", 1)
    assert c.json("snapshot", "create", "-g", "rg", "-n", "s1", "--source", "d1")["sourceDisk"] == "d1"


def test_console_from_a_pipe_right_after_restart_and_start(cloud):
    c = cloud
    c.ok("vm", "create", "-g", "rg", "-n", "p", "--size", "Tiny", "--no-nsg")
    wait_log(c, "p", "kumo guest: booted")
    # the command is sent once the rebooted guest shows its prompt, not lost
    # while Linux boots
    c.ok("vm", "restart", "-g", "rg", "p")
    r = c.ok("vm", "console", "-g", "rg", "p", input="echo after-restart-$((6*7))\n",
             timeout=300)
    assert "after-restart-42" in r.stdout, r.stdout
    c.ok("vm", "stop", "-g", "rg", "p")
    c.ok("vm", "start", "-g", "rg", "p")
    r = c.ok("vm", "console", "-g", "rg", "p", input="echo after-start-$((7*6))\n", timeout=300)
    assert "after-start-42" in r.stdout, r.stdout
    # a VM that runs already, at its prompt: sent at once
    t0 = time.time()
    r = c.ok("vm", "console", "-g", "rg", "p", input="echo again-$((2*21))\n")
    assert "again-42" in r.stdout
    print(f"\n[measure] kumo vm console on an idle guest: {time.time() - t0:.2f} s")
