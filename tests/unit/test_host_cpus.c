/* Unit tests for where local nodes run (vmm/host_cpus.c): no pinning for one node or one CPU;
 * with fewer CPUs than nodes node 0 has the first CPU to itself and the others take turns on the
 * rest; with enough CPUs every CPU goes to exactly one node, the shares differing by at most
 * one; and a pin gives the thread exactly the CPUs asked for, wrapping past the last. */
#include "vmm/host_cpus.h"

#include <criterion/criterion.h>
#include <sched.h>

Test(host_cpus, one_node_or_one_cpu_is_not_pinned)
{
	unsigned first = 99, count = 99;
	cr_assert_not(host_cpus_share(0, 1, 8, &first, &count));
	cr_assert_not(host_cpus_share(0, 3, 1, &first, &count));
	cr_assert_not(host_cpus_share(3, 3, 2, &first, &count), "node 3 of 3 does not exist");
	cr_assert_eq(first, 99);
	cr_assert_eq(count, 99);
}

Test(host_cpus, with_fewer_cpus_node_0_has_one_to_itself)
{
	static const unsigned want[5] = {0, 1, 2, 1, 2}; /* 5 nodes on 3 CPUs */
	for (unsigned node = 0; node < 5; node++) {
		unsigned first, count;
		cr_assert(host_cpus_share(node, 5, 3, &first, &count));
		cr_assert_eq(first, want[node], "node %u: CPU %u", node, first);
		cr_assert_eq(count, 1);
	}
	unsigned first, count;
	for (unsigned node = 1; node < 3; node++) { /* this host: 3 nodes, 2 CPUs */
		cr_assert(host_cpus_share(node, 3, 2, &first, &count));
		cr_assert_eq(first, 1);
	}
}

Test(host_cpus, with_enough_cpus_each_cpu_has_one_node)
{
	for (unsigned nodes = 2; nodes <= 9; nodes++) {
		for (unsigned cpus = nodes; cpus <= 40; cpus++) {
			unsigned owner[40], next = 0, smallest = ~0u, largest = 0;
			for (unsigned node = 0; node < nodes; node++) {
				unsigned first, count;
				cr_assert(host_cpus_share(node, nodes, cpus, &first, &count));
				cr_assert_eq(first, next, "%u nodes, %u CPUs: node %u starts at %u",
					     nodes, cpus, node, first);
				for (unsigned k = first; k < first + count; k++)
					owner[k] = node;
				next = first + count;
				smallest = count < smallest ? count : smallest;
				largest = count > largest ? count : largest;
			}
			cr_assert_eq(next, cpus, "%u nodes, %u CPUs: %u given out", nodes, cpus,
				     next);
			cr_assert(smallest >= 1 && largest - smallest <= 1);
			cr_assert_eq(owner[0], 0);
		}
	}
}

/* The allowed CPUs in order, as host_cpus numbers them. */
static unsigned allowed_list(int *out)
{
	cpu_set_t set;
	cr_assert_eq(sched_getaffinity(0, sizeof(set), &set), 0);
	unsigned n = 0;
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
		if (CPU_ISSET(cpu, &set))
			out[n++] = cpu;
	return n;
}

Test(host_cpus, a_pin_gives_exactly_the_cpus_asked_for)
{
	static int allowed[CPU_SETSIZE];
	unsigned total = allowed_list(allowed);
	cr_assert_eq(host_cpus_count(), total);
	host_cpus_pin(total - 1, 2); /* the last allowed CPU and, wrapping, the first */
	cpu_set_t now;
	cr_assert_eq(sched_getaffinity(0, sizeof(now), &now), 0);
	cr_assert(CPU_ISSET(allowed[total - 1], &now));
	cr_assert(CPU_ISSET(allowed[0], &now));
	cr_assert_eq(CPU_COUNT(&now), total >= 2 ? 2 : 1);
	host_cpus_pin(0, total); /* host_cpus still counts the CPUs it saw first */
	cr_assert_eq(host_cpus_count(), total);
	cr_assert_eq(sched_getaffinity(0, sizeof(now), &now), 0);
	cr_assert_eq((unsigned)CPU_COUNT(&now), total);
}
