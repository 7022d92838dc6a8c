#!/usr/bin/env bash
# The launcher's --netns: three nodes, each in a network namespace of its own joined by veths
# to a bridge, form the cluster and run the transport check over that network (UCX over TCP,
# which the launcher selects there), and the launcher removes every namespace it made, also when
# a node is killed.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cluster_lib.sh"
unset UCX_NET_DEVICES # inside the namespaces: lo and our veth
probe=vsmp-probe-$$
ip netns add "$probe" 2>/dev/null || skip "cannot create network namespaces (ip netns add)"
ip netns del "$probe"
cd "$WORK"
"$VMM" keygen cluster.key >/dev/null
cluster_config cluster.toml 3

# launch NAME ARGS...: the launcher in the background under `timeout` (pid $timer); its own
# pid, which names its namespaces, in $launcher.
launch() {
	local name=$1; shift
	timeout --kill-after=5 120 "$VMM" cluster-check --config cluster.toml --netns "$@" \
		>"$name.out" 2>"$name.err" </dev/null &
	timer=$!
	launcher=$(child_of $timer)
}

launch joined
status=0
wait $timer || status=$?
expect_status 0 joined
expect_count joined '^CLUSTER UP nodes=3$' 3
expect_count joined '^TRANSPORT OK$' 3
expect_line joined 'authenticated n1 \(192\.168\.213\.2:'
expect_no_namespaces "$launcher"

launch killed --seconds 60
wait_for killed.out '^TRANSPORT OK$' 30 || fail "killed: no TRANSPORT OK"
for n in n0 n1 n2; do
	wait_for killed.out "^NODE $n pid=" 5 || fail "killed: no pid for $n"
done
pids="$(node_pid killed n0) $(node_pid killed n1) $(node_pid killed n2)"
ip netns list | grep -q "^vsmp-$launcher-br" || fail "no bridge namespace while running"
kill -KILL "$(node_pid killed n2)"
status=0
wait $timer || status=$?
[ "$status" -eq 6 ] || fail "launcher: status $status, expected 6 (node lost)"
expect_gone $pids
expect_no_namespaces "$launcher"
