/* SPDX-License-Identifier: MIT */
/*
 * Holding workers still, for inspection (weft_task_stack, weft_dump): each
 * worker is sent a job that blocks its loop until the hold ends. A worker
 * in that job runs no task, so no task it could resume moves meanwhile,
 * and a suspended task's stack can be read. Nothing on any hot path: a
 * worker notices only when it reaches the job, between two task steps.
 *
 * A worker that does not reach the job in time (a task step that keeps
 * it, the case the watchdog reports) is not held; the caller must not
 * read the stack of a task that worker could run (its home tasks, and
 * with it unheld, every migratable one). Its job then returns at once
 * whenever it runs.
 */
#ifndef WEFT_SCHED_HOLD_H
#define WEFT_SCHED_HOLD_H

#include <stdbool.h>
#include <stdint.h>

struct weft__sched;
struct weft__worker;
struct weft__hold;

/*
 * Holds the workers of s, waiting at most timeout_ns for each to stop.
 * `self`: a worker of s that is held already because the caller (or the
 * thread it waits for) runs on it, in a task or a callback; or NULL.
 * Returns the hold, or NULL when out of memory (nothing is held). Blocks
 * the calling thread for up to timeout_ns. Any thread; holds are
 * serialised inside (one at a time per process).
 */
struct weft__hold *weft__hold_begin(struct weft__sched *s, uint64_t timeout_ns,
				    struct weft__worker *self);

/* Is worker i held? */
bool weft__hold_held(const struct weft__hold *h, unsigned i);

/* Are all workers held? */
bool weft__hold_all(const struct weft__hold *h);

/* Lets the held workers go on. */
void weft__hold_end(struct weft__hold *h);

#endif
