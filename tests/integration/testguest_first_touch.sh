#!/usr/bin/env bash
# One guest across 2 node processes with first-touch homes ([cluster] homes = "first-touch"):
# each page of guest RAM is homed at the node whose vCPU or VMM thread touched it first, found
# through its registrar, and every workload still passes across the nodes.
source "$(dirname "$0")/lib.sh"
need_cpu
cluster_config "$WORK/c.toml" 2 7480
sed -i 's/^name = "test"$/&\nhomes = "first-touch"/' "$WORK/c.toml"
grep -q '^homes = "first-touch"$' "$WORK/c.toml" || fail "could not set homes in $WORK/c.toml"
run_vmm guest --config "$WORK/c.toml" --verbose
expect_testguest_pass guest 2
