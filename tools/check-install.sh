#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Uses weft as README.md tells a user to (tools/test.sh runs it with the
# plain build; it also runs by hand):
#
#   tools/check-install.sh [BUILD_ROOT]      (default: build)
#
#  1. library-only builds (-Dtests=false -Dbenchmarks=false
#     -Dexamples=false), installed into BUILD_ROOT/install-both
#     (default_library=both) and BUILD_ROOT/install-static (static only);
#     each has the headers, weft.pc in LIBDIR/pkgconfig, and the libraries
#     its default_library asks for (no tests, examples or benchmarks built);
#  2. README.md's example (its ```c block) compiles with -Wall -Wextra
#     -Werror through pkg-config and prints 285: linked to libweft.so with
#     an rpath, with LD_LIBRARY_PATH, and statically (pkg-config --static
#     against the static-only install, and -l:libweft.a against the other),
#     where ldd must not show libweft;
#  3. README.md's subproject snippet (its ```meson block) in a tiny parent
#     project, with this tree as subprojects/weft: it builds the library
#     alone (no weft test in the parent's `meson test`), static, and the
#     example runs.
#
# Build directories are reused across runs. Prints one PASS/FAIL/SKIP line
# per check and last "check-install: N passed, N failed, N skipped"; exits
# non-zero on a failure. WEFT_ALLOW_NO_IO_URING=1: programs are built but
# not run (their checks skip). Needs meson, ninja, pkg-config, CC (cc).
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
src=$PWD
root=${1:-build}
mkdir -p "$root"
root=$(cd "$root" && pwd)
cc=${CC:-cc}
passed=0 failed=0 skipped=0
pass() { echo "PASS: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*" >&2; failed=$((failed + 1)); }
skip() { echo "SKIP: $*"; skipped=$((skipped + 1)); }
no_run=0
[[ ${WEFT_ALLOW_NO_IO_URING:-0} != 1 ]] || no_run=1
# A user's environment, not the caller's: no inherited pkg-config path.
unset PKG_CONFIG_PATH LD_LIBRARY_PATH

# The README's blocks, verbatim: the first ```c and the first ```meson.
block() { awk -v lang="$1" '$0 == "```" lang { on = 1; next } on && /^```/ { exit } on' README.md; }
example=$root/readme_example.c
block c >"$example"
snippet=$(block meson)
[[ -s $example ]] || fail "README.md has no \`\`\`c block"
[[ -n $snippet ]] || fail "README.md has no \`\`\`meson block"

# run WHAT PROGRAM: runs it and checks it prints 285.
run() {
	local what=$1 prog=$2 out
	shift 2
	if ((no_run)); then
		skip "$what: built; not run (no io_uring)"
		return
	fi
	if out=$("$@" "$prog" 2>&1) && [[ $out == 285 ]]; then
		pass "$what"
	else
		fail "$what: printed '$out' (want 285)"
	fi
}

# linked_to PROGRAM: does the dynamic linker load a libweft for it?
# (grep reads all: grep -q could end ldd by SIGPIPE, failing the pipe.)
linked_to_weft() { ldd "$1" 2>/dev/null | grep 'libweft\.so' >/dev/null; }

# --- 1. library-only installs ------------------------------------------------
# install KIND: sets up, builds and installs BUILD_ROOT/install-KIND; echoes
# its libdir. The README's options, plus debugoptimized (quicker to build).
install_lib() {
	local kind=$1 dir=$root/lib-$1 prefix=$root/install-$1
	local opts=(--prefix="$prefix" --buildtype=debugoptimized -Ddefault_library="$kind"
		-Dtests=false -Dbenchmarks=false -Dexamples=false)
	{
		if [[ -f $dir/meson-private/coredata.dat ]]; then
			meson setup --reconfigure "$dir" "${opts[@]}" ||
				meson setup --wipe "$dir" "${opts[@]}"
		else
			meson setup "$dir" "${opts[@]}"
		fi && ninja -C "$dir" && rm -rf "$prefix" && meson install -C "$dir"
	} >"$root/lib-$kind.log" 2>&1 || {
		cat "$root/lib-$kind.log" >&2
		return 1
	}
	local libdir
	libdir=$(meson introspect "$dir" --buildoptions |
		python3 -c 'import json, sys; print([o["value"] for o in json.load(sys.stdin) if o["name"] == "libdir"][0])')
	echo "$prefix/$libdir"
}

# what a library-only build built besides the library: nothing
only_library() {
	local dir=$root/lib-$1 extra
	extra=$(find "$dir" -maxdepth 2 \( -name 'test_*' -o -name 'stress_*' -o -name weft_bench \
		-o -name hello_tasks \) -type f | head -3)
	[[ -z $extra ]] || { fail "$1: the library-only build built $extra"; return; }
	pass "$1: the library-only build builds no test, benchmark or example"
}

for kind in both static; do
	if ! libdir=$(install_lib "$kind"); then
		fail "$kind: meson setup, build or install failed (log above)"
		continue
	fi
	declare "libdir_$kind=$libdir"
	prefix=$root/install-$kind
	if [[ -f $prefix/include/weft.h && -f $prefix/include/weft/runtime.h &&
		-f $libdir/pkgconfig/weft.pc ]]; then
		pass "$kind: installed weft.h, weft/*.h, $libdir/pkgconfig/weft.pc"
	else
		fail "$kind: headers or $libdir/pkgconfig/weft.pc missing under $prefix"
	fi
	has_so=0 has_a=0
	[[ -e $libdir/libweft.so.0 ]] && has_so=1
	[[ -f $libdir/libweft.a ]] && has_a=1
	case $kind:$has_so$has_a in
	both:11 | static:01) pass "$kind: installed libraries as default_library=$kind says" ;;
	*) fail "$kind: libweft.so.0 installed: $has_so, libweft.a: $has_a" ;;
	esac
	only_library "$kind"
done

# --- 2. the README example against the installs --------------------------------
if [[ -n ${libdir_both:-} && -s $example ]]; then
	export PKG_CONFIG_PATH=$libdir_both/pkgconfig
	flags=$(pkg-config --cflags --libs weft)
	exe=$root/readme_rpath
	if "$cc" -Wall -Wextra -Werror -o "$exe" "$example" $flags -Wl,-rpath,"$libdir_both"; then
		pass "shared, rpath: the example builds with -Wall -Wextra -Werror"
		if ldd "$exe" | grep -F "$libdir_both/libweft.so.0" >/dev/null; then
			pass "shared, rpath: it loads $libdir_both/libweft.so.0"
		else
			fail "shared, rpath: ldd does not show $libdir_both/libweft.so.0"
		fi
		run "shared, rpath: the example runs" "$exe"
	else
		fail "shared, rpath: the example does not build: $cc -Wall -Wextra -Werror $flags"
	fi
	exe=$root/readme_shared
	if "$cc" -Wall -Wextra -Werror -o "$exe" "$example" $flags; then
		run "shared, LD_LIBRARY_PATH: the example runs" "$exe" env LD_LIBRARY_PATH="$libdir_both"
	else
		fail "shared: the example does not build"
	fi
	# Both installed: -l:libweft.a picks the archive (README).
	exe=$root/readme_archive
	static_flags=$(pkg-config --static --cflags --libs weft)
	if "$cc" -Wall -Wextra -Werror -o "$exe" "$example" ${static_flags/-lweft/-l:libweft.a}; then
		if linked_to_weft "$exe"; then
			fail "static, -l:libweft.a: the program still loads libweft.so"
		else
			pass "static, -l:libweft.a: builds, no libweft.so loaded"
		fi
		run "static, -l:libweft.a: the example runs" "$exe"
	else
		fail "static, -l:libweft.a: the example does not build: $static_flags"
	fi
fi
if [[ -n ${libdir_static:-} && -s $example ]]; then
	export PKG_CONFIG_PATH=$libdir_static/pkgconfig
	flags=$(pkg-config --static --cflags --libs weft)
	exe=$root/readme_static
	if "$cc" -Wall -Wextra -Werror -o "$exe" "$example" $flags; then
		if linked_to_weft "$exe"; then
			fail "static: the program loads libweft.so"
		else
			pass "static: the example builds with pkg-config --static, no libweft.so loaded"
		fi
		run "static: the example runs" "$exe"
	else
		fail "static: the example does not build: $cc -Wall -Wextra -Werror $flags"
	fi
fi
unset PKG_CONFIG_PATH

# --- 3. weft as a subproject -------------------------------------------------
if [[ -n $snippet && -s $example ]]; then
	parent=$root/parent
	mkdir -p "$parent/subprojects"
	ln -sfn "$src" "$parent/subprojects/weft"
	cp "$example" "$parent/app.c"
	printf "project('parent', 'c')\n%s\n" "$snippet" >"$parent/meson.build.new"
	cmp -s "$parent/meson.build.new" "$parent/meson.build" || mv "$parent/meson.build.new" "$parent/meson.build"
	rm -f "$parent/meson.build.new"
	pdir=$parent/build
	# An installed weft would win over the subproject: force it.
	if {
		if [[ -f $pdir/meson-private/coredata.dat ]]; then
			meson setup --reconfigure "$pdir" "$parent" --force-fallback-for=weft ||
				meson setup --wipe "$pdir" "$parent" --force-fallback-for=weft
		else
			meson setup "$pdir" "$parent" --force-fallback-for=weft
		fi && ninja -C "$pdir"
	} >"$root/parent.log" 2>&1; then
		pass "subproject: the README snippet configures and builds"
		ntests=$(meson introspect "$pdir" --tests | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')
		targets=$(meson introspect "$pdir" --targets |
			python3 -c 'import json, sys; print(" ".join(sorted(t["name"] for t in json.load(sys.stdin) if t["subproject"])))')
		if [[ $ntests == 0 && $targets == weft ]]; then
			pass "subproject: weft builds only its library (no test in the parent's meson test)"
		else
			fail "subproject: weft's targets: '$targets', tests: $ntests (want: weft, 0)"
		fi
		app=$(find "$pdir" -maxdepth 1 -name app -type f)
		if [[ -z $app ]]; then
			fail "subproject: no app built"
		else
			if linked_to_weft "$app"; then
				fail "subproject: default_library=static, yet app loads libweft.so"
			else
				pass "subproject: default_library=static is honoured (no libweft.so)"
			fi
			run "subproject: the example runs" "$app"
		fi
	else
		cat "$root/parent.log" >&2
		fail "subproject: the README snippet does not build (log above)"
	fi
fi

echo "check-install: $passed passed, $failed failed, $skipped skipped"
((failed == 0))
