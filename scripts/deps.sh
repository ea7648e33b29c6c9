#!/usr/bin/env bash
# Install what kumo needs to build and test, from Debian 12's archive.
# Idempotent: packages already installed are skipped, so a warm machine
# spends no time here. Uses sudo when not run as root.
set -euo pipefail

packages=(
  # build
  gcc libc6-dev meson ninja-build pkg-config libfdt-dev zlib1g-dev libslirp-dev libjansson-dev
  libsqlite3-dev libmicrohttpd-dev libcurl4-openssl-dev libgnutls28-dev nettle-dev libwslay-dev
  libisofs-dev libcrypt-dev libseccomp-dev libxxhash-dev
  # kumo vm ssh runs the system ssh (and --generate-ssh-keys ssh-keygen)
  openssh-client
  # bare-metal RISC-V programs (demo, ISA tests)
  gcc-riscv64-unknown-elf
  # tests
  python3 python3-pytest python3-pexpect device-tree-compiler clang libclang-rt-14-dev
  qemu-utils opensbi u-boot-qemu e2fsprogs socat curl iproute2 iputils-ping ethtool
  # the peer the device-tree test compares with (tests/e2e/test_dtb.py), never run by kumo
  qemu-system-misc
  # kumod's cluster mode keeps its state in etcd (docs/cluster.md); the tests run
  # three real members
  etcd-server etcd-client
  # the real Azure CLI against kumod's ARM endpoint (tests/e2e/test_az.py); a large
  # package (about 1.4 GB installed, 3 minutes to download and install here)
  azure-cli
  # the web portal (web/): built with Node.js and npm, tested in Chromium
  chromium
)
# Node.js and npm from Debian, unless a node with npm is there already (a
# NodeSource nodejs package bundles npm and conflicts with Debian's npm).
if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
  packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then
    SUDO=sudo
  else
    echo "kumo: need root to install: ${missing[*]} (run as root, or install sudo)" >&2
    exit 1
  fi
fi
echo "[deps] installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
