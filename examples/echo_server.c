/* SPDX-License-Identifier: MIT */
/*
 * A TCP echo server (the tcp_echo benchmark's server): one task accepts,
 * one task per connection echoes through a 4 KiB buffer (lent by the
 * worker's buffer pool when data arrives: weft_recv_pooled), every worker
 * runs connections (new tasks are stolen by idle workers), and SIGINT or
 * SIGTERM stops it cleanly: the acceptor is cancelled, the listener
 * closed, and runtime shutdown cancels the connections, whose tasks close
 * their sockets.
 *
 *   echo_server PORT [WORKERS] [--streams] [--reuseport] [--stack-buffer]
 *       listens on 127.0.0.1:PORT (0: any free port); prints "listening on
 *       PORT". --streams: the same echo through weft_start_server and
 *       streams (asyncio's start_server shape); --reuseport (implies
 *       --streams): a listener and an acceptor per worker; --stack-buffer:
 *       weft_recv into a 4 KiB buffer on the task's stack instead.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft.h>

/* A connection's task: each receive borrows a buffer from the worker's
 * pool only once data is there, so an idle connection holds no buffer
 * (and its task's stack stays one page). */
static int connection(void *arg, void **result)
{
	int fd = (int)(intptr_t)arg;
	weft_iobuf b;
	ssize_t n;
	while ((n = weft_recv_pooled(fd, &b, 0)) > 0) {
		ssize_t off = 0;
		while (off < n) {
			ssize_t k = weft_send(fd, (char *)b.data + off, (size_t)(n - off), 0);
			if (k <= 0)
				break;
			off += k;
		}
		weft_iobuf_release(&b);
		if (off < n)
			break;
	}
	/* n <= 0: EOF, an error, or -ECANCELED at shutdown */
	weft_close(fd);
	return 0;
}

/* --stack-buffer: the same through a 4 KiB buffer on the task's stack. */
static int connection_stack_buffer(void *arg, void **result)
{
	int fd = (int)(intptr_t)arg;
	char buf[4096];
	for (;;) {
		ssize_t n = weft_recv(fd, buf, sizeof(buf), 0);
		if (n <= 0) /* EOF, an error, or -ECANCELED at shutdown */
			break;
		for (ssize_t off = 0; off < n;) {
			ssize_t k = weft_send(fd, buf + off, (size_t)(n - off), 0);
			if (k <= 0)
				goto out;
			off += k;
		}
	}
out:
	weft_close(fd);
	return 0;
}

static bool use_stack_buffer;

static int acceptor(void *arg, void **result)
{
	int listener = (int)(intptr_t)arg;
	for (;;) {
		int fd = weft_accept(listener, NULL, NULL, 0);
		if (fd == -ECANCELED)
			return 0;
		if (fd < 0) {
			/* one connection's trouble (ECONNABORTED, EMFILE...):
			 * keep serving; back off a little when out of files */
			if (fd == -EMFILE || fd == -ENFILE)
				weft_sleep(0.005);
			continue;
		}
		weft_future *t = weft_create_task(use_stack_buffer ? connection_stack_buffer : connection,
						  (void *)(intptr_t)fd, NULL);
		if (!weft_is_task(t))
			weft_close(fd);
		weft_future_unref(t);
	}
}

/* --streams: a connection's task under weft_start_server. */
static int stream_echo(weft_stream *s, void *arg)
{
	char buf[4096];
	ssize_t n;
	while ((n = weft_stream_read(s, buf, sizeof(buf))) > 0) {
		weft_stream_write(s, buf, (size_t)n);
		if (weft_stream_drain(s))
			break;
	}
	return 0; /* the server closes the stream */
}

static bool use_streams, use_reuseport;

/* Ends at the first delivery of its signal. */
static int on_signal(void *arg, void **result)
{
	int signo = (int)(intptr_t)arg;
	int rc = weft_signal_wait(signo);
	return rc == signo ? 0 : rc;
}

/* Waits for SIGINT or SIGTERM, whichever comes first. */
static void wait_for_a_stop_signal(void)
{
	weft_future *sig[2] = {
		weft_create_task(on_signal, (void *)(intptr_t)SIGINT, "sigint"),
		weft_create_task(on_signal, (void *)(intptr_t)SIGTERM, "sigterm"),
	};
	weft_future *done[2], *pending[2];
	size_t ndone = 0, npending = 0;
	weft_wait(sig, 2, WEFT_FOREVER, WEFT_FIRST_COMPLETED, done, &ndone, pending, &npending);
	for (int i = 0; i < 2; i++) {
		weft_cancel(sig[i], NULL);
		weft_await(sig[i], NULL);
		weft_future_unref(sig[i]);
	}
}

static int streams_main(uint16_t port)
{
	weft_server_config cfg;
	weft_server_config_init(&cfg);
	cfg.reuseport = use_reuseport;
	weft_server *srv;
	int rc = weft_start_server(stream_echo, NULL, "127.0.0.1", port, &cfg, &srv);
	if (rc) {
		fprintf(stderr, "echo_server: listen: %s\n", weft_strerror(rc));
		return rc;
	}
	weft_server_sockname(srv, NULL, 0, &port);
	printf("listening on %u\n", (unsigned)port);
	fflush(stdout);
	wait_for_a_stop_signal();
	weft_server_close(srv);
	weft_server_free(srv); /* returning ends weft_run: connections are cancelled */
	return 0;
}

static int main_task(void *arg, void **result)
{
	uint16_t port = (uint16_t)(uintptr_t)arg;
	if (use_streams)
		return streams_main(port);
	int listener = weft_tcp_listen("127.0.0.1", port, 0);
	if (listener < 0) {
		fprintf(stderr, "echo_server: listen: %s\n", weft_strerror(listener));
		return listener;
	}
	weft_sockname(listener, NULL, 0, &port);
	printf("listening on %u\n", (unsigned)port);
	fflush(stdout);
	weft_future *acc = weft_create_task(acceptor, (void *)(intptr_t)listener, "acceptor");
	wait_for_a_stop_signal();
	weft_cancel(acc, NULL);
	weft_await(acc, NULL);
	weft_future_unref(acc);
	weft_close(listener);
	/* returning ends weft_run: the connection tasks are cancelled */
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: echo_server PORT [WORKERS] [--streams] [--reuseport] "
				"[--stack-buffer]\n");
		return 2;
	}
	weft_config cfg;
	weft_config_init(&cfg);
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--streams"))
			use_streams = true;
		else if (!strcmp(argv[i], "--reuseport"))
			use_streams = use_reuseport = true;
		else if (!strcmp(argv[i], "--stack-buffer"))
			use_stack_buffer = true;
		else
			cfg.workers = (unsigned)atoi(argv[i]);
	}
	uintptr_t port = (uintptr_t)atoi(argv[1]);
	int rc = weft_run(main_task, (void *)port, &cfg, NULL);
	if (rc < 0) {
		fprintf(stderr, "echo_server: %s\n", weft_strerror(rc));
		return 1;
	}
	return 0;
}
