#!/usr/bin/env bash
# `vsmp-vmm bench memory`: every measurement is printed beside its floor, the JSON line the
# acceptance checks read is the last line of the whole output (stderr included) with the keys they
# read, the temporary key and configuration are gone afterwards, and bad arguments are refused;
# the replicated pass ends with every write-back acknowledged (else the bench fails), and the
# mirror's acks went in batches.
# Speed is not asserted here (docs/benchmarks.md records it): only that each number is there.
source "$(dirname "$0")/lib.sh"
mkdir "$WORK/tmp"
status=0
TMPDIR="$WORK/tmp" timeout --kill-after=5 300 "$VMM" bench memory \
	>"$WORK/bench.out" 2>&1 </dev/null || status=$?
: >"$WORK/bench.err"
expect_status 0 bench
for what in "sequential read" "sequential write"; do
	expect_line bench "^  $what +[0-9.]+ MiB/s +floor +[0-9.]+ MiB/s +ratio +[0-9.]+x "
done
expect_line bench "^  random access +[0-9.]+ us +floor +[0-9.]+ us +ratio +[0-9.]+x "
last=$(tail -n 1 "$WORK/bench.out")
[[ $last =~ ^\{.*\}$ ]] || fail "the last line of the output is not a JSON object: $last"
for key in rtt_4k_us seq_read_mib_s seq_read_ratio seq_write_ratio rand_access_us \
	rand_miss_ratio local_seq_read_mib_s prefetch_hit_rate; do
	[[ $last =~ \"$key\":\ ([0-9.]+) ]] || fail "the last line has no \"$key\": $last"
	[[ ${BASH_REMATCH[1]} =~ [1-9] ]] || fail "\"$key\" is zero: $last"
done
# The replicas cluster's mirror (b2) acknowledges n1's write-backs in batches: fewer messages
# handed to its transport than coherence messages sent (one per page otherwise).
mirror=$(grep -E '^vsmp-vmm\[b2\]: final: ' "$WORK/bench.out") || fail "no final counters from the mirror"
[[ $mirror =~ \ messages_out=([0-9]+)\  ]] || fail "the mirror's counters have no messages_out: $mirror"
acks=${BASH_REMATCH[1]}
[[ $mirror =~ \ transport_sends=([0-9]+)\  ]] || fail "the mirror's counters have no transport_sends: $mirror"
[ "${BASH_REMATCH[1]}" -lt "$acks" ] || fail "the mirror sent its $acks acks one by one: $mirror"
[ -z "$(ls -A "$WORK/tmp")" ] || fail "bench memory left files behind: $(ls -A "$WORK/tmp")"
run_vmm bogus bench memory --bogus
expect_status 2 bogus
expect_line bogus 'usage: vsmp-vmm bench memory'
