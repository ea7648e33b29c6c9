"""kumod with saved VM states (docs/vmstate.md), real guests: hibernation
(deallocate --hibernate keeps a process and the uptime through a
deallocation, bills the saved state, refuses changes that would not match
it); live migration to a new kumo-vmm (a process, the uptime, the console
and another VM's pings carry on)."""
import re
import time

import pytest

from test_cloud import VM, console_send, console_wait, kumod_factory, cloud  # noqa: F401


def marks(log, key):
    return re.findall(key + r"=([0-9][0-9.]*)", log)


def test_hibernate_keeps_a_process_and_its_uptime(cloud):
    k = cloud
    r = k.post(f"{VM}", {"name": "sleeper", "size": "Tiny"})
    assert r.status == 202, r
    console_wait(k, f"{VM}/sleeper", "kumo guest: booted", timeout=300)
    sock = k.ok("GET", f"{VM}/sleeper")["instanceView"]["consoleSocket"]
    console_send(sock, "sleep 100000 & echo PID=$! UP=$(cut -d' ' -f1 /proc/uptime)")
    # the guest's answer, not the echo of the typed line (which also has "UP=")
    up = float(wait_marks(k, "sleeper", "UP")[-1])
    pid = wait_marks(k, "sleeper", "PID")[-1]

    r = k.post(f"{VM}/sleeper/deallocate?hibernate=true&wait=300")
    assert r.status == 200, r
    vm = r.json
    assert vm["powerState"] == "Deallocated" and vm["provisioningState"] == "Succeeded", vm
    assert vm["host"] is None
    hib = vm["hibernation"]
    assert hib and hib["stateBytes"] > 1 << 20, vm
    # nothing runs; the state is billed as storage, the VM not
    usage = k.ok("GET", "/v1/usage")["value"]
    state = [u for u in usage if u["meter"] == "VM state (hibernation)"]
    assert state and state[-1]["end"] is None, usage
    vm_meter = [u for u in usage if u["resourceType"] == "virtualMachine"]
    assert vm_meter and all(u["end"] is not None for u in vm_meter), usage
    # what the saved state would not match is refused
    r = k.post(f"{VM}/sleeper/resize", {"size": "Tiny2"})
    assert r.status == 409 and "hibernated" in r.message, r

    time.sleep(3)
    before = len(k.get(f"{VM}/sleeper/bootDiagnostics").raw)
    r = k.post(f"{VM}/sleeper/start?wait=300")
    assert r.status == 200 and r.json["powerState"] == "Running", r
    assert r.json["hibernation"] is None
    console_wait(k, f"{VM}/sleeper", "kumo guest: restored", since=before, timeout=120)
    console_send(sock, f"kill -0 {pid} && echo ALIVE=$? UP2=$(cut -d' ' -f1 /proc/uptime)")
    up2 = float(wait_marks(k, "sleeper", "UP2", since=before)[-1])
    assert wait_marks(k, "sleeper", "ALIVE", since=before) == ["0"]
    assert up2 >= up, (up, up2)  # uptime went on
    usage = k.ok("GET", "/v1/usage")["value"]
    assert all(u["end"] is not None for u in usage if u["meter"] == "VM state (hibernation)")
    # hibernating a VM that is not running is refused
    k.post(f"{VM}/sleeper/deallocate?wait=120")
    r = k.post(f"{VM}/sleeper/deallocate?hibernate=true")
    assert r.status == 409 and "only a Running VM" in r.message, r
    r = k.post(f"{VM}/sleeper/deallocate?hibernate=maybe")
    assert r.status == 400 and r.code == "InvalidQuery", r


def wait_marks(k, name, key, since=0, timeout=60):
    """The values the guest printed as KEY=<number> after byte `since` of
    its console (the echo of the typed command has no number there)."""
    end = time.time() + timeout
    while time.time() < end:
        found = marks(k.get(f"{VM}/{name}/bootDiagnostics").raw[since:], key)
        if found:
            return found
        time.sleep(0.2)
    pytest.fail(f"{name} printed no {key}=")


def test_live_migration_keeps_processes_uptime_and_the_network(cloud):
    """kumo vm migrate's API: the VM moves to a new kumo-vmm process while
    a process of its counts and another VM pings it across the move; the
    process, its uptime, its console and the pings carry on."""
    k = cloud
    for name in ("mover", "pinger"):
        r = k.post(f"{VM}", {"name": name, "size": "Tiny"})
        assert r.status == 202, r
    for name in ("mover", "pinger"):
        console_wait(k, f"{VM}/{name}", "kumo guest: booted", timeout=300)
    mover = k.ok("GET", f"{VM}/mover")
    ip = mover["networkInterfaces"][0]["privateIp"]
    pid_before = mover["instanceView"]["pid"]
    sock = mover["instanceView"]["consoleSocket"]
    console_send(sock, "(i=0; while :; do i=$((i+1)); echo TICK=$i; sleep 0.2; done) & "
                       "echo PID=$! UP=$(cut -d' ' -f1 /proc/uptime)")
    up = float(wait_marks(k, "mover", "UP")[-1])
    pid = wait_marks(k, "mover", "PID")[-1]
    psock = k.ok("GET", f"{VM}/pinger")["instanceView"]["consoleSocket"]
    console_send(psock, f"ping -i 0.2 {ip} > /tmp/ping.log 2>&1 &")
    time.sleep(2)
    console_send(psock, "echo BEFORE=$(grep -c 'bytes from' /tmp/ping.log)")
    answered_before = int(wait_marks(k, "pinger", "BEFORE")[-1])
    assert answered_before > 0

    r = k.post(f"{VM}/mover/migrate?wait=300")
    assert r.status == 200, r
    vm = r.json
    assert vm["powerState"] == "Running" and vm["provisioningState"] == "Succeeded", vm
    assert vm["instanceView"]["pid"] != pid_before, vm["instanceView"]
    hist = [h["message"] for h in k.ok("GET", f"{VM}/mover/history")["value"]]
    assert any(m.startswith("live-migrated to a new kumo-vmm") for m in hist), hist

    before = len(k.get(f"{VM}/mover/bootDiagnostics").raw)
    # the console is the new process's; the same process counts on
    console_send(sock, f"kill -0 {pid} && echo ALIVE=$? UP2=$(cut -d' ' -f1 /proc/uptime)")
    up2 = float(wait_marks(k, "mover", "UP2", since=before)[-1])
    assert wait_marks(k, "mover", "ALIVE", since=before) == ["0"]
    assert up2 >= up, (up, up2)
    assert wait_marks(k, "mover", "TICK", since=before)  # it counts on
    time.sleep(3)
    pbefore = len(k.get(f"{VM}/pinger/bootDiagnostics").raw)
    console_send(psock, "echo AFTER=$(grep -c 'bytes from' /tmp/ping.log)")
    answered_after = int(wait_marks(k, "pinger", "AFTER", since=pbefore)[-1])
    # answers went on after the move (the switch gave the NIC to the new process)
    assert answered_after >= answered_before + 10, (answered_before, answered_after)
