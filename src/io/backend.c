/* SPDX-License-Identifier: MIT */
/*
 * The backend interface of io/backend.h: which backend a worker uses, and
 * the dispatch to it. Each entry tests io->ep (one predictable branch,
 * then a tail call): a table of function pointers would add an indirect
 * call to every submit and reap of the io_uring fast path (decision 50).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <weft/error.h>

#include "io/impl.h"

const char *weft__io_fd_hint(int rc)
{
	return rc == -EMFILE ? " (out of file descriptors: raise RLIMIT_NOFILE, ulimit -n)"
	       : rc == -ENFILE ? " (the system is out of file descriptors)"
			       : "";
}

int weft__io_init(struct weft__io *io, const weft_config *cfg, char *why, size_t cap)
{
	io->ring = NULL;
	io->ep = NULL;
	io->inflight = io->queued = 0;
	if (cfg->backend == WEFT_BACKEND_EPOLL)
		return weft__ep_init(io, cfg, why, cap);
	int rc = weft__uring_init(io, cfg, why, cap);
	/* auto: io_uring refused (ENOSYS, EPERM, enter refused) or its ring's
	 * memory refused (ENOMEM, RLIMIT_MEMLOCK): the readiness backend
	 * serves; anything else (EMFILE...) says what to fix and is returned */
	if (rc == 0 || cfg->backend != WEFT_BACKEND_AUTO || (rc != WEFT_ENOURING && rc != -ENOMEM))
		return rc;
	/* the reason stays in why: the scheduler says it once per runtime
	 * in debug mode */
	char reason[160];
	snprintf(reason, sizeof(reason), "%s", why);
	rc = weft__ep_init(io, cfg, why, cap);
	if (rc == 0)
		snprintf(why, cap, "%s", reason);
	return rc;
}

void weft__io_exit(struct weft__io *io)
{
	if (io->ep)
		weft__ep_exit(io);
	else
		weft__uring_exit(io);
}

int weft__io_submit(struct weft__io *io, struct weft__io_op *op, const struct weft__io_req *req)
{
	if (__builtin_expect(io->ep != NULL, 0))
		return weft__ep_submit(io, op, req);
	return weft__uring_submit(io, op, req);
}

void weft__io_cancel(struct weft__io *io, struct weft__io_op *op, uint32_t gen)
{
	if (__builtin_expect(io->ep != NULL, 0))
		weft__ep_cancel(io, op, gen);
	else
		weft__uring_cancel(io, op, gen);
}

bool weft__io_ready(const struct weft__io *io)
{
	if (__builtin_expect(io->ep != NULL, 0))
		return weft__ep_ready(io);
	return weft__uring_ready(io);
}

bool weft__io_ready_idle(const struct weft__io *io)
{
	if (__builtin_expect(io->ep != NULL, 0))
		return weft__ep_ready_idle(io);
	return weft__uring_ready(io);
}

void weft__io_wake_from(struct weft__io *from, const struct weft__io *to)
{
	/* MSG_RING needs a ring at both ends; else the target's eventfd */
	if (__builtin_expect(from->ep != NULL || to->ep != NULL, 0))
		weft__io_wake_foreign(to);
	else
		weft__uring_wake_from(from, to);
}

void weft__io_wake_foreign(const struct weft__io *to)
{
	if (__builtin_expect(to->ep != NULL, 0))
		weft__ep_wake_foreign(to);
	else
		weft__uring_wake_foreign(to);
}

void weft__io_park(struct weft__io *io, uint64_t timeout_ns)
{
	if (__builtin_expect(io->ep != NULL, 0))
		weft__ep_park(io, timeout_ns);
	else
		weft__uring_park(io, timeout_ns);
}

void weft__io_poll(struct weft__io *io)
{
	if (__builtin_expect(io->ep != NULL, 0))
		weft__ep_poll(io);
	else
		weft__uring_poll(io);
}

void weft__io_forget(const struct weft__io *io, int fd)
{
	if (io->ep)
		weft__ep_forget(io, fd);
}

void weft__io_fd_new(int fd)
{
	weft__ep_fd_new(fd);
}

int weft__io_pool_enable(struct weft__io *io)
{
	/* epoll has no provided buffers: streams receive into their own */
	if (io->ep)
		return -EOPNOTSUPP;
	return weft__uring_pool_enable(io);
}
