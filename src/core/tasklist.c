/* SPDX-License-Identifier: MIT */
/*
 * Which tasks are alive (weft_all_tasks, and shutdown's cancel-all). How
 * many is the scheduler's count (weft__sched_live); which ones, the slab
 * registry (core/task_slab.h). Nothing here touches a task a second time
 * on another core, nor a lock per task.
 */
#include <errno.h>
#include <stdio.h>

#include <weft/task.h>

#include "core/context.h"
#include "core/core.h"
#include "core/debug.h"
#include "core/task.h"
#include "fiber/backtrace.h"
#include "core/future.h"
#include "core/task_slab.h"
#include "io/timer.h"

struct collect {
	weft_future **out;
	size_t cap, n;
};

static void collect_one(weft_future *f, void *arg)
{
	struct collect *c = arg;
	if (c->n < c->cap)
		c->out[c->n] = f; /* the reference weft__slab_each_live took */
	else
		weft_future_unref(f);
	c->n++;
}

WEFT_API long weft_all_tasks(weft_runtime *rt, weft_future **out, size_t cap)
{
	struct weft__core *c = rt ? weft__core_of(rt) : weft__core_current();
	if (!c || (!out && cap))
		return -EINVAL;
	struct collect col = {.out = out, .cap = cap, .n = 0};
	weft__slab_each_live(c, collect_one, &col);
	return (long)col.n;
}

/* Debug mode: a task still pending at shutdown, about to be cancelled
 * (the first time: cancelling() is 0 until then). */
static void report_pending(weft_future *f)
{
	char at[400];
	weft__symbolize(weft__task_site((struct weft__task *)f), 1, at, sizeof(at));
	fprintf(stderr, "weft: runtime shutdown cancels task %s, still pending (created at %s)\n",
		weft_task_name(f), at);
}

int weft__core_cancel_all(struct weft__core *c, uint64_t deadline_ns)
{
	enum { BATCH = 256, PASS_NS = 20 * 1000 * 1000 };
	weft_future *batch[BATCH];
	while (weft__sched_live(&c->sched) > 0) {
		/* parked workers unlink the tasks others finished for them */
		weft__sched_wake_all(&c->sched);
		long n = weft_all_tasks(weft__core_runtime(c), batch, BATCH);
		bool debug = atomic_load_explicit(&weft__debug_on, memory_order_relaxed);
		for (long i = 0; i < n && i < BATCH; i++) {
			/* asyncio.run is silent here; a C server's author wants
			 * to know what shutdown had to stop */
			if (debug && !weft_future_done(batch[i]) && !weft_task_cancelling(batch[i]))
				report_pending(batch[i]);
			weft_cancel(batch[i], NULL);
			weft_future_unref(batch[i]);
		}
		/* a timed wait: tasks created meanwhile are cancelled on the
		 * next pass */
		uint64_t pass = PASS_NS;
		uint64_t now = deadline_ns ? weft__now_ns() : 0;
		if (deadline_ns && now >= deadline_ns) {
			/* A task counted live may be done and not yet retired:
			 * only a task not done is worth giving up for. */
			if (weft_all_tasks(weft__core_runtime(c), NULL, 0) > 0)
				return -ETIMEDOUT;
			deadline_ns = 0;
		} else if (deadline_ns && deadline_ns - now < pass) {
			pass = deadline_ns - now;
		}
		weft__sched_wait_idle(&c->sched, pass);
	}
	return 0;
}

long weft__core_report_tasks(struct weft__core *c, FILE *out, unsigned max)
{
	enum { BATCH = 64 };
	weft_future *batch[BATCH];
	if (max > BATCH)
		max = BATCH;
	long n = weft_all_tasks(weft__core_runtime(c), batch, max);
	for (long i = 0; i < n && i < (long)max; i++) {
		fprintf(out, "weft:   task %s is still alive%s\n", weft_task_name(batch[i]),
			weft_task_cancelling(batch[i]) > 0 ? " (cancelled, not done yet)" : "");
		weft_future_unref(batch[i]);
	}
	if (n > (long)max)
		fprintf(out, "weft:   ... and %ld more tasks\n", n - (long)max);
	return n < 0 ? 0 : n;
}
