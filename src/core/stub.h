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

#include "sched/mpsc.h"

struct weft__core;

#define WEFT__STUB_BIAS ((int64_t)1 << 62)

struct weft__rtstub {
	_Atomic int64_t refs;
	atomic_bool dead;
	struct weft__core *core;        /* valid while !dead */
	struct weft__mpsc empty_slabs;  /* task slabs to reclaim (core/task_slab.c) */
};

/* A stub for c, holding the bias; NULL when out of memory. */
struct weft__rtstub *weft__stub_new(struct weft__core *c);

/* Any thread; NULL is ignored. */
void weft__stub_ref(struct weft__rtstub *stub);
void weft__stub_unref(struct weft__rtstub *stub);

/* The runtime is going (its workers joined): marks the stub dead, folds
 * the workers' counts in and drops the bias (the runtime's own reference);
 * frees the stub if nothing else holds it. */
void weft__stub_release(struct weft__core *c);

#endif
