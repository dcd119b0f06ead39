/* SPDX-License-Identifier: MIT */
/* The per-worker cache of future blocks (core/block.h). */
#include <stdlib.h>

#include "core/block.h"
#include "core/core.h"

void weft__block_cache_flush(struct weft__core_worker *cw)
{
	while (cw->blocks) {
		void *b = cw->blocks;
		cw->blocks = *(void **)b;
		free(b);
	}
	cw->nblocks = 0;
}
