#!/usr/bin/env bash
# Install dependencies, build (optimised and sanitized), build or reuse the
# cached default guest, and run every test. Exits non-zero if anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
guest/deps.sh
scripts/build.sh --sanitize
echo "[test] default guest (built once, then cached by its inputs)"
KUMO_GUEST_DIR=$(guest/build.sh)
export KUMO_GUEST_DIR
echo "[test] sanitized build (ASan + UBSan)"
meson test -C build-san --print-errorlogs --num-processes "$(nproc)"
echo "[test] optimised build (suite 'once', the control plane's tests, ran above only)"
meson test -C build --print-errorlogs --num-processes "$(nproc)" --no-suite once
echo "[test] fuzzing the parsers of untrusted input (${FUZZ_SECONDS:-20}s each)"
tests/fuzz/run.sh
