#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# examples/kv_server driven by redis-cli through every command (binary-safe
# values, expiry, pipelining), then malformed RESP and an oversized bulk
# length over a raw socket (an error reply, the connection closed, the
# server still serving), then a clean stop on SIGTERM. Skips (77) without
# redis-cli. Usage: run_kv_server.sh KV_SERVER
set -euo pipefail
# shellcheck source=start_server.sh
source "$(dirname "$0")/start_server.sh"
server=$1
command -v redis-cli >/dev/null || { echo "SKIP: redis-cli is not installed"; exit 77; }
out=$(mktemp)
trap 'rm -f "$out"; [[ -z ${pid:-} ]] || kill -9 "$pid" 2>/dev/null || true' EXIT
start_server "$out" "$server" 0 2
cli() { redis-cli -p "$port" "$@"; }
expect() { # expect WANT CMD...
	local want=$1
	shift
	local got
	got=$(cli "$@")
	[[ $got == "$want" ]] || { echo "redis-cli $*: want [$want], got [$got]" >&2; exit 1; }
}
expect PONG PING
expect hi PING hi
expect "hello world" ECHO "hello world"
expect OK SET k1 v1
expect v1 GET k1
expect "" GET missing
expect 1 EXISTS k1
expect 1 EXISTS k1 missing
expect 1 DEL k1 missing
expect 0 EXISTS k1
expect 1 INCR counter
expect 2 INCR counter
expect OK SET notnum abc
expect "ERR value is not an integer or out of range" INCR notnum
expect OK SET a 1
expect OK SET b 2
expect $'1\n2\n\n1' MGET a b nope a
expect -1 TTL a
expect -2 TTL nope
expect 1 EXPIRE a 100
expect 100 TTL a
expect OK SET short v PX 150
expect v GET short
sleep 0.3
expect "" GET short
expect 0 EXISTS short
expect OK SET e v EX 1
expect 1 TTL e
expect "ERR syntax error" SET x y NX
expect "ERR invalid expire time in 'set' command" SET x y EX 0
expect "ERR wrong number of arguments" GET
expect "ERR unknown command 'NOPE'" NOPE x
# binary-safe: every byte value, NUL and CRLF included
head -c 100000 /dev/urandom >"$out.bin"
cli -x SET bin <"$out.bin" >/dev/null
cli --no-raw GET bin >/dev/null
python3 - "$port" "$out.bin" <<'PY'
import socket, sys
port, path = int(sys.argv[1]), sys.argv[2]
want = open(path, "rb").read()
def conn():
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    return s
def read_reply(s, buf=b""):
    while b"\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise SystemExit("EOF before a reply")
        buf += chunk
    line, rest = buf.split(b"\r\n", 1)
    if line[:1] == b"$" and int(line[1:]) >= 0:
        n = int(line[1:])
        while len(rest) < n + 2:
            chunk = s.recv(65536)
            if not chunk:
                raise SystemExit("EOF in a bulk reply")
            rest += chunk
        return rest[:n], rest[n + 2:]
    return line, rest
s = conn()
s.sendall(b"*2\r\n$3\r\nGET\r\n$3\r\nbin\r\n")
got, _ = read_reply(s)
if got != want:
    raise SystemExit("binary value differs: %d bytes back of %d" % (len(got), len(want)))
# pipelining: 1,000 commands in one write, replies in order
s.sendall(b"".join(b"*2\r\n$4\r\nECHO\r\n$%d\r\n%d\r\n" % (len(str(i)), i) for i in range(1000)))
rest = b""
for i in range(1000):
    got, rest = read_reply(s, rest)
    if got != str(i).encode():
        raise SystemExit("pipelined reply %d is %r" % (i, got))
s.close()
# malformed RESP: an error reply, then the connection is closed
for bad in [b"*x\r\n", b"GARBAGE\r\n", b"*1\r\n:3\r\n", b"*1\r\n$3\r\nabcdef\r\n",
            b"*1\r\n$536870913\r\n", b"*2000000\r\n", b"*1\r\n$-5\r\n", b"*" + b"9" * 100 + b"\r\n"]:
    s = conn()
    s.sendall(bad)
    line, _ = read_reply(s)
    if not line.startswith(b"-ERR Protocol error"):
        raise SystemExit("%r answered %r" % (bad, line))
    if s.recv(1) != b"":
        raise SystemExit("%r: connection left open" % bad)
    s.close()
# a client that vanishes mid-bulk costs nothing lasting
s = conn()
s.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nz\r\n$100000000\r\npartial")
s.close()
PY
expect PONG PING
expect OK FLUSHALL
expect 0 EXISTS a b counter
# redis-benchmark, if present, as a smoke run (its own checks)
if command -v redis-benchmark >/dev/null; then
	redis-benchmark -p "$port" -t set,get,incr -n 20000 -c 20 -q >/dev/null 2>&1
fi
kill -TERM "$pid"
st=0
wait "$pid" || st=$?
pid=
rm -f "$out.bin"
[[ $st == 0 ]] || { echo "kv_server exited $st after SIGTERM" >&2; exit 1; }
