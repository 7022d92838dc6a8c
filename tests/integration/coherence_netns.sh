#!/usr/bin/env bash
# The same coherence checks with every node in its own network namespace, so every message
# crosses a real TCP/IP stack (UCX over TCP between namespaces).
source "$(dirname "$0")/lib.sh"
ip netns add "vsmp-probe-$$" 2>/dev/null || skip "cannot create network namespaces here (ip netns add)"
ip netns delete "vsmp-probe-$$"
cluster_config "$WORK/c.toml" 3 7420
export UCX_TLS=tcp
run_vmm memtest memtest --config "$WORK/c.toml" --netns --threads 2 --iters 1000 --seed 11 \
	--test mp,sb,corr,stress
expect_status 0 memtest
for t in mp sb corr stress; do expect_line memtest "^MEMTEST $t ok "; done
[ "$(grep -c '^MEMTEST PASS' "$WORK/memtest.out")" -eq 3 ] || fail "not every node passed"
expect_no_namespaces "$(cat "$WORK/memtest.pid")"
