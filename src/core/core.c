/* SPDX-License-Identifier: MIT */
/* Core's share of a runtime, and the hooks the scheduler calls (sched/hooks.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/block.h"
#include "core/core.h"
#include "core/debug.h"
#include "core/future.h"
#include "core/stub.h"
#include "core/task_slab.h"
#include "sched/hooks.h"
#include "sched/worker.h"

/* Spare task slabs kept when idle (1,024 tasks' worth): decision 14. */
#define SPARE_SLABS_KEEP 64

__thread struct weft__core_worker *weft__tls_core __attribute__((tls_model("initial-exec")));

int weft__core_init(struct weft__core *c, const weft_config *cfg)
{
	unsigned n = c->sched.nworkers;
	c->migratable = cfg->migratable;
	c->debug = cfg->debug;
	atomic_init(&c->next_id, 0);
	c->bridge = NULL;
	c->workers = aligned_alloc(64, sizeof(*c->workers) * n);
	c->stub = weft__stub_new(c);
	if (!c->workers || !c->stub || weft__slab_registry_init(&c->slabs, c->stub)) {
		free(c->workers);
		free(c->stub);
		return -ENOMEM;
	}
	memset(c->workers, 0, sizeof(*c->workers) * n);
	for (unsigned i = 0; i < n; i++)
		c->workers[i].core = c;
	if (weft__slab_reserve(c, cfg->reserve_tasks)) {
		weft__slab_registry_destroy(&c->slabs);
		weft__stub_release(c); /* unmaps what the reserve mapped */
		free(c->workers);
		return -ENOMEM;
	}
	return 0;
}

void weft__core_destroy(struct weft__core *c)
{
	weft__slab_reclaim(c); /* emptied slabs still registered */
	weft__slab_registry_destroy(&c->slabs);
	weft__stub_release(c);
	free(c->workers);
	c->workers = NULL;
}

void weft__core_discard(struct weft__runnable *r)
{
	if (r->kind == WEFT__RUN_CALLBACK)
		weft__cb_discard(r);
	else if (r->kind == WEFT__RUN_CALL)
		weft__call_discard(r);
	else if (r->kind == WEFT__RUN_SLEEP)
		weft__sleep_due_discard(r);
}

void weft__hook_worker_start(struct weft__worker *w)
{
	weft__tls_core = &weft__core_of_sched(w->sched)->workers[w->index];
}

void weft__hook_worker_stop(struct weft__worker *w)
{
	struct weft__core_worker *cw = weft__tls_core;
	weft__task_slab_retire(cw);
	weft__block_cache_flush(cw);
	weft__tls_core = NULL;
}

void weft__hook_run_callback(struct weft__worker *w, struct weft__runnable *r)
{
	struct weft__core_worker *cw = weft__tls_core; /* the loop's own stack */
	if (r->kind == WEFT__RUN_CALLBACK)
		weft__cb_run(cw, r);
	else if (r->kind == WEFT__RUN_SLEEP)
		weft__sleep_due_run(r);
	else
		weft__call_run(cw, r);
}

void weft__hook_reclaim(struct weft__sched *s)
{
	if (__builtin_expect(atomic_load_explicit(&weft__debug_queued, memory_order_relaxed), 0))
		weft__debug_flush();
	weft__slab_reclaim(weft__core_of_sched(s));
}

size_t weft__hook_trim(struct weft__sched *s, size_t max)
{
	return weft__slab_trim(weft__core_of_sched(s), SPARE_SLABS_KEEP, max);
}
