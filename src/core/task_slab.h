/* SPDX-License-Identifier: MIT */
/*
 * Task memory, and how the runtime finds its live tasks.
 *
 * Each worker carves tasks out of small slabs (16 tasks per allocation)
 * with a bump pointer; a slab is freed when its last task is. glibc's
 * malloc spent ~45% of a spawn-heavy run coalescing 256-byte chunks and
 * freeing across arenas. Slabs are small so that one long-lived task pins
 * at most 4 KiB. Under ASan every task is its own slab, so use-after-free
 * stays visible.
 *
 * The runtime keeps every slab in a registry (an array under a mutex,
 * changed once per 16 spawns), and weft_all_tasks and shutdown walk it:
 * a per-task list cost a lock or a cache miss on two cores per task. A
 * slab whose last task dies is handed back through the runtime stub's
 * `empty_slabs` stack (the stub outlives every task) and a worker takes it
 * out of the registry and keeps it as a spare for the next spawns; idle
 * workers free spares beyond a few (paced with the stack pages, see
 * sched/trim.c); once the runtime is gone, slabs are freed directly.
 */
#ifndef WEFT_CORE_TASK_SLAB_H
#define WEFT_CORE_TASK_SLAB_H

#include <pthread.h>
#include <stddef.h>

struct weft__task;
struct weft__core;
struct weft__core_worker;
struct weft__task_slab;
struct weft__rtstub;
struct weft_future;

struct weft__slab_registry {
	pthread_mutex_t lock;
	struct weft__task_slab **v; /* under lock */
	size_t n, cap;              /* under lock */
	struct weft__task_slab *spare; /* under lock: emptied, kept for reuse */
	size_t nspare;                 /* under lock */
};

int weft__slab_registry_init(struct weft__slab_registry *r);
/* The runtime is going: forget the registry (slabs with live tasks stay,
 * and are freed when their last task is). */
void weft__slab_registry_destroy(struct weft__slab_registry *r);

/* A block for one task of c, with the task's refs at 0 until it is
 * initialised; NULL when out of memory. cw: the calling worker's state if
 * it belongs to c, or NULL (a foreign thread: a slab of one). */
struct weft__task *weft__task_alloc(struct weft__core *c, struct weft__core_worker *cw);

/* Gives a task's memory back (its slab goes when its last task does).
 * stub: the task's runtime stub, still referenced by the caller. Any
 * thread. */
void weft__task_dealloc(struct weft__task *t, struct weft__rtstub *stub);

/* A worker stopping: hands back the slots of its slab it never used. */
void weft__task_slab_retire(struct weft__core_worker *cw);

/* Takes emptied slabs out of the registry and keeps them as spares (any
 * worker of c, now and then). */
void weft__slab_reclaim(struct weft__core *c);

/* Frees spare slabs beyond `keep`, at most `max` of them; returns how many
 * are still beyond it. Any worker of c, when idle. */
size_t weft__slab_trim(struct weft__core *c, size_t keep, size_t max);

/* Frees slabs left on a dead stub's stack (the stub being freed). */
void weft__slab_reclaim_stub(struct weft__rtstub *stub);

/* Calls fn on a new reference to every task of c not yet done (under the
 * registry lock: fn must not spawn). Returns how many. */
long weft__slab_each_live(struct weft__core *c, void (*fn)(struct weft_future *f, void *arg),
			  void *arg);

#endif
