/* SPDX-License-Identifier: MIT */
/*
 * A fiber: a context plus the stack it runs on. A worker's own loop is a
 * fiber too (on the thread's stack), so every switch goes through one
 * function that keeps the sanitizers informed. In a plain build a fiber is
 * two pointers, so it fits in a task's hot cache line.
 */
#ifndef WEFT_FIBER_FIBER_H
#define WEFT_FIBER_FIBER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fiber/sanitizer.h"
#include "fiber/stack.h"
#include "fiber/switch.h"

struct weft__fiber {
	struct weft__ctx ctx;      /* valid while the fiber is switched out */
	struct weft__stack *stack; /* NULL for a loop fiber, or before the first run */
#ifdef WEFT_SANITIZED
	const void *lo;            /* usable stack, for ASan */
	size_t size;
	void *tsan;                /* TSan's fiber handle */
	void *asan_fake;           /* ASan's fake stack while switched out */
#endif
};

/*
 * Switches from the running fiber `from` to `to`. `from_done` says `from`
 * will never run again (ASan then frees its fake stack). Returns when
 * something switches back to `from`, possibly on another thread.
 */
static inline void weft__fiber_switch(struct weft__fiber *from, struct weft__fiber *to,
				      bool from_done)
{
#ifdef WEFT_SANITIZED
	weft__asan_start(from_done ? NULL : &from->asan_fake, to->lo, to->size);
	weft__tsan_switch(to->tsan);
	weft__ctx_switch(&from->ctx, &to->ctx);
	weft__asan_finish(from->asan_fake);
#else
	(void)from_done;
	weft__ctx_switch(&from->ctx, &to->ctx);
#endif
}

/* The first thing a new fiber's entry function must call. */
static inline void weft__fiber_started(void)
{
	weft__asan_finish(NULL);
}

/*
 * The entry function's last step before its final switch (always
 * inlined: it must run in the entry function's own frame). That frame
 * never returns, so TSan would keep its entry on the shadow stack of the
 * stack's TSan fiber, which every later task on the stack reuses: one
 * entry leaked per task overflowed it after ~64K tasks on one stack (a
 * SEGV inside TSan). Pops it, as the return would have.
 */
static inline __attribute__((always_inline)) void weft__fiber_exiting(void)
{
	weft__tsan_func_exit();
}

/* Makes f run entry(arg) on the stack [lo, lo + size) owned by st. */
static inline void weft__fiber_prepare(struct weft__fiber *f, struct weft__stack *st, void *lo,
				       size_t size, void (*entry)(void *), void *arg)
{
	f->stack = st;
#ifdef WEFT_SANITIZED
	f->lo = lo;
	f->size = size;
	if (!st->tsan)
		st->tsan = weft__tsan_create();
	f->tsan = st->tsan;
	f->asan_fake = NULL;
#endif
	/* Cache colouring: stacks are page-aligned, so without an offset
	 * every suspended fiber's top frame lands in the same L1 set (a
	 * yield-heavy load ran ~1.7x faster with it). */
	size_t colour = (((uintptr_t)lo >> 12) * 7 % 32) * 64;
	/* A stack gives at most an eighth of itself (small-stack mode:
	 * 1 KiB and up, whose packing already spreads tops over the page);
	 * never taken from 16 KiB up (colour < 2 KiB). */
	_Static_assert(WEFT__SMALL_STACK_MIN / 8 >= 64, "a colour step is 64 bytes");
	if (__builtin_expect(colour > size / 8, 0))
		colour %= (size / 8) & ~(size_t)63;
	weft__ctx_make(&f->ctx, lo, size - colour, entry, arg);
}

/* After f finished and was switched away from for good: forget its
 * stack (returned) and its sanitizer state. */
static inline struct weft__stack *weft__fiber_release(struct weft__fiber *f)
{
	struct weft__stack *st = f->stack;
	f->stack = NULL;
#ifdef WEFT_SANITIZED
	f->tsan = NULL; /* it stays with the stack */
#endif
	return st;
}

/* Makes f describe the calling thread's own stack (a worker's loop). */
static inline void weft__fiber_init_thread(struct weft__fiber *f, const void *lo, size_t size)
{
	f->stack = NULL;
#ifdef WEFT_SANITIZED
	f->lo = lo;
	f->size = size;
	f->tsan = weft__tsan_current();
	f->asan_fake = NULL;
#else
	(void)lo;
	(void)size;
#endif
}

#endif
