/* SPDX-License-Identifier: MIT */
/* Time: double seconds, as in asyncio. */
#ifndef WEFT_TIME_H
#define WEFT_TIME_H

#include <weft/common.h>

/*
 * asyncio.sleep. `seconds` <= 0 (or NaN) yields: the task goes to the back
 * of the ready queue and every task ready now runs once before it resumes.
 * Returns 0, or -ECANCELED when a cancellation is delivered here, -EPERM
 * outside a task. Timed sleeps (seconds > 0) need the timer wheel and
 * return -ENOSYS until it is built. Suspends; tasks only.
 */
WEFT_API int weft_sleep(double seconds);

/* Process-wide monotonic time in seconds (never goes backwards). Any thread. */
WEFT_API double weft_time(void);

#endif
