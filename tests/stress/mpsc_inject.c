/* SPDX-License-Identifier: MIT */
/*
 * The inbox (sched/mpsc.h) and the inject queue (sched/inject.h) under
 * many producers.
 *
 * Inbox: producer threads push single items and chains; one consumer takes
 * everything at once. Every item arrives exactly once and the items of one
 * producer arrive in push order (consecutive sequence numbers).
 *
 * Inject queue: producer threads push single items and batches; several
 * consumers pop batches of random size. Every item arrives exactly once;
 * the queue is FIFO, so each consumer sees the items of one producer in
 * increasing order; each popped chain is well formed (n entries, *last is
 * its end, NULL-terminated).
 */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>

#include "harness.h"
#include "sched/inject.h"
#include "sched/mpsc.h"

#define NPROD 8
#define NCONS 3
#define MAX_CHAIN 16
#define WINDOW 64 /* a producer is at most this far ahead of the consumers */

struct item {
	struct weft__runnable run;
	uint32_t producer;
	uint32_t seq;
};

static long per_producer;
static struct item *items[NPROD];
static _Atomic uint8_t *seen[NPROD];
static atomic_int producers_left;
/* Items of each producer consumed so far: producers wait for the
 * consumers, so that takes race with pushes all the time instead of
 * finding everything already there. */
static _Atomic long taken[NPROD];

static uint32_t xorshift(uint32_t *s)
{
	uint32_t x = *s;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x;
}

static void reset(void)
{
	for (unsigned p = 0; p < NPROD; p++) {
		for (long i = 0; i < per_producer; i++) {
			items[p][i].producer = p;
			items[p][i].seq = (uint32_t)i;
			items[p][i].run.kind = WEFT__RUN_TASK;
			items[p][i].run.next = NULL;
			atomic_store_explicit(&seen[p][i], 0, memory_order_relaxed);
		}
	}
	atomic_store(&producers_left, NPROD);
	for (unsigned p = 0; p < NPROD; p++)
		atomic_store(&taken[p], 0);
}

static void pace(unsigned p, long pushed)
{
	while (pushed - atomic_load_explicit(&taken[p], memory_order_relaxed) > WINDOW)
		sched_yield();
}

static struct item *check_item(struct weft__runnable *r)
{
	struct item *it = weft__container_of(r, struct item, run);
	STRESS_CHECK(it->producer < NPROD && it->seq < (uint32_t)per_producer,
		     "bad item (producer %u, seq %u)", it->producer, it->seq);
	uint8_t before = atomic_fetch_add_explicit(&seen[it->producer][it->seq], 1,
						   memory_order_relaxed);
	STRESS_CHECK(before == 0, "item %u/%u consumed twice", it->producer, it->seq);
	if (it->producer < NPROD)
		atomic_fetch_add_explicit(&taken[it->producer], 1, memory_order_relaxed);
	return it;
}

static void check_all_seen(const char *what)
{
	long missing = 0;
	for (unsigned p = 0; p < NPROD; p++)
		for (long i = 0; i < per_producer; i++)
			if (atomic_load_explicit(&seen[p][i], memory_order_relaxed) != 1)
				missing++;
	STRESS_CHECK(missing == 0, "%s: %ld items not consumed exactly once", what, missing);
}

/* ---- inbox: many producers, one take-all consumer ---- */

static struct weft__mpsc inbox;

static void *inbox_producer(void *arg)
{
	unsigned p = (unsigned)(uintptr_t)arg;
	uint32_t rng = 0x51ed270bu * (p + 1);
	long i = 0;
	while (i < per_producer) {
		uint32_t k = 1 + xorshift(&rng) % MAX_CHAIN;
		if (k > per_producer - i)
			k = (uint32_t)(per_producer - i);
		if (k == 1 || (xorshift(&rng) & 1)) {
			for (uint32_t j = 0; j < k; j++)
				weft__mpsc_push(&inbox, &items[p][i + j].run);
		} else {
			/* A chain newest first: first = the last in order. */
			for (uint32_t j = 1; j < k; j++)
				items[p][i + j].run.next = &items[p][i + j - 1].run;
			weft__mpsc_push_chain(&inbox, &items[p][i + k - 1].run, &items[p][i].run);
		}
		i += k;
		pace(p, i);
	}
	atomic_fetch_sub_explicit(&producers_left, 1, memory_order_release);
	return NULL;
}

static void run_inbox(void)
{
	reset();
	atomic_init(&inbox.head, NULL);
	pthread_t th[NPROD];
	for (unsigned p = 0; p < NPROD; p++)
		pthread_create(&th[p], NULL, inbox_producer, (void *)(uintptr_t)p);
	uint32_t expect[NPROD] = {0};
	long got = 0, takes = 0, max_batch = 0;
	long total = per_producer * NPROD;
	while (got < total) {
		bool quiet = atomic_load_explicit(&producers_left, memory_order_acquire) == 0;
		if (weft__mpsc_empty(&inbox)) {
			if (quiet) {
				STRESS_CHECK(0, "inbox: producers done, empty, %ld of %ld taken", got,
					     total);
				break;
			}
			sched_yield();
			continue;
		}
		struct weft__runnable *last;
		size_t n;
		struct weft__runnable *r = weft__mpsc_take_all(&inbox, &last, &n);
		takes++;
		if ((long)n > max_batch)
			max_batch = (long)n;
		size_t k = 0;
		struct weft__runnable *prev = NULL;
		while (r) {
			struct weft__runnable *next = r->next;
			struct item *it = check_item(r);
			if (it->producer < NPROD) {
				STRESS_CHECK(it->seq == expect[it->producer],
					     "inbox: producer %u: got seq %u, expected %u", it->producer,
					     it->seq, expect[it->producer]);
				expect[it->producer] = it->seq + 1;
			}
			prev = r;
			r = next;
			k++;
		}
		STRESS_CHECK(k == n && prev == last, "inbox: chain of %zu, said %zu", k, n);
		got += (long)k;
	}
	for (unsigned p = 0; p < NPROD; p++)
		pthread_join(th[p], NULL);
	STRESS_CHECK(weft__mpsc_empty(&inbox), "inbox not empty at the end");
	check_all_seen("inbox");
	printf("mpsc_inject: inbox: %ld items from %d producers in %ld take-alls (largest %ld)\n",
	       got, NPROD, takes, max_batch);
}

/* ---- inject queue: many producers, several batch consumers ---- */

static struct weft__inject inject;
static _Atomic long inject_got;
static _Atomic long inject_pops;

static void *inject_producer(void *arg)
{
	unsigned p = (unsigned)(uintptr_t)arg;
	uint32_t rng = 0x2545f491u * (p + 1);
	long i = 0;
	while (i < per_producer) {
		uint32_t k = 1 + xorshift(&rng) % MAX_CHAIN;
		if (k > per_producer - i)
			k = (uint32_t)(per_producer - i);
		if (k == 1 || (xorshift(&rng) & 1)) {
			for (uint32_t j = 0; j < k; j++)
				weft__inject_push(&inject, &items[p][i + j].run);
		} else {
			/* A batch oldest first, linked through ->next. */
			for (uint32_t j = 0; j + 1 < k; j++)
				items[p][i + j].run.next = &items[p][i + j + 1].run;
			items[p][i + k - 1].run.next = NULL;
			weft__inject_push_batch(&inject, &items[p][i].run, k);
		}
		i += k;
		pace(p, i);
	}
	atomic_fetch_sub_explicit(&producers_left, 1, memory_order_release);
	return NULL;
}

static void *inject_consumer(void *arg)
{
	unsigned c = (unsigned)(uintptr_t)arg;
	uint32_t rng = 0x68e31da4u * (c + 1);
	long last_seq[NPROD];
	for (unsigned p = 0; p < NPROD; p++)
		last_seq[p] = -1;
	long total = per_producer * NPROD;
	for (;;) {
		bool quiet = atomic_load_explicit(&producers_left, memory_order_acquire) == 0;
		size_t max = 1 + xorshift(&rng) % 64;
		struct weft__runnable *last;
		size_t n;
		struct weft__runnable *r = weft__inject_pop_batch(&inject, max, &last, &n);
		if (!r) {
			STRESS_CHECK(n == 0, "inject: NULL with n=%zu", n);
			if (quiet && weft__inject_empty(&inject))
				break;
			sched_yield();
			continue;
		}
		atomic_fetch_add_explicit(&inject_pops, 1, memory_order_relaxed);
		STRESS_CHECK(n >= 1 && n <= max, "inject: popped %zu with max %zu", n, max);
		size_t k = 0;
		struct weft__runnable *prev = NULL;
		while (r) {
			struct weft__runnable *next = r->next;
			struct item *it = check_item(r);
			if (it->producer < NPROD) {
				STRESS_CHECK((long)it->seq > last_seq[it->producer],
					     "inject: consumer %u: producer %u: seq %u after %ld", c,
					     it->producer, it->seq, last_seq[it->producer]);
				last_seq[it->producer] = it->seq;
			}
			prev = r;
			r = next;
			if (++k > max)
				break; /* a runaway chain: reported below */
		}
		STRESS_CHECK(k == n && prev == last, "inject: chain of %zu, said %zu", k, n);
		atomic_fetch_add_explicit(&inject_got, (long)k, memory_order_relaxed);
		if (atomic_load_explicit(&inject_got, memory_order_relaxed) > total)
			break;
	}
	return NULL;
}

static void run_inject(void)
{
	reset();
	if (weft__inject_init(&inject)) {
		STRESS_CHECK(0, "inject_init failed");
		return;
	}
	pthread_t prod[NPROD], cons[NCONS];
	for (unsigned c = 0; c < NCONS; c++)
		pthread_create(&cons[c], NULL, inject_consumer, (void *)(uintptr_t)c);
	for (unsigned p = 0; p < NPROD; p++)
		pthread_create(&prod[p], NULL, inject_producer, (void *)(uintptr_t)p);
	for (unsigned p = 0; p < NPROD; p++)
		pthread_join(prod[p], NULL);
	for (unsigned c = 0; c < NCONS; c++)
		pthread_join(cons[c], NULL);
	long total = per_producer * NPROD;
	STRESS_CHECK(inject_got == total, "inject: consumed %ld of %ld", (long)inject_got, total);
	STRESS_CHECK(weft__inject_empty(&inject), "inject queue not empty at the end");
	check_all_seen("inject");
	printf("mpsc_inject: inject: %ld items from %d producers, %d consumers, %ld pops\n",
	       (long)inject_got, NPROD, NCONS, (long)inject_pops);
	weft__inject_destroy(&inject);
}

int main(void)
{
	stress_begin("mpsc_inject");
	per_producer = stress_count(400000);
	for (unsigned p = 0; p < NPROD; p++) {
		items[p] = calloc((size_t)per_producer, sizeof(struct item));
		seen[p] = calloc((size_t)per_producer, 1);
		if (!items[p] || !seen[p]) {
			fprintf(stderr, "mpsc_inject: out of memory\n");
			return 1;
		}
	}
	run_inbox();
	run_inject();
	for (unsigned p = 0; p < NPROD; p++) {
		free(items[p]);
		free((void *)seen[p]);
	}
	return stress_end();
}
