/* SPDX-License-Identifier: MIT */
/* Runtime life cycle: create, run, shut down (asyncio.run / Runner). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <valgrind/valgrind.h>

#include <weft/error.h>
#include <weft/runtime.h>
#include <weft/task.h>

#include "bridge/bridge.h"
#include "bridge/context.h"
#include "core/debug.h"
#include "core/future.h"
#include "core/task.h"
#include "fiber/guard.h"
#include "io/timer.h"
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

/* Copies what the caller's (maybe older, smaller) struct has. */
static int config_copy(weft_config *out, const weft_config *in)
{
	weft_config_init(out);
	if (!in)
		return 0;
	if (in->size < offsetof(weft_config, workers) + sizeof(in->workers))
		return -EINVAL;
	memcpy(out, in, in->size < sizeof(*out) ? in->size : sizeof(*out));
	out->size = sizeof(*out);
	if (out->workers > MAX_WORKERS || out->segv_handler > WEFT_SEGV_NEVER)
		return -EINVAL;
	/* tokio allows a paused clock only on its current-thread runtime:
	 * with several workers "every task is idle" has no single owner */
	if (out->paused_clock && out->workers != 1)
		return -EINVAL;
	/* the blocking pool (bridge/bridge.h); 0 means the default */
	if (out->blocking_threads_max > WEFT__BLOCKING_MAX_LIMIT || !(out->blocking_keepalive >= 0))
		return -EINVAL;
	if (!weft__stack_size_ok(out->stack_size, out->small_stacks))
		return -EINVAL;
	return 0;
}

WEFT_API unsigned weft_runtime_workers(const weft_runtime *rt)
{
	return rt ? rt->nworkers : 0;
}

WEFT_API weft_runtime *weft_current_runtime(void)
{
	struct weft__worker *w = weft__worker_current();
	return w ? w->rt : weft__thread_ctx.rt; /* a blocking-pool thread's runtime */
}

/* The workers are joined: fold their counts in and drop the bias (and
 * the runtime's own reference, which the bias stood for). */
static void stub_release(weft_runtime *rt, unsigned nthreads)
{
	struct weft__rtstub *stub = rt->stub;
	atomic_store_explicit(&stub->dead, true, memory_order_release);
	int64_t local = 0;
	for (unsigned i = 0; i < nthreads; i++)
		local += rt->workers[i].stub_refs;
	int64_t delta = local - WEFT__STUB_BIAS;
	if (atomic_fetch_add_explicit(&stub->refs, delta, memory_order_acq_rel) + delta == 0)
		weft__stub_free(stub);
}

/* Frees what create made; the workers have been joined. */
static void runtime_free(weft_runtime *rt, unsigned nthreads)
{
	for (unsigned i = 0; i < nthreads; i++)
		if (rt->workers[i].ring.efd >= 0 || rt->workers[i].ring.ring.ring_fd > 0)
			weft__ring_exit(&rt->workers[i].ring);
	weft__stack_pool_destroy(&rt->stacks);
	weft__slab_reclaim(rt); /* emptied slabs still registered */
	weft__slab_registry_destroy(&rt->slabs);
	weft__idle_destroy(&rt->idle);
	weft__inject_destroy(&rt->inject);
	weft__bridge_destroy(rt);
	pthread_cond_destroy(&rt->cond);
	pthread_mutex_destroy(&rt->lock);
	stub_release(rt, nthreads);
	free(rt->workers);
	free(rt);
}

static void stop_and_join(weft_runtime *rt, unsigned nthreads)
{
	atomic_store_explicit(&rt->stop, true, memory_order_release);
	weft__idle_notify_all(rt);
	for (unsigned i = 0; i < nthreads; i++)
		pthread_join(rt->workers[i].thread, NULL);
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
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	rt->nworkers = rt->cfg.workers ? rt->cfg.workers : (unsigned)(ncpu > 0 ? ncpu : 1);
	rt->single = rt->nworkers == 1;
	/* Idle workers spin before parking (sched/worker.c) only with a CPU
	 * per worker, and a second one for a lone worker's submitters; a
	 * paused clock wants idle to mean idle; Valgrind runs one thread at
	 * a time. */
	rt->spin = ncpu > 1 && rt->nworkers <= (unsigned long)ncpu && !rt->cfg.paused_clock &&
		   !RUNNING_ON_VALGRIND;
	rt->paused = rt->cfg.paused_clock;
	rt->paused_ns = weft__now_ns();
	rt->stub = calloc(1, sizeof(*rt->stub));
	rt->workers = aligned_alloc(64, sizeof(*rt->workers) * rt->nworkers);
	if (!rt->stub || !rt->workers) {
		free(rt->stub);
		free(rt->workers);
		free(rt);
		return -ENOMEM;
	}
	atomic_init(&rt->stub->refs, WEFT__STUB_BIAS);
	atomic_init(&rt->stub->dead, false);
	atomic_init(&rt->stub->empty_slabs.head, NULL);
	rt->stub->rt = rt;
	memset(rt->workers, 0, sizeof(*rt->workers) * rt->nworkers);
	atomic_init(&rt->outside_spawned, 0);
	if (weft__inject_init(&rt->inject) || weft__idle_init(&rt->idle, rt->nworkers) ||
	    weft__slab_registry_init(&rt->slabs) ||
	    weft__stack_pool_init(&rt->stacks, rt->cfg.stack_size, rt->cfg.small_stacks) ||
	    pthread_mutex_init(&rt->lock, NULL) || pthread_cond_init(&rt->cond, NULL) ||
	    weft__bridge_init(rt)) {
		/* init functions only fail on allocation; partial state is
		 * released by the process on this rare path */
		free(rt->workers);
		free(rt->stub);
		free(rt);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < rt->nworkers; i++) {
		struct weft__worker *w = &rt->workers[i];
		w->rt = rt;
		w->index = i;
		w->small_stacks = rt->cfg.small_stacks;
		w->debug = atomic_load_explicit(&weft__debug_on, memory_order_relaxed);
		w->rng = 0x9e3779b9u * (i + 1);
		w->ring.efd = -1;
		weft__runq_init(&w->runq);
		atomic_init(&w->inbox.head, NULL);
		atomic_init(&w->park, 0);
		atomic_init(&w->spawned, 0);
		atomic_init(&w->retired, 0);
	}
	enum weft_segv_mode segv = rt->cfg.segv_handler;
	if (segv != WEFT_SEGV_NEVER)
		weft__guard_install(weft__worker_guard_lookup, segv == WEFT_SEGV_ALWAYS);

	unsigned made = 0;
	for (; made < rt->nworkers; made++) {
		if (pthread_create(&rt->workers[made].thread, NULL, weft__worker_main,
				   &rt->workers[made]))
			break;
	}
	pthread_mutex_lock(&rt->lock);
	while (rt->started < made)
		pthread_cond_wait(&rt->cond, &rt->lock);
	rc = rt->start_rc;
	pthread_mutex_unlock(&rt->lock);
	if (!rc && made < rt->nworkers)
		rc = -EAGAIN;
	if (rc) {
		if (rt->cfg.debug)
			fprintf(stderr, "weft: cannot create the runtime: %s%s%s\n",
				weft_strerror(rc), rt->start_why[0] ? ": " : "", rt->start_why);
		stop_and_join(rt, made);
		runtime_free(rt, made);
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

/* Cancels every live task and waits (a while) for them to finish. */
static void cancel_all_and_wait(weft_runtime *rt)
{
	enum { BATCH = 256 };
	weft_future *batch[BATCH];
	while (weft__live_tasks(rt) > 0) {
		/* parked workers unlink the tasks others finished for them */
		weft__idle_notify_all(rt);
		long n = weft_all_tasks(rt, batch, BATCH);
		for (long i = 0; i < n && i < BATCH; i++) {
			weft_cancel(batch[i], NULL);
			weft_future_unref(batch[i]);
		}
		pthread_mutex_lock(&rt->lock);
		rt->waiting_idle = true;
		if (weft__live_tasks(rt) > 0) {
			/* a timed wait: tasks created meanwhile are cancelled
			 * on the next pass */
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 20 * 1000 * 1000;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&rt->cond, &rt->lock, &ts);
		}
		rt->waiting_idle = false;
		pthread_mutex_unlock(&rt->lock);
	}
}

/* Releases scheduled callbacks no worker will run any more. */
static void discard_leftovers(weft_runtime *rt)
{
	struct weft__runnable *last, *r;
	size_t n;
	r = weft__inject_pop_batch(&rt->inject, SIZE_MAX, &last, &n);
	while (r) {
		struct weft__runnable *next = r->next;
		if (r->kind == WEFT__RUN_CALLBACK)
			weft__cb_discard(r);
		else if (r->kind == WEFT__RUN_CALL)
			weft__call_discard(r);
		r = next;
	}
}

WEFT_API int weft_runtime_destroy(weft_runtime *rt)
{
	if (!rt)
		return -EINVAL;
	if (weft__worker_current())
		return weft__misuse(-EPERM, "called on a worker thread");
	if (weft__blocking_on_pool_of(rt))
		return weft__misuse(-EPERM, "called in a to_thread call of this runtime");
	/* seq_cst: the guard of threadsafe submissions (bridge/threadsafe.c) */
	atomic_store_explicit(&rt->closing, true, memory_order_seq_cst);
	weft__bridge_quiesce(rt);
	cancel_all_and_wait(rt);
	/* Every task is done (a task awaiting a started to_thread call waited
	 * for it): drain the blocking pool while workers still run the done
	 * callbacks of the calls it cancels. */
	weft__bridge_drain(rt);
	atomic_store_explicit(&rt->stop, true, memory_order_release);
	/* A task created between the last check and stop is still cancelled. */
	cancel_all_and_wait(rt);
	stop_and_join(rt, rt->nworkers);
	discard_leftovers(rt);
	weft__bridge_quiesce(rt); /* late refused submitters, before the free */
	runtime_free(rt, rt->nworkers);
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
