#!/usr/bin/env bash
# Builds the Linux guest's initramfs: a static busybox (from the busybox-static package), any
# static programs given with --add (in /bin), and an /init that mounts proc, sysfs and devtmpfs,
# reports what the guest sees, runs the --run commands and powers the machine off with
# `poweroff -f`. The report is `LINUX nproc=N`, `LINUX MemTotal: ... kB`, one
# `LINUX node<N> cpus=<list> MemTotal=<kB> kB` line per NUMA node, and `LINUX uptime=S` (seconds
# since the kernel started, as the guest sees it). The archive is an uncompressed newc cpio, so
# the kernel spends no ring-0 time decompressing it. The applet links are made here rather than
# by `busybox --install` at boot, and /dev/console is in the archive because the kernel opens it
# before /init runs and this kernel does not mount devtmpfs by itself.
# Without -o it writes $VSMP_CACHE/initramfs-linux-guest.cpio and links it as
# build/linux/initramfs.cpio, where the configs/linux-*.toml expect it. --help says the rest.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=${VSMP_CACHE:-$HOME/.cache/vsmp-vmm}
LINK_DIR=${VSMP_LINUX_DIR:-$REPO/build/linux}

usage() {
	cat <<EOF
usage: $0 [--add FILE...] [--run 'COMMANDS'] [-o FILE]
Builds the Linux guest's busybox initramfs (an uncompressed newc cpio; run as root, it creates
/dev/console). Its /init mounts proc, sysfs and devtmpfs, prints the LINUX report (nproc,
MemTotal, each NUMA node's CPUs and memory, uptime), runs COMMANDS with sh, and powers off.
  --add FILE...    copy each FILE into the archive's /bin under its own name (a static program,
                   e.g. built with gcc -static, or a #! script for busybox sh); may repeat
  --run 'COMMANDS' shell commands /init runs after the report, before power-off, e.g.
                   --run 'setsid cttyhack sh' for an interactive shell; may repeat (in order)
  -o FILE          write the archive to FILE; without it the archive goes to
                   \$VSMP_CACHE/initramfs-linux-guest.cpio (VSMP_CACHE defaults to
                   ~/.cache/vsmp-vmm) and is linked as \$VSMP_LINUX_DIR/initramfs.cpio
                   (default <repo>/build/linux), where configs/linux-*.toml expect it
  -h, --help       this text
EOF
}

die() {
	echo "mkinitramfs: $*" >&2
	exit 1
}
usage_error() {
	echo "mkinitramfs: $*" >&2
	echo "Try '$0 --help'." >&2
	exit 2
}

ADD=()
RUN=""
OUT=""
while [ $# -gt 0 ]; do
	case $1 in
	-h | --help)
		usage
		exit 0
		;;
	--add)
		shift
		[ $# -gt 0 ] && [[ $1 != -* ]] || usage_error "--add needs at least one FILE"
		while [ $# -gt 0 ] && [[ $1 != -* ]]; do
			ADD+=("$1")
			shift
		done
		continue
		;;
	--run)
		[ $# -ge 2 ] || usage_error "--run needs COMMANDS"
		RUN+="$2"$'\n'
		shift
		;;
	-o)
		[ $# -ge 2 ] && [ -n "$2" ] || usage_error "-o needs a FILE"
		OUT=$2
		shift
		;;
	*) usage_error "unknown argument '$1'" ;;
	esac
	shift
done

command -v cpio >/dev/null || die "'cpio' is required"
[ "$(id -u)" = 0 ] || die "must run as root to create /dev/console in the archive"

# An added file must run in a guest that has no shared libraries: no ELF program interpreter.
check_added() {
	local file=$1
	[ -f "$file" ] || die "--add $file: no such file"
	[ -r "$file" ] || die "--add $file: not readable"
	[ "$(head -c 4 "$file" | od -An -tx1 | tr -d ' ')" = 7f454c46 ] || return 0
	! readelf -lW "$file" 2>/dev/null | grep -q 'Requesting program interpreter' ||
		die "--add $file: dynamically linked (the initramfs has no shared libraries; link it with -static)"
}
for file in ${ADD[@]+"${ADD[@]}"}; do check_added "$file"; done

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
for file in ${ADD[@]+"${ADD[@]}"}; do
	rm -f "$STAGE/bin/$(basename "$file")"
	install -m 0755 "$file" "$STAGE/bin/$(basename "$file")"
done
mknod -m 0600 "$STAGE/dev/console" c 5 1
mknod -m 0666 "$STAGE/dev/null" c 1 3

cat >"$STAGE/init" <<'INIT'
#!/bin/busybox sh
export PATH=/bin HOME=/ TERM=${TERM:-vt100}
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "LINUX nproc=$(nproc)"
echo "LINUX $(grep '^MemTotal:' /proc/meminfo)"
for node in /sys/devices/system/node/node[0-9]*; do
	[ -d "$node" ] || continue
	echo "LINUX ${node##*/} cpus=$(cat "$node/cpulist")" \
		"MemTotal=$(awk '$3 == "MemTotal:" { print $4 }' "$node/meminfo") kB"
done
echo "LINUX uptime=$(cut -d' ' -f1 /proc/uptime)"
sh /run.sh
poweroff -f
INIT
chmod 0755 "$STAGE/init"
printf '%s' "$RUN" >"$STAGE/run.sh"

mkdir -p "$CACHE"
[ -n "$OUT" ] || OUT="$CACHE/initramfs-linux-guest.cpio"
mkdir -p "$(dirname "$OUT")"
(cd "$STAGE" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc --owner=0:0) \
	>"$OUT.tmp"
mv "$OUT.tmp" "$OUT"

echo "busybox:   $BUSYBOX"
for file in ${ADD[@]+"${ADD[@]}"}; do echo "added:     /bin/$(basename "$file") ($file)"; done
echo "initramfs: $OUT ($(stat -c %s "$OUT") bytes)"
if [ "$OUT" = "$CACHE/initramfs-linux-guest.cpio" ]; then
	mkdir -p "$LINK_DIR"
	ln -sfn "$OUT" "$LINK_DIR/initramfs.cpio"
	echo "link:      $LINK_DIR/initramfs.cpio"
fi
