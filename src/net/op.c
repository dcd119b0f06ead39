/* SPDX-License-Identifier: MIT */
/*
 * A raw operation's wait, its cancellation, and the registry of
 * operations in flight per descriptor (for weft_close).
 *
 * The wait is a future in a block from the worker's cache (core/block.h):
 * the task awaits it like any future, so weft_cancel, timeout scopes and
 * shutdown reach it through the task's usual path (core/task.c). Its
 * cancel refuses, as API.md says an I/O wait does, but first asks the
 * owning worker's ring to stop the operation: directly on that worker, or
 * through a job posted to it from anywhere else (only the owner may touch
 * its ring). The completion, reaped by the owner, completes the future;
 * weft_await then delivers -ECANCELED as the cancellation, or returns any
 * other result with the cancellation still pending.
 *
 * The registry is process-wide, as descriptors are: a two-level table of
 * slots (1,024 per chunk, chunks made on first use and kept), each a
 * spinlock, the list of the weft operations in flight on that descriptor
 * and a closing flag. weft_close marks the slot closing (new operations
 * on it are refused -EBADF), cancels each operation on its owner, waits
 * until the list is empty, asserts it is, closes, and clears the flag.
 */
#include <stdio.h>
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include <weft/io.h>
#include <weft/thread.h>
#include <weft/time.h>

#include "base/list.h"
#include "core/block.h"
#include "core/core.h"
#include "core/debug.h"
#include "core/future.h"
#include "core/task.h"
#include "net/op.h"
#include "sched/spinlock.h"
#include "sched/worker.h"

/* ---- the registry ---- */

enum { SLOTS_PER_CHUNK = 1024, CHUNKS = 1024 }; /* descriptors below 2^20 */

struct fd_slot {
	weft__spinlock lock;
	bool closing;            /* a weft_close is under way */
	uint32_t n;              /* operations in the list */
	struct weft__list ops;   /* struct op_wait.link */
	weft_future *closer;     /* completed when n reaches 0 while closing */
};

static _Atomic(struct fd_slot *) chunks[CHUNKS];

/* The slot of fd; made on first use when `make`; NULL when fd is out of
 * range (or not made). Any thread. */
static struct fd_slot *slot_of(int fd, bool make)
{
	if (fd < 0 || fd >= SLOTS_PER_CHUNK * CHUNKS)
		return NULL;
	_Atomic(struct fd_slot *) *c = &chunks[fd / SLOTS_PER_CHUNK];
	/* acquire: pairs with the release CAS that published the chunk */
	struct fd_slot *s = atomic_load_explicit(c, memory_order_acquire);
	if (!s && make) {
		struct fd_slot *fresh = calloc(SLOTS_PER_CHUNK, sizeof(*fresh));
		if (!fresh)
			return NULL;
		for (unsigned i = 0; i < SLOTS_PER_CHUNK; i++)
			weft__list_init(&fresh[i].ops);
		if (atomic_compare_exchange_strong_explicit(c, &s, fresh, memory_order_acq_rel,
							    memory_order_acquire))
			s = fresh;
		else
			free(fresh); /* another thread made it first: s is theirs */
	}
	return s ? &s[fd % SLOTS_PER_CHUNK] : NULL;
}

/* ---- the wait ---- */

struct op_wait {
	weft_future fut;            /* first: the block is freed through it */
	struct weft__io_op op;
	struct weft__worker *owner; /* whose ring has the operation */
	atomic_bool ended;          /* its completion has been reaped */
	bool closed;                /* ended by weft_close: -EBADF (under the
	                             * slot's lock) */
	bool close_sent;            /* weft_close sent its cancel (under it) */
	int fd;                     /* registered under it; -1: untracked */
	unsigned cflags;            /* the completion's flags (a pool buffer) */
	struct weft__list link;     /* in its slot, under the slot's lock */
};

_Static_assert(sizeof(struct op_wait) <= WEFT__BLOCK_SIZE, "an operation's wait fits a block");

/* A cancel request carried to the owner from another thread. */
struct cancel_job {
	struct weft__job job;
	struct op_wait *ow; /* a reference */
};

static void cancel_on_owner(struct op_wait *ow)
{
	if (!atomic_load_explicit(&ow->ended, memory_order_relaxed))
		weft__io_cancel(&ow->owner->io, &ow->op, ow->op.gen);
}

static void cancel_job_run(struct weft__worker *w, struct weft__job *j)
{
	struct cancel_job *cj = weft__container_of(j, struct cancel_job, job);
	cancel_on_owner(cj->ow);
	weft_future_unref(&cj->ow->fut);
	free(cj);
}

/* Asks the owner's ring to stop ow's operation. Any thread; the caller
 * holds a reference to ow. */
static void request_cancel(struct op_wait *ow)
{
	/* relaxed: a stale "not ended" only costs a cancel that finds nothing */
	if (atomic_load_explicit(&ow->ended, memory_order_relaxed))
		return;
	if (weft__worker_current() == ow->owner) {
		cancel_on_owner(ow);
		return;
	}
	struct cancel_job *cj = malloc(sizeof(*cj));
	if (!cj)
		return; /* the operation runs to its end: a late result, not a hang */
	cj->job.fn = cancel_job_run;
	cj->ow = ow;
	weft_future_ref(&ow->fut);
	weft__worker_post(ow->owner, &cj->job);
}

/* Future.cancel of the wait: an I/O wait refuses (API.md), after asking
 * the kernel to end the operation early. */
static bool op_wait_cancel(weft_future *f, const char *msg)
{
	request_cancel((struct op_wait *)f);
	return false;
}

/* Inspection: the descriptor (the request itself was the caller's). */
static void op_wait_describe(const weft_future *f, char *buf, size_t cap)
{
	const struct op_wait *ow = (const struct op_wait *)f;
	if (ow->fd >= 0)
		snprintf(buf, cap, "an I/O operation on fd %d", ow->fd);
	else
		snprintf(buf, cap, "an I/O operation");
}

static const struct weft__future_ops op_wait_ops = {.cancel = op_wait_cancel,
						    .describe = op_wait_describe};

/* On the owner, when the completion is reaped. */
static void op_complete(struct weft__io_op *op, int res, unsigned flags)
{
	struct op_wait *ow = weft__container_of(op, struct op_wait, op);
	weft_future *closer = NULL;
	if (ow->fd >= 0) {
		struct fd_slot *s = slot_of(ow->fd, false);
		weft__spin_lock(&s->lock);
		weft__list_remove(&ow->link);
		if (--s->n == 0 && s->closer) {
			closer = s->closer;
			s->closer = NULL;
		}
		if (ow->closed && res == -ECANCELED)
			res = -EBADF;
		weft__spin_unlock(&s->lock);
	}
	ow->cflags = flags;
	atomic_store_explicit(&ow->ended, true, memory_order_relaxed);
	weft__future_complete(&ow->fut, res < 0 ? res : 0, (void *)(intptr_t)res, NULL);
	weft_future_unref(&ow->fut); /* the ring's reference */
	if (closer) {
		weft__future_complete(closer, 0, NULL, NULL);
		weft_future_unref(closer);
	}
}

/* Registers ow under fd for weft_close: 0, or -EBADF (a close of fd is
 * under way, or fd is beyond the registry), -ENOMEM. */
static int track(struct op_wait *ow, int fd)
{
	struct fd_slot *s = slot_of(fd, true);
	if (!s)
		return fd >= SLOTS_PER_CHUNK * CHUNKS ? -EBADF : -ENOMEM;
	weft__spin_lock(&s->lock);
	bool closing = s->closing;
	if (!closing) {
		weft__list_push_back(&s->ops, &ow->link);
		s->n++;
		ow->fd = fd;
	}
	weft__spin_unlock(&s->lock);
	return closing ? -EBADF : 0;
}

/* ---- operations the backend cannot wait for ---- */

static int blocking_call(void *arg, void **result)
{
	*result = (void *)(intptr_t)weft__io_run_blocking(arg);
	return 0;
}

/*
 * req on a blocking-pool thread (the epoll backend's files, openat, statx,
 * fsync: epoll cannot wait for them). The call's own cancellation rule is
 * the raw operation's: a call not started is dropped (-ECANCELED, nothing
 * done), a started one is waited for (it may be using the task's buffer)
 * and its result returned with the cancellation left pending.
 */
static int64_t run_on_pool(const struct weft__io_req *req)
{
	weft_future *f = weft_to_thread(blocking_call, (void *)req);
	void *v = NULL;
	int rc = weft_await(f, &v);
	weft_future_unref(f);
	return rc < 0 ? rc : (int64_t)(intptr_t)v;
}

void weft__fd_forget(int fd)
{
	struct weft__worker *w = weft__worker_current();
	if (!w)
		return; /* the kernel drops the registration with the last close */
	struct weft__sched *s = w->sched;
	for (unsigned i = 0; i < s->nworkers; i++)
		weft__io_forget(&s->workers[i].io, fd);
}

int64_t weft__op_run(const struct weft__io_req *req, bool untracked)
{
	return weft__op_run_flags(req, untracked, NULL);
}

int64_t weft__op_run_flags(const struct weft__io_req *req, bool untracked, unsigned *cflags)
{
	struct weft__worker *w = weft__worker_current();
	struct weft__task *t = weft__task_current();
	if (!t)
		return weft__misuse(-EPERM, "called outside a task");
	/* A pending cancellation is delivered here: nothing is submitted. */
	if (weft__task_take_cancel(t))
		return -ECANCELED;
	struct op_wait *ow = weft__block_alloc();
	if (!ow)
		return -ENOMEM;
	weft__future_init(&ow->fut, WEFT__FUT_PLAIN, weft__core_of_sched(w->sched)->stub);
	ow->fut.cached = true; /* the last unref gives the whole block back */
	ow->fut.ops = &op_wait_ops;
	atomic_store_explicit(&ow->fut.refs, 2, memory_order_relaxed); /* task + ring */
	ow->op.complete = op_complete;
	ow->op.gen = 0;
	ow->op.be = NULL;
	ow->op.keep = false; /* its task may close the descriptor anywhere */
	ow->owner = w;
	atomic_init(&ow->ended, false);
	ow->closed = false;
	ow->close_sent = false;
	ow->fd = -1;
	ow->cflags = 0;
	int rc = untracked || req->fd < 0 ? 0 : track(ow, req->fd);
	if (rc) {
		atomic_store_explicit(&ow->fut.refs, 1, memory_order_relaxed); /* never submitted */
		weft_future_unref(&ow->fut);
		return rc;
	}
	rc = weft__io_submit(&w->io, &ow->op, req);
	/* every kind used here is one the backend knows, and a pool receive
	 * comes after weft__io_pool_enable succeeded on this worker; the
	 * epoll backend refuses what it cannot wait for (-EOPNOTSUPP) */
	if (rc) {
		assert(w->io.ep && rc != -EINVAL);
		/* still registered for weft_close, which waits for it */
		op_complete(&ow->op, (int)(rc == -EOPNOTSUPP ? run_on_pool(req) : rc), 0);
	}
	void *v = NULL;
	/* -ECANCELED here is the delivery (weft_await takes the pending
	 * cancel); any other result leaves it pending */
	rc = weft_await(&ow->fut, &v);
	if (cflags)
		*cflags = ow->cflags; /* the future's completion published it */
	weft_future_unref(&ow->fut);
	return rc < 0 ? rc : (int64_t)(intptr_t)v;
}

/* ---- close ---- */

/* The closer's wait refuses cancellation: the descriptor must not be
 * closed under an operation still in flight. */
static bool closer_cancel(weft_future *f, const char *msg)
{
	return false;
}

static void closer_describe(const weft_future *f, char *buf, size_t cap)
{
	snprintf(buf, cap, "weft_close: the end of the operations on the descriptor");
}

static const struct weft__future_ops closer_ops = {.cancel = closer_cancel,
						   .describe = closer_describe};

WEFT_API int weft_close(int fd)
{
	struct weft__task *t = weft__task_current();
	if (!t)
		return weft__misuse(-EPERM, "called outside a task");
	struct fd_slot *s = slot_of(fd, false);
	if (!s) {
		weft__fd_forget(fd);
		return close(fd) ? -errno : 0;
	}
	weft_future *closer = NULL;
	weft__spin_lock(&s->lock);
	if (s->closing) {
		weft__spin_unlock(&s->lock);
		return weft__misuse(-EBADF, "the descriptor is being closed by another task");
	}
	s->closing = true;
	if (s->n) {
		closer = weft__future_waiter();
		if (closer) {
			closer->ops = &closer_ops;
			s->closer = weft_future_ref(closer);
		}
	}
	/* Every operation in flight ends -EBADF. */
	struct weft__list *l;
	weft__list_each(l, &s->ops)
		weft__container_of(l, struct op_wait, link)->closed = true;
	weft__spin_unlock(&s->lock);
	/* Cancel requests go out one at a time, outside the lock (a request
	 * may post a job, and a cancel on this worker may flush the ring);
	 * a descriptor rarely has more than one or two operations. */
	for (;;) {
		struct op_wait *next = NULL;
		weft__spin_lock(&s->lock);
		weft__list_each(l, &s->ops) {
			struct op_wait *ow = weft__container_of(l, struct op_wait, link);
			if (!ow->close_sent) {
				ow->close_sent = true;
				next = (struct op_wait *)weft_future_ref(&ow->fut);
				break;
			}
		}
		weft__spin_unlock(&s->lock);
		if (!next)
			break;
		request_cancel(next);
		weft_future_unref(&next->fut);
	}
	int delivered = 0;
	if (closer) {
		/* Refuses cancellation, so this waits for the last operation. */
		int rc = weft_await(closer, NULL);
		if (rc == 0 && weft__task_take_cancel(t))
			delivered = -ECANCELED;
		weft_future_unref(closer);
	} else {
		/* no memory for a waiter: poll until the operations are gone */
		for (;;) {
			weft__spin_lock(&s->lock);
			uint32_t n = s->n;
			weft__spin_unlock(&s->lock);
			if (!n)
				break;
			if (weft_sleep(0) == -ECANCELED)
				delivered = -ECANCELED;
		}
	}
	weft__fd_forget(fd); /* out of every epoll set first (IO.md) */
	weft__spin_lock(&s->lock);
	/* the close rule: nothing of weft's is in flight on fd */
	assert(s->n == 0 && weft__list_empty(&s->ops));
	int rc = close(fd) ? -errno : 0;
	s->closing = false;
	weft__spin_unlock(&s->lock);
	return delivered ? delivered : rc;
}
