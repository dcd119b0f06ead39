/* SPDX-License-Identifier: MIT */
#include <errno.h>

#include "sched/inject.h"

int weft__inject_init(struct weft__inject *q)
{
	atomic_init(&q->in.head, NULL);
	q->out = (struct weft__fifo){0};
	atomic_init(&q->out_len, 0);
	return pthread_mutex_init(&q->lock, NULL) ? -ENOMEM : 0;
}

void weft__inject_destroy(struct weft__inject *q)
{
	pthread_mutex_destroy(&q->lock);
}

void weft__inject_push_batch(struct weft__inject *q, struct weft__runnable *first, size_t n)
{
	/* The stack wants its chain newest first: reverse it. */
	struct weft__runnable *rev = NULL, *last = first;
	for (size_t i = 0; i < n; i++) {
		struct weft__runnable *next = first->next;
		first->next = rev;
		rev = first;
		first = next;
	}
	if (rev)
		weft__mpsc_push_chain(&q->in, rev, last);
}

struct weft__runnable *weft__inject_pop_batch(struct weft__inject *q, size_t max,
					      struct weft__runnable **last, size_t *n)
{
	*n = 0;
	if (max == 0 || weft__inject_empty(q))
		return NULL;
	pthread_mutex_lock(&q->lock);
	if (!weft__mpsc_empty(&q->in)) {
		struct weft__runnable *tail;
		size_t k;
		struct weft__runnable *head = weft__mpsc_take_all(&q->in, &tail, &k);
		weft__fifo_append(&q->out, head, tail, k);
	}
	struct weft__runnable *first = q->out.head, *r = NULL;
	size_t k = 0;
	while (k < max && q->out.head) {
		r = weft__fifo_pop(&q->out);
		k++;
	}
	if (r)
		r->next = NULL;
	atomic_store_explicit(&q->out_len, q->out.len, memory_order_release);
	pthread_mutex_unlock(&q->lock);
	*last = r;
	*n = k;
	return k ? first : NULL;
}
