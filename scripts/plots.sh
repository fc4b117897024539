#!/usr/bin/env bash
# Regenerates the README's two plots with gnuplot (installed from the OS
# packages if missing):
#
#   docs/backlog.svg     queue depth and lag over time of the backlog demo,
#                        1 worker and W workers, with the overload
#                        watermarks and the lag-alert marks drawn
#                        (examples/backlog.rs --csv)
#   docs/throughput.svg  P4 throughput against the worker count, taskring
#                        and its peers (scripts/bench.sh -- --only p4
#                        --workers 1,2,4,8,16,40)
#
#   ./scripts/plots.sh                      # both, running the demo and the sweep (~2 min)
#   ./scripts/plots.sh --bench-csv FILE     # the throughput plot from an earlier sweep's CSV
#
# The data lands in target/plots/; the plots say which machine drew them.

set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

bench_csv=
while (($#)); do
    case "$1" in
        --bench-csv) bench_csv=$2; shift ;;
        -h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "plots.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
    esac
    shift
done

if ! command -v gnuplot >/dev/null; then
    echo "plots.sh: installing gnuplot"
    sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gnuplot-nox >/dev/null
fi

target=${CARGO_TARGET_DIR:-target}
data="$target/plots"
mkdir -p "$data" docs
cpus=$(nproc)

# === The backlog demo: queue depth and lag over time ===

backlog_csv="$data/backlog.csv"
cargo build --quiet --release --features std --example backlog
# Other work on the machine shows in the plots: say how busy it was.
load=$(cut -d' ' -f1 /proc/loadavg)
cargo run --quiet --release --features std --example backlog -- --quiet --csv "$backlog_csv" |
    tee "$data/backlog.txt"

# The `#` line holds the queue, watermarks and lag marks: key=value pairs.
meta=$(sed -n '1s/^# //p' "$backlog_csv")
declare -A m=()
for pair in $meta; do
    m[${pair%%=*}]=${pair#*=}
done
many=$(awk -F, 'NR > 2 && $1 != 1 { print $1; exit }' "$backlog_csv")
sessions=$(sed -n 's/^backlog: \([0-9]*\) sessions.*/\1/p' "$data/backlog.txt")
# Largest lag of each run, so each panel's lag axis shows its alert mark.
max_lag() {
    awk -F, -v w="$1" 'NR > 2 && $1 == w && $5 > max { max = $5 } END { print max + 0 }' "$backlog_csv"
}

gnuplot <<EOF
set terminal svg size 960,820 dynamic enhanced font "sans,12" background rgb "white"
set output "docs/backlog.svg"
set datafile separator ","
set multiplot layout 2,1 title "Backlog demo: $sessions sessions through a queue of ${m[queue]} (examples/backlog.rs; $cpus CPUs, load average $load)"
set grid ytics lc rgb "#dddddd"
set xlabel "time since the run started (s)"
set ylabel "queued sessions"
set y2label "lag: age of the oldest queued session (ms)"
set ytics nomirror
set y2tics
set key below horizontal
set yrange [0:${m[queue]} * 1.1]
high = ${m[high_watermark]}
low = ${m[low_watermark]}
lag_high = ${m[lag_high_ms]}
lag_low = ${m[lag_low_ms]}
marks = "set arrow 1 from graph 0, first high to graph 1, first high nohead dt 2 lw 1.5 lc rgb '#d62728'; \
         set arrow 2 from graph 0, first low to graph 1, first low nohead dt 3 lw 1.5 lc rgb '#d62728'; \
         set arrow 3 from graph 0, second lag_high to graph 1, second lag_high nohead dt 2 lw 1.5 lc rgb '#9467bd'; \
         set arrow 4 from graph 0, second lag_low to graph 1, second lag_low nohead dt 3 lw 1.5 lc rgb '#9467bd'"
eval marks
panel(w) = sprintf("%d worker%s", w, w == 1 ? "" : "s")
do for [w in "1 $many"] {
    wn = w + 0
    lag_max = (wn == 1 ? $(max_lag 1) : $(max_lag "$many"))
    set y2range [0:(lag_max > lag_high ? lag_max : lag_high) * 1.15]
    set title panel(wn)
    plot "$backlog_csv" every ::1 using (\$1 == wn ? \$2 : 1/0):4 with lines lw 2 lc rgb "#1f77b4" title "queue depth", \
         "" every ::1 using (\$1 == wn ? \$2 : 1/0):5 axes x1y2 with lines lw 1.5 lc rgb "#ff7f0e" title "lag (ms)", \
         NaN with lines dt 2 lw 1.5 lc rgb "#d62728" title sprintf("overload at %d, recovered at %d", high, low), \
         NaN with lines dt 2 lw 1.5 lc rgb "#9467bd" title sprintf("lag alert at %g ms, recovered at %g ms", lag_high, lag_low)
}
unset multiplot
EOF
echo "plots.sh: docs/backlog.svg from $backlog_csv"

# === The P4 sweep: throughput against the worker count ===

if [[ -z "$bench_csv" ]]; then
    bench_csv="$data/bench.csv"
    cut -d' ' -f1 /proc/loadavg >"$data/bench.load"
    ./scripts/bench.sh --out "$bench_csv" -- --only p4 --workers 1,2,4,8,16,40
fi
# One row per worker count, three columns per contender: million tasks
# per second at the median, 75th and 25th percentile of ns per task (the
# error bars: the middle half of the rounds).
sweep="$data/p4.tsv"
awk -F, '
    $1 ~ /^P4 W=/ {
        w = substr($1, 6) + 0
        if (!(w in seen)) { seen[w] = 1; ws[++nw] = w }
        if (!($2 in named)) { named[$2] = 1; names[++nn] = $2 }
        rate[w, $2] = 1e3 / $4 "\t" 1e3 / $6 "\t" 1e3 / $5
    }
    END {
        if (nw == 0) { print "plots.sh: no P4 rows in the CSV" > "/dev/stderr"; exit 1 }
        printf "workers"
        for (i = 1; i <= nn; i++) printf "\t%s\t%s p75\t%s p25", names[i], names[i], names[i]
        printf "\n"
        # Worker counts in increasing order.
        for (i = 1; i <= nw; i++) for (j = i + 1; j <= nw; j++) if (ws[j] < ws[i]) { t = ws[i]; ws[i] = ws[j]; ws[j] = t }
        for (i = 1; i <= nw; i++) {
            printf "%d", ws[i]
            for (j = 1; j <= nn; j++) printf "\t%s", ((ws[i], names[j]) in rate) ? rate[ws[i], names[j]] : "NaN\tNaN\tNaN"
            printf "\n"
        }
    }' "$bench_csv" >"$sweep"
contenders=$(head -n 1 "$sweep" | awk -F'\t' '{ print (NF - 1) / 3 }')
bench_load=
[[ -f "$data/bench.load" && "$bench_csv" == "$data/bench.csv" ]] && bench_load=", load average $(cat "$data/bench.load")"

gnuplot <<EOF
set terminal svg size 860,520 dynamic enhanced font "sans,12" background rgb "white"
set output "docs/throughput.svg"
set datafile separator "\t"
set title "P4: about 1 µs tasks from one submitter, throughput against workers\n(median of the rounds, bars: middle half; $cpus CPUs$bench_load)"
set xlabel "worker threads"
set ylabel "million tasks per second"
set logscale x 2
set xtics (1, 2, 4, 8, 16, 40)
set xrange [0.85:48]
set yrange [0:*]
set grid lc rgb "#dddddd"
set key top left box opaque
plot for [i=0:$contenders - 1] "$sweep" using 1:2 + 3 * i:3 + 3 * i:4 + 3 * i with yerrorlines lw 2 pt 7 ps 0.8 title columnheader(2 + 3 * i)
EOF
echo "plots.sh: docs/throughput.svg from $bench_csv"
