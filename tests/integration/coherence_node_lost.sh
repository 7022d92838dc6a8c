#!/usr/bin/env bash
# A memtest node SIGKILLed while the stress runs: each survivor reports the lost peer by name and
# exits with "node lost" (6) within 2 s of the kill, and no vsmp-vmm process is left behind.
#
# The three nodes are started one by one (no launcher). The stress prints nothing until it ends,
# so the sign that it runs is the workload just before it: corr prints its result on every node
# (--threads 2: one reader on n0, two on each other node), and the stress starts right after the
# barrier that follows. --iters is large so that the stress outlasts the test by far (corr's
# writer stores into a page it holds, so corr itself takes well under a second).
source "$(dirname "$0")/lib.sh"
export UCX_NET_DEVICES=lo # loopback only
cluster_config "$WORK/c.toml" 3 $((20000 + RANDOM % 12000)) # below the ephemeral ports

pids=()
cleanup() {
	for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
	[ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

# die NODE MESSAGE: shows the node's output, then fails.
die() {
	echo "--- $1.out"; cat "$WORK/$1.out"; echo "--- $1.err"; cat "$WORK/$1.err"
	fail "$1: $2"
}

now_ns() { date +%s%N; }

for i in 0 1 2; do
	"$VMM" memtest --config "$WORK/c.toml" --node "n$i" --threads 2 --test corr,stress \
		--iters 10000000 --timeout 600 --seed 5 >"$WORK/n$i.out" 2>"$WORK/n$i.err" </dev/null &
	pids+=($!)
done

# Bounded polling until corr has reported on every node (the 10 ms sleep is the polling
# interval: what is waited for is the output).
deadline=$(($(now_ns) + 120 * 1000000000))
for i in 0 1 2; do
	until grep -q "^MEMTEST corr ok node=n$i " "$WORK/n$i.out"; do
		kill -0 "${pids[$i]}" 2>/dev/null || die "n$i" "ended before the stress"
		[ "$(now_ns)" -lt "$deadline" ] || die "n$i" "no corr result within 120 s"
		sleep 0.01
	done
done
for i in 0 1 2; do
	! grep -q 'FAIL' "$WORK/n$i.out" || die "n$i" "a check failed before the kill"
	kill -0 "${pids[$i]}" 2>/dev/null || die "n$i" "not running the stress"
done

killed_status=0
{ # bash's "Killed" notice for n2 goes to this block's stderr
	kill -KILL "${pids[2]}"
	killed_at=$(now_ns)
	wait "${pids[2]}" || killed_status=$?
} 2>/dev/null
for i in 0 1; do
	give_up=$((killed_at + 10 * 1000000000))
	while kill -0 "${pids[$i]}" 2>/dev/null && [ "$(now_ns)" -lt "$give_up" ]; do
		sleep 0.01 # polling interval: what is waited for is the process's exit
	done
	ms=$((($(now_ns) - killed_at) / 1000000))
	! kill -0 "${pids[$i]}" 2>/dev/null || die "n$i" "still running $ms ms after n2 was killed"
	status=0
	wait "${pids[$i]}" || status=$?
	echo "n$i exited with status $status $ms ms after n2 was killed"
	[ "$status" -eq 6 ] || die "n$i" "exited $status after losing n2, expected 6 (node lost)"
	grep -q 'node n2 lost ' "$WORK/n$i.err" || die "n$i" "did not report n2 lost"
	grep -q "^MEMTEST FAIL node=n$i peer n2 lost$" "$WORK/n$i.out" ||
		die "n$i" "no MEMTEST FAIL line for peer 2"
	[ "$ms" -lt 2000 ] || die "n$i" "took $ms ms to stop after the kill (limit 2000)"
done
[ "$killed_status" -eq 137 ] || fail "n2: status $killed_status, expected 137 (SIGKILL)"
for pid in "${pids[@]}"; do
	! kill -0 "$pid" 2>/dev/null || fail "process $pid is still running"
done
left=$(pgrep -af "$WORK/c.toml" || true)
[ -z "$left" ] || fail "vsmp-vmm processes left: $left"
