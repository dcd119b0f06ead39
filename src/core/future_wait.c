/* SPDX-License-Identifier: MIT */
/*
 * A foreign thread waiting for a future (weft_future_wait): a waiter on
 * the future's list that spins briefly, then sleeps on a futex, woken by
 * the completion's dispatch (weft__thread_waiter_wake).
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <math.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core/debug.h"
#include "core/future.h"
#include "fiber/switch.h"
#include "sched/worker.h"

struct thread_waiter {
	struct weft__waiter w;
	_Atomic uint32_t done; /* THREAD_* */
};

enum { THREAD_WAITING, THREAD_DONE, THREAD_SLEEPING };
enum { THREAD_SPINS = 256 }; /* ~10 us of pause */
#define WAIT_SLICE_S 1073741824.0 /* the longest futex sleep: 2^30 s, ~34 years */

void weft__thread_waiter_wake(struct weft__waiter *w)
{
	struct thread_waiter *tw = (struct thread_waiter *)w;
	/* acq_rel: our release pairs with the waiter's acquire; only a waiter
	 * that said it sleeps needs the syscall */
	if (atomic_exchange_explicit(&tw->done, THREAD_DONE, memory_order_acq_rel) ==
	    THREAD_SLEEPING)
		syscall(SYS_futex, &tw->done, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

static int futex_wait(_Atomic uint32_t *addr, uint32_t val, const struct timespec *rel)
{
	long rc = syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, rel, NULL, 0);
	return rc == 0 ? 0 : -errno;
}

static double now_real(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

WEFT_API int weft_future_wait(weft_future *f, double timeout, void **result)
{
	if (!f)
		return weft__misuse(-EINVAL, "NULL future");
	if (isnan(timeout))
		return weft__misuse(-EINVAL, "NaN timeout");
	if (weft__worker_current())
		return weft__misuse(-EPERM, "would block a worker thread; use weft_await in a task");
	if (weft__future_is_done(f))
		return weft__future_outcome(f, result);
	if (!(timeout > 0))
		return -ETIMEDOUT;
	struct thread_waiter tw = {.w = {.kind = WEFT__WAIT_THREAD}};
	atomic_init(&tw.done, 0);
	if (!weft__future_add_waiter(f, &tw.w))
		return weft__future_outcome(f, result);
	/* A submit-and-wait round trip often ends within microseconds: spin
	 * a little before sleeping, which also spares the waker's futex wake.
	 * acquire: pairs with dispatch's exchange. */
	for (int i = 0; i < THREAD_SPINS; i++) {
		if (atomic_load_explicit(&tw.done, memory_order_acquire) == THREAD_DONE)
			return weft__future_outcome(f, result);
		weft__cpu_relax();
	}
	double deadline = isinf(timeout) ? INFINITY : now_real() + timeout;
	uint32_t expect = THREAD_WAITING;
	atomic_compare_exchange_strong_explicit(&tw.done, &expect, THREAD_SLEEPING,
						memory_order_acq_rel, memory_order_acquire);
	while (atomic_load_explicit(&tw.done, memory_order_acquire) != THREAD_DONE) {
		struct timespec rel, *relp = NULL;
		if (!isinf(deadline)) {
			double left = deadline - now_real();
			if (left <= 0) {
				if (weft__future_remove_waiter(f, &tw.w))
					return -ETIMEDOUT;
				/* being dispatched right now: the signal is imminent */
				deadline = INFINITY;
				continue;
			}
			/* a finite timeout may still be beyond time_t (above
			 * ~9.2e18 s: the conversion is undefined, and futex
			 * refused it at once, in a loop); waking every 2^30 s
			 * to look again costs nothing */
			if (left > WAIT_SLICE_S)
				left = WAIT_SLICE_S;
			rel.tv_sec = (time_t)left;
			rel.tv_nsec = (long)((left - (double)rel.tv_sec) * 1e9);
			relp = &rel;
		}
#ifdef WEFT_TSAN
		/* TSan runs a signal handler only when its thread next enters
		 * a function TSan intercepts; a raw futex syscall is none, so
		 * a thread asleep here would hold a signal back for good. */
		struct timespec tick = {0, 10 * 1000 * 1000};
		if (!relp || rel.tv_sec > 0 || rel.tv_nsec > tick.tv_nsec)
			relp = &tick;
#endif
		futex_wait(&tw.done, THREAD_SLEEPING, relp);
	}
	return weft__future_outcome(f, result);
}
