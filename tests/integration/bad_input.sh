#!/usr/bin/env bash
# Bad input: each case exits 2 with a message naming the problem, and leaves nothing behind
# (no process, no file in the working directory). Also: every command answers --help. Only the
# last cases, which get as far as creating the machine, need a CPU backend (need_cpu).
source "$(dirname "$0")/lib.sh"
cd "$WORK"
mkdir scratch && cd scratch

case_fails() { # NAME PATTERN ARGS...
	local name=$1 pattern=$2; shift 2
	run_vmm "$name" "$@"
	expect_status 2 "$name"
	expect_line "$name" "$pattern"
}

case_fails no_args '--config FILE is required'
case_fails bad_option 'invalid arguments' --frobnicate
case_fails missing_config 'nonexistent\.toml' --config "$WORK/nonexistent.toml"
case_fails leftover "unexpected argument 'extra'" --config "$WORK/x.toml" extra
# The node commands share the parser: the same errors, named by command and option.
case_fails memtest_no_config 'memtest: --config FILE is required' memtest --threads 2
case_fails memtest_threads "memtest: invalid value for --threads: '0'" memtest --config x --threads 0
case_fails memtest_homes "invalid value for --homes: 'nearest'" memtest --config x --homes nearest
case_fails accel_value "invalid value for --accel: 'fast'" --config x --accel fast
# --stats-prometheus needs a directory it can write in, checked before anything starts.
case_fails prometheus_absent "--stats-prometheus $WORK/absent: No such file or directory" \
	--config x --stats-prometheus "$WORK/absent"
case_fails prometheus_file "--stats-prometheus /dev/null: not a directory" \
	--config x --stats-prometheus /dev/null

# Every command prints its usage on stdout for --help and -h, and exits 0.
for command in "" bench "bench exits" "bench coherence" "bench memory" "bench guest" keygen \
	cluster-check memtest
do
	for option in --help -h; do
		name=help_${command// /_}$option
		run_vmm "$name" $command "$option"
		expect_status 0 "$name"
		head -n 1 "$WORK/$name.out" | grep -q '^usage: vsmp-vmm ' &&
			grep -q "vsmp-vmm $command" "$WORK/$name.out" || fail "$name: no usage on stdout"
		[ ! -s "$WORK/$name.err" ] || fail "$name: wrote to stderr: $(cat "$WORK/$name.err")"
	done
done
case_fails check_timeout "cluster-check: invalid value for --join-timeout: '0'" \
	cluster-check --config x --join-timeout 0

printf '[cluster]\nname = "x"\n[[node]]\nname = "n0"\nvcpus = \n' >"$WORK/syntax.toml"
case_fails syntax 'syntax\.toml:5' --config "$WORK/syntax.toml"
case_fails syntax_check 'syntax\.toml:5' --config "$WORK/syntax.toml" --check-config

testguest_config "$WORK/zero.toml" 0
case_fails zero_vcpus 'zero\.toml:[0-9]+:.*vcpus' --config "$WORK/zero.toml"

cat >"$WORK/nokernel.toml" <<EOT
[cluster]
name = "x"
[guest]
kind = "linux"
kernel = "$WORK/absent-vmlinux"
[[node]]
name = "n0"
vcpus = 1
memory_mib = 64
EOT
case_fails missing_kernel 'absent-vmlinux' --config "$WORK/nokernel.toml"

testguest_config "$WORK/ok.toml" 2
run_vmm check_ok --config "$WORK/ok.toml" --check-config
expect_status 0 check_ok
expect_line check_ok 'valid: 1 node\(s\), 2 vCPU\(s\), 64 MiB, accel auto$'
case_fails prometheus_one_node 'one node alone keeps no coherence counters' \
	--config "$WORK/ok.toml" --stats-prometheus "$WORK"

# --accel replaces [guest] accel.
sed 's/^\[guest\]$/[guest]\naccel = "kvm"/' "$WORK/ok.toml" >"$WORK/kvm.toml"
run_vmm check_kvm --config "$WORK/kvm.toml" --check-config
expect_line check_kvm 'valid: .*, accel kvm$'
run_vmm check_emu --config "$WORK/kvm.toml" --check-config --accel emu
expect_status 0 check_emu
expect_line check_emu 'valid: .*, accel emu$'

# Device kinds the machine does not build are refused, at their line.
for kind in virtio-blk virtio-net virtio-console; do
	testguest_config "$WORK/$kind.toml" 1
	printf '[[device]]\nkind = "%s"\n' "$kind" >>"$WORK/$kind.toml"
	case_fails "device_$kind" "$kind\\.toml:11: 'kind' must be \"uart\" or \"debug-exit\"" \
		--config "$WORK/$kind.toml" --check-config
done

# --check-config checks the key file of a multi-node configuration as a run would read it.
# two_nodes FILE [LINE]: two nodes; LINE (a key_file) goes on line 3.
two_nodes() {
	printf '[cluster]\nname = "x"\n%s\n' "${2:-}" >"$1"
	for i in 0 1; do
		printf '[[node]]\nname = "n%d"\naddress = "127.0.0.1:%d"\nvcpus = 1\nmemory_mib = 16\n' \
			$i $((7100 + i)) >>"$1"
	done
}
two_nodes "$WORK/nokey.toml"
case_fails check_no_key 'nokey\.toml: \[cluster\] key_file is not set' \
	--config "$WORK/nokey.toml" --check-config
two_nodes "$WORK/absent.toml" 'key_file = "absent.key"'
case_fails check_absent_key 'absent\.toml:3: key file .*/absent\.key: No such file or directory' \
	--config "$WORK/absent.toml" --check-config
"$VMM" keygen "$WORK/open.key" >/dev/null
chmod 644 "$WORK/open.key"
two_nodes "$WORK/open.toml" 'key_file = "open.key"'
case_fails check_open_key 'open\.toml:3: key file .*/open\.key is accessible by group or others' \
	--config "$WORK/open.toml" --check-config
printf 'not a key\n' >"$WORK/short.key"
chmod 600 "$WORK/short.key"
two_nodes "$WORK/short.toml" 'key_file = "short.key"'
case_fails check_short_key 'short\.toml:3: key file .*/short\.key holds 10 bytes' \
	--config "$WORK/short.toml" --check-config
"$VMM" keygen "$WORK/good.key" >/dev/null
two_nodes "$WORK/good.toml" 'key_file = "good.key"'
run_vmm check_good_key --config "$WORK/good.toml" --check-config
expect_status 0 check_good_key
expect_line check_good_key 'valid: 2 node\(s\)'

expect_nothing_left() {
	[ -z "$(ls -A .)" ] || fail "files left behind: $(ls -A .)"
	! pgrep -f "vsmp-vmm --config $WORK" >/dev/null || fail "a vsmp-vmm process was left running"
}
expect_nothing_left

need_cpu
head -c 100000 /dev/urandom >"$WORK/garbage-kernel"
sed "s|$WORK/absent-vmlinux|$WORK/garbage-kernel|" "$WORK/nokernel.toml" >"$WORK/garbage.toml"
case_fails garbage_kernel 'not a bzImage or an ELF64' --config "$WORK/garbage.toml"

cat >"$WORK/huge.toml" <<EOT
[cluster]
name = "x"
[[node]]
name = "n0"
vcpus = 1
memory_mib = 1048576
EOT
case_fails too_much_memory 'more than this host can give' --config "$WORK/huge.toml"

expect_nothing_left
