#!/usr/bin/env bash
# Memory mode's replicas under ThreadSanitizer: the test guest on a compute node, two lending
# nodes that mirror each other and a spare, from a VSMP_SANITIZE=thread build. n1 is SIGKILLed
# mid-run (the loss is reported on the cluster's thread while the progress thread recovers and
# copies to the spare), then, once every lent page is on two nodes again, n2. Any TSan report
# fails the test (halt_on_error: the reporting node exits 66); the guest must pass on what is
# left, n3.
#
# `bash tsan_replicas.sh BUILD_DIR SOURCE_DIR`, run by ctest (label tsan) in that build only.
source "$(dirname "$0")/integration/lib.sh"

export TSAN_OPTIONS="halt_on_error=1:exitcode=66:second_deadlock_stack=1${TSAN_OPTIONS:+:$TSAN_OPTIONS}"
export UCX_NET_DEVICES=lo
unset UCX_TLS # as memory_replicas.sh: replicas keep out of shared memory by themselves
"$VMM" keygen "$WORK/cluster.key" >/dev/null
port=$((20000 + RANDOM % 12000))
cat >"$WORK/m.toml" <<EOT
[cluster]
name = "tsan-replicas"
mode = "memory"
replicas = 2
key_file = "$WORK/cluster.key"
[guest]
cmdline = "tg.run=memory tg.mem_mib=24"
[[node]]
name = "n0"
address = "127.0.0.1:$port"
vcpus = 1
memory_mib = 64
cache_mib = 2
[[node]]
name = "n1"
address = "127.0.0.1:$((port + 1))"
memory_mib = 32
[[node]]
name = "n2"
address = "127.0.0.1:$((port + 2))"
memory_mib = 32
[[node]]
name = "n3"
address = "127.0.0.1:$((port + 3))"
spare = true
EOT
NODE_COUNT=4 start_nodes "$WORK/m.toml" --stats 1
reported() { grep -l 'WARNING: ThreadSanitizer' "$WORK"/n*.err; }
until_true 300 "${pids[0]}" grep -q 'evictions_dirty=[1-9]' "$WORK/n0.err" ||
	fail "no dirty eviction within 300 s: $(reported && cat "$WORK"/n*.err)"
kill -9 "${pids[1]}"
both_protected() {
	grep -q "n1's memory is on two nodes again" "$WORK/n0.err" &&
		grep -q "n2's memory is on two nodes again" "$WORK/n0.err"
}
until_true 300 "${pids[0]}" both_protected ||
	fail "the spare never took the copies: $(cat "$WORK/n0.err" "$WORK/n2.err" "$WORK/n3.err")"
kill -9 "${pids[2]}"
for i in 0 3; do
	status=0
	wait "${pids[$i]}" || status=$?
	if reported >/dev/null; then
		cat $(reported)
		fail "ThreadSanitizer reported a race"
	fi
	[ "$status" -eq 0 ] || fail "node n$i: exit status $status; $(cat "$WORK/n$i.err")"
done
grep -q "TESTGUEST PASS" "$WORK/n0.out" || fail "the guest did not pass: $(cat "$WORK/n0.out")"
echo "tsan replicas: no race reported through two losses, the guest passed"
