/* SPDX-License-Identifier: MIT */
/*
 * The two backends' entry points, called only by io/backend.c, which
 * picks one per worker (decision 50). Each has the contract of the
 * weft__io_ function of the same suffix in io/backend.h.
 */
#ifndef WEFT_IO_IMPL_H
#define WEFT_IO_IMPL_H

#include "io/backend.h"

/* What to do about running out of descriptors (rc -EMFILE or -ENFILE),
 * for the set-up reports of both; "" for other codes. */
const char *weft__io_fd_hint(int rc);

/* io_uring (io/uring.c, io/pool.c). */
int weft__uring_init(struct weft__io *io, const weft_config *cfg, char *why, size_t cap);
void weft__uring_exit(struct weft__io *io);
int weft__uring_submit(struct weft__io *io, struct weft__io_op *op, const struct weft__io_req *req);
void weft__uring_cancel(struct weft__io *io, struct weft__io_op *op, uint32_t gen);
bool weft__uring_ready(const struct weft__io *io);
void weft__uring_wake_from(struct weft__io *from, const struct weft__io *to);
void weft__uring_wake_foreign(const struct weft__io *to);
void weft__uring_park(struct weft__io *io, uint64_t timeout_ns);
void weft__uring_poll(struct weft__io *io);
int weft__uring_pool_enable(struct weft__io *io);

/* epoll (io/epoll.c). */
int weft__ep_init(struct weft__io *io, const weft_config *cfg, char *why, size_t cap);
void weft__ep_exit(struct weft__io *io);
int weft__ep_submit(struct weft__io *io, struct weft__io_op *op, const struct weft__io_req *req);
void weft__ep_cancel(struct weft__io *io, struct weft__io_op *op, uint32_t gen);
bool weft__ep_ready(const struct weft__io *io);
bool weft__ep_ready_idle(const struct weft__io *io);
void weft__ep_wake_foreign(const struct weft__io *to);
void weft__ep_park(struct weft__io *io, uint64_t timeout_ns);
void weft__ep_poll(struct weft__io *io);
void weft__ep_forget(const struct weft__io *io, int fd);
void weft__ep_fd_new(int fd);

#endif
