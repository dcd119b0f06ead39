/* SPDX-License-Identifier: MIT */
/*
 * A TCP echo server (the tcp_echo benchmark's server): one task accepts,
 * one task per connection echoes through a 4 KiB buffer, every worker
 * runs connections (new tasks are stolen by idle workers), and SIGINT or
 * SIGTERM stops it cleanly: the acceptor is cancelled, the listener
 * closed, and runtime shutdown cancels the connections, whose tasks close
 * their sockets.
 *
 *   echo_server PORT [WORKERS]     listens on 127.0.0.1:PORT (0: any free
 *                                  port); prints "listening on PORT"
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <weft.h>

static int connection(void *arg, void **result)
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
		weft_future *t = weft_create_task(connection, (void *)(intptr_t)fd, NULL);
		if (!weft_is_task(t))
			weft_close(fd);
		weft_future_unref(t);
	}
}

/* Ends at the first delivery of its signal. */
static int on_signal(void *arg, void **result)
{
	int signo = (int)(intptr_t)arg;
	int rc = weft_signal_wait(signo);
	return rc == signo ? 0 : rc;
}

static int main_task(void *arg, void **result)
{
	uint16_t port = (uint16_t)(uintptr_t)arg;
	int listener = weft_tcp_listen("127.0.0.1", port, 0);
	if (listener < 0) {
		fprintf(stderr, "echo_server: listen: %s\n", weft_strerror(listener));
		return listener;
	}
	weft_sockname(listener, NULL, 0, &port);
	printf("listening on %u\n", (unsigned)port);
	fflush(stdout);
	weft_future *acc = weft_create_task(acceptor, (void *)(intptr_t)listener, "acceptor");
	weft_future *sig[2] = {
		weft_create_task(on_signal, (void *)(intptr_t)SIGINT, "sigint"),
		weft_create_task(on_signal, (void *)(intptr_t)SIGTERM, "sigterm"),
	};
	/* whichever signal comes first */
	weft_future *done[2], *pending[2];
	size_t ndone = 0, npending = 0;
	weft_wait(sig, 2, WEFT_FOREVER, WEFT_FIRST_COMPLETED, done, &ndone, pending, &npending);
	for (int i = 0; i < 2; i++) {
		weft_cancel(sig[i], NULL);
		weft_await(sig[i], NULL);
		weft_future_unref(sig[i]);
	}
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
		fprintf(stderr, "usage: echo_server PORT [WORKERS]\n");
		return 2;
	}
	weft_config cfg;
	weft_config_init(&cfg);
	if (argc > 2)
		cfg.workers = (unsigned)atoi(argv[2]);
	uintptr_t port = (uintptr_t)atoi(argv[1]);
	int rc = weft_run(main_task, (void *)port, &cfg, NULL);
	if (rc < 0) {
		fprintf(stderr, "echo_server: %s\n", weft_strerror(rc));
		return 1;
	}
	return 0;
}
