/* SPDX-License-Identifier: MIT */
/*
 * A line client (asyncio's open_connection + readline): sends each
 * MESSAGE as a line, prints the line that comes back, then closes.
 *
 *   tcp_client HOST PORT MESSAGE...
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft.h>

struct job {
	const char *host;
	uint16_t port;
	int n;
	char **messages;
};

static int client(void *arg, void **result)
{
	struct job *j = arg;
	weft_stream *s;
	int rc = weft_open_connection(j->host, j->port, 0, &s);
	if (rc) {
		fprintf(stderr, "tcp_client: connect: %s\n", weft_strerror(rc));
		return rc;
	}
	for (int i = 0; i < j->n && !rc; i++) {
		weft_stream_write(s, j->messages[i], strlen(j->messages[i]));
		weft_stream_write(s, "\n", 1);
		if ((rc = weft_stream_drain(s)))
			break;
		char line[4096];
		size_t got;
		rc = weft_stream_readline(s, line, sizeof(line), &got);
		if (!rc && !got)
			rc = -ECONNRESET; /* EOF before the answer */
		if (!rc)
			printf("%.*s", (int)got, line);
	}
	weft_stream_close(s);
	weft_stream_wait_closed(s);
	weft_stream_free(s);
	if (rc)
		fprintf(stderr, "tcp_client: %s\n", weft_strerror(rc));
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: tcp_client HOST PORT MESSAGE...\n");
		return 2;
	}
	struct job j = {argv[1], (uint16_t)atoi(argv[2]), argc - 3, argv + 3};
	return weft_run(client, &j, NULL, NULL) ? 1 : 0;
}
