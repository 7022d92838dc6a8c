#!/usr/bin/env bash
# `make linux-check`: the Linux guest runs too long for make check (tests/integration/linux_*.sh
# are the short ones). Debian's stock kernel on 1 node x 1 vCPU, then on 3 local nodes x 1 vCPU
# (127.0.0.1:7320-7322) running every program of tests/linux/ with larger inputs, then in memory
# mode (configs/linux-memory.toml with 2 vCPUs on n0 and the flat view, 127.0.0.1:7330-7332)
# running every program, bigalloc over 192 MiB, then memory mode with replicas = 2 and n1
# SIGKILLed while bigalloc runs (127.0.0.1:7340-7342: the guest goes on from n2's copies and
# bigalloc's every word is right), then on 3 nodes each in a network namespace of its
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

echo "== memory mode with replicas = 2: n1 killed while bigalloc runs"
linux_initramfs "$WORK/replicas.cpio" --add "$LINUX_PROGRAMS"/bigalloc --run "bigalloc 192"
linux_memory_config "$WORK/replicas.toml" "$WORK/replicas.cpio" 734
sed -i 's/^replicas = 1$/replicas = 2/' "$WORK/replicas.toml"
grep -q '^replicas = 2$' "$WORK/replicas.toml" || fail "configs/linux-memory.toml has no 'replicas = 1' line"
start=$(date +%s)
timeout --kill-after=5 "$limit" "$VMM" "${ACCEL_ARGS[@]}" --config "$WORK/replicas.toml" --stats 2 \
	>"$WORK/replicas.raw" 2>"$WORK/replicas.err" </dev/null &
launcher=$!
written_back() { grep -qE 'evictions_dirty=[0-9]{4}' "$WORK/replicas.err"; }
until_true "$limit" "$launcher" written_back || fail "no write-backs before the guest ended: $(cat "$WORK/replicas.err")"
pkill -9 -f -- "--config $WORK/replicas.toml .*--node n1" || fail "no node n1 to kill"
status=0
wait "$launcher" || status=$?
tr -d '\r' <"$WORK/replicas.raw" >"$WORK/replicas.out"
echo "replicas: ended after $(($(date +%s) - start)) s wall (status $status)"
expect_status 0 replicas
grep -q "node n1 lost" "$WORK/replicas.err" || fail "n1's loss was not reported: $(cat "$WORK/replicas.err")"
linux_expect_native replicas bigalloc 192

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
