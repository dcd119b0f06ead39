/* SPDX-License-Identifier: MIT */
/* Futures: completion, waiter dispatch, done callbacks. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <weft/gather.h>
#include <weft/wait.h>

#include "core/block.h"
#include "core/context.h"
#include "core/core.h"
#include "core/debug.h"
#include "core/future.h"
#include "core/local.h"
#include "core/quarantine.h"
#include "core/stub.h"
#include "core/task.h"
#include "core/task_slab.h"

/* The future returned when even a failed future cannot be allocated. */
static weft_future enomem_future = {
	.refs = 1,
	.kind = WEFT__FUT_STATIC,
	.state = WEFT__DONE,
	.rc = -ENOMEM,
};

/* weft__future_init without the stub's reference. */
static inline void init_fields(weft_future *f, unsigned char kind, struct weft__rtstub *stub)
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
	f->wait_head = NULL;
	f->wait_tail = &f->wait_head;
	f->ops = NULL;
}

void weft__future_init(weft_future *f, unsigned char kind, struct weft__rtstub *stub)
{
	init_fields(f, kind, stub);
	weft__stub_ref(stub);
}

void weft__future_init_local(weft_future *f, unsigned char kind, struct weft__core_worker *cw)
{
	init_fields(f, kind, cw->core->stub);
	cw->stub_refs++; /* its own worker's count, as weft__stub_ref does */
}

weft_future *weft__future_failed(struct weft__rtstub *stub, int rc)
{
	if (!stub) {
		/* on a worker, a failed future still belongs somewhere: its
		 * callbacks run in the calling worker's runtime */
		struct weft__core_worker *cw = weft__core_worker_current();
		if (cw)
			stub = cw->core->stub;
	}
	weft_future *f = weft__block_alloc();
	if (!f)
		return &enomem_future;
	weft__future_init(f, WEFT__FUT_PLAIN, stub);
	f->cached = true;
	f->rc = rc;
	atomic_store_explicit(&f->state, rc == -ECANCELED ? WEFT__CANCELLED : WEFT__DONE,
			      memory_order_release);
	return f;
}

static bool stub_dead(const weft_future *f)
{
	return !f->rt || atomic_load_explicit(&f->rt->dead, memory_order_acquire);
}

WEFT_API weft_future *weft_future_create(weft_runtime *rt)
{
	struct weft__core *c;
	if (rt) {
		c = weft__core_of(rt);
	} else {
		struct weft__core_worker *cw = weft__core_worker_current();
		if (!cw)
			return weft__future_failed(NULL, -EINVAL);
		c = cw->core;
		/* A task's message or wait, the common case: one read of the
		 * worker for the block and the stub's count (its own worker
		 * counts it, as weft__stub_ref would). */
		weft_future *f = weft__block_pop(cw);
		if (f) {
			weft__future_init_local(f, WEFT__FUT_PLAIN, cw);
			f->cached = true;
			return f;
		}
	}
	weft_future *f = weft__block_alloc();
	if (!f)
		return weft__future_failed(c->stub, -ENOMEM);
	weft__future_init(f, WEFT__FUT_PLAIN, c->stub);
	f->cached = true;
	return f;
}

int weft__await_shielded(weft_future *f, double timeout, void **result)
{
	weft_future *sh = weft_shield(f);
	int rc = timeout == WEFT_FOREVER ? weft_await(sh, result) : weft_wait_for(sh, timeout, result);
	weft_future_unref(sh);
	return rc;
}

weft_future *weft__future_waiter(void)
{
	weft_future *f = weft_future_create(NULL);
	if (weft__future_is_done(f)) {
		weft_future_unref(f);
		return NULL;
	}
	return f;
}

WEFT_API weft_future *weft_future_ref(weft_future *f)
{
	if (!f)
		return f;
	if (__builtin_expect(f->kind > WEFT__FUT_TASK, 0)) {
		if (f->kind != WEFT__FUT_STATIC)
			weft__future_stale(f, __func__, __builtin_return_address(0));
		return f;
	}
	atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
	return f;
}

static void cb_free(struct weft__cb *cb);

void weft__future_give_back(weft_future *f, unsigned char kind, bool cached,
			    struct weft__rtstub *stub)
{
	if (kind == WEFT__FUT_TASK) {
		/* before the stub goes: an emptied slab is handed to it */
		weft__task_dealloc((struct weft__task *)f, stub);
	} else if (cached) {
		weft__block_free(f);
	} else {
		free(f);
	}
	weft__stub_unref(stub);
}

/* The last reference is gone: releases what f owns, then its memory (or,
 * in debug mode, hands it to the quarantine). */
static void future_free(weft_future *f, void *freed_by)
{
	/* A bare future from the block cache, nothing attached, dropped on a
	 * worker of its runtime: the common case, with one read of the
	 * worker (weft__future_give_back's block_free + stub_unref). */
	if (f->kind == WEFT__FUT_PLAIN && f->cached && !f->wait_head && !f->msg &&
	    !atomic_load_explicit(&weft__debug_on, memory_order_relaxed)) {
		struct weft__core_worker *cw = weft__core_worker_current();
		struct weft__rtstub *stub = f->rt;
		if (cw && stub && cw->core->stub == stub && weft__block_push(cw, f)) {
			cw->stub_refs--;
			return;
		}
	}
	char what[48];
	bool keep = atomic_load_explicit(&weft__debug_on, memory_order_relaxed);
	if (keep) {
		weft__future_describe(f, what, sizeof(what)); /* while it has its name */
		weft__unretrieved_check(f, what);
	}
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
	if (f->kind == WEFT__FUT_TASK)
		weft__task_free((struct weft__task *)f);
	if (keep)
		weft__quarantine_put(f, stub, freed_by, what);
	else
		weft__future_give_back(f, f->kind, f->cached, stub);
}

/*
 * A task's count: the references handed out, plus WEFT__REF_RUNTIME while
 * the runtime holds it (spawn to retire). An unref that would take the
 * handed-out part below 0 is refused: whoever holds a handle can never
 * drop the runtime's reference and free a task that still runs.
 */
static void task_unref(weft_future *f, void *caller)
{
	uint32_t n = atomic_load_explicit(&f->refs, memory_order_relaxed);
	do {
		if (!(n & ~WEFT__REF_RUNTIME)) {
			weft__future_extra_unref(f, caller);
			return;
		}
		/* acq_rel: the last owner must see every other owner's writes */
	} while (!atomic_compare_exchange_weak_explicit(&f->refs, &n, n - 1, memory_order_acq_rel,
							memory_order_relaxed));
	if (n == 1)
		future_free(f, caller);
}

void weft__task_unref_runtime(weft_future *f)
{
	/* acq_rel: as any last unref */
	if (atomic_fetch_sub_explicit(&f->refs, WEFT__REF_RUNTIME, memory_order_acq_rel) ==
	    WEFT__REF_RUNTIME)
		future_free(f, __builtin_return_address(0));
}

WEFT_API void weft_future_unref(weft_future *f)
{
	if (!f)
		return;
	if (__builtin_expect(f->kind != WEFT__FUT_PLAIN, 0)) {
		if (f->kind == WEFT__FUT_TASK)
			task_unref(f, __builtin_return_address(0));
		else if (f->kind != WEFT__FUT_STATIC)
			weft__future_stale(f, __func__, __builtin_return_address(0));
		return;
	}
	/* acq_rel: the last owner must see every other owner's writes */
	if (atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) == 1)
		future_free(f, __builtin_return_address(0));
}

static void dispatch(weft_future *f, struct weft__waiter *w)
{
	/* A future of a destroyed runtime can still be cancelled (its waiters
	 * in other runtimes and threads must not hang); its callbacks have
	 * nowhere to run and are dropped. Only callbacks need to know. */
	struct weft__sched *sched = NULL;
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
				sched = stub_dead(f) ? NULL : &f->rt->core->sched;
				rt_known = true;
			}
			if (sched) {
				cb->fut = weft_future_ref(f);
				weft__schedule_callback(sched, &cb->run);
			} else {
				cb_free(cb);
			}
			break;
		}
		case WEFT__WAIT_THREAD:
			weft__thread_waiter_wake(w);
			break;
		}
		w = next;
	}
}

struct weft__waiter *weft__future_settle_locked(weft_future *f, int rc, void *value, char *msg)
{
	f->rc = rc;
	f->value = value;
	f->msg = msg;
	struct weft__waiter *w = f->wait_head;
	f->wait_head = NULL;
	f->wait_tail = &f->wait_head;
	/* release: pairs with weft__future_is_done's acquire */
	atomic_store_explicit(&f->state, rc == -ECANCELED ? WEFT__CANCELLED : WEFT__DONE,
			      memory_order_release);
	return w;
}

void weft__future_dispatch(weft_future *f, struct weft__waiter *w)
{
	dispatch(f, w);
}

int weft__future_complete(weft_future *f, int rc, void *value, char *msg)
{
	weft__spin_lock(&f->lock);
	if (atomic_load_explicit(&f->state, memory_order_relaxed) != WEFT__PENDING) {
		weft__spin_unlock(&f->lock);
		free(msg);
		return -EALREADY;
	}
	struct weft__waiter *w = weft__future_settle_locked(f, rc, value, msg);
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

/* Caller holds f->lock: unlinks the waiter *p points at. The list is
 * singly linked (a task's await node must fit its hot cache line), so a
 * removal walks it; removals are rare (timeouts, removed callbacks). */
static void unlink_at(weft_future *f, struct weft__waiter **p)
{
	struct weft__waiter *w = *p;
	*p = w->next;
	if (f->wait_tail == &w->next)
		f->wait_tail = p;
}

/* Caller holds f->lock. */
static bool unlink_waiter(weft_future *f, struct weft__waiter *w)
{
	for (struct weft__waiter **p = &f->wait_head; *p; p = &(*p)->next) {
		if (*p == w) {
			unlink_at(f, p);
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
	if (!f)
		return weft__misuse(-EINVAL, "NULL future");
	/* asyncio's RuntimeError "Task does not support set_result()",
	 * whatever the task's state */
	if (f->kind == WEFT__FUT_TASK)
		return weft__misuse(-EPERM,
				    "a task does not support set_result: its function completes it");
	if (f->kind == WEFT__FUT_STATIC)
		return -EALREADY;
	if (stub_dead(f))
		return weft__future_is_done(f) ? -EALREADY : -ESHUTDOWN;
	int rc = weft__future_complete(f, 0, value, NULL);
	return rc == -EALREADY ? weft__misuse(rc, "the future is already done") : rc;
}

WEFT_API int weft_future_set_exception(weft_future *f, int code, const char *msg)
{
	if (!f)
		return weft__misuse(-EINVAL, "NULL future");
	if (f->kind == WEFT__FUT_TASK)
		return weft__misuse(-EPERM,
				    "a task does not support set_exception: its function completes it");
	if (code >= 0)
		return weft__misuse(-EINVAL, "the code must be negative");
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
	return f && (atomic_load_explicit(&((weft_future *)f)->state, memory_order_acquire) &
		     WEFT__STATE_MASK) == WEFT__CANCELLED;
}

WEFT_API int weft_future_result(const weft_future *f, void **value)
{
	if (!f)
		return -EINVAL;
	if (!weft__future_is_done(f))
		return -EBUSY;
	return weft__future_outcome(f, value);
}

WEFT_API int weft_future_exception(const weft_future *f)
{
	if (!f)
		return -EINVAL;
	if (!weft__future_is_done(f))
		return -EBUSY;
	return weft__future_retrieve(f);
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
	node->locals = weft__locals_ref(weft__locals_visible());
	if (!weft__future_add_waiter(f, &node->w)) {
		node->fut = weft_future_ref(f);
		weft__schedule_callback(&f->rt->core->sched, &node->run);
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
			unlink_at(f, p);
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

void weft__cb_run(struct weft__core_worker *cw, struct weft__runnable *r)
{
	struct weft__cb *cb = weft__container_of(r, struct weft__cb, run);
	cw->cb_locals = cb->locals;
	cb->fn(cb->fut, cb->arg);
	cw->cb_locals = NULL;
	cb_free(cb);
}

void weft__cb_discard(struct weft__runnable *r)
{
	cb_free(weft__container_of(r, struct weft__cb, run));
}
