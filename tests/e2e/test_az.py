"""kumod's Azure Resource Manager endpoint driven by the real az CLI (Debian's
azure-cli 2.45.0): cloud registration, service principal login, and what az
prints when it is refused (docs/azure.md).

Each test gets its own kumod (--arm on a free port) in a temporary data
directory and its own AZURE_CONFIG_DIR; az's telemetry is off and its
version check pre-seeded, so az talks to nothing but kumod.

Environment: KUMO_BUILD (build directory with kumod, kumo and kumo-vmm),
KUMO_GUEST_DIR (the default guest; else guest/build.sh's cache).
"""
import base64
import hashlib
import hmac
import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import time

import pytest

from conftest import BUILD
from test_cloud import free_port, kumod_factory  # noqa: F401 - the fixture

KUMO = BUILD / "kumo"
AZ = shutil.which("az")


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


class Az:
    """az with its own configuration directory, trusting one kumod's CA."""

    def __init__(self, k, config_dir):
        self.k, self.dir = k, config_dir
        self.env = dict(os.environ, AZURE_CONFIG_DIR=str(config_dir),
                        REQUESTS_CA_BUNDLE=str(k.data / "arm" / "ca.crt"),
                        AZURE_CORE_COLLECT_TELEMETRY="false", AZURE_CORE_NO_COLOR="1")
        self.env.pop("AZURE_CLI_DISABLE_CONNECTION_VERIFICATION", None)
        config_dir.mkdir(exist_ok=True)
        # az's first-run connectivity probe (azure.microsoft.com) is skipped
        # when a version check is recorded
        (config_dir / "versionCheck.json").write_text(json.dumps({
            "versions": {"azure-cli": {"local": "2.45.0"}, "core": {"local": "2.45.0"},
                         "telemetry": {"local": "1.0.8"}},
            "update_time": "2099-01-01 00:00:00.000000"}))

    def run(self, *args, check=True, timeout=300):
        r = subprocess.run([AZ, *args], env=self.env, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError(f"az {' '.join(args)} failed ({r.returncode}):\n{r.stderr}\n"
                                 f"kumod log:\n{self.k.log_text()}")
        return r

    def json(self, *args, **kw):
        r = self.run(*args, "-o", "json", **kw)
        return json.loads(r.stdout) if r.stdout.strip() else None

    def register(self):
        self.run("cloud", "register", "-n", "kumo", "--endpoint-resource-manager",
                 f"https://127.0.0.1:{self.k.arm_port}/", "--profile", "2020-09-01-hybrid")
        self.run("cloud", "set", "-n", "kumo")

    def login(self, sp):
        return self.json("login", "--service-principal", "-u", sp["appId"], "-p", sp["secret"],
                         "--tenant", sp["tenantId"])


def kumo(k, *args, check=True):
    r = subprocess.run([str(KUMO), "--data-dir", str(k.data), *args], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=60)
    if check and r.returncode != 0:
        raise AssertionError(f"kumo {' '.join(args)} failed ({r.returncode}):\n{r.stderr}")
    return r


@pytest.fixture
def arm(kumod_factory, tmp_path):  # noqa: F811 - pytest fixture
    if not AZ:
        pytest.fail("az is not installed: scripts/deps.sh installs Debian's azure-cli")
    port = free_port()
    k = kumod_factory(["--arm", f"127.0.0.1:{port}"])
    k.arm_port = port
    return k


def https(k, method, path, token=None, body=None, headers=None):
    """A raw request to the ARM endpoint, verifying kumod's certificate."""
    ctx = ssl.create_default_context(cafile=str(k.data / "arm" / "ca.crt"))
    conn = http.client.HTTPSConnection("127.0.0.1", k.arm_port, context=ctx, timeout=60)
    h = dict(headers or {})
    if token:
        h["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    conn.request(method, path, body=data, headers=h)
    r = conn.getresponse()
    raw = r.read().decode()
    conn.close()
    return r.status, dict(r.getheaders()), (json.loads(raw) if raw else None)


def forged_token(k, app_id, exp, tenant="t"):
    """A token signed with this kumod's key (the test reads it from the data
    directory), e.g. one that has already expired."""
    key = bytes.fromhex((k.data / "arm" / "signing.key").read_text().strip())
    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    now = int(time.time())
    claims = {"aud": "https://management.kumo.local/", "appid": app_id, "exp": exp,
              "iat": now - 7200, "nbf": now - 7200, "tid": tenant}
    body = b64url(json.dumps(claims, separators=(",", ":")).encode())
    sig = hmac.new(key, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64url(sig)}"


def test_register_login_and_refusals(arm, tmp_path):
    k = arm
    sp = json.loads(kumo(k, "sp", "create", "-n", "ci", "-o", "json").stdout)
    assert len(sp["secret"]) == 40 and sp["appId"] and sp["tenantId"]
    # the secret is not stored, only its hash
    assert sp["secret"].encode() not in (k.data / "kumod.db").read_bytes()
    az = Az(k, tmp_path / "az")
    az.register()  # GET //metadata/endpoints over TLS, trusting kumod's CA
    cloud = az.json("cloud", "show", "-n", "kumo")
    assert cloud["endpoints"]["activeDirectory"] == f"https://127.0.0.1:{k.arm_port}/adfs"
    assert cloud["profile"] == "2020-09-01-hybrid"
    subs = az.login(sp)
    assert [s["id"] for s in subs] == [sp["subscriptionId"]]
    assert subs[0]["tenantId"] == sp["tenantId"] and subs[0]["state"] == "Enabled"
    shown = az.json("account", "show")
    assert shown["user"] == {"name": sp["appId"], "type": "servicePrincipal"}
    sub = az.json("rest", "--method", "get", "--url",
                  "/subscriptions/{subscriptionId}?api-version=2016-06-01")
    assert sub["subscriptionId"] == sp["subscriptionId"] and sub["displayName"] == "kumo"
    listed = json.loads(kumo(k, "sp", "list", "-o", "json").stdout)
    assert listed[0]["name"] == "ci" and listed[0]["lastTokenAt"]

    # a wrong secret: az shows the token endpoint's error and fails
    bad = Az(k, tmp_path / "az-bad")
    bad.register()
    r = bad.run("login", "--service-principal", "-u", sp["appId"], "-p", "not-the-secret",
                "--tenant", sp["tenantId"], check=False)
    assert r.returncode != 0 and "AADSTS7000215: Invalid client secret provided" in r.stderr, r
    r = bad.run("login", "--service-principal", "-u", "00000000-0000-0000-0000-0000000000ff",
                "-p", "x", "--tenant", sp["tenantId"], check=False)
    assert r.returncode != 0 and "AADSTS700016" in r.stderr and "not found" in r.stderr, r

    # no token, a token kumod did not sign, an expired one: 401 with ARM's body
    path = f"/subscriptions/{sp['subscriptionId']}?api-version=2016-06-01"
    st, h, body = https(k, "GET", path)
    assert st == 401 and body["error"]["code"] == "AuthenticationFailed", body
    assert h["WWW-Authenticate"].startswith("Bearer authorization_uri=")
    st, _, body = https(k, "GET", path, token="opaque-123")
    assert st == 401 and body["error"]["code"] == "InvalidAuthenticationToken", body
    st, _, body = https(k, "GET", path, token=forged_token(k, sp["appId"], int(time.time()) + 600))
    assert st == 200 and body["subscriptionId"] == sp["subscriptionId"]
    expired = forged_token(k, sp["appId"], int(time.time()) - 5)
    st, _, body = https(k, "GET", path, token=expired)
    assert st == 401 and body["error"]["code"] == "ExpiredAuthenticationToken", body
    assert "is earlier than current UTC time" in body["error"]["message"]

    # az itself with an expired token in its cache (as if the clock had
    # passed its expiry before MSAL noticed): it prints ARM's error
    cache = tmp_path / "az" / "msal_token_cache.json"
    c = json.loads(cache.read_text())
    for entry in c["AccessToken"].values():
        entry["secret"] = expired
    cache.write_text(json.dumps(c))
    r = az.run("rest", "--method", "get", "--url", "/subscriptions?api-version=2016-06-01",
               check=False)
    assert r.returncode != 0 and "ExpiredAuthenticationToken" in r.stderr, r.stderr

    # a revoked principal: its tokens stop working at once
    fresh = forged_token(k, sp["appId"], int(time.time()) + 600)
    kumo(k, "sp", "delete", "ci", "--yes")
    st, _, body = https(k, "GET", path, token=fresh)
    assert st == 401 and "no longer exists" in body["error"]["message"], body
    r = kumo(k, "sp", "delete", "ci", "--yes", check=False)
    assert r.returncode == 3 and "not found" in r.stderr


def test_az_login_recipe_and_config_dir(arm, tmp_path):
    k = arm
    out = kumo(k, "az-login", "--sp-name", "recipe").stdout
    assert "--profile 2020-09-01-hybrid" in out and "REQUESTS_CA_BUNDLE" in out
    env = dict(os.environ, AZURE_CONFIG_DIR=str(tmp_path / "az1"))
    (tmp_path / "az1").mkdir()
    r = subprocess.run(["bash", "-c", out + "\naz account show -o json"], env=env,
                       capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["user"]["type"] == "servicePrincipal"
    # a ready configuration directory: no register, no login
    kumo(k, "az-login", "--sp-name", "dir", "--config-dir", str(tmp_path / "az2"))
    env = dict(os.environ, AZURE_CONFIG_DIR=str(tmp_path / "az2"),
               REQUESTS_CA_BUNDLE=str(k.data / "arm" / "ca.crt"))
    r = subprocess.run([AZ, "rest", "--method", "get", "--url",
                        "/subscriptions/{subscriptionId}?api-version=2016-06-01", "-o", "json"],
                       env=env, capture_output=True, text=True, timeout=300,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["state"] == "Enabled"
    assert r.stderr == "", r.stderr  # nothing odd printed (a complete version check)


def test_tls_certificates(kumod_factory, tmp_path):  # noqa: F811 - pytest fixture
    port = free_port()
    k = kumod_factory(["--arm", f"127.0.0.1:{port}"])
    k.arm_port = port
    ca = (k.data / "arm" / "ca.crt").read_bytes()
    assert (k.data / "arm" / "ca.key").stat().st_mode & 0o777 == 0o600
    assert (k.data / "arm" / "server.key").stat().st_mode & 0o777 == 0o600
    assert f"ARM CA certificate (new): {k.data}/arm/ca.crt" in k.log_text()
    st, _, body = https(k, "GET", "//metadata/endpoints?api-version=2015-01-01")
    assert st == 200 and body["authentication"]["loginEndpoint"].endswith("/adfs")
    # a name the certificate does not hold is refused by a verifying client
    ctx = ssl.create_default_context(cafile=str(k.data / "arm" / "ca.crt"))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with pytest.raises(ssl.SSLCertVerificationError):
            ctx.wrap_socket(raw, server_hostname="not-kumo.example")
    # a restart keeps the CA (clients keep trusting it) and its server certificate
    k.stop()
    k.start()
    assert (k.data / "arm" / "ca.crt").read_bytes() == ca
    lines = [ln for ln in k.log_text().splitlines() if "ARM CA certificate" in ln]
    assert len(lines) == 2 and "(new)" in lines[0] and "(new)" not in lines[1], lines
