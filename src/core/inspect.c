/* SPDX-License-Identifier: MIT */
/*
 * weft_task_stack, weft_task_print_stack, weft_dump (weft/inspect.h).
 *
 * Every stack is read while the workers are held (sched/hold.h): a held
 * worker runs no task, so a suspended task's saved context and stack stay
 * as they are. What a task waits on is derived from what it already
 * records, the future it awaits (t->fut_waiter), described by that
 * future's kind (weft__future_ops.describe): no field per task.
 * The dump reads everything first and prints after the hold ends, so the
 * workers pause for the unwinding only, not for stdio.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/inspect.h>
#include <weft/task.h>

#include "core/core.h"
#include "core/debug.h"
#include "core/future.h"
#include "core/stub.h"
#include "core/task.h"
#include "fiber/backtrace.h"
#include "sched/hold.h"
#include "sched/worker.h"

#define HOLD_NS ((uint64_t)(WEFT_INSPECT_HOLD * 1e9))
#define DUMP_FRAMES 48 /* per task in a dump */

/*
 * Who asks, taken on the calling thread: a task asking runs on its
 * worker, which it holds by running; its own frames are read there. The
 * rest may run on a helper thread (run_off_fiber).
 */
struct asker {
	struct weft__worker *w;  /* the worker of the inspected runtime the
	                          * caller runs on, or NULL */
	struct weft__task *t;    /* the caller's task there, or NULL */
	void *pcs[64];           /* its frames, from the public call's caller */
	int n;
};

/* Noinline: the frames skipped are this one and the public function. */
static __attribute__((noinline)) void asker_init(struct asker *a, struct weft__core *c)
{
	struct weft__worker *w = weft__worker_current();
	a->w = w && c && w->sched == &c->sched ? w : NULL;
	a->t = a->w ? weft__task_current() : NULL;
	a->n = a->t ? weft__backtrace_here(a->pcs, 64, 2) : 0;
}

/*
 * Unwinding and reading debug information take more stack than a task
 * has (libdw: well over 64 KiB), so on a task's fiber the work runs on a
 * helper thread that the task's worker waits for; elsewhere (a foreign
 * thread, a worker's loop running a callback) in place.
 */
struct off_fiber {
	void (*fn)(void *);
	void *arg;
};

static void *off_fiber_main(void *p)
{
	struct off_fiber *o = p;
	o->fn(o->arg);
	return NULL;
}

static void run_off_fiber(void (*fn)(void *), void *arg)
{
	struct off_fiber o = {fn, arg};
	pthread_t th;
	if (!weft__task_current() || pthread_create(&th, NULL, off_fiber_main, &o)) {
		fn(arg);
		return;
	}
	pthread_join(th, NULL);
}

/*
 * What t is doing, into buf; returns whether its stack may be read (it
 * is suspended and every worker that could resume it is held) or it is
 * the caller (*self). Caller holds h, and h holds every worker when
 * `all`; otherwise only what needs no worker's field is said.
 */
static bool task_state(struct weft__task *t, const struct weft__hold *h, const struct asker *a,
		       char *buf, size_t cap, bool *self)
{
	*self = false;
	if (weft__future_is_done(&t->fut)) {
		snprintf(buf, cap, "done");
		return false;
	}
	if (t == a->t) {
		*self = true;
		snprintf(buf, cap, "running (the caller), on worker %u", t->st.home->index);
		return true;
	}
	if (!weft__hold_all(h)) {
		/* a worker that did not stop may run, start or steal it now */
		snprintf(buf, cap, "not inspected: a worker did not stop within %.2f s (it runs a "
			 "task step that does not suspend)", WEFT_INSPECT_HOLD);
		return false;
	}
	if (!t->st.started) {
		snprintf(buf, cap, "ready, not started yet");
		return false;
	}
	char what[200] = "";
	weft__spin_lock(&t->fut.lock);
	weft_future *f = t->fut_waiter;
	/* the awaiting task holds f alive while it is suspended (held) */
	if (f && !weft__future_is_done(f)) {
		if (f->ops && f->ops->describe)
			f->ops->describe(f, what, sizeof(what));
		else
			snprintf(what, sizeof(what), "a future");
	}
	weft__spin_unlock(&t->fut.lock);
	if (what[0])
		snprintf(buf, cap, "waiting on %s, home worker %u", what, t->st.home->index);
	else
		snprintf(buf, cap, "ready (woken or yielded), home worker %u", t->st.home->index);
	return true;
}

/* t's frames into pcs (t readable, as task_state said). */
static int task_frames(struct weft__task *t, bool self, const struct asker *a, void **pcs, int cap)
{
	if (!self)
		return weft__backtrace_ctx(&t->st.fiber.ctx, pcs, cap);
	if (a->n < 0)
		return a->n;
	int n = a->n < cap ? a->n : cap;
	memcpy(pcs, a->pcs, (size_t)n * sizeof(*pcs));
	return n;
}


/* One task's stack, on whatever thread run_off_fiber picked. */
struct stack_job {
	struct weft__task *t;
	struct asker *a;
	void **frames;
	int cap;
	char state[256];
	int rc;
};

static void stack_body(void *p)
{
	struct stack_job *j = p;
	struct weft__core *c = j->t->fut.rt->core;
	struct weft__hold *h = weft__hold_begin(&c->sched, HOLD_NS, j->a->w);
	if (!h) {
		j->rc = -ENOMEM;
		return;
	}
	bool self;
	j->rc = 0;
	if (task_state(j->t, h, j->a, j->state, sizeof(j->state), &self))
		j->rc = task_frames(j->t, self, j->a, j->frames, j->cap);
	else if (!weft__future_is_done(&j->t->fut) && !weft__hold_all(h))
		j->rc = -EBUSY;
	weft__hold_end(h);
}

/* The task f is, with its runtime alive; NULL if not. */
static struct weft__task *task_checked(weft_future *f)
{
	struct weft__task *t = weft__task_of(f);
	return t && t->fut.rt && t->fut.rt->core ? t : NULL;
}

WEFT_API int weft_task_stack(weft_future *f, void **frames, int cap)
{
	struct weft__task *t = task_checked(f);
	if (!t || cap < 0 || (cap > 0 && !frames))
		return weft__misuse(-EINVAL, !t ? "not a task" : cap < 0 ? "negative cap" : "NULL frames");
	struct asker a;
	asker_init(&a, t->fut.rt->core);
	struct stack_job j = {.t = t, .a = &a, .frames = frames, .cap = cap};
	run_off_fiber(stack_body, &j);
	return j.rc;
}

struct print_job {
	struct stack_job s;
	FILE *out;
	void *pcs[64];
};

static void print_frames(FILE *out, void **pcs, int n)
{
	for (int i = 0; i < n; i++) {
		char sym[512];
		weft__symbolize(pcs[i], 1, sym, sizeof(sym));
		fprintf(out, "  #%d %s\n", i, sym);
	}
}

static void print_body(void *p)
{
	struct print_job *j = p;
	stack_body(&j->s);
	char name[64];
	weft__task_name_raw(j->s.t, name, sizeof(name));
	if (j->s.rc == -ENOMEM)
		snprintf(j->s.state, sizeof(j->s.state), "out of memory");
	fprintf(j->out, "Stack for task %s (%s):\n", name, j->s.state);
	if (j->s.rc == -ENOSYS)
		fprintf(j->out, "  (no frames: weft was built without libunwind)\n");
	else if (j->s.rc > 0)
		print_frames(j->out, j->pcs, j->s.rc);
	if (j->s.rc > 0)
		j->s.rc = 0;
}

WEFT_API int weft_task_print_stack(weft_future *f, FILE *out)
{
	struct weft__task *t = task_checked(f);
	if (!t || !out)
		return weft__misuse(-EINVAL, !t ? "not a task" : "NULL FILE");
	struct asker a;
	asker_init(&a, t->fut.rt->core);
	struct print_job j = {.s = {.t = t, .a = &a, .cap = 64}, .out = out};
	j.s.frames = j.pcs;
	run_off_fiber(print_body, &j);
	return j.s.rc;
}

/* ---- weft_dump ---- */

struct entry {
	weft_future *f;   /* a reference */
	uint64_t id;
	void *site;
	size_t pc0;       /* its frames: pcs[pc0 .. pc0 + npc) */
	int npc;
	bool readable;
	char name[48];
	char state[224];
};

/* A small open-addressing map: a stack's hash -> the first entry with it,
 * and a pc -> its symbol, so 100,000 tasks parked in the same place cost
 * one symbolization per distinct frame. */
static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return x;
}

struct symcache {
	size_t cap, n;
	void **pc;   /* 0: a free slot (a return address is never 0) */
	char **sym;
};

static size_t slot_of(const struct symcache *c, void *pc)
{
	size_t i = mix((uintptr_t)pc) & (c->cap - 1);
	while (c->pc[i] && c->pc[i] != pc)
		i = (i + 1) & (c->cap - 1);
	return i;
}

/* Doubles the map (at half full); false when out of memory. */
static bool sym_grow(struct symcache *c)
{
	struct symcache g = {.cap = c->cap ? 2 * c->cap : 256, .n = c->n};
	g.pc = calloc(g.cap, sizeof(*g.pc));
	g.sym = calloc(g.cap, sizeof(*g.sym));
	if (!g.pc || !g.sym) {
		free(g.pc);
		free(g.sym);
		return false;
	}
	for (size_t i = 0; i < c->cap; i++) {
		if (c->pc[i]) {
			size_t j = slot_of(&g, c->pc[i]);
			g.pc[j] = c->pc[i];
			g.sym[j] = c->sym[i];
		}
	}
	free(c->pc);
	free(c->sym);
	*c = g;
	return true;
}

/* The symbol of return address pc, made once per dump; NULL when out of
 * memory (the caller symbolizes without the map). */
static const char *sym_of(struct symcache *c, void *pc)
{
	if (2 * (c->n + 1) > c->cap && !sym_grow(c))
		return NULL;
	size_t i = slot_of(c, pc);
	if (!c->pc[i]) {
		char buf[512];
		weft__symbolize(pc, 1, buf, sizeof(buf));
		char *d = strdup(buf);
		if (!d)
			return NULL;
		c->pc[i] = pc;
		c->sym[i] = d;
		c->n++;
	}
	return c->sym[i];
}

struct dump_job {
	weft_runtime *rt;
	FILE *out;
	struct asker *a;
	long rc;
};

static long dump_body(weft_runtime *rt, FILE *out, const struct asker *a)
{
	struct weft__core *c = weft__core_of(rt);
	struct weft__hold *h = weft__hold_begin(&c->sched, HOLD_NS, a->w);
	if (!h)
		return -ENOMEM;
	/* Under the hold: the tasks, their states and frames. */
	long n = weft_all_tasks(rt, NULL, 0);
	size_t cap = n > 0 ? (size_t)n + 64 : 64; /* foreign threads may spawn meanwhile */
	weft_future **all = malloc(cap * sizeof(*all));
	struct entry *e = calloc(cap, sizeof(*e));
	size_t pcs_cap = 4096, npcs = 0;
	void **pcs = malloc(pcs_cap * sizeof(*pcs));
	if (!all || !e || !pcs) {
		weft__hold_end(h);
		free(all);
		free(e);
		free(pcs);
		return -ENOMEM;
	}
	long got = weft_all_tasks(rt, all, cap);
	size_t m = got < 0 ? 0 : (size_t)got < cap ? (size_t)got : cap;
	size_t listed = 0;
	bool no_unwinder = false;
	for (size_t i = 0; i < m; i++) {
		struct weft__task *t = (struct weft__task *)all[i];
		struct entry *x = &e[listed];
		bool self;
		x->readable = task_state(t, h, a, x->state, sizeof(x->state), &self);
		if (!strcmp(x->state, "done")) {
			weft_future_unref(all[i]);
			continue;
		}
		x->f = all[i];
		x->id = t->id;
		x->site = weft__task_site(t);
		weft__task_name_raw(t, x->name, sizeof(x->name));
		if (x->readable) {
			if (npcs + DUMP_FRAMES > pcs_cap) {
				void **grown = realloc(pcs, 2 * pcs_cap * sizeof(*pcs));
				if (grown) {
					pcs = grown;
					pcs_cap *= 2;
				}
			}
			if (npcs + DUMP_FRAMES <= pcs_cap) {
				int k = task_frames(t, self, a, pcs + npcs, DUMP_FRAMES);
				if (k == -ENOSYS)
					no_unwinder = true;
				x->pc0 = npcs;
				x->npc = k > 0 ? k : 0;
				npcs += (size_t)x->npc;
			}
		}
		listed++;
	}
	/* in debug mode, what the workers that did not stop are running */
	char busy[512] = "";
	size_t bl = 0;
	for (unsigned i = 0; i < c->sched.nworkers; i++) {
		if (weft__hold_held(h, i))
			continue;
		bl += (size_t)snprintf(busy + bl, sizeof(busy) - bl, "%sworker %u did not stop",
				       bl ? "; " : "", i);
		if (bl >= sizeof(busy))
			break;
	}
	bool unheld[64] = {false};
	for (unsigned i = 0; i < c->sched.nworkers && i < 64; i++)
		unheld[i] = !weft__hold_held(h, i);
	weft__hold_end(h);
	free(all);

	/* Printed after the hold. */
	fprintf(out, "weft: dump of runtime %p: %u workers, %zu tasks not done%s%s\n", (void *)rt,
		c->sched.nworkers, listed, busy[0] ? "; " : "", busy);
	/* Debug mode: what a worker that did not stop runs, sampled by the
	 * watchdog's signal */
	for (unsigned i = 0; i < c->sched.nworkers && i < 64; i++) {
		struct weft__worker *w = &c->sched.workers[i];
		if (!unheld[i] || !w->debug)
			continue;
		void *wp[48];
		char name[64];
		uint64_t t0 = 0;
		int k = weft__worker_sample(w, 200 * 1000 * 1000ull, wp, 48, name, sizeof(name), &t0);
		if (k < 0 || !t0)
			continue;
		fprintf(out, "worker %u runs %s%s for %.0f ms without suspending:\n", i,
			name[0] ? "task " : "a callback", name, (double)(weft__now_ns() - t0) / 1e6);
		for (int f = 0; f < k; f++) {
			char sym[512];
			weft__symbolize(wp[f], f > 0, sym, sizeof(sym));
			fprintf(out, "  #%d %s\n", f, sym);
		}
	}
	if (no_unwinder)
		fprintf(out, "weft: (no backtraces: weft was built without libunwind)\n");
	struct symcache sc = {0};
	size_t seen_cap = 1;
	while (seen_cap < 2 * listed + 2)
		seen_cap <<= 1;
	struct {
		uint64_t hash;
		size_t entry;
	} *seen = calloc(seen_cap, sizeof(*seen));
	for (size_t i = 0; i < listed; i++) {
		struct entry *x = &e[i];
		fprintf(out, "\ntask %llu \"%s\" [%s]\n", (unsigned long long)x->id, x->name,
			x->state);
		if (x->site) {
			char at[400];
			weft__symbolize(x->site, 1, at, sizeof(at));
			fprintf(out, "  created at %s\n", at);
		}
		if (!x->npc)
			continue;
		uint64_t hash = 0x9e3779b97f4a7c15ull;
		for (int k = 0; k < x->npc; k++)
			hash = mix(hash ^ (uintptr_t)pcs[x->pc0 + (size_t)k]);
		hash |= 1; /* never 0: 0 marks a free slot */
		size_t same = SIZE_MAX;
		if (seen) {
			size_t j = hash & (seen_cap - 1);
			for (; seen[j].hash; j = (j + 1) & (seen_cap - 1)) {
				struct entry *y = &e[seen[j].entry];
				if (seen[j].hash == hash && y->npc == x->npc &&
				    !memcmp(pcs + y->pc0, pcs + x->pc0, (size_t)x->npc * sizeof(*pcs))) {
					same = seen[j].entry;
					break;
				}
			}
			if (same == SIZE_MAX) {
				seen[j].hash = hash;
				seen[j].entry = i;
			}
		}
		if (same != SIZE_MAX) {
			fprintf(out, "  (the same stack as task %llu)\n",
				(unsigned long long)e[same].id);
			continue;
		}
		for (int k = 0; k < x->npc; k++) {
			void *pc = pcs[x->pc0 + (size_t)k];
			char buf[512];
			const char *s = sym_of(&sc, pc);
			if (!s) {
				weft__symbolize(pc, 1, buf, sizeof(buf));
				s = buf;
			}
			fprintf(out, "  #%d %s\n", k, s);
		}
	}
	fflush(out);
	for (size_t i = 0; i < listed; i++)
		weft_future_unref(e[i].f);
	for (size_t i = 0; i < sc.cap; i++)
		free(sc.sym[i]);
	free(sc.pc);
	free(sc.sym);
	free(seen);
	free(pcs);
	free(e);
	return (long)listed;
}

static void dump_run(void *p)
{
	struct dump_job *j = p;
	j->rc = dump_body(j->rt, j->out, j->a);
}

WEFT_API long weft_dump(weft_runtime *rt, FILE *out)
{
	if (!rt || !out)
		return weft__misuse(-EINVAL, rt ? "NULL FILE" : "NULL runtime");
	struct asker a;
	asker_init(&a, weft__core_of(rt));
	struct dump_job j = {.rt = rt, .out = out, .a = &a};
	run_off_fiber(dump_run, &j);
	return j.rc;
}
