/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#include <valgrind/valgrind.h>

#include "fiber/sanitizer.h"
#include "fiber/stack.h"

#ifdef WEFT_ASAN
void __asan_unpoison_memory_region(const volatile void *addr, size_t size);
/* A canary may lie under a live frame's redzone (a stack about to
 * overflow) or in a cached stack's old poison: touching it is not a bug. */
#define NO_ASAN __attribute__((no_sanitize_address))
#else
#define NO_ASAN
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

#ifndef PIDFD_SELF_THREAD_GROUP
#define PIDFD_SELF_THREAD_GROUP (-10001) /* Linux 6.15; not in Debian 12's headers */
#endif

enum {
	CHUNK_STACKS = 16, /* stacks per chunk (their guards installed at once) */
	REGION_CHUNKS = 64, /* at most this many chunks per mapping */
	CACHE_MAX = 64,    /* a worker keeps at most this many idle stacks */
	DIRTY_KEEP = 256,  /* resident stacks the pool keeps for quick reuse */
};

/* Bytes a mapping aims at: 16 default chunks (256 stacks, 32 MiB of
 * address space, NORESERVE) per mmap, and one munmap at destroy. */
#define REGION_BYTES ((size_t)32 << 20)

struct weft__stack_chunk {
	struct weft__stack_chunk *next;
	void *base;
	size_t len;
	/* Small-stack mode, under the pool's lock: */
	unsigned pooled; /* stacks on the pool's lists */
	bool released;   /* pages given back since the last stack left */
	struct weft__stack stacks[CHUNK_STACKS];
};

/* A mapping chunks are cut from, which begins with this header (and
 * its chunks' descriptors). Under the pool's lock; unmapped whole at
 * destroy. */
struct weft__stack_region {
	struct weft__stack_region *next;
	void *base;                     /* the region itself */
	size_t len, head;               /* head: bytes before the first chunk */
	unsigned nchunks, used;
	struct weft__stack_chunk chunks[];
};

static struct weft__stack_chunk *chunk_of(struct weft__stack *st)
{
	struct weft__stack *first = st - st->index;
	return (struct weft__stack_chunk *)((char *)first - offsetof(struct weft__stack_chunk, stacks));
}

/* The canary: words mixed with their own address, so neither a zeroed
 * page nor a copy of a neighbour's canary passes. */
#define CANARY_WORDS (WEFT__CANARY_BYTES / 8)
#define CANARY_WORD(p) (UINT64_C(0x7765667453544b21) ^ (uint64_t)(uintptr_t)(p))

static NO_ASAN void canary_set(struct weft__stack *st)
{
	uint64_t *w = st->lo;
	for (int i = 0; i < CANARY_WORDS; i++)
		w[i] = CANARY_WORD(&w[i]);
}

NO_ASAN bool weft__stack_canary_ok(const struct weft__stack *st)
{
	const uint64_t *w = st->lo;
	uint64_t bad = 0;
	for (int i = 0; i < CANARY_WORDS; i++)
		bad |= w[i] ^ CANARY_WORD(&w[i]);
	return !bad;
}

size_t weft__stack_default_size(void)
{
#ifdef WEFT_SANITIZED
	return 256 * 1024;
#else
	return 64 * 1024;
#endif
}

bool weft__stack_size_ok(size_t size, bool small)
{
	if (!small || size == 0)
		return size <= WEFT__STACK_MAX;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	return size % 16 == 0 && size >= WEFT__SMALL_STACK_MIN && size <= page;
}

int weft__stack_pool_init(struct weft__stack_pool *pool, size_t size, bool small)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	pool->small = small;
	if (small) {
		/* Exactly `size` bytes, back to back: a multiple of 16 keeps
		 * every stack's ends aligned. */
		if (size == 0)
			size = WEFT__SMALL_STACK_DEFAULT;
#ifdef WEFT_SANITIZED
		size *= 4; /* as the default: instrumented frames are bigger */
#endif
		pool->size = size;
		pool->guard = 0;
	} else {
		if (size == 0)
			size = weft__stack_default_size();
		pool->size = (size + page - 1) & ~(page - 1);
		pool->guard = (WEFT__GUARD_BYTES + page - 1) & ~(page - 1);
	}
	pool->chunk_len = ((pool->size + pool->guard) * CHUNK_STACKS + page - 1) & ~(page - 1);
	pool->region_chunks = pool->chunk_len >= REGION_BYTES ? 1
			      : REGION_BYTES / pool->chunk_len > REGION_CHUNKS
				      ? REGION_CHUNKS
				      : (unsigned)(REGION_BYTES / pool->chunk_len);
	pool->regions = NULL;
	atomic_init(&pool->batch, true); /* probed on first use */
	pool->keep = DIRTY_KEEP;
	pool->free = NULL;
	pool->dirty = NULL;
	pool->ndirty = 0;
	pool->nfree = pool->nstacks = pool->trimmed = 0;
	atomic_init(&pool->chunks, NULL);
	pool->guard_madvise = true; /* probed on the first chunk */
	return pthread_mutex_init(&pool->lock, NULL) ? -ENOMEM : 0;
}

/* Makes the page(s) at g a guard. Caller holds pool->lock. */
static int guard_install(struct weft__stack_pool *pool, void *g)
{
	if (pool->guard_madvise) {
		if (madvise(g, pool->guard, MADV_GUARD_INSTALL) == 0)
			return 0;
		pool->guard_madvise = false; /* older kernel: mprotect */
	}
	return mprotect(g, pool->guard, PROT_NONE);
}

/*
 * The same advice for n ranges in one syscall: process_madvise on the
 * process itself takes any advice since Linux 6.13 and, since 6.16,
 * flushes the TLB once for the batch (a MADV_DONTNEED per stack cost a
 * shootdown IPI each). Returns false if the kernel refused it (older, or
 * Valgrind): the caller then advises range by range. pool->batch is read
 * and written under the pool's lock or by a thread that holds none (a
 * benign race on a bool: it only ever goes from true to false), so it is
 * atomic.
 */
static bool madvise_batch(struct weft__stack_pool *pool, const struct iovec *v, unsigned n,
			  int advice)
{
	if (!atomic_load_explicit(&pool->batch, memory_order_relaxed))
		return false;
	size_t total = 0;
	for (unsigned i = 0; i < n; i++)
		total += v[i].iov_len;
	long r = syscall(SYS_process_madvise, PIDFD_SELF_THREAD_GROUP, v, (size_t)n, advice, 0u);
	if (r == (long)total)
		return true;
	if (r < 0)
		atomic_store_explicit(&pool->batch, false, memory_order_relaxed);
	return false; /* a partial result: redone range by range (idempotent) */
}

/* A chunk's descriptor and address range, from the current mapping or a
 * new one; NULL when out of memory. Caller holds pool->lock. */
static struct weft__stack_chunk *chunk_carve(struct weft__stack_pool *pool)
{
	struct weft__stack_region *r = pool->regions;
	if (!r || r->used == r->nchunks) {
		unsigned n = pool->region_chunks;
		size_t page = (size_t)sysconf(_SC_PAGESIZE);
		/* The descriptors live at the mapping's low end, below the
		 * first guard (no malloc: glibc grew its arena a page at a
		 * time, an mprotect per mapping). */
		size_t head = (sizeof(*r) + n * sizeof(r->chunks[0]) + page - 1) & ~(page - 1);
		size_t len = head + pool->chunk_len * n;
		/* NORESERVE: a million reserved stacks must not count against
		 * heuristic overcommit; only touched pages cost memory. */
		void *base = mmap(NULL, len, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
		if (base == MAP_FAILED)
			return NULL;
#ifdef WEFT_ASAN
		/* the address may have held an unmapped runtime's stacks, whose
		 * frames' poison ASan keeps */
		__asan_unpoison_memory_region(base, head);
#endif
		r = base;
		r->base = base;
		r->len = len;
		r->head = head;
		r->nchunks = n;
		r->used = 0;
		r->next = pool->regions;
		pool->regions = r;
	}
	struct weft__stack_chunk *c = &r->chunks[r->used];
	c->base = (char *)r->base + r->head + pool->chunk_len * r->used++;
	c->len = pool->chunk_len;
	return c;
}

/* Chunks carved per chunk_add when the pool runs dry: their 64 guards go
 * in with one process_madvise (a quarter of the calls of one per chunk,
 * and ~10 % less kernel time per guard here). Address space and page
 * tables only until a stack is used. */
enum { ADD_CHUNKS = 4 };

/* Adds up to n chunks to the free list; returns how many (at least one)
 * or -ENOMEM. Caller holds pool->lock. */
static int chunk_add(struct weft__stack_pool *pool, unsigned n)
{
	struct weft__stack_chunk *cs[ADD_CHUNKS];
	struct iovec guards[ADD_CHUNKS * CHUNK_STACKS];
	unsigned nc = 0;
	if (n > ADD_CHUNKS)
		n = ADD_CHUNKS;
	while (nc < n && (cs[nc] = chunk_carve(pool)))
		nc++;
	if (!nc)
		return -ENOMEM;
	size_t stride = pool->size + pool->guard;
	for (unsigned k = 0; k < nc; k++) {
		struct weft__stack_chunk *c = cs[k];
		c->pooled = CHUNK_STACKS;
		c->released = true; /* nothing is resident yet */
		for (int i = 0; i < CHUNK_STACKS; i++) {
			struct weft__stack *st = &c->stacks[i];
			st->guard = (char *)c->base + (size_t)i * stride;
			st->lo = (char *)st->guard + pool->guard;
			st->index = (unsigned)i;
			guards[k * CHUNK_STACKS + i] = (struct iovec){st->guard, pool->guard};
		}
	}
	/* Small stacks have no guard: their canary is the check. A failed
	 * install leaves the chunks carved but unused (their address space
	 * goes at destroy). */
	if (!pool->small && !(pool->guard_madvise &&
			      madvise_batch(pool, guards, nc * CHUNK_STACKS, MADV_GUARD_INSTALL)))
		for (unsigned i = 0; i < nc * CHUNK_STACKS; i++)
			if (guard_install(pool, guards[i].iov_base))
				return -ENOMEM;
	/* Published only once every chunk is good. */
	for (unsigned k = 0; k < nc; k++) {
		struct weft__stack_chunk *c = cs[k];
		for (int i = 0; i < CHUNK_STACKS; i++) {
			struct weft__stack *st = &c->stacks[i];
			st->vg_id = VALGRIND_STACK_REGISTER(st->lo, (char *)st->lo + pool->size);
			st->tsan = NULL;
			atomic_init(&st->user, NULL);
			st->next = pool->free;
			pool->free = st;
		}
		pool->nstacks += CHUNK_STACKS;
		pool->nfree += CHUNK_STACKS;
		c->next = atomic_load_explicit(&pool->chunks, memory_order_relaxed);
		/* release: pairs with weft__stack_guard_of's acquire (a handler
		 * may walk the list at any time) */
		atomic_store_explicit(&pool->chunks, c, memory_order_release);
	}
	return (int)nc;
}

/* Faults a page in. The address may hold an unmapped runtime's stale
 * stack poison under ASan: touching it is not a bug. */
static NO_ASAN void touch(void *p)
{
	*(volatile char *)p = 0;
}

int weft__stack_pool_reserve(struct weft__stack_pool *pool, size_t n)
{
	if (!n)
		return 0;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	pthread_mutex_lock(&pool->lock);
	int rc = 0;
	for (size_t have = 0; have < n;) {
		int added = chunk_add(pool, (unsigned)((n - have + CHUNK_STACKS - 1) / CHUNK_STACKS));
		if (added < 0) {
			rc = added;
			break;
		}
		have += (size_t)added * CHUNK_STACKS;
	}
	/* The new stacks are on the free list, newest chunk first: touch
	 * each one's top page (where a task's frames begin; small stacks:
	 * their chunk's pages) and make it resident ("dirty"). */
	for (size_t i = 0; !rc && i < n && pool->free; i++) {
		struct weft__stack *st = pool->free;
		pool->free = st->next;
		if (pool->small) {
			struct weft__stack_chunk *c = chunk_of(st);
			if (c->released) {
				for (size_t off = 0; off < c->len; off += page)
					touch((char *)c->base + off);
				c->released = false;
			}
		} else {
			touch((char *)st->lo + pool->size - 1);
		}
		st->next = pool->dirty;
		pool->dirty = st;
		pool->ndirty++;
	}
	if (!rc && pool->keep < n)
		pool->keep = n; /* the idle trim leaves them resident */
	pthread_mutex_unlock(&pool->lock);
	return rc;
}

struct weft__stack *weft__stack_guard_of(struct weft__stack_pool *pool, const void *addr)
{
	if (pool->small)
		return NULL;
	size_t stride = pool->size + pool->guard;
	for (struct weft__stack_chunk *c = atomic_load_explicit(&pool->chunks, memory_order_acquire);
	     c; c = c->next) {
		const char *a = addr, *base = c->base;
		if (a < base || a >= base + stride * CHUNK_STACKS)
			continue;
		size_t i = (size_t)(a - base) / stride;
		return (size_t)(a - base) % stride < pool->guard ? &c->stacks[i] : NULL;
	}
	return NULL;
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
	if (!pool->dirty && !pool->free && chunk_add(pool, ADD_CHUNKS) < 0) {
		pthread_mutex_unlock(&pool->lock);
		return NULL;
	}
	/* Refill a few at once so the lock is not taken per task; resident
	 * (dirty) stacks first, they cost no page faults. */
	struct weft__stack *got[CHUNK_STACKS / 2 + 1];
	int n = 0;
	for (; n <= CHUNK_STACKS / 2; n++) {
		struct weft__stack **list = pool->dirty ? &pool->dirty : &pool->free;
		struct weft__stack *s = *list;
		if (!s)
			break;
		*list = s->next;
		if (list == &pool->dirty)
			pool->ndirty--;
		else
			pool->nfree--;
		if (pool->small) {
			struct weft__stack_chunk *c = chunk_of(s);
			c->pooled--;
			c->released = false;
		}
		got[n] = s;
	}
	pthread_mutex_unlock(&pool->lock);
	/* Small stacks: a canary on every stack leaving the pool (its chunk
	 * may have been released); a cached one keeps the canary its last
	 * task was checked against. Outside the lock: it may fault. */
	for (int i = 0; i < n; i++) {
		if (pool->small)
			canary_set(got[i]);
		if (i) {
			got[i]->next = cache->head;
			cache->head = got[i];
			cache->n++;
		}
	}
	return fresh(pool, got[0]);
}

/* Small-stack mode, under the pool's lock: count n stacks from `first`
 * back in their chunks. */
static void pooled_add(struct weft__stack *first, unsigned n)
{
	for (; n--; first = first->next)
		chunk_of(first)->pooled++;
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
	if (pool->small)
		pooled_add(first, CACHE_MAX / 2);
	last->next = pool->dirty;
	pool->dirty = first;
	pool->ndirty += CACHE_MAX / 2;
	pthread_mutex_unlock(&pool->lock);
}

enum { TRIM_BATCH = 64 };

/*
 * Small stacks share pages, and MADV_DONTNEED works on whole pages: a
 * chunk's pages go back only once every stack of it is on the pool's
 * lists, when the trim moves the last dirty one to the free list. The
 * madvise is done under the lock so that no stack of the chunk leaves
 * meanwhile (at most TRIM_BATCH of them per hold; idle workers only).
 */
static size_t trim_small(struct weft__stack_pool *pool, size_t max)
{
	size_t done = 0;
	for (;;) {
		unsigned n = 0;
		pthread_mutex_lock(&pool->lock);
		while (n < TRIM_BATCH && done + n < max && pool->ndirty > pool->keep) {
			struct weft__stack *s = pool->dirty;
			pool->dirty = s->next;
			pool->ndirty--;
			s->next = pool->free;
			pool->free = s;
			pool->nfree++;
			pool->trimmed++;
			struct weft__stack_chunk *c = chunk_of(s);
			if (c->pooled == CHUNK_STACKS && !c->released) {
				madvise(c->base, c->len, MADV_DONTNEED);
				c->released = true;
			}
			n++;
		}
		size_t above = pool->ndirty > pool->keep ? pool->ndirty - pool->keep : 0;
		pthread_mutex_unlock(&pool->lock);
		if (!n)
			return above;
		done += n;
	}
}

size_t weft__stack_trim(struct weft__stack_pool *pool, size_t max)
{
	if (pool->small)
		return trim_small(pool, max);
	size_t done = 0;
	for (;;) {
		struct weft__stack *batch[TRIM_BATCH];
		unsigned n = 0;
		pthread_mutex_lock(&pool->lock);
		while (n < TRIM_BATCH && done + n < max && pool->ndirty > pool->keep) {
			batch[n] = pool->dirty;
			pool->dirty = batch[n]->next;
			pool->ndirty--;
			n++;
		}
		size_t above = pool->ndirty > pool->keep ? pool->ndirty - pool->keep : 0;
		pthread_mutex_unlock(&pool->lock);
		if (!n)
			return above;
		struct iovec v[TRIM_BATCH];
		for (unsigned i = 0; i < n; i++)
			v[i] = (struct iovec){batch[i]->lo, pool->size};
		if (!madvise_batch(pool, v, n, MADV_DONTNEED))
			for (unsigned i = 0; i < n; i++)
				madvise(batch[i]->lo, pool->size, MADV_DONTNEED);
		pthread_mutex_lock(&pool->lock);
		for (unsigned i = 0; i < n; i++) {
			batch[i]->next = pool->free;
			pool->free = batch[i];
		}
		pool->nfree += n;
		pool->trimmed += n;
		pthread_mutex_unlock(&pool->lock);
		done += n;
	}
}

void weft__stack_cache_flush(struct weft__stack_pool *pool, struct weft__stack_cache *cache)
{
	pthread_mutex_lock(&pool->lock);
	if (pool->small)
		pooled_add(cache->head, cache->n);
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
	for (struct weft__stack_chunk *c = atomic_load_explicit(&pool->chunks, memory_order_relaxed);
	     c; c = c->next) {
		for (int i = 0; i < CHUNK_STACKS; i++) {
			VALGRIND_STACK_DEREGISTER(c->stacks[i].vg_id);
			if (c->stacks[i].tsan)
				weft__tsan_destroy(c->stacks[i].tsan);
		}
	}
	atomic_store_explicit(&pool->chunks, NULL, memory_order_relaxed);
	/* Whole mappings: one munmap per 256 default stacks. */
	while (pool->regions) {
		struct weft__stack_region *r = pool->regions;
		pool->regions = r->next;
#ifdef WEFT_ASAN
		/* frames' redzones outlive the mapping in ASan's shadow, and
		 * would be reported in whatever is mapped here next */
		__asan_unpoison_memory_region(r->base, r->len);
#endif
		munmap(r->base, r->len);
	}
	pool->free = NULL;
	pool->dirty = NULL;
	pthread_mutex_destroy(&pool->lock);
}

void weft__stack_pool_counts(struct weft__stack_pool *pool, size_t *made, size_t *pooled,
			     size_t *trimmed)
{
	pthread_mutex_lock(&pool->lock);
	*made = pool->nstacks;
	*pooled = pool->ndirty + pool->nfree;
	*trimmed = pool->trimmed;
	pthread_mutex_unlock(&pool->lock);
}
