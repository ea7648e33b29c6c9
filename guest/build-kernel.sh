#!/usr/bin/env bash
# shellcheck disable=SC2016 # the bash -c '...' snippets expand their own "$1"
# Kernel stage of the guest build (guest/build.sh runs it): Linux from
# Debian's linux-source-6.1, tinyconfig + guest/kernel.config, for riscv64.
#
# Usage: guest/build-kernel.sh [--check]
#   Builds (or finds) the cache entry
#     ${KUMO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kumo}/guest/kernel/<hash>/
#   holding Image, System.map, kernel.config (the final .config) and
#   kernel.release, and prints its path on stdout (progress goes to stderr).
#   <hash> covers only this stage's inputs (see inputs.txt in the entry).
#   --check: only check the build dependencies and print the path.
# Environment: KUMO_CACHE, KUMO_JOBS, KUMO_KEEP_WORK (see guest/README.md).
set -euo pipefail
LOG_TAG="guest kernel"
# shellcheck source=guest/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CHECK=0
case "${1:-}" in
--check) CHECK=1 ;;
"") ;;
*) die "usage: $0 [--check]" ;;
esac
[ $# -le 1 ] || die "usage: $0 [--check]"

# --- preflight and inputs ----------------------------------------------------
need_sources build-kernel.sh lib.sh kernel.config
need_tools "${CROSS}gcc" "${CROSS}ld" make bc bison flex tar xz flock sha256sum dpkg-query
[ -f "$KERNEL_TARBALL" ] ||
	die "$KERNEL_TARBALL not found; run guest/deps.sh (package linux-source-6.1)"

add_input "# kumo guest kernel stage inputs"
add_file build-kernel.sh
add_file lib.sh
add_file kernel.config
add_pkg linux-source-6.1
add_pkg gcc-12-riscv64-linux-gnu
add_pkg binutils-riscv64-linux-gnu
add_input "cc $("${CROSS}gcc" --version | head -n1)"
HASH=$(inputs_hash)

if [ "$CHECK" = 1 ]; then
	printf '%s\n' "$CACHE_ROOT/kernel/$HASH"
	exit 0
fi
entry_open "$CACHE_ROOT/kernel" "$HASH" Image System.map kernel.config kernel.release
if [ "$CACHED" = 1 ]; then
	log "cached: $FINAL"
	printf '%s\n' "$FINAL"
	exit 0
fi

log "building kernel $HASH in $TMP"
printf '%s' "$INPUTS" | sed "s/^/[$LOG_TAG]   /" >&2

reproducible_env
KBUILD_BUILD_TIMESTAMP=$(date -u -d "@$EPOCH")
export KBUILD_BUILD_TIMESTAMP
export KBUILD_BUILD_USER=kumo KBUILD_BUILD_HOST=kumo KBUILD_BUILD_VERSION=1

step_start "unpacking $KERNEL_TARBALL"
tar -xf "$KERNEL_TARBALL" -C "$WORK"
KSRC=$WORK/linux-source-6.1
[ -f "$KSRC/Makefile" ] || die "unexpected layout in $KERNEL_TARBALL (no linux-source-6.1/Makefile)"
step_done

KMAKE=(make -C "$KSRC" ARCH=riscv CROSS_COMPILE="$CROSS")

step_start "configuring (tinyconfig + guest/kernel.config)"
run_logged "$WORK/kconfig.log" "${KMAKE[@]}" tinyconfig
# -n: fill unset symbols with "no" (allnoconfig), keeping the result tiny.
run_logged "$WORK/kconfig-merge.log" env ARCH=riscv CROSS_COMPILE="$CROSS" \
	bash -c 'cd "$1" && scripts/kconfig/merge_config.sh -n .config "$2"' _ \
	"$KSRC" "$GUEST_DIR/kernel.config"
# merge_config.sh silently drops options whose dependencies are missing:
# every option our fragment asks for must be in the final .config as asked.
missing=()
while IFS= read -r line; do
	case "$line" in
	CONFIG_*=*) grep -qxF -- "$line" "$KSRC/.config" || missing+=("$line") ;;
	"# CONFIG_"*" is not set")
		sym=${line#\# }
		sym=${sym%% *}
		if grep -q "^$sym=" "$KSRC/.config"; then missing+=("$line"); fi
		;;
	esac
done <"$GUEST_DIR/kernel.config"
if [ "${#missing[@]}" -gt 0 ]; then
	log "these options from guest/kernel.config did not end up in the kernel .config"
	log "(missing dependencies, or not available on riscv in this kernel):"
	for m in "${missing[@]}"; do
		sym=${m#\# }
		sym=${sym%%[= ]*}
		got=$(grep -E "^(# )?${sym}[= ]" "$KSRC/.config" | head -n1 || true)
		log "    wanted: $m   got: ${got:-(absent)}"
	done
	die "kernel config check failed (${#missing[@]} options)"
fi
nr_cpus=$(sed -n 's/^CONFIG_NR_CPUS=//p' "$KSRC/.config")
[ "${nr_cpus:-0}" -ge 8 ] || die "CONFIG_NR_CPUS=${nr_cpus:-unset}, need >= 8"
cp "$KSRC/.config" "$OUT/kernel.config"
step_done

step_start "building Image with -j$JOBS (about 8 min on 2 cores)..."
run_logged "$WORK/kernel-build.log" nice -n 10 "${KMAKE[@]}" -j"$JOBS" Image
cp "$KSRC/arch/riscv/boot/Image" "$OUT/Image"
cp "$KSRC/System.map" "$OUT/System.map"
cp "$KSRC/include/config/kernel.release" "$OUT/kernel.release"
step_done

entry_publish Image System.map
log "done in $(($(date +%s) - T_START)) s: kernel $(cat "$FINAL/kernel.release")," \
	"Image $(du -h "$FINAL/Image" | cut -f1)"
log "outputs in $FINAL"
printf '%s\n' "$FINAL"
