#!/usr/bin/env bash
# Runs taskring's whole test suite, one stage at a time, failing fast on the
# first failing stage. CI runs exactly this, with no arguments.
#
#   ./scripts/test.sh                    # every stage
#   ./scripts/test.sh quick              # the edit-test loop: fmt, clippy, tests, a loom smoke
#   TASKRING_SKIP="miri tsan" ./scripts/test.sh   # local runs only: skip stages
#   ./scripts/test.sh loom mutants       # only the named stages
#
# Each stage prints its name and wall time; a summary table and a final
# PASS/FAIL line close the run. The script installs what it needs (targets,
# nightly components, Miri's sysroot) idempotently. A tool that cannot be
# installed is reported as `SKIP: <tool>: <reason>`, never passed silently.
# With CI=true, TASKRING_SKIP is ignored and every stage runs.
#
# To add a stage, write a `stage_<name>` function and append `<name>` to
# STAGES, or put both in a file `scripts/stages/<name>.sh` (sourced below;
# it appends to EXTRA_STAGES, which run after STAGES, in file-name order).
# To add a mutant, append its `taskring_mutant` value to MUTANTS.

set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)

# === Configuration ===

# Stages in the order they run.
STAGES=(
    fmt
    loom_facade
    clippy
    doc
    test_debug
    test_release
    embedded
    examples
    loom
    mutants
    miri
    tsan
    bench_smoke
)

# Values of `--cfg taskring_mutant`. The loom models must fail on each, for
# a semantic reason.
#
# Each entry is `<value>:<test filter>`: the models aimed at that mutant.
# Running only them keeps the gate fast, and keeps a model elsewhere that
# spins forever on the mutant (loom's branch limit aborts the whole process)
# from hiding the semantic failure. Pool filters skip `thread_pool::`;
# a filter that starts with `thread_pool::` runs its thread-pool models.
# `park` is caught by the lost wake-up of pool::submit_wakes_an_idle_worker
# _on_main and _yielding_submitter (a deadlock); the deadlock unwinds
# through a worker loop whose guard touches loom's thread-locals, which
# aborts the test binary, so "caught by" lists no test for it and the first
# report names the deadlock.
MUTANTS=(
    "publish:ring::"
    "stop_close:pool::submit_vs_stop"
    "park:pool::submit_wakes"
    "waker_recheck:asynch::"
    "idle_mark:thread_pool::wait_idle_sees_earlier_job"
)

# Feature sets that clippy checks with `--all-targets`; "none" means
# `--no-default-features`.
CLIPPY_FEATURE_SETS=("" std none metrics)

# loom's bounds for the suite. Never LOOM_MAX_DURATION or
# LOOM_MAX_PERMUTATIONS: they stop exploring and report success.
export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-2}"
export LOOM_MAX_BRANCHES="${LOOM_MAX_BRANCHES:-10000}"
LOOM_FLAGS="--cfg loom -C debug-assertions"
# A hung test (a lost wake-up, a deadlock) fails its stage after this long.
TEST_TIMEOUT_S="${TASKRING_TEST_TIMEOUT_S:-900}"
# A loom run that takes longer than this has a model that is too big.
LOOM_TIMEOUT_S="${TASKRING_LOOM_TIMEOUT_S:-600}"

MIRIFLAGS_TIER0="-Zmiri-strict-provenance -Zmiri-symbolic-alignment-check -Zmiri-disable-isolation"
MIRI_SEEDS_RING="-Zmiri-many-seeds=0..4"

# Failure messages that show a mutant was caught for a semantic reason: a
# loom causality, leak or deadlock report (a lost wake-up leaves every
# thread parked), or a failed assertion or panic in our own code. A build
# error, a timeout or loom's branch limit matches none.
SEMANTIC_FAILURE='Causality violation|Allocation leaked|Arc leaked|deadlock; threads =|assertion .*failed|assertion failed|panicked at (\./)?(src|tests|loom-tests)/'

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export CARGO_INCREMENTAL=0

HOST_TARGET=$(rustc -vV | sed -n 's/^host: //p')

# === Helpers ===

say() { printf '%s\n' "$*"; }

# Prints a command, then runs it.
run() {
    say "+ $*"
    "$@"
}

# Ends the current stage as skipped: `skip <tool> <reason>`.
skip() {
    say "SKIP: $1: $2"
    exit 99
}

# True if `cargo +nightly` works, installing nothing.
have_nightly() {
    cargo +nightly --version >/dev/null 2>&1
}

# Installs nightly components idempotently: `nightly_components <name>...`.
nightly_components() {
    if ! have_nightly; then
        rustup toolchain install nightly --profile minimal --component "$(
            IFS=,
            echo "$*"
        )" </dev/null || return 1
    fi
    rustup +nightly component add "$@" </dev/null
}

# === Stages ===
#
# Each runs in its own subshell with `set -euo pipefail`: any failing command
# fails the stage. Exit status 99 (from `skip`) marks it skipped.

stage_fmt() {
    rustup component add rustfmt </dev/null >/dev/null 2>&1 || true
    run cargo fmt --all --check
}

# Only the facade may mention `cfg(loom)` under src/: one switch between real
# and model-checked primitives keeps the algorithm code identical in both.
stage_loom_facade() {
    local offenders
    offenders=$(grep -rnP --include='*.rs' 'cfg(_attr)?!?\s*\(.*(?<![:\w])loom\b' src |
        grep -v '^src/loom.rs:' | grep -v 'doc(auto_cfg(hide(loom)))' || true)
    if [[ -n "$offenders" ]]; then
        say "These files mention cfg(loom) outside src/loom.rs:"
        say "$offenders"
        return 1
    fi
    say "Only src/loom.rs mentions cfg(loom)."
}

stage_clippy() {
    rustup component add clippy </dev/null >/dev/null 2>&1 || true
    local features
    for features in "${CLIPPY_FEATURE_SETS[@]}"; do
        if [[ "$features" == none ]]; then
            run cargo clippy --all-targets --no-default-features -- -D warnings
        else
            run cargo clippy --all-targets --features "$features" --features __test_hooks -- -D warnings
        fi
    done
}

# The features docs.rs builds with (the manifest's metadata).
DOCS_FEATURES=std,metrics,defmt,critical-section

stage_doc() {
    RUSTDOCFLAGS="-D warnings" run cargo doc --no-deps --features "$DOCS_FEATURES"
}

# Debug builds: overflow checks catch wrap-around bugs.
stage_test_debug() {
    run timeout "$TEST_TIMEOUT_S" cargo test --features std,__test_hooks
    run timeout "$TEST_TIMEOUT_S" cargo test --no-default-features --features __test_hooks
    # The `metrics` feature: its test and doctest.
    run timeout "$TEST_TIMEOUT_S" cargo test --features metrics --test metrics
    run timeout "$TEST_TIMEOUT_S" cargo test --features metrics --doc metrics
}

stage_test_release() {
    run timeout "$TEST_TIMEOUT_S" cargo test --release --features std,__test_hooks
}

# Builds for the MCU targets (each feature set, the no-CAS error as a negative
# test), clippy on thumb targets, the ring suite with the critical-section
# backend forced on the host, and the QEMU Cortex-M3 and Cortex-M0 runs.
stage_embedded() {
    run bash scripts/embedded.sh
}

# The README's main demo with a small backlog: it exits non-zero if a session
# is lost or panics, and prints one summary line per run plus the speed-up.
stage_examples() {
    local out
    out=$(run timeout 300 cargo run --release --features std --example backlog -- \
        --sessions 300 --workers 8 --quiet)
    say "$out"
    [[ $(grep -cE '^summary: .* lost=0 .* panics=0' <<<"$out") -eq 2 ]] || {
        say "FAIL: the backlog example did not print two clean summary lines"
        return 1
    }
    grep -qE '^speed-up: ' <<<"$out" || {
        say "FAIL: the backlog example printed no speed-up"
        return 1
    }
}

# Runs the loom suite with extra RUSTFLAGS in its own target dir:
# `loom_suite <target dir> <extra rustflags> [cargo test args...]`.
loom_suite() {
    local dir=$1 flags=$2
    shift 2
    CARGO_TARGET_DIR="$ROOT/target/$dir" RUSTFLAGS="$LOOM_FLAGS $flags" \
        run timeout "$LOOM_TIMEOUT_S" cargo test --release --features std,__test_hooks --test loom "$@"
}

stage_loom() {
    say "LOOM_MAX_PREEMPTIONS=$LOOM_MAX_PREEMPTIONS LOOM_MAX_BRANCHES=$LOOM_MAX_BRANCHES"
    loom_suite loom "" -- --test-threads=2
}

# Each mutant must build, and the loom suite must then fail on it for a
# semantic reason (a causality, leak or deadlock report, or a failed
# assertion in our code), not a build error or a timeout.
stage_mutants() {
    local entry mutant filter flags log rc skip
    for entry in "${MUTANTS[@]}"; do
        mutant=${entry%%:*}
        filter=${entry#*:}
        flags="--cfg taskring_mutant=\"$mutant\""
        say "--- mutant $mutant"
        loom_suite mutant "$flags" --no-run || {
            say "FAIL: mutant $mutant does not build"
            return 1
        }
        log="$ROOT/target/mutant/$mutant.log"
        skip=(--skip thread_pool)
        if [[ $filter == thread_pool::* ]]; then
            skip=()
        fi
        rc=0
        loom_suite mutant "$flags" "$filter" -- ${skip[@]+"${skip[@]}"} --test-threads=2 \
            >"$log" 2>&1 || rc=$?
        if [[ $rc -eq 0 ]]; then
            say "FAIL: mutant $mutant survived the loom models '$filter' (log: $log)"
            return 1
        fi
        if [[ $rc -eq 124 ]]; then
            say "FAIL: the loom suite timed out on mutant $mutant (log: $log)"
            return 1
        fi
        if ! grep -qE "$SEMANTIC_FAILURE" "$log"; then
            tail -n 40 "$log"
            say "FAIL: mutant $mutant failed for a non-semantic reason (log: $log)"
            return 1
        fi
        say "Mutant $mutant caught by:"
        grep -E '^test .* FAILED$' "$log" | sed 's/^test /  /; s/ \.\.\. FAILED$//' || true
        say "First report: $(grep -oE "$SEMANTIC_FAILURE" "$log" | head -n 1)"
    done
}

# The benchmark package, with tiny counts: it must keep compiling and
# running, and its allocation test (0 heap allocations per submit) must pass.
# Wall-clock ratios are printed, never gated.
stage_bench_smoke() {
    run bash scripts/bench.sh --smoke
}

stage_miri() {
    nightly_components miri rust-src ||
        skip miri "rustup could not install nightly miri and rust-src"
    run cargo +nightly miri setup </dev/null ||
        skip miri "cargo miri setup failed (std's dependencies come from crates.io)"
    # Doc tests are skipped: each is a separate interpreter start. The
    # ring's concurrent test files run under several seeds (each seed is
    # another thread schedule and another pattern of spurious CAS
    # failures); the library's unit tests and the other files, which are
    # single-threaded or test the pools, whose own code is safe, run under
    # one, which keeps the stage within CI's time budget.
    local seeded=(backend stall ring_threads) rest=(--lib) name
    for name in tests/*.rs; do
        name=$(basename "$name" .rs)
        [[ " ${seeded[*]} " == *" $name "* ]] || rest+=(--test "$name")
    done
    CARGO_TARGET_DIR="$ROOT/target/miri" MIRIFLAGS="$MIRIFLAGS_TIER0 $MIRI_SEEDS_RING" \
        run cargo +nightly miri test --features std,__test_hooks \
        "${seeded[@]/#/--test=}"
    CARGO_TARGET_DIR="$ROOT/target/miri" MIRIFLAGS="$MIRIFLAGS_TIER0" \
        run cargo +nightly miri test --features std,__test_hooks "${rest[@]}"
}

# Zero suppressions; TSan exits non-zero on a report even when the harness
# prints `test result: ok`.
stage_tsan() {
    nightly_components rust-src ||
        skip tsan "rustup could not install nightly rust-src"
    CARGO_TARGET_DIR="$ROOT/target/tsan" RUSTFLAGS="-Zsanitizer=thread --cfg taskring_tsan" \
        RUSTDOCFLAGS="-Zsanitizer=thread" TSAN_OPTIONS="halt_on_error=1" \
        run cargo +nightly test -Zbuild-std --target "$HOST_TARGET" --release \
        --features std,__test_hooks --lib --tests -- --test-threads=1
}

# The edit-test loop, a few minutes warm: fmt, clippy with std, the library,
# integration and doc tests with std in debug, and a loom smoke (the ring and
# pool models at one preemption).
stage_quick() {
    rustup component add rustfmt clippy </dev/null >/dev/null 2>&1 || true
    run cargo fmt --all --check
    run cargo clippy --all-targets --features std,__test_hooks -- -D warnings
    run timeout "$TEST_TIMEOUT_S" cargo test --features std,__test_hooks
    LOOM_MAX_PREEMPTIONS=1 loom_suite loom "" -- --test-threads=2 ring:: pool::
}

# Stages kept in their own files.
declare -a EXTRA_STAGES=()
for stage_file in "$ROOT"/scripts/stages/*.sh; do
    [[ -e "$stage_file" ]] || continue
    # shellcheck source=/dev/null
    source "$stage_file"
done
STAGES+=("${EXTRA_STAGES[@]}")

# === Driver ===

declare -a RESULTS=()
START=$SECONDS

summary() {
    say ""
    say "=== Summary ==="
    printf '%-14s %-6s %8s\n' stage result seconds
    local row
    for row in "${RESULTS[@]}"; do
        # shellcheck disable=SC2086 # Rows are "name result seconds".
        printf '%-14s %-6s %8s\n' $row
    done
    printf '%-14s %-6s %8s\n' total "" $((SECONDS - START))
}

main() {
    local stages=("${STAGES[@]}") skipped=" ${TASKRING_SKIP:-} " name rc began took
    if [[ $# -gt 0 ]]; then
        stages=("$@")
    fi
    if [[ "${CI:-}" == true && -n "${TASKRING_SKIP:-}" ]]; then
        say "CI=true: ignoring TASKRING_SKIP=\"$TASKRING_SKIP\"; every stage runs."
        skipped="  "
    fi
    for name in "${stages[@]}"; do
        if ! declare -F "stage_$name" >/dev/null; then
            say "FAIL: no stage named $name (stages: ${STAGES[*]})"
            exit 2
        fi
    done

    for name in "${stages[@]}"; do
        if [[ "$skipped" == *" $name "* ]]; then
            say "SKIP: $name: listed in TASKRING_SKIP"
            RESULTS+=("$name SKIP 0")
            continue
        fi
        say ""
        say "=== Stage $name ==="
        began=$SECONDS
        set +e
        (
            set -euo pipefail
            "stage_$name"
        )
        rc=$?
        set -e
        took=$((SECONDS - began))
        if [[ $rc -eq 99 ]]; then
            say "=== Stage $name: SKIP (${took}s)"
            RESULTS+=("$name SKIP $took")
        elif [[ $rc -ne 0 ]]; then
            say "=== Stage $name: FAIL, exit status $rc (${took}s)"
            RESULTS+=("$name FAIL $took")
            summary
            say ""
            say "FAIL: stage $name failed; later stages did not run."
            exit 1
        else
            say "=== Stage $name: ok (${took}s)"
            RESULTS+=("$name ok $took")
        fi
    done

    summary
    say ""
    if printf '%s\n' "${RESULTS[@]}" | grep -q ' SKIP '; then
        say "PASS (with skipped stages; see SKIP lines above)"
    else
        say "PASS: all stages passed"
    fi
}

main "$@"
