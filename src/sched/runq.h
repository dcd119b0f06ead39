/* SPDX-License-Identifier: MIT */
/*
 * A worker's stealable run queue: a bounded single-producer ring that any
 * worker may steal half of (Go's runq, tokio's local queue). ck has no
 * work-stealing deque, and a bounded ring has no buffer-reclamation problem
 * (tokio dropped Chase-Lev for that), so this one is hand-rolled in C11.
 *
 * head and tail are free-running 32-bit counters (ABA would need 2^32
 * operations between a thief's read and its CAS). Slots are atomics read
 * relaxed: a thief may read a slot the owner is overwriting, but then its
 * CAS on head fails and the copy is discarded.
 */
#ifndef WEFT_SCHED_RUNQ_H
#define WEFT_SCHED_RUNQ_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "sched/runnable.h"

#define WEFT__RUNQ_CAP 256u

struct weft__runq {
	_Atomic uint32_t head; /* next to take; advanced by owner pops and steals (CAS) */
	_Atomic uint32_t tail; /* next free slot; written by the owner only */
	_Atomic(struct weft__runnable *) slot[WEFT__RUNQ_CAP];
};

void weft__runq_init(struct weft__runq *q);

/*
 * Owner only. Pushes r; returns false when the ring is full (nothing was
 * pushed: the caller moves half out with weft__runq_take_half_owner).
 */
bool weft__runq_push_owner(struct weft__runq *q, struct weft__runnable *r);

/* Owner only. The oldest entry, or NULL. */
struct weft__runnable *weft__runq_pop_owner(struct weft__runq *q);

/* Owner only: the entry the next pop would take, or NULL; a hint only
 * (a thief may take it first), for prefetching. */
static inline struct weft__runnable *weft__runq_peek_owner(struct weft__runq *q)
{
	uint32_t h = atomic_load_explicit(&q->head, memory_order_relaxed);
	if (h == atomic_load_explicit(&q->tail, memory_order_relaxed))
		return NULL;
	return atomic_load_explicit(&q->slot[h & (WEFT__RUNQ_CAP - 1)], memory_order_relaxed);
}

/*
 * Owner only, on overflow: takes the older half out of the ring as a chain
 * linked through ->next (oldest first); returns its first entry and sets
 * *last, *n. NULL if thieves emptied it meanwhile.
 */
struct weft__runnable *weft__runq_take_half_owner(struct weft__runq *q,
						  struct weft__runnable **last, uint32_t *n);

/*
 * Any thread but the victim's owner, called by the owner of `dst` (which
 * must be empty). Moves half (rounded up) of `victim` into `dst` and
 * returns one of them to run now (the others stay in dst), or NULL.
 */
struct weft__runnable *weft__runq_steal_half(struct weft__runq *victim, struct weft__runq *dst);

/* Any thread: a racy estimate, exact for the owner when no one steals.
 * seq_cst loads: a parking worker's re-check pairs with the seq_cst tail
 * store of a push (see sched/idle.h). */
static inline uint32_t weft__runq_len(struct weft__runq *q)
{
	uint32_t t = atomic_load_explicit(&q->tail, memory_order_seq_cst);
	uint32_t h = atomic_load_explicit(&q->head, memory_order_seq_cst);
	return t - h;
}

#endif
