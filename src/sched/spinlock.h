/* SPDX-License-Identifier: MIT */
/*
 * A test-and-test-and-set spinlock for critical sections of a few
 * instructions (a future's waiter list, a task's cancel state). Hand-rolled
 * in C11 rather than ck_spinlock because ck_pr's inline asm is invisible to
 * ThreadSanitizer, and these locks guard most cross-thread hand-offs.
 */
#ifndef WEFT_SCHED_SPINLOCK_H
#define WEFT_SCHED_SPINLOCK_H

#include <stdatomic.h>
#include <stdbool.h>

#include "fiber/switch.h"

typedef struct {
	atomic_bool held;
} weft__spinlock;

#define WEFT__SPINLOCK_INIT {false}

static inline void weft__spin_lock(weft__spinlock *l)
{
	for (;;) {
		/* acquire: pairs with the release in weft__spin_unlock */
		if (!atomic_exchange_explicit(&l->held, true, memory_order_acquire))
			return;
		while (atomic_load_explicit(&l->held, memory_order_relaxed))
			weft__cpu_relax();
	}
}

static inline void weft__spin_unlock(weft__spinlock *l)
{
	atomic_store_explicit(&l->held, false, memory_order_release);
}

#endif
