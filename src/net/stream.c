/* SPDX-License-Identifier: MIT */
/*
 * Streams (weft/stream.h). A stream receives and sends in the background
 * on its owner, the worker it was made on: its two operation records
 * (one receive, one send, at most one of each in flight) are submitted
 * only there, by pump(), which looks at the state and does what is due:
 * arm the receive, send what is buffered, cancel what closing ends, shut
 * the write side, close the socket. Tasks on other workers that need
 * pump to run post the stream's kick job to the owner.
 *
 * All state is under s->lock (a spinlock: every critical section is a
 * few copies); syscalls and submissions happen outside it. A receive
 * writes into rbuf's free tail, so rbuf is only moved (grown, compacted)
 * while no receive is in flight; a send reads wbuf, so writes made while
 * one is in flight go to wmore, merged when it completes.
 *
 * References (s->refs): the handle's, one per operation in flight, one
 * for a posted kick. A stream that is closing counts as live work of its
 * runtime (as a task does) until its socket is closed, so shutdown waits
 * for the flush.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <weft/future.h>
#include <weft/net.h>
#include <weft/stream.h>

#include "core/core.h"
#include "core/debug.h"
#include "core/future.h"
#include "core/task.h"
#include "net/op.h"
#include "net/stream.h"
#include "sched/spinlock.h"
#include "sched/worker.h"

enum {
	HIGH_WATER = 64 * 1024,
	LOW_WATER = 16 * 1024,
	RECV_MIN = 1024,      /* a stream's first receive buffer */
	RECV_CHUNK = 64 * 1024, /* the most one receive asks for */
};

struct weft_stream {
	weft__spinlock lock;
	_Atomic uint32_t refs;
	int fd;
	struct weft__worker *owner;
	size_t limit;
	unsigned char kind;   /* enum weft__stream_kind */
	bool fd_gone;         /* a pipe's write end, closed by write_eof */

	/* Read side. rbuf[rhead, rhead + rlen) is buffered data. */
	char *rbuf;
	size_t rcap, rhead, rlen;
	bool recv_on;         /* a receive is in flight */
	bool pooled;          /* receive into buffers of the owner's pool,
	                       * copied out at once (else into rbuf) */
	bool recv_pool;       /* the receive in flight is a pool receive */
	bool nobuf;           /* the pool ran dry: one plain receive next */
	bool grow;            /* the last receive filled its room */
	bool paused;          /* 2 x limit buffered: not receiving */
	bool eof;
	int rerr;             /* the receive's error, after the data */
	weft_future *rwait;   /* the reader waiting for data (a reference) */
	struct weft__io_op recv_op;

	/* Write side. wbuf[wsent, wlen) is still to send; wmore holds what
	 * was written while a send of wbuf was in flight. */
	char *wbuf, *wmore;
	size_t wcap, wlen, wsent, wmcap, wmlen;
	bool send_on;
	bool wpaused;         /* above the high-water mark until the low one */
	int werr;
	bool eof_wanted, eof_sent;
	weft_future *dwait;   /* drainers wait on it (a reference) */
	struct weft__io_op send_op;

	/* Life. */
	bool closing, aborting, closed, cancel_sent;
	bool kick_posted;
	struct weft__job kick;
	weft_future *closed_fut;  /* completed when the socket is closed */
	void (*on_closed)(void *arg);
	void *on_closed_arg;
};

static void stream_unref(weft_stream *s)
{
	if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
		return;
	weft_future_unref(s->closed_fut);
	free(s->rbuf);
	free(s->wbuf);
	free(s->wmore);
	free(s);
}

void weft__stream_hold(weft_stream *s)
{
	atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

void weft__stream_drop(weft_stream *s)
{
	stream_unref(s);
}

static size_t pending_out(const weft_stream *s)
{
	return s->wlen - s->wsent + s->wmlen;
}

/* Takes the future *slot points at (to complete outside the lock). */
static weft_future *take(weft_future **slot)
{
	weft_future *f = *slot;
	*slot = NULL;
	return f;
}

static void wake(weft_future *f, int rc)
{
	if (f) {
		weft__future_complete(f, rc, NULL, NULL); /* -EALREADY: cancelled */
		weft_future_unref(f);
	}
}

/* ---- the owner's state machine ---- */

static void recv_done(struct weft__io_op *op, int res, unsigned flags);
static void send_done(struct weft__io_op *op, int res, unsigned flags);
static void pump(weft_stream *s);

/* Caller holds the lock, no receive in flight: room for one at rbuf's
 * tail, growing or compacting it. 0 or -ENOMEM. */
static int make_room(weft_stream *s)
{
	if (s->rlen == 0)
		s->rhead = 0;
	size_t free_tail = s->rcap - s->rhead - s->rlen;
	/* a receive that filled its room asks for a bigger one next time,
	 * up to RECV_CHUNK: idle streams keep RECV_MIN, busy ones grow */
	bool bigger = s->grow && s->rcap < RECV_CHUNK;
	s->grow = false;
	if (!bigger && free_tail >= RECV_MIN && free_tail >= s->rcap / 4)
		return 0;
	if (!bigger && s->rhead && s->rcap - s->rlen >= RECV_MIN) {
		memmove(s->rbuf, s->rbuf + s->rhead, s->rlen);
		s->rhead = 0;
		if (s->rcap - s->rlen >= s->rcap / 4)
			return 0;
	}
	if (s->rhead) {
		memmove(s->rbuf, s->rbuf + s->rhead, s->rlen);
		s->rhead = 0;
	}
	/* Receiving stops at 2 x limit, so the buffer never needs to be
	 * larger (unless a reader asks for more): a bigger one would only
	 * spread the same bytes over more resident pages. */
	if (s->rcap >= 2 * s->limit && s->rlen < s->rcap)
		return 0;
	/* realloc: large blocks grow in place (mremap), so growing leaves no
	 * trail of freed smaller buffers behind (RSS per connection) */
	size_t cap = s->rcap ? s->rcap * 2 : RECV_MIN;
	char *b = realloc(s->rbuf, cap);
	if (!b)
		return s->rcap - s->rlen ? 0 : -ENOMEM;
	s->rbuf = b;
	s->rcap = cap;
	return 0;
}

/* What pump decided under the lock, done after it. */
struct actions {
	bool recv, send, cancel_recv, cancel_send, shut_wr, close_fd;
	struct weft__io_req rreq, sreq;
	weft_future *wake_r, *wake_d, *wake_closed;
};

static void decide(weft_stream *s, struct actions *a)
{
	if (s->closed)
		return;
	/* receive */
	bool readable = s->kind != WEFT__STREAM_PIPE_WRITE;
	bool pipe = s->kind != WEFT__STREAM_SOCKET;
	if (readable && !s->closing && !s->eof && !s->rerr && !s->paused && !s->recv_on &&
	    s->pooled && !s->nobuf) {
		/* the kernel picks a pool buffer when data arrives, and it is
		 * copied out at once: a waiting stream holds no buffer */
		s->recv_on = s->recv_pool = true;
		atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
		a->recv = true;
		/* never past 2 x limit (a reader that needs more lifts it) */
		size_t left = 2 * s->limit > s->rlen ? 2 * s->limit - s->rlen : WEFT__IO_POOL_SIZE;
		a->rreq = (struct weft__io_req){.kind = pipe ? WEFT__IO_READ_POOL : WEFT__IO_RECV_POOL,
						.fd = s->fd,
						.len = (uint32_t)(left < WEFT__IO_POOL_SIZE ? left : 0)};
	} else if (readable && !s->closing && !s->eof && !s->rerr && !s->paused && !s->recv_on) {
		s->nobuf = false;
		s->recv_pool = false;
		if (make_room(s) == 0) {
			size_t room = s->rcap - s->rhead - s->rlen;
			/* never past 2 x limit: a peer that sends without the
			 * reader reading costs at most that */
			size_t left = 2 * s->limit > s->rlen ? 2 * s->limit - s->rlen : RECV_CHUNK;
			if (room > left)
				room = left;
			s->recv_on = true;
			atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
			a->recv = true;
			a->rreq = (struct weft__io_req){.kind = pipe ? WEFT__IO_READ : WEFT__IO_RECV,
							.fd = s->fd,
							.buf = s->rbuf + s->rhead + s->rlen,
							.len = (uint32_t)(room < RECV_CHUNK ? room : RECV_CHUNK),
							.off = UINT64_MAX};
		}
	}
	if (s->closing && s->recv_on && !s->cancel_sent) {
		s->cancel_sent = true;
		a->cancel_recv = true;
	}
	/* send */
	if (s->aborting) {
		s->wlen = s->wsent = s->wmlen = 0;
		if (s->send_on)
			a->cancel_send = true;
	} else if (!s->send_on && !s->werr) {
		if (s->wmlen) { /* no send in flight: wbuf may move */
			size_t rest = s->wlen - s->wsent;
			if (s->wsent)
				memmove(s->wbuf, s->wbuf + s->wsent, rest);
			s->wsent = 0;
			s->wlen = rest;
			if (s->wcap - rest < s->wmlen) {
				/* swap when wbuf is empty, else grow it */
				if (!rest) {
					/* wmore becomes wbuf; the old one goes (a
					 * spare of its size would stay resident) */
					free(s->wbuf);
					s->wbuf = s->wmore;
					s->wcap = s->wmcap;
					s->wlen = s->wmlen;
					s->wmore = NULL;
					s->wmcap = s->wmlen = 0;
				} else {
					char *b = realloc(s->wbuf, rest + s->wmlen);
					if (b) {
						s->wbuf = b;
						s->wcap = rest + s->wmlen;
					} else {
						s->werr = -ENOMEM;
					}
				}
			}
			if (s->wmlen && !s->werr) {
				memcpy(s->wbuf + s->wlen, s->wmore, s->wmlen);
				s->wlen += s->wmlen;
				s->wmlen = 0;
			}
		}
		if (s->wlen > s->wsent && !s->werr) {
			s->send_on = true;
			atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
			size_t n = s->wlen - s->wsent;
			a->send = true;
			a->sreq = (struct weft__io_req){.kind = pipe ? WEFT__IO_WRITE : WEFT__IO_SEND,
							.fd = s->fd,
							.buf = s->wbuf + s->wsent,
							.len = (uint32_t)(n < 0x7ffff000u ? n : 0x7ffff000u),
							.flags = MSG_NOSIGNAL, .off = UINT64_MAX};
		} else if (s->eof_wanted && !s->eof_sent && !s->werr) {
			s->eof_sent = true;
			a->shut_wr = true;
		}
	}
	/* close once nothing is in flight and the flush is over */
	bool flushed = !pending_out(s) || s->werr || s->aborting;
	if (s->closing && !s->recv_on && !s->send_on && flushed) {
		s->closed = true;
		a->close_fd = true;
		a->wake_r = take(&s->rwait);
		a->wake_d = take(&s->dwait);
		a->wake_closed = weft_future_ref(s->closed_fut);
	}
}

/* Owner only; the lock is not held. */
static void pump(weft_stream *s)
{
	struct actions a = {0};
	weft__spin_lock(&s->lock);
	decide(s, &a);
	weft__spin_unlock(&s->lock);
	struct weft__io *io = &s->owner->io;
	/* A refused submit (the epoll backend on a descriptor whose reads or
	 * writes cannot be non-blocking, such as a terminal) ends that side
	 * with the error, as a failed operation would; the operation's
	 * reference goes with it. */
	int rc;
	if (a.recv && (rc = weft__io_submit(io, &s->recv_op, &a.rreq)))
		recv_done(&s->recv_op, rc, 0);
	if (a.send && (rc = weft__io_submit(io, &s->send_op, &a.sreq)))
		send_done(&s->send_op, rc, 0);
	if (a.cancel_recv)
		weft__io_cancel(io, &s->recv_op, s->recv_op.gen);
	if (a.cancel_send)
		weft__io_cancel(io, &s->send_op, s->send_op.gen);
	if (a.shut_wr && s->kind == WEFT__STREAM_SOCKET) {
		shutdown(s->fd, SHUT_WR);
	} else if (a.shut_wr) {
		/* a pipe has no half-close: its reader sees EOF when the
		 * write end closes; nothing is in flight on it now */
		weft__io_forget(io, s->fd);
		close(s->fd);
		s->fd_gone = true;
	}
	if (a.close_fd) {
		if (!s->fd_gone) {
			weft__io_forget(io, s->fd); /* out of the epoll set first */
			close(s->fd);
		}
		weft__worker_bump(&s->owner->retired); /* counted in by close */
		if (s->on_closed)
			s->on_closed(s->on_closed_arg);
	}
	wake(a.wake_r, 0);
	wake(a.wake_d, 0);
	wake(a.wake_closed, 0);
}

/* Caller holds the lock: appends n bytes to rbuf (pool receives: no
 * receive in flight points into rbuf then). 0 or -ENOMEM. */
static int rbuf_append(weft_stream *s, const char *p, size_t n)
{
	if (s->rcap - s->rhead - s->rlen < n) {
		if (s->rhead) {
			memmove(s->rbuf, s->rbuf + s->rhead, s->rlen);
			s->rhead = 0;
		}
		if (s->rcap - s->rlen < n) {
			size_t cap = s->rcap ? s->rcap : RECV_MIN;
			while (cap - s->rlen < n)
				cap *= 2;
			/* 2 x limit is the most a stream buffers unless a reader
			 * needs more: a larger buffer only spreads the bytes */
			if (cap > 2 * s->limit && s->rlen + n <= 2 * s->limit)
				cap = 2 * s->limit;
			char *b = realloc(s->rbuf, cap);
			if (!b)
				return -ENOMEM;
			s->rbuf = b;
			s->rcap = cap;
		}
	}
	memcpy(s->rbuf + s->rhead + s->rlen, p, n);
	s->rlen += n;
	return 0;
}

static void recv_pool_done(weft_stream *s, int res, unsigned flags)
{
	struct weft__io *io = &s->owner->io;
	unsigned bid;
	const char *b = weft__io_pool_buf(io, flags, &bid);
	weft__spin_lock(&s->lock);
	s->recv_on = false;
	if (res > 0 && b) {
		if (rbuf_append(s, b, (size_t)res))
			s->rerr = -ENOMEM;
		else if (s->rlen >= 2 * s->limit)
			s->paused = true;
	} else if (res == 0) {
		s->eof = true;
	} else if (res == -ENOBUFS) {
		s->nobuf = true; /* not an error: one receive of its own */
		weft__io_pool_grow(io);
	} else if (res < 0 && (res != -ECANCELED || !s->closing)) {
		s->rerr = res == -ECANCELED ? -ECONNABORTED : res;
	}
	weft_future *r = take(&s->rwait);
	weft__spin_unlock(&s->lock);
	if (b)
		weft__io_pool_put(io, bid);
	wake(r, 0);
	pump(s);
	stream_unref(s); /* the operation's */
}

static void recv_done(struct weft__io_op *op, int res, unsigned flags)
{
	weft_stream *s = weft__container_of(op, weft_stream, recv_op);
	if (s->recv_pool) { /* set by pump, on this worker, before the submit */
		recv_pool_done(s, res, flags);
		return;
	}
	weft__spin_lock(&s->lock);
	s->recv_on = false;
	if (res > 0) {
		s->grow = (size_t)res == s->rcap - s->rhead - s->rlen;
		/* (past 2 x limit only for a reader that needs more) */
		s->rlen += (size_t)res;
		if (s->rlen >= 2 * s->limit)
			s->paused = true;
	} else if (res == 0) {
		s->eof = true;
	} else if (res != -ECANCELED || !s->closing) {
		s->rerr = res == -ECANCELED ? -ECONNABORTED : res;
	}
	weft_future *r = take(&s->rwait);
	weft__spin_unlock(&s->lock);
	wake(r, 0);
	pump(s);
	stream_unref(s); /* the operation's */
}

static void send_done(struct weft__io_op *op, int res, unsigned flags)
{
	weft_stream *s = weft__container_of(op, weft_stream, send_op);
	weft__spin_lock(&s->lock);
	s->send_on = false;
	if (res > 0 && !s->aborting) {
		s->wsent += (size_t)res;
		if (s->wsent == s->wlen)
			s->wsent = s->wlen = 0;
	} else if (res < 0 && !s->aborting) {
		s->werr = res;
		s->wlen = s->wsent = s->wmlen = 0;
	}
	weft_future *d = NULL;
	if (s->wpaused && (pending_out(s) <= LOW_WATER || s->werr)) {
		s->wpaused = false;
		d = take(&s->dwait);
	}
	weft__spin_unlock(&s->lock);
	wake(d, 0);
	pump(s);
	stream_unref(s);
}

static void kick_run(struct weft__worker *w, struct weft__job *j)
{
	weft_stream *s = weft__container_of(j, weft_stream, kick);
	weft__spin_lock(&s->lock);
	s->kick_posted = false;
	weft__spin_unlock(&s->lock);
	pump(s);
	stream_unref(s);
}

/* Makes pump run on the owner: now if this is the owner, else soon. */
static void kick(weft_stream *s)
{
	if (weft__worker_current() == s->owner) {
		pump(s);
		return;
	}
	weft__spin_lock(&s->lock);
	bool post = !s->kick_posted;
	s->kick_posted = true;
	if (post)
		atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
	weft__spin_unlock(&s->lock);
	if (post)
		weft__worker_post(s->owner, &s->kick);
}

/* ---- making one ---- */

weft_stream *weft__stream_new(int fd, size_t limit)
{
	return weft__stream_new_kind(fd, limit, WEFT__STREAM_SOCKET);
}

weft_stream *weft__stream_new_kind(int fd, size_t limit, enum weft__stream_kind kind)
{
	struct weft__worker *w = weft__worker_current();
	if (!w)
		return NULL;
	weft_stream *s = calloc(1, sizeof(*s));
	weft_future *closed = weft__future_waiter();
	if (!s || !closed) {
		free(s);
		weft_future_unref(closed);
		return NULL;
	}
	atomic_init(&s->lock.held, false);
	atomic_init(&s->refs, 1);
	s->fd = fd;
	s->kind = (unsigned char)kind;
	s->owner = w;
	s->limit = limit ? limit : WEFT_STREAM_LIMIT;
	s->recv_op.complete = recv_done;
	s->send_op.complete = send_done;
	/* only pump, on the owner, submits them and closes s->fd */
	s->recv_op.keep = s->send_op.keep = true;
	s->kick.fn = kick_run;
	s->closed_fut = closed;
	s->pooled = weft__io_pool_enable(&w->io) == 0;
	kick(s); /* start receiving */
	return s;
}

void weft__stream_on_closed(weft_stream *s, void (*fn)(void *arg), void *arg)
{
	s->on_closed = fn;
	s->on_closed_arg = arg;
}

static int in_task(void)
{
	return weft__task_current() ? 0 : weft__misuse(-EPERM, "called outside a task");
}

static int adopt(int fd, size_t limit, weft_stream **out)
{
	if (fd < 0)
		return fd;
	weft_stream *s = weft__stream_new(fd, limit);
	if (!s) {
		close(fd);
		return -ENOMEM;
	}
	*out = s;
	return 0;
}

WEFT_API int weft_open_connection(const char *host, uint16_t port, size_t limit, weft_stream **out)
{
	if (!out)
		return weft__misuse(-EINVAL, "NULL out");
	*out = NULL;
	int rc = in_task();
	return rc ? rc : adopt(weft_tcp_connect(host, port), limit, out);
}

WEFT_API int weft_open_unix_connection(const char *path, size_t limit, weft_stream **out)
{
	if (!out)
		return weft__misuse(-EINVAL, "NULL out");
	*out = NULL;
	int rc = in_task();
	return rc ? rc : adopt(weft_unix_connect(path), limit, out);
}

WEFT_API int weft_stream_from_fd(int fd, size_t limit, weft_stream **out)
{
	if (!out || fd < 0)
		return weft__misuse(-EINVAL, "NULL out or a negative descriptor");
	*out = NULL;
	int rc = in_task();
	if (rc)
		return rc;
	weft_stream *s = weft__stream_new(fd, limit);
	if (!s)
		return -ENOMEM;
	*out = s;
	return 0;
}

/* ---- reading ---- */

/* Caller holds the lock: n bytes of the buffer consumed; returns whether
 * receiving should resume (kick after unlocking). */
static bool consume(weft_stream *s, size_t n)
{
	s->rhead += n;
	s->rlen -= n;
	/* a plain receive in flight writes at rhead + rlen: that sum stays
	 * put; a pool receive writes elsewhere, so an emptied buffer goes
	 * (an idle stream holds none) */
	if (!s->rlen && s->pooled && !(s->recv_on && !s->recv_pool)) {
		free(s->rbuf);
		s->rbuf = NULL;
		s->rcap = s->rhead = 0;
	} else if (!s->rlen && !s->recv_on) {
		s->rhead = 0;
	}
	if (s->paused && s->rlen <= s->limit) {
		s->paused = false;
		return true;
	}
	return false;
}

/* Releases the lock, then restarts receiving if consume() said so. */
static void unlock_resume(weft_stream *s, bool resume)
{
	weft__spin_unlock(&s->lock);
	if (resume)
		kick(s);
}

/* Is there anything a reader waits for beyond `have` bytes? */
static bool readable(const weft_stream *s, size_t have)
{
	return s->rlen > have || s->eof || s->rerr || s->closed || s->closing;
}

/*
 * Waits until more than `have` bytes are buffered, or EOF, an error or
 * closing. Receiving resumes while a reader waits (even above 2 x limit:
 * a readexactly or readuntil may need more). 0, -ECANCELED, -EPERM.
 */
static int wait_data(weft_stream *s, size_t have)
{
	if (s->kind == WEFT__STREAM_PIPE_WRITE)
		return weft__misuse(-EBADF, "the write end of a pipe cannot be read");
	weft__spin_lock(&s->lock);
	if (readable(s, have)) {
		weft__spin_unlock(&s->lock);
		return 0;
	}
	if (s->rwait) {
		weft__spin_unlock(&s->lock);
		return weft__misuse(-EPERM, "another task is already waiting to read this stream");
	}
	weft__spin_unlock(&s->lock);
	weft_future *f = weft__future_waiter();
	if (!f)
		return -ENOMEM;
	weft__spin_lock(&s->lock);
	if (readable(s, have) || s->rwait) {
		int rc = s->rwait && !readable(s, have) ? -EPERM : 0;
		weft__spin_unlock(&s->lock);
		weft_future_unref(f);
		return rc;
	}
	s->rwait = weft_future_ref(f);
	bool resume = s->paused || !s->recv_on;
	s->paused = false;
	unlock_resume(s, resume);
	int rc = weft_await(f, NULL);
	weft__spin_lock(&s->lock);
	weft_future *mine = s->rwait == f ? take(&s->rwait) : NULL;
	weft__spin_unlock(&s->lock);
	weft_future_unref(mine); /* the stream's, when nobody completed it */
	weft_future_unref(f);
	return rc;
}

/* After an empty buffer: what a read returns (0 at EOF, or the error). */
static ssize_t end_of_data(const weft_stream *s)
{
	return s->rerr ? s->rerr : 0;
}

WEFT_API ssize_t weft_stream_read(weft_stream *s, void *buf, size_t n)
{
	if (!s || (!buf && n))
		return weft__misuse(-EINVAL, "NULL stream or buffer");
	int rc = in_task();
	if (rc)
		return rc;
	if (!n)
		return 0;
	for (;;) {
		weft__spin_lock(&s->lock);
		if (s->rlen) {
			size_t k = s->rlen < n ? s->rlen : n;
			memcpy(buf, s->rbuf + s->rhead, k);
			bool resume = consume(s, k);
			unlock_resume(s, resume);
			return (ssize_t)k;
		}
		if (s->eof || s->rerr || s->closing) {
			ssize_t r = end_of_data(s);
			weft__spin_unlock(&s->lock);
			return r;
		}
		weft__spin_unlock(&s->lock);
		if ((rc = wait_data(s, 0)))
			return rc;
	}
}

WEFT_API int weft_stream_read_to_eof(weft_stream *s, void *buf, size_t cap, size_t *got)
{
	if (!s || !got || (!buf && cap))
		return weft__misuse(-EINVAL, "NULL argument");
	*got = 0;
	int rc = in_task();
	if (rc)
		return rc;
	for (;;) {
		weft__spin_lock(&s->lock);
		size_t have = s->rlen;
		if (have > cap) {
			weft__spin_unlock(&s->lock);
			return -EOVERFLOW;
		}
		if (s->eof || s->rerr || s->closing) {
			if (have)
				memcpy(buf, s->rbuf + s->rhead, have);
			consume(s, have);
			rc = s->rerr;
			weft__spin_unlock(&s->lock);
			*got = have;
			return rc;
		}
		weft__spin_unlock(&s->lock);
		if ((rc = wait_data(s, have)))
			return rc;
	}
}

WEFT_API int weft_stream_readexactly(weft_stream *s, void *buf, size_t n, size_t *got)
{
	if (!s || (!buf && n))
		return weft__misuse(-EINVAL, "NULL stream or buffer");
	if (got)
		*got = 0;
	int rc = in_task();
	if (rc)
		return rc;
	for (;;) {
		weft__spin_lock(&s->lock);
		size_t have = s->rlen;
		if (have >= n || s->eof || s->rerr || s->closing) {
			size_t k = have < n ? have : n;
			if (k)
				memcpy(buf, s->rbuf + s->rhead, k);
			bool resume = consume(s, k);
			rc = k == n ? 0 : s->rerr ? s->rerr : -EPIPE;
			unlock_resume(s, resume);
			if (got)
				*got = k;
			return rc;
		}
		weft__spin_unlock(&s->lock);
		if ((rc = wait_data(s, have)))
			return rc;
	}
}

/* The earliest-ending match of any separator in the buffer, searching from
 * `from`; its end (one past), or 0 when none; *start gets where it starts. */
static size_t find_sep(const weft_stream *s, const char *const *seps, const size_t *lens,
		       size_t nseps, size_t from, size_t *start)
{
	if (!s->rlen)
		return 0;
	const char *data = s->rbuf + s->rhead;
	size_t best = 0;
	for (size_t i = 0; i < nseps; i++) {
		if (from >= s->rlen)
			break;
		const char *p = memmem(data + from, s->rlen - from, seps[i], lens[i]);
		if (!p)
			continue;
		size_t end = (size_t)(p - data) + lens[i];
		if (!best || end < best) {
			best = end;
			*start = (size_t)(p - data);
		}
	}
	return best;
}

WEFT_API int weft_stream_readuntil(weft_stream *s, const char *const *seps, size_t nseps, void *buf,
				   size_t cap, size_t *got)
{
	enum { MAX_SEPS = 16 };
	if (!s || !seps || !nseps || nseps > MAX_SEPS || !got || (!buf && cap))
		return weft__misuse(-EINVAL, "bad arguments");
	size_t lens[MAX_SEPS], maxlen = 0;
	for (size_t i = 0; i < nseps; i++) {
		if (!seps[i] || !(lens[i] = strlen(seps[i])))
			return weft__misuse(-EINVAL, "an empty separator");
		if (lens[i] > maxlen)
			maxlen = lens[i];
	}
	*got = 0;
	int rc = in_task();
	if (rc)
		return rc;
	size_t from = 0;
	for (;;) {
		weft__spin_lock(&s->lock);
		size_t start = 0, end = find_sep(s, seps, lens, nseps, from, &start);
		if (end) {
			if (start > s->limit) {
				rc = -EOVERFLOW; /* found, but the chunk is longer than limit */
				*got = start;
			} else if (end > cap) {
				rc = -ENOSPC;
				*got = end;
			} else {
				memcpy(buf, s->rbuf + s->rhead, end);
				bool resume = consume(s, end);
				unlock_resume(s, resume);
				*got = end;
				return 0;
			}
			weft__spin_unlock(&s->lock);
			return rc;
		}
		size_t have = s->rlen;
		/* where the next search starts: a separator may straddle */
		size_t offset = have + 1 > maxlen ? have + 1 - maxlen : 0;
		if (offset > s->limit) {
			weft__spin_unlock(&s->lock);
			*got = offset; /* not found, and the chunk exceeds limit */
			return -EOVERFLOW;
		}
		if (s->eof || s->rerr || s->closing) {
			size_t k = have < cap ? have : cap;
			if (k)
				memcpy(buf, s->rbuf + s->rhead, k);
			rc = s->rerr ? s->rerr : -EPIPE;
			consume(s, have); /* IncompleteReadError: the buffer is cleared */
			weft__spin_unlock(&s->lock);
			*got = k;
			return rc;
		}
		from = offset;
		weft__spin_unlock(&s->lock);
		if ((rc = wait_data(s, have)))
			return rc;
	}
}

WEFT_API int weft_stream_readline(weft_stream *s, void *buf, size_t cap, size_t *got)
{
	static const char *const nl[] = {"\n"};
	int rc = weft_stream_readuntil(s, nl, 1, buf, cap, got);
	if (rc == -EPIPE)
		return 0; /* at EOF: the partial line (maybe empty) */
	if (rc == -EOVERFLOW) {
		/* asyncio's readline: discard through the newline if one is
		 * buffered, else everything */
		weft__spin_lock(&s->lock);
		const char *p = s->rlen ? memchr(s->rbuf + s->rhead, '\n', s->rlen) : NULL;
		bool resume = consume(s, p ? (size_t)(p - (s->rbuf + s->rhead)) + 1 : s->rlen);
		unlock_resume(s, resume);
	}
	return rc;
}

WEFT_API bool weft_stream_at_eof(weft_stream *s)
{
	if (!s)
		return false;
	weft__spin_lock(&s->lock);
	bool at = s->eof && !s->rlen;
	weft__spin_unlock(&s->lock);
	return at;
}

/* ---- writing ---- */

/* Appends len bytes to *buf (capacity *cap, length *n). 0 or -ENOMEM. */
static int append(char **buf, size_t *cap, size_t *n, const void *data, size_t len)
{
	if (*cap - *n < len) {
		size_t want = *cap ? *cap : 4096;
		while (want - *n < len)
			want *= 2;
		char *b = realloc(*buf, want);
		if (!b)
			return -ENOMEM;
		*buf = b;
		*cap = want;
	}
	memcpy(*buf + *n, data, len);
	*n += len;
	return 0;
}

WEFT_API int weft_stream_write(weft_stream *s, const void *buf, size_t len)
{
	if (!s || (!buf && len))
		return weft__misuse(-EINVAL, "NULL stream or buffer");
	if (!len)
		return 0;
	if (s->kind == WEFT__STREAM_PIPE_READ)
		return weft__misuse(-EBADF, "the read end of a pipe cannot be written");
	weft__spin_lock(&s->lock);
	int rc = s->werr;
	if (!rc && (s->closing || s->eof_wanted))
		rc = -EPIPE;
	/* A send in flight reads wbuf[wsent, its end): bytes may still go
	 * after it in place, but wbuf may not move; what does not fit goes
	 * to wmore until the send completes. */
	if (!rc && (!s->send_on || (!s->wmlen && s->wcap - s->wlen >= len)))
		rc = append(&s->wbuf, &s->wcap, &s->wlen, buf, len);
	else if (!rc)
		rc = append(&s->wmore, &s->wmcap, &s->wmlen, buf, len);
	bool start = !rc && !s->send_on;
	if (!rc && pending_out(s) > HIGH_WATER)
		s->wpaused = true;
	weft__spin_unlock(&s->lock);
	if (start)
		kick(s);
	return rc;
}

WEFT_API int weft_stream_drain(weft_stream *s)
{
	if (!s)
		return weft__misuse(-EINVAL, "NULL stream");
	int rc = in_task();
	if (rc)
		return rc;
	weft__spin_lock(&s->lock);
	if (s->werr || !s->wpaused || s->closed) {
		rc = s->werr;
		weft__spin_unlock(&s->lock);
		return rc;
	}
	weft_future *f = s->dwait ? weft_future_ref(s->dwait) : NULL;
	weft__spin_unlock(&s->lock);
	if (!f) {
		weft_future *mine = weft__future_waiter();
		if (!mine)
			return -ENOMEM;
		weft__spin_lock(&s->lock);
		if (!s->wpaused || s->werr || s->closed) {
			rc = s->werr;
			weft__spin_unlock(&s->lock);
			weft_future_unref(mine);
			return rc;
		}
		if (s->dwait) {
			f = weft_future_ref(s->dwait);
			weft_future_unref(mine);
		} else {
			s->dwait = weft_future_ref(mine);
			f = mine;
		}
		weft__spin_unlock(&s->lock);
	}
	/* several drainers share one future: a cancelled one must not end
	 * the others' wait */
	rc = weft__await_shielded(f, WEFT_FOREVER, NULL);
	weft_future_unref(f);
	if (rc)
		return rc;
	weft__spin_lock(&s->lock);
	rc = s->werr;
	weft__spin_unlock(&s->lock);
	return rc;
}

WEFT_API int weft_stream_write_eof(weft_stream *s)
{
	if (!s)
		return weft__misuse(-EINVAL, "NULL stream");
	weft__spin_lock(&s->lock);
	int rc = s->closing ? -EPIPE : 0;
	if (!rc)
		s->eof_wanted = true;
	weft__spin_unlock(&s->lock);
	if (!rc)
		kick(s);
	return rc;
}

/* ---- closing ---- */

static void begin_close(weft_stream *s, bool abort)
{
	weft__spin_lock(&s->lock);
	bool first = !s->closing;
	s->closing = true;
	if (abort)
		s->aborting = true;
	bool done = s->closed;
	weft__spin_unlock(&s->lock);
	if (first) {
		/* live work until the socket is closed: shutdown waits for the
		 * flush (pump counts it out on the owner) */
		struct weft__worker *w = weft__worker_current();
		weft__sched_count_new(s->owner->sched, w && w->sched == s->owner->sched ? w : NULL);
	}
	if (!done)
		kick(s);
}

WEFT_API void weft_stream_close(weft_stream *s)
{
	if (s)
		begin_close(s, false);
}

WEFT_API void weft_stream_abort(weft_stream *s)
{
	if (s)
		begin_close(s, true);
}

WEFT_API bool weft_stream_is_closing(weft_stream *s)
{
	if (!s)
		return false;
	weft__spin_lock(&s->lock);
	bool c = s->closing;
	weft__spin_unlock(&s->lock);
	return c;
}

WEFT_API int weft_stream_wait_closed(weft_stream *s)
{
	if (!s)
		return weft__misuse(-EINVAL, "NULL stream");
	int rc = in_task();
	if (rc)
		return rc;
	/* shared by every waiter: a cancelled one must not end the others' */
	return weft__await_shielded(s->closed_fut, WEFT_FOREVER, NULL);
}

WEFT_API void weft_stream_free(weft_stream *s)
{
	if (!s)
		return;
	weft_stream_close(s);
	stream_unref(s);
}

WEFT_API int weft_stream_fd(weft_stream *s)
{
	return s ? s->fd : -EINVAL;
}

WEFT_API int weft_stream_peername(weft_stream *s, char *host, size_t hostlen, uint16_t *port)
{
	return s ? weft_peername(s->fd, host, hostlen, port) : -EINVAL;
}

WEFT_API int weft_stream_sockname(weft_stream *s, char *host, size_t hostlen, uint16_t *port)
{
	return s ? weft_sockname(s->fd, host, hostlen, port) : -EINVAL;
}
