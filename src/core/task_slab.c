/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

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

/* Bytes per chunk mapping: 2 MiB holds ~500 slabs. */
#define CHUNK_BYTES ((size_t)2 << 20)

struct weft__task_slab {
	/* Tasks not yet freed, plus the slots the owner has not handed out. */
	_Atomic uint32_t live;
	uint32_t index;                /* in the registry; under its lock */
	struct weft__runnable empty;   /* link on the stub's empty_slabs, then
	                                * on its chunk's spare list */
	struct weft__slab_chunk *chunk; /* NULL under ASan (malloc'd) */
	_Alignas(64) struct weft__task tasks[SLAB_TASKS];
};

/* A mapping slabs are cut from. Its descriptor is malloc'd (once per
 * 2 MiB), not inside the mapping, so a released chunk keeps it. Under the
 * registry's lock while the runtime lives; the stub's at its end. */
struct weft__slab_chunk {
	struct weft__slab_chunk *next;  /* every chunk of the stub */
	struct weft__list link;         /* on partial or released, or none */
	char *base;
	uint32_t carved;                /* slabs cut so far (bump) */
	uint32_t nspare;                /* of them, spare */
	struct weft__task_slab *spare;  /* linked through `empty` */
};

#define CHUNK_SLABS ((uint32_t)(CHUNK_BYTES / sizeof(struct weft__task_slab)))

int weft__slab_registry_init(struct weft__slab_registry *r, struct weft__rtstub *stub)
{
	r->v = NULL;
	r->n = r->cap = 0;
	weft__list_init(&r->partial);
	weft__list_init(&r->released);
	r->carve = NULL;
	r->nspare = 0;
	r->foreign = NULL;
	r->foreign_used = 0;
	r->stub = stub;
	r->keep = 0;
	return pthread_mutex_init(&r->lock, NULL) ? -ENOMEM : 0;
}

static void slab_put(struct weft__task_slab *s, uint32_t n, struct weft__rtstub *stub);

void weft__slab_registry_destroy(struct weft__slab_registry *r)
{
	/* No spawn can come any more: the foreign slab's unused slots go. */
	if (r->foreign && r->foreign_used < SLAB_TASKS)
		slab_put(r->foreign, SLAB_TASKS - r->foreign_used, r->stub);
	r->foreign = NULL;
	free(r->v);
	r->v = NULL;
	r->n = r->cap = 0;
	pthread_mutex_destroy(&r->lock);
}

#ifndef WEFT_ASAN
static struct weft__task_slab *spare_next(struct weft__task_slab *s)
{
	return s->empty.next ? weft__container_of(s->empty.next, struct weft__task_slab, empty) : NULL;
}

/* A slab's memory: a spare one (resident), else cut from a chunk. Caller
 * holds the lock. */
static struct weft__task_slab *slab_mem(struct weft__slab_registry *r)
{
	struct weft__list *l = weft__list_first(&r->partial);
	if (l) {
		struct weft__slab_chunk *ch = weft__container_of(l, struct weft__slab_chunk, link);
		struct weft__task_slab *s = ch->spare;
		ch->spare = spare_next(s);
		r->nspare--;
		if (!--ch->nspare)
			weft__list_remove(&ch->link);
		return s;
	}
	struct weft__slab_chunk *ch = r->carve;
	if (!ch || ch->carved == CHUNK_SLABS) {
		if ((l = weft__list_pop_front(&r->released))) {
			ch = weft__container_of(l, struct weft__slab_chunk, link);
		} else {
			/* Once per 2 MiB, so under the lock. NORESERVE: pages
			 * cost memory only once touched. */
			if (!(ch = malloc(sizeof(*ch))))
				return NULL;
			ch->base = mmap(NULL, CHUNK_BYTES, PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
			if (ch->base == MAP_FAILED) {
				free(ch);
				return NULL;
			}
			ch->carved = ch->nspare = 0;
			ch->spare = NULL;
			weft__list_init(&ch->link);
			/* only this runtime's spawners touch the list until
			 * the stub is freed, which no spawn outlives */
			ch->next = r->stub->chunks;
			r->stub->chunks = ch;
		}
		r->carve = ch;
	}
	struct weft__task_slab *s = (struct weft__task_slab *)ch->base + ch->carved++;
	s->chunk = ch;
	return s;
}

/* Keeps an emptied slab for reuse. Caller holds the lock. */
static void slab_keep(struct weft__slab_registry *r, struct weft__task_slab *s)
{
	struct weft__slab_chunk *ch = s->chunk;
	s->empty.next = ch->spare ? &ch->spare->empty : NULL;
	ch->spare = s;
	if (!ch->nspare++)
		weft__list_push_back(&r->partial, &ch->link);
	r->nspare++;
}

static void slab_mem_free(struct weft__task_slab *s)
{
	(void)s; /* its chunk goes with the stub */
}
#else
static struct weft__task_slab *slab_mem(struct weft__slab_registry *r)
{
	(void)r;
	struct weft__task_slab *s = aligned_alloc(64, sizeof(struct weft__task_slab));
	if (s)
		s->chunk = NULL;
	return s;
}

static void slab_mem_free(struct weft__task_slab *s)
{
	free(s); /* ASan sees every use after it */
}
#endif

/* A slab registered with every slot unused. Caller holds the lock. */
static struct weft__task_slab *slab_new_locked(struct weft__slab_registry *r)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		struct weft__task_slab **v = realloc(r->v, cap * sizeof(*v));
		if (!v)
			return NULL;
		r->v = v;
		r->cap = cap;
	}
	struct weft__task_slab *s = slab_mem(r);
	if (!s)
		return NULL;
	atomic_init(&s->live, SLAB_TASKS);
	for (unsigned i = 0; i < SLAB_TASKS; i++)
		atomic_init(&s->tasks[i].fut.refs, 0); /* not handed out */
	s->index = (uint32_t)r->n;
	r->v[r->n++] = s;
	return s;
}

static struct weft__task_slab *slab_new(struct weft__core *c)
{
	struct weft__slab_registry *r = &c->slabs;
	pthread_mutex_lock(&r->lock);
	struct weft__task_slab *s = slab_new_locked(r);
	pthread_mutex_unlock(&r->lock);
	return s;
}

static void slab_put(struct weft__task_slab *s, uint32_t n, struct weft__rtstub *stub)
{
	/* acq_rel: the last one out must see every other task's writes */
	if (atomic_fetch_sub_explicit(&s->live, n, memory_order_acq_rel) != n)
		return;
	if (atomic_load_explicit(&stub->dead, memory_order_acquire))
		slab_mem_free(s); /* the registry went with the runtime */
	else
		weft__mpsc_push(&stub->empty_slabs, &s->empty);
}

/* A slot of the slab that threads outside the runtime share: a whole
 * slab per foreign spawn cost 8.4 KB per suspended task instead of 4.4. */
static struct weft__task *foreign_alloc(struct weft__core *c)
{
	struct weft__slab_registry *r = &c->slabs;
	pthread_mutex_lock(&r->lock);
	if (!r->foreign || r->foreign_used == SLAB_TASKS) {
		if (!(r->foreign = slab_new_locked(r))) {
			pthread_mutex_unlock(&r->lock);
			return NULL;
		}
		r->foreign_used = 0;
	}
	struct weft__task_slab *s = r->foreign;
	struct weft__task *t = &s->tasks[r->foreign_used++];
	pthread_mutex_unlock(&r->lock);
	t->slab = s;
	return t;
}

#ifndef WEFT_ASAN
int weft__slab_reserve(struct weft__core *c, size_t ntasks)
{
	struct weft__slab_registry *r = &c->slabs;
	size_t n = (ntasks + SLAB_TASKS - 1) / SLAB_TASKS;
	int rc = 0;
	pthread_mutex_lock(&r->lock);
	/* The registry's array too: no realloc while those are in use. */
	if (n > r->cap) {
		struct weft__task_slab **v = realloc(r->v, n * sizeof(*v));
		if (v) {
			r->v = v;
			r->cap = n;
		} else {
			rc = -ENOMEM;
		}
	}
	for (size_t i = 0; i < n && !rc; i++) {
		struct weft__task_slab *s = slab_mem(r);
		if (!s) {
			rc = -ENOMEM;
			break;
		}
		struct weft__slab_chunk *ch = s->chunk;
		memset(s, 0, sizeof(*s)); /* its pages faulted in now */
		s->chunk = ch;
		slab_keep(r, s);
	}
	if (!rc && r->keep < n)
		r->keep = n;
	pthread_mutex_unlock(&r->lock);
	return rc;
}
#else
int weft__slab_reserve(struct weft__core *c, size_t ntasks)
{
	(void)c, (void)ntasks;
	return 0; /* one malloc per task under ASan, by design */
}
#endif

struct weft__task *weft__task_alloc(struct weft__core *c, struct weft__core_worker *cw)
{
	if (!cw)
		return foreign_alloc(c);
	if (!cw->slab || cw->slab_used == SLAB_TASKS) {
		if (!(cw->slab = slab_new(c)))
			return NULL;
		cw->slab_used = 0;
	}
	struct weft__task_slab *s = cw->slab;
	struct weft__task *t = &s->tasks[cw->slab_used++];
	t->slab = s;
	return t;
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
	/* Kept for the next spawns; weft__slab_trim gives whole chunks back
	 * when the runtime idles. ASan: freed, so stale task pointers stay
	 * visible. */
	while (r) {
		struct weft__runnable *next = r->next;
		slab_keep(reg, weft__container_of(r, struct weft__task_slab, empty));
		r = next;
	}
#endif
	pthread_mutex_unlock(&reg->lock);
	while (r) {
		struct weft__runnable *next = r->next;
		slab_mem_free(weft__container_of(r, struct weft__task_slab, empty));
		r = next;
	}
}

#ifndef WEFT_ASAN
/* A chunk whose slabs are all spare, with at least `keep` spares beyond
 * it; NULL if none. Caller holds the lock. */
static struct weft__slab_chunk *releasable(struct weft__slab_registry *r, size_t keep,
					   size_t *could)
{
	struct weft__slab_chunk *found = NULL;
	struct weft__list *l;
	*could = 0;
	weft__list_each(l, &r->partial) {
		struct weft__slab_chunk *ch = weft__container_of(l, struct weft__slab_chunk, link);
		if (ch->nspare != ch->carved || r->nspare - *could < keep + ch->nspare)
			continue;
		*could += ch->nspare;
		if (!found)
			found = ch;
	}
	return found;
}

size_t weft__slab_trim(struct weft__core *c, size_t keep, size_t max)
{
	struct weft__slab_registry *reg = &c->slabs;
	size_t could;
	pthread_mutex_lock(&reg->lock);
	if (keep < reg->keep)
		keep = reg->keep; /* weft_config.reserve_tasks */
	struct weft__slab_chunk *ch = releasable(reg, keep, &could);
	if (!max || !ch) {
		pthread_mutex_unlock(&reg->lock);
		return could;
	}
	/* Off every list while its pages go: nobody can take a slab of it. */
	weft__list_remove(&ch->link);
	reg->nspare -= ch->nspare;
	could -= ch->nspare;
	if (reg->carve == ch)
		reg->carve = NULL;
	pthread_mutex_unlock(&reg->lock);
	/* One call for the whole chunk: one TLB flush, not one per page. */
	madvise(ch->base, CHUNK_BYTES, MADV_DONTNEED);
	ch->carved = ch->nspare = 0;
	ch->spare = NULL;
	pthread_mutex_lock(&reg->lock);
	weft__list_push_back(&reg->released, &ch->link);
	pthread_mutex_unlock(&reg->lock);
	return could;
}
#else
size_t weft__slab_trim(struct weft__core *c, size_t keep, size_t max)
{
	(void)c, (void)keep, (void)max;
	return 0; /* nothing is kept */
}
#endif

void weft__slab_reclaim_stub(struct weft__rtstub *stub)
{
	struct weft__runnable *last, *r;
	size_t n;
	r = weft__mpsc_take_all(&stub->empty_slabs, &last, &n);
#ifdef WEFT_ASAN
	while (r) {
		struct weft__runnable *next = r->next;
		slab_mem_free(weft__container_of(r, struct weft__task_slab, empty));
		r = next;
	}
#else
	(void)r;
#endif
	/* Whole chunks, whatever their slabs hold: no task is left. */
	while (stub->chunks) {
		struct weft__slab_chunk *ch = stub->chunks;
		stub->chunks = ch->next;
		munmap(ch->base, CHUNK_BYTES);
		free(ch);
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
