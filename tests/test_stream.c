/* SPDX-License-Identifier: MIT */
/*
 * Streams and servers (weft/stream.h), asyncio's test_streams.py rules:
 * a stream over one end of a socketpair, its peer the other end driven by
 * raw operations that write in odd-sized pieces (1 byte, 7 bytes, across
 * the limit, a separator split over two writes).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test_util.h"

static int peer;              /* the raw end */
static weft_stream *st;       /* the stream end */

/* Sends s in pieces of `piece` bytes, yielding between them. */
static void send_pieces(const char *s, size_t len, size_t piece)
{
	for (size_t off = 0; off < len; off += piece) {
		size_t n = len - off < piece ? len - off : piece;
		weft_send(peer, s + off, n, 0);
		weft_sleep(0.001);
	}
}

struct feed {
	const char *data;
	size_t len, piece;
	bool eof;
};

static int feeder(void *arg, void **res)
{
	struct feed *f = arg;
	send_pieces(f->data, f->len, f->piece);
	if (f->eof)
		shutdown(peer, SHUT_WR);
	return 0;
}

typedef int (*body_fn)(void);
static body_fn body;
static struct feed feed;

/* Makes the pair and the stream (limit `lim`), runs the feeder beside
 * body(), frees everything. */
static size_t lim;

static int pair_main(void *arg, void **res)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return -errno;
	peer = sv[1];
	int rc = weft_stream_from_fd(sv[0], lim, &st);
	if (rc)
		return rc;
	weft_future *f = feed.data ? tu_spawn(feeder, &feed) : NULL;
	rc = body();
	if (f) {
		weft_cancel(f, NULL);
		weft_await(f, NULL);
		weft_future_unref(f);
	}
	weft_stream_free(st);
	weft_close(peer);
	return rc;
}

static bool no_buffers; /* cfg.ring_no_buffers: plain receives into the stream */

static int run_with(body_fn b, const char *data, size_t piece, bool eof, size_t limit)
{
	body = b;
	feed = (struct feed){.data = data, .len = data ? strlen(data) : 0, .piece = piece, .eof = eof};
	lim = limit;
	weft_config cfg = tu_config(1);
	cfg.ring_no_buffers = no_buffers;
	return tu_run(pair_main, NULL, &cfg, NULL);
}

/* --- read ---------------------------------------------------------------- */

static char buf[256];
static size_t got;
static ssize_t r1, r2, r3;
static bool eof_before, eof_after;

static int read_body(void)
{
	r1 = weft_stream_read(st, buf, 3);
	eof_before = weft_stream_at_eof(st);
	size_t total = (size_t)r1;
	while ((r2 = weft_stream_read(st, buf + total, sizeof(buf) - total)) > 0)
		total += (size_t)r2;
	got = total;
	eof_after = weft_stream_at_eof(st);
	return 0;
}

Test(stream, read_in_1_byte_pieces_then_eof, .timeout = TEST_TIMEOUT)
{
	cr_assert_eq(run_with(read_body, "hello world", 1, true, 0), 0);
	cr_assert_geq(r1, 1);
	cr_assert_leq(r1, 3);
	cr_assert_not(eof_before);
	cr_assert_eq(r2, 0, "0 at EOF");
	cr_assert_eq(got, 11);
	cr_assert_eq(memcmp(buf, "hello world", 11), 0);
	cr_assert(eof_after);
}

static int to_eof_rc, to_eof_small;

static int to_eof_body(void)
{
	char small[4];
	size_t g;
	to_eof_small = weft_stream_read_to_eof(st, small, sizeof(small), &g);
	to_eof_rc = weft_stream_read_to_eof(st, buf, sizeof(buf), &got);
	return 0;
}

Test(stream, read_to_eof_bounded, .timeout = TEST_TIMEOUT)
{
	cr_assert_eq(run_with(to_eof_body, "0123456789abcdef", 7, true, 0), 0);
	cr_assert_eq(to_eof_small, -EOVERFLOW, "more than cap before EOF");
	cr_assert_eq(to_eof_rc, 0);
	cr_assert_eq(got, 16, "nothing was taken by the overflowing call");
	cr_assert_eq(memcmp(buf, "0123456789abcdef", 16), 0);
}

/* --- readexactly -------------------------------------------------------- */

static int ex_rc1, ex_rc2;
static size_t ex_got1, ex_got2;
static char ex1[8], ex2[16];

static int exactly_body(void)
{
	ex_rc1 = weft_stream_readexactly(st, ex1, 5, &ex_got1);
	ex_rc2 = weft_stream_readexactly(st, ex2, 10, &ex_got2); /* EOF after 4 */
	r3 = weft_stream_read(st, buf, 1);                       /* cleared */
	return 0;
}

Test(stream, readexactly_and_incomplete_read, .timeout = TEST_TIMEOUT)
{
	cr_assert_eq(run_with(exactly_body, "abcdefghi", 7, true, 0), 0);
	cr_assert_eq(ex_rc1, 0);
	cr_assert_eq(ex_got1, 5);
	cr_assert_eq(memcmp(ex1, "abcde", 5), 0);
	cr_assert_eq(ex_rc2, -EPIPE, "IncompleteReadError");
	cr_assert_eq(ex_got2, 4, "the partial count");
	cr_assert_eq(memcmp(ex2, "fghi", 4), 0, "the partial bytes");
	cr_assert_eq(r3, 0, "the buffer was cleared: EOF");
}

/* --- readuntil / readline -------------------------------------------- */

static int u_rc[4];
static size_t u_got[4];
static char u_buf[4][64];

static int until_split_body(void)
{
	static const char *const crlf[] = {"\r\n"};
	u_rc[0] = weft_stream_readuntil(st, crlf, 1, u_buf[0], 64, &u_got[0]);
	u_rc[1] = weft_stream_readuntil(st, crlf, 1, u_buf[1], 64, &u_got[1]);
	return 0;
}

Test(stream, readuntil_separator_split_over_two_reads, .timeout = TEST_TIMEOUT)
{
	/* 1-byte pieces: "\r" and "\n" arrive in different reads */
	cr_assert_eq(run_with(until_split_body, "one\r\ntwo\r\n", 1, true, 0), 0);
	cr_assert_eq(u_rc[0], 0);
	cr_assert_eq(u_got[0], 5);
	cr_assert_eq(memcmp(u_buf[0], "one\r\n", 5), 0);
	cr_assert_eq(u_rc[1], 0);
	cr_assert_eq(memcmp(u_buf[1], "two\r\n", 5), 0);
}

static int until_multi_body(void)
{
	static const char *const seps[] = {"END", "\n", "X"};
	/* buffered "abc\nEND": "\n" ends first */
	weft_sleep(0.05);
	u_rc[0] = weft_stream_readuntil(st, seps, 3, u_buf[0], 64, &u_got[0]);
	u_rc[1] = weft_stream_readuntil(st, seps, 3, u_buf[1], 64, &u_got[1]);
	return 0;
}

Test(stream, readuntil_earliest_ending_separator_wins, .timeout = TEST_TIMEOUT)
{
	cr_assert_eq(run_with(until_multi_body, "abc\nEND", 7, false, 0), 0);
	cr_assert_eq(u_rc[0], 0);
	cr_assert_eq(u_got[0], 4);
	cr_assert_eq(u_rc[1], 0);
	cr_assert_eq(u_got[1], 3);
	cr_assert_eq(memcmp(u_buf[1], "END", 3), 0);
}

static int until_limit_body(void)
{
	static const char *const nl[] = {"\n"};
	weft_sleep(0.05); /* everything buffered */
	/* not found within limit (8): overrun, data kept */
	u_rc[0] = weft_stream_readuntil(st, nl, 1, u_buf[0], 64, &u_got[0]);
	u_rc[1] = weft_stream_readexactly(st, u_buf[1], 20, &u_got[1]);
	return 0;
}

Test(stream, readuntil_overrun_keeps_the_data, .timeout = TEST_TIMEOUT)
{
	cr_assert_eq(run_with(until_limit_body, "0123456789abcdefghij", 7, false, 8), 0);
	cr_assert_eq(u_rc[0], -EOVERFLOW, "LimitOverrunError");
	cr_assert_gt(u_got[0], 8, "how much was scanned");
	cr_assert_eq(u_rc[1], 0, "the data stayed buffered");
	cr_assert_eq(memcmp(u_buf[1], "0123456789abcdefghij", 20), 0);
}

static int found_beyond_body(void)
{
	static const char *const nl[] = {"\n"};
	weft_sleep(0.05);
	u_rc[0] = weft_stream_readuntil(st, nl, 1, u_buf[0], 64, &u_got[0]);
	u_rc[1] = weft_stream_readexactly(st, u_buf[1], 11, &u_got[1]);
	return 0;
}

Test(stream, readuntil_found_beyond_limit_leaves_the_buffer, .timeout = TEST_TIMEOUT)
{
	cr_assert_eq(run_with(found_beyond_body, "0123456789\n", 11, false, 8), 0);
	cr_assert_eq(u_rc[0], -EOVERFLOW);
	cr_assert_eq(u_got[0], 10, "where the separator starts");
	cr_assert_eq(u_rc[1], 0, "buffer untouched");
	cr_assert_eq(memcmp(u_buf[1], "0123456789\n", 11), 0);
}

static int until_eof_body(void)
{
	static const char *const nl[] = {"\n"};
	u_rc[0] = weft_stream_readuntil(st, nl, 1, u_buf[0], 64, &u_got[0]); /* a complete one first */
	u_rc[1] = weft_stream_readuntil(st, nl, 1, u_buf[1], 64, &u_got[1]); /* then EOF */
	r3 = weft_stream_read(st, buf, 1);
	return 0;
}

Test(stream, readuntil_eof_gives_the_partial_and_clears, .timeout = TEST_TIMEOUT)
{
	cr_assert_eq(run_with(until_eof_body, "line\ntail", 7, true, 0), 0);
	cr_assert_eq(u_rc[0], 0, "a complete separator buffered is found before EOF");
	cr_assert_eq(u_got[0], 5);
	cr_assert_eq(u_rc[1], -EPIPE);
	cr_assert_eq(u_got[1], 4);
	cr_assert_eq(memcmp(u_buf[1], "tail", 4), 0);
	cr_assert_eq(r3, 0);
}

static int line_body(void)
{
	u_rc[0] = weft_stream_readline(st, u_buf[0], 64, &u_got[0]);
	u_rc[1] = weft_stream_readline(st, u_buf[1], 64, &u_got[1]); /* the partial at EOF */
	u_rc[2] = weft_stream_readline(st, u_buf[2], 64, &u_got[2]); /* EOF: empty */
	return 0;
}

Test(stream, readline_partial_at_eof, .timeout = TEST_TIMEOUT)
{
	cr_assert_eq(run_with(line_body, "first\nlast", 1, true, 0), 0);
	cr_assert_eq(u_rc[0], 0);
	cr_assert_eq(u_got[0], 6);
	cr_assert_eq(u_rc[1], 0);
	cr_assert_eq(u_got[1], 4);
	cr_assert_eq(memcmp(u_buf[1], "last", 4), 0);
	cr_assert_eq(u_rc[2], 0);
	cr_assert_eq(u_got[2], 0);
}

static int line_overrun_body(void)
{
	weft_sleep(0.05);
	/* limit 8: "0123456789\n" overruns; discarded through the newline */
	u_rc[0] = weft_stream_readline(st, u_buf[0], 64, &u_got[0]);
	u_rc[1] = weft_stream_readline(st, u_buf[1], 64, &u_got[1]);
	return 0;
}

Test(stream, readline_overrun_discards_through_the_newline, .timeout = TEST_TIMEOUT)
{
	cr_assert_eq(run_with(line_overrun_body, "0123456789\nok\n", 14, false, 8), 0);
	cr_assert_eq(u_rc[0], -EOVERFLOW);
	cr_assert_eq(u_rc[1], 0);
	cr_assert_eq(u_got[1], 3);
	cr_assert_eq(memcmp(u_buf[1], "ok\n", 3), 0);
}

/* The same rules where the kernel gives no buffer ring (or
 * cfg.ring_no_buffers): the stream receives into its own buffer. */
Test(stream, without_the_buffer_pool_pieces_and_eof, .timeout = TEST_TIMEOUT)
{
	no_buffers = true;
	cr_assert_eq(run_with(read_body, "hello world", 1, true, 0), 0);
	no_buffers = false;
	cr_assert_eq(r2, 0, "0 at EOF");
	cr_assert_eq(got, 11);
	cr_assert_eq(memcmp(buf, "hello world", 11), 0);
}

Test(stream, without_the_buffer_pool_readline_overrun, .timeout = TEST_TIMEOUT)
{
	no_buffers = true;
	cr_assert_eq(run_with(line_overrun_body, "0123456789\nok\n", 14, false, 8), 0);
	no_buffers = false;
	cr_assert_eq(u_rc[0], -EOVERFLOW);
	cr_assert_eq(u_rc[1], 0);
	cr_assert_eq(memcmp(u_buf[1], "ok\n", 3), 0);
}

/* --- readers: one at a time, cancellable --------------------------------- */

static ssize_t second_rc, first_rc, cancelled_rc, kept_rc;

static int first_reader(void *arg, void **res)
{
	first_rc = weft_stream_read(st, buf, sizeof(buf));
	return 0;
}

static int two_readers_body(void)
{
	weft_future *t = tu_spawn(first_reader, NULL);
	tu_yield();
	second_rc = weft_stream_read(st, buf, sizeof(buf)); /* t waits already */
	weft_send(peer, "x", 1, 0);
	weft_await(t, NULL);
	weft_future_unref(t);
	return 0;
}

Test(stream, a_second_reader_is_eperm, .timeout = TEST_TIMEOUT)
{
	cr_assert_eq(run_with(two_readers_body, NULL, 1, false, 0), 0);
	cr_assert_eq(second_rc, -EPERM);
	cr_assert_eq(first_rc, 1);
}

static int cancelled_reader(void *arg, void **res)
{
	cancelled_rc = weft_stream_read(st, buf, sizeof(buf));
	return 0;
}

static int cancel_read_body(void)
{
	weft_future *t = tu_spawn(cancelled_reader, NULL);
	tu_yield();
	weft_cancel(t, NULL);
	weft_await(t, NULL); /* returns at once: no kernel operation to wait for */
	weft_future_unref(t);
	weft_send(peer, "kept", 4, 0);
	kept_rc = weft_stream_read(st, buf, sizeof(buf));
	return 0;
}

Test(stream, a_cancelled_read_returns_at_once_and_bytes_stay, .timeout = TEST_TIMEOUT)
{
	cr_assert_eq(run_with(cancel_read_body, NULL, 1, false, 0), 0);
	cr_assert_eq(cancelled_rc, -ECANCELED);
	cr_assert_eq(kept_rc, 4);
	cr_assert_eq(memcmp(buf, "kept", 4), 0);
}

/* --- writing ------------------------------------------------------------ */

static int drain_rc, drained_early;
static long peer_read;

static int slow_peer(void *arg, void **res)
{
	char b[4096];
	weft_sleep(0.05); /* the writer blocks in drain meanwhile */
	ssize_t n;
	while ((n = weft_recv(peer, b, sizeof(b), 0)) > 0)
		peer_read += n;
	return 0;
}

static int drain_body(void)
{
	static char chunk[64 * 1024];
	memset(chunk, 'w', sizeof(chunk));
	for (int i = 0; i < 16; i++) /* 1 MiB: far above the high-water mark */
		weft_stream_write(st, chunk, sizeof(chunk));
	weft_future *p = tu_spawn(slow_peer, NULL);
	double t0 = weft_time();
	drain_rc = weft_stream_drain(st);
	drained_early = weft_time() - t0 < 0.04; /* it waited for the peer */
	weft_stream_close(st);
	weft_stream_wait_closed(st);
	weft_await(p, NULL);
	weft_future_unref(p);
	return 0;
}

Test(stream, drain_waits_for_the_low_water_mark_and_close_flushes, .timeout = TEST_TIMEOUT)
{
	cr_assert_eq(run_with(drain_body, NULL, 1, false, 0), 0);
	cr_assert_eq(drain_rc, 0);
	cr_assert_not(drained_early);
	cr_assert_eq(peer_read, 16 * 64 * 1024, "close flushed everything, then EOF");
}

static int abort_peer_n;

static int abort_body(void)
{
	static char chunk[64 * 1024];
	memset(chunk, 'a', sizeof(chunk));
	for (int i = 0; i < 16; i++)
		weft_stream_write(st, chunk, sizeof(chunk));
	weft_stream_abort(st);
	weft_stream_wait_closed(st);
	char b[4096];
	ssize_t n;
	long total = 0;
	while ((n = weft_recv(peer, b, sizeof(b), 0)) > 0)
		total += n;
	abort_peer_n = total < 16 * 64 * 1024;
	return weft_stream_write(st, "x", 1) == -EPIPE ? 0 : -EIO;
}

Test(stream, abort_drops_unsent_data, .timeout = TEST_TIMEOUT)
{
	cr_assert_eq(run_with(abort_body, NULL, 1, false, 0), 0);
	cr_assert(abort_peer_n, "not everything arrived");
}

static ssize_t eof_peer_rc, after_eof_read;
static int write_after_eof;

static int write_eof_body(void)
{
	weft_stream_write(st, "bye", 3);
	weft_stream_write_eof(st);
	write_after_eof = weft_stream_write(st, "more", 4);
	char b[8];
	ssize_t n = weft_recv(peer, b, sizeof(b), 0);
	eof_peer_rc = weft_recv(peer, b + n, sizeof(b) - (size_t)n, 0); /* EOF */
	weft_send(peer, "still", 5, 0); /* the stream still reads */
	after_eof_read = weft_stream_read(st, buf, sizeof(buf));
	return n == 3 ? 0 : -EIO;
}

Test(stream, write_eof_shuts_the_write_side_only, .timeout = TEST_TIMEOUT)
{
	cr_assert_eq(run_with(write_eof_body, NULL, 1, false, 0), 0);
	cr_assert_eq(write_after_eof, -EPIPE);
	cr_assert_eq(eof_peer_rc, 0);
	cr_assert_eq(after_eof_read, 5);
}

static int peer_eof_write_rc;

static int peer_eof_body(void)
{
	shutdown(peer, SHUT_WR);
	r1 = weft_stream_read(st, buf, sizeof(buf));
	/* the peer's EOF never closes the writer */
	peer_eof_write_rc = weft_stream_write(st, "ok", 2);
	weft_stream_drain(st);
	char b[4];
	r2 = weft_recv(peer, b, sizeof(b), 0);
	return 0;
}

Test(stream, the_peers_eof_leaves_the_writer_open, .timeout = TEST_TIMEOUT)
{
	cr_assert_eq(run_with(peer_eof_body, NULL, 1, false, 0), 0);
	cr_assert_eq(r1, 0);
	cr_assert_eq(peer_eof_write_rc, 0);
	cr_assert_eq(r2, 2);
}

/* --- servers -------------------------------------------------------------- */

static _Atomic int served, handlers_ended;

static int echo_client(weft_stream *s, void *arg)
{
	char line[128];
	size_t n;
	atomic_fetch_add(&served, 1);
	while (weft_stream_readline(s, line, sizeof(line), &n) == 0 && n) {
		weft_stream_write(s, line, n);
		if (weft_stream_drain(s))
			break;
	}
	atomic_fetch_add(&handlers_ended, 1);
	return 0;
}

static int srv_rc[8];
static size_t srv_conns_after_close;
static char srv_line[64];

static int server_main(void *arg, void **res)
{
	weft_server *srv;
	int rc = weft_start_server(echo_client, NULL, "127.0.0.1", 0, 0, &srv);
	if (rc)
		return rc;
	uint16_t port;
	weft_server_sockname(srv, NULL, 0, &port);
	weft_stream *c1, *c2;
	srv_rc[0] = weft_open_connection("127.0.0.1", port, 0, &c1);
	srv_rc[1] = weft_open_connection("127.0.0.1", port, 0, &c2);
	weft_stream_write(c1, "hi\n", 3);
	size_t n;
	srv_rc[2] = weft_stream_readline(c1, srv_line, sizeof(srv_line), &n);
	/* close: no more listening; the connections go on */
	weft_server_close(srv);
	weft_stream_write(c2, "still\n", 6);
	srv_rc[3] = weft_stream_readline(c2, srv_line, sizeof(srv_line), &n);
	srv_conns_after_close = weft_server_connections(srv);
	weft_stream *c3;
	srv_rc[4] = weft_open_connection("127.0.0.1", port, 0, &c3);
	if (!srv_rc[4])
		weft_stream_free(c3);
	/* close_clients: the server closes their streams: EOF here */
	weft_server_close_clients(srv);
	srv_rc[5] = weft_stream_readline(c1, srv_line, sizeof(srv_line), &n) == 0 && n == 0;
	weft_stream_free(c1);
	weft_stream_free(c2);
	srv_rc[6] = weft_server_wait_closed(srv);
	srv_rc[7] = (int)weft_server_connections(srv);
	weft_server_free(srv);
	return 0;
}

Test(server, serve_close_close_clients_wait_closed, .timeout = TEST_TIMEOUT)
{
	cr_assert_eq(tu_run_n(2, server_main, NULL, NULL), 0);
	cr_assert_eq(srv_rc[0], 0);
	cr_assert_eq(srv_rc[1], 0);
	cr_assert_eq(srv_rc[2], 0);
	cr_assert_eq(srv_rc[3], 0, "a connection goes on after server close");
	cr_assert_str_eq(srv_line, "still\n");
	cr_assert_eq(srv_conns_after_close, 2);
	cr_assert_eq(srv_rc[4], -ECONNREFUSED, "no longer listening");
	cr_assert(srv_rc[5], "close_clients: the client sees EOF");
	cr_assert_eq(srv_rc[6], 0);
	cr_assert_eq(srv_rc[7], 0, "wait_closed: no connection left");
	cr_assert_eq(atomic_load(&served), 2);
	cr_assert_eq(atomic_load(&handlers_ended), 2);
}

/* A connection task cancelled before it first runs still has its socket
 * closed: the runtime is destroyed while connections wait to start. */
static _Atomic int never_ran_entered;
static _Atomic uint16_t never_port; /* polled by the test thread */

static int never_runs(weft_stream *s, void *arg)
{
	atomic_fetch_add(&never_ran_entered, 1);
	weft_sleep(WEFT_FOREVER);
	return 0;
}

static int hold_server(void *arg, void **res)
{
	weft_server *srv;
	int rc = weft_start_server(never_runs, NULL, "127.0.0.1", 0, 0, &srv);
	if (rc)
		return rc;
	uint16_t port = 0;
	weft_server_sockname(srv, NULL, 0, &port);
	atomic_store(&never_port, port);
	rc = weft_server_serve_forever(srv); /* until shutdown cancels it */
	weft_server_free(srv);
	return rc;
}

Test(server, shutdown_closes_every_connection, .timeout = TEST_TIMEOUT)
{
	weft_runtime *rt = tu_runtime_cfg(NULL);
	weft_future *t = weft_spawn(rt, hold_server, NULL, "server");
	while (!atomic_load(&never_port))
		usleep(1000);
	int fds[4];
	for (int i = 0; i < 4; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atomic_load(&never_port)),
					.sin_addr = {htonl(INADDR_LOOPBACK)}};
		cr_assert_eq(connect(fds[i], (struct sockaddr *)&a, sizeof(a)), 0);
	}
	usleep(20000);
	cr_assert_eq(weft_runtime_destroy(rt), 0);
	weft_future_unref(t);
	for (int i = 0; i < 4; i++) {
		char c;
		cr_assert_eq(read(fds[i], &c, 1), 0, "connection %d was closed by the server", i);
		close(fds[i]);
	}
}

/* --- running out of descriptors ------------------------------------------ */

/*
 * EMFILE: the server process may hold only a few descriptors more than it
 * has; a child process opens 10 connections. The server serves the ones
 * it could accept, backs off (under 20 ms of CPU over a blocked second),
 * and accepts the others once the first ones close.
 */
enum { EM_CONNS = 10, EM_FIRST = 3 };
static int em_pipe[2];   /* child -> parent: 'b' blocked second begins, 'e' ends */
static uint16_t em_port;
static long em_cpu_us = -1;
static int em_child_status = -1;

static long cpu_us(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec * 1000000L + ru.ru_utime.tv_usec + ru.ru_stime.tv_sec * 1000000L +
	       ru.ru_stime.tv_usec;
}

static int open_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return 64;
	while (readdir(d))
		n++;
	closedir(d);
	return n - 3; /* ".", ".." and the directory's own descriptor */
}

/* The child: plain blocking sockets, no weft. */
static int em_child(void)
{
	int fd[EM_CONNS];
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(em_port),
				.sin_addr = {htonl(INADDR_LOOPBACK)}};
	struct timeval tv = {.tv_sec = 10};
	for (int i = 0; i < EM_CONNS; i++) {
		fd[i] = socket(AF_INET, SOCK_STREAM, 0);
		setsockopt(fd[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (connect(fd[i], (struct sockaddr *)&a, sizeof(a)) || write(fd[i], "x\n", 2) != 2)
			return 10 + i;
	}
	char c;
	for (int i = 0; i < EM_FIRST; i++) /* the accepted ones answer */
		if (read(fd[i], &c, 1) != 1)
			return 30 + i;
	if (write(em_pipe[1], "b", 1) != 1)
		return 2;
	sleep(1);
	if (write(em_pipe[1], "e", 1) != 1)
		return 3;
	for (int i = 0; i < EM_FIRST; i++)
		close(fd[i]);
	/* accepted as descriptors free up: each closes once answered */
	for (int i = EM_FIRST; i < EM_CONNS; i++) {
		if (read(fd[i], &c, 1) != 1)
			return 50 + i;
		close(fd[i]);
	}
	return 0;
}

static int em_main(void *arg, void **res)
{
	weft_server *srv;
	int rc = weft_start_server(echo_client, NULL, "127.0.0.1", 0, 0, &srv);
	if (rc)
		return rc;
	weft_server_sockname(srv, NULL, 0, &em_port);
	/* room for EM_FIRST accepted connections, and no more */
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = (rlim_t)open_fds() + EM_FIRST;
	setrlimit(RLIMIT_NOFILE, &rl);
	pid_t pid = fork();
	if (pid == 0) {
		struct rlimit mine = {rl.rlim_max, rl.rlim_max}; /* its own room */
		setrlimit(RLIMIT_NOFILE, &mine);
		_exit(em_child());
	}
	close(em_pipe[1]); /* a child that fails early is EOF, not a hang */
	char c;
	weft_read(em_pipe[0], &c, 1, WEFT_IO_CURRENT); /* 'b' */
	long t0 = cpu_us();
	weft_read(em_pipe[0], &c, 1, WEFT_IO_CURRENT); /* 'e' */
	em_cpu_us = cpu_us() - t0;
	/* the child's status, without blocking the worker */
	for (int i = 0; i < 2000; i++) {
		int status;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			em_child_status = WIFEXITED(status) ? WEXITSTATUS(status) : 100;
			break;
		}
		weft_sleep(0.005);
	}
	weft_server_close(srv);
	weft_server_wait_closed(srv);
	weft_server_free(srv);
	return 0;
}

Test(server, emfile_backs_off_and_recovers, .timeout = 30 * WEFT_TEST_SLOW)
{
	cr_assert_eq(pipe2(em_pipe, O_CLOEXEC), 0);
	cr_assert_eq(tu_run_n(1, em_main, NULL, NULL), 0);
	cr_assert_eq(em_child_status, 0, "the child's step that failed: %d", em_child_status);
	cr_log_info("CPU in the blocked second: %ld us", em_cpu_us);
	cr_assert_geq(em_cpu_us, 0);
	cr_assert_lt(em_cpu_us, 20000 * WEFT_TEST_SLOW,
		     "%ld us of CPU in the blocked second (under 20 ms expected)", em_cpu_us);
}

/* --- back-pressure ------------------------------------------------------- */

/*
 * Peers that send without reading what the server writes back: the
 * server's echo drains (blocking while its peer does not read) and stops
 * reading, so each such connection costs at most 2 x limit + 128 KiB of
 * the server's RSS, whatever the peers send.
 */
enum { BP_CONNS = 32, BP_BYTES = 4 << 20 };
static int bp_pipe[2];
static uint16_t bp_port;
static long bp_rss_before = -1, bp_rss_after = -1;
static int bp_child_status = -1;

static long rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

static int raw_echo(weft_stream *s, void *arg)
{
	char b[4096];
	ssize_t n;
	while ((n = weft_stream_read(s, b, sizeof(b))) > 0) {
		weft_stream_write(s, b, (size_t)n);
		if (weft_stream_drain(s))
			break;
	}
	return 0;
}

static int bp_child(void)
{
	static char junk[64 * 1024];
	int fd[BP_CONNS];
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(bp_port),
				.sin_addr = {htonl(INADDR_LOOPBACK)}};
	for (int i = 0; i < BP_CONNS; i++) {
		fd[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (connect(fd[i], (struct sockaddr *)&a, sizeof(a)) && errno != EINPROGRESS)
			return 10;
	}
	usleep(100000);
	/* send until nothing more goes in (the server stopped reading) */
	long sent[BP_CONNS] = {0};
	for (int round = 0; round < 400; round++) {
		bool any = false;
		for (int i = 0; i < BP_CONNS; i++) {
			if (sent[i] >= BP_BYTES)
				continue;
			ssize_t k = send(fd[i], junk, sizeof(junk), MSG_NOSIGNAL);
			if (k > 0) {
				sent[i] += k;
				any = true;
			}
		}
		if (!any)
			usleep(5000);
	}
	if (write(bp_pipe[1], "s", 1) != 1) /* stalled: measure now */
		return 2;
	char c;
	if (read(bp_pipe[0], &c, 1) != 1) /* measured */
		return 3;
	for (int i = 0; i < BP_CONNS; i++)
		close(fd[i]);
	return 0;
}

static int bp_main(void *arg, void **res)
{
	weft_server *srv;
	int rc = weft_start_server(raw_echo, NULL, "127.0.0.1", 0, 0, &srv);
	if (rc)
		return rc;
	weft_server_sockname(srv, NULL, 0, &bp_port);
	int to_child[2];
	if (pipe2(to_child, O_CLOEXEC))
		return -errno;
	weft_sleep(0.05);
	bp_rss_before = rss_kb();
	pid_t pid = fork();
	if (pid == 0) {
		bp_pipe[0] = to_child[0];
		_exit(bp_child());
	}
	close(bp_pipe[1]);
	close(to_child[0]);
	char c;
	weft_read(bp_pipe[0], &c, 1, WEFT_IO_CURRENT);
	bp_rss_after = rss_kb();
	(void)!write(to_child[1], "m", 1);
	close(to_child[1]);
	for (int i = 0; i < 4000; i++) {
		int status;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			bp_child_status = WIFEXITED(status) ? WEXITSTATUS(status) : 100;
			break;
		}
		weft_sleep(0.005);
	}
	weft_server_close(srv);
	weft_server_close_clients(srv);
	weft_server_wait_closed(srv);
	weft_server_free(srv);
	return 0;
}

Test(server, backpressure_bounds_memory_per_connection, .timeout = 60 * WEFT_TEST_SLOW)
{
	cr_assert_eq(pipe2(bp_pipe, O_CLOEXEC), 0);
	cr_assert_eq(tu_run_n(2, bp_main, NULL, NULL), 0);
	cr_assert_eq(bp_child_status, 0);
	long per_conn = (bp_rss_after - bp_rss_before) * 1024 / BP_CONNS;
	cr_log_info("server RSS per stalled connection: %ld B", per_conn);
	if (WEFT_TEST_SLOW > 1)
		return; /* a sanitizer's shadow memory and allocator are in RSS */
	cr_assert_leq(per_conn, 2 * WEFT_STREAM_LIMIT + 128 * 1024,
		      "%ld B of RSS per connection", per_conn);
}

/* --- a listener per worker ----------------------------------------------- */

static int rp_ok, rp_wait;
static size_t rp_conns_open;

static int reuseport_main(void *arg, void **res)
{
	weft_server_config cfg;
	weft_server_config_init(&cfg);
	cfg.reuseport = true;
	weft_server *srv;
	int rc = weft_start_server(echo_client, NULL, "127.0.0.1", 0, &cfg, &srv);
	if (rc)
		return rc;
	uint16_t port;
	weft_server_sockname(srv, NULL, 0, &port);
	enum { N = 8 };
	weft_stream *c[N];
	for (int i = 0; i < N; i++)
		if (weft_open_connection("127.0.0.1", port, 0, &c[i]))
			return -EIO;
	for (int i = 0; i < N; i++) {
		char line[32], back[32];
		size_t n;
		int len = snprintf(line, sizeof(line), "conn %d\n", i);
		weft_stream_write(c[i], line, (size_t)len);
		if (weft_stream_readline(c[i], back, sizeof(back), &n) == 0 && n == (size_t)len &&
		    !memcmp(line, back, n))
			rp_ok++;
	}
	rp_conns_open = weft_server_connections(srv);
	for (int i = 0; i < N; i++)
		weft_stream_free(c[i]);
	weft_server_close(srv);
	rp_wait = weft_server_wait_closed(srv);
	weft_server_free(srv);
	return 0;
}

Test(server, reuseport_listener_per_worker, .timeout = TEST_TIMEOUT)
{
	cr_assert_eq(tu_run_n(2, reuseport_main, NULL, NULL), 0);
	cr_assert_eq(rp_ok, 8, "every connection echoed");
	cr_assert_eq(rp_conns_open, 8);
	cr_assert_eq(rp_wait, 0);
}

Test(server, bad_config_is_einval, .timeout = TEST_TIMEOUT)
{
	cr_assert_eq(weft_start_server(echo_client, NULL, "127.0.0.1", 0, NULL, NULL), -EINVAL);
}

/* asyncio sets TCP_NODELAY on every TCP transport, accepted ones too. */
static _Atomic int nodelay_seen = -1;

static int record_nodelay(weft_stream *s, void *arg)
{
	int v = 0;
	socklen_t len = sizeof(v);
	getsockopt(weft_stream_fd(s), IPPROTO_TCP, TCP_NODELAY, &v, &len);
	atomic_store(&nodelay_seen, v != 0);
	return 0;
}

static int nodelay_main(void *arg, void **res)
{
	weft_server *srv;
	int rc = weft_start_server(record_nodelay, NULL, "127.0.0.1", 0, NULL, &srv);
	if (rc)
		return rc;
	uint16_t port;
	weft_server_sockname(srv, NULL, 0, &port);
	weft_stream *c;
	if (weft_open_connection("127.0.0.1", port, 0, &c))
		return -EIO;
	char b;
	weft_stream_read(c, &b, 1); /* EOF once the handler returned */
	weft_stream_free(c);
	weft_server_close(srv);
	weft_server_wait_closed(srv);
	weft_server_free(srv);
	return 0;
}

Test(server, accepted_connections_have_tcp_nodelay, .timeout = TEST_TIMEOUT)
{
	cr_assert_eq(tu_run_n(1, nodelay_main, NULL, NULL), 0);
	cr_assert_eq(atomic_load(&nodelay_seen), 1);
}
