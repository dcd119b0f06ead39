/* SPDX-License-Identifier: MIT */
/* Time: double seconds, as in asyncio. */
#ifndef WEFT_TIME_H
#define WEFT_TIME_H

#include <weft/common.h>

/*
 * asyncio.sleep. Suspends the calling task for at least `seconds` (never
 * less; a timer on its worker's heap wakes it). `seconds` <= 0 (or NaN)
 * yields: the task goes to the back of the ready queue and every task
 * ready now runs once before it resumes. Returns 0, or -ECANCELED when a
 * cancellation is delivered here (a sleeping task wakes at once), -EPERM
 * outside a task, -ENOMEM. Suspends; tasks only.
 */
WEFT_API int weft_sleep(double seconds);

/* Process-wide monotonic time in seconds (never goes backwards). Any thread. */
WEFT_API double weft_time(void);

#endif
