#!/usr/bin/env bash
# Three local nodes (started by the launcher) form an authenticated cluster and exchange checked
# transport messages with each other, over UCX's default transports (shared memory here) and
# over TCP only; the launcher passes --accel on to every node; --rtt's round trips, the peers
# staying until node 0 has left; nodes differing in --accel join; one node needs no key; and
# keygen's file rules.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cluster_lib.sh"
cd "$WORK"

run_vmm keygen keygen "$WORK/cluster.key"
expect_status 0 keygen
[ "$(stat -c %a "$WORK/cluster.key")" = 600 ] || fail "keygen: the key file is not mode 600"
run_vmm keygen_again keygen "$WORK/cluster.key"
expect_status 2 keygen_again
expect_line keygen_again 'already exists'

cluster_config "$WORK/cluster.toml" 3
for transport in default tcp; do
	name=join_$transport
	if [ "$transport" = tcp ]; then
		UCX_TLS=tcp run_vmm "$name" cluster-check --config "$WORK/cluster.toml"
	else
		run_vmm "$name" cluster-check --config "$WORK/cluster.toml"
	fi
	expect_status 0 "$name"
	expect_count "$name" '^CLUSTER UP nodes=3$' 3
	expect_count "$name" '^TRANSPORT OK$' 3
	expect_count "$name" '^PEER LOST' 0
done

# --rtt: node 0 times round trips with each peer, which answer until it has left.
run_vmm rtt cluster-check --config "$WORK/cluster.toml" --rtt 200
expect_status 0 rtt
for peer in n1 n2; do
	expect_line rtt "^RTT $peer 4096 B: median [0-9.]+ us, p99 [0-9.]+ us, min [0-9.]+ us \(200 round trips\)$"
done

# The launcher re-runs itself per node with the options it was given: --accel reaches them all.
timeout --kill-after=5 120 "$VMM" cluster-check --config "$WORK/cluster.toml" --accel emu \
	--seconds 2 >"$WORK/accel.out" 2>"$WORK/accel.err" </dev/null &
launcher=$!
for n in n0 n1 n2; do
	wait_for "$WORK/accel.out" "^NODE $n pid=" 30 || fail "accel: node $n did not start"
	args=$(tr '\0' ' ' <"/proc/$(node_pid accel $n)/cmdline")
	[[ "$args" == *" --accel emu "* ]] || fail "accel: node $n was started as: $args"
done
status=0
wait "$launcher" || status=$?
expect_status 0 accel

# --rtt: the peers stay up, answering, until node 0 has left, however long after their own
# --seconds that is (here node 0 stays 3 s, node 1 only 1 s); nodes may use different --accel.
cluster_config "$WORK/pair.toml" 2
start_node stay-n0 "$WORK/pair.toml" n0 --rtt 100 --seconds 3 --accel kvm
start_node stay-n1 "$WORK/pair.toml" n1 --rtt 100 --seconds 1 --accel emu
for n in n0 n1; do
	finish "stay-$n"
	expect_status 0 "stay-$n"
done
expect_line stay-n0 '^RTT n1 4096 B: '
expect_count stay-n0 '^PEER (LEFT|LOST)' 0
expect_line stay-n1 '^PEER LEFT n0$'

# One node has no peer to authenticate: no key_file is needed, and memtest homes its region as
# [cluster] homes says unless --homes says otherwise.
printf '[cluster]\nname = "solo"\nhomes = "first-touch"\n[[node]]\nname = "n0"\n' >"$WORK/solo.toml"
printf 'address = "127.0.0.1:%d"\nvcpus = 1\nmemory_mib = 16\n' $((BASE_PORT + 10)) >>"$WORK/solo.toml"
run_vmm solo_check cluster-check --config "$WORK/solo.toml"
expect_status 0 solo_check
expect_count solo_check '^TRANSPORT OK$' 1
run_vmm solo_memtest memtest --config "$WORK/solo.toml" --iters 200
expect_status 0 solo_memtest
expect_line solo_memtest '^MEMTEST PASS node=n0 homes=first-touch$'
run_vmm solo_striped memtest --config "$WORK/solo.toml" --iters 200 --homes striped
expect_status 0 solo_striped
expect_line solo_striped '^MEMTEST PASS node=n0 homes=striped$'

chmod 644 "$WORK/cluster.key"
run_vmm open_key cluster-check --config "$WORK/cluster.toml" --node n0
expect_status 2 open_key
expect_line open_key 'accessible by group or others \(mode 0644\)'
