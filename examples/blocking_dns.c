/* SPDX-License-Identifier: MIT */
/*
 * Blocking calls without blocking the workers: getaddrinfo (DNS) and a
 * plain read() run on the blocking pool through weft_to_thread, while a
 * ticker task keeps running on the runtime's single worker. Called
 * directly from a task, either call would stop every task on that worker
 * until it returned.
 *
 *   blocking_dns [HOST [FILE]]   (defaults: localhost, this program)
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <weft.h>

struct lookup {
	const char *host;
	char first[INET6_ADDRSTRLEN]; /* the first address found */
	int naddrs;
};

/* Runs on a pool thread: getaddrinfo may wait seconds for a DNS server. */
static int resolve(void *arg, void **result)
{
	struct lookup *lk = arg; /* lives on the awaiting task's stack */
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
	int rc = getaddrinfo(lk->host, NULL, &hints, &res);
	if (rc != 0)
		return weft_fail(-EHOSTUNREACH, "getaddrinfo(%s): %s", lk->host, gai_strerror(rc));
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next, lk->naddrs++) {
		if (lk->naddrs)
			continue;
		const void *a = ai->ai_family == AF_INET
					? (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr
					: (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
		inet_ntop(ai->ai_family, a, lk->first, sizeof(lk->first));
	}
	freeaddrinfo(res);
	return 0;
}

/* Runs on a pool thread: a regular file's read() never returns EAGAIN,
 * it just blocks (on a slow disk or a network file system). */
static int read_file(void *arg, void **result)
{
	const char *path = arg;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return weft_fail(-errno, "open %s", path);
	char buf[65536];
	long total = 0;
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		total += n;
	int err = n < 0 ? -errno : 0;
	close(fd);
	if (err)
		return weft_fail(err, "read %s", path);
	*result = (void *)(intptr_t)total;
	return 0;
}

static atomic_bool done;

/* Shows that the worker stays free: it ticks while the calls block. */
static int ticker(void *arg, void **result)
{
	long ticks = 0;
	while (!atomic_load(&done) && weft_sleep(0.001) == 0)
		ticks++;
	*result = (void *)ticks;
	return 0;
}

struct args {
	const char *host, *path;
};

static int main_task(void *arg, void **result)
{
	struct args *a = arg;
	weft_future *tick = weft_create_task(ticker, NULL, "ticker");

	struct lookup lk = {.host = a->host};
	weft_future *dns = weft_to_thread(resolve, &lk);
	weft_future *file = weft_to_thread(read_file, (void *)a->path);

	int rc = weft_await(dns, NULL); /* this task suspends; the ticker runs */
	if (rc == 0)
		printf("%s: %d address(es), first %s\n", lk.host, lk.naddrs, lk.first);
	else
		printf("%s: %s\n", lk.host, weft_future_message(dns));

	void *bytes = NULL;
	int frc = weft_await(file, &bytes);
	if (frc == 0)
		printf("%s: %ld bytes\n", a->path, (long)(intptr_t)bytes);
	else
		printf("%s: %s\n", a->path, weft_future_message(file));

	atomic_store(&done, true);
	void *ticks = NULL;
	weft_await(tick, &ticks);
	printf("the ticker ran %ld times meanwhile\n", (long)(intptr_t)ticks);
	weft_future_unref(dns);
	weft_future_unref(file);
	weft_future_unref(tick);
	return frc; /* a name that does not resolve is not this example's failure */
}

int main(int argc, char **argv)
{
	struct args a = {argc > 1 ? argv[1] : "localhost", argc > 2 ? argv[2] : argv[0]};
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.workers = 1; /* one worker: a blocked worker would stop everything */
	int rc = weft_run(main_task, &a, &cfg, NULL);
	if (rc < 0) {
		fprintf(stderr, "blocking_dns: %s\n", weft_strerror(rc));
		return rc == WEFT_ENOURING ? 77 : 1; /* 77: "skipped" for the test suite */
	}
	return 0;
}
