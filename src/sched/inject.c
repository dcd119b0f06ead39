/* SPDX-License-Identifier: MIT */
/* The inject queue and the shutdown guard beside it (sched/inject.h). */
#include <errno.h>
#include <sched.h>

#include "sched/inject.h"

int weft__inject_init(struct weft__inject *q)
{
	q->q = (struct weft__fifo){0};
	atomic_init(&q->len, 0);
	atomic_init(&q->submitting, 0);
	atomic_init(&q->closing, false);
	return pthread_mutex_init(&q->lock, NULL) ? -ENOMEM : 0;
}

void weft__inject_destroy(struct weft__inject *q)
{
	pthread_mutex_destroy(&q->lock);
}

void weft__inject_push(struct weft__inject *q, struct weft__runnable *r)
{
	pthread_mutex_lock(&q->lock);
	weft__fifo_push(&q->q, r);
	/* seq_cst: the pusher's next step reads the idle word (sched/idle.h) */
	atomic_store_explicit(&q->len, q->q.len, memory_order_seq_cst);
	pthread_mutex_unlock(&q->lock);
}

void weft__inject_push_batch(struct weft__inject *q, struct weft__runnable *first, size_t n)
{
	if (!first || !n)
		return;
	struct weft__runnable *last = first;
	for (size_t i = 1; i < n; i++)
		last = last->next;
	last->next = NULL;
	pthread_mutex_lock(&q->lock);
	weft__fifo_append(&q->q, first, last, n);
	atomic_store_explicit(&q->len, q->q.len, memory_order_seq_cst);
	pthread_mutex_unlock(&q->lock);
}

struct weft__runnable *weft__inject_pop_batch(struct weft__inject *q, size_t max,
					      struct weft__runnable **last, size_t *n)
{
	*n = 0;
	if (max == 0 || weft__inject_empty(q))
		return NULL;
	pthread_mutex_lock(&q->lock);
	struct weft__runnable *first = q->q.head, *r = NULL;
	size_t k = 0;
	while (k < max && q->q.head) {
		r = weft__fifo_pop(&q->q);
		k++;
	}
	if (r)
		r->next = NULL;
	atomic_store_explicit(&q->len, q->q.len, memory_order_relaxed);
	pthread_mutex_unlock(&q->lock);
	*last = r;
	*n = k;
	return k ? first : NULL;
}

bool weft__inject_enter(struct weft__inject *q)
{
	atomic_fetch_add_explicit(&q->submitting, 1, memory_order_seq_cst);
	if (atomic_load_explicit(&q->closing, memory_order_seq_cst)) {
		atomic_fetch_sub_explicit(&q->submitting, 1, memory_order_release);
		return false;
	}
	return true;
}

void weft__inject_exit(struct weft__inject *q)
{
	/* release: the queued work is visible to whoever reads 0 (acquire) */
	atomic_fetch_sub_explicit(&q->submitting, 1, memory_order_release);
}

void weft__inject_close(struct weft__inject *q)
{
	/* seq_cst: the Dekker pair (see the header). A submitter is inside
	 * for a few hundred nanoseconds. */
	atomic_store_explicit(&q->closing, true, memory_order_seq_cst);
	while (atomic_load_explicit(&q->submitting, memory_order_seq_cst) != 0)
		sched_yield();
}
