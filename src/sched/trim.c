/* SPDX-License-Identifier: MIT */
/*
 * Idle time is when stack pages (and the layer above's spare memory, task
 * slabs) go back to the kernel, paced as Go's scavenger is: only once the
 * pools have held more than they keep for TRIM_DELAY_NS (a burst of tasks,
 * e.g. 100,000 sleeps, reuses them instead of faulting every page in
 * again), in batches, and never with a timer due soon (each madvise may
 * cost a TLB-shootdown IPI; a long run of them would make timers late).
 * Decision 14.
 */
#include "sched/hooks.h"
#include "sched/sched.h"
#include "sched/worker.h"

enum {
	TRIM_BATCH = 64,
	TRIM_DELAY_NS = 1000000000,
	TRIM_TIMER_GAP_NS = 5000000,
	TRIM_RETRY_NS = 1000000,
};

uint64_t weft__trim_idle(struct weft__sched *s, uint64_t now, uint64_t timer_in)
{
	size_t above = weft__stack_trim(&s->stacks, 0) + weft__hook_trim(s, 0);
	uint64_t since = atomic_load_explicit(&s->trim_since, memory_order_relaxed);
	if (!above) {
		if (since)
			atomic_store_explicit(&s->trim_since, 0, memory_order_relaxed);
		return UINT64_MAX;
	}
	if (!since) {
		/* workers race benignly: any of their clocks will do */
		atomic_store_explicit(&s->trim_since, now, memory_order_relaxed);
		return TRIM_DELAY_NS;
	}
	if (now - since < TRIM_DELAY_NS)
		return since + TRIM_DELAY_NS - now;
	if (timer_in < TRIM_TIMER_GAP_NS)
		return TRIM_RETRY_NS;
	size_t more = weft__stack_trim(&s->stacks, TRIM_BATCH);
	more += weft__hook_trim(s, TRIM_BATCH);
	return more ? TRIM_RETRY_NS : UINT64_MAX;
}
