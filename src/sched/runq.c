/* SPDX-License-Identifier: MIT */
#include "sched/runq.h"

#define MASK (WEFT__RUNQ_CAP - 1)

void weft__runq_init(struct weft__runq *q)
{
	atomic_init(&q->head, 0);
	atomic_init(&q->tail, 0);
	for (unsigned i = 0; i < WEFT__RUNQ_CAP; i++)
		atomic_init(&q->slot[i], NULL);
}

bool weft__runq_push_owner(struct weft__runq *q, struct weft__runnable *r)
{
	uint32_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
	/* acquire: pairs with a thief's CAS on head, so the slot it copied
	 * from is not overwritten before its copy is done */
	uint32_t h = atomic_load_explicit(&q->head, memory_order_acquire);
	if (t - h >= WEFT__RUNQ_CAP)
		return false;
	atomic_store_explicit(&q->slot[t & MASK], r, memory_order_relaxed);
	/* seq_cst (also a release publishing the slot to thieves' acquire of
	 * tail): the pusher's following seq_cst load of the idle word must not
	 * move before it; see sched/idle.h. */
	atomic_store_explicit(&q->tail, t + 1, memory_order_seq_cst);
	return true;
}

struct weft__runnable *weft__runq_pop_owner(struct weft__runq *q)
{
	uint32_t h = atomic_load_explicit(&q->head, memory_order_acquire);
	for (;;) {
		uint32_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
		if (h == t)
			return NULL;
		struct weft__runnable *r =
			atomic_load_explicit(&q->slot[h & MASK], memory_order_relaxed);
		/* thieves race for the same head */
		if (atomic_compare_exchange_weak_explicit(&q->head, &h, h + 1, memory_order_acq_rel,
							  memory_order_acquire))
			return r;
	}
}

struct weft__runnable *weft__runq_take_half_owner(struct weft__runq *q,
						  struct weft__runnable **last, uint32_t *n)
{
	uint32_t h = atomic_load_explicit(&q->head, memory_order_acquire);
	for (;;) {
		uint32_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
		uint32_t k = (t - h) / 2;
		if (k == 0)
			return NULL;
		struct weft__runnable *batch[WEFT__RUNQ_CAP / 2];
		for (uint32_t i = 0; i < k; i++)
			batch[i] = atomic_load_explicit(&q->slot[(h + i) & MASK],
							memory_order_relaxed);
		if (!atomic_compare_exchange_weak_explicit(&q->head, &h, h + k, memory_order_acq_rel,
							   memory_order_acquire))
			continue;
		for (uint32_t i = 0; i + 1 < k; i++)
			batch[i]->next = batch[i + 1];
		batch[k - 1]->next = NULL;
		*last = batch[k - 1];
		*n = k;
		return batch[0];
	}
}

struct weft__runnable *weft__runq_steal_half(struct weft__runq *victim, struct weft__runq *dst)
{
	uint32_t dt = atomic_load_explicit(&dst->tail, memory_order_relaxed);
	uint32_t h = atomic_load_explicit(&victim->head, memory_order_acquire);
	for (;;) {
		/* acquire: pairs with the victim's release store of tail, so
		 * the slots below it are visible */
		uint32_t t = atomic_load_explicit(&victim->tail, memory_order_acquire);
		uint32_t n = t - h;
		n -= n / 2;
		if (n == 0)
			return NULL;
		if (n > WEFT__RUNQ_CAP / 2) {
			/* head and tail read at different moments: reread */
			h = atomic_load_explicit(&victim->head, memory_order_acquire);
			continue;
		}
		for (uint32_t i = 0; i < n; i++) {
			struct weft__runnable *r = atomic_load_explicit(
				&victim->slot[(h + i) & MASK], memory_order_relaxed);
			atomic_store_explicit(&dst->slot[(dt + i) & MASK], r, memory_order_relaxed);
		}
		/* acq_rel: claims the copied slots; pairs with the owner's
		 * acquire of head before it reuses them */
		if (atomic_compare_exchange_weak_explicit(&victim->head, &h, h + n,
							  memory_order_acq_rel,
							  memory_order_acquire)) {
			n--;
			struct weft__runnable *r = atomic_load_explicit(
				&dst->slot[(dt + n) & MASK], memory_order_relaxed);
			if (n)
				atomic_store_explicit(&dst->tail, dt + n, memory_order_release);
			return r;
		}
	}
}
