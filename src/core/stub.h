/* SPDX-License-Identifier: MIT */
/*
 * A runtime's handle that futures keep; it outlives the runtime. Counting
 * a reference per future on one shared word made every spawn and every
 * future bounce a cache line between workers, so references taken and
 * dropped on the runtime's own workers are counted per worker
 * (weft__core_worker.stub_refs, plain integers that may go negative), and
 * `refs` holds the others plus WEFT__STUB_BIAS while the runtime lives.
 * weft__stub_release (at destroy) folds the workers' counts in and removes
 * the bias; from then on `refs` is exact and whoever brings it to 0 frees
 * the stub.
 */
#ifndef WEFT_CORE_STUB_H
#define WEFT_CORE_STUB_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/core.h"
#include "sched/mpsc.h"

struct weft__core;

#define WEFT__STUB_BIAS ((int64_t)1 << 62)

struct weft__rtstub {
	_Atomic int64_t refs;
	atomic_bool dead;
	struct weft__core *core;        /* valid while !dead */
	struct weft__mpsc empty_slabs;  /* task slabs to reclaim (core/task_slab.c) */
	struct weft__slab_chunk *chunks; /* task memory (core/task_slab.c): under
	                                  * the slab registry's lock while the
	                                  * runtime lives, unmapped with the stub */
};

/* A stub for c, holding the bias; NULL when out of memory. */
struct weft__rtstub *weft__stub_new(struct weft__core *c);

/* Frees a stub whose count reached zero (its runtime is gone). */
void weft__stub_free(struct weft__rtstub *stub);

/* Any thread; NULL is ignored. Inline: every future takes and drops one. */
static inline void weft__stub_ref(struct weft__rtstub *stub)
{
	if (!stub)
		return;
	struct weft__core_worker *cw = weft__core_worker_current();
	if (cw && cw->core->stub == stub)
		cw->stub_refs++;
	else
		atomic_fetch_add_explicit(&stub->refs, 1, memory_order_relaxed);
}

static inline void weft__stub_unref(struct weft__rtstub *stub)
{
	if (!stub)
		return;
	struct weft__core_worker *cw = weft__core_worker_current();
	if (cw && cw->core->stub == stub)
		cw->stub_refs--;
	else if (atomic_fetch_sub_explicit(&stub->refs, 1, memory_order_acq_rel) == 1)
		weft__stub_free(stub);
}

/* The runtime is going (its workers joined): marks the stub dead, folds
 * the workers' counts in and drops the bias (the runtime's own reference);
 * frees the stub if nothing else holds it. */
void weft__stub_release(struct weft__core *c);

#endif
