/* SPDX-License-Identifier: MIT */
/*
 * Core's share of a runtime (futures, tasks and their memory, task ids,
 * the runtime stub) and of each worker (its caches). The runtime
 * (src/runtime) embeds struct weft__core first, and core embeds the
 * scheduler first, so a public weft_runtime handle, core's struct and the
 * scheduler convert by a cast (weft__core_of, weft__core_runtime,
 * weft__core_of_sched).
 */
#ifndef WEFT_CORE_CORE_H
#define WEFT_CORE_CORE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <weft/common.h>
#include <weft/runtime.h>

#include "base/list.h"
#include "core/task_slab.h"
#include "fiber/switch.h"
#include "sched/sched.h"

struct weft__bridge;
struct weft__locals;
struct weft__rtstub;

/* Per worker; only its worker's thread touches it (stub_refs is summed by
 * weft__core_destroy once the workers are joined). */
struct weft__core_worker {
	struct weft__core *core;
	uint64_t id_next, id_end;         /* this worker's block of task ids */
	int64_t stub_refs;                /* net stub references (core/stub.c) */
	struct weft__task_slab *slab;     /* tasks are carved from it */
	unsigned slab_used;
	void *blocks;                     /* cache of blocks (core/block.c) */
	unsigned nblocks;
	struct weft__locals *cb_locals;   /* the values a running callback sees */
} __attribute__((aligned(64)));

struct weft__core {
	struct weft__sched sched;         /* first (see the top) */
	struct weft__rtstub *stub;        /* what futures keep of the runtime */
	struct weft__slab_registry slabs; /* every task's slab (core/task_slab.h) */
	struct weft__core_worker *workers; /* one per scheduler worker, by index */
	_Atomic uint64_t next_id;
	bool migratable;                  /* cfg.migratable: new tasks' default */
	bool debug;                       /* cfg.debug (or WEFT_DEBUG=1) */
	struct weft__bridge *bridge;      /* the thread bridges' state, owned by
	                                   * src/bridge; core never looks inside */
};

static inline struct weft__core *weft__core_of(weft_runtime *rt)
{
	return (struct weft__core *)(void *)rt;
}

static inline weft_runtime *weft__core_runtime(struct weft__core *c)
{
	return (weft_runtime *)(void *)c;
}

static inline struct weft__core *weft__core_of_sched(struct weft__sched *s)
{
	return weft__container_of(s, struct weft__core, sched);
}

/* Sets core's share up, after weft__sched_init (core sizes its per-worker
 * state by the scheduler's). Returns 0 or -ENOMEM (nothing to free). */
int weft__core_init(struct weft__core *c, const weft_config *cfg);

/* The workers are joined: folds their stub counts in, marks the stub dead
 * (futures still referenced see -ESHUTDOWN when completed) and frees
 * core's share. */
void weft__core_destroy(struct weft__core *c);

/* Shutdown: cancels every live task and waits until none is left
 * (tasks created meanwhile are cancelled on the next pass); 0. With a
 * deadline (CLOCK_MONOTONIC ns, weft__now_ns; 0: none) it returns
 * -ETIMEDOUT once it has passed with tasks still alive. Foreign thread. */
int weft__core_cancel_all(struct weft__core *c, uint64_t deadline_ns);

/* Prints a line on `out` for each task still alive (at most `max`, then
 * how many more); returns how many are alive. Any thread. */
long weft__core_report_tasks(struct weft__core *c, FILE *out, unsigned max);

/* Releases a scheduled callback no worker will run any more (shutdown). */
void weft__core_discard(struct weft__runnable *r);

/* A timer deadline (weft__clock_ns nanoseconds): base + ns, where ns
 * is already whole (ceil: never early) and may be negative, saturated to
 * [0, UINT64_MAX - 1]. A past deadline keeps its value (core/time.c). */
uint64_t weft__deadline_ns(uint64_t base, double ns);

/* call_soon/call_later runnables (core/call.c): run on the worker of cw,
 * or released unrun. */
void weft__call_run(struct weft__core_worker *cw, struct weft__runnable *r);
void weft__call_discard(struct weft__runnable *r);
void weft__sleep_due_run(struct weft__runnable *r);
void weft__sleep_due_discard(struct weft__runnable *r);

/*
 * The calling worker's core state, or NULL off a worker. Read afresh each
 * time (decision 19), as weft__worker_current is.
 */
extern __thread struct weft__core_worker *weft__tls_core
	__attribute__((tls_model("initial-exec")));

static inline struct weft__core_worker *weft__core_worker_current(void)
{
	return WEFT__TLS_LOAD(struct weft__core_worker *, weft__tls_core);
}

#endif
