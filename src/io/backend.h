/* SPDX-License-Identifier: MIT */
/*
 * The I/O backend of one worker: where it parks, how it is woken, and where
 * its tasks' operations are submitted and reaped. Only the owning worker
 * thread submits, reaps or parks (an io_uring set up SINGLE_ISSUER binds
 * the creating thread); any thread may wake it. It knows no task, future or
 * stream: an operation is a record whose complete() runs on the owner when
 * it ends. The io_uring implementation is io/uring.c; nothing outside
 * src/io names a liburing type, so a readiness (epoll) backend can
 * implement the same interface.
 */
#ifndef WEFT_IO_BACKEND_H
#define WEFT_IO_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <weft/runtime.h>

struct weft__io_ring; /* the backend's own state (io/uring.c) */

struct weft__io {
	struct weft__io_ring *ring; /* NULL until weft__io_init succeeds */
	unsigned inflight;          /* operations submitted and not yet
	                             * completed; the owner's loop reaps while
	                             * it is not 0 (counted by submit) */
};

/* An operation in flight: complete() runs on the owning worker when its
 * completion is reaped, with the syscall's result (or -errno). */
struct weft__io_op {
	void (*complete)(struct weft__io_op *op, int res, unsigned flags);
};

/*
 * Sets the backend up on the calling (worker) thread: an io_uring with
 * SINGLE_ISSUER | DEFER_TASKRUN, else COOP_TASKRUN, else plain
 * (cfg->ring_no_defer forces the fallback; cfg->ring_entries sizes it).
 * Returns 0, WEFT_ENOURING with the kernel's reason written to why, or
 * -ENOMEM.
 */
int weft__io_init(struct weft__io *io, const weft_config *cfg, char *why, size_t cap);
/* Closes it (after the owner has stopped; a no-op if init failed). */
void weft__io_exit(struct weft__io *io);

/* Wakes the owner of `to` from the owner of `from` (a worker of the same
 * runtime: MSG_RING, falling back to the eventfd). */
void weft__io_wake_from(struct weft__io *from, const struct weft__io *to);

/* Wakes the owner of `to` from any thread (its eventfd). */
void weft__io_wake_foreign(const struct weft__io *to);

/* Owner only: blocks until a completion arrives (a wake, an operation) or
 * timeout_ns pass (UINT64_MAX: no timeout), then reaps what is there. */
void weft__io_park(struct weft__io *io, uint64_t timeout_ns);

/* Owner only: submits what is queued and reaps the completions already
 * there, without blocking. */
void weft__io_poll(struct weft__io *io);

#endif
