/* SPDX-License-Identifier: MIT */
/* Time: double seconds, as in asyncio. */
#ifndef WEFT_TIME_H
#define WEFT_TIME_H

#include <weft/common.h>

WEFT_BEGIN_DECLS

/*
 * asyncio.sleep. Suspends the calling task for at least `seconds` (never
 * less; a timer on its worker's heap wakes it). `seconds` <= 0 yields: the
 * task goes to the back of the ready queue and every task ready now runs
 * once before it resumes. Returns 0, or -ECANCELED when a cancellation is
 * delivered here (a sleeping task wakes at once; a cancel that comes after
 * the deadline but before the task runs again is delivered here too, as
 * in asyncio), -EINVAL for NaN (asyncio
 * 3.13's ValueError; checked first, nothing suspends), -EPERM outside a
 * task, -ENOMEM. Suspends; tasks only.
 */
WEFT_API int weft_sleep(double seconds);

/*
 * The runtime's clock in seconds: process-wide monotonic time (never goes
 * backwards), or, on the worker of a runtime created with paused_clock,
 * that runtime's paused clock. Any thread (foreign threads always read
 * real time).
 */
WEFT_API double weft_time(void);

/*
 * Moves a paused clock forward by `seconds` (tokio's time::advance): the
 * timers that become due fire at once, so the tasks they wake run in the
 * next loop turn. Returns 0, or -EPERM (not on the worker of a runtime
 * with paused_clock), -EINVAL (negative or NaN). Never suspends.
 */
WEFT_API int weft_clock_advance(double seconds);

WEFT_END_DECLS

#endif
