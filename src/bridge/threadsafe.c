/* SPDX-License-Identifier: MIT */
/*
 * Into a runtime from any thread: run_coroutine_threadsafe and
 * call_soon_threadsafe, and the guard that keeps shutdown from losing
 * them.
 *
 * The guard is a Dekker pair. A submitter from outside the runtime
 * increments `submitting` (seq_cst RMW) and then reads rt->closing
 * (seq_cst); weft_runtime_destroy stores closing (seq_cst) and then reads
 * `submitting` (seq_cst) until it is 0. In C11's single total order of
 * seq_cst operations one of the two sees the other: either the submitter
 * sees closing and refuses (-ESHUTDOWN), or destroy waits until the
 * submission is in the inject queue (and its task counted), where the
 * workers, still running, find it. So an accepted submission always runs,
 * and a refused one costs nothing. Per submission that is two RMWs on one
 * line next to the inject queue's lock: nothing is held across a push.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>

#include <weft/thread.h>

#include "bridge/bridge.h"
#include "bridge/context.h"
#include "core/debug.h"
#include "core/future.h"
#include "core/local.h"
#include "core/task.h"
#include "sched/worker.h"

bool weft__bridge_enter(weft_runtime *rt)
{
	struct weft__bridge *b = rt->bridge;
	atomic_fetch_add_explicit(&b->submitting, 1, memory_order_seq_cst);
	if (atomic_load_explicit(&rt->closing, memory_order_seq_cst)) {
		atomic_fetch_sub_explicit(&b->submitting, 1, memory_order_release);
		return false;
	}
	return true;
}

void weft__bridge_exit(weft_runtime *rt)
{
	/* release: the queued work is visible to whoever reads 0 (acquire) */
	atomic_fetch_sub_explicit(&rt->bridge->submitting, 1, memory_order_release);
}

void weft__bridge_quiesce(weft_runtime *rt)
{
	struct weft__bridge *b = rt->bridge;
	if (!b)
		return;
	/* seq_cst: the other half of the Dekker pair (see the top). A
	 * submitter is inside for a few hundred nanoseconds. */
	while (atomic_load_explicit(&b->submitting, memory_order_seq_cst) != 0)
		sched_yield();
}

WEFT_API weft_future *weft_run_coroutine_threadsafe(weft_runtime *rt, weft_task_fn fn, void *arg)
{
	/* weft_spawn takes the guard itself when called from outside */
	return weft_spawn(rt, fn, arg, NULL);
}

/*
 * A callback from another thread rides on the done-callback runnable
 * (WEFT__RUN_CALLBACK): the worker calls cb.fn(NULL, cb.arg) with
 * cb.locals as the visible values, then frees the node with free(&cb),
 * which is this whole block since cb comes first. A shutdown that finds it
 * unrun releases it the same way (weft__cb_discard).
 */
struct threadsafe_call {
	struct weft__cb cb; /* first */
	weft_call_fn fn;
	void *arg;
};

static void threadsafe_trampoline(weft_future *unused, void *p)
{
	struct threadsafe_call *c = p;
	c->fn(c->arg);
}

/* The task-local values the calling thread sees (weft_local_get's rule). */
static struct weft__locals *visible_locals(struct weft__worker *w)
{
	if (w)
		return w->current ? w->current->locals : w->cb_locals;
	return weft__thread_ctx.in_call ? weft__thread_ctx.locals : NULL;
}

WEFT_API int weft_call_soon_threadsafe(weft_runtime *rt, weft_call_fn fn, void *arg)
{
	if (!rt || !fn)
		return weft__misuse(-EINVAL, rt ? "NULL function" : "NULL runtime");
	struct weft__worker *w = weft__worker_current();
	bool inside = w && w->rt == rt;
	if (inside ? atomic_load_explicit(&rt->stop, memory_order_acquire) : !weft__bridge_enter(rt))
		return -ESHUTDOWN;
	struct threadsafe_call *c = malloc(sizeof(*c));
	if (!c) {
		if (!inside)
			weft__bridge_exit(rt);
		return -ENOMEM;
	}
	c->cb.w.kind = WEFT__WAIT_CALLBACK;
	c->cb.run.kind = WEFT__RUN_CALLBACK;
	c->cb.fn = threadsafe_trampoline;
	c->cb.arg = c;
	c->cb.fut = NULL;
	c->cb.locals = weft__locals_ref(visible_locals(w));
	c->fn = fn;
	c->arg = arg;
	/* From outside: the inject queue, then a wake (sched/schedule.c). */
	weft__schedule_callback(rt, &c->cb.run);
	if (!inside)
		weft__bridge_exit(rt);
	return 0;
}
