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

#include <stdlib.h>

#include "core/core.h"
#include "fiber/sanitizer.h"

#define WEFT__BLOCK_SIZE 128
#define WEFT__BLOCK_CACHE_MAX 1024

/* The cache's fast paths are inline: a call each way cost ~3% of a
 * ping-pong's instructions (callgrind). */

/* The same as weft__block_alloc, from the cache only (NULL when it is
 * empty): never calls malloc, so it may be used under a spinlock. */
static inline void *weft__block_alloc_cached(void)
{
#ifndef WEFT_ASAN
	struct weft__core_worker *cw = weft__core_worker_current();
	if (cw && cw->blocks) {
		void *b = cw->blocks;
		cw->blocks = *(void **)b;
		cw->nblocks--;
		return b;
	}
#endif
	return NULL;
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
#ifndef WEFT_ASAN
	struct weft__core_worker *cw = weft__core_worker_current();
	if (cw && cw->nblocks < WEFT__BLOCK_CACHE_MAX) {
		*(void **)b = cw->blocks;
		cw->blocks = b;
		cw->nblocks++;
		return;
	}
#endif
	free(b);
}

/* Frees a worker's cache (the worker stopping). */
void weft__block_cache_flush(struct weft__core_worker *cw);

#endif
