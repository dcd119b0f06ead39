/* SPDX-License-Identifier: MIT */
/*
 * Task memory, and how the runtime finds its live tasks.
 *
 * Each worker carves tasks out of small slabs (16 tasks) with a bump
 * pointer; a slab is free again when its last task is. Slabs themselves
 * are carved from 2 MiB chunks the runtime maps (MAP_NORESERVE: only what
 * is touched costs memory), never from malloc: glibc grew a thread arena a
 * page at a time (an mprotect per 16 spawns) and trimmed it on frees (a
 * 4 KiB MADV_DONTNEED, with its TLB-shootdown IPI, per slab freed at
 * destroy). Slabs are small so that one long-lived task pins at most 4 KiB.
 * Spawns from threads outside the runtime share one slab, under the
 * registry's lock. Under ASan every task is its own malloc'd slab, freed
 * with it, so use-after-free stays visible.
 *
 * The runtime keeps every slab in a registry (an array under a mutex,
 * changed once per 16 spawns), and weft_all_tasks and shutdown walk it:
 * a per-task list cost a lock or a cache miss on two cores per task. A
 * slab whose last task dies is handed back through the runtime stub's
 * `empty_slabs` stack (the stub outlives every task) and a worker takes it
 * out of the registry and keeps it as a spare in its chunk for the next
 * spawns. Idle workers give a chunk's pages back (one MADV_DONTNEED of
 * the whole chunk) once every slab of it is spare and more than a few
 * spares are kept (paced with the stack pages, see sched/trim.c). The
 * chunks belong to the stub: a slab whose tasks outlive the runtime stays
 * valid, and the stub's end unmaps every chunk at once.
 */
#ifndef WEFT_CORE_TASK_SLAB_H
#define WEFT_CORE_TASK_SLAB_H

#include <pthread.h>
#include <stddef.h>

#include "base/list.h"

struct weft__task;
struct weft__core;
struct weft__core_worker;
struct weft__task_slab;
struct weft__rtstub;
struct weft_future;

struct weft__slab_chunk;

/* Everything under lock. */
struct weft__slab_registry {
	pthread_mutex_t lock;
	struct weft__task_slab **v;     /* every slab with tasks handed out */
	size_t n, cap;
	struct weft__list partial;      /* chunks holding spare slabs */
	struct weft__list released;     /* chunks whose pages went back */
	struct weft__slab_chunk *carve; /* the chunk new slabs are cut from */
	size_t nspare;                  /* spare slabs, over every chunk */
	struct weft__task_slab *foreign; /* foreign threads' spawns share it */
	unsigned foreign_used;          /* its slots handed out */
	struct weft__rtstub *stub;      /* owns the chunks */
	size_t keep;                    /* spare slabs the trim leaves
	                                 * (weft_config.reserve_tasks) */
};

/* stub: the runtime's, which will own the chunks. 0 or -ENOMEM. */
int weft__slab_registry_init(struct weft__slab_registry *r, struct weft__rtstub *stub);
/* The runtime is going (no spawn can come): forget the registry. Slabs
 * with live tasks stay; their chunks go with the stub. */
void weft__slab_registry_destroy(struct weft__slab_registry *r);

/* A block for one task of c, with the task's refs at 0 until it is
 * initialised; NULL when out of memory. cw: the calling worker's state if
 * it belongs to c, or NULL (a thread outside c: the shared foreign slab,
 * under the registry's lock). */
struct weft__task *weft__task_alloc(struct weft__core *c, struct weft__core_worker *cw);

/* Gives a task's memory back (its slab goes when its last task does).
 * stub: the task's runtime stub, still referenced by the caller. Any
 * thread. */
void weft__task_dealloc(struct weft__task *t, struct weft__rtstub *stub);

/* Cuts slabs for ntasks tasks and touches them, kept as spares for the
 * runtime's life (weft_config.reserve_tasks); 0 or -ENOMEM. Under ASan,
 * where every task is its own malloc, nothing. Before any spawn. */
int weft__slab_reserve(struct weft__core *c, size_t ntasks);

/* A worker stopping: hands back the slots of its slab it never used. */
void weft__task_slab_retire(struct weft__core_worker *cw);

/* Takes emptied slabs out of the registry and keeps them as spares (any
 * worker of c, now and then). */
void weft__slab_reclaim(struct weft__core *c);

/* Gives back the pages of one chunk whose slabs are all spare, if the
 * spares beyond it are still at least `keep` and max > 0 (a chunk holds
 * more than any batch: one madvise each time); returns how many spare
 * slabs could still go. Any worker of c, when idle. */
size_t weft__slab_trim(struct weft__core *c, size_t keep, size_t max);

/* The stub is being freed (no task is left): frees its task memory,
 * every chunk unmapped whole. */
void weft__slab_reclaim_stub(struct weft__rtstub *stub);

/* Calls fn on a new reference to every task of c not yet done (under the
 * registry lock: fn must not spawn). Returns how many. */
long weft__slab_each_live(struct weft__core *c, void (*fn)(struct weft_future *f, void *arg),
			  void *arg);

#endif
