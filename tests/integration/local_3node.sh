#!/usr/bin/env bash
# The acceptance interface: configs/local-3node.toml boots the test guest across 3 local nodes
# (one vCPU each) and passes with vcpus=3.
source "$(dirname "$0")/lib.sh"
need_cpu
[ -f "$SRC/build/cluster.key" ] || "$VMM" keygen "$SRC/build/cluster.key" >/dev/null
run_vmm guest --config "$SRC/configs/local-3node.toml"
expect_testguest_pass guest 3
