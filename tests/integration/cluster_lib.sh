# Helpers for the cluster_*.sh tests, sourced after lib.sh. Not a test itself.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	echo "SKIP: cluster_lib.sh is a helper library for the cluster_*.sh tests"
	exit 77
fi

# On any exit, stop the nodes this test still runs in the background (SIGTERM: a launcher then
# removes its namespaces) before lib.sh's cleanup.
stop_background() {
	local jobs
	jobs=$(jobs -p)
	if [ -n "$jobs" ]; then
		kill -TERM $jobs 2>/dev/null || true
		wait || true
	fi
	rm -rf "$WORK"
}
trap stop_background EXIT

# UCX may use every network device; keep its TCP traffic on loopback (tests in namespaces of
# their own unset this: there eth0 is our veth).
export UCX_NET_DEVICES=lo

# Ports for this run's nodes, away from the defaults so parallel runs rarely collide, and below
# the kernel's ephemeral range (32768 up), where an outgoing connection may hold one.
BASE_PORT=$((20000 + RANDOM % 12000))

# cluster_config FILE NODES [CMDLINE]: a testguest configuration whose key is cluster.key beside
# FILE.
cluster_config() {
	local file=$1 nodes=$2 cmdline=${3:-}
	{
		printf '[cluster]\nname = "test"\nkey_file = "cluster.key"\n'
		printf '[guest]\nkind = "testguest"\ncmdline = "%s"\n' "$cmdline"
		for ((i = 0; i < nodes; i++)); do
			printf '[[node]]\nname = "n%d"\naddress = "127.0.0.1:%d"\n' "$i" \
				$((BASE_PORT + i))
			printf 'vcpus = 1\nmemory_mib = 16\n'
		done
	} >"$file"
}

# wait_for FILE PATTERN SECONDS: polls FILE until a line matches, at most SECONDS.
wait_for() {
	local file=$1 pattern=$2 deadline=$(($(now_ms) + $3 * 1000))
	until grep -Eq -- "$pattern" "$file" 2>/dev/null; do
		[ "$(now_ms)" -lt "$deadline" ] || return 1
		sleep 0.01
	done
}

# expect_count NAME PATTERN N: exactly N lines of $WORK/NAME.out match.
expect_count() {
	local name=$1 pattern=$2 want=$3 got
	got=$(grep -Ec -- "$pattern" "$WORK/$name.out" || true)
	if [ "$got" -ne "$want" ]; then
		echo "--- stdout"; cat "$WORK/$name.out"; echo "--- stderr"; cat "$WORK/$name.err"
		fail "$name: $got lines matching /$pattern/, expected $want"
	fi
}

# start_node NAME CONFIG NODE ARGS...: runs one node in the background; pid in $WORK/NAME.pid.
start_node() {
	local name=$1 config=$2 node=$3; shift 3
	timeout --kill-after=5 120 "$VMM" cluster-check --config "$config" --node "$node" "$@" \
		>"$WORK/$name.out" 2>"$WORK/$name.err" </dev/null &
	echo $! >"$WORK/$name.pid"
}

# finish NAME: waits for a node started by start_node; its status in $status.
finish() {
	status=0
	wait "$(cat "$WORK/$1.pid")" || status=$?
}

# node_pid NAME NODE: the pid a node printed ("NODE n1 pid=123") in $WORK/NAME.out.
node_pid() {
	sed -n "s/^NODE $2 pid=\([0-9]*\)$/\1/p" "$WORK/$1.out"
}

# child_of PID: the pid of PID's only child (the VMM under `timeout`), once it exists.
child_of() {
	local deadline=$(($(now_ms) + 5000)) child
	until child=$(pgrep -P "$1"); do
		[ "$(now_ms)" -lt "$deadline" ] || fail "process $1 started no child"
		sleep 0.01
	done
	echo "$child"
}

# expect_gone PID...: none of these processes exists any more.
expect_gone() {
	for pid in "$@"; do
		if kill -0 "$pid" 2>/dev/null; then
			fail "process $pid is still running"
		fi
	done
}
