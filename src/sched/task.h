/* SPDX-License-Identifier: MIT */
/*
 * The part of a task the scheduler sees. The layer above embeds it in its
 * task, in the task's hot cache line: these are the fields the loop reads
 * on every switch, so the loop needs no header of the layer above.
 */
#ifndef WEFT_SCHED_TASK_H
#define WEFT_SCHED_TASK_H

#include <stdatomic.h>
#include <stdbool.h>

#include "fiber/fiber.h"
#include "sched/runnable.h"

struct weft__worker;

struct weft__sched_task {
	struct weft__runnable run;  /* its place in a run queue (kind TASK) */
	struct weft__fiber fiber;   /* stack is NULL until the first run */
	struct weft__worker *home;  /* where it last ran; NULL before */
	atomic_bool must_cancel;    /* a cancellation waits for delivery:
	                             * written by the layer above under its own
	                             * lock; the loop only reads it before a
	                             * first run (weft__hook_task_cancelled) */
	atomic_bool migratable;     /* may resume on another worker */
	bool started;               /* the worker running it only */
};

/* What the loop does with a task that just switched out (it suspended),
 * on the loop's own stack (decision 2). */
typedef void (*weft__after_fn)(struct weft__worker *w, struct weft__sched_task *t, void *arg);

#endif
