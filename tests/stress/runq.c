/* SPDX-License-Identifier: MIT */
/*
 * The steal-half ring (sched/runq.h) on its own: one owner thread pushes
 * bursts of unique items, pops some itself and, when the ring is full,
 * moves half out with take_half_owner (as push_stealable does); thief
 * threads steal half into their own (empty) rings, from the owner and from
 * each other, and drain them as owners. Every item must be consumed
 * exactly once (one counter per id, checked at the end).
 */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>

#include "harness.h"
#include "sched/runq.h"

#define NTHIEVES 3

struct item {
	struct weft__runnable run;
	uint32_t id;
};

static struct item *items;
static _Atomic uint8_t *seen;
static long nitems;

static struct weft__runq owner_q;
static struct weft__runq thief_q[NTHIEVES];
static atomic_bool owner_done;
static _Atomic long consumed_owner, consumed_half, consumed_thieves, steals, empty_steals;

/* A few hundred cycles of "running the task", so that thieves get time. */
static void work(uint32_t id)
{
	volatile uint32_t x = id;
	for (int i = 0; i < 40; i++)
		x = x * 2654435761u + 1;
}

static void consume(struct weft__runnable *r, _Atomic long *counter)
{
	STRESS_CHECK(r >= &items[0].run && r <= &items[nitems - 1].run, "bad pointer %p", (void *)r);
	struct item *it = weft__container_of(r, struct item, run);
	uint32_t id = it->id;
	STRESS_CHECK(id < (uint32_t)nitems, "bad id %u", id);
	uint8_t before = atomic_fetch_add_explicit(&seen[id], 1, memory_order_relaxed);
	STRESS_CHECK(before == 0, "item %u consumed twice", id);
	atomic_fetch_add_explicit(counter, 1, memory_order_relaxed);
	work(id);
}

static uint32_t xorshift(uint32_t *s)
{
	uint32_t x = *s;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x;
}

static void *owner_main(void *arg)
{
	uint32_t rng = 0x12345u;
	long next = 0;
	while (next < nitems) {
		/* A burst of pushes, sometimes big enough to overflow. */
		uint32_t burst = 1 + xorshift(&rng) % 200;
		for (uint32_t i = 0; i < burst && next < nitems; i++) {
			struct weft__runnable *r = &items[next].run;
			while (!weft__runq_push_owner(&owner_q, r)) {
				struct weft__runnable *last;
				uint32_t n;
				struct weft__runnable *first =
					weft__runq_take_half_owner(&owner_q, &last, &n);
				if (!first)
					continue; /* thieves emptied it meanwhile */
				STRESS_CHECK(n > 0 && n <= WEFT__RUNQ_CAP / 2, "take_half n=%u", n);
				uint32_t k = 0;
				struct weft__runnable *p = first, *prev = NULL;
				while (p) {
					struct weft__runnable *nx = p->next;
					consume(p, &consumed_half);
					prev = p;
					p = nx;
					k++;
				}
				STRESS_CHECK(k == n && prev == last, "chain of %u, said %u", k, n);
			}
			next++;
			uint32_t len = weft__runq_len(&owner_q);
			STRESS_CHECK(len <= WEFT__RUNQ_CAP, "owner sees length %u", len);
		}
		/* Pop a random share itself. */
		uint32_t pops = xorshift(&rng) % (burst + burst / 4);
		for (uint32_t i = 0; i < pops; i++) {
			struct weft__runnable *r = weft__runq_pop_owner(&owner_q);
			if (!r)
				break;
			consume(r, &consumed_owner);
		}
		if ((xorshift(&rng) & 63) == 0)
			sched_yield(); /* let thieves at a full ring */
	}
	/* Drain what is left. */
	struct weft__runnable *r;
	while ((r = weft__runq_pop_owner(&owner_q)))
		consume(r, &consumed_owner);
	atomic_store_explicit(&owner_done, true, memory_order_release);
	return NULL;
}

static void *thief_main(void *arg)
{
	unsigned me = (unsigned)(uintptr_t)arg;
	struct weft__runq *mine = &thief_q[me];
	uint32_t rng = 0x9e3779b9u * (me + 1);
	for (;;) {
		bool done = atomic_load_explicit(&owner_done, memory_order_acquire);
		/* Victim: mostly the owner, sometimes another thief. */
		unsigned v = xorshift(&rng) % (NTHIEVES + 2);
		struct weft__runq *victim = v >= NTHIEVES ? &owner_q : &thief_q[v];
		if (victim == mine)
			victim = &owner_q;
		struct weft__runnable *r = weft__runq_steal_half(victim, mine);
		if (r) {
			atomic_fetch_add_explicit(&steals, 1, memory_order_relaxed);
			consume(r, &consumed_thieves);
			/* Drain our ring as its owner (the other thieves
			 * may steal from it meanwhile). */
			while ((r = weft__runq_pop_owner(mine)))
				consume(r, &consumed_thieves);
		} else {
			atomic_fetch_add_explicit(&empty_steals, 1, memory_order_relaxed);
			if (done) {
				/* The owner drained its ring; the others drain
				 * their own. */
				break;
			}
			if ((xorshift(&rng) & 15) == 0)
				sched_yield();
		}
	}
	return NULL;
}

int main(void)
{
	stress_begin("runq");
	nitems = stress_count(4000000);
	items = calloc((size_t)nitems, sizeof(*items));
	seen = calloc((size_t)nitems, sizeof(*seen));
	if (!items || !seen) {
		fprintf(stderr, "runq: out of memory\n");
		return 1;
	}
	for (long i = 0; i < nitems; i++) {
		items[i].id = (uint32_t)i;
		items[i].run.kind = WEFT__RUN_TASK;
	}
	weft__runq_init(&owner_q);
	for (unsigned i = 0; i < NTHIEVES; i++)
		weft__runq_init(&thief_q[i]);

	pthread_t owner, thieves[NTHIEVES];
	for (unsigned i = 0; i < NTHIEVES; i++)
		pthread_create(&thieves[i], NULL, thief_main, (void *)(uintptr_t)i);
	pthread_create(&owner, NULL, owner_main, NULL);
	pthread_join(owner, NULL);
	for (unsigned i = 0; i < NTHIEVES; i++)
		pthread_join(thieves[i], NULL);

	long missing = 0, first_missing = -1;
	for (long i = 0; i < nitems; i++) {
		uint8_t s = atomic_load_explicit(&seen[i], memory_order_relaxed);
		if (s != 1) {
			if (s == 0) {
				missing++;
				if (first_missing < 0)
					first_missing = i;
			}
		}
	}
	STRESS_CHECK(missing == 0, "%ld items never consumed (first: %ld)", missing, first_missing);
	long total = consumed_owner + consumed_half + consumed_thieves;
	STRESS_CHECK(total == nitems, "consumed %ld of %ld", total, nitems);
	STRESS_CHECK(weft__runq_len(&owner_q) == 0, "owner ring not empty");
	for (unsigned i = 0; i < NTHIEVES; i++)
		STRESS_CHECK(weft__runq_len(&thief_q[i]) == 0, "thief ring %u not empty", i);
	printf("runq: %ld items: owner popped %ld, spilled %ld, thieves %ld (%ld steals, %ld empty)\n",
	       nitems, (long)consumed_owner, (long)consumed_half, (long)consumed_thieves,
	       (long)steals, (long)empty_steals);
	free(items);
	free((void *)seen);
	return stress_end();
}
