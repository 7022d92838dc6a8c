#!/usr/bin/env bash
# `make linux-check`: the Linux guest runs too long for make check (tests/integration/linux_*.sh
# are the short ones). Debian's stock kernel on 1 node x 1 vCPU, then on 3 local nodes x 1 vCPU
# (127.0.0.1:7320-7322) running every program of tests/linux/ with larger inputs, then in memory
# mode (configs/linux-memory.toml with 2 vCPUs on n0 and the flat view, 127.0.0.1:7330-7332)
# running every program, bigalloc over 192 MiB, then on 3 nodes each in a network namespace of its
# own (--netns, UCX over TCP): each program must print in the guest exactly what it prints
# natively, the machine must look as configured (nproc, MemTotal, one NUMA node per node, or one
# in all for the flat view) and the console must show no clock or interrupt warning.
# Stops at the first failure, keeping its logs (KEEP_WORK=1 keeps them always).
#
# usage: tests/linux_check.sh BUILD_DIR
# Environment: VSMP_LINUX_TIMEOUT (seconds per boot, default 1800), LINUX_CHECK_MIB (bigalloc's
# MiB, default 96).
[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
source "$(dirname "$0")/integration/lib.sh" "$1" "$(dirname "$0")/.."
source "$(dirname "$0")/integration/linux_lib.sh"
need_cpu
trap 'status=$?; [ $status -eq 0 ] || KEEP_WORK=1; [ -n "${KEEP_WORK:-}" ] && echo "logs: $WORK" || rm -rf "$WORK"' EXIT
limit=${VSMP_LINUX_TIMEOUT:-1800}
mib=${LINUX_CHECK_MIB:-96}

linux_kernel

echo "== 1 node x 1 vCPU"
linux_initramfs "$WORK/plain.cpio"
linux_config "$WORK/one.toml" "$WORK/plain.cpio" 1 1 512 0
linux_boot one "$WORK/one.toml" "$limit"
linux_expect_machine one 1 1 512
linux_expect_healthy one

echo "== 3 nodes x 1 vCPU, every program"
linux_initramfs "$WORK/programs.cpio" --add "$LINUX_PROGRAMS"/* \
	--run "pthreads 2000; openmp 200000; bigalloc $mib"
linux_config "$WORK/three.toml" "$WORK/programs.cpio" 3 1 256 7320
linux_boot three "$WORK/three.toml" "$limit"
linux_expect_machine three 3 1 256
linux_expect_native three pthreads 2000
linux_expect_native three openmp 200000
linux_expect_native three bigalloc "$mib"
linux_expect_healthy three

echo "== memory mode: 2 vCPUs on n0, n1 and n2 lending, flat view, every program"
linux_initramfs "$WORK/memory.cpio" --add "$LINUX_PROGRAMS"/* \
	--run "pthreads 2000; openmp 200000; bigalloc 192"
linux_memory_config "$WORK/memory.toml" "$WORK/memory.cpio" 733 2 flat
linux_boot memory "$WORK/memory.toml" "$limit"
linux_expect_numa memory 2 0-1:512
linux_expect_native memory pthreads 2000
linux_expect_native memory openmp 200000
linux_expect_native memory bigalloc 192
linux_expect_healthy memory

echo "== 3 nodes x 1 vCPU, one network namespace each"
ip netns add "vsmp-probe-$$" 2>/dev/null || skip "cannot create network namespaces here (ip netns add)"
ip netns delete "vsmp-probe-$$"
linux_initramfs "$WORK/netns.cpio" --add "$LINUX_PROGRAMS"/pthreads --run "pthreads 200"
linux_config "$WORK/netns.toml" "$WORK/netns.cpio" 3 1 256 7323
namespaces_before=$(ip netns list | { grep '^vsmp-' || true; } | sort)
plain_args=("${ACCEL_ARGS[@]}")
ACCEL_ARGS+=(--netns)
UCX_TLS=tcp linux_boot netns "$WORK/netns.toml" "$limit"
ACCEL_ARGS=("${plain_args[@]}")
linux_expect_machine netns 3 1 256
linux_expect_native netns pthreads 200
linux_expect_healthy netns
left=$(comm -13 <(echo "$namespaces_before") <(ip netns list | { grep '^vsmp-' || true; } | sort))
[ -z "$left" ] || fail "network namespaces left behind: $left"
echo "linux-check: PASS"
