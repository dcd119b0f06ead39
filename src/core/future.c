/* SPDX-License-Identifier: MIT */
/* Futures: completion, waiter dispatch, done callbacks, foreign waits. */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core/debug.h"
#include "core/future.h"
#include "core/local.h"
#include "core/task.h"
#include "core/task_slab.h"
#include "sched/worker.h"

/* The future returned when even a failed future cannot be allocated. */
static weft_future enomem_future = {
	.refs = 1,
	.kind = WEFT__FUT_STATIC,
	.state = WEFT__DONE,
	.rc = -ENOMEM,
};

/*
 * Small blocks that start with a future (bare futures, timed sleeps, the
 * waiter nodes of src/sync) come from a per-worker cache of
 * WEFT__BLOCK_SIZE blocks: a one-shot future per message (ping-pong,
 * sleeps, queue waits) otherwise costs a malloc/free pair that overflows
 * glibc's per-thread cache. One size serves all three so a block freed by
 * one kind is reused by the others. ASan builds use malloc, so
 * use-after-free stays visible.
 */
enum { BLOCK_CACHE_MAX = 1024 };

/* A block from the calling worker's cache, or NULL when it has none. */
static inline void *block_cache_pop(void)
{
#ifndef WEFT_ASAN
	struct weft__worker *w = weft__worker_current();
	if (w && w->futures) {
		weft_future *f = w->futures;
		w->futures = *(weft_future **)f;
		w->nfutures--;
		return f;
	}
#endif
	return NULL;
}

static inline void *block_alloc(void)
{
	void *b = block_cache_pop();
	return b ? b : malloc(WEFT__BLOCK_SIZE);
}

static void block_free(weft_future *f)
{
#ifndef WEFT_ASAN
	struct weft__worker *w = weft__worker_current();
	if (w && w->nfutures < BLOCK_CACHE_MAX) {
		*(weft_future **)f = w->futures;
		w->futures = f;
		w->nfutures++;
		return;
	}
#endif
	free(f);
}

void *weft__block_alloc(void)
{
	return block_alloc();
}

void *weft__block_alloc_cached(void)
{
	return block_cache_pop();
}

void weft__future_cache_flush(struct weft__worker *w)
{
	while (w->futures) {
		weft_future *f = w->futures;
		w->futures = *(weft_future **)f;
		free(f);
	}
	w->nfutures = 0;
}

void weft__future_init(weft_future *f, unsigned char kind, struct weft__rtstub *stub)
{
	/* A task's count stays 0 until spawn publishes it: weft_all_tasks may
	 * be looking at the slot already. */
	atomic_store_explicit(&f->refs, kind == WEFT__FUT_TASK ? 0 : 1, memory_order_relaxed);
	f->kind = kind;
	atomic_init(&f->state, WEFT__PENDING);
	atomic_init(&f->lock.held, false);
	f->cached = false; /* composite futures are blocks of their own */
	f->rc = 0;
	f->value = NULL;
	f->msg = NULL;
	f->rt = stub;
	weft__stub_ref(stub);
	f->wait_head = NULL;
	f->wait_tail = &f->wait_head;
	f->ops = NULL;
}

weft_future *weft__future_failed(struct weft__rtstub *stub, int rc)
{
	if (!stub) {
		/* on a worker, a failed future still belongs somewhere: its
		 * callbacks run in the calling worker's runtime */
		struct weft__worker *w = weft__worker_current();
		if (w)
			stub = w->rt->stub;
	}
	weft_future *f = block_alloc();
	if (!f)
		return &enomem_future;
	weft__future_init(f, WEFT__FUT_PLAIN, stub);
	f->cached = true;
	f->rc = rc;
	atomic_store_explicit(&f->state, rc == -ECANCELED ? WEFT__CANCELLED : WEFT__DONE,
			      memory_order_release);
	return f;
}

void weft__stub_ref(struct weft__rtstub *stub)
{
	if (!stub)
		return;
	struct weft__worker *w = weft__worker_current();
	if (w && w->rt->stub == stub)
		w->stub_refs++;
	else
		atomic_fetch_add_explicit(&stub->refs, 1, memory_order_relaxed);
}

void weft__stub_unref(struct weft__rtstub *stub)
{
	if (!stub)
		return;
	struct weft__worker *w = weft__worker_current();
	if (w && w->rt->stub == stub)
		w->stub_refs--;
	else if (atomic_fetch_sub_explicit(&stub->refs, 1, memory_order_acq_rel) == 1)
		weft__stub_free(stub);
}

void weft__stub_free(struct weft__rtstub *stub)
{
	weft__slab_reclaim_stub(stub);
	free(stub);
}

static bool stub_dead(const weft_future *f)
{
	return !f->rt || atomic_load_explicit(&f->rt->dead, memory_order_acquire);
}

WEFT_API weft_future *weft_future_create(weft_runtime *rt)
{
	if (!rt) {
		struct weft__worker *w = weft__worker_current();
		if (!w)
			return weft__future_failed(NULL, -EINVAL);
		rt = w->rt;
	}
	weft_future *f = block_alloc();
	if (!f)
		return weft__future_failed(rt->stub, -ENOMEM);
	weft__future_init(f, WEFT__FUT_PLAIN, rt->stub);
	f->cached = true;
	return f;
}

WEFT_API weft_future *weft_future_ref(weft_future *f)
{
	if (f && f->kind != WEFT__FUT_STATIC)
		atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
	return f;
}

static void cb_free(struct weft__cb *cb);

WEFT_API void weft_future_unref(weft_future *f)
{
	if (!f || f->kind == WEFT__FUT_STATIC)
		return;
	/* acq_rel: the last owner must see every other owner's writes */
	if (atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) != 1)
		return;
	/* Callbacks never scheduled (f was dropped while pending). */
	struct weft__waiter *w = f->wait_head;
	while (w) {
		struct weft__waiter *next = w->next;
		if (w->kind == WEFT__WAIT_CALLBACK)
			cb_free(weft__container_of(w, struct weft__cb, w));
		w = next;
	}
	if (f->msg)
		free(f->msg);
	struct weft__rtstub *stub = f->rt;
	if (f->kind == WEFT__FUT_TASK) {
		weft__task_free((struct weft__task *)f);
		/* before the stub goes: an emptied slab is handed to it */
		weft__task_dealloc((struct weft__task *)f, stub);
	} else if (f->cached) {
		block_free(f);
	} else {
		free(f);
	}
	weft__stub_unref(stub);
}

/* A foreign thread blocked in weft_future_wait. */
struct thread_waiter {
	struct weft__waiter w;
	_Atomic uint32_t done; /* THREAD_* */
};

enum { THREAD_WAITING, THREAD_DONE, THREAD_SLEEPING };
enum { THREAD_SPINS = 256 }; /* ~10 us of pause */

static void futex_wake(_Atomic uint32_t *addr)
{
	syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

static void dispatch(weft_future *f, struct weft__waiter *w)
{
	/* A future of a destroyed runtime can still be cancelled (its waiters
	 * in other runtimes and threads must not hang); its callbacks have
	 * nowhere to run and are dropped. Only callbacks need to know. */
	weft_runtime *rt = NULL;
	bool rt_known = false;
	while (w) {
		/* read first: a woken task may reuse its node at once */
		struct weft__waiter *next = w->next;
		switch (w->kind) {
		case WEFT__WAIT_TASK:
			weft__task_wake(weft__container_of(w, struct weft__task, await_node));
			break;
		case WEFT__WAIT_CALLBACK: {
			struct weft__cb *cb = weft__container_of(w, struct weft__cb, w);
			if (!rt_known) {
				rt = stub_dead(f) ? NULL : f->rt->rt;
				rt_known = true;
			}
			if (rt) {
				cb->fut = weft_future_ref(f);
				weft__schedule_callback(rt, &cb->run);
			} else {
				cb_free(cb);
			}
			break;
		}
		case WEFT__WAIT_THREAD: {
			struct thread_waiter *tw = (struct thread_waiter *)w;
			/* acq_rel: our release pairs with the waiter's acquire; only
			 * a waiter that said it sleeps needs the syscall */
			if (atomic_exchange_explicit(&tw->done, THREAD_DONE, memory_order_acq_rel) ==
			    THREAD_SLEEPING)
				futex_wake(&tw->done);
			break;
		}
		}
		w = next;
	}
}

int weft__future_complete(weft_future *f, int rc, void *value, char *msg)
{
	weft__spin_lock(&f->lock);
	if (atomic_load_explicit(&f->state, memory_order_relaxed) != WEFT__PENDING) {
		weft__spin_unlock(&f->lock);
		free(msg);
		return -EALREADY;
	}
	f->rc = rc;
	f->value = value;
	f->msg = msg;
	struct weft__waiter *w = f->wait_head;
	f->wait_head = NULL;
	f->wait_tail = &f->wait_head;
	/* release: pairs with weft__future_is_done's acquire */
	atomic_store_explicit(&f->state, rc == -ECANCELED ? WEFT__CANCELLED : WEFT__DONE,
			      memory_order_release);
	weft__spin_unlock(&f->lock);
	dispatch(f, w);
	return 0;
}

bool weft__future_add_waiter(weft_future *f, struct weft__waiter *w)
{
	if (f->kind == WEFT__FUT_STATIC)
		return false;
	weft__spin_lock(&f->lock);
	bool pending = atomic_load_explicit(&f->state, memory_order_relaxed) == WEFT__PENDING;
	if (pending) {
		w->next = NULL;
		*f->wait_tail = w;
		f->wait_tail = &w->next;
	}
	weft__spin_unlock(&f->lock);
	return pending;
}

/* Caller holds f->lock. */
static bool unlink_waiter(weft_future *f, struct weft__waiter *w)
{
	for (struct weft__waiter **p = &f->wait_head; *p; p = &(*p)->next) {
		if (*p == w) {
			*p = w->next;
			if (f->wait_tail == &w->next)
				f->wait_tail = p;
			return true;
		}
	}
	return false;
}

bool weft__future_remove_waiter(weft_future *f, struct weft__waiter *w)
{
	if (f->kind == WEFT__FUT_STATIC)
		return false;
	weft__spin_lock(&f->lock);
	bool found = unlink_waiter(f, w);
	weft__spin_unlock(&f->lock);
	return found;
}

WEFT_API int weft_future_set_result(weft_future *f, void *value)
{
	if (!f || f->kind != WEFT__FUT_PLAIN)
		return f && f->kind == WEFT__FUT_STATIC ? -EALREADY : -EINVAL;
	if (stub_dead(f))
		return weft__future_is_done(f) ? -EALREADY : -ESHUTDOWN;
	int rc = weft__future_complete(f, 0, value, NULL);
	return rc == -EALREADY ? weft__misuse(rc, "the future is already done") : rc;
}

WEFT_API int weft_future_set_exception(weft_future *f, int code, const char *msg)
{
	if (!f || code >= 0 || f->kind == WEFT__FUT_TASK)
		return -EINVAL;
	if (f->kind == WEFT__FUT_STATIC)
		return -EALREADY;
	if (stub_dead(f))
		return weft__future_is_done(f) ? -EALREADY : -ESHUTDOWN;
	char *copy = msg ? strdup(msg) : NULL;
	int rc = weft__future_complete(f, code, NULL, copy);
	if (rc == 0 && msg && !copy)
		return -ENOMEM;
	return rc == -EALREADY ? weft__misuse(rc, "the future is already done") : rc;
}

WEFT_API bool weft_future_done(const weft_future *f)
{
	return f && weft__future_is_done(f);
}

WEFT_API bool weft_future_cancelled(const weft_future *f)
{
	return f && atomic_load_explicit(&((weft_future *)f)->state, memory_order_acquire) ==
			    WEFT__CANCELLED;
}

/* f's outcome; f is done. */
static int outcome(const weft_future *f, void **value)
{
	if (value)
		*value = f->rc == 0 ? f->value : NULL;
	return f->rc;
}

WEFT_API int weft_future_result(const weft_future *f, void **value)
{
	if (!f)
		return -EINVAL;
	if (!weft__future_is_done(f))
		return -EBUSY;
	return outcome(f, value);
}

WEFT_API int weft_future_exception(const weft_future *f)
{
	if (!f)
		return -EINVAL;
	if (!weft__future_is_done(f))
		return -EBUSY;
	return f->rc;
}

WEFT_API const char *weft_future_message(const weft_future *f)
{
	if (!f || !weft__future_is_done(f))
		return NULL;
	return f->msg;
}

WEFT_API bool weft_cancel(weft_future *f, const char *msg)
{
	if (!f || f->kind == WEFT__FUT_STATIC)
		return false;
	if (f->ops && f->ops->cancel)
		return f->ops->cancel(f, msg);
	if (weft__future_is_done(f))
		return false;
	char *copy = msg ? strdup(msg) : NULL;
	return weft__future_complete(f, -ECANCELED, NULL, copy) == 0;
}

WEFT_API int weft_future_add_done_callback(weft_future *f, weft_done_cb cb, void *arg)
{
	if (!f || !cb)
		return -EINVAL;
	if (f->kind == WEFT__FUT_STATIC)
		return -ENOMEM; /* no runtime to run it in */
	if (stub_dead(f))
		return -ESHUTDOWN;
	struct weft__cb *node = malloc(sizeof(*node));
	if (!node)
		return -ENOMEM;
	node->w.kind = WEFT__WAIT_CALLBACK;
	node->run.kind = WEFT__RUN_CALLBACK;
	node->fn = cb;
	node->arg = arg;
	node->fut = NULL;
	struct weft__worker *w = weft__worker_current();
	node->locals = w ? weft__locals_ref(w->current ? w->current->locals : w->cb_locals) : NULL;
	if (!weft__future_add_waiter(f, &node->w)) {
		node->fut = weft_future_ref(f);
		weft__schedule_callback(f->rt->rt, &node->run);
	}
	return 0;
}

WEFT_API size_t weft_future_remove_done_callback(weft_future *f, weft_done_cb cb, void *arg)
{
	if (!f || !cb || f->kind == WEFT__FUT_STATIC)
		return 0;
	size_t n = 0;
	struct weft__cb *gone = NULL;
	weft__spin_lock(&f->lock);
	struct weft__waiter **p = &f->wait_head;
	while (*p) {
		struct weft__waiter *w = *p;
		struct weft__cb *c = weft__container_of(w, struct weft__cb, w);
		if (w->kind == WEFT__WAIT_CALLBACK && c->fn == cb && c->arg == arg) {
			*p = w->next;
			if (f->wait_tail == &w->next)
				f->wait_tail = p;
			c->fut = (weft_future *)gone; /* reuse as a free-list link */
			gone = c;
			n++;
		} else {
			p = &w->next;
		}
	}
	weft__spin_unlock(&f->lock);
	while (gone) {
		struct weft__cb *next = (struct weft__cb *)gone->fut;
		gone->fut = NULL;
		cb_free(gone);
		gone = next;
	}
	return n;
}

static void cb_free(struct weft__cb *cb)
{
	weft_future_unref(cb->fut);
	weft__locals_unref(cb->locals);
	free(cb);
}

void weft__cb_run(struct weft__worker *w, struct weft__runnable *r)
{
	struct weft__cb *cb = weft__container_of(r, struct weft__cb, run);
	w->cb_locals = cb->locals;
	cb->fn(cb->fut, cb->arg);
	w->cb_locals = NULL;
	cb_free(cb);
}

void weft__cb_discard(struct weft__runnable *r)
{
	cb_free(weft__container_of(r, struct weft__cb, run));
}

static int futex_wait(_Atomic uint32_t *addr, uint32_t val, const struct timespec *rel)
{
	long rc = syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, rel, NULL, 0);
	return rc == 0 ? 0 : -errno;
}

static double now_real(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

WEFT_API int weft_future_wait(weft_future *f, double timeout, void **result)
{
	if (!f)
		return weft__misuse(-EINVAL, "NULL future");
	if (weft__worker_current())
		return weft__misuse(-EPERM, "would block a worker thread; use weft_await in a task");
	if (weft__future_is_done(f))
		return outcome(f, result);
	if (!(timeout > 0))
		return -ETIMEDOUT;
	struct thread_waiter tw = {.w = {.kind = WEFT__WAIT_THREAD}};
	atomic_init(&tw.done, 0);
	if (!weft__future_add_waiter(f, &tw.w))
		return outcome(f, result);
	/* A submit-and-wait round trip often ends within microseconds: spin
	 * a little before sleeping, which also spares the waker's futex wake.
	 * acquire: pairs with dispatch's exchange. */
	for (int i = 0; i < THREAD_SPINS; i++) {
		if (atomic_load_explicit(&tw.done, memory_order_acquire) == THREAD_DONE)
			return outcome(f, result);
		__builtin_ia32_pause();
	}
	double deadline = isinf(timeout) ? INFINITY : now_real() + timeout;
	uint32_t expect = THREAD_WAITING;
	atomic_compare_exchange_strong_explicit(&tw.done, &expect, THREAD_SLEEPING,
						memory_order_acq_rel, memory_order_acquire);
	while (atomic_load_explicit(&tw.done, memory_order_acquire) != THREAD_DONE) {
		struct timespec rel, *relp = NULL;
		if (!isinf(deadline)) {
			double left = deadline - now_real();
			if (left <= 0) {
				if (weft__future_remove_waiter(f, &tw.w))
					return -ETIMEDOUT;
				/* being dispatched right now: the signal is imminent */
				deadline = INFINITY;
				continue;
			}
			rel.tv_sec = (time_t)left;
			rel.tv_nsec = (long)((left - (double)rel.tv_sec) * 1e9);
			relp = &rel;
		}
		futex_wait(&tw.done, THREAD_SLEEPING, relp);
	}
	return outcome(f, result);
}
