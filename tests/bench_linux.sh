#!/usr/bin/env bash
# The Linux guest's boot time beside QEMU's TCG (a software CPU too) booting the same kernel and
# initramfs in the same run: from start to the first line /init prints (`LINUX nproc=`) and to
# the end of the process after the guest's `poweroff -f`, for 1 node x 1 vCPU and 3 local nodes
# x 1 vCPU (127.0.0.1:7330-7332), each as a ratio to QEMU with as many vCPUs, and 3 nodes
# against our 1 node. The same uncompressed ELF vmlinux goes to both (QEMU boots it through its
# PVH entry), the same busybox initramfs (mkinitramfs.sh), the same command line. Goals
# (issue 9): at most 3x QEMU on 1 node, 3 nodes at most 2x our 1 node.
#
# This host is shared and its speed drifts by a third from one minute to the next, so one pair of
# boots says little: the four boots run in turn, round after round, each round's ratios are taken
# within the round, and the median of each ratio over the rounds is the result.
#
# usage: tests/bench_linux.sh BUILD_DIR
# Environment: BENCH_LINUX_ROUNDS (default 3), BENCH_LINUX_TIMEOUT (seconds per boot of ours,
# default 900), BENCH_LINUX_QEMU_TIMEOUT (seconds per boot of QEMU's, default 120), QEMU (default
# qemu-system-x86_64, installed with apt-get when missing).
#
# QEMU's own 3-vCPU boot of this kernel hangs now and then here (an RCU stall before /init): a
# boot of QEMU's that does not reach /init within its limit is said so and run once more; one of
# ours that does not fails the benchmark.
[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
source "$(dirname "$0")/integration/lib.sh" "$1" "$(dirname "$0")/.."
source "$(dirname "$0")/integration/linux_lib.sh"
need_cpu
limit=${BENCH_LINUX_TIMEOUT:-900}
qemu_limit=${BENCH_LINUX_QEMU_TIMEOUT:-120}
rounds=${BENCH_LINUX_ROUNDS:-3}
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || fail "BENCH_LINUX_ROUNDS must be a positive number, not '$rounds'"
qemu=${QEMU:-qemu-system-x86_64}
command -v "$qemu" >/dev/null || apt-get install -y qemu-system-x86 >/dev/null ||
	fail "no $qemu and apt-get install qemu-system-x86 failed"

since() { awk -v now="$EPOCHREALTIME" -v start="$1" 'BEGIN { printf "%.2f", now - start }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# timed NAME LIMIT COMMAND...: runs COMMAND for at most LIMIT seconds with its console output into
# $WORK/NAME.out; sets $shell_s (when the first `LINUX nproc=` line arrived) and $end_s (the
# process's end), seconds from the start; returns 1, after the output's last lines, if /init
# printed nothing. Perl (Debian's perl-base, always present) watches the output: bash's `read`
# takes a pipe one byte at a time and fell behind a fast console (QEMU's), stamping its shell
# line late.
timed() {
	local name=$1 seconds=$2 start
	shift 2
	start=$EPOCHREALTIME
	timeout --kill-after=5 "$seconds" "$@" 2>"$WORK/$name.err" </dev/null |
		perl -MTime::HiRes=time -e '
			my ($start, $out) = @ARGV;
			open(my $fh, ">", $out) or die "$out: $!\n";
			my $shell = "";
			while (my $line = <STDIN>) {
				print $fh $line;
				$shell = sprintf("%.2f", time - $start)
				    if $shell eq "" && $line =~ /^LINUX nproc=/;
			}
			print $shell;' "$start" "$WORK/$name.out" >"$WORK/$name.shell"
	end_s=$(since "$start")
	shell_s=$(<"$WORK/$name.shell")
	if [ -z "$shell_s" ]; then
		tail -n 20 "$WORK/$name.out"
		echo "  $name: /init printed nothing in $end_s s"
		return 1
	fi
	printf '  %-24s shell %7.1f s   power-off %7.1f s\n' "$name" "$shell_s" "$end_s"
}

# boot_ours NAME CONFIG: our boot, timed; a boot that does not reach /init fails the benchmark.
boot_ours() {
	timed "$1" "$limit" "$VMM" "${ACCEL_ARGS[@]}" --config "$2" || fail "$1: /init printed nothing"
}


linux_kernel
linux_initramfs "$WORK/initramfs.cpio"
cmdline="console=ttyS0 rdinit=/init"
echo "Debian's $(basename "$(readlink -f "$LINUX_KERNEL")"), busybox initramfs, '$cmdline'"

linux_config "$WORK/one.toml" "$WORK/initramfs.cpio" 1 1 256 0
linux_config "$WORK/three.toml" "$WORK/initramfs.cpio" 3 1 256 7330

# boot_qemu VCPUS: QEMU's boot with VCPUS vCPUs (256 MiB each), timed; once more if it hung.
boot_qemu() {
	local try
	for try in 1 2; do
		timed "qemu-tcg-${1}vcpu" "$qemu_limit" "$qemu" -accel tcg -machine q35 \
			-m $(($1 * 256)) -smp "$1" -kernel "$LINUX_KERNEL" \
			-initrd "$WORK/initramfs.cpio" -append "$cmdline" -nographic -no-reboot && return
		[ "$try" -eq 2 ] || echo "  QEMU's boot did not reach /init: once more"
	done
	fail "QEMU's ${1}-vCPU boot did not reach /init twice"
}

declare -a one_qemu=() one_qemu_end=() three_qemu=() three_qemu_end=() three_one=() three_one_end=()
for ((round = 1; round <= rounds; round++)); do
	echo "round $round of $rounds (load average $(cut -d' ' -f1 /proc/loadavg)):"
	boot_qemu 1
	qemu_shell=$shell_s qemu_end=$end_s
	boot_ours vsmp-1node-1vcpu "$WORK/one.toml"
	one_shell=$shell_s one_end=$end_s
	boot_qemu 3
	qemu3_shell=$shell_s qemu3_end=$end_s
	boot_ours vsmp-3nodes-1vcpu "$WORK/three.toml"
	one_qemu+=("$(ratio "$one_shell" "$qemu_shell")")
	one_qemu_end+=("$(ratio "$one_end" "$qemu_end")")
	three_qemu+=("$(ratio "$shell_s" "$qemu3_shell")")
	three_qemu_end+=("$(ratio "$end_s" "$qemu3_end")")
	three_one+=("$(ratio "$shell_s" "$one_shell")")
	three_one_end+=("$(ratio "$end_s" "$one_end")")
	echo "  ratios (shell, power-off): 1 node / QEMU ${one_qemu[-1]}x ${one_qemu_end[-1]}x," \
		"3 nodes / QEMU ${three_qemu[-1]}x ${three_qemu_end[-1]}x," \
		"3 nodes / our 1 node ${three_one[-1]}x ${three_one_end[-1]}x"
done

echo "medians of $rounds rounds (shell, power-off):"
echo "  1 node  / QEMU TCG 1 vCPU:  $(median "${one_qemu[@]}")x  $(median "${one_qemu_end[@]}")x   (goal <= 3x)"
echo "  3 nodes / QEMU TCG 3 vCPUs: $(median "${three_qemu[@]}")x  $(median "${three_qemu_end[@]}")x"
echo "  3 nodes / our 1 node:       $(median "${three_one[@]}")x  $(median "${three_one_end[@]}")x   (goal <= 2x)"
