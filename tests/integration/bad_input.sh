#!/usr/bin/env bash
# Bad input: each case exits 2 with a message naming the problem, and leaves nothing behind
# (no process, no file in the working directory).
source "$(dirname "$0")/lib.sh"
need_kvm
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
case_fails memtest_homes "invalid value for --homes: 'numa'" memtest --config x --homes numa
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

testguest_config "$WORK/ok.toml" 2
run_vmm check_ok --config "$WORK/ok.toml" --check-config
expect_status 0 check_ok
expect_line check_ok 'valid: 1 node\(s\), 2 vCPU\(s\), 64 MiB'

[ -z "$(ls -A .)" ] || fail "files left behind: $(ls -A .)"
! pgrep -f "vsmp-vmm --config $WORK" >/dev/null || fail "a vsmp-vmm process was left running"
