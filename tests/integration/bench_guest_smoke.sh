#!/usr/bin/env bash
# `vsmp-vmm bench guest` on 2 nodes: every kernel runs on both layouts, the summary and the JSON
# line come out, the temporary directory is gone afterwards, and a bad --nodes is refused.
source "$(dirname "$0")/lib.sh"
need_kvm
mkdir "$WORK/tmp"
status=0
TMPDIR="$WORK/tmp" timeout --kill-after=5 300 "$VMM" bench guest --nodes 2 \
	>"$WORK/bench.out" 2>"$WORK/bench.err" </dev/null || status=$?
expect_status 0 bench
for what in compute "stream triad" "contention \(lock xadd\)"; do
	expect_line bench "^$what +[0-9.]+ .* [0-9.]+x"
done
expect_line bench "^TSC skew across nodes, +vCPU 1 - vCPU 0:"
expect_line bench '^\{"nodes": 2, .*"compute_ratio": [0-9.]+, .*"stream_ratio": [0-9.]+, .*"tsc_nodes": \[\{"skew_cycles": -?[0-9]+'
[ -z "$(ls -A "$WORK/tmp")" ] || fail "bench guest left files behind: $(ls -A "$WORK/tmp")"
run_vmm bad bench guest --nodes 5
expect_status 2 bad
