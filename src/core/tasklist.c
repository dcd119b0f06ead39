/* SPDX-License-Identifier: MIT */
/*
 * How many tasks are alive, and which (weft_all_tasks, shutdown). Each
 * worker counts the tasks it spawned and the tasks it retired in counters
 * only it writes; the number alive is the difference of the sums. Which
 * tasks: the slab registry (core/task_slab.h). Nothing here touches a task
 * a second time on another core, nor a lock per task.
 */
#include <errno.h>

#include <weft/task.h>

#include "core/future.h"
#include "core/task.h"
#include "core/task_slab.h"
#include "sched/worker.h"

static void bump(_Atomic uint64_t *c)
{
	/* one writer: no RMW needed; release pairs with weft__live_tasks */
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
			      memory_order_release);
}

void weft__task_count_spawned(struct weft__worker *w, weft_runtime *rt)
{
	if (w)
		bump(&w->spawned);
	else
		atomic_fetch_add_explicit(&rt->outside_spawned, 1, memory_order_release);
}

void weft__task_count_retired(struct weft__worker *w)
{
	weft_runtime *rt = w->rt;
	bump(&w->retired);
	if (atomic_load_explicit(&rt->closing, memory_order_acquire)) {
		/* shutdown waits for the count to reach zero */
		pthread_mutex_lock(&rt->lock);
		if (rt->waiting_idle)
			pthread_cond_broadcast(&rt->cond);
		pthread_mutex_unlock(&rt->lock);
	}
}

long weft__live_tasks(weft_runtime *rt)
{
	/* Retired first: a task spawned and retired between the two passes
	 * can then only make the estimate too high, never too low (no one
	 * decides "nothing is left" early). */
	uint64_t retired = 0, spawned = 0;
	for (unsigned i = 0; i < rt->nworkers; i++)
		retired += atomic_load_explicit(&rt->workers[i].retired, memory_order_acquire);
	spawned = atomic_load_explicit(&rt->outside_spawned, memory_order_acquire);
	for (unsigned i = 0; i < rt->nworkers; i++)
		spawned += atomic_load_explicit(&rt->workers[i].spawned, memory_order_acquire);
	return (long)(spawned - retired);
}

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
	if (!rt)
		rt = weft_current_runtime();
	if (!rt || (!out && cap))
		return -EINVAL;
	struct collect c = {.out = out, .cap = cap, .n = 0};
	weft__slab_each_live(rt, collect_one, &c);
	return (long)c.n;
}
