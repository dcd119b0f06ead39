/* SPDX-License-Identifier: MIT */
/* What the server needs of src/net/socket.c beyond weft/net.h. */
#ifndef WEFT_NET_SOCKET_H
#define WEFT_NET_SOCKET_H

#include <stdbool.h>
#include <stdint.h>

/* weft_tcp_listen, with SO_REUSEPORT set before the bind when reuseport
 * (several listeners on one port, the kernel spreading connections). */
int weft__tcp_listen(const char *host, uint16_t port, int backlog, bool reuseport);

#endif
