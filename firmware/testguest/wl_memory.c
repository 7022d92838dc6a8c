/* memory: a working set of tg.mem_mib MiB at the top of RAM (below the MMIO hole), which in
 * memory mode is memory other nodes lend, written, read back and rewritten so that every byte
 * must survive eviction, write-back and refetch. Only run when named (tg.run=...,memory).
 *
 * Each CPU takes an equal share of the pages. It writes every word w with f(w), reads its share
 * back, then rewrites each word as f(w) * K + 1 visiting its pages in a scattered order (a
 * stride prime to the share), so that dirty pages leave the cache out of order. The BSP then
 * reads the whole set and checks every word and a checksum of all of them. */
#include <stdint.h>

#include "firmware/testguest/console.h"
#include "firmware/testguest/smp.h"
#include "firmware/testguest/workloads.h"

#define PAGE_BYTES    4096ull
#define PAGE_WORDS    (PAGE_BYTES / 8)
#define HOLE_START    0xC0000000ull /* the identity map ends here for RAM */
#define MIN_BASE      (16ull << 20) /* above the image and its stacks */
#define REWRITE_K     0x9e3779b97f4a7c15ull
#define SCATTER_PRIME 7919ull

uint64_t workload_ram_bytes;
uint32_t workload_mem_mib;

/* splitmix64 of the word's index: every word distinct and unguessable from its neighbours. */
static uint64_t first_value(uint64_t word)
{
	uint64_t z = word + 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t final_value(uint64_t word)
{
	return first_value(word) * REWRITE_K + 1;
}

static uint64_t set_pages(void)
{
	return (uint64_t)workload_mem_mib << 20 >> 12;
}

static volatile uint64_t *set_base(void)
{
	uint64_t top = workload_ram_bytes < HOLE_START ? workload_ram_bytes : HOLE_START;
	top &= ~(PAGE_BYTES - 1);
	uint64_t bytes = set_pages() * PAGE_BYTES;
	if (top < MIN_BASE + bytes)
		fail("memory: tg.mem_mib=%u does not fit below %lu MiB of RAM", workload_mem_mib,
		     top >> 20);
	return (volatile uint64_t *)(uintptr_t)(top - bytes);
}

static uint64_t greatest_common_divisor(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

void memory_run(unsigned cpu)
{
	volatile uint64_t *set = set_base();
	uint64_t share = set_pages() / ncpus, first = cpu * share;
	if (cpu + 1 == ncpus)
		share = set_pages() - first;
	for (uint64_t w = first * PAGE_WORDS; w < (first + share) * PAGE_WORDS; w++)
		set[w] = first_value(w);
	for (uint64_t w = first * PAGE_WORDS; w < (first + share) * PAGE_WORDS; w++)
		if (set[w] != first_value(w))
			fail("memory: cpu %u read 0x%lx from word %lu, wrote 0x%lx", cpu, set[w], w,
			     first_value(w));
	uint64_t stride = SCATTER_PRIME;
	while (share && greatest_common_divisor(stride, share) != 1)
		stride++;
	for (uint64_t i = 0; i < share; i++) {
		uint64_t page = first + i * stride % share;
		for (uint64_t w = page * PAGE_WORDS; w < (page + 1) * PAGE_WORDS; w++)
			set[w] = set[w] * REWRITE_K + 1;
	}
}

void memory_report(void)
{
	volatile uint64_t *set = set_base();
	uint64_t sum = 0, expected = 0;
	for (uint64_t w = 0; w < set_pages() * PAGE_WORDS; w++) {
		uint64_t value = set[w];
		if (value != final_value(w))
			fail("memory: word %lu (GPA 0x%lx) holds 0x%lx, expected 0x%lx", w,
			     (uint64_t)(uintptr_t)&set[w], value, final_value(w));
		sum = sum * 31 + value;
		expected = expected * 31 + final_value(w);
	}
	if (sum != expected)
		fail("memory: checksum 0x%lx, expected 0x%lx", sum, expected);
	say("memory ok vcpus=%u mib=%u base=0x%lx pages=%lu checksum=0x%lx", ncpus,
	    workload_mem_mib, (uint64_t)(uintptr_t)set, set_pages(), sum);
}
