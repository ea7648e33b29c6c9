#!/usr/bin/env bash
# Install (from Debian's archive) everything guest/build.sh needs.
# Idempotent: packages that are already installed are skipped.
set -euo pipefail

PKGS=(
  linux-source-6.1          # kernel source tarball in /usr/src
  gcc-riscv64-linux-gnu     # cross compiler (riscv64-linux-gnu-gcc)
  binutils-riscv64-linux-gnu
  libc6-dev-riscv64-cross   # static glibc for busybox
  dpkg-dev                  # apt-get source busybox
  build-essential make bc bison flex
  cpio gzip xz-utils e2fsprogs
  # the Debian image (guest/debian/build.sh): first stage, disk, ownership;
  # its second stage's riscv64 programs when it runs as root
  debootstrap fakeroot fdisk debian-archive-keyring qemu-user-static
)

missing=()
for p in "${PKGS[@]}"; do
  if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    continue
  fi
  missing+=("$p")
done

# apt-get source busybox needs deb-src entries in the apt sources.
need_src=1
if apt-get source --print-uris busybox 2>/dev/null | grep -q "^'"; then
  need_src=0
fi

if [ "${#missing[@]}" -eq 0 ] && [ "$need_src" -eq 0 ]; then
  echo "[guest-deps] all build dependencies already installed"
  exit 0
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "[guest-deps] error: not root and sudo not found" >&2; exit 1; }
  SUDO=(sudo)
fi

if [ "$need_src" -eq 1 ]; then
  # Enable deb-src for the configured Debian sources (deb822 or classic format).
  if [ -f /etc/apt/sources.list.d/debian.sources ] \
     && ! grep -q '^Types:.*deb-src' /etc/apt/sources.list.d/debian.sources; then
    echo "[guest-deps] enabling deb-src in /etc/apt/sources.list.d/debian.sources"
    "${SUDO[@]}" sed -i 's/^Types: deb$/Types: deb deb-src/' /etc/apt/sources.list.d/debian.sources
  elif [ -f /etc/apt/sources.list ] && grep -q '^deb ' /etc/apt/sources.list \
     && ! grep -q '^deb-src ' /etc/apt/sources.list; then
    echo "[guest-deps] adding deb-src lines to /etc/apt/sources.list"
    grep '^deb ' /etc/apt/sources.list | sed 's/^deb /deb-src /' \
      | "${SUDO[@]}" tee -a /etc/apt/sources.list >/dev/null
  fi
fi

echo "[guest-deps] apt-get update"
"${SUDO[@]}" apt-get update -q
if [ "${#missing[@]}" -gt 0 ]; then
  echo "[guest-deps] installing: ${missing[*]}"
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${missing[@]}"
fi
echo "[guest-deps] done"
