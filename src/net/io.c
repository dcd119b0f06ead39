/* SPDX-License-Identifier: MIT */
/* The raw operations of weft/io.h: each one request for weft__op_run. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>

#include <weft/io.h>
#include <weft/timeout.h>

#include "core/debug.h"
#include "core/task.h"
#include "net/op.h"
#include "sched/worker.h"

/* io_uring lengths are 32-bit: a longer request is a short one, as the
 * syscalls themselves cap a transfer at about 2 GiB. */
static uint32_t len32(size_t len)
{
	return len > 0x7ffff000u ? 0x7ffff000u : (uint32_t)len;
}

static uint64_t offset_of(int64_t offset)
{
	return offset < 0 ? UINT64_MAX : (uint64_t)offset;
}

static ssize_t rw(unsigned char kind, int fd, const void *buf, size_t len, int64_t offset)
{
	if (!buf && len)
		return weft__misuse(-EFAULT, "NULL buffer");
	struct weft__io_req r = {.kind = kind, .fd = fd, .buf = (void *)buf, .len = len32(len),
				 .off = offset_of(offset)};
	return (ssize_t)weft__op_run(&r, false);
}

WEFT_API ssize_t weft_read(int fd, void *buf, size_t len, int64_t offset)
{
	return rw(WEFT__IO_READ, fd, buf, len, offset);
}

WEFT_API ssize_t weft_write(int fd, const void *buf, size_t len, int64_t offset)
{
	return rw(WEFT__IO_WRITE, fd, buf, len, offset);
}

static ssize_t rwv(unsigned char kind, int fd, const struct iovec *iov, int iovcnt, int64_t offset)
{
	if ((!iov && iovcnt) || iovcnt < 0 || iovcnt > IOV_MAX)
		return weft__misuse(-EINVAL, "bad iovec array");
	struct weft__io_req r = {.kind = kind, .fd = fd, .buf = (void *)iov,
				 .len = (uint32_t)iovcnt, .off = offset_of(offset)};
	return (ssize_t)weft__op_run(&r, false);
}

WEFT_API ssize_t weft_readv(int fd, const struct iovec *iov, int iovcnt, int64_t offset)
{
	return rwv(WEFT__IO_READV, fd, iov, iovcnt, offset);
}

WEFT_API ssize_t weft_writev(int fd, const struct iovec *iov, int iovcnt, int64_t offset)
{
	return rwv(WEFT__IO_WRITEV, fd, iov, iovcnt, offset);
}

WEFT_API ssize_t weft_recv(int fd, void *buf, size_t len, int flags)
{
	if (!buf && len)
		return weft__misuse(-EFAULT, "NULL buffer");
	struct weft__io_req r = {.kind = WEFT__IO_RECV, .fd = fd, .buf = buf, .len = len32(len),
				 .flags = flags};
	return (ssize_t)weft__op_run(&r, false);
}

_Static_assert(WEFT_IOBUF_SIZE == WEFT__IO_POOL_SIZE, "a lent buffer is one of the pool's");

WEFT_API ssize_t weft_recv_pooled(int fd, weft_iobuf *out, int flags)
{
	if (!out)
		return weft__misuse(-EINVAL, "NULL weft_iobuf");
	*out = (weft_iobuf){0};
	struct weft__worker *w = weft__worker_current();
	if (!w || !weft__task_current())
		return weft__misuse(-EPERM, "called outside a task");
	if (weft__io_pool_enable(&w->io) == 0) {
		struct weft__io_req r = {.kind = WEFT__IO_RECV_POOL, .fd = fd, .flags = flags};
		unsigned cf = 0;
		ssize_t n = (ssize_t)weft__op_run_flags(&r, false, &cf);
		unsigned bid;
		void *b = weft__io_pool_buf(&w->io, cf, &bid);
		if (b && n > 0) {
			*out = (weft_iobuf){.data = b, .len = (size_t)n, .owner_ = w, .id_ = bid};
			return n;
		}
		if (b) /* not expected: a buffer with no bytes */
			weft__io_pool_give_back(&w->io, bid);
		if (n != -ENOBUFS)
			return n;
		if (weft__worker_current() == w) /* (a migratable task may have moved) */
			weft__io_pool_grow(&w->io);
		/* every pool buffer is lent or full: this receive gets its own */
	}
	char *heap = malloc(WEFT_IOBUF_SIZE);
	if (!heap)
		return -ENOMEM;
	ssize_t n = weft_recv(fd, heap, WEFT_IOBUF_SIZE, flags);
	if (n <= 0) {
		free(heap);
		return n;
	}
	*out = (weft_iobuf){.data = heap, .len = (size_t)n};
	return n;
}

WEFT_API void weft_iobuf_release(weft_iobuf *buf)
{
	if (!buf || !buf->data)
		return;
	struct weft__worker *w = buf->owner_;
	if (!w)
		free(buf->data);
	else if (weft__worker_current() == w)
		weft__io_pool_put(&w->io, buf->id_);
	else
		weft__io_pool_give_back(&w->io, buf->id_);
	*buf = (weft_iobuf){0};
}

WEFT_API ssize_t weft_send(int fd, const void *buf, size_t len, int flags)
{
	if (!buf && len)
		return weft__misuse(-EFAULT, "NULL buffer");
	struct weft__io_req r = {.kind = WEFT__IO_SEND, .fd = fd, .buf = (void *)buf,
				 .len = len32(len), .flags = flags | MSG_NOSIGNAL};
	return (ssize_t)weft__op_run(&r, false);
}

WEFT_API ssize_t weft_recvmsg(int fd, struct msghdr *msg, int flags)
{
	if (!msg)
		return weft__misuse(-EINVAL, "NULL msghdr");
	struct weft__io_req r = {.kind = WEFT__IO_RECVMSG, .fd = fd, .buf = msg, .flags = flags};
	return (ssize_t)weft__op_run(&r, false);
}

WEFT_API ssize_t weft_sendmsg(int fd, const struct msghdr *msg, int flags)
{
	if (!msg)
		return weft__misuse(-EINVAL, "NULL msghdr");
	struct weft__io_req r = {.kind = WEFT__IO_SENDMSG, .fd = fd, .buf = (void *)msg,
				 .flags = flags | MSG_NOSIGNAL};
	return (ssize_t)weft__op_run(&r, false);
}

WEFT_API int weft_accept(int fd, struct sockaddr *addr, socklen_t *addrlen, int flags)
{
	if (addr && !addrlen)
		return weft__misuse(-EINVAL, "addr without addrlen");
	struct weft__io_req r = {.kind = WEFT__IO_ACCEPT, .fd = fd, .buf = addr, .out = addrlen,
				 .flags = flags | SOCK_CLOEXEC};
	return (int)weft__op_run(&r, false);
}

WEFT_API int weft_connect(int fd, const struct sockaddr *addr, socklen_t addrlen)
{
	if (!addr)
		return weft__misuse(-EINVAL, "NULL address");
	struct weft__io_req r = {.kind = WEFT__IO_CONNECT, .fd = fd, .buf = (void *)addr,
				 .len = addrlen};
	return (int)weft__op_run(&r, false);
}

WEFT_API int weft_shutdown(int fd, int how)
{
	struct weft__io_req r = {.kind = WEFT__IO_SHUTDOWN, .fd = fd, .len = (uint32_t)how};
	return (int)weft__op_run(&r, false);
}

WEFT_API int weft_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	if (!path)
		return weft__misuse(-EINVAL, "NULL path");
	/* the directory is not an operation's subject: not tracked for close */
	struct weft__io_req r = {.kind = WEFT__IO_OPENAT, .fd = dirfd, .buf = (void *)path,
				 .flags = flags | O_CLOEXEC, .off = mode};
	return (int)weft__op_run(&r, true);
}

WEFT_API int weft_fsync(int fd, bool datasync)
{
	struct weft__io_req r = {.kind = WEFT__IO_FSYNC, .fd = fd, .flags = datasync};
	return (int)weft__op_run(&r, false);
}

WEFT_API int weft_statx(int dirfd, const char *path, int flags, unsigned mask, struct statx *out)
{
	if (!path || !out)
		return weft__misuse(-EINVAL, "NULL path or out");
	struct weft__io_req r = {.kind = WEFT__IO_STATX, .fd = dirfd, .buf = (void *)path,
				 .flags = flags, .len = mask, .out = out};
	return (int)weft__op_run(&r, true);
}

WEFT_API int weft_wait_fd(int fd, unsigned events, double timeout)
{
	if (timeout != timeout) /* NaN */
		return weft__misuse(-EINVAL, "NaN timeout");
	struct weft__io_req r = {.kind = WEFT__IO_POLL, .fd = fd, .len = events};
	if (timeout == WEFT_FOREVER)
		return (int)weft__op_run(&r, false);
	weft_timeout scope;
	int rc = weft_timeout_enter_after(&scope, timeout > 0 ? timeout : 0);
	if (rc)
		return rc;
	rc = (int)weft__op_run(&r, false);
	return weft_timeout_exit(&scope, rc);
}
