/* SPDX-License-Identifier: MIT */
/*
 * A worker's io_uring ring: where the worker parks, how it is woken, and
 * (later) where its fibers' I/O is submitted. Only the owning worker
 * thread ever touches the ring (SINGLE_ISSUER binds the creating thread).
 * Kept behind this narrow interface so an epoll backend can slot in.
 */
#ifndef WEFT_IO_RING_H
#define WEFT_IO_RING_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>

#include <weft/runtime.h>

/* user_data values the ring reserves; anything else is a struct weft__io_op *. */
enum {
	WEFT__UD_WAKE = 1,     /* a MSG_RING wake from another worker */
	WEFT__UD_EVENTFD = 2,  /* the eventfd read (a wake from a foreign thread) */
	WEFT__UD_MSG_FAIL = 3, /* our MSG_RING failed; bits 8+ hold the target ring's efd */
	WEFT__UD_RESERVED = 256,
};

/* An operation in flight: its CQE calls complete() on the owning worker. */
struct weft__io_op {
	void (*complete)(struct weft__io_op *op, int res, unsigned flags);
};

struct weft__ring {
	struct io_uring ring;
	int efd;            /* foreign threads write here to wake the worker */
	uint64_t efd_buf;   /* the armed read's target */
	bool efd_armed;     /* a read on efd is in flight */
	bool deferred;      /* set up with DEFER_TASKRUN: reaping needs a syscall */
	bool valgrind;      /* under Valgrind: park in poll() on the eventfd */
	unsigned inflight;  /* weft__io_op operations not yet completed */
};

/*
 * Sets the ring up on the calling (worker) thread: SINGLE_ISSUER |
 * DEFER_TASKRUN, else COOP_TASKRUN, else plain. Returns 0, or
 * WEFT_ENOURING with the kernel's reason written to why.
 */
int weft__ring_init(struct weft__ring *r, const weft_config *cfg, char *why, size_t cap);
void weft__ring_exit(struct weft__ring *r);

/* Wakes the ring's owner from another worker's ring (MSG_RING); falls back
 * to the eventfd. Owner of `from` only. */
void weft__ring_wake_from(struct weft__ring *from, const struct weft__ring *to);

/* Wakes the ring's owner from any thread (eventfd). */
void weft__ring_wake_foreign(const struct weft__ring *to);

/*
 * Blocks until a CQE arrives (a wake, a completion) or timeout_ns pass
 * (UINT64_MAX: no timeout), then handles every CQE present. Owner only.
 */
void weft__ring_park(struct weft__ring *r, uint64_t timeout_ns);

/* Submits what is queued and handles the CQEs already there, without
 * blocking. Owner only. */
void weft__ring_poll(struct weft__ring *r);

#endif
