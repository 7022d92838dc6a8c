#!/usr/bin/env bash
# The test guest on one node with 1 vCPU(s): every workload reports ok and the run passes.
source "$(dirname "$0")/lib.sh"
need_cpu
testguest_config "$WORK/c.toml" 1
run_vmm guest --config "$WORK/c.toml"
expect_status 0 guest
for w in compute atomic spinlock barrier ipi timer litmus; do
	expect_line guest "^TESTGUEST $w ok"
done
expect_line guest "^TESTGUEST PASS vcpus=1$"
