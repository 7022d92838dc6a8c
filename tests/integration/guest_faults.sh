#!/usr/bin/env bash
# A guest that misbehaves is stopped cleanly, with its own exit status and a message naming what
# it did: an unclaimed port or an unknown MSR (unknown_io = "stop") -> 3, a triple fault -> 4,
# every vCPU halted with interrupts disabled or, never started, waiting for its SIPI -> 4, on one
# node and across two (where the node
# that holds the IOAPIC decides with every node's word, docs/architecture.md).
source "$(dirname "$0")/lib.sh"
need_cpu
check_fault() { # MODE STATUS PATTERN [VCPUS]
	testguest_config "$WORK/$1.toml" "${4:-1}" "tg.fault=$1"
	run_vmm "$1" --config "$WORK/$1.toml"
	expect_status "$2" "$1"
	expect_line "$1" "$3"
	! grep -q 'let tg.fault misbehaviour pass' "$WORK/$1.out" || fail "$1: the guest went on"
}
check_fault port 3 'unhandled port 0x7f0 \(1 bytes\): stopped'
check_fault msr 3 'unknown MSR 0x4b564dff: stopped'
check_fault triple 4 'triple fault: guest reset'
check_fault halt 4 'every vCPU halted with interrupts disabled or waits for a SIPI' 2
check_fault halt-bsp 4 'every vCPU halted with interrupts disabled or waits for a SIPI' 2
cluster_config "$WORK/halt2.toml" 2 7490 "tg.fault=halt"
run_vmm halt2 --config "$WORK/halt2.toml"
expect_status 4 halt2
expect_line halt2 'every vCPU of every node halted with interrupts disabled'
expect_line halt2 'fault: cpu 1 halts with interrupts disabled'
