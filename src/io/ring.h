/* SPDX-License-Identifier: MIT */
/* The io_uring backend's own state, shared by io/uring.c and io/pool.c
 * only (nothing outside src/io names a liburing type). */
#ifndef WEFT_IO_RING_H
#define WEFT_IO_RING_H

#include <liburing.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "io/backend.h"

/* The worker's provided-buffer ring (io/pool.c): made on first use. */
struct weft__io_pool {
	struct io_uring_buf_ring *br; /* the ring the kernel takes buffers from */
	char *mem;                    /* room for WEFT__IO_POOL_MAX buffers */
	unsigned made;                /* buffers handed to the ring so far */
	int state;                    /* 0: not tried; 1: ready; < 0: -errno
	                               * of the failed set-up (never retried) */
	/* Buffers given back by other threads (one bit each), put back on
	 * the ring by the owner before its next pool receive: a bitmap, as
	 * every buffer has one fixed slot and a give-back allocates nothing. */
	_Atomic uint64_t returned[WEFT__IO_POOL_MAX / 64];
	_Atomic bool any_returned;
};

struct weft__io_ring {
	struct io_uring ring;
	int efd;            /* foreign threads write here to wake the worker */
	uint64_t efd_buf;   /* the armed read's target */
	bool efd_armed;     /* a read on efd is in flight */
	bool deferred;      /* set up with DEFER_TASKRUN: reaping needs a syscall */
	bool valgrind;      /* under Valgrind: park in poll() on the eventfd */
	struct weft__io_pool pool;
};

/* Owner: puts back what other threads gave back. */
void weft__io_pool_drain(struct weft__io *io);

/* Unmaps the pool (io/pool.c), after the ring is gone. */
void weft__io_pool_exit(struct weft__io_pool *p);

#endif
