/* SPDX-License-Identifier: MIT */
/* The io_uring backend (io/backend.h). */
#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>
#include <valgrind/valgrind.h>

#include <weft/error.h>

#include "io/backend.h"
#include "io/impl.h"
#include "io/ring.h"

/*
 * user_data: an operation is its record's address (8-aligned, below 2^48)
 * with the record's generation in the top 16 bits; values whose low three
 * bits are not 0 are the ring's own.
 */
enum {
	UD_WAKE = 1,     /* a MSG_RING wake from another worker */
	UD_EVENTFD = 2,  /* the eventfd read (a wake from a foreign thread) */
	UD_MSG_FAIL = 3, /* our MSG_RING failed; bits 8+ hold the target's eventfd */
	UD_CANCEL = 4,   /* an ASYNC_CANCEL that failed (not found, too late) */
	UD_OWN_MASK = 7,
};
#define UD_GEN_SHIFT 48
#define UD_PTR_MASK (((uint64_t)1 << UD_GEN_SHIFT) - 1)

static uint64_t op_ud(const struct weft__io_op *op, uint32_t gen)
{
	return (uint64_t)(uintptr_t)op | ((uint64_t)(gen & 0xffff) << UD_GEN_SHIFT);
}

/*
 * liburing maps and unmaps rings with raw syscalls, which ThreadSanitizer
 * does not see: a ring set up where another thread's ring was just
 * unmapped (a failed start: the workers set up at once) looks like a race
 * on the same memory. The kernel orders the unmap before the new map;
 * these say so to TSan (no-ops elsewhere).
 */
#if defined(__SANITIZE_THREAD__)
#define WEFT_IO_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WEFT_IO_TSAN 1
#endif
#endif
#ifdef WEFT_IO_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
static char ring_handoff;
static void ring_exit(struct io_uring *ring)
{
	__tsan_release(&ring_handoff); /* before the unmap: a new map may follow at once */
	io_uring_queue_exit(ring);
}
static void ring_made(void)
{
	__tsan_acquire(&ring_handoff);
}
#else
static void ring_exit(struct io_uring *ring)
{
	io_uring_queue_exit(ring);
}
static void ring_made(void)
{
}
#endif

/*
 * io_uring_setup failed with rc: only "io_uring is missing or refused"
 * (ENOSYS, EPERM) is WEFT_ENOURING; anything else is its own code, which
 * says what to fix (IO.md, backend selection).
 */
static int setup_failed(int rc, unsigned entries, char *why, size_t cap)
{
	const char *hint = "";
	char buf[160];
	switch (rc) {
	case -ENOSYS:
		hint = " (a kernel built without io_uring)";
		break;
	case -EPERM:
		hint = " (disabled: sysctl kernel.io_uring_disabled, or a seccomp filter such as "
		       "a container's)";
		break;
	case -ENOMEM: {
		/* a ring's memory counts as locked memory for a user without
		 * CAP_IPC_LOCK */
		struct rlimit rl;
		char now[48] = "";
		if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
			snprintf(now, sizeof(now), ", now %llu KiB",
				 (unsigned long long)rl.rlim_cur / 1024);
		snprintf(buf, sizeof(buf),
			 " (a ring of %u entries is locked memory: raise RLIMIT_MEMLOCK, ulimit -l%s, "
			 "or lower cfg.ring_entries)",
			 entries, now);
		hint = buf;
		break;
	}
	case -EINVAL:
		/* the config was checked (at most WEFT__IO_ENTRIES_MAX), so
		 * the kernel lacks what even the plainest mode asks */
		snprintf(buf, sizeof(buf),
			 " (refused a ring of %u entries with a %u-entry completion queue: a kernel "
			 "older than weft needs, 5.19)",
			 entries, entries * 4);
		hint = buf;
		break;
	default:
		hint = weft__io_fd_hint(rc);
	}
	snprintf(why, cap, "io_uring_setup: %s%s", strerror(-rc), hint);
	return rc == -ENOSYS || rc == -EPERM ? WEFT_ENOURING : rc;
}

/*
 * One NOP through the new ring: a filter that allows io_uring_setup but
 * refuses io_uring_enter would otherwise leave every worker unable to
 * submit or sleep, busy-polling silently.
 */
static int enter_probe(struct io_uring *ring, char *why, size_t cap)
{
	io_uring_prep_nop(io_uring_get_sqe(ring));
	int rc;
	do
		rc = io_uring_submit_and_wait(ring, 1);
	while (rc == -EINTR);
	if (rc >= 0) {
		struct io_uring_cqe *cqe;
		rc = io_uring_peek_cqe(ring, &cqe);
		if (rc == 0)
			io_uring_cqe_seen(ring, cqe);
		return rc; /* a waited-for NOP is there */
	}
	bool refused = rc == -EPERM || rc == -ENOSYS || rc == -EACCES;
	snprintf(why, cap, "io_uring_enter: %s%s", strerror(-rc),
		 refused ? " (io_uring_setup works but io_uring_enter is refused: a seccomp "
			   "filter that lets only part of io_uring through)"
			 : "");
	return refused ? WEFT_ENOURING : rc;
}

int weft__uring_init(struct weft__io *io, const weft_config *cfg, char *why, size_t cap)
{
	io->ring = NULL;
	io->inflight = 0;
	struct weft__io_ring *r = calloc(1, sizeof(*r));
	if (!r) {
		snprintf(why, cap, "out of memory");
		return -ENOMEM;
	}
	r->efd = -1;
	if (cfg->ring_no_buffers)
		r->pool.state = -EOPNOTSUPP;
	unsigned entries = cfg->ring_entries ? cfg->ring_entries : 256;
	/* TASKRUN_FLAG: the kernel says (IORING_SQ_TASKRUN) when completions
	 * wait for a kernel entry, so a busy worker enters only then. */
	static const unsigned modes[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
		IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
		0,
	};
	int rc = -ENOSYS;
	/* Valgrind (3.19) keeps its global lock across io_uring_enter, so a
	 * parked worker would stop every other thread: under it, workers park
	 * in poll() on the eventfd instead, which the ring signals on every
	 * CQE (and DEFER_TASKRUN, whose CQEs wait for io_uring_enter, is off). */
	r->valgrind = RUNNING_ON_VALGRIND != 0;
	for (unsigned i = cfg->ring_no_defer || r->valgrind ? 1 : 0; i < 3; i++) {
		struct io_uring_params p;
		memset(&p, 0, sizeof(p));
		/* a CQ four times the SQ: operations outlive their submission
		 * batch, and completions are never dropped (IORING_FEAT_NODROP
		 * keeps an overflow list; -EBADR below if even that fails) */
		p.flags = modes[i] | IORING_SETUP_CQSIZE;
		p.cq_entries = entries * 4;
		rc = io_uring_queue_init_params(entries, &r->ring, &p);
		if (rc == 0) {
			r->deferred = (modes[i] & IORING_SETUP_DEFER_TASKRUN) != 0;
			break;
		}
		/* Only unknown flags are worth another try. */
		if (rc != -EINVAL)
			break;
	}
	if (rc) {
		free(r);
		return setup_failed(rc, entries, why, cap);
	}
	ring_made();
	rc = enter_probe(&r->ring, why, cap);
	if (rc) {
		ring_exit(&r->ring);
		free(r);
		return rc;
	}
	r->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (r->efd < 0) {
		rc = -errno;
		snprintf(why, cap, "eventfd: %s%s", strerror(-rc), weft__io_fd_hint(rc));
		ring_exit(&r->ring);
		free(r);
		return rc;
	}
	if (r->valgrind)
		io_uring_register_eventfd(&r->ring, r->efd);
	io->ring = r;
	return 0;
}

void weft__uring_exit(struct weft__io *io)
{
	struct weft__io_ring *r = io->ring;
	if (!r)
		return;
	ring_exit(&r->ring);
	weft__io_pool_exit(&r->pool); /* the kernel holds no buffer now */
	close(r->efd);
	free(r);
	io->ring = NULL;
}

/* Hands what is queued to the kernel; a full CQ (-EBUSY) is reaped first.
 * Returns what io_uring_submit* returned last. */
static void handle_cqes(struct weft__io *io);

static _Noreturn void dropped(void)
{
	/* -EBADR: the kernel could not keep a completion; some task would
	 * wait forever. Never silent. */
	static const char m[] = "weft: io_uring dropped a completion (-EBADR): out of memory "
				"in the kernel; aborting rather than leaving a task waiting forever\n";
	(void)!write(STDERR_FILENO, m, sizeof(m) - 1);
	abort();
}

static void flush(struct weft__io *io, bool reap)
{
	struct weft__io_ring *r = io->ring;
	for (;;) {
		int rc = reap && r->deferred ? io_uring_submit_and_get_events(&r->ring)
					     : io_uring_submit(&r->ring);
		if (rc == -EBUSY || rc == -EAGAIN) {
			handle_cqes(io);
			continue;
		}
		if (rc == -EBADR)
			dropped();
		break;
	}
	weft__io_count(&io->submitted, io->queued);
	io->queued = 0;
}

static struct io_uring_sqe *sqe_get(struct weft__io *io)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&io->ring->ring);
	while (!sqe) { /* SQ full: hand it over, never fail the caller */
		flush(io, false);
		sqe = io_uring_get_sqe(&io->ring->ring);
	}
	io->queued++;
	return sqe;
}

void weft__uring_wake_foreign(const struct weft__io *to)
{
	/* NULL: a worker whose set-up failed, woken by the failed create */
	if (!to->ring)
		return;
	uint64_t one = 1;
	/* EAGAIN means the counter is saturated: the owner is being woken. */
	ssize_t n = write(to->ring->efd, &one, sizeof(one));
	(void)n;
}

void weft__uring_wake_from(struct weft__io *from, const struct weft__io *to)
{
	const struct weft__io_ring *t = to->ring;
	if (!t)
		return;
	struct io_uring_sqe *sqe = sqe_get(from);
	io_uring_prep_msg_ring(sqe, t->ring.ring_fd, 0, UD_WAKE, 0);
	/* Only a failure comes back to us; it carries the eventfd to use. */
	sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
	io_uring_sqe_set_data64(sqe, UD_MSG_FAIL | ((uint64_t)t->efd << 8));
	flush(from, false); /* a wake waits for no turn */
}

static void arm_eventfd(struct weft__io *io)
{
	struct weft__io_ring *r = io->ring;
	if (r->efd_armed)
		return;
	struct io_uring_sqe *sqe = sqe_get(io);
	io_uring_prep_read(sqe, r->efd, &r->efd_buf, sizeof(r->efd_buf), 0);
	io_uring_sqe_set_data64(sqe, UD_EVENTFD);
	r->efd_armed = true;
}

/*
 * Reaps every completion present, one at a time: each is consumed before
 * its complete() runs, so a complete() may submit (and a submission that
 * must reap to make room may run this again) without a completion being
 * seen twice.
 */
static void handle_cqes(struct weft__io *io)
{
	struct weft__io_ring *r = io->ring;
	struct io_uring *ring = &r->ring;
	for (;;) {
		unsigned head = *ring->cq.khead;
		/* acquire: pairs with the kernel's release of the tail */
		if (head == io_uring_smp_load_acquire(ring->cq.ktail))
			break;
		const struct io_uring_cqe *cqe = &ring->cq.cqes[head & *ring->cq.kring_mask];
		uint64_t ud = cqe->user_data;
		int res = cqe->res;
		unsigned flags = cqe->flags;
		io_uring_cq_advance(ring, 1);
		weft__io_count(&io->completed, 1);
		if (ud & UD_OWN_MASK) {
			if (ud == UD_EVENTFD)
				r->efd_armed = false;
			else if ((ud & 0xff) == UD_MSG_FAIL && ud < ((uint64_t)1 << 40)) {
				uint64_t one = 1;
				ssize_t n = write((int)(ud >> 8), &one, sizeof(one));
				(void)n;
			}
			continue; /* UD_WAKE, UD_CANCEL: nothing to do */
		}
		struct weft__io_op *op = (struct weft__io_op *)(uintptr_t)(ud & UD_PTR_MASK);
		if (!(flags & IORING_CQE_F_MORE))
			io->inflight--;
		op->complete(op, res, flags);
	}
}

/* Under Valgrind: sleep in poll(), which Valgrind knows may block. */
static void park_in_poll(struct weft__io *io, uint64_t timeout_ns)
{
	struct weft__io_ring *r = io->ring;
	flush(io, false);
	if (!io_uring_cq_ready(&r->ring)) {
		struct pollfd p = {.fd = r->efd, .events = POLLIN};
		int ms = timeout_ns == UINT64_MAX ? -1 : (int)((timeout_ns + 999999) / 1000000);
		poll(&p, 1, ms);
	}
	uint64_t v;
	ssize_t n = read(r->efd, &v, sizeof(v)); /* drain; EAGAIN if empty */
	(void)n;
	handle_cqes(io);
}

void weft__uring_park(struct weft__io *io, uint64_t timeout_ns)
{
#ifdef WEFT_TSAN
	/* TSan runs a signal handler only when its thread next enters a
	 * function TSan intercepts; io_uring_enter is none, so a parked
	 * worker would hold a signal (weft_signal_wait's) back for good. */
	if (timeout_ns > 10 * 1000 * 1000)
		timeout_ns = 10 * 1000 * 1000;
#endif
	struct weft__io_ring *r = io->ring;
	if (r->valgrind) {
		park_in_poll(io, timeout_ns);
		return;
	}
	arm_eventfd(io);
	int rc;
	for (;;) {
		if (timeout_ns == UINT64_MAX) {
			rc = io_uring_submit_and_wait(&r->ring, 1);
		} else {
			/* with IORING_FEAT_EXT_ARG the timeout costs no SQE */
			struct __kernel_timespec ts = {
				.tv_sec = (long long)(timeout_ns / 1000000000u),
				.tv_nsec = (long long)(timeout_ns % 1000000000u),
			};
			struct io_uring_cqe *cqe;
			rc = io_uring_submit_and_wait_timeout(&r->ring, &cqe, 1, &ts, NULL);
		}
		if (rc != -EBUSY)
			break;
		handle_cqes(io); /* the CQ was full: reap, then sleep again */
	}
	if (rc == -EBADR)
		dropped();
	weft__io_count(&io->submitted, io->queued);
	io->queued = 0;
	/* -ETIME and -EINTR are ordinary early returns */
	handle_cqes(io);
}

void weft__uring_poll(struct weft__io *io)
{
	flush(io, true);
	handle_cqes(io);
}

bool weft__uring_ready(const struct weft__io *io)
{
	const struct io_uring *ring = &io->ring->ring;
	unsigned flags = IO_URING_READ_ONCE(*ring->sq.kflags);
	return (flags & (IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW)) || io_uring_cq_ready(ring);
}

int weft__uring_submit(struct weft__io *io, struct weft__io_op *op, const struct weft__io_req *req)
{
	if (req->kind > WEFT__IO_KIND_LAST)
		return -EINVAL;
	if (req->kind >= WEFT__IO_RECV_POOL) {
		if (io->ring->pool.state <= 0)
			return io->ring->pool.state ? io->ring->pool.state : -EINVAL;
		weft__io_pool_drain(io);
	}
	struct io_uring_sqe *sqe = sqe_get(io);
	int fd = req->fd;
	/* io_uring takes -1 as "the current position" for reads and writes */
	uint64_t off = req->off;
	switch ((enum weft__io_kind)req->kind) {
	case WEFT__IO_READ:
		io_uring_prep_read(sqe, fd, req->buf, req->len, off);
		break;
	case WEFT__IO_WRITE:
		io_uring_prep_write(sqe, fd, req->buf, req->len, off);
		break;
	case WEFT__IO_READV:
		io_uring_prep_readv(sqe, fd, req->buf, req->len, off);
		break;
	case WEFT__IO_WRITEV:
		io_uring_prep_writev(sqe, fd, req->buf, req->len, off);
		break;
	case WEFT__IO_RECV:
		io_uring_prep_recv(sqe, fd, req->buf, req->len, req->flags);
		break;
	case WEFT__IO_SEND:
		io_uring_prep_send(sqe, fd, req->buf, req->len, req->flags);
		break;
	case WEFT__IO_RECVMSG:
		io_uring_prep_recvmsg(sqe, fd, req->buf, (unsigned)req->flags);
		break;
	case WEFT__IO_SENDMSG:
		io_uring_prep_sendmsg(sqe, fd, req->buf, (unsigned)req->flags);
		break;
	case WEFT__IO_ACCEPT:
		io_uring_prep_accept(sqe, fd, req->buf, req->out, req->flags);
		break;
	case WEFT__IO_CONNECT:
		io_uring_prep_connect(sqe, fd, req->buf, req->len);
		break;
	case WEFT__IO_SHUTDOWN:
		io_uring_prep_shutdown(sqe, fd, (int)req->len);
		break;
	case WEFT__IO_OPENAT:
		io_uring_prep_openat(sqe, fd, req->buf, req->flags, (mode_t)off);
		break;
	case WEFT__IO_FSYNC:
		io_uring_prep_fsync(sqe, fd, req->flags ? IORING_FSYNC_DATASYNC : 0);
		break;
	case WEFT__IO_STATX:
		io_uring_prep_statx(sqe, fd, req->buf, req->flags, req->len, req->out);
		break;
	case WEFT__IO_POLL:
		io_uring_prep_poll_add(sqe, fd, req->len);
		break;
	case WEFT__IO_RECV_POOL:
	case WEFT__IO_READ_POOL:
		/* length 0: the selected buffer's; less caps the receive */
		if (req->kind == WEFT__IO_RECV_POOL)
			io_uring_prep_recv(sqe, fd, NULL, req->len, req->flags);
		else
			io_uring_prep_read(sqe, fd, NULL, req->len, (uint64_t)-1);
		sqe->flags |= IOSQE_BUFFER_SELECT;
		sqe->buf_group = 0;
		break;
	}
	op->gen++;
	io_uring_sqe_set_data64(sqe, op_ud(op, op->gen));
	io->inflight++;
	return 0;
}

void weft__uring_cancel(struct weft__io *io, struct weft__io_op *op, uint32_t gen)
{
	struct io_uring_sqe *sqe = sqe_get(io);
	io_uring_prep_cancel64(sqe, op_ud(op, gen), 0);
	/* only a failure comes back (not found: it completed meanwhile) */
	sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
	io_uring_sqe_set_data64(sqe, UD_CANCEL);
}
