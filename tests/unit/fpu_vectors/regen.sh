#!/bin/sh
# regen.sh - build gen.c for bare-metal RV64GC and run it under QEMU.
#
#   regen.sh [vectors [PER_UNIT [SEED]]]
#       rewrite tests/unit/fpu_vectors.txt (default PER_UNIT 130, ~49k lines)
#   regen.sh check [PER_UNIT [SEED]]
#       compile src/cpu/fpu.c into the guest and compare it, in the guest,
#       with the real instructions (default PER_UNIT 20000, ~7.5M cases);
#       prints mismatches and a summary, exits non-zero on any mismatch
#
# Needs riscv64-unknown-elf-gcc and qemu-system-riscv64 (spike machine, HTIF).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
cc=${RISCV_CC:-riscv64-unknown-elf-gcc}
qemu=${QEMU:-qemu-system-riscv64}
cflags="-march=rv64gc -mabi=lp64d -mcmodel=medany -O2 -std=gnu11 -Wall -Wextra -Werror
        -ffreestanding -nostdlib -fno-builtin -fno-math-errno"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

run() {
    "$qemu" -M spike -bios none -nographic -kernel "$1" </dev/null
}

mode=${1:-vectors}
case $mode in
vectors)
    per=${2:-130}
    seed=${3:-0x6b756d6f2d667075}
    # shellcheck disable=SC2086
    $cc $cflags -DPER_UNIT="$per" -DSEED="UINT64_C($seed)" -T "$here/link.ld" \
        "$here/start.S" "$here/gen.c" -lgcc -o "$tmp/gen.elf"
    run "$tmp/gen.elf" >"$tmp/vectors.txt"
    tail -n 1 "$tmp/vectors.txt" | grep -q '^# end ' || {
        echo "regen.sh: generator did not finish" >&2
        exit 1
    }
    mv "$tmp/vectors.txt" "$here/../fpu_vectors.txt"
    echo "wrote $(wc -l <"$here/../fpu_vectors.txt") lines to tests/unit/fpu_vectors.txt"
    ;;
check)
    per=${2:-20000}
    seed=${3:-0x6b756d6f2d667075}
    # shellcheck disable=SC2086
    $cc $cflags -DCHECK -DPER_UNIT="$per" -DSEED="UINT64_C($seed)" -T "$here/link.ld" \
        "$here/start.S" "$here/gen.c" "$here/../../../src/cpu/fpu.c" -lgcc -o "$tmp/check.elf"
    run "$tmp/check.elf"
    ;;
*)
    echo "usage: $0 [vectors [PER_UNIT [SEED]] | check [PER_UNIT [SEED]]]" >&2
    exit 2
    ;;
esac
