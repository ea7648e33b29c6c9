"""The device tree kumo-vmm hands the guest (--dump-dtb), two ways:

- golden: for four configurations it is exactly the committed
  tests/e2e/golden/*.dts (decompiled with dtc; /chosen's rng-seed, random at
  every boot, left out). Any change to a node, a property or their order
  shows here, so a change to the board's table that should not change the
  tree is proved not to.
- QEMU: for the same configuration it has the nodes, compatible strings,
  reg, interrupts and interrupt wiring of `qemu-system-riscv64 -M
  virt,dumpdtb=FILE`, the board kumo is compatible with, but for the
  differences docs/architecture.md lists ("The device tree against
  QEMU's"), which QEMU_ONLY, KUMO_ONLY and PROPS_DIFFERENT below spell out.
  QEMU is a peer for this test only (package qemu-system-misc, from
  scripts/deps.sh), never something kumo runs.
"""
import difflib
import pathlib
import shutil
import subprocess

import pytest

from conftest import run

GOLDEN = pathlib.Path(__file__).resolve().parent / "golden"
QEMU = "qemu-system-riscv64"

# name -> kumo-vmm arguments (files made by the `files` fixture)
CONFIGS = {
    "virt-default": ["--kernel", "{k}"],
    "virt-4cpu-sv39-initrd": ["--kernel", "{k}", "--cpus", "4", "--mem", "1024", "--mmu", "sv39",
                              "--initrd", "{initrd}", "--append",
                              "console=ttyS0 root=/dev/vda rw", "--disk", "path={d1}",
                              "--disk", "path={d2}", "--net", "user"],
    "virt-firmware-2cpu-sv48": ["--bios", "{fw}", "--kernel", "{k}", "--cpus", "2", "--mem",
                                "512", "--mmu", "sv48"],
    "virt-32cpu-6dev": ["--kernel", "{k}", "--cpus", "32", "--mem", "4096", "--disk", "{d1}",
                        "--disk", "{d2}", "--net", "user", "--net", "user", "--net", "user",
                        "--net", "user"],
}

# Nodes only one of the two boards has.
QEMU_ONLY = {"/pmu", "/fw-cfg@10100000", "/flash@20000000", "/platform-bus@4000000",
             "/soc/pci@30000000"}
KUMO_ONLY = {"/soc/pvpanic@102000", "/soc/virtio_mmio@10009000"}
# Properties whose values differ, by node (a path, or a prefix ending in "@").
PROPS_DIFFERENT = {
    "/chosen": {"rng-seed"},          # random bytes (QEMU 32, kumo 64)
    "/cpus/cpu@": {"riscv,isa"},      # each advertises the extensions it implements
    "/soc/plic@c000000": {"riscv,ndev"},  # QEMU 7.2: 96; kumo: 95, sources 1 to 95
}
# Properties holding phandles: compared as the paths of the nodes they name.
PHANDLE_PROPS = {"interrupt-parent", "regmap", "cpu"}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("dtb")
    (d / "k.bin").write_bytes(b"\x6f\x00\x00\x00")  # j .
    (d / "fw.bin").write_bytes(b"\x6f\x00\x00\x00")
    (d / "initrd.bin").write_bytes(b"\0" * 300000)
    for n in ("d1.raw", "d2.raw"):
        with open(d / n, "wb") as f:
            f.truncate(16 << 20)
    return {"k": d / "k.bin", "fw": d / "fw.bin", "initrd": d / "initrd.bin",
            "d1": d / "d1.raw", "d2": d / "d2.raw", "dir": d}


def dts_of(dtb):
    r = run(["dtc", "-q", "-I", "dtb", "-O", "dts", str(dtb)])
    assert r.returncode == 0, r.stderr
    return r.stdout


def kumo_dtb(vmm, files, args, name):
    out = files["dir"] / (name + ".dtb")
    r = run([vmm, *[a.format(**files) for a in args], "--dump-dtb", str(out)])
    assert r.returncode == 0, r.stderr
    return out


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_device_tree_is_the_golden_one(vmm, files, name):
    dtb = kumo_dtb(vmm, files, CONFIGS[name], name)
    blob = dtb.read_bytes()
    assert blob[:4] == b"\xd0\x0d\xfe\xed"
    r = run(["fdtget", "-t", "bx", str(dtb), "/chosen", "rng-seed"])
    assert r.returncode == 0 and len(r.stdout.split()) == 64, "a 64-byte rng-seed"
    assert run(["fdtput", "-d", str(dtb), "/chosen", "rng-seed"]).returncode == 0
    got = dts_of(dtb)
    want = (GOLDEN / (name + ".dts")).read_text()
    assert got == want, f"device tree of {name} changed:\n" + "".join(
        difflib.unified_diff(want.splitlines(True), got.splitlines(True),
                                           "golden", "now"))


# ---- against QEMU ----

def parse_value(v):
    v = v.strip()
    if v.startswith("<") and v.endswith(">") and "<" not in v[1:]:
        return tuple(int(c, 16) for c in v[1:-1].split())
    if v.startswith('"') and v.endswith('"') and '", "' not in v:
        return tuple(v[1:-1].split("\\0"))
    return v  # bytes ([..]) and mixed forms: compared as text


def parse_dts(text):
    """{node path: {property: value}} from dtc's output."""
    nodes, stack = {}, []

    def path():
        return "/" + "/".join(stack[1:])

    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("/dts-v1/") or line.startswith("/memreserve/"):
            continue
        if line.endswith("{"):
            stack.append(line[:-1].strip())
            nodes[path()] = {}
        elif line == "};":
            stack.pop()
        else:
            assert line.endswith(";"), line
            body = line[:-1]
            name, _, value = body.partition(" = ")
            nodes[path()][name] = parse_value(value) if value else True
    return nodes


def resolve_phandles(nodes):
    """Replace phandle values by the paths of the nodes they name, and drop
    the phandle properties: the numbers are each board's own choice."""
    by_handle = {props["phandle"][0]: p for p, props in nodes.items() if "phandle" in props}
    out = {}
    for p, props in nodes.items():
        q = {}
        for k, v in props.items():
            if k == "phandle":
                continue
            if k in PHANDLE_PROPS:
                v = tuple(by_handle[c] for c in v)
            elif k == "interrupts-extended":
                v = tuple((by_handle[v[i]], v[i + 1]) for i in range(0, len(v), 2))
            q[k] = v
        out[p] = q
    return out


def different_props(path):
    s = set()
    for key, props in PROPS_DIFFERENT.items():
        if path == key or (key.endswith("@") and path.startswith(key)):
            s |= props
    return s


@pytest.mark.parametrize("cpus,mem", [(1, 256), (4, 1024)])
def test_device_tree_matches_qemu_virt(vmm, files, cpus, mem):
    if not shutil.which(QEMU):
        pytest.fail(f"{QEMU} is missing: install qemu-system-misc (scripts/deps.sh does)")
    qdtb = files["dir"] / f"qemu-{cpus}.dtb"
    r = run([QEMU, "-M", f"virt,dumpdtb={qdtb}", "-smp", str(cpus), "-m", str(mem),
             "-kernel", str(files["k"]), "-append", "console=ttyS0", "-nographic"])
    assert r.returncode == 0 and qdtb.exists(), r.stderr
    # QEMU 7.2's rv64 CPU pages with Sv48: ask kumo for the same
    kdtb = kumo_dtb(vmm, files, ["--kernel", "{k}", "--cpus", str(cpus), "--mem", str(mem),
                                 "--mmu", "sv48", "--append", "console=ttyS0"], f"kumo-{cpus}")
    q = resolve_phandles(parse_dts(dts_of(qdtb)))
    k = resolve_phandles(parse_dts(dts_of(kdtb)))

    assert set(q) - set(k) == QEMU_ONLY
    assert set(k) - set(q) == KUMO_ONLY
    assert len(q) > 20 and any(p.startswith("/soc/virtio_mmio@") for p in q)
    for path in sorted(set(q) & set(k)):
        skip = different_props(path)
        qp = {n: v for n, v in q[path].items() if n not in skip}
        kp = {n: v for n, v in k[path].items() if n not in skip}
        assert kp == qp, f"{path}: kumo {kp} != QEMU {qp}"
        for n in skip & (set(q[path]) | set(k[path])):
            assert n in q[path] and n in k[path], f"{path}: {n} missing on one side"
