/* --profile (node_profile.h). Each vCPU counts into a table of its own without locks; at exit
 * they are merged into one and the top pages printed with their share of all counts (the tables'
 * "other" bucket, pages that found no slot, counts in the total). The fault pages come from the
 * engine, which counts them on the one thread that serves faults. Region offsets are turned
 * into guest-physical addresses (RAM above the PCI hole is not at its offset). */
#include "vmm/node_profile.h"

#include <stdio.h>
#include <stdlib.h>

#include "coherence/engine.h"
#include "firmware/layout.h"
#include "vmm/log.h"
#include "vmm/machine.h"
#include "vmm/page_counts.h"
#include "vmm/vcpu.h"

#define PROFILE_TOP 20

int node_profile_start(struct machine *m, char *err, size_t errlen)
{
	if (!m->opts.profile)
		return 0;
	m->rip_pages = calloc(m->vcpu_count ? m->vcpu_count : 1, sizeof(*m->rip_pages));
	if (!m->rip_pages) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (unsigned i = 0; i < m->vcpu_count; i++) {
		struct cpu *c = m->vcpus[i].cpu;
		if (!c->ops->count_code_pages) {
			log_info("--profile: RIP counts need the interpreter");
			return 0;
		}
		if (!(m->rip_pages[i] = page_counts_create())) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		c->ops->count_code_pages(c, m->rip_pages[i]);
	}
	return 0;
}

static void print_top(const struct page_counts *t, const char *what, bool ram_offsets)
{
	struct page_count top[PROFILE_TOP];
	size_t n = page_counts_top(t, top, PROFILE_TOP);
	uint64_t total = page_counts_total(t);
	log_info("profile: %s: %llu in all, %llu on pages past the table", what,
		 (unsigned long long)total, (unsigned long long)t->other);
	for (size_t k = 0; k < n; k++) {
		uint64_t addr = top[k].page << 12;
		if (ram_offsets)
			addr = layout_ram_offset_to_gpa(addr);
		log_info("profile:   0x%016llx %12llu %5.1f%%", (unsigned long long)addr,
			 (unsigned long long)top[k].count,
			 100.0 * (double)top[k].count / (double)total);
	}
}

static void print_code_pages(struct machine *m)
{
	if (!m->vcpu_count || !m->rip_pages[0])
		return;
	struct page_counts *all = page_counts_create();
	if (!all)
		return;
	for (unsigned i = 0; i < m->vcpu_count; i++)
		page_counts_merge(all, m->rip_pages[i]);
	print_top(all, "instructions per guest code page (linear RIP)", false);
	page_counts_destroy(all);
}

void node_profile_print(struct machine *m)
{
	if (!m->opts.profile)
		return;
	print_code_pages(m);
	if (!m->engine)
		return;
	print_top(engine_fault_pages(m->engine, false), "read faults per guest-physical page",
		  true);
	print_top(engine_fault_pages(m->engine, true), "write faults per guest-physical page",
		  true);
}

void node_profile_destroy(struct machine *m)
{
	if (!m->rip_pages)
		return;
	for (unsigned i = 0; i < m->vcpu_count; i++)
		page_counts_destroy(m->rip_pages[i]);
	free(m->rip_pages);
}
