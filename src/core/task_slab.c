/* SPDX-License-Identifier: MIT */
#include <stdatomic.h>
#include <stdlib.h>

#include "core/task.h"
#include "core/task_slab.h"
#include "fiber/sanitizer.h"
#include "sched/worker.h"

#ifdef WEFT_ASAN
#define SLAB_TASKS 1u
#else
#define SLAB_TASKS 16u
#endif

struct weft__task_slab {
	/* Tasks not yet freed, plus the slots the owner has not handed out. */
	_Atomic uint32_t live;
	_Alignas(64) struct weft__task tasks[SLAB_TASKS];
};

static struct weft__task_slab *slab_new(void)
{
	struct weft__task_slab *s = aligned_alloc(64, sizeof(*s));
	if (s)
		atomic_init(&s->live, SLAB_TASKS);
	return s;
}

static void slab_put(struct weft__task_slab *s, uint32_t n)
{
	/* acq_rel: the last one out must see every other task's writes */
	if (atomic_fetch_sub_explicit(&s->live, n, memory_order_acq_rel) == n)
		free(s);
}

struct weft__task *weft__task_alloc(struct weft__worker *w)
{
	struct weft__task_slab *s;
	unsigned i;
	if (!w || SLAB_TASKS == 1) {
		if (!(s = slab_new()))
			return NULL;
		/* hand back the slots a foreign thread cannot use */
		if (SLAB_TASKS > 1)
			atomic_store_explicit(&s->live, 1, memory_order_relaxed);
		i = 0;
	} else {
		if (!w->slab || w->slab_used == SLAB_TASKS) {
			if (!(w->slab = slab_new()))
				return NULL;
			w->slab_used = 0;
		}
		s = w->slab;
		i = w->slab_used++;
	}
	s->tasks[i].slab = s;
	return &s->tasks[i];
}

void weft__task_dealloc(struct weft__task *t)
{
	slab_put(t->slab, 1);
}

void weft__task_slab_retire(struct weft__worker *w)
{
	if (w->slab && w->slab_used < SLAB_TASKS)
		slab_put(w->slab, SLAB_TASKS - w->slab_used);
	w->slab = NULL;
	w->slab_used = 0;
}
