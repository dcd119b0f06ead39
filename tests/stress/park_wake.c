/* SPDX-License-Identifier: MIT */
/*
 * The park/wake protocol: many rounds of idle -> burst. Before each burst
 * the workers go idle (the program waits until all of them are parked, or
 * one, or not at all, or a few microseconds, to hit every phase of the
 * parking dance); then work arrives at once from a foreign thread
 * (weft_spawn, and a future completed from outside that wakes a task) and
 * from tasks on other workers (a chain of relay tasks, one homed on each
 * worker, each woken by the previous one, each spawning more tasks that
 * the parked workers must steal). Every burst must complete: a lost
 * wake-up hangs it, and the watchdog fails the program loudly after 20 s
 * with the state of every worker.
 */
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "core/core.h"
#include "sched/worker.h"

#define MAX_WORKERS 8
#define FOREIGN_LEAVES 8  /* per burst, spawned by the foreign thread */
#define RELAY_LEAVES 8    /* per burst and relay */
#define BURST_LIMIT 20.0  /* seconds */

struct burst {
	weft_future *relay[MAX_WORKERS]; /* wakes relay k */
	weft_future *done;               /* the last leaf completes it */
	_Atomic long count;
	long expected;
};

static weft_runtime *rt;
static unsigned nworkers;
static long nbursts;
static struct burst *bursts;
static _Atomic unsigned arrived;
static weft_future *placed;
static _Atomic long relay_wakes_cross;
static unsigned relay_worker[MAX_WORKERS];
static _Atomic unsigned leaf_seq;

static unsigned worker_index(void)
{
	struct weft__worker *w = weft__worker_current();
	return w ? w->index : MAX_WORKERS;
}

static int leaf(void *arg, void **result)
{
	struct burst *b = arg;
	/* Some leaves suspend once, so they are resumed too. */
	if (atomic_fetch_add_explicit(&leaf_seq, 1, memory_order_relaxed) % 3 == 0)
		weft_sleep(0);
	long n = atomic_fetch_add_explicit(&b->count, 1, memory_order_acq_rel) + 1;
	STRESS_CHECK(n <= b->expected, "burst overran: %ld of %ld", n, b->expected);
	if (n == b->expected)
		weft_future_set_result(b->done, NULL);
	return 0;
}

/* Relay k: one per worker, woken once per burst. */
static int relay(void *arg, void **result)
{
	unsigned k = (unsigned)(uintptr_t)arg;
	/* Spread out: spin until every relay runs at once (so on distinct
	 * workers); not migratable, so each stays where it started. */
	relay_worker[k] = worker_index();
	if (atomic_fetch_add_explicit(&arrived, 1, memory_order_acq_rel) + 1 == nworkers) {
		weft_future_set_result(placed, NULL);
	} else {
		double t0 = weft_time();
		while (atomic_load_explicit(&arrived, memory_order_acquire) < nworkers) {
			if (weft_time() - t0 > BURST_LIMIT) {
				STRESS_CHECK(0, "relays did not spread over %u workers", nworkers);
				break;
			}
		}
	}
	for (long i = 0; i < nbursts; i++) {
		struct burst *b = &bursts[i];
		int rc = weft_await(b->relay[k], NULL);
		STRESS_CHECK(rc == 0, "relay %u: %s", k, weft_strerror(rc));
		STRESS_CHECK(worker_index() == relay_worker[k], "relay %u moved", k);
		for (unsigned j = 0; j < RELAY_LEAVES; j++)
			weft_future_unref(weft_create_task(leaf, b, NULL));
		if (k + 1 < nworkers) {
			rc = weft_future_set_result(b->relay[k + 1], NULL);
			STRESS_CHECK(rc == 0, "relay %u: set_result: %s", k, weft_strerror(rc));
			atomic_fetch_add_explicit(&relay_wakes_cross, 1, memory_order_relaxed);
		}
	}
	return 0;
}

static struct weft__sched *sched_of(weft_runtime *r)
{
	return &weft__core_of(r)->sched;
}

static void sleep_us(long us)
{
	struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
	nanosleep(&ts, NULL);
}

static unsigned parked_workers(void)
{
	unsigned n = 0;
	for (unsigned i = 0; i < nworkers; i++)
		n += atomic_load_explicit(&sched_of(rt)->workers[i].park, memory_order_relaxed) ==
		     WEFT__PARKED;
	return n;
}

/* Waits (a bounded while) until at least `want` workers are parked. */
static bool wait_parked(unsigned want, double limit)
{
	double t0 = stress_elapsed();
	while (parked_workers() < want) {
		if (stress_elapsed() - t0 > limit)
			return false;
		sleep_us(10);
	}
	return true;
}

static void dump_state(const char *why, long i)
{
	struct burst *b = &bursts[i];
	uint32_t s = atomic_load(&sched_of(rt)->idle.state);
	fprintf(stderr, "park_wake: FAIL: %u workers, burst %ld: %s: %ld of %ld tasks ran\n",
		nworkers, i, why, (long)atomic_load(&b->count), b->expected);
	fprintf(stderr, "  idle: unparked %u, searching %u, inject %s\n", s >> 16, s & 0xffff,
		weft__inject_empty(&sched_of(rt)->inject) ? "empty" : "NOT empty");
	for (unsigned k = 0; k < nworkers; k++) {
		struct weft__worker *w = &sched_of(rt)->workers[k];
		fprintf(stderr,
			"  worker %u: park %u, runq %u, inbox %s; relay %u future %s\n", k,
			atomic_load(&w->park), weft__runq_len(&w->runq),
			weft__mpsc_empty(&w->inbox) ? "empty" : "NOT empty", k,
			weft_future_done(b->relay[k]) ? "done" : "pending");
	}
}

static void run(unsigned workers, long n, bool no_defer)
{
	double t0 = stress_elapsed();
	nworkers = workers;
	nbursts = n;
	atomic_store(&arrived, 0);
	atomic_store(&relay_wakes_cross, 0);
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.workers = workers;
	cfg.ring_no_defer = no_defer;
	stress_require_runtime(weft_runtime_create(&cfg, &rt));
	bursts = calloc((size_t)n, sizeof(*bursts));
	for (long i = 0; i < n; i++) {
		for (unsigned k = 0; k < workers; k++)
			bursts[i].relay[k] = weft_future_create(rt);
		bursts[i].done = weft_future_create(rt);
		bursts[i].expected = FOREIGN_LEAVES + (long)workers * RELAY_LEAVES;
	}
	placed = weft_future_create(rt);
	weft_future *relays[MAX_WORKERS];
	for (unsigned k = 0; k < workers; k++)
		relays[k] = weft_spawn(rt, relay, (void *)(uintptr_t)k, NULL);
	int rc = weft_future_wait(placed, BURST_LIMIT, NULL);
	if (rc) {
		fprintf(stderr, "park_wake: FAIL: relays not placed: %s\n", weft_strerror(rc));
		_exit(1);
	}
	for (unsigned k = 0; k < workers; k++)
		for (unsigned k2 = 0; k2 < k; k2++)
			STRESS_CHECK(relay_worker[k] != relay_worker[k2], "relays %u and %u on one worker",
				     k, k2);

	uint32_t rng = 0x7f4a7c15u;
	long all_parked = 0, not_parked = 0;
	for (long i = 0; i < n; i++) {
		/* Idle: all parked, one parked, no wait, or a short while. */
		rng ^= rng << 13;
		rng ^= rng >> 17;
		rng ^= rng << 5;
		switch (i % 4) {
		case 0:
			if (wait_parked(workers, BURST_LIMIT))
				all_parked++;
			else {
				STRESS_CHECK(0, "burst %ld: workers never all parked", i);
				dump_state("workers never all parked", i);
			}
			break;
		case 1:
			wait_parked(1, 1.0);
			break;
		case 2:
			break;
		case 3:
			sleep_us(rng % 50);
			break;
		}
		if (parked_workers() < workers)
			not_parked++;
		struct burst *b = &bursts[i];
		/* Half the time the relays go first. */
		if (rng & 256)
			weft_future_set_result(b->relay[0], NULL);
		for (unsigned j = 0; j < FOREIGN_LEAVES; j++)
			weft_future_unref(weft_spawn(rt, leaf, b, NULL));
		if (!(rng & 256))
			weft_future_set_result(b->relay[0], NULL);
		rc = weft_future_wait(b->done, BURST_LIMIT * WEFT_TEST_SLOW, NULL);
		if (rc == -ETIMEDOUT) {
			dump_state("lost wake-up? the burst did not complete", i);
			_exit(1);
		}
		STRESS_CHECK(rc == 0, "burst %ld: %s", i, weft_strerror(rc));
	}
	for (unsigned k = 0; k < workers; k++) {
		rc = weft_future_wait(relays[k], BURST_LIMIT, NULL);
		STRESS_CHECK(rc == 0, "relay %u: %s", k, weft_strerror(rc));
		weft_future_unref(relays[k]);
	}
	STRESS_CHECK(relay_wakes_cross == n * (workers - 1), "relay wakes %ld",
		     (long)relay_wakes_cross);
	weft_runtime_destroy(rt);
	for (long i = 0; i < n; i++) {
		for (unsigned k = 0; k < workers; k++)
			weft_future_unref(bursts[i].relay[k]);
		weft_future_unref(bursts[i].done);
	}
	weft_future_unref(placed);
	free(bursts);
	printf("park_wake: %u workers%s: %ld bursts (%ld from all parked, %ld with a worker awake) "
	       "in %.2f s\n",
	       workers, no_defer ? " (COOP_TASKRUN rings)" : "", n, all_parked, not_parked,
	       stress_elapsed() - t0);
}

int main(void)
{
	stress_begin("park_wake");
	run(2, stress_count(60000), false);
	run(4, stress_count(20000), false);
	/* The fallback rings (no DEFER_TASKRUN) park and wake too. */
	run(2, stress_count(20000), true);
	return stress_end();
}
