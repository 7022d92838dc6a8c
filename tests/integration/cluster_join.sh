#!/usr/bin/env bash
# Three local nodes (started by the launcher) form an authenticated cluster and exchange checked
# transport messages with each other, over UCX's default transports (shared memory here) and
# over TCP only; --rtt's round trips; and keygen's file rules.
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

chmod 644 "$WORK/cluster.key"
run_vmm open_key cluster-check --config "$WORK/cluster.toml" --node n0
expect_status 2 open_key
expect_line open_key 'accessible by group or others \(mode 0644\)'
