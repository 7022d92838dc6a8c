#!/usr/bin/env bash
# Losing a node. A node SIGKILLed is reported lost by both survivors within 2 s, and they stop
# at once with "node lost" (6), leaving the cluster in order (the other survivor sees the first
# leave, it does not take it for lost). Under the launcher, the survivors stop by themselves
# within 2.5 s and the launcher exits 6 naming the killed node. No process is left behind.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cluster_lib.sh"
cd "$WORK"
"$VMM" keygen cluster.key >/dev/null
cluster_config cluster.toml 3

# Three nodes started one by one; n2 is killed once all three passed the transport check.
for n in n0 n1 n2; do
	start_node "$n" cluster.toml "$n" --seconds 60
done
for n in n0 n1 n2; do
	wait_for "$WORK/$n.out" '^TRANSPORT OK$' 30 || fail "$n: no TRANSPORT OK"
done
pids="$(node_pid n0 n0) $(node_pid n1 n1) $(node_pid n2 n2)"
killed_at=$(now_ms)
kill -KILL "$(node_pid n2 n2)"
for n in n0 n1; do
	wait_for "$WORK/$n.out" '^PEER LOST n2 ' 5 || fail "$n did not report n2 lost"
	ms=$(($(now_ms) - killed_at))
	echo "$n reported n2 lost after $ms ms"
	[ "$ms" -lt 2000 ] || fail "$n took $ms ms to report n2 lost"
done
for n in n0 n1; do
	finish "$n"
	expect_status 6 "$n"
	expect_count "$n" '^PEER LOST' 1 # n2 only: the survivors leave, they are not lost
done
finish n2
[ "$status" -eq 137 ] || fail "n2: status $status, expected 137 (SIGKILL)"
expect_gone $pids

# The launcher: kill one of its nodes.
timeout --kill-after=5 120 "$VMM" cluster-check --config cluster.toml --seconds 60 \
	>launched.out 2>launched.err </dev/null &
timer=$!
wait_for launched.out '^TRANSPORT OK$' 30 || fail "launched: no TRANSPORT OK"
for n in n0 n1 n2; do
	wait_for launched.out "^NODE $n pid=" 5 || fail "launched: no pid for $n"
done
pids="$(node_pid launched n0) $(node_pid launched n1) $(node_pid launched n2)"
killed_at=$(now_ms)
kill -KILL "$(node_pid launched n1)"
status=0
wait $timer || status=$?
ms=$(($(now_ms) - killed_at))
echo "the launcher stopped the other nodes and exited $ms ms after n1 was killed"
[ "$status" -eq 6 ] || fail "launcher: status $status, expected 6 (node lost)"
[ "$ms" -lt 2500 ] || fail "the others took $ms ms to stop"
grep -q '^vsmp-vmm: node n1 lost: killed by signal 9' launched.err ||
	fail "launcher: no message naming n1: $(cat launched.err)"
grep -q '^vsmp-vmm: node exits: n0 6, n1 137 (signal 9), n2 6$' launched.err ||
	fail "launcher: the survivors did not stop by themselves with 6: $(grep exits launched.err)"
lost_lines=$(grep -c '^PEER LOST ' launched.out || true)
[ "$(grep -c '^PEER LOST n1 ' launched.out)" -eq 2 ] && [ "$lost_lines" -eq 2 ] ||
	fail "expected each survivor to report n1 lost once: $(grep 'PEER' launched.out)"
expect_gone $pids
