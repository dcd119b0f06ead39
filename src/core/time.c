/* SPDX-License-Identifier: MIT */
#include <time.h>

#include <weft/time.h>

WEFT_API double weft_time(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
