/* SPDX-License-Identifier: MIT */
/*
 * Task memory: each worker carves tasks out of small slabs (16 tasks per
 * malloc) with a bump pointer; a slab is freed when its last task is.
 * glibc's malloc spent ~45% of a spawn-heavy run in coalescing 256-byte
 * chunks and in cross-arena frees (tasks are freed on the worker that
 * drops the last reference, not the one that made them). Slabs are small
 * so that one long-lived task pins at most 4 KiB. Under ASan every task
 * is its own allocation, so use-after-free stays visible.
 */
#ifndef WEFT_CORE_TASK_SLAB_H
#define WEFT_CORE_TASK_SLAB_H

struct weft__task;
struct weft__worker;
struct weft__task_slab;

/* A zero-initialised-header-free block for one task; NULL when out of
 * memory. w may be NULL (a foreign thread): then a slab of one. */
struct weft__task *weft__task_alloc(struct weft__worker *w);

/* Gives a task's memory back (its slab goes when its last task does).
 * Any thread. */
void weft__task_dealloc(struct weft__task *t);

/* A worker stopping: hands back the slots of its slab it never used. */
void weft__task_slab_retire(struct weft__worker *w);

#endif
