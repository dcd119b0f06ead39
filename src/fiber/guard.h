/* SPDX-License-Identifier: MIT */
/*
 * Stack-overflow reports: a SIGSEGV handler on an alternate stack that
 * recognises a hit on the running fiber's guard page, prints
 * "weft: stack overflow in task <name>" and aborts. Other faults go to the
 * handler that was there before.
 */
#ifndef WEFT_FIBER_GUARD_H
#define WEFT_FIBER_GUARD_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Asked from inside the signal handler (async-signal-safe code only): if
 * `addr` lies in the guard of the fiber running on this thread, write its
 * task name (NUL-terminated) into buf and return true.
 */
typedef bool (*weft__guard_lookup_fn)(const void *addr, char *buf, size_t cap);

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
