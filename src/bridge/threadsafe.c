/* SPDX-License-Identifier: MIT */
/*
 * Into a runtime from any thread: run_coroutine_threadsafe and
 * call_soon_threadsafe. From a thread that is not one of the runtime's
 * workers both pass the inject queue's shutdown guard (sched/inject.h), so
 * a submission racing weft_runtime_destroy is either refused (-ESHUTDOWN)
 * or queued where the workers, still running, find it: never lost.
 */
#include <errno.h>
#include <stdlib.h>

#include <weft/thread.h>

#include "core/context.h"
#include "core/core.h"
#include "core/debug.h"
#include "core/future.h"
#include "core/local.h"
#include "sched/worker.h"

WEFT_API weft_future *weft_run_coroutine_threadsafe(weft_runtime *rt, weft_task_fn fn, void *arg)
{
	/* weft_spawn passes the guard itself when called from outside */
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

WEFT_API int weft_call_soon_threadsafe(weft_runtime *rt, weft_call_fn fn, void *arg)
{
	if (!rt || !fn)
		return weft__misuse(-EINVAL, rt ? "NULL function" : "NULL runtime");
	struct weft__sched *s = &weft__core_of(rt)->sched;
	struct weft__worker *w = weft__worker_current();
	bool inside = w && w->sched == s;
	if (inside ? atomic_load_explicit(&s->stop, memory_order_acquire)
		   : !weft__inject_enter(&s->inject))
		return -ESHUTDOWN;
	struct threadsafe_call *c = malloc(sizeof(*c));
	if (!c) {
		if (!inside)
			weft__inject_exit(&s->inject);
		return -ENOMEM;
	}
	c->cb.w.kind = WEFT__WAIT_CALLBACK;
	c->cb.run.kind = WEFT__RUN_CALLBACK;
	c->cb.fn = threadsafe_trampoline;
	c->cb.arg = c;
	c->cb.fut = NULL;
	c->cb.locals = weft__locals_ref(weft__locals_visible());
	c->fn = fn;
	c->arg = arg;
	/* From outside: the inject queue, then a wake (sched/schedule.c). */
	weft__schedule_callback(s, &c->cb.run);
	if (!inside)
		weft__inject_exit(&s->inject);
	return 0;
}
