/* SPDX-License-Identifier: MIT */
/*
 * Fiber stacks: carved from large MAP_NORESERVE mappings (32 MiB, 256
 * default stacks, cut 16 at a time), each with a guard
 * region below it (WEFT__GUARD_BYTES: a frame up to that size that skips
 * over part of it still faults there), handed to a task when it first runs
 * and returned to the worker's cache when it finishes.
 *
 * Guards are installed 16 at a time and pages released 64 at a time with
 * one process_madvise each where the kernel allows it (one TLB flush per
 * batch), else a madvise per stack. Releasing is kept off the hot path,
 * as Go's scavenger does: stacks spilled from
 * a worker's cache go to the pool still "dirty" (pages resident, quick to
 * reuse), and a worker about to park trims the dirty list back to a
 * watermark (weft__stack_trim).
 *
 * Small-stack mode (weft_config.small_stacks) packs sub-page stacks back to
 * back with no guard: a canary at each stack's low end stands in for the
 * guard page, written when a stack leaves the pool and checked by the loop
 * every time a task switches out (weft__stack_canary_ok). Pages cannot be
 * released per stack there, so trimming releases whole chunks whose stacks
 * are all in the pool.
 */
#ifndef WEFT_FIBER_STACK_H
#define WEFT_FIBER_STACK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

struct weft__stack {
	struct weft__stack *next; /* free-list link while cached */
	void *lo;                 /* usable [lo, lo + size) (small stacks:
	                           * the canary first) */
	void *guard;              /* the guard page(s) just below lo (small
	                           * stacks: lo, and the guard is 0 bytes) */
	void *_Atomic user;       /* who runs on it (the loop's task), for the
	                           * overflow handler's report; NULL while
	                           * cached */
	unsigned vg_id;           /* Valgrind's stack id */
	unsigned index;           /* in its chunk (finds the chunk) */
	void *tsan;               /* TSan's fiber for this stack, made on first
	                           * use and kept: creating one per task costs
	                           * an mmap/munmap pair inside TSan */
};

struct weft__stack_chunk;
struct weft__stack_region;

/* Shared by a runtime's workers; its lock is taken once per cache refill or
 * spill, never per task. */
struct weft__stack_pool {
	pthread_mutex_t lock;
	struct weft__stack *dirty;       /* under lock: pages still resident */
	struct weft__stack *free;        /* under lock: pages released */
	size_t ndirty;                   /* under lock */
	size_t nfree;                    /* under lock: stacks on `free` */
	size_t nstacks;                  /* under lock: stacks made */
	size_t trimmed;                  /* under lock: pages released, in
	                                  * stacks, since the start */
	/* Pushed under lock, never removed before destroy; each published
	 * whole (release), so the overflow handler walks it without the
	 * lock (weft__stack_guard_of). */
	struct weft__stack_chunk *_Atomic chunks;
	size_t size;                     /* usable bytes per stack */
	size_t guard;                    /* guard bytes per stack */
	size_t chunk_len;                /* bytes per chunk of 16 stacks */
	struct weft__stack_region *regions; /* under lock: the mappings chunks
	                                     * are cut from */
	unsigned region_chunks;          /* chunks per mapping */
	atomic_bool batch;               /* process_madvise works here */
	size_t keep;                     /* under lock: resident stacks the
	                                  * idle trim leaves (256, or what was
	                                  * reserved) */
	bool guard_madvise;              /* MADV_GUARD_INSTALL works here */
	bool small;                      /* small-stack mode: no guards, canaries */
};

/* A worker's own cache (owner only). */
struct weft__stack_cache {
	struct weft__stack *head;
	unsigned n;
};

/* Small-stack mode: the default size, and the bounds a configured one must
 * keep (a multiple of 16 as well). Under sanitizers the pool makes every
 * small stack 4x bigger. */
#define WEFT__SMALL_STACK_DEFAULT 2048
#define WEFT__SMALL_STACK_MIN 1024
/* The canary's bytes at a small stack's low end. */
#define WEFT__CANARY_BYTES 32

/* The guard below each stack outside small-stack mode. With
 * MADV_GUARD_INSTALL (Linux 6.13) a guard is page-table markers, with
 * mprotect a VMA of its own: either way its size costs address space
 * only, and 64 KiB stays within the 2 MiB a page-table page covers
 * together with the stack. A frame larger than this that writes its far
 * end first can still land beyond it (build task code with
 * -fstack-clash-protection). */
#define WEFT__GUARD_BYTES ((size_t)64 * 1024)

/* The largest stack_size outside small-stack mode (Go's limit too): a
 * chunk maps 16 of them, and page rounding must not wrap. */
#define WEFT__STACK_MAX ((size_t)1 << 30)

/* Is stack_size valid for the mode? (weft_config validation) */
bool weft__stack_size_ok(size_t size, bool small);

/* size: usable bytes (0: the default); small: small-stack mode (size is
 * then valid: weft__stack_size_ok). Returns 0 or -ENOMEM. */
int weft__stack_pool_init(struct weft__stack_pool *pool, size_t size, bool small);
/* Maps n more stacks and touches each one's top page (a small stack's
 * whole chunk), keeping them resident for the pool's life: the first n
 * tasks alive at once then make no syscall and fault no page for their
 * stacks (weft_config.reserve_tasks). 0 or -ENOMEM. Before any worker
 * starts, or under the pool's lock like any pool change. */
int weft__stack_pool_reserve(struct weft__stack_pool *pool, size_t n);
/* Unmaps every chunk; every stack must have been returned. */
void weft__stack_pool_destroy(struct weft__stack_pool *pool);

/* A stack from the cache, else the pool, else a new chunk; NULL when out of
 * memory. Owner of `cache` only. */
struct weft__stack *weft__stack_get(struct weft__stack_pool *pool, struct weft__stack_cache *cache);
/* Returns a finished fiber's stack. Owner of `cache` only. */
void weft__stack_put(struct weft__stack_pool *pool, struct weft__stack_cache *cache,
		     struct weft__stack *st);
/* Releases the pages of dirty pooled stacks beyond the watermark, at most
 * `max` of them; returns how many are still above it. Any worker, when
 * idle. */
size_t weft__stack_trim(struct weft__stack_pool *pool, size_t max);

/* Gives the whole cache back to the pool (a worker stopping). */
void weft__stack_cache_flush(struct weft__stack_pool *pool, struct weft__stack_cache *cache);

/* Metrics: stacks made, stacks in the pool (not in a worker's cache nor
 * in use), stacks whose pages were released so far. Takes the pool's
 * lock. Any thread. */
void weft__stack_pool_counts(struct weft__stack_pool *pool, size_t *made, size_t *pooled,
			     size_t *trimmed);

/* The default usable size: 64 KiB, four times that under sanitizers. */
size_t weft__stack_default_size(void);

/* The stack whose guard holds addr, or NULL. Async-signal-safe (no lock:
 * the overflow handler asks). Any thread. */
struct weft__stack *weft__stack_guard_of(struct weft__stack_pool *pool, const void *addr);

/* Small-stack mode: is st's canary intact? Any thread that runs st's
 * task or has it switched out. */
bool weft__stack_canary_ok(const struct weft__stack *st);

#endif
