#!/usr/bin/env bash
# The memtest (every litmus test and the checked stress) in memory mode: n0 has a 1 MiB cache,
# n1 and n2 lend 32 MiB each. The region is homed by share as guest RAM would be, and n0's cache
# is scaled to it the same way: 4 pages for the 438 pages the others home, so every test runs
# through constant eviction. Every read is checked by the workloads; the final counters must show
# the cache bounded and pages evicted.
source "$(dirname "$0")/lib.sh"
"$VMM" keygen "$WORK/cluster.key" >/dev/null
cat >"$WORK/m.toml" <<EOT
[cluster]
name = "memory-memtest"
mode = "memory"
key_file = "$WORK/cluster.key"
[[node]]
name = "n0"
address = "127.0.0.1:7433"
vcpus = 1
memory_mib = 16
cache_mib = 1
[[node]]
name = "n1"
address = "127.0.0.1:7434"
memory_mib = 56
[[node]]
name = "n2"
address = "127.0.0.1:7435"
memory_mib = 56
EOT
run_vmm memtest memtest --config "$WORK/m.toml"
expect_status 0 memtest
for n in n0 n1 n2; do expect_line memtest "^MEMTEST PASS node=$n homes=numa$"; done
for t in mp sb iriw corr stress; do expect_line memtest "^MEMTEST $t ok "; done
counter() {
	sed -n "s/^vsmp-vmm\[n0\]: final: .* $1=\([0-9]*\).*/\1/p" "$WORK/memtest.err"
}
resident=$(counter resident_lent_pages)
cache=$(counter cache_pages)
evicted=$(($(counter evictions_clean) + $(counter evictions_dirty)))
[ "$cache" = 4 ] || fail "n0's cache is '$cache' pages, expected 4"
[ "$resident" -le "$cache" ] || fail "$resident lent pages resident, more than the cache's $cache"
[ "$evicted" -ge 100 ] || fail "only $evicted evictions"
