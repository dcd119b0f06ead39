/* SPDX-License-Identifier: MIT */
/*
 * The one intrusive doubly-linked list (libuv's queue.h is the model): a
 * circular list through a sentinel head, so insertion and removal never
 * test for an end. A node removed with weft__list_remove points at itself,
 * which is how weft__list_linked tells whether it is in a list. Not
 * thread-safe: the owner of the list's lock (or its only user) calls these.
 */
#ifndef WEFT_BASE_LIST_H
#define WEFT_BASE_LIST_H

#include <stdbool.h>
#include <stddef.h>

#define weft__container_of(p, type, member) ((type *)((char *)(p) - offsetof(type, member)))

struct weft__list {
	struct weft__list *next, *prev;
};

/* An empty list, or a node that is in none. */
static inline void weft__list_init(struct weft__list *h)
{
	h->next = h->prev = h;
}

static inline bool weft__list_empty(const struct weft__list *h)
{
	return h->next == h;
}

/* Is node n in a list? (It was initialised or removed otherwise.) */
static inline bool weft__list_linked(const struct weft__list *n)
{
	return n->next != n;
}

static inline void weft__list_push_back(struct weft__list *h, struct weft__list *n)
{
	n->next = h;
	n->prev = h->prev;
	h->prev->next = n;
	h->prev = n;
}

static inline void weft__list_push_front(struct weft__list *h, struct weft__list *n)
{
	n->prev = h;
	n->next = h->next;
	h->next->prev = n;
	h->next = n;
}

static inline void weft__list_remove(struct weft__list *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	weft__list_init(n);
}

/* The first node, or NULL when the list is empty. */
static inline struct weft__list *weft__list_first(const struct weft__list *h)
{
	return h->next == h ? NULL : h->next;
}

/* Removes and returns the first node, or NULL. */
static inline struct weft__list *weft__list_pop_front(struct weft__list *h)
{
	struct weft__list *n = weft__list_first(h);
	if (n)
		weft__list_remove(n);
	return n;
}

/* Iterates over the nodes of h; the body must not remove `pos`. */
#define weft__list_each(pos, h) for ((pos) = (h)->next; (pos) != (h); (pos) = (pos)->next)

#endif
