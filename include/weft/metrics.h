/* SPDX-License-Identifier: MIT */
/*
 * Runtime metrics: what the scheduler, the rings, the timers, the blocking
 * pool and the stack pool have done so far, readable from any thread while
 * the runtime runs (tokio's RuntimeMetrics, Go's runtime/metrics).
 *
 * Each worker counts in counters of its own (written by that worker only,
 * relaxed: no shared write on any hot path); weft_metrics sums them on
 * read. A worker publishes the counts of its hottest paths (tasks polled,
 * LIFO hits, callbacks, jobs) and its gauges (timers, cached stacks) every
 * 61 ticks or turns, when it parks and when it stops, so while it is busy
 * they may lag by a few dozen steps; everything is exact once the workers
 * are parked (the runtime is idle). Counts are totals since
 * weft_runtime_create, except the gauges (depth, pending, busy, idle,
 * queued, cached, in use), which are the state at the read. A read is a
 * snapshot of each counter in turn, not of all at one instant: two
 * counters may disagree by what happened between their reads.
 */
#ifndef WEFT_METRICS_H
#define WEFT_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include <weft/common.h>

WEFT_BEGIN_DECLS

/*
 * Set `size` to sizeof(struct weft_metrics) before the call: fields past
 * `size` are left alone, so the struct can grow without breaking the ABI.
 * A struct, not a typedef, because weft_metrics is the function's name.
 */
struct weft_metrics {
	size_t size;                /* set by the caller */
	unsigned workers;           /* the runtime's worker count */

	/* Tasks. spawned = completed + alive once the workers are idle. */
	uint64_t tasks_spawned;     /* tasks created (weft_spawn,
	                             * weft_create_task and everything built on
	                             * them: servers, run_coroutine_threadsafe) */
	uint64_t tasks_polled;      /* task steps: each time a worker switched
	                             * to a task (its first run or a resume)
	                             * until it suspended or returned */
	uint64_t tasks_completed;   /* tasks finished (returned, failed or
	                             * cancelled, also before they ever ran) and
	                             * released by their worker */
	uint64_t tasks_alive;       /* spawned and not completed (a gauge) */
	uint64_t callbacks_run;     /* done callbacks and call_soon/later/at
	                             * callbacks run */

	/* Scheduling (several workers; 0 with one, which never steals). */
	uint64_t steals;            /* tasks taken from another worker's run
	                             * queue (a steal takes half of it) */
	uint64_t steal_attempts;    /* victims tried, successful or not */
	uint64_t lifo_hits;         /* task steps taken from a LIFO slot (the
	                             * task a worker itself just spawned or
	                             * woke) */
	uint64_t overflows;         /* a full run queue moved half of itself to
	                             * the inject queue */
	uint64_t inject_depth;      /* runnables waiting in the inject queue
	                             * (spawns and wakes from foreign threads,
	                             * overflows; a gauge) */

	/* Idle workers. */
	uint64_t parks;             /* a worker went to sleep in the kernel */
	uint64_t unparks;           /* a sleeping worker was woken for work
	                             * (by another worker or a foreign thread;
	                             * a timer's expiry is not counted) */
	uint64_t spins_found_work;  /* an idle worker's spin (before parking)
	                             * found work, saving a park */

	/* I/O and time. */
	uint64_t ring_submissions;  /* requests handed to the kernel: the
	                             * tasks' operations, their cancels, and
	                             * weft's own wake-ups between workers
	                             * (io_uring); on the epoll backend, the
	                             * operations it accepted */
	uint64_t ring_completions;  /* completions reaped, weft's own included
	                             * (on epoll: operations ended) */
	uint64_t timers_pending;    /* timers armed (sleeps, timeouts,
	                             * call_later; a gauge) */

	/* The blocking pool (weft_to_thread; gauges). */
	unsigned blocking_busy;     /* pool threads running a call */
	unsigned blocking_idle;     /* pool threads waiting for one */
	uint64_t blocking_queued;   /* calls waiting for a thread */

	/* Fiber stacks. */
	uint64_t stacks_cached;     /* ready for the next task: in the workers'
	                             * caches or the runtime's pool (a gauge) */
	uint64_t stacks_in_use;     /* held by started, unfinished tasks (a
	                             * gauge; with stacks_cached it adds up to
	                             * the stacks made, exactly; the split
	                             * between the two lags while workers are
	                             * busy, as the workers' caches publish) */
	uint64_t stacks_trimmed;    /* stacks whose pages went back to the
	                             * kernel while idle (decision 14) */
};

/*
 * Fills *m (up to m->size bytes) with rt's metrics (see above). Returns 0,
 * or -EINVAL (NULL rt or m, or m->size smaller than the first two fields;
 * debug mode says which). Takes the blocking pool's and the stack pool's
 * locks for a moment each, so a worker may wait a few stores' time on it;
 * stops nothing. Never suspends. Any thread (a task included), while rt
 * is alive.
 */
WEFT_API int weft_metrics(weft_runtime *rt, struct weft_metrics *m);

WEFT_END_DECLS

#endif
