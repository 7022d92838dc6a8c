#!/usr/bin/env bash
# Builds the Linux guest's initramfs: a static busybox (from the busybox-static package) and an
# /init that mounts proc, sysfs and devtmpfs, prints `LINUX nproc=N`, `LINUX MemTotal: ... kB`
# and `LINUX uptime=S` (seconds since the kernel started, as the guest sees it), then powers the
# machine off with `poweroff -f`. The archive is an uncompressed newc cpio, so the kernel spends no
# ring-0 time decompressing it. The applet links are made here rather than by `busybox --install`
# at boot, and /dev/console is in the archive because the kernel opens it before /init runs and
# this kernel does not mount devtmpfs by itself. Writes $VSMP_CACHE/initramfs-linux-guest.cpio
# and links it as build/linux/initramfs.cpio, where configs/linux-1node.toml expects it.
#   VSMP_CACHE      cache directory (default ~/.cache/vsmp-vmm)
#   VSMP_LINUX_DIR  where the link goes (default <repo>/build/linux)
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=${VSMP_CACHE:-$HOME/.cache/vsmp-vmm}
LINK_DIR=${VSMP_LINUX_DIR:-$REPO/build/linux}
OUT="$CACHE/initramfs-linux-guest.cpio"

die() { echo "mkinitramfs: $*" >&2; exit 1; }

command -v cpio >/dev/null || die "'cpio' is required"
[ "$(id -u)" = 0 ] || die "must run as root to create /dev/console in the archive"

# The installed busybox-static if there is one, else the package's binary from the cache.
find_busybox() {
	if [ "$(dpkg-query -W -f='${Status}' busybox-static 2>/dev/null)" = "install ok installed" ]; then
		echo /bin/busybox
		return
	fi
	local root="$CACHE/busybox-static" deb
	if [ ! -x "$root/bin/busybox" ]; then
		mkdir -p "$CACHE"
		(cd "$CACHE" && apt-get download busybox-static) || die "apt-get download busybox-static failed"
		for deb in "$CACHE"/busybox-static_*.deb; do
			dpkg-deb -x "$deb" "$root" || die "dpkg-deb -x $deb failed"
			break
		done
		[ -x "$root/bin/busybox" ] || die "no busybox in the busybox-static package"
	fi
	echo "$root/bin/busybox"
}

BUSYBOX=$(find_busybox)
STAGE=$(mktemp -d /tmp/vsmp-initramfs.XXXXXX)
trap 'rm -rf "$STAGE"' EXIT

mkdir -p "$STAGE"/{bin,sbin,dev,proc,sys,tmp}
install -m 0755 "$BUSYBOX" "$STAGE/bin/busybox"
for applet in $("$BUSYBOX" --list); do
	[ "$applet" = busybox ] || ln -s busybox "$STAGE/bin/$applet"
done
mknod -m 0600 "$STAGE/dev/console" c 5 1
mknod -m 0666 "$STAGE/dev/null" c 1 3

cat >"$STAGE/init" <<'INIT'
#!/bin/busybox sh
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "LINUX nproc=$(nproc)"
echo "LINUX $(grep '^MemTotal:' /proc/meminfo)"
echo "LINUX uptime=$(cut -d' ' -f1 /proc/uptime)"
poweroff -f
INIT
chmod 0755 "$STAGE/init"

mkdir -p "$CACHE" "$LINK_DIR"
(cd "$STAGE" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc --owner=0:0) \
	>"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
ln -sfn "$OUT" "$LINK_DIR/initramfs.cpio"

echo "busybox:   $BUSYBOX"
echo "initramfs: $OUT ($(stat -c %s "$OUT") bytes)"
echo "link:      $LINK_DIR/initramfs.cpio"
