/* SPDX-License-Identifier: MIT */
/*
 * What the scheduler asks of the layer above it (core): the only calls
 * that go up a floor. The loop switches to tasks itself, through the
 * fields of struct weft__sched_task, so none of these is on the path of a
 * switch (decision 26); each is an ordinary out-of-line call on a colder
 * path. tools/check-layers.sh allows src/sched exactly these upward
 * symbols.
 *
 * All are called on a worker thread of the scheduler, by its loop (never
 * on a task's fiber unless stated), and never suspend.
 */
#ifndef WEFT_SCHED_HOOKS_H
#define WEFT_SCHED_HOOKS_H

#include <stdbool.h>
#include <stddef.h>

struct weft__runnable;
struct weft__sched;
struct weft__sched_task;
struct weft__worker;

/* The entry of every task's fiber (arg: its struct weft__sched_task):
 * runs the task's function, completes the task and switches out for good
 * with no `after`. Runs on the task's fiber; never returns. */
void weft__hook_task_main(void *arg);

/* Before a task's first run, when its must_cancel is set: takes the
 * pending cancellation; true if there still was one (the task then never
 * runs: the loop ends it with weft__hook_task_end(t, -ECANCELED)). */
bool weft__hook_task_cancelled(struct weft__sched_task *t);

/* Completes a task that will never run with rc (-ECANCELED, or -ENOMEM
 * when no stack could be had). */
void weft__hook_task_end(struct weft__sched_task *t, int rc);

/* A finished task leaves the scheduler (its stack is back in the cache):
 * drops the reference the runtime held. */
void weft__hook_task_retire(struct weft__sched_task *t);

/* Runs a runnable of any kind but WEFT__RUN_TASK on worker w, and
 * releases it. */
void weft__hook_run_callback(struct weft__worker *w, struct weft__runnable *r);

/* The task's name into buf (for reports; async-signal-safe: no locks, no
 * stdio, no allocation). */
void weft__hook_task_name(const struct weft__sched_task *t, char *buf, size_t cap);

/* A worker thread starts (before its loop) and stops (after its loop,
 * every task done): the layer above sets up and releases its per-worker
 * state. */
void weft__hook_worker_start(struct weft__worker *w);
void weft__hook_worker_stop(struct weft__worker *w);

/* Now and then (each turn of one worker, every 61 ticks of several, before
 * parking): takes back memory other threads handed in. */
void weft__hook_reclaim(struct weft__sched *s);

/* When idle (sched/trim.c's pacing): frees spare memory of the layer
 * above beyond what it keeps, at most `max` pieces (0: only count);
 * returns how many are still beyond it. */
size_t weft__hook_trim(struct weft__sched *s, size_t max);

#endif
