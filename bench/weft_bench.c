/* SPDX-License-Identifier: MIT */
/*
 * weft's side of the throughput suite (BENCH.md): one program, one
 * subcommand per workload, all on bench/harness.c.
 *
 *   weft_bench list
 *   weft_bench spawn_many [--workers N] [--runs N] [--json FILE] [--quick]
 *   weft_bench ping_pong  [--workers N] [--variant V] ...
 *   weft_bench all        (every workload that is written)
 *
 * Workloads, in BENCH.md's order: spawn_many, yield_many, ping_pong,
 * chained_spawn, fib_parallel, timers, idle_memory, threadsafe, cold_start,
 * to_thread, spawn_wait;
 * the network workloads (tcp_echo, connect_rate, idle_connections) are run
 * by tools/bench.sh with examples/echo_server and bench/loadgen, not here
 * (their listing says so). Each section below
 * has the same shape: a context struct, the main task (timed with
 * bench_iter_start/stop, self-checking with bench_iter_fail), setup /
 * iter / teardown (and report, for a figure that is not ops/s), then a
 * run_<workload>() that fills a bench_variant, and a row in workloads[].
 *
 * Without --workers each workload runs with one worker per online CPU and
 * with one worker (variants "workers=2", "workers=1"). tools/bench.sh runs
 * every variant several times, interleaved, and prints the medians.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <weft.h>

#include "harness.h"

/* ---- a runtime per run --------------------------------------------------- */

/* Shared by every weft workload: the runtime lives for one run (created
 * in setup, outside the timing) and runs one main task per iteration. */
struct rt_ctx {
	unsigned workers;
	bool migratable; /* cfg.migratable: tasks resume on any worker (tokio's model) */
	weft_runtime *rt;
	struct bench_iter *it; /* the iteration in progress */
};

static int rt_setup(struct rt_ctx *c, char *why, size_t cap)
{
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.workers = c->workers;
	cfg.migratable = c->migratable;
	int rc = weft_runtime_create(&cfg, &c->rt);
	if (rc)
		snprintf(why, cap, "weft_runtime_create: %s", weft_strerror(rc));
	return rc;
}

static void rt_iter(struct rt_ctx *c, struct bench_iter *it, weft_task_fn main_fn)
{
	c->it = it;
	void *res = NULL;
	int rc = weft_runtime_run(c->rt, main_fn, c, &res);
	if (rc)
		bench_iter_fail(it, "main task: %s", weft_strerror(rc));
	c->it = NULL;
}

static void rt_teardown(struct rt_ctx *c)
{
	if (c->rt)
		weft_runtime_destroy(c->rt);
	c->rt = NULL;
}

/* ---- spawn_many ----------------------------------------------------------
 * One task spawns 1,000,000 trivial tasks, then awaits them all (tasks/s).
 * Check: every task ran: task i returns 2i+1, and the sum of n such
 * results is n^2.
 */

struct spawn_many {
	struct rt_ctx rc;
	long n;
	weft_future **tasks;
};

static int trivial(void *arg, void **result)
{
	*result = (void *)((uintptr_t)arg * 2 + 1);
	return 0;
}

static int spawn_many_main(void *arg, void **result)
{
	struct spawn_many *c = arg;
	struct bench_iter *it = c->rc.it;
	long n = c->n, failed = 0;
	int first_rc = 0;
	uint64_t sum = 0;
	bench_iter_start(it);
	for (long i = 0; i < n; i++)
		c->tasks[i] = weft_create_task(trivial, (void *)(uintptr_t)i, NULL);
	for (long i = 0; i < n; i++) {
		void *r;
		int rc = weft_await(c->tasks[i], &r);
		if (rc) {
			if (!failed++)
				first_rc = rc;
		} else {
			sum += (uintptr_t)r;
		}
		weft_future_unref(c->tasks[i]);
	}
	bench_iter_stop(it);
	it->ops = (double)n;
	if (failed)
		bench_iter_fail(it, "%ld of %ld tasks failed (first: %s)", failed, n,
				weft_strerror(first_rc));
	else if (sum != (uint64_t)n * (uint64_t)n)
		bench_iter_fail(it, "sum of results %" PRIu64 ", expected %" PRIu64, sum,
				(uint64_t)n * (uint64_t)n);
	return 0;
}

static int spawn_many_setup(void *ctx, char *why, size_t cap)
{
	struct spawn_many *c = ctx;
	c->tasks = calloc((size_t)c->n, sizeof(*c->tasks));
	if (!c->tasks) {
		snprintf(why, cap, "out of memory");
		return -ENOMEM;
	}
	return rt_setup(&c->rc, why, cap);
}

static void spawn_many_iter(void *ctx, struct bench_iter *it)
{
	rt_iter(&((struct spawn_many *)ctx)->rc, it, spawn_many_main);
}

static void spawn_many_teardown(void *ctx)
{
	struct spawn_many *c = ctx;
	rt_teardown(&c->rc);
	free(c->tasks);
	c->tasks = NULL;
}

/* ---- ping_pong (future) --------------------------------------------------
 * 1,000 pairs of tasks, 1,000 round trips each over one-shot futures
 * (round trips/s). A message is a fresh future created by the side that
 * will await it, handed to the peer as the value of the previous message;
 * the peer sets it. So each round trip is: A creates a future, hands it to
 * B (setting the future B awaits), B sets it; B replies the same way. The
 * hand-over passes a reference, as a user must (the setter owns one).
 *
 * The pair starts with a future created by the main task: B awaits it, A
 * sets it. A does `rounds` round trips; B answers `rounds` pings; the last
 * future B hands back is dropped unset.
 * Check: both sides report `rounds` completed exchanges; any failure of a
 * side is passed to its peer as an exception, so nobody waits forever.
 */

struct pp_pair {
	weft_future *first; /* B awaits it, A sets it (each holds a reference) */
	long rounds;
};

struct ping_pong {
	struct rt_ctx rc;
	long pairs, rounds;
	struct pp_pair *pair;
	weft_future **tasks; /* 2 per pair */
};

/* Hands `mine` (a new reference to it) to the peer by completing `theirs`,
 * consuming our reference to `theirs`. */
static int pp_send(weft_future *theirs, weft_future *mine)
{
	weft_future_ref(mine);
	int rc = weft_future_set_result(theirs, mine);
	weft_future_unref(theirs);
	if (rc)
		weft_future_unref(mine); /* the peer never got it */
	return rc;
}

/* A fresh future, or an error (and the peer is told). */
static weft_future *pp_fresh(weft_future *theirs, int *rc)
{
	weft_future *f = weft_future_create(NULL);
	if (weft_future_done(f)) {
		*rc = weft_future_exception(f);
		weft_future_unref(f);
		weft_future_set_exception(theirs, *rc, "peer could not create a future");
		weft_future_unref(theirs);
		return NULL;
	}
	return f;
}

static int pp_a(void *arg, void **result)
{
	struct pp_pair *p = arg;
	weft_future *theirs = p->first;
	long done = 0;
	int rc = 0;
	for (long i = 0; i < p->rounds; i++) {
		weft_future *mine = pp_fresh(theirs, &rc);
		if (!mine)
			return rc;
		if ((rc = pp_send(theirs, mine))) {
			weft_future_unref(mine);
			return rc;
		}
		void *v;
		rc = weft_await(mine, &v);
		weft_future_unref(mine);
		if (rc)
			return rc;
		theirs = v; /* B's next future: B handed us a reference */
		done++;
	}
	weft_future_unref(theirs); /* B's last one: never set */
	*result = (void *)(uintptr_t)done;
	return 0;
}

static int pp_b(void *arg, void **result)
{
	struct pp_pair *p = arg;
	weft_future *mine = p->first;
	long done = 0;
	int rc = 0;
	for (long i = 0; i < p->rounds; i++) {
		void *v;
		rc = weft_await(mine, &v);
		weft_future_unref(mine);
		if (rc)
			return rc;
		weft_future *theirs = v;
		if (!(mine = pp_fresh(theirs, &rc)))
			return rc;
		if ((rc = pp_send(theirs, mine))) {
			weft_future_unref(mine);
			return rc;
		}
		done++;
	}
	weft_future_unref(mine); /* A drops its reference unset */
	*result = (void *)(uintptr_t)done;
	return 0;
}

static int ping_pong_main(void *arg, void **result)
{
	struct ping_pong *c = arg;
	struct bench_iter *it = c->rc.it;
	long np = c->pairs, failed = 0;
	int first_rc = 0;
	uint64_t sum = 0;
	bench_iter_start(it);
	for (long i = 0; i < np; i++) {
		struct pp_pair *p = &c->pair[i];
		p->rounds = c->rounds;
		p->first = weft_future_create(NULL); /* B's reference */
		weft_future_ref(p->first);           /* A's reference */
		c->tasks[2 * i] = weft_create_task(pp_b, p, NULL);
		c->tasks[2 * i + 1] = weft_create_task(pp_a, p, NULL);
		/* A side that could not be created (already failed) must not
		 * leave its partner waiting forever. */
		if (weft_future_done(c->tasks[2 * i]))
			weft_cancel(c->tasks[2 * i + 1], "partner could not start");
		if (weft_future_done(c->tasks[2 * i + 1]))
			weft_cancel(c->tasks[2 * i], "partner could not start");
	}
	for (long i = 0; i < 2 * np; i++) {
		void *r;
		int rc = weft_await(c->tasks[i], &r);
		if (rc) {
			if (!failed++)
				first_rc = rc;
		} else {
			sum += (uintptr_t)r;
		}
		weft_future_unref(c->tasks[i]);
	}
	bench_iter_stop(it);
	it->ops = (double)np * (double)c->rounds;
	uint64_t want = 2 * (uint64_t)np * (uint64_t)c->rounds;
	if (failed)
		bench_iter_fail(it, "%ld of %ld tasks failed (first: %s)", failed, 2 * np,
				weft_strerror(first_rc));
	else if (sum != want)
		bench_iter_fail(it, "%" PRIu64 " exchanges counted, expected %" PRIu64, sum, want);
	return 0;
}

static int ping_pong_setup(void *ctx, char *why, size_t cap)
{
	struct ping_pong *c = ctx;
	c->pair = calloc((size_t)c->pairs, sizeof(*c->pair));
	c->tasks = calloc(2 * (size_t)c->pairs, sizeof(*c->tasks));
	if (!c->pair || !c->tasks) {
		snprintf(why, cap, "out of memory");
		return -ENOMEM;
	}
	return rt_setup(&c->rc, why, cap);
}

static void ping_pong_iter(void *ctx, struct bench_iter *it)
{
	rt_iter(&((struct ping_pong *)ctx)->rc, it, ping_pong_main);
}

static void ping_pong_teardown(void *ctx)
{
	struct ping_pong *c = ctx;
	rt_teardown(&c->rc);
	free(c->pair);
	free(c->tasks);
	c->pair = NULL;
	c->tasks = NULL;
}

/* ---- ping_pong (queue) ---------------------------------------------------
 * The same 1,000 pairs x 1,000 round trips over two weft_queues of one
 * slot each (asyncio.Queue(maxsize=1) each way, as the peers do): A puts
 * i into ab and gets it back from ba; B gets from ab and puts into ba.
 * The queues are created in the timed region, as the peers create theirs.
 * Check: both sides count their exchanges (A only those that came back
 * equal); a side that fails shuts both queues down (immediately), so its
 * partner stops with -ESHUTDOWN instead of waiting forever.
 */

struct pq_pair {
	weft_queue *ab, *ba;
	long rounds;
};

struct ping_pong_q {
	struct rt_ctx rc;
	long pairs, rounds;
	struct pq_pair *pair;
	weft_future **tasks; /* 2 per pair */
};

static int pq_fail(struct pq_pair *p, int rc)
{
	weft_queue_shutdown(p->ab, true);
	weft_queue_shutdown(p->ba, true);
	return rc;
}

static int pq_a(void *arg, void **result)
{
	struct pq_pair *p = arg;
	long done = 0;
	for (long i = 0; i < p->rounds; i++) {
		void *v;
		int rc = weft_queue_put(p->ab, (void *)(uintptr_t)(i + 1));
		if (rc || (rc = weft_queue_get(p->ba, &v)))
			return pq_fail(p, rc);
		if ((uintptr_t)v == (uintptr_t)(i + 1))
			done++;
	}
	*result = (void *)(uintptr_t)done;
	return 0;
}

static int pq_b(void *arg, void **result)
{
	struct pq_pair *p = arg;
	long done = 0;
	for (long i = 0; i < p->rounds; i++) {
		void *v;
		int rc = weft_queue_get(p->ab, &v);
		if (rc || (rc = weft_queue_put(p->ba, v)))
			return pq_fail(p, rc);
		done++;
	}
	*result = (void *)(uintptr_t)done;
	return 0;
}

static int ping_pong_q_main(void *arg, void **result)
{
	struct ping_pong_q *c = arg;
	struct bench_iter *it = c->rc.it;
	long np = c->pairs, failed = 0, started = 0;
	int first_rc = 0;
	uint64_t sum = 0;
	bench_iter_start(it);
	for (long i = 0; i < np; i++) {
		struct pq_pair *p = &c->pair[i];
		p->rounds = c->rounds;
		int rc = weft_queue_create(&p->ab, WEFT_QUEUE_FIFO, 1, NULL, NULL);
		if (rc == 0 && (rc = weft_queue_create(&p->ba, WEFT_QUEUE_FIFO, 1, NULL, NULL)))
			weft_queue_destroy(p->ab);
		if (rc) {
			if (!failed++)
				first_rc = rc;
			break;
		}
		c->tasks[2 * i] = weft_create_task(pq_b, p, NULL);
		c->tasks[2 * i + 1] = weft_create_task(pq_a, p, NULL);
		started++;
		/* A side that could not be created must not leave its partner
		 * waiting forever. */
		if (weft_future_done(c->tasks[2 * i]) || weft_future_done(c->tasks[2 * i + 1]))
			pq_fail(p, 0);
	}
	for (long i = 0; i < 2 * started; i++) {
		void *r;
		int rc = weft_await(c->tasks[i], &r);
		if (rc) {
			if (!failed++)
				first_rc = rc;
		} else {
			sum += (uintptr_t)r;
		}
		weft_future_unref(c->tasks[i]);
	}
	bench_iter_stop(it);
	for (long i = 0; i < started; i++) {
		weft_queue_destroy(c->pair[i].ab);
		weft_queue_destroy(c->pair[i].ba);
	}
	it->ops = (double)np * (double)c->rounds;
	uint64_t want = 2 * (uint64_t)np * (uint64_t)c->rounds;
	if (failed)
		bench_iter_fail(it, "%ld failures (first: %s)", failed, weft_strerror(first_rc));
	else if (sum != want)
		bench_iter_fail(it, "%" PRIu64 " exchanges counted, expected %" PRIu64, sum, want);
	return 0;
}

static int ping_pong_q_setup(void *ctx, char *why, size_t cap)
{
	struct ping_pong_q *c = ctx;
	c->pair = calloc((size_t)c->pairs, sizeof(*c->pair));
	c->tasks = calloc(2 * (size_t)c->pairs, sizeof(*c->tasks));
	if (!c->pair || !c->tasks) {
		snprintf(why, cap, "out of memory");
		return -ENOMEM;
	}
	return rt_setup(&c->rc, why, cap);
}

static void ping_pong_q_iter(void *ctx, struct bench_iter *it)
{
	rt_iter(&((struct ping_pong_q *)ctx)->rc, it, ping_pong_q_main);
}

static void ping_pong_q_teardown(void *ctx)
{
	struct ping_pong_q *c = ctx;
	rt_teardown(&c->rc);
	free(c->pair);
	free(c->tasks);
	c->pair = NULL;
	c->tasks = NULL;
}

/* ---- shared by the workloads below ---------------------------------------- */

/* CLOCK_MONOTONIC in nanoseconds (the clock weft's timers use). */
static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Awaits n tasks and releases them; adds their results to *sum. Returns
 * the number that failed (the first failure's code in *first_rc). */
static long await_all(weft_future **tasks, long n, uint64_t *sum, int *first_rc)
{
	long failed = 0;
	for (long i = 0; i < n; i++) {
		void *r = NULL;
		int rc = weft_await(tasks[i], &r);
		if (rc) {
			if (!failed++)
				*first_rc = rc;
		} else {
			*sum += (uintptr_t)r;
		}
		weft_future_unref(tasks[i]);
	}
	return failed;
}

/* A task that could not be created is a future that failed at once; a task
 * that already ran to completion (stolen and finished) is not a failure. */
static int spawn_failed(weft_future *t)
{
	if (!weft_future_done(t))
		return 0;
	int rc = weft_future_exception(t);
	return rc < 0 && rc != -EBUSY ? rc : 0;
}

/* Resident set now, from /proc/self/statm (KiB); -1 if unreadable. */
static long current_rss_kb(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	if (!f)
		return -1;
	long size = 0, resident = -1;
	if (fscanf(f, "%ld %ld", &size, &resident) != 2)
		resident = -1;
	fclose(f);
	return resident < 0 ? -1 : resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static long max_rss_kb(void)
{
	struct rusage ru;
	return getrusage(RUSAGE_SELF, &ru) ? -1 : ru.ru_maxrss;
}

/* ---- yield_many ------------------------------------------------------------
 * 1,000 tasks each yield 1,000 times with weft_sleep(0) (yields/s).
 * Check: each task returns how many of its yields returned 0; the sum is
 * tasks x yields.
 */

struct yield_many {
	struct rt_ctx rc;
	long tasks, yields;
	weft_future **t;
};

static int yielder(void *arg, void **result)
{
	long n = (long)(uintptr_t)arg, done = 0;
	for (long i = 0; i < n; i++) {
		int rc = weft_sleep(0);
		if (rc)
			return rc;
		done++;
	}
	*result = (void *)(uintptr_t)done;
	return 0;
}

static int yield_many_main(void *arg, void **result)
{
	struct yield_many *c = arg;
	struct bench_iter *it = c->rc.it;
	uint64_t sum = 0;
	int first_rc = 0;
	bench_iter_start(it);
	for (long i = 0; i < c->tasks; i++)
		c->t[i] = weft_create_task(yielder, (void *)(uintptr_t)c->yields, NULL);
	long failed = await_all(c->t, c->tasks, &sum, &first_rc);
	bench_iter_stop(it);
	it->ops = (double)c->tasks * (double)c->yields;
	if (failed)
		bench_iter_fail(it, "%ld of %ld tasks failed (first: %s)", failed, c->tasks,
				weft_strerror(first_rc));
	else if (sum != (uint64_t)c->tasks * (uint64_t)c->yields)
		bench_iter_fail(it, "%" PRIu64 " yields counted, expected %ld", sum,
				c->tasks * c->yields);
	return 0;
}

static int yield_many_setup(void *ctx, char *why, size_t cap)
{
	struct yield_many *c = ctx;
	if (!(c->t = calloc((size_t)c->tasks, sizeof(*c->t)))) {
		snprintf(why, cap, "out of memory");
		return -ENOMEM;
	}
	return rt_setup(&c->rc, why, cap);
}

static void yield_many_iter(void *ctx, struct bench_iter *it)
{
	rt_iter(&((struct yield_many *)ctx)->rc, it, yield_many_main);
}

static void yield_many_teardown(void *ctx)
{
	struct yield_many *c = ctx;
	rt_teardown(&c->rc);
	free(c->t);
	c->t = NULL;
}

/* ---- chained_spawn ---------------------------------------------------------
 * A task spawns a child that spawns a child ... depth 1,000; 1,000 chains
 * one after another (spawns/s). As tokio's chained_spawn: each link spawns
 * the next and returns at once (nobody awaits the links); the last link
 * completes the chain's future.
 * Check: every chain's future reports `depth` links, each link counted once
 * (a link counts itself before it spawns the next, so the count is never
 * raced).
 */

struct chain {
	weft_future *done; /* set by the last link with the link count */
	long links, depth;
};

struct chained_spawn {
	struct rt_ctx rc;
	long chains, depth;
};

static int chain_link(void *arg, void **result)
{
	struct chain *ch = arg;
	(void)result;
	if (++ch->links == ch->depth) {
		weft_future_set_result(ch->done, (void *)(uintptr_t)ch->links);
		return 0;
	}
	weft_future *next = weft_create_task(chain_link, ch, NULL);
	int rc = spawn_failed(next);
	if (rc) /* tell the main task instead of leaving it waiting */
		weft_future_set_exception(ch->done, rc, "could not spawn the next link");
	weft_future_unref(next);
	return rc;
}

static int chained_spawn_main(void *arg, void **result)
{
	struct chained_spawn *c = arg;
	struct bench_iter *it = c->rc.it;
	bench_iter_start(it);
	for (long j = 0; j < c->chains; j++) {
		struct chain ch = {.done = weft_future_create(NULL), .depth = c->depth};
		weft_future *first = weft_create_task(chain_link, &ch, NULL);
		int rc = spawn_failed(first);
		weft_future_unref(first);
		void *links = NULL;
		if (!rc)
			rc = weft_await(ch.done, &links);
		weft_future_unref(ch.done);
		if (rc) {
			bench_iter_fail(it, "chain %ld: %s", j, weft_strerror(rc));
			break;
		}
		if ((long)(uintptr_t)links != c->depth) {
			bench_iter_fail(it, "chain %ld: %ld links, expected %ld", j,
					(long)(uintptr_t)links, c->depth);
			break;
		}
	}
	bench_iter_stop(it);
	it->ops = (double)c->chains * (double)c->depth;
	return 0;
}

static int chained_spawn_setup(void *ctx, char *why, size_t cap)
{
	return rt_setup(&((struct chained_spawn *)ctx)->rc, why, cap);
}

static void chained_spawn_iter(void *ctx, struct bench_iter *it)
{
	rt_iter(&((struct chained_spawn *)ctx)->rc, it, chained_spawn_main);
}

static void chained_spawn_teardown(void *ctx)
{
	rt_teardown(&((struct chained_spawn *)ctx)->rc);
}

/* ---- fib_parallel ----------------------------------------------------------
 * fib(27): serially when n <= 15, else fib(n-1) in a child task, fib(n-2)
 * inline, then await the child. The figure is parallel / serial wall time
 * (ideal on 2 workers: 0.5), serial being plain recursive fib(27) in this
 * binary, timed in the same iteration on the same worker thread. Each
 * iteration times FIB_PAIRS (serial, parallel) pairs; the run's figure is
 * total parallel / total serial time.
 * Check: both give fib(27) = 196418.
 */

#define FIB_N 27
#define FIB_SERIAL_MAX 15
#define FIB_27 196418
#define FIB_PAIRS 10

struct fib_parallel {
	struct rt_ctx rc;
	double serial_s, parallel_s; /* totals over the run */
	long fibs;
};

static volatile int fib_n = FIB_N; /* keeps the compiler from folding fib(27) */

__attribute__((noinline)) static uint64_t fib_serial(int n)
{
	return n < 2 ? (uint64_t)n : fib_serial(n - 1) + fib_serial(n - 2);
}

static int fib_task(void *arg, void **result);

static int fib_par(int n, uint64_t *out)
{
	if (n <= FIB_SERIAL_MAX) {
		*out = fib_serial(n);
		return 0;
	}
	weft_future *child = weft_create_task(fib_task, (void *)(uintptr_t)(n - 1), NULL);
	uint64_t b = 0;
	int rc = fib_par(n - 2, &b);
	void *a = NULL;
	int rc2 = weft_await(child, &a); /* even after a failure: no task left behind */
	weft_future_unref(child);
	if (rc || rc2)
		return rc ? rc : rc2;
	*out = (uint64_t)(uintptr_t)a + b;
	return 0;
}

static int fib_task(void *arg, void **result)
{
	uint64_t v = 0;
	int rc = fib_par((int)(uintptr_t)arg, &v);
	if (!rc)
		*result = (void *)(uintptr_t)v;
	return rc;
}

static int fib_parallel_main(void *arg, void **result)
{
	struct fib_parallel *c = arg;
	struct bench_iter *it = c->rc.it;
	double par = 0;
	for (int k = 0; k < FIB_PAIRS; k++) {
		double t0 = bench_now();
		uint64_t s = fib_serial(fib_n);
		double t1 = bench_now();
		uint64_t p = 0;
		int rc = fib_par(fib_n, &p);
		double t2 = bench_now();
		if (rc) {
			bench_iter_fail(it, "parallel fib: %s", weft_strerror(rc));
			return 0;
		}
		if (s != FIB_27 || p != FIB_27) {
			bench_iter_fail(it, "fib(27): serial %" PRIu64 ", parallel %" PRIu64
					    ", expected %d", s, p, FIB_27);
			return 0;
		}
		c->serial_s += t1 - t0;
		par += t2 - t1;
	}
	c->parallel_s += par;
	c->fibs += FIB_PAIRS;
	bench_iter_set_seconds(it, par);
	it->ops = FIB_PAIRS;
	return 0;
}

static int fib_parallel_setup(void *ctx, char *why, size_t cap)
{
	return rt_setup(&((struct fib_parallel *)ctx)->rc, why, cap);
}

static void fib_parallel_iter(void *ctx, struct bench_iter *it)
{
	rt_iter(&((struct fib_parallel *)ctx)->rc, it, fib_parallel_main);
}

static void fib_parallel_report(void *ctx, struct bench_report *r)
{
	struct fib_parallel *c = ctx;
	bench_report_figure(r, c->parallel_s / c->serial_s);
	bench_report_metric(r, "parallel_ms", c->parallel_s / (double)c->fibs * 1e3);
	bench_report_metric(r, "serial_ms", c->serial_s / (double)c->fibs * 1e3);
}

static void fib_parallel_teardown(void *ctx)
{
	rt_teardown(&((struct fib_parallel *)ctx)->rc);
}

/* ---- timers ------------------------------------------------------------------
 * 100,000 tasks; task i sleeps (i x 7919 mod 100) ms. The figure is the
 * wall time from the first spawn to the last task's end (ideal 0.1 s);
 * lateness = wake time - (time before the sleep + delay), per task, in µs
 * (p50/p99/max over every task of the run).
 * Check: every task ran and slept; no sleep returned early (lateness < 0).
 */

struct timers {
	struct rt_ctx rc;
	long n;
	weft_future **t;
	int64_t *slot;       /* per task of an iteration: its delay in, lateness out */
	int64_t *late;       /* every lateness of the run (ns) */
	size_t nlate;
	double wall;         /* total wall seconds */
	long iterations;
};

static int sleeper(void *arg, void **result)
{
	int64_t *slot = arg;
	int64_t delay_ns = *slot * 1000000;
	int64_t t0 = mono_ns();
	int rc = weft_sleep((double)*slot * 1e-3);
	int64_t t1 = mono_ns();
	if (rc)
		return rc;
	*slot = t1 - (t0 + delay_ns);
	*result = (void *)1;
	return 0;
}

static int timers_main(void *arg, void **result)
{
	struct timers *c = arg;
	struct bench_iter *it = c->rc.it;
	for (long i = 0; i < c->n; i++)
		c->slot[i] = (int64_t)((i * 7919) % 100);
	uint64_t sum = 0;
	int first_rc = 0;
	bench_iter_start(it);
	for (long i = 0; i < c->n; i++)
		c->t[i] = weft_create_task(sleeper, &c->slot[i], NULL);
	long failed = await_all(c->t, c->n, &sum, &first_rc);
	bench_iter_stop(it);
	it->ops = (double)c->n;
	if (failed) {
		bench_iter_fail(it, "%ld of %ld tasks failed (first: %s)", failed, c->n,
				weft_strerror(first_rc));
		return 0;
	}
	if (sum != (uint64_t)c->n) {
		bench_iter_fail(it, "%" PRIu64 " tasks slept, expected %ld", sum, c->n);
		return 0;
	}
	long early = 0;
	int64_t worst = 0;
	for (long i = 0; i < c->n; i++) {
		if (c->slot[i] < 0 && !early++)
			worst = c->slot[i];
		c->late[c->nlate++] = c->slot[i];
	}
	if (early)
		bench_iter_fail(it, "%ld sleeps returned early (first by %" PRId64 " ns)", early,
				-worst);
	c->wall += it->t1 - it->t0;
	c->iterations++;
	return 0;
}

static int timers_setup(void *ctx, char *why, size_t cap)
{
	struct timers *c = ctx;
	c->t = calloc((size_t)c->n, sizeof(*c->t));
	c->slot = calloc((size_t)c->n, sizeof(*c->slot));
	if (!c->t || !c->slot) {
		snprintf(why, cap, "out of memory");
		return -ENOMEM;
	}
	return rt_setup(&c->rc, why, cap);
}

static void timers_iter(void *ctx, struct bench_iter *it)
{
	struct timers *c = ctx;
	/* Room for this iteration's latenesses (outside the timing). */
	int64_t *late = realloc(c->late, (c->nlate + (size_t)c->n) * sizeof(*late));
	if (!late) {
		bench_iter_fail(it, "out of memory");
		return;
	}
	c->late = late;
	rt_iter(&c->rc, it, timers_main);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static void timers_report(void *ctx, struct bench_report *r)
{
	struct timers *c = ctx;
	if (!c->nlate)
		return;
	qsort(c->late, c->nlate, sizeof(*c->late), cmp_i64);
	bench_report_figure(r, c->wall / (double)c->iterations);
	bench_report_metric(r, "p50_us", (double)c->late[c->nlate / 2] / 1e3);
	bench_report_metric(r, "p99_us", (double)c->late[c->nlate * 99 / 100] / 1e3);
	bench_report_metric(r, "max_us", (double)c->late[c->nlate - 1] / 1e3);
	bench_report_metric(r, "tasks_per_s", (double)c->nlate / c->wall);
}

static void timers_teardown(void *ctx)
{
	struct timers *c = ctx;
	rt_teardown(&c->rc);
	free(c->t);
	free(c->slot);
	free(c->late);
	c->t = NULL;
	c->slot = c->late = NULL;
}

/* ---- idle_memory ---------------------------------------------------------------
 * 1,000,000 tasks all await one plain future, then it is set and they all
 * finish. The figure is bytes of RSS per suspended task: resident set
 * (/proc/self/statm) once every task is suspended, minus the resident set
 * just before the first spawn, divided by the tasks; the worst iteration
 * of the run (the first, on fresh memory). Also: spawn seconds (first
 * spawn to every task waiting), release seconds (set_result to the last
 * task's end), and the peak-RSS (ru_maxrss) delta per task. The task
 * handles are dropped at spawn: only the tasks themselves are measured.
 * Check: every task got the event's value, counted by the last one to
 * finish.
 *
 * Kinds: default stacks (variants "workers=N": 64 KiB and a guard page
 * each) and "small_stacks" (weft_config.small_stacks: 2 KiB, packed).
 * stdio needs a few KiB of stack, so on small stacks the main task reads
 * the RSS on a pool thread (weft_to_thread); in both kinds the checks and
 * failure messages come after the run, on the harness thread.
 */

struct idle_memory {
	struct rt_ctx rc;
	long n;
	bool small;          /* the small_stacks kind */
	weft_future *event;  /* every task awaits it */
	weft_future *all;    /* set by the last task to finish */
	atomic_long waiting; /* tasks about to await the event */
	atomic_long woken;   /* tasks that got the event's value */
	atomic_long finished;
	/* What the main task saw, checked on the harness thread: */
	long spawned, rss0_kb, rss1_kb;
	int spawn_rc, all_rc;
	double t[4];
	long base_maxrss_kb; /* ru_maxrss before the first spawn of the run */
	double bytes_per_task, spawn_s, release_s;
	long iterations;
};

#define IDLE_TOKEN ((void *)(uintptr_t)0x1d1e)

static int idler(void *arg, void **result)
{
	struct idle_memory *c = arg;
	atomic_fetch_add_explicit(&c->waiting, 1, memory_order_relaxed);
	void *v = NULL;
	int rc = weft_await(c->event, &v);
	if (!rc && v == IDLE_TOKEN)
		atomic_fetch_add_explicit(&c->woken, 1, memory_order_relaxed);
	if (atomic_fetch_add_explicit(&c->finished, 1, memory_order_acq_rel) + 1 == c->n)
		weft_future_set_result(c->all, NULL);
	(void)result;
	return rc;
}

static int idle_rss_call(void *arg, void **result)
{
	*(long *)arg = current_rss_kb();
	(void)result;
	return 0;
}

/* The resident set, read where stdio has room: a 2 KiB stack has not. */
static long idle_rss_kb(struct idle_memory *c)
{
	if (!c->small)
		return current_rss_kb();
	long kb = -1;
	weft_future *f = weft_to_thread(idle_rss_call, &kb);
	int rc = weft_await(f, NULL);
	weft_future_unref(f);
	return rc ? -1 : kb;
}

static int idle_memory_main(void *arg, void **result)
{
	struct idle_memory *c = arg;
	atomic_store(&c->waiting, 0);
	atomic_store(&c->woken, 0);
	atomic_store(&c->finished, 0);
	c->event = weft_future_create(NULL);
	c->all = weft_future_create(NULL);
	c->rss0_kb = idle_rss_kb(c);
	c->t[0] = bench_now();
	long spawned = 0;
	int rc = 0;
	for (; spawned < c->n; spawned++) {
		weft_future *t = weft_create_task(idler, c, NULL);
		rc = spawn_failed(t);
		weft_future_unref(t);
		if (rc)
			break;
	}
	/* Let every task reach its await (one yield suffices with 1 worker). */
	while (!rc && atomic_load(&c->waiting) < c->n)
		weft_sleep(0);
	weft_sleep(0);
	c->t[1] = bench_now();
	c->rss1_kb = idle_rss_kb(c);
	c->t[2] = bench_now();
	weft_future_set_result(c->event, IDLE_TOKEN);
	c->all_rc = spawned == c->n ? weft_await(c->all, NULL) : 0;
	c->t[3] = bench_now();
	if (spawned < c->n) /* the ones that did start must still end */
		while (atomic_load(&c->finished) < spawned)
			weft_sleep(0.001);
	weft_future_unref(c->event);
	weft_future_unref(c->all);
	c->spawned = spawned;
	c->spawn_rc = rc;
	(void)result;
	return 0;
}

static int idle_memory_setup(void *ctx, char *why, size_t cap)
{
	struct idle_memory *c = ctx;
	int rc;
	if (c->small) {
		weft_config cfg;
		weft_config_init(&cfg);
		cfg.workers = c->rc.workers;
		cfg.small_stacks = true;
		rc = weft_runtime_create(&cfg, &c->rc.rt);
		if (rc)
			snprintf(why, cap, "weft_runtime_create: %s", weft_strerror(rc));
	} else {
		rc = rt_setup(&c->rc, why, cap);
	}
	c->base_maxrss_kb = max_rss_kb();
	return rc;
}

static void idle_memory_iter(void *ctx, struct bench_iter *it)
{
	struct idle_memory *c = ctx;
	c->spawned = 0;
	c->spawn_rc = c->all_rc = 0;
	c->rss0_kb = c->rss1_kb = -1;
	memset(c->t, 0, sizeof(c->t));
	rt_iter(&c->rc, it, idle_memory_main);
	if (!it->ok)
		return;
	double *t = c->t;
	bench_iter_set_seconds(it, (t[1] - t[0]) + (t[3] - t[2]));
	it->ops = (double)c->n;
	if (c->spawn_rc) {
		bench_iter_fail(it, "task %ld could not be spawned: %s", c->spawned,
				weft_strerror(c->spawn_rc));
		return;
	}
	if (c->all_rc || atomic_load(&c->woken) != c->n) {
		bench_iter_fail(it, "%ld of %ld tasks got the event (%s)", atomic_load(&c->woken),
				c->n, c->all_rc ? weft_strerror(c->all_rc) : "ok");
		return;
	}
	if (c->rss0_kb < 0 || c->rss1_kb < 0) {
		bench_iter_fail(it, "cannot read /proc/self/statm");
		return;
	}
	double per = (double)(c->rss1_kb - c->rss0_kb) * 1024.0 / (double)c->n;
	if (!c->iterations || per > c->bytes_per_task)
		c->bytes_per_task = per;
	c->spawn_s += t[1] - t[0];
	c->release_s += t[3] - t[2];
	c->iterations++;
}

static void idle_memory_report(void *ctx, struct bench_report *r)
{
	struct idle_memory *c = ctx;
	double it = (double)c->iterations;
	bench_report_figure(r, c->bytes_per_task);
	bench_report_metric(r, "spawn_s", c->spawn_s / it);
	bench_report_metric(r, "release_s", c->release_s / it);
	bench_report_metric(r, "spawn_release_s", (c->spawn_s + c->release_s) / it);
	bench_report_metric(r, "maxrss_bytes_per_task",
			    (double)(max_rss_kb() - c->base_maxrss_kb) * 1024.0 / (double)c->n);
}

static void idle_memory_teardown(void *ctx)
{
	rt_teardown(&((struct idle_memory *)ctx)->rc);
}

/* ---- threadsafe ------------------------------------------------------------
 * 4 foreign OS threads each make `calls` round trips one after another:
 * submit a trivial task with weft_run_coroutine_threadsafe, wait for its
 * result with weft_future_wait, next (calls/s; a latency test).
 * Check: every wait returned 0 with the task's result (2i+1 for call i).
 */

#define THREADSAFE_THREADS 4

struct threadsafe {
	struct rt_ctx rc;
	long calls; /* per thread */
	_Atomic long bad;
	_Atomic int first_rc;
};

static int threadsafe_leaf(void *arg, void **result)
{
	*result = (void *)((uintptr_t)arg * 2 + 1);
	return 0;
}

static void *threadsafe_thread(void *arg)
{
	struct threadsafe *c = arg;
	for (long i = 0; i < c->calls; i++) {
		weft_future *f = weft_run_coroutine_threadsafe(c->rc.rt, threadsafe_leaf,
							       (void *)(uintptr_t)i);
		void *r = NULL;
		int rc = weft_future_wait(f, WEFT_FOREVER, &r);
		weft_future_unref(f);
		if (rc || r != (void *)((uintptr_t)i * 2 + 1)) {
			int zero = 0;
			atomic_compare_exchange_strong(&c->first_rc, &zero, rc ? rc : -EBADMSG);
			atomic_fetch_add(&c->bad, 1);
		}
	}
	return NULL;
}

static int threadsafe_setup(void *ctx, char *why, size_t cap)
{
	return rt_setup(&((struct threadsafe *)ctx)->rc, why, cap);
}

static void threadsafe_iter(void *ctx, struct bench_iter *it)
{
	struct threadsafe *c = ctx;
	atomic_store(&c->bad, 0);
	atomic_store(&c->first_rc, 0);
	pthread_t th[THREADSAFE_THREADS];
	int made = 0;
	bench_iter_start(it);
	for (; made < THREADSAFE_THREADS; made++)
		if (pthread_create(&th[made], NULL, threadsafe_thread, c))
			break;
	for (int i = 0; i < made; i++)
		pthread_join(th[i], NULL);
	bench_iter_stop(it);
	it->ops = (double)made * (double)c->calls;
	if (made < THREADSAFE_THREADS)
		bench_iter_fail(it, "only %d of %d threads started", made, THREADSAFE_THREADS);
	else if (atomic_load(&c->bad))
		bench_iter_fail(it, "%ld calls failed (first: %s)", (long)atomic_load(&c->bad),
				weft_strerror(atomic_load(&c->first_rc)));
}

static void threadsafe_teardown(void *ctx)
{
	rt_teardown(&((struct threadsafe *)ctx)->rc);
}

/* ---- to_thread -------------------------------------------------------------
 * One task makes `calls` weft_to_thread calls of a trivial function,
 * keeping 64 in flight: it awaits the oldest and submits the next
 * (calls/s). The pool has its defaults (up to 512 threads; 64 are used).
 * Check: every await returned 0 with the call's result (2i+1 for call i).
 */

#define TO_THREAD_WINDOW 64

struct to_thread {
	struct rt_ctx rc;
	long calls;
};

static int to_thread_leaf(void *arg, void **result)
{
	*result = (void *)((uintptr_t)arg * 2 + 1);
	return 0;
}

static int to_thread_main(void *arg, void **result)
{
	struct to_thread *c = arg;
	struct bench_iter *it = c->rc.it;
	weft_future *window[TO_THREAD_WINDOW];
	long bad = 0, next = 0;
	int first_rc = 0;
	bench_iter_start(it);
	for (long done = 0; done < c->calls; done++) {
		while (next < c->calls && next < done + TO_THREAD_WINDOW) {
			window[next % TO_THREAD_WINDOW] =
				weft_to_thread(to_thread_leaf, (void *)(uintptr_t)next);
			next++;
		}
		weft_future *f = window[done % TO_THREAD_WINDOW];
		void *r = NULL;
		int rc = weft_await(f, &r);
		weft_future_unref(f);
		if (rc || r != (void *)((uintptr_t)done * 2 + 1)) {
			if (!bad++)
				first_rc = rc ? rc : -EBADMSG;
		}
	}
	bench_iter_stop(it);
	it->ops = (double)c->calls;
	if (bad)
		bench_iter_fail(it, "%ld of %ld calls failed (first: %s)", bad, c->calls,
				weft_strerror(first_rc));
	return 0;
}

static int to_thread_setup(void *ctx, char *why, size_t cap)
{
	return rt_setup(&((struct to_thread *)ctx)->rc, why, cap);
}

static void to_thread_iter(void *ctx, struct bench_iter *it)
{
	rt_iter(&((struct to_thread *)ctx)->rc, it, to_thread_main);
}

static void to_thread_teardown(void *ctx)
{
	rt_teardown(&((struct to_thread *)ctx)->rc);
}

/* ---- spawn_wait ------------------------------------------------------------
 * /bin/true spawned and waited `n` (1,000) times, 16 in flight (spawns/s):
 * 16 tasks (Go's 16 goroutines) each take the next number from a shared
 * counter until all `n` are taken, and for each one
 * weft_subprocess_exec({"/bin/true"}) with every descriptor inherited
 * (the defaults), weft_process_wait, weft_process_free. With several
 * workers the 16 tasks spread over them (new tasks are stealable).
 * Check: exactly `n` children were started and every one was reaped with
 * return code 0.
 */

#define SPAWN_WAIT_WINDOW 16

struct spawn_wait {
	struct rt_ctx rc;
	long n;
	atomic_long next;     /* the next child's number */
	atomic_long ok;       /* children reaped with return code 0 */
	atomic_long errors;   /* spawn or wait calls that failed */
	atomic_long nonzero;  /* children reaped with another return code */
	atomic_int first_err; /* the first failed call's -errno */
	atomic_int first_ret; /* the first nonzero return code */
};

static void spawn_wait_note(atomic_long *count, atomic_int *first, int what)
{
	int zero = 0;
	atomic_fetch_add_explicit(count, 1, memory_order_relaxed);
	atomic_compare_exchange_strong(first, &zero, what);
}

static int spawn_wait_runner(void *arg, void **result)
{
	struct spawn_wait *c = arg;
	char *const argv[] = {"/bin/true", NULL};
	while (atomic_fetch_add_explicit(&c->next, 1, memory_order_relaxed) < c->n) {
		weft_process *p;
		int rc = weft_subprocess_exec(argv, NULL, &p);
		if (rc) {
			spawn_wait_note(&c->errors, &c->first_err, rc);
			continue;
		}
		int ret = -1;
		rc = weft_process_wait(p, &ret);
		weft_process_free(p);
		if (rc)
			spawn_wait_note(&c->errors, &c->first_err, rc);
		else if (ret != 0)
			spawn_wait_note(&c->nonzero, &c->first_ret, ret);
		else
			atomic_fetch_add_explicit(&c->ok, 1, memory_order_relaxed);
	}
	return 0;
}

static int spawn_wait_main(void *arg, void **result)
{
	struct spawn_wait *c = arg;
	struct bench_iter *it = c->rc.it;
	weft_future *t[SPAWN_WAIT_WINDOW];
	atomic_store(&c->next, 0);
	atomic_store(&c->ok, 0);
	atomic_store(&c->errors, 0);
	atomic_store(&c->nonzero, 0);
	atomic_store(&c->first_err, 0);
	atomic_store(&c->first_ret, 0);
	int task_rc = 0;
	bench_iter_start(it);
	for (int i = 0; i < SPAWN_WAIT_WINDOW; i++)
		t[i] = weft_create_task(spawn_wait_runner, c, "spawn_wait");
	for (int i = 0; i < SPAWN_WAIT_WINDOW; i++) {
		int rc = weft_await(t[i], NULL);
		if (rc && !task_rc)
			task_rc = rc;
		weft_future_unref(t[i]);
	}
	bench_iter_stop(it);
	it->ops = (double)c->n;
	long ok = atomic_load(&c->ok), errors = atomic_load(&c->errors),
	     nonzero = atomic_load(&c->nonzero);
	if (task_rc)
		bench_iter_fail(it, "a spawning task failed: %s", weft_strerror(task_rc));
	else if (errors)
		bench_iter_fail(it, "%ld of %ld spawns or waits failed (first: %s)", errors, c->n,
				weft_strerror(atomic_load(&c->first_err)));
	else if (nonzero)
		bench_iter_fail(it, "%ld of %ld children exited nonzero (first: return code %d)",
				nonzero, c->n, atomic_load(&c->first_ret));
	else if (ok != c->n)
		bench_iter_fail(it, "%ld of %ld children exited 0", ok, c->n);
	return 0;
}

static int spawn_wait_setup(void *ctx, char *why, size_t cap)
{
	if (access("/bin/true", X_OK)) {
		snprintf(why, cap, "/bin/true: %s", strerror(errno));
		return -errno;
	}
	return rt_setup(&((struct spawn_wait *)ctx)->rc, why, cap);
}

static void spawn_wait_iter(void *ctx, struct bench_iter *it)
{
	rt_iter(&((struct spawn_wait *)ctx)->rc, it, spawn_wait_main);
}

static void spawn_wait_teardown(void *ctx)
{
	rt_teardown(&((struct spawn_wait *)ctx)->rc);
}

/* ---- cold_start ----------------------------------------------------------------
 * The first burst of a fresh process against the second: 10,000 tasks all
 * alive at once (each started and awaiting one future), released, and
 * awaited; then the same again. The figure is first ÷ second burst time
 * of the run's first iteration (the harness runs each run in a fresh
 * process; later iterations only fill --min-time and are not the figure).
 * A burst is timed from its first spawn to its last task's end.
 *
 * Kinds: "tasks" (spawned by a task with weft_create_task), "threadsafe"
 * (submitted by the harness thread with weft_run_coroutine_threadsafe and
 * waited with weft_future_wait), "reserve" (as "tasks", on a runtime made
 * with weft_config.reserve_tasks = 10,000: memory mapped and touched at
 * create, outside the timing).
 * Check: every task saw the release's value.
 */

#define COLD_TOKEN ((void *)(uintptr_t)0xc01d)

struct cold_start {
	struct rt_ctx rc;
	long n;
	bool threadsafe, reserve;
	weft_future **tasks;
	weft_future *event;       /* every task awaits it */
	weft_future *all_started; /* set by the n-th task to start */
	atomic_long started;
	long bad;                 /* tasks without the value (this burst) */
	int first_rc;
	double burst[2];          /* this iteration's bursts, s */
	double first[2];          /* the run's first iteration's */
	long iterations;
};

static int cold_waiter(void *arg, void **result)
{
	struct cold_start *c = arg;
	if (atomic_fetch_add_explicit(&c->started, 1, memory_order_relaxed) + 1 == c->n)
		weft_future_set_result(c->all_started, NULL);
	return weft_await(c->event, result);
}

/* One burst; weft_await inside a task, weft_future_wait on the harness
 * thread (the threadsafe kind). Returns its seconds. */
static double cold_burst(struct cold_start *c, bool in_task)
{
	weft_runtime *rt = in_task ? NULL : c->rc.rt;
	c->event = weft_future_create(rt);
	c->all_started = weft_future_create(rt);
	atomic_store(&c->started, 0);
	double t0 = bench_now();
	for (long i = 0; i < c->n; i++)
		c->tasks[i] = in_task ? weft_create_task(cold_waiter, c, NULL)
				      : weft_run_coroutine_threadsafe(c->rc.rt, cold_waiter, c);
	int rc = in_task ? weft_await(c->all_started, NULL)
			 : weft_future_wait(c->all_started, WEFT_FOREVER, NULL);
	weft_future_set_result(c->event, COLD_TOKEN);
	for (long i = 0; i < c->n; i++) {
		void *v = NULL;
		int r = in_task ? weft_await(c->tasks[i], &v)
				: weft_future_wait(c->tasks[i], WEFT_FOREVER, &v);
		if (r || v != COLD_TOKEN) {
			if (!c->bad++)
				c->first_rc = r ? r : -EBADMSG;
		}
		weft_future_unref(c->tasks[i]);
	}
	double t = bench_now() - t0;
	if (rc && !c->bad++)
		c->first_rc = rc;
	weft_future_unref(c->event);
	weft_future_unref(c->all_started);
	return t;
}

static int cold_start_main(void *arg, void **result)
{
	struct cold_start *c = arg;
	for (int b = 0; b < 2; b++)
		c->burst[b] = cold_burst(c, true);
	(void)result;
	return 0;
}

static int cold_start_setup(void *ctx, char *why, size_t cap)
{
	struct cold_start *c = ctx;
	if (!(c->tasks = calloc((size_t)c->n, sizeof(*c->tasks)))) {
		snprintf(why, cap, "out of memory");
		return -ENOMEM;
	}
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.workers = c->rc.workers;
	if (c->reserve)
		cfg.reserve_tasks = (size_t)c->n;
	int rc = weft_runtime_create(&cfg, &c->rc.rt);
	if (rc)
		snprintf(why, cap, "weft_runtime_create: %s", weft_strerror(rc));
	return rc;
}

static void cold_start_iter(void *ctx, struct bench_iter *it)
{
	struct cold_start *c = ctx;
	c->bad = 0;
	c->first_rc = 0;
	if (c->threadsafe) {
		for (int b = 0; b < 2; b++)
			c->burst[b] = cold_burst(c, false);
	} else {
		rt_iter(&c->rc, it, cold_start_main);
		if (!it->ok)
			return;
	}
	bench_iter_set_seconds(it, c->burst[0] + c->burst[1]);
	it->ops = 2.0 * (double)c->n;
	if (c->bad) {
		bench_iter_fail(it, "%ld of %ld tasks failed (first: %s)", c->bad, 2 * c->n,
				weft_strerror(c->first_rc));
		return;
	}
	if (!c->iterations++)
		memcpy(c->first, c->burst, sizeof(c->first));
}

static void cold_start_report(void *ctx, struct bench_report *r)
{
	struct cold_start *c = ctx;
	bench_report_figure(r, c->first[0] / c->first[1]);
	bench_report_metric(r, "first_ms", c->first[0] * 1e3);
	bench_report_metric(r, "second_ms", c->first[1] * 1e3);
}

static void cold_start_teardown(void *ctx)
{
	struct cold_start *c = ctx;
	rt_teardown(&c->rc);
	free(c->tasks);
	c->tasks = NULL;
}

/* ---- the workload table ---------------------------------------------------- */

struct bench_cfg {
	struct bench_opts o;
	unsigned workers[2]; /* the worker counts to run */
	unsigned nworkers;
	const char *only_variant; /* --variant */
};

/* Runs one variant of a workload; returns the failed runs, or -1 if the
 * variant does not exist for it. */
typedef int (*variant_fn)(const struct bench_cfg *cfg, unsigned workers, const char *kind,
			  const char *name);

static int run_spawn_many(const struct bench_cfg *cfg, unsigned workers, const char *kind,
			  const char *name)
{
	struct spawn_many c = {.rc = {.workers = workers}, .n = cfg->o.quick ? 100000 : 1000000};
	struct bench_variant v = {
		.workload = "spawn_many",
		.variant = name,
		.unit = "tasks/s",
		.workers = workers,
		.per_iter = (double)c.n,
		.ctx = &c,
		.setup = spawn_many_setup,
		.iter = spawn_many_iter,
		.teardown = spawn_many_teardown,
	};
	return bench_run(&cfg->o, &v);
}

static int run_ping_pong(const struct bench_cfg *cfg, unsigned workers, const char *kind,
			 const char *name)
{
	if (!strcmp(kind, "queue")) {
		struct ping_pong_q q = {.rc = {.workers = workers},
					.pairs = 1000,
					.rounds = cfg->o.quick ? 100 : 1000};
		struct bench_variant qv = {
			.workload = "ping_pong",
			.variant = name,
			.unit = "round trips/s",
			.workers = workers,
			.per_iter = (double)q.pairs * (double)q.rounds,
			.ctx = &q,
			.setup = ping_pong_q_setup,
			.iter = ping_pong_q_iter,
			.teardown = ping_pong_q_teardown,
		};
		return bench_run(&cfg->o, &qv);
	}
	/* "future,migratable": the same over migratable tasks, which follow
	 * their waker as tokio's do, so pairs end up on one worker. */
	struct ping_pong c = {.rc = {.workers = workers, .migratable = strstr(kind, "migratable") != NULL},
			      .pairs = 1000,
			      .rounds = cfg->o.quick ? 100 : 1000};
	struct bench_variant v = {
		.workload = "ping_pong",
		.variant = name,
		.unit = "round trips/s",
		.workers = workers,
		.per_iter = (double)c.pairs * (double)c.rounds,
		.ctx = &c,
		.setup = ping_pong_setup,
		.iter = ping_pong_iter,
		.teardown = ping_pong_teardown,
	};
	return bench_run(&cfg->o, &v);
}

static int run_yield_many(const struct bench_cfg *cfg, unsigned workers, const char *kind,
			  const char *name)
{
	struct yield_many c = {.rc = {.workers = workers},
			       .tasks = 1000,
			       .yields = cfg->o.quick ? 100 : 1000};
	struct bench_variant v = {
		.workload = "yield_many",
		.variant = name,
		.unit = "yields/s",
		.workers = workers,
		.per_iter = (double)c.tasks * (double)c.yields,
		.ctx = &c,
		.setup = yield_many_setup,
		.iter = yield_many_iter,
		.teardown = yield_many_teardown,
	};
	return bench_run(&cfg->o, &v);
}

static int run_chained_spawn(const struct bench_cfg *cfg, unsigned workers, const char *kind,
			     const char *name)
{
	struct chained_spawn c = {.rc = {.workers = workers},
				  .chains = cfg->o.quick ? 100 : 1000,
				  .depth = 1000};
	struct bench_variant v = {
		.workload = "chained_spawn",
		.variant = name,
		.unit = "spawns/s",
		.workers = workers,
		.per_iter = (double)c.chains * (double)c.depth,
		.ctx = &c,
		.setup = chained_spawn_setup,
		.iter = chained_spawn_iter,
		.teardown = chained_spawn_teardown,
	};
	return bench_run(&cfg->o, &v);
}

static int run_fib_parallel(const struct bench_cfg *cfg, unsigned workers, const char *kind,
			    const char *name)
{
	struct fib_parallel c = {.rc = {.workers = workers}};
	struct bench_variant v = {
		.workload = "fib_parallel",
		.variant = name,
		.unit = "parallel/serial",
		.lower_is_better = true,
		.workers = workers,
		.per_iter = FIB_PAIRS,
		.ctx = &c,
		.setup = fib_parallel_setup,
		.iter = fib_parallel_iter,
		.teardown = fib_parallel_teardown,
		.report = fib_parallel_report,
	};
	return bench_run(&cfg->o, &v);
}

static int run_timers(const struct bench_cfg *cfg, unsigned workers, const char *kind,
		      const char *name)
{
	struct timers c = {.rc = {.workers = workers}, .n = cfg->o.quick ? 20000 : 100000};
	struct bench_variant v = {
		.workload = "timers",
		.variant = name,
		.unit = "s",
		.lower_is_better = true,
		.workers = workers,
		.per_iter = (double)c.n,
		.ctx = &c,
		.setup = timers_setup,
		.iter = timers_iter,
		.teardown = timers_teardown,
		.report = timers_report,
	};
	return bench_run(&cfg->o, &v);
}

static int run_idle_memory(const struct bench_cfg *cfg, unsigned workers, const char *kind,
			   const char *name)
{
	struct idle_memory c = {.rc = {.workers = workers},
				.n = cfg->o.quick ? 100000 : 1000000,
				.small = !strcmp(kind, "small_stacks")};
	struct bench_variant v = {
		.workload = "idle_memory",
		.variant = name,
		.unit = "B/task",
		.lower_is_better = true,
		.workers = workers,
		.per_iter = (double)c.n,
		.ctx = &c,
		.setup = idle_memory_setup,
		.iter = idle_memory_iter,
		.teardown = idle_memory_teardown,
		.report = idle_memory_report,
	};
	return bench_run(&cfg->o, &v);
}

static int run_cold_start(const struct bench_cfg *cfg, unsigned workers, const char *kind,
			  const char *name)
{
	struct cold_start c = {.rc = {.workers = workers},
			       .n = 10000,
			       .threadsafe = !strcmp(kind, "threadsafe"),
			       .reserve = !strcmp(kind, "reserve")};
	struct bench_variant v = {
		.workload = "cold_start",
		.variant = name,
		.unit = "first/second",
		.lower_is_better = true,
		.workers = workers,
		.per_iter = 2.0 * (double)c.n,
		.ctx = &c,
		.setup = cold_start_setup,
		.iter = cold_start_iter,
		.teardown = cold_start_teardown,
		.report = cold_start_report,
	};
	return bench_run(&cfg->o, &v);
}

static int run_threadsafe(const struct bench_cfg *cfg, unsigned workers, const char *kind,
			  const char *name)
{
	struct threadsafe c = {.rc = {.workers = workers}, .calls = cfg->o.quick ? 25000 : 250000};
	struct bench_variant v = {
		.workload = "threadsafe",
		.variant = name,
		.unit = "calls/s",
		.workers = workers,
		.per_iter = (double)THREADSAFE_THREADS * (double)c.calls,
		.ctx = &c,
		.setup = threadsafe_setup,
		.iter = threadsafe_iter,
		.teardown = threadsafe_teardown,
	};
	return bench_run(&cfg->o, &v);
}

static int run_to_thread(const struct bench_cfg *cfg, unsigned workers, const char *kind,
			 const char *name)
{
	struct to_thread c = {.rc = {.workers = workers}, .calls = cfg->o.quick ? 10000 : 100000};
	struct bench_variant v = {
		.workload = "to_thread",
		.variant = name,
		.unit = "calls/s",
		.workers = workers,
		.per_iter = (double)c.calls,
		.ctx = &c,
		.setup = to_thread_setup,
		.iter = to_thread_iter,
		.teardown = to_thread_teardown,
	};
	return bench_run(&cfg->o, &v);
}

static int run_spawn_wait(const struct bench_cfg *cfg, unsigned workers, const char *kind,
			  const char *name)
{
	struct spawn_wait c = {.rc = {.workers = workers}, .n = cfg->o.quick ? 200 : 1000};
	struct bench_variant v = {
		.workload = "spawn_wait",
		.variant = name,
		.unit = "spawns/s",
		.workers = workers,
		.per_iter = (double)c.n,
		.ctx = &c,
		.setup = spawn_wait_setup,
		.iter = spawn_wait_iter,
		.teardown = spawn_wait_teardown,
	};
	return bench_run(&cfg->o, &v);
}

/* A kind of a workload: NULL for the first (only) kind means the variant
 * name is just "workers=N"; otherwise "<kind>,workers=N". */
struct kind {
	const char *name;
	const char *status; /* NULL: runs; else why not ("needs weft_queue") */
};

static const struct workload {
	const char *name;
	const char *unit;
	variant_fn run; /* NULL: not written yet */
	struct kind kinds[3];
	const char *what;
} workloads[] = {
	{"spawn_many", "tasks/s", run_spawn_many, {{NULL, NULL}},
	 "one task spawns 1,000,000 trivial tasks, then awaits them all"},
	{"yield_many", "yields/s", run_yield_many, {{NULL, NULL}},
	 "1,000 tasks each yield 1,000 times (weft_sleep(0))"},
	{"ping_pong", "round trips/s", run_ping_pong,
	 {{"future", NULL}, {"queue", NULL}, {"future,migratable", NULL}},
	 "1,000 pairs of tasks, 1,000 round trips each over a one-shot future (or a 1-slot queue;"
	 " or over futures with migratable tasks)"},
	{"chained_spawn", "spawns/s", run_chained_spawn, {{NULL, NULL}},
	 "spawn chains of depth 1,000, 1,000 times"},
	{"fib_parallel", "parallel/serial", run_fib_parallel, {{NULL, NULL}},
	 "fib(27) with child tasks above 15, / serial fib(27) (lower is better)"},
	{"timers", "s", run_timers, {{NULL, NULL}},
	 "100,000 tasks sleeping 0-99 ms: wall s (ideal 0.1), lateness p50/p99"},
	{"idle_memory", "B/task", run_idle_memory, {{NULL, NULL}, {"small_stacks", NULL}},
	 "1,000,000 tasks blocked on one future: RSS bytes per task (or on 2 KiB small stacks)"},
	{"threadsafe", "calls/s", run_threadsafe, {{NULL, NULL}},
	 "4 foreign threads x 250,000 submit-and-wait calls"},
	{"cold_start", "first/second", run_cold_start,
	 {{"tasks", NULL}, {"threadsafe", NULL}, {"reserve", NULL}},
	 "a fresh process's first burst of 10,000 live tasks / its second (or submitted from a"
	 " foreign thread; or with cfg.reserve_tasks)"},
	{"to_thread", "calls/s", run_to_thread, {{NULL, NULL}},
	 "100,000 to_thread calls, 64 in flight"},
	{"spawn_wait", "spawns/s", run_spawn_wait, {{NULL, NULL}},
	 "/bin/true spawned and waited 1,000 times, 16 in flight"},
	/* Listed for completeness: tools/bench.sh runs these itself. */
	{"tcp_echo", "messages/s", NULL,
	 {{NULL, "run by tools/bench.sh (examples/echo_server, bench/loadgen)"}},
	 "echo server on 127.0.0.1, C = 1, 50, 500 connections"},
};

#define NWORKLOADS (sizeof(workloads) / sizeof(workloads[0]))

static void variant_name(char *buf, size_t cap, const struct kind *k, unsigned workers)
{
	if (k->name)
		snprintf(buf, cap, "%s,workers=%u", k->name, workers);
	else
		snprintf(buf, cap, "workers=%u", workers);
}

static const struct workload *find_workload(const char *name)
{
	for (size_t i = 0; i < NWORKLOADS; i++)
		if (!strcmp(workloads[i].name, name))
			return &workloads[i];
	return NULL;
}

/* "workload variant status" lines, for people and for tools/bench.sh. */
static void list(const struct bench_cfg *cfg)
{
	for (size_t i = 0; i < NWORKLOADS; i++) {
		const struct workload *wl = &workloads[i];
		if (!wl->run) {
			const char *why = wl->kinds[0].status;
			printf("%-14s %-20s n/a: %s  # %s\n", wl->name, "-",
			       why ? why : "not yet written", wl->what);
			continue;
		}
		for (const struct kind *k = wl->kinds; k < wl->kinds + 3; k++) {
			if (k > wl->kinds && !k->name)
				break;
			for (unsigned j = 0; j < cfg->nworkers; j++) {
				char v[64];
				variant_name(v, sizeof(v), k, cfg->workers[j]);
				if (k->status)
					printf("%-14s %-20s n/a: %s\n", wl->name, v, k->status);
				else
					printf("%-14s %-20s ready  # %s (%s)\n", wl->name, v,
					       wl->what, wl->unit);
			}
		}
	}
}

static int run_workload(const struct bench_cfg *cfg, const struct workload *wl, bool *matched)
{
	int failed = 0;
	for (unsigned j = 0; j < cfg->nworkers; j++) {
		for (const struct kind *k = wl->kinds; k < wl->kinds + 3; k++) {
			if (k > wl->kinds && !k->name)
				break;
			char v[64];
			variant_name(v, sizeof(v), k, cfg->workers[j]);
			if (cfg->only_variant && strcmp(cfg->only_variant, v))
				continue;
			*matched = true;
			int f = wl->run(cfg, cfg->workers[j], k->name ? k->name : "", v);
			if (f > 0)
				failed += f;
		}
	}
	return failed;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: weft_bench list [--workers N]\n"
		"       weft_bench WORKLOAD... [options]   (or 'all')\n"
		"workloads: spawn_many, yield_many, ping_pong, chained_spawn, fib_parallel,\n"
		"           timers, idle_memory, threadsafe, cold_start, to_thread, spawn_wait\n"
		"           (see 'list'; BENCH.md and issue 13 define them)\n"
		"options:\n"
		"  --workers N      only this worker count (default: online CPUs, then 1)\n"
		"  --variant V      only this variant (as 'list' names it, e.g. future,workers=1)\n"
		"%s",
		bench_opts_help);
}

int main(int argc, char **argv)
{
	struct bench_cfg cfg;
	memset(&cfg, 0, sizeof(cfg));
	bench_opts_init(&cfg.o);
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	cfg.workers[0] = ncpu > 0 ? (unsigned)ncpu : 1;
	cfg.workers[1] = 1;
	cfg.nworkers = cfg.workers[0] == 1 ? 1 : 2;

	const char *names[NWORKLOADS + 1];
	size_t nnames = 0;
	bool do_list = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int r = bench_parse_opt(&cfg.o, argc, argv, &i);
		if (r < 0)
			return 2;
		if (r > 0)
			continue;
		if (!strcmp(a, "--workers")) {
			char *end;
			long n = i + 1 < argc ? strtol(argv[i + 1], &end, 10) : 0;
			if (i + 1 >= argc || *end || n < 1 || n > 1024) {
				fprintf(stderr, "weft_bench: --workers needs 1..1024\n");
				return 2;
			}
			cfg.workers[0] = (unsigned)n;
			cfg.nworkers = 1;
			i++;
		} else if (!strcmp(a, "--variant")) {
			if (i + 1 >= argc) {
				fprintf(stderr, "weft_bench: --variant needs a name\n");
				return 2;
			}
			cfg.only_variant = argv[++i];
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "list")) {
			do_list = true;
		} else if (!strcmp(a, "all")) {
			for (size_t k = 0; k < NWORKLOADS && nnames < NWORKLOADS; k++)
				if (workloads[k].run)
					names[nnames++] = workloads[k].name;
		} else if (a[0] != '-' && find_workload(a)) {
			if (nnames < NWORKLOADS)
				names[nnames++] = a;
		} else {
			fprintf(stderr, "weft_bench: unknown workload or option '%s'\n", a);
			usage(stderr);
			return 2;
		}
	}
	if (do_list) {
		list(&cfg);
		return 0;
	}
	if (!nnames) {
		usage(stderr);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	int failed = 0;
	for (size_t i = 0; i < nnames; i++) {
		const struct workload *wl = find_workload(names[i]);
		if (!wl->run) {
			printf("%-12s %-8s %-18s n/a: %s\n", wl->name, "weft", "-",
			       wl->kinds[0].status ? wl->kinds[0].status : "not yet written");
			continue;
		}
		bool matched = false;
		failed += run_workload(&cfg, wl, &matched);
		if (!matched && cfg.only_variant) {
			fprintf(stderr, "weft_bench: %s has no variant '%s' (see 'list')\n",
				wl->name, cfg.only_variant);
			return 2;
		}
	}
	return failed ? 1 : 0;
}
