#!/usr/bin/env bash
# `vsmp-vmm bench guest` on 2 nodes: every kernel runs on both layouts, the summary and the JSON
# line come out, the temporary directory is gone afterwards, and a bad --nodes is refused. A run
# that fails shows the failed child's stderr (here: a copy of vsmp-vmm without testguest.elf
# beside it, which its children cannot boot).
source "$(dirname "$0")/lib.sh"
mkdir "$WORK/bin" "$WORK/failtmp"
cp "$VMM" "$WORK/bin/vsmp-vmm"
status=0
TMPDIR="$WORK/failtmp" timeout --kill-after=5 300 "$WORK/bin/vsmp-vmm" bench guest --nodes 2 \
	>"$WORK/fail.out" 2>"$WORK/fail.err" </dev/null || status=$?
[ "$status" -ne 0 ] || fail "bench guest passed without a test guest"
expect_line fail '^bench guest: (all|the end) of the stderr of vsmp-vmm --config .*/compute-0\.toml:$'
expect_line fail 'testguest\.elf'
[ -z "$(ls -A "$WORK/failtmp")" ] || fail "bench guest left files behind: $(ls -A "$WORK/failtmp")"

need_cpu
mkdir "$WORK/tmp"
status=0
TMPDIR="$WORK/tmp" timeout --kill-after=5 300 "$VMM" bench guest --nodes 2 --accel "$ACCEL" \
	--scale 0.02 >"$WORK/bench.out" 2>"$WORK/bench.err" </dev/null || status=$?
expect_status 0 bench
for what in compute "stream triad" "contention \(lock xadd\)"; do
	expect_line bench "^$what +[0-9.]+ .* [0-9.]+x"
done
expect_line bench "^TSC skew across nodes, +vCPU 1 - vCPU 0:"
expect_line bench '^\{"nodes": 2, "pinned": true, .*"compute_ratio": [0-9.]+, .*"stream_ratio": [0-9.]+, .*"tsc_nodes": \[\{"skew_cycles": -?[0-9]+'
[ -z "$(ls -A "$WORK/tmp")" ] || fail "bench guest left files behind: $(ls -A "$WORK/tmp")"
run_vmm bad bench guest --nodes 5
expect_status 2 bad
run_vmm bad_scale bench guest --scale 2
expect_status 2 bad_scale
expect_line bad_scale "invalid value for --scale: '2'"
