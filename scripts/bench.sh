#!/usr/bin/env bash
# Runs taskring's benchmark suite (the `benches/` package) against its peers.
#
#   ./scripts/bench.sh                 # full suite (~1-3 min) + allocation and footprint counts
#   ./scripts/bench.sh --smoke         # tiny counts, a few seconds: CI keeps it compiling and running
#   ./scripts/bench.sh --instructions  # instructions per op for Q1-Q3 under callgrind (2N - N)
#   ./scripts/bench.sh --out FILE      # where the CSV goes (default target/bench/results.csv)
#   ./scripts/bench.sh -- --only q1,p2 # anything after `--` goes to taskring-bench
#   ./scripts/bench.sh -- --only p1,p4 --workers 1,2,4,8,16,40   # pools at several worker counts
#   taskset -c 0 ./scripts/bench.sh -- --only p1                 # pinned to one CPU (the build too)
#
# Scenarios: Q1-Q5 (queues), P1-P6 (pools); `taskring-bench --help` and
# docs/performance.md describe each one.
#
# The peers live in their own workspace member, built with the `bench-lto`
# profile (release, thin LTO, one codegen unit), so the test hooks that
# taskring's own tests turn on never reach these builds. Never run it
# together with `cargo test --workspace`, which would unify those hooks in.
# Exit status: non-zero only when a build, an invariant or the allocation
# test fails; wall-clock ratios are reported, never gated.

set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$(pwd)/target/bench}"
PROFILE=bench-lto
BIN="$CARGO_TARGET_DIR/$PROFILE/taskring-bench"
COUNTS="$CARGO_TARGET_DIR/$PROFILE/taskring-counts"

mode=full
out="$CARGO_TARGET_DIR/results.csv"
extra=()
while (($#)); do
    case "$1" in
        --smoke) mode=smoke ;;
        --instructions) mode=instructions ;;
        --out) out="$2"; shift ;;
        --) shift; extra=("$@"); break ;;
        *) echo "bench.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done

cargo build --quiet --profile "$PROFILE" -p taskring-bench --bins

# Instructions per operation: run one cell twice (N and 2N operations)
# under callgrind; the difference cancels start-up and set-up.
instructions() {
    command -v valgrind >/dev/null || { echo "SKIP: valgrind is not installed"; return 0; }
    local dir="$CARGO_TARGET_DIR/callgrind" csv="$CARGO_TARGET_DIR/instructions.csv"
    mkdir -p "$dir"
    echo "scenario,contender,instructions_per_op" >"$csv"
    local contenders=(taskring arrayqueue heapless concurrent thingbuf cbchannel std mutex)
    # Scenario and N: Q2's N is a multiple of 2 x 1024 (whole fill+drain cycles).
    local cells=("q1 100000" "q2-64 131072" "q2-1024 131072" "q3-full 100000" "q3-empty 100000")
    printf '\n| scenario (instructions per op; Q1: per push+pop pair) |'
    for c in "${contenders[@]}" vecdeque faa; do printf ' %s |' "$c"; done
    printf '\n|---|'
    for _ in "${contenders[@]}" vecdeque faa; do printf -- '---|'; done
    printf '\n'
    for cell in "${cells[@]}"; do
        read -r scenario n <<<"$cell"
        printf '| %s |' "$scenario"
        local list=("${contenders[@]}")
        [[ $scenario == q1 ]] && list+=(vecdeque faa)
        for c in "${list[@]}"; do
            local ir=()
            for k in 1 2; do
                local file="$dir/$scenario.$c.$k"
                valgrind --tool=callgrind --callgrind-out-file="$file" "$BIN" cell "$scenario" "$c" $((n * k)) >/dev/null 2>&1
                ir+=("$(grep -E '^(summary|totals):' "$file" | head -1 | awk '{print $2}')")
            done
            local per
            per=$(awk -v a="${ir[0]}" -v b="${ir[1]}" -v n="$n" 'BEGIN { printf "%.1f", (b - a) / n }')
            printf ' %s |' "$per"
            echo "$scenario,$c,$per" >>"$csv"
        done
        [[ $scenario == q1 ]] || printf ' – | – |'
        printf '\n'
    done
    echo "csv: $csv"
}

case "$mode" in
    smoke)
        start=$SECONDS
        "$BIN" --smoke --out "$CARGO_TARGET_DIR/smoke.csv" "${extra[@]}"
        # The allocation gate: taskring's submits allocate nothing per task.
        cargo test --quiet --profile "$PROFILE" -p taskring-bench --test alloc
        "$COUNTS" >/dev/null
        echo "smoke: $((SECONDS - start)) s"
        ;;
    full)
        start=$SECONDS
        "$BIN" --out "$out" "${extra[@]}"
        echo
        "$COUNTS"
        cargo test --quiet --profile "$PROFILE" -p taskring-bench --test alloc
        echo "full: $((SECONDS - start)) s"
        ;;
    instructions)
        instructions
        ;;
esac
