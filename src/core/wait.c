/* SPDX-License-Identifier: MIT */
/*
 * asyncio.wait, asyncio.wait_for and asyncio.as_completed.
 *
 * Each is built as in tasks.py: done callbacks on the inputs release a
 * plain "waiter" future the calling task awaits, and a call_later timer
 * releases it on timeout. Cancelling the task cancels the waiter (a plain
 * future accepts at once), so the task wakes with -ECANCELED and the
 * inputs are left alone. The callbacks may run on any worker, after the
 * task has returned, so their state is on the heap, reference-counted:
 * one reference for the task (or the iterator), one per registered
 * callback or timer; whoever unregisters a callback (remove_done_callback
 * returned it, weft_handle_cancel returned true) drops that reference.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include <weft/call.h>
#include <weft/future.h>
#include <weft/timeout.h>
#include <weft/wait.h>

#include "core/debug.h"
#include "core/future.h"
#include "core/task.h"
#include "sched/spinlock.h"
#include "sched/worker.h"

static bool no_timeout(double timeout)
{
	return isinf(timeout) && timeout > 0;
}

/* --- wait ---------------------------------------------------------------- */

struct wait_state {
	_Atomic uint32_t refs;
	_Atomic size_t counter; /* inputs not yet seen done */
	int return_when;
	weft_future *waiter;    /* a reference; completed to wake the task */
};

static void wait_unref(struct wait_state *s)
{
	/* acq_rel: the last owner sees every other owner's writes */
	if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1) {
		weft_future_unref(s->waiter);
		free(s);
	}
}

static void release_waiter(weft_future *waiter)
{
	weft__future_complete(waiter, 0, NULL, NULL); /* -EALREADY: was released */
}

/* _wait's _on_completion. */
static void wait_on_completion(weft_future *f, void *arg)
{
	struct wait_state *s = arg;
	size_t left = atomic_fetch_sub_explicit(&s->counter, 1, memory_order_acq_rel) - 1;
	if (left == 0 || s->return_when == WEFT_FIRST_COMPLETED ||
	    (s->return_when == WEFT_FIRST_EXCEPTION && !weft_future_cancelled(f) &&
	     weft_future_exception(f) < 0))
		release_waiter(s->waiter);
	wait_unref(s);
}

static void wait_on_timeout(void *arg)
{
	struct wait_state *s = arg;
	release_waiter(s->waiter);
	wait_unref(s);
}

WEFT_API int weft_wait(weft_future *const *futs, size_t n, double timeout, int return_when,
		       weft_future **done, size_t *ndone, weft_future **pending,
		       size_t *npending)
{
	if (ndone)
		*ndone = 0;
	if (npending)
		*npending = 0;
	if (!futs || n == 0)
		return weft__misuse(-EINVAL, "no futures");
	for (size_t i = 0; i < n; i++)
		if (!futs[i])
			return weft__misuse(-EINVAL, "NULL future");
	if (return_when != WEFT_FIRST_COMPLETED && return_when != WEFT_FIRST_EXCEPTION &&
	    return_when != WEFT_ALL_COMPLETED)
		return weft__misuse(-EINVAL, "unknown return_when");
	if (isnan(timeout))
		return weft__misuse(-EINVAL, "NaN timeout");
	if (!weft__task_current())
		return weft__misuse(-EPERM, "called outside a task");

	struct wait_state *s = malloc(sizeof(*s));
	if (!s)
		return -ENOMEM;
	if (!(s->waiter = weft__future_waiter())) {
		free(s);
		return -ENOMEM;
	}
	atomic_init(&s->refs, 1);
	atomic_init(&s->counter, n);
	s->return_when = return_when;

	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
		if (weft_future_add_done_callback(futs[i], wait_on_completion, s)) {
			if (weft__future_is_done(futs[i]))
				wait_on_completion(futs[i], s); /* the static -ENOMEM future */
			else {
				wait_unref(s);
				rc = -ENOMEM;
			}
		}
	}
	weft_handle *h = NULL;
	if (!rc && !no_timeout(timeout)) {
		atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
		if (weft_call_later(timeout, wait_on_timeout, s, &h)) {
			wait_unref(s);
			rc = -ENOMEM;
		}
	}
	if (!rc)
		rc = weft_await(s->waiter, NULL); /* 0, or -ECANCELED */

	/* asyncio's finally: stop the timer, unregister the callbacks. */
	if (h) {
		if (weft_handle_cancel(h))
			wait_unref(s);
		weft_handle_unref(h);
	}
	for (size_t i = 0; i < n; i++)
		for (size_t k = weft_future_remove_done_callback(futs[i], wait_on_completion, s); k;
		     k--)
			wait_unref(s);
	wait_unref(s);
	if (rc)
		return rc;

	size_t nd = 0, np = 0;
	for (size_t i = 0; i < n; i++) {
		if (weft__future_is_done(futs[i])) {
			if (done)
				done[nd] = futs[i];
			nd++;
		} else {
			if (pending)
				pending[np] = futs[i];
			np++;
		}
	}
	if (ndone)
		*ndone = nd;
	if (npending)
		*npending = np;
	return 0;
}

/* --- wait_for ------------------------------------------------------------ */

static void release_cb(weft_future *f, void *arg)
{
	release_waiter(arg);
	weft_future_unref(arg);
}

/*
 * tasks.py's _cancel_and_wait: cancels fut and waits until it is done, on
 * a waiter of our own, so that a cancel of the calling task ends the wait
 * at once (-ECANCELED) instead of passing into fut again.
 */
static int cancel_and_wait(weft_future *fut)
{
	weft_future *waiter = weft__future_waiter();
	if (!waiter)
		return -ENOMEM;
	weft_future_ref(waiter); /* release_cb's */
	int rc = weft_future_add_done_callback(fut, release_cb, waiter);
	if (rc) {
		weft_future_unref(waiter);
		weft_future_unref(waiter);
		return rc;
	}
	weft_cancel(fut, NULL);
	rc = weft_await(waiter, NULL);
	if (weft_future_remove_done_callback(fut, release_cb, waiter))
		weft_future_unref(waiter);
	weft_future_unref(waiter);
	return rc;
}

WEFT_API int weft_wait_for(weft_future *fut, double timeout, void **result)
{
	if (!fut)
		return weft__misuse(-EINVAL, "NULL future");
	if (isnan(timeout))
		return weft__misuse(-EINVAL, "NaN timeout");
	struct weft__task *t = weft__task_current();
	if (!t)
		return weft__misuse(-EPERM, "called outside a task");
	if (&t->fut == fut)
		return weft__misuse(-EDEADLK, "a task cannot wait for itself");

	if (timeout <= 0) {
		/* 3.12: already expired; a done fut still gives its outcome */
		if (weft__future_is_done(fut))
			return weft_future_result(fut, result);
		int rc = cancel_and_wait(fut);
		if (rc)
			return rc;
		rc = weft_future_result(fut, result);
		return rc == -ECANCELED ? -ETIMEDOUT : rc;
	}

	/* async with timeouts.timeout(timeout): return await fut */
	weft_timeout scope;
	int rc = weft_timeout_enter_after(&scope, timeout);
	if (rc)
		return rc;
	void *v = NULL;
	rc = weft_await(fut, &v);
	rc = weft_timeout_exit(&scope, rc);
	if (rc == 0 && result)
		*result = v;
	return rc;
}

/* --- as_completed -------------------------------------------------------- */

struct acslot {
	struct weft_as_completed *it;
	weft_future *f;  /* a reference, until the iterator is released */
	bool settled;    /* under lock: queued, or reported as timed out */
};

struct weft_as_completed {
	weft__spinlock lock;
	_Atomic uint32_t refs;
	size_t n;
	/* Under lock: */
	size_t left;           /* results next() has not returned yet */
	size_t head, tail;     /* ready[head..tail): done futures, NULL for
	                        * a timeout (asyncio's None sentinel) */
	weft_future **ready;   /* n entries: each slot is queued once */
	weft_future *waiter;   /* a reference while a next() waits */
	weft_handle *timer;    /* the timeout's handle, or NULL */
	struct acslot slots[];
};

static void ac_unref(struct weft_as_completed *it)
{
	/* acq_rel: the last owner sees every other owner's writes */
	if (atomic_fetch_sub_explicit(&it->refs, 1, memory_order_acq_rel) != 1)
		return;
	for (size_t i = 0; i < it->n; i++)
		weft_future_unref(it->slots[i].f);
	weft_future_unref(it->waiter);
	free(it);
}

/* _handle_completion */
static void ac_on_completion(weft_future *f, void *arg)
{
	struct acslot *s = arg;
	struct weft_as_completed *it = s->it;
	weft_future *w = NULL;
	weft__spin_lock(&it->lock);
	if (!s->settled) { /* else _handle_timeout was here first */
		s->settled = true;
		it->ready[it->tail++] = f;
		w = weft_future_ref(it->waiter);
	}
	weft__spin_unlock(&it->lock);
	if (w) {
		release_waiter(w);
		weft_future_unref(w);
	}
	ac_unref(it);
}

/* _handle_timeout: every future not yet done becomes a timeout. */
static void ac_on_timeout(void *arg)
{
	struct weft_as_completed *it = arg;
	size_t drop = 0;
	weft__spin_lock(&it->lock);
	for (size_t i = 0; i < it->n; i++) {
		struct acslot *s = &it->slots[i];
		if (s->settled)
			continue;
		s->settled = true;
		it->ready[it->tail++] = NULL;
		/* lock order: iterator, then future (never the reverse) */
		drop += weft_future_remove_done_callback(s->f, ac_on_completion, s);
	}
	weft_future *w = weft_future_ref(it->waiter);
	weft__spin_unlock(&it->lock);
	if (w) {
		release_waiter(w);
		weft_future_unref(w);
	}
	while (drop--)
		ac_unref(it); /* never the last: the timer's is still held */
	ac_unref(it);
}

WEFT_API int weft_as_completed_start(weft_future *const *futs, size_t n, double timeout,
				     weft_as_completed **out)
{
	if (!out)
		return weft__misuse(-EINVAL, "NULL out");
	*out = NULL;
	if (n && !futs)
		return weft__misuse(-EINVAL, "NULL futures");
	for (size_t i = 0; i < n; i++)
		if (!futs[i])
			return weft__misuse(-EINVAL, "NULL future");
	if (isnan(timeout))
		return weft__misuse(-EINVAL, "NaN timeout");
	if (!weft__worker_current())
		return weft__misuse(-EPERM, "not on a worker thread");
	if (n >= UINT32_MAX / 2 ||
	    n > (SIZE_MAX - sizeof(weft_as_completed)) /
			(sizeof(struct acslot) + sizeof(weft_future *)))
		return -ENOMEM;
	weft_as_completed *it =
		malloc(sizeof(*it) + n * (sizeof(struct acslot) + sizeof(weft_future *)));
	if (!it)
		return -ENOMEM;
	atomic_init(&it->lock.held, false);
	atomic_init(&it->refs, 1);
	it->n = n;
	it->left = n;
	it->head = it->tail = 0;
	it->ready = (weft_future **)(it->slots + n);
	it->waiter = NULL;
	it->timer = NULL;
	for (size_t i = 0; i < n; i++) {
		it->slots[i].it = it;
		it->slots[i].f = weft_future_ref(futs[i]);
		it->slots[i].settled = false;
	}
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		struct acslot *s = &it->slots[i];
		atomic_fetch_add_explicit(&it->refs, 1, memory_order_relaxed);
		if (weft_future_add_done_callback(s->f, ac_on_completion, s)) {
			if (weft__future_is_done(s->f))
				ac_on_completion(s->f, s); /* the static -ENOMEM future */
			else {
				ac_unref(it);
				rc = -ENOMEM;
			}
		}
	}
	if (!rc && n && !no_timeout(timeout)) {
		atomic_fetch_add_explicit(&it->refs, 1, memory_order_relaxed);
		weft_handle *h = NULL;
		rc = weft_call_later(timeout, ac_on_timeout, it, &h);
		if (rc)
			ac_unref(it);
		weft__spin_lock(&it->lock);
		it->timer = h;
		weft__spin_unlock(&it->lock);
	}
	if (rc) {
		weft_as_completed_free(it);
		return rc;
	}
	*out = it;
	return 0;
}

WEFT_API int weft_as_completed_next(weft_as_completed *it, weft_future **out)
{
	if (!it || !out)
		return weft__misuse(-EINVAL, "NULL argument");
	if (!weft__task_current())
		return weft__misuse(-EPERM, "called outside a task");
	weft_future *w = NULL;
	for (;;) {
		weft__spin_lock(&it->lock);
		if (it->left == 0) {
			weft__spin_unlock(&it->lock);
			weft_future_unref(w);
			return 1;
		}
		if (it->head < it->tail) {
			weft_future *f = it->ready[it->head++];
			it->left--;
			weft__spin_unlock(&it->lock);
			weft_future_unref(w);
			if (!f)
				return -ETIMEDOUT;
			*out = f;
			return 0;
		}
		if (it->waiter) {
			weft__spin_unlock(&it->lock);
			weft_future_unref(w);
			return weft__misuse(-EBUSY, "another task is waiting on this iterator");
		}
		if (w) {
			it->waiter = weft_future_ref(w);
			weft__spin_unlock(&it->lock);
			int rc = weft_await(w, NULL);
			weft__spin_lock(&it->lock);
			weft_future *mine = it->waiter;
			it->waiter = NULL;
			weft__spin_unlock(&it->lock);
			weft_future_unref(mine);
			weft_future_unref(w);
			w = NULL;
			if (rc == -ECANCELED)
				return -ECANCELED;
			continue;
		}
		weft__spin_unlock(&it->lock);
		/* Created outside the lock, then the queue is checked again. */
		if (!(w = weft__future_waiter()))
			return -ENOMEM;
	}
}

WEFT_API void weft_as_completed_free(weft_as_completed *it)
{
	if (!it)
		return;
	size_t drop = 0;
	weft__spin_lock(&it->lock);
	weft_handle *h = it->timer;
	it->timer = NULL;
	for (size_t i = 0; i < it->n; i++) {
		struct acslot *s = &it->slots[i];
		if (s->settled)
			continue;
		s->settled = true;
		drop += weft_future_remove_done_callback(s->f, ac_on_completion, s);
	}
	weft__spin_unlock(&it->lock);
	if (h) {
		if (weft_handle_cancel(h))
			drop++;
		weft_handle_unref(h);
	}
	while (drop--)
		ac_unref(it);
	ac_unref(it);
}
