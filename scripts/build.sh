#!/usr/bin/env bash
# Configure (once) and build kumo: build/ is the optimised build users run;
# with --sanitize, also build-san/ with AddressSanitizer + UBSan for tests.
set -euo pipefail
cd "$(dirname "$0")/.."

setup() { # dir, extra meson options...
  local dir=$1; shift
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" "$@" >/dev/null
  fi
  ninja -C "$dir" >/dev/null
}

setup build --buildtype=release
if [ "${1:-}" = "--sanitize" ]; then
  setup build-san --buildtype=debugoptimized -Db_sanitize=address,undefined \
    -Db_lundef=false
fi
