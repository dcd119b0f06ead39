/* SPDX-License-Identifier: MIT */
/*
 * Debug mode's "never retrieved" report (asyncio's "Task exception was
 * never retrieved", "Future exception was never retrieved"): a future that
 * failed, whose outcome no one read (weft_await, weft_future_result,
 * weft_future_exception, weft_future_wait, or a composition that reads it:
 * gather, shield, a TaskGroup, wait's FIRST_EXCEPTION), is reported when
 * its last reference goes. A cancellation is no failure (asyncio is silent
 * about a CancelledError never retrieved too).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/error.h>

#include "core/debug.h"
#include "core/future.h"
#include "core/task.h"
#include "fiber/backtrace.h"

struct report {
	struct report *next;
	int rc;
	void *site;      /* a task's creation site, or NULL */
	char what[48];   /* weft__future_describe's */
	char msg[];      /* its message, "" if none */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct report *head, **tail = &head; /* under lock, oldest first */
atomic_bool weft__debug_queued;

static void print(const struct report *r)
{
	char at[400] = "";
	if (r->site)
		weft__symbolize(r->site, 1, at, sizeof(at));
	fprintf(stderr,
		"weft: %s failed with %d (%s)%s%s%s and its outcome was never retrieved: its "
		"last reference was dropped before anyone read it (weft_await, "
		"weft_future_result or weft_future_exception)%s%s\n",
		r->what, r->rc, weft_strerror(r->rc), r->msg[0] ? ": \"" : "", r->msg,
		r->msg[0] ? "\"" : "", r->site ? "; created at " : "", at);
}

void weft__debug_flush(void)
{
	pthread_mutex_lock(&lock);
	struct report *r = head;
	head = NULL;
	tail = &head;
	atomic_store_explicit(&weft__debug_queued, false, memory_order_relaxed);
	pthread_mutex_unlock(&lock);
	while (r) {
		struct report *next = r->next;
		print(r);
		free(r);
		r = next;
	}
}

void weft__unretrieved_check(weft_future *f, const char *what)
{
	if (!weft__future_is_done(f) || f->rc >= 0 || f->rc == -ECANCELED ||
	    (atomic_load_explicit(&f->state, memory_order_relaxed) & WEFT__RETRIEVED))
		return;
	const char *msg = f->msg ? f->msg : "";
	size_t len = strnlen(msg, 200);
	/* malloc, strnlen and memcpy only: this may run on a small stack */
	struct report *r = malloc(sizeof(*r) + len + 1);
	if (!r)
		return;
	r->next = NULL;
	r->rc = f->rc;
	r->site = f->kind == WEFT__FUT_TASK ? weft__task_site((struct weft__task *)f) : NULL;
	size_t wl = strnlen(what, sizeof(r->what) - 1);
	memcpy(r->what, what, wl);
	r->what[wl] = '\0';
	memcpy(r->msg, msg, len);
	r->msg[len] = '\0';
	if (!weft__task_current()) {
		/* not on a task's stack: say it now, after what was queued */
		weft__debug_flush();
		print(r);
		free(r);
		return;
	}
	pthread_mutex_lock(&lock);
	*tail = r;
	tail = &r->next;
	atomic_store_explicit(&weft__debug_queued, true, memory_order_relaxed);
	pthread_mutex_unlock(&lock);
}
