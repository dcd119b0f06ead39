/* SPDX-License-Identifier: MIT */
/*
 * With ONE worker (cfg.workers = 1) weft keeps asyncio's exact order
 * (DESIGN.md "One worker means asyncio's exact order"). Each expected log
 * below is what CPython's asyncio prints for the same program (checked
 * with CPython 3.11; the Python is in the comment). The rule that makes
 * them: BaseEventLoop._run_once runs exactly the callbacks in _ready when
 * the round starts; whatever they schedule (call_soon: a new task's first
 * __step, a sleep(0) task's next __step, a completed future's done
 * callbacks, which include an awaiting task's __wakeup) is appended to
 * _ready and runs in a later round.
 */
#include "rules.h" /* the scenarios the stress suite loops too */
#include "test_util.h"

static struct tu_log log_;

static int one(weft_task_fn fn, void *arg)
{
	return tu_run_n(1, fn, arg, NULL);
}

/* --- creation order and sleep(0) interleaving ----------------------------- */

/* async def ab(n):
 *     for i in 1, 2, 3: log(f'{n}{i}'); await asyncio.sleep(0)
 * async def main():
 *     ts = [create_task(ab(n)) for n in 'ABC']
 *     for t in ts: await t
 * → A1 B1 C1 A2 B2 C2 A3 B3 C3 */
static const char *const steps[3][3] = {
	{"A1", "A2", "A3"}, {"B1", "B2", "B3"}, {"C1", "C2", "C3"}};

static int abc(void *arg, void **res)
{
	const char *const *mine = arg;
	for (int i = 0; i < 3; i++) {
		tu_log_add(&log_, mine[i]);
		weft_sleep(0);
	}
	return 0;
}

static int abc_main(void *arg, void **res)
{
	weft_future *ts[3];
	for (int i = 0; i < 3; i++)
		ts[i] = weft_create_task(abc, (void *)steps[i], NULL);
	for (int i = 0; i < 3; i++) {
		weft_await(ts[i], NULL);
		weft_future_unref(ts[i]);
	}
	return 0;
}

Test(order, tasks_run_in_creation_order_and_sleep0_interleaves, .timeout = TEST_TIMEOUT)
{
	cr_assert_eq(one(abc_main, NULL), 0);
	tu_assert_log(&log_, "A1 B1 C1 A2 B2 C2 A3 B3 C3");
}

/* create_task never runs the task inside the call; the creator keeps
 * running until it suspends.
 * async def main():
 *     t = create_task(child()); log('created'); await asyncio.sleep(0); log('main')
 * → created child main */
static int log_child(void *arg, void **res)
{
	tu_log_add(&log_, "child");
	return 0;
}

static int created_main(void *arg, void **res)
{
	weft_future *t = weft_create_task(log_child, NULL, NULL);
	tu_log_add(&log_, "created");
	weft_sleep(0);
	tu_log_add(&log_, "main");
	weft_future_unref(t);
	return 0;
}

Test(order, new_task_starts_after_creator_suspends, .timeout = TEST_TIMEOUT)
{
	cr_assert_eq(one(created_main, NULL), 0);
	tu_assert_log(&log_, "created child main");
}

/* --- done callbacks run one round after completion ------------------------- */

/* async def child():  log('child-start'); await sleep(0); log('child-end')
 * async def ticker(): for i in range(4): log(f'tick{i}'); await sleep(0)
 * async def main():
 *     c = create_task(child()); c.add_done_callback(lambda _: log('cb'))
 *     t = create_task(ticker()); await t
 * → child-start tick0 child-end tick1 cb tick2 tick3
 *
 * Round by round: [main] creates c and t and suspends on t; [c, t]:
 * child-start, tick0; [c, t]: child-end, c completes and its callback is
 * call_soon'd behind t, tick1; [cb, t]: cb, tick2; [t]: tick3. So the
 * callback runs one round after the completion, after every task that was
 * already ready in the round the future completed. */
static const char *const ticks[] = {"tick0", "tick1", "tick2", "tick3"};

static int child_two_steps(void *arg, void **res)
{
	tu_log_add(&log_, "child-start");
	weft_sleep(0);
	tu_log_add(&log_, "child-end");
	return 0;
}

static int ticker(void *arg, void **res)
{
	for (int i = 0; i < 4; i++) {
		tu_log_add(&log_, ticks[i]);
		weft_sleep(0);
	}
	return 0;
}

static void log_cb(weft_future *f, void *arg)
{
	tu_log_add(&log_, arg);
}

static int cb_round_main(void *arg, void **res)
{
	weft_future *c = weft_create_task(child_two_steps, NULL, NULL);
	weft_future_add_done_callback(c, log_cb, "cb");
	weft_future *t = weft_create_task(ticker, NULL, NULL);
	weft_await(t, NULL);
	weft_future_unref(t);
	weft_future_unref(c);
	return 0;
}

Test(order, done_callback_runs_one_round_after_completion, .timeout = TEST_TIMEOUT)
{
	cr_assert_eq(one(cb_round_main, NULL), 0);
	tu_assert_log(&log_, "child-start tick0 child-end tick1 cb tick2 tick3");
}

/* An awaiting task resumes one round after the completion too.
 * async def child(): log('c'); return 5
 * async def main():
 *     c = create_task(child()); t = create_task(ticker()); log('main-created')
 *     await c; log('main-resumed'); await t
 * (ticker logs t0..t3) → main-created c t0 main-resumed t1 t2 t3 */
static const char *const tks[] = {"t0", "t1", "t2", "t3"};

static int ticker_t(void *arg, void **res)
{
	for (int i = 0; i < 4; i++) {
		tu_log_add(&log_, tks[i]);
		weft_sleep(0);
	}
	return 0;
}

static int log_c(void *arg, void **res)
{
	tu_log_add(&log_, "c");
	*res = (void *)5;
	return 0;
}

static int await_round_main(void *arg, void **res)
{
	weft_future *c = weft_create_task(log_c, NULL, NULL);
	weft_future *t = weft_create_task(ticker_t, NULL, NULL);
	tu_log_add(&log_, "main-created");
	weft_await(c, NULL);
	tu_log_add(&log_, "main-resumed");
	weft_await(t, NULL);
	weft_future_unref(c);
	weft_future_unref(t);
	return 0;
}

Test(order, awaiting_task_resumes_one_round_after_completion, .timeout = TEST_TIMEOUT)
{
	cr_assert_eq(one(await_round_main, NULL), 0);
	tu_assert_log(&log_, "main-created c t0 main-resumed t1 t2 t3");
}

/* --- waiters in registration order ------------------------------------------ */

/* An awaiting task is one more done callback (its __wakeup), registered
 * when it suspends; callbacks added before and after it run before and
 * after it.
 * async def w(fut): log('W-wait'); await fut; log('W-resumed')
 * async def main():
 *     fut = loop.create_future(); fut.add_done_callback(cb1)
 *     t = create_task(w(fut)); await sleep(0)
 *     fut.add_done_callback(cb2); fut.set_result(1); log('set')
 *     await sleep(0); log('main1'); await sleep(0); log('main2'); await t
 * → W-wait set cb1 W-resumed cb2 main1 main2 */
static int w_task(void *arg, void **res)
{
	tu_log_add(&log_, "W-wait");
	weft_await(arg, NULL);
	tu_log_add(&log_, "W-resumed");
	return 0;
}

static int registration_main(void *arg, void **res)
{
	weft_future *fut = weft_future_create(NULL);
	weft_future_add_done_callback(fut, log_cb, "cb1");
	weft_future *t = weft_create_task(w_task, fut, NULL);
	weft_sleep(0);
	weft_future_add_done_callback(fut, log_cb, "cb2");
	weft_future_set_result(fut, NULL);
	tu_log_add(&log_, "set");
	weft_sleep(0);
	tu_log_add(&log_, "main1");
	weft_sleep(0);
	tu_log_add(&log_, "main2");
	weft_await(t, NULL);
	weft_future_unref(t);
	weft_future_unref(fut);
	return 0;
}

Test(order, awaiting_task_resumes_in_registration_order, .timeout = TEST_TIMEOUT)
{
	cr_assert_eq(one(registration_main, NULL), 0);
	tu_assert_log(&log_, "W-wait set cb1 W-resumed cb2 main1 main2");
}

/* The same with the awaited thing a task, and two awaiting tasks:
 * async def main():
 *     c = create_task(child_two_steps()); c.add_done_callback(cb1)
 *     w1 = create_task(w(c)); c.add_done_callback(cb2)   # before w1 ran
 *     w2 = create_task(w2(c)); await w1; await w2; log('main')
 * Round 2: child-start, W-wait (w1 registers), W2-wait (w2 registers);
 * round 3: child-end (c completes: cb1 cb2 w1 w2 queued);
 * → child-start W-wait W2-wait child-end cb1 cb2 W-resumed W2-resumed main */
static int w2_task(void *arg, void **res)
{
	tu_log_add(&log_, "W2-wait");
	weft_await(arg, NULL);
	tu_log_add(&log_, "W2-resumed");
	return 0;
}

static int task_registration_main(void *arg, void **res)
{
	weft_future *c = weft_create_task(child_two_steps, NULL, NULL);
	weft_future_add_done_callback(c, log_cb, "cb1");
	weft_future *w1 = weft_create_task(w_task, c, NULL);
	weft_future_add_done_callback(c, log_cb, "cb2");
	weft_future *w2 = weft_create_task(w2_task, c, NULL);
	weft_await(w1, NULL);
	weft_await(w2, NULL);
	tu_log_add(&log_, "main");
	weft_future_unref(c);
	weft_future_unref(w1);
	weft_future_unref(w2);
	return 0;
}

Test(order, waiters_on_a_task_in_registration_order, .timeout = TEST_TIMEOUT)
{
	cr_assert_eq(one(task_registration_main, NULL), 0);
	tu_assert_log(&log_,
		      "child-start W-wait W2-wait child-end cb1 cb2 W-resumed W2-resumed main");
}

/* --- callbacks and done futures --------------------------------------------- */

/* A callback added to a done future is call_soon'd: it runs after the
 * current task suspends, before it resumes.
 * async def main():
 *     fut = loop.create_future(); fut.set_result(1)
 *     fut.add_done_callback(cb); log('added'); await sleep(0); log('after')
 * → added cb after */
static int add_done_main(void *arg, void **res)
{
	weft_future *fut = weft_future_create(NULL);
	weft_future_set_result(fut, NULL);
	weft_future_add_done_callback(fut, log_cb, "cb");
	tu_log_add(&log_, "added");
	weft_sleep(0);
	tu_log_add(&log_, "after");
	weft_future_unref(fut);
	return 0;
}

Test(order, callback_on_done_future_runs_next_round, .timeout = TEST_TIMEOUT)
{
	cr_assert_eq(one(add_done_main, NULL), 0);
	tu_assert_log(&log_, "added cb after");
}

/* Awaiting a done future does not suspend: no other ready task runs.
 * async def main():
 *     fut = create_future(); fut.set_result(1); t = create_task(child())
 *     await fut; log('main'); await t
 * → main child */
static int await_done_main(void *arg, void **res)
{
	weft_future *fut = weft_future_create(NULL);
	weft_future_set_result(fut, NULL);
	weft_future *t = weft_create_task(log_child, NULL, NULL);
	for (int i = 0; i < 10; i++)
		weft_await(fut, NULL);
	tu_log_add(&log_, "main");
	weft_await(t, NULL);
	weft_future_unref(t);
	weft_future_unref(fut);
	return 0;
}

Test(order, awaiting_a_done_future_does_not_suspend, .timeout = TEST_TIMEOUT)
{
	cr_assert_eq(one(await_done_main, NULL), 0);
	tu_assert_log(&log_, "main child");
}

/* A callback that completes another future: its callbacks are queued
 * behind everything already ready (they run a round later still).
 * fut1.add_done_callback(lambda _: (log('cb1'), fut2.set_result(1)))
 * fut2.add_done_callback(lambda _: log('cb2'))
 * fut1.set_result(1); log('set'); await sleep(0); log('m1'); await sleep(0); log('m2')
 * → set cb1 m1 cb2 m2 */
static weft_future *fut2;

static void chain_cb(weft_future *f, void *arg)
{
	tu_log_add(&log_, "cb1");
	weft_future_set_result(fut2, NULL);
}

static int chain_main(void *arg, void **res)
{
	weft_future *fut1 = weft_future_create(NULL);
	fut2 = weft_future_create(NULL);
	weft_future_add_done_callback(fut1, chain_cb, NULL);
	weft_future_add_done_callback(fut2, log_cb, "cb2");
	weft_future_set_result(fut1, NULL);
	tu_log_add(&log_, "set");
	weft_sleep(0);
	tu_log_add(&log_, "m1");
	weft_sleep(0);
	tu_log_add(&log_, "m2");
	weft_future_unref(fut1);
	weft_future_unref(fut2);
	return 0;
}

Test(order, callback_completing_a_future_queues_behind_ready_work, .timeout = TEST_TIMEOUT)
{
	cr_assert_eq(one(chain_main, NULL), 0);
	tu_assert_log(&log_, "set cb1 m1 cb2 m2");
}

/* Tasks spawned from a foreign thread start in spawn order (the inject
 * queue is FIFO): asyncio's run_coroutine_threadsafe goes through
 * call_soon_threadsafe, which keeps order too. */
static const char *const firsts[3] = {"A", "B", "C"};

static int log_once(void *arg, void **res)
{
	tu_log_add(&log_, arg);
	return 0;
}

Test(order, foreign_spawns_start_in_order, .timeout = TEST_TIMEOUT)
{
	weft_runtime *rt = tu_runtime(1);
	for (int round = 0; round < 20; round++) {
		tu_log_reset(&log_);
		weft_future *ts[3];
		for (int i = 0; i < 3; i++)
			ts[i] = weft_spawn(rt, log_once, (void *)firsts[i], NULL);
		for (int i = 0; i < 3; i++) {
			cr_assert_eq(weft_future_wait(ts[i], 5.0 * WEFT_TEST_SLOW, NULL), 0);
			weft_future_unref(ts[i]);
		}
		tu_assert_log(&log_, "A B C");
	}
	weft_runtime_destroy(rt);
}

/* The same registration order when a foreign thread completes the future:
 * the callbacks travel through the inject queue and the awaiting task's
 * wake through the worker's inbox, yet the three must still run in the
 * order they were registered (weft/future.h: "in registration order";
 * asyncio: loop.call_soon_threadsafe(fut.set_result, 1) runs cb1,
 * W's __wakeup, cb2 in that order). */
static weft_future *xfut;

static int foreign_setup(void *arg, void **res)
{
	weft_future_add_done_callback(xfut, log_cb, "cb1");
	*res = weft_create_task(w_task, xfut, NULL);
	weft_sleep(0); /* W runs and registers on xfut */
	weft_future_add_done_callback(xfut, log_cb, "cb2");
	return 0;
}

Test(order, foreign_completion_keeps_registration_order, .timeout = TEST_TIMEOUT)
{
	weft_runtime *rt = tu_runtime(1);
	xfut = weft_future_create(rt);
	weft_future *setup = weft_spawn(rt, foreign_setup, NULL, NULL);
	void *v = NULL;
	cr_assert_eq(weft_future_wait(setup, 5.0 * WEFT_TEST_SLOW, &v), 0);
	weft_future *w = v;
	cr_assert_eq(weft_future_set_result(xfut, NULL), 0);
	cr_assert_eq(weft_future_wait(w, 5.0 * WEFT_TEST_SLOW, NULL), 0);
	/* cb2 may run after W finished: wait for the whole log */
	for (int i = 0; i < 5000 && tu_log_len(&log_) < 4; i++)
		tu_nap_ms(1);
	tu_assert_log(&log_, "W-wait cb1 W-resumed cb2");
	weft_future_unref(w);
	weft_future_unref(setup);
	weft_future_unref(xfut);
	weft_runtime_destroy(rt);
}

/* --- a yield lets what was queued before it run first, on any workers ---- */

/* The scenario and its asyncio original are in rules.h: a callback, three
 * new tasks and a woken task are queued before main's sleep(0); with 2
 * workers the new tasks sat in the stealable ring and main, in the home
 * queue, came back before some of them. */

static int yield_order_main(void *arg, void **res)
{
	return rule_yield_order(arg);
}

Test(order, what_was_queued_before_a_yield_runs_before_the_task_resumes, .timeout = TEST_TIMEOUT)
{
	for (unsigned w = 1; w <= 2; w++) {
		struct rule_log log = {0};
		struct rule_yield_args a = {.workers = w, .runs = 10, .log = &log};
		cr_assert_eq(tu_run_n(w, yield_order_main, &a, NULL), 0);
		cr_assert_eq(a.bad, 0, "workers=%u: main resumed early in %ld of 10 runs", w, a.bad);
		if (w == 1) {
			char buf[128] = "";
			for (int i = 0; i < atomic_load(&log.n); i++)
				snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%s",
					 i ? " " : "", log.ev[i]);
			cr_assert_str_eq(buf, "cb c1 c2 c3 b main");
		}
	}
}

/* A sleep is a call_later handle that completes the sleep's future: when
 * it is due with a callback, the callback runs in that round and the
 * sleeping task one round later (paused clock: both deadlines equal).
 * async def sleeper(): await asyncio.sleep(0.01); log('sleeper')
 * async def main():
 *     t = create_task(sleeper()); await asyncio.sleep(0)
 *     loop.call_later(0.01, lambda: log('cb')); await t
 * → cb sleeper (CPython 3.11) */
static int sleeper_logs(void *arg, void **res)
{
	int rc = weft_sleep(0.01);
	tu_log_add(&log_, "sleeper");
	return rc;
}

static void log_call(void *arg)
{
	tu_log_add(&log_, "cb");
}

static int due_together_main(void *arg, void **res)
{
	weft_future *t = weft_create_task(sleeper_logs, NULL, NULL);
	weft_sleep(0);
	int rc = weft_call_later(0.01, log_call, NULL, NULL);
	int trc = weft_await(t, NULL);
	weft_future_unref(t);
	return rc ? rc : trc;
}

Test(order, a_due_sleep_resumes_its_task_one_round_after_its_timer, .timeout = TEST_TIMEOUT)
{
	weft_config cfg = tu_config(1);
	cfg.paused_clock = true;
	cr_assert_eq(tu_run(due_together_main, NULL, &cfg, NULL), 0);
	tu_assert_log(&log_, "cb sleeper");
}
