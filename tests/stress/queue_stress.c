/* SPDX-License-Identifier: MIT */
/*
 * weft_queue with many producers and consumers on 2 and 4 workers
 * (migratable tasks in every other run), one producer being a foreign
 * thread on put_nowait, while canceller tasks and a foreign thread cancel
 * producers and consumers at random and some calls run under tiny
 * timeout scopes. For each kind (FIFO bounded and unbounded, LIFO,
 * PRIORITY) it checks:
 *
 *  - every item is delivered exactly once: a get that returns 0 owns its
 *    item, a get that returns -ECANCELED / -ETIMEDOUT took none; a put
 *    that returns 0 inserted its item (or handed it to a getter), one
 *    that fails did not (the producer puts it again);
 *  - FIFO: each consumer sees each producer's items in put order;
 *  - the queue never holds more than maxsize;
 *  - join returns once every item is task_done; a graceful shutdown then
 *    ends every consumer with -ESHUTDOWN; nothing is left blocked
 *    (destroy succeeds).
 *
 * A hang (a lost wake-up) fails the watchdog.
 */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "harness.h"

#define NPROD 4       /* producer tasks (+ the foreign one) */
#define NCONS 4
#define NSRC (NPROD + 1)

static long per_prod;
static weft_queue *q;
static int qkind;
static size_t qmax;
static _Atomic unsigned char *seen;   /* per item: deliveries */
static _Atomic long progress;
static _Atomic bool migratable_run;
static _Atomic long n_cancel_true, n_failed_puts, n_failed_gets;
static _Atomic long last_seen[NCONS][NSRC]; /* FIFO: per consumer, per source */

static weft_future *victims[NPROD + NCONS];
static _Atomic int nvictims;
static _Atomic bool stop_cancelling;
static _Atomic int started; /* victims that began (a task cancelled before
                              * its first run would never run) */

static uint32_t xorshift(uint32_t *s)
{
	uint32_t x = *s;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x ? x : 1;
}

/* Items are 1-based: source * per_prod + seq + 1. */
static void *item_of(int src, long seq)
{
	return (void *)(uintptr_t)((long)src * per_prod + seq + 1);
}

static int cmp_items(const void *a, const void *b, void *arg)
{
	/* priority: the sequence number, so each source's items still come
	 * out in order among themselves */
	long x = (long)(uintptr_t)a - 1, y = (long)(uintptr_t)b - 1;
	x %= per_prod;
	y %= per_prod;
	return x < y ? -1 : x > y;
}

#define MAYBE_TIMED(rng, odds, call)                                                               \
	({                                                                                         \
		int rc_;                                                                           \
		if (xorshift(rng) % (odds) == 0) {                                                 \
			weft_timeout sc_;                                                          \
			weft_timeout_enter_after(&sc_, (double)(xorshift(rng) % 30) * 1e-6);      \
			rc_ = weft_timeout_exit(&sc_, (call));                                     \
		} else {                                                                           \
			rc_ = (call);                                                              \
		}                                                                                  \
		rc_;                                                                               \
	})

static int producer(void *arg, void **res)
{
	int src = (int)(uintptr_t)arg;
	uint32_t rng = (uint32_t)src * 2654435761u + 11;
	atomic_fetch_add(&started, 1);
	for (long i = 0; i < per_prod;) {
		int rc;
		if (xorshift(&rng) % 4 == 0) {
			rc = weft_queue_put_nowait(q, item_of(src, i));
			if (rc == -EAGAIN) {
				weft_sleep(0);
				continue;
			}
		} else {
			rc = MAYBE_TIMED(&rng, 8, weft_queue_put(q, item_of(src, i)));
		}
		if (rc) {
			STRESS_CHECK(rc == -ECANCELED || rc == -ETIMEDOUT, "put: %s",
				     weft_strerror(rc));
			atomic_fetch_add_explicit(&n_failed_puts, 1, memory_order_relaxed);
			continue; /* not inserted: put it again */
		}
		i++;
		if (i % 128 == 0)
			atomic_fetch_add_explicit(&progress, 1, memory_order_relaxed);
	}
	return 0;
}

static _Atomic int foreign_exited; /* threads finished: a task never
                                    * blocks its worker in pthread_join */

/* Suspends (polling) until n foreign threads have finished, then joins. */
static void join_foreign(pthread_t *th, int n)
{
	while (atomic_load(&foreign_exited) < n)
		weft_sleep(0.0005);
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
}

static void *foreign_producer(void *arg)
{
	for (long i = 0; i < per_prod;) {
		int rc = weft_queue_put_nowait(q, item_of(NPROD, i));
		if (rc == -EAGAIN) {
			sched_yield();
			continue;
		}
		STRESS_CHECK(rc == 0, "foreign put_nowait: %s", weft_strerror(rc));
		i++;
	}
	atomic_fetch_add(&foreign_exited, 1);
	return NULL;
}

static void deliver(int cons, void *item)
{
	long id = (long)(uintptr_t)item - 1;
	STRESS_CHECK(id >= 0 && id < NSRC * per_prod, "bogus item %ld", id);
	if (id < 0 || id >= NSRC * per_prod)
		return;
	unsigned char before = atomic_fetch_add_explicit(&seen[id], 1, memory_order_relaxed);
	STRESS_CHECK(before == 0, "item %ld delivered twice", id);
	size_t n = weft_queue_qsize(q);
	STRESS_CHECK(qmax == 0 || n <= qmax, "qsize %zu > maxsize %zu", n, qmax);
	if (qkind == WEFT_QUEUE_FIFO) {
		int src = (int)(id / per_prod);
		long seq = id % per_prod;
		long last = atomic_load_explicit(&last_seen[cons][src], memory_order_relaxed);
		STRESS_CHECK(seq > last, "FIFO: consumer %d saw %d:%ld after %ld", cons, src, seq,
			     last);
		atomic_store_explicit(&last_seen[cons][src], seq, memory_order_relaxed);
	}
}

static int consumer(void *arg, void **res)
{
	int cons = (int)(uintptr_t)arg;
	uint32_t rng = (uint32_t)cons * 40503u + 7;
	atomic_fetch_add(&started, 1);
	for (;;) {
		void *item = NULL;
		int rc;
		if (xorshift(&rng) % 4 == 0) {
			rc = weft_queue_get_nowait(q, &item);
			if (rc == -EAGAIN) {
				weft_sleep(0);
				continue;
			}
		} else {
			rc = MAYBE_TIMED(&rng, 8, weft_queue_get(q, &item));
		}
		if (rc == -ESHUTDOWN)
			return 0;
		if (rc) {
			STRESS_CHECK(rc == -ECANCELED || rc == -ETIMEDOUT, "get: %s",
				     weft_strerror(rc));
			atomic_fetch_add_explicit(&n_failed_gets, 1, memory_order_relaxed);
			continue; /* took nothing */
		}
		deliver(cons, item);
		rc = weft_queue_task_done(q);
		STRESS_CHECK(rc == 0, "task_done: %s", weft_strerror(rc));
	}
}

static void cancel_random(uint32_t *rng)
{
	int n = atomic_load_explicit(&nvictims, memory_order_acquire);
	if (n && weft_cancel(victims[xorshift(rng) % (unsigned)n], NULL))
		atomic_fetch_add_explicit(&n_cancel_true, 1, memory_order_relaxed);
}

static int canceller(void *arg, void **res)
{
	uint32_t rng = (uint32_t)(uintptr_t)arg * 977u + 1;
	while (!atomic_load_explicit(&stop_cancelling, memory_order_acquire)) {
		if (xorshift(&rng) % 8 == 0)
			cancel_random(&rng);
		weft_sleep(0);
	}
	return 0;
}

static void *foreign_canceller(void *arg)
{
	uint32_t rng = 0x12345u;
	while (!atomic_load_explicit(&stop_cancelling, memory_order_acquire)) {
		cancel_random(&rng);
		for (int i = 0; i < 50; i++)
			sched_yield();
	}
	atomic_fetch_add(&foreign_exited, 1);
	return NULL;
}

static int main_task(void *arg, void **res)
{
	bool mig = atomic_load(&migratable_run);
	int n = 0;
	for (int i = 0; i < NPROD; i++)
		victims[n++] = weft_create_task(producer, (void *)(uintptr_t)i, NULL);
	for (int i = 0; i < NCONS; i++)
		victims[n++] = weft_create_task(consumer, (void *)(uintptr_t)i, NULL);
	for (int i = 0; i < n; i++)
		weft_task_set_migratable(victims[i], mig);
	while (atomic_load(&started) < n)
		weft_sleep(0);
	/* release: pairs with cancel_random's acquire */
	atomic_store_explicit(&nvictims, n, memory_order_release);
	weft_future *c[2];
	for (int i = 0; i < 2; i++)
		c[i] = weft_create_task(canceller, (void *)(uintptr_t)(i + 1), NULL);
	pthread_t fp, fc;
	atomic_store(&foreign_exited, 0);
	if (pthread_create(&fp, NULL, foreign_producer, NULL) ||
	    pthread_create(&fc, NULL, foreign_canceller, NULL)) {
		fprintf(stderr, "queue_stress: pthread_create failed\n");
		_exit(1);
	}

	for (int i = 0; i < NPROD; i++) {
		/* 0, or cancelled by a cancel pending when it returned */
		int rc = weft_await(victims[i], NULL);
		STRESS_CHECK(rc == 0 || rc == -ECANCELED, "producer %d: %s", i, weft_strerror(rc));
	}
	while (atomic_load(&foreign_exited) < 1) /* the producer finishes first */
		weft_sleep(0.0005);
	/* Every item is in; join waits until each was taken and done. */
	int rc = weft_queue_join(q);
	STRESS_CHECK(rc == 0, "join: %s", weft_strerror(rc));
	atomic_store_explicit(&stop_cancelling, true, memory_order_release);
	for (int i = 0; i < 2; i++) {
		weft_await(c[i], NULL);
		weft_future_unref(c[i]);
	}
	pthread_t both[2] = {fp, fc};
	join_foreign(both, 2);
	weft_queue_shutdown(q, false);
	for (int i = NPROD; i < n; i++) {
		/* A consumer returns 0 at shutdown; one whose last get took an
		 * item with a cancel pending and then found the queue shut
		 * down (no suspension) ends cancelled (asyncio's rule). */
		rc = weft_await(victims[i], NULL);
		STRESS_CHECK(rc == 0 || rc == -ECANCELED, "consumer %d: %s", i - NPROD,
			     weft_strerror(rc));
	}
	atomic_store(&nvictims, 0);
	for (int i = 0; i < n; i++)
		weft_future_unref(victims[i]);
	return 0;
}

static void run(int kind, size_t maxsize, unsigned workers, bool migratable)
{
	static const char *names[] = {"fifo", "lifo", "priority"};
	double t0 = stress_elapsed();
	qkind = kind;
	qmax = maxsize;
	long total = NSRC * per_prod;
	seen = calloc((size_t)total, 1);
	for (int c = 0; c < NCONS; c++)
		for (int s = 0; s < NSRC; s++)
			atomic_store(&last_seen[c][s], -1);
	atomic_store(&progress, 0);
	atomic_store(&migratable_run, migratable);
	atomic_store(&stop_cancelling, false);
	atomic_store(&started, 0);
	atomic_store(&n_cancel_true, 0);
	atomic_store(&n_failed_puts, 0);
	atomic_store(&n_failed_gets, 0);
	int rc = weft_queue_create(&q, kind, maxsize, kind == WEFT_QUEUE_PRIORITY ? cmp_items : NULL,
				   NULL);
	STRESS_CHECK(rc == 0, "create: %s", weft_strerror(rc));

	weft_config cfg;
	weft_config_init(&cfg);
	cfg.workers = workers;
	weft_runtime *rt;
	stress_require_runtime(weft_runtime_create(&cfg, &rt));
	weft_future *m = weft_spawn(rt, main_task, NULL, "main");
	long before = -1;
	for (;;) {
		rc = weft_future_wait(m, 20.0 * WEFT_TEST_SLOW, NULL);
		if (rc != -ETIMEDOUT)
			break;
		long now = atomic_load(&progress);
		if (now == before) {
			fprintf(stderr, "queue_stress: FAIL: %s max %zu, %u workers: no progress in "
					"%.0f s (qsize %zu)\n",
				names[kind], maxsize, workers, 20.0 * WEFT_TEST_SLOW,
				weft_queue_qsize(q));
			_exit(1);
		}
		before = now;
	}
	STRESS_CHECK(rc == 0, "main: %s", weft_strerror(rc));
	weft_future_unref(m);
	weft_runtime_destroy(rt);

	long lost = 0;
	for (long i = 0; i < total; i++)
		if (atomic_load(&seen[i]) == 0)
			lost++;
	STRESS_CHECK(lost == 0, "%ld items never delivered", lost);
	STRESS_CHECK(weft_queue_qsize(q) == 0, "items left");
	rc = weft_queue_task_done(q);
	STRESS_CHECK(rc == -EOVERFLOW, "unfinished items left");
	rc = weft_queue_destroy(q);
	STRESS_CHECK(rc == 0, "destroy: %s", weft_strerror(rc));
	free((void *)seen);
	printf("queue_stress: %-8s max %-3zu %u workers%s: %ld items in %.2f s (cancels %ld, "
	       "failed puts %ld, failed gets %ld)\n",
	       names[kind], maxsize, workers, migratable ? " (migratable)" : "", total,
	       stress_elapsed() - t0, (long)atomic_load(&n_cancel_true),
	       (long)atomic_load(&n_failed_puts), (long)atomic_load(&n_failed_gets));
}

int main(void)
{
	stress_begin("queue_stress");
	per_prod = stress_count(60000);
	static const struct {
		int kind;
		size_t maxsize;
	} kinds[] = {
		{WEFT_QUEUE_FIFO, 8},
		{WEFT_QUEUE_FIFO, 0},
		{WEFT_QUEUE_LIFO, 4},
		{WEFT_QUEUE_PRIORITY, 16},
	};
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		run(kinds[k].kind, kinds[k].maxsize, 2, k % 2);
		run(kinds[k].kind, kinds[k].maxsize, 4, !(k % 2));
	}
	return stress_end();
}
