#!/usr/bin/env bash
# The coherence engine under ThreadSanitizer: the memtest on three node processes of a
# VSMP_SANITIZE=thread build, so the transport's progress thread (which serves the faults too),
# the cluster thread and the protocol's locks race for real in every node, driven by the worker
# threads' faults. Any TSan report fails the test:
# halt_on_error makes the reporting node exit 66, and the launcher exits with it. The workloads
# themselves are not instrumented (tests/CMakeLists.txt says why), so no report is suppressed.
#
# `bash tsan_memtest.sh BUILD_DIR SOURCE_DIR`, run by ctest (label tsan) in that build only.
# TSAN_MEMTEST_ITERS and TSAN_MEMTEST_SEED override the defaults; the seed is printed, and its
# parity picks striped or first-touch homes.
source "$(dirname "$0")/integration/lib.sh"

iters=${TSAN_MEMTEST_ITERS:-500}
seed=${TSAN_MEMTEST_SEED:-$RANDOM}
limit=150 # seconds; a run takes 5-30 s here: the limit only turns a hang into a failure

export TSAN_OPTIONS="halt_on_error=1:exitcode=66:second_deadlock_stack=1${TSAN_OPTIONS:+:$TSAN_OPTIONS}"
export UCX_NET_DEVICES=lo # loopback only

homes=$([ $((seed % 2)) -eq 0 ] && echo striped || echo first-touch) # both, run by run
cluster_config "$WORK/c.toml" 3 $((20000 + RANDOM % 20000))
echo "tsan memtest: 3 nodes, --threads 2 --iters $iters --seed $seed --homes $homes"
status=0
timeout --kill-after=5 "$limit" "$VMM" memtest --config "$WORK/c.toml" --threads 2 \
	--iters "$iters" --seed "$seed" --homes "$homes" >"$WORK/memtest.out" 2>"$WORK/memtest.err" </dev/null ||
	status=$?

if grep -q 'WARNING: ThreadSanitizer' "$WORK/memtest.err"; then
	cat "$WORK/memtest.err"
	fail "ThreadSanitizer reported a race (seed $seed)"
fi
[ "$status" -ne 124 ] || echo "memtest did not finish within $limit s (seed $seed)" >&2
expect_status 0 memtest
[ "$(grep -c '^MEMTEST PASS' "$WORK/memtest.out")" -eq 3 ] || fail "not every node passed"
echo "tsan memtest: no race reported, every node passed"
