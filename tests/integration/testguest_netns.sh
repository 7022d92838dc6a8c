#!/usr/bin/env bash
# The test guest across 3 nodes, each in its own network namespace: page transfers, IPIs and
# forwarded I/O all cross a real TCP/IP stack.
source "$(dirname "$0")/lib.sh"
need_cpu
ip netns add "vsmp-probe-$$" 2>/dev/null || skip "cannot create network namespaces here (ip netns add)"
ip netns delete "vsmp-probe-$$"
cluster_config "$WORK/c.toml" 3 7450
UCX_TLS=tcp run_vmm guest --config "$WORK/c.toml" --netns
expect_testguest_pass guest 3
expect_no_namespaces "$(cat "$WORK/guest.pid")"
