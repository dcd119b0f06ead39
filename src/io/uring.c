/* SPDX-License-Identifier: MIT */
/* The io_uring backend (io/backend.h). */
#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <valgrind/valgrind.h>

#include <weft/error.h>

#include "io/backend.h"

/* user_data values the ring reserves; anything else is a struct weft__io_op *. */
enum {
	UD_WAKE = 1,     /* a MSG_RING wake from another worker */
	UD_EVENTFD = 2,  /* the eventfd read (a wake from a foreign thread) */
	UD_MSG_FAIL = 3, /* our MSG_RING failed; bits 8+ hold the target's eventfd */
};

struct weft__io_ring {
	struct io_uring ring;
	int efd;            /* foreign threads write here to wake the worker */
	uint64_t efd_buf;   /* the armed read's target */
	bool efd_armed;     /* a read on efd is in flight */
	bool deferred;      /* set up with DEFER_TASKRUN: reaping needs a syscall */
	bool valgrind;      /* under Valgrind: park in poll() on the eventfd */
};

int weft__io_init(struct weft__io *io, const weft_config *cfg, char *why, size_t cap)
{
	io->ring = NULL;
	io->inflight = 0;
	struct weft__io_ring *r = calloc(1, sizeof(*r));
	if (!r) {
		snprintf(why, cap, "out of memory");
		return -ENOMEM;
	}
	r->efd = -1;
	unsigned entries = cfg->ring_entries ? cfg->ring_entries : 256;
	static const unsigned modes[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
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
		p.flags = modes[i];
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
		snprintf(why, cap, "io_uring_setup: %s%s", strerror(-rc),
			 rc == -ENOSYS ? " (kernel built without io_uring)"
			 : rc == -EPERM ? " (disabled: sysctl kernel.io_uring_disabled or a seccomp filter)"
					: "");
		free(r);
		return WEFT_ENOURING;
	}
	r->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (r->efd < 0) {
		snprintf(why, cap, "eventfd: %s", strerror(errno));
		io_uring_queue_exit(&r->ring);
		free(r);
		return -ENOMEM;
	}
	if (r->valgrind)
		io_uring_register_eventfd(&r->ring, r->efd);
	io->ring = r;
	return 0;
}

void weft__io_exit(struct weft__io *io)
{
	struct weft__io_ring *r = io->ring;
	if (!r)
		return;
	io_uring_queue_exit(&r->ring);
	close(r->efd);
	free(r);
	io->ring = NULL;
}

static struct io_uring_sqe *sqe_get(struct weft__io_ring *r)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);
	if (!sqe) {
		io_uring_submit(&r->ring);
		sqe = io_uring_get_sqe(&r->ring);
	}
	return sqe;
}

void weft__io_wake_foreign(const struct weft__io *to)
{
	/* NULL: a worker whose set-up failed, woken by the failed create */
	if (!to->ring)
		return;
	uint64_t one = 1;
	/* EAGAIN means the counter is saturated: the owner is being woken. */
	ssize_t n = write(to->ring->efd, &one, sizeof(one));
	(void)n;
}

void weft__io_wake_from(struct weft__io *from, const struct weft__io *to)
{
	const struct weft__io_ring *t = to->ring;
	if (!t)
		return;
	struct io_uring_sqe *sqe = sqe_get(from->ring);
	if (!sqe) {
		weft__io_wake_foreign(to);
		return;
	}
	io_uring_prep_msg_ring(sqe, t->ring.ring_fd, 0, UD_WAKE, 0);
	/* Only a failure comes back to us; it carries the eventfd to use. */
	sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
	io_uring_sqe_set_data64(sqe, UD_MSG_FAIL | ((uint64_t)t->efd << 8));
	io_uring_submit(&from->ring->ring);
}

static void arm_eventfd(struct weft__io_ring *r)
{
	if (r->efd_armed)
		return;
	struct io_uring_sqe *sqe = sqe_get(r);
	if (!sqe)
		return; /* the park below still returns on any CQE */
	io_uring_prep_read(sqe, r->efd, &r->efd_buf, sizeof(r->efd_buf), 0);
	io_uring_sqe_set_data64(sqe, UD_EVENTFD);
	r->efd_armed = true;
}

static void handle_cqes(struct weft__io *io)
{
	struct weft__io_ring *r = io->ring;
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0;
	io_uring_for_each_cqe(&r->ring, head, cqe)
	{
		uint64_t ud = cqe->user_data;
		seen++;
		if (ud == UD_WAKE)
			continue;
		if (ud == UD_EVENTFD) {
			r->efd_armed = false;
			continue;
		}
		if ((ud & 0xff) == UD_MSG_FAIL && ud < ((uint64_t)1 << 40)) {
			uint64_t one = 1;
			ssize_t n = write((int)(ud >> 8), &one, sizeof(one));
			(void)n;
			continue;
		}
		struct weft__io_op *op = (struct weft__io_op *)(uintptr_t)ud;
		io->inflight--;
		op->complete(op, cqe->res, cqe->flags);
	}
	io_uring_cq_advance(&r->ring, seen);
}

/* Under Valgrind: sleep in poll(), which Valgrind knows may block. */
static void park_in_poll(struct weft__io *io, uint64_t timeout_ns)
{
	struct weft__io_ring *r = io->ring;
	io_uring_submit(&r->ring);
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

void weft__io_park(struct weft__io *io, uint64_t timeout_ns)
{
	struct weft__io_ring *r = io->ring;
	if (r->valgrind) {
		park_in_poll(io, timeout_ns);
		return;
	}
	arm_eventfd(r);
	int rc;
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
	(void)rc; /* -ETIME and -EINTR are ordinary early returns */
	handle_cqes(io);
}

void weft__io_poll(struct weft__io *io)
{
	struct weft__io_ring *r = io->ring;
	if (r->deferred)
		io_uring_submit_and_get_events(&r->ring);
	else
		io_uring_submit(&r->ring);
	handle_cqes(io);
}
