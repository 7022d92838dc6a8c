#!/usr/bin/env bash
# Ctrl-C on the host ends every node with 130 and leaves nothing behind. Ctrl-C is SIGINT to the
# terminal's foreground process group, which holds the launcher and every node: here the launcher
# leads a process group of its own (setsid) and the group gets SIGINT, and once ^C is typed into
# a pseudo-terminal (script(1)) that runs it. Also SIGINT, and SIGTERM, to the launcher alone.
# For memtest, cluster-check with --netns (its namespaces removed) and the guest run: the
# launcher exits 130, each node ends with 130 (the launcher's "node exits" line says how each
# ended), and no process (or namespace) is left. The guest run also checks where the launcher
# put its nodes: pinned to CPUs of their own, or left to the scheduler with --no-pin.
source "$(dirname "$0")/lib.sh"
export UCX_NET_DEVICES=lo # loopback only (the netns run unsets it: there eth0 is ours)
need_cpu
cluster_config "$WORK/c.toml" 3 7540 "tg.bench=compute tg.iters=1000000000" # the guest runs until stopped
launcher=
cleanup() {
	[ -z "$launcher" ] || kill -KILL -- "-$launcher" 2>/dev/null || true
	[ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

show_and_fail() {
	echo "--- stdout"; cat "$WORK/run.out"; echo "--- stderr"; grep -v '^cluster: ' "$WORK/run.err"
	fail "$case: $1"
}

count_at_least() { [ "$(grep -c -- "$2" "$WORK/$1" || true)" -ge "$3" ]; }

# start ARGS...: the launcher, leading a process group of its own, in the background.
start() {
	setsid "$VMM" "$@" >"$WORK/run.out" 2>"$WORK/run.err" </dev/null &
	launcher=$!
}

# interrupt_and_check HOW SIGNAL: sends SIGNAL to the group (HOW=group) or to the launcher alone,
# then checks the launcher's status, every node's end and that no process is left.
interrupt_and_check() {
	local how=$1 sig=$2 target=$launcher status=0 left
	[ "$how" = launcher ] || target=-$launcher
	kill "-$sig" -- "$target"
	wait "$launcher" || status=$?
	[ "$status" -eq 130 ] || show_and_fail "launcher: status $status, expected 130"
	local end='130( \(signal 2\))?' # killed by SIGINT before it took it: 130 too
	grep -Eq "^vsmp-vmm: node exits: n0 $end, n1 $end, n2 $end\$" "$WORK/run.err" ||
		show_and_fail "not every node ended with 130"
	! grep -Eq '^vsmp-vmm: node n[0-9]+ (lost|failed)' "$WORK/run.err" ||
		show_and_fail "an interrupted node was blamed as lost or failed"
	left=$(pgrep -f -- "--config $WORK/c.toml" || true)
	[ -z "$left" ] || show_and_fail "processes left behind: $left"
	launcher=
	echo "$case: every node ended with 130, nothing left"
}

# memtest: each node takes the signal itself and says so.
memtest_case() {
	start memtest --config "$WORK/c.toml" --threads 1 --test stress --iters 100000000 --timeout 600
	until_true 120 "$launcher" count_at_least run.out '^MEMTEST seed=' 3 || show_and_fail "nodes did not start"
	interrupt_and_check "$@"
	[ "$(grep -c '^MEMTEST interrupted node=n[0-2]$' "$WORK/run.out")" -eq 3 ] ||
		show_and_fail "not every node said it was interrupted"
}
case="memtest, Ctrl-C (SIGINT to the process group)" memtest_case group INT
case="memtest, SIGTERM to the launcher alone" memtest_case launcher TERM
case="memtest, SIGINT to the launcher alone" memtest_case launcher INT

# A real Ctrl-C: the launcher in a pseudo-terminal (script(1)), ^C typed into it. The terminal
# sends SIGINT to its foreground process group itself; the launcher must not send it again.
case="memtest, ^C typed into a terminal"
mkfifo "$WORK/keys"
script -qec "$VMM memtest --config $WORK/c.toml --threads 1 --test stress --iters 100000000" \
	/dev/null <"$WORK/keys" >"$WORK/run.out" 2>&1 &
launcher=$!
exec 7>"$WORK/keys"
until_true 120 "$launcher" count_at_least run.out '^MEMTEST seed=' 3 || show_and_fail "nodes did not start"
printf '\003' >&7
status=0
wait "$launcher" || status=$?
exec 7>&-
launcher=
tr -d '\r' <"$WORK/run.out" >"$WORK/run.err" # the terminal's lines end in CR LF
[ "$status" -eq 130 ] || show_and_fail "status $status, expected 130"
grep -qx 'vsmp-vmm: node exits: n0 130, n1 130, n2 130' "$WORK/run.err" ||
	show_and_fail "not every node ended with 130"
[ "$(grep -c 'MEMTEST interrupted node=n[0-2]$' "$WORK/run.err")" -eq 3 ] || # after the ^C echo
	show_and_fail "not every node said it was interrupted"
left=$(pgrep -f -- "--config $WORK/c.toml" || true)
[ -z "$left" ] || show_and_fail "processes left behind: $left"
echo "$case: every node ended with 130, nothing left"

# cpus_of PID: the CPUs a process may run on, one number per line ("0-2,5" expanded).
cpus_of() {
	local part
	for part in $(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' "/proc/$1/status" | tr ',' ' '); do
		seq "${part%-*}" "${part#*-}"
	done
}

# expect_node_cpus PINNED: each node's CPUs, as the launcher placed them (vmm/host_cpus.c) from
# the CPUs this script may use: pinned, n0 has the first to itself and n1, n2 the second with 2
# CPUs, a third each with 3 or more (the first nodes one more when 3 does not divide them);
# with --no-pin, or 1 CPU, all of them.
expect_node_cpus() {
	local pinned=$1 allowed count node pid want got base extra first n
	allowed=($(cpus_of $$))
	count=${#allowed[@]}
	base=$((count / 3)) extra=$((count % 3))
	for node in 0 1 2; do
		pid=$(pgrep -f -- "--config $WORK/c.toml.* --node n$node\$") || show_and_fail "no node n$node"
		if [ "$pinned" = no ] || [ "$count" -lt 2 ]; then
			want="${allowed[*]}"
		elif [ "$count" -eq 2 ]; then
			want=${allowed[$((node == 0 ? 0 : 1))]}
		else
			n=$((base + (node < extra ? 1 : 0)))
			first=$((node * base + (node < extra ? node : extra)))
			want="${allowed[*]:first:n}"
		fi
		got=$(cpus_of "$pid" | tr '\n' ' ')
		[ "${got% }" = "$want" ] || show_and_fail "node n$node runs on CPUs '${got% }', expected '$want'"
	done
}

# The guest run, once every node has joined the cluster: its nodes on CPUs of their own
# (--no-pin: left to the scheduler).
case="guest, Ctrl-C (SIGINT to the process group)"
start "${ACCEL_ARGS[@]}" --config "$WORK/c.toml"
until_true 120 "$launcher" count_at_least run.err '^cluster: authenticated' 6 ||
	show_and_fail "the nodes did not join"
expect_node_cpus yes
interrupt_and_check group INT
case="guest --no-pin, Ctrl-C (SIGINT to the process group)"
start "${ACCEL_ARGS[@]}" --config "$WORK/c.toml" --no-pin
until_true 120 "$launcher" count_at_least run.err '^cluster: authenticated' 6 ||
	show_and_fail "the nodes did not join"
expect_node_cpus no
interrupt_and_check group INT

# cluster-check in network namespaces: none is left either.
if ip netns add "vsmp-probe-$$" 2>/dev/null; then
	ip netns del "vsmp-probe-$$"
	case="cluster-check --netns, Ctrl-C (SIGINT to the process group)"
	unset UCX_NET_DEVICES # inside the namespaces: lo and our veth
	start cluster-check --config "$WORK/c.toml" --netns --seconds 60
	until_true 60 "$launcher" count_at_least run.out '^TRANSPORT OK$' 3 || show_and_fail "no TRANSPORT OK"
	pid=$launcher
	interrupt_and_check group INT
	expect_no_namespaces "$pid"
else
	echo "cluster-check --netns: not run, this host cannot create network namespaces"
fi
