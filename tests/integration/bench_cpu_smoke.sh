#!/usr/bin/env bash
# `vsmp-vmm bench cpu` with a small iteration count (seconds): the test guest runs the integer,
# memory and SSE kernels on the interpreter, each checksum equals the native run's, the JSON
# line's times, slowdowns and MIPS are positive; --help answers 0 and a bad --iters 2. Needs no
# /dev/kvm: the guest always runs on the interpreter.
source "$(dirname "$0")/lib.sh"
run_vmm bench bench cpu --iters 20000
expect_status 0 bench
for kernel in int mem sse; do
	expect_line bench "^$kernel( +[0-9.]+){2} +[0-9.]+x( +[0-9.]+){3} +0x[0-9a-f]{16} ok\$"
done
expect_line bench '^\{"iters": 20000, "guest_mips": .*"checksums_match": true\}$'
json=$(grep -E '^\{"iters"' "$WORK/bench.out")
# check_positive FIELD: the JSON line has FIELD, a number above 0.
check_positive() {
	local value
	value=$(grep -oE "\"$1\": [0-9.]+" <<<"$json" | cut -d' ' -f2) ||
		fail "bench cpu: no \"$1\" in $json"
	awk -v v="$value" 'BEGIN { exit !(v > 0) }' || fail "bench cpu: \"$1\" is $value, not > 0"
}
for field in guest_mips guest_wall_mips; do check_positive "$field"; done
for kernel in int mem sse; do
	for field in slowdown native_ns guest_ns guest_mips native_wall_ns guest_wall_ns; do
		check_positive "${kernel}_$field"
	done
done
run_vmm help bench cpu --help
expect_status 0 help
expect_line help '^usage: vsmp-vmm bench cpu \[--iters N\]'
run_vmm bad bench cpu --iters 0
expect_status 2 bad
