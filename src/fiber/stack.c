/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#include <valgrind/valgrind.h>

#include "fiber/sanitizer.h"
#include "fiber/stack.h"

#ifdef WEFT_ASAN
void __asan_unpoison_memory_region(const volatile void *addr, size_t size);
#endif

/* A reused stack may hold ASan poison from its last fiber's frames. */
static struct weft__stack *fresh(struct weft__stack_pool *pool, struct weft__stack *st)
{
#ifdef WEFT_ASAN
	__asan_unpoison_memory_region(st->lo, pool->size);
#else
	(void)pool;
#endif
	return st;
}

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102 /* Linux 6.13; not in Debian 12's headers */
#endif

enum {
	CHUNK_STACKS = 16, /* stacks per mapping */
	CACHE_MAX = 64,    /* a worker keeps at most this many idle stacks */
	DIRTY_KEEP = 256,  /* resident stacks the pool keeps for quick reuse */
};

struct weft__stack_chunk {
	struct weft__stack_chunk *next;
	void *base;
	size_t len;
	struct weft__stack stacks[CHUNK_STACKS];
};

size_t weft__stack_default_size(void)
{
#ifdef WEFT_SANITIZED
	return 256 * 1024;
#else
	return 64 * 1024;
#endif
}

int weft__stack_pool_init(struct weft__stack_pool *pool, size_t size)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	if (size == 0)
		size = weft__stack_default_size();
	pool->size = (size + page - 1) & ~(page - 1);
	pool->guard = page;
	pool->free = NULL;
	pool->dirty = NULL;
	pool->ndirty = 0;
	pool->chunks = NULL;
	pool->guard_madvise = true; /* probed on the first chunk */
	return pthread_mutex_init(&pool->lock, NULL) ? -ENOMEM : 0;
}

/* Caller holds pool->lock. */
static int chunk_add(struct weft__stack_pool *pool)
{
	struct weft__stack_chunk *c = malloc(sizeof(*c));
	if (!c)
		return -ENOMEM;
	size_t stride = pool->size + pool->guard;
	c->len = stride * CHUNK_STACKS;
	/* NORESERVE: a million reserved stacks must not count against
	 * heuristic overcommit; only touched pages cost memory. */
	c->base = mmap(NULL, c->len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
	if (c->base == MAP_FAILED) {
		free(c);
		return -ENOMEM;
	}
	for (int i = 0; i < CHUNK_STACKS; i++) {
		struct weft__stack *st = &c->stacks[i];
		st->guard = (char *)c->base + (size_t)i * stride;
		st->lo = (char *)st->guard + pool->guard;
		int rc = -1;
		if (pool->guard_madvise) {
			rc = madvise(st->guard, pool->guard, MADV_GUARD_INSTALL);
			if (rc)
				pool->guard_madvise = false; /* older kernel: mprotect */
		}
		if (rc && mprotect(st->guard, pool->guard, PROT_NONE)) {
			munmap(c->base, c->len);
			free(c);
			return -ENOMEM;
		}
		st->vg_id = VALGRIND_STACK_REGISTER(st->lo, (char *)st->lo + pool->size);
		st->tsan = NULL;
		st->next = pool->free;
		pool->free = st;
	}
	c->next = pool->chunks;
	pool->chunks = c;
	return 0;
}

struct weft__stack *weft__stack_get(struct weft__stack_pool *pool, struct weft__stack_cache *cache)
{
	struct weft__stack *st = cache->head;
	if (st) {
		cache->head = st->next;
		cache->n--;
		return fresh(pool, st);
	}
	pthread_mutex_lock(&pool->lock);
	if (!pool->dirty && !pool->free && chunk_add(pool)) {
		pthread_mutex_unlock(&pool->lock);
		return NULL;
	}
	/* Refill a few at once so the lock is not taken per task; resident
	 * (dirty) stacks first, they cost no page faults. */
	for (int i = 0; i <= CHUNK_STACKS / 2; i++) {
		struct weft__stack **list = pool->dirty ? &pool->dirty : &pool->free;
		struct weft__stack *s = *list;
		if (!s)
			break;
		*list = s->next;
		if (list == &pool->dirty)
			pool->ndirty--;
		if (!st) {
			st = s;
		} else {
			s->next = cache->head;
			cache->head = s;
			cache->n++;
		}
	}
	pthread_mutex_unlock(&pool->lock);
	return fresh(pool, st);
}

void weft__stack_put(struct weft__stack_pool *pool, struct weft__stack_cache *cache,
		     struct weft__stack *st)
{
	st->next = cache->head;
	cache->head = st;
	if (++cache->n <= CACHE_MAX)
		return;
	/* Spill half to the pool as dirty: releasing pages is for idle time. */
	struct weft__stack *first = cache->head, *last = first;
	for (unsigned i = 1; i < CACHE_MAX / 2; i++)
		last = last->next;
	cache->head = last->next;
	cache->n -= CACHE_MAX / 2;
	pthread_mutex_lock(&pool->lock);
	last->next = pool->dirty;
	pool->dirty = first;
	pool->ndirty += CACHE_MAX / 2;
	pthread_mutex_unlock(&pool->lock);
}

size_t weft__stack_trim(struct weft__stack_pool *pool, size_t max)
{
	enum { BATCH = 64 };
	size_t done = 0;
	for (;;) {
		struct weft__stack *batch[BATCH];
		unsigned n = 0;
		pthread_mutex_lock(&pool->lock);
		while (n < BATCH && done + n < max && pool->ndirty > DIRTY_KEEP) {
			batch[n] = pool->dirty;
			pool->dirty = batch[n]->next;
			pool->ndirty--;
			n++;
		}
		size_t above = pool->ndirty > DIRTY_KEEP ? pool->ndirty - DIRTY_KEEP : 0;
		pthread_mutex_unlock(&pool->lock);
		if (!n)
			return above;
		for (unsigned i = 0; i < n; i++)
			madvise(batch[i]->lo, pool->size, MADV_DONTNEED);
		pthread_mutex_lock(&pool->lock);
		for (unsigned i = 0; i < n; i++) {
			batch[i]->next = pool->free;
			pool->free = batch[i];
		}
		pthread_mutex_unlock(&pool->lock);
		done += n;
	}
}

void weft__stack_cache_flush(struct weft__stack_pool *pool, struct weft__stack_cache *cache)
{
	pthread_mutex_lock(&pool->lock);
	while (cache->head) {
		struct weft__stack *s = cache->head;
		cache->head = s->next;
		s->next = pool->dirty;
		pool->dirty = s;
		pool->ndirty++;
	}
	cache->n = 0;
	pthread_mutex_unlock(&pool->lock);
}

void weft__stack_pool_destroy(struct weft__stack_pool *pool)
{
	struct weft__stack_chunk *c = pool->chunks;
	while (c) {
		struct weft__stack_chunk *next = c->next;
		for (int i = 0; i < CHUNK_STACKS; i++) {
			VALGRIND_STACK_DEREGISTER(c->stacks[i].vg_id);
			if (c->stacks[i].tsan)
				weft__tsan_destroy(c->stacks[i].tsan);
		}
		munmap(c->base, c->len);
		free(c);
		c = next;
	}
	pool->chunks = NULL;
	pool->free = NULL;
	pool->dirty = NULL;
	pthread_mutex_destroy(&pool->lock);
}
