#!/usr/bin/env bash
# Memory mode with replicas = 2: a lending node SIGKILLed while the test guest works through lent
# memory loses nothing. The others go on from the copies it kept (n1 and n2 mirror each other),
# the guest's checksums come out exact and every survivor exits 0: once killing n1, once n2.
# Then with a spare (n3): n1 is killed, the spare receives the copies the loss left single, and
# once both lenders' memory is on two nodes again, n2 is killed too: still exact, still 0.
source "$(dirname "$0")/lib.sh"
need_cpu
# UCX_TLS stays unset: a cluster with replicas keeps out of UCX's shared memory by itself, which a
# node killed in the middle of a send can wedge for the survivors (docs/cluster.md).
unset UCX_TLS
"$VMM" keygen "$WORK/cluster.key" >/dev/null

# write_config MIB [spare]: 1 compute node (cache 2 MiB), 2 lenders of 64 MiB, maybe a spare.
write_config() {
	cat >"$WORK/m.toml" <<EOT
[cluster]
name = "memory-replicas"
mode = "memory"
replicas = 2
key_file = "$WORK/cluster.key"
[guest]
cmdline = "tg.run=memory tg.mem_mib=$1"
[[node]]
name = "n0"
address = "127.0.0.1:7406"
vcpus = 1
memory_mib = 64
cache_mib = 2
[[node]]
name = "n1"
address = "127.0.0.1:7407"
memory_mib = 64
[[node]]
name = "n2"
address = "127.0.0.1:7408"
memory_mib = 64
EOT
	if [ -n "${2:-}" ]; then
		printf '[[node]]\nname = "n3"\naddress = "127.0.0.1:7409"\nspare = true\n' >>"$WORK/m.toml"
	fi
}

# Waits until n0 has written lent pages back, so that the lenders hold data n0 no longer has.
await_dirty_evictions() {
	until_true 300 "${pids[0]}" grep -q 'evictions_dirty=[1-9]' "$WORK/n0.err" ||
		fail "no dirty eviction within 300 s (or node 0 ended): $(cat "$WORK/n0.err")"
}

# expect_survivors VICTIM...: every other node exits 0 and the guest passed.
expect_survivors() {
	local i status
	for ((i = 0; i < ${#pids[@]}; i++)); do
		[[ " $* " == *" n$i "* ]] && continue
		status=0
		wait "${pids[$i]}" || status=$?
		[ "$status" -eq 0 ] || fail "node n$i: exit status $status after losing $*; $(cat "$WORK/n$i.err")"
	done
	grep -q "TESTGUEST PASS" "$WORK/n0.out" || fail "the guest did not pass: $(cat "$WORK/n0.out" "$WORK/n0.err")"
	grep -q "TESTGUEST memory ok" "$WORK/n0.out" || fail "no memory checksum: $(cat "$WORK/n0.out")"
	for victim in "$@"; do
		grep -q "node $victim lost" "$WORK/n0.err" || fail "n0 did not report $victim's loss: $(cat "$WORK/n0.err")"
	done
	grep -q "replica_state=degraded" "$WORK/n0.err" || fail "n0's status never said degraded: $(cat "$WORK/n0.err")"
	! pgrep -f -- "--config $WORK/" >/dev/null || fail "a vsmp-vmm process was left running"
}

write_config 32
for victim in 1 2; do
	start_nodes "$WORK/m.toml" --stats 1 --verbose
	await_dirty_evictions
	grep -q "transport to n$victim: tcp" "$WORK/n0.err" ||
		fail "n0 does not reach n$victim over TCP: $(grep 'transport to' "$WORK/n0.err")"
	kill -9 "${pids[$victim]}"
	expect_survivors "n$victim"
	echo "n$victim killed mid-run: the guest passed on the copies"
done

write_config 96 spare
NODE_COUNT=4 start_nodes "$WORK/m.toml" --stats 1
await_dirty_evictions
kill -9 "${pids[1]}"
until_true 300 "${pids[0]}" grep -q "n1's memory is on two nodes again" "$WORK/n0.err" ||
	fail "n1's memory never regained a second copy: $(cat "$WORK/n0.err" "$WORK/n2.err" "$WORK/n3.err")"
until_true 300 "${pids[0]}" grep -q "n2's memory is on two nodes again" "$WORK/n0.err" ||
	fail "n2's memory never regained a second copy: $(cat "$WORK/n0.err" "$WORK/n2.err" "$WORK/n3.err")"
grep -q "TESTGUEST memory" "$WORK/n0.out" && fail "the guest finished before the second loss: make it longer"
status_protected() { tail -n 2 "$WORK/n0.err" | grep -q "replica_state=protected"; }
until_true 30 "${pids[0]}" status_protected ||
	fail "n0's status did not come back to protected: $(tail -n 5 "$WORK/n0.err")"
kill -9 "${pids[2]}"
expect_survivors n1 n2
grep -q "copying n1's memory" "$WORK/n2.err" || fail "n2 did not copy n1's memory to the spare: $(cat "$WORK/n2.err")"
echo "n1 then n2 killed, with the spare taking the copies: the guest passed"
