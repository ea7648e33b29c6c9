#!/usr/bin/env bash
# Install dependencies, build (optimised and sanitized), and run every test.
# Exits non-zero if anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh --sanitize
echo "[test] sanitized build (ASan + UBSan)"
meson test -C build-san --print-errorlogs --num-processes "$(nproc)"
echo "[test] optimised build"
meson test -C build --print-errorlogs --num-processes "$(nproc)"
echo "[test] fuzzing the parsers of untrusted input (${FUZZ_SECONDS:-20}s each)"
tests/fuzz/run.sh
