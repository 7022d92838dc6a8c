/* The requester side: looks up (local state, event) in protocol.c's requester table and carries out
 * the row's actions through the engine's callbacks, in the row's order. The order matters: a copy
 * is write-protected before its bytes are read (no store can slip in between) and dropped before
 * the message that lets another node write is sent. */
#include "coherence/page_table.h"

#include <stdio.h>

struct pt_step {
	const struct coh_env *env;
	uint32_t home;
	uint64_t page;
	const uint8_t *in_data; /* the message's page data, if any */
	uint8_t out_data[COH_PAGE_SIZE];
};

static void send_to_home(struct pt_step *s, uint16_t type, bool has_copy, const uint8_t *data)
{
	struct coh_msg msg = {.type = type, .page = s->page, .has_copy = has_copy, .data = data};
	s->env->ops->send(s->env->ctx, s->home, &msg);
}

static void run_action(struct pt_step *s, enum pt_action action)
{
	const struct coh_ops *ops = s->env->ops;
	void *ctx = s->env->ctx;
	switch (action) {
	case PT_ACT_SEND_READ_REQ:
		send_to_home(s, COH_MSG_READ_REQ, false, NULL);
		break;
	case PT_ACT_SEND_WRITE_REQ:
		send_to_home(s, COH_MSG_WRITE_REQ, false, NULL);
		break;
	case PT_ACT_SEND_UPGRADE_REQ:
		send_to_home(s, COH_MSG_WRITE_REQ, true, NULL);
		break;
	case PT_ACT_SEND_EVICT:
		send_to_home(s, COH_MSG_EVICT, false, NULL);
		break;
	case PT_ACT_SEND_INV_ACK:
		send_to_home(s, COH_MSG_INV_ACK, false, NULL);
		break;
	case PT_ACT_SEND_FETCH_DATA:
		send_to_home(s, COH_MSG_FETCH_DATA, false, s->out_data);
		break;
	case PT_ACT_SEND_FETCH_INV_DATA:
		send_to_home(s, COH_MSG_FETCH_INV_DATA, false, s->out_data);
		break;
	case PT_ACT_SEND_WRITEBACK:
		send_to_home(s, COH_MSG_WRITEBACK, false, s->out_data);
		break;
	case PT_ACT_READ:
		ops->read_local(ctx, s->page, s->out_data);
		break;
	case PT_ACT_DOWNGRADE:
		ops->downgrade(ctx, s->page);
		break;
	case PT_ACT_DROP:
		ops->drop(ctx, s->page);
		break;
	case PT_ACT_INSTALL_RO:
		ops->install(ctx, s->page, s->in_data, false);
		break;
	case PT_ACT_INSTALL_RW:
		ops->install(ctx, s->page, s->in_data, true);
		break;
	case PT_ACT_MAP_RW:
		ops->install(ctx, s->page, NULL, true);
		break;
	case PT_ACT_COMPLETE:
		ops->complete(ctx, s->page);
		break;
	case PT_ACT_END:
	case PT_ACTION_COUNT:
		break;
	}
}

int pt_handle(const struct coh_env *env, uint32_t home, uint64_t page, enum pt_event event,
	      const uint8_t *data, char *err, size_t errlen)
{
	enum coh_page_state state = env->local[page];
	const struct pt_row *row = pt_lookup(state, event);
	if (!row) {
		snprintf(err, errlen, "page %llu (home node %u): %s not allowed in state %s",
			 (unsigned long long)page, home, pt_event_name(event),
			 coh_page_state_name(state));
		return -1;
	}
	struct pt_step step = {.env = env, .home = home, .page = page, .in_data = data};
	for (size_t i = 0; i < PT_MAX_ACTIONS && row->actions[i] != PT_ACT_END; i++)
		run_action(&step, row->actions[i]);
	env->local[page] = row->next;
	return 0;
}
