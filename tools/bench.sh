#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The throughput suite's one command (BENCH.md): installs what is missing,
# builds weft in release mode in its own build directory (and, with
# --peers, the Go and tokio peers from Debian's packages), runs every
# workload variant of every runtime several times, interleaved (round 1:
# workload A on weft, go, tokio, asyncio, uvloop, then workload B ...;
# round 2 ...), writes one JSON line per (workload, runtime, variant, run)
# to bench/results/results-<timestamp>.jsonl, prints a table of medians
# with their spread (min-max) and the ratio weft/peer, and draws the chart
# (tools/plot.sh, gnuplot) next to the results.
#
#   tools/bench.sh                 5 runs of weft's workloads
#   tools/bench.sh --peers         ... and of Go, tokio, asyncio, uvloop
#   tools/bench.sh --quick         reduced counts, short runs (under a minute)
#   tools/bench.sh --peers --only ping_pong,timers --runs 9
#   tools/bench.sh --peers --only spawn_wait --runs 3
#                                  /bin/true spawned and waited 1,000 times,
#                                  16 in flight (the subprocess issue's)
#   tools/bench.sh --summarize bench/results/results-XXXX.jsonl
#   tools/bench.sh --baseline HEAD~3 --only yield_many,spawn_many --runs 5
#                                  before/after: the working tree against
#                                  HEAD~3, built in its own git worktree
#   tools/bench.sh --peers --only tcp_echo
#                                  the echo servers side by side, driven by
#                                  one load generator (bench/loadgen)
#   tools/bench.sh --peers --only http_hello,resp_kv
#                                  real servers with the clients their users
#                                  trust: weft, nginx, Go net/http and hyper
#                                  under wrk; weft and redis-server under
#                                  redis-benchmark (app_setup below)
#
# Every weft row runs twice: on the default backend (io_uring), and with
# WEFT_BACKEND=epoll as the variant "...,backend=epoll", in the same
# rounds (--no-epoll leaves those out). --spin-off adds a third, with
# WEFT_SPIN=0 (idle workers park at once) as "...,spin=off"; with
# --competitors, one CPU-bound process per CPU runs through the whole
# script: together they show what weft's idle spin costs a busy machine.
#
# The network workloads (tcp_echo, connect_rate, idle_connections) are run
# by this script itself (run_tcp_echo_round below): for each run it starts
# the runtime's echo server on a free port of 127.0.0.1 (weft's
# examples/echo_server, go-peer/tokio-peer/peer.py echo_server), checks
# that it echoes, drives it with bench/loadgen/echo_loadgen (plain C on
# epoll, one thread pinned to the last CPU, not built on weft), and stops
# it (SIGTERM, then SIGKILL). The deciding figure is the server's CPU time
# per million messages (IO.md), beside throughput, p50/p99 and the
# generator's own CPU (above 90 %: "generator-bound").
#
# The machines are shared and noisy: quote medians with their spread, and
# compare runtimes only within one run of this script.
set -euo pipefail

usage() {
	cat <<'EOF'
usage: tools/bench.sh [options]
  --runs N          runs of every variant (default 5; 3 with --quick, 2 with
                    --quick --peers)
  --quick           reduced counts and --min-time 0.2 (0.15 with --peers): a
                    smoke run (under a minute), not figures to quote; the
                    network workloads: 2 s windows, tcp_echo at C = 1 and 50
                    only, idle_connections with 2,000 connections (with
                    --peers they add ~2 min per run; --only to leave them out)
  --min-time S      measured work per run, seconds (default 0.5, BENCH.md)
  --net-seconds S   the network workloads' measured window per run (default
                    10, BENCH.md; 2 with --quick). Every runtime's server is
                    measured once per variant and run: with --peers, a run
                    of all three workloads is ~60 windows (~11 min at 10 s).
                    http_hello and resp_kv: 5 s unless this is given (2 s
                    with --quick); a --peers run of both is ~48 windows
  --only NAME       only this workload (repeatable, or a comma list); the
                    network workloads are tcp_echo, connect_rate,
                    idle_connections, http_hello and resp_kv
  --peers           also run the peers: Go, tokio, asyncio, uvloop (and for
                    http_hello nginx, Go's net/http, hyper; for resp_kv
                    redis-server)
  --runtimes LIST   only these runtimes (comma list of weft, go, tokio,
                    asyncio, uvloop, nginx, hyper, redis; implies --peers
                    when it names a peer)
  --build-dir DIR   where to build (default build/bench; peers in DIR/peers)
  --no-install      never apt-get; skip what is missing
  --no-plot         no chart
  --baseline REV    also build git revision REV of this repository (any
                    rev-parse name: HEAD~3, a tag, a sha) in its own git
                    worktree, build/baseline-<sha>/ (reused while it is at
                    REV; built there in build/bench, the same release
                    options), and run its weft_bench as runtime
                    weft@<sha> in the same rounds, right beside weft (odd
                    rounds weft first, even rounds the baseline first).
                    Its rows' weft/this is weft / weft@<sha> (the working
                    tree over REV), and a before/after block follows the
                    table. A REV without weft_bench, or workloads and
                    variants it lacks, are noted and skipped. The main
                    working tree is never touched.
  --no-epoll        leave out weft's backend=epoll variants (by default every
                    weft row runs twice: on io_uring, and with
                    WEFT_BACKEND=epoll as the variant ...,backend=epoll)
  --spin-off        every weft row also runs with WEFT_SPIN=0 (idle workers
                    park at once, decision 24) as the variant ...,spin=off;
                    its notes give its median over the spinning row's
  --competitors     one CPU-bound competitor (a shell busy loop, nice 0)
                    per CPU this script may use, from before the first
                    round to the end: the machine everyone shares
  --summarize FILE  only print the table of an existing results file
  --tsv             with --summarize: tab-separated medians (for tools/plot.sh)
  -h, --help        this text
EOF
}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

runs=""
quick=0
min_time=""
net_seconds=""
only=()
peers=0
runtimes_opt=""
build_dir=build/bench
install=1
plot=1
summarize=""
tsv=0
baseline=""
epoll_rows=1 # weft's rows again on the epoll backend (variant ...,backend=epoll)
spin_rows=0  # weft's rows again with WEFT_SPIN=0 (variant ...,spin=off)
competitors=0
competitor_pids=()
cmdline="tools/bench.sh${*:+ $*}"
while [ $# -gt 0 ]; do
	case "$1" in
	--runs)
		[ $# -ge 2 ] && [[ "$2" =~ ^[1-9][0-9]*$ ]] || { echo "bench.sh: --runs needs N >= 1" >&2; exit 2; }
		runs=$2; shift 2 ;;
	--quick) quick=1; shift ;;
	--no-epoll) epoll_rows=0; shift ;;
	--spin-off) spin_rows=1; shift ;;
	--competitors) competitors=1; shift ;;
	--min-time)
		[ $# -ge 2 ] && [[ "$2" =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "bench.sh: --min-time needs seconds" >&2; exit 2; }
		min_time=$2; shift 2 ;;
	--net-seconds)
		[ $# -ge 2 ] && [[ "$2" =~ ^[0-9]+(\.[0-9]+)?$ ]] && [[ ! "$2" =~ ^0*(\.0*)?$ ]] ||
			{ echo "bench.sh: --net-seconds needs seconds > 0" >&2; exit 2; }
		net_seconds=$2; shift 2 ;;
	--only)
		[ $# -ge 2 ] || { echo "bench.sh: --only needs a workload" >&2; exit 2; }
		IFS=, read -r -a names <<<"$2"
		only+=("${names[@]}"); shift 2 ;;
	--peers) peers=1; shift ;;
	--runtimes)
		[ $# -ge 2 ] || { echo "bench.sh: --runtimes needs a list" >&2; exit 2; }
		runtimes_opt=$2; shift 2 ;;
	--build-dir)
		[ $# -ge 2 ] || { echo "bench.sh: --build-dir needs a directory" >&2; exit 2; }
		build_dir=$2; shift 2 ;;
	--no-install) install=0; shift ;;
	--no-plot) plot=0; shift ;;
	--summarize)
		[ $# -ge 2 ] || { echo "bench.sh: --summarize needs a file" >&2; exit 2; }
		summarize=$2; shift 2 ;;
	--tsv) tsv=1; shift ;;
	--baseline)
		[ $# -ge 2 ] && [ -n "$2" ] || { echo "bench.sh: --baseline needs a git revision" >&2; exit 2; }
		baseline=$2; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "bench.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
	esac
done

all_runtimes=(weft go tokio asyncio uvloop nginx hyper redis)
want=()
if [ -n "$runtimes_opt" ]; then
	IFS=, read -r -a want <<<"$runtimes_opt"
	for r in "${want[@]}"; do
		case " ${all_runtimes[*]} " in *" $r "*) ;; *)
			echo "bench.sh: unknown runtime '$r' (${all_runtimes[*]})" >&2; exit 2 ;;
		esac
		[ "$r" = weft ] || peers=1
	done
elif [ $peers = 1 ]; then
	want=("${all_runtimes[@]}")
else
	want=(weft)
fi
wanted() { # $1: runtime
	case " ${want[*]} " in *" $1 "*) return 0 ;; esac
	return 1
}
if [ -n "$baseline" ] && [ -z "$summarize" ] && ! wanted weft; then
	echo "bench.sh: --baseline compares with weft: --runtimes must name weft" >&2
	exit 2
fi

if [ -z "$runs" ]; then
	if [ $quick = 1 ] && [ $peers = 1 ]; then runs=2
	elif [ $quick = 1 ]; then runs=3
	else runs=5; fi
fi
if [ -z "$min_time" ]; then
	if [ $quick = 1 ] && [ $peers = 1 ]; then min_time=0.15
	elif [ $quick = 1 ]; then min_time=0.2
	else min_time=0.5; fi
fi
app_seconds=$net_seconds # http_hello, resp_kv: 5 s unless given (app_setup)
if [ -z "$net_seconds" ]; then
	if [ $quick = 1 ]; then net_seconds=2; else net_seconds=10; fi
fi

# The network workloads are run by this script (run_tcp_echo_round), not
# by weft_bench or the peers' programs.
net_workloads=(tcp_echo connect_rate idle_connections http_hello resp_kv)
is_net() { # $1: workload
	case " ${net_workloads[*]} " in *" $1 "*) return 0 ;; esac
	return 1
}
selected() { # $1: workload
	[ ${#only[@]} -eq 0 ] && return 0
	local n
	for n in "${only[@]}"; do [ "$n" = "$1" ] && return 0; done
	return 1
}
need_bench=0 # a workload of weft_bench and the peers' programs is selected
need_net=0   # a network workload is selected
if [ ${#only[@]} -eq 0 ]; then
	need_bench=1
	need_net=1
else
	for n in "${only[@]}"; do
		if is_net "$n"; then need_net=1; else need_bench=1; fi
	done
fi

# ---- the table of medians -------------------------------------------------

# Reads JSON lines (weft's and the peers': flat keys in any order, plus the
# nested "machine" object) and prints, per (workload, variant, runtime), in
# order of first appearance of the workload and variant, the runtimes in the
# order weft, go, tokio, asyncio, uvloop: median figure, min-max, unit,
# runs that passed their self-check, median peak RSS, weft's median over
# this runtime's, and the medians of the workload's extra metrics.
# A baseline's rows (runtime "weft@<sha>", --baseline) come right after
# weft's, and a before/after block (weft / weft@<sha>) follows the table.
# With $2 = tsv: one tab-separated line per group instead (tools/plot.sh).
summarize() {
	awk -v mode="${2:-table}" '
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
		return sprintf(v < 1 && p == 0 ? "%.3f%s" : v < 10 ? "%.2f%s" : v < 100 ? "%.1f%s" : "%.0f%s", v, p ? " " pre[p] : "")
	}
	function median(arr, n,    i, j, t) {
		for (i = 2; i <= n; i++) {
			t = arr[i]
			for (j = i - 1; j >= 1 && arr[j] > t; j--) arr[j + 1] = arr[j]
			arr[j + 1] = t
		}
		return n % 2 ? arr[(n + 1) / 2] : (arr[n / 2] + arr[n / 2 + 1]) / 2
	}
	function metric_median(k, name,    i, n, a) {
		n = 0
		for (i = 1; i <= nok[k]; i++)
			if ((k, i, name) in met) a[++n] = met[k, i, name]
		return n ? median(a, n) : ""
	}
	function notes(k, w,    s, a, b) {
		if (w == "timers") {
			a = metric_median(k, "p50_us"); b = metric_median(k, "p99_us")
			if (a != "") s = sprintf("late p50 %s us, p99 %s us", si(a), si(b))
		} else if (w == "fib_parallel") {
			a = metric_median(k, "parallel_ms"); b = metric_median(k, "serial_ms")
			if (a != "") s = sprintf("parallel %.2f ms, serial %.2f ms", a, b)
		} else if (w == "idle_memory") {
			a = metric_median(k, "spawn_release_s")
			if (a != "") s = sprintf("spawn+release %.3f s", a)
		} else if (w == "cold_start") {
			a = metric_median(k, "first_ms"); b = metric_median(k, "second_ms")
			if (a != "") s = sprintf("first %.1f ms, second %.1f ms", a, b)
		}
		return s
	}
	function fmt(x, f) { return x == "" ? "-" : sprintf(f, x) }
	# The network workloads: server under test against one load generator.
	# tcp_echo and connect_rate: the rate, then the deciding figure, the
	# server CPU seconds per million messages (connections), its weft/this,
	# p50/p99, the generator and server CPU, runs that were generator-bound.
	# idle_connections: server RSS per connection, the seconds to open them.
	function net_table(rw,    g, r, wv, rt, k, kw, n, any, u, c, cw, cr, rr, gb, p50, p99, gc, sc) {
		any = 0
		for (g = 1; g <= nwv; g++) if (WW[wvorder[g]] in isnet) any = 1
		if (!any) return
		printf "\nnetwork workloads: one load generator (echo_loadgen, C on epoll, its own CPU) for every server;\n"
		printf "  srv CPU-s/M: the server CPU seconds per million messages (connections): the deciding figure (low)\n"
		printf "%-16s %-22s %-" rw "s %10s  %-19s %-14s %5s %10s %9s %9s %8s %8s %5s %5s %6s  %s\n", "workload", "variant", "runtime",
			"median", "spread (min-max)", "unit", "ok", "srv CPU-s/M", "weft/this", "weft/this", "p50 us", "p99 us", "gen", "srv", "srvMiB", "notes"
		printf "%-16s %-22s %-" rw "s %10s  %-19s %-14s %5s %10s %9s %9s %8s %8s %5s %5s %6s\n", "", "", "",
			"", "", "", "", "(low)", "(CPU/M)", "(rate)", "", "", "CPU", "CPU", ""
		for (g = 1; g <= nwv; g++) {
			wv = wvorder[g]
			if (!(WW[wv] in isnet)) continue
			for (r = 1; r <= nrt; r++) {
				rt = rtorder[r]; k = wv SUBSEP rt
				if (!(k in total)) continue
				u = unit[k] (better[k] == "lower" ? " (low)" : "")
				n = nok[k] + 0
				if (n == 0) {
					printf "%-16s %-22s %-" rw "s %10s  %-19s %-14s %2d/%-2d  FAILED: %s\n", WW[wv], VV[wv], rt,
						"-", "-", u, 0, total[k], lasterr[k]
					continue
				}
				kw = wv SUBSEP "weft"
				c = metric_median(k, "server_cpu_s_per_m")
				cw = (kw in med) ? metric_median(kw, "server_cpu_s_per_m") : ""
				rr = "-"
				if (rt == "weft") rr = "1"
				else if ((kw in med) && med[k] > 0) rr = sprintf("%.2f", med[kw] / med[k])
				cr = "-"
				if (rt == "weft" && c != "") cr = "1"
				else if (c != "" && cw != "" && c > 0) cr = sprintf("%.2f", cw / c)
				gb = genbound[k] + 0
				if (WW[wv] == "idle_connections") {
					printf "%-16s %-22s %-" rw "s %10s  %-19s %-14s %2d/%-2d %10s %9s %9s %8s %8s %5s %5s %6.1f  open %s s, after one echo each %s B/conn\n",
						WW[wv], VV[wv], rt, si(med[k]), si(lo[k]) " - " si(hi[k]), u, n, total[k],
						"-", "-", rr, "-", "-", "-", "-", mrss[k] / 1024,
						fmt(metric_median(k, "open_s"), "%.3f"), fmt(metric_median(k, "echoed_b_per_conn"), "%.0f")
					continue
				}
				p50 = metric_median(k, "p50_us"); p99 = metric_median(k, "p99_us")
				gc = metric_median(k, "gen_cpu"); sc = metric_median(k, "server_cpu")
				printf "%-16s %-22s %-" rw "s %10s  %-19s %-14s %2d/%-2d %10s %9s %9s %8s %8s %5s %5s %6.1f  %s\n",
					WW[wv], VV[wv], rt, si(med[k]), si(lo[k]) " - " si(hi[k]), u, n, total[k],
					fmt(c, "%.3g"), cr, rr, fmt(p50, "%.1f"), fmt(p99, "%.1f"),
					gc == "" ? "-" : sprintf("%.0f%%", gc * 100), sc == "" ? "-" : sprintf("%.0f%%", sc * 100),
					mrss[k] / 1024, gb ? sprintf("GENERATOR-BOUND in %d/%d runs", gb, n) : ""
			}
		}
		print "weft/this (CPU/M): weft CPU-s/M / this one: below 1, weft uses less CPU per message. weft/this (rate):"
		print "  above 1, weft is ahead (B/conn: below 1). gen CPU: the load generator (above 90 %: generator-bound,"
		print "  the generator may be the limit); srv CPU: the server, in CPUs (100 % = one CPU); srvMiB: its peak RSS."
	}
	BEGIN {
		nrt = split("weft go tokio asyncio uvloop nginx hyper redis", rtorder, " ")
		for (i = 1; i <= nrt; i++) rtrank[rtorder[i]] = i
		nmet = split("p50_us p99_us max_us parallel_ms serial_ms spawn_s release_s spawn_release_s maxrss_bytes_per_task server_cpu_s_per_m server_cpu gen_cpu open_s echoed_b_per_conn", metname, " ")
		nnet = split("tcp_echo connect_rate idle_connections http_hello resp_kv", netname, " ")
		for (i = 1; i <= nnet; i++) isnet[netname[i]] = 1
	}
	/^\{/ {
		w = field($0, "workload"); rt = field($0, "runtime"); v = field($0, "variant")
		if (w == "") next
		wv = w SUBSEP v
		if (!(wv in seenwv)) { seenwv[wv] = 1; wvorder[++nwv] = wv; WW[wv] = w; VV[wv] = v }
		if (!(rt in rtrank)) {
			nrt++
			p = nrt
			if (rt ~ /^weft@/) {
				# a baseline build of weft: after weft and the other baselines
				nbase++
				p = rtrank["weft"] + 1
				while (p < nrt && rtorder[p] ~ /^weft@/) p++
				for (q = nrt; q > p; q--) { rtorder[q] = rtorder[q - 1]; rtrank[rtorder[q]] = q }
			}
			rtorder[p] = rt
			rtrank[rt] = p
		}
		k = w SUBSEP v SUBSEP rt
		total[k]++
		unit[k] = field($0, "unit")
		better[k] = field($0, "better")
		if (better[k] == "") better[k] = "higher"
		if (machine == "") {
			machine = sprintf("%s cores, %s, kernel %s", field($0, "cores"),
				field($0, "cpu"), field($0, "kernel"))
		}
		if (rt == "weft" && build == "") build = field($0, "build")
		if (field($0, "quick") == "true") quick = 1
		if (field($0, "ok") == "true" && field($0, "rate") != "null") {
			n = ++nok[k]
			if (field($0, "generator_bound") == "true") genbound[k]++
			rate[k, n] = field($0, "rate") + 0
			rss[k, n] = field($0, "rss_kb") + 0
			for (m = 1; m <= nmet; m++) {
				x = field($0, metname[m])
				if (x != "" && x != "null") met[k, n, metname[m]] = x + 0
			}
		} else {
			err = field($0, "error")
			if (err != "") lasterr[k] = err
		}
	}
	END {
		if (!nwv) { print "no results"; exit }
		# medians first: the ratio needs weft median of the same row
		for (g = 1; g <= nwv; g++) for (r = 1; r <= nrt; r++) {
			k = wvorder[g] SUBSEP rtorder[r]
			n = nok[k] + 0
			if (!n) continue
			lo[k] = hi[k] = rate[k, 1]
			for (i = 1; i <= n; i++) {
				a[i] = rate[k, i]; b[i] = rss[k, i]
				if (a[i] < lo[k]) lo[k] = a[i]
				if (a[i] > hi[k]) hi[k] = a[i]
			}
			med[k] = median(a, n); mrss[k] = median(b, n)
		}
		if (mode == "tsv") {
			printf "#workload\tvariant\truntime\tmedian\tmin\tmax\tunit\tbetter\tok\truns\n"
			for (g = 1; g <= nwv; g++) for (r = 1; r <= nrt; r++) {
				k = wvorder[g] SUBSEP rtorder[r]
				if (!(k in total)) continue
				printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\n", WW[wvorder[g]], VV[wvorder[g]],
					rtorder[r], (k in med) ? med[k] : "?", (k in med) ? lo[k] : "?",
					(k in med) ? hi[k] : "?", unit[k], better[k], nok[k], total[k]
			}
			exit
		}
		printf "machine: %s; weft build: %s%s\n", machine, build, quick ? "; QUICK counts (not figures to quote)" : ""
		# the runtime column: 8 wide, wider for the weft@<sha> of a baseline
		rw = 8
		for (r = 1; r <= nrt; r++) if (length(rtorder[r]) > rw) rw = length(rtorder[r])
		nother = 0
		for (g = 1; g <= nwv; g++) if (!(WW[wvorder[g]] in isnet)) nother++
		if (nother)
		printf "%-13s %-18s %-" rw "s %10s  %-19s %-16s %5s %8s %9s  %s\n", "workload", "variant", "runtime",
			"median", "spread (min-max)", "unit", "ok", "rss MiB", "weft/this", "notes"
		for (g = 1; g <= nwv; g++) for (r = 1; r <= nrt; r++) {
			wv = wvorder[g]; rt = rtorder[r]; k = wv SUBSEP rt
			if (!(k in total)) continue
			if (WW[wv] in isnet) continue
			u = unit[k] (better[k] == "lower" ? " (low)" : "")
			n = nok[k] + 0
			if (n == 0) {
				printf "%-13s %-18s %-" rw "s %10s  %-19s %-16s %2d/%-2d  FAILED: %s\n", WW[wv], VV[wv], rt,
					"-", "-", u, 0, total[k], lasterr[k]
				continue
			}
			kw = wv SUBSEP "weft"
			ratio = "-"
			if (rt == "weft") ratio = "1"
			else if ((kw in med) && med[k] > 0) ratio = sprintf("%.2f", med[kw] / med[k])
			note = notes(k, WW[wv])
			if (rt == "weft" && VV[wv] ~ /,migratable,/) {
				# a weft-only variant: compare with the plain variant of each peer
				base = VV[wv]; sub(/,migratable,/, ",", base)
				for (pq = 1; pq <= nrt; pq++) {
					kp = WW[wv] SUBSEP base SUBSEP rtorder[pq]
					if (rtorder[pq] != "weft" && rtorder[pq] !~ /^weft@/ && (kp in med) && med[kp] > 0)
						note = note (note == "" ? "" : "; ") sprintf("vs %s %.2f", rtorder[pq], med[k] / med[kp])
				}
			}
			if (rt == "weft" && VV[wv] ~ /,spin=off$/) {
				# the same run with idle spinning on: off / on
				base = VV[wv]; sub(/,spin=off$/, "", base)
				kp = WW[wv] SUBSEP base SUBSEP "weft"
				if ((kp in med) && med[kp] > 0)
					note = note (note == "" ? "" : "; ") sprintf("spin off/on %.2f", med[k] / med[kp])
			}
			printf "%-13s %-18s %-" rw "s %10s  %-19s %-16s %2d/%-2d %8.1f %9s  %s\n", WW[wv], VV[wv], rt,
				si(med[k]), si(lo[k]) " - " si(hi[k]), u, n, total[k], mrss[k] / 1024, ratio, note
		}
		if (nother) {
			print "weft/this: weft median / this runtime median, same variant, same run of the script."
			print "  Figures per second: above 1, weft is ahead. (low) figures (s, B/task, parallel/serial): below 1, weft is ahead."
		}
		net_table(rw)
		if (!nbase) exit
		# before/after: the working tree (weft) over each baseline build
		for (r = 1; r <= nrt; r++) {
			rt = rtorder[r]
			if (rt !~ /^weft@/) continue
			printf "\nweft / %s (the working tree over the baseline revision, same variant, same rounds):\n", rt
			printf "%-13s %-18s %10s %10s  %-16s %9s  %s\n", "workload", "variant", rt, "weft", "unit", "ratio", "spreads (min-max)"
			for (g = 1; g <= nwv; g++) {
				wv = wvorder[g]; k = wv SUBSEP rt; kw = wv SUBSEP "weft"
				if (!(k in total) && !(kw in total)) continue
				if (!(k in med) || !(kw in med) || med[k] <= 0) {
					printf "%-13s %-18s %10s %10s  %-16s %9s  %s\n", WW[wv], VV[wv],
						(k in med) ? si(med[k]) : "-", (kw in med) ? si(med[kw]) : "-",
						unit[(k in total) ? k : kw], "-",
						!(k in total) ? "not run on " rt : !(kw in total) ? "not run on weft" : "no passing run on one side"
					continue
				}
				u = unit[kw] (better[kw] == "lower" ? " (low)" : "")
				overlap = (lo[k] <= hi[kw] && lo[kw] <= hi[k]) ? "overlap" : (better[kw] == "lower") == (med[kw] < med[k]) ? "apart, weft ahead" : "apart, weft behind"
				if (WW[wv] in isnet) {
					# the deciding figure of the network workloads
					cb = metric_median(k, "server_cpu_s_per_m"); cw = metric_median(kw, "server_cpu_s_per_m")
					if (cb != "" && cw != "" && cb > 0)
						overlap = overlap sprintf("; srv CPU-s/M %.3g -> %.3g (%.2f)", cb, cw, cw / cb)
				}
				printf "%-13s %-18s %10s %10s  %-16s %9.3f  %s\n", WW[wv], VV[wv], si(med[k]), si(med[kw]), u,
					med[kw] / med[k], overlap
			}
		}
		print "ratio: weft median / baseline median. Figures per second: above 1, the working tree is faster;"
		print "  (low) figures: below 1, the working tree is ahead. Spreads that overlap: within the noise of this run."
	}' "$1"
}

if [ -n "$summarize" ]; then
	if [ $tsv = 1 ]; then summarize "$summarize" tsv; else summarize "$summarize"; fi
	exit 0
fi

# ---- dependencies ------------------------------------------------------------

is_root_apt() {
	[ $install = 1 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null
}

apt_updated=0
apt_install() { # packages...; returns apt-get's status
	export DEBIAN_FRONTEND=noninteractive
	if [ $apt_updated = 0 ]; then
		apt-get update -qq || true
		apt_updated=1
	fi
	apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

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
	# valgrind is for profiling (docs/BENCHMARKS.md), gnuplot for the chart.
	command -v valgrind >/dev/null || optional+=(valgrind)
	[ $plot = 1 ] && ! command -v gnuplot >/dev/null && optional+=(gnuplot-nox)
	local all=("${missing[@]}" "${optional[@]}")
	[ ${#all[@]} -eq 0 ] && return 0
	if is_root_apt; then
		echo "bench.sh: installing ${all[*]}"
		if ! apt_install "${all[@]}"; then
			[ ${#missing[@]} -eq 0 ] || { echo "bench.sh: apt-get failed" >&2; exit 1; }
			echo "bench.sh: could not install ${optional[*]} (optional); going on" >&2
		fi
	elif [ ${#missing[@]} -gt 0 ]; then
		echo "bench.sh: missing ${all[*]}; install them, e.g.:" >&2
		echo "  sudo apt-get install ${all[*]}" >&2
		exit 1
	else
		echo "bench.sh: note: ${optional[*]} not installed (profiling, chart)" >&2
	fi
}

# ---- build -------------------------------------------------------------------

# Release mode: in source tree $1 (the working tree, or the baseline's
# worktree), build directory $2 (relative to $1, or absolute), ninja
# targets $3... (default bench/weft_bench). The examples are configured
# when the tree has weft's echo server (examples/echo_server.c) and a
# network workload is selected. The output in $build_log; returns 1 if
# meson failed, 2 if ninja did.
build_log=""
weft_build() {
	local src=$1 dir=$2 ex=false
	shift 2
	[ $# -gt 0 ] || set -- bench/weft_bench
	[ $need_net = 1 ] && [ -f "$src/examples/echo_server.c" ] && ex=true
	local opts=(--buildtype=release -Db_ndebug=true -Dtests=false -Dexamples=$ex
		-Dbenchmarks=true)
	if (cd "$src" && [ -f "$dir/build.ninja" ]); then
		build_log=$(cd "$src" && meson configure "$dir" "${opts[@]}" 2>&1) || return 1
	else
		build_log=$(cd "$src" && meson setup "$dir" "${opts[@]}" 2>&1) || return 1
	fi
	build_log=$(cd "$src" && ninja -C "$dir" "$@" 2>&1) || return 2
}

# weft's echo server of the network workloads, examples/echo_server, in
# tree $1, build directory $2 (configured by weft_build): prints its
# absolute path, or returns 1 printing why not. Its absence only skips
# weft's network rows.
weft_echo_build() {
	if [ ! -f "$1/examples/echo_server.c" ]; then
		echo "no echo_server yet (examples/echo_server.c)"
		return 1
	fi
	if ! grep -q "echo_server" "$1/examples/meson.build" 2>/dev/null; then
		echo "examples/echo_server.c is not in examples/meson.build yet"
		return 1
	fi
	local log
	if ! log=$(cd "$1" && ninja -C "$2" examples/echo_server 2>&1); then
		echo "examples/echo_server did not build: $( (grep -m2 -E 'error' <<<"$log" || tail -n 3 <<<"$log") | tr '\n' ' ')"
		return 1
	fi
	(cd "$1" && cd "$2" && echo "$PWD/examples/echo_server")
}

weft_echo=""      # weft's echo server, once built
weft_echo_note="" # why weft's network rows are skipped
loadgen=""        # bench/loadgen/echo_loadgen, once built

build() {
	local st=0 targets=()
	[ $need_bench = 1 ] && targets+=(bench/weft_bench)
	[ $need_net = 1 ] && targets+=(bench/echo_loadgen)
	weft_build . "$build_dir" "${targets[@]}" || st=$?
	if [ $st != 0 ]; then
		echo "$build_log" >&2
		[ $st = 2 ] && echo "bench.sh: the build failed" >&2
		exit 1
	fi
	[ $need_net = 1 ] || return 0
	loadgen="$(cd "$build_dir" && pwd)/bench/echo_loadgen"
	wanted weft || return 0
	local got
	if got=$(weft_echo_build . "$build_dir"); then
		weft_echo=$got
		echo "bench.sh: weft's echo server: $weft_echo"
	else
		weft_echo_note=$got
	fi
}

# ---- the baseline (--baseline REV) -------------------------------------------
#
# REV of this same repository, checked out detached in a git worktree of its
# own, build/baseline-<sha>/ (reused while it is at REV and unmodified; the
# main working tree is never touched), built there in build/bench by
# weft_build as the working tree is, and run as runtime "weft@<sha>": in
# the same rounds, right beside weft. Its weft_bench writes "runtime":"weft"
# like any weft_bench; its JSON lines go through a file of their own and
# are relabelled ("runtime":"weft@<sha>","baseline_rev":"<full sha>") on
# their way into the results. A REV without weft_bench, or whose build
# fails, is skipped with a note, as a peer is.

base_label="" # weft@<short sha>
base_sha=""
base_dir=""   # the worktree
base_bin=""   # its weft_bench, once built
base_note=""  # why it is skipped
base_json=""  # one run's JSON lines, before relabelling
base_echo=""  # its examples/echo_server, once built (network workloads)
base_echo_note="" # why the baseline's network rows are skipped

resolve_baseline() {
	[ -n "$baseline" ] || return 0
	base_sha=$(git rev-parse --verify --quiet "$baseline^{commit}" 2>/dev/null) || {
		echo "bench.sh: --baseline: '$baseline' is not a commit of this repository" >&2
		exit 2
	}
	local short
	short=$(git rev-parse --short "$base_sha")
	base_label="weft@$short"
	base_dir="build/baseline-$short"
}

build_baseline() {
	[ -n "$base_label" ] || return 0
	if ! git cat-file -e "$base_sha:bench/weft_bench.c" 2>/dev/null; then
		base_note="$baseline ($base_sha) has no bench/weft_bench.c, nothing to compare with"
		return 0
	fi
	local wt=$base_dir log head
	if [ -e "$wt" ]; then
		# build/ is inside the main tree: a plain directory there would
		# answer with the main tree's top level.
		if [ "$(cd "$wt" && git rev-parse --show-toplevel 2>/dev/null || true)" != "$(cd "$wt" && pwd -P)" ]; then
			echo "bench.sh: $wt exists but is not a git worktree; remove it and run again" >&2
			exit 1
		fi
		head=$(git -C "$wt" rev-parse HEAD)
		if [ "$head" != "$base_sha" ]; then
			echo "bench.sh: the baseline worktree $wt is at $head, not at $base_sha;" \
				"remove it (git worktree remove $wt) and run again" >&2
			exit 1
		fi
		if [ -n "$(GIT_OPTIONAL_LOCKS=0 git -C "$wt" status --porcelain --untracked-files=no)" ]; then
			echo "bench.sh: the baseline worktree $wt has local changes (its figures would not be" \
				"$base_label's); git -C $wt checkout -- . or remove it, and run again" >&2
			exit 1
		fi
		echo "bench.sh: reusing the baseline worktree $wt ($base_label)"
	else
		echo "bench.sh: checking out $baseline ($base_label) in a worktree: $wt"
		mkdir -p "$(dirname "$wt")"
		if ! log=$(git worktree add --detach "$wt" "$base_sha" 2>&1); then
			# a worktree once registered there whose directory was deleted
			if ! grep -q 'missing but' <<<"$log" ||
				! log=$(git worktree add --force --detach "$wt" "$base_sha" 2>&1); then
				echo "$log" >&2
				echo "bench.sh: could not create the baseline worktree $wt" >&2
				exit 1
			fi
		fi
	fi
	echo "bench.sh: building $base_label (release) in $wt/build/bench"
	local st=0
	weft_build "$wt" build/bench || st=$?
	if [ $st != 0 ]; then
		echo "$build_log" | tail -n 20 >&2
		base_note="the build of $base_sha failed ($([ $st = 1 ] && echo meson || echo ninja); log above)"
		return 0
	fi
	base_bin="$wt/build/bench/bench/weft_bench"
	base_json=$(mktemp "${TMPDIR:-/tmp}/weft-bench-baseline.XXXXXX")
	if [ $need_net = 1 ]; then
		local got
		if [ ! -f "$wt/examples/echo_server.c" ]; then
			base_echo_note="$baseline has no examples/echo_server.c"
		elif got=$(weft_echo_build "$wt" build/bench); then
			base_echo=$got
			echo "bench.sh: $base_label's echo server: $base_echo"
		else
			base_echo_note=$got
		fi
	fi
}

# One run of the baseline: as the loop below runs weft, but through
# $base_json, and its human lines relabelled weft@<sha>.
run_baseline() { # $1 workload, $2 variant, $3 run
	local st=0
	: >"$base_json"
	timeout -k 10 600 "$base_bin" "$1" --variant "$2" --runs 1 --run-base "$3" \
		--json "$base_json" --min-time "$min_time" "${quick_opt[@]}" |
		sed -u "s/^\([^ ]\{1,\} \{1,\}\)weft \{1,\}/\1$base_label /" || st=$?
	sed "s/\"runtime\":\"weft\"/\"runtime\":\"$base_label\",\"baseline_rev\":\"$base_sha\"/" \
		"$base_json" >>"$out"
	return $st
}

# ---- the peers (bench/peers/, BENCH.md "Peers") ------------------------------
#
# Each peer is built from Debian's packages, offline: Go's standard library
# only (golang-go), tokio from librust-tokio-dev through cargo's replaced
# source (bench/peers/tokio/.cargo/config.toml), asyncio and uvloop on
# Debian's /usr/bin/python3 (python3-uvloop). A peer whose toolchain is
# missing and cannot be installed is skipped with a note: it never fails
# the run. Every peer takes the same command line as weft_bench
# (WORKLOAD --variant V --runs 1 --run-base R --json FILE [--quick]
# --min-time S) and lists its variants with `list`.

declare -A peer_cmd=()  # runtime -> command prefix (eval'd words)
declare -A peer_note=() # runtime -> why it is skipped
peer_dir="$build_dir/peers"

# BENCH_GO, BENCH_CARGO, BENCH_PYTHON override the toolchains found.
go_bin() { # Debian's go first
	if [ -n "${BENCH_GO:-}" ]; then command -v "$BENCH_GO" || true
	elif [ -x /usr/bin/go ]; then echo /usr/bin/go
	elif [ -x /usr/lib/go/bin/go ]; then echo /usr/lib/go/bin/go
	else command -v go || true; fi
}

# Debian's cargo with Debian's rustc (rustup's may be first on PATH);
# else whatever cargo there is, which must still build offline.
cargo_env() {
	if [ -n "${BENCH_CARGO:-}" ]; then echo "$BENCH_CARGO"
	elif [ -x /usr/bin/cargo ] && [ -x /usr/bin/rustc ]; then
		echo "RUSTC=/usr/bin/rustc /usr/bin/cargo"
	elif command -v cargo >/dev/null; then
		echo "cargo"
	fi
}

py_bin() {
	if [ -n "${BENCH_PYTHON:-}" ]; then command -v "$BENCH_PYTHON" || true
	elif [ -x /usr/bin/python3 ]; then echo /usr/bin/python3; else command -v python3 || true; fi
}

ensure_peer_deps() {
	local pkgs=()
	if wanted go && [ -z "$(go_bin)" ]; then pkgs+=(golang-go); fi
	if wanted tokio; then
		[ -x /usr/bin/cargo ] || pkgs+=(cargo)
		[ -x /usr/bin/rustc ] || pkgs+=(rustc)
		compgen -G "/usr/share/cargo/registry/tokio-1.*" >/dev/null || pkgs+=(librust-tokio-dev)
	fi
	if wanted uvloop && ! "$(py_bin)" -c 'import uvloop' 2>/dev/null; then
		pkgs+=(python3-uvloop)
	fi
	if wanted asyncio && [ -z "$(py_bin)" ]; then pkgs+=(python3); fi
	install_optional "the peers" "${pkgs[@]}"
}

# install_optional WHO PKG...: installs what WHO needs when root with
# apt, else says how; either way what still lacks them is skipped, not
# failed.
install_optional() {
	local who=$1
	shift
	[ $# -eq 0 ] && return 0
	if is_root_apt; then
		echo "bench.sh: installing for $who: $*"
		apt_install "$@" || echo "bench.sh: apt-get could not install all of $*; what needs them is skipped" >&2
	else
		echo "bench.sh: $who need $* (not installed; e.g. sudo apt-get install $*); what needs them is skipped" >&2
	fi
}

build_go() {
	local go log abs
	go=$(go_bin)
	[ -n "$go" ] || { peer_note[go]="no Go toolchain (apt-get install golang-go)"; return 0; }
	abs=$(cd "$peer_dir" && pwd)
	if ! log=$(cd bench/peers/go && GOFLAGS=-mod=mod GOPROXY=off GO111MODULE=on \
		GOCACHE="$abs/go-cache" GOPATH="$abs/go-path" GOTOOLCHAIN=local \
		"$go" build -o "$abs/go-peer" . 2>&1); then
		peer_note[go]="the Go peer did not build: $(tail -n 3 <<<"$log" | tr '\n' ' ' || true)"
		return 0
	fi
	peer_cmd[go]="$abs/go-peer"
}

build_tokio() {
	local cargo log abs
	cargo=$(cargo_env)
	[ -n "$cargo" ] || { peer_note[tokio]="no cargo (apt-get install cargo rustc librust-tokio-dev)"; return 0; }
	compgen -G "/usr/share/cargo/registry/tokio-1.*" >/dev/null ||
		{ peer_note[tokio]="no tokio crate in /usr/share/cargo/registry (apt-get install librust-tokio-dev)"; return 0; }
	abs=$(cd "$peer_dir" && pwd)
	if ! log=$(cd bench/peers/tokio && eval "CARGO_TARGET_DIR='$abs/tokio-target' $cargo build --release --offline --quiet" 2>&1); then
		local why
		why=$( (grep -m2 -E 'error' <<<"$log" || tail -n 3 <<<"$log") | tr '\n' ' ')
		[ -n "${why// /}" ] || why="cargo failed"
		peer_note[tokio]="the tokio peer did not build offline: $why"
		return 0
	fi
	peer_cmd[tokio]="$abs/tokio-target/release/tokio-peer"
}

build_python() {
	local py
	py=$(py_bin)
	if [ -z "$py" ]; then
		peer_note[asyncio]="no python3"
		peer_note[uvloop]="no python3"
		return 0
	fi
	wanted asyncio && peer_cmd[asyncio]="$py $root/bench/peers/python/peer.py --loop asyncio"
	if wanted uvloop; then
		if "$py" -c 'import uvloop' 2>/dev/null; then
			peer_cmd[uvloop]="$py $root/bench/peers/python/peer.py --loop uvloop"
		else
			peer_note[uvloop]="uvloop is not importable by $py (apt-get install python3-uvloop)"
		fi
	fi
}

build_peers() {
	[ $peers = 1 ] || return 0
	ensure_peer_deps
	mkdir -p "$peer_dir"
	if wanted go; then echo "bench.sh: building the Go peer"; build_go; fi
	if wanted tokio; then echo "bench.sh: building the tokio peer (cargo --offline, Debian's crates)"; build_tokio; fi
	build_python
	local r
	for r in go tokio asyncio uvloop; do
		wanted "$r" || continue
		[ -n "${peer_note[$r]:-}" ] && echo "bench.sh: skipping $r: ${peer_note[$r]}" >&2
	done
	return 0
}

# ---- the network workloads (tcp_echo, connect_rate, idle_connections) ---------
#
# IO.md "Measuring the network workloads honestly": one load generator for
# every server (bench/loadgen/echo_loadgen: plain C on epoll, one thread,
# pinned to the last CPU this script may use, not built on weft); every
# server echoes through a 4 KiB buffer; the deciding figure is the
# server's CPU time per million messages (utime + stime of
# /proc/PID/stat, read by the generator at the edges of its measured
# window), with throughput, p50 and p99 beside it, and the generator's own
# CPU (a run where it is above 90 % is marked generator-bound). workers=1:
# the server pinned to another CPU than the generator's (taskset);
# workers=N (every CPU): unpinned (BENCH.md "Peers").
#
# Each run: a free port of 127.0.0.1 (nothing listens elsewhere), the
# server started there with its worker count, checked to echo within 15 s,
# driven by the generator (bounded by timeout(1)), then stopped: SIGTERM,
# SIGKILL after 5 s. A server that does not start, does not echo, or dies,
# is a failed run (ok=false), never a hang.

declare -A srv_cmd=()  # runtime -> echo server command prefix (eval'd), then PORT WORKERS
declare -A srv_build=() # runtime -> its build, for the JSON lines
net_rts=()        # runtimes with an echo server, in table order
net_jobs=()       # "runtime workload variant workers conns size", odd rounds
net_jobs_even=()  # the same, the baseline before weft (even rounds)
net_srv_pid=""
net_gen_cpu=""    # the generator's CPU (the last one allowed)
net_srv_cpu=""    # the workers=1 server's CPU (another one), "" if none

# "0-1,4" -> "0 1 4"
cpu_list() {
	local part a b out=()
	IFS=, read -r -a parts <<<"$1"
	for part in "${parts[@]}"; do
		if [[ "$part" == *-* ]]; then
			a=${part%-*}; b=${part#*-}
			for ((; a <= b; a++)); do out+=("$a"); done
		elif [ -n "$part" ]; then
			out+=("$part")
		fi
	done
	echo "${out[*]}"
}

# weft's rows run twice (unless --no-epoll): on io_uring, and on the epoll
# backend as the variant "...,backend=epoll". In a subshell that starts a
# server: the backend that variant asks for.
EPOLL_SUFFIX=,backend=epoll
SPIN_SUFFIX=,spin=off
weft_suffixes=() # the variants weft's rows run again as
[ $epoll_rows = 1 ] && weft_suffixes+=("$EPOLL_SUFFIX")
[ $spin_rows = 1 ] && weft_suffixes+=("$SPIN_SUFFIX")
variant_env() { # $1 variant: the environment weft runs it with
	case $1 in *"$EPOLL_SUFFIX") export WEFT_BACKEND=epoll ;; *) unset WEFT_BACKEND ;; esac
	case $1 in *"$SPIN_SUFFIX") export WEFT_SPIN=0 ;; *) unset WEFT_SPIN ;; esac
}
plain_variant() { # $1 variant without the suffix variant_env reads
	local v=${1%"$EPOLL_SUFFIX"}
	printf '%s' "${v%"$SPIN_SUFFIX"}"
}

# The runtimes, variants and jobs of the network rounds.
net_setup() {
	[ $need_net = 1 ] || return 0
	local allowed cpus
	allowed=$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' /proc/self/status)
	read -r -a cpus <<<"$(cpu_list "$allowed")"
	net_gen_cpu=${cpus[${#cpus[@]} - 1]}
	[ ${#cpus[@]} -gt 1 ] && net_srv_cpu=${cpus[0]}
	local q=() r
	[ $quick = 1 ] && q=(--quick)
	if [ -n "$weft_echo" ]; then
		srv_cmd[weft]="$weft_echo"
		srv_build[weft]="release,ndebug=true (examples/echo_server, $(GIT_OPTIONAL_LOCKS=0 git rev-parse --short HEAD 2>/dev/null || echo '?') + working tree)"
	fi
	if [ -n "$base_echo" ]; then
		srv_cmd[$base_label]="$base_echo"
		srv_build[$base_label]="release,ndebug=true (examples/echo_server at $base_sha)"
	fi
	for r in go tokio asyncio uvloop; do
		wanted "$r" && [ -n "${peer_cmd[$r]:-}" ] || continue
		srv_cmd[$r]="${peer_cmd[$r]} echo_server"
		srv_build[$r]=$(eval "${peer_cmd[$r]} version" 2>/dev/null | head -n 1 || true)
	done
	for r in weft "$base_label" go tokio asyncio uvloop; do
		[ -n "$r" ] && [ -n "${srv_cmd[$r]:-}" ] && net_rts+=("$r")
	done
	# Variants: workers = every CPU (unpinned), then 1 (pinned).
	local ncpu=${#cpus[@]} workers=() w c size v conns_list
	if [ "$ncpu" -gt 1 ]; then workers=("$ncpu" 1); else workers=(1); fi
	if [ $quick = 1 ]; then conns_list="1 50"; else conns_list="1 50 500"; fi
	local idle_n=10000
	[ $quick = 1 ] && idle_n=2000
	local vars=() # "workload variant workers conns size"
	if selected tcp_echo; then
		for size in 64 4096; do
			for c in $conns_list; do
				for w in "${workers[@]}"; do
					vars+=("tcp_echo ${size}B,c=$c,workers=$w $w $c $size")
				done
			done
		done
	fi
	if selected connect_rate; then
		for w in "${workers[@]}"; do vars+=("connect_rate c=50,workers=$w $w 50 64"); done
	fi
	if selected idle_connections; then
		for w in "${workers[@]}"; do vars+=("idle_connections n=$idle_n,workers=$w $w $idle_n 64"); done
	fi
	local job rt wl var wk cn sz sfx
	for job in "${vars[@]}"; do
		read -r wl var wk cn sz <<<"$job"
		for rt in "${net_rts[@]}"; do
			# asyncio and uvloop: one loop, one thread
			case $rt in asyncio | uvloop) [ "$wk" = 1 ] || continue ;; esac
			net_jobs+=("$rt $wl $var $wk $cn $sz")
			if [ "$rt" = weft ]; then
				for sfx in ${weft_suffixes[@]+"${weft_suffixes[@]}"}; do
					net_jobs+=("weft $wl $var$sfx $wk $cn $sz")
					net_jobs_even+=("weft $wl $var$sfx $wk $cn $sz")
				done
			fi
			if [ "$rt" = weft ] && [ -n "$base_echo" ]; then
				net_jobs_even+=("$base_label $wl $var $wk $cn $sz" "weft $wl $var $wk $cn $sz")
			elif [ "$rt" != "$base_label" ] || [ -z "${srv_cmd[weft]:-}" ]; then
				net_jobs_even+=("$rt $wl $var $wk $cn $sz")
			fi
		done
	done
	return 0
}

json_str() { # $1 -> a JSON string's body (no quotes)
	local s=${1//\\/\\\\}
	s=${s//\"/\\\"}
	s=${s//$'\t'/ }
	printf '%s' "${s//$'\n'/ }"
}

# A failed run's JSON line, when the generator could not write one (the
# server did not start or answer, the generator was killed).
net_json_fail() { # $1 workload, $2 runtime, $3 variant, $4 run, $5 workers, $6 why
	local unit=messages/s better=higher cpu
	case $1 in
	connect_rate) unit=connections/s ;;
	idle_connections) unit=B/conn better=lower ;;
	esac
	cpu=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo 2>/dev/null | head -n 1)
	printf '{"workload":"%s","runtime":"%s","variant":"%s","n":0,"seconds":0,"rate":null,"unit":"%s","rss_kb":null,"better":"%s","run":%d,"ok":false,"machine":{"cores":%s,"cpus_allowed":%s,"kernel":"%s","arch":"%s","cpu":"%s"},"workers":%s,"quick":%s,"build":"%s","time":"%s","error":"%s"}\n' \
		"$1" "$2" "$3" "$unit" "$better" "$4" "$(nproc --all)" "$(nproc)" "$(uname -r)" "$(uname -m)" \
		"$(json_str "${cpu:-unknown}")" "$5" "$([ $quick = 1 ] && echo true || echo false)" \
		"$(json_str "${srv_build[$2]:-}")" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(json_str "$6")" >>"$out"
	printf '%-12s %-8s %-18s run %-2d FAILED: %s\n' "$1" "$2" "$3" "$4" "$6"
}

alive() { # $1: pid; a zombie is not alive
	local st
	st=$(sed -n 's/^.*) \(.\).*$/\1/p' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ]
}

# stop_pid PID WHAT: SIGTERM, SIGKILL after 5 s (saying so); reaps it.
stop_pid() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		alive "$pid" || break
		sleep 0.05
	done
	if alive "$pid"; then
		echo "bench.sh: $2 ($pid) ignored SIGTERM for 5 s: SIGKILL" >&2
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}

# Stops the server: SIGTERM, SIGKILL after 5 s; reaps it.
net_stop() {
	local pid=$net_srv_pid
	[ -n "$pid" ] || return 0
	net_srv_pid=""
	stop_pid "$pid" "the echo server"
}

# One run of one network variant on one runtime's server.
net_run() { # $1 runtime, $2 workload, $3 variant, $4 run, $5 workers, $6 conns, $7 size
	local rt=$1 w=$2 v=$3 r=$4 workers=$5 conns=$6 size=$7
	local port log pin="" why="" ok=0 st=0 t0 limit
	if ! port=$("$loadgen" free-port); then
		net_json_fail "$w" "$rt" "$v" "$r" "$workers" "no free port on 127.0.0.1"
		return 1
	fi
	log=$(mktemp "${TMPDIR:-/tmp}/weft-bench-server.XXXXXX")
	[ "$workers" = 1 ] && [ -n "$net_srv_cpu" ] && pin="taskset -c $net_srv_cpu"
	# The server gets the hard limit of descriptors (idle_connections);
	# exec: its pid is $!, what the generator reads /proc of.
	(
		ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
		variant_env "$v"
		eval "exec $pin ${srv_cmd[$rt]} $port $workers"
	) </dev/null >"$log" 2>&1 &
	net_srv_pid=$!
	t0=$SECONDS
	while [ $((SECONDS - t0)) -lt 15 ]; do
		if ! alive "$net_srv_pid"; then
			why="the server exited at start: $(tail -n 3 "$log" | tr '\n' ' ')"
			break
		fi
		if "$loadgen" probe --port "$port" --timeout 0.5 2>/dev/null; then
			ok=1
			break
		fi
	done
	if [ $ok = 0 ]; then
		[ -n "$why" ] || why="the server did not echo on 127.0.0.1:$port within 15 s: $(tail -n 3 "$log" | tr '\n' ' ')"
		net_stop
		rm -f "$log"
		net_json_fail "$w" "$rt" "$v" "$r" "$workers" "$why"
		return 1
	fi
	limit=$(awk -v s="$net_seconds" 'BEGIN { printf "%d", s + 90 }')
	local args=("$w" --port "$port" --conns "$conns" --size "$size" --seconds "$net_seconds"
		--cpu "$net_gen_cpu" --server-pid "$net_srv_pid" --runtime "$rt" --variant "$v"
		--run "$r" --workers "$workers" --build "${srv_build[$rt]:-}" --json "$out")
	[ $quick = 1 ] && args+=(--quick)
	timeout -k 5 "$limit" "$loadgen" "${args[@]}" || st=$?
	if ! alive "$net_srv_pid"; then
		echo "bench.sh: $rt's echo server died during $w $v run $r: $(tail -n 5 "$log" | tr '\n' ' ')" >&2
	fi
	net_stop
	if [ $st = 124 ] || [ $st = 137 ] || [ $st -ge 128 ]; then
		net_json_fail "$w" "$rt" "$v" "$r" "$workers" "the load generator was killed after $limit s (exit $st)"
	elif [ $st = 2 ]; then
		net_json_fail "$w" "$rt" "$v" "$r" "$workers" "the load generator refused its command line"
	elif [ $st != 0 ] && [ -s "$log" ]; then
		echo "bench.sh: $rt's echo server said: $(tail -n 5 "$log" | tr '\n' ' ')" >&2
	fi
	rm -f "$log"
	[ $st = 0 ]
}

# One round of the network workloads (after the round of the others):
# variant by variant, every runtime in turn (odd rounds weft first, even
# rounds the baseline first).
run_tcp_echo_round() { # $1: run number
	[ ${#net_jobs[@]} -gt 0 ] || return 0
	local r=$1 job rt w v wk cn sz order=("${net_jobs[@]}")
	[ $((r % 2)) = 0 ] && order=("${net_jobs_even[@]}")
	for job in "${order[@]}"; do
		read -r rt w v wk cn sz <<<"$job"
		net_run "$rt" "$w" "$v" "$r" "$wk" "$cn" "$sz" || failed=$((failed + 1))
	done
}

# ---- the server workloads (http_hello, resp_kv) --------------------------------
#
# Real servers measured with the clients their users already trust
# (BENCH.md: http_hello, resp_kv), run by this script as the network
# workloads above are, with the same rules (IO.md "Measuring the network
# workloads honestly"):
#   http_hello  wrk -t1 -c C -d S --latency, C = 50 and 500, against weft's
#               examples/http_hello, nginx (nginx-light, a config generated
#               in a temporary directory: worker_processes = the worker
#               count, access_log off, 127.0.0.1 only), Go's net/http
#               (go-peer http_hello) and hyper 0.14 on tokio
#               (bench/peers/hyper, built offline as the tokio peer is).
#               Each answers GET / with "Hello, World!" (13 bytes,
#               text/plain) and keeps the connection alive.
#   resp_kv     redis-benchmark -c 50 --threads 2 -r 100000, without and
#               with -P 16, one test at a time: SET, GET, INCR (-t) and a
#               custom 10-key MGET command line, against weft's
#               examples/kv_server and redis-server (--save '' --appendonly
#               no, 127.0.0.1, a temporary directory). One server per
#               (variant, run) serves the four tests in that order, so GET
#               and MGET read keys that SET wrote. redis-benchmark makes a
#               set number of requests: a short pilot run of each test
#               sizes the measured one to the window (--net-seconds,
#               default 5 s here).
# The deciding figure is the server's CPU time per million requests
# (server_cpu_s_per_m: utime + stime of /proc/PID/stat, summed with its
# child processes' for nginx's workers, read right before the client
# starts and right after it exits), beside requests/s, p50/p99 as the
# client reports them, and the client's own CPU (gen_cpu: its user +
# system time over its wall time, from bash's `time`). A run whose client
# used more than 90 % of a CPU per client thread (of the CPUs it may run
# on, when fewer) is marked client-bound (generator_bound, the table's
# GENERATOR-BOUND). workers=1: the server pinned to one CPU and the client
# to another (taskset); workers=N (every CPU): both unpinned.
# redis-server is single-threaded whatever the variant says.
# Each server is started on a free port of 127.0.0.1, checked to answer
# (a real request) within 15 s, measured, checked again, and stopped
# (SIGTERM, SIGKILL after 5 s, its child processes too); every client runs
# under timeout(1). The peers (nginx, go, hyper, redis) run with --peers.

app_runtimes=(weft nginx go hyper redis) # the table's order
declare -A app_ready=()  # "workload runtime" -> 1
declare -A app_build=()  # runtime -> its build, for the JSON lines
app_notes=()             # what is skipped, and why (the table's footer)
app_jobs=()              # "runtime workload variant workers conns pipeline", odd rounds
app_jobs_even=()         # the same, each variant's runtimes in reverse order
app_workers=()           # the variants' worker counts
app_srv_pid=""
app_srv_tmp=""
app_why=""
app_weft_http=""         # weft's examples/http_hello, once built
app_weft_kv=""           # weft's examples/kv_server, once built
app_hyper=""             # bench/peers/hyper's binary, once built
app_nginx=""
app_redis=""
app_wrk=""               # the clients
app_rbench=""
app_machine=""           # the JSON lines' "machine" object
app_tck=100              # clock ticks per second (/proc/PID/stat)
app_wall="" app_ccpu="" app_scpu="" app_st=0 app_bound=0 # one client run (app_measure)

app_selected() { selected http_hello || selected resp_kv; }

app_tool() { # $1: program; prints its path (also in /usr/sbin) or nothing
	command -v "$1" 2>/dev/null || { [ -x "/usr/sbin/$1" ] && echo "/usr/sbin/$1"; } || true
}

# What the selected workloads need and is missing: installed as root
# (Debian packages, only when missing), else the workload or the peer is
# skipped with a note.
app_deps() {
	local pkgs=()
	if selected http_hello; then
		[ -n "$(app_tool wrk)" ] || pkgs+=(wrk)
		if wanted nginx && [ -z "$(app_tool nginx)" ]; then pkgs+=(nginx-light); fi
		if wanted hyper; then
			[ -n "$(cargo_env)" ] || pkgs+=(cargo rustc)
			compgen -G "/usr/share/cargo/registry/hyper-0.14.*" >/dev/null || pkgs+=(librust-hyper-dev)
		fi
	fi
	if selected resp_kv; then
		[ -n "$(app_tool redis-benchmark)" ] || pkgs+=(redis-tools)
		if wanted redis && [ -z "$(app_tool redis-server)" ]; then pkgs+=(redis-server); fi
	fi
	install_optional "http_hello/resp_kv" "${pkgs[@]}"
}

app_build_weft() {
	local t log
	for t in http_hello kv_server; do
		if [ ! -f "examples/$t.c" ] || ! grep -q "'$t'" examples/meson.build 2>/dev/null; then
			app_notes+=("weft ($t): no examples/$t.c target in examples/meson.build")
			continue
		fi
		if ! log=$(ninja -C "$build_dir" "examples/$t" 2>&1); then
			app_notes+=("weft ($t): examples/$t did not build: $( (grep -m2 -E 'error' <<<"$log" || tail -n 3 <<<"$log") | tr '\n' ' ')")
			continue
		fi
		if [ $t = http_hello ]; then
			app_weft_http="$(cd "$build_dir" && pwd)/examples/http_hello"
		else
			app_weft_kv="$(cd "$build_dir" && pwd)/examples/kv_server"
		fi
	done
	app_build[weft]="release,ndebug=true (examples/http_hello, examples/kv_server; $(GIT_OPTIONAL_LOCKS=0 git rev-parse --short HEAD 2>/dev/null || echo '?') + working tree)"
}

# hyper 0.14 on tokio, offline against Debian's crates, as build_tokio
# builds the tokio peer: a crate of its own (bench/peers/hyper), so a
# machine without librust-hyper-dev still builds the tokio peer.
app_build_hyper() {
	local cargo log abs why
	cargo=$(cargo_env)
	if [ -z "$cargo" ]; then
		app_notes+=("hyper: no cargo (apt-get install cargo rustc librust-hyper-dev)")
		return 0
	fi
	if ! compgen -G "/usr/share/cargo/registry/hyper-0.14.*" >/dev/null; then
		app_notes+=("hyper: no hyper 0.14 crate in /usr/share/cargo/registry (apt-get install librust-hyper-dev)")
		return 0
	fi
	echo "bench.sh: building the hyper peer (cargo --offline, Debian's crates)"
	mkdir -p "$peer_dir"
	abs=$(cd "$peer_dir" && pwd)
	if ! log=$(cd bench/peers/hyper && eval "CARGO_TARGET_DIR='$abs/hyper-target' $cargo build --release --offline --quiet" 2>&1); then
		why=$( (grep -m2 -E 'error' <<<"$log" || tail -n 3 <<<"$log") | tr '\n' ' ')
		[ -n "${why// /}" ] || why="cargo failed"
		app_notes+=("hyper: the hyper peer did not build offline: $why")
		return 0
	fi
	app_hyper="$abs/hyper-target/release/hyper-peer"
	app_build[hyper]=$("$app_hyper" version 2>/dev/null | head -n 1 || true)
}

# The runtimes, variants and jobs of http_hello and resp_kv.
app_setup() {
	app_selected || return 0
	if [ -z "$app_seconds" ]; then
		if [ $quick = 1 ]; then app_seconds=2; else app_seconds=5; fi
	fi
	local allowed cpus cpu
	allowed=$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' /proc/self/status)
	read -r -a cpus <<<"$(cpu_list "$allowed")"
	if [ ${#cpus[@]} -gt 1 ]; then app_workers=("${#cpus[@]}" 1); else app_workers=(1); fi
	app_tck=$(getconf CLK_TCK 2>/dev/null || echo 100)
	cpu=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo 2>/dev/null | head -n 1)
	app_machine=$(printf '{"cores":%s,"cpus_allowed":%s,"kernel":"%s","arch":"%s","cpu":"%s"}' \
		"$(nproc --all)" "$(nproc)" "$(uname -r)" "$(uname -m)" "$(json_str "${cpu:-unknown}")")
	app_deps
	app_wrk=$(app_tool wrk)
	app_rbench=$(app_tool redis-benchmark)
	wanted weft && app_build_weft
	if [ $peers = 1 ] && selected http_hello; then
		if wanted nginx; then
			app_nginx=$(app_tool nginx)
			if [ -n "$app_nginx" ]; then
				app_build[nginx]=$("$app_nginx" -v 2>&1 | sed -n 's/^nginx version: //p' | head -n 1)
			else
				app_notes+=("nginx: not installed (apt-get install nginx-light)")
			fi
		fi
		if wanted go; then
			if [ -n "${peer_cmd[go]:-}" ]; then
				app_build[go]="$("${peer_cmd[go]}" version 2>/dev/null | head -n 1 || true) net/http"
			else
				app_notes+=("go (http_hello): ${peer_note[go]:-the Go peer was not built}")
			fi
		fi
		wanted hyper && app_build_hyper
	fi
	if [ $peers = 1 ] && selected resp_kv && wanted redis; then
		app_redis=$(app_tool redis-server)
		if [ -n "$app_redis" ]; then
			app_build[redis]=$("$app_redis" --version 2>/dev/null | sed 's/ sha=.*//' | head -n 1)
		else
			app_notes+=("redis: redis-server is not installed (apt-get install redis-server)")
		fi
	fi
	[ -n "$app_weft_http" ] && app_ready["http_hello weft"]=1
	[ -n "$app_weft_kv" ] && app_ready["resp_kv weft"]=1
	[ -n "$app_nginx" ] && app_ready["http_hello nginx"]=1
	[ $peers = 1 ] && wanted go && [ -n "${peer_cmd[go]:-}" ] && app_ready["http_hello go"]=1
	[ -n "$app_hyper" ] && app_ready["http_hello hyper"]=1
	[ -n "$app_redis" ] && app_ready["resp_kv redis"]=1
	local c p w
	if selected http_hello; then
		if [ -z "$app_wrk" ]; then
			app_notes+=("http_hello: no wrk (apt-get install wrk): the workload is skipped")
		else
			for c in 50 500; do
				for w in "${app_workers[@]}"; do app_add_jobs http_hello "c=$c,workers=$w" "$w" "$c" 1; done
			done
		fi
	fi
	if selected resp_kv; then
		if [ -z "$app_rbench" ]; then
			app_notes+=("resp_kv: no redis-benchmark (apt-get install redis-tools): the workload is skipped")
		else
			for p in 1 16; do
				for w in "${app_workers[@]}"; do app_add_jobs resp_kv "P=$p,workers=$w" "$w" 50 "$p"; done
			done
		fi
	fi
	return 0
}

app_add_jobs() { # $1 workload, $2 variant, $3 workers, $4 conns, $5 pipeline
	local rt rts=()
	for rt in "${app_runtimes[@]}"; do
		[ -n "${app_ready["$1 $rt"]:-}" ] && rts+=("$rt")
	done
	for rt in "${rts[@]}"; do app_jobs+=("$rt $1 $2 $3 $4 $5"); done
	if [ "${rts[0]:-}" = weft ]; then
		local sfx
		for sfx in ${weft_suffixes[@]+"${weft_suffixes[@]}"}; do
			app_jobs+=("weft $1 $2$sfx $3 $4 $5")
			app_jobs_even+=("weft $1 $2$sfx $3 $4 $5")
		done
	fi
	for ((rt = ${#rts[@]} - 1; rt >= 0; rt--)); do app_jobs_even+=("${rts[$rt]} $1 $2 $3 $4 $5"); done
}

# "PID1 PID2 ...": the child processes of $1 (nginx's workers).
app_kids() {
	local f s
	for f in /proc/[0-9]*/stat; do
		{ read -r s <"$f"; } 2>/dev/null || continue
		s=${s##*) }
		s=${s#* }
		[ "${s%% *}" = "$1" ] || continue
		f=${f#/proc/}
		echo "${f%/stat}"
	done
}

# utime + stime (clock ticks) of process $1 and of its child processes.
app_ticks() {
	local t=0 pid s f
	for pid in "$1" $(app_kids "$1"); do
		{ read -r s <"/proc/$pid/stat"; } 2>/dev/null || continue
		s=${s##*) }
		read -r -a f <<<"$s"
		t=$((t + f[11] + f[12]))
	done
	echo "$t"
}

# Peak RSS (VmHWM, KiB) of process $1 plus its child processes'.
app_rss_kb() {
	local t=0 pid v
	for pid in "$1" $(app_kids "$1"); do
		v=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$pid/status" 2>/dev/null || true)
		t=$((t + ${v:-0}))
	done
	echo "$t"
}

# Does the server on 127.0.0.1:$2 answer workload $1's request as it
# should? http_hello: GET / with Connection: close -> 200 and the body;
# resp_kv: PING, SET, GET -> +PONG, +OK, the value.
app_check() {
	local got
	if [ "$1" = http_hello ]; then
		got=$(timeout 3 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0" && printf "%b" "$1" >&3 && cat <&3' "$2" \
			'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' 2>/dev/null | tr -d '\r') || return 1
		[[ "$got" == "HTTP/1.1 200 "* ]] && [[ "$got" == *$'\n\nHello, World!' ]]
	else
		got=$(timeout 3 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0" && printf "%b" "$1" >&3 && head -c 20 <&3' "$2" \
			'*1\r\n$4\r\nPING\r\n*3\r\n$3\r\nSET\r\n$11\r\nbench:check\r\n$2\r\n42\r\n*2\r\n$3\r\nGET\r\n$11\r\nbench:check\r\n' \
			2>/dev/null | tr -d '\r') || return 1
		[ "$got" = $'+PONG\n+OK\n$2\n42' ]
	fi
}

app_nginx_conf() { # $1 port, $2 workers: nginx.conf in the server's directory
	local d=$app_srv_tmp
	cat >"$d/nginx.conf" <<EOF
# generated by tools/bench.sh (http_hello)
daemon off;
master_process on;
worker_processes $2;
pid $d/nginx.pid;
error_log $d/error.log warn;
events {
	worker_connections 4096;
}
http {
	access_log off;
	server_tokens off;
	keepalive_requests 1000000;
	client_body_temp_path $d/client_body;
	proxy_temp_path $d/proxy;
	fastcgi_temp_path $d/fastcgi;
	uwsgi_temp_path $d/uwsgi;
	scgi_temp_path $d/scgi;
	server {
		listen 127.0.0.1:$1;
		location / {
			default_type text/plain;
			return 200 "Hello, World!";
		}
	}
}
EOF
}

# Starts runtime $1's server of workload $2 on port $3 with $4 workers
# and waits until it answers; else returns 1 with app_why set.
app_start() {
	local rt=$1 w=$2 port=$3 workers=$4 t0 pin=() cmd=()
	app_why=""
	app_srv_tmp=$(mktemp -d "${TMPDIR:-/tmp}/weft-bench-server.XXXXXX")
	[ "$workers" = 1 ] && [ -n "$net_srv_cpu" ] && pin=(taskset -c "$net_srv_cpu")
	case "$rt $w" in
	"weft http_hello") cmd=("$app_weft_http" "$port" "$workers") ;;
	"weft resp_kv") cmd=("$app_weft_kv" "$port" "$workers") ;;
	"nginx http_hello")
		app_nginx_conf "$port" "$workers"
		cmd=("$app_nginx" -e "$app_srv_tmp/error.log" -p "$app_srv_tmp" -c "$app_srv_tmp/nginx.conf") ;;
	"go http_hello") cmd=("${peer_cmd[go]}" http_hello "$port" "$workers") ;;
	"hyper http_hello") cmd=("$app_hyper" http_hello "$port" "$workers") ;;
	"redis resp_kv")
		cmd=("$app_redis" --port "$port" --bind 127.0.0.1 --save "" --appendonly no
			--dir "$app_srv_tmp" --logfile "" --daemonize no) ;;
	*) app_why="no $w server for $rt"; return 1 ;;
	esac
	(
		ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
		variant_env "$app_variant"
		exec "${pin[@]}" "${cmd[@]}"
	) </dev/null >"$app_srv_tmp/server.log" 2>&1 &
	app_srv_pid=$!
	t0=$SECONDS
	while [ $((SECONDS - t0)) -lt 15 ]; do
		if ! alive "$app_srv_pid"; then
			app_why="the server exited at start: $(tail -n 3 "$app_srv_tmp/server.log" | tr '\n' ' ')"
			return 1
		fi
		app_check "$w" "$port" && return 0
		sleep 0.1
	done
	app_why="the server did not answer on 127.0.0.1:$port within 15 s: $(tail -n 3 "$app_srv_tmp/server.log" | tr '\n' ' ')"
	return 1
}

# Stops the server (SIGTERM, SIGKILL after 5 s, its child processes too),
# reaps it, removes its directory.
app_stop() {
	local pid=$app_srv_pid kids k
	if [ -n "$pid" ]; then
		app_srv_pid=""
		kids=$(app_kids "$pid")
		stop_pid "$pid" "the server"
		for k in $kids; do
			if alive "$k"; then kill -KILL "$k" 2>/dev/null || true; fi
		done
	fi
	[ -z "$app_srv_tmp" ] || rm -rf "$app_srv_tmp"
	app_srv_tmp=""
}

# One JSON line. $1 workload, $2 runtime, $3 variant, $4 run, $5 workers,
# $6 ok (true/false), $7 n, $8 seconds, $9 rate (or null), $10 rss_kb (or
# null), $11 more keys (",\"k\":v..." or ""), $12 error (or "").
app_json() {
	local err=""
	[ -z "${12}" ] || err=",\"error\":\"$(json_str "${12}")\""
	printf '{"workload":"%s","runtime":"%s","variant":"%s","n":%s,"seconds":%s,"rate":%s,"unit":"requests/s","rss_kb":%s,"better":"higher","run":%d,"ok":%s,"machine":%s,"workers":%s,"quick":%s,"build":"%s","time":"%s"%s%s}\n' \
		"$1" "$2" "$3" "$7" "$8" "$9" "${10}" "$4" "$6" "$app_machine" "$5" \
		"$([ $quick = 1 ] && echo true || echo false)" "$(json_str "${app_build[$2]:-}")" \
		"$(date -u +%Y-%m-%dT%H:%M:%SZ)" "${11}" "$err" >>"$out"
}

app_fail() { # $1 workload, $2 runtime, $3 variant, $4 run, $5 workers, $6 why
	app_json "$1" "$2" "$3" "$4" "$5" false 0 0 null null "" "$6"
	printf '%-12s %-8s %-22s run %-2d FAILED: %s\n' "$1" "$2" "$3" "$4" "$6"
}

# Runs the client (the words after $1) under bash's `time` while reading
# the server's CPU around it. Sets app_wall, app_ccpu (client CPU seconds),
# app_scpu (server CPU seconds), app_st (the client's exit status); its
# output in file $1.
app_measure() {
	local outf=$1 tf t0 t1 TIMEFORMAT='%3R %3U %3S' u s
	shift
	tf="$app_srv_tmp/client.time"
	app_st=0
	t0=$(app_ticks "$app_srv_pid")
	{ time "$@" >"$outf" 2>&1; } 2>"$tf" || app_st=$?
	t1=$(app_ticks "$app_srv_pid")
	read -r app_wall u s < <(tail -n 1 "$tf")
	app_ccpu=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.3f", u + s }')
	app_scpu=$(awk -v a="$t0" -v b="$t1" -v t="$app_tck" 'BEGIN { printf "%.3f", (b - a) / t }')
}

# The figures every run reports: ",\"server_cpu_s_per_m\":..." and the
# client-bound mark, from app_measure's and the client's own numbers.
# $1 requests, $2 p50 µs, $3 p99 µs, $4 client threads, $5 client CPUs,
# $6 client command (words). Prints the JSON keys; app_bound = 1 if
# client-bound.
app_figures() {
	local lim
	lim=$(($4 < $5 ? $4 : $5))
	app_bound=$(awk -v c="$app_ccpu" -v w="$app_wall" -v l="$lim" 'BEGIN { print ((w > 0 && c / w > 0.9 * l) ? 1 : 0) }')
	awk -v n="$1" -v sc="$app_scpu" -v cc="$app_ccpu" -v w="$app_wall" -v p50="$2" -v p99="$3" \
		-v th="$4" -v cp="$5" -v b="$app_bound" -v cmd="$(json_str "$6")" 'BEGIN {
		printf ",\"server_cpu_s_per_m\":%.4f,\"server_cpu\":%.4f,\"gen_cpu\":%.4f", sc / n * 1e6, (w > 0 ? sc / w : 0), (w > 0 ? cc / w : 0)
		printf ",\"p50_us\":%s,\"p99_us\":%s", (p50 == "" ? "null" : p50), (p99 == "" ? "null" : p99)
		printf ",\"server_cpu_s\":%.3f,\"client_cpu_s\":%.3f,\"client_wall_s\":%.3f", sc, cc, w
		printf ",\"client_threads\":%d,\"client_cpus\":%d,\"generator_bound\":%s,\"client\":\"%s\"", th, cp, (b ? "true" : "false"), cmd
	}'
}

app_line() { # $1 workload, $2 runtime, $3 variant, $4 run, $5 rate, $6 n, $7 p99 µs
	awk -v w="$1" -v rt="$2" -v v="$3" -v r="$4" -v rate="$5" -v n="$6" -v p99="$7" \
		-v sc="$app_scpu" -v cc="$app_ccpu" -v wall="$app_wall" -v b="$app_bound" 'BEGIN {
		printf "%-12s %-8s %-22s run %-2d %10.0f requests/s  srv %6.2f CPU-s/M (%3.0f%%)  p99 %s us  client %3.0f%%%s\n",
			w, rt, v, r, rate, sc / n * 1e6, (wall > 0 ? sc / wall * 100 : 0), (p99 == "" ? "-" : sprintf("%.0f", p99)),
			(wall > 0 ? cc / wall * 100 : 0), (b ? "  CLIENT-BOUND" : "")
	}'
}

# wrk's report -> "requests seconds rate p50_us p99_us non2xx connect read write timeout"
app_wrk_parse() {
	awk '
	function us(s,    v, u) {
		v = s + 0; u = s; sub(/^[0-9.]+/, "", u)
		return u == "us" ? v : u == "ms" ? v * 1e3 : u == "s" ? v * 1e6 : u == "m" ? v * 6e7 : ""
	}
	/ requests in / { n = $1; d = $4; sub(/,$/, "", d); secs = us(d) / 1e6 }
	/^Requests\/sec:/ { rate = $2 }
	$1 == "50%" { p50 = us($2) }
	$1 == "99%" { p99 = us($2) }
	/Non-2xx or 3xx responses:/ { bad = $NF }
	/Socket errors:/ { gsub(/,/, ""); ce = $4; re = $6; we = $8; te = $10 }
	END { printf "%s %s %s %s %s %d %d %d %d %d\n", (n == "" ? "-" : n), (secs == "" ? "-" : secs),
		(rate == "" ? "-" : rate), (p50 == "" ? "-" : p50), (p99 == "" ? "-" : p99), bad, ce, re, we, te }'
}

# One run of http_hello on the started server: wrk -t1 for the window.
app_http() { # $1 runtime, $2 variant, $3 run, $4 workers, $5 conns, $6 port
	local rt=$1 v=$2 r=$3 workers=$4 conns=$5 port=$6 secs limit pin=() cpus outf
	local n d rate p50 p99 bad ce re we te why="" extra rss
	secs=$(awk -v s="$app_seconds" 'BEGIN { s = int(s + 0.999); print s < 1 ? 1 : s }')
	limit=$((secs + 30))
	cpus=$(nproc)
	if [ "$workers" = 1 ] && [ -n "$net_srv_cpu" ]; then
		pin=(taskset -c "$net_gen_cpu")
		cpus=1
	fi
	local cmd=("$app_wrk" -t1 -c"$conns" -d"${secs}s" --latency "http://127.0.0.1:$port/")
	outf="$app_srv_tmp/client.out"
	app_measure "$outf" "${pin[@]}" timeout -k 5 "$limit" "${cmd[@]}"
	rss=$(app_rss_kb "$app_srv_pid")
	read -r n d rate p50 p99 bad ce re we te < <(app_wrk_parse <"$outf")
	if [ "$app_st" != 0 ]; then
		why="wrk exited $app_st: $(tail -n 2 "$outf" | tr '\n' ' ')"
	elif [ "$n" = - ] || [ "$rate" = - ] || [ "$n" -le 0 ]; then
		why="no requests in wrk's report: $(tail -n 2 "$outf" | tr '\n' ' ')"
	elif [ "$bad" -gt 0 ] || [ "$ce" -gt 0 ] || [ "$re" -gt 0 ] || [ "$we" -gt 0 ] || [ "$te" -gt 0 ]; then
		why="wrk saw $bad non-2xx responses and socket errors (connect $ce, read $re, write $we, timeout $te)"
	elif ! alive "$app_srv_pid"; then
		why="the server died during the run: $(tail -n 3 "$app_srv_tmp/server.log" | tr '\n' ' ')"
	elif ! app_check http_hello "$port"; then
		why="the server did not answer after the run"
	fi
	[ "$p50" = - ] && p50=""
	[ "$p99" = - ] && p99=""
	if [ -n "$why" ]; then
		app_fail http_hello "$rt" "$v" "$r" "$workers" "$why"
		return 1
	fi
	extra=$(app_figures "$n" "$p50" "$p99" 1 "$cpus" "wrk -t1 -c$conns -d${secs}s --latency")
	extra+=",\"conns\":$conns"
	app_json http_hello "$rt" "$v" "$r" "$workers" true "$n" "$d" "$rate" "$rss" "$extra" ""
	app_line http_hello "$rt" "$v" "$r" "$rate" "$n" "$p99"
}

# redis-benchmark's --csv report -> "rps p50_us p99_us" of its last row
app_rb_parse() {
	awk -F'","' '/^"/ && !/^"test"/ { rps = $2; p50 = $5 * 1e3; p99 = $7 * 1e3 }
		END { if (rps == "") print "- - -"; else print rps, p50, p99 }'
}

# One test of resp_kv on the started server: a pilot, then the window.
app_resp() { # $1 runtime, $2 variant, $3 run, $4 workers, $5 conns, $6 pipeline, $7 port, $8 test
	local rt=$1 v=$2 r=$3 workers=$4 conns=$5 pipe=$6 port=$7 t=$8 pin=() cpus what=() base
	local n0 n rps p50 p99 why="" extra rss outf limit i
	cpus=$(nproc)
	if [ "$workers" = 1 ] && [ -n "$net_srv_cpu" ]; then
		pin=(taskset -c "$net_gen_cpu")
		cpus=1
	fi
	base=("$app_rbench" -h 127.0.0.1 -p "$port" -c "$conns" --threads 2 -r 100000 --csv)
	[ "$pipe" -gt 1 ] && base+=(-P "$pipe")
	case $t in
	mget10)
		what=(MGET)
		for ((i = 0; i < 10; i++)); do what+=("key:__rand_int__"); done ;;
	*) what=(-t "$t") ;;
	esac
	outf="$app_srv_tmp/client.out"
	n0=10000
	[ "$pipe" -gt 1 ] && n0=100000
	# the pilot: sizes the measured run to the window
	if ! timeout -k 5 60 "${pin[@]}" "${base[@]}" -n "$n0" "${what[@]}" >"$outf" 2>&1 ||
		grep -q 'Error from server' "$outf"; then
		why="the pilot run failed: $(grep -m1 'Error' "$outf" || tail -n 2 "$outf" | tr '\n' ' ')"
	else
		read -r rps p50 p99 < <(app_rb_parse <"$outf")
		[ "$rps" != - ] || why="no result in the pilot's report: $(tail -n 2 "$outf" | tr '\n' ' ')"
	fi
	if [ -z "$why" ]; then
		n=$(awk -v r="$rps" -v s="$app_seconds" -v m="$n0" 'BEGIN { n = int(r * s / 1000) * 1000; print n < m ? m : n }')
		limit=$(awk -v s="$app_seconds" 'BEGIN { printf "%d", s * 4 + 30 }')
		app_measure "$outf" "${pin[@]}" timeout -k 5 "$limit" "${base[@]}" -n "$n" "${what[@]}"
		rss=$(app_rss_kb "$app_srv_pid")
		read -r rps p50 p99 < <(app_rb_parse <"$outf")
		if [ "$app_st" != 0 ]; then
			why="redis-benchmark exited $app_st: $(grep -m1 'Error' "$outf" || tail -n 2 "$outf" | tr '\n' ' ')"
		elif grep -q 'Error from server' "$outf"; then
			why="$(grep -m1 'Error from server' "$outf")"
		elif [ "$rps" = - ]; then
			why="no result in redis-benchmark's report: $(tail -n 2 "$outf" | tr '\n' ' ')"
		elif ! alive "$app_srv_pid"; then
			why="the server died during the run: $(tail -n 3 "$app_srv_tmp/server.log" | tr '\n' ' ')"
		elif ! app_check resp_kv "$port"; then
			why="the server did not answer after the run"
		fi
	fi
	if [ -n "$why" ]; then
		app_fail resp_kv "$rt" "$v" "$r" "$workers" "$why"
		return 1
	fi
	local popt=""
	[ "$pipe" -gt 1 ] && popt=" -P $pipe"
	extra=$(app_figures "$n" "$p50" "$p99" 2 "$cpus" \
		"redis-benchmark -c $conns --threads 2 -r 100000$popt -n $n ${what[*]}")
	extra+=",\"conns\":$conns,\"pipeline\":$pipe,\"command\":\"$t\""
	app_json resp_kv "$rt" "$v" "$r" "$workers" true "$n" \
		"$(awk -v n="$n" -v r="$rps" 'BEGIN { printf "%.3f", n / r }')" "$rps" "$rss" "$extra" ""
	app_line resp_kv "$rt" "$v" "$r" "$rps" "$n" "$p99"
}

# One job: start the server, run the workload's client(s), stop it.
app_run() { # $1 runtime, $2 workload, $3 variant, $4 run, $5 workers, $6 conns, $7 pipeline
	local rt=$1 w=$2 v=$3 r=$4 workers=$5 conns=$6 pipe=$7 port st=0 t tests=(x)
	app_variant=$v # app_start's server environment (variant_env)
	[ "$w" = resp_kv ] && tests=(set get incr mget10)
	if ! port=$("$loadgen" free-port) || ! app_start "$rt" "$w" "$port" "$workers"; then
		[ -n "$app_why" ] || app_why="no free port on 127.0.0.1"
		for t in "${tests[@]}"; do
			if [ "$w" = resp_kv ]; then
				app_fail "$w" "$rt" "$t,$v" "$r" "$workers" "$app_why"
			else
				app_fail "$w" "$rt" "$v" "$r" "$workers" "$app_why"
			fi
		done
		app_stop
		return 1
	fi
	if [ "$w" = http_hello ]; then
		app_http "$rt" "$v" "$r" "$workers" "$conns" "$port" || st=1
	else
		for t in "${tests[@]}"; do
			app_resp "$rt" "$t,$v" "$r" "$workers" "$conns" "$pipe" "$port" "$t" || st=1
		done
	fi
	app_stop
	return $st
}

# One round of http_hello and resp_kv (after the network round): variant
# by variant, every runtime in turn (odd rounds weft first, even rounds
# weft last).
run_app_round() { # $1: run number
	[ ${#app_jobs[@]} -gt 0 ] || return 0
	local r=$1 job rt w v wk cn p order=("${app_jobs[@]}")
	[ $((r % 2)) = 0 ] && order=("${app_jobs_even[@]}")
	for job in "${order[@]}"; do
		read -r rt w v wk cn p <<<"$job"
		app_run "$rt" "$w" "$v" "$r" "$wk" "$cn" "$p" || failed=$((failed + 1))
	done
}

# The table's footer: the servers' builds, the clients, what was skipped.
app_footer() {
	app_selected || return 0
	local rt line
	for rt in weft nginx go hyper redis; do
		[ -n "${app_build[$rt]:-}" ] || continue
		case " ${app_jobs[*]} " in *" $rt "*) echo "$rt (http_hello/resp_kv): ${app_build[$rt]}" ;; esac
	done
	if [ ${#app_jobs[@]} -gt 0 ]; then
		echo "http_hello/resp_kv: the client is the load generator (wrk -t1 -c C --latency; redis-benchmark -c 50 --threads 2 -r 100000 [-P 16],"
		echo "  a pilot run sizing each test to the window); srv CPU-s/M is per million requests; gen CPU is the client's;"
		echo "  GENERATOR-BOUND: the client used more than 90 % of a CPU per client thread (of the CPUs it may use, if fewer);"
		echo "  workers=1: server on CPU ${net_srv_cpu:-(not pinned)}, client on CPU $net_gen_cpu; workers=$(nproc): both unpinned; redis-server is single-threaded"
	fi
	for line in "${app_notes[@]}"; do echo "skipped $line"; done
}

# --competitors: one CPU-bound shell loop per CPU we may use, at nice 0
# as the benchmarks are, so an idle weft worker's spin competes with them.
competitors_start() {
	[ $competitors = 1 ] || return 0
	local n i
	n=$(nproc 2>/dev/null || echo 1)
	for ((i = 0; i < n; i++)); do
		(while :; do :; done) </dev/null >/dev/null 2>&1 &
		competitor_pids+=($!)
	done
	echo "bench.sh: $n CPU-bound competitors running (pids ${competitor_pids[*]})"
}
competitors_stop() {
	local p
	for p in ${competitor_pids[@]+"${competitor_pids[@]}"}; do kill "$p" 2>/dev/null || true; done
	for p in ${competitor_pids[@]+"${competitor_pids[@]}"}; do wait "$p" 2>/dev/null || true; done
	competitor_pids=()
}

# Nothing of ours outlives the script: the server of a run cut short.
on_exit() {
	net_stop
	app_stop
	competitors_stop
	[ -z "$base_json" ] || rm -f "$base_json"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- run -----------------------------------------------------------------------

resolve_baseline
ensure_deps
echo "bench.sh: building weft (release) in $build_dir"
build
build_baseline
build_peers
bin="$build_dir/bench/weft_bench"
peer_cmd[weft]="$bin"
if [ -n "$base_bin" ]; then peer_cmd[$base_label]="$base_bin"; fi
if [ -n "$base_note" ]; then echo "bench.sh: skipping $base_label: $base_note" >&2; fi

listing=""
[ $need_bench = 1 ] && listing=$("$bin" list)
for n in "${only[@]}"; do
	is_net "$n" && continue
	grep -q "^$n " <<<"$listing" || { echo "bench.sh: no workload '$n' (see: $bin list)" >&2; exit 2; }
done

# The jobs: for every (workload, variant) in weft's order, each runtime
# that has it ready; rows no runtime can run are noted as n/a.
runtimes=()
for r in "${all_runtimes[@]}"; do
	wanted "$r" && [ -n "${peer_cmd[$r]:-}" ] && runtimes+=("$r")
	# the baseline right after weft
	if [ "$r" = weft ] && [ -n "$base_bin" ]; then runtimes+=("$base_label"); fi
done
declare -A ready=() # "runtime workload variant" -> 1
declare -A listed=() # "runtime workload variant" -> 1, ready or n/a
declare -A wv_seen=()
declare -A na_of=() # "workload variant" -> "runtime (why); ..."
wv_order=()
for r in "${runtimes[@]}"; do
	# weft_bench's and the peers' lists: their own workloads; the network
	# workloads are this script's (net_setup).
	[ $need_bench = 1 ] || break
	if ! lst=$(eval "${peer_cmd[$r]} list" 2>&1); then
		echo "bench.sh: skipping $r: its list failed: $lst" >&2
		continue
	fi
	while read -r w v status rest; do
		[ -n "$w" ] && selected "$w" && ! is_net "$w" || continue
		[ -n "${wv_seen["$w $v"]:-}" ] || { wv_seen["$w $v"]=1; wv_order+=("$w $v"); }
		listed["$r $w $v"]=1
		if [ "$status" = ready ]; then
			ready["$r $w $v"]=1
		else
			why="${rest%%#*}"
			why="${why%"${why##*[! ]}"}"
			na_of["$w $v"]+="${na_of["$w $v"]:+; }$r${why:+ ($why)}"
		fi
	done <<<"$lst"
done
# What the working tree has and the baseline revision does not list.
if [ -n "$base_bin" ]; then
	for wv in "${wv_order[@]}"; do
		[ -n "${ready["weft $wv"]:-}" ] && [ -z "${listed["$base_label $wv"]:-}" ] || continue
		echo "bench.sh: $base_label has no $wv (not in that revision); that row is skipped" >&2
		na_of[$wv]+="${na_of[$wv]:+; }$base_label (not in that revision)"
	done
fi
na=()
for wv in "${wv_order[@]}"; do
	[ -n "${na_of[$wv]:-}" ] || continue
	read -r w v <<<"$wv"
	na+=("$(printf '%-13s %-18s n/a: %s' "$w" "$v" "${na_of[$wv]}")")
done
# weft's order first, then what only peers have (in their order). With a
# baseline, jobs_even has it before weft (odd rounds: weft first).
jobs=()
jobs_even=()
for wv in "${wv_order[@]}"; do
	if [ -n "${ready["weft $wv"]:-}" ]; then
		for sfx in ${weft_suffixes[@]+"${weft_suffixes[@]}"}; do
			jobs+=("weft $wv$sfx")
			jobs_even+=("weft $wv$sfx")
		done
	fi
	for r in "${runtimes[@]}"; do
		[ -n "${ready["$r $wv"]:-}" ] && jobs+=("$r $wv")
		if [ "$r" = weft ] && [ -n "$base_bin" ]; then
			[ -n "${ready["$base_label $wv"]:-}" ] && jobs_even+=("$base_label $wv")
			[ -n "${ready["weft $wv"]:-}" ] && jobs_even+=("weft $wv")
		elif [ -z "$base_bin" ] || [ "$r" != "$base_label" ]; then
			[ -n "${ready["$r $wv"]:-}" ] && jobs_even+=("$r $wv")
		fi
	done
done
net_setup
app_setup
if [ $need_net = 1 ]; then
	if wanted weft && [ -z "$weft_echo" ]; then
		echo "bench.sh: skipping weft's network rows: $weft_echo_note" >&2
	fi
	if [ -n "$base_bin" ] && [ -z "$base_echo" ]; then
		echo "bench.sh: skipping $base_label's network rows: ${base_echo_note:-not built}" >&2
	fi
fi
if [ ${#jobs[@]} -eq 0 ] && [ ${#net_jobs[@]} -eq 0 ] && [ ${#app_jobs[@]} -eq 0 ]; then
	echo "bench.sh: nothing to run for --only ${only[*]}"
	[ -z "$listing" ] || grep -E "^($(IFS='|'; echo "${only[*]}")) " <<<"$listing" || true
	if [ $need_net = 1 ]; then
		echo "(the network workloads need an echo server: weft's examples/echo_server, or a peer's with --peers)"
	fi
	exit 0
fi

mkdir -p bench/results
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=bench/results/results-$stamp.jsonl
quick_opt=()
[ $quick = 1 ] && quick_opt=(--quick)
if [ ${#jobs[@]} -gt 0 ]; then
	echo "bench.sh: $runs runs of ${#jobs[@]} variants (${runtimes[*]}), interleaved; results in $out"
fi
if [ ${#net_jobs[@]} -gt 0 ]; then
	echo "bench.sh: $runs runs of ${#net_jobs[@]} network runs (${net_rts[*]}; $net_seconds s each), interleaved; results in $out"
	echo "bench.sh: the load generator on CPU $net_gen_cpu; workers=1 servers on CPU ${net_srv_cpu:-(not pinned: one CPU)}"
fi
if [ ${#app_jobs[@]} -gt 0 ]; then
	echo "bench.sh: $runs runs of ${#app_jobs[@]} http_hello/resp_kv servers ($app_seconds s windows), interleaved; results in $out"
fi

# The machines are shared: say how busy this one was while we measured.
load_before=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)
t_start=$(date +%s)
failed=0
competitors_start
for ((r = 1; r <= runs; r++)); do
	round=("${jobs[@]}")
	[ $((r % 2)) = 0 ] && round=("${jobs_even[@]}")
	for job in "${round[@]}"; do
		read -r rt w v <<<"$job"
		if [ -n "$base_bin" ] && [ "$rt" = "$base_label" ]; then
			run_baseline "$w" "$v" "$r" || failed=$((failed + 1))
			continue
		fi
		if [ "$rt" = weft ] && [ "$(plain_variant "$v")" != "$v" ]; then
			# weft_bench in the environment the suffix asks for: its
			# lines carry the variant it knows, renamed here
			tmp_json=$(mktemp "${TMPDIR:-/tmp}/weft-bench-variant.XXXXXX")
			(
				variant_env "$v"
				timeout -k 10 600 "${peer_cmd[weft]}" "$w" --variant "$(plain_variant "$v")" \
					--runs 1 --run-base "$r" --json "$tmp_json" --min-time "$min_time" "${quick_opt[@]}"
			) || failed=$((failed + 1))
			sed "s/\"variant\":\"[^\"]*\"/\"variant\":\"$v\"/" "$tmp_json" >>"$out"
			rm -f "$tmp_json"
			continue
		fi
		# weft_bench has its own per-run timeout (forked runs); the peers
		# get the same limit from timeout(1).
		if ! eval "timeout -k 10 600 ${peer_cmd[$rt]}" '"$w" --variant "$v" --runs 1 --run-base "$r" \
			--json "$out" --min-time "$min_time" "${quick_opt[@]}"'; then
			failed=$((failed + 1))
		fi
	done
	run_tcp_echo_round "$r"
	run_app_round "$r"
done

table=bench/results/results-$stamp.txt
chart=bench/results/results-$stamp.svg
{
	echo
	echo "weft benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC'): medians of $runs interleaved runs ($(($(date +%s) - t_start)) s)"
	echo "command: $cmdline"
	echo "weft: $(GIT_OPTIONAL_LOCKS=0 git rev-parse --short HEAD 2>/dev/null || echo unknown) (HEAD; the working tree may differ)"
	if [ -n "$base_label" ]; then
		behind=""
		if git merge-base --is-ancestor "$base_sha" HEAD 2>/dev/null; then
			behind="; $(git rev-list --count "$base_sha..HEAD") commit(s) before HEAD"
		fi
		echo "$base_label: $base_sha, $(git log -1 --format=%s "$base_sha" | cut -c1-72) (--baseline $baseline$behind${base_bin:+; worktree $base_dir})"
	fi
	for rt in go tokio asyncio uvloop; do
		case " ${runtimes[*]} ${net_rts[*]} " in *" $rt "*) ;; *) continue ;; esac
		b=$(grep -m1 "\"runtime\":\"$rt\"" "$out" | sed -n 's/.*"build":"\([^"]*\)".*/\1/p' || true)
		echo "$rt: ${b:-no result}"
	done
	echo "load average (1/5/15 min) before: $load_before; after: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown) (on $(nproc 2>/dev/null || echo ?) CPUs)"
	summarize "$out"
	for line in "${na[@]}"; do echo "$line"; done
	for rt in go tokio asyncio uvloop; do
		wanted "$rt" && [ -n "${peer_note[$rt]:-}" ] && echo "skipped $rt: ${peer_note[$rt]}"
	done
	if [ -n "$base_note" ]; then echo "skipped $base_label: $base_note"; fi
	if [ ${#net_jobs[@]} -gt 0 ] || [ $need_net = 1 ]; then
		wanted weft && [ -z "$weft_echo" ] && echo "skipped weft (network workloads): $weft_echo_note"
		[ -n "$base_bin" ] && [ -z "$base_echo" ] && echo "skipped $base_label (network workloads): ${base_echo_note:-not built}"
		if [ ${#net_jobs[@]} -gt 0 ]; then
			echo "network: $net_seconds s windows; load generator echo_loadgen on CPU $net_gen_cpu; workers=1 servers pinned to CPU ${net_srv_cpu:-(none)}, workers=$(nproc) unpinned; asyncio and uvloop: workers=1 only (one thread)"
		fi
	fi
	app_footer
	echo "results: $out"
} | tee "$table"
if [ $plot = 1 ]; then
	if command -v gnuplot >/dev/null; then
		if tools/plot.sh "$out" "$chart" >/dev/null; then
			echo "chart: $chart" | tee -a "$table"
		else
			echo "bench.sh: tools/plot.sh failed (no chart)" >&2
		fi
	else
		echo "bench.sh: no gnuplot, no chart (apt-get install gnuplot-nox)" >&2
	fi
fi
if [ $failed -gt 0 ]; then
	echo "bench.sh: $failed run(s) failed their self-check or crashed (ok=false in $out)" >&2
	exit 1
fi
