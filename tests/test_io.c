/* SPDX-License-Identifier: MIT */
/*
 * Raw operations (weft/io.h) and sockets (weft/net.h): results as the
 * syscalls give them, and io.h's cancellation and close rules. Everything
 * on socketpairs, pipes, 127.0.0.1, ::1 or a Unix socket in /tmp.
 */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test_util.h"

static int sp[2]; /* a socketpair: sp[0] is read by tasks, sp[1] written */

static void pair(void)
{
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
}

static void unpair(void)
{
	close(sp[0]);
	close(sp[1]);
}

/* --- plain results ------------------------------------------------------ */

static ssize_t got_n, got_eof, sent_n;
static char got_buf[64];

static int rw_main(void *arg, void **res)
{
	sent_n = weft_send(sp[1], "hello", 5, 0);
	got_n = weft_recv(sp[0], got_buf, sizeof(got_buf), 0);
	shutdown(sp[1], SHUT_WR);
	got_eof = weft_recv(sp[0], got_buf + 5, sizeof(got_buf) - 5, 0);
	return 0;
}

Test(io, send_recv_and_eof, .timeout = TEST_TIMEOUT)
{
	pair();
	cr_assert_eq(tu_run_n(1, rw_main, NULL, NULL), 0);
	cr_assert_eq(sent_n, 5);
	cr_assert_eq(got_n, 5);
	cr_assert_eq(memcmp(got_buf, "hello", 5), 0);
	cr_assert_eq(got_eof, 0, "a shut-down peer reads as 0 (EOF)");
	unpair();
}

/* --- receives into the worker's buffer pool ----------------------------- */

static ssize_t pl_n, pl_eof;
static char pl_first[8];
static bool pl_eof_lends;
static int pl_from_pool;      /* of 1,000 receives, how many lent a pool buffer */

static int pooled_main(void *arg, void **res)
{
	weft_iobuf b;
	weft_send(sp[1], "hello", 5, 0);
	pl_n = weft_recv_pooled(sp[0], &b, 0);
	if (pl_n > 0)
		memcpy(pl_first, b.data, (size_t)pl_n);
	weft_iobuf_release(&b);
	/* 1,000 receives, each released: the pool's 64 buffers go round */
	pl_from_pool = 0;
	for (int i = 0; i < 1000; i++) {
		char c = (char)i;
		weft_send(sp[1], &c, 1, 0);
		if (weft_recv_pooled(sp[0], &b, 0) == 1 && *(char *)b.data == c && b.owner_)
			pl_from_pool++;
		weft_iobuf_release(&b);
	}
	shutdown(sp[1], SHUT_WR);
	pl_eof = weft_recv_pooled(sp[0], &b, 0);
	pl_eof_lends = b.data != NULL;
	return 0;
}

static void pooled_check(bool off)
{
	weft_config cfg = tu_config(1);
	cfg.ring_no_buffers = off;
	if (!off && tu_backend(&cfg) == WEFT_BACKEND_EPOLL)
		cr_skip_test("SKIP: the epoll backend has no pool (its heap path is the ring_no_buffers test)");
	pair();
	cr_assert_eq(tu_run(pooled_main, NULL, &cfg, NULL), 0);
	cr_assert_eq(pl_n, 5);
	cr_assert_eq(memcmp(pl_first, "hello", 5), 0);
	cr_assert_eq(pl_from_pool, off ? 0 : 1000, "released buffers go back to the pool");
	cr_assert_eq(pl_eof, 0);
	cr_assert_not(pl_eof_lends, "EOF lends nothing");
	unpair();
}

Test(io, recv_pooled_lends_a_buffer_and_release_gives_it_back, .timeout = TEST_TIMEOUT)
{
	pooled_check(false);
}

Test(io, recv_pooled_without_the_pool_uses_heap_buffers, .timeout = TEST_TIMEOUT)
{
	pooled_check(true);
}

/* Every pool buffer lent and held (a worker lends at most 1,024, io.h):
 * the next receives get buffers of their own (never an error), and the
 * pool serves again once they come back, also when they come back from a
 * thread outside the runtime. */
enum { HOLD = 1100, POOL_MAX = 1024 };
static weft_iobuf held[HOLD];
static int hold_ok, hold_heap, after_from_pool;

static void *release_all(void *arg)
{
	for (int i = 0; i < HOLD; i++)
		weft_iobuf_release(&held[i]);
	return NULL;
}

static int hold_main(void *arg, void **res)
{
	hold_ok = hold_heap = 0;
	for (int i = 0; i < HOLD; i++) {
		char c = (char)('a' + i % 26);
		weft_send(sp[1], &c, 1, 0);
		if (weft_recv_pooled(sp[0], &held[i], 0) == 1 && *(char *)held[i].data == c)
			hold_ok++;
		if (!held[i].owner_)
			hold_heap++;
	}
	pthread_t th;
	if (pthread_create(&th, NULL, release_all, NULL))
		return -EAGAIN;
	pthread_join(th, NULL);
	weft_iobuf b;
	weft_send(sp[1], "z", 1, 0);
	after_from_pool = weft_recv_pooled(sp[0], &b, 0) == 1 && b.owner_ != NULL;
	weft_iobuf_release(&b);
	return 0;
}

Test(io, recv_pooled_with_every_buffer_lent_falls_back_and_recovers, .timeout = TEST_TIMEOUT)
{
	weft_config cfg = tu_config(1);
	if (tu_backend(&cfg) == WEFT_BACKEND_EPOLL)
		cr_skip_test("SKIP: the epoll backend has no pool");
	pair();
	cr_assert_eq(tu_run_n(1, hold_main, NULL, NULL), 0);
	cr_assert_eq(hold_ok, HOLD, "every byte arrived, pool or not");
	cr_assert_geq(hold_heap, HOLD - POOL_MAX, "the receives past the pool used buffers of their own");
	cr_assert_lt(hold_heap, HOLD - POOL_MAX + 32, "the pool grew to its most");
	cr_assert(after_from_pool, "buffers given back from another thread serve again");
	unpair();
}

static ssize_t pc_rc;
static bool pc_lent;

static int pooled_waiter(void *arg, void **res)
{
	weft_iobuf b;
	pc_rc = weft_recv_pooled(sp[0], &b, 0);
	pc_lent = b.data != NULL;
	weft_iobuf_release(&b);
	return 0;
}

static int pooled_cancel_main(void *arg, void **res)
{
	weft_future *t = tu_spawn(pooled_waiter, NULL);
	tu_yield();
	tu_cancel_reap(t);
	return 0;
}

Test(io, recv_pooled_cancelled_lends_nothing, .timeout = TEST_TIMEOUT)
{
	pair();
	cr_assert_eq(tu_run_n(1, pooled_cancel_main, NULL, NULL), 0);
	cr_assert_eq(pc_rc, -ECANCELED);
	cr_assert_not(pc_lent);
	unpair();
}

static ssize_t pm_null;

static int pooled_misuse_main(void *arg, void **res)
{
	pm_null = weft_recv_pooled(sp[0], NULL, 0);
	return 0;
}

Test(io, recv_pooled_misuse)
{
	pair();
	weft_iobuf b;
	cr_assert_eq(weft_recv_pooled(sp[0], &b, 0), -EPERM, "outside a task");
	cr_assert_null(b.data);
	weft_iobuf_release(NULL);
	weft_iobuf_release(&b); /* nothing lent: a no-op */
	cr_assert_eq(tu_run_n(1, pooled_misuse_main, NULL, NULL), 0);
	cr_assert_eq(pm_null, -EINVAL);
	unpair();
}

static ssize_t short_n;

static int short_read_main(void *arg, void **res)
{
	char big[4096];
	weft_send(sp[1], "abc", 3, 0);
	short_n = weft_recv(sp[0], big, sizeof(big), 0); /* a short read is a result */
	return 0;
}

Test(io, short_read_is_a_result, .timeout = TEST_TIMEOUT)
{
	pair();
	cr_assert_eq(tu_run_n(1, short_read_main, NULL, NULL), 0);
	cr_assert_eq(short_n, 3);
	unpair();
}

Test(io, outside_a_task_is_eperm)
{
	char c;
	pair();
	cr_assert_eq(weft_recv(sp[0], &c, 1, 0), -EPERM);
	cr_assert_eq(weft_send(sp[1], "x", 1, 0), -EPERM);
	cr_assert_eq(weft_close(sp[0]), -EPERM);
	cr_assert_eq(weft_tcp_connect("127.0.0.1", 1), -EPERM);
	/* nothing was done: the byte is still unsent, the descriptor open */
	cr_assert_neq(fcntl(sp[0], F_GETFD), -1);
	unpair();
}

static ssize_t file_w, file_r, file_sync, file_stat;
static char file_back[16];
static char path[64];

static int file_main(void *arg, void **res)
{
	int fd = weft_openat(AT_FDCWD, path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return fd;
	file_w = weft_write(fd, "0123456789", 10, 0);
	file_sync = weft_fsync(fd, false);
	file_r = weft_read(fd, file_back, 4, 3); /* pread at 3 */
	struct statx st;
	file_stat = weft_statx(AT_FDCWD, path, 0, STATX_SIZE, &st);
	if (file_stat == 0)
		file_stat = (ssize_t)st.stx_size;
	return weft_close(fd);
}

Test(io, file_open_write_read_statx, .timeout = TEST_TIMEOUT)
{
	snprintf(path, sizeof(path), "/tmp/weft-test-io-%d", (int)getpid());
	cr_assert_eq(tu_run_n(1, file_main, NULL, NULL), 0);
	unlink(path);
	cr_assert_eq(file_w, 10);
	cr_assert_eq(file_sync, 0);
	cr_assert_eq(file_r, 4);
	cr_assert_eq(memcmp(file_back, "3456", 4), 0);
	cr_assert_eq(file_stat, 10);
}

/* --- cancellation ----------------------------------------------------- */

static ssize_t cancel_rc, after_rc, pending_rc;
static char cancel_buf[8];
static atomic_int first_recv_done;

static int blocked_recv(void *arg, void **res)
{
	cancel_rc = weft_recv(sp[0], cancel_buf, sizeof(cancel_buf), 0);
	atomic_store(&first_recv_done, 1);
	/* nothing stays pending after -ECANCELED (the delivery) */
	pending_rc = weft_sleep(0);
	/* and a later read gets what was sent after the cancel */
	after_rc = weft_recv(sp[0], cancel_buf, sizeof(cancel_buf), 0);
	return 0;
}

static int cancel_main(void *arg, void **res)
{
	weft_future *t = tu_spawn(blocked_recv, NULL);
	for (int i = 0; i < 3; i++)
		tu_yield(); /* t is in its recv */
	weft_cancel(t, NULL);
	/* Send only once the cancelled receive has ended: with two workers
	 * (and TSan's pace) the cancel may reach t's worker after a byte sent
	 * now, which the receive would then return (the cancel pending),
	 * leaving the second receive nothing to read. */
	double end = weft_time() + 5.0 * WEFT_TEST_SLOW;
	while (!atomic_load(&first_recv_done) && weft_time() < end)
		tu_yield();
	weft_send(sp[1], "z", 1, 0);
	weft_await(t, NULL);
	weft_future_unref(t);
	return 0;
}

Test(io, cancelled_recv_returns_ecanceled_and_nothing_stays_pending, .timeout = TEST_TIMEOUT)
{
	pair();
	cr_assert_eq(tu_run_n(1, cancel_main, NULL, NULL), 0);
	cr_assert_eq(cancel_rc, -ECANCELED);
	cr_assert_eq(pending_rc, 0);
	cr_assert_eq(after_rc, 1);
	cr_assert_eq(cancel_buf[0], 'z');
	unpair();
}

Test(io, cancel_from_another_worker, .timeout = TEST_TIMEOUT)
{
	pair();
	cr_assert_eq(tu_run_n(2, cancel_main, NULL, NULL), 0);
	cr_assert_eq(cancel_rc, -ECANCELED);
	cr_assert_eq(after_rc, 1, "after_rc %zd pending_rc %zd", after_rc, pending_rc);
	unpair();
}

/* Data that arrived before the cancel is returned; the cancel stays
 * pending for the next suspension point. */
static ssize_t raced_rc, raced_next;

static int recv_after_data(void *arg, void **res)
{
	char b[8];
	raced_rc = weft_recv(sp[0], b, sizeof(b), 0);
	raced_next = weft_sleep(0);
	return 0;
}

static int data_then_cancel_main(void *arg, void **res)
{
	/* the byte is there before the recv is submitted: it completes in
	 * the same reap as... the cancel request comes after it */
	weft_send(sp[1], "d", 1, 0);
	weft_future *t = tu_spawn(recv_after_data, NULL);
	tu_yield(); /* t submits its recv, which finds the byte */
	tu_yield(); /* the completion is reaped: t is woken, not yet run */
	tu_cancel_reap(t);
	return 0;
}

Test(io, data_before_cancel_is_returned_and_the_cancel_stays_pending, .timeout = TEST_TIMEOUT)
{
	pair();
	cr_assert_eq(tu_run_n(1, data_then_cancel_main, NULL, NULL), 0);
	cr_assert_eq(raced_rc, 1, "the received byte is the result, not lost");
	cr_assert_eq(raced_next, -ECANCELED, "the cancel waits for the next suspension point");
	unpair();
}

static ssize_t pre_rc;

static int precancelled(void *arg, void **res)
{
	weft_cancel(weft_current_task(), NULL);
	char b;
	pre_rc = weft_recv(sp[0], &b, 1, 0); /* pending: delivered, nothing submitted */
	return 0;
}

Test(io, pending_cancel_is_delivered_before_submitting, .timeout = TEST_TIMEOUT)
{
	pair();
	cr_assert_eq(tu_run_n(1, precancelled, NULL, NULL), 0);
	cr_assert_eq(pre_rc, -ECANCELED);
	unpair();
}

static int timeout_rc;

static int recv_with_timeout(void *arg, void **res)
{
	weft_timeout scope;
	char b;
	weft_timeout_enter_after(&scope, 0.05);
	ssize_t n = weft_recv(sp[0], &b, 1, 0);
	timeout_rc = weft_timeout_exit(&scope, (int)n);
	return 0;
}

Test(io, timeout_scope_ends_a_recv, .timeout = TEST_TIMEOUT)
{
	pair();
	cr_assert_eq(tu_run_n(2, recv_with_timeout, NULL, NULL), 0);
	cr_assert_eq(timeout_rc, -ETIMEDOUT);
	unpair();
}

static int wait_fd_timeout, wait_fd_ready;

static int wait_fd_main(void *arg, void **res)
{
	wait_fd_timeout = weft_wait_fd(sp[0], POLLIN, 0.02);
	weft_send(sp[1], "r", 1, 0);
	wait_fd_ready = weft_wait_fd(sp[0], POLLIN, WEFT_FOREVER);
	return 0;
}

Test(io, wait_fd, .timeout = TEST_TIMEOUT)
{
	pair();
	cr_assert_eq(tu_run_n(1, wait_fd_main, NULL, NULL), 0);
	cr_assert_eq(wait_fd_timeout, -ETIMEDOUT);
	cr_assert(wait_fd_ready > 0 && (wait_fd_ready & POLLIN));
	unpair();
}

/* --- close ------------------------------------------------------------ */

static ssize_t closed_rc;
static int close_rc;

static int recv_until_closed(void *arg, void **res)
{
	char b;
	closed_rc = weft_recv(sp[0], &b, 1, 0);
	return 0;
}

static int close_main(void *arg, void **res)
{
	weft_future *t = tu_spawn(recv_until_closed, NULL);
	for (int i = 0; i < 3; i++)
		tu_yield();
	close_rc = weft_close(sp[0]);
	weft_await(t, NULL);
	weft_future_unref(t);
	return 0;
}

Test(io, close_from_another_task_ends_a_recv_with_ebadf, .timeout = TEST_TIMEOUT)
{
	pair();
	cr_assert_eq(tu_run_n(2, close_main, NULL, NULL), 0);
	cr_assert_eq(close_rc, 0);
	cr_assert_eq(closed_rc, -EBADF, "not -ECANCELED: a failure, not a cancellation");
	cr_assert_eq(fcntl(sp[0], F_GETFD), -1, "weft_close closed it");
	close(sp[1]);
}

/* --- the epoll backend (forced, whatever WEFT_BACKEND says) ----------- */

static weft_config epoll_config(unsigned workers)
{
	weft_config cfg = tu_config(workers);
	cfg.backend = WEFT_BACKEND_EPOLL;
	return cfg;
}

static int ep_backend;
static ssize_t ep_late, ep_rc;
static int ep_flags_after[2];

static int ep_blocked_recv(void *arg, void **res)
{
	char b[8];
	ep_rc = weft_recv(sp[0], b, sizeof(b), 0);
	return 0;
}

/* A receive still waiting for readiness has issued no syscall: its
 * cancel removes it (-ECANCELED) and the bytes sent afterwards are all
 * there for the next receive; the user's blocking descriptors are left
 * blocking. */
static int ep_cancel_main(void *arg, void **res)
{
	ep_backend = weft_runtime_backend(weft_current_runtime());
	weft_future *t = tu_spawn(ep_blocked_recv, NULL);
	for (int i = 0; i < 3; i++)
		tu_yield(); /* t waits in its recv */
	weft_cancel(t, NULL);
	weft_await(t, NULL);
	weft_future_unref(t);
	weft_send(sp[1], "abc", 3, 0);
	char b[8];
	ep_late = weft_recv(sp[0], b, sizeof(b), 0);
	ep_flags_after[0] = fcntl(sp[0], F_GETFL);
	ep_flags_after[1] = fcntl(sp[1], F_GETFL);
	return 0;
}

Test(io, epoll_cancel_of_a_waiting_recv_removes_it, .timeout = TEST_TIMEOUT)
{
	for (unsigned workers = 1; workers <= 2; workers++) {
		pair();
		weft_config cfg = epoll_config(workers);
		cr_assert_eq(tu_run(ep_cancel_main, NULL, &cfg, NULL), 0);
		cr_assert_eq(ep_backend, WEFT_BACKEND_EPOLL);
		cr_assert_eq(ep_rc, -ECANCELED);
		cr_assert_eq(ep_late, 3, "nothing was taken by the cancelled receive");
		cr_assert_not(ep_flags_after[0] & O_NONBLOCK, "the user's descriptor stays blocking");
		cr_assert_not(ep_flags_after[1] & O_NONBLOCK);
		unpair();
	}
}

/* Does some epoll set of this process still have fd registered? (an
 * epoll descriptor's fdinfo lists each target as "tfd: N") */
static bool epoll_has(int fd)
{
	char info[64], line[256];
	bool found = false;
	for (int e = 0; e < 1024 && !found; e++) {
		snprintf(info, sizeof(info), "/proc/self/fdinfo/%d", e);
		FILE *f = fopen(info, "r");
		if (!f)
			continue;
		while (!found && fgets(line, sizeof(line), f)) {
			int t;
			if (sscanf(line, "tfd: %d", &t) == 1 && t == fd)
				found = true;
		}
		fclose(f);
	}
	return found;
}

static int ep_dup;
static bool ep_registered_before, ep_registered_after;
static int ep_close_rc;

/* weft_close takes the descriptor out of the epoll sets before closing it:
 * a dup keeps the file open, and with it any registration left behind. */
static int ep_close_main(void *arg, void **res)
{
	weft_future *t = tu_spawn(ep_blocked_recv, NULL);
	/* on 2 workers the receive may start on the other one, late under
	 * load: wait for its registration (a few yields were not always
	 * enough under TSan) */
	double end = weft_time() + 5 * WEFT_TEST_SLOW;
	while (!(ep_registered_before = epoll_has(sp[0])) && weft_time() < end)
		weft_sleep(0.001);
	ep_close_rc = weft_close(sp[0]);
	weft_await(t, NULL);
	weft_future_unref(t);
	ep_registered_after = epoll_has(sp[0]) || epoll_has(ep_dup);
	return 0;
}

Test(io, epoll_close_removes_the_descriptor_first, .timeout = TEST_TIMEOUT)
{
	pair();
	ep_dup = dup(sp[0]);
	weft_config cfg = epoll_config(2);
	cr_assert_eq(tu_run(ep_close_main, NULL, &cfg, NULL), 0);
	cr_assert(ep_registered_before, "a waiting receive registers its descriptor");
	cr_assert_eq(ep_close_rc, 0);
	cr_assert_eq(ep_rc, -EBADF);
	cr_assert_not(ep_registered_after, "closed, and in no epoll set");
	close(ep_dup);
	close(sp[1]);
}

/* A raw operation's registration stays after its result (decision 57),
 * and the descriptor may then be closed with plain close() and its number
 * given to another file weft did not make (dup2 here, deterministically):
 * a receive on the new file must still end, whether its bytes are there
 * before it starts or come while it waits, on 1 and 2 workers. */
static ssize_t ep_reuse_rc[4];
static double ep_reuse_ms[2];
static int ep_reuse_other[2];

static int ep_late_send(void *arg, void **res)
{
	weft_sleep(0.01);
	return weft_send(ep_reuse_other[1], "late", 4, 0) == 4 ? 0 : -EIO;
}

static int ep_reuse_main(void *arg, void **res)
{
	char b[16];
	int num = sp[0];
	/* a wait, then results: the registration is made and kept */
	ep_reuse_other[1] = sp[1];
	weft_future *t = tu_spawn(ep_late_send, NULL);
	ep_reuse_rc[0] = weft_recv(num, b, sizeof(b), 0);
	weft_await(t, NULL);
	weft_future_unref(t);
	ep_reuse_rc[1] = weft_send(sp[1], "x", 1, 0) == 1 ? weft_recv(num, b, sizeof(b), 0) : -1;
	/* behind weft's back: the number now names another socket */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ep_reuse_other))
		return -errno;
	close(num);
	if (dup2(ep_reuse_other[0], num) != num)
		return -errno;
	close(ep_reuse_other[0]);
	ep_reuse_other[0] = num;
	/* its bytes are there before the receive starts */
	if (write(ep_reuse_other[1], "early", 5) != 5)
		return -errno;
	double t0 = tu_now();
	ep_reuse_rc[2] = weft_recv(num, b, sizeof(b), 0);
	ep_reuse_ms[0] = (tu_now() - t0) * 1e3;
	/* its bytes come while it waits */
	t = tu_spawn(ep_late_send, NULL);
	t0 = tu_now();
	ep_reuse_rc[3] = weft_recv(num, b, sizeof(b), 0);
	ep_reuse_ms[1] = (tu_now() - t0) * 1e3;
	weft_await(t, NULL);
	weft_future_unref(t);
	close(ep_reuse_other[1]);
	return weft_close(num);
}

Test(io, epoll_plain_close_and_reuse_of_a_number_never_hangs, .timeout = TEST_TIMEOUT)
{
	for (unsigned workers = 1; workers <= 2; workers++) {
		pair();
		weft_config cfg = epoll_config(workers);
		cr_assert_eq(tu_run(ep_reuse_main, NULL, &cfg, NULL), 0);
		cr_assert_eq(ep_reuse_rc[0], 4);
		cr_assert_eq(ep_reuse_rc[1], 1);
		cr_assert_eq(ep_reuse_rc[2], 5, "the new file's bytes, there before the receive");
		cr_assert_eq(ep_reuse_rc[3], 4, "the new file's bytes, sent while it waited");
		/* bound: the trust check's 1 ms, with room for a loaded machine */
		cr_assert_lt(ep_reuse_ms[0], 2000.0);
		cr_assert_lt(ep_reuse_ms[1], 2000.0);
		close(sp[1]);
	}
}

static ssize_t ep_file_rc[4];
static char ep_file_buf[16];

/* Regular files: epoll cannot wait on them, so reads, writes, fsync and
 * openat go to the blocking pool; readiness of a file is at once (as
 * poll(2) says). */
static int ep_file_main(void *arg, void **res)
{
	char tmpl[] = "/tmp/weft-epoll-XXXXXX";
	int fd = mkstemp(tmpl);
	if (fd < 0)
		return -errno;
	unlink(tmpl);
	ep_file_rc[0] = weft_write(fd, "file data", 9, 0);
	ep_file_rc[1] = weft_fsync(fd, true);
	ep_file_rc[2] = weft_read(fd, ep_file_buf, sizeof(ep_file_buf), 0);
	ep_file_rc[3] = weft_wait_fd(fd, POLLIN, 1.0);
	return weft_close(fd);
}

Test(io, epoll_regular_files_go_to_the_pool, .timeout = TEST_TIMEOUT)
{
	weft_config cfg = epoll_config(1);
	cr_assert_eq(tu_run(ep_file_main, NULL, &cfg, NULL), 0);
	cr_assert_eq(ep_file_rc[0], 9);
	cr_assert_eq(ep_file_rc[1], 0);
	cr_assert_eq(ep_file_rc[2], 9);
	cr_assert_eq(memcmp(ep_file_buf, "file data", 9), 0);
	cr_assert(ep_file_rc[3] & POLLIN, "a regular file is always readable");
}

/* --- shutdown of the runtime ----------------------------------------- */

static ssize_t destroyed_rc = 1;

static int recv_forever(void *arg, void **res)
{
	char b;
	destroyed_rc = weft_recv(sp[0], &b, 1, 0);
	return 0;
}

Test(io, runtime_destroy_ends_a_blocked_recv, .timeout = TEST_TIMEOUT)
{
	pair();
	weft_runtime *rt = tu_runtime_cfg(NULL);
	weft_future *t = weft_spawn(rt, recv_forever, NULL, "recv_forever");
	usleep(20000);
	cr_assert_eq(weft_runtime_destroy(rt), 0);
	cr_assert(weft_future_done(t));
	weft_future_unref(t);
	cr_assert_eq(destroyed_rc, -ECANCELED);
	unpair();
}

/* --- sockets ---------------------------------------------------------- */

static char tcp_got[32];
static ssize_t tcp_n;
static int tcp_port_rc, tcp_conn_fd, tcp_acc_fd;
static uint16_t tcp_port, peer_port;
static char peer_host[64];

static int tcp_main(void *arg, void **res)
{
	const char *host = arg;
	int l = weft_tcp_listen(host, 0, 0);
	if (l < 0)
		return l;
	tcp_port_rc = weft_sockname(l, NULL, 0, &tcp_port);
	tcp_conn_fd = weft_tcp_connect(host, tcp_port);
	tcp_acc_fd = weft_accept(l, NULL, NULL, 0);
	if (tcp_conn_fd < 0 || tcp_acc_fd < 0)
		return -EIO;
	weft_peername(tcp_acc_fd, peer_host, sizeof(peer_host), &peer_port);
	weft_send(tcp_conn_fd, "ping", 4, 0);
	tcp_n = weft_recv(tcp_acc_fd, tcp_got, sizeof(tcp_got), 0);
	weft_close(tcp_conn_fd);
	weft_close(tcp_acc_fd);
	return weft_close(l);
}

Test(net, tcp_ipv4_listen_connect_accept, .timeout = TEST_TIMEOUT)
{
	cr_assert_eq(tu_run_n(2, tcp_main, "127.0.0.1", NULL), 0);
	cr_assert_eq(tcp_port_rc, 0);
	cr_assert_neq(tcp_port, 0, "port 0 picks one");
	cr_assert_eq(tcp_n, 4);
	cr_assert_eq(memcmp(tcp_got, "ping", 4), 0);
	cr_assert_str_eq(peer_host, "127.0.0.1");
	cr_assert_neq(peer_port, 0);
}

Test(net, tcp_ipv6_loopback, .timeout = TEST_TIMEOUT)
{
	int rc = tu_run_n(1, tcp_main, "::1", NULL);
	if (rc == -EADDRNOTAVAIL || rc == -EAFNOSUPPORT)
		cr_skip_test("SKIP: no IPv6 loopback here");
	cr_assert_eq(rc, 0);
	cr_assert_eq(tcp_n, 4);
	cr_assert_str_eq(peer_host, "::1");
}

Test(net, tcp_by_name_resolves_on_the_pool, .timeout = TEST_TIMEOUT)
{
	int rc = tu_run_n(1, tcp_main, "localhost", NULL);
	cr_assert_eq(rc, 0, "%s", weft_strerror(rc));
	cr_assert_eq(tcp_n, 4);
}

static int refused_rc;

static int refused_main(void *arg, void **res)
{
	/* a port that was just free: nothing listens there */
	int l = weft_tcp_listen("127.0.0.1", 0, 0);
	uint16_t port;
	weft_sockname(l, NULL, 0, &port);
	weft_close(l);
	refused_rc = weft_tcp_connect("127.0.0.1", port);
	return 0;
}

Test(net, connect_refused, .timeout = TEST_TIMEOUT)
{
	cr_assert_eq(tu_run_n(1, refused_main, NULL, NULL), 0);
	cr_assert_eq(refused_rc, -ECONNREFUSED);
}

static char unix_path[108];
static ssize_t unix_n;
static char unix_name[108];

static int unix_main(void *arg, void **res)
{
	int l = weft_unix_listen(unix_path, 0);
	if (l < 0)
		return l;
	int c = weft_unix_connect(unix_path);
	int a = weft_accept(l, NULL, NULL, 0);
	if (c < 0 || a < 0)
		return -EIO;
	weft_sockname(l, unix_name, sizeof(unix_name), NULL);
	char b[8];
	weft_send(c, "unix", 4, 0);
	unix_n = weft_recv(a, b, sizeof(b), 0);
	weft_close(a);
	weft_close(c);
	return weft_close(l);
}

Test(net, unix_stream_socket, .timeout = TEST_TIMEOUT)
{
	snprintf(unix_path, sizeof(unix_path), "/tmp/weft-test-%d.sock", (int)getpid());
	unlink(unix_path);
	cr_assert_eq(tu_run_n(1, unix_main, NULL, NULL), 0);
	unlink(unix_path);
	cr_assert_eq(unix_n, 4);
	cr_assert_str_eq(unix_name, unix_path);
}

static ssize_t udp_n, udp_reply_n;
static char udp_from[64];

static int udp_main(void *arg, void **res)
{
	int server = weft_udp_open("127.0.0.1", 0, NULL, 0);
	uint16_t port;
	weft_sockname(server, NULL, 0, &port);
	int client = weft_udp_open(NULL, 0, "127.0.0.1", port);
	if (server < 0 || client < 0)
		return -EIO;
	weft_send(client, "dgram", 5, 0);
	char b[16];
	struct sockaddr_storage from;
	socklen_t fromlen = sizeof(from);
	udp_n = weft_recvfrom(server, b, sizeof(b), (struct sockaddr *)&from, &fromlen);
	weft_sendto(server, "back", 4, (struct sockaddr *)&from, fromlen);
	udp_reply_n = weft_recv(client, b, sizeof(b), 0);
	weft_peername(client, udp_from, sizeof(udp_from), NULL);
	weft_close(client);
	return weft_close(server);
}

Test(net, udp_endpoint, .timeout = TEST_TIMEOUT)
{
	cr_assert_eq(tu_run_n(1, udp_main, NULL, NULL), 0);
	cr_assert_eq(udp_n, 5);
	cr_assert_eq(udp_reply_n, 4);
	cr_assert_str_eq(udp_from, "127.0.0.1");
}

/* --- signals ---------------------------------------------------------- */

static _Atomic int sig_got[2]; /* read by the sending thread */

static int sigterm_twice(void *arg, void **res)
{
	sig_got[0] = weft_signal_wait(SIGTERM);
	sig_got[1] = weft_signal_wait(SIGTERM);
	return 0;
}

/* Sends SIGTERM once weft's handler is in place (before that, SIGTERM
 * would end the process), then again after the first was taken. */
static void *send_sigterms(void *arg)
{
	struct sigaction sa;
	do {
		usleep(1000);
		sigaction(SIGTERM, NULL, &sa);
	} while (sa.sa_handler == SIG_DFL);
	kill(getpid(), SIGTERM);
	while (!sig_got[0])
		usleep(1000);
	usleep(10000);
	kill(getpid(), SIGTERM);
	return NULL;
}

Test(signal, sigterm_reaches_the_waiting_task_twice, .timeout = TEST_TIMEOUT)
{
	pthread_t th;
	pthread_create(&th, NULL, send_sigterms, NULL);
	cr_assert_eq(tu_run_n(2, sigterm_twice, NULL, NULL), 0);
	pthread_join(th, NULL);
	cr_assert_eq(sig_got[0], SIGTERM);
	cr_assert_eq(sig_got[1], SIGTERM);
}

static int sig_bad[3];

static int bad_signals(void *arg, void **res)
{
	sig_bad[0] = weft_signal_wait(SIGKILL);
	sig_bad[1] = weft_signal_wait(0);
	sig_bad[2] = weft_signal_wait(SIGSEGV);
	return 0;
}

Test(signal, uncatchable_or_reserved_is_einval, .timeout = TEST_TIMEOUT)
{
	cr_assert_eq(weft_signal_wait(SIGTERM), -EPERM);
	cr_assert_eq(tu_run_n(1, bad_signals, NULL, NULL), 0);
	cr_assert_eq(sig_bad[0], -EINVAL);
	cr_assert_eq(sig_bad[1], -EINVAL);
	cr_assert_eq(sig_bad[2], -EINVAL);
}
