/* SPDX-License-Identifier: MIT */
/*
 * The readiness backend (io/backend.h) for where io_uring is refused: one
 * epoll set and one eventfd per worker.
 *
 * An operation is tried at once without blocking (MSG_DONTWAIT,
 * RWF_NOWAIT, never O_NONBLOCK on a descriptor weft was given); when the
 * descriptor is not ready it waits in its descriptor's FIFO of waiters
 * and is tried again when epoll says the descriptor is ready. Its result
 * goes on the done list either way, and complete() runs only when the
 * loop reaps (poll, park), as with io_uring: a complete() may submit
 * again without recursion.
 *
 * Registrations (decisions 51 and 56) are of two kinds. A stream's
 * operations (op->keep: its completion submits again on the same
 * descriptor, on this thread, and only this thread closes it) keep a
 * level-triggered registration across their completions: a receive
 * re-armed from its completion costs no syscall; it is removed on this
 * thread right after a completion that left the descriptor without
 * waiters. A task's raw operation, whose task may close the descriptor
 * from any thread as soon as the result is out, registers it
 * edge-triggered for every readiness (EDGE_EVENTS), once: weft never
 * touches it again after the result is out (the number may be closed,
 * even reused), and the next wait trusts it without a syscall while the
 * number's generation (bumped whenever weft makes or closes a file
 * there) is unchanged; events that come while nobody waits are
 * remembered (`drained` cleared), so no edge is lost. A file put under
 * the number behind weft's back (close(), then socket() or dup2) is
 * caught by a check: a wait trusted without a syscall is registered
 * again after TRUST_NS (MOD, ADD when the kernel has none), so it ends
 * at most that late. A stale event only makes the waiters try again.
 *
 * Only the owner touches this state, except the eventfd (wakes) and
 * epoll_ctl(DEL) from weft__ep_forget, which the kernel serialises.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "base/list.h"
#include "io/impl.h"
#include "io/syscall.h"

enum {
	CHUNK = 1024,    /* descriptors per chunk of the table */
	EVENTS = 128,    /* events taken per epoll_wait */
	SPARES = 256,    /* operation records kept for reuse */
	BUSY_EVERY = 61, /* several workers: a busy worker looks at the kernel
	                  * every 61 reaps (tokio's event_interval) */
	GEN_CHUNK = 4096, GEN_CHUNKS = 256, /* descriptor numbers below 2^20 */
};

/* An edge-triggered registration trusted without a syscall is checked
 * (re-registered) once its descriptor has been waited on this long. */
#define TRUST_NS (1000 * 1000)

/* What a raw operation's registration asks for (decision 57): every
 * readiness at once, so one registration serves every kind. */
#define EDGE_EVENTS                                                                      \
	(EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLPRI | EPOLLRDNORM | EPOLLRDBAND | EPOLLWRNORM |   \
	 EPOLLWRBAND | EPOLLET)

/* Not an errno: the operation cannot be done without blocking. */
#define NEEDS_THREAD (-100000)

/* One operation this backend holds, from submit to its complete(). */
struct ep_rec {
	struct weft__list link;  /* its descriptor's waiters, the done list,
	                          * or the spares */
	struct weft__io_op *op;  /* NULL once complete() was called */
	uint32_t gen;
	uint32_t events;         /* EPOLLIN or EPOLLOUT (poll: its mask) */
	int64_t res;             /* valid on the done list */
	bool waiting;            /* in its descriptor's waiters */
	bool started;            /* connect: issued, waiting for its end */
	bool after_ready;        /* accept on a blocking listener: only
	                          * after readiness */
	bool edge_ok;            /* waits for a change after a syscall found
	                          * it not ready (or the readiness the table
	                          * tracks said so): an edge will come */
	struct weft__io_req req;
};

/* What this worker knows of one descriptor. */
struct ep_fd {
	struct weft__list waiters; /* struct ep_rec, FIFO */
	uint32_t interest;         /* events armed (0: none or unknown), as far
	                            * as we know (see the top of the file) */
	bool added;                /* the kernel has a registration (maybe
	                            * disarmed), as far as we know */
	bool level;                /* armed level-triggered (keep waiters
	                            * only) */
	bool dirty;                /* in ep->dirty: waiters left since tidy */
	bool drained;              /* the last read-side attempt found less
	                            * than it asked for: wait before trying */
	bool edge;                 /* armed EDGE_EVENTS (raw operations), kept
	                            * while the number's generation is `gen` */
	bool sure;                 /* the edge registration was made or checked
	                            * since the descriptor last had no waiter */
	uint32_t gen;              /* fd_gen() when the edge one was made */
	uint64_t since;            /* in ep->unsure since then */
	int fd;                    /* its number */
	struct weft__list unsure;  /* in ep->unsure: trusted, not yet checked */
};

struct weft__io_ep {
	int epfd, efd;
	struct ep_fd **chunks;     /* by fd / CHUNK, made on first use */
	unsigned nchunks;
	struct weft__list done;    /* results whose complete() is due */
	struct weft__list spares;
	unsigned nspares;
	unsigned nwait;            /* operations waiting for readiness */
	int *dirty;                /* descriptors to tidy before waiting */
	unsigned ndirty, dirty_cap;
	pthread_t owner;           /* the worker thread */
	unsigned skipped, interval;
	bool no_pwait2;            /* epoll_pwait2 is missing or refused */
	struct weft__list unsure;  /* struct ep_fd.unsure, oldest first */
	uint64_t now;              /* the clock at the last look (mono_ns):
	                            * an entry's `since`, early at worst */
};

/*
 * Each descriptor number's generation, process-wide: bumped whenever weft
 * makes a file under the number (weft__ep_fd_new) or forgets it before
 * closing it. An edge registration is trusted only while the number's
 * generation is the one it was made under. Relaxed: the number reaches
 * another thread only through the kernel's descriptor table or weft's own
 * hand-offs, both ordered.
 */
static _Atomic(_Atomic uint32_t *) gens[GEN_CHUNKS];
static atomic_bool gens_failed; /* a chunk could not be made: trust nothing */

static _Atomic uint32_t *gen_word(int fd, bool make)
{
	if (fd < 0 || fd >= GEN_CHUNK * GEN_CHUNKS)
		return NULL;
	_Atomic(_Atomic uint32_t *) *c = &gens[fd / GEN_CHUNK];
	/* acquire: pairs with the release CAS that published the chunk */
	_Atomic uint32_t *v = atomic_load_explicit(c, memory_order_acquire);
	if (!v && make) {
		_Atomic uint32_t *fresh = calloc(GEN_CHUNK, sizeof(*fresh));
		if (!fresh) {
			atomic_store_explicit(&gens_failed, true, memory_order_relaxed);
			return NULL;
		}
		if (atomic_compare_exchange_strong_explicit(c, &v, fresh, memory_order_acq_rel,
							    memory_order_acquire))
			v = fresh;
		else
			free(fresh); /* another thread made it first */
	}
	return v ? &v[fd % GEN_CHUNK] : NULL;
}

static void gen_bump(int fd)
{
	_Atomic uint32_t *g = gen_word(fd, true);
	if (g)
		atomic_fetch_add_explicit(g, 1, memory_order_relaxed);
}

/* fd's generation; false when it cannot be trusted at all. */
static bool fd_gen(int fd, uint32_t *gen)
{
	if (atomic_load_explicit(&gens_failed, memory_order_relaxed) || fd >= GEN_CHUNK * GEN_CHUNKS)
		return false;
	_Atomic uint32_t *g = gen_word(fd, false);
	*gen = g ? atomic_load_explicit(g, memory_order_relaxed) : 0;
	return true;
}

void weft__ep_fd_new(int fd)
{
	gen_bump(fd);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static struct weft__io_ep *ep_of(const struct weft__io *io)
{
	return io->ep;
}

/* The entry of fd, made on first use when `make`; NULL when out of
 * memory (or not made). */
static struct ep_fd *fd_ent(struct weft__io_ep *ep, int fd, bool make)
{
	unsigned c = (unsigned)fd / CHUNK;
	if (c >= ep->nchunks) {
		if (!make)
			return NULL;
		unsigned n = ep->nchunks ? ep->nchunks : 4;
		while (n <= c)
			n *= 2;
		struct ep_fd **v = realloc(ep->chunks, n * sizeof(*v));
		if (!v)
			return NULL;
		memset(v + ep->nchunks, 0, (n - ep->nchunks) * sizeof(*v));
		ep->chunks = v;
		ep->nchunks = n;
	}
	if (!ep->chunks[c]) {
		if (!make)
			return NULL;
		struct ep_fd *ch = calloc(CHUNK, sizeof(*ch));
		if (!ch)
			return NULL;
		for (unsigned i = 0; i < CHUNK; i++) {
			weft__list_init(&ch[i].waiters);
			weft__list_init(&ch[i].unsure);
			ch[i].fd = (int)(c * CHUNK + i);
		}
		ep->chunks[c] = ch;
	}
	return &ep->chunks[c][(unsigned)fd % CHUNK];
}

static struct ep_rec *rec_get(struct weft__io_ep *ep)
{
	struct weft__list *l = weft__list_pop_front(&ep->spares);
	if (l) {
		ep->nspares--;
		return weft__container_of(l, struct ep_rec, link);
	}
	struct ep_rec *r = malloc(sizeof(*r));
	if (r)
		weft__list_init(&r->link);
	return r;
}

static void rec_put(struct weft__io_ep *ep, struct ep_rec *r)
{
	r->op = NULL;
	if (ep->nspares >= SPARES) {
		free(r);
		return;
	}
	weft__list_push_front(&ep->spares, &r->link);
	ep->nspares++;
}

static bool nonblocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	return fl >= 0 && (fl & O_NONBLOCK);
}

/* Which readiness an operation waits for. */
static uint32_t events_of(const struct weft__io_req *q)
{
	switch ((enum weft__io_kind)q->kind) {
	case WEFT__IO_WRITE:
	case WEFT__IO_WRITEV:
	case WEFT__IO_SEND:
	case WEFT__IO_SENDMSG:
	case WEFT__IO_CONNECT:
		return EPOLLOUT;
	case WEFT__IO_POLL: {
		/* poll(2)'s bits are epoll's for these; a wait for errors or
		 * hang-up only still needs a registration (epoll reports both
		 * whatever it was asked) */
		uint32_t m = q->len & (EPOLLIN | EPOLLPRI | EPOLLOUT | EPOLLRDHUP | EPOLLRDNORM |
				       EPOLLRDBAND | EPOLLWRNORM | EPOLLWRBAND);
		return m ? m : EPOLLERR | EPOLLHUP;
	}
	default:
		return EPOLLIN;
	}
}

/*
 * Tries r's operation without blocking: its result, -EAGAIN to wait for
 * readiness, or NEEDS_THREAD. `ready` is the readiness epoll reported
 * (0 at submit).
 */
static int64_t attempt(struct ep_rec *r, uint32_t ready)
{
	const struct weft__io_req *q = &r->req;
	switch ((enum weft__io_kind)q->kind) {
	case WEFT__IO_POLL: {
		uint32_t got = ready & (r->events | EPOLLERR | EPOLLHUP);
		return got ? (int64_t)got : -EAGAIN;
	}
	case WEFT__IO_ACCEPT:
		/* accept4 has no per-call MSG_DONTWAIT: on a listener the user
		 * left blocking it runs only once epoll says a connection is
		 * there (another thread accepting the same listener at once
		 * can still make it block: weft/io.h says so) */
		if (!ready && !r->after_ready && !nonblocking(q->fd)) {
			r->after_ready = true;
			return -EAGAIN;
		}
		if (r->after_ready && !ready)
			return -EAGAIN;
		int64_t fd = weft__io_syscall(q, true);
		if (fd >= 0)
			gen_bump((int)fd); /* a new file under that number */
		return fd;
	case WEFT__IO_CONNECT: {
		if (!r->started) {
			/* a blocking connect cannot be made non-blocking per
			 * call: a thread of the pool does it */
			if (!nonblocking(q->fd))
				return NEEDS_THREAD;
			int64_t rc = weft__io_syscall(q, true);
			if (rc != -EINPROGRESS)
				return rc; /* done, failed, or -EAGAIN (a full unix
				            * backlog: tried again when writable) */
			r->started = true;
			return -EAGAIN;
		}
		/* a stale event must not pass for the end of the connect */
		struct pollfd p = {.fd = q->fd, .events = POLLOUT};
		if (poll(&p, 1, 0) <= 0)
			return -EAGAIN;
		int err = 0;
		socklen_t len = sizeof(err);
		if (getsockopt(q->fd, SOL_SOCKET, SO_ERROR, &err, &len))
			return -errno;
		return -err;
	}
	case WEFT__IO_READ:
	case WEFT__IO_READV:
	case WEFT__IO_WRITE:
	case WEFT__IO_WRITEV: {
		int64_t rc = weft__io_syscall(q, true);
		/* RWF_NOWAIT refused (a terminal, some file systems): only a
		 * thread that may block can do it */
		return rc == -EOPNOTSUPP ? NEEDS_THREAD : rc;
	}
	default:
		return weft__io_syscall(q, true);
	}
}

/* The events e's waiters want; *level: all of them keep it. */
static uint32_t wanted(const struct ep_fd *e, bool *level)
{
	uint32_t want = 0;
	bool lv = true;
	const struct weft__list *l;
	weft__list_each(l, &e->waiters) {
		const struct ep_rec *r = weft__container_of(l, const struct ep_rec, link);
		want |= r->events;
		lv = lv && r->op->keep;
	}
	*level = lv;
	return want;
}

/* Sets fd's registration to `events` (MOD, ADD when the kernel has none,
 * MOD when an ADD finds one); no longer waiting to be checked. 0 or
 * -errno. */
static int ctl_set(struct weft__io_ep *ep, struct ep_fd *e, int fd, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.u64 = (uint64_t)fd};
	int op = e->added ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	int rc = epoll_ctl(ep->epfd, op, fd, &ev);
	if (rc && errno == ENOENT && op == EPOLL_CTL_MOD)
		rc = epoll_ctl(ep->epfd, EPOLL_CTL_ADD, fd, &ev);
	else if (rc && errno == EEXIST && op == EPOLL_CTL_ADD)
		rc = epoll_ctl(ep->epfd, EPOLL_CTL_MOD, fd, &ev);
	if (rc)
		rc = -errno;
	if (weft__list_linked(&e->unsure))
		weft__list_remove(&e->unsure);
	return rc;
}

/* Registers fd for EDGE_EVENTS: the kernel reports what is ready
 * already, so no edge is missed. 0 or -errno. */
static int edge_register(struct weft__io_ep *ep, struct ep_fd *e, int fd)
{
	uint32_t gen = 0;
	bool known = fd_gen(fd, &gen);
	int rc = ctl_set(ep, e, fd, EDGE_EVENTS);
	if (rc) {
		e->interest = 0;
		e->added = e->edge = e->sure = false;
		return rc;
	}
	e->added = true;
	e->interest = EDGE_EVENTS;
	e->level = false;
	/* never trusted again when the number's generation is unknown */
	e->edge = known;
	e->gen = gen;
	e->sure = true;
	return 0;
}

/* Arms e (fd) for what its waiters want (owner, waiters present: by the
 * close rule the descriptor is open); `fresh`: the waiter just added, if
 * any. 0 or -errno (-EPERM: epoll cannot wait on this descriptor, such as
 * a regular file). */
static int arm(struct weft__io_ep *ep, struct ep_fd *e, int fd, const struct ep_rec *fresh)
{
	bool level;
	uint32_t want = wanted(e, &level);
	if (!want)
		return 0;
	if (!level) {
		/* A raw operation: the edge registration made for an earlier
		 * wait is kept (decision 57) while the number's generation is
		 * unchanged, and trusted for a waiter that tried (an edge will
		 * come); checked by a syscall once it has waited TRUST_NS
		 * without one, in case the file was closed with close() and
		 * the number reused behind weft's back. */
		uint32_t gen;
		if (e->edge && (!fresh || fresh->edge_ok) && fd_gen(fd, &gen) && gen == e->gen) {
			if (!e->sure && !weft__list_linked(&e->unsure)) {
				e->since = ep->now;
				weft__list_push_back(&ep->unsure, &e->unsure);
			}
			return 0;
		}
		return edge_register(ep, e, fd);
	}
	if (want == e->interest && level == e->level)
		return 0;
	int rc = ctl_set(ep, e, fd, want);
	e->edge = e->sure = false;
	if (rc) {
		e->interest = 0;
		e->added = false;
		return rc;
	}
	e->added = true;
	e->interest = want;
	e->level = true;
	return 0;
}

/* A waiter left e (fd): tidy narrows or removes its registration before
 * the next epoll_wait. */
static void left(struct weft__io_ep *ep, struct ep_fd *e, int fd)
{
	if (e->edge) {
		/* nothing to narrow; once nobody waits, the next waiter's
		 * file may be another one (close() by the user) */
		if (weft__list_empty(&e->waiters)) {
			e->sure = false;
			if (weft__list_linked(&e->unsure))
				weft__list_remove(&e->unsure);
		}
		return;
	}
	if (weft__list_empty(&e->waiters) && !e->level)
		e->interest = 0; /* armed or not: unknown once nobody waits */
	if (e->dirty)
		return;
	if (ep->ndirty == ep->dirty_cap) {
		unsigned cap = ep->dirty_cap ? ep->dirty_cap * 2 : 64;
		int *v = realloc(ep->dirty, cap * sizeof(*v));
		if (!v) /* no room to remember it: it stays as wide as it is */
			return;
		ep->dirty = v;
		ep->dirty_cap = cap;
	}
	ep->dirty[ep->ndirty++] = fd;
	e->dirty = true;
}

static void finish(struct weft__io *io, struct ep_rec *r, int64_t res);

/* Before waiting: no registration of a descriptor still waited on wants
 * more than its waiters do (a level-triggered one would wake at once). */
static void tidy(struct weft__io *io)
{
	struct weft__io_ep *ep = ep_of(io);
	for (unsigned i = 0; i < ep->ndirty; i++) {
		int fd = ep->dirty[i];
		struct ep_fd *e = fd_ent(ep, fd, false);
		e->dirty = false;
		/* an empty one was dealt with at its completion (see run_done) */
		if (weft__list_empty(&e->waiters))
			continue;
		int rc = arm(ep, e, fd, NULL);
		/* cannot wait any more (the descriptor went behind weft's
		 * back): its waiters end with the reason */
		while (rc && !weft__list_empty(&e->waiters))
			finish(io, weft__container_of(e->waiters.next, struct ep_rec, link), rc);
	}
	ep->ndirty = 0;
}

/* Socket calls: on any other file they fail (ENOTSOCK) rather than wait. */
static bool socket_kind(unsigned char kind)
{
	switch ((enum weft__io_kind)kind) {
	case WEFT__IO_RECV:
	case WEFT__IO_SEND:
	case WEFT__IO_RECVMSG:
	case WEFT__IO_SENDMSG:
	case WEFT__IO_ACCEPT:
	case WEFT__IO_CONNECT:
		return true;
	default:
		return false;
	}
}

/* Read-side kinds whose length says whether the descriptor was drained. */
static bool reads_len(unsigned char kind)
{
	return kind == WEFT__IO_READ || kind == WEFT__IO_RECV;
}

/*
 * Should the next read on this descriptor wait for readiness before
 * trying (a read found it empty, or got less than a quarter of what it
 * asked: messages, request and reply, where trying again at once is
 * an EAGAIN syscall per message)? A read that got most of what it asked
 * for is a stream of data: the next one tries at once (waiting first
 * there let data pile up in the kernel and grew the stream buffers of
 * test_stream's stalled peers ~15 %).
 */
static bool drained(int64_t res, uint32_t len)
{
	return res == -EAGAIN || (res >= 0 && (uint64_t)res < len / 4);
}

/* r's result is known: its complete() runs at the next reap. */
static void finish(struct weft__io *io, struct ep_rec *r, int64_t res)
{
	struct weft__io_ep *ep = ep_of(io);
	if (r->waiting) {
		weft__list_remove(&r->link);
		r->waiting = false;
		ep->nwait--;
		left(ep, fd_ent(ep, r->req.fd, false), r->req.fd);
	}
	r->res = res;
	weft__list_push_back(&ep->done, &r->link);
	io->queued++; /* the loop reaps at its next turn */
}

int weft__ep_submit(struct weft__io *io, struct weft__io_op *op, const struct weft__io_req *req)
{
	struct weft__io_ep *ep = ep_of(io);
	if (req->kind > WEFT__IO_KIND_LAST)
		return -EINVAL;
	switch ((enum weft__io_kind)req->kind) {
	case WEFT__IO_RECV_POOL:
	case WEFT__IO_READ_POOL:
		return -EOPNOTSUPP; /* no pool here (weft__io_pool_enable says so) */
	case WEFT__IO_OPENAT:
	case WEFT__IO_STATX:
	case WEFT__IO_FSYNC:
		return -EOPNOTSUPP; /* always blocking syscalls */
	default:
		break;
	}
	struct ep_rec *r = rec_get(ep);
	if (!r)
		return -ENOMEM;
	weft__io_count(&io->submitted, 1);
	r->req = *req;
	r->events = events_of(req);
	r->waiting = r->started = r->after_ready = false;
	struct ep_fd *e = req->fd >= 0 ? fd_ent(ep, req->fd, true) : NULL;
	int64_t res;
	if (e && e->drained && reads_len(req->kind)) {
		res = -EAGAIN; /* the last read found it drained: wait first */
		/* data since then made an event (on_event) */
		r->edge_ok = req->kind == WEFT__IO_RECV;
	} else {
		res = attempt(r, 0);
		if (e && reads_len(req->kind))
			e->drained = drained(res, req->len);
		/* a socket call said "not ready": the change is an edge. A
		 * poll, and an accept left for readiness, asked nothing yet;
		 * reads and writes may meet a file epoll refuses (-EPERM must
		 * come at submit, to send them to the pool). */
		r->edge_ok = socket_kind(req->kind) && !r->after_ready;
	}
	if (res == -EAGAIN) {
		if (!e) {
			res = req->fd < 0 ? -EBADF : -ENOMEM;
		} else {
			r->op = op; /* arm reads op->keep */
			weft__list_push_back(&e->waiters, &r->link);
			r->waiting = true;
			ep->nwait++;
			int rc = arm(ep, e, req->fd, r);
			if (rc) {
				weft__list_remove(&r->link);
				r->waiting = false;
				ep->nwait--;
				if (!weft__list_empty(&e->waiters))
					left(ep, e, req->fd); /* re-armed by tidy */
				if (rc == -EPERM && req->kind == WEFT__IO_POLL)
					/* poll(2) finds a regular file always ready */
					res = r->events & (EPOLLIN | EPOLLOUT | EPOLLRDNORM | EPOLLWRNORM);
				else if (rc == -EPERM)
					res = NEEDS_THREAD; /* a regular file not in the cache */
				else
					res = rc;
			}
		}
	}
	if (res == NEEDS_THREAD) {
		rec_put(ep, r);
		return -EOPNOTSUPP;
	}
	op->gen++;
	op->be = r;
	r->op = op;
	r->gen = op->gen;
	io->inflight++;
	if (!r->waiting)
		finish(io, r, res);
	return 0;
}

void weft__ep_cancel(struct weft__io *io, struct weft__io_op *op, uint32_t gen)
{
	struct ep_rec *r = op->be;
	/* not issued yet: removed, never half done */
	if (r && r->op == op && r->gen == gen && r->waiting)
		finish(io, r, -ECANCELED);
}

/* epoll said fd is ready (ev): its waiters try again, in order. */
static void on_event(struct weft__io *io, int fd, uint32_t ev)
{
	struct weft__io_ep *ep = ep_of(io);
	struct ep_fd *e = fd_ent(ep, fd, false);
	if (!e)
		return;
	if (e->edge) {
		/* kept across waits: what it says is remembered for the next
		 * read, which would otherwise wait for an edge already taken */
		if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLPRI | EPOLLHUP | EPOLLERR))
			e->drained = false;
	} else if (!e->level) {
		e->interest = 0; /* none we know of (a failed registration) */
	}
	if (weft__list_empty(&e->waiters)) {
		/* an edge one stays (it fires only on news). A level-triggered
		 * one (a stream's, closed only on this thread) would keep
		 * waking the worker: removed. */
		if (e->level && e->added) {
			epoll_ctl(ep->epfd, EPOLL_CTL_DEL, fd, NULL);
			e->added = false;
			e->interest = 0;
			e->level = false;
		}
		return;
	}
	/* an error or hang-up is news for every waiter */
	uint32_t all = ev & (EPOLLERR | EPOLLHUP) ? ~0u : ev;
	struct weft__list *l = e->waiters.next;
	while (l != &e->waiters) {
		struct weft__list *next = l->next;
		struct ep_rec *r = weft__container_of(l, struct ep_rec, link);
		if (r->events & all) {
			int64_t res = attempt(r, ev);
			if (reads_len(r->req.kind))
				e->drained = drained(res, r->req.len);
			if (res != -EAGAIN)
				finish(io, r, res == NEEDS_THREAD ? -EOPNOTSUPP : res);
		}
		l = next;
	}
	/* neither edge nor level (a registration that failed): what still
	 * waits is armed again (on this thread, with waiters: the
	 * descriptor is open) */
	if (!e->level && !e->edge && !weft__list_empty(&e->waiters)) {
		int rc = arm(ep, e, fd, NULL);
		while (rc && !weft__list_empty(&e->waiters))
			finish(io, weft__container_of(e->waiters.next, struct ep_rec, link), rc);
	}
}

#if defined(__SANITIZE_THREAD__)
#define WEFT_EP_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WEFT_EP_TSAN 1
#endif
#endif

/* Checks the edge registrations trusted for TRUST_NS without an event
 * (one syscall each, as a fresh registration would cost); returns
 * timeout_ns, shortened to the next one's due time. */
static uint64_t check_unsure(struct weft__io *io, uint64_t timeout_ns)
{
	struct weft__io_ep *ep = ep_of(io);
	if (weft__list_empty(&ep->unsure))
		return timeout_ns;
	uint64_t now = ep->now;
	while (!weft__list_empty(&ep->unsure)) {
		struct ep_fd *e = weft__container_of(weft__list_first(&ep->unsure), struct ep_fd,
						     unsure);
		if (e->since + TRUST_NS > now) {
			uint64_t due = e->since + TRUST_NS - now;
			return due < timeout_ns ? due : timeout_ns;
		}
		int rc = edge_register(ep, e, e->fd); /* unlinks it */
		while (rc && !weft__list_empty(&e->waiters))
			finish(io, weft__container_of(e->waiters.next, struct ep_rec, link), rc);
	}
	return timeout_ns;
}

/* Waits up to timeout_ns (0: a look) and handles what epoll reports. */
static void wait_events(struct weft__io *io, uint64_t timeout_ns)
{
	struct weft__io_ep *ep = ep_of(io);
	struct epoll_event evs[EVENTS];
	int n = -1;
	tidy(io);
	ep->now = mono_ns();
	timeout_ns = check_unsure(io, timeout_ns);
	if (timeout_ns && timeout_ns != UINT64_MAX && !ep->no_pwait2) {
		/* nanoseconds: epoll_wait's milliseconds would make timers
		 * up to 1 ms late */
		struct timespec ts = {.tv_sec = (time_t)(timeout_ns / 1000000000u),
				      .tv_nsec = (long)(timeout_ns % 1000000000u)};
		n = (int)syscall(SYS_epoll_pwait2, ep->epfd, evs, EVENTS, &ts, NULL, 0);
		if (n < 0 && (errno == ENOSYS || errno == EPERM)) {
			ep->no_pwait2 = true; /* an older kernel, or a filter */
			n = -2;
		}
	} else {
		n = -2;
	}
	if (n == -2) {
		int ms = timeout_ns == UINT64_MAX ? -1
			 : timeout_ns > (uint64_t)2000000000 * 1000000 ? 2000000000
								 : (int)((timeout_ns + 999999) / 1000000);
		n = epoll_wait(ep->epfd, evs, EVENTS, ms);
	}
	if (timeout_ns)
		ep->now = mono_ns(); /* it slept */
	for (int i = 0; i < n; i++) {
		int fd = (int)evs[i].data.u64;
		if (fd == ep->efd) {
			uint64_t v;
			ssize_t k = read(ep->efd, &v, sizeof(v)); /* drain; a wake is a hint */
			(void)k;
			continue;
		}
		on_event(io, fd, evs[i].events);
	}
}

/* Runs complete() for what was done when it began (what those submit
 * waits for the next reap, as with io_uring's completion queue). */
static void run_done(struct weft__io *io)
{
	struct weft__io_ep *ep = ep_of(io);
	struct weft__list batch;
	weft__list_init(&batch);
	if (weft__list_empty(&ep->done))
		return;
	/* move the whole list to `batch` */
	batch.next = ep->done.next;
	batch.prev = ep->done.prev;
	batch.next->prev = &batch;
	batch.prev->next = &batch;
	weft__list_init(&ep->done);
	io->queued = 0;
	struct weft__list *l;
	while ((l = weft__list_pop_front(&batch))) {
		struct ep_rec *r = weft__container_of(l, struct ep_rec, link);
		struct weft__io_op *op = r->op;
		int res = (int)r->res;
		int fd = r->req.fd;
		op->be = NULL;
		rec_put(ep, r);
		io->inflight--;
		weft__io_count(&io->completed, 1);
		op->complete(op, res, 0);
		/* A level-triggered registration (a stream's) left without
		 * waiters once the completion ran (it did not re-arm): removed
		 * now, on the one thread that closes its descriptor. */
		struct ep_fd *e = fd >= 0 ? fd_ent(ep, fd, false) : NULL;
		if (e && e->level && e->added && weft__list_empty(&e->waiters)) {
			epoll_ctl(ep->epfd, EPOLL_CTL_DEL, fd, NULL);
			e->added = false;
			e->interest = 0;
			e->level = false;
		}
	}
}

/* One reap: what epoll reports (after `timeout_ns` at most), then the
 * complete() calls. */
static void reap(struct weft__io *io, uint64_t timeout_ns, bool look)
{
	if (look)
		wait_events(io, timeout_ns);
	run_done(io);
}

bool weft__ep_ready(const struct weft__io *io)
{
	struct weft__io_ep *ep = io->ep;
	if (!weft__list_empty(&ep->done))
		return true;
	/* readiness is known only by asking the kernel: a busy worker asks
	 * every `interval` turns (one worker: each turn, as asyncio does) */
	return ep->nwait && ++ep->skipped >= ep->interval;
}

bool weft__ep_ready_idle(const struct weft__io *io)
{
	struct weft__io_ep *ep = io->ep;
	if (!weft__list_empty(&ep->done))
		return true;
	if (!ep->nwait)
		return false;
	ep->skipped = ep->interval; /* the next poll looks */
	return true;
}

void weft__ep_poll(struct weft__io *io)
{
	struct weft__io_ep *ep = ep_of(io);
	bool look = ep->nwait && (weft__list_empty(&ep->done) || ep->skipped >= ep->interval);
	if (look)
		ep->skipped = 0;
	reap(io, 0, look);
}

void weft__ep_park(struct weft__io *io, uint64_t timeout_ns)
{
	struct weft__io_ep *ep = ep_of(io);
#ifdef WEFT_EP_TSAN
	/* as io/uring.c: TSan delivers a signal only at an intercepted call */
	if (timeout_ns > 10 * 1000 * 1000)
		timeout_ns = 10 * 1000 * 1000;
#endif
	if (!weft__list_empty(&ep->done))
		timeout_ns = 0;
	ep->skipped = 0;
	reap(io, timeout_ns, true);
}

void weft__ep_wake_foreign(const struct weft__io *to)
{
	uint64_t one = 1;
	/* EAGAIN: the counter is saturated, the owner is being woken */
	ssize_t n = write(to->ep->efd, &one, sizeof(one));
	(void)n;
}

void weft__ep_forget(const struct weft__io *io, int fd)
{
	/* any thread: the kernel serialises epoll_ctl. Nothing waits on fd
	 * (the close rule), so the owner's table re-registers it before it
	 * believes in it again (see the top of the file). */
	struct weft__io_ep *ep = io->ep;
	gen_bump(fd); /* every worker's edge registration of fd is stale */
	epoll_ctl(ep->epfd, EPOLL_CTL_DEL, fd, NULL);
	if (pthread_equal(pthread_self(), ep->owner)) {
		/* on the owner (a stream closing in its completion, inside a
		 * reap): never believed in again */
		struct ep_fd *e = fd_ent(ep, fd, false);
		if (e) {
			e->interest = 0;
			e->added = e->level = e->edge = e->sure = false;
			if (weft__list_linked(&e->unsure))
				weft__list_remove(&e->unsure);
		}
	}
}

int weft__ep_init(struct weft__io *io, const weft_config *cfg, char *why, size_t cap)
{
	struct weft__io_ep *ep = calloc(1, sizeof(*ep));
	if (!ep) {
		snprintf(why, cap, "out of memory");
		return -ENOMEM;
	}
	weft__list_init(&ep->done);
	weft__list_init(&ep->spares);
	weft__list_init(&ep->unsure);
	ep->owner = pthread_self();
	ep->interval = cfg->workers == 1 ? 1 : BUSY_EVERY;
	ep->efd = -1;
	ep->epfd = epoll_create1(EPOLL_CLOEXEC);
	int rc = 0;
	const char *what = "epoll_create1";
	if (ep->epfd < 0) {
		rc = -errno;
	} else if ((ep->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
		rc = -errno;
		what = "eventfd";
	} else {
		struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)ep->efd};
		if (epoll_ctl(ep->epfd, EPOLL_CTL_ADD, ep->efd, &ev)) {
			rc = -errno;
			what = "epoll_ctl";
		}
	}
	if (rc) {
		snprintf(why, cap, "%s: %s%s", what, strerror(-rc), weft__io_fd_hint(rc));
		if (ep->efd >= 0)
			close(ep->efd);
		if (ep->epfd >= 0)
			close(ep->epfd);
		free(ep);
		return rc;
	}
	io->ep = ep;
	return 0;
}

void weft__ep_exit(struct weft__io *io)
{
	struct weft__io_ep *ep = io->ep;
	if (!ep)
		return;
	close(ep->epfd);
	close(ep->efd);
	struct weft__list *l;
	while ((l = weft__list_pop_front(&ep->spares)))
		free(weft__container_of(l, struct ep_rec, link));
	/* (nothing waits or is done: every task and stream has ended) */
	for (unsigned c = 0; c < ep->nchunks; c++)
		free(ep->chunks[c]);
	free(ep->chunks);
	free(ep->dirty);
	free(ep);
	io->ep = NULL;
}
