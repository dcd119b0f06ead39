/* SPDX-License-Identifier: MIT */
/* Error names (one table, as libuv's UV_ERRNO_MAP) and task failure messages. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/error.h>

#include "core/context.h"
#include "core/debug.h"
#include "core/task.h"

WEFT_API const char *weft_strerror(int code)
{
	switch (code) {
#define WEFT_ERR_CASE(name, value, msg)                                                            \
	case value:                                                                                \
		return msg;
		WEFT_ERRNO_MAP(WEFT_ERR_CASE)
#undef WEFT_ERR_CASE
	case 0:
		return "success";
	}
	if (code < 0)
		code = -code;
	/* strerrordesc_np is static and thread-safe, unlike strerror. */
	const char *s = strerrordesc_np(code);
	return s ? s : "unknown error";
}

WEFT_API int weft_fail(int code, const char *fmt, ...)
{
	struct weft__task *t = weft__task_current();
	/* a to_thread call's message goes to its future (bridge/pool.c) */
	char **slot = t ? &t->fail_msg : weft__thread_ctx.in_call ? &weft__thread_ctx.fail_msg : NULL;
	if (code >= 0 || !slot || !fmt)
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

int weft__misuse_report(int code, const char *fn, const char *what)
{
	fprintf(stderr, "weft: %s: %s (%s)\n", fn, what, weft_strerror(code));
	return code;
}
