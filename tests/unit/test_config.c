/* Unit tests for the cluster configuration: valid configs and the numbers derived from them
 * (vCPU ids, memory offsets, totals, defaults, resolved paths, the hash), and each invalid case
 * with the line its message names. Files whose existence is checked live in a mkdtemp dir
 * (tests/unit/config_fixture.h); memory mode's settings are tested in test_config_memory.c. */
#include "vmm/config.h"
#include "vmm/config_mode.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/config_fixture.h"

TestSuite(config, .init = setup, .fini = teardown);

Test(config, one_node_with_defaults)
{
	struct cluster_config cfg = parse_ok("[cluster]\n"
					     "name = \"local-1node\"\n"
					     "\n"
					     "[[node]]\n"
					     "name = \"n0\"\n"
					     "vcpus = 2\n"
					     "memory_mib = 256\n");
	cr_assert_str_eq(cfg.name, "local-1node");
	cr_assert_eq(cfg.mode, CLUSTER_MODE_SYSTEM);
	cr_assert_eq(cfg.homes, HOMES_NUMA);
	cr_assert_str_eq(cfg.key_file, "");
	cr_assert_eq(cfg.key_file_line, 0);
	cr_assert_eq(cfg.guest.kind, GUEST_TESTGUEST);
	cr_assert_eq(cfg.guest.accel, ACCEL_AUTO);
	cr_assert_eq(cfg.guest.unknown_io, UNKNOWN_IO_STOP);
	cr_assert_str_eq(cfg.guest.kernel, "");
	cr_assert_str_eq(cfg.guest.cmdline, "");
	cr_assert_eq(cfg.node_count, 1);
	const struct node_config *n = &cfg.nodes[0];
	cr_assert_str_eq(n->name, "n0");
	cr_assert_str_eq(n->host, "127.0.0.1");
	cr_assert_eq(n->port, 7100);
	cr_assert_eq(n->vcpus, 2);
	cr_assert_eq(n->first_vcpu, 0);
	cr_assert_eq(n->memory_bytes, 256ull << 20);
	cr_assert_eq(n->memory_offset, 0);
	cr_assert_eq(n->line, 4);
	cr_assert_eq(cfg.total_vcpus, 2);
	cr_assert_eq(cfg.total_memory, 256ull << 20);
	cr_assert_eq(cfg.device_count, 2);
	cr_assert_eq(cfg.devices[0].kind, DEVICE_UART);
	cr_assert_eq(cfg.devices[0].owner, 0);
	cr_assert_eq(cfg.devices[0].line, 0);
	cr_assert_eq(cfg.devices[1].kind, DEVICE_DEBUG_EXIT);
	cr_assert_eq(cfg.devices[1].owner, 0);
	uint8_t zero[32] = {0};
	cr_assert_neq(memcmp(cfg.hash, zero, sizeof(zero)), 0);
	config_free(&cfg);
	cr_assert_null(cfg.nodes);
	cr_assert_eq(cfg.node_count, 0);
}

static const char three_nodes[] = "# three nodes on one host\n"
				  "[cluster]\n"
				  "name = \"local-3node\"\n"
				  "mode = \"system\"\n"
				  "key_file = \"cluster.key\"\n"
				  "[[node]]\n"
				  "name = \"n0\"\n"
				  "vcpus = 2\n"
				  "memory_mib = 256\n"
				  "[[node]]\n"
				  "name = \"n1\"\n"
				  "address = \"10.0.0.2:9000\"\n"
				  "vcpus = 1\n"
				  "memory_mib = 128\n"
				  "[[node]]\n"
				  "name = \"n2\"\n"
				  "address = \"[::1]:7200\"\n"
				  "vcpus = 3\n"
				  "memory_mib = 0x40\n"
				  "[[device]]\n"
				  "kind = \"debug-exit\"\n"
				  "owner = \"n2\"\n"
				  "[[device]]\n"
				  "kind = \"uart\"\n"
				  "owner = \"n1\"\n";

Test(config, three_nodes_number_vcpus_and_memory_in_order)
{
	struct cluster_config cfg = parse_ok(three_nodes);
	cr_assert_eq(cfg.node_count, 3);
	unsigned first[] = {0, 2, 3}, vcpus[] = {2, 1, 3};
	uint64_t mib[] = {256, 128, 64}, offset_mib[] = {0, 256, 384};
	const char *hosts[] = {"127.0.0.1", "10.0.0.2", "::1"};
	uint16_t ports[] = {7100, 9000, 7200};
	int lines[] = {6, 10, 15};
	for (unsigned i = 0; i < 3; i++) {
		cr_assert_eq(cfg.nodes[i].first_vcpu, first[i], "node %u", i);
		cr_assert_eq(cfg.nodes[i].vcpus, vcpus[i], "node %u", i);
		cr_assert_eq(cfg.nodes[i].memory_bytes, mib[i] << 20, "node %u", i);
		cr_assert_eq(cfg.nodes[i].memory_offset, offset_mib[i] << 20, "node %u", i);
		cr_assert_str_eq(cfg.nodes[i].host, hosts[i]);
		cr_assert_eq(cfg.nodes[i].port, ports[i], "node %u", i);
		cr_assert_eq(cfg.nodes[i].line, lines[i], "node %u", i);
	}
	cr_assert_eq(cfg.total_vcpus, 6);
	cr_assert_eq(cfg.total_memory, 448ull << 20);
	cr_assert_eq(config_find_node(&cfg, "n2"), 2);
	cr_assert_eq(config_find_node(&cfg, "n9"), -1);

	char expected[256];
	snprintf(expected, sizeof(expected), "%s/cluster.key", dir);
	cr_assert_str_eq(cfg.key_file, expected);
	cr_assert_eq(cfg.key_file_line, 5);
	/* The given devices replace the defaults. */
	cr_assert_eq(cfg.device_count, 2);
	cr_assert_eq(cfg.devices[0].kind, DEVICE_DEBUG_EXIT);
	cr_assert_eq(cfg.devices[0].owner, 2);
	cr_assert_eq(cfg.devices[0].line, 20);
	cr_assert_eq(cfg.devices[1].kind, DEVICE_UART);
	cr_assert_eq(cfg.devices[1].owner, 1);
	cr_assert_eq(cfg.devices[1].line, 23);
	config_free(&cfg);
}

Test(config, linux_guest_paths_are_resolved_and_checked)
{
	struct cluster_config cfg = parse_ok(CLUSTER "[guest]\n"
						     "kind = \"linux\"\n"
						     "kernel = \"vmlinux\"\n"
						     "initrd = \"sub/../initrd.img\"\n"
						     "cmdline = \"console=ttyS0 quiet\"\n" NODE0);
	char expected[256];
	cr_assert_eq(cfg.guest.kind, GUEST_LINUX);
	cr_assert_eq(cfg.guest.unknown_io, UNKNOWN_IO_IGNORE);
	snprintf(expected, sizeof(expected), "%s/vmlinux", dir);
	cr_assert_str_eq(cfg.guest.kernel, expected);
	snprintf(expected, sizeof(expected), "%s/sub/../initrd.img", dir);
	cr_assert_str_eq(cfg.guest.initrd, expected);
	cr_assert_str_eq(cfg.guest.cmdline, "console=ttyS0 quiet");
	config_free(&cfg);

	snprintf(
	    expected, sizeof(expected),
	    CLUSTER
	    "[guest]\nkind = \"linux\"\nkernel = \"%s/vmlinux\"\nunknown_io = \"stop\"\n" NODE0,
	    dir);
	cfg = parse_ok(expected);
	cr_assert_eq(cfg.guest.unknown_io, UNKNOWN_IO_STOP);
	cr_assert_eq(strncmp(cfg.guest.kernel, dir, strlen(dir)), 0);
	config_free(&cfg);
}

Test(config, testguest_takes_cmdline_and_unknown_io)
{
	struct cluster_config cfg = parse_ok(CLUSTER "[guest]\n"
						     "kind = \"testguest\"\n"
						     "cmdline = \"test=smp\"\n"
						     "unknown_io = \"ignore\"\n" NODE0);
	cr_assert_eq(cfg.guest.kind, GUEST_TESTGUEST);
	cr_assert_str_eq(cfg.guest.cmdline, "test=smp");
	cr_assert_eq(cfg.guest.unknown_io, UNKNOWN_IO_IGNORE);
	config_free(&cfg);
}

Test(config, cmdline_may_hold_4095_bytes)
{
	size_t size = 8192;
	char *text = test_alloc(size);
	char *arg = test_alloc(4097);
	memset(arg, 'a', 4095);
	arg[4095] = '\0';
	snprintf(text, size, CLUSTER "[guest]\ncmdline = \"%s\"\n" NODE0, arg);
	struct cluster_config cfg = parse_ok(text);
	cr_assert_eq(strlen(cfg.guest.cmdline), 4095);
	config_free(&cfg);
	strcpy(arg + 4095, "a");
	snprintf(text, size, CLUSTER "[guest]\ncmdline = \"%s\"\n" NODE0, arg);
	expect_error(text, "test.toml:4: 'cmdline' is longer than 4095 bytes");
	free(arg);
	free(text);
}

Test(config, devices_and_owners)
{
	struct cluster_config cfg = parse_ok("[[device]]\n"
					     "kind = \"debug-exit\"\n"
					     "owner = \"b\"\n" CLUSTER
					     "[[node]]\nname = \"a\"\nvcpus = 1\nmemory_mib = 16\n"
					     "[[node]]\nname = \"b\"\nvcpus = 1\nmemory_mib = 16\n"
					     "[[device]]\n"
					     "kind = \"uart\"\n");
	cr_assert_eq(cfg.device_count, 2);
	cr_assert_eq(cfg.devices[0].kind, DEVICE_DEBUG_EXIT);
	cr_assert_eq(cfg.devices[0].owner, 1);
	cr_assert_eq(cfg.devices[0].line, 1);
	cr_assert_eq(cfg.devices[1].kind, DEVICE_UART);
	cr_assert_eq(cfg.devices[1].owner, 0);
	cr_assert_eq(cfg.devices[1].line, 14);
	config_free(&cfg);
}

Test(config, device_kind_names)
{
	cr_assert_str_eq(device_kind_name(DEVICE_UART), "uart");
	cr_assert_str_eq(device_kind_name(DEVICE_DEBUG_EXIT), "debug-exit");
	cr_assert_str_eq(device_kind_name((enum device_kind)99), "?");
}

/* Only the devices the machine builds: the kinds it does not are refused at their line. */
Test(config, device_kinds_the_machine_cannot_build_are_refused)
{
	static const char *const kinds[] = {"virtio-blk", "virtio-net", "virtio-console"};
	char text[512];
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		snprintf(text, sizeof(text), CLUSTER NODE0 "[[device]]\nkind = '%s'\n", kinds[i]);
		expect_error(text, "test.toml:8: 'kind' must be \"uart\" or \"debug-exit\"");
	}
	expect_error(CLUSTER NODE0 "[[device]]\nkind = 'uart'\npath = 'vmlinux'\n",
		     "test.toml:9: unknown key 'path' in [[device]]");
}

static void hash_of(const char *text, uint8_t hash[32])
{
	struct cluster_config cfg = parse_ok(text);
	memcpy(hash, cfg.hash, 32);
	config_free(&cfg);
}

Test(config, hash_follows_content_not_layout)
{
	uint8_t a[32], b[32], c[32];
	hash_of(three_nodes, a);
	hash_of(three_nodes, b);
	cr_assert_eq(memcmp(a, b, 32), 0);
	/* Same content, written differently: comments, spacing, key order, hex, default address. */
	hash_of("[cluster]\nname='c'\n[[node]]\nmemory_mib=0x10 # x\nvcpus=1\nname='n0'\n", a);
	hash_of("[cluster]\n  name = \"c\"\n\n[[node]]\nname = \"n0\"\nvcpus = 1\n"
		"address = \"127.0.0.1:7100\"\nmemory_mib = 16\n"
		"[[device]]\nkind = 'uart'\n",
		b);
	cr_assert_eq(memcmp(a, b, 32), 0);
	/* Any change of what the nodes must agree on changes it. */
	const char *variants[] = {
	    "[cluster]\nname='d'\n[[node]]\nname='n0'\nvcpus=1\nmemory_mib=16\n",
	    "[cluster]\nname='c'\n[[node]]\nname='n1'\nvcpus=1\nmemory_mib=16\n",
	    "[cluster]\nname='c'\n[[node]]\nname='n0'\nvcpus=2\nmemory_mib=16\n",
	    "[cluster]\nname='c'\n[[node]]\nname='n0'\nvcpus=1\nmemory_mib=17\n",
	    "[cluster]\nname='c'\nmemory_view='flat'\n[[node]]\nname='n0'\nvcpus=1\nmemory_mib="
	    "16\n",
	    "[cluster]\nname='c'\nhomes='first-touch'\n[[node]]\nname='n0'\nvcpus=1\nmemory_mib="
	    "16\n",
	    "[cluster]\nname='c'\n[[node]]\nname='n0'\nvcpus=1\nmemory_mib=16\n"
	    "address='127.0.0.1:7101'\n",
	    "[cluster]\nname='c'\n[guest]\ncmdline='x'\n[[node]]\nname='n0'\nvcpus=1\n"
	    "memory_mib=16\n",
	    "[cluster]\nname='c'\n[guest]\nunknown_io='ignore'\n[[node]]\nname='n0'\nvcpus=1\n"
	    "memory_mib=16\n",
	    "[cluster]\nname='c'\n[guest]\nkind='multiboot'\nkernel='vmlinux'\nunknown_io='stop'\n"
	    "[[node]]\nname='n0'\nvcpus=1\nmemory_mib=16\n",
	};
	for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
		hash_of(variants[i], c);
		cr_assert_neq(memcmp(a, c, 32), 0, "variant %zu hashes like the original", i);
	}
}

/* The guest kinds are told apart; the accelerator is each node's own business. */
Test(config, hash_covers_the_guest_kind_but_not_accel)
{
	uint8_t a[32], b[32];
	hash_of(CLUSTER "[guest]\nkind='linux'\nkernel='vmlinux'\n" NODE0, a);
	hash_of(CLUSTER "[guest]\nkind='multiboot'\nkernel='vmlinux'\n" NODE0, b);
	cr_assert_neq(memcmp(a, b, 32), 0);
	hash_of(CLUSTER NODE0, a);
	hash_of(CLUSTER "[guest]\naccel='kvm'\n" NODE0, b);
	cr_assert_eq(memcmp(a, b, 32), 0);
	hash_of(CLUSTER "[guest]\naccel='emu'\n" NODE0, b);
	cr_assert_eq(memcmp(a, b, 32), 0);
}

Test(config, relative_base_dir_is_made_absolute)
{
	char cwd[4096], in_dir[4096], expected[4200];
	cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
	cr_assert_eq(chdir(dir), 0);
	cr_assert_not_null(getcwd(in_dir, sizeof(in_dir)));
	struct cluster_config cfg;
	char err[512];
	const char *text = "[cluster]\nname='c'\nkey_file='k'\n" NODE0;
	int rc = config_parse(text, strlen(text), "t", "sub", &cfg, err, sizeof(err));
	cr_assert_eq(chdir(cwd), 0);
	cr_assert_eq(rc, 0, "%s", err);
	snprintf(expected, sizeof(expected), "%s/sub/k", in_dir);
	cr_assert_str_eq(cfg.key_file, expected);
	config_free(&cfg);
}

Test(config, many_nodes_up_to_the_limit)
{
	size_t size = 4097 * 64 + 80, len = 0;
	char *text = test_alloc(size);
	len += (size_t)snprintf(text, size, "[cluster]\nname='big'\nmode='memory'\n");
	for (int i = 0; i < 4096; i++)
		len += (size_t)snprintf(text + len, size - len,
					"[[node]]\nname='n%d'\nvcpus=%d\nmemory_mib=16\n%s", i,
					i == 7 ? 2 : 0, i == 7 ? "cache_mib=1\n" : "");
	struct cluster_config cfg = parse_ok(text);
	cr_assert_eq(cfg.node_count, 4096);
	cr_assert_eq(cfg.nodes[4095].port, 7100 + 4095);
	cr_assert_eq(cfg.nodes[4095].first_vcpu, 2);
	cr_assert_eq(cfg.total_memory, 4096ull * 16 << 20);
	config_free(&cfg);
	snprintf(text + len, size - len, "[[node]]\nname='x'\nmemory_mib=16\n");
	expect_error(text, "test.toml:16389: more than 4096 nodes");
	free(text);
}

Test(config, errors_carry_the_name_and_line)
{
	expect_error("[cluster]\nname = \"c\"\nmode \"memory\"\n",
		     "test.toml:3: column 6: expected '='");
	expect_error(CLUSTER "[[node]]\nname = \"n0\"\nvcpu = 2\n",
		     "test.toml:5: unknown key 'vcpu' in [[node]]");
	expect_error(CLUSTER NODE0 "[[node]]\nname = \"n1\"\nvcpus = \"2\"\n",
		     "test.toml:9: 'vcpus' must be an integer");
	expect_error(CLUSTER "[[node]]\nname = 3\n", "test.toml:4: 'name' must be a string");
	expect_error(CLUSTER "[[node]]\nname = ['a']\n", "test.toml:4: 'name' must be a string");
	expect_error(CLUSTER "[[node]]\nname = 'n'\nvcpus = true\n",
		     "test.toml:5: 'vcpus' must be an integer");
	expect_error("[cluster]\nname = 'c'\nnodes = 1\n" NODE0,
		     "test.toml:3: unknown key 'nodes' in [cluster]");
	expect_error(CLUSTER "[guest]\nkernal = 'x'\n" NODE0,
		     "test.toml:4: unknown key 'kernal' in [guest]");
	expect_error(CLUSTER NODE0 "[[device]]\nkind = 'uart'\nport = 1\n",
		     "test.toml:9: unknown key 'port' in [[device]]");
}

Test(config, errors_without_a_line)
{
	expect_error("", "test.toml: missing [cluster] table");
	expect_error(NODE0, "test.toml: missing [cluster] table");
	expect_error(CLUSTER, "test.toml: at least one [[node]] is required");
}

Test(config, table_errors)
{
	expect_error("x = 1\n" CLUSTER NODE0, "test.toml:1: unknown key 'x' outside any [table]");
	expect_error(CLUSTER NODE0 "[nodes]\n", "test.toml:7: unknown table [nodes]");
	expect_error(CLUSTER NODE0 "[[guests]]\n", "test.toml:7: unknown table [[guests]]");
	expect_error(CLUSTER "[node]\nname = 'n0'\n", "test.toml:3: write [[node]], not [node]");
	expect_error(CLUSTER NODE0 "[device]\n", "test.toml:7: write [[device]], not [device]");
	expect_error("[[cluster]]\nname = 'c'\n" NODE0,
		     "test.toml:1: write [cluster], not [[cluster]]");
	expect_error(CLUSTER NODE0 "[[guest]]\n", "test.toml:7: write [guest], not [[guest]]");
	expect_error(CLUSTER NODE0 "[cluster]\n",
		     "test.toml:7: column 1: duplicate table [cluster]");
}

Test(config, cluster_errors)
{
	expect_error("[cluster]\nmode = 'system'\n" NODE0, "test.toml:1: [cluster] needs a 'name'");
	expect_error("[cluster]\nname = ''\n" NODE0,
		     "test.toml:2: 'name' must be 1 to 63 characters");
	expect_error("[cluster]\nname = 'a b'\n" NODE0, "test.toml:2: 'name' must be 1 to 63");
	expect_error("[cluster]\nname = 'a/b'\n" NODE0, "test.toml:2: 'name' must be 1 to 63");
	expect_error("[cluster]\nname = "
		     "'0123456789012345678901234567890123456789012345678901234567890123'\n" NODE0,
		     "test.toml:2: 'name' must be 1 to 63 characters of A-Z a-z 0-9 _ - .");
	struct cluster_config cfg =
	    parse_ok("[cluster]\nname = "
		     "'012345678901234567890123456789012345678901234567890123456789.-_'\n" NODE0);
	cr_assert_eq(strlen(cfg.name), 63);
	config_free(&cfg);
	expect_error("[cluster]\nname = 'c'\nmode = 'System'\n" NODE0,
		     "test.toml:3: 'mode' must be \"system\" or \"memory\"");
	expect_error("[cluster]\nname = 'c'\nhomes = 'first_touch'\n" NODE0,
		     "test.toml:3: 'homes' must be \"numa\", \"striped\" or \"first-touch\"");
	cfg = parse_ok("[cluster]\nname = 'c'\nhomes = 'striped'\n" NODE0);
	cr_assert_eq(cfg.homes, HOMES_STRIPED);
	config_free(&cfg);
	expect_error("[cluster]\nname = 'c'\nkey_file = ''\n" NODE0,
		     "test.toml:3: 'key_file' must not be empty");
	expect_error("[cluster]\nname = \"c\\u0000d\"\n" NODE0,
		     "test.toml:2: 'name' must not contain NUL characters");
}

Test(config, node_errors)
{
	expect_error(CLUSTER "[[node]]\nvcpus = 1\nmemory_mib = 64\n",
		     "test.toml:3: [[node]] needs a 'name'");
	expect_error(CLUSTER "[[node]]\nname = 'n0'\nvcpus = 1\n",
		     "test.toml:3: node 'n0' needs 'memory_mib'");
	expect_error(CLUSTER NODE0 "[[node]]\nname = 'n0'\n",
		     "test.toml:8: node name 'n0' is already used on line 3");
	expect_error(CLUSTER "[[node]]\nname = '01234567890123456789012345678901'\n",
		     "test.toml:4: 'name' must be 1 to 31 characters of A-Z a-z 0-9 _ -");
	expect_error(CLUSTER "[[node]]\nname = 'n.0'\n", "test.toml:4: 'name' must be 1 to 31");
	expect_error(CLUSTER "[[node]]\nname = 'n0'\nmemory_mib = 15\n",
		     "test.toml:5: 'memory_mib' must be between 16 and 1048576");
	expect_error(CLUSTER "[[node]]\nname = 'n0'\nmemory_mib = 1048577\n",
		     "test.toml:5: 'memory_mib' must be between 16 and 1048576");
	expect_error(CLUSTER "[[node]]\nname = 'n0'\nvcpus = -1\n",
		     "test.toml:5: 'vcpus' must be between 0 and 254");
	expect_error(CLUSTER "[[node]]\nname = 'n0'\nvcpus = 255\n",
		     "test.toml:5: 'vcpus' must be between 0 and 254");
	expect_error(CLUSTER "[[node]]\nname = 'n0'\nmemory_mib = 16\n",
		     "test.toml:3: node 'n0' needs vcpus >= 1 in system mode");
	expect_error(CLUSTER "[[node]]\nname='a'\nvcpus=200\nmemory_mib=16\n"
			     "[[node]]\nname='b'\nvcpus=55\nmemory_mib=16\n",
		     "test.toml:7: more than 254 vCPUs in total");
	expect_error(CLUSTER "[[node]]\nname='a'\nvcpus=1\nmemory_mib=1048576\n"
			     "[[node]]\nname='b'\nvcpus=1\nmemory_mib=16\n",
		     "test.toml:7: more than 1 TiB of memory in total");
}

Test(config, address_errors)
{
	static const struct {
		const char *address, *message;
	} cases[] = {
	    {"localhost", "'address' must be host:port"},
	    {":7100", "the host in 'address' must be 1 to 255 bytes"},
	    {"h:", "the port in 'address' must be 1 to 65535"},
	    {"h:0", "the port in 'address' must be 1 to 65535"},
	    {"h:65536", "the port in 'address' must be 1 to 65535"},
	    {"h:123456", "the port in 'address' must be 1 to 65535"},
	    {"h:-1", "the port in 'address' must be 1 to 65535"},
	    {"h:+80", "the port in 'address' must be 1 to 65535"},
	    {"h:8x", "the port in 'address' must be 1 to 65535"},
	    {"a b:80", "the host in 'address' must not contain spaces"},
	    {"::1:80", "write an IPv6 'address' as [address]:port"},
	    {"[::1]80", "'address' must be host:port"},
	    {"[::1", "'address' must be host:port"},
	    {"[]:80", "the host in 'address' must be 1 to 255 bytes"},
	};
	char text[512], expected[256];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), CLUSTER "[[node]]\nname='n'\naddress='%s'\n",
			 cases[i].address);
		snprintf(expected, sizeof(expected), "test.toml:5: %s", cases[i].message);
		expect_error(text, expected);
	}
	char host[300];
	memset(host, 'h', 256);
	host[256] = '\0';
	snprintf(text, sizeof(text), CLUSTER "[[node]]\nname='n'\naddress='%s:1'\n", host);
	expect_error(text, "test.toml:5: the host in 'address' must be 1 to 255 bytes");
	expect_error(CLUSTER NODE0 "[[node]]\nname='n1'\nmemory_mib=16\naddress='127.0.0.1:7100'\n",
		     "test.toml:7: node 'n1' has the same address as node 'n0'");
	struct cluster_config cfg =
	    parse_ok(CLUSTER NODE0 "[[node]]\nname='n1'\nvcpus=1\n"
				   "memory_mib=16\naddress='127.0.0.1:7101'\n"
				   "[[node]]\nname='n2'\nvcpus=1\nmemory_mib=16\n"
				   "address='h:65535'\n");
	cr_assert_eq(cfg.nodes[2].port, 65535);
	config_free(&cfg);
}

Test(config, multiboot_guest_takes_a_kernel_initrd_and_cmdline)
{
	struct cluster_config cfg = parse_ok(CLUSTER "[guest]\n"
						     "kind = \"multiboot\"\n"
						     "kernel = \"vmlinux\"\n"
						     "initrd = \"initrd.img\"\n"
						     "cmdline = \"verbose\"\n" NODE0);
	char expected[256];
	cr_assert_eq(cfg.guest.kind, GUEST_MULTIBOOT);
	cr_assert_eq(cfg.guest.unknown_io, UNKNOWN_IO_IGNORE);
	snprintf(expected, sizeof(expected), "%s/vmlinux", dir);
	cr_assert_str_eq(cfg.guest.kernel, expected);
	snprintf(expected, sizeof(expected), "%s/initrd.img", dir);
	cr_assert_str_eq(cfg.guest.initrd, expected);
	cr_assert_str_eq(cfg.guest.cmdline, "verbose");
	config_free(&cfg);

	cfg = parse_ok(CLUSTER "[guest]\nkind='multiboot'\nkernel='vmlinux'\n" NODE0);
	cr_assert_str_eq(cfg.guest.initrd, "");
	config_free(&cfg);
	expect_error(CLUSTER "[guest]\nkind = 'multiboot'\n" NODE0,
		     "test.toml:3: a multiboot guest needs 'kernel'");
	expect_error(CLUSTER "[guest]\nkind = 'multiboot'\nkernel = 'missing'\n" NODE0,
		     "/missing': No such file or directory");
}

Test(config, accel_picks_what_runs_the_vcpus)
{
	static const struct {
		const char *name;
		enum accel_kind accel;
	} cases[] = {{"auto", ACCEL_AUTO}, {"kvm", ACCEL_KVM}, {"emu", ACCEL_EMU}};
	char text[512];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), CLUSTER "[guest]\naccel = \"%s\"\n" NODE0,
			 cases[i].name);
		struct cluster_config cfg = parse_ok(text);
		cr_assert_eq(cfg.guest.accel, cases[i].accel, "%s", cases[i].name);
		cr_assert_str_eq(accel_kind_name(cfg.guest.accel), cases[i].name);
		config_free(&cfg);
	}
	cr_assert_str_eq(accel_kind_name((enum accel_kind)7), "?");
}

Test(config, accel_errors)
{
	expect_error(CLUSTER "[guest]\nkind = 'linux'\nkernel = 'vmlinux'\naccel = 'KVM'\n" NODE0,
		     "test.toml:6: 'accel' must be \"auto\", \"kvm\" or \"emu\"");
	expect_error(CLUSTER "[guest]\naccel = 1\n" NODE0, "test.toml:4: 'accel' must be a string");
	expect_error(CLUSTER "[guest]\naccel = ''\n" NODE0, "test.toml:4: 'accel' must be");
	expect_error(CLUSTER NODE0 "accel = 'kvm'\n",
		     "test.toml:7: unknown key 'accel' in [[node]]");
}

/* --accel and memtest's --homes take the names the keys take, with the same meaning. */
Test(config, option_values_override_keys_by_the_same_names)
{
	struct cluster_config cfg = parse_ok(CLUSTER "[guest]\naccel = 'kvm'\n" NODE0);
	uint8_t hash[32];
	memcpy(hash, cfg.hash, sizeof(hash));
	cr_assert_eq(accel_kind_from_name("emu", &cfg.guest.accel), 0);
	cr_assert_eq(cfg.guest.accel, ACCEL_EMU);
	cr_assert_eq(accel_kind_from_name("auto", &cfg.guest.accel), 0);
	cr_assert_eq(cfg.guest.accel, ACCEL_AUTO);
	cr_assert_eq(accel_kind_from_name("kvm", &cfg.guest.accel), 0);
	cr_assert_eq(cfg.guest.accel, ACCEL_KVM);
	cr_assert_eq(memcmp(hash, cfg.hash, sizeof(hash)), 0);
	static const char *const bad[] = {"", "KVM", "emu ", "tcg"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(accel_kind_from_name(bad[i], &cfg.guest.accel), -1, "'%s'", bad[i]);
		cr_assert_eq(cfg.guest.accel, ACCEL_KVM, "'%s' changed the value", bad[i]);
	}
	config_free(&cfg);

	enum memory_homes homes = HOMES_NUMA;
	cr_assert_eq(memory_homes_from_name("first-touch", &homes), 0);
	cr_assert_eq(homes, HOMES_FIRST_TOUCH);
	cr_assert_eq(memory_homes_from_name("striped", &homes), 0);
	cr_assert_eq(homes, HOMES_STRIPED);
	cr_assert_eq(memory_homes_from_name("numa", &homes), 0);
	cr_assert_eq(homes, HOMES_NUMA);
	cr_assert_eq(memory_homes_from_name("first_touch", &homes), -1);
	cr_assert_eq(homes, HOMES_NUMA);
}

Test(config, guest_errors)
{
	expect_error(CLUSTER "[guest]\nkind = 'Linux'\n" NODE0,
		     "test.toml:4: 'kind' must be \"testguest\", \"linux\" or \"multiboot\"");
	expect_error(CLUSTER "[guest]\nkind = 'linux'\n" NODE0,
		     "test.toml:3: a linux guest needs 'kernel'");
	expect_error(CLUSTER "[guest]\nkind = 'linux'\nkernel = 'missing'\n" NODE0,
		     "test.toml:5: kernel '");
	expect_error(CLUSTER "[guest]\nkind = 'linux'\nkernel = 'missing'\n" NODE0,
		     "/missing': No such file or directory");
	expect_error(CLUSTER "[guest]\nkind = 'linux'\nkernel = 'sub'\n" NODE0,
		     "/sub' is not a regular file");
	expect_error(CLUSTER "[guest]\nkind = 'linux'\nkernel = 'vmlinux'\ninitrd = 'nope'\n" NODE0,
		     "test.toml:6: initrd '");
	expect_error(CLUSTER "[guest]\nkernel = 'vmlinux'\n" NODE0,
		     "test.toml:4: 'kernel' is only used when kind = \"linux\" or \"multiboot\"");
	expect_error(CLUSTER "[guest]\ninitrd = 'initrd.img'\n" NODE0,
		     "test.toml:4: 'initrd' is only used when kind = \"linux\" or \"multiboot\"");
	expect_error(CLUSTER "[guest]\nunknown_io = 'panic'\n" NODE0,
		     "test.toml:4: 'unknown_io' must be \"stop\" or \"ignore\"");
	expect_error(CLUSTER "[guest]\ncmdline = 5\n" NODE0,
		     "test.toml:4: 'cmdline' must be a string");
	char text[8192], path[4200];
	memset(path, 'p', 4090);
	path[4090] = '\0';
	snprintf(text, sizeof(text), CLUSTER "[guest]\nkind='linux'\nkernel = '%s'\n" NODE0, path);
	expect_error(text, "test.toml:5: 'kernel' is longer than 4095 bytes once resolved");
}

Test(config, device_errors)
{
	expect_error(CLUSTER NODE0 "[[device]]\nkind = 'uart2'\n",
		     "test.toml:8: 'kind' must be \"uart\" or \"debug-exit\"");
	expect_error(CLUSTER NODE0 "[[device]]\nowner = 'n0'\n",
		     "test.toml:7: [[device]] needs a 'kind'");
	expect_error(CLUSTER NODE0 "[[device]]\nkind = 'uart'\nowner = 'n5'\n",
		     "test.toml:9: 'owner' names no node: 'n5'");
	expect_error(CLUSTER NODE0 "[[device]]\nkind = 'uart'\nowner = \"\\u0001x\"\n",
		     "test.toml:9: 'owner' names no node: '?x'");
	expect_error(CLUSTER NODE0 "[[device]]\nkind = 'uart'\n[[device]]\nkind = 'uart'\n",
		     "test.toml:9: only one uart device is allowed (see line 7)");
	expect_error(CLUSTER NODE0 "[[device]]\nkind='debug-exit'\n[[device]]\nkind='debug-exit'\n",
		     "test.toml:9: only one debug-exit device is allowed");
}

Test(config, load_file_resolves_against_the_files_directory)
{
	const char *text = CLUSTER "[guest]\nkind='linux'\nkernel='../vmlinux'\n" NODE0;
	char path[256], expected[512], err[512];
	snprintf(path, sizeof(path), "%s/sub/cluster.toml", dir);
	write_file("sub/cluster.toml", text, strlen(text));
	struct cluster_config cfg;
	cr_assert_eq(config_load_file(path, &cfg, err, sizeof(err)), 0, "%s", err);
	snprintf(expected, sizeof(expected), "%s/sub/../vmlinux", dir);
	cr_assert_str_eq(cfg.guest.kernel, expected);
	config_free(&cfg);

	const char *bad = CLUSTER "[[node]]\nname = 'n0'\nvcpu = 1\n";
	write_file("bad.toml", bad, strlen(bad));
	snprintf(path, sizeof(path), "%s/bad.toml", dir);
	cr_assert_eq(config_load_file(path, &cfg, err, sizeof(err)), -1);
	snprintf(expected, sizeof(expected), "%s:5: unknown key 'vcpu' in [[node]]", path);
	cr_assert_str_eq(err, expected);
}

Test(config, load_file_refuses_what_is_not_a_small_regular_file)
{
	char path[256], err[512];
	struct cluster_config cfg;
	snprintf(path, sizeof(path), "%s/none.toml", dir);
	cr_assert_eq(config_load_file(path, &cfg, err, sizeof(err)), -1);
	cr_assert(strstr(err, "none.toml: cannot open: No such file or directory"), "%s", err);
	snprintf(path, sizeof(path), "%s/sub", dir);
	cr_assert_eq(config_load_file(path, &cfg, err, sizeof(err)), -1);
	cr_assert(strstr(err, "sub: not a regular file"), "%s", err);
	cr_assert_eq(config_load_file("/dev/null", &cfg, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "/dev/null: not a regular file");

	size_t big = (1 << 20) + 1;
	char *text = test_alloc(big);
	memset(text, '\n', big);
	write_file("big.toml", text, big);
	free(text);
	snprintf(path, sizeof(path), "%s/big.toml", dir);
	cr_assert_eq(config_load_file(path, &cfg, err, sizeof(err)), -1);
	cr_assert(strstr(err, "big.toml: larger than 1 MiB"), "%s", err);

	if (geteuid() != 0) {
		write_file("secret.toml", "", 0);
		snprintf(path, sizeof(path), "%s/secret.toml", dir);
		cr_assert_eq(chmod(path, 0), 0);
		cr_assert_eq(config_load_file(path, &cfg, err, sizeof(err)), -1);
		cr_assert(strstr(err, "secret.toml: cannot open: Permission denied"), "%s", err);
	}
}

Test(config, small_error_buffers_are_safe)
{
	struct cluster_config cfg;
	char err[8];
	memset(err, 'x', sizeof(err));
	cr_assert_eq(config_parse("x", 1, "a-long-file-name.toml", "/", &cfg, err, sizeof(err)),
		     -1);
	cr_assert_eq(strlen(err), 7);
	cr_assert_eq(config_parse("x", 1, "n", "/", &cfg, NULL, 0), -1);
}
