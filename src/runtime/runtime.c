/* SPDX-License-Identifier: MIT */
/*
 * Runtime life cycle: create, run, shut down (asyncio.run / Runner). The
 * top floor: it sets every layer up in order, and tears them down in the
 * order shutdown needs (bridge/bridge.h lists it).
 */
#include <errno.h>
#include <math.h>
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
#include "io/timer.h"
#include "io/backend.h"
#include "runtime/monitor.h"
#include "runtime/runtime.h"
#include "sched/sched.h"
#include "sched/worker.h"

#define MAX_WORKERS 1024
/* weft_config.reserve_tasks: 16 Mi tasks is ~74 GB resident with default
 * stacks; a larger count is a typo, not a plan. */
#define WEFT__RESERVE_MAX ((size_t)1 << 24)

WEFT_API void weft_config_init(weft_config *cfg)
{
	if (!cfg)
		return;
	memset(cfg, 0, sizeof(*cfg));
	cfg->size = sizeof(*cfg);
	cfg->blocking_threads_max = WEFT__BLOCKING_MAX_DEFAULT;
	cfg->blocking_keepalive = WEFT__BLOCKING_KEEPALIVE_DEFAULT;
}

/* Copies what the caller's (maybe older, smaller) struct has; a refused
 * field is named in debug mode (cfg.debug counts already). */
static int config_copy(weft_config *out, const weft_config *in)
{
	static const char fn[] = "weft_runtime_create";
	weft_config_init(out);
	if (!in)
		return 0;
	if (in->size == 0)
		return weft__misusef(-EINVAL, fn,
				     "weft_config.size is 0: the config was not initialised; call "
				     "weft_config_init(&cfg) first, then set the fields you need");
	if (in->size < offsetof(weft_config, workers) + sizeof(in->workers))
		return weft__misusef(-EINVAL, fn,
				     "weft_config.size is %zu, smaller than any weft_config: call "
				     "weft_config_init(&cfg) first",
				     in->size);
	memcpy(out, in, in->size < sizeof(*out) ? in->size : sizeof(*out));
	out->size = sizeof(*out);
	if (out->debug)
		weft__debug_enable();
	if (out->workers > MAX_WORKERS)
		return weft__misusef(-EINVAL, fn, "weft_config.workers is %u: at most %d (0: one per CPU)",
				     out->workers, MAX_WORKERS);
	if (out->segv_handler > WEFT_SEGV_NEVER)
		return weft__misusef(-EINVAL, fn,
				     "weft_config.segv_handler is %d: not a weft_segv_mode (WEFT_SEGV_AUTO, "
				     "_ALWAYS or _NEVER)",
				     (int)out->segv_handler);
	/* tokio allows a paused clock only on its current-thread runtime:
	 * with several workers "every task is idle" has no single owner */
	if (out->paused_clock && out->workers != 1)
		return weft__misusef(-EINVAL, fn,
				     "weft_config.paused_clock needs weft_config.workers = 1 (it is %u)",
				     out->workers);
	/* the blocking pool (bridge/bridge.h); 0 means the default */
	if (out->blocking_threads_max > WEFT__BLOCKING_MAX_LIMIT)
		return weft__misusef(-EINVAL, fn,
				     "weft_config.blocking_threads_max is %u: at most %u (0: %u)",
				     out->blocking_threads_max, WEFT__BLOCKING_MAX_LIMIT,
				     WEFT__BLOCKING_MAX_DEFAULT);
	if (!(out->blocking_keepalive >= 0))
		return weft__misusef(-EINVAL, fn,
				     "weft_config.blocking_keepalive is %g: seconds, 0 (10 s) or "
				     "WEFT_FOREVER",
				     out->blocking_keepalive);
	if (!weft__stack_size_ok(out->stack_size, out->small_stacks)) {
		if (out->small_stacks)
			return weft__misusef(-EINVAL, fn,
					     "weft_config.stack_size is %zu: with small_stacks it is 0 "
					     "(2 KiB) or a multiple of 16 from %d to the page size",
					     out->stack_size, WEFT__SMALL_STACK_MIN);
		return weft__misusef(-EINVAL, fn, "weft_config.stack_size is %zu: at most %zu (1 GiB)",
				     out->stack_size, (size_t)WEFT__STACK_MAX);
	}
	/* checked here, not left to io_uring_setup: its EINVAL would not say
	 * which field (and 4 x a huge count wraps) */
	if (out->ring_entries > WEFT__IO_ENTRIES_MAX)
		return weft__misusef(-EINVAL, fn, "weft_config.ring_entries is %u: at most %u (0: 256)",
				     out->ring_entries, WEFT__IO_ENTRIES_MAX);
	if (out->reserve_tasks > WEFT__RESERVE_MAX)
		return weft__misusef(-EINVAL, fn, "weft_config.reserve_tasks is %zu: at most %zu (0: none)",
				     out->reserve_tasks, (size_t)WEFT__RESERVE_MAX);
	if ((unsigned)out->backend > WEFT_BACKEND_EPOLL)
		return weft__misusef(-EINVAL, fn,
				     "weft_config.backend is %d: not a weft_backend (WEFT_BACKEND_AUTO, "
				     "_IO_URING or _EPOLL)",
				     (int)out->backend);
	/* the environment picks only what the program left to auto: a test
	 * suite run with WEFT_BACKEND=epoll keeps the tests that force one */
	const char *env = getenv("WEFT_BACKEND");
	if (out->backend == WEFT_BACKEND_AUTO && env && *env) {
		if (!strcmp(env, "epoll"))
			out->backend = WEFT_BACKEND_EPOLL;
		else if (!strcmp(env, "io_uring"))
			out->backend = WEFT_BACKEND_IO_URING;
		else if (strcmp(env, "auto"))
			return weft__misusef(-EINVAL, fn,
					     "the environment variable WEFT_BACKEND is \"%s\": auto, "
					     "io_uring or epoll",
					     env);
	}
	env = getenv("WEFT_SPIN");
	if (!out->no_spin && env && *env) {
		if (!strcmp(env, "0") || !strcmp(env, "off"))
			out->no_spin = true;
		else if (strcmp(env, "1") && strcmp(env, "on"))
			return weft__misusef(-EINVAL, fn,
					     "the environment variable WEFT_SPIN is \"%s\": 0, off, 1 or on",
					     env);
	}
	if (!(out->slow_step >= 0))
		return weft__misusef(-EINVAL, fn, "weft_config.slow_step is %g: seconds (0: 0.1)",
				     out->slow_step);
	if (out->slow_step == 0)
		out->slow_step = 0.1;
	if (out->dump_signal && !weft__monitor_signal_ok(out->dump_signal))
		return weft__misusef(-EINVAL, fn,
				     "weft_config.dump_signal is %d: a signal a handler may catch "
				     "(SIGQUIT, SIGUSR1...; not SIGKILL, SIGSTOP, SIGSEGV, SIGBUS, "
				     "SIGFPE, SIGILL, SIGPIPE nor SIGURG, which debug mode's watchdog "
				     "uses), or 0",
				     out->dump_signal);
	return 0;
}

WEFT_API unsigned weft_runtime_workers(const weft_runtime *rt)
{
	return rt ? rt->core.sched.nworkers : 0;
}

WEFT_API int weft_runtime_backend(const weft_runtime *rt)
{
	if (!rt)
		return weft__misuse(-EINVAL, "NULL runtime");
	const struct weft__sched *s = &rt->core.sched;
	for (unsigned i = 0; i < s->nworkers; i++)
		if (weft__io_readiness(&s->workers[i].io))
			return WEFT_BACKEND_EPOLL;
	return WEFT_BACKEND_IO_URING;
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
		return weft__misuse(-EINVAL, "NULL out");
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
	/* the layers below read debug mode from the copy (WEFT_DEBUG too;
	 * config_copy turned it on for cfg.debug) */
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
		if (rt->cfg.debug) {
			const char *fix =
				rc == -ENOMEM ? "; to fix, if memory is free: raise the locked-memory "
						"limit (ulimit -l), or use fewer workers or a smaller "
						"cfg.ring_entries"
				: rc == -EMFILE ? "; to fix: raise the descriptor limit (ulimit -n)"
						: "";
			fprintf(stderr, "weft: cannot create the runtime: %s%s%s%s\n",
				weft_strerror(rc), s->start_why[0] ? ": " : "", s->start_why, fix);
		}
		runtime_free(rt);
		return rc;
	}
	if ((rc = weft__monitor_start(rt, &rt->monitor))) {
		if (rt->cfg.debug)
			fprintf(stderr, "weft: cannot create the runtime: its monitor thread (debug "
					"mode's watchdog, cfg.dump_signal): %s\n",
				weft_strerror(rc));
		weft_runtime_destroy(rt);
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

/* Says why destroy gave up and what is still running (stderr, always:
 * the caller asked for a deadline, as asyncio's executor shutdown warns). */
static void report_timeout(struct weft__core *c, double timeout)
{
	flockfile(stderr);
	fprintf(stderr,
		"weft: weft_runtime_destroy_timeout: gave up after %g s [-ETIMEDOUT]; the runtime "
		"stays allocated and shutting down: call it again once these end (unblock a "
		"call by closing or shutting down its descriptor), or exit\n",
		timeout);
	unsigned calls = weft__bridge_report(c, stderr);
	long tasks = weft__core_report_tasks(c, stderr, 16);
	if (!calls && !tasks)
		fprintf(stderr, "weft:   (the last of them ended just now)\n");
	funlockfile(stderr);
}

WEFT_API int weft_runtime_destroy_timeout(weft_runtime *rt, double timeout)
{
	if (!rt)
		return weft__misuse(-EINVAL, "NULL runtime");
	if (!(timeout >= 0))
		return weft__misuse(-EINVAL, "negative or NaN timeout");
	if (weft__worker_current())
		return weft__misuse(-EPERM, "called on a worker thread");
	struct weft__core *c = &rt->core;
	if (weft__blocking_on_pool_of(c))
		return weft__misuse(-EPERM, "called in a to_thread call of this runtime");
	/* Relative deadlines in nanoseconds (decision 17); past ~31 years
	 * (WEFT_FOREVER included) there is none. */
	uint64_t deadline = 0;
	if (timeout < 1e9)
		deadline = weft__now_ns() + (uint64_t)ceil(timeout * 1e9);
	/* Outside submissions are refused from now on, and the ones already
	 * past the guard are queued (sched/inject.h). Each step below may be
	 * reached again by a later call after a timeout, and goes on. */
	weft__inject_close(&c->sched.inject);
	/* Every task is done (a task awaiting a started to_thread call waited
	 * for it): drain the blocking pool while workers still run the done
	 * callbacks of the calls it cancels. */
	if (weft__core_cancel_all(c, deadline) || weft__bridge_drain(c, deadline)) {
		report_timeout(c, timeout);
		return -ETIMEDOUT;
	}
	atomic_store_explicit(&c->sched.stop, true, memory_order_release);
	/* A task created between the last check and stop is still cancelled. */
	weft__core_cancel_all(c, 0);
	weft__monitor_stop(rt->monitor); /* before the workers it watches go */
	rt->monitor = NULL;
	weft__sched_stop(&c->sched);
	weft__debug_flush(); /* never-retrieved reports the loops had queued */
	discard_leftovers(rt);
	weft__inject_close(&c->sched.inject); /* late refused submitters, before the free */
	runtime_free(rt);
	return 0;
}

WEFT_API int weft_runtime_destroy(weft_runtime *rt)
{
	if (!rt)
		return weft__misuse(-EINVAL, "NULL runtime");
	return weft_runtime_destroy_timeout(rt, WEFT_FOREVER);
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
