"""The CLI a cloud user trusts (issue 21), end to end with real guests (the
default guest, 1 vCPU and 128 MiB each), driven through build/kumo as a user
drives it (the Cloud helper of test_cli_kumo.py):

- deletes that lose nothing unasked: a disk made on its own and attached
  later survives `vm delete --yes` with its data (read back by another VM);
  without a terminal a delete needs --yes (exit 2, nothing deleted);
- `group delete --yes` empties and deletes a group in dependency order and
  leaves no resource, file or process behind; `kumo resource list`;
- networks as az makes them: a second VM reuses the group's VNet, and makes
  no NSG of its own on a subnet that has one;
- run-command: output and exit status of a command in the guest, a timeout;
  open-port: a port an NSG drops is let in and forwarded, live, with no
  restart; `vm show` marks blocked ports; `public-ip update --ports`;
- scale sets refuse a scale that cannot fit, up front;
- tag merge and --tag filters; idempotent group create;
- kumod with a switch slow to answer: no false error, no lost configuration.

Environment: as test_cli_kumo.py (KUMO_BUILD, KUMO_GUEST_DIR).
"""
import json
import pathlib
import socket
import time
import urllib.request

import pytest

from test_cli_kumo import (CONFLICT, NOTFOUND, OK, TIMEOUT, USAGE, cloud,  # noqa: F401 - fixtures
                           cloud_factory, vmm_pids, wait_log)


def run_cmd(c, vm, script, *extra, group="rg", timeout=400):
    return c.kumo("vm", "run-command", "-g", group, "-n", vm, "--script", script, *extra,
                  timeout=timeout)


def vm_procs(c):
    """kumo-vmm processes of this kumod's VMs."""
    return [p for p in vmm_pids(c.data)
            if b"/vms/" in pathlib.Path(f"/proc/{p}/cmdline").read_bytes()]


def http_get(port, timeout=3):
    try:
        return urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=timeout).read().decode()
    except OSError as e:
        return f"error: {e}"


def wait_for(what, fn, timeout=120, step=0.5):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(step)
    pytest.fail(f"timed out waiting for {what}; last: {last!r}")


def test_vm_delete_keeps_a_disk_made_on_its_own(cloud):
    c = cloud
    c.ok("vm", "create", "-g", "rg", "-n", "a", "--size", "Tiny", "--data-disk-sizes-gb", 1)
    c.ok("disk", "create", "-g", "rg", "-n", "keep", "--size-gb", 1)
    c.ok("vm", "stop", "-g", "rg", "a")
    c.ok("vm", "disk", "attach", "-g", "rg", "--vm-name", "a", "-n", "keep")
    vm = c.json("vm", "start", "-g", "rg", "a")
    assert [(d["name"], d["deleteOption"]) for d in vm["dataDisks"]] == [
        ("a-data0", "Delete"), ("keep", "Detach")], vm["dataDisks"]
    assert vm["osDisk"]["deleteOption"] == "Delete"
    # something worth keeping on the disk (LUN 1: the guest's third disk)
    r = run_cmd(c, "a", "printf survived-$((6*7)) | dd of=/dev/vdc conv=notrunc 2>/dev/null; sync")
    assert r.returncode == OK, r

    # stdin is /dev/null (not a terminal): kumo cannot ask, so it refuses
    r = c.kumo("vm", "delete", "-g", "rg", "a")
    assert r.returncode == USAGE and "add --yes" in r.stderr and "nothing was deleted" in r.stderr, r
    assert c.json("vm", "show", "-g", "rg", "a")["powerState"] == "Running"
    assert {d["name"] for d in c.json("disk", "list", "-g", "rg")} == {"a-osdisk", "a-data0", "keep"}

    r = c.ok("vm", "delete", "-g", "rg", "a", "--yes")
    assert ("with its OS disk 'a-osdisk', data disk 'a-data0' and NIC 'a-nic'." in r.stdout and
            "Kept, detached (still billed): data disk 'keep'." in r.stdout), r.stdout
    disks = c.json("disk", "list", "-g", "rg")
    assert [(d["name"], d["managedBy"]) for d in disks] == [("keep", None)], disks
    assert not vm_procs(c)
    # the data is there: another VM reads it
    c.ok("vm", "create", "-g", "rg", "-n", "b", "--size", "Tiny", "--attach-data-disks", "keep")
    r = run_cmd(c, "b", "head -c 11 /dev/vdb")
    assert r.returncode == OK and r.stdout == "survived-42", r
    # a disk given to the create is not the VM's either; --delete-data-disks takes it
    assert c.json("vm", "show", "-g", "rg", "b")["dataDisks"][0]["deleteOption"] == "Detach"
    r = c.ok("vm", "delete", "-g", "rg", "b", "--yes", "--delete-data-disks")
    assert "data disk 'keep'" in r.stdout and "Kept" not in r.stdout, r.stdout
    assert c.json("disk", "list", "-g", "rg") == []
    # the files go right after the rows (a kill -9 between the two leaves
    # them to the next start's sweep): a moment later on a loaded host
    deadline = time.time() + 30
    while list((c.data / "disks").iterdir()) and time.time() < deadline:
        time.sleep(0.2)
    assert not list((c.data / "disks").iterdir())


def test_group_delete_leaves_nothing_and_networks_as_az(cloud):
    c = cloud
    c.ok("group", "create", "-n", "g2", "--tags", "team=blue")
    # the group create is idempotent (a PUT): again, with new tags
    g = c.json("group", "create", "-n", "g2", "--tags", "team=red")
    assert g["name"] == "g2" and g["tags"] == {"team": "red"}, g
    r = c.kumo("group", "create", "-n", "G2")
    assert r.returncode == CONFLICT and "resource group 'g2' already exists" in r.stderr, r
    # the first VM makes the network; the second reuses the group's VNet
    c.ok("vm", "create", "-g", "g2", "-n", "a", "--size", "Tiny", "--public-ip")
    b = c.json("vm", "create", "-g", "g2", "-n", "b", "--size", "Tiny")
    assert (b["networkInterfaces"][0]["vnet"], b["networkInterfaces"][0]["subnet"]) == (
        "a-vnet", "default"), b["networkInterfaces"]
    assert b["networkInterfaces"][0]["privateIp"] == "10.0.0.5"
    assert [v["name"] for v in c.json("vnet", "list", "-g", "g2")] == ["a-vnet"]
    assert c.json("nic", "show", "-g", "g2", "-n", "b-nic")["nsg"] == "b-nsg"
    # a subnet with an NSG: the next VM makes none of its own
    c.ok("subnet", "update", "-g", "g2", "--vnet-name", "a-vnet", "-n", "default", "--nsg", "a-nsg")
    c.ok("vm", "create", "-g", "g2", "-n", "c", "--size", "Tiny", "--no-wait")
    assert c.json("nic", "show", "-g", "g2", "-n", "c-nic")["nsg"] is None
    assert "c-nsg" not in [n["name"] for n in c.json("nsg", "list", "-g", "g2")]
    c.ok("disk", "create", "-g", "g2", "-n", "d1", "--size-gb", 1)
    c.ok("snapshot", "create", "-g", "g2", "-n", "s1", "--disk", "d1")
    rows = c.json("resource", "list", "-g", "g2")
    kinds = sorted({r["type"] for r in rows})
    assert kinds == ["disk", "networkInterface", "networkSecurityGroup", "publicIPAddress",
                     "snapshot", "virtualMachine", "virtualNetwork"], kinds
    assert len(rows) == 3 + 3 + 2 + 1 + 1 + 4 + 1, rows  # VMs, NICs, NSGs, IP, VNet, disks, snapshot
    # the fixture's group is another one: its resources are not listed here
    assert {r["resourceGroup"] for r in rows} == {"g2"}
    pid_before = len(vm_procs(c))
    assert pid_before >= 2

    # no terminal, no --yes: refused, nothing deleted
    r = c.kumo("group", "delete", "-n", "g2")
    assert r.returncode == USAGE and "--yes" in r.stderr, r
    assert len(c.json("resource", "list", "-g", "g2")) == len(rows)
    # everything goes, in order, with progress on stderr
    r = c.kumo("group", "delete", "-n", "g2", "--yes", timeout=600)
    assert r.returncode == OK, r
    assert "Deleted resource group 'g2' with its 3 VMs, 3 NICs, 1 public IP" in r.stdout, r.stdout
    assert "resource group 'g2': deleting" in r.stderr, r.stderr
    r = c.kumo("group", "show", "-n", "g2")
    assert r.returncode == NOTFOUND, r
    assert c.kumo("resource", "list", "-g", "g2").returncode == NOTFOUND
    assert not vm_procs(c), "kumo-vmm processes left"
    for sub in ("disks", "snapshots"):
        assert not list((c.data / sub).iterdir()), sub
    assert not any((c.data / "vms").iterdir())
    # nothing is billed any longer
    usage = c.json("usage", "--from", "1h")
    assert all(u.get("end") for u in usage if u["resourceGroup"] == "g2"), usage
    # and the name is free again
    c.ok("group", "create", "-n", "g2")


def test_run_command_open_port_tags(cloud):
    c = cloud
    vm = c.json("vm", "create", "-g", "rg", "-n", "w", "--size", "Tiny", "--public-ip")
    ports = {p["port"]: p for p in vm["networkInterfaces"][0]["publicIp"]["ports"]}
    # the VM's own NSG lets SSH in only: 80 and 443 are forwarded but blocked
    assert "blockedBy" not in ports[22] and "rule DenyAllInBound" in ports[80]["blockedBy"], ports
    view = c.ok("vm", "show", "-g", "rg", "w").stdout
    assert "tcp/80 -> 127.0.0.1:%d (blocked by network security group 'w-nsg'" % (
        ports[80]["hostPort"]) in view, view
    assert "80->%d(blocked)" % ports[80]["hostPort"] in c.ok("vm", "list", "-g", "rg").stdout

    # run-command: stdout, stderr and the exit status of a failing command
    r = run_cmd(c, "w", "echo out-$((6*7)); echo err-$((7*6)) >&2; exit 3")
    assert r.returncode == 3 and r.stdout == "out-42\n" and r.stderr == "err-42\n", r
    run = json.loads(run_cmd(c, "w", "false", "-o", "json").stdout)
    assert run["status"] == "Succeeded" and run["exitCode"] == 1, run
    r = run_cmd(c, "w", "echo started; sleep 60", "--timeout", 2)
    assert r.returncode == TIMEOUT and "started" in r.stdout and "timeout" in r.stderr, r
    runs = c.json("vm", "run-commands", "-g", "rg", "-n", "w")
    assert [x["status"] for x in runs] == ["Succeeded", "Succeeded", "TimedOut"], runs
    r = c.kumo("vm", "run-command", "-g", "rg", "-n", "w")
    assert r.returncode == USAGE and "--script" in r.stderr

    # a web server on port 80; the NSG drops what comes to it
    r = run_cmd(c, "w", "mkdir -p /www && echo hello-from-w > /www/index.html && httpd -p 80 -h /www")
    assert r.returncode == OK, r
    hp80 = ports[80]["hostPort"]
    assert http_get(hp80).startswith("error"), "an NSG should drop port 80"
    started = c.json("vm", "show", "-g", "rg", "w")["instanceView"]["startedAt"]
    out = c.ok("vm", "open-port", "-g", "rg", "-n", "w", "--port", 80).stdout
    assert "Rule open-port-80 (priority 900) in NSG w-nsg" in out, out
    assert wait_for("port 80 let in", lambda: "hello-from-w" in http_get(hp80))
    # and a port that was not forwarded at all: forwarded and let in, live
    run_cmd(c, "w", "httpd -p 8080 -h /www")
    o = c.json("vm", "open-port", "-g", "rg", "-n", "w", "--port", 8080)["openedPort"]
    assert o["priority"] == 901 and o["publicIp"] == "w-ip" and o["live"], o
    assert wait_for("port 8080 reached", lambda: "hello-from-w" in http_get(o["hostPort"]))
    vm = c.json("vm", "show", "-g", "rg", "w")
    assert vm["instanceView"]["startedAt"] == started, "no restart"
    ports = {p["port"]: p for p in vm["networkInterfaces"][0]["publicIp"]["ports"]}
    assert "blockedBy" not in ports[80] and "blockedBy" in ports[443], ports
    # public-ip update: 80 goes, 8080 keeps its host port
    ip = c.json("public-ip", "update", "-g", "rg", "-n", "w-ip", "--ports", "22", "8080")
    assert {p["port"]: p["hostPort"] for p in ip["ports"]} == {22: ports[22]["hostPort"],
                                                               8080: o["hostPort"]}, ip
    assert wait_for("port 80 no longer forwarded", lambda: http_get(hp80).startswith("error"))
    assert "hello-from-w" in http_get(o["hostPort"])

    # tags: merged, removed, filtered
    c.ok("vm", "update", "-g", "rg", "-n", "w", "--tags", "app=web", "env=test")
    t = c.json("vm", "update", "-g", "rg", "-n", "w", "--set", "tags.owner=ops", "--add-tags",
               "tier=1", "--remove", "tags.env")["tags"]
    assert t == {"app": "web", "owner": "ops", "tier": "1"}, t
    assert [v["name"] for v in c.json("vm", "list", "--tag", "owner=ops", "--tag", "app")] == ["w"]
    assert c.json("vm", "list", "--tag", "owner=dev") == []
    assert [r["name"] for r in c.json("resource", "list", "--tag", "tier=1")] == ["w"]
    r = c.kumo("vm", "update", "-g", "rg", "-n", "w", "--set", "size=B1s")
    assert r.returncode == USAGE and "tags.KEY=VALUE" in r.stderr


def test_scale_set_refused_up_front(cloud):
    c = cloud
    host = c.json("host", "list")[0]["name"]
    c.ok("host", "update", "-n", host, "--cpus", 1, "--cpu-ratio", 2)  # room for 2 Tiny VMs
    r = c.kumo("vmss", "create", "-g", "rg", "-n", "big", "--vm-sku", "Tiny", "--instance-count", 3)
    assert r.returncode == CONFLICT and "capacity can be at most 2" in r.stderr, r.stderr
    assert c.kumo("vmss", "show", "-g", "rg", "-n", "big").returncode == NOTFOUND
    c.ok("vmss", "create", "-g", "rg", "-n", "s", "--vm-sku", "Tiny", "--instance-count", 1)
    r = c.kumo("vmss", "scale", "-g", "rg", "-n", "s", "--new-capacity", 5)
    assert r.returncode == CONFLICT, r
    assert ("4 more instances of size Tiny (1 vCPU, 128 MiB each) do not fit: the hosts have "
            "room for 1 more, so the capacity can be at most 2") in r.stderr, r.stderr
    s = c.json("vmss", "show", "-g", "rg", "-n", "s")
    assert s["capacity"] == 1 and len(c.json("vm", "list", "-g", "rg")) == 1, s
    c.ok("vmss", "delete", "-g", "rg", "-n", "s", "--yes")


def test_scale_set_admin_account(cloud):
    """kumo vmss create --admin-username --ssh-key-value: the set and every
    instance show the account, and the instance's guest makes it (its
    provisioning report); a password for an image that takes none is
    refused, nothing made."""
    c = cloud
    key = ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDe6REI/2AtI4Y0zRx7GqE2gXIrs+aTpMs3zSEWAlAzk "
           "ops@kumo")
    r = c.kumo("vmss", "create", "-g", "rg", "-n", "pw", "--vm-sku", "Tiny", "--instance-count", 1,
               "--no-lb", "--admin-username", "ops", "--admin-password", "Correct-Horse-9")
    assert r.returncode != 0 and "osProfile.adminPassword" in r.stderr, r.stderr
    assert c.kumo("vmss", "show", "-g", "rg", "-n", "pw").returncode == NOTFOUND
    c.ok("vmss", "create", "-g", "rg", "-n", "s", "--vm-sku", "Tiny", "--instance-count", 1,
         "--no-lb", "--admin-username", "ops", "--ssh-key-value", key)
    assert c.json("vmss", "show", "-g", "rg", "-n", "s")["model"]["osProfile"]["adminUsername"] \
        == "ops"
    assert "ops (1 SSH key)" in c.ok("vmss", "show", "-g", "rg", "-n", "s").stdout
    osp = c.json("vm", "show", "-g", "rg", "-n", "s_0")["osProfile"]
    assert (osp["adminUsername"], osp["sshPublicKeys"]) == ("ops", [key]), osp
    wait_for("the instance's provisioning report",
             lambda: c.json("vm", "show", "-g", "rg", "-n", "s_0")["osProvisioning"]["state"]
             == "Succeeded", timeout=300)
    c.ok("vmss", "delete", "-g", "rg", "-n", "s", "--yes")


SLOW_SWITCH = """#!/bin/sh
# kumo-switch, slow to answer (a loaded host)
sleep 8
exec {switch} "$@"
"""


def control(sock, req):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(str(sock))
    s.sendall(json.dumps(req).encode() + b"\n")
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    s.close()
    return json.loads(buf)


def test_switch_slow_to_answer(cloud_factory, tmp_path):
    from conftest import BUILD
    slow = tmp_path / "slow-switch"
    slow.write_text(SLOW_SWITCH.format(switch=BUILD / "kumo-switch"))
    slow.chmod(0o755)
    c = cloud_factory(["--switch", str(slow)])
    c.ok("vnet", "create", "-g", "rg", "-n", "early", "--address-prefixes", "10.7.0.0/16")
    log = c.log()
    assert "its configuration goes to it once it does" in log and "error" not in log.lower(), log
    # the configuration reaches the switch once it answers, without a change
    sock = c.data / "net" / "control.sock"
    def pushed():
        try:
            cfg = control(sock, {"op": "get_config"})["config"]
        except OSError:
            return False
        return [v["address_space"] for v in cfg.get("vnets", [])] == [["10.7.0.0/16"]]
    assert wait_for("the configuration pushed", pushed, timeout=60)
    assert "error" not in c.log().lower(), c.log()
