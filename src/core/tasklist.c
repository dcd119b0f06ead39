/* SPDX-License-Identifier: MIT */
/*
 * Which tasks are alive (weft_all_tasks, and shutdown's cancel-all). How
 * many is the scheduler's count (weft__sched_live); which ones, the slab
 * registry (core/task_slab.h). Nothing here touches a task a second time
 * on another core, nor a lock per task.
 */
#include <errno.h>

#include <weft/task.h>

#include "core/context.h"
#include "core/core.h"
#include "core/future.h"
#include "core/task_slab.h"

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

void weft__core_cancel_all(struct weft__core *c)
{
	enum { BATCH = 256, PASS_NS = 20 * 1000 * 1000 };
	weft_future *batch[BATCH];
	while (weft__sched_live(&c->sched) > 0) {
		/* parked workers unlink the tasks others finished for them */
		weft__sched_wake_all(&c->sched);
		long n = weft_all_tasks(weft__core_runtime(c), batch, BATCH);
		for (long i = 0; i < n && i < BATCH; i++) {
			weft_cancel(batch[i], NULL);
			weft_future_unref(batch[i]);
		}
		/* a timed wait: tasks created meanwhile are cancelled on the
		 * next pass */
		weft__sched_wait_idle(&c->sched, PASS_NS);
	}
}
