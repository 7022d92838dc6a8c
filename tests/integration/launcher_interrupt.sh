#!/usr/bin/env bash
# Ctrl-C on the host ends every node with 130 and leaves nothing behind. Ctrl-C is SIGINT to the
# terminal's foreground process group, which holds the launcher and every node: here the launcher
# leads a process group of its own (setsid) and the group gets SIGINT, and once ^C is typed into
# a pseudo-terminal (script(1)) that runs it. Also SIGINT, and SIGTERM, to the launcher alone.
# For memtest, cluster-check with --netns (its namespaces removed) and the guest run: the
# launcher exits 130, each node ends with 130 (the launcher's "node exits" line says how each
# ended), and no process (or namespace) is left.
source "$(dirname "$0")/lib.sh"
export UCX_NET_DEVICES=lo # loopback only (the netns run unsets it: there eth0 is ours)
need_cpu
cluster_config "$WORK/c.toml" 3 7540
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

# The guest run, once every node has joined the cluster.
case="guest, Ctrl-C (SIGINT to the process group)"
start "${ACCEL_ARGS[@]}" --config "$WORK/c.toml"
until_true 120 "$launcher" count_at_least run.err '^cluster: authenticated' 6 ||
	show_and_fail "the nodes did not join"
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
