#!/usr/bin/env bash
# One guest across 2 node processes: the AP comes up on the other node, and the shared counter,
# spinlock, barrier, IPI ping-pong, timers, litmus tests, NMIs and the UART's interrupt routed by
# node 0's IOAPIC (edge and level) all cross nodes and pass. Each node's guest clock (kvmclock, or
# the interpreter's TSC) counts from node 0's epoch: --verbose logs its distance from the cluster clock at exit, which must be under
# 1 ms on every node (docs/benchmarks.md, TSC).
source "$(dirname "$0")/lib.sh"
need_cpu
cluster_config "$WORK/c.toml" 2 7440
run_vmm guest --config "$WORK/c.toml" --verbose
expect_testguest_pass guest 2
for n in n0 n1; do
	off=$(sed -n "s/^vsmp-vmm\[$n\]: debug: guest clock ([a-z]*): \([-+0-9.]*\) us from the cluster clock$/\1/p" \
		"$WORK/guest.err")
	[ -n "$off" ] || fail "$n logged no guest clock distance"
	awk -v off="$off" 'BEGIN { exit !(off > -1000 && off < 1000) }' ||
		fail "$n's guest clock is $off us from the cluster clock"
done
