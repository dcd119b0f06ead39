#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Checks what the shared library shows the world (a meson test, registered
# in tests/meson.build; it also runs by hand):
#
#   tools/check-exports.sh LIBWEFT_SO [WEFT_PC [INCLUDE_DIR]]
#
#  1. every dynamic symbol libweft.so defines starts with weft_ (API.md:
#     -fvisibility=hidden plus WEFT_API); weft__ is the internal prefix
#     (STYLE.md) and must not be exported either;
#  2. every function the public headers declare with WEFT_API is exported
#     (a declared but missing function is a link error for users);
#  3. the library has a SONAME (libweft.so.<major>);
#  4. weft.pc exists and pkg-config accepts it.
#
# Linker-generated symbols that some toolchains export from every shared
# object (_init _fini __bss_start _edata _end) are tolerated, and named in
# the output, only when they actually appear.
set -euo pipefail

lib=${1:?usage: check-exports.sh LIBWEFT_SO [WEFT_PC [INCLUDE_DIR]]}
pc=${2:-}
incdir=${3:-}
fail=0
bad() { echo "FAIL: $*" >&2; fail=1; }

for tool in nm readelf; do
	command -v "$tool" >/dev/null || { echo "FAIL: $tool not found (binutils)" >&2; exit 1; }
done
[[ -f $lib ]] || { echo "FAIL: no such library: $lib" >&2; exit 1; }

# 1. Exported symbols. nm -D --defined-only prints "ADDR TYPE NAME" (or
# "TYPE NAME" for absolute symbols); versioned names end in @VER / @@VER.
mapfile -t syms < <(nm -D --defined-only "$lib" | awk '{ print $NF }' | sed 's/@.*//' | sort -u)
tolerated=(_init _fini __bss_start _edata _end)
ignored=() exported=0
for s in "${syms[@]}"; do
	[[ -n $s ]] || continue
	if [[ " ${tolerated[*]} " == *" $s "* ]]; then
		ignored+=("$s")
	elif [[ $s == weft__* ]]; then
		bad "internal symbol exported: $s (weft__ is the private prefix)"
	elif [[ $s != weft_* ]]; then
		bad "symbol without the weft_ prefix exported: $s"
	else
		exported=$((exported + 1))
	fi
done
echo "exports: $exported weft_ symbols"
((${#ignored[@]} == 0)) || echo "exports: ignored linker symbols: ${ignored[*]}"
((exported > 0)) || bad "no weft_ symbol exported at all"

# 2. Every WEFT_API function of the headers is defined.
if [[ -n $incdir ]]; then
	# A declaration starts a line with WEFT_API; its name is the last
	# identifier before the first '(' (possibly on a following line).
	mapfile -t declared < <(cat "$incdir"/weft.h "$incdir"/weft/*.h | awk '
		/^WEFT_API[ \t]/ { decl = ""; on = 1 }
		on { decl = decl " " $0; if (index(decl, "(")) { print decl; on = 0 } }' |
		sed -E 's/^([^(]*[^A-Za-z0-9_(])?([A-Za-z_][A-Za-z0-9_]*)[[:space:]]*\(.*/\2/' | sort -u)
	for d in "${declared[@]}"; do
		[[ " ${syms[*]} " == *" $d "* ]] || bad "declared WEFT_API in include/ but not exported: $d"
	done
	echo "exports: ${#declared[@]} WEFT_API declarations in $incdir, all checked"
fi

# 3. SONAME.
soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
if [[ -z $soname ]]; then
	bad "$lib has no SONAME"
elif [[ ! $soname =~ ^libweft\.so\.[0-9]+$ ]]; then
	bad "unexpected SONAME $soname (want libweft.so.<major>)"
else
	echo "soname: $soname"
fi

# 4. weft.pc.
if [[ -n $pc ]]; then
	if [[ ! -f $pc ]]; then
		bad "weft.pc was not generated ($pc)"
	else
		grep -q '^Name: weft$' "$pc" || bad "$pc: no 'Name: weft'"
		grep -q '^Libs:.*-lweft' "$pc" || bad "$pc: Libs lacks -lweft"
		grep -q '^Version: [0-9]' "$pc" || bad "$pc: no Version"
		if command -v pkg-config >/dev/null; then
			pkg-config --validate "$pc" || bad "pkg-config --validate $pc"
		fi
		echo "pkg-config: $(grep '^Version:' "$pc")"
	fi
fi

((fail == 0)) && echo "check-exports: ok"
exit "$fail"
