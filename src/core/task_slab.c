/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "core/core.h"
#include "core/future.h"
#include "core/stub.h"
#include "core/task.h"
#include "core/task_slab.h"
#include "fiber/sanitizer.h"

#ifdef WEFT_ASAN
#define SLAB_TASKS 1u
#else
#define SLAB_TASKS 16u
#endif

struct weft__task_slab {
	/* Tasks not yet freed, plus the slots the owner has not handed out. */
	_Atomic uint32_t live;
	uint32_t index;                /* in the registry; under its lock */
	struct weft__runnable empty;   /* link on the stub's empty_slabs */
	_Alignas(64) struct weft__task tasks[SLAB_TASKS];
};

/* Spare slabs are linked through their `empty` node. */
static struct weft__task_slab *spare_next(struct weft__task_slab *s)
{
	return s->empty.next ? weft__container_of(s->empty.next, struct weft__task_slab, empty) : NULL;
}

int weft__slab_registry_init(struct weft__slab_registry *r)
{
	r->v = NULL;
	r->n = r->cap = 0;
	r->spare = NULL;
	r->nspare = 0;
	return pthread_mutex_init(&r->lock, NULL) ? -ENOMEM : 0;
}

void weft__slab_registry_destroy(struct weft__slab_registry *r)
{
	while (r->spare) {
		struct weft__task_slab *s = r->spare;
		r->spare = spare_next(s);
		free(s);
	}
	r->nspare = 0;
	free(r->v);
	r->v = NULL;
	r->n = r->cap = 0;
	pthread_mutex_destroy(&r->lock);
}

static struct weft__task_slab *slab_new(struct weft__core *c)
{
	struct weft__slab_registry *r = &c->slabs;
	pthread_mutex_lock(&r->lock);
	struct weft__task_slab *s = r->spare;
	if (s) {
		r->spare = spare_next(s);
		r->nspare--;
	} else {
		pthread_mutex_unlock(&r->lock);
		if (!(s = aligned_alloc(64, sizeof(*s))))
			return NULL;
		pthread_mutex_lock(&r->lock);
	}
	atomic_init(&s->live, SLAB_TASKS);
	for (unsigned i = 0; i < SLAB_TASKS; i++)
		atomic_init(&s->tasks[i].fut.refs, 0); /* not handed out */
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		struct weft__task_slab **v = realloc(r->v, cap * sizeof(*v));
		if (!v) {
			pthread_mutex_unlock(&r->lock);
			free(s);
			return NULL;
		}
		r->v = v;
		r->cap = cap;
	}
	s->index = (uint32_t)r->n;
	r->v[r->n++] = s;
	pthread_mutex_unlock(&r->lock);
	return s;
}

static void slab_put(struct weft__task_slab *s, uint32_t n, struct weft__rtstub *stub)
{
	/* acq_rel: the last one out must see every other task's writes */
	if (atomic_fetch_sub_explicit(&s->live, n, memory_order_acq_rel) != n)
		return;
	if (atomic_load_explicit(&stub->dead, memory_order_acquire))
		free(s); /* the registry went with the runtime */
	else
		weft__mpsc_push(&stub->empty_slabs, &s->empty);
}

struct weft__task *weft__task_alloc(struct weft__core *c, struct weft__core_worker *cw)
{
	struct weft__task_slab *s;
	unsigned i;
	if (!cw || SLAB_TASKS == 1) {
		if (!(s = slab_new(c)))
			return NULL;
		/* hand back the slots a foreign thread cannot use */
		if (SLAB_TASKS > 1)
			atomic_store_explicit(&s->live, 1, memory_order_relaxed);
		i = 0;
	} else {
		if (!cw->slab || cw->slab_used == SLAB_TASKS) {
			if (!(cw->slab = slab_new(c)))
				return NULL;
			cw->slab_used = 0;
		}
		s = cw->slab;
		i = cw->slab_used++;
	}
	s->tasks[i].slab = s;
	return &s->tasks[i];
}

void weft__task_dealloc(struct weft__task *t, struct weft__rtstub *stub)
{
	slab_put(t->slab, 1, stub);
}

void weft__task_slab_retire(struct weft__core_worker *cw)
{
	if (cw->slab && cw->slab_used < SLAB_TASKS)
		slab_put(cw->slab, SLAB_TASKS - cw->slab_used, cw->core->stub);
	cw->slab = NULL;
	cw->slab_used = 0;
}

void weft__slab_reclaim(struct weft__core *c)
{
	struct weft__mpsc *empty = &c->stub->empty_slabs;
	if (weft__mpsc_empty(empty))
		return;
	struct weft__runnable *last, *r;
	size_t n;
	r = weft__mpsc_take_all(empty, &last, &n);
	struct weft__slab_registry *reg = &c->slabs;
	pthread_mutex_lock(&reg->lock);
	for (struct weft__runnable *p = r; p; p = p->next) {
		struct weft__task_slab *s = weft__container_of(p, struct weft__task_slab, empty);
		struct weft__task_slab *moved = reg->v[--reg->n];
		reg->v[s->index] = moved;
		moved->index = s->index;
	}
#ifndef WEFT_ASAN
	/* Kept for the next spawns (a burst of tasks otherwise costs a
	 * memalign and a coalescing free per 16); weft__slab_trim gives
	 * them back when the runtime idles. ASan: freed, so stale task
	 * pointers stay visible. */
	while (r) {
		struct weft__runnable *next = r->next;
		struct weft__task_slab *s = weft__container_of(r, struct weft__task_slab, empty);
		s->empty.next = reg->spare ? &reg->spare->empty : NULL;
		reg->spare = s;
		reg->nspare++;
		r = next;
	}
#endif
	pthread_mutex_unlock(&reg->lock);
	while (r) {
		struct weft__runnable *next = r->next;
		free(weft__container_of(r, struct weft__task_slab, empty));
		r = next;
	}
}

size_t weft__slab_trim(struct weft__core *c, size_t keep, size_t max)
{
	struct weft__slab_registry *reg = &c->slabs;
	struct weft__task_slab *out = NULL;
	pthread_mutex_lock(&reg->lock);
	while (max && reg->nspare > keep) {
		struct weft__task_slab *s = reg->spare;
		reg->spare = spare_next(s);
		reg->nspare--;
		s->empty.next = out ? &out->empty : NULL;
		out = s;
		max--;
	}
	size_t above = reg->nspare > keep ? reg->nspare - keep : 0;
	pthread_mutex_unlock(&reg->lock);
	while (out) {
		struct weft__task_slab *next = spare_next(out);
		free(out);
		out = next;
	}
	return above;
}

void weft__slab_reclaim_stub(struct weft__rtstub *stub)
{
	struct weft__runnable *last, *r;
	size_t n;
	r = weft__mpsc_take_all(&stub->empty_slabs, &last, &n);
	while (r) {
		struct weft__runnable *next = r->next;
		free(weft__container_of(r, struct weft__task_slab, empty));
		r = next;
	}
}

/* A reference to f unless it is being (or has been) freed: refs at 0. */
static bool try_ref(weft_future *f)
{
	uint32_t n = atomic_load_explicit(&f->refs, memory_order_relaxed);
	while (n) {
		if (atomic_compare_exchange_weak_explicit(&f->refs, &n, n + 1,
							  memory_order_acquire,
							  memory_order_relaxed))
			return true;
	}
	return false;
}

long weft__slab_each_live(struct weft__core *c, void (*fn)(weft_future *f, void *arg), void *arg)
{
	long count = 0;
	struct weft__slab_registry *reg = &c->slabs;
	pthread_mutex_lock(&reg->lock);
	for (size_t i = 0; i < reg->n; i++) {
		struct weft__task_slab *s = reg->v[i];
		for (unsigned k = 0; k < SLAB_TASKS; k++) {
			weft_future *f = &s->tasks[k].fut;
			/* The slab cannot be freed while we hold the lock; a task
			 * in it may be, which try_ref tells. */
			if (!try_ref(f))
				continue;
			if (weft__future_is_done(f)) {
				weft_future_unref(f); /* may empty the slab: it is only
						       * pushed on the stub's stack */
				continue;
			}
			count++;
			fn(f, arg);
		}
	}
	pthread_mutex_unlock(&reg->lock);
	return count;
}
