/* SPDX-License-Identifier: MIT */
/*
 * A stream server and its client on a Unix socket, in one program: the
 * server answers each line in upper case; the client sends a few lines
 * and prints the answers; then the server is closed and waited for.
 *
 *   unix_echo [PATH]     (default: /tmp/weft-unix-echo-PID.sock)
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <weft.h>

static int shout(weft_stream *s, void *arg)
{
	char line[256];
	size_t n;
	while (weft_stream_readline(s, line, sizeof(line), &n) == 0 && n) {
		for (size_t i = 0; i < n; i++)
			line[i] = (char)toupper((unsigned char)line[i]);
		weft_stream_write(s, line, n);
		if (weft_stream_drain(s))
			break;
	}
	return 0; /* the server closes the stream */
}

static int main_task(void *arg, void **result)
{
	const char *path = arg;
	weft_server *srv;
	int rc = weft_start_unix_server(shout, NULL, path, 0, &srv);
	if (rc) {
		fprintf(stderr, "unix_echo: %s: %s\n", path, weft_strerror(rc));
		return rc;
	}
	weft_stream *c;
	rc = weft_open_unix_connection(path, 0, &c);
	static const char *const words[] = {"hello\n", "unix\n", "sockets\n"};
	for (int i = 0; !rc && i < 3; i++) {
		char line[256];
		size_t n;
		weft_stream_write(c, words[i], strlen(words[i]));
		rc = weft_stream_readline(c, line, sizeof(line), &n);
		if (!rc)
			printf("%.*s", (int)n, line);
	}
	if (c)
		weft_stream_free(c);
	weft_server_close(srv);
	weft_server_wait_closed(srv);
	weft_server_free(srv);
	unlink(path);
	return rc;
}

int main(int argc, char **argv)
{
	char path[108];
	if (argc > 1)
		snprintf(path, sizeof(path), "%s", argv[1]);
	else
		snprintf(path, sizeof(path), "/tmp/weft-unix-echo-%d.sock", (int)getpid());
	unlink(path);
	int rc = weft_run(main_task, path, NULL, NULL);
	return rc ? 1 : 0;
}
