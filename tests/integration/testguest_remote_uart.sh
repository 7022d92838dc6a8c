#!/usr/bin/env bash
# The UART may belong to a node without the IOAPIC: with COM1 owned by n1, the guest's output
# comes out of n1, and the UART's interrupt line is forwarded to n0's IOAPIC, which routes it to
# the vCPU on either node (the ioapic workload, edge and level).
source "$(dirname "$0")/lib.sh"
need_cpu
cluster_config "$WORK/c.toml" 2 7470 "tg.run=nmi,ioapic"
printf '[[device]]\nkind = "uart"\nowner = "n1"\n' >>"$WORK/c.toml"
run_vmm guest --config "$WORK/c.toml"
expect_status 0 guest
expect_line guest "^TESTGUEST nmi ok"
expect_line guest "^TESTGUEST ioapic ok"
expect_line guest "^TESTGUEST PASS vcpus=2\$"
