#!/usr/bin/env bash
# `vsmp-vmm bench coherence --local 2`: every measurement is printed beside its floor, the JSON
# line the acceptance checks read is the last line of the whole output (stderr included), the
# temporary key and configuration are gone afterwards, and bad arguments are refused. Speed is
# not asserted here (docs/benchmarks.md records it): only that each number is there and positive.
source "$(dirname "$0")/lib.sh"
need_cpu
mkdir "$WORK/tmp"
status=0
TMPDIR="$WORK/tmp" timeout --kill-after=5 300 "$VMM" bench coherence --local 2 \
	>"$WORK/bench.out" 2>&1 </dev/null || status=$?
: >"$WORK/bench.err"
expect_status 0 bench
for what in "remote read fault" "write fault invalidating 1 sharer" \
	"remote read fault from a vCPU \\((kvm|emu)\\)"; do
	expect_line bench "^$what +[0-9.]+ us +floor +[0-9.]+ us +ratio +[0-9.]+x$"
done
last=$(tail -n 1 "$WORK/bench.out")
[[ $last =~ ^\{.*\}$ ]] || fail "the last line of the output is not a JSON object: $last"
for key in rtt_us local_fault_us floor_us read_fault_us write_fault_us vcpu_local_fault_us \
	vcpu_read_fault_us; do
	[[ $last =~ \"$key\":\ ([0-9.]+) ]] || fail "the last line has no \"$key\": $last"
	[[ ${BASH_REMATCH[1]} =~ [1-9] ]] || fail "\"$key\" is zero: $last"
done
[ -z "$(ls -A "$WORK/tmp")" ] || fail "bench coherence left files behind: $(ls -A "$WORK/tmp")"

run_vmm one bench coherence --local 1
expect_status 2 one
expect_line one 'takes 2\.\.5'
run_vmm bogus bench coherence --bogus
expect_status 2 bogus
expect_line bogus 'usage: vsmp-vmm bench coherence'
