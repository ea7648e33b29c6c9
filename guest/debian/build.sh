#!/usr/bin/env bash
# Build kumo's Debian 13 ("trixie") riscv64 cloud image from Debian's archive:
#   debian-13.qcow2   a 4 GiB disk (GPT, one ext4 root partition) with Debian's
#                     kernel and initramfs, systemd, openssh-server, cloud-init,
#                     sudo, ca-certificates and u-boot-menu's extlinux.conf
#   packages.txt      the packages inside, with their versions
#   build.log         the second stage's console
#
# Usage: guest/debian/build.sh [OUTFILE]
#   Prints the cache entry's directory on stdout (progress goes to stderr):
#     <cache>/debian/<hash>/   <cache> = ${KUMO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kumo}/guest
#   <hash> covers this directory's files, guest/lib.sh, the suite and mirror
#   and the host's debootstrap, e2fsprogs and fdisk versions (inputs.txt);
#   the archive's package versions at build time are in packages.txt. With
#   OUTFILE the image is also copied there.
#
# How (guest/README.md, "The Debian image"), with one of two second stages
# (KUMO_DEBIAN_STAGE2=qemu-user|vm; default: qemu-user when run as root with
# Debian's qemu-user-static installed, else vm):
#   1. host: debootstrap --foreign fetches the packages and unpacks the
#      essential ones (vm: under fakeroot, no root needed); files/ and
#      stage2.sh are added
#   2. qemu-user: stage2.sh runs in a chroot of the tree, its riscv64
#      programs through qemu-riscv64-static (binfmt_misc, registered here
#      when missing); then mke2fs -d writes the tree into the root partition
#      of a sparse raw disk.
#      vm: mke2fs -d writes the tree into the disk first, then kumo-vmm boots
#      the default guest kernel with that disk as root and stage2.sh as init
#      (kumo builds its own image; about 8 times the CPU time of qemu-user)
#   3. host: e2fsck, then kumo-img converts the raw disk to qcow2
#
# Environment: KUMO_CACHE, KUMO_KEEP_WORK (guest/README.md); KUMO_VMM and
# KUMO_IMG (default: build/kumo-vmm and build/kumo-img of this checkout);
# KUMO_DEBIAN_MIRROR (default http://deb.debian.org/debian);
# KUMO_DEBIAN_TIMEOUT (minutes for the second stage, default 150);
# KUMO_DEBIAN_STAGE2 (above).
set -euo pipefail
LOG_TAG="debian"
# shellcheck source=guest/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

OUTFILE=${1:-}
[ $# -le 1 ] || die "usage: $0 [OUTFILE]"

DEB_DIR=$GUEST_DIR/debian
REPO=$(cd "$GUEST_DIR/.." && pwd)
VMM=${KUMO_VMM:-$REPO/build/kumo-vmm}
IMG=${KUMO_IMG:-$REPO/build/kumo-img}
SUITE=trixie
MIRROR=${KUMO_DEBIAN_MIRROR:-http://deb.debian.org/debian}
TIMEOUT_MIN=${KUMO_DEBIAN_TIMEOUT:-150}
IMAGE=debian-13.qcow2
DISK_MIB=4096
PART_START=2048 # sectors: the root partition starts at 1 MiB
# Fixed identities, so that the build is reproducible and the kernel command
# line (root=UUID=...) is known; VMs made from the image share them, as
# VMs made from any cloud image do.
DISK_GUID=6b756d6f-6465-6269-616e-2d3133646973
PART_GUID=6b756d6f-6465-6269-616e-2d3133706172
ROOT_UUID=6b756d6f-6465-6269-616e-2d3133726f6f
ROOT_LABEL=debian-root
# Beyond debootstrap's minbase (Essential and apt): what a cloud VM needs.
PACKAGES=(
	linux-image-riscv64 initramfs-tools zstd u-boot-menu
	systemd systemd-sysv systemd-resolved udev dbus kmod
	openssh-server cloud-init cloud-guest-utils fdisk e2fsprogs
	sudo ca-certificates iproute2 iputils-ping netbase less
	# debootstrap does not resolve virtual packages: python3-cryptography
	# (cloud-init's oauthlib) needs python3-cffi-backend-api-min/max, which
	# only python3-cffi-backend provides (without it the second stage
	# failed configuring cloud-init after 58 minutes)
	python3-cffi-backend
)

# --- preflight and inputs ----------------------------------------------------
need_sources debian/build.sh debian/stage2.sh lib.sh
need_tools debootstrap mke2fs e2fsck debugfs sfdisk truncate timeout flock sha256sum
STAGE2=${KUMO_DEBIAN_STAGE2:-auto}
QEMU_USER=/usr/bin/qemu-riscv64-static
if [ "$STAGE2" = auto ]; then
	if [ "$(id -u)" = 0 ] && [ -x "$QEMU_USER" ]; then STAGE2=qemu-user; else STAGE2=vm; fi
fi
case "$STAGE2" in
qemu-user)
	[ "$(id -u)" = 0 ] || die "KUMO_DEBIAN_STAGE2=qemu-user needs root (chroot); use vm"
	[ -x "$QEMU_USER" ] || die "$QEMU_USER not found: run guest/deps.sh (qemu-user-static)"
	need_tools chroot mount umount
	;;
vm) need_tools fakeroot ;;
*) die "KUMO_DEBIAN_STAGE2 must be qemu-user, vm or auto, not '$STAGE2'" ;;
esac
[ -x "$VMM" ] || die "$VMM not found: build kumo first (scripts/build.sh), or set KUMO_VMM"
[ -x "$IMG" ] || die "$IMG not found: build kumo first (scripts/build.sh), or set KUMO_IMG"
# The second stage runs on the default guest's kernel (its own cache entry).
KDIR=$("$GUEST_DIR/build-kernel.sh" --check)

add_input "# kumo Debian image inputs"
add_file debian/build.sh
add_file debian/stage2.sh
add_file lib.sh
while IFS= read -r f; do
	add_file "debian/files/$f"
done < <(cd "$DEB_DIR/files" && find . -type f | sed 's|^\./||' | LC_ALL=C sort)
add_input "suite $SUITE riscv64 $MIRROR"
add_input "packages ${PACKAGES[*]}"
add_input "disk ${DISK_MIB}MiB gpt $DISK_GUID $PART_GUID ext4 $ROOT_UUID $ROOT_LABEL"
add_pkg debootstrap
add_pkg e2fsprogs
add_pkg fdisk
add_input "second stage $STAGE2"
[ "$STAGE2" = vm ] || add_pkg qemu-user-static
HASH=$(inputs_hash)

# A build killed in its qemu-user second stage may have left /proc, /sys,
# ... mounted in its tree; entry_open removes stale work directories, so
# unmount them first (rm -rf must never cross into a mounted file system).
awk -v d="$CACHE_ROOT/debian/.tmp-" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r |
	while IFS= read -r m; do umount -l "$m" || die "cannot unmount $m (left by a killed build)"; done
entry_open "$CACHE_ROOT/debian" "$HASH" "$IMAGE" packages.txt build.log
if [ "$CACHED" = 1 ]; then
	log "cached: $FINAL"
	[ -z "$OUTFILE" ] || cp -f "$FINAL/$IMAGE" "$OUTFILE"
	printf '%s\n' "$FINAL"
	exit 0
fi
log "building the Debian 13 image $HASH in $TMP"
reproducible_env

# --- 1. first stage on the host ----------------------------------------------
ROOT=$WORK/root
FR_STATE=$WORK/fakeroot.state
: >"$FR_STATE"
# fr CMD...: CMD as root: under fakeroot (vm), or as it is (qemu-user: root)
fr() {
	if [ "$STAGE2" = vm ]; then
		fakeroot -i "$FR_STATE" -s "$FR_STATE" -- "$@"
	else
		"$@"
	fi
}
# Nothing may stay mounted in the tree when the work directory is removed.
unmount_tree() {
	local m
	[ -n "${ROOT:-}" ] || return 0
	for m in dev/shm dev/pts run sys proc; do
		mountpoint -q "$ROOT/$m" 2>/dev/null && umount -l "$ROOT/$m"
	done
	return 0
}
trap 'unmount_tree; entry_cleanup' EXIT

step_start "debootstrap --foreign $SUITE riscv64 (fetches $((${#PACKAGES[@]})) packages and their dependencies)"
include=$(
	IFS=,
	echo "${PACKAGES[*]}"
)
run_logged "$WORK/debootstrap.log" fr nice -n 10 \
	debootstrap --foreign --arch=riscv64 --variant=minbase --merged-usr \
	--include="$include" "$SUITE" "$ROOT" "$MIRROR"
log "  $(find "$ROOT/var/cache/apt/archives" -name '*.deb' | wc -l) packages," \
	"$(du -sm "$ROOT/var/cache/apt/archives" | cut -f1) MiB of .deb files"
step_done

step_start "adding kumo's files and the second stage"
# shellcheck disable=SC2016 # expanded by the inner bash
fr bash -c '
	set -e
	root=$1 files=$2 stage2=$3 uuid=$4
	# debootstrap links /proc to the host'"'"'s /proc when it thinks it runs in a
	# container; the VM mounts its own.
	if [ -L "$root/proc" ]; then rm -f "$root/proc"; mkdir -m 555 "$root/proc"; fi
	cp -R --preserve=mode "$files/." "$root/"
	install -m 0755 "$stage2" "$root/kumo-stage2"
	# dpkg without an fsync per file (the second stage removes this): the
	# build syncs once at its end and checks the file system after it.
	mkdir -p "$root/etc/dpkg/dpkg.cfg.d"
	echo force-unsafe-io >"$root/etc/dpkg/dpkg.cfg.d/kumo-build"
	printf "UUID=%s\t/\text4\terrors=remount-ro\t0\t1\n" "$uuid" >"$root/etc/fstab"
	chown -R 0:0 "$root/kumo-stage2" "$root/etc/fstab" "$root/etc/dpkg/dpkg.cfg.d/kumo-build" \
		$(cd "$files" && find . -mindepth 1 | sed "s|^\.|$root|")
' _ "$ROOT" "$DEB_DIR/files" "$DEB_DIR/stage2.sh" "$ROOT_UUID"
step_done

make_disk() {
	step_start "making the disk: GPT, ext4 root partition from the tree (mke2fs -d)"
	DISK=$WORK/disk.raw
	truncate -s "${DISK_MIB}M" "$DISK"
	sectors=$((DISK_MIB * 2048))
	part_sectors=$((sectors - PART_START - 33)) # the backup GPT takes the last 33
	part_sectors=$((part_sectors / 8 * 8))      # whole 4 KiB blocks
	run_logged "$WORK/sfdisk.log" sfdisk --no-reread --no-tell-kernel "$DISK" <<EOF
label: gpt
label-id: $DISK_GUID
unit: sectors
first-lba: $PART_START

start=$PART_START, size=$part_sectors, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=$PART_GUID, name="root", attrs="LegacyBIOSBootable"
EOF
	run_logged "$WORK/mke2fs.log" fr env E2FSPROGS_FAKE_TIME="$EPOCH" \
		mke2fs -q -F -t ext4 -b 4096 -L "$ROOT_LABEL" -U "$ROOT_UUID" \
		-E "offset=$((PART_START * 512)),hash_seed=$ROOT_UUID,root_owner=0:0" \
		-d "$ROOT" "$DISK" "$((part_sectors / 8))"
	unmount_tree
	rm -rf "$ROOT" # the disk has it all now
	step_done
}

# The second stage's output says whether it completed.
stage2_check() {
	cp "$CONSOLE" "$OUT/build.log"
	if ! grep -q '^kumo-stage2: done' "$CONSOLE"; then
		tail -n 40 "$CONSOLE" | sed 's/^/    /' >&2
		if grep -q '^kumo-stage2: FAILED' "$CONSOLE"; then
			die "the second stage failed: $(grep '^kumo-stage2: FAILED' "$CONSOLE" | head -n1)"
		fi
		die "the second stage did not finish (status $rc; after ${TIMEOUT_MIN} min the build gives up)"
	fi
	grep '^kumo-stage2: package ' "$CONSOLE" | sed 's/^kumo-stage2: package //' >"$OUT/packages.txt"
}

# --- 2. second stage ---------------------------------------------------------
if [ "$STAGE2" = qemu-user ]; then
	# binfmt_misc runs riscv64 programs with qemu-riscv64-static; F (fix
	# binary): the kernel opens the interpreter now, so it works in the chroot.
	bm=/proc/sys/fs/binfmt_misc
	mountpoint -q "$bm" || mount -t binfmt_misc binfmt_misc "$bm" ||
		die "cannot mount binfmt_misc on $bm"
	if ! grep -q '^flags:.*F' "$bm/qemu-riscv64" 2>/dev/null; then
		[ ! -e "$bm/qemu-riscv64" ] || echo -1 >"$bm/qemu-riscv64"
		conf=/usr/lib/binfmt.d/qemu-riscv64.conf
		[ -s "$conf" ] || die "$conf not found (package qemu-user-static)"
		log "registering riscv64 with binfmt_misc ($conf)"
		cat "$conf" >"$bm/register" || die "cannot register $conf with binfmt_misc"
	fi
	grep -q '^enabled' "$bm/qemu-riscv64" || die "binfmt_misc's qemu-riscv64 entry is disabled"
	step_start "second stage in a chroot with qemu-user (debootstrap --second-stage on riscv64)"
	CONSOLE=$WORK/stage2.console
	rc=0
	nice -n 10 timeout "$((TIMEOUT_MIN * 60))" chroot "$ROOT" /kumo-stage2 --chroot </dev/null 2>&1 |
		tee "$CONSOLE" |
		grep --line-buffered -E '^(I: (Unpacking|Configuring|Installing|Base)|kumo-stage2:)' |
		grep --line-buffered -v '^kumo-stage2: package ' | sed -u "s/^/[$LOG_TAG]   /" >&2 ||
		rc=$?
	unmount_tree
	step_done
	stage2_check
	make_disk
else
	make_disk
	step_start "the default guest kernel (for the second stage)"
	KDIR=$("$GUEST_DIR/build-kernel.sh")
	step_done
	step_start "second stage in kumo-vmm (debootstrap --second-stage on riscv64; long: see guest/README.md)"
	CONSOLE=$WORK/stage2.console
	rc=0
	nice -n 10 timeout "$((TIMEOUT_MIN * 60))" "$VMM" --cpus 2 --mem 2048 \
		--kernel "$KDIR/Image" \
		--append "console=ttyS0 root=/dev/vda1 rw init=/kumo-stage2 kumo.loglevel=4" \
		--disk "path=$DISK,format=raw" --console stdio </dev/null 2>&1 |
		sed -u 's/\r$//' | tee "$CONSOLE" |
		grep --line-buffered -E '^(I: (Unpacking|Configuring|Installing|Base)|kumo-stage2:)' |
		grep --line-buffered -v '^kumo-stage2: package ' | sed -u "s/^/[$LOG_TAG]   /" >&2 ||
		rc=$?
	step_done
	stage2_check
fi

# --- 3. check and convert ----------------------------------------------------
step_start "checking the file system, converting to qcow2"
run_logged "$WORK/e2fsck.log" e2fsck -fn "$DISK?offset=$((PART_START * 512))"
run_logged "$WORK/convert.log" "$IMG" convert -f raw -O qcow2 "$DISK" "$OUT/$IMAGE"
step_done

entry_publish "$IMAGE" packages.txt
log "done in $(($(date +%s) - T_START)) s: $IMAGE $(du -h "$FINAL/$IMAGE" | cut -f1)" \
	"(virtual ${DISK_MIB} MiB), $(wc -l <"$FINAL/packages.txt") packages"
log "outputs in $FINAL"
[ -z "$OUTFILE" ] || cp -f "$FINAL/$IMAGE" "$OUTFILE"
printf '%s\n' "$FINAL"
