/* SPDX-License-Identifier: MIT */
/*
 * Small blocks that start with a future (bare futures, timed sleeps, the
 * waiter nodes of src/sync) come from a per-worker cache of
 * WEFT__BLOCK_SIZE blocks (decision 23): a one-shot future per message
 * (ping-pong, sleeps, queue waits) otherwise costs a malloc/free pair that
 * overflows glibc's per-thread cache. One size serves all of them so a
 * block freed by one kind is reused by the others. ASan builds use malloc,
 * so use-after-free stays visible.
 */
#ifndef WEFT_CORE_BLOCK_H
#define WEFT_CORE_BLOCK_H

#include <stdbool.h>
#include <stdlib.h>

#include "core/core.h"
#include "fiber/sanitizer.h"

#define WEFT__BLOCK_SIZE 128
#define WEFT__BLOCK_CACHE_MAX 1024

/* The cache's fast paths are inline: a call each way cost ~3% of a
 * ping-pong's instructions (callgrind). */

/* A block from cw's cache, or NULL (empty; always under ASan). Owner of
 * cw only. */
static inline void *weft__block_pop(struct weft__core_worker *cw)
{
#ifndef WEFT_ASAN
	void *b = cw->blocks;
	if (b) {
		cw->blocks = *(void **)b;
		cw->nblocks--;
	}
	return b;
#else
	(void)cw;
	return NULL;
#endif
}

/* Gives b back to cw's cache; false when it is full (always under
 * ASan): the caller frees it. Owner of cw only. */
static inline bool weft__block_push(struct weft__core_worker *cw, void *b)
{
#ifndef WEFT_ASAN
	if (cw->nblocks < WEFT__BLOCK_CACHE_MAX) {
		*(void **)b = cw->blocks;
		cw->blocks = b;
		cw->nblocks++;
		return true;
	}
#else
	(void)cw, (void)b;
#endif
	return false;
}

/* The same as weft__block_alloc, from the cache only (NULL when it is
 * empty): never calls malloc, so it may be used under a spinlock. */
static inline void *weft__block_alloc_cached(void)
{
	struct weft__core_worker *cw = weft__core_worker_current();
	return cw ? weft__block_pop(cw) : NULL;
}

/* A block from the calling worker's cache (malloc elsewhere); NULL when out
 * of memory. Set the future's `cached` after weft__future_init: its last
 * unref then gives the block back. Any thread. */
static inline void *weft__block_alloc(void)
{
	void *b = weft__block_alloc_cached();
	return b ? b : malloc(WEFT__BLOCK_SIZE);
}

/* Gives a block back (to the calling worker's cache, or free). */
static inline void weft__block_free(void *b)
{
	struct weft__core_worker *cw = weft__core_worker_current();
	if (!cw || !weft__block_push(cw, b))
		free(b);
}

/* Frees a worker's cache (the worker stopping). */
void weft__block_cache_flush(struct weft__core_worker *cw);

#endif
