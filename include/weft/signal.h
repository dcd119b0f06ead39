/* SPDX-License-Identifier: MIT */
/*
 * Signals for tasks (asyncio's loop.add_signal_handler, as a wait).
 *
 *     for (;;) {
 *         int sig = weft_signal_wait(SIGTERM);   // suspends this task only
 *         ...shut the server down gracefully...
 *     }
 *
 * weft installs a handler for a signal only when a task first waits for
 * it (never one nobody asked for); from then on the handler stays for the
 * process's life, counting each delivery and waking the waiters through
 * an eventfd their rings read (asyncio's wakeup-fd shape; it works
 * whatever thread the kernel picks, including the one that called
 * weft_run). Each delivery is taken by one weft_signal_wait; deliveries
 * that arrive while no task waits are counted and taken by the next
 * waits. weft's own threads block SIGPIPE (sends use MSG_NOSIGNAL).
 */
#ifndef WEFT_SIGNAL_H
#define WEFT_SIGNAL_H

#include <weft/common.h>

WEFT_BEGIN_DECLS

/*
 * Waits until signo is delivered to the process (or takes a delivery
 * counted earlier) and returns signo. Errors: -EINVAL (a signal that
 * cannot be caught or that weft will not take over: SIGKILL, SIGSTOP,
 * SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, or out of range), -EPERM
 * (outside a task), -ECANCELED (the task was cancelled), -EMFILE and
 * -ENOMEM (no descriptor for the wait). Suspends. Tasks only.
 */
WEFT_API int weft_signal_wait(int signo);

WEFT_END_DECLS

#endif
