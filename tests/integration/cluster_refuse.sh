#!/usr/bin/env bash
# A node holding another key, and a node running another configuration, are refused by the
# others with a log line saying why; the cluster never forms with them and every node gives up
# at the join timeout, naming the node that never joined.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cluster_lib.sh"
cd "$WORK"
mkdir good other_key other_config
"$VMM" keygen good/cluster.key >/dev/null
"$VMM" keygen other_key/cluster.key >/dev/null
cp -p good/cluster.key other_config/cluster.key
cluster_config good/cluster.toml 3
cluster_config other_key/cluster.toml 3
cluster_config other_config/cluster.toml 3 "console=ttyS0"

# run_three CASE DIR_OF_N2: n0 and n1 from good/, n2 from the other directory.
run_three() {
	local case=$1 odd=$2
	start_node "$case-n0" good/cluster.toml n0 --join-timeout 3
	start_node "$case-n1" good/cluster.toml n1 --join-timeout 3
	start_node "$case-n2" "$odd/cluster.toml" n2 --join-timeout 3
	for n in n0 n1 n2; do
		finish "$case-$n"
		expect_status 1 "$case-$n"
		expect_count "$case-$n" '^CLUSTER UP' 0
	done
	for n in n0 n1; do
		expect_line "$case-$n" "no authenticated connection after 3000 ms with.* n2 \("
		expect_line "$case-$n" "authenticated n[01] \("
	done
	expect_line "$case-n2" "no authenticated connection after 3000 ms with n0 \(.*\) n1 \("
}

run_three key other_key
expect_line key-n0 'refusing a connection from 127\.0\.0\.1 \(says it is n2\): its hello failed authentication: is its cluster key different\?'
expect_line key-n2 'refusing n[01] \(127\.0\.0\.1:[0-9]+\): its hello failed authentication: is its cluster key different\?'

run_three config other_config
expect_line config-n0 'refusing n2 \(127\.0\.0\.1(:[0-9]+)?\): the configurations differ: n0 has [0-9a-f]{16}\.\.\., n2 has [0-9a-f]{16}\.\.\.'
expect_line config-n2 'refusing n0 \(127\.0\.0\.1(:[0-9]+)?\): the configurations differ: n2 has [0-9a-f]{16}\.\.\., n0 has'
