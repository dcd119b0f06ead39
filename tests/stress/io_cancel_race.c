/* SPDX-License-Identifier: MIT */
/*
 * Raw-operation cancellation racing incoming data (io.h's rules), on 2
 * workers. A writer task sends a numbered byte stream into a socketpair
 * in pieces of 1-64 bytes; a reader task receives it with weft_recv into
 * buffers of 1-64 bytes while it is cancelled over and over, by a
 * canceller task (on either worker: some cancels go to the operation's
 * worker as posted jobs) and by timeout scopes of 0-50 us of its own.
 *
 * Invariants: every byte sent arrives exactly once and in order (the
 * cancelled recv's result or a later read: nothing read from the socket
 * is lost); a recv returns bytes, -ECANCELED or -ETIMEDOUT (from its
 * scope) and nothing else; cancellations are delivered at most once per
 * cancel that returned true. Then, for the close rule: readers blocked on
 * a descriptor that another task weft_closes end -EBADF, every time. Then
 * runtime destroy racing incoming data: a foreign thread writes while a
 * task reads, and the runtime is destroyed mid-stream; what the task got
 * plus what is left in the socket is exactly what was written. And a
 * receive cancelled from the other worker gets its cancellation once:
 * the -ECANCELED it ends with, never again at the next suspension.
 * A hang fails the watchdog.
 */
#include <pthread.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

#define PIECE_MAX 64

static long min_bytes;          /* the stream is at least this long */
static long total_bytes;        /* and this long in the end (the writer) */
static long ncancels;           /* cancels the canceller makes */
static _Atomic int cancels_done;
static int sp[2];
static weft_future *reader;
static weft_future *reader_started; /* the canceller starts after it: a task
				     * cancelled before its first run never runs */
static _Atomic int reader_done;
static _Atomic long progress;

static long received, bad_rc, order_errors;
static long delivered;          /* -ECANCELED seen by the reader */
static long timed_out;
static _Atomic long cancels_true;

static uint32_t rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static int writer(void *arg, void **res)
{
	uint32_t seed = 12345;
	unsigned char buf[PIECE_MAX];
	long sent = 0;
	/* until the canceller is done, then one more piece */
	while (sent < min_bytes || !atomic_load(&cancels_done)) {
		long n = 1 + (long)(rnd(&seed) % PIECE_MAX);
		for (long i = 0; i < n; i++)
			buf[i] = (unsigned char)((sent + i) % 251);
		long off = 0;
		while (off < n) {
			ssize_t k = weft_send(sp[1], buf + off, (size_t)(n - off), 0);
			STRESS_CHECK(k > 0, "send returned %zd", k);
			if (k <= 0)
				return -EIO;
			off += k;
		}
		sent += n;
		uint32_t r = rnd(&seed) % 64;
		if (r == 0)
			weft_sleep(0.0002); /* the reader blocks: its scopes expire */
		else if (r < 16)
			weft_sleep(0);
	}
	total_bytes = sent;
	shutdown(sp[1], SHUT_WR);
	return 0;
}

static int reader_fn(void *arg, void **res)
{
	uint32_t seed = 777;
	unsigned char buf[PIECE_MAX];
	/* a completer holds a reference to what it completes: main drops
	 * its own as soon as it sees the result, while set_result may still
	 * be releasing the future's lock */
	weft_future *started = arg;
	weft_future_set_result(started, NULL);
	weft_future_unref(started);
	for (;;) {
		size_t want = 1 + rnd(&seed) % PIECE_MAX;
		ssize_t n;
		if (rnd(&seed) % 8 == 0) {
			weft_timeout scope;
			weft_timeout_enter_after(&scope, (double)(rnd(&seed) % 50) * 1e-6);
			n = weft_recv(sp[0], buf, want, 0);
			int rc = weft_timeout_exit(&scope, n < 0 ? (int)n : 0);
			if (rc == -ETIMEDOUT) {
				timed_out++;
				STRESS_CHECK(n == -ECANCELED, "a timed-out recv got %zd", n);
				continue;
			}
		} else {
			n = weft_recv(sp[0], buf, want, 0);
		}
		if (n == -ECANCELED) {
			delivered++;
			continue;
		}
		if (n == 0)
			break; /* EOF: the writer is done */
		if (n < 0) {
			bad_rc++;
			STRESS_CHECK(n > 0, "recv returned %zd", n);
			break;
		}
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != (unsigned char)((received + i) % 251))
				order_errors++;
		received += n;
		atomic_store_explicit(&progress, received, memory_order_relaxed);
		/* a cancel that lost to the data is delivered here, once */
		if (weft_sleep(0) == -ECANCELED)
			delivered++;
	}
	atomic_store(&reader_done, 1);
	return 0;
}

static int canceller(void *arg, void **res)
{
	uint32_t seed = 4242;
	for (long i = 0; i < ncancels && !atomic_load(&reader_done); i++) {
		if (weft_cancel(reader, NULL))
			atomic_fetch_add(&cancels_true, 1);
		int spins = (int)(rnd(&seed) % 4);
		for (int k = 0; k < spins; k++)
			weft_sleep(0);
		if (rnd(&seed) % 256 == 0)
			weft_sleep(0.0001);
	}
	atomic_store(&cancels_done, 1);
	return 0;
}

/* --- the close rule ----------------------------------------------------- */

static long close_rounds;
static _Atomic long close_ebadf, close_other; /* readers run on both workers */

static int blocked_reader(void *arg, void **res)
{
	int fd = (int)(intptr_t)arg;
	char b;
	ssize_t n = weft_recv(fd, &b, 1, 0);
	atomic_fetch_add(n == -EBADF ? &close_ebadf : &close_other, 1);
	return 0;
}

static int close_round(void)
{
	int p[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p))
		return -errno;
	weft_future *r[3];
	for (int i = 0; i < 3; i++)
		r[i] = weft_create_task(blocked_reader, (void *)(intptr_t)p[0], NULL);
	for (int i = 0; i < 4; i++)
		weft_sleep(0);
	int rc = weft_close(p[0]);
	STRESS_CHECK(rc == 0, "weft_close returned %d", rc);
	for (int i = 0; i < 3; i++) {
		weft_await(r[i], NULL);
		weft_future_unref(r[i]);
	}
	close(p[1]);
	return 0;
}

/* --- one delivery per cancel ------------------------------------------ */

/* A receive blocked on one worker and cancelled from the other ends
 * -ECANCELED, and that is the delivery: the task's next suspension and
 * its next receive (of a byte sent after) see no second one. */
static long once_rounds, once_skipped;
static _Atomic long once_second_cancel, once_other;

struct once {
	int fd;
	ssize_t first, pending, second;
	atomic_int first_done;
};

static int once_reader(void *arg, void **res)
{
	struct once *o = arg;
	char b;
	o->first = weft_recv(o->fd, &b, 1, 0);
	atomic_store(&o->first_done, 1);
	o->pending = weft_sleep(0);
	o->second = weft_recv(o->fd, &b, 1, 0);
	return 0;
}

static int once_round(void)
{
	int p[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p))
		return -errno;
	struct once o = {.fd = p[0]};
	weft_future *t = weft_create_task(once_reader, &o, NULL);
	for (int i = 0; i < 3; i++)
		weft_sleep(0);
	weft_cancel(t, NULL);
	while (!atomic_load(&o.first_done) && !weft_future_done(t))
		weft_sleep(0);
	if (atomic_load(&o.first_done)) {
		(void)!write(p[1], "z", 1);
		weft_await(t, NULL);
		if (o.pending == -ECANCELED || o.second == -ECANCELED)
			atomic_fetch_add(&once_second_cancel, 1);
		else if (o.first != -ECANCELED || o.pending != 0 || o.second != 1)
			atomic_fetch_add(&once_other, 1);
	} else {
		once_skipped++; /* cancelled before its first run: it never ran */
	}
	weft_future_unref(t);
	close(p[0]);
	close(p[1]);
	return 0;
}

/* --- destroy racing data ---------------------------------------------- */

static long destroy_rounds;

struct destroy_round {
	int sv[2];
	long got;            /* bytes the task received */
	_Atomic long wrote;  /* bytes the writer thread wrote */
	_Atomic int stop;
};

static int destroy_reader(void *arg, void **res)
{
	struct destroy_round *d = arg;
	char b[PIECE_MAX];
	for (;;) {
		ssize_t n = weft_recv(d->sv[0], b, sizeof(b), 0);
		if (n <= 0)
			return n == -ECANCELED ? 0 : (int)n;
		d->got += n;
	}
}

static void *destroy_writer(void *arg)
{
	struct destroy_round *d = arg;
	char b[PIECE_MAX] = {0};
	uint32_t seed = (uint32_t)(uintptr_t)arg | 1;
	while (!atomic_load(&d->stop)) {
		ssize_t k = send(d->sv[1], b, 1 + rnd(&seed) % PIECE_MAX, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (k > 0)
			atomic_fetch_add(&d->wrote, k);
	}
	return NULL;
}

static void destroy_round(long i)
{
	struct destroy_round d = {.got = 0};
	atomic_init(&d.wrote, 0);
	atomic_init(&d.stop, 0);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, d.sv))
		return;
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.workers = 2;
	weft_runtime *rt;
	stress_require_runtime(weft_runtime_create(&cfg, &rt));
	weft_future *t = weft_spawn(rt, destroy_reader, &d, "reader");
	pthread_t w;
	pthread_create(&w, NULL, destroy_writer, &d);
	usleep((useconds_t)(i % 7) * 100);
	weft_runtime_destroy(rt); /* the reader is cancelled mid-stream */
	atomic_store(&d.stop, 1);
	pthread_join(w, NULL);
	/* 0, or -ECANCELED when destroy came before its first run */
	int rc = weft_future_exception(t);
	STRESS_CHECK(weft_future_done(t) && (rc == 0 || rc == -ECANCELED),
		     "the reader ended with %d", rc);
	weft_future_unref(t);
	/* what the task did not take is still in the socket, to the byte */
	long left = 0;
	char b[4096];
	ssize_t n;
	while ((n = recv(d.sv[0], b, sizeof(b), MSG_DONTWAIT)) > 0)
		left += n;
	STRESS_CHECK(d.got + left == atomic_load(&d.wrote),
		     "round %ld: %ld received + %ld left != %ld written", i, d.got, left,
		     atomic_load(&d.wrote));
	close(d.sv[0]);
	close(d.sv[1]);
	atomic_fetch_add(&progress, 1);
}

static int main_task(void *arg, void **res)
{
	reader_started = weft_future_create(NULL);
	reader = weft_create_task(reader_fn, weft_future_ref(reader_started), "reader");
	weft_future *w = weft_create_task(writer, NULL, "writer");
	weft_await(reader_started, NULL);
	weft_future_unref(reader_started);
	weft_future *c = weft_create_task(canceller, NULL, "canceller");
	weft_await(w, NULL);
	weft_await(reader, NULL);
	weft_await(c, NULL);
	weft_future_unref(w);
	weft_future_unref(c);
	for (long i = 0; i < close_rounds; i++) {
		close_round();
		atomic_fetch_add(&progress, 1);
	}
	for (long i = 0; i < once_rounds; i++) {
		once_round();
		atomic_fetch_add(&progress, 1);
	}
	return 0;
}

static void *watchdog(void *arg)
{
	long last = -1;
	double since = stress_elapsed();
	for (;;) {
		sleep(1);
		long now = atomic_load(&progress);
		if (now != last) {
			last = now;
			since = stress_elapsed();
		} else if (stress_elapsed() - since > 30 * WEFT_TEST_SLOW) {
			fprintf(stderr, "io_cancel_race: FAIL: no progress for 30 s (%ld bytes)\n", now);
			_exit(1);
		}
	}
	return NULL;
}

int main(void)
{
	stress_begin("io_cancel_race");
	min_bytes = stress_count(1000000);
	ncancels = stress_count(100000);
	close_rounds = stress_count(2000);
	destroy_rounds = stress_count(300);
	once_rounds = stress_count(4000);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp)) {
		perror("socketpair");
		return 1;
	}
	pthread_t wd;
	pthread_create(&wd, NULL, watchdog, NULL);
	pthread_detach(wd);
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.workers = 2;
	weft_runtime *rt;
	stress_require_runtime(weft_runtime_create(&cfg, &rt));
	weft_future *m = weft_spawn(rt, main_task, NULL, "main");
	int rc = weft_future_wait(m, WEFT_FOREVER, NULL);
	weft_future_unref(m);
	weft_future_unref(reader);
	weft_runtime_destroy(rt);
	for (long i = 0; i < destroy_rounds; i++)
		destroy_round(i);
	STRESS_CHECK(rc == 0, "main returned %d", rc);
	STRESS_CHECK(received == total_bytes, "received %ld of %ld bytes", received, total_bytes);
	STRESS_CHECK(order_errors == 0, "%ld bytes out of order or wrong", order_errors);
	STRESS_CHECK(bad_rc == 0, "%ld unexpected recv results", bad_rc);
	long ct = atomic_load(&cancels_true);
	STRESS_CHECK(delivered <= ct, "%ld cancellations delivered for %ld cancels", delivered, ct);
	long ebadf = atomic_load(&close_ebadf), other = atomic_load(&close_other);
	STRESS_CHECK(ebadf == 3 * close_rounds && other == 0,
		     "closing ended %ld of %ld blocked reads with -EBADF (%ld otherwise)", ebadf,
		     3 * close_rounds, other);
	STRESS_CHECK(once_second_cancel == 0 && once_other == 0,
		     "of %ld cancelled receives, %ld had a second cancellation delivered, %ld "
		     "other results", once_rounds - once_skipped, atomic_load(&once_second_cancel),
		     atomic_load(&once_other));
	close(sp[0]);
	close(sp[1]);
	STRESS_CHECK(ct >= ncancels / 2, "only %ld of %ld cancels found the reader running", ct,
		     ncancels);
	printf("io_cancel_race: %ld bytes, %ld cancels (%ld true), %ld delivered, %ld timeouts, "
	       "%ld close rounds, %ld destroy rounds, %ld single-delivery rounds\n",
	       received, ncancels, ct, delivered, timed_out, close_rounds, destroy_rounds,
	       once_rounds - once_skipped);
	return stress_end();
}
