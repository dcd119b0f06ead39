/* SPDX-License-Identifier: MIT */
/* What code running on behalf of a task sees (core/context.h). */
#include <weft/runtime.h>

#include "core/context.h"
#include "core/core.h"
#include "core/task.h"

__thread struct weft__thread_ctx weft__thread_ctx;

struct weft__core *weft__core_current(void)
{
	struct weft__core_worker *cw = weft__core_worker_current();
	return cw ? cw->core : weft__thread_ctx.core; /* a blocking-pool thread's */
}

struct weft__locals *weft__locals_visible(void)
{
	struct weft__core_worker *cw = weft__core_worker_current();
	if (!cw)
		return weft__thread_ctx.locals; /* NULL outside a to_thread call */
	/* a callback sees the values of the task that scheduled it */
	struct weft__task *t = weft__task_current();
	return t ? t->locals : cw->cb_locals;
}

WEFT_API weft_runtime *weft_current_runtime(void)
{
	struct weft__core *c = weft__core_current();
	return c ? weft__core_runtime(c) : NULL;
}
