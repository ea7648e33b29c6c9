#!/usr/bin/env bash
# The main job: install what is needed, build kumo and the default guest image
# (cached after the first time), and boot a virtual server from it: Linux on
# 2 vCPUs with 512 MiB, its root file system on a virtio disk that is a small
# copy-on-write qcow2 overlay over the read-only base image (so the VM's
# changes persist from one run to the next, and the base stays pristine), and
# a NIC on user-mode NAT with the guest's port 22 at host port 2222. It ends
# in a shell on this terminal: type `poweroff` (or Ctrl-A x) to return.
# Extra arguments are passed to kumo-vmm.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
guest/deps.sh
scripts/build.sh
guest=$(guest/build.sh)

state="${XDG_DATA_HOME:-$HOME/.local/share}/kumo/default-vm"
mkdir -p "$state"
overlay="$state/root.qcow2"
base="$guest/rootfs.ext4"
# A new base image (the guest was rebuilt) needs a new overlay.
if [ ! -f "$overlay" ] || [ "$(cat "$state/base" 2>/dev/null)" != "$base" ]; then
  build/kumo-img create -f qcow2 -b "$base" -F raw "$overlay" >/dev/null
  echo "$base" >"$state/base"
  echo "[kumo] new root disk: $overlay (overlay of $base)" >&2
fi

echo "[kumo] starting a virtual machine (Ctrl-A x quits, Ctrl-A h helps)" >&2
exec build/kumo-vmm --kernel "$guest/Image" \
  --disk "path=$overlay,format=qcow2" \
  --net "user,hostfwd=tcp:127.0.0.1:2222-:22" \
  --append "console=ttyS0 root=/dev/vda rw" --cpus 2 --mem 512 "$@"
