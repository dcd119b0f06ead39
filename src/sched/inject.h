/* SPDX-License-Identifier: MIT */
/*
 * The runtime's shared queue for work from outside a worker (spawns and
 * wakes from foreign threads, overflow from full run queues): a FIFO of
 * intrusive links under a mutex, as tokio's inject queue. A push holds the
 * lock for a few stores (a batch is linked before the lock is taken), and
 * a pop touches only what it takes. An earlier lock-free stack reversed on
 * the consumer side walked every queued task twice, cold, and took ~30% of
 * a spawn-heavy run on two workers.
 *
 * Beside it, the shutdown guard of outside submissions, a Dekker pair. A
 * thread outside the runtime increments `submitting` (seq_cst RMW) and
 * then reads `closing` (seq_cst); shutdown stores `closing` (seq_cst) and
 * then reads `submitting` until it is 0. In C11's single total order of
 * seq_cst operations one of the two sees the other: either the submitter
 * sees `closing` and refuses (-ESHUTDOWN), or shutdown waits until the
 * submission is queued here, where the workers, still running, find it.
 * So an accepted submission always runs, and a refused one costs nothing;
 * nothing is held across the push.
 */
#ifndef WEFT_SCHED_INJECT_H
#define WEFT_SCHED_INJECT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "sched/runnable.h"

struct weft__inject {
	pthread_mutex_t lock;
	struct weft__fifo q;   /* under lock */
	atomic_size_t len;     /* q.len, readable without the lock */
	/* Outside submitters between their check of `closing` and the end of
	 * their push. Its own cache line: every foreign submission writes it. */
	_Alignas(64) _Atomic long submitting;
	atomic_bool closing;   /* shutdown began: outside work is refused */
};

int weft__inject_init(struct weft__inject *q);
void weft__inject_destroy(struct weft__inject *q);

/* Any thread. */
void weft__inject_push(struct weft__inject *q, struct weft__runnable *r);

/* Any thread: pushes a chain linked through ->next, oldest first. */
void weft__inject_push_batch(struct weft__inject *q, struct weft__runnable *first, size_t n);

/*
 * Any thread: a racy emptiness check. seq_cst: a parking worker's re-check
 * pairs with a pusher's seq_cst update of len (see sched/idle.h).
 */
static inline bool weft__inject_empty(struct weft__inject *q)
{
	return atomic_load_explicit(&q->len, memory_order_seq_cst) == 0;
}

/*
 * Threads outside the runtime, around a submission: enter returns false
 * (submit nothing: -ESHUTDOWN) once the queue is closing; after a true
 * enter, the work is queued before exit is called.
 */
bool weft__inject_enter(struct weft__inject *q);
void weft__inject_exit(struct weft__inject *q);

/* Shutdown: refuses outside work from now on and waits for the submitters
 * already past the check to finish their push. May be called again (for
 * late refused submitters, before the queue is freed). */
void weft__inject_close(struct weft__inject *q);

/* Has weft__inject_close begun? Any thread. */
static inline bool weft__inject_closing(struct weft__inject *q)
{
	return atomic_load_explicit(&q->closing, memory_order_acquire);
}

/*
 * Workers only. Takes up to `max` entries, oldest first, as a chain
 * (through ->next); returns the first and sets *last and *n, or NULL.
 */
struct weft__runnable *weft__inject_pop_batch(struct weft__inject *q, size_t max,
					      struct weft__runnable **last, size_t *n);

#endif
