# Helpers for the Linux guest tests (linux_*.sh, tests/linux_check.sh, make demo), sourced after
# lib.sh. Not a test itself. They boot Debian's stock kernel (fetched into the cache) with a
# busybox initramfs built by mkinitramfs.sh, whose /init prints the `LINUX ...` report (nproc,
# MemTotal, one line per NUMA node) and then runs the test's commands.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	echo "SKIP: linux_lib.sh is a helper library for the Linux guest tests"
	exit 77
fi

LINUX_PROGRAMS="$BUILD/linux/bin"

# linux_kernel: the kernel in the cache and its link in build/linux; the test is skipped, with
# the reason, when the fetch itself fails (no network, no apt source), and on KVM when the host's
# KVM is kvm_pvm, a software KVM that cannot run Linux's user space (docs/linux-guest.md, "Where
# it stops"): the interpreter's run of the same test still counts.
linux_kernel() {
	if [ "$ACCEL" = kvm ] && [ -d /sys/module/kvm_pvm ]; then
		skip "this host's KVM is kvm_pvm, under which Linux cannot enter its kernel from user space"
	fi
	"$SRC/firmware/linux/fetch-kernel.sh" >"$WORK/fetch.log" 2>&1 || {
		cat "$WORK/fetch.log"
		skip "fetch-kernel.sh could not fetch Debian's kernel: $(tail -n 1 "$WORK/fetch.log")"
	}
	LINUX_KERNEL="$BUILD/linux/vmlinux"
	[ -f "$LINUX_KERNEL" ] || LINUX_KERNEL="$SRC/build/linux/vmlinux"
	[ -f "$LINUX_KERNEL" ] || fail "fetch-kernel.sh succeeded but left no build/linux/vmlinux"
}

# linux_initramfs FILE [mkinitramfs.sh ARGS...]
linux_initramfs() {
	local out=$1
	shift
	"$SRC/firmware/linux/mkinitramfs.sh" "$@" -o "$out" >"$WORK/initramfs.log" 2>&1 ||
		{ cat "$WORK/initramfs.log"; fail "mkinitramfs.sh $* failed"; }
}

# linux_config FILE INITRD NODES VCPUS MEMORY_MIB FIRST_PORT [CMDLINE]: NODES nodes of VCPUS vCPUs
# and MEMORY_MIB each, the UART on the first; one node runs alone, several on 127.0.0.1 from
# FIRST_PORT with a key in $WORK. CMDLINE is added to the kernel's command line.
linux_config() {
	local file=$1 initrd=$2 nodes=$3 vcpus=$4 memory=$5 port=$6 extra=${7:+ $7}
	printf '[cluster]\nname = "linux-test"\nmode = "system"\n' >"$file"
	if [ "$nodes" -gt 1 ]; then
		[ -f "$WORK/cluster.key" ] || "$VMM" keygen "$WORK/cluster.key" >/dev/null
		printf 'key_file = "%s"\n' "$WORK/cluster.key" >>"$file"
	fi
	printf '[guest]\nkind = "linux"\nkernel = "%s"\ninitrd = "%s"\ncmdline = "%s"\n' \
		"$LINUX_KERNEL" "$initrd" "console=ttyS0 rdinit=/init$extra" >>"$file"
	for ((i = 0; i < nodes; i++)); do
		printf '[[node]]\nname = "n%d"\nvcpus = %d\nmemory_mib = %d\n' "$i" "$vcpus" "$memory" \
			>>"$file"
		[ "$nodes" -eq 1 ] || printf 'address = "127.0.0.1:%d"\n' $((port + i)) >>"$file"
	done
	printf '[[device]]\nkind = "uart"\nowner = "n0"\n' >>"$file"
}

# linux_memory_config FILE INITRD PORTS [VCPUS [VIEW]]: configs/linux-memory.toml (memory mode:
# n0 computes, n1 and n2 lend) with this test's kernel, INITRD and a key in $WORK, its nodes on
# 127.0.0.1:PORTS0-PORTS2 (PORTS from 2000 to 3275 keeps them below 32768), n0 with VCPUS vCPUs
# (default 1) and memory_view VIEW (default numa).
linux_memory_config() {
	local file=$1 initrd=$2 ports=$3 vcpus=${4:-1} view=${5:-numa}
	[ -f "$WORK/cluster.key" ] || "$VMM" keygen "$WORK/cluster.key" >/dev/null
	sed -E -e "s#^kernel = .*#kernel = \"$LINUX_KERNEL\"#" \
		-e "s#^initrd = .*#initrd = \"$initrd\"#" \
		-e "s#^key_file = .*#key_file = \"$WORK/cluster.key\"\nmemory_view = \"$view\"#" \
		-e "s#^vcpus = 1\$#vcpus = $vcpus#" \
		-e "s#127\\.0\\.0\\.1:712([0-9])#127.0.0.1:$ports\\1#" \
		"$SRC/configs/linux-memory.toml" >"$file"
	[ "$(grep -cE "^(address = \"127\.0\.0\.1:$ports[0-2]\"|vcpus = $vcpus|memory_view = \"$view\")\$" \
		"$file")" -eq 5 ] ||
		fail "configs/linux-memory.toml no longer has the lines linux_memory_config replaces"
}

# linux_boot NAME CONFIG LIMIT [PROMPT TEXT]: runs the guest to its power-off (exit status 0, or
# $LINUX_EXIT when set: 4 for a test whose guest reboots) within LIMIT seconds; the console (CR LF line ends removed) in $WORK/NAME.out, vsmp-vmm's
# messages in .err. With PROMPT and TEXT, the console's input is TEXT and a newline, typed (all
# at once) when the console has shown a line matching PROMPT; else it has no input.
linux_boot() {
	local name=$1 config=$2 limit=$3 prompt=${4:-} text=${5:-} start pid
	status=0
	start=$(date +%s)
	if [ -z "$prompt" ]; then
		timeout --kill-after=5 "$limit" "$VMM" "${ACCEL_ARGS[@]}" --config "$config" \
			>"$WORK/$name.raw" 2>"$WORK/$name.err" </dev/null || status=$?
	else
		mkfifo "$WORK/$name.in"
		timeout --kill-after=5 "$limit" "$VMM" "${ACCEL_ARGS[@]}" --config "$config" \
			>"$WORK/$name.raw" 2>"$WORK/$name.err" <"$WORK/$name.in" &
		pid=$!
		exec 7>"$WORK/$name.in"
		# tail ends with the VMM; grep ends at the prompt (tail then dies of SIGPIPE).
		tail --pid="$pid" -n +1 -f "$WORK/$name.raw" | grep -q -m 1 -- "$prompt" || true
		printf '%s\n' "$text" >&7
		exec 7>&-
		wait "$pid" || status=$?
	fi
	tr -d '\r' <"$WORK/$name.raw" >"$WORK/$name.out"
	echo "$name: ended after $(($(date +%s) - start)) s wall (status $status)"
	[ "$status" -ne 124 ] || { tail -n 30 "$WORK/$name.out"; fail "$name: no end within $limit s"; }
	expect_status "${LINUX_EXIT:-0}" "$name"
}

# linux_expect_healthy NAME: none of the kernel's warnings of a sick clock or interrupt path.
linux_expect_healthy() {
	local name=$1 bad
	bad=$(grep -E -i 'clocksource.*unstable|TSC unstable|rcu.*detected stall|rcu.*stall on CPU|soft lockup|hard LOCKUP|nobody cared|lost interrupt|No irq handler for vector|blocked for more than' \
		"$WORK/$name.out") || return 0
	echo "$bad"
	fail "$name: the kernel warned about its clock or interrupts"
}

# linux_expect_numa NAME NPROC CPUS:MIB...: nproc is NPROC, NUMA node n (one CPUS:MIB each, in
# order) has the CPU list CPUS (empty for a node without CPUs) and at most MIB of memory, there
# is no other node, and MemTotal is their sum, at least 80 % of the machine (the rest is the
# kernel's own).
linux_expect_numa() {
	local name=$1 nproc=$2 total node_sum=0 machine=0 n=0 spec cpus mib kb
	shift 2
	expect_line "$name" "^LINUX nproc=$nproc\$"
	total=$(sed -n 's/^LINUX MemTotal: *\([0-9]*\) kB$/\1/p' "$WORK/$name.out")
	[ -n "$total" ] || fail "$name: no MemTotal line"
	for spec in "$@"; do
		cpus=${spec%%:*} mib=${spec#*:}
		kb=$(sed -n "s/^LINUX node$n cpus=$cpus MemTotal=\([0-9]*\) kB\$/\1/p" "$WORK/$name.out")
		[ -n "$kb" ] || { grep '^LINUX' "$WORK/$name.out"; fail "$name: NUMA node $n without CPUs '$cpus'"; }
		[ "$kb" -le $((mib * 1024)) ] || fail "$name: node $n has $kb kB of $mib MiB"
		node_sum=$((node_sum + kb)) machine=$((machine + mib)) n=$((n + 1))
	done
	! grep -q "^LINUX node$n " "$WORK/$name.out" || fail "$name: more NUMA nodes than $n"
	[ "$node_sum" -eq "$total" ] || fail "$name: the nodes' memory $node_sum kB is not MemTotal $total kB"
	[ "$total" -ge $((machine * 1024 * 8 / 10)) ] ||
		fail "$name: MemTotal $total kB is less than 80 % of $machine MiB"
}

# linux_expect_machine NAME NODES VCPUS MEMORY_MIB: linux_expect_numa for NODES alike nodes of
# VCPUS vCPUs (numbered across them) and MEMORY_MIB each.
linux_expect_machine() {
	local name=$1 nodes=$2 vcpus=$3 memory=$4 n first last specs=()
	for ((n = 0; n < nodes; n++)); do
		first=$((n * vcpus)) last=$((n * vcpus + vcpus - 1))
		[ "$first" -eq "$last" ] || first="$first-$last"
		specs+=("$first:$memory")
	done
	linux_expect_numa "$name" $((nodes * vcpus)) "${specs[@]}"
}

# linux_expect_native NAME PROGRAM [ARGS...]: the lines PROGRAM printed in the guest (those
# starting with "PROGRAM: ") are exactly those it prints when run here.
linux_expect_native() {
	local name=$1 program=$2
	shift 2
	"$LINUX_PROGRAMS/$program" "$@" >"$WORK/$program.native" ||
		fail "$program $* fails natively"
	grep "^$program: " "$WORK/$name.out" >"$WORK/$program.guest" || true
	diff -u "$WORK/$program.native" "$WORK/$program.guest" >"$WORK/$program.diff" || {
		cat "$WORK/$program.diff"
		fail "$name: $program $* printed in the guest what it does not print natively"
	}
	echo "$program $*: $(wc -l <"$WORK/$program.guest") lines as natively"
}
