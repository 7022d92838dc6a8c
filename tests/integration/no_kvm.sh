#!/usr/bin/env bash
# Without /dev/kvm (hidden in a private mount namespace) a run that asks for KVM says so and exits
# 2; one that leaves the choice to the VMM (accel = "auto") runs on the interpreter and says so.
source "$(dirname "$0")/lib.sh"
testguest_config "$WORK/ok.toml" 1
unshare -m true 2>/dev/null || skip "cannot create a mount namespace (unshare -m) to hide /dev/kvm"
status=0
unshare -m sh -c "mount -t tmpfs none /dev && exec '$VMM' --accel kvm --config '$WORK/ok.toml'" \
	>"$WORK/nokvm.out" 2>"$WORK/nokvm.err" </dev/null || status=$?
expect_status 2 nokvm
expect_line nokvm '/dev/kvm: No such file or directory \(KVM is not available on this host\)'

status=0
unshare -m sh -c "mount -t tmpfs none /dev && exec '$VMM' --accel auto --config '$WORK/ok.toml'" \
	>"$WORK/auto.out" 2>"$WORK/auto.err" </dev/null || status=$?
expect_status 0 auto
expect_line auto 'CPU backend: emu \(/dev/kvm: No such file or directory'
expect_line auto '^TESTGUEST PASS vcpus=1$'
