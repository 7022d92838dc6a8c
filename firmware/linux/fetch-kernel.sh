#!/usr/bin/env bash
# Fetches Debian's stock 6.1 kernel for the Linux guest without installing it: `apt-get download`
# the image package that linux-image-amd64 currently depends on, `dpkg-deb -x` it into a cache, and
# extract the uncompressed ELF vmlinux from the bzImage's xz payload (the bzImage's own
# decompressor is most of a bzImage boot's time on an emulated CPU; docs/linux-guest.md).
# Idempotent: each step is skipped when its result is already there. Finally links vmlinux and
# System.map into build/linux/, where configs/linux-1node.toml expects them.
#   VSMP_CACHE      cache directory (default ~/.cache/vsmp-vmm)
#   VSMP_LINUX_DIR  where the links go (default <repo>/build/linux)
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=${VSMP_CACHE:-$HOME/.cache/vsmp-vmm}
LINK_DIR=${VSMP_LINUX_DIR:-$REPO/build/linux}

die() { echo "fetch-kernel: $*" >&2; exit 1; }

for tool in apt-cache apt-get dpkg-deb xz grep readelf; do
	command -v "$tool" >/dev/null || die "'$tool' is required"
done

# The metapackage's dependency names the real image, e.g. linux-image-6.1.0-56-amd64.
PKG=$(apt-cache depends linux-image-amd64 2>/dev/null |
	awk '$1 == "Depends:" && $2 ~ /^linux-image-6\.1.*-amd64$/ { print $2; exit }')
[ -n "$PKG" ] ||
	die "linux-image-amd64 does not depend on a linux-image-6.1*-amd64 package (apt-get update?)"
KVER=${PKG#linux-image-}

# The first existing file among the arguments (an unmatched glob stays literal and is skipped).
first_file() {
	for f in "$@"; do
		[ -f "$f" ] && { echo "$f"; return 0; }
	done
	return 0
}

mkdir -p "$CACHE"
DEB=$(first_file "$CACHE/${PKG}_"*.deb)
if [ -z "$DEB" ]; then
	(cd "$CACHE" && apt-get download "$PKG") || die "apt-get download $PKG failed"
	DEB=$(first_file "$CACHE/${PKG}_"*.deb)
	[ -n "$DEB" ] || die "apt-get download $PKG left no .deb in $CACHE"
fi

ROOT="$CACHE/$PKG"
VMLINUZ="$ROOT/boot/vmlinuz-$KVER"
SYSTEM_MAP="$ROOT/boot/System.map-$KVER"
if [ ! -f "$VMLINUZ" ]; then
	rm -rf "$ROOT.tmp"
	dpkg-deb -x "$DEB" "$ROOT.tmp" || die "dpkg-deb -x $DEB failed"
	mv "$ROOT.tmp" "$ROOT"
fi
[ -f "$VMLINUZ" ] || die "$DEB has no boot/vmlinuz-$KVER"

is_elf64() { [ "$(head -c 5 "$1" | od -An -tx1 | tr -d ' \n')" = "7f454c4602" ]; }

VMLINUX="$CACHE/vmlinux-$KVER"
if [ ! -f "$VMLINUX" ]; then
	# The first xz stream header (FD 37 7A 58 5A 00) in the bzImage starts the payload.
	OFFSET=$(LC_ALL=C grep -obUaP '\xfd\x37\x7a\x58\x5a\x00' "$VMLINUZ" | head -n 1 | cut -d: -f1)
	[ -n "$OFFSET" ] || die "no xz stream in $VMLINUZ"
	# Process substitution, not a pipe: xz stops after the stream and tail's SIGPIPE is no error.
	xz -dc --single-stream < <(tail -c +"$((OFFSET + 1))" "$VMLINUZ") >"$VMLINUX.tmp" ||
		die "xz could not decompress the payload at offset $OFFSET of $VMLINUZ"
	is_elf64 "$VMLINUX.tmp" || die "the payload of $VMLINUZ is not a 64-bit ELF file"
	readelf -h "$VMLINUX.tmp" | grep -q 'Machine:.*X86-64' || die "the payload is not x86-64"
	mv "$VMLINUX.tmp" "$VMLINUX"
fi

mkdir -p "$LINK_DIR"
ln -sfn "$VMLINUX" "$LINK_DIR/vmlinux"
ln -sfn "$SYSTEM_MAP" "$LINK_DIR/System.map"

echo "package:    $PKG ($DEB)"
echo "bzImage:    $VMLINUZ"
echo "vmlinux:    $VMLINUX"
echo "System.map: $SYSTEM_MAP"
echo "links:      $LINK_DIR/vmlinux $LINK_DIR/System.map"
