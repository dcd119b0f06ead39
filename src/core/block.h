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

struct weft__core_worker;

#define WEFT__BLOCK_SIZE 128

/* A block from the calling worker's cache (malloc elsewhere); NULL when out
 * of memory. Set the future's `cached` after weft__future_init: its last
 * unref then gives the block back. Any thread. */
void *weft__block_alloc(void);
/* The same, from the cache only (NULL when it is empty): never calls
 * malloc, so it may be used under a spinlock. */
void *weft__block_alloc_cached(void);
/* Gives a block back (to the calling worker's cache, or free). */
void weft__block_free(void *b);
/* Frees a worker's cache (the worker stopping). */
void weft__block_cache_flush(struct weft__core_worker *cw);

#endif
