"""scripts/run.sh, the README's main job, end to end and without a terminal (as
CI runs it): it starts kumod in a data directory of its own, `kumo up` creates
the VM `default` and attaches to its console, and what the test pipes in runs
in the guest's shell. A second run reuses kumod, starts the stopped VM from
the same OS disk, and leaves it running; `scripts/run.sh --stop` ends it all.

Environment: KUMO_BUILD (build directory with kumo, kumod, kumo-vmm,
kumo-switch), KUMO_GUEST_DIR (the default guest; else guest/build.sh's cache).
"""
import json
import os
import pathlib
import random
import re
import signal
import subprocess
import time
import urllib.request

import pytest

from conftest import BUILD, ROOT

RUN = ROOT / "scripts" / "run.sh"


def processes_of(data):
    """Live processes whose command line names the data directory."""
    pids = []
    for p in pathlib.Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            cmd = (p / "cmdline").read_bytes().split(b"\0")
            state = (p / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and any(str(data).encode() in a for a in cmd):
            pids.append(int(p.name))
    return pids


def test_run_sh_main_job(tmp_path, guest):
    data = tmp_path / "data"
    home = tmp_path / "home"
    home.mkdir()
    base = 20000 + random.randrange(100) * 100  # public IP ports of its own
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUMO")}
    env.update(HOME=str(home), XDG_STATE_HOME=str(home / "state"), KUMO_DATA_DIR=str(data),
               KUMO_BUILD=str(BUILD), KUMO_RUN_NO_SETUP="1", KUMO_GUEST_DIR=str(guest),
               KUMOD_ARGS=f"--public-ports {base}-{base + 99}")

    def run(stdin, *args):
        return subprocess.run([str(RUN), *args], input=stdin, capture_output=True, text=True,
                              env=env, timeout=600)

    def kumo(*args):
        r = subprocess.run([str(BUILD / "kumo"), *args], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, env=env, timeout=120)
        assert r.returncode == 0, (args, r.stdout, r.stderr)
        return r.stdout

    try:
        # first run: kumod starts, the VM is made and boots, the guest computes
        # what it is sent, then powers off: the script returns
        # (the lines go in at once: the guest's tty echoes the ones typed ahead
        # while a command prints, so outputs are found by computed markers that
        # the echoed command lines do not contain, not as whole lines)
        r = run("echo main-job-ok $((6*7))\necho run-$((1+1)) > /root/proof\npoweroff\n")
        out, err = r.stdout, r.stderr
        assert r.returncode == 0, (out[-3000:], err)
        assert "started kumod" in err and f"log {data}/kumod.log" in err, err
        assert "'scripts/run.sh --stop'" in err, err
        assert "creating VM 'default' in resource group 'default': size F2s_v2" in err, err
        assert re.search(r"^Power state: +Running$", out, re.M), out[:2000]
        m = re.search(r"^Public IP: +127\.0\.0\.1 \(default-ip\): tcp/22 -> 127\.0\.0\.1:(\d+)",
                      out, re.M)
        assert m, out[:2000]
        ssh_port = int(m.group(1))
        assert base <= ssh_port < base + 100
        assert "Linux version 6.1" in out  # the boot, from its first line
        assert "main-job-ok 42" in out, out[-3000:]
        assert "kumo guest: powering off" in out
        assert "VM 'default' is Stopped (guest powered off)" in err, err
        # kumod recorded the guest's poweroff: Stopped, still allocated
        vm = json.loads(kumo("vm", "show", "-g", "default", "default", "-o", "json"))
        assert vm["powerState"] == "Stopped" and vm["provisioningState"] == "Succeeded", vm
        assert vm["instanceView"]["lastExit"]["reason"] == "guest powered off", vm
        assert vm["vcpus"] == 2 and vm["memoryMiB"] >= 1024, vm
        kumod_pid = int((data / "kumod.lock").read_text().split()[0])
        assert os.path.exists(f"/proc/{kumod_pid}")  # outlives the script

        # second run: the same kumod, the VM started again from its OS disk;
        # the end of stdin detaches and the VM keeps running, with a web server
        # on its port 22 that the public IP's host port reaches
        # (the guest's SSH server, dropbear, gives port 22 to the web server)
        r = run("echo proof-$(cat /root/proof)\nmkdir -p /w && echo port22-ok > /w/index.html && "
                "killall dropbear; while pidof dropbear; do sleep 0.1; done >/dev/null; "
                "httpd -p 22 -h /w && echo httpd-up-$((40 + 2))\n")
        out, err = r.stdout, r.stderr
        assert r.returncode == 0, (out[-3000:], err)
        assert f"reusing the kumod running on {data}/kumod.sock (pid {kumod_pid})" in err, err
        assert "starting VM 'default' (it was Stopped)" in err, err
        assert "Linux version 6.1" in out
        assert "proof-run-2" in out, out[-3000:]
        assert "httpd-up-42" in out, out[-3000:]
        assert "VM 'default' keeps running" in err, err
        vm = json.loads(kumo("vm", "show", "-g", "default", "default", "-o", "json"))
        assert vm["powerState"] == "Running", vm
        body = None
        for _ in range(50):
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{ssh_port}/", timeout=5).read()
                break
            except OSError:
                time.sleep(0.2)
        assert body == b"port22-ok\n", body

        # on a terminal: the running VM's shell; Ctrl-] detaches, the VM runs on
        pexpect = pytest.importorskip("pexpect")
        child = pexpect.spawn(str(RUN), env=env, encoding="utf-8", timeout=60)
        try:
            child.expect("Connected to VM 'default'")
            child.send("echo tty-$((40+2))\r")
            child.expect("tty-42")
            child.sendcontrol("]")
            child.expect("VM 'default' keeps running")
            child.expect(pexpect.EOF)
        finally:
            child.close()
        assert child.exitstatus == 0, (child.exitstatus, child.signalstatus)
        vm = json.loads(kumo("vm", "show", "-g", "default", "default", "-o", "json"))
        assert vm["powerState"] == "Running", vm

        # --stop: the VM powered off, kumod and its switch gone
        r = run("", "--stop")
        assert r.returncode == 0, r.stderr
        assert "powering off VM 'default' of resource group 'default'" in r.stderr, r.stderr
        assert f"stopping kumod (pid {kumod_pid})" in r.stderr, r.stderr
        for _ in range(100):
            if not processes_of(data):
                break
            time.sleep(0.1)
        assert not processes_of(data), processes_of(data)
        # the OS disk (a qcow2 overlay of the image) is sound after all that
        disks = list((data / "disks").glob("*.qcow2"))
        assert len(disks) == 1, disks
        r = subprocess.run(["qemu-img", "check", str(disks[0])], capture_output=True, text=True,
                           timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr
    finally:
        for pid in processes_of(data):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
