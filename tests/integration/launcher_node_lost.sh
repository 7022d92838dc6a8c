#!/usr/bin/env bash
# The launcher names the node that was lost. Each round SIGKILLs n1 of 3 nodes started by the
# launcher: every survivor must report n1 lost and stop by itself with "node lost" (6) (none is
# left to the launcher's SIGTERM), and the launcher must blame n1 (never a survivor it happened
# to reap first), exit 6 within 2.5 s of the kill and leave no process behind. Which child is
# reaped first is a race, so the kill is repeated: LAUNCHER_KILL_ROUNDS rounds of memtest
# (default 10; `make stress` runs 50) mid-stress, then 2 of the guest run once the guest runs.
source "$(dirname "$0")/lib.sh"
export UCX_NET_DEVICES=lo # loopback only
need_cpu
rounds=${LAUNCHER_KILL_ROUNDS:-10}
cluster_config "$WORK/c.toml" 3 7530
launcher=
cleanup() {
	[ -z "$launcher" ] || kill -KILL "$launcher" 2>/dev/null || true
	[ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

# show_and_fail MESSAGE: the round's output, then fail.
show_and_fail() {
	echo "--- stdout"; grep -v '^TESTGUEST' "$WORK/run.out" || true
	echo "--- stderr"; grep -v '^cluster: ' "$WORK/run.err"
	fail "$what: $1"
}

count_at_least() { [ "$(grep -c -- "$1" "$WORK/run.out" || true)" -ge "$2" ]; }

# kill_n1 READY_PATTERN READY_COUNT ARGS...: starts the launcher with ARGS, waits until READY_COUNT
# lines of its stdout match READY_PATTERN, SIGKILLs n1 and checks how the launcher took it.
kill_n1() {
	local ready=$1 count=$2 n1 killed_at status=0 ms blamed left
	shift 2
	"$VMM" "$@" >"$WORK/run.out" 2>"$WORK/run.err" </dev/null &
	launcher=$!
	until_true 300 "$launcher" count_at_least "$ready" "$count" || show_and_fail "the nodes did not start"
	n1=$(pgrep -P "$launcher" -f -- '--node n1$') || show_and_fail "no process for n1"
	killed_at=$(now_ms)
	kill -KILL "$n1"
	wait "$launcher" || status=$?
	ms=$(($(now_ms) - killed_at))
	launcher=
	[ "$status" -eq 6 ] || show_and_fail "launcher: status $status, expected 6 (node lost)"
	blamed=$(grep -E '^vsmp-vmm: node n[0-9]+ (lost|failed)' "$WORK/run.err" || true)
	[ "$blamed" = "vsmp-vmm: node n1 lost: killed by signal 9 (Killed)" ] ||
		show_and_fail "the launcher blamed: '$blamed', expected n1 alone"
	grep -qx 'vsmp-vmm: node exits: n0 6, n1 137 (signal 9), n2 6' "$WORK/run.err" ||
		show_and_fail "the survivors did not both stop by themselves with 6"
	[ "$ms" -lt 2500 ] || show_and_fail "the launcher exited $ms ms after the kill"
	left=$(pgrep -f -- "--config $WORK/c.toml" || true)
	[ -z "$left" ] || show_and_fail "processes left behind: $left"
	echo "$what: n1 killed; n0 and n2 reported it, launcher exited 6 after $ms ms"
}

for ((round = 1; round <= rounds; round++)); do
	what="memtest round $round"
	kill_n1 '^MEMTEST seed=' 3 memtest --config "$WORK/c.toml" --threads 2 --test stress \
		--iters 100000000 --timeout 600
	for n in n0 n2; do
		grep -qx "MEMTEST FAIL node=$n peer n1 lost" "$WORK/run.out" ||
			show_and_fail "$n printed no loss line naming n1"
	done
done

for round in 1 2; do
	what="guest round $round"
	kill_n1 '^TESTGUEST start' 1 "${ACCEL_ARGS[@]}" --config "$WORK/c.toml"
	for n in n0 n2; do
		grep -q "^vsmp-vmm\[$n\]: node n1 lost " "$WORK/run.err" ||
			show_and_fail "$n did not report n1 lost"
	done
done
