/* SPDX-License-Identifier: MIT */
/*
 * An operation done as a plain syscall: what the epoll backend tries
 * without blocking when it submits (and again at readiness), and what a
 * blocking-pool thread does for the operations epoll cannot wait for
 * (weft__io_run_blocking). Results are the syscall's or -errno; errno is
 * read right after the call, on the same thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "io/syscall.h"

static int64_t result(int64_t rc)
{
	return rc < 0 ? -errno : rc;
}

static int64_t rw(const struct weft__io_req *q, bool write, int rwf)
{
	struct iovec one = {.iov_base = q->buf, .iov_len = q->len};
	const struct iovec *iov = &one;
	int cnt = 1;
	if (q->kind == WEFT__IO_READV || q->kind == WEFT__IO_WRITEV) {
		iov = q->buf;
		cnt = (int)q->len;
	}
	/* -1: the current position, as io_uring takes UINT64_MAX */
	off_t off = q->off == UINT64_MAX ? (off_t)-1 : (off_t)q->off;
	return result(write ? pwritev2(q->fd, iov, cnt, off, rwf) : preadv2(q->fd, iov, cnt, off, rwf));
}

int64_t weft__io_syscall(const struct weft__io_req *q, bool nowait)
{
	int dontwait = nowait ? MSG_DONTWAIT : 0;
	switch ((enum weft__io_kind)q->kind) {
	case WEFT__IO_READ:
	case WEFT__IO_READV:
		return rw(q, false, nowait ? RWF_NOWAIT : 0);
	case WEFT__IO_WRITE:
	case WEFT__IO_WRITEV:
		return rw(q, true, nowait ? RWF_NOWAIT : 0);
	case WEFT__IO_RECV:
		return result(recv(q->fd, q->buf, q->len, q->flags | dontwait));
	case WEFT__IO_SEND:
		return result(send(q->fd, q->buf, q->len, q->flags | dontwait));
	case WEFT__IO_RECVMSG:
		return result(recvmsg(q->fd, q->buf, q->flags | dontwait));
	case WEFT__IO_SENDMSG:
		return result(sendmsg(q->fd, q->buf, q->flags | dontwait));
	case WEFT__IO_ACCEPT:
		return result(accept4(q->fd, q->buf, q->out, q->flags));
	case WEFT__IO_CONNECT:
		return result(connect(q->fd, q->buf, q->len));
	case WEFT__IO_SHUTDOWN:
		return result(shutdown(q->fd, (int)q->len));
	case WEFT__IO_OPENAT:
		return result(openat(q->fd, q->buf, q->flags, (mode_t)q->off));
	case WEFT__IO_FSYNC:
		return result(q->flags ? fdatasync(q->fd) : fsync(q->fd));
	case WEFT__IO_STATX:
		return result(statx(q->fd, q->buf, q->flags, q->len, q->out));
	case WEFT__IO_POLL: {
		struct pollfd p = {.fd = q->fd, .events = (short)q->len};
		int64_t rc = result(poll(&p, 1, nowait ? 0 : -1));
		return rc > 0 ? (uint16_t)p.revents : rc == 0 ? -EAGAIN : rc;
	}
	case WEFT__IO_RECV_POOL:
	case WEFT__IO_READ_POOL:
		break;
	}
	return -EINVAL;
}

int64_t weft__io_run_blocking(const struct weft__io_req *req)
{
	return weft__io_syscall(req, false);
}
