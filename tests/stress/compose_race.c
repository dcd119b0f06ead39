/* SPDX-License-Identifier: MIT */
/*
 * Composition racing completion, timeouts and cancellation, on 2-4
 * workers (migratable tasks in every other run, so a timeout scope's timer
 * fires on one worker while its task exits the scope on another). Each
 * round starts a batch of instances, one scenario each, all at once:
 *
 *  0 wait_for(f, t) where a task on another worker completes f at t:
 *    the value with set_result's success, or -ETIMEDOUT with f cancelled
 *    and set_result refused; never both, never neither;
 *  1 wait_for(task, t) where the task sleeps t (and may refuse the
 *    cancel once started): -ETIMEDOUT only for a task that ended
 *    cancelled, its value otherwise; the task is done when wait_for
 *    returns;
 *  2 a gather of plain futures completed at random times while another
 *    task cancels the gather: weft_cancel true exactly when the gather
 *    ends -ECANCELED; a gather that succeeded has every value in place;
 *  3 a shield cancelled while its inner completes: the inner is never
 *    cancelled; the shield is cancelled exactly when its cancel said so,
 *    else carries the inner value;
 *  4 wait(timeout) on tasks finishing around the timeout: every input
 *    is in exactly one set, the done ones are done;
 *  5 as_completed(timeout) likewise: yields + timeouts = inputs, each
 *    yielded once and done;
 *  6 a task group whose members fail at random times while an outside
 *    task cancels the parent: WEFT_EGROUP exactly when a member failed,
 *    with one error per failure; -ECANCELED only after a true outside
 *    cancel; every member done at exit; the parent's cancelling() ends
 *    equal to the outside cancels that returned true;
 *  7 a timeout scope whose deadline equals the body's sleep: -ETIMEDOUT
 *    only when expired, the body's 0 otherwise.
 *
 * After every scenario the instance checks that no cancel it did not ask
 * for is left (cancelling() and the next suspension point). A hang fails
 * the watchdog.
 */
#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

#include "harness.h"

#define BATCH 48   /* instances per round */
#define NKINDS 8
#define MAXK 6     /* inputs per gather/wait/as_completed/group */
#define MAGIC ((void *)(uintptr_t)0xfeed)

static _Atomic long progress;
static _Atomic long outcome[NKINDS][3]; /* per kind: "a", "b", other */
static _Atomic bool migratable_run;

static uint32_t xorshift(uint32_t *s)
{
	uint32_t x = *s;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x ? x : 1;
}

/* A delay of 0..max_us microseconds, in seconds. */
static double rnd_delay(uint32_t *s, unsigned max_us)
{
	return (double)(xorshift(s) % (max_us + 1)) * 1e-6;
}

static void count(int kind, int which)
{
	atomic_fetch_add_explicit(&outcome[kind][which], 1, memory_order_relaxed);
}

static int my_cancelling(void)
{
	return weft_task_cancelling(weft_current_task());
}

/* Sleeps until every one of n tasks is done, without awaiting them (an
 * await would pass a cancel of ours into them). */
static void poll_done(weft_future **t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		while (!weft_future_done(t[i]))
			weft_sleep(0.0002);
}

/* --- helpers run as tasks -------------------------------------------------- */

struct completer {
	weft_future *f;
	double when;   /* absolute weft_time() */
	void *value;
	int set_rc;
};

static int complete_at(void *arg, void **res)
{
	struct completer *c = arg;
	double left = c->when - weft_time();
	if (left > 0)
		weft_sleep(left);
	c->set_rc = weft_future_set_result(c->f, c->value);
	return 0;
}

struct canceller {
	weft_future *target;
	double delay;
	bool rc;
};

static int cancel_after(void *arg, void **res)
{
	struct canceller *c = arg;
	if (c->delay > 0)
		weft_sleep(c->delay);
	c->rc = weft_cancel(c->target, NULL);
	return 0;
}

struct sleeper {
	double delay;
	bool refuse; /* return a value even when cancelled */
	bool fail;   /* fail with -EIO after the sleep */
	_Atomic bool failed;
	_Atomic bool ran;     /* its function started */
	_Atomic int sleep_rc; /* what its sleep returned */
};

static int sleeper_fn(void *arg, void **res)
{
	struct sleeper *s = arg;
	atomic_store(&s->ran, true);
	int rc = weft_sleep(s->delay);
	atomic_store(&s->sleep_rc, rc);
	if (rc == -ECANCELED && s->refuse) {
		*res = (void *)((uintptr_t)MAGIC + 1);
		return 0;
	}
	if (rc)
		return rc;
	if (s->fail) {
		atomic_store(&s->failed, true);
		return -EIO;
	}
	*res = MAGIC;
	return 0;
}

/* --- the scenarios ------------------------------------------------------- */

static void s_wait_for_future(uint32_t *rng)
{
	double d = rnd_delay(rng, 1500);
	struct completer c = {.f = weft_future_create(NULL), .value = MAGIC};
	c.when = weft_time() + d;
	weft_future *t = weft_create_task(complete_at, &c, NULL);
	void *v = NULL;
	int rc = weft_wait_for(c.f, c.when - weft_time(), &v);
	poll_done(&t, 1);
	if (rc == 0) {
		STRESS_CHECK(v == MAGIC && c.set_rc == 0, "wait_for value %p, set_rc %d", v, c.set_rc);
		count(0, 0);
	} else if (rc == -ETIMEDOUT) {
		STRESS_CHECK(weft_future_cancelled(c.f) && c.set_rc == -EALREADY,
			     "timed out but set_rc %d", c.set_rc);
		count(0, 1);
	} else {
		STRESS_CHECK(false, "wait_for: %s", weft_strerror(rc));
		count(0, 2);
	}
	weft_future_unref(t);
	weft_future_unref(c.f);
}

static void s_wait_for_task(uint32_t *rng)
{
	struct sleeper s = {.delay = rnd_delay(rng, 1500), .refuse = xorshift(rng) & 1};
	weft_future *t = weft_create_task(sleeper_fn, &s, NULL);
	void *v = NULL;
	int rc = weft_wait_for(t, s.delay, &v);
	STRESS_CHECK(weft_future_done(t), "wait_for returned before the inner was done");
	if (rc == 0) {
		STRESS_CHECK(v == MAGIC || (s.refuse && v == (void *)((uintptr_t)MAGIC + 1)),
			     "value %p", v);
		count(1, 0);
	} else if (rc == -ETIMEDOUT) {
		/* A task cancelled before it started never runs, refuser or
		 * not; one whose sleep had ended before the cancel came
		 * returns with the cancel pending and ends cancelled. */
		STRESS_CHECK((!s.refuse || !atomic_load(&s.ran) || atomic_load(&s.sleep_rc) == 0) &&
				     weft_future_cancelled(t),
			     "timed out, refuse %d, sleep %d", s.refuse, atomic_load(&s.sleep_rc));
		count(1, 1);
	} else {
		STRESS_CHECK(false, "wait_for task: %s", weft_strerror(rc));
		count(1, 2);
	}
	poll_done(&t, 1);
	weft_future_unref(t);
}

static void s_gather_cancel(uint32_t *rng)
{
	size_t k = 2 + xorshift(rng) % (MAXK - 1);
	unsigned flags = xorshift(rng) & 1 ? WEFT_RETURN_EXCEPTIONS : 0;
	weft_future *f[MAXK], *ct[MAXK + 1];
	struct completer c[MAXK];
	double now = weft_time();
	for (size_t i = 0; i < k; i++) {
		f[i] = weft_future_create(NULL);
		c[i] = (struct completer){.f = f[i], .when = now + rnd_delay(rng, 1000),
					  .value = (void *)(uintptr_t)(i + 1)};
	}
	weft_future *g = weft_gather(f, k, flags);
	for (size_t i = 0; i < k; i++)
		ct[i] = weft_create_task(complete_at, &c[i], NULL);
	struct canceller cc = {.target = g, .delay = rnd_delay(rng, 1000)};
	ct[k] = weft_create_task(cancel_after, &cc, NULL);
	weft_outcome *o = NULL;
	int rc = weft_await(g, (void **)&o);
	poll_done(ct, k + 1);
	if (rc == 0) {
		STRESS_CHECK(!cc.rc, "gather succeeded after a cancel that returned true");
		for (size_t i = 0; i < k; i++) {
			if (flags) {
				bool ok = (o[i].rc == 0 && o[i].value == (void *)(uintptr_t)(i + 1) &&
					   c[i].set_rc == 0) ||
					  (o[i].rc == -ECANCELED && c[i].set_rc == -EALREADY);
				STRESS_CHECK(ok, "outcome %zu: %d %p, set_rc %d", i, o[i].rc,
					     o[i].value, c[i].set_rc);
			} else {
				STRESS_CHECK(o[i].rc == 0 && o[i].value == (void *)(uintptr_t)(i + 1) &&
						     c[i].set_rc == 0,
					     "outcome %zu: %d %p", i, o[i].rc, o[i].value);
			}
		}
		count(2, 0);
	} else if (rc == -ECANCELED) {
		STRESS_CHECK(cc.rc, "gather cancelled without a cancel that returned true");
		count(2, 1);
	} else {
		STRESS_CHECK(false, "gather: %s", weft_strerror(rc));
		count(2, 2);
	}
	for (size_t i = 0; i < k; i++) {
		STRESS_CHECK(c[i].set_rc == 0 ? !weft_future_cancelled(f[i])
					      : weft_future_cancelled(f[i]),
			     "input %zu: set_rc %d", i, c[i].set_rc);
		weft_future_unref(f[i]);
	}
	for (size_t i = 0; i <= k; i++)
		weft_future_unref(ct[i]);
	weft_future_unref(g);
}

static void s_shield(uint32_t *rng)
{
	struct completer c = {.f = weft_future_create(NULL), .value = MAGIC};
	c.when = weft_time() + rnd_delay(rng, 1000);
	weft_future *s = weft_shield(c.f);
	weft_future *t[2];
	t[0] = weft_create_task(complete_at, &c, NULL);
	struct canceller cc = {.target = s, .delay = rnd_delay(rng, 1000)};
	t[1] = weft_create_task(cancel_after, &cc, NULL);
	void *v = NULL;
	int rc = weft_await(s, &v);
	poll_done(t, 2);
	STRESS_CHECK(c.set_rc == 0 && !weft_future_cancelled(c.f), "the inner was disturbed: %d",
		     c.set_rc);
	if (cc.rc) {
		STRESS_CHECK(rc == -ECANCELED, "a cancelled shield gave %d", rc);
		count(3, 1);
	} else {
		STRESS_CHECK(rc == 0 && v == MAGIC, "shield gave %d %p", rc, v);
		count(3, 0);
	}
	for (int i = 0; i < 2; i++)
		weft_future_unref(t[i]);
	weft_future_unref(s);
	weft_future_unref(c.f);
}

static void s_wait(uint32_t *rng)
{
	size_t k = 1 + xorshift(rng) % MAXK;
	struct sleeper sl[MAXK];
	weft_future *t[MAXK], *dn[MAXK], *pd[MAXK];
	for (size_t i = 0; i < k; i++) {
		sl[i] = (struct sleeper){.delay = rnd_delay(rng, 1500), .fail = xorshift(rng) % 4 == 0};
		t[i] = weft_create_task(sleeper_fn, &sl[i], NULL);
	}
	static const int modes[3] = {WEFT_FIRST_COMPLETED, WEFT_FIRST_EXCEPTION,
				     WEFT_ALL_COMPLETED};
	int mode = modes[xorshift(rng) % 3];
	double timeout = rnd_delay(rng, 1500);
	size_t nd = 0, np = 0;
	int rc = weft_wait(t, k, timeout, mode, dn, &nd, pd, &np);
	STRESS_CHECK(rc == 0, "wait: %s", weft_strerror(rc));
	STRESS_CHECK(nd + np == k, "wait: %zu + %zu != %zu", nd, np, k);
	for (size_t i = 0; i < nd; i++)
		STRESS_CHECK(weft_future_done(dn[i]), "a done one is not done");
	count(4, np ? 1 : 0);
	poll_done(t, k);
	for (size_t i = 0; i < k; i++)
		weft_future_unref(t[i]);
}

static void s_as_completed(uint32_t *rng)
{
	size_t k = 1 + xorshift(rng) % MAXK;
	struct sleeper sl[MAXK];
	weft_future *t[MAXK];
	int seen[MAXK] = {0};
	for (size_t i = 0; i < k; i++) {
		sl[i] = (struct sleeper){.delay = rnd_delay(rng, 1500)};
		t[i] = weft_create_task(sleeper_fn, &sl[i], NULL);
	}
	weft_as_completed *it;
	int rc = weft_as_completed_start(t, k, rnd_delay(rng, 1500), &it);
	STRESS_CHECK(rc == 0, "as_completed_start: %s", weft_strerror(rc));
	if (rc)
		return;
	size_t yields = 0, timeouts = 0;
	weft_future *f;
	while ((rc = weft_as_completed_next(it, &f)) != 1) {
		if (rc == -ETIMEDOUT) {
			timeouts++;
			continue;
		}
		STRESS_CHECK(rc == 0, "as_completed_next: %s", weft_strerror(rc));
		if (rc)
			break;
		yields++;
		STRESS_CHECK(weft_future_done(f), "yielded a future not done");
		for (size_t i = 0; i < k; i++)
			if (t[i] == f)
				seen[i]++;
	}
	STRESS_CHECK(yields + timeouts == k, "as_completed: %zu + %zu != %zu", yields, timeouts, k);
	for (size_t i = 0; i < k; i++)
		STRESS_CHECK(seen[i] <= 1, "yielded twice");
	weft_as_completed_free(it);
	count(5, timeouts ? 1 : 0);
	poll_done(t, k);
	for (size_t i = 0; i < k; i++)
		weft_future_unref(t[i]);
}

static void s_taskgroup(uint32_t *rng)
{
	size_t k = 1 + xorshift(rng) % MAXK;
	struct sleeper sl[MAXK];
	weft_future *t[MAXK];
	weft_taskgroup *tg;
	int rc = weft_taskgroup_enter(&tg);
	STRESS_CHECK(rc == 0, "enter: %s", weft_strerror(rc));
	if (rc)
		return;
	for (size_t i = 0; i < k; i++) {
		sl[i] = (struct sleeper){.delay = rnd_delay(rng, 1500), .fail = xorshift(rng) % 3 == 0};
		t[i] = weft_taskgroup_create_task(tg, sleeper_fn, &sl[i], NULL);
	}
	struct canceller cc = {.target = weft_current_task(), .delay = rnd_delay(rng, 2000)};
	bool outside = xorshift(rng) & 1;
	weft_future *ct = outside ? weft_create_task(cancel_after, &cc, NULL) : NULL;
	int body = weft_sleep(rnd_delay(rng, 800));
	rc = weft_taskgroup_exit(tg, body);
	size_t failed = 0;
	for (size_t i = 0; i < k; i++) {
		STRESS_CHECK(weft_future_done(t[i]), "member not done at exit");
		failed += atomic_load(&sl[i].failed);
	}
	size_t nerr = weft_taskgroup_errors(tg, NULL, NULL, 0);
	STRESS_CHECK(nerr == failed, "%zu errors for %zu failures", nerr, failed);
	if (failed) {
		STRESS_CHECK(rc == WEFT_EGROUP, "failures but exit %d", rc);
		count(6, 1);
	} else if (rc == -ECANCELED) {
		STRESS_CHECK(outside, "-ECANCELED with no outside cancel");
		count(6, 2);
	} else {
		STRESS_CHECK(rc == 0, "exit %d", rc);
		count(6, 0);
	}
	if (ct) {
		poll_done(&ct, 1);
		weft_future_unref(ct);
	}
	int want = outside && cc.rc ? 1 : 0;
	STRESS_CHECK(my_cancelling() == want, "cancelling %d, want %d", my_cancelling(), want);
	/* Absorb the outside cancel if it is still pending, and withdraw it. */
	weft_sleep(0);
	while (my_cancelling() > 0)
		weft_task_uncancel(weft_current_task());
	weft_taskgroup_free(tg);
	for (size_t i = 0; i < k; i++)
		weft_future_unref(t[i]);
}

static void s_scope(uint32_t *rng)
{
	double d = rnd_delay(rng, 1200);
	weft_timeout cm;
	double when = weft_time() + d;
	int rc = weft_timeout_enter(&cm, when);
	STRESS_CHECK(rc == 0, "enter: %s", weft_strerror(rc));
	if (rc)
		return;
	double left = when - weft_time();
	int body = weft_sleep(left > 0 ? left : 0);
	rc = weft_timeout_exit(&cm, body);
	if (rc == -ETIMEDOUT) {
		STRESS_CHECK(body == -ECANCELED && weft_timeout_expired(&cm), "bad -ETIMEDOUT");
		count(7, 1);
	} else {
		STRESS_CHECK(rc == 0 && body == 0, "scope gave %d (body %d)", rc, body);
		count(7, 0);
	}
}

static int instance(void *arg, void **res)
{
	uintptr_t seed = (uintptr_t)arg;
	uint32_t rng = (uint32_t)(seed * 2654435761u) | 1;
	int kind = (int)(seed % NKINDS);
	switch (kind) {
	case 0: s_wait_for_future(&rng); break;
	case 1: s_wait_for_task(&rng); break;
	case 2: s_gather_cancel(&rng); break;
	case 3: s_shield(&rng); break;
	case 4: s_wait(&rng); break;
	case 5: s_as_completed(&rng); break;
	case 6: s_taskgroup(&rng); break;
	default: s_scope(&rng); break;
	}
	STRESS_CHECK(my_cancelling() == 0, "kind %d: cancelling %d left", kind, my_cancelling());
	int rc = weft_sleep(0);
	STRESS_CHECK(rc == 0, "kind %d: a cancel was left pending", kind);
	return 0;
}

static long nrounds;

static int main_task(void *arg, void **res)
{
	weft_future *t[BATCH];
	for (long n = 0; n < nrounds; n++) {
		bool mig = atomic_load(&migratable_run);
		for (int i = 0; i < BATCH; i++) {
			t[i] = weft_create_task(instance, (void *)(uintptr_t)(n * BATCH + i), NULL);
			weft_task_set_migratable(t[i], mig);
		}
		weft_future *g = weft_gather(t, BATCH, WEFT_RETURN_EXCEPTIONS);
		weft_outcome *o = NULL;
		int rc = weft_await(g, (void **)&o);
		STRESS_CHECK(rc == 0, "round gather: %s", weft_strerror(rc));
		for (int i = 0; rc == 0 && i < BATCH; i++)
			STRESS_CHECK(o[i].rc == 0, "instance %d: %s", i, weft_strerror(o[i].rc));
		weft_future_unref(g);
		for (int i = 0; i < BATCH; i++)
			weft_future_unref(t[i]);
		atomic_store_explicit(&progress, n + 1, memory_order_relaxed);
	}
	return 0;
}

static void run(unsigned workers, bool migratable, long rounds)
{
	double t0 = stress_elapsed();
	nrounds = rounds;
	atomic_store(&progress, 0);
	atomic_store(&migratable_run, migratable);
	for (int k = 0; k < NKINDS; k++)
		for (int j = 0; j < 3; j++)
			atomic_store(&outcome[k][j], 0);
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.workers = workers;
	weft_runtime *rt;
	stress_require_runtime(weft_runtime_create(&cfg, &rt));
	weft_future *m = weft_spawn(rt, main_task, NULL, "main");
	long before = -1;
	int rc;
	for (;;) {
		rc = weft_future_wait(m, 20.0 * WEFT_TEST_SLOW, NULL);
		if (rc != -ETIMEDOUT)
			break;
		long now = atomic_load(&progress);
		if (now == before) {
			fprintf(stderr, "compose_race: FAIL: %u workers: no round in %.0f s (at %ld)\n",
				workers, 20.0 * WEFT_TEST_SLOW, now);
			_exit(1);
		}
		before = now;
	}
	STRESS_CHECK(rc == 0, "main: %s", weft_strerror(rc));
	weft_future_unref(m);
	weft_runtime_destroy(rt);
	printf("compose_race: %u workers%s: %ld rounds of %d in %.2f s\n", workers,
	       migratable ? " (migratable)" : "", rounds, BATCH, stress_elapsed() - t0);
	static const char *names[NKINDS] = {"wait_for(future) value/timeout",
					    "wait_for(task) value/timeout",
					    "gather done/cancelled",
					    "shield value/cancelled",
					    "wait all/timeout",
					    "as_completed all/timeout",
					    "taskgroup ok/egroup/cancelled",
					    "scope ok/timeout"};
	for (int k = 0; k < NKINDS; k++)
		printf("  %-32s %ld / %ld / %ld\n", names[k], (long)outcome[k][0],
		       (long)outcome[k][1], (long)outcome[k][2]);
}

int main(void)
{
	stress_begin("compose_race");
	run(2, false, stress_count(400));
	run(2, true, stress_count(400));
	run(3, true, stress_count(300));
	run(4, false, stress_count(300));
	return stress_end();
}
