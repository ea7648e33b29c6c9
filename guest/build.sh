#!/usr/bin/env bash
# Build kumo's default riscv64 guest, offline, from Debian packages:
#   Image              Linux (Debian's linux-source-6.1) with guest/kernel.config
#   initramfs.cpio.gz  static busybox (Debian's busybox source) + guest/init
#   rootfs.ext4        the same userland as a 64 MiB ext4 image
#
# Usage: guest/build.sh [OUTDIR]
#   Two cached stages, each keyed by a hash of its own inputs only:
#     guest/build-userland.sh -> <cache>/userland/<U>/  (about 3 min on 2 cores)
#     guest/build-kernel.sh   -> <cache>/kernel/<K>/    (about 8 min on 2 cores)
#   and one directory with all outputs (hard links into the two):
#     <cache>/<K>-<U>/   where <cache> is
#     ${KUMO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kumo}/guest
#   Its path is printed on stdout (progress goes to stderr). With OUTDIR the
#   three images are also copied there.
# Environment:
#   KUMO_CACHE       cache root (see above)
#   KUMO_JOBS        parallel make jobs (default: number of CPUs)
#   KUMO_KEEP_WORK=1 keep the work directories (sources, objects) for debugging
# Needs the packages that guest/deps.sh installs; no network beyond Debian's
# archive (apt-get source busybox).
set -euo pipefail
# shellcheck source=guest/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

OUTDIR=${1:-}
[ $# -le 1 ] || die "usage: $0 [OUTDIR]"

IMAGES=(Image initramfs.cpio.gz rootfs.ext4)
KERNEL_FILES=(Image System.map kernel.config kernel.release)
USERLAND_FILES=(initramfs.cpio.gz rootfs.ext4 busybox.config)

deliver() {
	if [ -n "$OUTDIR" ]; then
		mkdir -p "$OUTDIR"
		local f
		for f in "${IMAGES[@]}"; do cp -f "$FINAL/$f" "$OUTDIR/$f"; done
		log "copied ${IMAGES[*]} to $OUTDIR"
	fi
	printf '%s\n' "$FINAL"
}

# Check both stages' dependencies before building either (fail fast) and
# learn their cache entries; if the combined directory exists, that is all.
KDIR=$("$GUEST_DIR/build-kernel.sh" --check)
UDIR=$("$GUEST_DIR/build-userland.sh" --check)
NAME=$(basename "$KDIR")-$(basename "$UDIR")
FINAL=$CACHE_ROOT/$NAME
ENTRY_FILES=("${KERNEL_FILES[@]}" "${USERLAND_FILES[@]}")
if entry_complete "$FINAL"; then
	log "cached: $FINAL"
	deliver
	exit 0
fi

T0=$(date +%s)
# Userland first: it is shorter, and it needs the network (apt-get source),
# so a failure there shows up before a long kernel build.
UDIR=$("$GUEST_DIR/build-userland.sh")
KDIR=$("$GUEST_DIR/build-kernel.sh")
[ "$NAME" = "$(basename "$KDIR")-$(basename "$UDIR")" ] ||
	die "stage entries changed during the build (inputs edited?); run again"

entry_open "$CACHE_ROOT" "$NAME" "${ENTRY_FILES[@]}"
if [ "$CACHED" = 0 ]; then
	# Hard links (the cache is one file system), copies if that fails.
	for f in "${KERNEL_FILES[@]}"; do
		ln "$KDIR/$f" "$OUT/$f" 2>/dev/null || cp "$KDIR/$f" "$OUT/$f"
	done
	for f in "${USERLAND_FILES[@]}"; do
		ln "$UDIR/$f" "$OUT/$f" 2>/dev/null || cp "$UDIR/$f" "$OUT/$f"
	done
	cat "$KDIR/SHA256SUMS" "$UDIR/SHA256SUMS" >"$OUT/SHA256SUMS"
	{
		echo "# kumo guest: kernel stage $KDIR"
		cat "$KDIR/inputs.txt"
		echo "# kumo guest: userland stage $UDIR"
		cat "$UDIR/inputs.txt"
	} >"$OUT/inputs.txt"
	[ ! -e "$FINAL" ] || rm -rf "$FINAL"
	mv -T "$OUT" "$FINAL"
	log "done in $(($(date +%s) - T0)) s: Image $(du -h "$FINAL/Image" | cut -f1)," \
		"initramfs.cpio.gz $(du -h "$FINAL/initramfs.cpio.gz" | cut -f1)," \
		"rootfs.ext4 $(($(stat -c %s "$FINAL/rootfs.ext4") >> 20)) MiB"
	log "outputs in $FINAL"
else
	log "cached: $FINAL"
fi
deliver
