#!/usr/bin/env bash
# Debian's stock 6.1 kernel boots on one node to the busybox initramfs, whose /init reports what
# the guest sees and powers off: vsmp-vmm exits 0, nproc is the node's vCPUs, MemTotal most of
# its memory in one NUMA node, and the console shows no clock or interrupt warning. 4 vCPUs on
# the interpreter (40-150 s here, docs/linux-guest.md), 2 on KVM. The console is
# interrupt-driven and flow-controlled: an 89-character line typed at once (5 times the UART's
# FIFO) reaches a shell `read` whole. The kernel is fetched into the
# cache when missing; the test is skipped only when that fetch fails. VSMP_LINUX_TIMEOUT
# (seconds, default 570, inside ctest's 600) bounds the boot.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/linux_lib.sh"
need_cpu
vcpus=4
[ "$ACCEL" = emu ] || vcpus=2

linux_kernel
line=$(printf 'typed%03d ' $(seq 1 10))
line=${line% }
linux_initramfs "$WORK/initramfs.cpio" --run 'echo "CONSOLE ready"; read -r line; echo "CONSOLE got ${#line}: $line"'
linux_config "$WORK/linux.toml" "$WORK/initramfs.cpio" 1 "$vcpus" 512 0
linux_boot linux "$WORK/linux.toml" "${VSMP_LINUX_TIMEOUT:-570}" '^CONSOLE ready' "$line"
linux_expect_machine linux 1 "$vcpus" 512
expect_line linux "^CONSOLE got ${#line}: $line\$"
linux_expect_healthy linux
grep '^LINUX ' "$WORK/linux.out"
