#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A bounded smoke run of wrk against examples/http_hello (2 workers,
# 50 connections, 2 s): every response 2xx, no socket error, some
# throughput, then a clean stop on SIGTERM. Skips (77) without wrk.
# Usage: run_http_wrk.sh HTTP_HELLO
set -euo pipefail
# shellcheck source=start_server.sh
source "$(dirname "$0")/start_server.sh"
server=$1
command -v wrk >/dev/null || { echo "SKIP: wrk is not installed"; exit 77; }
out=$(mktemp)
trap 'rm -f "$out"; [[ -z ${pid:-} ]] || kill -9 "$pid" 2>/dev/null || true' EXIT
start_server "$out" "$server" 0 2
report=$(timeout 30 wrk -t1 -c50 -d2s "http://127.0.0.1:$port/")
echo "$report"
if grep -qE 'Socket errors|Non-2xx' <<<"$report"; then
	echo "wrk saw errors" >&2
	exit 1
fi
requests=$(sed -n 's/^ *\([0-9]*\) requests in .*/\1/p' <<<"$report")
[[ ${requests:-0} -gt 100 ]] || { echo "too few requests: ${requests:-none}" >&2; exit 1; }
kill -TERM "$pid"
st=0
wait "$pid" || st=$?
pid=
[[ $st == 0 ]] || { echo "http_hello exited $st after SIGTERM" >&2; exit 1; }
