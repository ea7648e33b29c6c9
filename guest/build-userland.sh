#!/usr/bin/env bash
# shellcheck disable=SC2016 # the bash -c '...' snippets expand their own "$1"
# Userland stage of the guest build (guest/build.sh runs it): static busybox
# (Debian's busybox source, busybox.config) + guest/init + udhcpc.script,
# packed as an initramfs and as an ext4 image.
#
# Usage: guest/build-userland.sh [--check]
#   Builds (or finds) the cache entry
#     ${KUMO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kumo}/guest/userland/<hash>/
#   holding initramfs.cpio.gz, rootfs.ext4 and busybox.config (the final
#   .config), and prints its path on stdout (progress goes to stderr).
#   <hash> covers only this stage's inputs (see inputs.txt in the entry).
#   --check: only check the build dependencies and print the path.
# Environment: KUMO_CACHE, KUMO_JOBS, KUMO_KEEP_WORK (see guest/README.md).
# Needs Debian's archive for apt-get source busybox.
set -euo pipefail
LOG_TAG="guest userland"
# shellcheck source=guest/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CHECK=0
case "${1:-}" in
--check) CHECK=1 ;;
"") ;;
*) die "usage: $0 [--check]" ;;
esac
[ $# -le 1 ] || die "usage: $0 [--check]"

ROOTFS_MIB=64
ROOTFS_UUID=6b756d6f-6775-6573-7400-726f6f746673
HOSTCC=${HOSTCC:-cc}

# --- preflight and inputs ----------------------------------------------------
need_sources build-userland.sh lib.sh busybox.config dropbear.options.h init udhcpc.script \
	kumo-reseed.c
need_tools "${CROSS}gcc" "${CROSS}readelf" "$HOSTCC" make tar xz gzip mke2fs debugfs \
	e2fsck dpkg-source dpkg-query apt-get apt-cache flock sha256sum
[ -f /usr/riscv64-linux-gnu/lib/libc.a ] ||
	die "static riscv64 glibc missing; run guest/deps.sh (package libc6-dev-riscv64-cross)"
# usr/gen_init_cpio.c (builds the initramfs without root) comes from here.
[ -f "$KERNEL_TARBALL" ] ||
	die "$KERNEL_TARBALL not found; run guest/deps.sh (package linux-source-6.1)"

# src_version PKG: the source version apt-get source would fetch (needs
# deb-src), in SRC_VERSION.
src_version() {
	local pkg=$1 dsc dsc_version v
	dsc=$(apt-get source --print-uris "$pkg" 2>/dev/null |
		awk '{print $2}' | grep "^${pkg}_.*\.dsc\$" | head -n1) || true
	[ -n "$dsc" ] ||
		die "cannot find the $pkg source package (no deb-src entries or stale apt lists?); run guest/deps.sh"
	dsc_version=${dsc#"${pkg}"_}
	dsc_version=${dsc_version%.dsc}
	# The file name lacks the epoch ("1:"); take the full version from apt-cache.
	SRC_VERSION=
	for v in $(apt-cache showsrc --only-source "$pkg" 2>/dev/null | sed -n 's/^Version: //p'); do
		if [ "${v#*:}" = "$dsc_version" ]; then SRC_VERSION=$v; fi
	done
	[ -n "$SRC_VERSION" ] ||
		die "apt-cache showsrc $pkg does not list version $dsc_version"
}
src_version busybox
BUSYBOX_SRC_VERSION=$SRC_VERSION
src_version dropbear
DROPBEAR_SRC_VERSION=$SRC_VERSION

# fetch_source PKG VERSION DIR: apt-get source into DIR; prints the tree.
fetch_source() {
	local tree
	mkdir -p "$3"
	run_logged "$3.log" bash -c 'cd "$1" && apt-get source "$2=$3"' _ "$3" "$1" "$2"
	tree=$(find "$3" -mindepth 1 -maxdepth 1 -type d -name "$1-*" | head -n1)
	[ -n "$tree" ] && { [ -e "$tree/configure" ] || [ -e "$tree/Makefile" ]; } ||
		die "apt-get source $1 produced no source tree"
	printf '%s\n' "$tree"
}

# check_static FILE: a static RISC-V executable
check_static() {
	local file_type
	file_type=$("${CROSS}readelf" -h -l "$1" 2>&1) || die "cannot read $1"
	grep -q 'Machine:.*RISC-V' <<<"$file_type" || die "$1 is not a RISC-V binary"
	if grep -q 'INTERP' <<<"$file_type"; then die "$1 is not static"; fi
}

add_input "# kumo guest userland stage inputs"
add_file build-userland.sh
add_file lib.sh
add_file busybox.config
add_file dropbear.options.h
add_file init
add_file kumo-reseed.c
add_file udhcpc.script
add_input "deb-src busybox $BUSYBOX_SRC_VERSION"
add_input "deb-src dropbear $DROPBEAR_SRC_VERSION"
add_pkg gcc-12-riscv64-linux-gnu
add_pkg binutils-riscv64-linux-gnu
add_pkg libc6-dev-riscv64-cross
add_pkg linux-libc-dev-riscv64-cross
add_input "cc $("${CROSS}gcc" --version | head -n1)"
add_pkg linux-source-6.1 "usr/gen_init_cpio.c"
add_input "hostcc $("$HOSTCC" --version | head -n1)"
add_pkg e2fsprogs
add_pkg gzip
HASH=$(inputs_hash)

if [ "$CHECK" = 1 ]; then
	printf '%s\n' "$CACHE_ROOT/userland/$HASH"
	exit 0
fi
entry_open "$CACHE_ROOT/userland" "$HASH" initramfs.cpio.gz rootfs.ext4 busybox.config
if [ "$CACHED" = 1 ]; then
	log "cached: $FINAL"
	printf '%s\n' "$FINAL"
	exit 0
fi

log "building userland $HASH in $TMP"
printf '%s' "$INPUTS" | sed "s/^/[$LOG_TAG]   /" >&2
reproducible_env

# --- sources -------------------------------------------------------------------
step_start "fetching busybox $BUSYBOX_SRC_VERSION and dropbear $DROPBEAR_SRC_VERSION sources (apt-get source)"
BBSRC=$(fetch_source busybox "$BUSYBOX_SRC_VERSION" "$WORK/bb")
DBSRC=$(fetch_source dropbear "$DROPBEAR_SRC_VERSION" "$WORK/db")
step_done

# The kernel's gen_init_cpio writes an initramfs from a file list (owners and
# device nodes as listed, no root needed). It is one self-contained C file:
# take just that from the kernel source tarball.
step_start "building gen_init_cpio (from $KERNEL_TARBALL)"
tar -xf "$KERNEL_TARBALL" -C "$WORK" linux-source-6.1/usr/gen_init_cpio.c
run_logged "$WORK/gen_init_cpio.log" "$HOSTCC" -O2 -o "$WORK/gen_init_cpio" \
	"$WORK/linux-source-6.1/usr/gen_init_cpio.c"
step_done

# --- busybox -------------------------------------------------------------------
BBMAKE=(make -C "$BBSRC" CROSS_COMPILE="$CROSS")

step_start "configuring busybox (defconfig + guest/busybox.config)"
run_logged "$WORK/bb-defconfig.log" "${BBMAKE[@]}" defconfig
while IFS= read -r line; do
	case "$line" in
	CONFIG_*=*) sym=${line%%=*} ;;
	"# CONFIG_"*" is not set")
		sym=${line#\# }
		sym=${sym%% *}
		;;
	*) continue ;;
	esac
	sed -i -e "/^$sym=/d" -e "/^# $sym is not set\$/d" "$BBSRC/.config"
	printf '%s\n' "$line" >>"$BBSRC/.config"
done <"$GUEST_DIR/busybox.config"
run_logged "$WORK/bb-oldconfig.log" bash -c 'yes "" | "$@"' _ "${BBMAKE[@]}" oldconfig
missing=()
while IFS= read -r line; do
	case "$line" in
	CONFIG_*=*) grep -qxF -- "$line" "$BBSRC/.config" || missing+=("$line") ;;
	esac
done <"$GUEST_DIR/busybox.config"
[ "${#missing[@]}" -eq 0 ] || die "busybox options did not stick: ${missing[*]}"
cp "$BBSRC/.config" "$OUT/busybox.config"
step_done

step_start "building static busybox with -j$JOBS (about 2 min on 2 cores)..."
run_logged "$WORK/bb-build.log" nice -n 10 "${BBMAKE[@]}" -j"$JOBS" busybox
check_static "$BBSRC/busybox"
step_done

# --- dropbear --------------------------------------------------------------------
# The SSH server of the default guest: static (glibc's static NSS reads
# /etc/passwd and /etc/group without shared libraries), with the bundled
# libtomcrypt, no zlib, no login records (the guest keeps none), public key
# authentication only (guest/dropbear.options.h). One multi-call binary.
step_start "building static dropbear with -j$JOBS (about 1 min on 2 cores)..."
cp "$GUEST_DIR/dropbear.options.h" "$DBSRC/localoptions.h"
run_logged "$WORK/db-configure.log" bash -c 'cd "$1" && shift && "$@"' _ "$DBSRC" \
	./configure --host="${CROSS%-}" --enable-static --enable-bundled-libtom --disable-zlib \
	--disable-lastlog --disable-utmp --disable-utmpx --disable-wtmp --disable-wtmpx \
	--disable-pututline --disable-pututxline --disable-loginfunc
DROPBEAR_PROGRAMS="dropbear dropbearkey dbclient scp"
run_logged "$WORK/db-build.log" nice -n 10 make -C "$DBSRC" -j"$JOBS" MULTI=1 \
	PROGRAMS="$DROPBEAR_PROGRAMS"
check_static "$DBSRC/dropbearmulti"
run_logged "$WORK/db-strip.log" "${CROSS}strip" "$DBSRC/dropbearmulti"
step_done

# --- root file tree ------------------------------------------------------------
step_start "assembling the root file tree"
ROOT=$WORK/root
run_logged "$WORK/bb-install.log" "${BBMAKE[@]}" CONFIG_PREFIX="$ROOT" install
# No /linuxrc: the kernel runs /init (initramfs) or /sbin/init (disk root).
rm -f "$ROOT/linuxrc"
mkdir -p "$ROOT"/{dev,proc,sys,tmp,run,root,etc,mnt,var,usr/share/udhcpc}
chmod 1777 "$ROOT/tmp"
chmod 0700 "$ROOT/root"
install -m 0755 "$GUEST_DIR/init" "$ROOT/init"
ln -sfn ../init "$ROOT/sbin/init"
install -m 0755 "$GUEST_DIR/udhcpc.script" "$ROOT/usr/share/udhcpc/default.script"
# the restored guest's entropy (init's restore handler, docs/vmstate.md)
"${CROSS}gcc" -static -Os -s -o "$ROOT/sbin/kumo-reseed" "$GUEST_DIR/kumo-reseed.c" ||
	die "cannot build kumo-reseed"
install -m 0755 "$DBSRC/dropbearmulti" "$ROOT/usr/sbin/dropbearmulti"
ln -sfn dropbearmulti "$ROOT/usr/sbin/dropbear"
for p in dropbearkey dbclient scp; do ln -sfn ../sbin/dropbearmulti "$ROOT/usr/bin/$p"; done
mkdir -p "$ROOT/etc/dropbear" "$ROOT/home"
ln -sfn ../run "$ROOT/var/run"
ln -sfn ../tmp "$ROOT/var/tmp"
ln -sfn /run/resolv.conf "$ROOT/etc/resolv.conf"
ln -sfn /proc/mounts "$ROOT/etc/mtab"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$ROOT/etc/passwd"
printf 'root:x:0:\ntty:x:5:\n' >"$ROOT/etc/group"
printf '127.0.0.1\tlocalhost\n' >"$ROOT/etc/hosts"
cat >"$ROOT/etc/profile" <<'PROFILE'
export PATH=/sbin:/usr/sbin:/bin:/usr/bin
export HOME=/root
export PS1='\h:\w# '
PROFILE
# Everything gets the same timestamp, for reproducible archives.
find "$ROOT" -exec touch -h -d "@$EPOCH" {} +
step_done

# gen_init_cpio list: every entry owned by root, plus /dev/console (the kernel
# opens it for init's stdio before devtmpfs is mounted); no root needed.
cpio_list() {
	local path rel mode
	echo "dir /dev 0755 0 0"
	echo "nod /dev/console 0600 0 0 c 5 1"
	(cd "$ROOT" && find . -mindepth 1 | LC_ALL=C sort) | while IFS= read -r path; do
		rel=${path#.}
		[ "$rel" != /dev ] || continue
		mode=$(stat -c '%a' "$ROOT$rel")
		if [ -L "$ROOT$rel" ]; then
			echo "slink $rel $(readlink "$ROOT$rel") 0777 0 0"
		elif [ -d "$ROOT$rel" ]; then
			echo "dir $rel $mode 0 0"
		elif [ -f "$ROOT$rel" ]; then
			echo "file $rel $ROOT$rel $mode 0 0"
		else
			die "unexpected file type in root tree: $rel"
		fi
	done
}

step_start "packing initramfs.cpio.gz"
cpio_list >"$WORK/initramfs.list"
"$WORK/gen_init_cpio" -t "$EPOCH" "$WORK/initramfs.list" >"$WORK/initramfs.cpio" ||
	die "gen_init_cpio failed"
gzip -n -9 <"$WORK/initramfs.cpio" >"$OUT/initramfs.cpio.gz"
step_done

step_start "making rootfs.ext4 (${ROOTFS_MIB} MiB)"
truncate -s "${ROOTFS_MIB}M" "$OUT/rootfs.ext4"
run_logged "$WORK/mke2fs.log" env E2FSPROGS_FAKE_TIME="$EPOCH" \
	mke2fs -q -F -t ext4 -L kumo-root -U "$ROOTFS_UUID" \
	-E "hash_seed=$ROOTFS_UUID,root_owner=0:0" -d "$ROOT" "$OUT/rootfs.ext4"
# With debugfs (it edits the image file, no root needed): add /dev/console;
# make every inode root-owned (mke2fs -d copies the builder's uid/gid) and give
# it the fixed timestamp (mke2fs takes ctime and atime from the build tree).
{
	echo "cd /dev"
	echo "mknod console c 5 1"
	echo "cd /"
	echo "set_inode_field /dev/console mode 020600"
	{
		echo /
		echo /lost+found
		(cd "$ROOT" && find . -mindepth 1 | LC_ALL=C sort | sed 's/^\.//')
	} | while IFS= read -r path; do
		for field in uid gid; do
			printf 'set_inode_field "%s" %s 0\n' "$path" "$field"
		done
		for field in atime ctime mtime crtime; do
			printf 'set_inode_field "%s" %s @%s\n' "$path" "$field" "$EPOCH"
		done
	done
} >"$WORK/debugfs.cmds"
run_logged "$WORK/debugfs.log" env E2FSPROGS_FAKE_TIME="$EPOCH" \
	debugfs -w -f "$WORK/debugfs.cmds" "$OUT/rootfs.ext4"
if grep -qi 'error\|not found\|invalid' "$WORK/debugfs.log"; then
	sed 's/^/    /' "$WORK/debugfs.log" | grep -i 'error\|not found\|invalid' | head >&2
	die "debugfs reported errors while fixing rootfs.ext4"
fi
run_logged "$WORK/e2fsck.log" e2fsck -fn "$OUT/rootfs.ext4"
step_done

entry_publish initramfs.cpio.gz rootfs.ext4
log "done in $(($(date +%s) - T_START)) s:" \
	"initramfs.cpio.gz $(du -h "$FINAL/initramfs.cpio.gz" | cut -f1)," \
	"rootfs.ext4 ${ROOTFS_MIB} MiB"
log "outputs in $FINAL"
printf '%s\n' "$FINAL"
