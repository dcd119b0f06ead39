/* SPDX-License-Identifier: MIT */
/*
 * Thread bridges (weft/thread.h): submissions from other threads
 * (bridge/threadsafe.c, through the inject queue's shutdown guard,
 * sched/inject.h) and the blocking pool that runs to_thread calls
 * (bridge/pool.c). One struct weft__bridge per runtime, made with it and
 * freed with it; core keeps the pointer (weft__core.bridge).
 *
 * Shutdown order (runtime/runtime.c, weft_runtime_destroy):
 *   weft__inject_close            outside submissions are refused from now,
 *                                 and the ones already past the check have
 *                                 finished queueing their work
 *   cancel every task, wait       a task awaiting a started call waits for it
 *   weft__bridge_drain            queued calls end cancelled, running ones
 *                                 finish, threads are joined
 *   (weft_runtime_destroy_timeout may give up after either wait, and
 *   comes back to it on its next call)
 *   stop, workers exit and join
 *   weft__inject_close again, weft__bridge_destroy
 */
#ifndef WEFT_BRIDGE_BRIDGE_H
#define WEFT_BRIDGE_BRIDGE_H

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <weft/runtime.h>

#include "base/list.h"

/* The limits weft_config's pool fields may take (core/runtime.c checks). */
#define WEFT__BLOCKING_MAX_DEFAULT 512u
#define WEFT__BLOCKING_MAX_LIMIT 65536u
#define WEFT__BLOCKING_KEEPALIVE_DEFAULT 10.0

struct weft__blocking_call;
struct weft__pool_thread;

struct weft__core;

struct weft__bridge {
	pthread_mutex_t lock;
	pthread_cond_t work;                 /* idle pool threads wait here */
	pthread_cond_t gone;                 /* the drain waits for the last exit */
	/* Under lock: */
	struct weft__list queue;             /* queued calls, oldest first */
	struct weft__list threads;           /* live pool threads (what they
	                                      * run: weft__bridge_report) */
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
	struct weft__core *core;
	unsigned max;
	double keepalive;                    /* seconds; INFINITY: never */
	bool reset_affinity;                 /* workers are pinned: pool threads
	                                      * (created on a worker) take back */
	cpu_set_t affinity;                  /* the creating thread's CPU set */
};

/* Creates c->bridge for cfg (already checked). 0 or -ENOMEM. */
int weft__bridge_init(struct weft__core *c, const weft_config *cfg);
/* Frees c->bridge; the pool has been drained (or never ran a call). */
void weft__bridge_destroy(struct weft__core *c);

/* Shutdown, every task done: refuses new calls, cancels the queued ones,
 * waits for the running ones, joins every pool thread; 0. With a deadline
 * (CLOCK_MONOTONIC ns, weft__now_ns; 0: none) it may return -ETIMEDOUT
 * instead, calls still running: the pool stays closed, and draining again
 * goes on waiting. Foreign thread. */
int weft__bridge_drain(struct weft__core *c, uint64_t deadline_ns);

/* Prints a line on `out` for each to_thread call still running (its
 * task, function, how long, which thread); returns how many. Any thread. */
unsigned weft__bridge_report(struct weft__core *c, FILE *out);

/* For tests: the pool's thread counts, a racy snapshot (inflight: calls
 * queued or running, the scheduler's blocking count). */
struct weft__blocking_stats {
	unsigned threads, idle, peak;
	size_t queued;
	long inflight;
};
void weft__blocking_stats(weft_runtime *rt, struct weft__blocking_stats *out);

/* True on a blocking-pool thread of c. */
bool weft__blocking_on_pool_of(struct weft__core *c);

#endif
