/* The guest kernels of `vsmp-vmm bench guest`. Every CPU runs the same ring-3 kernel at once; the
 * BSP times it with its own TSC from the barrier that starts it to the barrier that ends it, so
 * no other CPU's clock enters a result (the clocks of different nodes may disagree: the tsc
 * kernel measures by how much). Each timed phase runs REPEATS times and the kernel prints its size
 * and the BSP's fewest cycles (a shared host disturbs single runs); the VMM turns cycles into
 * rates with the host's TSC rate.
 *
 * Memory: each CPU gets an arena in its own NUMA node's memory, from the SRAT (processor affinity
 * gives the CPU's domain, memory affinity the domain's ranges; the largest range above the image
 * is split evenly among the domain's CPUs). The VMM homes each node's range at that node, so once
 * a CPU has touched its arena it stays local.
 *
 *   compute     each CPU mixes a 16 KiB buffer of its arena; `iters` passes split over the CPUs
 *   stream      integer STREAM triad a = b + 3c on `iters` 8-byte elements per array per CPU:
 *               a warm-up (initialise, one triad), then timed phases of STREAM_PASSES triads
 *   contention  each CPU adds 1 to one shared counter `iters` times with lock xadd, counting how
 *               often another CPU got in between (a hand-off of the counter's line or page)
 *   tsc         the BSP and each other CPU in turn play `iters` round trips through one page,
 *               each side writing its TSC for the other to compare with its own; then the BSP
 *               prints its TSC
 */
#include <stdbool.h>
#include <stdint.h>

#include "firmware/testguest/acpi.h"
#include "firmware/testguest/bench_guest.h"
#include "firmware/testguest/console.h"
#include "firmware/testguest/smp.h"
#include "firmware/testguest/sync.h"
#include "firmware/testguest/x86.h"

#define PAGE_SIZE      4096ull
#define MAPPED_RAM_END 0xfe000000ull /* from here up the identity map is uncached MMIO */
#define MAX_AFFINITIES (4 * MAX_CPUS)
#define COMPUTE_WORDS  2048 /* 16 KiB: the compute kernel runs from the L1 cache */
#define REPEATS	       5    /* each timed phase; the fastest counts, as STREAM reports its best */
/* Per timed phase. The phase ends with a barrier, which across nodes is a few page round trips:
 * microseconds on an idle host, milliseconds each on a loaded one. With 10 passes (9 ms on one
 * node) that barrier could be half the phase; with 100 it is a small part (docs/benchmarks.md). */
#define STREAM_PASSES 100
#define STREAM_SCALAR 3
#define STREAM_BYTES  24 /* per element and pass, as STREAM counts them: 2 loads, 1 store */

struct arena {
	uint64_t base, size;
	uint32_t domain;
};

/* Written by the BSP before it starts the APs. */
static struct arena arenas[MAX_CPUS];

/* Page-aligned and page-sized, so that each shares its page with nothing else: the pages that
 * move between nodes are exactly those the kernel shares. */
static struct {
	volatile uint64_t value;
} counter __attribute__((aligned(PAGE_SIZE)));

static struct {
	volatile uint64_t seq;	 /* odd: the BSP's stamp, even: the AP's, rounds * 2 + 1: done */
	volatile uint64_t stamp; /* the sender's TSC when it sent */
	volatile int64_t ap_min; /* the AP's fastest (its TSC - the BSP's stamp) */
} mailbox __attribute__((aligned(PAGE_SIZE)));

extern const char image_end[];

static uint32_t cpu_domain(const struct acpi_affinity *aff, int count, uint32_t apic_id)
{
	for (int i = 0; i < count; i++)
		if (aff[i].is_cpu && aff[i].apic_id == apic_id)
			return aff[i].domain;
	fail("bench: APIC ID %u has no SRAT processor affinity", apic_id);
}

/* The largest range of `domain`'s memory above the image and inside the cached identity map. */
static struct arena domain_memory(const struct acpi_affinity *aff, int count, uint32_t domain)
{
	uint64_t floor = ((uintptr_t)image_end + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
	struct arena best = {0, 0, domain};
	for (int i = 0; i < count; i++) {
		const struct acpi_affinity *a = &aff[i];
		if (a->is_cpu || a->domain != domain || a->base >= MAPPED_RAM_END)
			continue;
		uint64_t room = MAPPED_RAM_END - a->base;
		uint64_t end = a->base + (a->length < room ? a->length : room);
		uint64_t start = (a->base > floor ? a->base : floor) + PAGE_SIZE - 1;
		start &= ~(PAGE_SIZE - 1);
		if (start < end && end - start > best.size)
			best = (struct arena){start, end - start, domain};
	}
	return best;
}

void bench_guest_place(uint64_t rsdp)
{
	static struct acpi_affinity aff[MAX_AFFINITIES];
	char err[160];
	int count = acpi_affinities(rsdp, aff, MAX_AFFINITIES, err, sizeof(err));
	if (count < 0)
		fail("bench: %s", err);
	uint32_t domains[MAX_CPUS];
	for (unsigned cpu = 0; cpu < ncpus; cpu++)
		domains[cpu] = cpu_domain(aff, count, cpus[cpu].apic_id);
	for (unsigned cpu = 0; cpu < ncpus; cpu++) {
		unsigned rank = 0, peers = 0;
		for (unsigned other = 0; other < ncpus; other++) {
			peers += domains[other] == domains[cpu];
			rank += other < cpu && domains[other] == domains[cpu];
		}
		struct arena mem = domain_memory(aff, count, domains[cpu]);
		uint64_t share = mem.size / peers & ~(PAGE_SIZE - 1);
		arenas[cpu] = (struct arena){mem.base + rank * share, share, domains[cpu]};
		say("bench arena cpu=%u apic_id=%u domain=%u base=0x%lx kib=%lu", cpu,
		    cpus[cpu].apic_id, domains[cpu], arenas[cpu].base, share >> 10);
	}
}

static uint64_t *arena_words(unsigned cpu, uint64_t words, const char *kernel)
{
	if (arenas[cpu].size / 8 < words)
		fail("bench %s: cpu %u needs %lu KiB, its node offers %lu KiB", kernel, cpu,
		     words * 8 >> 10, arenas[cpu].size >> 10);
	return (uint64_t *)(uintptr_t)arenas[cpu].base;
}

static uint64_t fewer(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* Barrier, then the BSP's TSC: the start or the end of a timed phase. */
static uint64_t phase_edge(unsigned cpu)
{
	smp_barrier();
	return cpu == 0 ? rdtsc() : 0;
}

static uint64_t mix_buffer(uint64_t *buf, uint64_t passes, uint64_t x)
{
	for (uint64_t p = 0; p < passes; p++) {
		for (unsigned i = 0; i < COMPUTE_WORDS; i++) {
			x = (x ^ buf[i]) * 0x9e3779b97f4a7c15ull;
			x ^= x >> 29;
			buf[i] = x;
		}
	}
	return x;
}

static void compute_kernel(unsigned cpu, uint32_t total_passes)
{
	uint64_t *buf = arena_words(cpu, COMPUTE_WORDS + 1, "compute");
	for (unsigned i = 0; i < COMPUTE_WORDS; i++)
		buf[i] = i + cpu;
	uint64_t passes = total_passes / ncpus + (cpu < total_passes % ncpus), best = UINT64_MAX;
	for (unsigned rep = 0; rep < REPEATS; rep++) {
		uint64_t start = phase_edge(cpu);
		buf[COMPUTE_WORDS] = mix_buffer(buf, passes, buf[COMPUTE_WORDS]);
		best = fewer(best, phase_edge(cpu) - start);
	}
	if (cpu == 0)
		say("bench compute vcpus=%u words=%lu cycles=%lu", ncpus,
		    (uint64_t)total_passes * COMPUTE_WORDS, best);
}

/* Not inlined: each call must really run, although every pass stores the same values. */
__attribute__((noinline)) static void triad(uint64_t *a, const uint64_t *b, const uint64_t *c,
					    uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		a[i] = b[i] + STREAM_SCALAR * c[i];
}

static void stream_kernel(unsigned cpu, uint32_t n)
{
	uint64_t *a = arena_words(cpu, 3 * (uint64_t)n, "stream"), *b = a + n, *c = b + n;
	uint64_t warm_start = phase_edge(cpu);
	for (uint64_t i = 0; i < n; i++) {
		b[i] = i;
		c[i] = i ^ cpu;
	}
	triad(a, b, c, n);
	uint64_t warmup = phase_edge(cpu) - warm_start, best = UINT64_MAX;
	for (unsigned rep = 0; rep < REPEATS; rep++) {
		uint64_t start = phase_edge(cpu);
		for (unsigned pass = 0; pass < STREAM_PASSES; pass++)
			triad(a, b, c, n);
		best = fewer(best, phase_edge(cpu) - start);
	}
	for (uint64_t i = 0; i < n; i++)
		if (a[i] != i + STREAM_SCALAR * (i ^ cpu))
			fail("bench stream: cpu %u has a wrong a[%lu]", cpu, i);
	if (cpu == 0)
		say("bench stream vcpus=%u bytes=%lu cycles=%lu warmup_cycles=%lu", ncpus,
		    (uint64_t)ncpus * n * STREAM_BYTES * STREAM_PASSES, best, warmup);
}

/* Besides the rate, counts hand-offs: adds whose result does not follow this CPU's previous one,
 * i.e. another CPU added in between and the counter's line (across nodes: its page) moved here. */
static uint64_t handoffs[MAX_CPUS];

static void contention_kernel(unsigned cpu, uint32_t adds)
{
	uint64_t expected = (uint64_t)ncpus * adds, best = UINT64_MAX, best_moved = 0;
	for (unsigned rep = 0; rep < REPEATS; rep++) {
		if (cpu == 0)
			counter.value = 0;
		uint64_t moved = 0, last = UINT64_MAX - 1;
		uint64_t start = phase_edge(cpu);
		for (uint32_t i = 0; i < adds; i++) {
			uint64_t got = atomic_fetch_add(&counter.value, 1);
			moved += got != last + 1;
			last = got;
		}
		handoffs[cpu] = moved;
		uint64_t cycles = phase_edge(cpu) - start;
		if (cpu != 0)
			continue;
		if (counter.value != expected)
			fail("bench contention: counter %lu, expected %lu", counter.value,
			     expected);
		moved = 0;
		for (unsigned i = 0; i < ncpus; i++)
			moved += handoffs[i];
		best_moved = cycles < best ? moved : best_moved;
		best = fewer(best, cycles);
	}
	if (cpu == 0)
		say("bench contention vcpus=%u ops=%lu cycles=%lu handoffs=%lu", ncpus, expected,
		    best, best_moved);
}

/* rdtsc may run before earlier loads complete; after lfence it cannot, so a receiver's time
 * is taken after it saw the message. */
static uint64_t rdtsc_after_loads(void)
{
	__asm__ volatile("lfence" : : : "memory");
	return rdtsc();
}

static void send_stamp(uint64_t seq)
{
	mailbox.stamp = rdtsc_after_loads();
	mailbox.seq = seq; /* after the stamp: x86 keeps stores in order */
}

/* Waits for message `seq` (or a later one: the AP's last reply is soon followed by "done") and
 * returns how far our TSC is past the sender's stamp: the one-way latency plus (our clock - the
 * sender's). */
static int64_t receive_stamp(uint64_t seq, unsigned from)
{
	WAIT_UNTIL(mailbox.seq >= seq, "bench tsc: message %lu from cpu %u never came", seq, from);
	return (int64_t)(rdtsc_after_loads() - mailbox.stamp);
}

/* Round trips between the BSP and `ap`. With the fastest one-way deltas d(BSP->AP) = L + skew and
 * d(AP->BSP) = L - skew, skew = (d1 - d2) / 2 is the AP's clock minus the BSP's, known to within
 * L = (d1 + d2) / 2, which is reported with it. */
static void tsc_pair(unsigned cpu, unsigned ap, uint32_t rounds)
{
	int64_t fastest = INT64_MAX;
	for (uint64_t r = 0; r < rounds; r++) {
		int64_t delta;
		if (cpu == 0) {
			send_stamp(2 * r + 1);
			delta = receive_stamp(2 * r + 2, ap);
		} else {
			delta = receive_stamp(2 * r + 1, 0);
			send_stamp(2 * r + 2);
		}
		fastest = delta < fastest ? delta : fastest;
	}
	if (cpu != 0) {
		mailbox.ap_min = fastest;
		mailbox.seq = 2 * (uint64_t)rounds + 1;
		return;
	}
	WAIT_UNTIL(mailbox.seq == 2 * (uint64_t)rounds + 1, "bench tsc: cpu %u did not finish", ap);
	int64_t to_ap = mailbox.ap_min;
	say("bench tsc cpu=%u apic_id=%u domain=%u skew_cycles=%ld one_way_cycles=%ld", ap,
	    cpus[ap].apic_id, arenas[ap].domain, (to_ap - fastest) / 2, (to_ap + fastest) / 2);
}

static void tsc_kernel(unsigned cpu, uint32_t rounds)
{
	for (unsigned ap = 1; ap < ncpus; ap++) {
		if (cpu == 0)
			mailbox.seq = 0;
		smp_barrier();
		if (cpu == 0 || cpu == ap)
			tsc_pair(cpu, ap, rounds);
	}
	/* For the VMM to compare with the host's TSC when the line arrives. */
	if (cpu == 0)
		say("bench tsc now=%lu", rdtsc());
}

bool bench_guest_mode(enum bench_mode mode)
{
	return mode == BENCH_COMPUTE || mode == BENCH_STREAM || mode == BENCH_CONTENTION ||
	       mode == BENCH_TSC;
}

void bench_guest_run(unsigned cpu, enum bench_mode mode, uint32_t iters)
{
	if (mode == BENCH_COMPUTE)
		compute_kernel(cpu, iters);
	else if (mode == BENCH_STREAM)
		stream_kernel(cpu, iters);
	else if (mode == BENCH_CONTENTION)
		contention_kernel(cpu, iters);
	else
		tsc_kernel(cpu, iters);
	smp_barrier();
	if (cpu != 0)
		smp_park();
	say("bench done vcpus=%u", ncpus);
	guest_exit(0);
}
