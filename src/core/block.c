/* SPDX-License-Identifier: MIT */
/* The per-worker cache of future blocks (core/block.h). */
#include <stdlib.h>

#include "core/block.h"
#include "core/core.h"
#include "fiber/sanitizer.h"

enum { BLOCK_CACHE_MAX = 1024 };

/* A block from the calling worker's cache, or NULL when it has none. */
static inline void *cache_pop(void)
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

void *weft__block_alloc(void)
{
	void *b = cache_pop();
	return b ? b : malloc(WEFT__BLOCK_SIZE);
}

void *weft__block_alloc_cached(void)
{
	return cache_pop();
}

void weft__block_free(void *b)
{
#ifndef WEFT_ASAN
	struct weft__core_worker *cw = weft__core_worker_current();
	if (cw && cw->nblocks < BLOCK_CACHE_MAX) {
		*(void **)b = cw->blocks;
		cw->blocks = b;
		cw->nblocks++;
		return;
	}
#endif
	free(b);
}

void weft__block_cache_flush(struct weft__core_worker *cw)
{
	while (cw->blocks) {
		void *b = cw->blocks;
		cw->blocks = *(void **)b;
		free(b);
	}
	cw->nblocks = 0;
}
