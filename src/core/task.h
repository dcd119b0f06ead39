/* SPDX-License-Identifier: MIT */
/*
 * Inside a task: a future, a fiber, and the cancellation state of asyncio's
 * Task (_must_cancel, _fut_waiter, _num_cancels_requested).
 */
#ifndef WEFT_CORE_TASK_H
#define WEFT_CORE_TASK_H

#include <stdatomic.h>
#include <stdint.h>

#include <weft/task.h>

#include "core/future.h"
#include "sched/task.h"
#include "sched/worker.h"

/* What few tasks need (decision 16): allocated on first need (a name, a
 * cancel's message, weft_fail, debug mode's creation site) and freed with
 * the task. Installed once (weft__task_rare_get), never replaced. */
struct weft__task_rare {
	/* Under fut.lock: */
	char *name;                      /* NULL: "Task-<id>" */
	char *cancel_msg;                /* the last cancel's message */
	char default_name[24];           /* formatted on first ask */
	/* Only the running task touches it: */
	char *fail_msg;                  /* weft_fail's, moved to fut.msg at exit */
	void *site;                      /* debug mode: the return address of
	                                  * the call that created it (reports) */
};

struct weft__task {
	weft_future fut;                 /* first: a task is a future; its
	                                  * num_cancels is cancelling() */
	/* One cache line that every switch touches (64-byte aligned): what
	 * the scheduler reads (its st.must_cancel is written under fut.lock:
	 * deliver -ECANCELED at the next suspension), then the node it waits
	 * with. Decision 16. */
	_Alignas(64) struct weft__sched_task st;
	struct weft__waiter await_node;  /* registered on the awaited future */
	/* One cold line: what every task has. */
	weft_task_fn fn;
	void *arg;
	uint64_t id;                     /* N of "Task-N" */
	weft_future *fut_waiter;         /* under fut.lock: what it awaits
	                                  * (borrowed: the awaiting caller
	                                  * holds a reference) */
	/* Only the running task touches these: */
	struct weft__locals *locals;     /* task-local values (shared, immutable) */
	struct weft_timeout *timeouts;   /* innermost open timeout scope, linked
	                                  * outwards (core/timeout.c); NULL if none */
	struct weft__task_slab *slab;    /* the memory it lives in */
	struct weft__task_rare *_Atomic rare; /* NULL until needed */
};

#ifndef WEFT_SANITIZED /* a sanitized fiber carries the sanitizers' state */
_Static_assert(offsetof(struct weft__task, await_node) + sizeof(struct weft__waiter) <=
		       offsetof(struct weft__task, st) + 64,
	       "the scheduler's fields and the await node share one cache line");
_Static_assert(sizeof(struct weft__task) == 192,
	       "a task is three cache lines: header, hot, cold (decision 16)");
#endif

/* t's rare part, or NULL if it has none yet. Any thread (acquire: pairs
 * with the release of its installation). */
static inline struct weft__task_rare *weft__task_rare(const struct weft__task *t)
{
	return atomic_load_explicit(&((struct weft__task *)t)->rare, memory_order_acquire);
}

/* t's rare part, allocated (zeroed) and installed if it has none; NULL
 * when out of memory. Any thread; never under a spinlock (it may call
 * malloc). */
struct weft__task_rare *weft__task_rare_get(struct weft__task *t);

/* Debug mode: where t was created, or NULL. */
static inline void *weft__task_site(const struct weft__task *t)
{
	struct weft__task_rare *r = weft__task_rare(t);
	return r ? r->site : NULL;
}

static inline struct weft__task *weft__task_of(weft_future *f)
{
	return f && f->kind == WEFT__FUT_TASK ? (struct weft__task *)f : NULL;
}

static inline struct weft__task *weft__task_from(const struct weft__sched_task *st)
{
	return weft__container_of(st, struct weft__task, st);
}

/* The task running on this thread, or NULL (reads the worker afresh). */
static inline struct weft__task *weft__task_current(void)
{
	struct weft__worker *w = weft__worker_current();
	return w && w->current ? weft__task_from(w->current) : NULL;
}

/* weft_create_task, but the new task runs on worker `index` of the
 * calling task's runtime only (never stolen; its home from then on). A
 * failed future: -EPERM outside a task, -EINVAL (NULL fn, no such
 * worker), -ESHUTDOWN, -ENOMEM. Tasks only. */
weft_future *weft__create_task_on(unsigned index, weft_task_fn fn, void *arg, const char *name);

/* Frees what a task owns beyond its future header (last unref). */
void weft__task_free(struct weft__task *t);

/* Completes the running task with its function's outcome. */
void weft__task_finish(struct weft__task *t, int rc, void *value);

/* Called by weft__task_finish when t->timeouts is not NULL: reports the
 * task that returned inside an open timeout scope and aborts
 * (core/timeout.c). */
void weft__timeout_abort_open(struct weft__task *t) __attribute__((noreturn));

/* Called by a task back from a suspension while it has an open timeout
 * scope: with several workers, each scope whose deadline has passed
 * cancels the task now (core/timeout.c). */
void weft__timeout_resumed(struct weft__task *t);

/* Back from a suspension (core/task.c's switch-outs). */
static inline void weft__task_resumed(struct weft__task *t)
{
	if (__builtin_expect(t->timeouts != NULL, 0))
		weft__timeout_resumed(t);
}

/* weft_sleep for seconds > 0, on the calling task (core/time.c). */
int weft__sleep_timed(double seconds);

/* The task's name into buf (async-signal-safe: no locks, no stdio). */
void weft__task_name_raw(const struct weft__task *t, char *buf, size_t cap);

/* Takes a pending cancellation for delivery; true if there was one. */
bool weft__task_take_cancel(struct weft__task *t);


/* Makes a suspended task runnable again, routed by its home/migratable
 * rule. The caller is its only waker for this suspension. Any thread. */
static inline void weft__task_wake(struct weft__task *t)
{
	weft__schedule_wake(&t->st);
}

#endif
