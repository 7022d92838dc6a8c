#!/usr/bin/env bash
# The acceptance interface: configs/local-1node.toml boots the test guest on 2 vCPUs and passes.
source "$(dirname "$0")/lib.sh"
need_cpu
run_vmm guest --config "$SRC/configs/local-1node.toml"
expect_status 0 guest
for w in compute atomic spinlock barrier ipi timer litmus; do
	expect_line guest "^TESTGUEST $w ok"
done
expect_line guest '^TESTGUEST PASS vcpus=2$'
