#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Each public header compiles on its own (dav1d's header test): for
# include/weft.h and every include/weft/*.h, a translation unit that holds
# nothing but that header, included twice (the include guard must work),
# compiled with warnings as errors; and weft.h includes every one of them.
# Run by meson (tests/meson.build):
#
#   test_headers.sh INCLUDE_DIR LANG FLAGS... -- COMPILER...
#
# LANG is c or c++. Headers are found at run time, so a new header is
# checked without touching the build files.
set -euo pipefail

incdir=${1:?usage: test_headers.sh INCLUDE_DIR c|c++ FLAGS... -- COMPILER...}
lang=${2:?}
shift 2
flags=()
while (($#)) && [[ $1 != -- ]]; do
	flags+=("$1")
	shift
done
[[ ${1:-} == -- ]] || { echo "test_headers.sh: no -- before the compiler" >&2; exit 2; }
shift
((${#@})) || { echo "test_headers.sh: no compiler" >&2; exit 2; }
compiler=("$@")

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

headers=("$incdir"/weft.h "$incdir"/weft/*.h)
failed=0
for h in "${headers[@]}"; do
	rel=${h#"$incdir"/}
	src="$tmp/tu.$([[ $lang == c ]] && echo c || echo cpp)"
	# The typedef keeps ISO C happy with a header of macros only.
	printf '#include <%s>\n#include <%s>\ntypedef int weft_header_test_tu;\n' "$rel" "$rel" >"$src"
	if "${compiler[@]}" -x "$lang" "${flags[@]}" -I "$incdir" -fsyntax-only "$src" 2>"$tmp/err"; then
		echo "ok   $rel ($lang ${flags[*]})"
	else
		echo "FAIL $rel ($lang ${flags[*]}):"
		sed 's/^/     /' "$tmp/err"
		failed=$((failed + 1))
	fi
done
# weft.h is all a user includes: it must pull in every header, directly
# or through another one (the compiler lists what it reads).
deps=$("${compiler[@]}" -x "$lang" "${flags[@]}" -I "$incdir" -MM "$incdir/weft.h" | tr -d '\\\n')
for h in "$incdir"/weft/*.h; do
	if [[ " $deps " != *" $h "* ]]; then
		echo "FAIL ${h#"$incdir"/} is not included by weft.h"
		failed=$((failed + 1))
	fi
done
echo "${#headers[@]} headers, $failed failed"
((failed == 0))
