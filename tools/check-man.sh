#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The man pages match the headers (a meson test of -Ddocs=true builds):
#
#   tools/check-man.sh MAN_DIR INCLUDE_DIR
#
# as many NAME.3 pages in MAN_DIR as lines starting with WEFT_API in the
# public headers; each page is a function the headers declare, and has a
# NAME, SYNOPSIS (with its declaration) and DESCRIPTION section.
set -euo pipefail

mandir=${1:?usage: check-man.sh MAN_DIR INCLUDE_DIR}
incdir=${2:?usage: check-man.sh MAN_DIR INCLUDE_DIR}
fail=0
bad() { echo "FAIL: $*" >&2; fail=1; }

headers=("$incdir"/weft.h "$incdir"/weft/*.h)
# Each declaration on one line, then the name before its first '('
# (common.h's #define WEFT_API matches too: only weft_ names count).
declare -A is_api=()
while read -r name; do
	is_api[$name]=1
done < <(cat "${headers[@]}" | tr '\n' ' ' | grep -o 'WEFT_API[^;]*;' |
	sed -E 's/^([^(]*[^A-Za-z0-9_(])?([A-Za-z_][A-Za-z0-9_]*) *\(.*/\2/' | grep '^weft_')
declared=$(cat "${headers[@]}" | grep -c '^WEFT_API' || true)
shopt -s nullglob
pages=("$mandir"/*.3)
echo "man pages: ${#pages[@]}; WEFT_API declarations: $declared (${#is_api[@]} names)"
((${#pages[@]} == declared)) || bad "${#pages[@]} pages for $declared WEFT_API functions"
for p in "${pages[@]}"; do
	name=$(basename "$p" .3)
	[[ -n ${is_api[$name]:-} ]] || bad "$p: $name is not a WEFT_API function of $incdir"
	# the sections, and the declaration in the synopsis (not the title)
	missing=$(awk -v name="$name(" '
		/^\.SH / { sec = $2 } /^\.SH (NAME|SYNOPSIS|DESCRIPTION)$/ { seen[$2] = 1 }
		sec == "SYNOPSIS" && index($0, name) { decl = 1 }
		END { for (s in want) if (!(s in seen)) printf "%s ", s; if (!decl) printf "declaration" }
		BEGIN { want["NAME"]; want["SYNOPSIS"]; want["DESCRIPTION"] }' "$p")
	[[ -z $missing ]] || bad "$p: no $missing"
done
((fail == 0)) && echo "check-man: ok"
exit "$fail"
