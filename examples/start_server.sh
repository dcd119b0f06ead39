# SPDX-License-Identifier: MIT
# Sourced by the examples' test scripts: start_server OUT CMD... starts
# CMD in the background with its stdout in the file OUT, waits up to 5 s
# for its "listening on PORT" line, and sets $pid and $port (exits 1 if
# it never says it).
start_server() {
	local out=$1
	shift
	"$@" >"$out" &
	pid=$!
	port=
	for _ in $(seq 100); do
		port=$(sed -n 's/^listening on \([0-9]*\)$/\1/p' "$out")
		[[ -n $port ]] && return 0
		sleep 0.05
	done
	echo "$(basename "$1") did not start" >&2
	exit 1
}
