/* SPDX-License-Identifier: MIT */
/*
 * A worker's timers: a binary min-heap in user space, ordered by deadline
 * then by insertion (equal deadlines fire in the order they were set). The
 * ring's wait timeout is the nearest deadline, so a million sleeps cost a
 * million heap entries, not a million kernel timeouts. Owner worker only.
 */
#ifndef WEFT_IO_TIMER_H
#define WEFT_IO_TIMER_H

#include <stdbool.h>
#include <stdint.h>

#define WEFT__NO_DEADLINE UINT64_MAX

struct weft__timer {
	uint64_t when;  /* deadline, nanoseconds of CLOCK_MONOTONIC */
	uint64_t seq;   /* insertion order, breaks ties */
	uint32_t index; /* position in the heap; UINT32_MAX when not in one */
	/* Called on the owner when due, or with discard set when the
	 * worker stops with it still pending (then it must only clean up). */
	void (*fire)(struct weft__timer *tm, bool discard);
};

struct weft__timer_heap {
	struct weft__timer **v;
	uint32_t n, cap;
	uint64_t seq;
};

void weft__timer_heap_free(struct weft__timer_heap *h);

/* Adds tm (tm->when set). Returns 0 or -ENOMEM. */
int weft__timer_add(struct weft__timer_heap *h, struct weft__timer *tm);

/* Removes tm if it is in the heap. */
void weft__timer_remove(struct weft__timer_heap *h, struct weft__timer *tm);

/* The earliest deadline, or WEFT__NO_DEADLINE. */
static inline uint64_t weft__timer_next(const struct weft__timer_heap *h)
{
	return h->n ? h->v[0]->when : WEFT__NO_DEADLINE;
}

/* Removes and returns the earliest timer if it is due at `now`, else NULL. */
struct weft__timer *weft__timer_pop_due(struct weft__timer_heap *h, uint64_t now);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t weft__now_ns(void);

#endif
