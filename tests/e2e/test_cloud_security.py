"""kumod's hardening with real VMs (docs/security.md): every kumo-vmm it
starts is sandboxed with a uid of its own and cannot open the API token; a
VMM that makes a forbidden system call is recorded Failed with the reason;
image imports come only from the import directory; thousands of idle
connections lock no one out and the token is checked before a body is read;
deletes interrupted by kill -9 at ten points leave nothing behind."""
import os
import socket
import subprocess
import time

import pytest

from test_cloud import TINY, VM, kumod_factory, vmm_pids  # noqa: F401
from test_sandbox import control, status_fields as proc_status

G = "/v1/resourceGroups/rg"


@pytest.fixture
def cloud(kumod_factory):
    k = kumod_factory()
    k.ok("POST", "/v1/sizes", TINY)
    k.ok("POST", "/v1/resourceGroups", {"name": "rg"})
    return k


def test_every_vmm_is_sandboxed_with_its_own_uid(cloud):
    k = cloud
    uids = set()
    for name in ("a", "b"):
        vm = k.ok("POST", f"{VM}?wait=60", {"name": name, "size": "Tiny", "nsg": None})
        pid = vm["instanceView"]["pid"]
        st = proc_status(pid)
        assert st["Seccomp"] == ["2"] and st["NoNewPrivs"] == ["1"], st
        if os.geteuid() == 0:
            assert st["Uid"][0] != "0" and len(set(st["Uid"])) == 1, st["Uid"]
            uids.add(st["Uid"][0])
        assert st["CapEff"] == ["0000000000000000"], st["CapEff"]
        # it cannot open the API token, the database or another VM's disk
        ctl = k.data / "vms" / str(vm_row_id(k, name)) / "control.sock"
        for f in (k.data / "token", k.data / "kumod.db", "/etc/shadow"):
            r = control(ctl, {"op": "sandbox_test", "test": f"open:{f}"})
            assert r["ok"] and r["result"].startswith("refused"), (f, r)
    if os.geteuid() == 0:
        assert len(uids) == 2, uids  # one uid per VM


def vm_row_id(k, name):
    """The VM's directory under DATA/vms (its row id)."""
    sock = k.ok("GET", f"{VM}/{name}")["instanceView"]["consoleSocket"]
    return int(sock.rstrip("/").split("/")[-2])


def test_a_forbidden_system_call_fails_the_vm_with_the_reason(cloud):
    k = cloud
    k.ok("POST", f"{VM}?wait=60", {"name": "f", "size": "Tiny", "nsg": None})
    ctl = k.data / "vms" / str(vm_row_id(k, "f")) / "control.sock"
    try:
        r = control(ctl, {"op": "sandbox_test", "test": "forbidden"})
    except OSError:
        r = None
    assert r is None, r  # no answer: the VMM died
    r = k.wait_vm("rg", "f", lambda r: r.json["powerState"] == "Stopped")
    assert r.json["provisioningState"] == "Failed", r
    assert r.json["instanceView"]["lastExit"]["signal"] == 31, r  # SIGSYS
    assert r.json["instanceView"]["lastExit"]["reason"] == "stopped by its sandbox", r
    assert "system call" in r.json["error"]["message"], r


def test_image_import_is_confined_to_the_import_directory(cloud, tmp_path):
    k = cloud
    imp = k.data / "import"
    os.mkfifo(imp / "fifo")
    (imp / "link").symlink_to("/etc/hostname")
    (imp / "sub").mkdir()
    (imp / "sub" / "escape").symlink_to(imp.parent / "token")
    outside = tmp_path / "outside.raw"
    outside.write_bytes(b"\0" * 4096)
    before = sorted(os.listdir(k.data / "images"))
    cases = [
        ("/etc/shadow", "outside the import directory"),
        (str(outside), "outside the import directory"),
        ("/dev/zero", "outside the import directory"),
        (str(imp / "fifo"), "not a regular file"),
        (str(imp / "link"), "symbolic link"),
        (str(imp / "sub" / "escape"), "symbolic link"),
        (str(imp / ".." / "token"), "'..'"),
        (str(imp / "missing.raw"), "cannot open"),
    ]
    for src, words in cases:
        r = k.post("/v1/images", {"name": "x", "source": src, "format": "raw"})
        assert r.status == 400 and r.json["error"]["target"] == "source", (src, r)
        assert words in r.message, (src, r.message)
    # a kernel from outside is refused the same way
    (imp / "disk.raw").write_bytes(b"\0" * 65536)
    r = k.post("/v1/images", {"name": "x", "source": str(imp / "disk.raw"), "format": "raw",
                              "kernel": "/etc/passwd"})
    assert r.status == 400 and "outside the import directory" in r.message, r
    # nothing was created
    assert k.get("/v1/images/x").status == 404
    assert sorted(os.listdir(k.data / "images")) == before
    # a qcow2 naming a host file as its backing: imported never
    q = imp / "backed.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", "/etc/hostname",
                    str(q), "1M"], check=True)
    r = k.post("/v1/images?wait=60", {"name": "backed", "source": str(q), "format": "qcow2"})
    assert r.json["provisioningState"] == "Failed" and "backing" in r.json["error"], r
    # a file inside, regular and small, is imported
    r = k.post("/v1/images?wait=60", {"name": "ok", "source": str(imp / "disk.raw"),
                                      "format": "raw"})
    assert r.json["provisioningState"] == "Succeeded", r


def test_image_import_size_is_capped(kumod_factory):
    k = kumod_factory(args=["--import-max-gib", "1"])
    imp = k.data / "import"
    big = imp / "big.raw"
    with open(big, "wb") as f:
        f.truncate(2 << 30)  # sparse: 2 GiB of nothing
    r = k.post("/v1/images", {"name": "big", "source": str(big), "format": "raw"})
    assert r.status == 400 and "at most 1 GiB" in r.message, r
    # a small qcow2 whose virtual size is above the cap
    q = imp / "huge.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(q), "4G"], check=True)
    r = k.post("/v1/images?wait=60", {"name": "huge", "source": str(q), "format": "qcow2"})
    assert r.json["provisioningState"] == "Failed" and "virtual size" in r.json["error"], r


def test_idle_connections_lock_no_one_out(cloud):
    k = cloud
    held = []
    try:
        for _ in range(2000):
            s = socket.socket()
            s.connect(("127.0.0.1", k.port))
            held.append(s)
        # an authenticated request answers while 2000 connections sit idle
        r = k.request("GET", "/v1/resourceGroups", timeout=15)
        assert r.status == 200, r
        # kumod holds them without a thread each
        threads = len(os.listdir(f"/proc/{k.proc.pid}/task"))
        assert threads < 100, threads
        # the token is checked before the body is read: a huge upload
        # without it is refused at once
        s = socket.create_connection(("127.0.0.1", k.port), timeout=15)
        s.sendall(b"POST /v1/resourceGroups HTTP/1.1\r\nHost: k\r\n"
                  b"Content-Length: 1000000000\r\n\r\n")
        assert s.recv(64).startswith(b"HTTP/1.1 401"), "no immediate 401"
        s.close()
        # connections that never send a request are closed after a short while
        deadline = time.time() + 60
        s0 = held[0]
        s0.settimeout(1)
        closed = False
        while time.time() < deadline and not closed:
            try:
                closed = s0.recv(1) == b""
            except socket.timeout:
                pass
            except OSError:
                closed = True
        assert closed, "an idle, unauthenticated connection stayed open"
    finally:
        for s in held:
            s.close()


CRASH_POINTS = ["vm-delete:begin", "vm-delete:vmm-stopped", "vm-delete:committed",
                "vm-delete:disk-unlinked", "vm-delete:files-removed", "disk-delete:committed",
                "snapshot-delete:committed", "image-delete:committed", "disk-create:file-made"]


def leftovers(k):
    """Files, directories and kumo-vmm processes of the data directory that
    no resource owns."""
    vms = {v["id"] for g in k.ok("GET", "/v1/resourceGroups")["value"]
           for v in k.ok("GET", f"/v1/resourceGroups/{g['name']}/virtualMachines")["value"]}
    n_vms = len(vms)
    disks = len(k.ok("GET", f"{G}/disks")["value"])
    snaps = len(k.ok("GET", f"{G}/snapshots")["value"])
    # a built-in image that is not built (debian-13) has a row and no files
    images = len([i for i in k.ok("GET", "/v1/images")["value"]
                  if i["provisioningState"] != "Unavailable"])
    found = {"vms": len(os.listdir(k.data / "vms")), "disks": len(os.listdir(k.data / "disks")),
             "snapshots": len(os.listdir(k.data / "snapshots")),
             "images": len(os.listdir(k.data / "images"))}
    want = {"vms": n_vms, "disks": disks, "snapshots": snaps, "images": images}
    procs = len(vmm_pids(k.data))
    return found, want, procs, n_vms


@pytest.mark.parametrize("point", CRASH_POINTS + ["random"])
def test_kill_9_during_deletes_leaves_nothing_behind(kumod_factory, point, tmp_path):
    k = kumod_factory()
    k.ok("POST", "/v1/sizes", TINY)
    k.ok("POST", "/v1/resourceGroups", {"name": "rg"})
    imp = k.data / "import"
    (imp / "disk.raw").write_bytes(b"\0" * 65536)
    k.ok("POST", "/v1/images?wait=60", {"name": "mine", "source": str(imp / "disk.raw"),
                                        "format": "raw"})
    k.ok("POST", f"{VM}?wait=60", {"name": "v", "size": "Tiny", "nsg": None,
                                   "dataDisks": [{"sizeGiB": 1, "lun": 0}, {"sizeGiB": 1, "lun": 1}]})
    k.ok("POST", f"{G}/disks", {"name": "loose", "sizeGiB": 1})
    k.ok("POST", f"{G}/snapshots?wait=60", {"name": "s", "disk": "loose"})
    k.stop()
    # again, to die at the crash point
    if point != "random":
        os.environ["KUMO_CRASH_AT"] = point
    try:
        k.start()
    finally:
        os.environ.pop("KUMO_CRASH_AT", None)
    what = point.split(":")[0]
    try:
        if what == "disk-create":
            k.request("POST", f"{G}/disks", {"name": "new", "sizeGiB": 1}, timeout=30)
        elif what == "disk-delete":
            k.request("DELETE", f"{G}/disks/loose", timeout=30)
        elif what == "snapshot-delete":
            k.request("DELETE", f"{G}/snapshots/s", timeout=30)
        elif what == "image-delete":
            k.request("DELETE", "/v1/images/mine", timeout=30)
        else:
            k.request("DELETE", f"{VM}/v", timeout=30)
            if point == "random":  # somewhere in the delete, as a real kill -9 would land
                time.sleep(0.05 + (os.getpid() % 7) * 0.03)
                k.kill9()
    except OSError:
        pass  # kumod died while answering
    if point != "random":
        assert k.proc.wait(60) == -9, f"kumod did not stop at {point}:\n{k.log_text()}"
    else:
        k.proc.wait(60)
    # the next kumod finishes what was started and sweeps what no row owns
    k.start()
    deadline = time.time() + 120
    while True:
        found, want, procs, n_vms = leftovers(k)
        vm_gone = k.get(f"{VM}/v").status == 404
        settled = vm_gone or what not in ("vm-delete", "random")
        if found == want and procs == n_vms and settled:
            break
        assert time.time() < deadline, (point, found, want, procs, k.log_text())
        time.sleep(0.5)


def test_no_switch_is_an_error_unless_asked_for(kumod_factory, tmp_path):
    """kumod without kumo-switch does not quietly give VMs kumo-vmm's user-mode
    NAT: a --switch path that is not there stops the start with a message
    that says what to do; --switch none is how an operator asks for the NAT."""
    from test_cloud import KUMOD
    r = subprocess.run([str(KUMOD), "--data-dir", str(tmp_path / "data"), "--switch",
                        str(tmp_path / "no-such-switch")], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode != 0, r
    assert "no-such-switch is not an executable file" in r.stderr, r.stderr
    assert "--switch none" in r.stderr, r.stderr
    k = kumod_factory(["--switch", "none"])
    assert k.ok("GET", "/v1/health")
    assert "--switch none" in k.log_text()
