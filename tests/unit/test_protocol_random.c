/* Randomized exploration of the coherence protocol on the simulated cluster of coherence_sim.h:
 * thousands of seeded interleavings of reads, writes and evictions by random nodes, with random
 * delivery order across links (FIFO within each), checking SWMR and the data-value invariant after
 * every step and, once drained, that every access completed and every directory matches the
 * copies. A failure names its seed; VSMP_PROTOCOL_SEED=n replays that one. */
#include "tests/unit/coherence_sim.h"

static uint64_t next_random(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void deliver_random(struct sim *sim, uint64_t *rng)
{
	size_t pick = next_random(rng) % sim->in_flight;
	for (uint32_t from = 0; from < sim->node_count; from++) {
		for (uint32_t to = 0; to < sim->node_count; to++) {
			size_t len = link_len(sim, from, to);
			if (pick < len) {
				deliver(sim, from, to);
				return;
			}
			pick -= len;
		}
	}
}

static bool retry_random(struct sim *sim, uint64_t *rng)
{
	size_t waiting = 0;
	for (size_t i = 0; i < sim->access_count; i++)
		waiting += sim->accesses[i].state == ACC_RETRY;
	if (!waiting)
		return false;
	size_t pick = next_random(rng) % waiting;
	for (size_t i = 0; i < sim->access_count; i++) {
		if (sim->accesses[i].state == ACC_RETRY && pick-- == 0)
			return retry_one(sim, i);
	}
	return false;
}

/* The engine may try to evict any page; only S and E copies of pages homed elsewhere can go. */
static void evict_random(struct sim *sim, uint64_t *rng)
{
	char err[256];
	uint32_t node = next_random(rng) % sim->node_count;
	uint64_t page = next_random(rng) % sim->page_count;
	enum coh_page_state st = state_at(sim, node, page);
	bool allowed = home_of(sim, page) != node && (st == COH_S || st == COH_E);
	int rc = coh_evict(sim->nodes[node].coh, page, err, sizeof(err));
	if (rc != (allowed ? 0 : -1))
		sim_fail(sim, "evict page %llu at node %u in %s returned %d: %s",
			 (unsigned long long)page, node, coh_page_state_name(st), rc, err);
	check_invariant(sim);
}

/* Random accesses, evictions, deliveries (any link, FIFO within it) and retries, then a drain:
 * afterwards every access must have completed and the directories must match the copies.
 * Homes are striped by 1 or 2 pages, random ranges, or first-touch; at most 8 nodes. */
static void explore(uint64_t seed, uint32_t nodes, uint64_t pages, unsigned accesses)
{
	uint64_t rng = seed;
	uint64_t ranges[8] = {0};
	for (uint64_t page = 0; page < pages; page++)
		ranges[next_random(&rng) % nodes]++;
	struct coh_home_config homes = {COH_HOME_STRIPED, 1 + next_random(&rng) % 2, NULL, NULL};
	uint64_t policy = next_random(&rng) % 3;
	if (policy == 1)
		homes = (struct coh_home_config){COH_HOME_RANGES, 0, ranges, NULL};
	else if (policy == 2)
		homes.policy = COH_HOME_FIRST_TOUCH;
	struct sim *sim = sim_new_homes(nodes, pages, homes, seed);
	unsigned issued = 0;
	for (unsigned step = 0;; step++) {
		if (step > 100000)
			sim_fail(sim, "no quiescence after %u steps", step);
		unsigned choice = next_random(&rng) % 10;
		if (choice < 3 && issued < accesses) {
			issued++;
			sim_access(sim, next_random(&rng) % nodes, next_random(&rng) % pages,
				   next_random(&rng) % 2);
		} else if (choice == 3 && issued < accesses) {
			evict_random(sim, &rng);
		} else if (choice == 4 && retry_random(sim, &rng)) {
			continue;
		} else if (sim->in_flight) {
			deliver_random(sim, &rng);
		} else if (!retry_random(sim, &rng) && issued == accesses) {
			break;
		}
	}
	check_quiescent(sim);
	sim_free(sim);
}

static void explore_seed(uint64_t seed)
{
	static const uint32_t node_counts[] = {2, 3, 5};
	explore(seed, node_counts[seed % 3], 1 + (seed / 3) % 3, 48);
}

Test(protocol, random_interleavings_keep_swmr_and_complete)
{
	const char *replay = getenv("VSMP_PROTOCOL_SEED");
	if (replay) {
		explore_seed(strtoull(replay, NULL, 0));
		return;
	}
	for (uint64_t seed = 1; seed <= 3000; seed++)
		explore_seed(seed);
}
