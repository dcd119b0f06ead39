/* SPDX-License-Identifier: MIT */
/*
 * Errors are negative errno values, as in liburing. weft's own codes that
 * errno lacks live below -4095, outside the errno range.
 *
 * asyncio → weft: CancelledError -ECANCELED, TimeoutError -ETIMEDOUT,
 * InvalidStateError -EBUSY (not done yet) / -EALREADY (already done),
 * bad argument -EINVAL, misuse (RuntimeError) -EPERM, a task awaiting
 * itself -EDEADLK, a runtime shutting down -ESHUTDOWN, socket.gaierror
 * WEFT_ENAME.
 */
#ifndef WEFT_ERROR_H
#define WEFT_ERROR_H

#include <weft/common.h>

WEFT_BEGIN_DECLS

/* weft's own codes (errno has no equivalent). */
#define WEFT_ERRNO_MAP(X)                                                                          \
	X(WEFT_EGROUP, -4096, "one or more tasks of a task group failed")                          \
	X(WEFT_ENOURING, -4097,                                                                    \
	  "io_uring is unavailable: the kernel lacks it, or it is disabled "                       \
	  "(sysctl kernel.io_uring_disabled, or a seccomp filter such as a container's)")         \
	X(WEFT_ENAME, -4098, "name resolution failed: unknown host or service (getaddrinfo)")

enum {
#define WEFT_ERR_ENUM(name, value, msg) name = (value),
	WEFT_ERRNO_MAP(WEFT_ERR_ENUM)
#undef WEFT_ERR_ENUM
};

/*
 * A description of `code` (negative errno or a WEFT_E* code; a positive
 * errno is accepted too), with the errno name for grep: weft's meaning for
 * the codes asyncio's exceptions map to, worded to fit their socket
 * sources too ("cancelled (ECANCELED)", "timed out (ETIMEDOUT)", "shut
 * down (ESHUTDOWN)"), glibc's for other errno values ("Connection refused
 * (ECONNREFUSED)"), "unknown error" for anything else (INT_MIN included).
 * Never NULL; the string is static. Never suspends. Any thread.
 */
WEFT_API const char *weft_strerror(int code);

/*
 * Records a message for the failure of the calling task and returns `code`,
 * so a task function can `return weft_fail(-EIO, "read %s", path);`.
 * weft_future_message() reads it back once the task is done. In a
 * weft_to_thread call (weft/thread.h) it becomes the message of the call's
 * future. Elsewhere nothing is recorded and `code` is still returned. `code` should be
 * negative; a non-negative code is returned as is and records nothing.
 * Never suspends. Any thread.
 */
WEFT_API int weft_fail(int code, const char *fmt, ...) WEFT_PRINTF(2, 3);

WEFT_END_DECLS

#endif
