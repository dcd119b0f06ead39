#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs examples/inspect as a test: a line echoes; "block" makes the debug
# watchdog name the connection's task while it blocks; SIGQUIT writes the
# task dump (the metrics printer, the server's tasks); a metrics line comes
# every second; SIGTERM stops it (exit status 0).
# Usage: run_inspect.sh INSPECT
set -euo pipefail
# shellcheck source=start_server.sh
source "$(dirname "$0")/start_server.sh"
out=$(mktemp)
err=$(mktemp)
trap 'rm -f "$out" "$err"; [[ -z ${pid:-} ]] || kill -9 "$pid" 2>/dev/null || true' EXIT
start_server "$out" "$1" 0 --debug 2>"$err"
python3 - "$port" <<'PY'
import socket, sys
with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20) as s:
    for line in (b"hello\n", b"block\n"):
        s.sendall(line)
        got = b""
        while not got.endswith(b"\n"):
            chunk = s.recv(1024)
            if not chunk:
                raise SystemExit("early EOF")
            got += chunk
        if got != line:
            raise SystemExit("echo differs: %r" % got)
PY
kill -QUIT "$pid"
wait_for() { # FILE PATTERN: up to 20 s
	for _ in $(seq 400); do
		grep -q -- "$2" "$1" && return 0
		sleep 0.05
	done
	echo "no '$2' in $(basename "$1"):" >&2
	cat "$1" >&2
	exit 1
}
wait_for "$err" 'weft: dump of runtime'
wait_for "$err" '"metrics" \[waiting on a sleep due in'
wait_for "$err" 'watchdog: task .* has kept worker'
wait_for "$out" '^metrics: alive'
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
pid=
[[ $rc == 0 ]] || { echo "inspect exited $rc" >&2; cat "$err" >&2; exit 1; }
echo "inspect: ok"
