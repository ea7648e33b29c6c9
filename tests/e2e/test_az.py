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
import urllib.request

import pytest

from conftest import BUILD
from test_cloud import free_port, kumod_factory, vmm_pids  # noqa: F401 - the fixture

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


# ---------------------------------------------------------------------------
# The resources, with the real az (docs/azure.md, "What the endpoint serves")
# ---------------------------------------------------------------------------

# a public key az accepts (the one az itself sent in the reference recording)
PUBKEY = ("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC728VC0Vj1lg9LTPhh9ErMwFq2nQWoEz24CuZs+nwFsdl/"
          "UMHEc2JEyEESikB76w8NjDu4Iy/wqp3JzIYj/QwwpBaCq5VU38bXxbmhXsLECUeQSqmRbh81nrtwMWJTLknv4"
          "spczW//NvCogGXL/c+xDtmOFPiycb1LVSjbiqGO+U+TbUfiLZbGPsYMrw/HbuuWRmFLr6rZuvCfOVgfPFTuqW"
          "SB+uyplOPOGKdq17w/hapZEnvufWC6PF3pwvky7POBgsICBchI3YKIjysR8zKkBp/ilN2JBIc9pYWACyE2Rp0h"
          "p/gM9wvm9da48wljXrVQGTCrIhs4TQMJkxg6vJe5 test@kumo")


@pytest.fixture
def azk(arm, tmp_path):
    """A kumod with its ARM endpoint and an az logged in to it (a ready
    AZURE_CONFIG_DIR from `kumo az-login --config-dir`: no register, no
    login round trips)."""
    k = arm
    cfg = tmp_path / "azcfg"
    kumo(k, "az-login", "--sp-name", "e2e", "--config-dir", str(cfg))
    az = Az(k, cfg)
    # a key pair of the test's own: az gives its public half to the VM's
    # admin account, `kumo vm ssh` logs in with the private one
    az.home = tmp_path / "home"
    az.home.mkdir()
    az.priv = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "az@kumo", "-f",
                    str(az.priv)], check=True)
    az.pub = (tmp_path / "id_ed25519.pub").read_text().strip()
    az.key = f"@{tmp_path / 'id_ed25519.pub'}"
    return k, az


def kjson(k, *args):
    return json.loads(kumo(k, *args, "-o", "json").stdout)


def fails(r, *texts):
    """az failed (exit status not 0) and said each of texts."""
    assert r.returncode != 0, r.stdout
    for t in texts:
        assert t in r.stderr, (t, r.stderr)


def wait_boots(k, group, vm, count, timeout=300):
    """Wait until the VM's console log holds `count` boot lines of the
    default guest (`kumo vm log`)."""
    deadline = time.time() + timeout
    while True:
        log = kumo(k, "vm", "log", "-g", group, vm).stdout
        if log.count("kumo guest: booted") >= count:
            return log
        assert time.time() < deadline, f"{vm} did not boot ({count}):\n{log[-2000:]}"
        time.sleep(0.5)


def ssh_until(k, az, group, vm, *command, timeout=300):
    """`kumo vm ssh` (the VM's public IP, its admin user) with az's key until
    the login is accepted (sshd starts a moment after the guest reported its
    provisioning); the last result."""
    env = dict(os.environ, HOME=str(az.home))
    deadline = time.time() + timeout
    while True:
        r = subprocess.run([str(KUMO), "--data-dir", str(k.data), "vm", "ssh", "-g", group, vm,
                            "--ssh-arg=-oBatchMode=yes", "--ssh-arg=-oConnectTimeout=30",
                            "--ssh-arg=-oIdentitiesOnly=yes", "-i", str(az.priv), "--", *command],
                           env=env, capture_output=True, text=True, timeout=120,
                           stdin=subprocess.DEVNULL)
        if r.returncode != 255 or time.time() > deadline:
            return r
        time.sleep(2)


def http_get(port, tries=40):
    for _ in range(tries):
        try:
            return urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=3).read().decode()
        except OSError:
            time.sleep(0.25)
    return None


def test_groups_networks_disks_and_group_delete(azk):
    k, az = azk
    g = az.json("group", "create", "-n", "rg1", "-l", "local", "--tags", "team=kumo")
    assert g["properties"]["provisioningState"] == "Succeeded" and g["tags"] == {"team": "kumo"}
    assert az.json("group", "create", "-n", "rg1", "-l", "local")["name"] == "rg1"  # PUT again
    assert [x["name"] for x in az.json("group", "list")] == ["rg1"]
    assert az.json("group", "show", "-n", "rg1")["location"] == "local"
    assert az.run("group", "exists", "-n", "rg1").stdout.strip() == "true"
    assert az.run("group", "exists", "-n", "nope").stdout.strip() == "false"
    fails(az.run("group", "create", "-n", "rg2", "-l", "westeurope", check=False),
          "LocationNotAvailableForResourceType", "'local'")
    fails(az.run("group", "show", "-n", "nope", check=False), "ResourceGroupNotFound")
    assert [x["name"] for x in kjson(k, "group", "list")] == ["rg1"]  # the same model

    # virtual networks: the same as kumo's own, with kumod's rules
    v = az.json("network", "vnet", "create", "-g", "rg1", "-n", "v1", "--address-prefix",
                "10.1.0.0/16", "--subnet-name", "s1", "--subnet-prefix", "10.1.0.0/24")["newVNet"]
    assert v["addressSpace"]["addressPrefixes"] == ["10.1.0.0/16"]
    assert [(s["name"], s["addressPrefix"]) for s in v["subnets"]] == [("s1", "10.1.0.0/24")]
    assert [x["name"] for x in az.json("network", "vnet", "list", "-g", "rg1")] == ["v1"]
    assert "v1" in az.run("network", "vnet", "list", "-g", "rg1", "-o", "table").stdout
    assert kjson(k, "vnet", "show", "-g", "rg1", "v1")["addressSpaces"] == ["10.1.0.0/16"]
    fails(az.run("network", "vnet", "subnet", "create", "-g", "rg1", "--vnet-name", "v1", "-n",
                 "s2", "--address-prefixes", "10.9.0.0/24", check=False), "10.9.0.0/24")
    assert [s["name"] for s in kjson(k, "vnet", "show", "-g", "rg1", "v1")["subnets"]] == ["s1"]
    s2 = az.json("network", "vnet", "subnet", "create", "-g", "rg1", "--vnet-name", "v1", "-n",
                 "s2", "--address-prefixes", "10.1.1.0/24")
    assert s2["addressPrefix"] == "10.1.1.0/24"

    # an NSG and a rule; kumo's default rules shown as ARM's
    nsg = az.json("network", "nsg", "create", "-g", "rg1", "-n", "n1")["NewNSG"]
    assert len(nsg["defaultSecurityRules"]) == 6 and nsg["securityRules"] == []
    rule = az.json("network", "nsg", "rule", "create", "-g", "rg1", "--nsg-name", "n1", "-n", "web",
                   "--priority", "200", "--destination-port-ranges", "80", "8080", "--access",
                   "Allow", "--protocol", "Tcp")
    assert rule["destinationPortRanges"] == ["80", "8080"] and rule["priority"] == 200
    rules = kjson(k, "nsg", "show", "-g", "rg1", "n1")["rules"]
    assert [(r["name"], r["priority"], r["destinationPortRange"]) for r in rules] == \
        [("web", 200, "80,8080")]
    fails(az.run("network", "nsg", "rule", "create", "-g", "rg1", "--nsg-name", "n1", "-n", "low",
                 "--priority", "50", "--destination-port-ranges", "22", check=False), "priority")
    fails(az.run("network", "nsg", "rule", "create", "-g", "rg1", "--nsg-name", "n1", "-n", "dup",
                 "--priority", "200", "--destination-port-ranges", "22", check=False),
          "already has priority 200")
    assert len(kjson(k, "nsg", "show", "-g", "rg1", "n1")["rules"]) == 1  # nothing half made

    pip = az.json("network", "public-ip", "create", "-g", "rg1", "-n", "p1", "--sku",
                  "Standard")["publicIp"]
    assert pip["sku"]["name"] == "Standard" and pip["ipAddress"] == "127.0.0.1"
    assert kjson(k, "public-ip", "show", "-g", "rg1", "p1")["name"] == "p1"

    # managed disks: az's SKUs are kumo's tiers
    d = az.json("disk", "create", "-g", "rg1", "-n", "d1", "--size-gb", "2", "--sku", "Premium_LRS")
    assert (d["diskSizeGb"], d["sku"]["name"], d["provisioningState"]) == (2, "Premium_LRS",
                                                                          "Succeeded")
    kd = kjson(k, "disk", "show", "-g", "rg1", "d1")
    assert (kd["tier"], kd["sizeGiB"]) == ("Premium_SSD", 2)
    assert [x["name"] for x in az.json("disk", "list", "-g", "rg1")] == ["d1"]
    fails(az.run("disk", "create", "-g", "rg1", "-n", "d2", "--size-gb", "99999", check=False),
          "99999")
    assert [x["name"] for x in az.json("disk", "list", "-g", "rg1")] == ["d1"]

    # a snapshot of it (a job: az follows the operation), and a disk made from that
    snap = az.json("snapshot", "create", "-g", "rg1", "-n", "s1", "--source", "d1")
    assert (snap["name"], snap["provisioningState"], snap["diskSizeGb"]) == ("s1", "Succeeded", 2)
    ks = kjson(k, "snapshot", "show", "-g", "rg1", "s1")
    assert (ks["provisioningState"], ks["sourceDisk"]) == ("Succeeded", "d1")
    assert [x["name"] for x in az.json("snapshot", "list", "-g", "rg1")] == ["s1"]
    d5 = az.json("disk", "create", "-g", "rg1", "-n", "d5", "--source", "s1")
    assert (d5["diskSizeGb"], d5["provisioningState"]) == (2, "Succeeded")
    assert kjson(k, "disk", "show", "-g", "rg1", "d5")["source"] == {"snapshot": "s1"}
    sub = az.json("account", "show")["id"]
    gone = f"/subscriptions/{sub}/resourceGroups/rg1/providers/Microsoft.Compute/disks/nosuchdisk"
    fails(az.run("snapshot", "create", "-g", "rg1", "-n", "s2", "--source", gone, check=False),
          "nosuchdisk")
    assert [x["name"] for x in az.json("snapshot", "list", "-g", "rg1")] == ["s1"]
    az.run("disk", "delete", "-g", "rg1", "-n", "d5", "-y")
    az.run("snapshot", "delete", "-g", "rg1", "-n", "s1")
    assert az.json("snapshot", "list", "-g", "rg1") == []

    az.run("disk", "delete", "-g", "rg1", "-n", "d1", "-y")
    assert az.json("disk", "list", "-g", "rg1") == []

    # the images az can name: publisher, offer, SKU and version of each
    images = az.json("vm", "image", "list", "-l", "local", "--all")
    urns = {i["urn"] for i in images}
    assert any(u.lower().startswith("kumo:") for u in urns), images
    for i in images:
        assert az.json("vm", "image", "show", "--urn", i["urn"], "-l", "local")["name"] == \
            i["version"]

    # a group's delete takes what it holds with it
    az.run("disk", "create", "-g", "rg1", "-n", "d3", "--size-gb", "1")
    az.run("group", "delete", "-n", "rg1", "-y")
    assert az.json("group", "list") == [] and kjson(k, "group", "list") == []
    assert not list((k.data / "disks").iterdir())


def test_vm_create_boot_filter_lifecycle_and_errors(azk):
    k, az = azk
    az.run("group", "create", "-n", "rg", "-l", "local")
    t0 = time.time()
    out = az.json("vm", "create", "-g", "rg", "-n", "vm1", "--image", "kumo:default:default:latest",
                  "--size", "Standard_B1ls", "--admin-username", "azureuser", "--ssh-key-values",
                  az.key, "--public-ip-sku", "Standard", "--os-disk-caching", "ReadOnly")
    assert out["powerState"] == "VM running", out
    assert (out["privateIpAddress"], out["publicIpAddress"]) == ("10.0.0.4", "127.0.0.1"), out
    print(f"\n[measure] az vm create -> running {time.time() - t0:.2f} s")
    log = wait_boots(k, "rg", "vm1", 1)  # the guest really booted: its console says so
    assert "kumo guest: eth0 10.0.0.4/24" in log

    # one model: kumo sees az's VM with its network, az sees kumo's
    kvm = kjson(k, "vm", "show", "-g", "rg", "vm1")
    assert (kvm["size"], kvm["powerState"]) == ("B1ls", "Running")
    assert kvm["networkInterfaces"][0]["name"] == "vm1VMNic"
    assert kjson(k, "nic", "show", "-g", "rg", "vm1VMNic")["nsg"] == "vm1NSG"
    kumo(k, "vm", "create", "-g", "rg", "-n", "kvm", "--size", "B1ls", "--vnet", "vm1VNET",
         "--subnet", "vm1Subnet", "--no-wait")
    assert sorted(v["name"] for v in az.json("vm", "list", "-g", "rg")) == ["kvm", "vm1"]
    assert "kvm" in [v["name"] for v in az.json("vm", "list")]
    shown = az.json("vm", "list", "-d", "-g", "rg", "--query", "[?name=='vm1']")[0]
    assert (shown["powerState"], shown["publicIps"]) == ("VM running", "127.0.0.1")
    vm = az.json("vm", "show", "-g", "rg", "-n", "vm1")
    assert vm["hardwareProfile"]["vmSize"] == "Standard_B1ls"
    assert vm["osProfile"]["adminUsername"] == "azureuser"
    assert vm["osProfile"]["linuxConfiguration"]["ssh"]["publicKeys"][0]["keyData"] == az.pub
    assert vm["storageProfile"]["imageReference"]["publisher"] == "kumo"
    # the host caching az asked for is the disk's, in both views; kumo's VM
    # shows its OS disk's default
    osd = vm["storageProfile"]["osDisk"]
    assert osd["caching"] == "ReadOnly", osd
    assert kjson(k, "disk", "show", "-g", "rg", osd["name"])["caching"] == "ReadOnly"
    assert az.json("vm", "show", "-g", "rg", "-n", "kvm")["storageProfile"]["osDisk"][
        "caching"] == "ReadWrite"
    # az's osProfile is kumo's OS profile: the account and key are in the
    # guest, and kumo vm ssh logs in with them
    assert kvm["osProfile"]["adminUsername"] == "azureuser" and \
        kvm["osProfile"]["sshPublicKeys"] == [az.pub], kvm["osProfile"]
    r = ssh_until(k, az, "rg", "vm1", "id -un; exit 3")
    assert r.returncode == 3 and r.stdout.split() == ["azureuser"], (r.returncode, r.stdout,
                                                                      r.stderr)

    # the NSG az made filters the guest's traffic: 80 is closed, a rule opens it,
    # a deny rule of a higher priority closes it again
    pip = kjson(k, "public-ip", "show", "-g", "rg", "vm1PublicIP")
    port = {p["port"]: p["hostPort"] for p in pip["ports"]}[80]
    wait_boots(k, "rg", "vm1", 1)
    deadline = time.time() + 60
    while "vm1:~# " not in kumo(k, "vm", "log", "-g", "rg", "vm1").stdout:
        assert time.time() < deadline, "no shell prompt on vm1's console"
        time.sleep(0.2)
    r = subprocess.run([str(KUMO), "--data-dir", str(k.data), "vm", "console", "-g", "rg", "vm1",
                        "--linger", "1"], capture_output=True, text=True, timeout=120,
                       input="mkdir -p /tmp/w && echo hello-from-az > /tmp/w/index.html && "
                             "httpd -p 80 -h /tmp/w && echo started-$((6*7))\n")
    assert "started-42" in r.stdout, r
    assert http_get(port, tries=8) is None  # DenyAllInBound: only 22 is allowed
    az.run("network", "nsg", "rule", "create", "-g", "rg", "--nsg-name", "vm1NSG", "-n", "web",
           "--priority", "1010", "--destination-port-ranges", "80", "--access", "Allow",
           "--protocol", "Tcp")
    assert "hello-from-az" in (http_get(port) or "")
    az.run("network", "nsg", "rule", "create", "-g", "rg", "--nsg-name", "vm1NSG", "-n", "deny80",
           "--priority", "900", "--destination-port-ranges", "80", "--access", "Deny",
           "--protocol", "Tcp")
    time.sleep(1)
    assert http_get(port, tries=8) is None
    # az vm open-port: a rule in the VM's NSG, as az makes it
    az.run("vm", "open-port", "-g", "rg", "-n", "vm1", "--port", "8080", "--priority", "1020")
    rules = kjson(k, "nsg", "show", "-g", "rg", "vm1NSG")["rules"]
    assert [(r["name"], r["access"], r["destinationPortRange"]) for r in rules
            if r["priority"] == 1020] == [("open-port-8080", "Allow", "8080")], rules

    # az vm run-command: a script with its parameters ($1, $2; named ones in the
    # environment too), run as root by the guest's agent; a non-zero exit
    # still "succeeds", as on Azure, and the run is kumo's
    out = az.json("vm", "run-command", "invoke", "-g", "rg", "-n", "vm1", "--command-id",
                  "RunShellScript", "--scripts", 'echo "$1-$(id -u)-$((6*7))" >&2',
                  'echo "$2 $who"; exit 3', "--parameters", "hello", "who=world")
    st = out["value"][0]
    assert st["code"] == "ProvisioningState/succeeded", out
    assert st["message"].startswith("Enable succeeded: \n[stdout]\nworld world\n"), st
    assert "[stderr]\nhello-0-42\n" in st["message"], st
    runs = kjson(k, "vm", "run-commands", "-g", "rg", "vm1")
    assert [r["exitCode"] for r in runs] == [3], runs
    r = az.run("vm", "run-command", "invoke", "-g", "rg", "-n", "vm1", "--command-id",
               "RunPowerShellScript", "--scripts", "Get-Date", check=False)
    assert r.returncode != 0 and "RunShellScript" in r.stderr, r
    r = az.run("vm", "run-command", "invoke", "-g", "rg", "-n", "vm1", "--command-id",
               "RunShellScript", "--scripts", "#" + "x" * 17000, check=False)
    assert r.returncode != 0 and "at most 16384" in r.stderr, r

    # the instance view and the power actions
    def states():
        iv = az.json("vm", "get-instance-view", "-g", "rg", "-n", "vm1")
        return [s["code"] for s in iv["instanceView"]["statuses"]]
    assert states() == ["ProvisioningState/succeeded", "PowerState/running"]
    az.run("vm", "stop", "-g", "rg", "-n", "vm1")
    assert states()[1] == "PowerState/stopped"
    assert kjson(k, "vm", "show", "-g", "rg", "vm1")["powerState"] == "Stopped"
    az.run("vm", "start", "-g", "rg", "-n", "vm1")
    assert states()[1] == "PowerState/running"
    wait_boots(k, "rg", "vm1", 2)
    az.run("vm", "restart", "-g", "rg", "-n", "vm1")
    wait_boots(k, "rg", "vm1", 3)
    az.run("vm", "deallocate", "-g", "rg", "-n", "vm1")
    assert states()[1] == "PowerState/deallocated"
    assert kjson(k, "vm", "show", "-g", "rg", "vm1")["powerState"] == "Deallocated"
    # resize: at once while deallocated; a running VM restarts into its new size
    r = az.json("vm", "resize", "-g", "rg", "-n", "vm1", "--size", "Standard_B1s")
    assert r["hardwareProfile"]["vmSize"] == "Standard_B1s"
    az.run("vm", "start", "-g", "rg", "-n", "vm1")
    r = az.json("vm", "resize", "-g", "rg", "-n", "vm1", "--size", "Standard_B1ms")
    assert r["hardwareProfile"]["vmSize"] == "Standard_B1ms"
    kvm = kjson(k, "vm", "show", "-g", "rg", "vm1")
    assert (kvm["size"], kvm["memoryMiB"], kvm["powerState"]) == ("B1ms", 2048, "Running")
    sizes = {s["name"]: s for s in az.json("vm", "list-sizes", "-l", "local")}
    assert sizes["Standard_B2s"]["memoryInMb"] == 4096 and sizes["Standard_B2s"]["numberOfCores"] == 2

    # refusals: az prints ARM's error, exits non-zero, nothing is made
    def resources():
        return sorted(r["id"].rsplit("/", 2)[1] + "/" + r["name"]
                      for r in az.json("resource", "list", "-g", "rg"))
    before = resources()
    r = az.run("vm", "create", "-g", "rg", "-n", "vm3", "--image", "kumo:default:default:latest",
               "--size", "Standard_Nope", "--admin-username", "azureuser", "--ssh-key-values",
               az.key, check=False)
    fails(r, "DeploymentFailed", "virtualMachines/vm3", "unknown size 'Nope'")
    r = az.run("vm", "create", "-g", "rg", "-n", "vm1", "--image", "kumo:default:default:latest",
               "--size", "Standard_B1ls", "--admin-username", "azureuser", "--ssh-key-values",
               az.key, check=False)
    fails(r, "Conflict", "virtualMachines/vm1", "already exists")
    r = az.run("vm", "create", "-g", "rg", "-n", "vm4", "--image", "kumo:nope:nope:latest",
               "--size", "Standard_B1ls", "--admin-username", "azureuser", "--ssh-key-values",
               az.key, check=False)
    assert r.returncode != 0 and "nope" in r.stderr.lower(), r.stderr
    # az's adminPassword reaches kumo's check of what the image can take (the
    # default image's SSH server takes keys only; e2e-images logs in to the
    # Debian image with a password)
    r = az.run("vm", "create", "-g", "rg", "-n", "vm5", "--image", "Default", "--size",
               "Standard_B1ls", "--admin-username", "azureuser", "--authentication-type",
               "password", "--admin-password", "Correct-Horse-9-Battery", check=False)
    fails(r, "virtualMachines/vm5", "cannot take a password")
    assert resources() == before

    # delete: the VM goes, its NIC, NSG and public IP stay (as on Azure) and a
    # new VM of the same name takes them up again; an alias names an image
    az.run("vm", "delete", "-g", "rg", "-n", "vm1", "-y")
    assert [v["name"] for v in az.json("vm", "list", "-g", "rg")] == ["kvm"]
    assert "vm1" not in [v["name"] for v in kjson(k, "vm", "list")]
    aliases = json.loads(urllib.request.urlopen(
        f"https://127.0.0.1:{k.arm_port}/aliases.json",
        context=ssl.create_default_context(cafile=str(k.data / "arm" / "ca.crt"))).read())
    linux = aliases["outputs"]["aliases"]["value"]["Linux"]
    assert linux["Default"]["offer"] == "default"
    create = ("vm", "create", "-g", "rg", "-n", "vm1", "--image", "Default", "--size",
              "Standard_B1ls", "--admin-username", "azureuser", "--ssh-key-values", az.key)
    # vm1NSG has the rules added above: the template's NSG is another one
    fails(az.run(*create, check=False), "vm1NSG", "differs from the template")
    assert resources() == [x for x in before if x != "virtualMachines/vm1"]
    for rule in ("web", "deny80", "open-port-8080"):
        az.run("network", "nsg", "rule", "delete", "-g", "rg", "--nsg-name", "vm1NSG", "-n", rule)
    out = az.json("vm", "create", "-g", "rg", "-n", "vm1", "--image", "Default", "--size",
                  "Standard_B1ls", "--admin-username", "azureuser", "--ssh-key-values", az.key)
    assert out["powerState"] == "VM running" and out["privateIpAddress"] == "10.0.0.4", out
    wait_boots(k, "rg", "vm1", 1)

    # the group's delete is a long operation that removes every VM and the rest
    az.run("group", "delete", "-n", "rg", "-y")
    assert az.json("group", "list") == [] and kjson(k, "vm", "list") == []
    assert not vmm_pids(k.data)


def test_vmss_scale_autoscale(azk):
    k, az = azk
    az.run("group", "create", "-n", "rg", "-l", "local")
    out = az.json("vmss", "create", "-g", "rg", "-n", "ss1", "--image", "Default", "--vm-sku",
                  "Standard_B1ls", "--instance-count", "2", "--admin-username", "azureuser",
                  "--ssh-key-values", az.key)
    assert out["VMSS"]["provisioningState"] == "Succeeded", out
    running = lambda: sorted(v["name"] for v in kjson(k, "vm", "list")  # noqa: E731
                             if v["powerState"] == "Running")
    assert running() == ["ss1_0", "ss1_1"]
    # every instance has the set's admin account: its guest made it and said so
    assert kjson(k, "vmss", "show", "-g", "rg", "ss1")["model"]["osProfile"]["adminUsername"] \
        == "azureuser"
    for name in running():
        osp = kjson(k, "vm", "show", "-g", "rg", name)["osProfile"]
        assert osp["adminUsername"] == "azureuser" and osp["sshPublicKeys"] == [az.pub], osp
        deadline = time.time() + 300
        while (kjson(k, "vm", "show", "-g", "rg", name)["osProvisioning"]["state"] != "Succeeded"
               and time.time() < deadline):
            time.sleep(2)
        assert kjson(k, "vm", "show", "-g", "rg", name)["osProvisioning"]["state"] == "Succeeded"
    assert len(az.json("vmss", "list-instances", "-g", "rg", "-n", "ss1")) == 2
    # az vmss run-command: a script in one instance, named by its instance id
    out = az.json("vmss", "run-command", "invoke", "-g", "rg", "-n", "ss1", "--instance-id", "1",
                  "--command-id", "RunShellScript", "--scripts", "echo in-$((6*7))")
    assert out["value"][0]["message"].startswith("Enable succeeded: \n[stdout]\nin-42\n"), out
    assert [r["exitCode"] for r in kjson(k, "vm", "run-commands", "-g", "rg", "ss1_1")] == [0]
    assert kjson(k, "vm", "run-commands", "-g", "rg", "ss1_0") == []
    fails(az.run("vmss", "run-command", "invoke", "-g", "rg", "-n", "ss1", "--instance-id", "7",
                 "--command-id", "RunShellScript", "--scripts", "true", check=False),
          "no instance '7'")
    assert az.json("network", "lb", "list", "-g", "rg")[0]["name"] == "ss1LB"
    r = az.json("vmss", "scale", "-g", "rg", "-n", "ss1", "--new-capacity", "3")
    assert r["sku"]["capacity"] == 3 and r["provisioningState"] == "Succeeded", r
    assert running() == ["ss1_0", "ss1_1", "ss1_2"]
    r = az.json("vmss", "scale", "-g", "rg", "-n", "ss1", "--new-capacity", "1")
    assert r["sku"]["capacity"] == 1
    assert len(running()) == 1

    # autoscale (az monitor is not in the hybrid profile: az rest, as documented)
    sub = az.json("account", "show")["id"]
    ss = f"/subscriptions/{sub}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/ss1"
    url = "/subscriptions/{subscriptionId}/resourceGroups/rg/providers/Microsoft.Insights/autoscalesettings/as1?api-version=2022-10-01"

    def body(lo, hi):
        return json.dumps({"location": "local", "properties": {
            "enabled": True, "targetResourceUri": ss, "profiles": [{
                "name": "default", "capacity": {"minimum": lo, "maximum": hi, "default": lo},
                "rules": [{"metricTrigger": {
                    "metricName": "Percentage CPU", "metricResourceUri": ss, "timeGrain": "PT1M",
                    "statistic": "Average", "timeWindow": "PT5M", "timeAggregation": "Average",
                    "operator": "GreaterThan", "threshold": 70},
                    "scaleAction": {"direction": "Increase", "type": "ChangeCount", "value": "1",
                                    "cooldown": "PT5M"}}]}]}})
    r = az.json("rest", "--method", "put", "--url", url, "--body", body("1", "3"))
    assert r["properties"]["profiles"][0]["capacity"] == {"minimum": "1", "maximum": "3",
                                                          "default": "1"}
    shown = kjson(k, "autoscale", "show", "-g", "rg", "as1")
    assert (shown["scaleSet"], shown["capacity"]["maximum"]) == ("ss1", 3)
    assert shown["rules"][0]["metricTrigger"]["threshold"] == 70
    fails(az.run("rest", "--method", "put", "--url", url, "--body", body("3", "1"), check=False),
          "maximum")
    assert kjson(k, "autoscale", "show", "-g", "rg", "as1")["capacity"]["maximum"] == 3
    assert az.json("rest", "--method", "get", "--url", url)["name"] == "as1"

    az.run("group", "delete", "-n", "rg", "-y")
    assert kjson(k, "vm", "list") == [] and not vmm_pids(k.data)


def test_deployment_templates_and_roll_back(azk, tmp_path):
    k, az = azk
    az.run("group", "create", "-n", "rg", "-l", "local")
    # a template of az deployment group create: parameters, variables,
    # concat, resourceId, reference and outputs
    tpl = {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "parameters": {"prefix": {"type": "string"}, "rules": {"type": "int", "defaultValue": 1}},
        "variables": {"vnet": "[concat(parameters('prefix'), '-vnet')]"},
        "resources": [
            {"type": "Microsoft.Network/virtualNetworks", "apiVersion": "2022-07-01",
             "name": "[variables('vnet')]", "location": "local",
             "properties": {"addressSpace": {"addressPrefixes": ["10.5.0.0/16"]},
                            "subnets": [{"name": "s", "properties": {"addressPrefix": "10.5.1.0/24"}}]}},
            {"type": "Microsoft.Network/networkInterfaces", "apiVersion": "2022-07-01",
             "name": "[concat(parameters('prefix'), '-nic')]", "location": "local",
             "dependsOn": ["[variables('vnet')]"],
             "properties": {"ipConfigurations": [{"name": "ip", "properties": {
                 "subnet": {"id": "[concat(resourceId('Microsoft.Network/virtualNetworks', variables('vnet')), '/subnets/s')]"}}}]}}],
        "outputs": {"ip": {"type": "string", "value": "[reference(concat(parameters('prefix'), '-nic')).ipConfigurations[0].properties.privateIPAddress]"}},
    }
    f = tmp_path / "t.json"
    f.write_text(json.dumps(tpl))
    d = az.json("deployment", "group", "create", "-g", "rg", "-n", "d1", "--template-file", str(f),
                "--parameters", "prefix=app")
    assert d["properties"]["provisioningState"] == "Succeeded", d
    assert d["properties"]["outputs"]["ip"]["value"] == "10.5.1.4"
    assert kjson(k, "nic", "show", "-g", "rg", "app-nic")["privateIp"] == "10.5.1.4"

    # one unit: the third resource fails, the first two are not made either
    tpl["resources"].append(
        {"type": "Microsoft.Compute/virtualMachines", "apiVersion": "2020-06-01", "name": "vmx",
         "location": "local", "dependsOn": ["[concat(parameters('prefix'), '-nic')]"],
         "properties": {"hardwareProfile": {"vmSize": "Standard_B1ls"},
                        "storageProfile": {"imageReference": {"publisher": "kumo", "offer": "nope",
                                                              "sku": "nope", "version": "latest"}},
                        "networkProfile": {"networkInterfaces": [{"id": "[resourceId('Microsoft.Network/networkInterfaces', concat(parameters('prefix'), '-nic'))]"}]}}})
    f.write_text(json.dumps(tpl))
    r = az.run("deployment", "group", "create", "-g", "rg", "-n", "d2", "--template-file", str(f),
               "--parameters", "prefix=bad", check=False)
    fails(r, "virtualMachines/vmx", "ImageNotFound")
    assert [v["name"] for v in kjson(k, "vnet", "list", "-g", "rg")] == ["app-vnet"]
    assert [n["name"] for n in kjson(k, "nic", "list", "-g", "rg")] == ["app-nic"]
    shown = az.json("deployment", "group", "show", "-g", "rg", "-n", "d2")
    assert shown["properties"]["provisioningState"] == "Failed"
    # an invalid template is refused before anything is made
    tpl["resources"][0]["dependsOn"] = ["[concat(parameters('prefix'), '-nic')]"]
    f.write_text(json.dumps(tpl))
    r = az.run("deployment", "group", "create", "-g", "rg", "-n", "d3", "--template-file", str(f),
               "--parameters", "prefix=cyc", check=False)
    fails(r, "InvalidTemplate")
    assert [v["name"] for v in kjson(k, "vnet", "list", "-g", "rg")] == ["app-vnet"]


def test_deployment_whose_vm_fails_after_the_commit_is_rolled_back(kumod_factory, vmm,  # noqa: F811
                                                                  tmp_path):
    """The VM of `az vm create` fails once its deployment has committed (its
    kumo-vmm dies at start): the deployment fails with the VM's reason, and
    kumod deletes what the deployment made before az hears of it."""
    bad = tmp_path / "bad-vmm"
    bad.write_text("#!/bin/sh\ncase \"$*\" in *--console*) echo boom >&2; exit 3 ;; esac\n"
                   f"exec {vmm} \"$@\"\n")
    bad.chmod(0o755)
    port = free_port()
    k = kumod_factory(["--arm", f"127.0.0.1:{port}", "--vmm", str(bad)])
    k.arm_port = port
    cfg = tmp_path / "azcfg"
    kumo(k, "az-login", "--sp-name", "e2e", "--config-dir", str(cfg))
    az = Az(k, cfg)
    (tmp_path / "id.pub").write_text(PUBKEY + "\n")
    az.run("group", "create", "-n", "rg", "-l", "local")
    r = az.run("vm", "create", "-g", "rg", "-n", "vm1", "--image", "Default", "--size",
               "Standard_B1ls", "--admin-username", "azureuser", "--ssh-key-values",
               f"@{tmp_path / 'id.pub'}", check=False)
    fails(r, "DeploymentFailed", "virtualMachines/vm1", "boom", "kumod deleted what the "
          "deployment made")
    assert az.json("resource", "list", "-g", "rg") == []
    for what in ("vm", "nic", "nsg", "public-ip", "vnet", "disk"):
        assert kjson(k, what, "list", "-g", "rg") == [], what
    d = az.json("deployment", "group", "list", "-g", "rg")
    assert [x["properties"]["provisioningState"] for x in d] == ["Failed"]
