#!/usr/bin/env bash
# Memory mode with replicas = 1: a lending node killed while the guest works through lent memory
# stops the others with exit status 6 naming it, within 2 s: no hang, no orphan process.
source "$(dirname "$0")/lib.sh"
need_cpu
"$VMM" keygen "$WORK/cluster.key" >/dev/null
cat >"$WORK/m.toml" <<EOT
[cluster]
name = "memory-lost"
mode = "memory"
key_file = "$WORK/cluster.key"
[guest]
cmdline = "tg.run=memory tg.mem_mib=2000"
[[node]]
name = "n0"
address = "127.0.0.1:7403"
vcpus = 1
memory_mib = 64
cache_mib = 2
[[node]]
name = "n1"
address = "127.0.0.1:7404"
memory_mib = 1024
[[node]]
name = "n2"
address = "127.0.0.1:7405"
memory_mib = 1024
EOT
pids=()
cleanup() { kill -9 "${pids[@]}" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
for i in 0 1 2; do
	"$VMM" "${ACCEL_ARGS[@]}" --config "$WORK/m.toml" --node "n$i" --stats 1 \
		>"$WORK/n$i.out" 2>"$WORK/n$i.err" </dev/null &
	pids+=($!)
done
# Wait (bounded) until n0 has evicted pages, so that n1 holds data only it has.
for ((t = 0; t < 600; t++)); do
	grep -q 'evictions_dirty=[1-9]' "$WORK/n0.err" && break
	kill -0 "${pids[0]}" 2>/dev/null || fail "node 0 ended early: $(cat "$WORK/n0.err")"
	sleep 0.5 # polling interval: the condition above is what is waited for
done
grep -q 'evictions_dirty=[1-9]' "$WORK/n0.err" || fail "no dirty eviction within 300 s"
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
! pgrep -f "vsmp-vmm --accel $ACCEL --config $WORK" >/dev/null || fail "a vsmp-vmm process was left running"
