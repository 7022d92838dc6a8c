#!/usr/bin/env bash
# Memory expansion mode: node n0 runs the vCPU with a 4 MiB cache, n1 and n2 lend 32 and 16 MiB.
# The test guest's memory workload writes, reads back and rewrites 16 MiB of lent memory (4x the
# cache) and checks every word: the run passes only if no write was lost through eviction,
# write-back and refetch. n0's final counters must show the cache bounded and both kinds of
# eviction, and --stats-prometheus must leave each node's file, every line of it a comment or a
# `name{labels} value` sample, n0's samples equal to its final line. Then the flat view: one NUMA
# node holds everything, and the workload passes again.
source "$(dirname "$0")/lib.sh"
need_cpu

# memory_config FILE VIEW MEM_MIB
memory_config() {
	[ -f "$WORK/cluster.key" ] || "$VMM" keygen "$WORK/cluster.key" >/dev/null
	cat >"$1" <<EOT
[cluster]
name = "memory"
mode = "memory"
memory_view = "$2"
key_file = "$WORK/cluster.key"
[guest]
cmdline = "tg.run=memory tg.mem_mib=$3"
[[node]]
name = "n0"
address = "127.0.0.1:7430"
vcpus = 1
memory_mib = 64
cache_mib = 4
[[node]]
name = "n1"
address = "127.0.0.1:7431"
memory_mib = 32
[[node]]
name = "n2"
address = "127.0.0.1:7432"
memory_mib = 16
EOT
}

# counter NAME FIELD: a field of node n0's final counters line.
counter() {
	sed -n "s/^vsmp-vmm\[n0\]: final: .* $2=\([0-9]*\).*/\1/p" "$WORK/$1.err"
}

# expect_prometheus NODE: NODE's Prometheus file is well formed and, for n0, its samples are the
# fields of its final counters line (vsmp_<field>_total for a counter, vsmp_<field> for a gauge).
expect_prometheus() {
	local file="$WORK/prom/vsmp-memory-$1.prom" bad field value
	[ -f "$file" ] || fail "no Prometheus file $file: $(ls -A "$WORK/prom")"
	bad=$(grep -Ev '^# (HELP|TYPE) vsmp_[a-z_]+ .+$' "$file" |
		grep -Ev "^vsmp_[a-z_]+\{cluster=\"memory\",node=\"$1\"\} [0-9]+\$") || true
	[ -z "$bad" ] || fail "$file: lines that are neither a comment nor a sample: $bad"
	[ "$1" = n0 ] || return 0
	for field in $(sed -n 's/^vsmp-vmm\[n0\]: final: //p' "$WORK/numa.err"); do
		value=$(sed -En "s/^vsmp_${field%%=*}(_total)?\{.*\} ([0-9]+)\$/\2/p" "$file")
		[ "$value" = "${field#*=}" ] || fail "$file: ${field%%=*} is '$value', the final line's ${field#*=}"
	done
}

memory_config "$WORK/numa.toml" numa 16
mkdir "$WORK/prom"
run_vmm numa --config "$WORK/numa.toml" --stats-prometheus "$WORK/prom"
expect_status 0 numa
expect_line numa "^TESTGUEST numa node=0 cpus=1 mem_mib=64$"
expect_line numa "^TESTGUEST numa node=1 cpus=0 mem_mib=32$"
expect_line numa "^TESTGUEST numa node=2 cpus=0 mem_mib=16$"
expect_line numa "^TESTGUEST memory ok vcpus=1 mib=16 .* pages=4096 "
expect_line numa "^TESTGUEST PASS vcpus=1$"
resident=$(counter numa resident_lent_pages)
cache=$(counter numa cache_pages)
misses=$(counter numa misses)
prefetch_used=$(counter numa prefetch_used)
clean=$(counter numa evictions_clean)
dirty=$(counter numa evictions_dirty)
acked=$(counter numa writebacks_acked)
[ -n "$resident" ] && [ -n "$acked" ] || fail "n0 printed no final counters"
[ "$cache" -eq 1024 ] || fail "cache_pages=$cache, expected 1024 (4 MiB)"
[ "$resident" -le "$cache" ] || fail "$resident lent pages resident, more than the cache's $cache"
# Written, read and rewritten: every page missed at least twice, or was fetched ahead and used.
[ $((misses + prefetch_used)) -ge 8192 ] ||
	fail "only $misses misses and $prefetch_used pages fetched ahead and used for 4096 pages" \
		"through a 1024-page cache"
[ "$dirty" -ge 3072 ] || fail "only $dirty dirty evictions"
[ "$clean" -ge 1 ] || fail "no clean eviction"
[ "$acked" -eq "$dirty" ] || fail "$dirty write-backs sent, $acked acknowledged"
for node in n0 n1 n2; do expect_prometheus "$node"; done
[ "$(ls -A "$WORK/prom" | wc -l)" -eq 3 ] || fail "files other than the 3 nodes': $(ls -A "$WORK/prom")"

memory_config "$WORK/flat.toml" flat 8
run_vmm flat --config "$WORK/flat.toml"
expect_status 0 flat
expect_line flat "^TESTGUEST numa node=0 cpus=1 mem_mib=112$"
if grep -q "^TESTGUEST numa node=1" "$WORK/flat.out"; then fail "flat view shows a second node"; fi
expect_line flat "^TESTGUEST memory ok vcpus=1 mib=8 "
expect_line flat "^TESTGUEST PASS vcpus=1$"
