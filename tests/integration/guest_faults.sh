#!/usr/bin/env bash
# A guest that misbehaves is stopped cleanly, with its own exit status and a message naming what
# it did: an unclaimed port or an unknown MSR (unknown_io = "stop") -> 3, a triple fault -> 4.
source "$(dirname "$0")/lib.sh"
need_kvm
check_fault() { # MODE STATUS PATTERN
	testguest_config "$WORK/$1.toml" 1 "tg.fault=$1"
	run_vmm "$1" --config "$WORK/$1.toml"
	expect_status "$2" "$1"
	expect_line "$1" "$3"
	! grep -q 'let tg.fault misbehaviour pass' "$WORK/$1.out" || fail "$1: the guest went on"
}
check_fault port 3 'unhandled port 0x7f0 \(1 bytes\): stopped'
check_fault msr 3 'unknown MSR 0x4b564dff: stopped'
check_fault triple 4 'triple fault: guest reset'
