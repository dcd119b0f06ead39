/* SPDX-License-Identifier: MIT */
/*
 * The synchronisation primitives (weft/sync.h) under contention on 2 and
 * 4 workers (migratable tasks in every other run), while canceller tasks
 * and a foreign thread cancel the contenders at random and some waits run
 * under tiny timeout scopes. Each scenario checks what must never break:
 *
 *  lock       at most one holder at a time; a plain counter bumped inside
 *             the lock ends exact; acquire returns 0 exactly when the
 *             task holds the lock (-ECANCELED / -ETIMEDOUT: it does not);
 *             the lock ends unlocked, with no waiter (destroy succeeds);
 *  semaphore  at most `value` holders; every permit comes back;
 *  condition  every token produced (notify(1) each) is consumed exactly
 *             once, and none is left while consumers sleep: a lost
 *             wake-up (a notification swallowed by a cancelled waiter)
 *             leaves tokens behind and fails;
 *  event      every round's waiters all wake after set (a clear right
 *             after the set strands nobody);
 *  barrier    every round gives each index 0..parties-1 exactly once.
 *
 * A hang fails the watchdog.
 */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <unistd.h>

#include "harness.h"

#define NT 8          /* contenders */
#define MAXV 16

static _Atomic long progress;
static _Atomic bool migratable_run;
static _Atomic long n_cancel_true, n_cancelled_ops, n_timeouts;

static uint32_t xorshift(uint32_t *s)
{
	uint32_t x = *s;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x ? x : 1;
}

static void bump(void)
{
	atomic_fetch_add_explicit(&progress, 1, memory_order_relaxed);
}

/* --- cancellers ------------------------------------------------------------ */

static weft_future *victims[MAXV];
static _Atomic int nvictims;
static _Atomic bool victims_done;
static _Atomic int started; /* victims that began: a task cancelled before
                              * its first run would never run at all */

static void cancel_random(uint32_t *rng)
{
	int n = atomic_load_explicit(&nvictims, memory_order_acquire);
	if (n == 0)
		return;
	weft_future *v = victims[xorshift(rng) % (unsigned)n];
	if (weft_cancel(v, NULL))
		atomic_fetch_add_explicit(&n_cancel_true, 1, memory_order_relaxed);
}

static int canceller(void *arg, void **res)
{
	uint32_t rng = (uint32_t)(uintptr_t)arg * 2654435761u + 1;
	while (!atomic_load_explicit(&victims_done, memory_order_acquire)) {
		if (xorshift(&rng) % 4 == 0)
			cancel_random(&rng);
		weft_sleep(0);
	}
	return 0;
}

static _Atomic bool foreign_exited;

static void *foreign_canceller(void *arg)
{
	uint32_t rng = 0x9e3779b9u;
	while (!atomic_load_explicit(&victims_done, memory_order_acquire)) {
		cancel_random(&rng);
		for (int i = 0; i < 20; i++)
			sched_yield();
	}
	atomic_store(&foreign_exited, true);
	return NULL;
}

static void start_foreign(pthread_t *th)
{
	atomic_store(&foreign_exited, false);
	if (pthread_create(th, NULL, foreign_canceller, NULL)) {
		fprintf(stderr, "sync_stress: pthread_create failed\n");
		_exit(1);
	}
}

/* A task never blocks its worker in pthread_join: poll, then join. */
static void join_foreign(pthread_t th)
{
	while (!atomic_load(&foreign_exited))
		weft_sleep(0.0005);
	pthread_join(th, NULL);
}

/* Starts n victims of fn(arg i) plus two cancellers and a foreign one;
 * waits for the victims; returns how many failed. */
static int run_victims(int n, weft_task_fn fn)
{
	atomic_store(&victims_done, false);
	atomic_store(&nvictims, 0);
	atomic_store(&started, 0);
	bool mig = atomic_load(&migratable_run);
	for (int i = 0; i < n; i++) {
		victims[i] = weft_create_task(fn, (void *)(uintptr_t)i, NULL);
		weft_task_set_migratable(victims[i], mig);
	}
	while (atomic_load(&started) < n)
		weft_sleep(0);
	/* release: pairs with cancel_random's acquire of the count */
	atomic_store_explicit(&nvictims, n, memory_order_release);
	weft_future *c[2];
	for (int i = 0; i < 2; i++)
		c[i] = weft_create_task(canceller, (void *)(uintptr_t)(i + 1), NULL);
	pthread_t th;
	start_foreign(&th);
	int failed = 0;
	for (int i = 0; i < n; i++) {
		/* Victims return 0; a cancel that reached one after its last
		 * suspension point ends it cancelled (asyncio's rule). */
		int rc = weft_await(victims[i], NULL);
		if (rc && rc != -ECANCELED) {
			failed++;
			STRESS_CHECK(rc == 0, "victim %d: %s", i, weft_strerror(rc));
		}
	}
	atomic_store_explicit(&victims_done, true, memory_order_release);
	for (int i = 0; i < 2; i++) {
		weft_await(c[i], NULL);
		weft_future_unref(c[i]);
	}
	join_foreign(th);
	atomic_store(&nvictims, 0);
	for (int i = 0; i < n; i++)
		weft_future_unref(victims[i]);
	return failed;
}

/* A call under a timeout scope of 0..20 µs, one time in `odds`. */
#define MAYBE_TIMED(rng, odds, call)                                                               \
	({                                                                                         \
		int rc_;                                                                           \
		if (xorshift(rng) % (odds) == 0) {                                                 \
			weft_timeout sc_;                                                          \
			weft_timeout_enter_after(&sc_, (double)(xorshift(rng) % 20) * 1e-6);      \
			rc_ = weft_timeout_exit(&sc_, (call));                                     \
		} else {                                                                           \
			rc_ = (call);                                                              \
		}                                                                                  \
		rc_;                                                                               \
	})

static void count_failure(int rc)
{
	if (rc == -ECANCELED)
		atomic_fetch_add_explicit(&n_cancelled_ops, 1, memory_order_relaxed);
	else if (rc == -ETIMEDOUT)
		atomic_fetch_add_explicit(&n_timeouts, 1, memory_order_relaxed);
	else
		STRESS_CHECK(0, "unexpected %s", weft_strerror(rc));
}

/* --- lock ------------------------------------------------------------------ */

static weft_lock *lk;
static _Atomic int holder;
static long counter; /* plain: the lock protects it */
static long per_task;

static int lock_victim(void *arg, void **res)
{
	atomic_fetch_add(&started, 1);
	uint32_t rng = (uint32_t)(uintptr_t)arg * 7919u + 17;
	for (long done = 0; done < per_task;) {
		int rc = MAYBE_TIMED(&rng, 8, weft_lock_acquire(lk));
		if (rc) {
			count_failure(rc);
			continue;
		}
		STRESS_CHECK(weft_lock_locked(lk), "acquired but not locked");
		STRESS_CHECK(atomic_exchange(&holder, 1) == 0, "two holders");
		long c = counter;
		if (xorshift(&rng) % 4 == 0)
			weft_sleep(0); /* may deliver a pending cancel: ignored */
		counter = c + 1;
		atomic_store(&holder, 0);
		rc = weft_lock_release(lk);
		STRESS_CHECK(rc == 0, "release: %s", weft_strerror(rc));
		done++;
		if (done % 64 == 0)
			bump();
	}
	return 0;
}

static int lock_main(void *arg, void **res)
{
	counter = 0;
	atomic_store(&holder, 0);
	run_victims(NT, lock_victim);
	STRESS_CHECK(counter == NT * per_task, "counter %ld, want %ld", counter, NT * per_task);
	STRESS_CHECK(!weft_lock_locked(lk), "left locked");
	return 0;
}

/* --- semaphore ------------------------------------------------------------- */

#define SEM_VALUE 3

static weft_semaphore *sem;
static _Atomic int holders;

static int sem_victim(void *arg, void **res)
{
	atomic_fetch_add(&started, 1);
	uint32_t rng = (uint32_t)(uintptr_t)arg * 104729u + 3;
	for (long done = 0; done < per_task;) {
		int rc = MAYBE_TIMED(&rng, 8, weft_semaphore_acquire(sem));
		if (rc) {
			count_failure(rc);
			continue;
		}
		int h = atomic_fetch_add(&holders, 1) + 1;
		STRESS_CHECK(h <= SEM_VALUE, "%d holders", h);
		if (xorshift(&rng) % 2 == 0)
			weft_sleep(0);
		atomic_fetch_sub(&holders, 1);
		rc = weft_semaphore_release(sem);
		STRESS_CHECK(rc == 0, "release: %s", weft_strerror(rc));
		done++;
		if (done % 64 == 0)
			bump();
	}
	return 0;
}

static int sem_main(void *arg, void **res)
{
	atomic_store(&holders, 0);
	run_victims(NT, sem_victim);
	STRESS_CHECK(weft_semaphore_value(sem) == SEM_VALUE, "value %ld at the end",
		     weft_semaphore_value(sem));
	return 0;
}

/* --- condition -------------------------------------------------------------- */

static weft_condition *cv;
static long tokens, produced, consumed; /* under the condition's lock */
static bool finished;                    /* under the lock */
static _Atomic int producers_left;

static bool have_token(void *arg)
{
	return tokens > 0 || finished;
}

static int cond_consumer(void *arg, void **res)
{
	uint32_t rng = (uint32_t)(uintptr_t)arg * 31u + 5;
	for (;;) {
		int rc = weft_condition_acquire(cv);
		if (rc) {
			count_failure(rc);
			continue;
		}
		rc = MAYBE_TIMED(&rng, 16, weft_condition_wait_for(cv, have_token, NULL));
		/* held again whatever rc is */
		STRESS_CHECK(weft_condition_locked(cv), "wait returned without the lock");
		if (rc)
			count_failure(rc);
		bool tick = false;
		if (tokens > 0) {
			tokens--;
			tick = ++consumed % 64 == 0;
		}
		bool fin = finished && tokens == 0;
		weft_condition_release(cv);
		if (fin)
			return 0;
		if (tick)
			bump();
	}
}

static int cond_producer(void *arg, void **res)
{
	for (long i = 0; i < per_task;) {
		int rc = weft_condition_acquire(cv);
		if (rc) {
			count_failure(rc);
			continue;
		}
		tokens++;
		produced++;
		weft_condition_notify(cv, 1);
		weft_condition_release(cv);
		i++;
		if (i % 4 == 0)
			weft_sleep(0);
	}
	atomic_fetch_sub(&producers_left, 1);
	return 0;
}

static int cond_victim(void *arg, void **res)
{
	atomic_fetch_add(&started, 1);
	int i = (int)(uintptr_t)arg;
	return i % 2 ? cond_producer(arg, res) : cond_consumer(arg, res);
}

static int cond_main(void *arg, void **res)
{
	tokens = produced = consumed = 0;
	finished = false;
	atomic_store(&producers_left, NT / 2);
	atomic_store(&started, 0);
	/* Consumers never return until `finished`: a helper ends them once
	 * the producers are done and every token is gone. */
	atomic_store(&victims_done, false);
	bool mig = atomic_load(&migratable_run);
	weft_future *t[NT];
	for (int i = 0; i < NT; i++) {
		t[i] = weft_create_task(cond_victim, (void *)(uintptr_t)i, NULL);
		weft_task_set_migratable(t[i], mig);
		victims[i] = t[i];
	}
	while (atomic_load(&started) < NT)
		weft_sleep(0);
	atomic_store_explicit(&nvictims, NT, memory_order_release);
	weft_future *c[2];
	for (int i = 0; i < 2; i++)
		c[i] = weft_create_task(canceller, (void *)(uintptr_t)(i + 7), NULL);
	pthread_t th;
	start_foreign(&th);
	for (int i = 1; i < NT; i += 2)
		weft_await(t[i], NULL);
	/* The producers are done. Every token must be taken while the
	 * consumers keep waiting on notifications: allow real time for it. */
	double until = weft_time() + 10.0 * WEFT_TEST_SLOW;
	long left = 1;
	while (weft_time() < until) {
		if (weft_condition_acquire(cv))
			continue;
		left = tokens;
		weft_condition_release(cv);
		if (left == 0)
			break;
		weft_sleep(0.001);
	}
	STRESS_CHECK(left == 0, "%ld tokens never consumed: a lost wake-up", left);
	atomic_store_explicit(&victims_done, true, memory_order_release);
	for (int i = 0; i < 2; i++) {
		weft_await(c[i], NULL);
		weft_future_unref(c[i]);
	}
	join_foreign(th);
	atomic_store(&nvictims, 0);
	while (weft_condition_acquire(cv))
		;
	finished = true;
	weft_condition_notify_all(cv);
	weft_condition_release(cv);
	for (int i = 0; i < NT; i++) {
		/* 0, or cancelled by a cancel that reached it after its last
		 * suspension point (asyncio's rule at return) */
		int rc = weft_await(t[i], NULL);
		STRESS_CHECK(rc == 0 || rc == -ECANCELED, "cond task %d: %s", i, weft_strerror(rc));
		weft_future_unref(t[i]);
	}
	STRESS_CHECK(produced == NT / 2 * per_task, "produced %ld", produced);
	STRESS_CHECK(consumed == produced, "consumed %ld of %ld", consumed, produced);
	return 0;
}

/* --- event ------------------------------------------------------------------ */

static weft_event *ev;

/* One wait: a cancelled waiter does not wait again (the event may have
 * been set and cleared meanwhile). */
static int ev_waiter(void *arg, void **res)
{
	return weft_event_wait(ev);
}

/* Sets after a few yields: some waiters are waiting, some not yet. (No
 * clear here: a waiter that has not started waiting would then wait for
 * the next round; test_sync.c covers clear with waiters.) */
static int ev_setter(void *arg, void **res)
{
	for (unsigned i = 0; i < (unsigned)(uintptr_t)arg % 4; i++)
		weft_sleep(0);
	weft_event_set(ev);
	return 0;
}

static int event_main(void *arg, void **res)
{
	long rounds = per_task / 8;
	for (long k = 0; k < rounds; k++) {
		weft_event_clear(ev);
		weft_future *w[NT];
		for (int i = 0; i < NT; i++)
			w[i] = weft_create_task(ev_waiter, NULL, NULL);
		weft_future *s = weft_create_task(ev_setter, (void *)(uintptr_t)k, NULL);
		weft_sleep(0);
		int victim = (int)(k % NT);
		weft_cancel(w[victim], NULL);
		for (int i = 0; i < NT; i++) {
			/* every waiter but the cancelled one wakes with 0 */
			int rc = weft_await(w[i], NULL);
			if (i == victim && rc == -ECANCELED)
				atomic_fetch_add_explicit(&n_cancelled_ops, 1, memory_order_relaxed);
			else
				STRESS_CHECK(rc == 0, "waiter %d: %s", i, weft_strerror(rc));
			weft_future_unref(w[i]);
		}
		weft_await(s, NULL);
		weft_future_unref(s);
		bump();
	}
	return 0;
}

/* --- barrier ---------------------------------------------------------------- */

#define PARTIES 4

static weft_barrier *bar;
static _Atomic int (*hits)[PARTIES];

static int bar_party(void *arg, void **res)
{
	long rounds = per_task / 4;
	for (long k = 0; k < rounds; k++) {
		size_t i = 99;
		int rc = weft_barrier_wait(bar, &i);
		STRESS_CHECK(rc == 0 && i < PARTIES, "barrier: %s, index %zu", weft_strerror(rc), i);
		if (rc == 0 && i < PARTIES)
			atomic_fetch_add_explicit(&hits[k][i], 1, memory_order_relaxed);
		if (k % 16 == 0)
			bump();
	}
	return 0;
}

static int barrier_main(void *arg, void **res)
{
	long rounds = per_task / 4;
	hits = calloc((size_t)rounds, sizeof(*hits));
	weft_future *t[PARTIES];
	bool mig = atomic_load(&migratable_run);
	for (int i = 0; i < PARTIES; i++) {
		t[i] = weft_create_task(bar_party, NULL, NULL);
		weft_task_set_migratable(t[i], mig);
	}
	for (int i = 0; i < PARTIES; i++) {
		weft_await(t[i], NULL);
		weft_future_unref(t[i]);
	}
	for (long k = 0; k < rounds; k++)
		for (int i = 0; i < PARTIES; i++)
			STRESS_CHECK(atomic_load(&hits[k][i]) == 1, "round %ld index %d: %d", k, i,
				     atomic_load(&hits[k][i]));
	free(hits);
	return 0;
}

/* --- driver ----------------------------------------------------------------- */

static void run(const char *what, weft_task_fn fn, unsigned workers, bool migratable)
{
	double t0 = stress_elapsed();
	atomic_store(&progress, 0);
	atomic_store(&migratable_run, migratable);
	atomic_store(&n_cancel_true, 0);
	atomic_store(&n_cancelled_ops, 0);
	atomic_store(&n_timeouts, 0);
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.workers = workers;
	weft_runtime *rt;
	stress_require_runtime(weft_runtime_create(&cfg, &rt));
	weft_future *m = weft_spawn(rt, fn, NULL, "main");
	long before = -1;
	int rc;
	for (;;) {
		rc = weft_future_wait(m, 20.0 * WEFT_TEST_SLOW, NULL);
		if (rc != -ETIMEDOUT)
			break;
		long now = atomic_load(&progress);
		if (now == before) {
			fprintf(stderr, "sync_stress: FAIL: %s, %u workers: no progress in %.0f s\n",
				what, workers, 20.0 * WEFT_TEST_SLOW);
			_exit(1);
		}
		before = now;
	}
	STRESS_CHECK(rc == 0, "%s main: %s", what, weft_strerror(rc));
	weft_future_unref(m);
	weft_runtime_destroy(rt);
	printf("sync_stress: %-9s %u workers%s: %.2f s (cancels %ld, cancelled calls %ld, "
	       "timeouts %ld)\n",
	       what, workers, migratable ? " (migratable)" : "", stress_elapsed() - t0,
	       (long)atomic_load(&n_cancel_true), (long)atomic_load(&n_cancelled_ops),
	       (long)atomic_load(&n_timeouts));
}

int main(void)
{
	stress_begin("sync_stress");
	per_task = stress_count(40000);
	STRESS_CHECK(weft_lock_create(&lk) == 0, "lock");
	STRESS_CHECK(weft_semaphore_create_bounded(&sem, SEM_VALUE) == 0, "semaphore");
	STRESS_CHECK(weft_condition_create(&cv, NULL) == 0, "condition");
	STRESS_CHECK(weft_event_create(&ev) == 0, "event");
	STRESS_CHECK(weft_barrier_create(&bar, PARTIES) == 0, "barrier");
	static const struct {
		unsigned workers;
		bool migratable;
	} runs[] = {{2, false}, {4, true}};
	for (size_t k = 0; k < sizeof(runs) / sizeof(runs[0]); k++) {
		unsigned w = runs[k].workers;
		bool m = runs[k].migratable;
		run("lock", lock_main, w, m);
		run("semaphore", sem_main, w, m);
		run("condition", cond_main, w, m);
		run("event", event_main, w, m);
		run("barrier", barrier_main, w, m);
	}
	/* Everything left consistent: nothing waits, nothing held. */
	STRESS_CHECK(weft_lock_destroy(lk) == 0, "lock destroy");
	STRESS_CHECK(weft_semaphore_destroy(sem) == 0, "semaphore destroy");
	STRESS_CHECK(weft_condition_destroy(cv) == 0, "condition destroy");
	STRESS_CHECK(weft_event_destroy(ev) == 0, "event destroy");
	STRESS_CHECK(weft_barrier_destroy(bar) == 0, "barrier destroy");
	return stress_end();
}
