/* SPDX-License-Identifier: MIT */
/*
 * Waiting on futures with timeouts: asyncio.wait, asyncio.wait_for and
 * asyncio.as_completed. Timeouts are seconds (WEFT_FOREVER: none; <= 0:
 * already expired, which still lets futures already done report their
 * outcome). None of these consumes the caller's references; the pointers
 * they hand back are borrowed from the caller's arrays.
 */
#ifndef WEFT_WAIT_H
#define WEFT_WAIT_H

#include <weft/common.h>

WEFT_BEGIN_DECLS

/* weft_wait's return_when. */
enum weft_return_when {
	WEFT_FIRST_COMPLETED = 1, /* when any future is done */
	WEFT_FIRST_EXCEPTION = 2, /* when any fails (not: ends cancelled), or
	                           * all are done */
	WEFT_ALL_COMPLETED = 3,   /* when all are done */
};

/*
 * asyncio.wait(futs, timeout=, return_when=). Suspends the calling task
 * until the condition holds or `timeout` passes, then sorts the futures:
 * the done ones into done[0..*ndone), the others into
 * pending[0..*npending), each in input order, as borrowed pointers (arrays
 * of capacity n; either array, or count pointer, may be NULL). A timeout
 * is not an error: it returns 0 with the pending ones, which are not
 * cancelled. A cancelled future counts as done but is not an exception
 * for WEFT_FIRST_EXCEPTION. As in asyncio the call always suspends at
 * least once, even if every future is already done. An input given twice
 * is listed twice.
 *
 * Returns 0, or -EINVAL (futs NULL, n == 0, a NULL input, unknown
 * return_when, NaN timeout), -EPERM (not inside a task), -ECANCELED (the
 * calling task was cancelled while waiting: the futures are not
 * cancelled), -ENOMEM. On an error *ndone and *npending are 0.
 * Suspends; tasks only.
 */
WEFT_API int weft_wait(weft_future *const *futs, size_t n, double timeout, int return_when,
		       weft_future **done, size_t *ndone, weft_future **pending,
		       size_t *npending);

/*
 * asyncio.wait_for(fut, timeout), as 3.12 builds it on a timeout scope.
 * Suspends until fut is done and returns its outcome (0 with *result, or
 * its code). When the timeout passes first, fut is cancelled and the call
 * waits until fut has really finished: -ETIMEDOUT if it ended cancelled;
 * its own outcome if it finished otherwise (it refused the cancel, or
 * failed while being cancelled). WEFT_FOREVER waits forever. A timeout
 * <= 0 returns at once the outcome of a fut already done, else cancels
 * fut at once and waits for it as above. If the calling task is cancelled
 * meanwhile, fut is cancelled too and the call returns -ECANCELED, or
 * fut's own outcome if fut finished anyway (as with weft_await: a cancel
 * fut accepted is spent; one it refused outright stays pending for the
 * task's next suspension point). With timeout <= 0 a cancel of the task
 * ends the wait at once with -ECANCELED, fut already being cancelled
 * (asyncio's _cancel_and_wait).
 *
 * Misuse first, fut untouched: -EINVAL (NULL fut, NaN timeout), -EPERM
 * (not inside a task), -EDEADLK (fut is the calling task); also -ENOMEM.
 * Suspends (except on a fut already done); tasks only.
 */
WEFT_API int weft_wait_for(weft_future *fut, double timeout, void **result);

/*
 * asyncio.as_completed(futs, timeout=) as an iterator (3.13: it yields the
 * original futures, in the order they complete).
 *
 *     weft_as_completed *it;
 *     if ((rc = weft_as_completed_start(futs, n, 1.0, &it)))
 *             return rc;
 *     weft_future *f;
 *     while ((rc = weft_as_completed_next(it, &f)) == 0)
 *             use(f);                   // done: weft_future_result(f, ...)
 *     weft_as_completed_free(it);       // rc is 1 (all seen), -ETIMEDOUT...
 */
typedef struct weft_as_completed weft_as_completed;

/*
 * Starts watching futs[0..n) (an input given twice is yielded twice). The
 * timeout (seconds, WEFT_FOREVER for none) covers the whole iteration.
 * The iterator keeps a reference to each future until it is freed.
 * Returns 0 and sets *out, or -EINVAL (NULL out, futs NULL with n > 0, a
 * NULL input, NaN timeout), -EPERM (not on a worker thread), -ENOMEM.
 * Never suspends. Worker threads (tasks, callbacks).
 */
WEFT_API int weft_as_completed_start(weft_future *const *futs, size_t n, double timeout,
				     weft_as_completed **out);

/*
 * Suspends until the next future is done and returns 0 with *out set to it
 * (a borrowed pointer, valid while the iterator or the caller's own
 * reference lives). Returns 1 once every input has been yielded or
 * reported as timed out (StopAsyncIteration). After the timeout expires,
 * each call returns -ETIMEDOUT, once per future not yet yielded (those
 * keep running; futures done before the timeout are yielded first).
 * Other codes: -EINVAL (NULL it or out), -EPERM (not inside a task),
 * -EBUSY (another task is in next on this iterator), -ECANCELED (the
 * calling task was cancelled while waiting: nothing is consumed), -ENOMEM.
 * Suspends unless a result is ready; tasks only.
 */
WEFT_API int weft_as_completed_next(weft_as_completed *it, weft_future **out);

/*
 * Releases the iterator: cancels its timer and drops its references (the
 * futures are not cancelled). Not while a task is inside next on it. NULL
 * is ignored. Never suspends. Any thread.
 */
WEFT_API void weft_as_completed_free(weft_as_completed *it);

WEFT_END_DECLS

#endif
