#!/usr/bin/env bash
# Without /dev/kvm (hidden in a private mount namespace) the VMM says so and exits 2.
source "$(dirname "$0")/lib.sh"
testguest_config "$WORK/ok.toml" 1
unshare -m true 2>/dev/null || skip "cannot create a mount namespace (unshare -m) to hide /dev/kvm"
status=0
unshare -m sh -c "mount -t tmpfs none /dev && exec '$VMM' --config '$WORK/ok.toml'" \
	>"$WORK/nokvm.out" 2>"$WORK/nokvm.err" </dev/null || status=$?
expect_status 2 nokvm
expect_line nokvm '/dev/kvm: No such file or directory \(KVM is not available on this host\)'
