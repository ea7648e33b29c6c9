#!/usr/bin/env bash
# Build every libFuzzer harness in tests/fuzz with clang (ASan + UBSan) and run
# each for FUZZ_SECONDS (default 20) from its seed corpus. Exits non-zero on
# the first crash; the crashing input is left in build-fuzz/.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${FUZZ_SECONDS:-20}
out=build-fuzz
mkdir -p "$out"
CC=${FUZZ_CC:-clang}
if ! command -v "$CC" >/dev/null; then
  echo "[fuzz] $CC not found: install clang (scripts/deps.sh does)" >&2
  exit 1
fi
flags=(-std=gnu11 -g -O1 -Isrc -fsanitize=fuzzer,address,undefined
       -fno-sanitize-recover=undefined -D_GNU_SOURCE)

build() { # name, sources...
  local name=$1; shift
  "$CC" "${flags[@]}" "$@" -o "$out/$name"
}

build fuzz_elf tests/fuzz/fuzz_elf.c src/machine/elf.c

for h in fuzz_elf; do
  corpus="$out/$h-corpus"
  mkdir -p "$corpus"
  seeds="tests/fuzz/seeds/${h#fuzz_}"
  [ -d "$seeds" ] && cp -n "$seeds"/* "$corpus"/ 2>/dev/null || true
  echo "[fuzz] $h for ${seconds}s"
  (cd "$out" && "./$h" -max_total_time="$seconds" -max_len=65536 -print_final_stats=0 \
      "$h-corpus" 2>"$h.log") || { tail -40 "$out/$h.log"; exit 1; }
  grep -E "^#[0-9]+.*DONE|Done [0-9]+ runs" "$out/$h.log" | tail -1 || true
done
