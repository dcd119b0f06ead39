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

static bool before(const struct weft__timer *a, const struct weft__timer *b)
{
	return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

static void place(struct weft__timer_heap *h, uint32_t i, struct weft__timer *tm)
{
	h->v[i] = tm;
	tm->index = i;
}

static void sift_up(struct weft__timer_heap *h, uint32_t i)
{
	struct weft__timer *tm = h->v[i];
	while (i > 0) {
		uint32_t parent = (i - 1) / 2;
		if (!before(tm, h->v[parent]))
			break;
		place(h, i, h->v[parent]);
		i = parent;
	}
	place(h, i, tm);
}

static void sift_down(struct weft__timer_heap *h, uint32_t i)
{
	struct weft__timer *tm = h->v[i];
	for (;;) {
		uint32_t c = 2 * i + 1;
		if (c >= h->n)
			break;
		if (c + 1 < h->n && before(h->v[c + 1], h->v[c]))
			c++;
		if (!before(h->v[c], tm))
			break;
		place(h, i, h->v[c]);
		i = c;
	}
	place(h, i, tm);
}

void weft__timer_heap_free(struct weft__timer_heap *h)
{
	free(h->v);
	h->v = NULL;
	h->n = h->cap = 0;
}

int weft__timer_add(struct weft__timer_heap *h, struct weft__timer *tm)
{
	if (h->n == h->cap) {
		uint32_t cap = h->cap ? h->cap * 2 : 64;
		struct weft__timer **v = realloc(h->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		h->v = v;
		h->cap = cap;
	}
	tm->seq = h->seq++;
	place(h, h->n++, tm);
	sift_up(h, tm->index);
	return 0;
}

void weft__timer_remove(struct weft__timer_heap *h, struct weft__timer *tm)
{
	uint32_t i = tm->index;
	if (i >= h->n || h->v[i] != tm)
		return;
	tm->index = UINT32_MAX;
	struct weft__timer *last = h->v[--h->n];
	if (i == h->n)
		return;
	place(h, i, last);
	if (i > 0 && before(last, h->v[(i - 1) / 2]))
		sift_up(h, i);
	else
		sift_down(h, i);
}

struct weft__timer *weft__timer_pop_due(struct weft__timer_heap *h, uint64_t now)
{
	if (!h->n || h->v[0]->when > now)
		return NULL;
	struct weft__timer *tm = h->v[0];
	weft__timer_remove(h, tm);
	return tm;
}
