"""The web portal (docs/portal.md) against a real kumod with real VMs.

test_portal_in_a_browser runs tests/e2e/portal/portal_test.cjs: Debian's
Chromium, driven by playwright-core (from web/'s npm packages), signs in,
creates a VM from the form with an admin account and an SSH key the test
made (kumod's errors at the account's fields first), sees it Running with
its admin user, key fingerprint and provisioning on its page, logs in with
ssh through the line the page shows and runs a command, types a command on its
console and reads the output, adds an NSG rule with a bad port (the error
at the field) and then a good one, stops the VM and sees the state change
without a reload, sees the CPU chart draw points, and screenshots every
page into BUILD/tests/portal-screenshots/. This file then checks the same
outcomes through the API.

test_portal_refuses checks kumod's side without a browser: requests
without the cookie, with a wrong CSRF token, from another origin or for
another host name, and console WebSockets without a good session, are
refused.
"""
import base64
import http.client
import os
import pathlib
import shutil
import socket
import subprocess

import pytest

from test_cloud import TINY, kumod_factory  # noqa: F401 - the fixture

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("KUMO_BUILD", ROOT / "build"))
SHOTS = BUILD / "tests" / "portal-screenshots"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
GROUP = "portal"


def portal_built(k):
    r = k.request("GET", "/portal/", token=None)
    if r.status == 503:
        pytest.skip("this kumod was built without the portal (meson -Dportal=disabled, or no npm)")
    assert r.status == 200, r


def node_modules():
    r = subprocess.run([str(ROOT / "web" / "build.sh"), "--modules"], capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, "web/build.sh --modules failed:\n" + r.stderr[-3000:]
    return r.stdout.strip().splitlines()[-1]


def test_portal_in_a_browser(kumod_factory, guest, tmp_path):  # noqa: F811 - pytest's fixture
    if not os.access(CHROMIUM, os.X_OK) or not shutil.which("node"):
        pytest.fail(f"{CHROMIUM} or node is missing: install them (scripts/deps.sh)")
    if not shutil.which("ssh") or not shutil.which("ssh-keygen"):
        pytest.fail("ssh or ssh-keygen is missing: install openssh-client (scripts/deps.sh)")
    key = tmp_path / "portal_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "portal-test@kumo",
                    "-f", str(key)], check=True)
    k = kumod_factory(["--autoscale-interval", "2"])
    portal_built(k)
    k.ok("POST", "/v1/sizes", TINY)
    k.ok("POST", "/v1/resourceGroups", {"name": GROUP})
    # a scale set of no instances, with autoscale: its page has a history to show
    k.ok("POST", f"/v1/resourceGroups/{GROUP}/virtualMachineScaleSets",
         {"name": "pool", "size": TINY["name"], "capacity": 0})
    k.ok("POST", f"/v1/resourceGroups/{GROUP}/autoscaleSettings",
         {"name": "pool-as", "scaleSet": "pool", "minimum": 0, "maximum": 2,
          "rules": [{"metricTrigger": {"operator": "GreaterThan", "threshold": 70},
                     "scaleAction": {"direction": "Increase"}}]})
    # an image provisioned by cloud-init (the default guest's disk, registered
    # as such): the form offers a password for it; no VM is made of it
    # (copied into kumod's import directory, where imports come from)
    shutil.copy(pathlib.Path(guest) / "rootfs.ext4", k.data / "import" / "rootfs.ext4")
    im = k.ok("POST", "/v1/images?wait=120",
              {"name": "ci-test", "source": str(k.data / "import" / "rootfs.ext4"), "format": "raw",
               "provisioning": "cloud-init", "os": "a test image provisioned by cloud-init"})
    assert im["provisioningState"] == "Succeeded" and im["osProfile"]["adminPassword"], im
    sp = k.ok("POST", "/v1/servicePrincipals", {"name": "portal-browser"})
    if SHOTS.exists():
        shutil.rmtree(SHOTS)
    env = dict(os.environ, NODE_PATH=node_modules(), CHROMIUM=CHROMIUM)
    script = ROOT / "tests" / "e2e" / "portal" / "portal_test.cjs"
    r = subprocess.run(["node", str(script), f"http://127.0.0.1:{k.port}", k.token, str(SHOTS),
                       GROUP, TINY["name"], sp["appId"], sp["secret"], str(key)], env=env, capture_output=True, text=True,
                       timeout=900)
    print(r.stdout)
    assert r.returncode == 0 and "all steps passed" in r.stdout, \
        f"the browser test failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}\n{k.log_text()}"

    # the same outcomes, seen through the API
    vm = k.ok("GET", f"/v1/resourceGroups/{GROUP}/virtualMachines/web1")
    assert vm["powerState"] == "Stopped" and vm["size"] == TINY["name"], vm
    assert vm["networkInterfaces"][0]["publicIp"], vm  # the form's default: a public IP
    assert vm["hasUserData"], vm
    assert vm["osProfile"]["adminUsername"] == "portaladmin", vm["osProfile"]
    assert vm["osProfile"]["sshPublicKeys"] == [(tmp_path / "portal_key.pub").read_text().strip()]
    assert vm["osProvisioning"]["state"] == "Succeeded", vm["osProvisioning"]
    assert "ssh login: portaladmin | web1 | ssh-42-ok" in r.stdout, r.stdout
    hist = [e["powerState"] for e in
            k.ok("GET", f"/v1/resourceGroups/{GROUP}/virtualMachines/web1/history")["value"]]
    assert "Running" in hist and hist[-1] == "Stopped", hist
    rules = k.ok("GET", f"/v1/resourceGroups/{GROUP}/networkSecurityGroups/web1-nsg")["rules"]
    web = [x for x in rules if x["name"] == "AllowWeb"]
    assert len(web) == 1 and web[0]["destinationPortRange"] == "80" and \
        web[0]["priority"] == 1010, rules  # the bad port was never stored
    log = k.request("GET", f"/v1/resourceGroups/{GROUP}/virtualMachines/web1/bootDiagnostics")
    assert "kumo-42-ok" in log.raw, "the console's command ran in the guest"
    shots = sorted(p.name for p in SHOTS.glob("*.png"))
    assert len(shots) >= 23 and all((SHOTS / s).stat().st_size > 5000 for s in shots), shots


# ---------------------------------------------------------------------------
# refusals (no browser)


def session_of(k, origin=None):
    """Sign in: (cookie header value, CSRF token)."""
    origin = origin or f"http://127.0.0.1:{k.port}"
    r = k.request("POST", "/portal/api/session", {"token": k.token}, token=None,
                  headers={"Origin": origin})
    assert r.status == 201, r
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie, cookie
    return cookie.split(";")[0], r.json["csrfToken"]


def ws_handshake(k, path, headers):
    """Send a WebSocket handshake; the status line and headers of the answer."""
    s = socket.create_connection(("127.0.0.1", k.port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    h = {"Host": f"127.0.0.1:{k.port}", "Upgrade": "websocket", "Connection": "Upgrade",
         "Sec-WebSocket-Key": key, "Sec-WebSocket-Version": "13", **headers}
    req = f"GET {path} HTTP/1.1\r\n" + "".join(f"{a}: {b}\r\n" for a, b in h.items()) + "\r\n"
    s.sendall(req.encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    s.close()
    return data.decode(errors="replace")


def test_portal_refuses(kumod_factory):  # noqa: F811 - pytest's fixture
    k = kumod_factory()
    portal_built(k)
    me = f"http://127.0.0.1:{k.port}"
    groups = "/v1/resourceGroups"

    # the pages: security headers, no inline script allowed
    r = k.request("GET", "/portal/vms/a/b/console", token=None)
    assert r.status == 200 and "<div id=\"app\">" in r.raw, r
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "unsafe-eval" not in csp and \
        "connect-src 'self'" in csp and "frame-ancestors 'none'" in csp, csp
    assert "<script>" not in r.raw and "<script type=\"module\" crossorigin src=" in r.raw, r.raw
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    r = k.request("GET", "/", token=None)
    assert r.status == 302 and r.headers["Location"] == "/portal/", r

    # sign-in: a wrong token, another site, no Origin, the token in a URL
    r = k.request("POST", "/portal/api/session", {"token": "0" * 64}, token=None,
                  headers={"Origin": me})
    assert r.status == 401 and r.json["error"]["target"] == "token" and \
        "Set-Cookie" not in r.headers, r
    for origin in ("http://evil.example", None):
        h = {"Origin": origin} if origin else {}
        r = k.request("POST", "/portal/api/session", {"token": k.token}, token=None, headers=h)
        assert r.status == 403 and r.code == "Forbidden" and "Set-Cookie" not in r.headers, r
    r = k.request("GET", f"/portal/api/session?token={k.token}", token=None)
    assert r.status == 401, r  # a token in the URL signs nobody in

    cookie, csrf = session_of(k)
    r = k.request("GET", "/portal/api/session", token=None, headers={"Cookie": cookie})
    assert r.status == 200 and r.json["csrfToken"] == csrf, r

    # the API with the session: reads need the cookie only
    assert k.request("GET", groups, token=None).status == 401
    r = k.request("GET", groups, token=None, headers={"Cookie": cookie})
    assert r.status == 200, r
    r = k.request("GET", groups, token=None, headers={"Cookie": "kumo_session=" + "a" * 64})
    assert r.status == 401 and "sign in again" in r.message, r
    # DNS rebinding: the right cookie, a foreign host name
    r = k.request("GET", groups, token=None,
                  headers={"Cookie": cookie, "Host": f"evil.example:{k.port}"})
    assert r.status == 403 and "Host" in r.message, r

    # changes need the CSRF token and the portal's origin
    body = {"name": "made-by-session"}
    cases = [({"Origin": me}, "missing"),
             ({"Origin": me, "X-CSRF-Token": "0" * 64}, "does not match"),
             ({"Origin": me, "X-CSRF-Token": csrf[:-1]}, "does not match"),
             ({"Origin": "http://evil.example", "X-CSRF-Token": csrf}, "another site"),
             ({"X-CSRF-Token": csrf}, "no Origin")]
    for h, words in cases:
        r = k.request("POST", groups, body, token=None, headers={"Cookie": cookie, **h})
        assert r.status == 403 and r.code == "Forbidden" and words in r.message, (h, r)
    assert k.request("GET", f"{groups}/made-by-session").status == 404  # nothing was made
    r = k.request("POST", groups, body, token=None,
                  headers={"Cookie": cookie, "Origin": me, "X-CSRF-Token": csrf})
    assert r.status == 201, r
    # the bearer token works as before, with or without a cookie
    assert k.request("DELETE", f"{groups}/made-by-session",
                     headers={"Cookie": cookie}).status == 204

    # the console's WebSocket: session, origin and CSRF token, and a VM
    path = f"/portal/api/console/{GROUP}/nothere"
    good = {"Cookie": cookie, "Origin": me, "Sec-WebSocket-Protocol": f"kumo.console, csrf.{csrf}"}
    for change, status in [({"Cookie": "kumo_session=" + "b" * 64}, "401"),
                           ({"Origin": "http://evil.example"}, "403"),
                           ({"Sec-WebSocket-Protocol": "kumo.console, csrf." + "0" * 64}, "403"),
                           ({"Sec-WebSocket-Protocol": "kumo.console"}, "403"),
                           ({}, "404")]:
        head = ws_handshake(k, path, {**good, **change})
        assert head.startswith(f"HTTP/1.1 {status}") and "Sec-WebSocket-Accept" not in head, \
            (change, head)

    # a service principal signs in with its appId and secret, and may not do
    # the operator's part; deleting it ends its sessions at once
    sp = k.ok("POST", "/v1/servicePrincipals", {"name": "portal-sp"})
    r = k.request("POST", "/portal/api/session", {"appId": sp["appId"], "secret": "x" * 40},
                  token=None, headers={"Origin": me})
    assert r.status == 401 and r.json["error"]["target"] == "secret", r
    r = k.request("POST", "/portal/api/session", {"appId": sp["appId"], "secret": sp["secret"]},
                  token=None, headers={"Origin": me})
    assert r.status == 201 and r.json["principal"] == {"type": "servicePrincipal",
                                                       "appId": sp["appId"]}, r
    hs = {"Cookie": r.headers["Set-Cookie"].split(";")[0], "Origin": me,
          "X-CSRF-Token": r.json["csrfToken"]}
    assert k.request("POST", groups, {"name": "sp-group"}, token=None, headers=hs).status == 201
    assert k.request("GET", "/v1/sizes", token=None, headers=hs).status == 200
    for method, path, body in [("POST", "/v1/sizes", TINY), ("GET", "/v1/servicePrincipals", None),
                               ("PATCH", "/v1/hosts/x", {"cpus": 64}),
                               ("POST", "/v1/images", {"name": "i", "source": "/etc/passwd"})]:
        r = k.request(method, path, body, token=None, headers=hs)
        assert r.status == 403 and "operator" in r.message, (path, r)
    assert k.request("GET", "/v1/sizes/Tiny").status == 404  # nothing was made
    assert k.request("DELETE", f"/v1/servicePrincipals/{sp['appId']}").status == 204
    r = k.request("GET", groups, token=None, headers=hs)
    assert r.status == 401 and "deleted" in r.message, r

    # sign-out ends the session on the server, not only in the browser
    r = k.request("DELETE", "/portal/api/session", token=None,
                  headers={"Cookie": cookie, "Origin": me, "X-CSRF-Token": csrf})
    assert r.status == 204 and "Max-Age=0" in r.headers["Set-Cookie"], r
    assert k.request("GET", groups, token=None, headers={"Cookie": cookie}).status == 401
    conn = http.client.HTTPConnection("127.0.0.1", k.port, timeout=10)
    conn.request("GET", "/portal/assets/nothere.js")
    assert conn.getresponse().status == 404
    conn.close()
