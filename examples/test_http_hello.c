/* SPDX-License-Identifier: MIT */
/*
 * examples/http_hello spoken to in raw HTTP over 127.0.0.1: keep-alive,
 * pipelining, a request split at every byte, Connection: close, HTTP/1.0,
 * bad and oversized requests, a body, and a client too slow to finish its
 * header. The server's path comes in $HTTP_HELLO (meson sets it).
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static pid_t server;
static int port;

/* Starts the server (header timeout 1 s) and reads its port. */
static void start(void)
{
	const char *path = getenv("HTTP_HELLO");
	cr_assert_not_null(path, "HTTP_HELLO is not set");
	int fds[2];
	cr_assert_eq(pipe(fds), 0);
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
	posix_spawn_file_actions_addclose(&fa, fds[0]);
	char *const argv[] = {(char *)path, "0", "2", "--header-timeout", "1", NULL};
	cr_assert_eq(posix_spawn(&server, path, &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	char line[64] = "";
	size_t n = 0;
	while (n < sizeof(line) - 1 && read(fds[0], line + n, 1) == 1 && line[n] != '\n')
		n++;
	close(fds[0]);
	cr_assert_eq(sscanf(line, "listening on %d", &port), 1, "server said: %s", line);
}

static void stop(void)
{
	kill(server, SIGTERM);
	int st;
	waitpid(server, &st, 0);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the server stops cleanly");
}

TestSuite(http, .init = start, .fini = stop, .timeout = 30);

static int dial(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				.sin_addr = {htonl(INADDR_LOOPBACK)}};
	cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct timeval tv = {.tv_sec = 5};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static void put(int fd, const char *s)
{
	size_t n = strlen(s);
	cr_assert_eq(send(fd, s, n, MSG_NOSIGNAL), (ssize_t)n);
}

static int count(const char *hay, const char *needle)
{
	int c = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		c++;
	return c;
}

/* Reads until `responses` whole responses are in (every response here is
 * "Hello, World!" or has no body) or EOF; what came is in got,
 * NUL-terminated. */
static char got[65536];

static void read_responses(int fd, int responses)
{
	size_t n = strlen(got);
	while (count(got, "Hello, World!") + count(got, "Content-Length: 0\r\n") < responses) {
		ssize_t k = recv(fd, got + n, sizeof(got) - 1 - n, 0);
		if (k <= 0)
			return;
		n += (size_t)k;
		got[n] = 0;
	}
}

/* After the server closed: recv says EOF (0), not a timeout. */
static bool at_eof(int fd)
{
	char c;
	return recv(fd, &c, 1, 0) == 0;
}

Test(http, keep_alive_get)
{
	int fd = dial();
	for (int i = 0; i < 3; i++) {
		memset(got, 0, sizeof(got));
		put(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
		read_responses(fd, 1);
		cr_assert(strstr(got, "HTTP/1.1 200 OK\r\n"), "got %s", got);
		cr_assert(strstr(got, "\r\n\r\nHello, World!"));
		cr_assert_null(strstr(got, "Connection: close"));
	}
	close(fd);
}

Test(http, pipelined_requests_get_responses_in_order)
{
	int fd = dial();
	memset(got, 0, sizeof(got));
	put(fd, "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\nHost: y\r\n\r\nGET /c HTTP/1.1\r\n\r\n");
	read_responses(fd, 3);
	cr_assert_eq(count(got, "HTTP/1.1 200 OK"), 3);
	close(fd);
}

Test(http, a_request_split_at_every_byte)
{
	int fd = dial();
	const char *req = "POST /x HTTP/1.1\r\nHost: z\r\nContent-Length: 5\r\n\r\nhello";
	for (const char *p = req; *p; p++) {
		cr_assert_eq(send(fd, p, 1, MSG_NOSIGNAL), 1);
		usleep(200);
	}
	memset(got, 0, sizeof(got));
	read_responses(fd, 1);
	cr_assert(strstr(got, "HTTP/1.1 200 OK"), "got %s", got);
	/* the body was consumed: the next request is read as one */
	memset(got, 0, sizeof(got));
	put(fd, "GET / HTTP/1.1\r\n\r\n");
	read_responses(fd, 1);
	cr_assert(strstr(got, "HTTP/1.1 200 OK"), "got %s", got);
	close(fd);
}

Test(http, connection_close_and_http_1_0)
{
	int fd = dial();
	memset(got, 0, sizeof(got));
	put(fd, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
	read_responses(fd, 1);
	cr_assert(strstr(got, "Connection: close"));
	cr_assert(at_eof(fd), "closed after the response");
	close(fd);

	fd = dial();
	memset(got, 0, sizeof(got));
	put(fd, "GET / HTTP/1.0\r\n\r\n");
	read_responses(fd, 1);
	cr_assert(strstr(got, "200 OK"));
	cr_assert(at_eof(fd), "HTTP/1.0 closes by default");
	close(fd);

	fd = dial();
	memset(got, 0, sizeof(got));
	put(fd, "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
	read_responses(fd, 1);
	cr_assert(strstr(got, "Connection: keep-alive"));
	memset(got, 0, sizeof(got));
	put(fd, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
	read_responses(fd, 1);
	cr_assert(strstr(got, "200 OK"), "still open");
	close(fd);
}

static void expect_status_and_close(const char *req, const char *status)
{
	int fd = dial();
	memset(got, 0, sizeof(got));
	put(fd, req);
	read_responses(fd, 1);
	cr_assert(strstr(got, status), "want %s, got %s", status, got);
	cr_assert(at_eof(fd), "closed after %s", status);
	close(fd);
}

Test(http, bad_requests)
{
	expect_status_and_close("GARBAGE\r\n\r\n", "HTTP/1.1 400 ");
	expect_status_and_close("GET / HTTP/2.0\r\n\r\n", "HTTP/1.1 400 ");
	expect_status_and_close("GET / HTTP/1.1\r\nNo colon here\r\n\r\n", "HTTP/1.1 400 ");
	expect_status_and_close("GET / HTTP/1.1\r\nBad name: x\r\n\r\n", "HTTP/1.1 400 ");
	expect_status_and_close("POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n", "HTTP/1.1 400 ");
	expect_status_and_close("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", "HTTP/1.1 501 ");
	expect_status_and_close("POST / HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n", "HTTP/1.1 413 ");
}

Test(http, a_huge_header_is_431)
{
	static char req[20000];
	strcpy(req, "GET / HTTP/1.1\r\nX-Big: ");
	size_t n = strlen(req);
	memset(req + n, 'a', 12000);
	strcpy(req + n + 12000, "\r\n\r\n");
	int fd = dial();
	memset(got, 0, sizeof(got));
	send(fd, req, strlen(req), MSG_NOSIGNAL); /* the server may close before it all goes */
	read_responses(fd, 1);
	cr_assert(strstr(got, "HTTP/1.1 431 "), "got %s", got);
	close(fd);
}

Test(http, a_slow_client_gets_408)
{
	int fd = dial();
	memset(got, 0, sizeof(got));
	put(fd, "GET / HTTP/1.1\r\nHost: slow"); /* and nothing more */
	read_responses(fd, 1);
	cr_assert(strstr(got, "HTTP/1.1 408 "), "got %s", got);
	cr_assert(at_eof(fd));
	close(fd);
}
