/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "io/timer.h"

uint64_t weft__now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* 4-ary: half the levels of a binary heap, and a node's children sit
 * next to each other in the array. */
#define ARITY 4u

static inline bool before(const struct weft__timer_entry *a, const struct weft__timer_entry *b)
{
	return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

static void sift_up(struct weft__timer_heap *h, uint32_t i)
{
	struct weft__timer_entry e = h->v[i];
	while (i > 0) {
		uint32_t parent = (i - 1) / ARITY;
		if (!before(&e, &h->v[parent]))
			break;
		h->v[i] = h->v[parent];
		i = parent;
	}
	h->v[i] = e;
}

static void sift_down(struct weft__timer_heap *h, uint32_t i)
{
	struct weft__timer_entry e = h->v[i];
	uint32_t n = h->n;
	for (;;) {
		uint32_t c = ARITY * i + 1;
		if (c >= n)
			break;
		uint32_t end = c + ARITY < n ? c + ARITY : n, best = c;
		for (uint32_t k = c + 1; k < end; k++)
			if (before(&h->v[k], &h->v[best]))
				best = k;
		if (!before(&h->v[best], &e))
			break;
		h->v[i] = h->v[best];
		i = best;
	}
	h->v[i] = e;
}

static void pop_top(struct weft__timer_heap *h)
{
	struct weft__timer_entry last = h->v[--h->n];
	if (h->n) {
		h->v[0] = last;
		sift_down(h, 0);
	}
}

/* Discards the removed timers and rebuilds the heap (Floyd's, O(n)):
 * the key is a total order, so what fires next does not change. The
 * discard calls come last, from a copy: one may add a timer. */
static void compact(struct weft__timer_heap *h)
{
	struct weft__timer **gone = malloc(h->cancelled * sizeof(*gone));
	if (!gone)
		return; /* stays lazy: removed timers still go when they come due */
	uint32_t k = 0, ngone = 0;
	for (uint32_t i = 0; i < h->n; i++) {
		struct weft__timer *tm = h->v[i].tm;
		if (tm->state == WEFT__TIMER_CANCELLED)
			gone[ngone++] = tm;
		else
			h->v[k++] = h->v[i];
	}
	h->n = k;
	h->cancelled = 0;
	for (uint32_t i = k > 1 ? (k - 2) / ARITY + 1 : 0; i-- > 0;)
		sift_down(h, i);
	for (uint32_t i = 0; i < ngone; i++) {
		gone[i]->state = WEFT__TIMER_IDLE;
		gone[i]->fire(gone[i], true);
	}
	free(gone);
}

void weft__timer_heap_discard(struct weft__timer_heap *h)
{
	/* from the end: a discard call may add a timer, which goes too */
	while (h->n) {
		struct weft__timer *tm = h->v[--h->n].tm;
		tm->state = WEFT__TIMER_IDLE;
		tm->fire(tm, true);
	}
	free(h->v);
	h->v = NULL;
	h->n = h->cap = h->cancelled = 0;
}

int weft__timer_add(struct weft__timer_heap *h, struct weft__timer *tm)
{
	if (h->n == h->cap) {
		uint32_t cap = h->cap ? h->cap * 2 : 64;
		struct weft__timer_entry *v = realloc(h->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		h->v = v;
		h->cap = cap;
	}
	tm->state = WEFT__TIMER_QUEUED;
	h->v[h->n] = (struct weft__timer_entry){tm->when, h->seq++, tm};
	sift_up(h, h->n++);
	return 0;
}

void weft__timer_remove(struct weft__timer_heap *h, struct weft__timer *tm)
{
	if (tm->state != WEFT__TIMER_QUEUED)
		return;
	tm->state = WEFT__TIMER_CANCELLED;
	h->cancelled++;
}

/* Removed timers at the top go now; and the whole heap is compacted once
 * more than half of it is removed (asyncio's rule; at least 64). */
static void prune(struct weft__timer_heap *h)
{
	if (h->cancelled > 64 && h->cancelled * 2 > h->n) {
		compact(h);
		return;
	}
	while (h->cancelled && h->n && h->v[0].tm->state == WEFT__TIMER_CANCELLED) {
		struct weft__timer *tm = h->v[0].tm;
		pop_top(h);
		h->cancelled--;
		tm->state = WEFT__TIMER_IDLE;
		tm->fire(tm, true);
	}
}

uint64_t weft__timer_next(struct weft__timer_heap *h)
{
	prune(h);
	return h->n ? h->v[0].when : WEFT__NO_DEADLINE;
}

struct weft__timer *weft__timer_pop_due(struct weft__timer_heap *h, uint64_t now)
{
	prune(h);
	if (!h->n || h->v[0].when > now)
		return NULL;
	struct weft__timer *tm = h->v[0].tm;
	pop_top(h);
	tm->state = WEFT__TIMER_IDLE;
	return tm;
}
