/* SPDX-License-Identifier: MIT */
/*
 * A worker's timers: a 4-ary min-heap in user space, ordered by deadline
 * then by insertion (equal deadlines fire in the order they were set). The
 * ring's wait timeout is the nearest deadline, so a million sleeps cost a
 * million heap entries, not a million kernel timeouts. Owner worker only.
 *
 * Each entry carries its key (deadline, sequence) beside the timer's
 * address, so sifting reads and writes only the heap's own array: with
 * the key in the timer, every comparison and every move touched a timer
 * somewhere in memory (a cache and TLB miss each; 100,000 sleeps spent
 * more time sifting than running). For the same reason an entry does not
 * know its timer's position: a removed timer is only marked cancelled and
 * stays in the heap until it comes due or the heap is compacted (once more
 * than half of it is cancelled), as asyncio's cancelled TimerHandles do.
 * Either way the heap then calls its fire with discard set.
 */
#ifndef WEFT_IO_TIMER_H
#define WEFT_IO_TIMER_H

#include <stdbool.h>
#include <stdint.h>

#define WEFT__NO_DEADLINE UINT64_MAX

enum { WEFT__TIMER_IDLE, WEFT__TIMER_QUEUED, WEFT__TIMER_CANCELLED };

struct weft__timer {
	uint64_t when; /* deadline, nanoseconds of CLOCK_MONOTONIC */
	/* Called on the owner when due; or with discard set when it was
	 * removed or the worker stops with it still pending (then it must
	 * only clean up: drop what the heap held). */
	void (*fire)(struct weft__timer *tm, bool discard);
	uint8_t state; /* WEFT__TIMER_*; owner only */
};

struct weft__timer_entry {
	uint64_t when, seq;
	struct weft__timer *tm;
};

struct weft__timer_heap {
	struct weft__timer_entry *v;
	uint32_t n, cap;
	uint32_t cancelled; /* entries whose timer was removed */
	uint64_t seq;
};

/* Gives every timer still in the heap its discard call, then frees it. */
void weft__timer_heap_discard(struct weft__timer_heap *h);

/* Adds tm (tm->when set). Returns 0 or -ENOMEM. */
int weft__timer_add(struct weft__timer_heap *h, struct weft__timer *tm);

/* True while tm is in a heap and not removed. */
static inline bool weft__timer_queued(const struct weft__timer *tm)
{
	return tm->state == WEFT__TIMER_QUEUED;
}

/* Removes tm if it is queued: it will not fire; its discard call comes
 * later, from the loop (the heap keeps what it holds until then). */
void weft__timer_remove(struct weft__timer_heap *h, struct weft__timer *tm);

/* Timers pending (removed ones not counted). */
static inline uint32_t weft__timer_count(const struct weft__timer_heap *h)
{
	return h->n - h->cancelled;
}

/* The earliest deadline of a timer not removed, or WEFT__NO_DEADLINE;
 * removed timers at the top are discarded on the way. Loop only. */
uint64_t weft__timer_next(struct weft__timer_heap *h);

/* Removes and returns the earliest timer if it is due at `now`, else
 * NULL; removed timers at the top are discarded on the way, and a heap
 * more than half removed is compacted. */
struct weft__timer *weft__timer_pop_due(struct weft__timer_heap *h, uint64_t now);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t weft__now_ns(void);

#endif
