#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The throughput suite's one command (BENCH.md): installs what is missing,
# builds weft in release mode in its own build directory, runs every
# workload variant several times, interleaved (A run 1, B run 1, A run 2,
# ...), writes one JSON line per (workload, variant, run) to
# bench/results/results-<timestamp>.jsonl and prints a table of medians
# with their spread (min-max).
#
#   tools/bench.sh                 5 runs of everything
#   tools/bench.sh --quick         reduced counts, 3 runs (under a minute)
#   tools/bench.sh --only ping_pong --runs 9
#   tools/bench.sh --summarize bench/results/results-XXXX.jsonl
#
# The machines are shared and noisy: quote medians with their spread, and
# compare runtimes only within one run of this script.
set -euo pipefail

usage() {
	cat <<'EOF'
usage: tools/bench.sh [options]
  --runs N          runs of every variant (default 5; 3 with --quick)
  --quick           reduced counts: a smoke run, not figures to quote
  --only NAME       only this workload (repeatable, or a comma list)
  --peers           also run the peers (Go, tokio, asyncio): not built yet
  --build-dir DIR   where to build (default build/bench)
  --no-install      never apt-get; fail if something is missing
  --summarize FILE  only print the table of an existing results file
  -h, --help        this text
EOF
}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

runs=""
quick=0
only=()
peers=0
build_dir=build/bench
install=1
summarize=""
cmdline="tools/bench.sh${*:+ $*}"
while [ $# -gt 0 ]; do
	case "$1" in
	--runs)
		[ $# -ge 2 ] && [[ "$2" =~ ^[1-9][0-9]*$ ]] || { echo "bench.sh: --runs needs N >= 1" >&2; exit 2; }
		runs=$2; shift 2 ;;
	--quick) quick=1; shift ;;
	--only)
		[ $# -ge 2 ] || { echo "bench.sh: --only needs a workload" >&2; exit 2; }
		IFS=, read -r -a names <<<"$2"
		only+=("${names[@]}"); shift 2 ;;
	--peers) peers=1; shift ;;
	--build-dir)
		[ $# -ge 2 ] || { echo "bench.sh: --build-dir needs a directory" >&2; exit 2; }
		build_dir=$2; shift 2 ;;
	--no-install) install=0; shift ;;
	--summarize)
		[ $# -ge 2 ] || { echo "bench.sh: --summarize needs a file" >&2; exit 2; }
		summarize=$2; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "bench.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
	esac
done
if [ -z "$runs" ]; then
	if [ $quick = 1 ]; then runs=3; else runs=5; fi
fi

# ---- the table of medians -------------------------------------------------

# Reads JSON lines (ours and, later, the peers': flat keys in any order,
# plus the nested "machine" object) and prints, per (workload, runtime,
# variant) in order of first appearance: median rate, min-max, unit, runs
# that passed their self-check, median peak RSS.
summarize() {
	awk '
	function field(line, key,    pat, i, s, j) {
		pat = "\"" key "\":"
		i = index(line, pat)
		if (!i) return ""
		s = substr(line, i + length(pat))
		sub(/^ +/, "", s)
		if (substr(s, 1, 1) == "\"") {
			s = substr(s, 2)
			j = index(s, "\"")
			return substr(s, 1, j - 1)
		}
		match(s, /^[^,}]*/)
		return substr(s, 1, RLENGTH)
	}
	function si(v,    p, pre) {
		split(" k M G", pre, " ")
		p = 0
		while (v >= 1000 && p < 3) { v /= 1000; p++ }
		return sprintf(v < 10 ? "%.2f%s" : v < 100 ? "%.1f%s" : "%.0f%s", v, p ? " " pre[p] : "")
	}
	function median(arr, n,    i, j, t) {
		for (i = 2; i <= n; i++) {
			t = arr[i]
			for (j = i - 1; j >= 1 && arr[j] > t; j--) arr[j + 1] = arr[j]
			arr[j + 1] = t
		}
		return n % 2 ? arr[(n + 1) / 2] : (arr[n / 2] + arr[n / 2 + 1]) / 2
	}
	/^\{/ {
		w = field($0, "workload"); rt = field($0, "runtime"); v = field($0, "variant")
		if (w == "") next
		k = w SUBSEP rt SUBSEP v
		if (!(k in total)) { order[++ngroups] = k; W[k] = w; R[k] = rt; V[k] = v }
		total[k]++
		unit[k] = field($0, "unit")
		if (machine == "") {
			machine = sprintf("%s cores, %s, kernel %s", field($0, "cores"),
				field($0, "cpu"), field($0, "kernel"))
			build = field($0, "build")
		}
		if (field($0, "quick") == "true") quick = 1
		if (field($0, "ok") == "true" && field($0, "rate") != "null") {
			n = ++nok[k]
			rate[k, n] = field($0, "rate") + 0
			rss[k, n] = field($0, "rss_kb") + 0
		} else {
			err = field($0, "error")
			if (err != "") lasterr[k] = err
		}
	}
	END {
		if (!ngroups) { print "no results"; exit }
		printf "machine: %s; build: %s%s\n", machine, build, quick ? "; QUICK counts (not figures to quote)" : ""
		printf "%-12s %-8s %-18s %10s  %-19s %-14s %5s %8s\n", "workload", "runtime", "variant",
			"median", "spread (min-max)", "unit", "ok", "rss MiB"
		for (g = 1; g <= ngroups; g++) {
			k = order[g]; n = nok[k] + 0
			if (n == 0) {
				printf "%-12s %-8s %-18s %10s  %-19s %-14s %2d/%-2d  FAILED: %s\n", W[k], R[k], V[k],
					"-", "-", unit[k], 0, total[k], lasterr[k]
				continue
			}
			lo = hi = rate[k, 1]
			for (i = 1; i <= n; i++) {
				a[i] = rate[k, i]; b[i] = rss[k, i]
				if (a[i] < lo) lo = a[i]
				if (a[i] > hi) hi = a[i]
			}
			med = median(a, n); mrss = median(b, n)
			printf "%-12s %-8s %-18s %10s  %-19s %-14s %2d/%-2d %8.1f\n", W[k], R[k], V[k], si(med),
				si(lo) " - " si(hi), unit[k], n, total[k], mrss / 1024
		}
	}' "$1"
}

if [ -n "$summarize" ]; then
	summarize "$summarize"
	exit 0
fi

# ---- dependencies ------------------------------------------------------------

ensure_deps() {
	local missing=() optional=()
	command -v meson >/dev/null || missing+=(meson)
	command -v ninja >/dev/null || missing+=(ninja-build)
	command -v pkg-config >/dev/null || missing+=(pkg-config)
	command -v gcc >/dev/null || command -v cc >/dev/null || missing+=(gcc)
	if command -v pkg-config >/dev/null; then
		pkg-config --exists liburing || missing+=(liburing-dev)
		pkg-config --exists ck || missing+=(libck-dev)
	else
		missing+=(liburing-dev libck-dev)
	fi
	# valgrind is for profiling (docs/BENCHMARKS.md), not for the figures.
	command -v valgrind >/dev/null || optional+=(valgrind)
	local all=("${missing[@]}" "${optional[@]}")
	[ ${#all[@]} -eq 0 ] && return 0
	if [ $install = 1 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		echo "bench.sh: installing ${all[*]}"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		if ! apt-get install -y -qq --no-install-recommends "${all[@]}" >/dev/null; then
			[ ${#missing[@]} -eq 0 ] || { echo "bench.sh: apt-get failed" >&2; exit 1; }
			echo "bench.sh: could not install ${optional[*]} (optional); going on" >&2
		fi
	elif [ ${#missing[@]} -gt 0 ]; then
		echo "bench.sh: missing ${all[*]}; install them, e.g.:" >&2
		echo "  sudo apt-get install ${all[*]}" >&2
		exit 1
	else
		echo "bench.sh: note: ${optional[*]} not installed (only needed for profiling)" >&2
	fi
}

# ---- build -------------------------------------------------------------------

build() {
	local opts=(--buildtype=release -Db_ndebug=true -Dtests=false -Dexamples=false
		-Dbenchmarks=true)
	local log
	if [ -f "$build_dir/build.ninja" ]; then
		log=$(meson configure "$build_dir" "${opts[@]}" 2>&1) || { echo "$log" >&2; exit 1; }
	else
		log=$(meson setup "$build_dir" "${opts[@]}" 2>&1) || { echo "$log" >&2; exit 1; }
	fi
	log=$(ninja -C "$build_dir" bench/weft_bench 2>&1) || {
		echo "$log" >&2
		echo "bench.sh: the build failed" >&2
		exit 1
	}
}

# ---- slots for what is not written yet --------------------------------------

# The peers (Go, tokio, asyncio/uvloop) of the benchmark-suite issue will be
# built here (from Debian packages, bench/peers/) and run inside the same
# interleaved rounds as weft, appending to the same results file.
build_peers() {
	[ $peers = 1 ] && echo "peers: not yet built (benchmark-suite issue)"
	return 0
}
run_peers_round() { # $1: run number
	return 0
}

# tcp_echo needs weft's sockets and a load generator (tools/): the runner
# will start the server, run the generator against it for each C, and
# append both sides' lines here.
run_tcp_echo_round() { # $1: run number
	return 0
}

# ---- run -----------------------------------------------------------------------

ensure_deps
echo "bench.sh: building weft (release) in $build_dir"
build
build_peers
bin="$build_dir/bench/weft_bench"

selected() { # $1: workload
	[ ${#only[@]} -eq 0 ] && return 0
	local n
	for n in "${only[@]}"; do [ "$n" = "$1" ] && return 0; done
	return 1
}

listing=$("$bin" list)
ready=()
na=()
while read -r w v status rest; do
	selected "$w" || continue
	if [ "$status" = ready ]; then
		ready+=("$w $v")
	elif [ "$v" != - ]; then
		na+=("$(printf '%-12s %-8s %-18s %s' "$w" weft "$v" "$status ${rest%%#*}")")
	fi
done <<<"$listing"
for n in "${only[@]}"; do
	grep -q "^$n " <<<"$listing" || { echo "bench.sh: no workload '$n' (see: $bin list)" >&2; exit 2; }
done
if [ ${#ready[@]} -eq 0 ]; then
	echo "bench.sh: nothing to run for --only ${only[*]}"
	grep -E "^($(IFS='|'; echo "${only[*]}")) " <<<"$listing" || true
	exit 0
fi

mkdir -p bench/results
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=bench/results/results-$stamp.jsonl
quick_opt=()
[ $quick = 1 ] && quick_opt=(--quick)
echo "bench.sh: $runs runs of ${#ready[@]} variants, interleaved; results in $out"

# The machines are shared: say how busy this one was while we measured.
load_before=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)
failed=0
for ((r = 1; r <= runs; r++)); do
	for wv in "${ready[@]}"; do
		read -r w v <<<"$wv"
		"$bin" "$w" --variant "$v" --runs 1 --run-base "$r" --json "$out" "${quick_opt[@]}" ||
			failed=$((failed + 1))
	done
	run_tcp_echo_round "$r"
	run_peers_round "$r"
done

table=bench/results/results-$stamp.txt
{
	echo
	echo "weft benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC'): medians of $runs interleaved runs"
	echo "command: $cmdline"
	echo "weft: $(GIT_OPTIONAL_LOCKS=0 git rev-parse --short HEAD 2>/dev/null || echo unknown) (HEAD; the working tree may differ)"
	echo "load average (1/5/15 min) before: $load_before; after: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown) (on $(nproc 2>/dev/null || echo ?) CPUs)"
	summarize "$out"
	for line in "${na[@]}"; do echo "$line"; done
	later=$(awk '$2 == "-" { printf "%s%s", sep, $1; sep = ", " }' <<<"$listing")
	[ -n "$later" ] && [ ${#only[@]} -eq 0 ] && echo "not yet written: $later"
	[ $peers = 1 ] && echo "peers: not yet built (benchmark-suite issue)"
	echo "results: $out"
} | tee "$table"
if [ $failed -gt 0 ]; then
	echo "bench.sh: $failed run(s) failed their self-check or crashed (ok=false in $out)" >&2
	exit 1
fi
