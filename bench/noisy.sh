#!/bin/sh
# bench/noisy.sh: noisy neighbours on one host core, the victim's share with
# and without CPU limits (kumo-vmm's cap and weight; the Linux CFS quota as the
# peer). Builds kumo-vmm if needed; see bench/noisy.py and docs/performance.md.
set -e
cd "$(dirname "$0")/.."
[ -x build/kumo-vmm ] || scripts/build.sh >/dev/null
exec /usr/bin/python3 bench/noisy.py "$@"
