/* SPDX-License-Identifier: MIT */
/*
 * A fiber: a context plus the stack it runs on. A worker's own loop is a
 * fiber too (on the thread's stack), so every switch goes through one
 * function that keeps the sanitizers informed.
 */
#ifndef WEFT_FIBER_FIBER_H
#define WEFT_FIBER_FIBER_H

#include <stdbool.h>
#include <stddef.h>

#include "fiber/sanitizer.h"
#include "fiber/switch.h"

struct weft__stack;

struct weft__fiber {
	struct weft__ctx ctx;       /* valid while the fiber is switched out */
	const void *lo;             /* usable stack, for ASan */
	size_t size;
	struct weft__stack *stack;  /* NULL for a worker's loop fiber */
	void *tsan;                 /* TSan's fiber handle, or NULL */
	void *asan_fake;            /* ASan's fake stack while switched out */
};

/*
 * Switches from the running fiber `from` to `to`. `from_done` says `from`
 * will never run again (ASan then frees its fake stack). Returns when
 * something switches back to `from`, possibly on another thread.
 */
static inline void weft__fiber_switch(struct weft__fiber *from, struct weft__fiber *to,
				      bool from_done)
{
	weft__asan_start(from_done ? NULL : &from->asan_fake, to->lo, to->size);
	weft__tsan_switch(to->tsan);
	weft__ctx_switch(&from->ctx, &to->ctx);
	weft__asan_finish(from->asan_fake);
}

/* The first thing a new fiber's entry function must call. */
static inline void weft__fiber_started(void)
{
	weft__asan_finish(NULL);
}

#endif
