/* Host CPU placement for nodes that share a host (host_cpus.h). The allowed set is read once,
 * so that a process that pinned itself and then starts nodes (bench memory forks its replicas
 * cluster) still places them over every CPU it was given, not over its own one. */
#include "vmm/host_cpus.h"

#include <errno.h>
#include <sched.h>
#include <string.h>

#include "vmm/log.h"

static const cpu_set_t *allowed_cpus(void)
{
	static cpu_set_t allowed;
	static bool known;
	if (!known && sched_getaffinity(0, sizeof(allowed), &allowed) == 0 &&
	    CPU_COUNT(&allowed) > 0)
		known = true;
	return known ? &allowed : NULL;
}

unsigned host_cpus_count(void)
{
	const cpu_set_t *allowed = allowed_cpus();
	return allowed ? (unsigned)CPU_COUNT(allowed) : 1;
}

bool host_cpus_share(unsigned node, unsigned nodes, unsigned cpus, unsigned *first, unsigned *count)
{
	if (nodes < 2 || cpus < 2 || node >= nodes)
		return false;
	if (cpus < nodes) {
		*first = node == 0 ? 0 : 1 + (node - 1) % (cpus - 1);
		*count = 1;
		return true;
	}
	unsigned base = cpus / nodes, extra = cpus % nodes;
	*first = node * base + (node < extra ? node : extra);
	*count = base + (node < extra);
	return true;
}

void host_cpus_pin(unsigned first, unsigned count)
{
	const cpu_set_t *allowed = allowed_cpus();
	if (!allowed || count == 0)
		return;
	unsigned total = (unsigned)CPU_COUNT(allowed), seen = 0;
	cpu_set_t mine;
	CPU_ZERO(&mine);
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (!CPU_ISSET(cpu, allowed))
			continue;
		unsigned k = seen++;
		if ((k + total - first % total) % total < count)
			CPU_SET(cpu, &mine);
	}
	if (sched_setaffinity(0, sizeof(mine), &mine) < 0)
		log_info("cannot pin to %u CPUs from CPU %u on: %s", count, first, strerror(errno));
}
