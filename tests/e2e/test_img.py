"""kumo-img as a user runs it: create, info, check, convert (including VHD and
VMDK import), resize, and the error messages for damaged or foreign files.
qemu-img, when installed, makes the foreign images and double-checks ours."""
import json
import os
import shutil
import struct

import pytest

from conftest import BUILD, run

QEMU_IMG = shutil.which("qemu-img")
needs_qemu = pytest.mark.skipif(QEMU_IMG is None,
                                reason="qemu-img not found (apt-get install qemu-utils)")


@pytest.fixture(scope="session")
def img():
    path = BUILD / "kumo-img"
    if not path.exists():
        pytest.fail(f"{path} is missing: build first (scripts/build.sh)")
    return str(path)


def ok(r):
    assert r.returncode == 0, f"exit {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
    return r


def pattern_file(path, size, seed=1):
    """A file with varied data, some zero stretches and some repetitive ones."""
    data = bytearray(size)
    x = seed
    for off in range(0, size, 4096):
        x = (x * 6364136223846793005 + 1442695040888963407) & (2**64 - 1)
        kind = x >> 62
        if kind == 0:
            continue  # zeros
        if kind == 1:
            data[off:off + 4096] = bytes([x & 0xff]) * 4096
        else:
            data[off:off + 4096] = (x.to_bytes(8, "little") * 512)
    path.write_bytes(bytes(data))
    return bytes(data)


def to_raw(img, src, dst, fmt=None):
    cmd = [img, "convert", "-O", "raw"] + (["-f", fmt] if fmt else []) + [str(src), str(dst)]
    ok(run(cmd))
    return dst.read_bytes()


def test_create_and_info(img, tmp_path):
    disk = tmp_path / "disk.qcow2"
    r = ok(run([img, "create", "-f", "qcow2", str(disk), "10G"]))
    assert "Formatting" in r.stdout and "size=10737418240" in r.stdout
    r = ok(run([img, "info", str(disk)]))
    assert "file format: qcow2" in r.stdout
    assert "virtual size: 10 GiB (10737418240 bytes)" in r.stdout
    assert "cluster_size: 65536" in r.stdout
    assert "corrupt: false" in r.stdout and "dirty: false" in r.stdout
    assert os.stat(disk).st_size < 1 << 20  # sparse: metadata only
    # images are their owner's alone, whatever the umask (here a lax one)
    old = os.umask(0o022)
    try:
        ok(run([img, "create", "-f", "raw", str(tmp_path / "lax.raw"), "1M"]))
        ok(run([img, "convert", "-O", "qcow2", str(disk), str(tmp_path / "lax.qcow2")]))
    finally:
        os.umask(old)
    for f in (disk, tmp_path / "lax.raw", tmp_path / "lax.qcow2"):
        assert os.stat(f).st_mode & 0o777 == 0o600, (f, oct(os.stat(f).st_mode))
    info = json.loads(ok(run([img, "info", "--json", str(disk)])).stdout)
    assert info["format"] == "qcow2"
    assert info["virtual-size"] == 10 << 30
    assert info["cluster-size"] == 65536
    assert info["dirty-flag"] is False and info["corrupt"] is False
    assert info["backing-chain"] == []
    if QEMU_IMG:
        ok(run([QEMU_IMG, "check", str(disk)]))
        q = json.loads(ok(run([QEMU_IMG, "info", "--output=json", str(disk)])).stdout)
        assert q["virtual-size"] == 10 << 30


def test_create_options_and_raw(img, tmp_path):
    r = ok(run([img, "create", "-o", "cluster_size=4096,refcount_bits=8", str(tmp_path / "a.qcow2"),
                "512M"]))
    assert "cluster_size=4096" in r.stdout
    ok(run([img, "create", "-f", "raw", str(tmp_path / "b.raw"), "512M"]))
    assert os.stat(tmp_path / "b.raw").st_size == 512 << 20
    r = ok(run([img, "info", str(tmp_path / "b.raw")]))
    assert "file format: raw" in r.stdout
    r = run([img, "create", "-o", "cluster_size=1000", str(tmp_path / "c.qcow2"), "1G"])
    assert r.returncode == 1 and "cluster size" in r.stderr
    r = run([img, "create", str(tmp_path / "d.qcow2"), "12Q"])
    assert r.returncode == 1 and "invalid size '12Q'" in r.stderr
    r = run([img, "create", "-o", "colour=blue", str(tmp_path / "e.qcow2"), "1G"])
    assert r.returncode == 1 and "unknown option 'colour'" in r.stderr


def test_backing_chain(img, tmp_path):
    base = tmp_path / "base.raw"
    data = pattern_file(base, 4 << 20)
    ok(run([img, "create", "-f", "qcow2", "-b", "base.raw", "-F", "raw", str(tmp_path / "mid.qcow2")]))
    ok(run([img, "create", "-b", "mid.qcow2", str(tmp_path / "top.qcow2")]))
    r = ok(run([img, "info", str(tmp_path / "top.qcow2")]))
    assert "backing file: mid.qcow2" in r.stdout
    assert "backing file format: qcow2" in r.stdout  # probed at create time, recorded
    assert "backing chain:" in r.stdout and "base.raw (raw)" in r.stdout
    info = json.loads(ok(run([img, "info", "--json", str(tmp_path / "top.qcow2")])).stdout)
    assert info["backing-filename"] == "mid.qcow2"
    assert [b["format"] for b in info["backing-chain"]] == ["qcow2", "raw"]
    assert info["virtual-size"] == 4 << 20
    # flattening convert reads through the chain
    assert to_raw(img, tmp_path / "top.qcow2", tmp_path / "flat.raw") == data
    if QEMU_IMG:
        ok(run([QEMU_IMG, "check", str(tmp_path / "top.qcow2")]))
        ok(run([QEMU_IMG, "compare", str(tmp_path / "top.qcow2"), str(base)]))
    r = run([img, "create", "-b", "nosuch.qcow2", str(tmp_path / "x.qcow2")])
    assert r.returncode == 1 and "cannot open the backing file" in r.stderr


def test_convert_is_sparse_and_exact(img, tmp_path):
    src = tmp_path / "src.raw"
    data = pattern_file(src, 16 << 20, seed=7)
    src_big = tmp_path / "zeros.raw"
    src_big.write_bytes(b"")
    os.truncate(src_big, 1 << 30)
    ok(run([img, "convert", "-O", "qcow2", str(src), str(tmp_path / "out.qcow2")]))
    assert to_raw(img, tmp_path / "out.qcow2", tmp_path / "back.raw") == data
    ok(run([img, "convert", "-O", "qcow2", str(src_big), str(tmp_path / "z.qcow2")]))
    assert os.stat(tmp_path / "z.qcow2").st_size < 1 << 20  # zeros are not written
    ok(run([img, "convert", "-O", "raw", str(tmp_path / "z.qcow2"), str(tmp_path / "z.raw")]))
    assert os.stat(tmp_path / "z.raw").st_blocks * 512 < 1 << 20  # nor here
    if QEMU_IMG:
        ok(run([QEMU_IMG, "check", str(tmp_path / "out.qcow2")]))
        ok(run([QEMU_IMG, "compare", "-f", "qcow2", "-F", "raw",
                str(tmp_path / "out.qcow2"), str(src)]))
    r = run([img, "convert", "-O", "qcow2", str(src), str(src)])
    assert r.returncode == 1 and "same file" in r.stderr


@needs_qemu
@pytest.mark.parametrize("subformat", ["dynamic", "fixed"])
def test_import_vhd(img, tmp_path, subformat):
    src = tmp_path / "src.raw"
    data = pattern_file(src, 6 << 20, seed=3)
    vhd = tmp_path / "disk.vhd"
    ok(run([QEMU_IMG, "convert", "-O", "vpc", "-o", f"subformat={subformat}", str(src), str(vhd)]))
    r = ok(run([img, "info", str(vhd)]))
    assert "file format: vhd" in r.stdout and f"subformat: {subformat}" in r.stdout
    # (qemu-img does not probe fixed VHDs, which look like raw images: name the format)
    qinfo = ok(run([QEMU_IMG, "info", "-f", "vpc", "--output=json", str(vhd)])).stdout
    qsize = json.loads(qinfo)["virtual-size"]
    assert f"({qsize} bytes)" in r.stdout  # same virtual size (CHS rounding) as qemu-img
    ok(run([img, "convert", "-f", "vhd", str(vhd), "-O", "qcow2", str(tmp_path / "disk.qcow2")]))
    back = to_raw(img, tmp_path / "disk.qcow2", tmp_path / "back.raw")
    assert back[:len(data)] == data and back[len(data):] == bytes(len(back) - len(data))
    ok(run([QEMU_IMG, "check", str(tmp_path / "disk.qcow2")]))


@needs_qemu
@pytest.mark.parametrize("subformat", ["monolithicSparse", "monolithicFlat", "streamOptimized",
                                       "twoGbMaxExtentSparse"])
def test_import_vmdk(img, tmp_path, subformat):
    src = tmp_path / "src.raw"
    data = pattern_file(src, 6 << 20, seed=5)
    vmdk = tmp_path / "disk.vmdk"
    ok(run([QEMU_IMG, "convert", "-O", "vmdk", "-o", f"subformat={subformat}", str(src), str(vmdk)]))
    r = ok(run([img, "info", str(vmdk)]))
    assert "file format: vmdk" in r.stdout and "virtual size: 6 MiB" in r.stdout
    ok(run([img, "convert", "-f", "vmdk", str(vmdk), "-O", "qcow2", str(tmp_path / "disk.qcow2")]))
    assert to_raw(img, tmp_path / "disk.qcow2", tmp_path / "back.raw") == data
    ok(run([QEMU_IMG, "check", str(tmp_path / "disk.qcow2")]))


@needs_qemu
def test_vmdk_descriptor_text_and_tail(img, tmp_path):
    src = tmp_path / "src.raw"
    data = pattern_file(src, 2 << 20, seed=3)
    vmdk = tmp_path / "t.vmdk"
    ok(run([QEMU_IMG, "convert", "-O", "vmdk", "-o", "subformat=twoGbMaxExtentSparse", str(src),
            str(vmdk)]))
    text = vmdk.read_bytes().split(b"\0")[0]
    # what QEMU leaves when it rewrites the CID with fewer hex digits: the
    # old text's last bytes after the new NUL (QEMU reads up to the NUL)
    vmdk.write_bytes(text + b"\0" + text[-2:] + b"\0" * 165)
    r = ok(run([img, "info", str(vmdk)]))
    assert "file format: vmdk" in r.stdout and "virtual size: 2 MiB" in r.stdout
    ok(run([img, "convert", "-f", "vmdk", str(vmdk), "-O", "raw", str(tmp_path / "back.raw")]))
    assert (tmp_path / "back.raw").read_bytes() == data
    # a control byte in the text: not a descriptor
    vmdk.write_bytes(text.replace(b"version=1", b"version=\x011") + b"\0" * 100)
    r = run([img, "info", str(vmdk)])
    assert r.returncode == 1 and "binary data in a text descriptor" in r.stderr, r.stderr


def test_check_finds_leaks_and_repairs_them(img, tmp_path):
    disk = tmp_path / "leaky.qcow2"
    ok(run([img, "create", str(disk), "64M"]))
    assert "No errors were found" in ok(run([img, "check", str(disk)])).stdout
    # Refcount block at cluster 2; give unused cluster 10 a refcount of 1. (qemu-img
    # only looks at clusters inside the file, so make the file that long.)
    os.truncate(disk, 11 * 65536)
    with open(disk, "r+b") as f:
        f.seek(2 * 65536 + 2 * 10)
        f.write(struct.pack(">H", 1))
    r = run([img, "check", str(disk)])
    assert r.returncode == 3, r.stdout
    assert "Leaked cluster 10 refcount=1 reference=0" in r.stdout
    assert "1 leaked clusters were found" in r.stdout
    if QEMU_IMG:
        assert run([QEMU_IMG, "check", str(disk)]).returncode == 3
    r = run([img, "check", "-r", "leaks", str(disk)])
    assert r.returncode == 0, r.stdout
    assert "1 leaked clusters" in r.stdout and "No errors were found" in r.stdout
    ok(run([img, "check", str(disk)]))


def test_check_finds_corruption(img, tmp_path):
    disk = tmp_path / "bad.qcow2"
    ok(run([img, "create", str(disk), "64M"]))
    with open(disk, "r+b") as f:  # the L1 table (cluster 3) loses its refcount
        f.seek(2 * 65536 + 2 * 3)
        f.write(struct.pack(">H", 0))
    r = run([img, "check", str(disk)])
    assert r.returncode == 2, r.stdout
    assert "ERROR cluster 3 refcount=0 reference=1" in r.stdout
    assert "1 errors were found on the image" in r.stdout
    if QEMU_IMG:
        assert run([QEMU_IMG, "check", str(disk)]).returncode == 2
    r = run([img, "check", "-r", "all", str(disk)])
    assert r.returncode == 2 and "qemu-img check -r all" in r.stdout


def test_truncated_qcow2_is_reported(img, tmp_path):
    disk = tmp_path / "cut.qcow2"
    ok(run([img, "create", str(disk), "1G"]))
    os.truncate(disk, 100000)  # header survives, L1 table (at 196608) does not
    for cmd in (["info"], ["check"], ["convert", "-O", "raw"]):
        args = [img] + cmd + [str(disk)] + ([str(tmp_path / "o.raw")] if cmd[0] == "convert" else [])
        r = run(args)
        assert r.returncode == 1, (cmd, r.stdout)
        assert "L1 table at offset 0x30000 lies beyond the end of the file (truncated image?)" \
            in r.stderr, r.stderr
        assert "Traceback" not in r.stderr and "Sanitizer" not in r.stderr
    assert not (tmp_path / "o.raw").exists()  # no half-written output left behind
    os.truncate(disk, 40)
    r = run([img, "info", "-f", "qcow2", str(disk)])
    assert r.returncode == 1 and "too short" in r.stderr


def test_non_image_files(img, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("these are not the sectors you are looking for\n" * 20)
    r = run([img, "info", "-f", "qcow2", str(notes)])
    assert r.returncode == 1 and "not a qcow2 image" in r.stderr
    r = run([img, "convert", "-f", "vhd", str(notes), "-O", "qcow2", str(tmp_path / "x.qcow2")])
    assert r.returncode == 1 and "not a VHD image" in r.stderr
    r = run([img, "convert", "-f", "vmdk", str(notes), "-O", "qcow2", str(tmp_path / "x.qcow2")])
    assert r.returncode == 1 and "not a VMDK image" in r.stderr
    r = run([img, "check", str(notes)])  # probed as raw: nothing to check
    assert r.returncode == 63 and "raw images have no metadata to check" in r.stderr
    r = run([img, "info", str(tmp_path / "missing.qcow2")])
    assert r.returncode == 1 and "no such file" in r.stderr
    r = run([img, "info", str(tmp_path)])
    assert r.returncode == 1 and "not a regular file" in r.stderr


@needs_qemu
def test_damaged_vhd_and_vmdk(img, tmp_path):
    src = tmp_path / "src.raw"
    pattern_file(src, 4 << 20)
    vhd = tmp_path / "d.vhd"
    ok(run([QEMU_IMG, "convert", "-O", "vpc", str(src), str(vhd)]))
    raw = bytearray(vhd.read_bytes())
    raw[70] ^= 0xff  # inside the footer copy: checksum no longer matches
    vhd.write_bytes(bytes(raw))
    r = run([img, "convert", "-f", "vhd", str(vhd), "-O", "qcow2", str(tmp_path / "o.qcow2")])
    assert r.returncode == 1 and "checksum mismatch" in r.stderr
    raw[70] ^= 0xff
    vhd.write_bytes(bytes(raw[:1200]))  # footer copy intact, dynamic header cut off
    r = run([img, "info", "-f", "vhd", str(vhd)])
    assert r.returncode == 1 and "truncated" in r.stderr
    vmdk = tmp_path / "d.vmdk"
    ok(run([QEMU_IMG, "convert", "-O", "vmdk", str(src), str(vmdk)]))
    os.truncate(vmdk, 3000)
    r = run([img, "convert", "-f", "vmdk", str(vmdk), "-O", "qcow2", str(tmp_path / "o.qcow2")])
    assert r.returncode == 1 and "beyond the end of the file" in r.stderr
    r = run([img, "create", "-f", "vmdk", str(tmp_path / "new.vmdk"), "1G"])
    assert r.returncode == 1 and "creates raw and qcow2" in r.stderr


def test_resize(img, tmp_path):
    disk = tmp_path / "grow.qcow2"
    ok(run([img, "create", "-o", "cluster_size=4096", str(disk), "1M"]))
    assert "Image resized" in ok(run([img, "resize", str(disk), "+1G"])).stdout
    assert "virtual size: 1 GiB (1074790400 bytes)" in ok(run([img, "info", str(disk)])).stdout
    r = run([img, "resize", str(disk), "10M"])
    assert r.returncode == 1 and "shrinking a qcow2 image is not supported" in r.stderr
    if QEMU_IMG:
        ok(run([QEMU_IMG, "check", str(disk)]))
    raw = tmp_path / "r.raw"
    ok(run([img, "create", "-f", "raw", str(raw), "8M"]))
    ok(run([img, "resize", str(raw), "16M"]))
    assert os.stat(raw).st_size == 16 << 20
    r = run([img, "resize", str(raw), "4M"])
    assert r.returncode == 1 and "--shrink" in r.stderr
    ok(run([img, "resize", "--shrink", str(raw), "4M"]))
    assert os.stat(raw).st_size == 4 << 20
    r = run([img, "resize", str(raw), "-1G"])
    assert r.returncode == 1


def test_usage_errors(img):
    r = run([img])
    assert r.returncode == 1 and "usage:" in r.stderr
    r = run([img, "frobnicate"])
    assert r.returncode == 1 and "unknown command 'frobnicate'" in r.stderr
    r = run([img, "create"])
    assert r.returncode == 1 and "create needs FILE and SIZE" in r.stderr
    r = ok(run([img, "--help"]))
    assert "convert" in r.stdout
