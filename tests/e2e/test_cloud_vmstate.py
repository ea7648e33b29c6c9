"""kumod with saved VM states (docs/vmstate.md), real guests: hibernation
(deallocate --hibernate keeps a process and the uptime through a
deallocation, bills the saved state, refuses changes that would not match
it)."""
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
    log = console_wait(k, f"{VM}/sleeper", "UP=", timeout=60)
    pid, up = marks(log, "PID")[-1], float(marks(log, "UP")[-1])

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
    log = console_wait(k, f"{VM}/sleeper", "UP2=", since=before, timeout=60)
    assert marks(log, "ALIVE") == ["0"], log[-2000:]
    up2 = float(marks(log, "UP2")[-1])
    assert up2 >= up, (up, up2)  # uptime went on
    usage = k.ok("GET", "/v1/usage")["value"]
    assert all(u["end"] is not None for u in usage if u["meter"] == "VM state (hibernation)")
    # hibernating a VM that is not running is refused
    k.post(f"{VM}/sleeper/deallocate?wait=120")
    r = k.post(f"{VM}/sleeper/deallocate?hibernate=true")
    assert r.status == 409 and "only a Running VM" in r.message, r
    r = k.post(f"{VM}/sleeper/deallocate?hibernate=maybe")
    assert r.status == 400 and r.code == "InvalidQuery", r
