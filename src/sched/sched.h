/* SPDX-License-Identifier: MIT */
/*
 * A scheduler: its workers and what they share (the inject queue and its
 * shutdown guard, the idle state, the stack pool, the live-task counts).
 * The runtime (src/runtime) embeds one, through core's struct; everything
 * here knows tasks only as struct weft__sched_task and calls upward only
 * through sched/hooks.h.
 */
#ifndef WEFT_SCHED_SCHED_H
#define WEFT_SCHED_SCHED_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <weft/runtime.h>

#include "fiber/stack.h"
#include "sched/idle.h"
#include "sched/inject.h"

struct weft__worker;

struct weft__sched {
	const weft_config *cfg;          /* the runtime's copy; fixed */
	unsigned nworkers;
	bool single;                     /* one worker: asyncio's exact order */
	bool spin;                       /* idle workers spin before parking */
	bool paused;                     /* cfg.paused_clock (then single) */
	uint64_t paused_ns;              /* the paused clock; its worker only */
	struct weft__worker *workers;
	struct weft__inject inject;      /* and the shutdown guard */
	struct weft__idle idle;
	struct weft__stack_pool stacks;
	atomic_bool stop;                /* workers exit once nothing is left */
	_Atomic uint64_t outside_spawned; /* tasks that came from other threads */
	/* Work running on other threads that may wake a task (to_thread
	 * calls): a paused clock must not jump while there is any. */
	_Alignas(64) _Atomic long blocking;
	_Atomic uint64_t trim_since;     /* when the pools went above what they
	                                  * keep resident (0: they are not) */
	/* Pushes from threads that are not workers of this scheduler (a
	 * foreign or another runtime's thread waking a task, queueing a
	 * callback or a job), counted from before the push to after its
	 * wake-up: the pushed work may run and the runtime be destroyed
	 * before the pusher has notified, so destroy frees nothing they
	 * touch until this reads 0 (schedule.c). */
	_Alignas(64) _Atomic long outside;
	pthread_mutex_t lock;            /* start-up reports, shutdown waits */
	pthread_cond_t cond;
	unsigned started;                /* under lock */
	int start_rc;                    /* under lock */
	char start_why[160];             /* under lock */
	bool waiting_idle;               /* under lock: someone waits for no
	                                  * task to be left */
};

/*
 * Sets s up for cfg (already checked; kept by pointer): the workers and
 * the shared queues, no thread yet. Returns 0 or -ENOMEM (nothing to free).
 */
int weft__sched_init(struct weft__sched *s, const weft_config *cfg);

/*
 * Starts the worker threads and waits until each has set up its backend.
 * Returns 0, or the first failure (WEFT_ENOURING, -ENOMEM, -EAGAIN when a
 * thread could not be created) with its reason in s->start_why; then the
 * threads that did start have been stopped and joined.
 */
int weft__sched_start(struct weft__sched *s);

/* Tells the workers to exit once nothing is left, wakes them all and
 * joins them. */
void weft__sched_stop(struct weft__sched *s);

/* Frees what init made; the workers have been joined. */
void weft__sched_destroy(struct weft__sched *s);

/* Counts a task entering s: w is the calling worker if it belongs to s,
 * else NULL (a foreign thread). Any thread. */
void weft__sched_count_new(struct weft__sched *s, struct weft__worker *w);

/* Tasks counted in and not yet retired: never lower than the truth,
 * exact when nothing is spawning. Any thread. */
long weft__sched_live(struct weft__sched *s);

/* Shutdown: waits until no task is live, or about timeout_ns. Foreign
 * thread. */
void weft__sched_wait_idle(struct weft__sched *s, uint64_t timeout_ns);

/* A worker retired a task while shutdown was closing the inject queue:
 * wakes a shutdown waiting for no task to be left (worker.c). */
void weft__sched_retired_closing(struct weft__sched *s);

/* Wakes every worker (shutdown, and tasks to look at). Any thread. */
void weft__sched_wake_all(struct weft__sched *s);

/* Work on another thread that may wake a task begins / ends (to_thread
 * calls). Any thread. */
void weft__sched_blocking_begin(struct weft__sched *s);
void weft__sched_blocking_end(struct weft__sched *s);
/* How many have begun and not ended (a racy snapshot for tests). */
long weft__sched_blocking_count(struct weft__sched *s);

#endif
