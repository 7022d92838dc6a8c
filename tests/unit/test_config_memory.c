/* Unit tests for memory mode's configuration: where the vCPUs and the cache go, the memory view,
 * replicas and the spare (which lender mirrors which), and each invalid combination with the
 * line its message names (tests/unit/config_fixture.h has the fixture). */
#include "vmm/config.h"
#include "vmm/config_mode.h"

#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "tests/unit/config_fixture.h"

TestSuite(config_memory, .init = setup, .fini = teardown);

Test(config_memory, memory_mode_puts_vcpus_on_one_node)
{
	struct cluster_config cfg = parse_ok("[cluster]\n"
					     "name = \"mem\"\n"
					     "mode = \"memory\"\n"
					     "[[node]]\n"
					     "name = \"lender\"\n"
					     "memory_mib = 1024\n"
					     "[[node]]\n"
					     "name = \"cpu\"\n"
					     "vcpus = 4\n"
					     "memory_mib = 512\n"
					     "cache_mib = 64\n"
					     "[[node]]\n"
					     "name = \"lender2\"\n"
					     "vcpus = 0\n"
					     "memory_mib = 2048\n");
	cr_assert_eq(cfg.mode, CLUSTER_MODE_MEMORY);
	cr_assert_eq(cfg.total_vcpus, 4);
	cr_assert_eq(cfg.nodes[0].vcpus, 0);
	cr_assert_eq(cfg.nodes[1].first_vcpu, 0);
	cr_assert_eq(cfg.nodes[2].first_vcpu, 4);
	cr_assert_eq(cfg.nodes[2].memory_offset, 1536ull << 20);
	cr_assert_eq(cfg.total_memory, 3584ull << 20);
	cr_assert_eq(cfg.nodes[2].port, 7102);
	cr_assert_eq(cfg.nodes[1].cache_bytes, 64ull << 20);
	cr_assert_eq(cfg.nodes[0].cache_bytes, 0);
	cr_assert_eq(cfg.replicas, 1);
	cr_assert_eq(cfg.memory_view, MEMORY_VIEW_NUMA);
	cr_assert_eq(config_compute_node(&cfg), 1);
	config_free(&cfg);
}

#define MEMORY_CLUSTER "[cluster]\nname='c'\nmode='memory'\n"			   /* lines 1-3 */
#define COMPUTE	       "[[node]]\nname='a'\nvcpus=1\nmemory_mib=16\ncache_mib=4\n" /* 4-8 */
#define LENDER(name)   "[[node]]\nname='" name "'\nmemory_mib=16\n"		   /* 3 lines */

Test(config_memory, memory_view_and_replicas)
{
	struct cluster_config flat =
	    parse_ok("[cluster]\nname='c'\nmode='memory'\n"
		     "memory_view='flat'\nreplicas=1\n" COMPUTE LENDER("b") LENDER("c"));
	cr_assert_eq(flat.memory_view, MEMORY_VIEW_FLAT);
	cr_assert_eq(flat.replicas, 1);
	struct cluster_config numa = parse_ok(MEMORY_CLUSTER COMPUTE LENDER("b") LENDER("c"));
	cr_assert_neq(memcmp(flat.hash, numa.hash, sizeof(flat.hash)), 0);
	struct cluster_config system = parse_ok(CLUSTER NODE0);
	cr_assert_eq(config_compute_node(&system), -1);
	config_free(&flat);
	config_free(&numa);
	config_free(&system);
}

Test(config_memory, replicas_mirror_each_lender_on_the_next)
{
	struct cluster_config cfg =
	    parse_ok("[cluster]\nname='c'\nmode='memory'\nreplicas=2\n" COMPUTE LENDER("b")
			 LENDER("c") LENDER("d") "[[node]]\nname='s'\nspare=true\n");
	uint32_t mirrors[5];
	cr_assert(config_mirrors(&cfg, mirrors));
	cr_assert_eq(mirrors[0], UINT32_MAX, "the compute node lends nothing");
	cr_assert_eq(mirrors[1], 2);
	cr_assert_eq(mirrors[2], 3);
	cr_assert_eq(mirrors[3], 1);
	cr_assert_eq(mirrors[4], UINT32_MAX, "the spare lends nothing up front");
	cr_assert_eq(config_spare_node(&cfg), 4);
	cr_assert_eq(cfg.total_memory, 64ull << 20, "the spare's memory is not the guest's");
	struct cluster_config one = parse_ok(MEMORY_CLUSTER COMPUTE LENDER("b") LENDER("c"));
	cr_assert_not(config_mirrors(&one, mirrors));
	cr_assert_eq(config_spare_node(&one), -1);
	config_free(&cfg);
	config_free(&one);
}

Test(config_memory, memory_mode_cache_and_replicas_errors)
{
	expect_error(MEMORY_CLUSTER "[[node]]\nname='a'\nvcpus=1\nmemory_mib=16\n" LENDER("b"),
		     "test.toml:4: node 'a' runs the vCPUs in memory mode and needs 'cache_mib'");
	expect_error(MEMORY_CLUSTER COMPUTE "[[node]]\nname='b'\nmemory_mib=16\ncache_mib=4\n",
		     "test.toml:12: node 'b' lends memory (vcpus = 0): 'cache_mib' is only for");
	expect_error(MEMORY_CLUSTER COMPUTE,
		     "test.toml:1: memory mode needs a node with vcpus = 0 to lend memory");
	expect_error("[cluster]\nname='c'\nmode='memory'\nreplicas=2\n" COMPUTE LENDER("b"),
		     "test.toml:4: replicas = 2 needs at least 2 nodes lending memory, and there "
		     "is 1");
	expect_error("[cluster]\nname='c'\nmode='memory'\nreplicas=2\n" COMPUTE LENDER(
			 "b") "[[node]]\nname='s'\nspare=true\n",
		     "test.toml:4: replicas = 2 needs at least 2 nodes lending memory, and there "
		     "is 1");
	expect_error(MEMORY_CLUSTER COMPUTE LENDER("b") "[[node]]\nname='s'\nspare=true\n",
		     "test.toml:14: a spare node serves replicas: it needs mode = \"memory\" and "
		     "replicas = 2");
	expect_error("[cluster]\nname='c'\nmode='memory'\nreplicas=2\n" COMPUTE LENDER("b")
			 LENDER("c") "[[node]]\nname='s'\nspare=true\nmemory_mib=16\n",
		     "test.toml:18: node 's' is a spare: it lends no memory_mib of its own");
	expect_error("[cluster]\nname='c'\nmode='memory'\nreplicas=2\n" COMPUTE
		     "[[node]]\nname='s'\nspare=true\n" LENDER("b") LENDER("c"),
		     "test.toml:12: the spare node 's' must be the last node");
	expect_error("[cluster]\nname='c'\nmode='memory'\nreplicas=3\n" COMPUTE LENDER("b"),
		     "test.toml:4: 'replicas' must be between 1 and 2");
	expect_error("[cluster]\nname='c'\nmode='memory'\nhomes='striped'\n" COMPUTE LENDER("b"),
		     "test.toml:1: memory mode homes lent memory where it is lent");
	expect_error(CLUSTER "[[node]]\nname='a'\nvcpus=1\nmemory_mib=16\ncache_mib=4\n",
		     "test.toml:7: node 'a': 'cache_mib' is only for mode = \"memory\"");
	expect_error("[cluster]\nname='c'\nreplicas=1\n" NODE0,
		     "test.toml:3: 'replicas' is only for mode = \"memory\"");
	expect_error(CLUSTER "memory_view='round'\n" NODE0,
		     "test.toml:3: 'memory_view' must be \"numa\" or \"flat\"");
}

Test(config_memory, memory_mode_errors)
{
	expect_error("[cluster]\nname='c'\nmode='memory'\n"
		     "[[node]]\nname='a'\nmemory_mib=16\n[[node]]\nname='b'\nmemory_mib=16\n",
		     "test.toml:1: memory mode needs one node with vcpus >= 1");
	expect_error("[cluster]\nname='c'\nmode='memory'\n"
		     "[[node]]\nname='a'\nvcpus=1\nmemory_mib=16\ncache_mib=4\n"
		     "[[node]]\nname='b'\nmemory_mib=16\n"
		     "[[node]]\nname='c'\nvcpus=1\nmemory_mib=16\n",
		     "test.toml:12: memory mode puts all vCPUs on one node, and 'a' has some");
}
