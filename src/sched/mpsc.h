/* SPDX-License-Identifier: MIT */
/*
 * An unbounded intrusive multi-producer stack whose consumer takes every
 * entry at once (a worker's inbox; the front of the inject queue). Pushes
 * are one CAS; take-all is one exchange, so there is no ABA problem. It is
 * ck_stack's push_upmc + batch_pop_upmc, written in C11 so that
 * ThreadSanitizer sees the hand-off of the runnables it carries.
 */
#ifndef WEFT_SCHED_MPSC_H
#define WEFT_SCHED_MPSC_H

#include <stdatomic.h>
#include <stdbool.h>

#include "sched/runnable.h"

struct weft__mpsc {
	_Atomic(struct weft__runnable *) head;
};

/*
 * Pushes the chain first..last (linked through ->next, `first` newest).
 * seq_cst: its release publishes the runnables to the consumer's exchange;
 * and a pusher's following seq_cst load of the idle word (or RMW of a park
 * word) must be ordered after it (see sched/idle.h).
 */
static inline void weft__mpsc_push_chain(struct weft__mpsc *s, struct weft__runnable *first,
					 struct weft__runnable *last)
{
	struct weft__runnable *old = atomic_load_explicit(&s->head, memory_order_relaxed);
	do
		last->next = old;
	while (!atomic_compare_exchange_weak_explicit(&s->head, &old, first, memory_order_seq_cst,
						      memory_order_relaxed));
}

static inline void weft__mpsc_push(struct weft__mpsc *s, struct weft__runnable *r)
{
	weft__mpsc_push_chain(s, r, r);
}

/* seq_cst: a parking worker's re-check pairs with a push (sched/idle.h). */
static inline bool weft__mpsc_empty(struct weft__mpsc *s)
{
	return atomic_load_explicit(&s->head, memory_order_seq_cst) == NULL;
}

/*
 * Takes every entry and returns them oldest first (the stack pops newest
 * first; wakes must stay FIFO), with *last and *n describing the chain.
 * acquire: pairs with the release of weft__mpsc_push_chain.
 */
static inline struct weft__runnable *weft__mpsc_take_all(struct weft__mpsc *s,
							 struct weft__runnable **last, size_t *n)
{
	struct weft__runnable *r = atomic_exchange_explicit(&s->head, NULL, memory_order_acquire);
	struct weft__runnable *rev = NULL;
	*last = r;
	*n = 0;
	while (r) {
		struct weft__runnable *next = r->next;
		r->next = rev;
		rev = r;
		r = next;
		(*n)++;
	}
	return rev;
}

#endif
