#!/bin/sh
# guest/debian/stage2.sh - the second stage of the Debian image build, run
# either inside a kumo-vmm VM as its init (PID 1; guest/debian/build.sh
# copies it to /kumo-stage2 of the image and boots the default guest kernel
# with root=/dev/vda1 rw init=/kumo-stage2), or in a chroot of the tree
# whose riscv64 programs the host runs through qemu-user-static and
# binfmt_misc ("kumo-stage2 --chroot": build.sh's faster path when it runs
# as root). It completes debootstrap (unpacks and
# configures every package the first stage fetched: the riscv64 programs
# and maintainer scripts run on the emulated CPU), then makes the file tree a
# cloud image: no SSH host keys, no machine id, no root password, no logs,
# the boot menu and initramfs written, the free blocks discarded. It ends
# with "kumo-stage2: done" (or "kumo-stage2: FAILED: ...") and powers off
# (in a VM) or exits 0 (in a chroot, with what it mounted unmounted).
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8 LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive

say() { echo "kumo-stage2: $*"; }

CHROOT=0
[ "${1:-}" = --chroot ] && CHROOT=1

power_off() {
	sync
	if [ "$CHROOT" = 1 ]; then
		for m in /dev/shm /dev/pts /run /sys /proc; do
			mountpoint -q "$m" && umount -l "$m"
		done
		case "$1" in ok) exit 0 ;; *) exit 1 ;; esac
	fi
	# systemctl -ff calls reboot(2) itself (no systemd needed); perl-base is
	# the fallback (riscv64 syscall 142 is reboot; the magic numbers and
	# LINUX_REBOOT_CMD_POWER_OFF).
	systemctl --force --force poweroff 2>/dev/null
	perl -e 'syscall(142, 0xfee1dead, 672274793, 0x4321fedc)'
	sleep 1000000
}

fail() {
	say "FAILED: $*"
	power_off failed
}

mount -t proc proc /proc || fail "mount /proc"
mount -t sysfs sysfs /sys || fail "mount /sys"
# (in a chroot /dev has the first stage's device nodes)
[ "$CHROOT" = 1 ] || mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /dev/shm
say "running debootstrap --second-stage on $(uname -r), $(nproc) CPUs"
T0=$(date +%s)
/debootstrap/debootstrap --second-stage || {
	tail -n 30 /debootstrap/debootstrap.log 2>/dev/null
	fail "debootstrap --second-stage (log above)"
}
# debootstrap unmounts what it mounted; mount /proc again for what follows.
mountpoint -q /proc || mount -t proc proc /proc
mountpoint -q /sys || mount -t sysfs sysfs /sys
say "second stage done in $(($(date +%s) - T0)) s"

# --- the image's configuration -------------------------------------------------
# debootstrap's one-line sources.list: the deb822 file (files/) replaces it.
rm -f /etc/apt/sources.list
systemctl enable systemd-networkd.service systemd-resolved.service \
	kumo-ssh-hostkeys.service || fail "systemctl enable"
# The admin user comes from provisioning; root has no password (locked).
usermod -p '*' root || fail "usermod root"
echo debian >/etc/hostname
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >/etc/hosts

# The boot menu and the initramfs: the kernel's postinst made both already;
# make sure they reflect the final configuration.
ls /boot/initrd.img-* >/dev/null 2>&1 || update-initramfs -c -k all || fail "update-initramfs"
u-boot-update || fail "u-boot-update"
ls -l /boot /boot/extlinux
cat /boot/extlinux/extlinux.conf
command -v lsinitramfs >/dev/null && lsinitramfs /boot/initrd.img-* | grep -E 'virtio|ext4|crc32c'

# --- what must not be shared between VMs ------------------------------------------
rm -f /etc/ssh/ssh_host_*
: >/etc/machine-id
rm -f /var/lib/dbus/machine-id
rm -rf /var/lib/cloud/* /var/log/cloud-init*

# --- leftovers of the build ---------------------------------------------------------
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/debconf/*-old /var/lib/dpkg/*-old
find /var/log -type f -exec truncate -s 0 {} +
rm -rf /debootstrap /tmp/* /var/tmp/* /etc/dpkg/dpkg.cfg.d/kumo-build
dpkg-query -W -f='package ${Package} ${Version}\n' | sed 's/^/kumo-stage2: /'
[ "$CHROOT" = 1 ] || df -k / | sed 's/^/kumo-stage2: df /'
rm -f /kumo-stage2
if [ "$CHROOT" = 0 ]; then
	# Free blocks back to the host (kumo's virtio-blk discards punch holes).
	fstrim -v / || say "fstrim failed (the image is larger than it needs to be)"
fi
say "done in $(($(date +%s) - T0)) s"
[ "$CHROOT" = 1 ] || mount -o remount,ro / 2>/dev/null
power_off ok
