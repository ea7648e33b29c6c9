"""Scale sets, their load balancer and autoscale, end to end with real guests
(the default guest, 1 vCPU and 128 MiB each), driven through build/kumo as
a user drives it (the Cloud helper of test_cli_kumo.py).

- A set whose instances serve HTTP (user data starts busybox httpd with a
  page naming the instance) behind the load balancer: requests to the load
  balancer's host port are served by every healthy instance, and an
  instance whose server stops is probed Unhealthy and skipped.
- Autoscale on the instances' CPU: a busy loop in one instance scales the
  set out to its maximum, and after the loop stops it scales back in to its
  minimum; the decisions are in `kumo autoscale history`.
- A rolling update replaces every instance by one of the new model while
  the load balancer keeps answering.

Environment: as test_cli_kumo.py (KUMO_BUILD, KUMO_GUEST_DIR).
"""
import json
import time
import urllib.request

import pytest

from test_cli_kumo import OK, USAGE, NOTFOUND, cloud_factory  # noqa: F401 - fixture

USER_DATA = """#!/bin/sh
mkdir -p /www
echo "instance $(hostname)" > /www/index.html
httpd -p 80 -h /www
"""


def wait(what, fn, timeout=240, step=0.5):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(step)
    pytest.fail(f"timed out waiting for {what}; last: {last!r}")


def instances(c, name="web"):
    return c.json("vmss", "list-instances", "-g", "rg", "-n", name)


def lb_get(port):
    try:
        return urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10).read().decode().strip()
    except OSError as e:
        return f"error: {e}"


def served(port, n):
    return [lb_get(port) for _ in range(n)]


def healthy_names(c, name="web"):
    return sorted(i["name"] for i in instances(c, name)
                  if i["health"] == "Healthy" and i["powerState"] == "Running")


def console(c, vm, cmd):
    return c.ok("vm", "console", "-g", "rg", vm, "--linger", "1", input=cmd + "\n").stdout


@pytest.fixture
def web(cloud_factory, tmp_path):  # noqa: F811 - the fixture of test_cli_kumo
    c = cloud_factory(args=("--autoscale-interval", "2"))
    ud = tmp_path / "ud.sh"
    ud.write_text(USER_DATA)
    s = c.json("vmss", "create", "-g", "rg", "-n", "web", "--image", "default", "--size", "Tiny",
               "--instance-count", 2, "--vnet", "web-vnet", "--lb-port", 80,
               "--probe-protocol", "Http", "--probe-interval", 1, "--user-data", ud)
    assert s["capacity"] == 2 and s["provisioningState"] == "Succeeded", s
    assert s["instances"] == {"total": 2, "running": 2, "latestModel": 2}, s
    assert s["model"]["vnet"] == "web-vnet" and s["model"]["nsg"] == "web-nsg"
    return c, s["loadBalancer"]["frontendPort"]


def test_load_balancer_serves_every_healthy_instance(web):
    c, port = web
    inst = instances(c)
    assert [i["name"] for i in inst] == ["web_0", "web_1"]
    assert all(i["scaleSet"]["name"] == "web" and i["tags"]["kumo.scaleSet"] == "web" for i in inst)
    # each instance has a public IP port of its own for the backend port
    assert all(i["networkInterfaces"][0]["publicIp"]["ports"][0]["port"] == 80 for i in inst)
    wait("both instances healthy", lambda: healthy_names(c) == ["web_0", "web_1"])
    pages = served(port, 8)
    assert sorted(set(pages)) == ["instance web_0", "instance web_1"], pages
    # round robin: both get a share
    assert pages.count("instance web_0") >= 3 and pages.count("instance web_1") >= 3, pages
    conns = {i["name"]: i["lbConnections"] for i in instances(c)}
    assert conns["web_0"] >= 3 and conns["web_1"] >= 3, conns

    # web_1's server stops: its probe fails, the load balancer skips it
    console(c, "web_1", "killall httpd; echo killed-$((2*21))")
    wait("web_1 unhealthy", lambda: healthy_names(c) == ["web_0"])
    assert {i["name"]: i["health"] for i in instances(c)} == {"web_0": "Healthy",
                                                              "web_1": "Unhealthy"}
    pages = served(port, 6)
    assert pages == ["instance web_0"] * 6, pages
    # and back
    console(c, "web_1", "httpd -p 80 -h /www; echo started-$((2*21))")
    wait("web_1 healthy again", lambda: healthy_names(c) == ["web_0", "web_1"])
    assert sorted(set(served(port, 6))) == ["instance web_0", "instance web_1"]

    # billing: the load balancer's public IP, not the instances' own
    usage = c.json("usage", "--from", "1h")
    pips = {u["resource"] for u in usage if u["resourceType"] == "publicIPAddress"}
    assert pips == {"web-lb"}, usage
    # scale out by hand: the new instance joins the rotation
    s = c.json("vmss", "scale", "-g", "rg", "-n", "web", "--new-capacity", 3)
    assert s["capacity"] == 3 and s["instances"]["running"] == 3, s
    wait("three healthy", lambda: healthy_names(c) == ["web_0", "web_1", "web_2"])
    assert sorted(set(served(port, 12))) == ["instance web_0", "instance web_1", "instance web_2"]
    # scale in: the highest index goes
    s = c.json("vmss", "scale", "-g", "rg", "-n", "web", "--new-capacity", 2)
    assert [i["name"] for i in instances(c)] == ["web_0", "web_1"]

    # delete: instances, the load balancer's public IP and the NSG's users go
    r = c.ok("vmss", "delete", "-g", "rg", "-n", "web", "--yes")
    assert "Deleted scale set 'web'" in r.stdout
    assert c.json("vm", "list", "-g", "rg") == []
    assert "web-lb" not in [p["name"] for p in c.json("public-ip", "list", "-g", "rg")]
    assert lb_get(port).startswith("error")
    assert c.kumo("vmss", "show", "-g", "rg", "-n", "web").returncode == NOTFOUND


def test_autoscale_out_to_max_and_back_in(web, capsys):
    c, port = web
    wait("both instances healthy", lambda: healthy_names(c) == ["web_0", "web_1"])
    c.ok("autoscale", "create", "-g", "rg", "-n", "web-as", "--resource", "web",
         "--min-count", 1, "--max-count", 3, "--count", 2)
    # short grains, windows and cooldowns: seconds, not minutes. The grain's
    # statistic is Max (the busiest instance): on a shared 2-core machine a
    # spinning guest gets anywhere from a third of a core to all of it, and
    # the busiest instance stays busy however many instances there are.
    c.ok("autoscale", "rule", "create", "-g", "rg", "--autoscale-name", "web-as",
         "--condition", "Percentage CPU > 20 avg 8s", "--time-grain", "max 2s",
         "--scale", "out", 1, "--cooldown", "6s")
    c.ok("autoscale", "rule", "create", "-g", "rg", "--autoscale-name", "web-as",
         "--condition", "Percentage CPU < 8 avg 8s", "--time-grain", "max 2s",
         "--scale", "in", 1, "--cooldown", "6s")
    a = c.json("autoscale", "show", "-g", "rg", "-n", "web-as")
    assert [r["scaleAction"]["direction"] for r in a["rules"]] == ["Increase", "Decrease"]
    assert a["rules"][0]["metricTrigger"]["timeWindow"] == "PT8S"
    assert a["rules"][0]["metricTrigger"]["statistic"] == "Max"
    assert a["rules"][1]["scaleAction"]["cooldown"] == "PT6S"

    def capacity_is(n):
        def check():
            return c.json("vmss", "show", "-g", "rg", "-n", "web")["capacity"] == n
        try:
            wait(f"capacity {n}", check, timeout=300)
        except BaseException:
            print(c.ok("autoscale", "history", "-g", "rg", "-n", "web-as").stdout)
            print(c.ok("metrics", "vm", "-g", "rg", "web_0", "--from", "1m").stdout)
            raise

    # a CPU load in web_0 (the lowest index, never the first to go)
    out = console(c, "web_0", "(while :; do :; done) & echo $! > /tmp/busy; echo busy-$((6*7))")
    assert "busy-42" in out, out
    capacity_is(3)  # the maximum
    wait("three instances running",
         lambda: c.json("vmss", "show", "-g", "rg", "-n", "web")["instances"]["running"] == 3,
         timeout=120)
    # the load balancer serves every healthy instance of the larger set
    names = wait("three healthy", lambda: (lambda h: h if len(h) == 3 else None)(healthy_names(c)))
    assert set(served(port, 12)) == {f"instance {n}" for n in names}

    # the load stops: back in to the minimum
    console(c, "web_0", "kill $(cat /tmp/busy); echo stopped-$((6*7))")
    capacity_is(1)  # the minimum
    wait("one instance left", lambda: len(instances(c)) == 1, timeout=120)

    hist = c.json("autoscale", "history", "-g", "rg", "-n", "web-as")
    acts = [(h["action"], h["oldCapacity"], h["newCapacity"]) for h in hist if h["action"] != "None"]
    outs = [a for a in acts if a[0] == "ScaleOut"]
    ins = [a for a in acts if a[0] == "ScaleIn"]
    assert outs and outs[-1][2] == 3, acts
    assert ins and ins[-1][2] == 1, acts
    # the last scale-out comes before the scale-ins that end at the minimum
    last_out = max(i for i, a in enumerate(acts) if a[0] == "ScaleOut")
    last_in = max(i for i, a in enumerate(acts) if a[0] == "ScaleIn")
    assert last_out < last_in, acts
    assert all("Percentage CPU" in h["reason"] or "default" in h["reason"] for h in hist
               if h["action"] != "None"), hist
    # blocked decisions are logged with their reason (cooldown or a bound)
    assert any(h["action"] == "None" and ("cooldown" in h["reason"] or "maximum" in h["reason"]
                                          or "minimum" in h["reason"]) for h in hist), hist
    table = c.ok("autoscale", "history", "-g", "rg", "-n", "web-as").stdout
    with capsys.disabled():
        print("\nautoscale timeline:\n" + table)


def test_rolling_update_keeps_serving(web, tmp_path):
    c, port = web
    wait("both instances healthy", lambda: healthy_names(c) == ["web_0", "web_1"])
    ud = tmp_path / "ud2.sh"
    ud.write_text(USER_DATA.replace("instance $(hostname)", "v2 $(hostname)"))
    r = c.kumo("vmss", "update", "-g", "rg", "-n", "web", "--user-data", ud, "--no-wait", "-o",
               "json")
    assert r.returncode == OK, r.stderr
    assert json.loads(r.stdout)["model"]["version"] == 2
    # while the update rolls, the load balancer keeps answering
    errors, pages = 0, []
    deadline = time.time() + 300
    while time.time() < deadline:
        s = c.json("vmss", "show", "-g", "rg", "-n", "web")
        if s["provisioningState"] == "Succeeded" and s["instances"]["latestModel"] == 2:
            break
        p = lb_get(port)
        pages.append(p)
        errors += p.startswith("error")
        # never fewer than capacity instances Running during the update
        running = [i for i in instances(c) if i["powerState"] == "Running"]
        assert len(running) >= 2 or s["instances"]["total"] < 2, s
        time.sleep(0.3)
    else:
        pytest.fail("the rolling update did not finish")
    inst = instances(c)
    assert [i["name"] for i in inst] == ["web_2", "web_3"], inst
    assert all(i["latestModel"] for i in inst)
    wait("new instances healthy", lambda: healthy_names(c) == ["web_2", "web_3"])
    assert sorted(set(served(port, 6))) == ["v2 web_2", "v2 web_3"]
    assert errors == 0, [p for p in pages if p.startswith("error")] + [f"of {len(pages)} pages"]


def test_bad_input(web):
    c, _ = web
    r = c.kumo("vmss", "create", "-g", "rg", "-n", "x", "--size", "Nope")
    assert r.returncode != OK and "unknown size 'Nope'" in r.stderr, r.stderr
    r = c.kumo("vmss", "create", "-g", "rg", "-n", "web", "--size", "Tiny")
    assert r.returncode == 4 and "already exists" in r.stderr, r.stderr
    r = c.kumo("vmss", "scale", "-g", "rg", "-n", "web")
    assert r.returncode == USAGE and "--new-capacity" in r.stderr
    r = c.kumo("vmss", "scale", "-g", "rg", "-n", "web", "--new-capacity", 500)
    assert r.returncode == USAGE, r.stderr
    r = c.kumo("autoscale", "create", "-g", "rg", "-n", "a", "--resource", "web",
               "--min-count", 3, "--max-count", 2)
    assert r.returncode != OK and "maximum: 2 is less than minimum 3" in r.stderr, r.stderr
    c.ok("autoscale", "create", "-g", "rg", "-n", "a", "--resource", "web", "--min-count", 1,
         "--max-count", 2)
    r = c.kumo("autoscale", "create", "-g", "rg", "-n", "b", "--resource", "web", "--min-count", 1,
               "--max-count", 2)
    assert r.returncode == 4 and "already has autoscale setting 'a'" in r.stderr, r.stderr
    r = c.kumo("autoscale", "rule", "create", "-g", "rg", "--autoscale-name", "a",
               "--condition", "Percentage CPU >> 70 avg 5m", "--scale", "out", 1)
    assert r.returncode == USAGE and "is not \"METRIC OP THRESHOLD" in r.stderr, r.stderr
    r = c.kumo("autoscale", "rule", "create", "-g", "rg", "--autoscale-name", "a",
               "--condition", "Disk Bytes > 70 avg 5m", "--scale", "out", 1)
    assert r.returncode != OK and "use \"Percentage CPU\"" in r.stderr, r.stderr
    r = c.kumo("autoscale", "rule", "create", "-g", "rg", "--autoscale-name", "a",
               "--condition", "Percentage CPU > 70 avg 5m", "--scale", "sideways", 1)
    assert r.returncode == USAGE and "not out, in or to" in r.stderr, r.stderr
    r = c.kumo("autoscale", "rule", "create", "-g", "rg", "--autoscale-name", "a",
               "--condition", "Percentage CPU > 70 avg 30s", "--time-grain", "avg 1m",
               "--scale", "out", 1)
    assert r.returncode != OK and "longer than timeWindow" in r.stderr, r.stderr
    r = c.kumo("autoscale", "history", "-g", "rg", "-n", "nosuch")
    assert r.returncode == NOTFOUND
    # what the set uses cannot go from under it
    r = c.kumo("public-ip", "delete", "-g", "rg", "-n", "web-lb", "--yes")
    assert r.returncode == 4 and "scale set 'web' (its load balancer)" in r.stderr, r.stderr
    r = c.kumo("nsg", "delete", "-g", "rg", "-n", "web-nsg", "--yes")
    assert r.returncode == 4 and "scale set 'web'" in r.stderr, r.stderr
    r = c.kumo("vnet", "delete", "-g", "rg", "-n", "web-vnet", "--yes")
    assert r.returncode == 4 and "scale set 'web'" in r.stderr, r.stderr
    # a group delete takes everything with it: from a pipe it needs --yes
    r = c.kumo("group", "delete", "-n", "rg")
    assert r.returncode == 2 and "--yes" in r.stderr, r.stderr
    # instances that cannot fit are refused up front, nothing made (issue 21)
    c.ok("size", "create", "-n", "Huge", "--vcpus", 32, "--memory-mib", 1024,
         "--price-per-hour", 1)
    r = c.kumo("vmss", "create", "-g", "rg", "-n", "big", "--size", "Huge", "--instance-count", 1,
               "--no-lb", "--timeout", 60)
    assert r.returncode == 4 and "1 more instance of size Huge" in r.stderr, r.stderr
    assert "does not fit" in r.stderr and "CapacityExceeded" in r.stderr, r.stderr
    assert c.kumo("vmss", "show", "-g", "rg", "-n", "big").returncode == NOTFOUND
    # a model changed to a size that does not fit: a scale out is refused too
    # (an instance that cannot be placed anyway fails the set with the reason:
    # tests/unit/test_cloud_vmss.c)
    c.ok("vmss", "create", "-g", "rg", "-n", "big", "--size", "Tiny", "--instance-count", 0,
         "--no-lb")
    r = c.kumo("vmss", "update", "-g", "rg", "-n", "big", "--size", "Huge")
    assert r.returncode == OK, r.stderr
    r = c.kumo("vmss", "scale", "-g", "rg", "-n", "big", "--new-capacity", 1)
    assert r.returncode == 4 and "does not fit" in r.stderr, r.stderr
    c.ok("vmss", "delete", "-g", "rg", "-n", "big", "--yes")


def restart_kumod(c, sig):
    """kill kumod with sig and start it again on the same data directory."""
    import subprocess
    args = c.proc.args
    c.proc.send_signal(sig)
    c.proc.wait(30)
    c.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=c.logf, stderr=c.logf)
    wait("kumod back", lambda: c.kumo("status").returncode == OK, timeout=60, step=0.1)


def test_kill9_during_scale_out_then_restart(web):
    import signal
    c, port = web
    wait("both instances healthy", lambda: healthy_names(c) == ["web_0", "web_1"])
    r = c.kumo("vmss", "scale", "-g", "rg", "-n", "web", "--new-capacity", 3, "--no-wait")
    assert r.returncode == OK, r.stderr
    restart_kumod(c, signal.SIGKILL)
    # the set finishes the scale-out after the restart, with no duplicate
    s = wait("three instances running",
             lambda: (lambda s: s if s["instances"]["running"] == 3
                      and s["provisioningState"] == "Succeeded" else None)(
                 c.json("vmss", "show", "-g", "rg", "-n", "web")), timeout=120)
    assert s["instances"]["total"] == 3, s
    names = [i["name"] for i in instances(c)]
    assert names == ["web_0", "web_1", "web_2"], names
    # the load balancer listens again on the same port and serves all three
    wait("three healthy", lambda: healthy_names(c) == ["web_0", "web_1", "web_2"])
    assert sorted(set(served(port, 12))) == ["instance web_0", "instance web_1", "instance web_2"]
    # a clean stop and start too
    restart_kumod(c, signal.SIGTERM)
    wait("three healthy again", lambda: healthy_names(c) == ["web_0", "web_1", "web_2"])
    assert len(set(served(port, 12))) == 3
