#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs examples/echo_server as a test (raw operations, then --streams and
# --reuseport): echoes (one connection, 50 at once,
# pieces up to 64 KiB) on 127.0.0.1, then a clean stop on SIGTERM and on
# SIGINT (exit status 0 within 10 s); examples/tcp_client against it.
# Usage: run_echo_server.sh ECHO_SERVER TCP_CLIENT
set -euo pipefail
# shellcheck source=start_server.sh
source "$(dirname "$0")/start_server.sh"
server=$1
client=$2
out=$(mktemp)
trap 'rm -f "$out"; [[ -z ${pid:-} ]] || kill -9 "$pid" 2>/dev/null || true' EXIT

for run in "TERM" "INT" "TERM --streams" "INT --reuseport"; do
	read -r sig mode <<<"$run"
	# shellcheck disable=SC2086 # mode is one word or none
	start_server "$out" "$server" 0 2 $mode
	python3 - "$port" <<'PY'
import socket, sys, threading
port = int(sys.argv[1])

def echo(payload):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(payload)
        got = b""
        while len(got) < len(payload):
            chunk = s.recv(65536)
            if not chunk:
                raise SystemExit("early EOF after %d of %d bytes" % (len(got), len(payload)))
            got += chunk
        if got != payload:
            raise SystemExit("echo differs")

echo(b"hello\n")
echo(bytes(range(256)) * 256)  # 64 KiB: many 4 KiB rounds
errors = []
def worker(i):
    try:
        for k in range(20):
            echo(b"%d:%d " % (i, k) * (1 + k))
    except BaseException as e:
        errors.append(e)
ts = [threading.Thread(target=worker, args=(i,)) for i in range(50)]
for t in ts: t.start()
for t in ts: t.join()
if errors:
    raise SystemExit("concurrent echo failed: %r" % errors[0])
PY
	got=$("$client" 127.0.0.1 "$port" one "two words" three)
	[[ $got == $'one\ntwo words\nthree' ]] || { echo "tcp_client got: $got" >&2; exit 1; }
	# a connection left open: shutdown must still end the server
	exec 3<>"/dev/tcp/127.0.0.1/$port"
	kill -"$sig" "$pid"
	rc=0
	for _ in $(seq 200); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "echo_server did not stop on SIG$sig" >&2
		exit 1
	fi
	wait "$pid" || rc=$?
	pid=
	exec 3>&-
	[[ $rc == 0 ]] || { echo "echo_server exited $rc on SIG$sig" >&2; exit 1; }
	echo "SIG$sig${mode:+ ($mode)}: stopped cleanly"
done
