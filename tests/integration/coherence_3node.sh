#!/usr/bin/env bash
# Three node processes keep one region coherent: the litmus tests (message passing, store
# buffering with fences, IRIW, coherence of one word) never show a forbidden outcome and the
# randomized stress validates every read and the final state of every word and counter, with
# pages homed in the nodes' shares of the region (the configuration's homes, "numa" by default),
# striped over the nodes (--homes striped) and homed where first touched (--homes first-touch).
source "$(dirname "$0")/lib.sh"
cluster_config "$WORK/c.toml" 3 7410
for homes in "" striped first-touch; do
	run_vmm memtest memtest --config "$WORK/c.toml" --threads 2 --iters 2000 --seed 7 \
		${homes:+--homes "$homes"}
	expect_status 0 memtest
	homes=${homes:-numa}
	for t in mp sb iriw corr stress; do expect_line memtest "^MEMTEST $t ok "; done
	! grep -q 'FAIL' "$WORK/memtest.out" ||
		fail "$homes: a check failed: $(grep FAIL "$WORK/memtest.out")"
	[ "$(grep -c "^MEMTEST PASS node=n[0-2] homes=$homes\$" "$WORK/memtest.out")" -eq 3 ] ||
		fail "$homes: not every node passed with these homes"
	expect_line memtest 'forbidden_r1=r2=old:0'
	expect_line memtest 'forbidden_disagreement=0'
done
