/* SPDX-License-Identifier: MIT */
/*
 * Seeing inside a running server: a line-echo server (asyncio's
 * start_server shape) that prints the runtime's metrics every second and
 * dumps every task, with its state and backtrace, on SIGQUIT, as Go does:
 *
 *   inspect [PORT] [--seconds N] [--debug]
 *       listens on 127.0.0.1:PORT (0 or none: any free port) and prints
 *       "listening on PORT"; every second a line of metrics on stdout;
 *       `kill -QUIT <pid>` writes the task dump on stderr; SIGINT or
 *       SIGTERM (or N seconds) stop it. --debug turns on debug mode: the
 *       stall watchdog names a task that keeps its worker over 100 ms
 *       (try: type "block" in a connection), and the dump says where
 *       each task was created.
 *
 * Try:  ./inspect 7000 &  nc 127.0.0.1 7000  (type lines)  kill -QUIT %1
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <weft.h>

/* A connection: echoes lines; "block" makes it hog its worker for 300 ms
 * (a blocking call, what the watchdog is for). */
static int conn(weft_stream *s, void *arg)
{
	char line[1024];
	size_t got;
	while (weft_stream_readline(s, line, sizeof(line), &got) == 0 && got > 0) {
		if (got >= 5 && !memcmp(line, "block", 5)) {
			struct timespec ts = {0, 300 * 1000 * 1000};
			nanosleep(&ts, NULL); /* wrong on purpose: use weft_sleep */
		}
		weft_stream_write(s, line, got);
		if (weft_stream_drain(s))
			break;
	}
	return 0;
}

/* Every second: one line of what the runtime did in that second. */
static int metrics_printer(void *arg, void **res)
{
	weft_runtime *rt = weft_current_runtime();
	struct weft_metrics prev = {.size = sizeof(prev)}, m = {.size = sizeof(m)};
	weft_metrics(rt, &prev);
	for (;;) {
		int rc = weft_sleep(1.0);
		if (rc)
			return rc; /* cancelled at shutdown */
		weft_metrics(rt, &m);
		printf("metrics: alive %llu, spawned +%llu, polled +%llu, steals +%llu, parks +%llu, "
		       "ring +%llu/+%llu, timers %llu, pool %u busy, stacks %llu in use %llu cached\n",
		       (unsigned long long)m.tasks_alive,
		       (unsigned long long)(m.tasks_spawned - prev.tasks_spawned),
		       (unsigned long long)(m.tasks_polled - prev.tasks_polled),
		       (unsigned long long)(m.steals - prev.steals),
		       (unsigned long long)(m.parks - prev.parks),
		       (unsigned long long)(m.ring_submissions - prev.ring_submissions),
		       (unsigned long long)(m.ring_completions - prev.ring_completions),
		       (unsigned long long)m.timers_pending, m.blocking_busy,
		       (unsigned long long)m.stacks_in_use, (unsigned long long)m.stacks_cached);
		fflush(stdout);
		prev = m;
	}
}

static int on_signal(void *arg, void **res)
{
	int rc = weft_signal_wait((int)(intptr_t)arg);
	return rc > 0 ? 0 : rc;
}

static double seconds; /* 0: until a signal */

static int main_task(void *arg, void **res)
{
	uint16_t port = (uint16_t)(uintptr_t)arg;
	weft_server *srv;
	int rc = weft_start_server(conn, NULL, "127.0.0.1", port, NULL, &srv);
	if (rc) {
		fprintf(stderr, "inspect: listen: %s\n", weft_strerror(rc));
		return rc;
	}
	weft_server_sockname(srv, NULL, 0, &port);
	printf("listening on %u\n", (unsigned)port);
	fflush(stdout);
	fprintf(stderr, "inspect: kill -QUIT %ld dumps the tasks\n", (long)getpid());
	weft_future *printer = weft_create_task(metrics_printer, NULL, "metrics");
	weft_future *stop[3] = {
		weft_create_task(on_signal, (void *)(intptr_t)SIGINT, "sigint"),
		weft_create_task(on_signal, (void *)(intptr_t)SIGTERM, "sigterm"),
		weft_create_task(on_signal, (void *)(intptr_t)SIGHUP, "sighup"),
	};
	weft_future *done[3], *pending[3];
	size_t nd, np;
	weft_wait(stop, 3, seconds > 0 ? seconds : WEFT_FOREVER, WEFT_FIRST_COMPLETED, done, &nd,
		  pending, &np);
	for (int i = 0; i < 3; i++) {
		weft_cancel(stop[i], NULL);
		weft_await(stop[i], NULL);
		weft_future_unref(stop[i]);
	}
	weft_cancel(printer, NULL);
	weft_await(printer, NULL);
	weft_future_unref(printer);
	weft_server_close(srv);
	weft_server_free(srv);
	return 0;
}

int main(int argc, char **argv)
{
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.dump_signal = SIGQUIT;
	uintptr_t port = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			seconds = atof(argv[++i]);
		else if (!strcmp(argv[i], "--debug"))
			cfg.debug = true;
		else
			port = (uintptr_t)atoi(argv[i]);
	}
	int rc = weft_run(main_task, (void *)port, &cfg, NULL);
	if (rc < 0) {
		fprintf(stderr, "inspect: %s\n", weft_strerror(rc));
		return 1;
	}
	return 0;
}
