#!/usr/bin/env bash
# A Linux guest that runs a plain `reboot -f` ends the run as a guest reset: the kernel (which on
# this hardware-reduced ACPI machine restarts through the BIOS) jumps to the reset vector, whose
# stub writes the FADT reset register, and vsmp-vmm exits 4 saying the guest asked for a reset
# (docs/linux-guest.md). The same boot checks that rtc_cmos found the CMOS RTC the DSDT describes
# (no probe failure). 1 node, 1 vCPU (about 15 s on the interpreter); VSMP_LINUX_TIMEOUT
# (seconds, default 120) bounds it.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/linux_lib.sh"
need_cpu

linux_kernel
linux_initramfs "$WORK/initramfs.cpio" --run 'echo "REBOOT now"; reboot -f'
linux_config "$WORK/linux.toml" "$WORK/initramfs.cpio" 1 1 256 0
LINUX_EXIT=4 linux_boot reboot "$WORK/linux.toml" "${VSMP_LINUX_TIMEOUT:-120}"
expect_line reboot '^REBOOT now$'
grep -q 'the guest asked for a reset (the ACPI reset register)' "$WORK/reboot.err" ||
	{ cat "$WORK/reboot.err"; fail "reboot: no reset message naming the ACPI reset register"; }
! grep -i 'rtc_cmos.*failed\|rtc_cmos.*error' "$WORK/reboot.out" ||
	fail "reboot: rtc_cmos did not probe the CMOS RTC"
grep -q 'rtc_cmos.*registered as rtc0' "$WORK/reboot.out" ||
	{ grep -i rtc "$WORK/reboot.out"; fail "reboot: rtc_cmos registered no rtc0"; }
