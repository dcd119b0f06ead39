/* SPDX-License-Identifier: MIT */
/*
 * Stack-overflow reports: a SIGSEGV handler on an alternate stack that
 * recognises an overflow of the fiber running on this thread (a fault in
 * its guard, or anywhere while its stack pointer is outside its stack: a
 * frame larger than the guard jumped it) and a write into any stack's
 * guard, prints "weft: stack overflow in task <name>" with what it found,
 * and aborts. Other faults go to the handler that was there before.
 */
#ifndef WEFT_FIBER_GUARD_H
#define WEFT_FIBER_GUARD_H

#include <stdbool.h>
#include <stddef.h>

/* Each worker's alternate signal stack. */
#define WEFT__ALTSTACK_BYTES ((size_t)64 * 1024)

/* What the handler learns about a fault from the worker it hit. */
struct weft__guard_report {
	char task[64];      /* the task running ("" if none) */
	char victim[64];    /* the task whose stack's guard was hit, if not
	                     * the running one ("" if none, or a free stack) */
	bool guard_hit;     /* the address is in some stack's guard */
	bool own_guard;     /* ... the running task's own */
	bool sp_outside;    /* the interrupted stack pointer is outside the
	                     * running task's stack (and not on the worker's
	                     * own stacks) */
	const void *lo, *hi; /* the running task's stack */
};

/*
 * Asked from inside the signal handler (async-signal-safe code only):
 * fills *r about a fault at `addr` with the stack pointer at `sp`; true
 * if it is an overflow or a guard hit weft should report.
 */
typedef bool (*weft__guard_lookup_fn)(const void *addr, const void *sp,
				      struct weft__guard_report *r);

/*
 * Installs the handler process-wide: always when `force`, else only when
 * SIGSEGV has no handler yet (a library must not steal the process's).
 * Returns whether weft's handler is in place. Idempotent, thread-safe.
 */
bool weft__guard_install(weft__guard_lookup_fn lookup, bool force);

/* Prints "weft: stack overflow in task <name>" and aborts; also what a
 * small stack's broken canary ends in. Async-signal-safe. */
_Noreturn void weft__stack_overflow_abort(const char *name);

/* Gives the calling thread an alternate signal stack (a worker starting):
 * 0 with *out the mapping to pass to weft__guard_thread_exit, or -errno
 * (without it a guard hit cannot be reported: the handler would fault on
 * the overflowed stack). */
int weft__guard_thread_init(void **out);
void weft__guard_thread_exit(void *altstack);

#endif
