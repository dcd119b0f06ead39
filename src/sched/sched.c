/* SPDX-License-Identifier: MIT */
/* A scheduler's life cycle, its live-task counts and its blocking count. */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <valgrind/valgrind.h>

#include "sched/sched.h"
#include "sched/worker.h"

int weft__sched_init(struct weft__sched *s, const weft_config *cfg)
{
	memset(s, 0, sizeof(*s));
	s->cfg = cfg;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	s->nworkers = cfg->workers ? cfg->workers : (unsigned)(ncpu > 0 ? ncpu : 1);
	s->single = s->nworkers == 1;
	/* Idle workers spin before parking (sched/worker.c) only with a CPU
	 * per worker, and a second one for a lone worker's submitters; a
	 * paused clock wants idle to mean idle; Valgrind runs one thread at
	 * a time; cfg.no_spin (WEFT_SPIN=0) leaves every CPU to others. */
	s->spin = ncpu > 1 && s->nworkers <= (unsigned long)ncpu && !cfg->paused_clock &&
		  !RUNNING_ON_VALGRIND && !cfg->no_spin;
	s->paused = cfg->paused_clock;
	s->paused_ns = weft__now_ns();
	atomic_init(&s->stop, false);
	atomic_init(&s->outside_spawned, 0);
	atomic_init(&s->blocking, 0);
	atomic_init(&s->trim_since, 0);
	atomic_init(&s->outside, 0);
	s->workers = aligned_alloc(64, sizeof(*s->workers) * s->nworkers);
	if (!s->workers)
		return -ENOMEM;
	if (weft__inject_init(&s->inject))
		goto no_inject;
	if (weft__idle_init(&s->idle, s->nworkers))
		goto no_idle;
	if (weft__stack_pool_init(&s->stacks, cfg->stack_size, cfg->small_stacks))
		goto no_stacks;
	if (weft__stack_pool_reserve(&s->stacks, cfg->reserve_tasks))
		goto no_lock; /* the pool is destroyed there */
	if (pthread_mutex_init(&s->lock, NULL))
		goto no_lock;
	if (pthread_cond_init(&s->cond, NULL))
		goto no_cond;
	for (unsigned i = 0; i < s->nworkers; i++)
		weft__worker_init(&s->workers[i], s, i);
	return 0;
no_cond:
	pthread_mutex_destroy(&s->lock);
no_lock:
	weft__stack_pool_destroy(&s->stacks);
no_stacks:
	weft__idle_destroy(&s->idle);
no_idle:
	weft__inject_destroy(&s->inject);
no_inject:
	free(s->workers);
	s->workers = NULL;
	return -ENOMEM;
}

static void join(struct weft__sched *s, unsigned nthreads)
{
	atomic_store_explicit(&s->stop, true, memory_order_release);
	weft__sched_wake_all(s);
	for (unsigned i = 0; i < nthreads; i++)
		pthread_join(s->workers[i].thread, NULL);
}

int weft__sched_start(struct weft__sched *s)
{
	unsigned made = 0;
	for (; made < s->nworkers; made++) {
		if (pthread_create(&s->workers[made].thread, NULL, weft__worker_main,
				   &s->workers[made]))
			break;
	}
	pthread_mutex_lock(&s->lock);
	while (s->started < made)
		pthread_cond_wait(&s->cond, &s->lock);
	int rc = s->start_rc;
	pthread_mutex_unlock(&s->lock);
	if (!rc && made < s->nworkers)
		rc = -EAGAIN;
	if (rc)
		join(s, made);
	else if (s->start_why[0] && s->cfg->debug)
		fprintf(stderr,
			"weft: io_uring is not available (%s): using the epoll backend "
			"(weft_config.backend or WEFT_BACKEND chooses one)\n",
			s->start_why);
	return rc;
}

void weft__sched_stop(struct weft__sched *s)
{
	join(s, s->nworkers);
}

void weft__sched_destroy(struct weft__sched *s)
{
	/* A thread outside the runtime that pushed work may still be on its
	 * way out of the wake-up (its eventfd write, the park word): wait
	 * for it. acquire: pairs with its release decrement (schedule.c). */
	while (atomic_load_explicit(&s->outside, memory_order_acquire))
		sched_yield();
	for (unsigned i = 0; i < s->nworkers; i++)
		weft__worker_exit(&s->workers[i]);
	weft__stack_pool_destroy(&s->stacks);
	weft__idle_destroy(&s->idle);
	weft__inject_destroy(&s->inject);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s->workers);
	s->workers = NULL;
}

void weft__sched_wake_all(struct weft__sched *s)
{
	for (unsigned i = 0; i < s->nworkers; i++)
		weft__worker_notify(&s->workers[i]);
}

/*
 * Live tasks: each worker counts the tasks it spawned and the tasks it
 * retired in counters only it writes; the number alive is the difference
 * of the sums (decision 10: nothing per task is shared between cores).
 */
void weft__sched_count_new(struct weft__sched *s, struct weft__worker *w)
{
	if (w)
		weft__worker_bump(&w->spawned);
	else
		atomic_fetch_add_explicit(&s->outside_spawned, 1, memory_order_release);
}

long weft__sched_live(struct weft__sched *s)
{
	/* Retired first: a task spawned and retired between the two passes
	 * can then only make the estimate too high, never too low (no one
	 * decides "nothing is left" early). */
	uint64_t retired = 0, spawned = 0;
	for (unsigned i = 0; i < s->nworkers; i++)
		retired += atomic_load_explicit(&s->workers[i].retired, memory_order_acquire);
	spawned = atomic_load_explicit(&s->outside_spawned, memory_order_acquire);
	for (unsigned i = 0; i < s->nworkers; i++)
		spawned += atomic_load_explicit(&s->workers[i].spawned, memory_order_acquire);
	return (long)(spawned - retired);
}

void weft__sched_retired_closing(struct weft__sched *s)
{
	pthread_mutex_lock(&s->lock);
	if (s->waiting_idle)
		pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

void weft__sched_wait_idle(struct weft__sched *s, uint64_t timeout_ns)
{
	pthread_mutex_lock(&s->lock);
	s->waiting_idle = true;
	if (weft__sched_live(s) > 0) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		uint64_t ns = (uint64_t)ts.tv_nsec + timeout_ns;
		ts.tv_sec += (time_t)(ns / 1000000000u);
		ts.tv_nsec = (long)(ns % 1000000000u);
		pthread_cond_timedwait(&s->cond, &s->lock, &ts);
	}
	s->waiting_idle = false;
	pthread_mutex_unlock(&s->lock);
}

void weft__sched_blocking_begin(struct weft__sched *s)
{
	/* seq_cst: counted before the work can start, so it pairs with the
	 * paused worker's load in its loop (worker.c) */
	atomic_fetch_add_explicit(&s->blocking, 1, memory_order_seq_cst);
}

void weft__sched_blocking_end(struct weft__sched *s)
{
	/* seq_cst RMW, then the RMW on the park word in weft__worker_notify:
	 * a paused worker that read blocking != 0 and parks afterwards sees
	 * NOTIFIED, or its park exchange came first and this wakes it
	 * (decision 8). */
	if (atomic_fetch_sub_explicit(&s->blocking, 1, memory_order_seq_cst) == 1 && s->paused)
		weft__worker_notify(&s->workers[0]);
}

long weft__sched_blocking_count(struct weft__sched *s)
{
	return atomic_load_explicit(&s->blocking, memory_order_relaxed);
}
