#!/usr/bin/env bash
# Boot the guest built by guest/build.sh under QEMU (a peer, not a dependency
# of kumo) and check that it behaves as tests expect.
#
# Usage: guest/qemu-check.sh [DIR]   (DIR holds Image, initramfs.cpio.gz,
#                                     rootfs.ext4; default: run guest/build.sh)
# Checks:
#   1. kumo.run on the initramfs: banner, 2 harts in /proc/cpuinfo, 42,
#      "kumo guest: run exit=0", QEMU exits by itself (power-off)
#   2. interactive boot reaches a shell prompt, runs a command, ^C interrupts a
#      command (SIGINT not ignored), powers off on exit
#   3. `poweroff` typed at the prompt powers off
#   4. `reboot` typed at the prompt reboots (banner twice), then `halt` stops
#   5. kumo.run="reboot" reboots (QEMU with -no-reboot exits)
#   6. rootfs.ext4 passes e2fsck -fn, boots as virtio-blk root with virtio-net
#      (DHCP from QEMU's user network) and reports a non-zero exit status
# Prints wall-clock seconds from QEMU start to the banner and to QEMU's exit.
# KUMO_QEMU_LOGS=DIR keeps the console logs; KUMO_QEMU_TIMEOUT (s, default 180).
set -euo pipefail

log() { printf '[qemu-check] %s\n' "$*" >&2; }
die() { printf '[qemu-check] FAIL: %s\n' "$*" >&2; exit 1; }

GUEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DIR=${1:-}
if [ -z "$DIR" ]; then
	DIR=$("$GUEST_DIR/build.sh")
fi
for f in Image initramfs.cpio.gz rootfs.ext4; do
	[ -s "$DIR/$f" ] || die "$DIR/$f missing"
done
QEMU=${QEMU:-qemu-system-riscv64}
command -v "$QEMU" >/dev/null || die "$QEMU not found (Debian package qemu-system-misc)"
TIMEOUT=${KUMO_QEMU_TIMEOUT:-180}

WORK=$(mktemp -d)
QPID=
cleanup() {
	if [ -n "$QPID" ] && kill -0 "$QPID" 2>/dev/null; then kill "$QPID" 2>/dev/null || true; fi
	if [ -n "${KUMO_QEMU_LOGS:-}" ]; then
		mkdir -p "$KUMO_QEMU_LOGS"
		cp "$WORK"/*.log "$KUMO_QEMU_LOGS"/ 2>/dev/null || true
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# wait_for FILE REGEX SECONDS: poll FILE until a line matches REGEX (grep -E)
# or QEMU ($QPID) exits or the time runs out.
wait_for() {
	local file=$1 pat=$2 limit=$3 start
	start=$(date +%s)
	while ! grep -qE -- "$pat" "$file" 2>/dev/null; do
		if ! kill -0 "$QPID" 2>/dev/null; then
			# QEMU may have printed it just before exiting: look once more.
			grep -qE -- "$pat" "$file" 2>/dev/null
			return
		fi
		[ $(($(date +%s) - start)) -lt "$limit" ] || return 1
		sleep 0.1
	done
}

# wait_count FILE REGEX N SECONDS: like wait_for, until N lines match.
wait_count() {
	wait_awk "$1" "/$2/ { n++ } END { exit n < $3 }" "$4"
}

# wait_awk FILE PROGRAM SECONDS: like wait_for, until awk PROGRAM exits 0.
wait_awk() {
	local file=$1 prog=$2 limit=$3 start
	start=$(date +%s)
	while ! awk "$prog" "$file" 2>/dev/null; do
		if ! kill -0 "$QPID" 2>/dev/null; then
			awk "$prog" "$file" 2>/dev/null
			return
		fi
		[ $(($(date +%s) - start)) -lt "$limit" ] || return 1
		sleep 0.1
	done
}

# boot NAME STDIN -- QEMU-ARGS: start QEMU in the background, output in
# $WORK/NAME.log; STDIN is a file or fifo for its console input. A guest
# reboot makes QEMU exit (-no-reboot) unless QEMU-ARGS start with --reboot.
boot() {
	local name=$1 input=$2 noreboot=-no-reboot
	shift 3
	if [ "${1:-}" = --reboot ]; then
		noreboot=
		shift
	fi
	T0=$(now)
	# shellcheck disable=SC2086 # $noreboot: one word or none
	"$QEMU" -M virt -smp 2 -m 256 -nographic $noreboot "$@" \
		<"$input" >"$WORK/$name.log" 2>&1 &
	QPID=$!
}

# interactive NAME [--reboot]: boot the initramfs with console input from a
# fifo on fd 3 and wait for the shell prompt ("NAME:DIR# ", the host name).
interactive() {
	local name=$1
	shift
	rm -f "$WORK/in"
	mkfifo "$WORK/in"
	boot "$name" "$WORK/in" -- "$@" -kernel "$DIR/Image" -initrd "$DIR/initramfs.cpio.gz" \
		-append "console=ttyS0 kumo.hostname=$name"
	exec 3>"$WORK/in"
	wait_for "$WORK/$name.log" "kumo guest: booted" "$TIMEOUT" || {
		tail -n 40 "$WORK/$name.log" >&2
		die "$name: no banner"
	}
	T_BANNER=$(now)
	wait_for "$WORK/$name.log" "$name:[^ ]*# " 30 || {
		tail -n 20 "$WORK/$name.log" >&2
		die "$name: no prompt '$name:...# '"
	}
	T_PROMPT=$(now)
}

# finish NAME: wait for QEMU to exit by itself; sets T_EXIT and QRC.
finish() {
	local name=$1 start
	start=$(date +%s)
	while kill -0 "$QPID" 2>/dev/null; do
		if [ $(($(date +%s) - start)) -ge "$TIMEOUT" ]; then
			kill "$QPID" 2>/dev/null || true
			tail -n 30 "$WORK/$name.log" >&2
			die "$name: QEMU did not power off within ${TIMEOUT}s"
		fi
		sleep 0.1
	done
	QRC=0
	wait "$QPID" || QRC=$?
	QPID=
	T_EXIT=$(now)
}

expect_in() {
	local name=$1 pat=$2
	grep -qF -- "$pat" "$WORK/$name.log" || {
		tail -n 40 "$WORK/$name.log" >&2
		die "$name: output lacks '$pat' (log above)"
	}
}

# --- 1. kumo.run on the initramfs -------------------------------------------
log "1. initramfs boot with kumo.run"
boot run /dev/null -- -kernel "$DIR/Image" -initrd "$DIR/initramfs.cpio.gz" \
	-append "console=ttyS0 kumo.run=\"cat /proc/cpuinfo; echo \$((6*7))\""
wait_for "$WORK/run.log" "kumo guest: booted" "$TIMEOUT" || {
	tail -n 40 "$WORK/run.log" >&2
	die "run: no banner"
}
T_BANNER=$(now)
finish run
[ "$QRC" -eq 0 ] || die "run: QEMU exit status $QRC"
expect_in run "kumo guest: run exit=0"
harts=$(grep -c '^processor' "$WORK/run.log" || true)
[ "$harts" -eq 2 ] || die "run: /proc/cpuinfo shows $harts harts, expected 2"
grep -qx $'42\r\\?' "$WORK/run.log" || die "run: no line '42' in the output"
log "   ok: banner after $(elapsed "$T0" "$T_BANNER") s, QEMU exited after $(elapsed "$T0" "$T_EXIT") s"
grep -F 'kumo guest:' "$WORK/run.log" | sed 's/^/[qemu-check]    | /' >&2

# --- 2. interactive shell ---------------------------------------------------
log "2. interactive initramfs boot"
interactive check
# $(( )) so that the expected text does not appear in the echoed command line.
# shellcheck disable=SC2016 # the guest shell expands it
printf 'echo interactive-$((40+2)); sleep 1 & jobs\n' >&3
wait_for "$WORK/check.log" "interactive-42" 30 || die "shell: command did not run"
# Commands typed at the shell must not inherit ignored SIGINT/SIGQUIT (init
# starts the shell in the background), and ^C must interrupt them.
printf 'grep SigIgn /proc/self/status\n' >&3
wait_for "$WORK/check.log" "^SigIgn:" 30 || die "shell: no SigIgn line"
grep -qE $'^SigIgn:\t0{16}\r?$' "$WORK/check.log" || {
	grep '^SigIgn' "$WORK/check.log" >&2
	die "shell: commands started from the shell ignore signals"
}
printf 'sleep 100\n' >&3
sleep 1
printf '\003' >&3
# shellcheck disable=SC2016 # the guest shell expands it
printf 'echo after-$((1+1))\n' >&3
wait_for "$WORK/check.log" "after-2" 10 || {
	tail -n 10 "$WORK/check.log" >&2
	die "shell: ^C did not interrupt sleep"
}
printf 'exit\n' >&3
finish check
exec 3>&-
expect_in check "kumo guest: shell exited, powering off"
if grep -q "can't access tty" "$WORK/check.log"; then die "shell: no job control"; fi
log "   ok: banner after $(elapsed "$T0" "$T_BANNER") s, prompt after $(elapsed "$T0" "$T_PROMPT") s, exit after $(elapsed "$T0" "$T_EXIT") s"

# --- 3. poweroff at the prompt ------------------------------------------------
log "3. poweroff typed at the shell prompt"
interactive off
printf 'sleep 1000 &\npoweroff\n' >&3
T_CMD=$(now)
finish off
exec 3>&-
[ "$QRC" -eq 0 ] || die "poweroff: QEMU exit status $QRC"
expect_in off "kumo guest: powering off"
log "   ok: QEMU exited $(elapsed "$T_CMD" "$T_EXIT") s after poweroff"

# --- 4. reboot at the prompt, then halt ---------------------------------------
log "4. reboot typed at the shell prompt (QEMU without -no-reboot), then halt"
interactive again --reboot
printf 'reboot\n' >&3
T_CMD=$(now)
wait_count "$WORK/again.log" "kumo guest: booted" 2 "$TIMEOUT" || {
	tail -n 30 "$WORK/again.log" >&2
	die "reboot: no second banner"
}
T_BANNER=$(now)
expect_in again "kumo guest: rebooting"
# a prompt after the second banner
wait_awk "$WORK/again.log" '/kumo guest: booted/ { b++ } b >= 2 && /again:[^ ]*# / { f = 1 } END { exit !f }' 30 ||
	die "reboot: no prompt after the reboot"
printf 'halt\n' >&3
finish again
exec 3>&-
[ "$QRC" -eq 0 ] || die "halt: QEMU exit status $QRC"
expect_in again "kumo guest: halting"
log "   ok: second banner $(elapsed "$T_CMD" "$T_BANNER") s after reboot; halt stopped QEMU"

# --- 5. reboot from kumo.run ---------------------------------------------------
log "5. kumo.run=\"reboot\" (QEMU with -no-reboot exits on the reset)"
boot runreboot /dev/null -- -kernel "$DIR/Image" -initrd "$DIR/initramfs.cpio.gz" \
	-append "console=ttyS0 kumo.run=\"echo before-reboot; reboot; sleep 30\""
finish runreboot
[ "$QRC" -eq 0 ] || die "runreboot: QEMU exit status $QRC"
expect_in runreboot "kumo guest: rebooting"
if grep -q "kumo guest: run exit=" "$WORK/runreboot.log"; then
	die "runreboot: the command ran to its end instead of rebooting"
fi
log "   ok: QEMU exited after $(elapsed "$T0" "$T_EXIT") s"

# --- 6. rootfs.ext4 -----------------------------------------------------------
log "6. rootfs.ext4: e2fsck, then boot it as virtio-blk root with virtio-net"
e2fsck -fn "$DIR/rootfs.ext4" >"$WORK/e2fsck.log" 2>&1 || {
	cat "$WORK/e2fsck.log" >&2
	die "e2fsck -fn rootfs.ext4 failed"
}
cp "$DIR/rootfs.ext4" "$WORK/disk.ext4"
boot disk /dev/null -- -kernel "$DIR/Image" \
	-drive "file=$WORK/disk.ext4,if=none,format=raw,id=hd0" \
	-device virtio-blk-device,drive=hd0 \
	-netdev user,id=n0 -device virtio-net-device,netdev=n0 \
	-append "console=ttyS0 root=/dev/vda rw kumo.run=\"ls -l /dev/console; cat /etc/resolv.conf; exit 3\""
wait_for "$WORK/disk.log" "kumo guest: booted" "$TIMEOUT" || {
	tail -n 40 "$WORK/disk.log" >&2
	die "disk: no banner"
}
T_BANNER=$(now)
finish disk
expect_in disk "kumo guest: eth0 10.0.2.15/24"
expect_in disk "nameserver 10.0.2.3"
expect_in disk "kumo guest: run exit=3"
e2fsck -fn "$WORK/disk.ext4" >"$WORK/e2fsck2.log" 2>&1 || {
	cat "$WORK/e2fsck2.log" >&2
	die "rootfs.ext4 is not clean after a boot"
}
log "   ok: banner after $(elapsed "$T0" "$T_BANNER") s, QEMU exited after $(elapsed "$T0" "$T_EXIT") s"
log "all checks passed"
