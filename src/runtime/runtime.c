/* SPDX-License-Identifier: MIT */
/*
 * Runtime life cycle: create, run, shut down (asyncio.run / Runner). The
 * top floor: it sets every layer up in order, and tears them down in the
 * order shutdown needs (bridge/bridge.h lists it).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/error.h>
#include <weft/future.h>
#include <weft/runtime.h>
#include <weft/task.h>

#include "bridge/bridge.h"
#include "core/context.h"
#include "core/core.h"
#include "core/debug.h"
#include "fiber/guard.h"
#include "fiber/stack.h"
#include "io/backend.h"
#include "runtime/runtime.h"
#include "sched/sched.h"
#include "sched/worker.h"

#define MAX_WORKERS 1024

WEFT_API void weft_config_init(weft_config *cfg)
{
	if (!cfg)
		return;
	memset(cfg, 0, sizeof(*cfg));
	cfg->size = sizeof(*cfg);
	cfg->blocking_threads_max = WEFT__BLOCKING_MAX_DEFAULT;
	cfg->blocking_keepalive = WEFT__BLOCKING_KEEPALIVE_DEFAULT;
}

/*
 * A bad field: -EINVAL, and in debug mode a line naming the field. The
 * runtime's debug mode is not on yet here: the caller's cfg.debug (when its
 * struct has the field) or WEFT_DEBUG decides.
 */
static int bad_field(const weft_config *in, const char *fmt, ...) WEFT_PRINTF(2, 3);

static int bad_field(const weft_config *in, const char *fmt, ...)
{
	bool has_debug = in->size >= offsetof(weft_config, debug) + sizeof(in->debug);
	if (!(has_debug && in->debug) && !atomic_load_explicit(&weft__debug_on, memory_order_relaxed))
		return -EINVAL;
	char what[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return weft__misuse_report(-EINVAL, "weft_runtime_create", what);
}

/* Copies what the caller's (maybe older, smaller) struct has, and checks
 * it. */
static int config_copy(weft_config *out, const weft_config *in)
{
	weft_config_init(out);
	if (!in)
		return 0;
	if (in->size < offsetof(weft_config, workers) + sizeof(in->workers))
		return bad_field(in, "cfg.size = %zu: smaller than weft_config's first fields "
				     "(fill the config with weft_config_init)", in->size);
	memcpy(out, in, in->size < sizeof(*out) ? in->size : sizeof(*out));
	out->size = sizeof(*out);
	if (out->workers > MAX_WORKERS)
		return bad_field(in, "cfg.workers = %u: at most %u", out->workers, MAX_WORKERS);
	if (out->segv_handler > WEFT_SEGV_NEVER)
		return bad_field(in, "cfg.segv_handler = %u: not a weft_segv_mode",
				 (unsigned)out->segv_handler);
	/* tokio allows a paused clock only on its current-thread runtime:
	 * with several workers "every task is idle" has no single owner */
	if (out->paused_clock && out->workers != 1)
		return bad_field(in, "cfg.paused_clock needs cfg.workers = 1 (it is %u)",
				 out->workers);
	/* the blocking pool (bridge/bridge.h); 0 means the default */
	if (out->blocking_threads_max > WEFT__BLOCKING_MAX_LIMIT)
		return bad_field(in, "cfg.blocking_threads_max = %u: at most %u",
				 out->blocking_threads_max, WEFT__BLOCKING_MAX_LIMIT);
	if (!(out->blocking_keepalive >= 0))
		return bad_field(in, "cfg.blocking_keepalive = %g: negative or NaN",
				 out->blocking_keepalive);
	if (!weft__stack_size_ok(out->stack_size, out->small_stacks)) {
		if (out->small_stacks)
			return bad_field(in, "cfg.stack_size = %zu with cfg.small_stacks: 0, or a "
					     "multiple of 16 from %d to the page size",
					 out->stack_size, WEFT__SMALL_STACK_MIN);
		return bad_field(in, "cfg.stack_size = %zu: at most %zu (1 GiB)", out->stack_size,
				 (size_t)WEFT__STACK_MAX);
	}
	/* checked here, not left to io_uring_setup: its EINVAL would not say
	 * which field (and 4 x a huge count wraps) */
	if (out->ring_entries > WEFT__IO_ENTRIES_MAX)
		return bad_field(in, "cfg.ring_entries = %u: at most %u", out->ring_entries,
				 WEFT__IO_ENTRIES_MAX);
	return 0;
}

WEFT_API unsigned weft_runtime_workers(const weft_runtime *rt)
{
	return rt ? rt->core.sched.nworkers : 0;
}

/* Frees what create made; the workers have been joined. */
static void runtime_free(weft_runtime *rt)
{
	weft__bridge_destroy(&rt->core);
	weft__core_destroy(&rt->core);
	weft__sched_destroy(&rt->core.sched);
	free(rt);
}

WEFT_API int weft_runtime_create(const weft_config *cfg, weft_runtime **out)
{
	if (!out)
		return -EINVAL;
	*out = NULL;
	if (weft__worker_current())
		return weft__misuse(-EPERM, "called on a worker thread (a nested runtime)");
	weft_runtime *rt = calloc(1, sizeof(*rt));
	if (!rt)
		return -ENOMEM;
	int rc = config_copy(&rt->cfg, cfg);
	if (rc) {
		free(rt);
		return rc;
	}
	if (rt->cfg.debug)
		weft__debug_enable();
	/* the layers below read debug mode from the copy (WEFT_DEBUG too) */
	rt->cfg.debug = atomic_load_explicit(&weft__debug_on, memory_order_relaxed);
	struct weft__sched *s = &rt->core.sched;
	/* each init undoes its own partial work when it fails */
	rc = weft__sched_init(s, &rt->cfg);
	if (!rc && (rc = weft__core_init(&rt->core, &rt->cfg)))
		weft__sched_destroy(s);
	if (!rc && (rc = weft__bridge_init(&rt->core, &rt->cfg))) {
		weft__core_destroy(&rt->core);
		weft__sched_destroy(s);
	}
	if (rc) {
		free(rt);
		return rc;
	}
	enum weft_segv_mode segv = rt->cfg.segv_handler;
	if (segv != WEFT_SEGV_NEVER)
		weft__guard_install(weft__worker_guard_lookup, segv == WEFT_SEGV_ALWAYS);

	rc = weft__sched_start(s);
	if (rc) {
		if (rt->cfg.debug)
			fprintf(stderr, "weft: cannot create the runtime: %s%s%s\n",
				weft_strerror(rc), s->start_why[0] ? ": " : "", s->start_why);
		runtime_free(rt);
		return rc;
	}
	*out = rt;
	return 0;
}

WEFT_API int weft_runtime_run(weft_runtime *rt, weft_task_fn fn, void *arg, void **result)
{
	if (!rt || !fn)
		return weft__misuse(-EINVAL, "NULL runtime or function");
	if (weft__worker_current())
		return weft__misuse(-EPERM, "called on a worker thread");
	weft_future *main = weft_spawn(rt, fn, arg, "main");
	int rc = weft_future_wait(main, WEFT_FOREVER, result);
	weft_future_unref(main);
	return rc;
}

/* Releases scheduled callbacks no worker will run any more. */
static void discard_leftovers(weft_runtime *rt)
{
	struct weft__runnable *last, *r;
	size_t n;
	r = weft__inject_pop_batch(&rt->core.sched.inject, SIZE_MAX, &last, &n);
	while (r) {
		struct weft__runnable *next = r->next;
		weft__core_discard(r);
		r = next;
	}
}

WEFT_API int weft_runtime_destroy(weft_runtime *rt)
{
	if (!rt)
		return -EINVAL;
	if (weft__worker_current())
		return weft__misuse(-EPERM, "called on a worker thread");
	struct weft__core *c = &rt->core;
	if (weft__blocking_on_pool_of(c))
		return weft__misuse(-EPERM, "called in a to_thread call of this runtime");
	/* Outside submissions are refused from now on, and the ones already
	 * past the guard are queued (sched/inject.h). */
	weft__inject_close(&c->sched.inject);
	weft__core_cancel_all(c);
	/* Every task is done (a task awaiting a started to_thread call waited
	 * for it): drain the blocking pool while workers still run the done
	 * callbacks of the calls it cancels. */
	weft__bridge_drain(c);
	atomic_store_explicit(&c->sched.stop, true, memory_order_release);
	/* A task created between the last check and stop is still cancelled. */
	weft__core_cancel_all(c);
	weft__sched_stop(&c->sched);
	discard_leftovers(rt);
	weft__inject_close(&c->sched.inject); /* late refused submitters, before the free */
	runtime_free(rt);
	return 0;
}

WEFT_API int weft_run(weft_task_fn fn, void *arg, const weft_config *cfg, void **result)
{
	if (weft__worker_current())
		return weft__misuse(-EPERM, "called on a worker thread (a nested weft_run)");
	if (!fn)
		return weft__misuse(-EINVAL, "NULL function");
	weft_runtime *rt;
	int rc = weft_runtime_create(cfg, &rt);
	if (rc)
		return rc;
	rc = weft_runtime_run(rt, fn, arg, result);
	weft_runtime_destroy(rt);
	return rc;
}
