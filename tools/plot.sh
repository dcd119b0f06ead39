#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Draws the side-by-side chart of one results file of tools/bench.sh:
#
#   tools/plot.sh bench/results/results-<stamp>.jsonl [OUT.svg|OUT.png]
#
# One group of bars per (workload, variant), one bar per runtime: its
# median relative to weft's median in the same file, oriented so that
# above 1 means better than weft (faster, or less time or memory for the
# figures where lower is better), on a log scale; the whiskers are the
# spread (min-max) of its runs, relative to the same weft median. Rows weft
# cannot run (n/a) are left out. Needs gnuplot (Debian: gnuplot-nox).
# Default output: the results file's name with .svg.
set -euo pipefail

[ $# -ge 1 ] && [ $# -le 2 ] || { echo "usage: tools/plot.sh RESULTS.jsonl [OUT.svg|OUT.png]" >&2; exit 2; }
in=$1
out=${2:-${in%.jsonl}.svg}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
command -v gnuplot >/dev/null || { echo "plot.sh: gnuplot is not installed (apt-get install gnuplot-nox)" >&2; exit 1; }
[ -r "$in" ] || { echo "plot.sh: cannot read $in" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$root/tools/bench.sh" --summarize "$in" --tsv >"$tmp/medians.tsv"

# Rows: label, then for each runtime present: rel, rel_min, rel_max ("?" if
# missing). Runtimes in the suite's order.
awk -F'\t' -v dat="$tmp/chart.dat" -v cols="$tmp/runtimes" '
	BEGIN { nr = split("weft go tokio asyncio uvloop nginx hyper redis", order, " ") }
	/^#/ { next }
	{
		key = $1 "\t" $2
		if (!(key in seen)) { seen[key] = 1; rows[++nrows] = key }
		med[key, $3] = $4; lo[key, $3] = $5; hi[key, $3] = $6; better[key] = $8
		if ($4 != "?") have[$3] = 1
	}
	END {
		n = 0
		for (i = 1; i <= nr; i++) if (order[i] in have) used[++n] = order[i]
		for (i = 1; i <= n; i++) printf "%s\n", used[i] > cols
		for (g = 1; g <= nrows; g++) {
			key = rows[g]
			w = med[key, "weft"]
			if (w == "" || w == "?" || w + 0 <= 0) continue
			split(key, kv, "\t")
			v = kv[2]; gsub(/workers=/, "w=", v); gsub(/,/, " ", v)
			label = kv[1] "\\n" v (better[key] == "lower" ? " (low)" : "")
			line = "\"" label "\""
			for (i = 1; i <= n; i++) {
				m = med[key, used[i]]
				if (m == "" || m == "?" || m + 0 <= 0) { line = line " ? ? ?"; continue }
				if (better[key] == "lower")
					line = line sprintf(" %g %g %g", w / m, w / hi[key, used[i]], w / lo[key, used[i]])
				else
					line = line sprintf(" %g %g %g", m / w, lo[key, used[i]] / w, hi[key, used[i]] / w)
			}
			print line > dat
		}
	}' "$tmp/medians.tsv"
[ -s "$tmp/chart.dat" ] || { echo "plot.sh: no row with a weft figure in $in" >&2; exit 1; }
# The y range: whole decades around every bar and whisker, at least 0.1-10.
read -r ymin ymax < <(awk '{
		for (i = 2; i <= NF; i++) if ($i != "?" && $i + 0 > 0) {
			v = $i + 0
			if (!seen || v < lo) lo = v
			if (!seen || v > hi) hi = v
			seen = 1
		}
	} END {
		a = 10 ^ int(log(lo) / log(10) - (lo < 1 ? 1 : 0)); b = 10 ^ int(log(hi) / log(10) + 1)
		if (a > 0.1) a = 0.1
		if (b < 10) b = 10
		print a, b
	}' "$tmp/chart.dat")

# The title: the machine, when, quick or not (from the first JSON line).
first=$(head -n 1 "$in")
get() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p" <<<"$first"; }
cores=$(sed -n 's/.*"cores":\([0-9]*\).*/\1/p' <<<"$first")
when=$(get time)
quick=""
grep -q '"quick":true' "$in" && quick=" - QUICK counts, not figures to quote"
title="weft and its peers, relative to weft (weft = 1; above 1 = better than weft), median and min-max of the runs"
sub="$(basename "$in"): ${when:-?}, ${cores:-?} cores, $(get cpu), kernel $(get kernel)$quick"

case "$out" in
*.png) term="pngcairo size 1600,640 font 'sans,10'" ;;
*) term="svg size 1600,640 dynamic font 'sans,10' background '#ffffff'" ;;
esac

mapfile -t rts <"$tmp/runtimes"
declare -A color=([weft]='#d62728' [go]='#1f77b4' [tokio]='#ff7f0e' [asyncio]='#2ca02c' [uvloop]='#9467bd'
	[nginx]='#8c564b' [hyper]='#e377c2' [redis]='#17becf')
plot=""
for i in "${!rts[@]}"; do
	c=$((2 + 3 * i))
	src="'$tmp/chart.dat'"
	[ "$i" -gt 0 ] && src="''"
	xt=""
	[ "$i" -eq 0 ] && xt=":xtic(1)"
	plot+="${plot:+, }$src using $c:$((c + 1)):$((c + 2))$xt title '${rts[$i]}' lc rgb '${color[${rts[$i]}]:-#7f7f7f}'"
done

gnuplot <<EOF
set terminal $term
set output '$out'
set title "$title\n{/*0.85 $sub}"
set datafile missing '?'
set style data histogram
set style histogram errorbars gap 1.5 lw 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y 10
set yrange [$ymin:$ymax]
set ytics ("0.001" 0.001, "0.01" 0.01, "0.1" 0.1, "0.5" 0.5, "1" 1, "2" 2, "10" 10, "100" 100, "1000" 1000)
set grid ytics lc rgb '#dddddd'
set ylabel "relative to weft (log scale)"
set xtics nomirror font ',9' noenhanced
set key top left horizontal noenhanced
set arrow from graph 0, first 1 to graph 1, first 1 nohead lc rgb '#555555' dt 2
set bmargin 5
plot $plot
EOF
echo "$out"
