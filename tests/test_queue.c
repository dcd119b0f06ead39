/* SPDX-License-Identifier: MIT */
/*
 * weft_queue (weft/queue.h), mirroring CPython's
 * Lib/test/test_asyncio/test_queues.py (3.13, with shutdown): the asyncio
 * test each one follows is named above it. Exact-order tests run on ONE
 * worker with the paused clock; a few run on several workers or feed the
 * queue from a foreign thread. Tasks record; the test asserts after
 * weft_run returned.
 */
#include <pthread.h>
#include <stdint.h>

#include "test_util.h"

#define V(n) ((void *)(uintptr_t)(n))
#define I(p) ((int)(uintptr_t)(p))

static int r[32];
static int v[32];
static bool b[32];
static size_t z[32];
static struct tu_log lg;
static weft_future *t[8];
static weft_queue *q;

static void reset(void)
{
	memset(r, 0x7f, sizeof(r));
	memset(v, 0x7f, sizeof(v));
	memset(b, 0, sizeof(b));
	memset(z, 0xff, sizeof(z));
	memset(t, 0, sizeof(t));
	tu_log_reset(&lg);
}

/* The value a finished task returned (as an int), or -1. */
static int value_of(weft_future *f)
{
	void *x = NULL;
	return weft_future_result(f, &x) == 0 ? I(x) : -1;
}

static void fifo(size_t maxsize)
{
	cr_assert_eq(weft_queue_create(&q, WEFT_QUEUE_FIFO, maxsize, NULL, NULL), 0);
}

/* The start of most tests: fresh records, a FIFO queue of maxsize, then
 * main on one worker with the paused clock. A macro, so a failure names
 * the test's line. */
#define RUN_FIFO(maxsize, main)                                                                    \
	do {                                                                                       \
		reset();                                                                           \
		fifo(maxsize);                                                                     \
		cr_assert_eq(tu_run_paused((main), NULL), 0);                                      \
	} while (0)

/* Task bodies. */
static int q_get(void *arg, void **res)
{
	return weft_queue_get(q, res);
}

static int q_put(void *arg, void **res)
{
	return weft_queue_put(q, arg);
}

static int q_join(void *arg, void **res)
{
	return weft_queue_join(q);
}

/* ---- basics ---------------------------------------------------------------- */

/* test_empty */
Test(queue, empty)
{
	fifo(0);
	cr_assert(weft_queue_empty(q));
	cr_assert_eq(weft_queue_put_nowait(q, V(1)), 0);
	cr_assert_not(weft_queue_empty(q));
	void *x;
	cr_assert_eq(weft_queue_get_nowait(q, &x), 0);
	cr_assert_eq(I(x), 1);
	cr_assert(weft_queue_empty(q));
	cr_assert_eq(weft_queue_destroy(q), 0);
}

/* test_full */
Test(queue, full)
{
	fifo(0);
	cr_assert_not(weft_queue_full(q));
	cr_assert_eq(weft_queue_maxsize(q), 0);
	cr_assert_eq(weft_queue_destroy(q), 0);
	fifo(1);
	cr_assert_eq(weft_queue_put_nowait(q, V(1)), 0);
	cr_assert(weft_queue_full(q));
	cr_assert_eq(weft_queue_maxsize(q), 1);
	cr_assert_eq(weft_queue_destroy(q), 0);
}

/* Priority by the integer's value (the smallest first). */
static int by_value(const void *a, const void *b_, void *arg)
{
	uintptr_t x = (uintptr_t)a, y = (uintptr_t)b_;
	return x < y ? -1 : x > y;
}

/* QueueBasicTests.test_order, LifoQueueTests.test_order and
 * PriorityQueueTests.test_order, a row each: put 1, 3, 2; get all three. */
struct order_case {
	char name[24]; /* the CPython test class */
	enum weft_queue_kind kind;
	int want[3];
};

ParameterizedTestParameters(queue, order)
{
	static struct order_case cases[] = {
		{"QueueBasicTests", WEFT_QUEUE_FIFO, {1, 3, 2}},
		{"LifoQueueTests", WEFT_QUEUE_LIFO, {2, 3, 1}},
		{"PriorityQueueTests", WEFT_QUEUE_PRIORITY, {1, 2, 3}}, /* by_value */
	};
	return TU_PARAMS(struct order_case, cases);
}

ParameterizedTest(struct order_case *c, queue, order)
{
	weft_queue_cmp cmp = c->kind == WEFT_QUEUE_PRIORITY ? by_value : NULL;
	cr_assert_eq(weft_queue_create(&q, c->kind, 0, cmp, NULL), 0, "%s", c->name);
	int in[] = {1, 3, 2}, out[3];
	for (int i = 0; i < 3; i++)
		cr_assert_eq(weft_queue_put_nowait(q, V(in[i])), 0, "%s", c->name);
	for (int i = 0; i < 3; i++) {
		void *x;
		cr_assert_eq(weft_queue_get_nowait(q, &x), 0, "%s", c->name);
		out[i] = I(x);
	}
	cr_assert(out[0] == c->want[0] && out[1] == c->want[1] && out[2] == c->want[2],
		  "%s: got %d %d %d", c->name, out[0], out[1], out[2]);
	cr_assert_eq(weft_queue_destroy(q), 0, "%s", c->name);
}

/* Equal priorities come out in insertion order (asyncio would compare the
 * whole tuple; weft keeps a stable order instead). Priority = value / 100. */
static int by_hundreds(const void *a, const void *b_, void *arg)
{
	uintptr_t x = (uintptr_t)a / 100, y = (uintptr_t)b_ / 100;
	return x < y ? -1 : x > y;
}

Test(queue, priority_is_stable)
{
	cr_assert_eq(weft_queue_create(&q, WEFT_QUEUE_PRIORITY, 0, by_hundreds, NULL), 0);
	int in[] = {305, 101, 302, 103, 304, 102, 301, 104, 303, 105, 201};
	int want[] = {101, 103, 102, 104, 105, 201, 305, 302, 304, 301, 303};
	for (int i = 0; i < 11; i++)
		cr_assert_eq(weft_queue_put_nowait(q, V(in[i])), 0);
	for (int i = 0; i < 11; i++) {
		void *x;
		cr_assert_eq(weft_queue_get_nowait(q, &x), 0);
		cr_assert_eq(I(x), want[i], "item %d", i);
	}
	cr_assert_eq(weft_queue_destroy(q), 0);
}

/* An unbounded queue grows past its first storage, and a FIFO ring that
 * has wrapped keeps its order. */
Test(queue, grows_in_order)
{
	fifo(0);
	int next_in = 0, next_out = 0;
	for (int round = 0; round < 50; round++) {
		for (int i = 0; i < 40; i++)
			cr_assert_eq(weft_queue_put_nowait(q, V(next_in++)), 0);
		for (int i = 0; i < 30; i++) {
			void *x;
			cr_assert_eq(weft_queue_get_nowait(q, &x), 0);
			cr_assert_eq(I(x), next_out++);
		}
	}
	cr_assert_eq(weft_queue_qsize(q), (size_t)(next_in - next_out));
	void *x;
	while (weft_queue_get_nowait(q, &x) == 0)
		cr_assert_eq(I(x), next_out++);
	cr_assert_eq(next_out, next_in);
	cr_assert_eq(weft_queue_destroy(q), 0);
}

/* test_nonblocking_get_exception / test_nonblocking_put_exception */
Test(queue, nowait_empty_and_full_are_eagain)
{
	fifo(1);
	void *x;
	cr_assert_eq(weft_queue_get_nowait(q, &x), -EAGAIN);
	cr_assert_eq(weft_queue_put_nowait(q, V(1)), 0);
	cr_assert_eq(weft_queue_put_nowait(q, V(2)), -EAGAIN);
	cr_assert_eq(weft_queue_qsize(q), 1);
	cr_assert_eq(weft_queue_destroy(q), 0);
}

/* test_maxsize: the putter blocks after two items and resumes when one
 * is taken. */
static int have_been_put;

static int putter3(void *arg, void **res)
{
	for (int i = 0; i < 3; i++) {
		int rc = weft_queue_put(q, V(i));
		if (rc)
			return rc;
		have_been_put = i + 1;
	}
	return 0;
}

static int maxsize_main(void *arg, void **res)
{
	have_been_put = 0;
	t[0] = tu_spawn(putter3, NULL);
	tu_yield();
	tu_yield();
	r[0] = have_been_put;
	void *x;
	r[1] = weft_queue_get(q, &x);
	v[0] = I(x);
	tu_yield();
	r[2] = have_been_put;
	weft_queue_get(q, &x);
	v[1] = I(x);
	weft_queue_get(q, &x);
	v[2] = I(x);
	r[3] = tu_outcome(t[0]);
	tu_reap(t, 1);
	return 0;
}

Test(queue, maxsize, .timeout = TEST_TIMEOUT)
{
	RUN_FIFO(2, maxsize_main);
	cr_assert_eq(r[0], 2, "blocked after two");
	cr_assert_eq(r[1], 0);
	cr_assert_eq(v[0], 0);
	cr_assert_eq(r[2], 3);
	cr_assert_eq(v[1], 1);
	cr_assert_eq(v[2], 2);
	cr_assert_eq(r[3], 0);
	cr_assert_eq(weft_queue_destroy(q), 0);
}

/* ---- get --------------------------------------------------------------------- */

/* test_blocking_get: an item already there is returned at once. */
static int blocking_get_main(void *arg, void **res)
{
	void *x;
	r[0] = weft_queue_get(q, &x);
	v[0] = I(x);
	return 0;
}

Test(queue, blocking_get, .timeout = TEST_TIMEOUT)
{
	reset();
	fifo(0);
	weft_queue_put_nowait(q, V(1));
	cr_assert_eq(tu_run_paused(blocking_get_main, NULL), 0);
	cr_assert_eq(r[0], 0);
	cr_assert_eq(v[0], 1);
	cr_assert_eq(weft_queue_destroy(q), 0);
}

/* test_get_with_putters / test_get_with_waiting_putters: a get from a
 * full queue lets the first blocked putter in. */
static int get_with_waiting_putters_main(void *arg, void **res)
{
	t[0] = tu_spawn(q_put, V('a'));
	t[1] = tu_spawn(q_put, V('b'));
	tu_yield();
	void *x;
	r[0] = weft_queue_get(q, &x);
	v[0] = I(x);
	r[1] = weft_queue_get(q, &x);
	v[1] = I(x);
	r[2] = weft_await(t[0], NULL);
	r[3] = weft_await(t[1], NULL);
	tu_reap(t, 2);
	return 0;
}

Test(queue, get_with_waiting_putters, .timeout = TEST_TIMEOUT)
{
	RUN_FIFO(1, get_with_waiting_putters_main);
	cr_assert_eq(r[0], 0);
	cr_assert_eq(v[0], 'a');
	cr_assert_eq(r[1], 0);
	cr_assert_eq(v[1], 'b');
	cr_assert_eq(r[2], 0);
	cr_assert_eq(r[3], 0, "b's put finished when its item moved in");
	cr_assert_eq(weft_queue_destroy(q), 0);
}

/* test_blocking_get_wait: a getter waits until a call_later puts. */
static void put_one(void *arg)
{
	weft_queue_put_nowait(q, arg);
}

static int blocking_get_wait_main(void *arg, void **res)
{
	double t0 = weft_time();
	t[0] = tu_spawn(q_get, NULL);
	tu_yield();
	b[0] = weft_future_done(t[0]);
	weft_call_later(0.01, put_one, V(1), NULL);
	r[0] = weft_await(t[0], NULL);
	v[0] = value_of(t[0]);
	r[1] = tu_elapsed_ms(t0);
	tu_reap(t, 1);
	return 0;
}

Test(queue, blocking_get_wait, .timeout = TEST_TIMEOUT)
{
	RUN_FIFO(0, blocking_get_wait_main);
	cr_assert_not(b[0]);
	cr_assert_eq(r[0], 0);
	cr_assert_eq(v[0], 1);
	cr_assert_eq(r[1], 10);
	cr_assert_eq(weft_queue_destroy(q), 0);
}

/* test_get_cancelled_race: a cancelled getter is skipped; the item goes
 * to the next one. */
static int get_cancelled_race_main(void *arg, void **res)
{
	t[0] = tu_spawn(q_get, NULL);
	t[1] = tu_spawn(q_get, NULL);
	tu_yield();
	weft_cancel(t[0], NULL);
	tu_yield();
	b[0] = weft_future_done(t[0]);
	r[0] = tu_outcome(t[0]);
	weft_queue_put(q, V('a'));
	tu_yield();
	r[1] = weft_await(t[1], NULL);
	v[0] = value_of(t[1]);
	tu_reap(t, 2);
	return 0;
}

Test(queue, get_cancelled_race, .timeout = TEST_TIMEOUT)
{
	RUN_FIFO(0, get_cancelled_race_main);
	cr_assert(b[0]);
	cr_assert_eq(r[0], -ECANCELED);
	cr_assert_eq(r[1], 0);
	cr_assert_eq(v[0], 'a');
	cr_assert_eq(weft_queue_destroy(q), 0);
}

/* Waiting getters are served in the order they started waiting. */
static int getters_fifo_main(void *arg, void **res)
{
	for (int i = 0; i < 4; i++) {
		t[i] = tu_spawn(q_get, NULL);
		tu_yield();
	}
	for (int i = 0; i < 4; i++)
		weft_queue_put_nowait(q, V(10 + i));
	b[0] = weft_queue_empty(q);
	for (int i = 0; i < 4; i++) {
		weft_await(t[i], NULL);
		v[i] = value_of(t[i]);
	}
	tu_reap(t, 4);
	return 0;
}

Test(queue, getters_served_in_fifo_order, .timeout = TEST_TIMEOUT)
{
	RUN_FIFO(0, getters_fifo_main);
	cr_assert(b[0], "items went straight to the getters");
	for (int i = 0; i < 4; i++)
		cr_assert_eq(v[i], 10 + i);
	cr_assert_eq(weft_queue_destroy(q), 0);
}

/* An item handed to a waiting getter is its: get_nowait from elsewhere
 * cannot take it (asyncio would let get_nowait barge). */
static int no_barging_main(void *arg, void **res)
{
	t[0] = tu_spawn(q_get, NULL);
	tu_yield();
	weft_queue_put_nowait(q, V(7));
	void *x;
	r[0] = weft_queue_get_nowait(q, &x);
	r[1] = weft_await(t[0], NULL);
	v[0] = value_of(t[0]);
	tu_reap(t, 1);
	return 0;
}

Test(queue, get_nowait_cannot_barge_past_a_getter, .timeout = TEST_TIMEOUT)
{
	RUN_FIFO(0, no_barging_main);
	cr_assert_eq(r[0], -EAGAIN);
	cr_assert_eq(r[1], 0);
	cr_assert_eq(v[0], 7);
	cr_assert_eq(weft_queue_destroy(q), 0);
}

/* test_why_are_getters_waiting: a producer and a consumer through a
 * queue of one. */
static int producer(void *arg, void **res)
{
	for (int i = 0; i < I(arg); i++) {
		int rc = weft_queue_put(q, V(i));
		if (rc)
			return rc;
	}
	return 0;
}

static int consumer(void *arg, void **res)
{
	for (int i = 0; i < I(arg); i++) {
		void *x;
		int rc = weft_queue_get(q, &x);
		if (rc)
			return rc;
		if (I(x) != i)
			return -EPROTO;
	}
	return 0;
}

static int getters_waiting_main(void *arg, void **res)
{
	t[0] = tu_spawn(producer, V(5));
	t[1] = tu_spawn(consumer, V(5));
	r[0] = weft_await(t[0], NULL);
	r[1] = weft_await(t[1], NULL);
	tu_reap(t, 2);
	return 0;
}

Test(queue, why_are_getters_waiting, .timeout = TEST_TIMEOUT)
{
	RUN_FIFO(1, getters_waiting_main);
	cr_assert_eq(r[0], 0);
	cr_assert_eq(r[1], 0);
	cr_assert_eq(weft_queue_destroy(q), 0);
}

/* test_cancelled_getters_not_being_held_in_self_getters: a get timed out
 * through wait_for leaves no getter behind. */
static int getter_timeout_main(void *arg, void **res)
{
	t[0] = tu_spawn(q_get, NULL);
	r[0] = weft_wait_for(t[0], 0.1, NULL);
	tu_reap(t, 1);
	r[1] = weft_queue_destroy(q);
	q = NULL;
	return 0;
}

Test(queue, cancelled_getters_not_held, .timeout = TEST_TIMEOUT)
{
	RUN_FIFO(5, getter_timeout_main);
	cr_assert_eq(r[0], -ETIMEDOUT);
	cr_assert_eq(r[1], 0, "no getter left: destroy works");
}

/* A timeout scope around get: -ETIMEDOUT, nothing taken; an item put
 * afterwards stays in the queue. */
static int get_scope_main(void *arg, void **res)
{
	weft_timeout scope;
	weft_timeout_enter_after(&scope, 0.05);
	void *x = NULL;
	r[0] = weft_timeout_exit(&scope, weft_queue_get(q, &x));
	weft_queue_put_nowait(q, V(3));
	z[0] = weft_queue_qsize(q);
	return 0;
}

Test(queue, timeout_scope_around_get, .timeout = TEST_TIMEOUT)
{
	RUN_FIFO(0, get_scope_main);
	cr_assert_eq(r[0], -ETIMEDOUT);
	cr_assert_eq(z[0], 1);
	cr_assert_eq(weft_queue_destroy(q), 0);
}

/* test_get_cancel_drop_one_pending_reader. asyncio: the reader is
 * cancelled and item 1 stays for the retry. weft: item 1 was handed to
 * the reader at put time, so the reader returns it (0) and the cancel
 * stays pending for its next suspension point. Either way 1 is not
 * dropped and 2 stays queued. */
static int reader(void *arg, void **res)
{
	void *x = NULL;
	int rc = weft_queue_get(q, &x);
	v[10] = I(x);
	r[10] = rc;
	r[11] = weft_sleep(0); /* the pending cancel */
	*res = x;
	return 0;
}

static int drop_one_pending_reader_main(void *arg, void **res)
{
	t[0] = tu_spawn(reader, NULL);
	tu_yield();
	weft_queue_put_nowait(q, V(1));
	weft_queue_put_nowait(q, V(2));
	b[0] = weft_cancel(t[0], NULL);
	r[0] = weft_await(t[0], NULL);
	z[0] = weft_queue_qsize(q);
	void *x;
	weft_queue_get_nowait(q, &x);
	v[0] = I(x);
	tu_reap(t, 1);
	return 0;
}

Test(queue, get_cancel_drop_one_pending_reader, .timeout = TEST_TIMEOUT)
{
	RUN_FIFO(0, drop_one_pending_reader_main);
	cr_assert(b[0]);
	cr_assert_eq(r[10], 0, "the handed item is returned");
	cr_assert_eq(v[10], 1);
	cr_assert_eq(r[11], -ECANCELED, "the cancel arrives at the next suspension");
	cr_assert_eq(z[0], 1);
	cr_assert_eq(v[0], 2);
	cr_assert_eq(weft_queue_destroy(q), 0);
}

/* test_get_cancel_drop_many_pending_readers: readers 1..3, two items, the
 * first reader cancelled after the hand-over: every item reaches exactly
 * one reader (weft: readers 1 and 2; asyncio: 2 and 3). Reader 1's get
 * returns its item with the cancel still pending, and a task that returns
 * then ends cancelled (asyncio's _must_cancel rule): its function saw the
 * item (v[20]), its awaiter sees -ECANCELED. */
static int q_get_seen(void *arg, void **res)
{
	int rc = weft_queue_get(q, res);
	v[20 + I(arg)] = I(*res);
	return rc;
}

static int many_readers_main(void *arg, void **res)
{
	tu_spawn_n(t, 3, q_get_seen);
	tu_yield();
	weft_queue_put_nowait(q, V(1));
	weft_queue_put_nowait(q, V(2));
	weft_cancel(t[0], NULL);
	r[0] = weft_await(t[0], NULL);
	r[1] = weft_await(t[1], NULL);
	v[0] = v[20];
	v[1] = value_of(t[1]);
	b[0] = weft_future_done(t[2]);
	weft_cancel(t[2], NULL);
	r[2] = weft_await(t[2], NULL);
	tu_reap(t, 3);
	return 0;
}

Test(queue, get_cancel_drop_many_pending_readers, .timeout = TEST_TIMEOUT)
{
	RUN_FIFO(0, many_readers_main);
	cr_assert_eq(r[0], -ECANCELED, "returned with the cancel pending");
	cr_assert_eq(r[1], 0);
	cr_assert_eq(v[0], 1);
	cr_assert_eq(v[1], 2);
	cr_assert_not(b[0]);
	cr_assert_eq(r[2], -ECANCELED, "the third took nothing");
	cr_assert(weft_queue_empty(q));
	cr_assert_eq(weft_queue_destroy(q), 0);
}

/* ---- put --------------------------------------------------------------------- */

/* test_blocking_put: no maxsize, no blocking. */
static int blocking_put_main(void *arg, void **res)
{
	r[0] = weft_queue_put(q, V(1));
	void *x;
	r[1] = weft_queue_get(q, &x);
	v[0] = I(x);
	return 0;
}

Test(queue, blocking_put, .timeout = TEST_TIMEOUT)
{
	RUN_FIFO(0, blocking_put_main);
	cr_assert_eq(r[0], 0);
	cr_assert_eq(r[1], 0);
	cr_assert_eq(v[0], 1);
	cr_assert_eq(weft_queue_destroy(q), 0);
}

/* test_blocking_put_wait: a putter blocks until a call_later gets. */
static void get_one(void *arg)
{
	void *x;
	weft_queue_get_nowait(q, &x);
}

static int put_two(void *arg, void **res)
{
	int rc = weft_queue_put(q, V(1));
	if (!rc)
		rc = weft_queue_put(q, V(2));
	b[10] = rc == 0;
	return rc;
}

static int blocking_put_wait_main(void *arg, void **res)
{
	double t0 = weft_time();
	weft_call_later(0.01, get_one, NULL, NULL);
	t[0] = tu_spawn(put_two, NULL);
	tu_yield();
	b[0] = b[10];
	r[0] = weft_await(t[0], NULL);
	r[1] = tu_elapsed_ms(t0);
	tu_reap(t, 1);
	return 0;
}

Test(queue, blocking_put_wait, .timeout = TEST_TIMEOUT)
{
	RUN_FIFO(1, blocking_put_wait_main);
	cr_assert_not(b[0]);
	cr_assert_eq(r[0], 0);
	cr_assert(b[10]);
	cr_assert_eq(r[1], 10);
	cr_assert_eq(weft_queue_qsize(q), 1);
	cr_assert_eq(weft_queue_destroy(q), 0);
}

/* test_put_cancel_drop. asyncio: the writer is cancelled after its slot
 * freed and retries. weft: its item moved in when the slot freed, so the
 * put returns 0 (the cancel stays pending). Either way exactly one 2. */
static int writer(void *arg, void **res)
{
	r[10] = weft_queue_put(q, V(2));
	r[11] = weft_sleep(0);
	return 0;
}

/* Inside a task, on a queue of one: 1 fills it, t[0] = the writer blocks
 * putting 2, a get_nowait frees the slot (2 moves in), then the writer is
 * cancelled and awaited. Returns the item the get took. */
static int cancel_writer_after_its_item_moved_in(void)
{
	weft_queue_put_nowait(q, V(1));
	t[0] = tu_spawn(writer, NULL);
	tu_yield();
	void *x;
	weft_queue_get_nowait(q, &x);
	weft_cancel(t[0], NULL);
	weft_await(t[0], NULL);
	return I(x);
}

static int put_cancel_drop_main(void *arg, void **res)
{
	v[0] = cancel_writer_after_its_item_moved_in();
	void *x;
	r[0] = weft_queue_get_nowait(q, &x);
	v[1] = I(x);
	z[0] = weft_queue_qsize(q);
	tu_reap(t, 1);
	return 0;
}

Test(queue, put_cancel_drop, .timeout = TEST_TIMEOUT)
{
	RUN_FIFO(1, put_cancel_drop_main);
	cr_assert_eq(v[0], 1);
	cr_assert_eq(r[10], 0, "the item moved in: the put succeeded");
	cr_assert_eq(r[11], -ECANCELED);
	cr_assert_eq(r[0], 0);
	cr_assert_eq(v[1], 2);
	cr_assert_eq(z[0], 0);
	cr_assert_eq(weft_queue_destroy(q), 0);
}

/* test_put_cancelled: a put into an unbounded queue finishes at once. */
static int put_cancelled_main(void *arg, void **res)
{
	t[0] = tu_spawn(q_put, V(1));
	void *x;
	r[0] = weft_queue_get(q, &x);
	v[0] = I(x);
	b[0] = weft_future_done(t[0]);
	r[1] = tu_outcome(t[0]);
	tu_reap(t, 1);
	return 0;
}

Test(queue, put_cancelled, .timeout = TEST_TIMEOUT)
{
	RUN_FIFO(0, put_cancelled_main);
	cr_assert_eq(r[0], 0);
	cr_assert_eq(v[0], 1);
	cr_assert(b[0]);
	cr_assert_eq(r[1], 0);
	cr_assert_eq(weft_queue_destroy(q), 0);
}

/* test_put_cancelled_race: a cancelled putter never inserts; the others
 * go in in order. */
static int put_cancelled_race_main(void *arg, void **res)
{
	t[0] = tu_spawn(q_put, V('a'));
	t[1] = tu_spawn(q_put, V('b'));
	t[2] = tu_spawn(q_put, V('X'));
	tu_yield();
	b[0] = weft_future_done(t[0]);
	b[1] = weft_future_done(t[1]);
	weft_cancel(t[2], NULL);
	tu_yield();
	b[2] = weft_future_done(t[2]);
	r[0] = tu_outcome(t[2]);
	void *x;
	weft_queue_get_nowait(q, &x);
	v[0] = I(x);
	tu_yield();
	weft_queue_get_nowait(q, &x);
	v[1] = I(x);
	r[1] = weft_await(t[1], NULL);
	r[2] = weft_queue_get_nowait(q, &x);
	tu_reap(t, 3);
	return 0;
}

Test(queue, put_cancelled_race, .timeout = TEST_TIMEOUT)
{
	RUN_FIFO(1, put_cancelled_race_main);
	cr_assert(b[0]);
	cr_assert_not(b[1]);
	cr_assert(b[2]);
	cr_assert_eq(r[0], -ECANCELED);
	cr_assert_eq(v[0], 'a');
	cr_assert_eq(v[1], 'b');
	cr_assert_eq(r[1], 0);
	cr_assert_eq(r[2], -EAGAIN, "X never went in");
	cr_assert_eq(weft_queue_destroy(q), 0);
}

/* test_put_with_waiting_getters */
static int put_with_waiting_getters_main(void *arg, void **res)
{
	t[0] = tu_spawn(q_get, NULL);
	tu_yield();
	r[0] = weft_queue_put(q, V('a'));
	r[1] = weft_await(t[0], NULL);
	v[0] = value_of(t[0]);
	tu_reap(t, 1);
	return 0;
}

Test(queue, put_with_waiting_getters, .timeout = TEST_TIMEOUT)
{
	RUN_FIFO(0, put_with_waiting_getters_main);
	cr_assert_eq(r[0], 0);
	cr_assert_eq(r[1], 0);
	cr_assert_eq(v[0], 'a');
	cr_assert_eq(weft_queue_destroy(q), 0);
}

/* test_why_are_putters_waiting */
static int getter_all(void *arg, void **res)
{
	weft_sleep(0);
	size_t n = weft_queue_qsize(q);
	for (size_t i = 0; i < n; i++) {
		void *x;
		weft_queue_get_nowait(q, &x);
	}
	return 0;
}

static int putters_waiting_main(void *arg, void **res)
{
	t[0] = tu_spawn(getter_all, NULL);
	tu_spawn_n(t + 1, 4, q_put);
	r[0] = tu_reap_failed(t, 5);
	return 0;
}

Test(queue, why_are_putters_waiting, .timeout = TEST_TIMEOUT)
{
	RUN_FIFO(2, putters_waiting_main);
	cr_assert_eq(r[0], 0);
	cr_assert_eq(weft_queue_qsize(q), 2);
	cr_assert_eq(weft_queue_destroy(q), 0);
}

/* test_cancelled_puts_not_being_held_in_self_putters */
static int cancelled_puts_main(void *arg, void **res)
{
	weft_queue_put_nowait(q, V(1));
	t[0] = tu_spawn(q_put, V(1));
	tu_yield();
	r[0] = weft_queue_destroy(q); /* a putter waits */
	weft_cancel(t[0], NULL);
	r[1] = weft_await(t[0], NULL);
	z[0] = weft_queue_qsize(q);
	tu_reap(t, 1);
	return 0;
}

Test(queue, cancelled_puts_not_held, .timeout = TEST_TIMEOUT)
{
	RUN_FIFO(1, cancelled_puts_main);
	cr_assert_eq(r[0], -EBUSY);
	cr_assert_eq(r[1], -ECANCELED);
	cr_assert_eq(z[0], 1);
	cr_assert_eq(weft_queue_destroy(q), 0, "the putter is gone");
}

/* test_cancelled_put_silence_value_error_exception: get_nowait moved the
 * putter's item in, then the putter is cancelled. asyncio: CancelledError.
 * weft: the put returns 0 (its item is in), the cancel stays pending. */
static int cancelled_put_after_move_main(void *arg, void **res)
{
	cancel_writer_after_its_item_moved_in();
	z[0] = weft_queue_qsize(q);
	tu_reap(t, 1);
	return 0;
}

Test(queue, cancelled_put_after_its_item_moved_in, .timeout = TEST_TIMEOUT)
{
	RUN_FIFO(1, cancelled_put_after_move_main);
	cr_assert_eq(r[10], 0);
	cr_assert_eq(r[11], -ECANCELED);
	cr_assert_eq(z[0], 1);
	cr_assert_eq(weft_queue_destroy(q), 0);
}

/* A full queue's freed slot goes to the first blocked putter:
 * put_nowait cannot take it (asyncio would let it barge). */
static int put_no_barging_main(void *arg, void **res)
{
	weft_queue_put_nowait(q, V(1));
	t[0] = tu_spawn(q_put, V(2));
	tu_yield();
	void *x;
	weft_queue_get_nowait(q, &x);
	r[0] = weft_queue_put_nowait(q, V(3));
	r[1] = weft_await(t[0], NULL);
	weft_queue_get_nowait(q, &x);
	v[0] = I(x);
	tu_reap(t, 1);
	return 0;
}

Test(queue, put_nowait_cannot_barge_past_a_putter, .timeout = TEST_TIMEOUT)
{
	RUN_FIFO(1, put_no_barging_main);
	cr_assert_eq(r[0], -EAGAIN);
	cr_assert_eq(r[1], 0);
	cr_assert_eq(v[0], 2);
	cr_assert_eq(weft_queue_destroy(q), 0);
}

/* A timeout scope around put on a full queue: not inserted. */
static int put_scope_main(void *arg, void **res)
{
	weft_queue_put_nowait(q, V(1));
	weft_timeout scope;
	weft_timeout_enter_after(&scope, 0.05);
	r[0] = weft_timeout_exit(&scope, weft_queue_put(q, V(2)));
	z[0] = weft_queue_qsize(q);
	return 0;
}

Test(queue, timeout_scope_around_put, .timeout = TEST_TIMEOUT)
{
	RUN_FIFO(1, put_scope_main);
	cr_assert_eq(r[0], -ETIMEDOUT);
	cr_assert_eq(z[0], 1);
	void *x;
	cr_assert_eq(weft_queue_get_nowait(q, &x), 0);
	cr_assert_eq(I(x), 1);
	cr_assert_eq(weft_queue_destroy(q), 0);
}

/* A priority queue with a blocked putter: its item moves in by priority. */
static int priority_putter_main(void *arg, void **res)
{
	weft_queue_put_nowait(q, V(5));
	weft_queue_put_nowait(q, V(3));
	t[0] = tu_spawn(q_put, V(1));
	tu_yield();
	void *x;
	for (int i = 0; i < 3; i++) {
		weft_queue_get(q, &x);
		v[i] = I(x);
	}
	tu_reap(t, 1);
	return 0;
}

Test(queue, priority_with_blocked_putter, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(weft_queue_create(&q, WEFT_QUEUE_PRIORITY, 2, by_value, NULL), 0);
	cr_assert_eq(tu_run_paused(priority_putter_main, NULL), 0);
	cr_assert_eq(v[0], 3);
	cr_assert_eq(v[1], 1);
	cr_assert_eq(v[2], 5);
	cr_assert_eq(weft_queue_destroy(q), 0);
}

/* ---- join / task_done ------------------------------------------------------- */

/* test_task_done_underflow */
Test(queue, task_done_underflow)
{
	fifo(0);
	cr_assert_eq(weft_queue_task_done(q), -EOVERFLOW);
	cr_assert_eq(weft_queue_destroy(q), 0);
}

/* test_task_done: two workers get and task_done; join returns once all
 * 100 items are processed. */
static atomic_int accumulator;
static atomic_bool running;

static int qworker(void *arg, void **res)
{
	while (atomic_load(&running)) {
		void *x;
		int rc = weft_queue_get(q, &x);
		if (rc)
			return rc;
		atomic_fetch_add(&accumulator, I(x));
		weft_queue_task_done(q);
	}
	return 0;
}

static int task_done_main(void *arg, void **res)
{
	for (int i = 0; i < 100; i++)
		weft_queue_put_nowait(q, V(i));
	t[0] = tu_spawn(qworker, NULL);
	t[1] = tu_spawn(qworker, NULL);
	r[0] = weft_queue_join(q);
	r[1] = atomic_load(&accumulator);
	atomic_store(&running, false);
	weft_queue_put_nowait(q, V(0));
	weft_queue_put_nowait(q, V(0));
	tu_reap(t, 2);
	return 0;
}

Test(queue, task_done, .timeout = TEST_TIMEOUT)
{
	atomic_store(&accumulator, 0);
	atomic_store(&running, true);
	RUN_FIFO(0, task_done_main);
	cr_assert_eq(r[0], 0);
	cr_assert_eq(r[1], 4950);
	cr_assert_eq(weft_queue_destroy(q), 0);
}

/* test_join_empty_queue: returns at once (without suspending), twice. */
static int other(void *arg, void **res)
{
	tu_log_add(&lg, "other");
	return 0;
}

static int join_empty_main(void *arg, void **res)
{
	t[0] = tu_spawn(other, NULL);
	r[0] = weft_queue_join(q);
	r[1] = weft_queue_join(q);
	tu_log_add(&lg, "joined");
	tu_reap(t, 1);
	return 0;
}

Test(queue, join_empty_queue, .timeout = TEST_TIMEOUT)
{
	RUN_FIFO(0, join_empty_main);
	cr_assert_eq(r[0], 0);
	cr_assert_eq(r[1], 0);
	tu_assert_log(&lg, "joined other");
	cr_assert_eq(weft_queue_destroy(q), 0);
}

/* Every joiner is released by the last task_done. */
static int joiners_main(void *arg, void **res)
{
	weft_queue_put_nowait(q, V(1));
	weft_queue_put_nowait(q, V(2));
	t[0] = tu_spawn(q_join, NULL);
	t[1] = tu_spawn(q_join, NULL);
	tu_yield();
	void *x;
	weft_queue_get_nowait(q, &x);
	weft_queue_get_nowait(q, &x);
	weft_queue_task_done(q);
	tu_yield();
	b[0] = weft_future_done(t[0]) || weft_future_done(t[1]);
	weft_queue_task_done(q);
	r[0] = weft_await(t[0], NULL);
	r[1] = weft_await(t[1], NULL);
	r[2] = weft_queue_task_done(q);
	tu_reap(t, 2);
	return 0;
}

Test(queue, task_done_releases_every_joiner, .timeout = TEST_TIMEOUT)
{
	RUN_FIFO(0, joiners_main);
	cr_assert_not(b[0], "one item still unfinished");
	cr_assert_eq(r[0], 0);
	cr_assert_eq(r[1], 0);
	cr_assert_eq(r[2], -EOVERFLOW);
	cr_assert_eq(weft_queue_destroy(q), 0);
}

/* A cancelled join leaves no joiner behind. */
static int join_cancel_main(void *arg, void **res)
{
	weft_queue_put_nowait(q, V(1));
	t[0] = tu_spawn(q_join, NULL);
	tu_yield();
	weft_cancel(t[0], NULL);
	r[0] = weft_await(t[0], NULL);
	void *x;
	weft_queue_get_nowait(q, &x);
	weft_queue_task_done(q);
	tu_reap(t, 1);
	r[1] = weft_queue_destroy(q);
	q = NULL;
	return 0;
}

Test(queue, join_cancel, .timeout = TEST_TIMEOUT)
{
	RUN_FIFO(0, join_cancel_main);
	cr_assert_eq(r[0], -ECANCELED);
	cr_assert_eq(r[1], 0);
}

/* ---- shutdown (3.13) ---------------------------------------------------------- */

/* Inside a task, after a shutdown that left the queue empty: put,
 * put_nowait, get and get_nowait; their rcs in rc[0..4). */
static void try_after_shutdown(int *rc)
{
	void *x;
	rc[0] = weft_queue_put(q, V(1));
	rc[1] = weft_queue_put_nowait(q, V(1));
	rc[2] = weft_queue_get(q, &x);
	rc[3] = weft_queue_get_nowait(q, &x);
}

static const char *const tried_after_shutdown[] = {"put", "put_nowait", "get",
						   "get_nowait (not -EAGAIN)"};

/* Each of try_after_shutdown's calls was refused. */
#define assert_refused(rc)                                                                         \
	do {                                                                                       \
		for (int k_ = 0; k_ < 4; k_++)                                                     \
			cr_assert_eq((rc)[k_], -ESHUTDOWN, "%s", tried_after_shutdown[k_]);        \
	} while (0)

/* test_shutdown_empty */
static int shutdown_empty_main(void *arg, void **res)
{
	t[0] = tu_spawn(q_get, NULL);
	tu_yield();
	r[0] = weft_queue_shutdown(q, false);
	z[0] = weft_queue_qsize(q);
	r[1] = weft_queue_join(q);
	tu_yield();
	b[0] = weft_future_done(t[0]);
	r[2] = weft_await(t[0], NULL);
	try_after_shutdown(&r[3]);
	tu_reap(t, 1);
	return 0;
}

Test(queue, shutdown_empty, .timeout = TEST_TIMEOUT)
{
	RUN_FIFO(0, shutdown_empty_main);
	cr_assert_eq(r[0], 0);
	cr_assert_eq(z[0], 0);
	cr_assert_eq(r[1], 0);
	cr_assert(b[0]);
	cr_assert_eq(r[2], -ESHUTDOWN);
	assert_refused(&r[3]);
	cr_assert_eq(weft_queue_destroy(q), 0);
}

/* test_shutdown_nonempty: a graceful shutdown refuses the blocked
 * putter, lets getters drain, and join waits for task_done. */
static int shutdown_nonempty_main(void *arg, void **res)
{
	weft_queue_put_nowait(q, V('d'));
	t[0] = tu_spawn(q_join, NULL);
	t[1] = tu_spawn(q_put, V('e'));
	tu_yield();
	b[0] = weft_future_done(t[1]);
	weft_queue_shutdown(q, false);
	z[0] = weft_queue_qsize(q);
	tu_yield();
	b[1] = weft_future_done(t[1]);
	r[0] = weft_await(t[1], NULL);
	void *x;
	r[1] = weft_queue_get(q, &x);
	v[0] = I(x);
	tu_yield();
	b[2] = weft_future_done(t[0]);
	try_after_shutdown(&r[2]);
	r[6] = weft_queue_task_done(q);
	tu_yield();
	b[3] = weft_future_done(t[0]);
	r[7] = weft_await(t[0], NULL);
	r[8] = weft_queue_task_done(q);
	tu_reap(t, 2);
	return 0;
}

Test(queue, shutdown_nonempty, .timeout = TEST_TIMEOUT)
{
	RUN_FIFO(1, shutdown_nonempty_main);
	cr_assert_not(b[0]);
	cr_assert_eq(z[0], 1);
	cr_assert(b[1]);
	cr_assert_eq(r[0], -ESHUTDOWN);
	cr_assert_eq(r[1], 0, "getters drain what is left");
	cr_assert_eq(v[0], 'd');
	cr_assert_not(b[2]);
	assert_refused(&r[2]);
	cr_assert_eq(r[6], 0);
	cr_assert(b[3]);
	cr_assert_eq(r[7], 0);
	cr_assert_eq(r[8], -EOVERFLOW);
	cr_assert_eq(weft_queue_destroy(q), 0);
}

/* test_shutdown_immediate: the items are dropped and counted done, which
 * releases join. */
static int shutdown_immediate_main(void *arg, void **res)
{
	weft_queue_put_nowait(q, V('d'));
	t[0] = tu_spawn(q_join, NULL);
	weft_queue_shutdown(q, true);
	z[0] = weft_queue_qsize(q);
	tu_yield();
	b[0] = weft_future_done(t[0]);
	r[0] = weft_await(t[0], NULL);
	try_after_shutdown(&r[1]);
	r[5] = weft_queue_task_done(q);
	tu_reap(t, 1);
	return 0;
}

Test(queue, shutdown_immediate, .timeout = TEST_TIMEOUT)
{
	RUN_FIFO(0, shutdown_immediate_main);
	cr_assert_eq(z[0], 0);
	cr_assert(b[0]);
	cr_assert_eq(r[0], 0);
	assert_refused(&r[1]);
	cr_assert_eq(r[5], -EOVERFLOW);
	cr_assert_eq(weft_queue_destroy(q), 0);
}

/* test_shutdown_immediate_with_unfinished */
static int shutdown_immediate_unfinished_main(void *arg, void **res)
{
	weft_queue_put_nowait(q, V('d'));
	weft_queue_put_nowait(q, V('d'));
	t[0] = tu_spawn(q_join, NULL);
	void *x;
	r[0] = weft_queue_get(q, &x);
	weft_queue_shutdown(q, true);
	z[0] = weft_queue_qsize(q);
	tu_yield();
	b[0] = weft_future_done(t[0]);
	r[1] = weft_queue_put(q, V(1));
	r[2] = weft_queue_get_nowait(q, &x);
	r[3] = weft_queue_task_done(q);
	r[4] = weft_queue_task_done(q);
	tu_yield();
	b[1] = weft_future_done(t[0]);
	r[5] = weft_await(t[0], NULL);
	tu_reap(t, 1);
	return 0;
}

Test(queue, shutdown_immediate_with_unfinished, .timeout = TEST_TIMEOUT)
{
	RUN_FIFO(0, shutdown_immediate_unfinished_main);
	cr_assert_eq(r[0], 0);
	cr_assert_eq(z[0], 0);
	cr_assert_not(b[0], "one item still unfinished");
	cr_assert_eq(r[1], -ESHUTDOWN);
	cr_assert_eq(r[2], -ESHUTDOWN);
	cr_assert_eq(r[3], 0);
	cr_assert_eq(r[4], -EOVERFLOW);
	cr_assert(b[1]);
	cr_assert_eq(r[5], 0);
	cr_assert_eq(weft_queue_destroy(q), 0);
}

/* An immediate shutdown wakes blocked getters and putters with
 * -ESHUTDOWN; the putter's item is not inserted. */
static int shutdown_wakes_main(void *arg, void **res)
{
	t[0] = tu_spawn(q_get, NULL);
	t[1] = tu_spawn(q_get, NULL);
	tu_yield();
	weft_queue_shutdown(q, true);
	r[0] = weft_await(t[0], NULL);
	r[1] = weft_await(t[1], NULL);
	tu_reap(t, 2);
	return 0;
}

Test(queue, shutdown_wakes_getters, .timeout = TEST_TIMEOUT)
{
	RUN_FIFO(0, shutdown_wakes_main);
	cr_assert_eq(r[0], -ESHUTDOWN);
	cr_assert_eq(r[1], -ESHUTDOWN);
	cr_assert_eq(weft_queue_destroy(q), 0);
}

/* The drop function receives the items an immediate shutdown discards and
 * those left at destroy, once each. */
static int dropped_sum, dropped_n;

static void drop_fn(void *item, void *arg)
{
	dropped_sum += I(item);
	dropped_n++;
	*(int *)arg += 1;
}

Test(queue, drop_function)
{
	int calls = 0;
	dropped_sum = dropped_n = 0;
	cr_assert_eq(weft_queue_create(&q, WEFT_QUEUE_LIFO, 0, NULL, NULL), 0);
	cr_assert_eq(weft_queue_set_drop(q, drop_fn, &calls), 0);
	for (int i = 1; i <= 20; i++)
		weft_queue_put_nowait(q, V(i));
	cr_assert_eq(weft_queue_shutdown(q, true), 0);
	cr_assert_eq(dropped_n, 20);
	cr_assert_eq(dropped_sum, 210);
	cr_assert_eq(weft_queue_destroy(q), 0);
	cr_assert_eq(calls, 20, "destroy drops nothing more");

	fifo(4);
	weft_queue_set_drop(q, drop_fn, &calls);
	weft_queue_put_nowait(q, V(100));
	weft_queue_put_nowait(q, V(200));
	void *x;
	weft_queue_get_nowait(q, &x);
	cr_assert_eq(weft_queue_destroy(q), 0);
	cr_assert_eq(calls, 21);
	cr_assert_eq(dropped_sum, 410);
}

/* ---- threads and workers ------------------------------------------------------ */

/* Inside a task: gets until the queue is shut down (then returns 0),
 * handing each item to take. */
static int get_until_shutdown(void (*take)(void *item))
{
	for (;;) {
		void *x;
		int rc = weft_queue_get(q, &x);
		if (rc == -ESHUTDOWN)
			return 0;
		if (rc)
			return rc;
		take(x);
	}
}

/* A foreign thread feeds a task with put_nowait; the task shuts the
 * queue down when done. */
static atomic_int got_sum;

static void add_to_sum(void *item)
{
	atomic_fetch_add(&got_sum, I(item));
}

static int sum_getter(void *arg, void **res)
{
	return get_until_shutdown(add_to_sum);
}

Test(queue, foreign_thread_producer, .timeout = TEST_TIMEOUT)
{
	atomic_store(&got_sum, 0);
	fifo(8);
	weft_runtime *rt = tu_runtime(2);
	weft_future *f = weft_spawn(rt, sum_getter, NULL, NULL);
	int sent = 0;
	for (int i = 1; i <= 1000; i++) {
		int rc;
		while ((rc = weft_queue_put_nowait(q, V(i))) == -EAGAIN)
			tu_nap_ms(0);
		cr_assert_eq(rc, 0);
		sent += i;
	}
	cr_assert_eq(weft_queue_shutdown(q, false), 0);
	cr_assert_eq(weft_future_wait(f, 5, NULL), 0);
	weft_future_unref(f);
	cr_assert_eq(atomic_load(&got_sum), sent);
	cr_assert_eq(weft_runtime_destroy(rt), 0);
	cr_assert_eq(weft_queue_destroy(q), 0);
}

/* Producers and consumers on 4 workers: every item once. */
#define NPROD 4
#define PER 500

static atomic_uchar seen[NPROD * PER];

static int prod(void *arg, void **res)
{
	int base = I(arg) * PER;
	for (int i = 0; i < PER; i++) {
		int rc = weft_queue_put(q, V(base + i + 1));
		if (rc)
			return rc;
	}
	return 0;
}

static void mark_seen(void *item)
{
	atomic_fetch_add(&seen[I(item) - 1], 1);
	weft_queue_task_done(q);
}

static int cons(void *arg, void **res)
{
	return get_until_shutdown(mark_seen);
}

static int workers_main(void *arg, void **res)
{
	weft_future *c[4], *p[NPROD];
	tu_spawn_n(c, 4, cons);
	tu_spawn_n(p, NPROD, prod);
	r[0] = tu_reap_failed(p, NPROD);
	r[1] = weft_queue_join(q);
	weft_queue_shutdown(q, false);
	r[0] += tu_reap_failed(c, 4);
	return 0;
}

Test(queue, every_item_once_across_workers, .timeout = 2 * TEST_TIMEOUT)
{
	reset();
	memset(seen, 0, sizeof(seen));
	fifo(16);
	cr_assert_eq(tu_run_n(4, workers_main, NULL, NULL), 0);
	cr_assert_eq(r[0], 0);
	cr_assert_eq(r[1], 0);
	for (int i = 0; i < NPROD * PER; i++)
		cr_assert_eq(atomic_load(&seen[i]), 1, "item %d", i + 1);
	cr_assert_eq(weft_queue_destroy(q), 0);
}

/* Runtime shutdown cancels blocked getters and putters: nothing is
 * inserted or taken, the queue stays consistent. */
static int shutdown_rt_main(void *arg, void **res)
{
	weft_queue_put_nowait(q, V(1));
	weft_future *a = tu_spawn(q_put, V(2));
	weft_future_unref(a);
	tu_yield();
	return 0;
}

Test(queue, runtime_shutdown_cancels_blocked_calls, .timeout = TEST_TIMEOUT)
{
	RUN_FIFO(1, shutdown_rt_main);
	cr_assert_eq(weft_queue_qsize(q), 1);
	void *x;
	cr_assert_eq(weft_queue_get_nowait(q, &x), 0);
	cr_assert_eq(I(x), 1);
	cr_assert_eq(weft_queue_destroy(q), 0, "no putter left");
}

/* ---- misuse -------------------------------------------------------------------- */

Test(queue, misuse)
{
	void *x;
	cr_assert_eq(weft_queue_create(NULL, WEFT_QUEUE_FIFO, 0, NULL, NULL), -EINVAL);
	cr_assert_eq(weft_queue_create(&q, 7, 0, NULL, NULL), -EINVAL);
	cr_assert_eq(weft_queue_create(&q, WEFT_QUEUE_PRIORITY, 0, NULL, NULL), -EINVAL);
	cr_assert_eq(weft_queue_create(&q, WEFT_QUEUE_FIFO, 0, by_value, NULL), -EINVAL);
	cr_assert_eq(weft_queue_put(NULL, NULL), -EINVAL);
	cr_assert_eq(weft_queue_put_nowait(NULL, NULL), -EINVAL);
	cr_assert_eq(weft_queue_get(NULL, &x), -EINVAL);
	cr_assert_eq(weft_queue_get_nowait(NULL, &x), -EINVAL);
	cr_assert_eq(weft_queue_join(NULL), -EINVAL);
	cr_assert_eq(weft_queue_task_done(NULL), -EINVAL);
	cr_assert_eq(weft_queue_shutdown(NULL, false), -EINVAL);
	cr_assert_eq(weft_queue_set_drop(NULL, NULL, NULL), -EINVAL);
	cr_assert_eq(weft_queue_destroy(NULL), -EINVAL);
	cr_assert_eq(weft_queue_qsize(NULL), 0);
	cr_assert(weft_queue_empty(NULL));
	cr_assert_not(weft_queue_full(NULL));
	cr_assert_eq(weft_queue_maxsize(NULL), 0);
	fifo(0);
	cr_assert_eq(weft_queue_put(q, V(1)), -EPERM, "outside a task");
	cr_assert_eq(weft_queue_get(q, &x), -EPERM);
	cr_assert_eq(weft_queue_join(q), -EPERM);
	cr_assert(weft_queue_empty(q), "the refused put inserted nothing");
	cr_assert_eq(weft_queue_destroy(q), 0);
}

/* destroy with a blocked getter → -EBUSY. */
static int busy_main(void *arg, void **res)
{
	t[0] = tu_spawn(q_get, NULL);
	tu_yield();
	r[0] = weft_queue_destroy(q);
	weft_queue_put_nowait(q, V(1));
	tu_reap(t, 1);
	return 0;
}

Test(queue, destroy_with_waiters_is_ebusy, .timeout = TEST_TIMEOUT)
{
	RUN_FIFO(0, busy_main);
	cr_assert_eq(r[0], -EBUSY);
	cr_assert_eq(weft_queue_destroy(q), 0);
}
