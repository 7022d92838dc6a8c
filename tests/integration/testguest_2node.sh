#!/usr/bin/env bash
# One guest across 2 node processes: the AP comes up on the other node, and the shared counter,
# spinlock, barrier, IPI ping-pong, timers, litmus tests, NMIs and the UART's interrupt routed by
# node 0's IOAPIC (edge and level) all cross nodes and pass.
source "$(dirname "$0")/lib.sh"
need_kvm
cluster_config "$WORK/c.toml" 2 7440
run_vmm guest --config "$WORK/c.toml"
expect_testguest_pass guest 2
