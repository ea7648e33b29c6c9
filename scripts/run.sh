#!/usr/bin/env bash
# The main job: install what is needed, build kumo and the default guest image
# (cached after the first time), and boot a virtual machine from it: Linux on
# 2 vCPUs with 512 MiB, ending in a shell on this terminal. Type `poweroff` (or
# Ctrl-A x) to return. Extra arguments are passed to kumo-vmm.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
guest/deps.sh
scripts/build.sh
guest=$(guest/build.sh)
echo "[kumo] starting a virtual machine (Ctrl-A x quits, Ctrl-A h helps)" >&2
exec build/kumo-vmm --kernel "$guest/Image" --initrd "$guest/initramfs.cpio.gz" \
  --append "console=ttyS0" --cpus 2 --mem 512 "$@"
