/* SPDX-License-Identifier: MIT */
/*
 * Cross-worker wake-ups: pairs of tasks homed on different workers
 * ping-pong over plain futures (weft_future_create / set_result /
 * weft_await), so every wake-up goes through the home worker's inbox and,
 * when it sleeps, its park/wake protocol. 10,000,000 wake-ups in the plain
 * build; every one is counted, carries the round it belongs to and the
 * waker's worker, and must arrive: a lost one hangs its pair, which the
 * watchdog turns into a loud failure.
 *
 * Placement: tasks are created in waves of one task per worker; the tasks
 * of a wave spin (without suspending) until all of them run at once, which
 * can only happen on distinct workers. Tasks are not migratable, so each
 * stays on the worker it started on.
 */
#include <stdint.h>
#include <unistd.h>

#include "harness.h"
#include "sched/worker.h"

#define MAX_WORKERS 8
#define SPIN_LIMIT 20.0 /* seconds a wave may take to spread out */

struct wave {
	atomic_uint arrived;
	weft_future *placed; /* completed by the last task to arrive */
};

struct pair {
	_Alignas(64) _Atomic(weft_future *) slot[2]; /* the future each side awaits next */
};

struct player {
	_Alignas(64) _Atomic long wakes; /* progress, for the watchdog */
	long cross;
	long errors;
	struct wave *wave;
	struct pair *pair;
	unsigned side;
	unsigned worker;
};

static unsigned nworkers;
static long rounds;        /* per pair: 2 * rounds wake-ups */
static weft_future *go;    /* the start signal, once every wave is placed */
static struct player *players;
static unsigned nplayers;

static unsigned worker_index(void)
{
	struct weft__worker *w = weft__worker_current();
	return w ? w->index : MAX_WORKERS;
}

static void place(struct player *p)
{
	struct wave *wv = p->wave;
	/* Before arriving: the last arrival's release publishes it to the
	 * main task. A task cannot move while it spins. */
	p->worker = worker_index();
	unsigned n = atomic_fetch_add_explicit(&wv->arrived, 1, memory_order_acq_rel) + 1;
	if (n == nworkers) {
		weft_future_set_result(wv->placed, NULL);
	} else {
		double t0 = weft_time();
		while (atomic_load_explicit(&wv->arrived, memory_order_acquire) < nworkers) {
			if (weft_time() - t0 > SPIN_LIMIT) {
				STRESS_CHECK(0, "a wave did not spread over %u workers in %.0f s",
					     nworkers, SPIN_LIMIT);
				break;
			}
		}
	}
}

static void *encode(long seq, unsigned worker)
{
	return (void *)(((uintptr_t)seq << 8) | worker);
}

/* Completes the other side's future number `seq`. */
static void hand_over(struct player *p, long seq, unsigned me)
{
	_Atomic(weft_future *) *theirs = &p->pair->slot[!p->side];
	weft_future *other;
	double t0 = 0;
	while (!(other = atomic_exchange_explicit(theirs, NULL, memory_order_acq_rel))) {
		/* Only the very first hand-over can find nothing yet. */
		if (seq != 0 || p->side != 0) {
			if (p->errors++ < 3)
				STRESS_CHECK(0, "side %u round %ld: no future to complete", p->side,
					     seq);
		}
		if (t0 == 0)
			t0 = weft_time();
		else if (weft_time() - t0 > SPIN_LIMIT) {
			STRESS_CHECK(0, "partner never published its first future");
			return;
		}
		weft_sleep(0);
	}
	int rc = weft_future_set_result(other, encode(seq, me));
	if (rc && p->errors++ < 3)
		STRESS_CHECK(rc == 0, "set_result: %s", weft_strerror(rc));
	weft_future_unref(other);
}

static int player_main(void *arg, void **result)
{
	struct player *p = arg;
	place(p);
	int rc = weft_await(go, NULL);
	STRESS_CHECK(rc == 0, "await go: %s", weft_strerror(rc));
	unsigned me = worker_index();
	STRESS_CHECK(me == p->worker, "task moved from worker %u to %u", p->worker, me);
	_Atomic(weft_future *) *mine = &p->pair->slot[p->side];
	long wakes = 0;
	for (long i = 0; i < rounds; i++) {
		weft_future *my = weft_future_create(NULL);
		/* One reference for us, one for the side that completes it. */
		weft_future_ref(my);
		weft_future *prev = atomic_exchange_explicit(mine, my, memory_order_acq_rel);
		if (prev && p->errors++ < 3)
			STRESS_CHECK(prev == NULL, "side %u round %ld: slot still full", p->side, i);
		if (p->side == 0)
			hand_over(p, i, me);
		else if (i > 0)
			hand_over(p, i - 1, me);
		void *v = NULL;
		rc = weft_await(my, &v);
		if (rc == 0) {
			long seq = (long)((uintptr_t)v >> 8);
			unsigned from = (unsigned)((uintptr_t)v & 0xff);
			if (seq != i && p->errors++ < 3)
				STRESS_CHECK(seq == i, "side %u: woken for round %ld in round %ld",
					     p->side, seq, i);
			if (from != me)
				p->cross++;
		} else if (p->errors++ < 3) {
			STRESS_CHECK(rc == 0, "await: %s", weft_strerror(rc));
		}
		atomic_store_explicit(&p->wakes, ++wakes, memory_order_relaxed);
		me = worker_index();
		if (me != p->worker && p->errors++ < 3)
			STRESS_CHECK(me == p->worker, "side %u resumed on worker %u, not its home %u",
				     p->side, me, p->worker);
		weft_future_unref(my);
	}
	if (p->side == 1)
		hand_over(p, rounds - 1, me);
	return 0;
}

static int main_task(void *arg, void **result)
{
	unsigned nwaves = nplayers / nworkers;
	struct wave *waves = calloc(nwaves, sizeof(*waves));
	weft_future **tasks = calloc(nplayers, sizeof(*tasks));
	if (!waves || !tasks)
		return -ENOMEM;
	for (unsigned k = 0; k < nwaves; k++) {
		struct wave *wv = &waves[k];
		wv->placed = weft_future_create(NULL);
		for (unsigned s = 0; s < nworkers; s++) {
			unsigned i = k * nworkers + s;
			players[i].wave = wv;
			tasks[i] = weft_create_task(player_main, &players[i], NULL);
		}
		int rc = weft_await(wv->placed, NULL);
		STRESS_CHECK(rc == 0, "wave %u: %s", k, weft_strerror(rc));
		for (unsigned s = 0; s < nworkers; s++)
			for (unsigned s2 = 0; s2 < s; s2++)
				STRESS_CHECK(players[k * nworkers + s].worker !=
						     players[k * nworkers + s2].worker,
					     "wave %u: two tasks on worker %u", k,
					     players[k * nworkers + s].worker);
	}
	weft_future_set_result(go, NULL);
	for (unsigned i = 0; i < nplayers; i++) {
		int rc = weft_await(tasks[i], NULL);
		STRESS_CHECK(rc == 0, "player %u: %s", i, weft_strerror(rc));
		weft_future_unref(tasks[i]);
	}
	for (unsigned k = 0; k < nwaves; k++)
		weft_future_unref(waves[k].placed);
	free(waves);
	free(tasks);
	return 0;
}

static long total_wakes(void)
{
	long n = 0;
	for (unsigned i = 0; i < nplayers; i++)
		n += atomic_load_explicit(&players[i].wakes, memory_order_relaxed);
	return n;
}

static void run(unsigned workers, unsigned npairs, long wakeups)
{
	nworkers = workers;
	nplayers = 2 * npairs;
	rounds = wakeups / (2 * npairs);
	if (rounds < 1)
		rounds = 1;
	players = aligned_alloc(64, sizeof(*players) * nplayers);
	struct pair *pairs = aligned_alloc(64, sizeof(*pairs) * npairs);
	memset(players, 0, sizeof(*players) * nplayers);
	memset(pairs, 0, sizeof(*pairs) * npairs);
	/* Wave k holds players k*W .. k*W+W-1; pair up neighbours. */
	for (unsigned i = 0; i < nplayers; i++) {
		players[i].pair = &pairs[i / 2];
		players[i].side = i & 1;
	}
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.workers = workers;
	weft_runtime *rt;
	stress_require_runtime(weft_runtime_create(&cfg, &rt));
	go = weft_future_create(rt);
	double t0 = stress_elapsed();
	weft_future *main = weft_spawn(rt, main_task, NULL, "main");
	double limit = 120.0 * WEFT_TEST_SLOW;
	int rc;
	long before = 0;
	for (;;) {
		rc = weft_future_wait(main, limit / 12, NULL);
		if (rc != -ETIMEDOUT)
			break;
		long now = total_wakes();
		if (now == before || stress_elapsed() - t0 > limit) {
			fprintf(stderr,
				"cross_wake: FAIL: %u workers: stuck at %ld of %ld wake-ups after %.1f s\n",
				workers, now, rounds * 2 * npairs, stress_elapsed() - t0);
			for (unsigned i = 0; i < nplayers; i++)
				fprintf(stderr, "  player %u (worker %u, side %u): %ld wakes\n", i,
					players[i].worker, players[i].side, (long)players[i].wakes);
			_exit(1);
		}
		before = now;
	}
	double dt = stress_elapsed() - t0;
	STRESS_CHECK(rc == 0, "main: %s", weft_strerror(rc));
	weft_future_unref(main);
	weft_future_unref(go);
	weft_runtime_destroy(rt);

	long wakes = total_wakes(), cross = 0, want = rounds * 2 * npairs;
	for (unsigned i = 0; i < nplayers; i++)
		cross += players[i].cross;
	STRESS_CHECK(wakes == want, "%ld wake-ups, expected %ld", wakes, want);
	STRESS_CHECK(cross == want, "%ld cross-worker wake-ups of %ld", cross, want);
	printf("cross_wake: %u workers, %u pairs: %ld cross-worker wake-ups in %.2f s (%.2f M/s)\n",
	       workers, npairs, cross, dt, (double)cross / dt / 1e6);
	free(players);
	free(pairs);
}

int main(void)
{
	stress_begin("cross_wake");
	run(2, 16, stress_count(10000000));
	run(4, 16, stress_count(2000000));
	/* One pair: the other worker is parked at nearly every wake-up. */
	run(2, 1, stress_count(200000));
	return stress_end();
}
