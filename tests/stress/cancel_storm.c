/* SPDX-License-Identifier: MIT */
/*
 * Cancellation racing completion. Each round, waiter tasks await plain
 * futures; completer tasks complete those futures; canceller tasks and a
 * foreign thread cancel the waiters, some of them several times, while all
 * of this runs on every worker at once. Invariants, per waiter:
 *
 *  - it finishes exactly once (one done callback), its function ran at
 *    most once, and only a cancelled task may never have run;
 *  - its await got either the value (and then the completer's set_result
 *    succeeded) or -ECANCELED (and then set_result found the future
 *    already done, and some weft_cancel on the task returned true); the
 *    future's own outcome agrees;
 *  - cancellations delivered (an await or a later suspension returning
 *    -ECANCELED) never outnumber the weft_cancel calls that returned true,
 *    and weft_task_cancelling() counts exactly those calls;
 *  - weft_cancel returned false only on a task that was done;
 *  - the task's outcome is what its function returned, except that a
 *    function that returned 0 with a cancel still undelivered ends
 *    cancelled (asyncio's _must_cancel rule at return).
 *
 * A hang (a lost wake-up of a cancelled waiter) fails the watchdog.
 */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <unistd.h>

#include "harness.h"

#define NWAITERS 512  /* per round */
#define NCOMPLETERS 2
#define NCANCELLERS 2

struct slot {
	weft_future *f;           /* what the waiter awaits */
	weft_future *task;        /* the waiter */
	int set_rc;               /* the completer's set_result */
	_Atomic int cancel_true;  /* weft_cancel(task) calls that returned true */
	_Atomic int ran;          /* the waiter's function started */
	_Atomic int finished;     /* done callbacks run */
	int await_rc;             /* written by the waiter */
	void *await_value;
	int delivered;            /* -ECANCELED seen by the waiter */
	int returned;             /* what the waiter returned */
};

struct round {
	struct slot slot[NWAITERS];
	unsigned order[NCOMPLETERS + NCANCELLERS][NWAITERS]; /* per actor */
	unsigned norder[NCOMPLETERS + NCANCELLERS];
	unsigned foreign_order[NWAITERS];
	unsigned nforeign;
};

static long nrounds;
static weft_future **round_go;   /* main -> foreign thread, per round */
static weft_future **round_ack;  /* foreign thread -> main, per round */
static struct round *cur;        /* the round in progress */
static _Atomic long progress;    /* rounds done, for the watchdog */
static _Atomic long cancels_true, cancels_false, deliveries, got_values, never_ran, at_end;
static _Atomic long callbacks;

static uint32_t xorshift(uint32_t *s)
{
	uint32_t x = *s;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x;
}

static void shuffle(unsigned *a, unsigned n, uint32_t *rng)
{
	for (unsigned i = n; i > 1; i--) {
		unsigned j = xorshift(rng) % i;
		unsigned t = a[i - 1];
		a[i - 1] = a[j];
		a[j] = t;
	}
}

static void *expected_value(struct slot *s)
{
	return (void *)((uintptr_t)s | 1);
}

static int waiter(void *arg, void **result)
{
	struct slot *s = arg;
	int before = atomic_fetch_add_explicit(&s->ran, 1, memory_order_relaxed);
	STRESS_CHECK(before == 0, "waiter ran twice");
	void *v = NULL;
	s->await_rc = weft_await(s->f, &v);
	s->await_value = v;
	s->delivered = s->await_rc == -ECANCELED;
	/* Two more suspension points: a cancel that the future could no
	 * longer take (it was done) must be delivered here, once. */
	for (int i = 0; i < 2; i++)
		if (weft_sleep(0) == -ECANCELED)
			s->delivered++;
	s->returned = s->delivered ? -ECANCELED : s->await_rc;
	if (s->returned == 0)
		*result = v;
	return s->returned;
}

static void cancel_one(struct slot *s, const char *who)
{
	if (weft_cancel(s->task, who)) {
		atomic_fetch_add_explicit(&s->cancel_true, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&cancels_true, 1, memory_order_relaxed);
	} else {
		atomic_fetch_add_explicit(&cancels_false, 1, memory_order_relaxed);
		STRESS_CHECK(weft_future_done(s->task), "%s: weft_cancel false on a task not done",
			     who);
	}
}

static int completer(void *arg, void **result)
{
	unsigned a = (unsigned)(uintptr_t)arg;
	struct round *r = cur;
	for (unsigned k = 0; k < r->norder[a]; k++) {
		struct slot *s = &r->slot[r->order[a][k]];
		s->set_rc = weft_future_set_result(s->f, expected_value(s));
		STRESS_CHECK(s->set_rc == 0 || s->set_rc == -EALREADY, "set_result: %s",
			     weft_strerror(s->set_rc));
		if (k % 16 == 15)
			weft_sleep(0);
	}
	return 0;
}

static int canceller(void *arg, void **result)
{
	unsigned a = (unsigned)(uintptr_t)arg;
	struct round *r = cur;
	for (unsigned k = 0; k < r->norder[a]; k++) {
		cancel_one(&r->slot[r->order[a][k]], "canceller");
		if (k % 16 == 15)
			weft_sleep(0);
	}
	return 0;
}

static void *foreign_main(void *arg)
{
	for (long i = 0; i < nrounds; i++) {
		int rc = weft_future_wait(round_go[i], WEFT_FOREVER, NULL);
		STRESS_CHECK(rc == 0, "foreign: round_go: %s", weft_strerror(rc));
		struct round *r = cur;
		for (unsigned k = 0; k < r->nforeign; k++) {
			cancel_one(&r->slot[r->foreign_order[k]], "foreign");
			if (k % 32 == 31)
				sched_yield();
		}
		rc = weft_future_set_result(round_ack[i], NULL);
		STRESS_CHECK(rc == 0, "foreign: round_ack: %s", weft_strerror(rc));
	}
	return NULL;
}

static void on_done(weft_future *f, void *arg)
{
	struct slot *s = arg;
	atomic_fetch_add_explicit(&s->finished, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&callbacks, 1, memory_order_release);
}

static void check_slot(struct slot *s, unsigned i)
{
	int ct = atomic_load(&s->cancel_true);
	int ran = atomic_load(&s->ran);
	void *tv = NULL;
	int trc = weft_future_result(s->task, &tv);
	STRESS_CHECK(weft_future_done(s->task), "waiter %u not done", i);
	STRESS_CHECK(atomic_load(&s->finished) == 1, "waiter %u finished %d times", i,
		     atomic_load(&s->finished));
	STRESS_CHECK(weft_task_cancelling(s->task) == ct,
		     "waiter %u: cancelling() %d, but %d cancels returned true", i,
		     weft_task_cancelling(s->task), ct);
	STRESS_CHECK(s->set_rc == 0 || s->set_rc == -EALREADY, "waiter %u: set_result %d", i,
		     s->set_rc);
	if (!ran) {
		atomic_fetch_add_explicit(&never_ran, 1, memory_order_relaxed);
		STRESS_CHECK(trc == -ECANCELED && ct >= 1,
			     "waiter %u never ran: outcome %d with %d cancels", i, trc, ct);
		STRESS_CHECK(weft_task_cancelled(s->task), "waiter %u never ran, not cancelled", i);
		return;
	}
	void *fv = NULL;
	int frc = weft_future_result(s->f, &fv);
	STRESS_CHECK(frc == s->await_rc, "waiter %u: await %d, future %d", i, s->await_rc, frc);
	if (s->await_rc == 0) {
		atomic_fetch_add_explicit(&got_values, 1, memory_order_relaxed);
		STRESS_CHECK(s->await_value == expected_value(s), "waiter %u: wrong value", i);
		STRESS_CHECK(s->set_rc == 0, "waiter %u got the value, set_result said %d", i,
			     s->set_rc);
	} else {
		STRESS_CHECK(s->await_rc == -ECANCELED, "waiter %u: await %s", i,
			     weft_strerror(s->await_rc));
		STRESS_CHECK(s->set_rc == -EALREADY,
			     "waiter %u: cancelled, but set_result succeeded", i);
		STRESS_CHECK(ct >= 1, "waiter %u: cancelled without a successful weft_cancel", i);
	}
	STRESS_CHECK(s->delivered <= ct, "waiter %u: %d deliveries for %d cancels", i,
		     s->delivered, ct);
	atomic_fetch_add_explicit(&deliveries, s->delivered, memory_order_relaxed);
	if (trc != s->returned) {
		atomic_fetch_add_explicit(&at_end, 1, memory_order_relaxed);
		STRESS_CHECK(s->returned == 0 && trc == -ECANCELED && s->delivered < ct,
			     "waiter %u returned %d, outcome %d (%d of %d cancels delivered)", i,
			     s->returned, trc, s->delivered, ct);
	}
	STRESS_CHECK(weft_task_cancelled(s->task) == (trc == -ECANCELED),
		     "waiter %u: cancelled() disagrees with its outcome", i);
	if (trc == 0)
		STRESS_CHECK(tv == expected_value(s), "waiter %u: task result wrong", i);
}

static int main_task(void *arg, void **result)
{
	uint32_t rng = 0xc0ffee;
	struct round *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	for (long n = 0; n < nrounds; n++) {
		memset(r, 0, sizeof(*r));
		long cb_before = atomic_load_explicit(&callbacks, memory_order_acquire);
		/* Who does what: completers split the futures; cancellers and
		 * the foreign thread each pick a random share (overlapping). */
		unsigned all[NWAITERS];
		for (unsigned i = 0; i < NWAITERS; i++)
			all[i] = i;
		shuffle(all, NWAITERS, &rng);
		for (unsigned i = 0; i < NWAITERS; i++) {
			unsigned a = i % NCOMPLETERS;
			r->order[a][r->norder[a]++] = all[i];
		}
		unsigned share = 2 + xorshift(&rng) % 4; /* cancel 1/2 .. 1/5 */
		for (unsigned a = NCOMPLETERS; a < NCOMPLETERS + NCANCELLERS; a++) {
			shuffle(all, NWAITERS, &rng);
			r->norder[a] = NWAITERS / share;
			memcpy(r->order[a], all, sizeof(unsigned) * r->norder[a]);
		}
		shuffle(all, NWAITERS, &rng);
		r->nforeign = NWAITERS / share;
		memcpy(r->foreign_order, all, sizeof(unsigned) * r->nforeign);
		cur = r;

		weft_future *actors[NCOMPLETERS + NCANCELLERS];
		for (unsigned i = 0; i < NWAITERS; i++) {
			struct slot *s = &r->slot[i];
			s->f = weft_future_create(NULL);
			s->task = weft_create_task(waiter, s, NULL);
			int rc = weft_future_add_done_callback(s->task, on_done, s);
			STRESS_CHECK(rc == 0, "add_done_callback: %s", weft_strerror(rc));
		}
		/* The foreign thread starts before, with or after the actors. */
		unsigned when = xorshift(&rng) % 3;
		if (when == 0)
			weft_future_set_result(round_go[n], NULL);
		for (unsigned a = 0; a < NCOMPLETERS + NCANCELLERS; a++) {
			actors[a] = weft_create_task(a < NCOMPLETERS ? completer : canceller,
						     (void *)(uintptr_t)a, NULL);
			if (when == 1 && a == NCOMPLETERS)
				weft_future_set_result(round_go[n], NULL);
		}
		if (when == 2) {
			weft_sleep(0); /* let some waiters start first */
			weft_future_set_result(round_go[n], NULL);
		}

		for (unsigned a = 0; a < NCOMPLETERS + NCANCELLERS; a++) {
			int rc = weft_await(actors[a], NULL);
			STRESS_CHECK(rc == 0, "actor %u: %s", a, weft_strerror(rc));
			weft_future_unref(actors[a]);
		}
		for (unsigned i = 0; i < NWAITERS; i++) {
			int rc = weft_await(r->slot[i].task, NULL);
			STRESS_CHECK(rc == 0 || rc == -ECANCELED, "waiter %u: %s", i,
				     weft_strerror(rc));
		}
		int rc = weft_await(round_ack[n], NULL);
		STRESS_CHECK(rc == 0, "round_ack: %s", weft_strerror(rc));
		/* Done callbacks are scheduled, not run, at completion. */
		double t0 = weft_time();
		while (atomic_load_explicit(&callbacks, memory_order_acquire) - cb_before <
			       NWAITERS &&
		       weft_time() - t0 < 20.0 * WEFT_TEST_SLOW)
			weft_sleep(0);
		for (unsigned i = 0; i < NWAITERS; i++) {
			check_slot(&r->slot[i], i);
			weft_future_unref(r->slot[i].task);
			weft_future_unref(r->slot[i].f);
		}
		atomic_store_explicit(&progress, n + 1, memory_order_relaxed);
	}
	cur = NULL;
	free(r);
	return 0;
}

static void run(unsigned workers, long rounds)
{
	double t0 = stress_elapsed();
	nrounds = rounds;
	atomic_store(&progress, 0);
	atomic_store(&cancels_true, 0);
	atomic_store(&cancels_false, 0);
	atomic_store(&deliveries, 0);
	atomic_store(&got_values, 0);
	atomic_store(&never_ran, 0);
	atomic_store(&at_end, 0);
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.workers = workers;
	weft_runtime *rt;
	stress_require_runtime(weft_runtime_create(&cfg, &rt));
	round_go = calloc((size_t)nrounds, sizeof(*round_go));
	round_ack = calloc((size_t)nrounds, sizeof(*round_ack));
	for (long i = 0; i < nrounds; i++) {
		round_go[i] = weft_future_create(rt);
		round_ack[i] = weft_future_create(rt);
	}
	pthread_t foreign;
	pthread_create(&foreign, NULL, foreign_main, NULL);
	weft_future *main = weft_spawn(rt, main_task, NULL, "main");
	long before = -1;
	int rc;
	for (;;) {
		rc = weft_future_wait(main, 20.0 * WEFT_TEST_SLOW, NULL);
		if (rc != -ETIMEDOUT)
			break;
		long now = atomic_load(&progress);
		if (now == before) {
			fprintf(stderr,
				"cancel_storm: FAIL: %u workers: no round finished in %.0f s (at round "
				"%ld)\n",
				workers, 20.0 * WEFT_TEST_SLOW, now);
			_exit(1);
		}
		before = now;
	}
	STRESS_CHECK(rc == 0, "main: %s", weft_strerror(rc));
	pthread_join(foreign, NULL);
	weft_future_unref(main);
	for (long i = 0; i < nrounds; i++) {
		weft_future_unref(round_go[i]);
		weft_future_unref(round_ack[i]);
	}
	free(round_go);
	free(round_ack);
	weft_runtime_destroy(rt);
	printf("cancel_storm: %u workers: %ld waiters in %ld rounds: %ld got the value, %ld never "
	       "ran, cancels %ld true / %ld false, %ld delivered, %ld pending at return, in %.2f s\n",
	       workers, nrounds * NWAITERS, nrounds, (long)got_values, (long)never_ran,
	       (long)cancels_true, (long)cancels_false, (long)deliveries, (long)at_end,
	       stress_elapsed() - t0);
}

int main(void)
{
	stress_begin("cancel_storm");
	run(2, stress_count(3000));
	run(4, stress_count(1000));
	run(1, stress_count(500)); /* one worker: asyncio's single loop */
	return stress_end();
}
