#!/usr/bin/env bash
# A node killed while the guest runs: every other node stops within 2 s with a message naming the
# lost node and exit status 6 - no hang, no orphan process.
source "$(dirname "$0")/lib.sh"
need_cpu
cluster_config "$WORK/c.toml" 3 7460
start_nodes "$WORK/c.toml"
# Wait until the guest runs on every node: the BSP prints "start" once every AP is up.
until_true 300 "${pids[0]}" grep -q '^TESTGUEST start' "$WORK/n0.out" ||
	fail "the guest did not start within 300 s (or node 0 ended): $(cat "$WORK/n0.err")"
expect_n1_loss
