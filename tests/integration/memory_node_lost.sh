#!/usr/bin/env bash
# Memory mode with replicas = 1: a lending node killed while the guest works through lent memory
# stops the others with exit status 6 naming it, within 2 s: no hang, no orphan process.
source "$(dirname "$0")/lib.sh"
need_cpu
"$VMM" keygen "$WORK/cluster.key" >/dev/null
cat >"$WORK/m.toml" <<EOT
[cluster]
name = "memory-lost"
mode = "memory"
key_file = "$WORK/cluster.key"
[guest]
cmdline = "tg.run=memory tg.mem_mib=2000"
[[node]]
name = "n0"
address = "127.0.0.1:7403"
vcpus = 1
memory_mib = 64
cache_mib = 2
[[node]]
name = "n1"
address = "127.0.0.1:7404"
memory_mib = 1024
[[node]]
name = "n2"
address = "127.0.0.1:7405"
memory_mib = 1024
EOT
start_nodes "$WORK/m.toml" --stats 1
# Wait until n0 has evicted pages, so that n1 holds data only it has.
until_true 300 "${pids[0]}" grep -q 'evictions_dirty=[1-9]' "$WORK/n0.err" ||
	fail "no dirty eviction within 300 s (or node 0 ended): $(cat "$WORK/n0.err")"
expect_n1_loss
