#!/usr/bin/env bash
# A node killed while the guest runs: every other node stops within 2 s with a message naming the
# lost node and exit status 6 - no hang, no orphan process.
source "$(dirname "$0")/lib.sh"
need_cpu
cluster_config "$WORK/c.toml" 3 7460
pids=()
cleanup() { kill -9 "${pids[@]}" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
for i in 0 1 2; do
	"$VMM" "${ACCEL_ARGS[@]}" --config "$WORK/c.toml" --node "n$i" >"$WORK/n$i.out" 2>"$WORK/n$i.err" </dev/null &
	pids+=($!)
done
# Wait (bounded) until the guest runs on every node: the BSP prints "start" once every AP is up.
for ((t = 0; t < 600; t++)); do
	grep -q '^TESTGUEST start' "$WORK/n0.out" && break
	kill -0 "${pids[0]}" 2>/dev/null || fail "node 0 ended early: $(cat "$WORK/n0.err")"
	sleep 0.5 # polling interval: the condition above is what is waited for
done
grep -q '^TESTGUEST start' "$WORK/n0.out" || fail "the guest did not start within 300 s"
kill -9 "${pids[1]}"
killed_at=$(date +%s%N)
for i in 0 2; do
	status=0
	wait "${pids[$i]}" || status=$?
	elapsed_ms=$((($(date +%s%N) - killed_at) / 1000000))
	[ "$status" -eq 6 ] || fail "node n$i: exit status $status, expected 6 (node lost); $(cat "$WORK/n$i.err")"
	grep -q "node n1 lost" "$WORK/n$i.err" || fail "node n$i did not name the lost node: $(cat "$WORK/n$i.err")"
	[ "$elapsed_ms" -lt 2000 ] || fail "node n$i took ${elapsed_ms} ms to stop (limit 2000)"
	echo "node n$i stopped ${elapsed_ms} ms after the kill"
done
! pgrep -f "vsmp-vmm --config $WORK" >/dev/null || fail "a vsmp-vmm process was left running"
