#!/usr/bin/env bash
# Multiboot kernels boot as QEMU's -kernel boots them. configs/multiboot-1node.toml and
# configs/multiboot-3node.toml (the latter also with homes = "striped", so that node 0 loads the
# kernel, its information structure and module 0 into pages the other nodes home) boot the
# Multiboot test kernel (firmware/mbtest/), which reports on node 0's UART what the loader handed
# it and exits with the cmdline's mbtest.exit=N. Checked: the magic in EAX, the command line (the
# kernel's path, then the configured one), module 0 = the initrd (its size and first line), the
# memory map's RAM (every node's RAM less the 385 KiB below 1 MiB that e820 reserves or leaves
# out: the EBDA, the legacy hole and the ACPI area), and N as the exit status. A file that is not
# a Multiboot image, as the kernel, exits 2 naming it.
source "$(dirname "$0")/lib.sh"
need_cpu
[ -f "$BUILD/mbtest.elf" ] || fail "$BUILD/mbtest.elf was not built"

# The shipped configurations keep their relative paths (../build/mbtest.elf,
# ../firmware/mbtest/module0.txt, ../build/cluster.key), which resolve against the directory of
# their copies in $WORK/configs: this build's kernel, the source tree's module, a key of this
# test's own. Only the ports change, to this test's own.
mkdir -p "$WORK/configs" "$WORK/build" "$WORK/firmware/mbtest"
ln -s "$BUILD/mbtest.elf" "$WORK/build/mbtest.elf"
ln -s "$SRC/firmware/mbtest/module0.txt" "$WORK/firmware/mbtest/module0.txt"
"$VMM" keygen "$WORK/build/cluster.key" >/dev/null
for nodes in 1 3; do
	sed -E 's/^address = "127\.0\.0\.1:710([0-9])"$/address = "127.0.0.1:753\1"/' \
		"$SRC/configs/multiboot-${nodes}node.toml" >"$WORK/configs/mb$nodes.toml"
done
[ "$(grep -c '^address = "127\.0\.0\.1:753[0-9]"$' "$WORK/configs/mb3.toml")" = 3 ] ||
	fail "configs/multiboot-3node.toml: expected 3 nodes at 127.0.0.1:7100-7102"
sed 's/^mode = "system"$/&\nhomes = "striped"/' "$WORK/configs/mb3.toml" >"$WORK/configs/mb3s.toml"
grep -q '^homes = "striped"$' "$WORK/configs/mb3s.toml" ||
	fail "configs/multiboot-3node.toml: no mode = \"system\" line to add homes after"

# expect_out NAME LINE: exactly this line on the guest's UART (the VMM's stdout).
expect_out() {
	grep -qFx -- "$2" "$WORK/$1.out" || {
		echo "--- stdout"; cat "$WORK/$1.out"; echo "--- stderr"; cat "$WORK/$1.err"
		fail "$1: no line '$2'"
	}
}

# boot_mbtest NAME CONFIG: boots it and checks every MBTEST line against the configuration.
boot_mbtest() {
	local name=$1 config=$2 cmdline exit_n mib module=$SRC/firmware/mbtest/module0.txt
	cmdline=$(sed -nE 's/^cmdline = "(.*)"$/\1/p' "$config")
	exit_n=$(sed -nE 's/^cmdline = ".*\bmbtest\.exit=([0-9]+)\b.*"$/\1/p' "$config")
	mib=$(awk -F' *= *' '$1 == "memory_mib" { sum += $2 } END { print sum + 0 }' "$config")
	[ "${exit_n:-0}" -ne 0 ] || fail "$config: no mbtest.exit=N (N > 0) in its cmdline"
	run_vmm "$name" --config "$config"
	expect_status "$exit_n" "$name"
	expect_out "$name" "MBTEST start magic=0x2badb002"
	expect_out "$name" "MBTEST loader=vsmp-vmm"
	expect_out "$name" "MBTEST cmdline=$WORK/configs/../build/mbtest.elf $cmdline"
	expect_out "$name" "MBTEST mods=1"
	expect_out "$name" "MBTEST mod0 size=$(stat -c %s "$module") text=$(head -n 1 "$module")"
	expect_out "$name" "MBTEST mem_kib=$((mib * 1024 - 385))"
	expect_out "$name" "MBTEST exit=$exit_n"
	! grep -q 'MBTEST FAIL' "$WORK/$name.out" || fail "$name: $(grep 'MBTEST FAIL' "$WORK/$name.out")"
}

boot_mbtest one_node "$WORK/configs/mb1.toml"
boot_mbtest three_nodes "$WORK/configs/mb3.toml"
boot_mbtest three_nodes_striped "$WORK/configs/mb3s.toml"

# Not a Multiboot image: bad input, named by its path (relative in the file, resolved against the
# file's directory).
cp /bin/true "$WORK/notmb"
cat >"$WORK/notmb.toml" <<EOT
[cluster]
name = "x"
[guest]
kind = "multiboot"
kernel = "notmb"
[[node]]
name = "n0"
vcpus = 1
memory_mib = 64
EOT
run_vmm notmb --config "$WORK/notmb.toml"
expect_status 2 notmb
expect_line notmb "$WORK/notmb: no Multiboot header"
