/* SPDX-License-Identifier: MIT */
/*
 * The counter of permits behind asyncio's Lock (one permit) and
 * Semaphore / BoundedSemaphore (sync/lock.c).
 *
 * Release hands a permit straight to the first waiter (the count is not
 * raised), so `value > 0` implies that nobody waits, and acquire's fast
 * path (a free permit) can never barge past a waiter: FIFO on any number
 * of workers. asyncio reaches the same order by letting only the woken
 * waiter take the permit it was woken for.
 */
#ifndef WEFT_SYNC_PERMITS_H
#define WEFT_SYNC_PERMITS_H

#include "sched/spinlock.h"
#include "sync/waitq.h"

struct weft__permits {
	weft__spinlock lock;
	_Atomic long value;          /* free permits; written under lock */
	long bound;                  /* a release beyond it fails; LONG_MAX: none */
	int over_rc;                 /* what such a release returns */
	struct weft__wlist waiters;  /* under lock */
};

void weft__permits_init(struct weft__permits *p, long value, long bound, int over_rc);

/* Takes a permit (suspending FIFO); the calling task's. 0, -EPERM (not a
 * task), -ECANCELED, -ENOMEM. */
int weft__permits_acquire(struct weft__permits *p);

/* Returns a permit: to the first waiter, else to the count. 0 or over_rc. */
int weft__permits_release(struct weft__permits *p);

/* Free permits now. */
long weft__permits_value(struct weft__permits *p);

/* True when nothing waits (under the lock). */
bool weft__permits_idle(struct weft__permits *p);

#endif
