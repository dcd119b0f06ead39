/* SPDX-License-Identifier: MIT */
/*
 * weft's side of the throughput suite (BENCH.md): one program, one
 * subcommand per workload, all on bench/harness.c.
 *
 *   weft_bench list
 *   weft_bench spawn_many [--workers N] [--runs N] [--json FILE] [--quick]
 *   weft_bench ping_pong  [--workers N] [--variant V] ...
 *
 * Without --workers each workload runs with one worker per online CPU and
 * with one worker (variants "workers=2", "workers=1"). tools/bench.sh runs
 * every variant several times, interleaved, and prints the medians.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <weft.h>

#include "harness.h"

/* ---- a runtime per run --------------------------------------------------- */

/* Shared by every weft workload: the runtime lives for one run (created
 * in setup, outside the timing) and runs one main task per iteration. */
struct rt_ctx {
	unsigned workers;
	weft_runtime *rt;
	struct bench_iter *it; /* the iteration in progress */
};

static int rt_setup(struct rt_ctx *c, char *why, size_t cap)
{
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.workers = c->workers;
	int rc = weft_runtime_create(&cfg, &c->rt);
	if (rc)
		snprintf(why, cap, "weft_runtime_create: %s", weft_strerror(rc));
	return rc;
}

static void rt_iter(struct rt_ctx *c, struct bench_iter *it, weft_task_fn main_fn)
{
	c->it = it;
	void *res = NULL;
	int rc = weft_runtime_run(c->rt, main_fn, c, &res);
	if (rc)
		bench_iter_fail(it, "main task: %s", weft_strerror(rc));
	c->it = NULL;
}

static void rt_teardown(struct rt_ctx *c)
{
	if (c->rt)
		weft_runtime_destroy(c->rt);
	c->rt = NULL;
}

/* ---- spawn_many ----------------------------------------------------------
 * One task spawns 1,000,000 trivial tasks, then awaits them all (tasks/s).
 * Check: every task ran: task i returns 2i+1, and the sum of n such
 * results is n^2.
 */

struct spawn_many {
	struct rt_ctx rc;
	long n;
	weft_future **tasks;
};

static int trivial(void *arg, void **result)
{
	*result = (void *)((uintptr_t)arg * 2 + 1);
	return 0;
}

static int spawn_many_main(void *arg, void **result)
{
	struct spawn_many *c = arg;
	struct bench_iter *it = c->rc.it;
	long n = c->n, failed = 0;
	int first_rc = 0;
	uint64_t sum = 0;
	bench_iter_start(it);
	for (long i = 0; i < n; i++)
		c->tasks[i] = weft_create_task(trivial, (void *)(uintptr_t)i, NULL);
	for (long i = 0; i < n; i++) {
		void *r;
		int rc = weft_await(c->tasks[i], &r);
		if (rc) {
			if (!failed++)
				first_rc = rc;
		} else {
			sum += (uintptr_t)r;
		}
		weft_future_unref(c->tasks[i]);
	}
	bench_iter_stop(it);
	it->ops = (double)n;
	if (failed)
		bench_iter_fail(it, "%ld of %ld tasks failed (first: %s)", failed, n,
				weft_strerror(first_rc));
	else if (sum != (uint64_t)n * (uint64_t)n)
		bench_iter_fail(it, "sum of results %" PRIu64 ", expected %" PRIu64, sum,
				(uint64_t)n * (uint64_t)n);
	return 0;
}

static int spawn_many_setup(void *ctx, char *why, size_t cap)
{
	struct spawn_many *c = ctx;
	c->tasks = calloc((size_t)c->n, sizeof(*c->tasks));
	if (!c->tasks) {
		snprintf(why, cap, "out of memory");
		return -ENOMEM;
	}
	return rt_setup(&c->rc, why, cap);
}

static void spawn_many_iter(void *ctx, struct bench_iter *it)
{
	rt_iter(&((struct spawn_many *)ctx)->rc, it, spawn_many_main);
}

static void spawn_many_teardown(void *ctx)
{
	struct spawn_many *c = ctx;
	rt_teardown(&c->rc);
	free(c->tasks);
	c->tasks = NULL;
}

/* ---- ping_pong (future) --------------------------------------------------
 * 1,000 pairs of tasks, 1,000 round trips each over one-shot futures
 * (round trips/s). A message is a fresh future created by the side that
 * will await it, handed to the peer as the value of the previous message;
 * the peer sets it. So each round trip is: A creates a future, hands it to
 * B (setting the future B awaits), B sets it; B replies the same way. The
 * hand-over passes a reference, as a user must (the setter owns one).
 *
 * The pair starts with a future created by the main task: B awaits it, A
 * sets it. A does `rounds` round trips; B answers `rounds` pings; the last
 * future B hands back is dropped unset.
 * Check: both sides report `rounds` completed exchanges; any failure of a
 * side is passed to its peer as an exception, so nobody waits forever.
 */

struct pp_pair {
	weft_future *first; /* B awaits it, A sets it (each holds a reference) */
	long rounds;
};

struct ping_pong {
	struct rt_ctx rc;
	long pairs, rounds;
	struct pp_pair *pair;
	weft_future **tasks; /* 2 per pair */
};

/* Hands `mine` (a new reference to it) to the peer by completing `theirs`,
 * consuming our reference to `theirs`. */
static int pp_send(weft_future *theirs, weft_future *mine)
{
	weft_future_ref(mine);
	int rc = weft_future_set_result(theirs, mine);
	weft_future_unref(theirs);
	if (rc)
		weft_future_unref(mine); /* the peer never got it */
	return rc;
}

/* A fresh future, or an error (and the peer is told). */
static weft_future *pp_fresh(weft_future *theirs, int *rc)
{
	weft_future *f = weft_future_create(NULL);
	if (weft_future_done(f)) {
		*rc = weft_future_exception(f);
		weft_future_unref(f);
		weft_future_set_exception(theirs, *rc, "peer could not create a future");
		weft_future_unref(theirs);
		return NULL;
	}
	return f;
}

static int pp_a(void *arg, void **result)
{
	struct pp_pair *p = arg;
	weft_future *theirs = p->first;
	long done = 0;
	int rc = 0;
	for (long i = 0; i < p->rounds; i++) {
		weft_future *mine = pp_fresh(theirs, &rc);
		if (!mine)
			return rc;
		if ((rc = pp_send(theirs, mine))) {
			weft_future_unref(mine);
			return rc;
		}
		void *v;
		rc = weft_await(mine, &v);
		weft_future_unref(mine);
		if (rc)
			return rc;
		theirs = v; /* B's next future: B handed us a reference */
		done++;
	}
	weft_future_unref(theirs); /* B's last one: never set */
	*result = (void *)(uintptr_t)done;
	return 0;
}

static int pp_b(void *arg, void **result)
{
	struct pp_pair *p = arg;
	weft_future *mine = p->first;
	long done = 0;
	int rc = 0;
	for (long i = 0; i < p->rounds; i++) {
		void *v;
		rc = weft_await(mine, &v);
		weft_future_unref(mine);
		if (rc)
			return rc;
		weft_future *theirs = v;
		if (!(mine = pp_fresh(theirs, &rc)))
			return rc;
		if ((rc = pp_send(theirs, mine))) {
			weft_future_unref(mine);
			return rc;
		}
		done++;
	}
	weft_future_unref(mine); /* A drops its reference unset */
	*result = (void *)(uintptr_t)done;
	return 0;
}

static int ping_pong_main(void *arg, void **result)
{
	struct ping_pong *c = arg;
	struct bench_iter *it = c->rc.it;
	long np = c->pairs, failed = 0;
	int first_rc = 0;
	uint64_t sum = 0;
	bench_iter_start(it);
	for (long i = 0; i < np; i++) {
		struct pp_pair *p = &c->pair[i];
		p->rounds = c->rounds;
		p->first = weft_future_create(NULL); /* B's reference */
		weft_future_ref(p->first);           /* A's reference */
		c->tasks[2 * i] = weft_create_task(pp_b, p, NULL);
		c->tasks[2 * i + 1] = weft_create_task(pp_a, p, NULL);
		/* A side that could not be created (already failed) must not
		 * leave its partner waiting forever. */
		if (weft_future_done(c->tasks[2 * i]))
			weft_cancel(c->tasks[2 * i + 1], "partner could not start");
		if (weft_future_done(c->tasks[2 * i + 1]))
			weft_cancel(c->tasks[2 * i], "partner could not start");
	}
	for (long i = 0; i < 2 * np; i++) {
		void *r;
		int rc = weft_await(c->tasks[i], &r);
		if (rc) {
			if (!failed++)
				first_rc = rc;
		} else {
			sum += (uintptr_t)r;
		}
		weft_future_unref(c->tasks[i]);
	}
	bench_iter_stop(it);
	it->ops = (double)np * (double)c->rounds;
	uint64_t want = 2 * (uint64_t)np * (uint64_t)c->rounds;
	if (failed)
		bench_iter_fail(it, "%ld of %ld tasks failed (first: %s)", failed, 2 * np,
				weft_strerror(first_rc));
	else if (sum != want)
		bench_iter_fail(it, "%" PRIu64 " exchanges counted, expected %" PRIu64, sum, want);
	return 0;
}

static int ping_pong_setup(void *ctx, char *why, size_t cap)
{
	struct ping_pong *c = ctx;
	c->pair = calloc((size_t)c->pairs, sizeof(*c->pair));
	c->tasks = calloc(2 * (size_t)c->pairs, sizeof(*c->tasks));
	if (!c->pair || !c->tasks) {
		snprintf(why, cap, "out of memory");
		return -ENOMEM;
	}
	return rt_setup(&c->rc, why, cap);
}

static void ping_pong_iter(void *ctx, struct bench_iter *it)
{
	rt_iter(&((struct ping_pong *)ctx)->rc, it, ping_pong_main);
}

static void ping_pong_teardown(void *ctx)
{
	struct ping_pong *c = ctx;
	rt_teardown(&c->rc);
	free(c->pair);
	free(c->tasks);
	c->pair = NULL;
	c->tasks = NULL;
}

/* ---- the workload table ---------------------------------------------------- */

struct bench_cfg {
	struct bench_opts o;
	unsigned workers[2]; /* the worker counts to run */
	unsigned nworkers;
	const char *only_variant; /* --variant */
};

/* Runs one variant of a workload; returns the failed runs, or -1 if the
 * variant does not exist for it. */
typedef int (*variant_fn)(const struct bench_cfg *cfg, unsigned workers, const char *kind,
			  const char *name);

static int run_spawn_many(const struct bench_cfg *cfg, unsigned workers, const char *kind,
			  const char *name)
{
	struct spawn_many c = {.rc = {.workers = workers}, .n = cfg->o.quick ? 100000 : 1000000};
	struct bench_variant v = {
		.workload = "spawn_many",
		.variant = name,
		.unit = "tasks/s",
		.workers = workers,
		.per_iter = (double)c.n,
		.ctx = &c,
		.setup = spawn_many_setup,
		.iter = spawn_many_iter,
		.teardown = spawn_many_teardown,
	};
	return bench_run(&cfg->o, &v);
}

static int run_ping_pong(const struct bench_cfg *cfg, unsigned workers, const char *kind,
			 const char *name)
{
	if (!strcmp(kind, "queue")) {
		bench_not_available("ping_pong", name, "needs weft_queue");
		return 0;
	}
	struct ping_pong c = {.rc = {.workers = workers},
			      .pairs = 1000,
			      .rounds = cfg->o.quick ? 100 : 1000};
	struct bench_variant v = {
		.workload = "ping_pong",
		.variant = name,
		.unit = "round trips/s",
		.workers = workers,
		.per_iter = (double)c.pairs * (double)c.rounds,
		.ctx = &c,
		.setup = ping_pong_setup,
		.iter = ping_pong_iter,
		.teardown = ping_pong_teardown,
	};
	return bench_run(&cfg->o, &v);
}

/* A kind of a workload: NULL for the first (only) kind means the variant
 * name is just "workers=N"; otherwise "<kind>,workers=N". */
struct kind {
	const char *name;
	const char *status; /* NULL: runs; else why not ("needs weft_queue") */
};

static const struct workload {
	const char *name;
	const char *unit;
	variant_fn run; /* NULL: not written yet */
	struct kind kinds[3];
	const char *what;
} workloads[] = {
	{"spawn_many", "tasks/s", run_spawn_many, {{NULL, NULL}},
	 "one task spawns 1,000,000 trivial tasks, then awaits them all"},
	{"ping_pong", "round trips/s", run_ping_pong,
	 {{"future", NULL}, {"queue", "needs weft_queue"}},
	 "1,000 pairs of tasks, 1,000 round trips each over a one-shot future (or a 1-slot queue)"},
	/* Slots for the rest of BENCH.md's table, written in later issues. */
	{"yield_many", "yields/s", NULL, {{NULL, NULL}}, "1,000 tasks each yield 1,000 times"},
	{"chained_spawn", "spawns/s", NULL, {{NULL, NULL}},
	 "spawn chains of depth 1,000, 1,000 times"},
	{"fib_parallel", "parallel/serial", NULL, {{NULL, NULL}},
	 "fib(27) with child tasks above 15"},
	{"timers", "s", NULL, {{NULL, NULL}}, "100,000 tasks sleeping 0-99 ms"},
	{"idle_memory", "B/task", NULL, {{NULL, NULL}}, "1,000,000 tasks blocked on one event"},
	{"threadsafe", "calls/s", NULL, {{NULL, "needs run_coroutine_threadsafe"}},
	 "4 foreign threads x 250,000 submit-and-wait calls"},
	{"to_thread", "calls/s", NULL, {{NULL, "needs to_thread"}},
	 "100,000 to_thread calls, 64 in flight"},
	{"tcp_echo", "messages/s", NULL, {{NULL, "needs weft net"}},
	 "echo server on 127.0.0.1, C = 1, 50, 500 connections"},
};

#define NWORKLOADS (sizeof(workloads) / sizeof(workloads[0]))

static void variant_name(char *buf, size_t cap, const struct kind *k, unsigned workers)
{
	if (k->name)
		snprintf(buf, cap, "%s,workers=%u", k->name, workers);
	else
		snprintf(buf, cap, "workers=%u", workers);
}

static const struct workload *find_workload(const char *name)
{
	for (size_t i = 0; i < NWORKLOADS; i++)
		if (!strcmp(workloads[i].name, name))
			return &workloads[i];
	return NULL;
}

/* "workload variant status" lines, for people and for tools/bench.sh. */
static void list(const struct bench_cfg *cfg)
{
	for (size_t i = 0; i < NWORKLOADS; i++) {
		const struct workload *wl = &workloads[i];
		if (!wl->run) {
			const char *why = wl->kinds[0].status;
			printf("%-14s %-20s n/a: not yet written%s%s  # %s\n", wl->name, "-",
			       why ? ", " : "", why ? why : "", wl->what);
			continue;
		}
		for (const struct kind *k = wl->kinds; k < wl->kinds + 3; k++) {
			if (k > wl->kinds && !k->name)
				break;
			for (unsigned j = 0; j < cfg->nworkers; j++) {
				char v[64];
				variant_name(v, sizeof(v), k, cfg->workers[j]);
				if (k->status)
					printf("%-14s %-20s n/a: %s\n", wl->name, v, k->status);
				else
					printf("%-14s %-20s ready  # %s (%s)\n", wl->name, v,
					       wl->what, wl->unit);
			}
		}
	}
}

static int run_workload(const struct bench_cfg *cfg, const struct workload *wl, bool *matched)
{
	int failed = 0;
	for (unsigned j = 0; j < cfg->nworkers; j++) {
		for (const struct kind *k = wl->kinds; k < wl->kinds + 3; k++) {
			if (k > wl->kinds && !k->name)
				break;
			char v[64];
			variant_name(v, sizeof(v), k, cfg->workers[j]);
			if (cfg->only_variant && strcmp(cfg->only_variant, v))
				continue;
			*matched = true;
			int f = wl->run(cfg, cfg->workers[j], k->name ? k->name : "", v);
			if (f > 0)
				failed += f;
		}
	}
	return failed;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: weft_bench list [--workers N]\n"
		"       weft_bench WORKLOAD... [options]   (or 'all')\n"
		"workloads: spawn_many, ping_pong (see 'list'; BENCH.md defines them)\n"
		"options:\n"
		"  --workers N      only this worker count (default: online CPUs, then 1)\n"
		"  --variant V      only this variant (as 'list' names it, e.g. future,workers=1)\n"
		"%s",
		bench_opts_help);
}

int main(int argc, char **argv)
{
	struct bench_cfg cfg;
	memset(&cfg, 0, sizeof(cfg));
	bench_opts_init(&cfg.o);
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	cfg.workers[0] = ncpu > 0 ? (unsigned)ncpu : 1;
	cfg.workers[1] = 1;
	cfg.nworkers = cfg.workers[0] == 1 ? 1 : 2;

	const char *names[NWORKLOADS + 1];
	size_t nnames = 0;
	bool do_list = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int r = bench_parse_opt(&cfg.o, argc, argv, &i);
		if (r < 0)
			return 2;
		if (r > 0)
			continue;
		if (!strcmp(a, "--workers")) {
			char *end;
			long n = i + 1 < argc ? strtol(argv[i + 1], &end, 10) : 0;
			if (i + 1 >= argc || *end || n < 1 || n > 1024) {
				fprintf(stderr, "weft_bench: --workers needs 1..1024\n");
				return 2;
			}
			cfg.workers[0] = (unsigned)n;
			cfg.nworkers = 1;
			i++;
		} else if (!strcmp(a, "--variant")) {
			if (i + 1 >= argc) {
				fprintf(stderr, "weft_bench: --variant needs a name\n");
				return 2;
			}
			cfg.only_variant = argv[++i];
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "list")) {
			do_list = true;
		} else if (!strcmp(a, "all")) {
			for (size_t k = 0; k < NWORKLOADS && nnames < NWORKLOADS; k++)
				if (workloads[k].run)
					names[nnames++] = workloads[k].name;
		} else if (a[0] != '-' && find_workload(a)) {
			if (nnames < NWORKLOADS)
				names[nnames++] = a;
		} else {
			fprintf(stderr, "weft_bench: unknown workload or option '%s'\n", a);
			usage(stderr);
			return 2;
		}
	}
	if (do_list) {
		list(&cfg);
		return 0;
	}
	if (!nnames) {
		usage(stderr);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	int failed = 0;
	for (size_t i = 0; i < nnames; i++) {
		const struct workload *wl = find_workload(names[i]);
		if (!wl->run) {
			printf("%-12s %-18s n/a: not yet written\n", wl->name, "-");
			continue;
		}
		bool matched = false;
		failed += run_workload(&cfg, wl, &matched);
		if (!matched && cfg.only_variant) {
			fprintf(stderr, "weft_bench: %s has no variant '%s' (see 'list')\n",
				wl->name, cfg.only_variant);
			return 2;
		}
	}
	return failed ? 1 : 0;
}
