/* SPDX-License-Identifier: MIT */
/*
 * Which workers are searching for work and which are parked (tokio's
 * Idle): at most half the workers search at once, and a parked worker is
 * woken only when work appears and no one is searching, so there is
 * neither a thundering herd nor a lost wake-up.
 *
 * The state word packs (unparked << 16) | searching. A waker publishes its
 * work with a seq_cst store or RMW (run queue tail, inbox or inject push)
 * and then reads the word with a seq_cst load; a parker changes the word
 * with a seq_cst RMW and then re-checks the queues with seq_cst loads.
 * All four are in C11's single total order of seq_cst operations, so
 * either the waker sees the parker (and wakes someone) or the parker sees
 * the work. No bare fences: ThreadSanitizer does not model them.
 */
#ifndef WEFT_SCHED_IDLE_H
#define WEFT_SCHED_IDLE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct weft__sched;
struct weft__worker;

struct weft__idle {
	_Atomic uint32_t state;
	pthread_mutex_t lock;
	unsigned *sleepers; /* under lock: indices of parked workers */
	unsigned nsleepers; /* under lock */
	unsigned nworkers;
};

int weft__idle_init(struct weft__idle *idle, unsigned nworkers);
void weft__idle_destroy(struct weft__idle *idle);

/* Owner of w: becomes a searcher unless half the workers already search. */
bool weft__idle_start_search(struct weft__sched *sched, struct weft__worker *w);
/* Owner of w: a searcher found work. Returns true if it was the last
 * searcher: the caller then re-checks what is stealable (seq_cst loads,
 * after this seq_cst RMW) and wakes a parked worker for it, since pushes
 * made while it searched woke nobody. */
bool weft__idle_found_work(struct weft__sched *sched, struct weft__worker *w);
/* Any thread, after publishing stealable work: wake one parked worker if
 * no one is searching. */
void weft__idle_notify_one(struct weft__sched *sched);
/* Owner of w, before parking: returns true if it was the last searcher.
 * The caller then re-checks every queue (park() does so for any parker). */
bool weft__idle_to_parked(struct weft__sched *sched, struct weft__worker *w);
/* Owner of w, after waking: counts it as unparked again, unless a waker
 * already did (then w is a searcher). */
void weft__idle_from_parked(struct weft__sched *sched, struct weft__worker *w);

#endif
