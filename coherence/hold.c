/* The hold windows of recently installed pages: a ring of the last HOLD_SLOTS installs under one
 * mutex. A lookup scans the whole ring, cheap next to the page transfer it may delay; a page
 * installed more than once keeps the window that ends last. */
#include "coherence/hold.h"

#include <string.h>

void hold_init(struct hold *h, uint64_t window_ns)
{
	memset(h, 0, sizeof(*h));
	pthread_mutex_init(&h->lock, NULL);
	h->window_ns = window_ns;
}

void hold_destroy(struct hold *h)
{
	pthread_mutex_destroy(&h->lock);
}

void hold_note(struct hold *h, uint64_t page, uint64_t now_ns)
{
	if (h->window_ns == 0)
		return;
	pthread_mutex_lock(&h->lock);
	h->page[h->next] = page + 1;
	h->until[h->next] = now_ns + h->window_ns;
	h->next = (h->next + 1) % HOLD_SLOTS;
	pthread_mutex_unlock(&h->lock);
}

uint64_t hold_remaining_ns(struct hold *h, uint64_t page, uint64_t now_ns)
{
	uint64_t until = 0;
	pthread_mutex_lock(&h->lock);
	for (unsigned i = 0; i < HOLD_SLOTS; i++)
		if (h->page[i] == page + 1 && h->until[i] > until)
			until = h->until[i];
	pthread_mutex_unlock(&h->lock);
	return until > now_ns ? until - now_ns : 0;
}
