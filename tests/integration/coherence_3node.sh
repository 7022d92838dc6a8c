#!/usr/bin/env bash
# Three node processes keep one region coherent: the litmus tests (message passing, store
# buffering with fences, IRIW, coherence of one word) never show a forbidden outcome and the
# randomized stress validates every read and the final state of every word and counter, with
# pages homed in the nodes' shares of the region (the configuration's homes, "numa" by default),
# striped over the nodes (--homes striped) and homed where first touched (--homes first-touch).
# A litmus reader counts only if it saw its writer midway (not just the final value): the mp
# reader and every corr reader must report midway values. Without --seed (the first run) every
# node runs with node 0's seed and says so. IRIW's rounds fit in the --timeout given.
source "$(dirname "$0")/lib.sh"
cluster_config "$WORK/c.toml" 3 7410
for homes in "" striped first-touch; do
	run_vmm memtest memtest --config "$WORK/c.toml" --threads 2 --iters 2000 \
		${homes:+--homes "$homes" --seed 7}
	expect_status 0 memtest
	homes=${homes:-numa}
	for t in mp sb iriw corr stress; do expect_line memtest "^MEMTEST $t ok "; done
	! grep -q 'NOT-EXERCISED' "$WORK/memtest.out" || fail "$homes: a litmus test was not exercised"
	expect_line memtest '^MEMTEST mp ok node=n[0-2] thread=[0-9]+ role=reader .* midway=[1-9]'
	[ "$(grep -Ec '^MEMTEST corr ok .* midway=[1-9]' "$WORK/memtest.out")" -eq 5 ] ||
		fail "$homes: not every corr reader saw the writer midway"
	seeds=$(sed -n 's/^MEMTEST seed=\([0-9]*\) node=n[0-2]$/\1/p' "$WORK/memtest.out" | sort -u)
	[ "$(grep -c '^MEMTEST seed=' "$WORK/memtest.out")" -eq 3 ] &&
		[ "$(echo "$seeds" | wc -l)" -eq 1 ] ||
		fail "$homes: the nodes did not agree on one seed: $(grep '^MEMTEST seed=' "$WORK/memtest.out")"
	! grep -q 'FAIL' "$WORK/memtest.out" ||
		fail "$homes: a check failed: $(grep FAIL "$WORK/memtest.out")"
	[ "$(grep -c "^MEMTEST PASS node=n[0-2] homes=$homes\$" "$WORK/memtest.out")" -eq 3 ] ||
		fail "$homes: not every node passed with these homes"
	expect_line memtest 'forbidden_r1=r2=old:0'
	expect_line memtest 'forbidden_disagreement=0'
done

# IRIW needs a barrier per round across the nodes (tens of ms each here): at --iters 50000 it
# would plan 4096 rounds, minutes; it must stop its rounds in time to pass within --timeout.
started=$(date +%s)
run_vmm iriw memtest --config "$WORK/c.toml" --threads 2 --test iriw --iters 50000 --timeout 20
took=$(($(date +%s) - started))
expect_status 0 iriw
expect_line iriw '^MEMTEST iriw ok .* rounds=[0-9]+ of 4096 forbidden_disagreement=0$'
[ "$took" -lt 20 ] || fail "IRIW took $took s, past its --timeout of 20 s"
