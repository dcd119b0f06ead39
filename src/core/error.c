/* SPDX-License-Identifier: MIT */
/* Error names (one table, as libuv's UV_ERRNO_MAP) and task failure messages. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/error.h>

#include "core/context.h"
#include "core/debug.h"
#include "core/task.h"

/*
 * weft's words for the codes asyncio's exceptions map to (API.md). The
 * same codes also come from sockets (a connect that timed out, a peer
 * gone, a socket shut down), so each wording fits both sources; the errno
 * name is in the text for grep.
 */
#define WEFT_ERRNO_WORDS(X)                                                                        \
	X(ECANCELED, "cancelled")                                                                  \
	X(ETIMEDOUT, "timed out")                                                                  \
	X(ESHUTDOWN, "shut down")                                                                  \
	X(EBUSY, "busy: not done yet, or still in use")                                            \
	X(EALREADY, "already done, or already in progress")                                        \
	X(EINVAL, "invalid argument")                                                              \
	X(EAGAIN, "try again: empty, full, or nothing free right now")                             \
	X(EPIPE, "ended early: an incomplete read, or a broken pipe")                              \
	X(EOVERFLOW, "over a limit")                                                               \
	X(ENOTRECOVERABLE, "broken: a broken barrier, or a state not recoverable")                 \
	X(EPERM, "not permitted")                                                                  \
	X(EDEADLK, "would deadlock")

/* Other errno values: glibc's description with the name appended, made
 * once (the strings must be static and the call thread-safe). */
enum { ERRNO_TABLE = 256, ERRNO_TEXT = 96 };
static char errno_text[ERRNO_TABLE][ERRNO_TEXT];
static pthread_once_t errno_once = PTHREAD_ONCE_INIT;

static void errno_text_fill(void)
{
	for (int e = 1; e < ERRNO_TABLE; e++) {
		/* strerrordesc_np/strerrorname_np: static, unlike strerror */
		const char *desc = strerrordesc_np(e), *name = strerrorname_np(e);
		if (desc && name)
			snprintf(errno_text[e], ERRNO_TEXT, "%s (%s)", desc, name);
	}
}

WEFT_API const char *weft_strerror(int code)
{
	switch (code) {
#define WEFT_ERR_CASE(name, value, msg)                                                            \
	case value:                                                                                \
		return msg;
		WEFT_ERRNO_MAP(WEFT_ERR_CASE)
#undef WEFT_ERR_CASE
#define WEFT_WORDS_CASE(e, words)                                                                  \
	case -e:                                                                                   \
	case e:                                                                                    \
		return words " (" #e ")";
		WEFT_ERRNO_WORDS(WEFT_WORDS_CASE)
#undef WEFT_WORDS_CASE
	case 0:
		return "success";
	}
	/* -INT_MIN overflows: negate in unsigned */
	unsigned e = code < 0 ? 0u - (unsigned)code : (unsigned)code;
	if (e >= ERRNO_TABLE)
		return "unknown error";
	pthread_once(&errno_once, errno_text_fill);
	return errno_text[e][0] ? errno_text[e] : "unknown error";
}

WEFT_API int weft_fail(int code, const char *fmt, ...)
{
	struct weft__task *t = weft__task_current();
	if (code >= 0 || !fmt)
		return code;
	/* a to_thread call's message goes to its future (bridge/pool.c); a
	 * task keeps it in its rare part (none: out of memory, lost) */
	struct weft__task_rare *rare = t ? weft__task_rare_get(t) : NULL;
	char **slot = rare ? &rare->fail_msg
		      : !t && weft__thread_ctx.in_call ? &weft__thread_ctx.fail_msg : NULL;
	if (!slot)
		return code;
	va_list ap;
	va_start(ap, fmt);
	char *msg = NULL;
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL; /* the code is what matters; the message is lost */
	va_end(ap);
	free(*slot);
	*slot = msg;
	return code;
}

atomic_bool weft__debug_on;

void weft__debug_enable(void)
{
	atomic_store_explicit(&weft__debug_on, true, memory_order_relaxed);
}

__attribute__((constructor)) static void debug_from_env(void)
{
	const char *e = getenv("WEFT_DEBUG");
	if (e && *e && strcmp(e, "0") != 0)
		weft__debug_enable();
}

/* The errno name of code ("EPERM", "WEFT_EGROUP"), or NULL. */
static const char *code_name(int code)
{
	switch (code) {
#define WEFT_ERR_NAME(name, value, msg)                                                            \
	case value:                                                                                \
		return #name;
		WEFT_ERRNO_MAP(WEFT_ERR_NAME)
#undef WEFT_ERR_NAME
	}
	return code < 0 && code != INT_MIN ? strerrorname_np(-code) : NULL;
}

/*
 * What to do, for the misuse whose fix does not depend on where it is
 * reported (keyed by the exact `what`, so the calls in every floor get it).
 */
static const struct {
	const char *what, *fix;
} fixes[] = {
	{"called outside a task",
	 "call it from a task: the function given to weft_run (or weft_runtime_run, weft_spawn), "
	 "or a task it starts with weft_create_task; another thread hands work to a runtime "
	 "with weft_run_coroutine_threadsafe"},
	{"not on a worker thread",
	 "call it from a task or a callback of a runtime; another thread uses "
	 "weft_call_soon_threadsafe or weft_run_coroutine_threadsafe"},
	{"called on a worker thread",
	 "call it from a thread outside the runtime (main, or a thread of your own); inside a "
	 "task, create a task (weft_create_task) and weft_await it"},
	{"called on a worker thread (a nested weft_run)",
	 "inside a task, create a task (weft_create_task) and weft_await it: a second runtime "
	 "would block this worker"},
	{"called on a worker thread (a nested runtime)",
	 "create runtimes from a thread outside any runtime; inside a task, create a task "
	 "(weft_create_task) instead"},
	{"called in a to_thread call of this runtime",
	 "destroy the runtime from the thread that created it, after its to_thread calls return"},
	{"not on a runtime with a paused clock",
	 "create the runtime with cfg.paused_clock = true and cfg.workers = 1"},
	{"the future is already done",
	 "complete a future once; weft_future_done tells whether it is done"},
	{"weft_server_config not initialised",
	 "fill it with weft_server_config_init(&cfg) first, then change what you need"},
	{"the timeout scope is already entered", "use a new weft_timeout for each entry"},
};

static int misuse_print(int code, const char *fn, const char *what)
{
	const char *name = code_name(code), *fix = NULL;
	char label[32];
	if (name)
		snprintf(label, sizeof(label), "-%s", name);
	else
		snprintf(label, sizeof(label), "%d", code);
	for (size_t i = 0; i < sizeof(fixes) / sizeof(fixes[0]); i++)
		if (strcmp(what, fixes[i].what) == 0)
			fix = fixes[i].fix;
	fprintf(stderr, "weft: %s: %s [%s]%s%s\n", fn, what, label, fix ? "; to fix: " : "",
		fix ? fix : "");
	return code;
}

int weft__misuse_report(int code, const char *fn, const char *what)
{
	return misuse_print(code, fn, what);
}

int weft__misuse_reportf(int code, const char *fn, const char *fmt, ...)
{
	char what[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return misuse_print(code, fn, what);
}
