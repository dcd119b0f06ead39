#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs tests/runner/selftest.c's program and checks what its runner made
# of each known outcome (selftest.c says why this exists).
out=$("$1" 2>&1)
rc=$?
want='Tested: 9 | Passing: 4 | Failing: 5 | Crashing: 1 | Skipped: 1'
echo "$out"
if [ "$rc" -eq 0 ]; then
	echo "runner-selftest: the runner exited 0 with failing tests" >&2
	exit 1
fi
case $out in
*"$want"*) ;;
*) echo "runner-selftest: expected the summary '$want'" >&2; exit 1 ;;
esac
for t in 'self::fails: exit status 1' 'self::crashes: CRASH!' 'self::times_out: Timed out' \
	'self::param[1]: exit status 1' 'x == 3: x is 2'; do
	case $out in
	*"$t"*) ;;
	*) echo "runner-selftest: no '$t' in the output" >&2; exit 1 ;;
	esac
done
