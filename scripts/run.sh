#!/usr/bin/env bash
# The main job: install dependencies, build, and run a kumo virtual machine
# on the default image (today: the bundled bare-metal demo program).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh
echo "[kumo] starting a virtual machine: build/kumo-vmm --elf build/demo/hello.elf"
exec build/kumo-vmm --elf build/demo/hello.elf "$@"
