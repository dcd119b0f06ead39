/* SPDX-License-Identifier: MIT */
/* What the run queues hold: a task to resume or a callback to call. */
#ifndef WEFT_SCHED_RUNNABLE_H
#define WEFT_SCHED_RUNNABLE_H

#include <stddef.h>

#include "base/list.h"

/* The loop switches to a task and calls a job itself; anything else it
 * hands to weft__hook_run_callback (sched/hooks.h), which knows the other
 * kinds. */
enum weft__run_kind {
	WEFT__RUN_TASK,
	WEFT__RUN_JOB,      /* a struct weft__job (weft__worker_post) */
	WEFT__RUN_CALLBACK, /* a done callback (core/future.c) */
	WEFT__RUN_CALL,     /* call_soon/call_later (core/call.c) */
	WEFT__RUN_SLEEP,    /* a due sleep's timer handle (core/time.c) */
};

/* Embedded in what it schedules; in at most one queue at a time. */
struct weft__runnable {
	struct weft__runnable *next; /* link in intrusive queues */
	unsigned char kind;          /* enum weft__run_kind */
};

struct weft__worker;

/* A function to run on one given worker (weft__worker_post): what another
 * thread needs done where only that worker may act (a cancel on its
 * ring). */
struct weft__job {
	struct weft__runnable run; /* kind WEFT__RUN_JOB */
	void (*fn)(struct weft__worker *w, struct weft__job *j);
};

/* An owner-only intrusive FIFO (the single worker's ready queue, a worker's
 * queue of resumed home tasks). */
struct weft__fifo {
	struct weft__runnable *head, *tail;
	size_t len;
};

static inline void weft__fifo_push(struct weft__fifo *q, struct weft__runnable *r)
{
	r->next = NULL;
	if (q->tail)
		q->tail->next = r;
	else
		q->head = r;
	q->tail = r;
	q->len++;
}

/* Appends a NULL-terminated chain of n runnables, keeping its order. */
static inline void weft__fifo_append(struct weft__fifo *q, struct weft__runnable *first,
				     struct weft__runnable *last, size_t n)
{
	if (!first)
		return;
	if (q->tail)
		q->tail->next = first;
	else
		q->head = first;
	q->tail = last;
	q->len += n;
}

static inline struct weft__runnable *weft__fifo_pop(struct weft__fifo *q)
{
	struct weft__runnable *r = q->head;
	if (r) {
		q->head = r->next;
		if (!q->head)
			q->tail = NULL;
		q->len--;
	}
	return r;
}

#endif
