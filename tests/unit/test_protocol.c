/* The coherence protocol's classic cases and races, driven step by step on the simulated cluster
 * of coherence_sim.h: the test chooses which message is delivered when, and checks the messages,
 * the states and their order. Page p is homed at node p % N (striped by 1 page) unless said. */
#include "tests/unit/coherence_sim.h"

static struct sim *sim_new(uint32_t node_count, uint64_t page_count)
{
	return sim_new_homes(node_count, page_count,
			     (struct coh_home_config){.policy = COH_HOME_STRIPED}, 0);
}

static bool sim_done(const struct sim *sim, size_t access)
{
	return sim->accesses[access].state == ACC_DONE;
}

static uint16_t link_head_type(const struct sim *sim, uint32_t from, uint32_t to)
{
	const struct sim_msg *m = sim->links[from * sim->node_count + to].head;
	cr_assert_not_null(m, "no message from %u to %u", from, to);
	return m->type;
}

static void expect_and_deliver(struct sim *sim, uint32_t from, uint32_t to, uint16_t type)
{
	cr_assert_eq(link_head_type(sim, from, to), type, "%u->%u carries %s, expected %s", from,
		     to, coh_msg_type_name(link_head_type(sim, from, to)), coh_msg_type_name(type));
	deliver(sim, from, to);
}

static const struct dir_entry *dir_entry_of(struct sim *sim, uint64_t page)
{
	const struct coh_directory *dir;
	uint64_t slot;
	return home_entry(sim, page, &dir, &slot);
}

static bool is_sharer(struct sim *sim, uint64_t page, uint32_t node)
{
	const struct coh_directory *dir;
	uint64_t slot;
	home_entry(sim, page, &dir, &slot);
	return dir_is_sharer(dir, slot, node);
}

static size_t trace_count(const struct sim *sim, bool delivered, uint16_t type)
{
	size_t count = 0;
	for (size_t i = 0; i < sim->trace_len; i++)
		count += sim->trace[i].delivered == delivered && sim->trace[i].type == type;
	return count;
}

/* Index in the trace of the first event matching, or SIZE_MAX. */
static size_t trace_find(const struct sim *sim, bool delivered, uint32_t from, uint32_t to,
			 uint16_t type)
{
	for (size_t i = 0; i < sim->trace_len; i++) {
		const struct sim_event *e = &sim->trace[i];
		if (e->delivered == delivered && e->from == from && e->to == to && e->type == type)
			return i;
	}
	return SIZE_MAX;
}

Test(protocol, read_miss_served_by_home)
{
	struct sim *sim = sim_new(2, 2);
	size_t w = sim_access(sim, 0, 0, true); /* the home writes its own page: no message */
	cr_assert(sim_done(sim, w));
	cr_assert_eq(sim->in_flight, 0);
	size_t r = sim_access(sim, 1, 0, false);
	cr_assert_not(sim_done(sim, r));
	expect_and_deliver(sim, 1, 0, COH_MSG_READ_REQ);
	cr_assert_eq(state_at(sim, 0, 0), COH_S, "the home's writable copy is downgraded");
	expect_and_deliver(sim, 0, 1, COH_MSG_READ_DATA);
	cr_assert(sim_done(sim, r));
	cr_assert_eq(version_of(sim->nodes[1].pages[0].data), 1);
	cr_assert_eq(state_at(sim, 1, 0), COH_S);
	cr_assert_eq(dir_entry_of(sim, 0)->state, DIR_SHARED);
	cr_assert(is_sharer(sim, 0, 1));
	check_quiescent(sim);
	sim_free(sim);
}

Test(protocol, home_read_of_untouched_page_maps_it_writable)
{
	struct sim *sim = sim_new(3, 3);
	size_t r = sim_access(sim, 2, 2, false);
	cr_assert(sim_done(sim, r));
	cr_assert_eq(state_at(sim, 2, 2), COH_E);
	cr_assert_eq(sim->nodes[2].pages[2].prot, PROT_RW);
	cr_assert_eq(sim->in_flight, 0);
	sim_free(sim);
}

Test(protocol, read_of_page_exclusive_at_third_node)
{
	struct sim *sim = sim_new(3, 3);
	size_t w = sim_access(sim, 2, 0, true);
	sim_run(sim);
	cr_assert(sim_done(sim, w));
	cr_assert_eq(state_at(sim, 2, 0), COH_E);
	cr_assert_eq(state_at(sim, 0, 0), COH_I, "the home gave its copy up");
	size_t r = sim_access(sim, 1, 0, false);
	expect_and_deliver(sim, 1, 0, COH_MSG_READ_REQ);
	cr_assert_eq(dir_entry_of(sim, 0)->state, DIR_FETCHING);
	expect_and_deliver(sim, 0, 2, COH_MSG_FETCH);
	cr_assert_eq(state_at(sim, 2, 0), COH_S);
	expect_and_deliver(sim, 2, 0, COH_MSG_FETCH_DATA);
	cr_assert_eq(state_at(sim, 0, 0), COH_S, "the home keeps the fetched data");
	expect_and_deliver(sim, 0, 1, COH_MSG_READ_DATA);
	cr_assert(sim_done(sim, r));
	cr_assert_eq(version_of(sim->nodes[1].pages[0].data), 1);
	cr_assert(is_sharer(sim, 0, 1) && is_sharer(sim, 0, 2));
	check_quiescent(sim);
	sim_free(sim);
}

static void write_invalidates_sharers(uint32_t node_count, uint32_t sharers)
{
	struct sim *sim = sim_new(node_count, node_count);
	uint32_t writer = sharers + 1;
	for (uint32_t n = 1; n <= sharers; n++)
		sim_access(sim, n, 0, false);
	sim_run(sim);
	size_t w = sim_access(sim, writer, 0, true);
	expect_and_deliver(sim, writer, 0, COH_MSG_WRITE_REQ);
	cr_assert_eq(dir_entry_of(sim, 0)->state, DIR_INVALIDATING);
	for (uint32_t n = 1; n <= sharers; n++) {
		expect_and_deliver(sim, 0, n, COH_MSG_INV);
		cr_assert_eq(state_at(sim, n, 0), COH_I);
		cr_assert_eq(link_len(sim, 0, writer), 0, "granted before every INV_ACK");
		expect_and_deliver(sim, n, 0, COH_MSG_INV_ACK);
	}
	cr_assert_eq(link_head_type(sim, 0, writer), COH_MSG_WRITE_GRANT);
	deliver(sim, 0, writer);
	cr_assert(sim_done(sim, w));
	size_t grant = trace_find(sim, false, 0, writer, COH_MSG_WRITE_GRANT);
	for (uint32_t n = 1; n <= sharers; n++)
		cr_assert_lt(trace_find(sim, true, n, 0, COH_MSG_INV_ACK), grant);
	cr_assert(sim->trace[grant].has_data, "the writer had no copy");
	cr_assert_eq(state_at(sim, writer, 0), COH_E);
	cr_assert_eq(state_at(sim, 0, 0), COH_I);
	check_quiescent(sim);
	sim_free(sim);
}

Test(protocol, write_with_one_sharer_waits_for_its_ack)
{
	write_invalidates_sharers(3, 1);
}

Test(protocol, write_with_two_sharers_waits_for_both_acks)
{
	write_invalidates_sharers(5, 2);
}

Test(protocol, upgrade_from_shared_is_granted_without_data)
{
	struct sim *sim = sim_new(2, 2);
	sim_access(sim, 1, 0, false);
	sim_run(sim);
	size_t w = sim_access(sim, 1, 0, true);
	cr_assert_eq(state_at(sim, 1, 0), COH_SM_D);
	expect_and_deliver(sim, 1, 0, COH_MSG_WRITE_REQ);
	expect_and_deliver(sim, 0, 1, COH_MSG_WRITE_GRANT);
	cr_assert_not(sim->trace[sim->trace_len - 1].has_data);
	cr_assert(sim_done(sim, w));
	cr_assert_eq(version_of(sim->nodes[1].pages[0].data), 1);
	check_quiescent(sim);
	sim_free(sim);
}

/* Node 1's upgrade is in flight when the home, serving node 2's upgrade first, invalidates it:
 * node 1's request is then served from node 2's copy and its grant must carry the data. */
Test(protocol, upgrade_crossing_an_invalidation_gets_data)
{
	struct sim *sim = sim_new(3, 3);
	sim_access(sim, 1, 0, false);
	sim_access(sim, 2, 0, false);
	sim_run(sim);
	size_t w1 = sim_access(sim, 1, 0, true);
	size_t w2 = sim_access(sim, 2, 0, true);
	expect_and_deliver(sim, 2, 0, COH_MSG_WRITE_REQ);
	expect_and_deliver(sim, 0, 1, COH_MSG_INV);
	cr_assert_eq(state_at(sim, 1, 0), COH_IM_D, "the pending upgrade now needs data");
	expect_and_deliver(sim, 1, 0, COH_MSG_WRITE_REQ);
	cr_assert_eq(dir_entry_of(sim, 0)->queue_len, 1, "queued behind node 2's upgrade");
	expect_and_deliver(sim, 1, 0, COH_MSG_INV_ACK);
	expect_and_deliver(sim, 0, 2, COH_MSG_WRITE_GRANT);
	cr_assert_not(sim->trace[sim->trace_len - 1].has_data);
	cr_assert(sim_done(sim, w2));
	expect_and_deliver(sim, 0, 2, COH_MSG_FETCH_INV);
	expect_and_deliver(sim, 2, 0, COH_MSG_FETCH_INV_DATA);
	expect_and_deliver(sim, 0, 1, COH_MSG_WRITE_GRANT);
	cr_assert(sim->trace[sim->trace_len - 1].has_data);
	cr_assert(sim_done(sim, w1));
	cr_assert_eq(version_of(sim->nodes[1].pages[0].data), 2);
	check_quiescent(sim);
	sim_free(sim);
}

/* Both upgrades reach the home before any INV does: the second waits in the FIFO. */
Test(protocol, concurrent_upgrades_by_two_sharers)
{
	struct sim *sim = sim_new(3, 3);
	sim_access(sim, 1, 0, false);
	sim_access(sim, 2, 0, false);
	sim_run(sim);
	size_t w1 = sim_access(sim, 1, 0, true);
	size_t w2 = sim_access(sim, 2, 0, true);
	deliver(sim, 1, 0);
	deliver(sim, 2, 0);
	cr_assert_eq(dir_entry_of(sim, 0)->queue_len, 1);
	sim_run(sim);
	cr_assert(sim_done(sim, w1) && sim_done(sim, w2));
	cr_assert_eq(sim->last_version[0], 2);
	cr_assert_eq(state_at(sim, 2, 0), COH_E, "served in arrival order");
	check_quiescent(sim);
	sim_free(sim);
}

Test(protocol, reads_queue_behind_a_busy_page)
{
	struct sim *sim = sim_new(5, 5);
	sim_access(sim, 1, 0, true);
	sim_run(sim);
	size_t r[3];
	for (uint32_t n = 2; n <= 4; n++) {
		r[n - 2] = sim_access(sim, n, 0, false);
		deliver(sim, n, 0);
	}
	cr_assert_eq(dir_entry_of(sim, 0)->state, DIR_FETCHING);
	cr_assert_eq(dir_entry_of(sim, 0)->queue_len, 2);
	size_t home_read = sim_access(sim, 0, 0, false);
	cr_assert_eq(dir_entry_of(sim, 0)->queue_len, 3, "the home's own read queues too");
	expect_and_deliver(sim, 0, 1, COH_MSG_FETCH);
	expect_and_deliver(sim, 1, 0, COH_MSG_FETCH_DATA);
	cr_assert_eq(dir_entry_of(sim, 0)->queue_len, 0);
	cr_assert(sim_done(sim, home_read));
	for (uint32_t n = 2; n <= 4; n++)
		expect_and_deliver(sim, 0, n, COH_MSG_READ_DATA);
	for (int i = 0; i < 3; i++)
		cr_assert(sim_done(sim, r[i]));
	cr_assert_eq(trace_count(sim, false, COH_MSG_FETCH), 1);
	check_quiescent(sim);
	sim_free(sim);
}

Test(protocol, home_write_invalidates_then_fetches)
{
	struct sim *sim = sim_new(3, 3);
	sim_access(sim, 1, 0, false);
	sim_access(sim, 2, 0, false);
	sim_run(sim);
	size_t w = sim_access(sim, 0, 0, true);
	cr_assert_eq(dir_entry_of(sim, 0)->state, DIR_INVALIDATING);
	sim_run(sim);
	cr_assert(sim_done(sim, w));
	cr_assert_eq(dir_entry_of(sim, 0)->state, DIR_UNOWNED);
	sim_access(sim, 2, 0, true);
	sim_run(sim);
	size_t r = sim_access(sim, 0, 0, false);
	expect_and_deliver(sim, 0, 2, COH_MSG_FETCH);
	expect_and_deliver(sim, 2, 0, COH_MSG_FETCH_DATA);
	cr_assert(sim_done(sim, r));
	cr_assert_eq(version_of(sim->nodes[0].pages[0].data), 2);
	check_quiescent(sim);
	sim_free(sim);
}

Test(protocol, clean_eviction_tells_the_home)
{
	struct sim *sim = sim_new(2, 2);
	char err[256];
	sim_access(sim, 1, 0, false);
	sim_run(sim);
	cr_assert_eq(coh_evict(sim->nodes[1].coh, 0, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(sim->nodes[1].pages[0].prot, PROT_NONE);
	expect_and_deliver(sim, 1, 0, COH_MSG_EVICT);
	cr_assert_eq(dir_entry_of(sim, 0)->state, DIR_UNOWNED);
	cr_assert_eq(coh_evict(sim->nodes[1].coh, 0, err, sizeof(err)), -1, "nothing to evict");
	cr_assert_eq(coh_evict(sim->nodes[0].coh, 0, err, sizeof(err)), -1, "home page");
	cr_assert(strstr(err, "homed here"), "%s", err);
	check_quiescent(sim);
	sim_free(sim);
}

Test(protocol, dirty_eviction_writes_back)
{
	struct sim *sim = sim_new(2, 2);
	char err[256];
	sim_access(sim, 1, 0, true);
	sim_run(sim);
	cr_assert_eq(coh_evict(sim->nodes[1].coh, 0, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(state_at(sim, 1, 0), COH_MI_A);
	expect_and_deliver(sim, 1, 0, COH_MSG_WRITEBACK);
	cr_assert_eq(version_of(sim->nodes[0].pages[0].data), 1);
	expect_and_deliver(sim, 0, 1, COH_MSG_WB_ACK);
	cr_assert_eq(state_at(sim, 1, 0), COH_I);
	expect_and_deliver(sim, 1, 0, COH_MSG_EVICT);
	cr_assert_eq(dir_entry_of(sim, 0)->state, DIR_UNOWNED);
	size_t r = sim_access(sim, 0, 0, false);
	cr_assert(sim_done(sim, r), "the home serves itself from the written-back data");
	check_quiescent(sim);
	sim_free(sim);
}

/* The home fetches from an owner whose writeback is in flight: the owner answers from the copy it
 * kept, and the writeback turns out stale. */
Test(protocol, fetch_crossing_a_writeback)
{
	struct sim *sim = sim_new(3, 3);
	char err[256];
	sim_access(sim, 1, 0, true);
	sim_run(sim);
	cr_assert_eq(coh_evict(sim->nodes[1].coh, 0, err, sizeof(err)), 0, "%s", err);
	size_t w = sim_access(sim, 2, 0, true);
	expect_and_deliver(sim, 2, 0, COH_MSG_WRITE_REQ);
	expect_and_deliver(sim, 0, 1, COH_MSG_FETCH_INV);
	cr_assert_eq(state_at(sim, 1, 0), COH_II_A);
	expect_and_deliver(sim, 1, 0, COH_MSG_WRITEBACK);
	cr_assert_eq(dir_entry_of(sim, 0)->queue_len, 1);
	sim_run(sim);
	cr_assert(sim_done(sim, w));
	cr_assert_eq(state_at(sim, 2, 0), COH_E);
	cr_assert_eq(state_at(sim, 1, 0), COH_I);
	check_quiescent(sim);
	sim_free(sim);
}

Test(protocol, no_cap_on_nodes_130)
{
	const uint32_t nodes = 130;
	struct sim *sim = sim_new(nodes, 2);
	for (uint32_t n = 1; n < nodes - 1; n++)
		sim_access(sim, n, 0, false);
	sim_run(sim);
	cr_assert(is_sharer(sim, 0, 64) && is_sharer(sim, 0, 128));
	cr_assert_eq(dir_sharer_count(coh_directory(sim->nodes[0].coh), 0), nodes - 2);
	size_t w = sim_access(sim, nodes - 1, 0, true);
	deliver(sim, nodes - 1, 0);
	for (uint32_t n = 1; n < nodes - 1; n++) {
		cr_assert_eq(link_len(sim, 0, nodes - 1), 0);
		expect_and_deliver(sim, 0, n, COH_MSG_INV);
		expect_and_deliver(sim, n, 0, COH_MSG_INV_ACK);
	}
	expect_and_deliver(sim, 0, nodes - 1, COH_MSG_WRITE_GRANT);
	cr_assert(sim_done(sim, w));
	cr_assert_eq(state_at(sim, 129, 0), COH_E);
	size_t r = sim_access(sim, 128, 1, false); /* page 1 is homed at node 1 */
	sim_run(sim);
	cr_assert(sim_done(sim, r));
	check_quiescent(sim);
	sim_free(sim);
}

Test(protocol, ranges_home_pages_where_the_guest_puts_them)
{
	const uint64_t ranges[] = {2, 0, 3};
	struct coh_home_config homes = {COH_HOME_RANGES, 0, ranges, NULL};
	struct sim *sim = sim_new_homes(3, 5, homes, 0);
	cr_assert_eq(home_of(sim, 1), 0);
	cr_assert_eq(home_of(sim, 2), 2);
	sim_access(sim, 1, 4, true);
	sim_access(sim, 2, 0, false);
	sim_run(sim);
	check_quiescent(sim);
	sim_free(sim);
}

/* --- First-touch homes: page p's registrar is node p % N, its home the first node to touch it */

static struct sim *sim_first_touch(uint32_t node_count, uint64_t page_count)
{
	return sim_new_homes(node_count, page_count,
			     (struct coh_home_config){.policy = COH_HOME_FIRST_TOUCH}, 0);
}

/* The asking thread retries once the registrar answers, and then takes the normal path. */
static void answer_and_retry(struct sim *sim, uint32_t node, uint32_t registrar, size_t access)
{
	expect_and_deliver(sim, node, registrar, COH_MSG_HOME_QUERY);
	expect_and_deliver(sim, registrar, node, COH_MSG_HOME_IS);
	cr_assert(retry_one(sim, access), "the answer wakes the fault");
}

Test(protocol_first_touch, the_first_node_to_touch_a_page_homes_it)
{
	struct sim *sim = sim_first_touch(3, 3);
	size_t w = sim_access(sim, 2, 0, true);
	cr_assert_eq(home_of(sim, 0), COH_HOME_UNKNOWN, "decided by the registrar, node 0");
	answer_and_retry(sim, 2, 0, w);
	cr_assert(sim_done(sim, w), "the home maps its untouched page at once");
	cr_assert_eq(home_of(sim, 0), 2);
	size_t r = sim_access(sim, 1, 0, false);
	answer_and_retry(sim, 1, 0, r);
	expect_and_deliver(sim, 1, 2, COH_MSG_READ_REQ);
	expect_and_deliver(sim, 2, 1, COH_MSG_READ_DATA);
	cr_assert(sim_done(sim, r));
	size_t r0 = sim_access(sim, 0, 0, false);
	expect_and_deliver(sim, 0, 2, COH_MSG_READ_REQ); /* the registrar knows: no question */
	expect_and_deliver(sim, 2, 0, COH_MSG_READ_DATA);
	cr_assert(sim_done(sim, r0));
	cr_assert_eq(trace_count(sim, false, COH_MSG_HOME_QUERY), 2);
	check_quiescent(sim);
	sim_free(sim);
}

Test(protocol_first_touch, the_registrar_touching_first_asks_nobody)
{
	struct sim *sim = sim_first_touch(3, 3);
	size_t w = sim_access(sim, 1, 1, true);
	cr_assert(sim_done(sim, w));
	cr_assert_eq(sim->in_flight, 0);
	cr_assert_eq(home_of(sim, 1), 1);
	sim_free(sim);
}

Test(protocol_first_touch, concurrent_first_touches_agree_on_one_home)
{
	struct sim *sim = sim_first_touch(3, 3);
	size_t a = sim_access(sim, 1, 0, true);
	size_t b = sim_access(sim, 2, 0, true);
	expect_and_deliver(sim, 2, 0, COH_MSG_HOME_QUERY);
	expect_and_deliver(sim, 1, 0, COH_MSG_HOME_QUERY);
	sim_run(sim);
	cr_assert(sim_done(sim, a) && sim_done(sim, b));
	cr_assert_eq(home_of(sim, 0), 2, "the first question the registrar saw wins");
	check_quiescent(sim);
	sim_free(sim);
}

/* Node 2 learns that node 1 homes page 0 and asks it before the registrar's answer reaches node 1:
 * node 1 serves the read as the home, and its own write then invalidates node 2's copy. */
Test(protocol_first_touch, a_request_may_reach_the_home_before_its_answer)
{
	struct sim *sim = sim_first_touch(3, 3);
	size_t w = sim_access(sim, 1, 0, true);
	expect_and_deliver(sim, 1, 0, COH_MSG_HOME_QUERY); /* HOME_IS(1) waits on link 0->1 */
	size_t r = sim_access(sim, 2, 0, false);
	answer_and_retry(sim, 2, 0, r);
	expect_and_deliver(sim, 2, 1, COH_MSG_READ_REQ);
	expect_and_deliver(sim, 1, 2, COH_MSG_READ_DATA);
	cr_assert(sim_done(sim, r));
	cr_assert(!sim_done(sim, w));
	expect_and_deliver(sim, 0, 1, COH_MSG_HOME_IS);
	cr_assert(retry_one(sim, w));
	expect_and_deliver(sim, 1, 2, COH_MSG_INV);
	expect_and_deliver(sim, 2, 1, COH_MSG_INV_ACK);
	cr_assert(sim_done(sim, w));
	check_quiescent(sim);
	sim_free(sim);
}
