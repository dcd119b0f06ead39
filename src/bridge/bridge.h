/* SPDX-License-Identifier: MIT */
/*
 * Thread bridges (weft/thread.h): the shutdown guard of submissions from
 * other threads (bridge/threadsafe.c) and the blocking pool that runs
 * to_thread calls (bridge/pool.c). One struct weft__bridge per runtime,
 * made with it and freed with it.
 *
 * Shutdown order (core/runtime.c, weft_runtime_destroy):
 *   closing = true (seq_cst)      outside submissions are refused from now
 *   weft__bridge_quiesce          ... and the ones already past the check
 *                                 have finished queueing their work
 *   cancel every task, wait       a task awaiting a started call waits for it
 *   weft__bridge_drain            queued calls end cancelled, running ones
 *                                 finish, threads are joined
 *   stop, workers exit and join
 *   weft__bridge_quiesce, weft__bridge_destroy
 */
#ifndef WEFT_BRIDGE_BRIDGE_H
#define WEFT_BRIDGE_BRIDGE_H

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include <weft/runtime.h>

/* The limits weft_config's pool fields may take (core/runtime.c checks). */
#define WEFT__BLOCKING_MAX_DEFAULT 512u
#define WEFT__BLOCKING_MAX_LIMIT 65536u
#define WEFT__BLOCKING_KEEPALIVE_DEFAULT 10.0

struct weft__blocking_call;
struct weft__pool_thread;

struct weft__bridge {
	/* Outside submissions between their check of rt->closing and the
	 * end of their push (bridge/threadsafe.c). Its own cache line: every
	 * foreign submission writes it. */
	_Alignas(64) _Atomic long submitting;
	/* to_thread calls accepted and not yet complete (queued or running):
	 * a paused clock must not jump while one may still wake a task. */
	_Alignas(64) _Atomic long inflight;

	_Alignas(64) pthread_mutex_t lock;
	pthread_cond_t work;                 /* idle pool threads wait here */
	pthread_cond_t gone;                 /* the drain waits for the last exit */
	/* Under lock: */
	struct weft__blocking_call *head, *tail; /* queued calls, oldest first */
	size_t nqueued;
	unsigned nthreads;                   /* alive (or being started) */
	unsigned nidle;                      /* waiting, not yet claimed */
	unsigned nnotify;                    /* claims not yet taken by a waiter */
	unsigned peak;                       /* most threads alive at once */
	bool closed;                         /* drained: new calls are refused */
	struct weft__pool_thread *dead;      /* the last thread that exited, not
	                                      * yet joined (each exiting thread
	                                      * joins the one before it) */
	/* Fixed at creation: */
	weft_runtime *rt;
	unsigned max;
	double keepalive;                    /* seconds; INFINITY: never */
	bool reset_affinity;                 /* workers are pinned: pool threads
	                                      * (created on a worker) take back */
	cpu_set_t affinity;                  /* the creating thread's CPU set */
};

/* Creates rt->bridge (config already checked). 0 or -ENOMEM. */
int weft__bridge_init(weft_runtime *rt);
/* Frees rt->bridge; the pool has been drained (or never ran a call). */
void weft__bridge_destroy(weft_runtime *rt);

/*
 * Threads other than rt's workers, around a submission: enter returns
 * false (submit nothing: -ESHUTDOWN) once rt->closing is set; after a true
 * enter, the work is queued before exit is called.
 */
bool weft__bridge_enter(weft_runtime *rt);
void weft__bridge_exit(weft_runtime *rt);
/* Shutdown, after closing is set: waits for entered submitters to exit. */
void weft__bridge_quiesce(weft_runtime *rt);

/* Shutdown, every task done: refuses new calls, cancels the queued ones,
 * waits for the running ones, joins every pool thread. Foreign thread. */
void weft__bridge_drain(weft_runtime *rt);

/* True while a to_thread call of rt is queued or running (any thread). */
bool weft__blocking_busy(weft_runtime *rt);

/* For tests: the pool's thread counts, a racy snapshot. */
struct weft__blocking_stats {
	unsigned threads, idle, peak;
	size_t queued;
	long inflight;
};
void weft__blocking_stats(weft_runtime *rt, struct weft__blocking_stats *out);

/* True on a blocking-pool thread of rt. */
bool weft__blocking_on_pool_of(weft_runtime *rt);

#endif
