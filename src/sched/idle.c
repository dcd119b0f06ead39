/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>

#include "sched/idle.h"
#include "sched/sched.h"
#include "sched/worker.h"

#define ONE_UNPARKED (1u << 16)
#define SEARCHING(s) ((s) & 0xffffu)
#define UNPARKED(s) ((s) >> 16)

int weft__idle_init(struct weft__idle *idle, unsigned nworkers)
{
	idle->nworkers = nworkers;
	idle->nsleepers = 0;
	atomic_init(&idle->state, nworkers * ONE_UNPARKED);
	idle->sleepers = calloc(nworkers, sizeof(*idle->sleepers));
	if (!idle->sleepers)
		return -ENOMEM;
	if (pthread_mutex_init(&idle->lock, NULL)) {
		free(idle->sleepers);
		return -ENOMEM;
	}
	return 0;
}

void weft__idle_destroy(struct weft__idle *idle)
{
	pthread_mutex_destroy(&idle->lock);
	free(idle->sleepers);
}

bool weft__idle_start_search(struct weft__sched *sched, struct weft__worker *w)
{
	if (w->searching)
		return true;
	struct weft__idle *idle = &sched->idle;
	uint32_t s = atomic_load_explicit(&idle->state, memory_order_relaxed);
	do {
		if (2 * SEARCHING(s) >= idle->nworkers)
			return false;
	} while (!atomic_compare_exchange_weak_explicit(&idle->state, &s, s + 1,
							memory_order_seq_cst, memory_order_relaxed));
	w->searching = true;
	return true;
}

void weft__idle_notify_one(struct weft__sched *sched)
{
	struct weft__idle *idle = &sched->idle;
	/* seq_cst, after the caller's seq_cst push: see the header. A plain
	 * load keeps this shared line in every core's cache instead of
	 * bouncing it on each spawn, as an RMW would. */
	uint32_t s = atomic_load_explicit(&idle->state, memory_order_seq_cst);
	if (SEARCHING(s) > 0 || UNPARKED(s) >= idle->nworkers)
		return;
	pthread_mutex_lock(&idle->lock);
	s = atomic_load_explicit(&idle->state, memory_order_relaxed);
	struct weft__worker *wake = NULL;
	if (SEARCHING(s) == 0 && idle->nsleepers > 0) {
		wake = &sched->workers[idle->sleepers[--idle->nsleepers]];
		wake->is_sleeper = false;
		/* It wakes up as a searcher, counted here so that no second
		 * waker picks another sleeper for the same work. */
		atomic_fetch_add_explicit(&idle->state, ONE_UNPARKED + 1, memory_order_seq_cst);
	}
	pthread_mutex_unlock(&idle->lock);
	if (wake)
		weft__worker_notify(wake);
}

bool weft__idle_found_work(struct weft__sched *sched, struct weft__worker *w)
{
	if (!w->searching)
		return false;
	w->searching = false;
	uint32_t s = atomic_fetch_sub_explicit(&sched->idle.state, 1, memory_order_seq_cst);
	return SEARCHING(s) == 1;
}

bool weft__idle_to_parked(struct weft__sched *sched, struct weft__worker *w)
{
	struct weft__idle *idle = &sched->idle;
	pthread_mutex_lock(&idle->lock);
	uint32_t dec = ONE_UNPARKED + (w->searching ? 1 : 0);
	uint32_t s = atomic_fetch_sub_explicit(&idle->state, dec, memory_order_seq_cst);
	bool last = w->searching && SEARCHING(s) == 1;
	w->searching = false;
	idle->sleepers[idle->nsleepers++] = w->index;
	w->is_sleeper = true;
	pthread_mutex_unlock(&idle->lock);
	return last;
}

void weft__idle_from_parked(struct weft__sched *sched, struct weft__worker *w)
{
	struct weft__idle *idle = &sched->idle;
	pthread_mutex_lock(&idle->lock);
	if (w->is_sleeper) {
		/* Woken by its own inbox or ring, not by notify_one. */
		for (unsigned i = 0; i < idle->nsleepers; i++) {
			if (idle->sleepers[i] == w->index) {
				idle->sleepers[i] = idle->sleepers[--idle->nsleepers];
				break;
			}
		}
		w->is_sleeper = false;
		atomic_fetch_add_explicit(&idle->state, ONE_UNPARKED, memory_order_seq_cst);
	} else {
		/* notify_one counted it as unparked and searching. */
		w->searching = true;
	}
	pthread_mutex_unlock(&idle->lock);
}
