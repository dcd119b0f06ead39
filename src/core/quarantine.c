/* SPDX-License-Identifier: MIT */
/* Debug mode's quarantine of freed futures, and the reports of stale and
 * extra unrefs (core/quarantine.h). */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/block.h"
#include "core/debug.h"
#include "core/quarantine.h"
#include "core/task.h"

#define POISON 0xdb

struct held {
	weft_future *f;
	struct weft__rtstub *stub;
	void *freed_by;
	unsigned char kind; /* what it was */
	bool cached;
	char name[48];      /* task "name", or "future" */
};

/* A FIFO ring: the oldest is given back first. Its slots are touched
 * only in debug mode (zero pages otherwise). */
static struct {
	pthread_mutex_t lock;
	size_t head, n;
	struct held v[WEFT__QUARANTINE_MAX];
} q = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* A stale call on f reaches this (weft__future_stale): never called. */
static bool freed_cancel(weft_future *f, const char *msg)
{
	(void)msg;
	weft__future_stale(f, "weft_cancel", __builtin_return_address(0));
}

static const struct weft__future_ops freed_ops = {.cancel = freed_cancel};

/* No stdio here: it runs on a task's stack at each free, and a small stack
 * (cfg.small_stacks) has no room for snprintf's frame. */
void weft__future_describe(weft_future *f, char *buf, size_t cap)
{
	static const char task[] = "task \"", plain[] = "future";
	size_t i = 0;
	if (f->kind != WEFT__FUT_TASK || cap < sizeof(task) + 2) {
		for (; plain[i] && i + 1 < cap; i++)
			buf[i] = plain[i];
		buf[i] = '\0';
		return;
	}
	memcpy(buf, task, sizeof(task) - 1);
	i = sizeof(task) - 1;
	weft__task_name_raw((struct weft__task *)f, buf + i, cap - i - 1);
	i += strlen(buf + i);
	buf[i++] = '"';
	buf[i] = '\0';
}

/* Where pc is: symbol+offset when it has one, else file+offset (for
 * addr2line -e file). */
void weft__where(void *pc, char *buf, size_t cap)
{
	Dl_info di;
	char exe[256];
	if (pc && dladdr(pc, &di) && di.dli_fname) {
		const char *file = di.dli_fname;
		/* the main program is named by its argv[0], which may be anything */
		ssize_t n;
		if (!strcmp(file, program_invocation_name) &&
		    (n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) > 0) {
			exe[n] = '\0';
			file = exe;
		}
		const char *slash = strrchr(file, '/');
		file = slash ? slash + 1 : file;
		if (di.dli_sname && di.dli_saddr)
			snprintf(buf, cap, "%s+0x%tx in %s (%p)", di.dli_sname,
				 (char *)pc - (char *)di.dli_saddr, file, pc);
		else
			snprintf(buf, cap, "%s+0x%tx (%p)", file, (char *)pc - (char *)di.dli_fbase,
				 pc);
	} else {
		snprintf(buf, cap, "%p", pc);
	}
}

void weft__quarantine_put(weft_future *f, struct weft__rtstub *stub, void *freed_by,
			  const char *what)
{
	struct held h = {.f = f, .stub = stub, .freed_by = freed_by, .kind = f->kind,
			 .cached = f->cached};
	size_t len = strnlen(what, sizeof(h.name) - 1);
	memcpy(h.name, what, len);
	/* Poisoned, all but the count (0: a registry walker's
	 * increment-if-not-zero may read it at any time) and what keeps a
	 * stale caller from hanging or jumping to garbage. */
	size_t size = h.kind == WEFT__FUT_TASK ? sizeof(struct weft__task)
		      : h.cached                 ? WEFT__BLOCK_SIZE
						 : sizeof(weft_future);
	struct weft__task_slab *slab = h.kind == WEFT__FUT_TASK ? ((struct weft__task *)f)->slab
								: NULL;
	size_t skip = offsetof(weft_future, refs) + sizeof(f->refs);
	memset((char *)f + skip, POISON, size - skip);
	f->kind = WEFT__FUT_FREED;
	atomic_init(&f->lock.held, false);
	f->ops = &freed_ops;
	if (slab)
		((struct weft__task *)f)->slab = slab; /* for weft__task_dealloc */

	struct held out = {0};
	pthread_mutex_lock(&q.lock);
	if (q.n == WEFT__QUARANTINE_MAX) {
		out = q.v[q.head];
		q.head = (q.head + 1) % WEFT__QUARANTINE_MAX;
		q.n--;
	}
	q.v[(q.head + q.n) % WEFT__QUARANTINE_MAX] = h;
	q.n++;
	pthread_mutex_unlock(&q.lock);
	if (out.f)
		weft__future_give_back(out.f, out.kind, out.cached, out.stub);
}

_Noreturn void weft__future_stale(const weft_future *f, const char *fn, void *caller)
{
	struct held h = {0};
	bool found = false;
	if (f->kind == WEFT__FUT_FREED) {
		pthread_mutex_lock(&q.lock);
		for (size_t i = 0; i < q.n && !found; i++) {
			struct held *e = &q.v[(q.head + i) % WEFT__QUARANTINE_MAX];
			if (e->f == f) {
				h = *e;
				found = true;
			}
		}
		pthread_mutex_unlock(&q.lock);
	}
	char at[400], by[400];
	weft__where(caller, at, sizeof(at));
	if (found) {
		weft__where(h.freed_by, by, sizeof(by));
		fprintf(stderr,
			"weft: %s(%p): the %s was freed already (an unref too many, or a use "
			"after the last unref); called from %s; its last reference was dropped "
			"from %s\n",
			fn, (const void *)f, h.name, at, by);
	} else {
		fprintf(stderr,
			"weft: %s(%p): not a live future (freed and reused, or never a future; "
			"kind byte %u); called from %s\n",
			fn, (const void *)f, f->kind, at);
	}
	abort();
}

void weft__future_extra_unref(weft_future *f, void *caller)
{
	if (!atomic_load_explicit(&weft__debug_on, memory_order_relaxed))
		return;
	char name[48], at[400];
	weft__future_describe(f, name, sizeof(name));
	weft__where(caller, at, sizeof(at));
	fprintf(stderr,
		"weft: weft_future_unref(%p): an unref too many on %s: only the runtime's own "
		"reference is left, and it is not the caller's to drop (the task has not "
		"finished); called from %s\n",
		(void *)f, name, at);
	abort();
}
