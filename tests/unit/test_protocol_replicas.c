/* Memory mode's replicas at the protocol level, on the simulated cluster: a write-back completes
 * only once the mirror has the data, and when a lending node dies the survivors take over its
 * range with coh_set_range and lose no write, whatever was in flight (a write-back, a read
 * request, a dirty copy held by the requester). Node 0 is the compute node (it homes nothing);
 * the others lend memory. The engine's part (who is ready when) is tested by the integration
 * tests; here the test calls coh_set_range on each survivor as the engine would. */
#include "tests/unit/coherence_sim.h"

static char err[256];

/* Nodes 1 and 2 lend 4 pages each and mirror each other; node 3, if any, lends nothing (a spare).
 */
static struct sim *lenders(uint32_t nodes)
{
	static const uint64_t ranges[] = {0, 4, 4, 0};
	static const uint32_t mirrors[] = {COH_NO_MIRROR, 2, 1, COH_NO_MIRROR};
	struct coh_home_config homes = {COH_HOME_RANGES, 0, ranges, mirrors};
	return sim_new_homes(nodes, 8, homes, 0);
}

static void write_page(struct sim *sim, uint64_t page)
{
	sim_access(sim, 0, page, true);
	sim_run(sim);
}

static void evict(struct sim *sim, uint64_t page)
{
	cr_assert_eq(coh_evict(sim->nodes[0].coh, page, err, sizeof(err)), 0, "%s", err);
}

static void read_back(struct sim *sim, uint64_t page)
{
	size_t a = sim_access(sim, 0, page, false);
	sim_run(sim);
	cr_assert_eq(sim->accesses[a].state, ACC_DONE, "page %llu not readable",
		     (unsigned long long)page);
}

static uint64_t kept_version(struct sim *sim, uint32_t node, uint64_t page)
{
	return version_of(sim->nodes[node].pages[page].data);
}

static void set_range(struct sim *sim, uint32_t node, uint32_t range, uint32_t home,
		      uint32_t mirror)
{
	cr_assert_eq(coh_set_range(sim->nodes[node].coh, range, home, mirror, err, sizeof(err)), 0,
		     "node %u: %s", node, err);
}

Test(protocol_replicas, a_writeback_completes_once_the_mirror_has_it)
{
	struct sim *sim = lenders(3);
	write_page(sim, 1);
	evict(sim, 1);
	deliver(sim, 0, 1);
	cr_assert_eq(link_len(sim, 1, 0), 0, "no WB_ACK before the mirror's ack");
	cr_assert_eq(link_len(sim, 1, 2), 1);
	deliver(sim, 1, 2);
	cr_assert_eq(kept_version(sim, 2, 1), 1, "the mirror keeps the written bytes");
	cr_assert_eq(sim->nodes[2].pages[1].prot, PROT_NONE, "and does not map them");
	deliver(sim, 2, 1);
	cr_assert_eq(link_len(sim, 1, 0), 1, "WB_ACK once the mirror has it");
	sim_run(sim);
	cr_assert_eq(coh_page_state(sim->nodes[0].coh, 1), COH_I);
	sim_free(sim);
}

/* Node 1 dies with: page 0 written back (only the copies are left), page 1 dirty at node 0,
 * page 2's second write-back and page 3's read request in flight. */
Test(protocol_replicas, the_mirror_takes_over_a_lost_home_and_nothing_is_lost)
{
	struct sim *sim = lenders(3);
	for (uint64_t page = 0; page < 3; page++)
		write_page(sim, page);
	evict(sim, 0);
	evict(sim, 2);
	sim_run(sim);
	write_page(sim, 2);
	evict(sim, 2);
	size_t read3 = sim_access(sim, 0, 3, false);
	cr_assert_eq(link_len(sim, 0, 1), 2, "WRITEBACK and READ_REQ in flight");
	sim_kill(sim, 1);
	for (uint32_t node = 0; node < 3; node += 2) {
		set_range(sim, node, 1, 2, COH_NO_MIRROR);
		set_range(sim, node, 2, 2, COH_NO_MIRROR);
	}
	sim_run(sim);
	cr_assert_eq(sim->accesses[read3].state, ACC_DONE, "the read was sent again");
	cr_assert_eq(coh_page_state(sim->nodes[0].coh, 2), COH_I, "the write-back was redone");
	cr_assert_eq(kept_version(sim, 2, 2), 2);
	read_back(sim, 0);
	read_back(sim, 2);
	evict(sim, 1);
	sim_run(sim);
	cr_assert_eq(kept_version(sim, 2, 1), 1, "the claimed dirty copy was written back");
	read_back(sim, 1);
	sim_free(sim);
}

Test(protocol_replicas, a_writeback_waiting_for_a_lost_mirror_completes)
{
	struct sim *sim = lenders(3);
	write_page(sim, 5);
	evict(sim, 5);
	deliver(sim, 0, 2);
	cr_assert_eq(link_len(sim, 2, 1), 1, "REPLICA_WRITE to node 1");
	sim_kill(sim, 1);
	set_range(sim, 2, 2, 2, COH_NO_MIRROR);
	set_range(sim, 0, 2, 2, COH_NO_MIRROR);
	sim_run(sim);
	cr_assert_eq(coh_page_state(sim->nodes[0].coh, 5), COH_I, "acknowledged on one copy");
	read_back(sim, 5);
	sim_free(sim);
}

/* Node 1 dies, node 3 (the spare) receives the copies of both ranges, then node 2 dies too: node 3
 * serves everything, and every page written before either loss reads back. */
Test(protocol_replicas, a_spare_takes_the_lost_copies_and_survives_a_second_loss)
{
	struct sim *sim = lenders(4);
	for (uint64_t page = 0; page < 8; page++) {
		write_page(sim, page);
		evict(sim, page);
		sim_run(sim);
	}
	sim_kill(sim, 1);
	for (uint32_t node = 0; node < 4; node++) {
		if (node == 1)
			continue;
		set_range(sim, node, 1, 2, 3);
		set_range(sim, node, 2, 2, 3);
	}
	unsigned copied = 0;
	for (uint64_t page = 0; page < 8; page++)
		copied += coh_copy_to_mirror(sim->nodes[2].coh, page);
	cr_assert_eq(copied, 8);
	cr_assert_not(coh_copy_to_mirror(sim->nodes[3].coh, 0), "only the home copies");
	sim_run(sim);
	for (uint64_t page = 0; page < 8; page++)
		cr_assert_eq(kept_version(sim, 3, page), 1, "page %llu", (unsigned long long)page);
	sim_kill(sim, 2);
	for (uint32_t node = 0; node < 4; node += 3) {
		set_range(sim, node, 1, 3, COH_NO_MIRROR);
		set_range(sim, node, 2, 3, COH_NO_MIRROR);
	}
	for (uint64_t page = 0; page < 8; page++)
		read_back(sim, page);
	sim_free(sim);
}

Test(protocol_replicas, claims_and_copies_from_the_wrong_node_are_refused)
{
	struct sim *sim = lenders(3);
	struct coh_msg claim = {.type = COH_MSG_CLAIM_E, .page = 1};
	cr_assert_eq(coh_receive(sim->nodes[1].coh, 0, &claim, err, sizeof(err)), -1,
		     "a page nobody adopted");
	uint8_t bytes[COH_PAGE_SIZE] = {0};
	struct coh_msg copy = {.type = COH_MSG_REPLICA_COPY, .page = 1, .data = bytes};
	cr_assert_eq(coh_receive(sim->nodes[2].coh, 0, &copy, err, sizeof(err)), -1,
		     "not from the page's home");
	cr_assert(strstr(err, "does not mirror"), "%s", err);
	cr_assert_eq(coh_receive(sim->nodes[1].coh, 2, &copy, err, sizeof(err)), -1,
		     "node 1 does not mirror its own range");
	struct coh_msg ack = {.type = COH_MSG_REPLICA_ACK, .page = 1};
	cr_assert_eq(coh_receive(sim->nodes[1].coh, 2, &ack, err, sizeof(err)), -1,
		     "no write-back awaits it");
	sim_free(sim);
}
