#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Checks that src/ keeps its floors: each folder src/A uses only itself and
# the folders its row of the layer table lists, so the arrows only go down.
#
#   tools/check-layers.sh [--includes-only] [--table FILE] [BUILDDIR]
#
# 1. The table is read from docs/architecture.md (one table, so the page
#    and the check cannot disagree): between a line `<!-- layers: begin -->`
#    and a line `<!-- layers: end -->`, a markdown table with the header
#    `| folder | what lives there | may use |`. A row's first cell is one
#    backticked folder (`src/core`); its last one lists the folders it may
#    use (`src/sched`, `src/fiber`, comma-separated) or `—` for none. A
#    folder may always use itself. Missing markers, a malformed table, a
#    folder with two rows, a folder listed twice in a row, a listed folder
#    with no row of its own, or arrows that form a cycle: the check fails
#    before looking at the code.
# 2. Includes: every `#include "X/..."` (quoted, with a folder part) of every
#    .c, .h and .S file under src/<folder>/ names its own folder or one its
#    row lists (X may also be a folder of include/, the public headers). A
#    folder of src/ without a row is an error.
# 3. Symbols (not with --includes-only): the library's objects,
#    BUILDDIR/src/libweft.so.*.p/<folder>_<file>.o (default BUILDDIR:
#    build/test-plain; it is only read, never built). Every weft_ or weft__
#    symbol an object of src/A leaves undefined (`nm -P`: functions and
#    variables, thread-local ones included) must be defined (globally) by
#    src/A or a folder A's row lists. Exempt: the functions declared in
#    src/sched/hooks.h (the scheduler's sanctioned calls upward), and only
#    when the reference comes from src/sched; each of them must be defined
#    somewhere in the library. An undefined weft_ symbol that no object
#    defines is an error; other symbols (libc, liburing) are not weft's.
#    Objects whose source no longer exists (a file moved, the build not
#    cleaned) are skipped, and sources without an object or older than
#    theirs are noted: rebuild for a check that matches the tree.
# 4. Prints every violation (stdout) and exits 1; when clean, prints one
#    line "check-layers: F folders, N includes, M cross-folder symbols: ok"
#    (F: folders of src/; N: quoted folder includes checked; M: pairs of a
#    folder and a symbol it uses from another folder) and exits 0.
#
# Options:
#   --includes-only  skip the symbols (no build directory needed)
#   --table FILE     read the table from FILE (default docs/architecture.md)
#   -h, --help       this text
# Exit status: 0 clean, 1 violations or a bad table, 2 cannot check (bad
# option, no build directory, nm missing or failing: a build under way).
set -euo pipefail

usage() { sed -n '4,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'; }

includes_only=0
table=
builddir=
while (($#)); do
	case $1 in
	--includes-only) includes_only=1 ;;
	--table) (($# > 1)) || { echo "check-layers: --table needs a FILE" >&2; exit 2; }
		table=$2; shift ;;
	--table=*) table=${1#--table=} ;;
	-h | --help) usage; exit 0 ;;
	--) shift; break ;;
	-*) echo "check-layers: unknown option: $1" >&2; usage >&2; exit 2 ;;
	*) [[ -z $builddir ]] || { echo "check-layers: one BUILDDIR only" >&2; exit 2; }
		builddir=$1 ;;
	esac
	shift
done
if (($#)); then
	[[ -z $builddir && $# == 1 ]] || { echo "check-layers: one BUILDDIR only" >&2; exit 2; }
	builddir=$1
fi

# Paths given by the user are relative to where they ran us; the rest to
# the repository's root.
table_name=${table:-docs/architecture.md}
[[ -z $table || $table == /* ]] || table=$PWD/$table
[[ -z $builddir || $builddir == /* ]] || builddir=$PWD/$builddir
cd "$(dirname "${BASH_SOURCE[0]}")/.."
table=${table:-docs/architecture.md}
builddir=${builddir:-build/test-plain}
hooks_h=src/sched/hooks.h
hooks_folder=sched

die() { echo "check-layers: $*" >&2; exit 2; }
nviol=0
viol() { echo "$*"; nviol=$((nviol + 1)); }
# fail_table MSG: a problem with the table itself (line numbers are the file's).
table_bad=0
fail_table() { echo "$table_name:$*"; table_bad=1; }
trim() {
	local s=$1
	s=${s#"${s%%[![:space:]]*}"}
	printf '%s' "${s%"${s##*[![:space:]]}"}"
}

# --- 1. the table -----------------------------------------------------------
[[ -f $table ]] || die "no such file: $table"
mapfile -t lines <"$table"
begin=() end=()
for i in "${!lines[@]}"; do
	l=${lines[i]%$'\r'}
	[[ ! $l =~ ^[[:space:]]*'<!-- layers: begin -->'[[:space:]]*$ ]] || begin+=("$i")
	[[ ! $l =~ ^[[:space:]]*'<!-- layers: end -->'[[:space:]]*$ ]] || end+=("$i")
done
if ((${#begin[@]} != 1 || ${#end[@]} != 1)); then
	((${#begin[@]})) || fail_table " no line '<!-- layers: begin -->' (the layer table's start)"
	((${#end[@]})) || fail_table " no line '<!-- layers: end -->' (the layer table's end)"
	((${#begin[@]} < 2)) || fail_table " ${#begin[@]} lines '<!-- layers: begin -->': there is one table"
	((${#end[@]} < 2)) || fail_table " ${#end[@]} lines '<!-- layers: end -->': there is one table"
	exit 1
fi
((begin[0] < end[0])) || { fail_table " '<!-- layers: end -->' (line $((end[0] + 1))) comes before" \
	"'<!-- layers: begin -->' (line $((begin[0] + 1)))"; exit 1; }

# cells ROW: the row's cells, trimmed, in the array `cells` (an escaped \|
# stays inside its cell).
cells() {
	local r
	r=$(trim "$1")
	r=${r#|}
	r=${r%|}
	r=${r//\\|/$'\x01'}
	local -a raw
	IFS='|' read -ra raw <<<"$r|"
	cells=()
	local c
	for c in "${raw[@]}"; do
		c=$(trim "$c")
		cells+=("${c//$'\x01'/\\|}")
	done
}
# folder_cell TEXT: prints NAME when TEXT is exactly `src/NAME`.
folder_cell() {
	[[ $1 =~ ^\`src/([^\`/[:space:]]+)/?\`$ ]] || return 1
	printf '%s' "${BASH_REMATCH[1]}"
}

declare -A row_line uses # folder -> table line; folder -> "a b c" (may use)
folders=()               # in the table's order
state='head'             # head, sep, body, after (a blank line), broken
for ((i = begin[0] + 1; i < end[0]; i++)); do
	l=${lines[i]%$'\r'}
	n=$((i + 1))
	[[ $l =~ [^[:space:]] ]] || { [[ $state != body ]] || state=after; continue; }
	if [[ $(trim "$l") != \|* ]]; then
		fail_table "$n: only the layer table belongs between the markers: $l"
		continue
	fi
	cells "$l"
	case $state in
	head)
		if ((${#cells[@]} != 3)) || [[ ${cells[0],,} != folder || ${cells[1],,} != "what lives there" ||
			${cells[2],,} != "may use" ]]; then
			fail_table "$n: the table's header must be '| folder | what lives there | may use |', not: $l"
			exit 1
		fi
		state=sep
		continue
		;;
	sep)
		ok=1
		((${#cells[@]} == 3)) || ok=0
		for c in "${cells[@]}"; do [[ $c =~ ^:?-+:?$ ]] || ok=0; done
		((ok)) || { fail_table "$n: expected the separator row '|---|---|---|' under the header: $l"; exit 1; }
		state=body
		continue
		;;
	after)
		fail_table "$n: a blank line splits the table (markdown ends it there): $l"
		state='broken'
		continue
		;;
	broken) continue ;;
	esac
	if ((${#cells[@]} != 3)); then
		fail_table "$n: a row has 3 cells (folder | what lives there | may use), this one ${#cells[@]}" \
			"(escape a | inside a cell as \\|): $l"
		continue
	fi
	if ! f=$(folder_cell "${cells[0]}"); then
		fail_table "$n: the first cell must be one backticked folder like \`src/core\`, not: ${cells[0]}"
		continue
	fi
	if [[ ! $f =~ ^[A-Za-z0-9][A-Za-z0-9.-]*$ ]]; then
		fail_table "$n: folder name src/$f: letters, digits, '.' and '-' only (meson names an" \
			"object <folder>_<file>.o, so a '_' would hide which folder it belongs to)"
		continue
	fi
	if [[ -n ${row_line[$f]:-} ]]; then
		fail_table "$n: src/$f has a row already (line ${row_line[$f]}): one row per folder"
		continue
	fi
	row_line[$f]=$n
	folders+=("$f")
	last=${cells[2]}
	list=()
	if [[ -z $last ]]; then
		fail_table "$n: the last cell of src/$f is empty: list the folders it may use, or write — for none"
	elif [[ $last != — && $last != - ]]; then
		IFS=, read -ra items <<<"$last,"
		for it in "${items[@]}"; do
			it=$(trim "$it")
			if [[ -z $it ]]; then
				fail_table "$n: an empty item in the last cell (a stray comma?): $last"
				continue
			elif ! u=$(folder_cell "$it"); then
				fail_table "$n: the last cell lists backticked folders (\`src/sched\`, \`src/io\`)" \
					"or is — for none; '$it' is neither (in: $last)"
				continue
			fi
			if [[ " ${list[*]} " == *" $u "* ]]; then
				fail_table "$n: src/$f lists src/$u twice"
				continue
			fi
			list+=("$u")
		done
	fi
	uses[$f]="${list[*]}"
done
[[ $state != head ]] || { fail_table "$((begin[0] + 1))-$((end[0] + 1)): no table between the markers"; exit 1; }
((${#folders[@]})) || { fail_table "$((begin[0] + 1))-$((end[0] + 1)): the layer table has no rows"; exit 1; }
((table_bad == 0)) || exit 1
for f in "${folders[@]}"; do
	for u in ${uses[$f]}; do
		[[ -n ${row_line[$u]:-} ]] ||
			fail_table "${row_line[$f]}: src/$f may use src/$u, which has no row of its own"
	done
done
((table_bad == 0)) || exit 1

# Cycles (a folder using itself is no arrow): a depth-first search; every
# edge back into the current path closes one cycle.
declare -A colour
path=()
cycles=()
dfs() {
	local u=$1 v i c
	colour[$u]=1
	path+=("$u")
	for v in ${uses[$u]}; do
		[[ $v != "$u" ]] || continue
		case ${colour[$v]:-0} in
		0) dfs "$v" ;;
		1)
			c=
			for ((i = ${#path[@]} - 1; i >= 0; i--)); do
				c="src/${path[i]} -> ${c:-src/$v}"
				[[ ${path[i]} != "$v" ]] || break
			done
			cycles+=("$c")
			;;
		esac
	done
	unset 'path[-1]'
	colour[$u]=2
}
for f in "${folders[@]}"; do
	[[ ${colour[$f]:-0} != 0 ]] || dfs "$f"
done
for c in "${cycles[@]}"; do
	fail_table " the arrows form a cycle: $c"
done
((table_bad == 0)) || exit 1

# may_use A B: A is B or A's row lists B.
may_use() { [[ $1 == "$2" || " ${uses[$1]:-} " == *" $2 "* ]]; }
# allowed A: the list A's row gives, for messages.
allowed() {
	local u s=
	for u in ${uses[$1]:-}; do s+="${s:+, }src/$u"; done
	echo "${s:-nothing}"
}

# --- 2. includes ------------------------------------------------------------
[[ -d src ]] || die "no src/ in $PWD"
src_folders=()
for d in src/*/; do
	[[ -d $d ]] || continue
	d=${d%/}
	src_folders+=("${d#src/}")
done
((${#src_folders[@]})) || die "no folders in src/"
declare -A in_src
for f in "${src_folders[@]}"; do
	in_src[$f]=1
	[[ -n ${row_line[$f]:-} ]] || viol "src/$f: a folder with no row in the layer table ($table_name)"
done

mapfile -d '' -t files < <(find "${src_folders[@]/#/src/}" -type f \
	\( -name '*.c' -o -name '*.h' -o -name '*.S' \) -print0 | LC_ALL=C sort -z)
nincl=0
if ((${#files[@]})); then
	include_re='^[[:space:]]*#[[:space:]]*include[[:space:]]*"([^"/]+)/([^"]*)"'
	while IFS= read -r hit; do
		file=${hit%%:*}
		rest=${hit#*:}
		line=${rest%%:*}
		text=${rest#*:}
		[[ $text =~ $include_re ]] || continue
		x=${BASH_REMATCH[1]} tail=${BASH_REMATCH[2]}
		a=${file#src/}
		a=${a%%/*}
		nincl=$((nincl + 1))
		[[ -n ${row_line[$a]:-} ]] || continue # reported once above
		if [[ -z ${in_src[$x]:-} && -z ${row_line[$x]:-} ]]; then
			[[ ! -d include/$x ]] || continue # the public headers: anyone's
			viol "$file:$line: src/$a includes \"$x/$tail\": there is no folder src/$x" \
				"(nor include/$x)"
			continue
		fi
		may_use "$a" "$x" ||
			viol "$file:$line: src/$a includes src/$x/$tail (src/$a may use: $(allowed "$a"))"
	done < <(grep -HnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[^"/]+/' "${files[@]}" || true)
fi

if ((includes_only)); then
	if ((nviol)); then
		echo "check-layers: $nviol violation(s) ($table_name; symbols not checked)"
		exit 1
	fi
	echo "check-layers: ${#src_folders[@]} folders, $nincl includes (symbols not checked): ok"
	exit 0
fi

# --- 3. symbols -------------------------------------------------------------
for tool in nm readelf; do
	command -v "$tool" >/dev/null || die "$tool not found (binutils)"
done
[[ -d $builddir ]] || die "no build directory $builddir (meson setup it and build it, or" \
	"pass --includes-only)"
shopt -s nullglob
pdirs=("$builddir"/src/libweft.so.*.p)
shopt -u nullglob
# A version bump leaves the old libweft.so.X.p behind: take the directory
# whose library is there, else the newest.
objdir=
if ((${#pdirs[@]} == 1)); then
	objdir=${pdirs[0]}
elif ((${#pdirs[@]} > 1)); then
	for d in "${pdirs[@]}"; do
		[[ -f ${d%.p} ]] || continue
		[[ -n $objdir && ! $d -nt $objdir ]] || objdir=$d
	done
	if [[ -z $objdir ]]; then
		for d in "${pdirs[@]}"; do
			[[ -n $objdir && ! $d -nt $objdir ]] || objdir=$d
		done
	fi
	echo "check-layers: note: several ${builddir}/src/libweft.so.*.p directories; reading $objdir" >&2
fi
[[ -n $objdir ]] || die "no $builddir/src/libweft.so.*.p: is $builddir a built meson directory of weft?"

# The objects the sources of today's tree make (meson: path below src/ with
# / -> _, then .o).
declare -A source_of
for s in "${files[@]}"; do
	[[ $s == *.h ]] && continue
	o=${s#src/}
	source_of[${o//\//_}.o]=$s
done
nmerr=$(mktemp)
trap 'rm -f "$nmerr"' EXIT
shopt -s nullglob
objs=("$objdir"/*.o)
shopt -u nullglob
((${#objs[@]})) || die "no objects in $objdir (is the library built?)"

# nm_read OBJ: `nm -P OBJ` into nmout, complaints into $nmerr. Fails on an
# object being written (empty or truncated): nm may then find "no symbols"
# and exit 0, but readelf sees its section headers missing.
nm_read() {
	local e
	nmout=$(nm -P "$1" 2>"$nmerr") || return 1
	! grep -qv ': no symbols$' "$nmerr" || return 1
	if ! e=$(readelf -S -W "$1" 2>&1 >/dev/null) || [[ -n $e ]]; then
		echo "$e" >>"$nmerr"
		return 1
	fi
}

declare -A defs     # symbol -> folders defining it (space-separated)
declare -A refs     # "folder symbol" -> objects referencing it
declare -A have_obj # object name -> 1
declare -A stale_defs # symbol -> stale objects defining it
nnotes=0
for o in "${objs[@]}"; do
	name=${o##*/}
	# nm -P: "NAME TYPE [VALUE SIZE]". U (and weak w, v) undefined; an
	# upper-case type (or u, unique; i, ifunc) a global definition.
	nm_read "$o" || die "cannot read $o (empty or truncated: a build under way? rerun when it is" \
		"done)$([[ -s $nmerr ]] && printf ': %s' "$(tr '\n' ' ' <"$nmerr" | head -c 300)")"
	stale=0
	if [[ -z ${source_of[$name]:-} ]]; then
		echo "check-layers: note: skipping $name: no source in src/ makes it (moved or removed;" \
			"a stale object)" >&2
		nnotes=$((nnotes + 1))
		stale=1
	else
		have_obj[$name]=1
		if [[ ${source_of[$name]} -nt $o ]]; then
			echo "check-layers: note: $name is older than ${source_of[$name]} (rebuild $builddir)" >&2
			nnotes=$((nnotes + 1))
		fi
	fi
	folder=${name%%_*}
	while read -r sym type _; do
		[[ $sym == weft_* ]] || continue
		if ((stale)); then
			# Only to explain a symbol no current object defines.
			[[ $type != [A-TV-Z] ]] || stale_defs[$sym]="${stale_defs[$sym]:+${stale_defs[$sym]}, }$name"
			continue
		fi
		case $type in
		U | w | v)
			k="$folder $sym"
			refs[$k]="${refs[$k]:+${refs[$k]} }$name"
			;;
		[A-TV-Z] | u | i)
			[[ " ${defs[$sym]:-} " == *" $folder "* ]] || defs[$sym]="${defs[$sym]:+${defs[$sym]} }$folder"
			;;
		esac
	done <<<"$nmout"
done
for s in "${!source_of[@]}"; do
	[[ -z ${have_obj[$s]:-} ]] || continue
	echo "check-layers: note: ${source_of[$s]} has no object in $objdir (not built, or the" \
		"build is older than the tree)" >&2
	nnotes=$((nnotes + 1))
done

# nowhere SYM: why no object defines SYM, when a skipped stale one does.
nowhere() {
	[[ -z ${stale_defs[$1]:-} ]] || echo " (only the stale ${stale_defs[$1]} does: rebuild)"
}

# The hooks: identifiers weft__NAME followed by '(' in src/sched/hooks.h,
# outside comments and preprocessor lines.
hooks=()
if [[ -f $hooks_h ]]; then
	mapfile -t hooks < <(awk '
		{ text = text $0 "\n" }
		END {
			out = ""; n = length(text); i = 1
			while (i <= n) {
				c = substr(text, i, 2)
				if (c == "/*") { j = index(substr(text, i + 2), "*/"); i = j ? i + j + 3 : n + 1; out = out " "; continue }
				if (c == "//") { j = index(substr(text, i), "\n"); i = j ? i + j - 1 : n + 1; continue }
				out = out substr(text, i, 1); i++
			}
			m = split(out, ls, "\n")
			for (k = 1; k <= m; k++) if (ls[k] !~ /^[ \t]*#/) body = body " " ls[k]
			while (match(body, /weft__[A-Za-z0-9_]*[ \t]*\(/)) {
				id = substr(body, RSTART, RLENGTH - 1); sub(/[ \t]+$/, "", id)
				if (!(id in seen)) { seen[id] = 1; print id }
				body = substr(body, RSTART + RLENGTH)
			}
		}' "$hooks_h")
fi
declare -A is_hook
for h in "${hooks[@]}"; do
	is_hook[$h]=1
	[[ -n ${defs[$h]:-} ]] ||
		viol "$hooks_h declares the hook $h, which no object of the library defines$(nowhere "$h")"
done

ncross=0
mapfile -t keys < <(printf '%s\n' "${!refs[@]}" | LC_ALL=C sort)
for k in "${keys[@]}"; do
	[[ -n $k ]] || continue
	a=${k%% *} sym=${k#* }
	[[ -n ${row_line[$a]:-} ]] || continue # the folder without a row is reported already
	where=${defs[$sym]:-}
	if [[ -z $where ]]; then
		viol "src/$a uses $sym, which no object of the library defines$(nowhere "$sym"); in" \
			"${refs[$k]// /, }"
		continue
	fi
	[[ " $where " != *" $a "* ]] || continue # its own
	ncross=$((ncross + 1))
	[[ -z ${is_hook[$sym]:-} || $a != "$hooks_folder" ]] || continue
	ok=0
	for b in $where; do
		! may_use "$a" "$b" || ok=1
	done
	((ok)) || viol "src/$a uses $sym, defined in src/${where// /, src/} (src/$a may use:" \
		"$(allowed "$a")); in ${refs[$k]// /, }"
done

# --- 4. verdict -------------------------------------------------------------
if ((nviol)); then
	echo "check-layers: $nviol violation(s) ($table_name, $objdir)"
	((nnotes == 0)) || echo "check-layers: and $nnotes note(s) on stderr: $builddir does not match" \
		"the tree; rebuild it for a faithful symbol check"
	exit 1
fi
echo "check-layers: ${#src_folders[@]} folders, $nincl includes, $ncross cross-folder symbols: ok"
((nnotes == 0)) || echo "check-layers: but $nnotes note(s) above: $builddir does not match the tree;" \
	"rebuild it for a faithful symbol check" >&2
