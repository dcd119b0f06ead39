#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# weft's test entry point (CI runs it through .ci/run).
#
#   tools/test.sh [--quick] [--builds=plain,asan,tsan] [--no-install] [-- MESON-TEST-ARGS...]
#
# 1. Installs what is missing (Debian 12, as root or with passwordless
#    sudo): meson, ninja, pkg-config, gcc/g++, liburing, concurrencykit,
#    Criterion, libunwind (task backtraces: weft_task_stack, weft_dump;
#    optional to the build, which then answers -ENOSYS there),
#    valgrind (src/fiber/stack.c includes valgrind/valgrind.h),
#    scdoc (the plain build's man pages, -Ddocs=true).
#    Does nothing when everything is there.
# 2. Checks that io_uring works here (a tiny liburing probe). Without it
#    the run FAILS, unless WEFT_ALLOW_NO_IO_URING=1: then weft falls back
#    to its epoll backend, the whole suite runs on it (the few tests of
#    io_uring's own set-up skip), the io_uring backend goes untested, and
#    the summary says so.
# 3. Three build directories, each reused across runs (meson setup
#    --reconfigure), built and tested with `meson test --print-errorlogs`:
#      plain  build/test-plain  debugoptimized; every suite (unit, stress,
#                               build, examples); the man pages too
#                               (-Ddocs=true: the build suite compares
#                               them with the headers)
#      asan   build/test-asan   ASan + UBSan; every suite
#      plain-epoll, asan-epoll, tsan-epoll  each directory's unit suite again with
#                               WEFT_BACKEND=epoll (meson test --setup
#                               epoll; log meson-logs/testlog-epoll.json)
#      tsan   build/test-tsan   TSan, built with clang; every suite. Criterion
#                               aborts at start under clang's TSan here
#                               (BoxFort's arena), so this build has
#                               -Dcriterion=disabled and the same behaviour
#                               test files build against tests/runner, a
#                               stand-in for Criterion's API whose main()
#                               runs each test in a child process
#    Stress programs run at full counts in the plain build and at a quarter
#    under sanitizers (tests/stress/harness.h).
#    Why clang for TSan: both gcc 12 and clang 14 handle weft's fiber
#    annotations (__tsan_create_fiber / __tsan_switch_to_fiber) correctly
#    and report a race between tasks on two workers with both fibers'
#    stacks. But gcc 12's libtsan is the old TSan runtime: it dies at 8128
#    live fibers ("ThreadSanitizer: Thread limit (8128 threads) exceeded",
#    i.e. 8128 tasks started and not yet finished; smoke at full scale hits
#    it), and every __tsan_create_fiber maps and zeroes a large ThreadState
#    (most of its time is page faults in that memset): the stress suite
#    takes ~36 s under gcc's TSan against ~12 s under clang 14's (TSan v3,
#    package libclang-rt-14-dev), which takes 10,000 live fibers in its
#    stride. WEFT_TSAN_CC=gcc picks gcc instead (stress counts must then
#    keep fewer than ~8000 tasks alive at once).
# 4. With the plain build: tools/check-install.sh, what README.md tells a
#    user to do: library-only installs into build/install-{both,static},
#    the README's example built with -Wall -Wextra -Werror through
#    pkg-config (shared and static) and run, and weft as a subproject of
#    a tiny parent project (~45 s the first time, ~10 s after).
# 5. Prints each behaviour-test executable's "Synthesis:" line, then per
#    build how many behaviour tests ran, and last one line "N passed, N
#    failed, N skipped" over all builds (meson tests: one per executable);
#    exits non-zero on any failure (a build that does not configure or
#    compile counts as one failure).
#
# Options:
#   --quick          the plain build only (and the install checks)
#   --builds=LIST    comma-separated subset of plain,asan,tsan
#   --no-install     never run apt-get; fail if something is missing
#   -- ARGS          passed to every `meson test` (e.g. -- --suite stress)
# Environment:
#   WEFT_ALLOW_NO_IO_URING=1  run without io_uring (all on the epoll fallback)
#   WEFT_BUILD_ROOT=DIR       where the build directories go (default: build)
#   WEFT_STRESS_SCALE=F       scales the stress programs' counts (harness.h)
#   CC, CXX                   compilers of the plain and asan builds
#                             (default cc, c++)
#   WEFT_TSAN_CC, WEFT_TSAN_CXX  compilers of the tsan build (default clang,
#                             clang++; gcc, g++ work too, slowly)
#   A build directory set up with other compilers is made afresh.
set -euo pipefail

usage() { sed -n '4,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'; }

builds=(plain asan tsan)
install=1
meson_test_args=()
while (($#)); do
	case $1 in
	--quick) builds=(plain) ;;
	--builds=*) IFS=, read -ra builds <<<"${1#--builds=}" ;;
	--no-install) install=0 ;;
	-h | --help) usage; exit 0 ;;
	--) shift; meson_test_args=("$@"); break ;;
	*) echo "test.sh: unknown option: $1" >&2; usage >&2; exit 2 ;;
	esac
	shift
done
for b in "${builds[@]}"; do
	case $b in plain | asan | tsan) ;; *) echo "test.sh: unknown build: $b" >&2; exit 2 ;; esac
done

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=${WEFT_BUILD_ROOT:-build}
t_start=$SECONDS
say() { printf '\n=== %s\n' "$*"; }
die() { printf '\ntest.sh: ERROR: %s\n' "$*" >&2; exit 1; }

# --- 1. dependencies --------------------------------------------------------
say "dependencies"
# package:command. A tool counts as present when its command is on PATH
# (a pip-installed meson is fine); a library when dpkg has its package.
pkgs=(meson:meson ninja-build:ninja pkg-config:pkg-config gcc:gcc g++:g++ binutils:nm
	libc6-dev liburing-dev libck-dev libcriterion-dev libunwind-dev valgrind wrk:wrk redis-tools:redis-cli
	scdoc:scdoc)
tsan_cc=${WEFT_TSAN_CC:-clang}
case $(basename "$tsan_cc") in
clang*) tsan_cxx=${WEFT_TSAN_CXX:-${tsan_cc/clang/clang++}} ;;
gcc*) tsan_cxx=${WEFT_TSAN_CXX:-${tsan_cc/gcc/g++}} ;;
*) tsan_cxx=${WEFT_TSAN_CXX:-c++} ;;
esac
want_clang=0
[[ $(basename "${CC:-cc}") != clang* ]] || want_clang=1
[[ " ${builds[*]} " != *" tsan "* || $(basename "$tsan_cc") != clang* ]] || want_clang=1
# Debian 12's clang is clang 14; its sanitizer runtimes are a separate package.
((want_clang == 0)) || pkgs+=(clang:clang libclang-rt-14-dev)
missing=()
if command -v dpkg-query >/dev/null; then
	for pc in "${pkgs[@]}"; do
		p=${pc%%:*} c=${pc#*:}
		if [[ $pc == *:* ]]; then
			command -v "$c" >/dev/null || missing+=("$p")
		else
			dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
				missing+=("$p")
		fi
	done
else
	# Not Debian: check what the build needs and leave installing to the user.
	cs=(meson ninja pkg-config "${CC:-cc}" nm readelf scdoc)
	[[ " ${builds[*]} " != *" tsan "* ]] || cs+=("$tsan_cc")
	for c in "${cs[@]}"; do
		command -v "$c" >/dev/null || missing+=("$c")
	done
	for p in liburing ck criterion; do
		pkg-config --exists "$p" 2>/dev/null || missing+=("$p (pkg-config)")
	done
	[[ -f /usr/include/valgrind/valgrind.h ]] || missing+=("valgrind headers")
	((${#missing[@]} == 0)) || die "missing: ${missing[*]} (install them; only Debian is automated)"
fi
if ((${#missing[@]})); then
	((install)) || die "missing packages: ${missing[*]} (run without --no-install, or apt-get install them)"
	sudo=()
	if ((EUID != 0)); then
		if ! { command -v sudo >/dev/null && sudo -n true 2>/dev/null; }; then
			die "missing packages: ${missing[*]}; as root run: apt-get install ${missing[*]}"
		fi
		sudo=(sudo -n)
	fi
	echo "installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	"${sudo[@]}" apt-get update -q </dev/null
	"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
else
	echo "all present: ${pkgs[*]%%:*}"
fi

# --- 2. io_uring ------------------------------------------------------------
say "io_uring"
mkdir -p "$root"
probe_src=$root/io_uring_probe.c
cat >"$probe_src" <<'EOF'
/* tools/test.sh: does io_uring work here? One NOP through a real ring. */
#include <liburing.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	int rc = io_uring_queue_init(4, &ring, 0);
	if (rc < 0) {
		printf("io_uring_setup failed: %s\n", strerror(-rc));
		return 1;
	}
	io_uring_prep_nop(io_uring_get_sqe(&ring));
	rc = io_uring_submit_and_wait(&ring, 1);
	if (rc < 0 || (rc = io_uring_peek_cqe(&ring, &cqe)) < 0 || (rc = cqe->res) < 0) {
		printf("a NOP through the ring failed: %s\n", strerror(-rc));
		return 1;
	}
	io_uring_queue_exit(&ring);
	printf("io_uring works\n");
	return 0;
}
EOF
io_uring_ok=1
if ! "${CC:-cc}" -O1 -o "$root/io_uring_probe" "$probe_src" -luring; then
	die "cannot compile the io_uring probe ($probe_src) against liburing"
fi
if probe_out=$("$root/io_uring_probe" 2>&1); then
	echo "$probe_out (kernel $(uname -r))"
else
	io_uring_ok=0
	why=$probe_out
	if [[ -r /proc/sys/kernel/io_uring_disabled ]] &&
		[[ $(cat /proc/sys/kernel/io_uring_disabled) != 0 ]]; then
		why+="; sysctl kernel.io_uring_disabled=$(cat /proc/sys/kernel/io_uring_disabled)"
	else
		why+="; in a container the default seccomp profile blocks io_uring (docker: --security-opt seccomp=unconfined)"
	fi
	if [[ ${WEFT_ALLOW_NO_IO_URING:-0} == 1 ]]; then
		cat >&2 <<-EOF

		!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
		!! io_uring is NOT available here: $why
		!! WEFT_ALLOW_NO_IO_URING=1: going on. weft falls back to its epoll
		!! backend, so every build tests that backend only; the io_uring
		!! backend, the one weft uses where it can, goes UNTESTED.
		!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
		EOF
	else
		die "io_uring is not available here: $why.
weft itself runs here on its epoll backend, but this suite is meant to test both
backends. Set WEFT_ALLOW_NO_IO_URING=1 to test the epoll backend alone."
	fi
fi

# --- 3. builds --------------------------------------------------------------
# Every option is spelled out, so a reused directory never keeps a stale
# one. The plain build also compiles the benchmarks (not run here), unless
# the tree has none yet.
bench=true
[[ -f bench/meson.build ]] || bench=false

build_opts() {
	local common="--buildtype=debugoptimized -Ddefault_library=shared -Dtests=true -Dexamples=true"
	case $1 in
	plain) echo "$common -Db_sanitize=none -Db_lundef=true -Dcriterion=enabled -Dbenchmarks=$bench" \
		"-Ddocs=true" ;;
	asan) echo "$common -Db_sanitize=address,undefined -Db_lundef=false -Dcriterion=enabled" \
		"-Dbenchmarks=false -Ddocs=false" ;;
	tsan) echo "$common -Db_sanitize=thread -Db_lundef=false -Dcriterion=disabled" \
		"-Dbenchmarks=false -Ddocs=false" ;;
	esac
}

# setup BUILD DIR OPTS...: reuse a configured directory; start afresh when
# it was set up with other compilers (meson keeps the first ones) or when
# meson cannot reconfigure it (say, made by another meson version).
setup() {
	local b=$1 dir=$2
	shift 2
	local cc=${CC:-cc} cxx=${CXX:-c++}
	[[ $b != tsan ]] || cc=$tsan_cc cxx=$tsan_cxx
	local stamp="$dir/weft-test-compilers"
	if [[ -f $dir/meson-private/coredata.dat && $(cat "$stamp" 2>/dev/null) != "$cc $cxx" ]]; then
		echo "$dir: set up with other compilers than $cc $cxx: starting afresh"
		rm -rf "$dir"
	fi
	if [[ -f $dir/meson-private/coredata.dat ]]; then
		meson setup --reconfigure "$dir" "$@" || CC=$cc CXX=$cxx meson setup --wipe "$dir" "$@"
	else
		CC=$cc CXX=$cxx meson setup "$dir" "$@"
	fi
	echo "$cc $cxx" >"$stamp"
}

declare -A status times counted
build_failures=0
epoll_builds=()
for b in "${builds[@]}"; do
	dir=$root/test-$b
	t0=$SECONDS
	say "$b: $dir ($(build_opts "$b"); CC=$([[ $b == tsan ]] && echo "$tsan_cc" || echo "${CC:-cc}"))"
	rm -f "$dir"/meson-logs/testlog.json "$dir"/meson-logs/testlog.txt
	# shellcheck disable=SC2046 # the options are words
	if ! setup "$b" "$dir" $(build_opts "$b") >"$root/setup-$b.log" 2>&1; then
		cat "$root/setup-$b.log" >&2
		echo "$b: meson setup FAILED (log above)" >&2
		status[$b]="did not configure"
		build_failures=$((build_failures + 1))
	elif ! ninja -C "$dir"; then
		echo "$b: build FAILED" >&2
		status[$b]="did not compile"
		build_failures=$((build_failures + 1))
	elif meson test -C "$dir" --no-rebuild --print-errorlogs "${meson_test_args[@]}"; then
		status[$b]=ok
	else
		status[$b]="tests failed"
	fi
	times[$b]=$((SECONDS - t0))
	# The behaviour suite again on the epoll backend (tests/meson.build's
	# setup `epoll`: WEFT_BACKEND=epoll; tests that force a backend keep
	# it), in every build (about a minute each).
	if [[ ${status[$b]} != "did not"* ]]; then
		t0=$SECONDS
		eb=$b-epoll
		epoll_builds+=("$eb")
		rm -f "$dir"/meson-logs/testlog-epoll.json
		say "$eb: $dir, the unit suite with WEFT_BACKEND=epoll"
		args=("${meson_test_args[@]}")
		((${#args[@]})) || args=(--suite unit)
		if meson test -C "$dir" --no-rebuild --print-errorlogs --setup epoll "${args[@]}"; then
			status[$eb]=ok
		else
			status[$eb]="tests failed"
		fi
		times[$eb]=$((SECONDS - t0))
	fi
done
builds+=("${epoll_builds[@]}")

# --- 4. installing and consuming weft as README.md says ----------------------
install_counts=""
if [[ " ${builds[*]} " == *" plain "* ]]; then
	say "install: tools/check-install.sh $root"
	t0=$SECONDS
	install_out=$root/check-install.log
	tools/check-install.sh "$root" 2>&1 | tee "$install_out" || true
	install_counts=$(sed -n 's/^check-install: \([0-9]*\) passed, \([0-9]*\) failed, \([0-9]*\) skipped$/\1 \2 \3/p' "$install_out")
	[[ -n $install_counts ]] || install_counts="0 1 0" # it died before its summary
	times[install]=$((SECONDS - t0))
fi

# --- 5. summary -------------------------------------------------------------
say "summary"
logs=()
for b in "${builds[@]}"; do
	case $b in
	*-epoll) logs+=("$b=$root/test-${b%-epoll}/meson-logs/testlog-epoll.json") ;;
	*) logs+=("$b=$root/test-$b/meson-logs/testlog.json") ;;
	esac
done
counts=$(python3 - "${logs[@]}" <<'EOF'
# Reads meson's testlog.json of each build: prints the behaviour tests'
# summary lines (Criterion's, or tests/runner's with its skip count) and
# their totals, what did not pass, and a "#counts BUILD PASSED FAILED
# SKIPPED" line per build (-1 -1 -1 when there are no results).
import json, re, sys

ansi = re.compile(r'\x1b\[[0-9;]*m')
synth_re = re.compile(r'Tested: (\d+) \| Passing: (\d+) \| Failing: (\d+)'
                      r'(?: \| Crashing: \d+)?(?: \| Skipped: (\d+))?')
totals = []
for arg in sys.argv[1:]:
    build, path = arg.split('=', 1)
    try:
        lines = open(path).read().splitlines()
    except OSError:
        print(f'#counts {build} -1 -1 -1')
        continue
    n = {'passed': 0, 'failed': 0, 'skipped': 0}
    behaviour = [0, 0, 0, 0]  # tested, passing, failing, skipped
    for line in lines:
        t = json.loads(line)
        res = t.get('result', '')
        kind = ('passed' if res in ('OK', 'EXPECTEDFAIL') else
                'skipped' if res == 'SKIP' else 'failed')
        n[kind] += 1
        name = t.get('name', '?').split(':', 1)[-1].replace(' ', '')
        out = ansi.sub('', (t.get('stdout') or '') + (t.get('stderr') or ''))
        # (build/runner-selftest prints one too, of tests failing on purpose)
        synth = [l.strip() for l in out.splitlines()
                 if 'Synthesis:' in l and name.startswith('unit/')]
        for l in out.splitlines():
            if l.startswith('[SKIP]') and name.startswith('unit/'):
                print(f'{"[" + build + "]":<8}{name:<26}{l.strip()}')
        for s in synth:
            print(f'{"[" + build + "]":<8}{name:<26}{s}')
            m = synth_re.search(s)
            if m:
                for i in range(4):
                    behaviour[i] += int(m.group(i + 1) or 0)
        if not synth and name.startswith('unit/'):
            print(f'{"[" + build + "]":<8}{name:<26}(no Criterion summary: {res})')
        if kind != 'passed':
            print(f'{"[" + build + "]":<8}{name:<26}{res}')
    skipped = f', {behaviour[3]} skipped: [SKIP] lines above' if behaviour[3] else ''
    totals.append(f'{build}: {behaviour[0]} behaviour tests ran ({behaviour[1]} passed, '
                  f'{behaviour[2]} failed{skipped})')
    print(f'#counts {build} {n["passed"]} {n["failed"]} {n["skipped"]}')
for t in totals:
    print(t)
EOF
)
grep -v '^#counts ' <<<"$counts" || true
passed=0 failed=0 skipped=0
while read -r _ b p f s; do
	if ((p < 0)); then
		# No results: the build failed (counted already), meson test
		# failed before running anything, or no test matched.
		if [[ ${status[$b]} == "tests failed" ]]; then
			status[$b]="meson test failed, no results"
			failed=$((failed + 1))
		elif [[ ${status[$b]} == ok ]]; then
			counted[$b]="no test ran"
		fi
		continue
	fi
	# meson test said no, yet no test failed (say, a bad argument): one failure.
	[[ ${status[$b]} != "tests failed" ]] || ((f > 0)) || f=1
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
	counted[$b]="$p passed, $f failed, $s skipped"
done < <(grep '^#counts ' <<<"$counts")
failed=$((failed + build_failures))
if [[ -n $install_counts ]]; then
	read -r p f s_ <<<"$install_counts"
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s_))
	status[install]=$( ((f == 0)) && echo ok || echo "checks failed")
	counted[install]="$p passed, $f failed, $s_ skipped"
	builds+=(install)
fi

for b in "${builds[@]}"; do
	where=$root/test-${b%-epoll}
	[[ $b != install ]] || where=$root/check-install.log
	printf '%-11s %-24s %4ds  %-16s %s\n' "$b" "$where" "${times[$b]}" "${status[$b]}" \
		"${counted[$b]:-}"
done
((io_uring_ok)) || echo "io_uring unavailable (WEFT_ALLOW_NO_IO_URING=1): every build ran on the epoll backend; io_uring untested"
((build_failures == 0)) || echo "$build_failures build(s) did not configure or compile: counted as failures"
echo "total time: $((SECONDS - t_start))s"
echo "$passed passed, $failed failed, $skipped skipped"
((failed == 0))
