#!/usr/bin/env bash
# Debian's stock 6.1 kernel boots with configs/linux-1node.toml (1 node, 2 vCPUs) to the busybox
# initramfs, which prints nproc and MemTotal and powers off: vsmp-vmm must exit 0. On a PVM host
# this takes many minutes (docs/linux-guest.md), so it only runs when VSMP_LINUX_BOOT=1; it fetches
# the kernel with apt-get on first use. VSMP_LINUX_TIMEOUT (seconds, default 570, inside ctest's
# 600) bounds the boot.
source "$(dirname "$0")/lib.sh"
[ "${VSMP_LINUX_BOOT:-0}" = 1 ] ||
	skip "a Linux boot takes many minutes on this host; set VSMP_LINUX_BOOT=1 to run it"
need_cpu

"$SRC/firmware/linux/fetch-kernel.sh" >"$WORK/fetch.log" 2>&1 ||
	{ cat "$WORK/fetch.log"; fail "fetch-kernel.sh failed"; }
"$SRC/firmware/linux/mkinitramfs.sh" >"$WORK/initramfs.log" 2>&1 ||
	{ cat "$WORK/initramfs.log"; fail "mkinitramfs.sh failed"; }

limit=${VSMP_LINUX_TIMEOUT:-570}
status=0
start=$(date +%s)
timeout --kill-after=5 "$limit" "$VMM" "${ACCEL_ARGS[@]}" --config "$SRC/configs/linux-1node.toml" \
	>"$WORK/linux.out" 2>"$WORK/linux.err" </dev/null || status=$?
echo "boot to power-off: $(($(date +%s) - start)) s wall (status $status)"
[ "$status" -ne 124 ] || { tail -n 20 "$WORK/linux.out"; fail "no power-off within $limit s"; }
expect_status 0 linux
expect_line linux '^LINUX nproc=2$'
expect_line linux '^LINUX MemTotal: +[0-9]+ kB$'
grep '^LINUX ' "$WORK/linux.out"
