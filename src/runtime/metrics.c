/* SPDX-License-Identifier: MIT */
/*
 * weft_metrics: sums each floor's per-worker counters on read (the runtime
 * floor is the one that sees them all). No counter is shared between
 * workers, so counting costs no cache-line transfer; reading costs a pass
 * over the workers.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include <weft/metrics.h>

#include "bridge/bridge.h"
#include "core/core.h"
#include "core/debug.h"
#include "fiber/stack.h"
#include "runtime/runtime.h"
#include "sched/sched.h"
#include "sched/worker.h"

static uint64_t rd(_Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

int weft_metrics(weft_runtime *rt, struct weft_metrics *m)
{
	if (!rt || !m)
		return weft__misuse(-EINVAL, rt ? "NULL metrics" : "NULL runtime");
	if (m->size < offsetof(struct weft_metrics, workers) + sizeof(m->workers))
		return weft__misuse(-EINVAL, "m->size is not set: set it to sizeof(struct weft_metrics)");
	struct weft_metrics v;
	memset(&v, 0, sizeof(v));
	struct weft__sched *s = &weft__core_of(rt)->sched;
	v.workers = s->nworkers;
	/* Completions first, as weft__sched_live does: a task spawned and
	 * completed between the two passes can only raise `alive`. Jobs
	 * (work posted to a worker) are counted with the tasks by the
	 * scheduler; they are taken out here. */
	uint64_t retired = 0, spawned = 0, jobs_run = 0, jobs_posted = 0, runs = 0, cached = 0;
	for (unsigned i = 0; i < s->nworkers; i++) {
		struct weft__worker *w = &s->workers[i];
		retired += atomic_load_explicit(&w->retired, memory_order_acquire);
		jobs_run += rd(&w->m.jobs);
	}
	for (unsigned i = 0; i < s->nworkers; i++) {
		struct weft__worker *w = &s->workers[i];
		spawned += atomic_load_explicit(&w->spawned, memory_order_acquire);
		jobs_posted += rd(&w->m.jobs_posted);
		runs += rd(&w->m.runs);
		v.callbacks_run += rd(&w->m.callbacks);
		v.lifo_hits += rd(&w->m.lifo_hits);
		v.steals += rd(&w->m.steals);
		v.steal_attempts += rd(&w->m.steal_attempts);
		v.overflows += rd(&w->m.overflows);
		v.parks += rd(&w->m.parks);
		v.unparks += rd(&w->m.unparks);
		v.spins_found_work += rd(&w->m.spins_found);
		v.ring_submissions += rd(&w->io.submitted);
		v.ring_completions += rd(&w->io.completed);
		v.timers_pending += rd(&w->m.timers);
		cached += rd(&w->m.stacks_cached);
	}
	spawned += atomic_load_explicit(&s->outside_spawned, memory_order_acquire);
	v.tasks_spawned = spawned - jobs_posted;
	v.tasks_completed = retired - jobs_run;
	v.tasks_alive = v.tasks_spawned > v.tasks_completed ? v.tasks_spawned - v.tasks_completed : 0;
	/* runs counts callbacks and jobs too; a jobs_run read before runs
	 * could exceed what runs includes, hence the guard */
	uint64_t other = v.callbacks_run + jobs_run;
	v.tasks_polled = runs > other ? runs - other : 0;
	v.inject_depth = atomic_load_explicit(&s->inject.len, memory_order_relaxed);

	struct weft__blocking_stats b;
	weft__blocking_stats(rt, &b);
	v.blocking_idle = b.idle;
	v.blocking_busy = b.threads > b.idle ? b.threads - b.idle : 0;
	v.blocking_queued = b.queued;

	size_t made, pooled, trimmed;
	weft__stack_pool_counts(&s->stacks, &made, &pooled, &trimmed);
	v.stacks_cached = cached + pooled;
	v.stacks_in_use = made > v.stacks_cached ? made - v.stacks_cached : 0;
	v.stacks_trimmed = trimmed;

	size_t n = m->size < sizeof(v) ? m->size : sizeof(v);
	v.size = m->size;
	memcpy(m, &v, n);
	return 0;
}
