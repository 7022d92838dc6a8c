#!/usr/bin/env bash
# Debian's stock 6.1 kernel in memory expansion mode: configs/linux-memory.toml as it is (on
# random ports below 32768, with this test's kernel, initramfs and key). n0 runs the one vCPU
# with 128 MiB of its own and a 32 MiB cache; n1 and n2 lend 192 MiB each. The guest sees one CPU
# and 512 MiB: NUMA node 0 with the CPU and n0's memory, nodes 1 and 2 without CPUs and n1's and
# n2's, MemTotal their sum. bigalloc then writes and verifies 192 MiB, more than node 0 holds, so
# that more than twice the cache of it is lent memory, evicted dirty (written back) and read
# again: its output must be the native run's, and n0's final counters must show the cache bounded
# and every write-back acknowledged. The console must show no clock or interrupt warning.
# VSMP_LINUX_TIMEOUT (seconds, default 570) bounds the run.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/linux_lib.sh"
need_cpu
mib=192

linux_kernel
linux_initramfs "$WORK/initramfs.cpio" --add "$LINUX_PROGRAMS/bigalloc" --run "bigalloc $mib"
linux_memory_config "$WORK/linux.toml" "$WORK/initramfs.cpio" $((2000 + RANDOM % 1200))
linux_boot linux "$WORK/linux.toml" "${VSMP_LINUX_TIMEOUT:-570}"
linux_expect_numa linux 1 0:128 :192 :192
linux_expect_native linux bigalloc "$mib"
linux_expect_healthy linux

# counter FIELD: a field of n0's final counters line.
counter() {
	sed -n "s/^vsmp-vmm\\[n0\\]: final: .* $1=\\([0-9]*\\).*/\\1/p" "$WORK/linux.err"
}
resident=$(counter resident_lent_pages) cache=$(counter cache_pages)
dirty=$(counter evictions_dirty) acked=$(counter writebacks_acked)
[ -n "$resident" ] && [ -n "$acked" ] || fail "n0 printed no final counters: $(cat "$WORK/linux.err")"
[ "$cache" -eq 8192 ] || fail "cache_pages=$cache, expected 8192 (32 MiB)"
[ "$resident" -le "$cache" ] || fail "$resident lent pages resident, more than the cache's $cache"
[ "$dirty" -ge $((2 * cache)) ] || fail "only $dirty dirty evictions: less than twice the cache written back"
[ "$acked" -eq "$dirty" ] || fail "$dirty write-backs sent, $acked acknowledged"
grep '^LINUX ' "$WORK/linux.out"
grep 'final:' "$WORK/linux.err"
