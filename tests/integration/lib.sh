# Shared helpers for the integration tests. Each test is `bash test.sh BUILD_DIR SOURCE_DIR`;
# exit 0 = pass, 77 = skip (printed with the reason), anything else = fail.
set -euo pipefail
BUILD=$(cd "$1" && pwd)
SRC=$(cd "$2" && pwd)
VMM="$BUILD/vsmp-vmm"
WORK=$(mktemp -d /tmp/vsmp-test.XXXXXX)
trap '[ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# until_true SECONDS PID COMMAND...: polls (every 10 ms) until COMMAND succeeds, at most SECONDS
# and while process PID runs.
until_true() {
	local deadline=$(($(now_ms) + $1 * 1000)) pid=$2
	shift 2
	until "$@"; do
		[ "$(now_ms)" -lt "$deadline" ] && kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.01
	done
}

# start_nodes CONFIG ARGS...: nodes n0, n1 and n2 of CONFIG (n0 to n<NODE_COUNT - 1> if set),
# each a process of its own in the background (outputs in $WORK/nI.out and .err), their pids in the array `pids`, all SIGKILLed
# when the test ends.
start_nodes() {
	local config=$1 i
	shift
	pids=()
	trap 'kill -9 "${pids[@]}" 2>/dev/null || true; [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"' EXIT
	for ((i = 0; i < ${NODE_COUNT:-3}; i++)); do
		"$VMM" "${ACCEL_ARGS[@]}" --config "$config" --node "n$i" "$@" >"$WORK/n$i.out" \
			2>"$WORK/n$i.err" </dev/null &
		pids+=($!)
	done
}

# expect_n1_loss: SIGKILLs node n1 of start_nodes; n0 and n2 must each exit with "node lost" (6)
# within 2 s naming n1, and no node of this test may be left running.
expect_n1_loss() {
	local i status killed_at elapsed_ms
	kill -9 "${pids[1]}"
	killed_at=$(now_ms)
	for i in 0 2; do
		status=0
		wait "${pids[$i]}" || status=$?
		elapsed_ms=$(($(now_ms) - killed_at))
		[ "$status" -eq 6 ] || fail "node n$i: exit status $status, expected 6 (node lost); $(cat "$WORK/n$i.err")"
		grep -q "node n1 lost" "$WORK/n$i.err" || fail "node n$i did not name the lost node: $(cat "$WORK/n$i.err")"
		[ "$elapsed_ms" -lt 2000 ] || fail "node n$i took ${elapsed_ms} ms to stop (limit 2000)"
		echo "node n$i stopped ${elapsed_ms} ms after the kill"
	done
	! pgrep -f -- "--config $WORK/" >/dev/null || fail "a vsmp-vmm process was left running"
}

# The CPU backend this run tests (CTest runs a script once per backend the host has: the
# interpreter everywhere, KVM where /dev/kvm exists; tests/CMakeLists.txt).
ACCEL=${VSMP_ACCEL:-emu}
ACCEL_ARGS=()

# need_cpu: the script boots a guest; from here on run_vmm runs it on $ACCEL.
need_cpu() {
	if [ "$ACCEL" = kvm ]; then
		[ -c /dev/kvm ] || skip "/dev/kvm is absent on this host"
		[ -r /dev/kvm ] && [ -w /dev/kvm ] || skip "/dev/kvm is not accessible to $(id -un)"
	fi
	ACCEL_ARGS=(--accel "$ACCEL")
}

# run_vmm NAME ARGS...: the VMM's output in $WORK/NAME.out and .err, its exit status in $status,
# its pid (which names a launcher's network namespaces) in $WORK/NAME.pid.
# After need_cpu, a run of the VMM itself (not of a subcommand) gets --accel $ACCEL first, so an
# --accel among ARGS still decides.
run_vmm() {
	local name=$1; shift
	local pre=()
	[[ "${1:-}" != --* ]] || pre=("${ACCEL_ARGS[@]}")
	status=0
	timeout --kill-after=5 300 bash -c 'echo $$ >"$0"; exec "$@"' "$WORK/$name.pid" "$VMM" \
		"${pre[@]}" "$@" \
		>"$WORK/$name.out" 2>"$WORK/$name.err" </dev/null || status=$?
}

# expect_no_namespaces PID: the launcher PID removed every namespace it made (vsmp-PID-*).
expect_no_namespaces() {
	local left
	left=$(ip netns list | grep "^vsmp-$1-") || return 0
	fail "network namespaces of launcher $1 left behind: $left"
}

expect_status() {
	local want=$1 name=$2
	if [ "$status" -ne "$want" ]; then
		echo "--- stdout"; cat "$WORK/$name.out"; echo "--- stderr"; cat "$WORK/$name.err"
		fail "$name: exit status $status, expected $want"
	fi
}

expect_line() {
	local name=$1 pattern=$2
	grep -Eq -- "$pattern" "$WORK/$name.out" "$WORK/$name.err" || {
		echo "--- stdout"; cat "$WORK/$name.out"; echo "--- stderr"; cat "$WORK/$name.err"
		fail "$name: no line matching /$pattern/"
	}
}

# testguest_config FILE VCPUS [CMDLINE]
testguest_config() {
	cat >"$1" <<EOT
[cluster]
name = "test"
[guest]
kind = "testguest"
cmdline = "${3:-}"
[[node]]
name = "n0"
vcpus = $2
memory_mib = 64
EOT
}

# cluster_config FILE NODES FIRST_PORT [CMDLINE]: a key in $WORK and NODES nodes with one vCPU
# each on 127.0.0.1 from FIRST_PORT, running the test guest (with CMDLINE) when the run boots one.
cluster_config() {
	local file=$1 nodes=$2 port=$3
	[ -f "$WORK/cluster.key" ] || "$VMM" keygen "$WORK/cluster.key" >/dev/null
	printf '[cluster]\nname = "test"\nkey_file = "%s"\n[guest]\ncmdline = "%s"\n' \
		"$WORK/cluster.key" "${4:-}" >"$file"
	for ((i = 0; i < nodes; i++)); do
		printf '[[node]]\nname = "n%d"\naddress = "127.0.0.1:%d"\nvcpus = 1\nmemory_mib = 32\n' \
			"$i" $((port + i)) >>"$file"
	done
}

WORKLOADS="compute atomic spinlock barrier ipi timer litmus nmi ioapic"

# expect_testguest_pass NAME VCPUS: every workload ok and the final PASS line.
expect_testguest_pass() {
	local name=$1 vcpus=$2
	expect_status 0 "$name"
	for w in $WORKLOADS; do expect_line "$name" "^TESTGUEST $w ok"; done
	expect_line "$name" "^TESTGUEST PASS vcpus=$vcpus\$"
}
