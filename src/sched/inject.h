/* SPDX-License-Identifier: MIT */
/*
 * The runtime's shared queue for work from outside a worker (spawns and
 * wakes from foreign threads, overflow from full run queues). Producers
 * only push onto a lock-free stack (one CAS: thousands of submitting
 * threads never queue behind a lock); consumers, which are workers, take
 * a mutex, move the stack into a FIFO and pop from that.
 */
#ifndef WEFT_SCHED_INJECT_H
#define WEFT_SCHED_INJECT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "sched/mpsc.h"
#include "sched/runnable.h"

struct weft__inject {
	struct weft__mpsc in;        /* producers push here */
	pthread_mutex_t lock;        /* consumers only */
	struct weft__fifo out;       /* under lock */
	atomic_size_t out_len;       /* out.len, readable without the lock */
};

int weft__inject_init(struct weft__inject *q);
void weft__inject_destroy(struct weft__inject *q);

/* Any thread. */
static inline void weft__inject_push(struct weft__inject *q, struct weft__runnable *r)
{
	weft__mpsc_push(&q->in, r);
}

/* Any thread: pushes a chain linked through ->next, oldest first. */
void weft__inject_push_batch(struct weft__inject *q, struct weft__runnable *first, size_t n);

/* Any thread: a racy emptiness check (exact once producers are quiet). */
static inline bool weft__inject_empty(struct weft__inject *q)
{
	return weft__mpsc_empty(&q->in) &&
	       atomic_load_explicit(&q->out_len, memory_order_seq_cst) == 0;
}

/*
 * Workers only. Takes up to `max` entries, oldest first, as a chain
 * (through ->next); returns the first and sets *last and *n, or NULL.
 */
struct weft__runnable *weft__inject_pop_batch(struct weft__inject *q, size_t max,
					      struct weft__runnable **last, size_t *n);

#endif
