#!/usr/bin/env bash
# The ordering mutation campaign, and cargo-mutants for the rest of the
# logic. docs/mutation.md explains both and records the results.
#
#   scripts/mutate/run.sh --list                  # the mutants, no build (a dry run)
#   scripts/mutate/run.sh --all                   # the whole campaign, then cargo-mutants
#   scripts/mutate/run.sh --file src/ring/        # the mutants of one file or directory
#   scripts/mutate/run.sh --id ring/atomic.rs:21  # one mutant (an id or id prefix)
#   scripts/mutate/run.sh --sample 3              # a sample of known loom kills (CI)
#   scripts/mutate/run.sh --cargo-mutants         # cargo-mutants only
#
# Other options go to `mutate.py run` (see `python3 scripts/mutate/mutate.py
# run --help`): --base COMMIT --overlay PATH, --resume, --keep-going,
# --only KINDS, --results CSV.
#
# Everything runs on a copy of the tree under /tmp and builds in
# target/mutation/; the working tree is never changed. Builds run at
# `nice -n 15` (MUTATE_NICE), one mutant at a time.

set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$(pwd)
MUTATE=(python3 "$ROOT/scripts/mutate/mutate.py")

# cargo-mutants: the non-atomic logic of the ring and the pool (operators,
# conditions, return values), scoped so that one run fits in about an hour
# on two cores: these files, the tests that exercise them, in release.
CARGO_MUTANTS_FILES=(src/ring/mod.rs src/ring/atomic.rs src/pool/mod.rs src/pool/lifecycle.rs src/pool/stats.rs)
CARGO_MUTANTS_TIMEOUT_S="${CARGO_MUTANTS_TIMEOUT_S:-240}"
CARGO_MUTANTS_TESTS=(--lib --test ring --test ring_threads --test pool --test oracle)

cargo_mutants() {
    if ! cargo mutants --version >/dev/null 2>&1; then
        echo "+ cargo install cargo-mutants --locked"
        nice -n "${MUTATE_NICE:-15}" cargo install cargo-mutants --locked
    fi
    local out="$ROOT/target/mutation/cargo-mutants"
    local tree=/tmp/taskring-mutate/cargo-mutants-tree
    rm -rf "$tree"
    mkdir -p "$tree" "$out"
    git ls-files -z -co --exclude-standard | tar --null -T - -cf - | tar -C "$tree" -xf -
    # cargo-mutants follows `mod` items, not `cfg_attr` paths: in the copy,
    # the ring's backend module names the compare-and-swap file directly.
    python3 - "$tree/src/ring/mod.rs" <<'PY'
import re, sys
path = sys.argv[1]
text = open(path).read()
new, n = re.subn(r"#\[cfg_attr\(any\(not\(target_has_atomic[^\n]*\n#\[cfg_attr\([^]]*\]\nmod backend;",
                 '#[path = "atomic.rs"]\nmod backend;', text)
if n != 1:
    sys.exit("run.sh: the backend module of src/ring/mod.rs changed shape; update the cargo-mutants step")
open(path, "w").write(new)
PY
    local args=() tests=("${CARGO_MUTANTS_TESTS[@]}")
    # `--file` given: those files instead of the default scope.
    if [[ " $* " != *" --file "* && " $* " != *" -f "* ]]; then
        for f in "${CARGO_MUTANTS_FILES[@]}"; do
            args+=(--file "$f")
        done
    fi
    # CARGO_MUTANTS_TEST_ARGS="--lib --test ring": fewer test targets.
    if [[ -n "${CARGO_MUTANTS_TEST_ARGS:-}" ]]; then
        read -r -a tests <<<"$CARGO_MUTANTS_TEST_ARGS"
    fi
    for t in "${tests[@]}"; do
        args+=("--cargo-test-arg=$t")
    done
    # cargo-mutants copies the tree again and never edits it; -j1 keeps to
    # one build at a time.
    CARGO_TARGET_DIR="$out/target" nice -n "${MUTATE_NICE:-15}" cargo mutants \
        --dir "$tree" "${args[@]}" \
        -j1 --timeout "$CARGO_MUTANTS_TIMEOUT_S" --build-timeout 900 \
        --output "$out" --features std,__test_hooks --profile release "$@"
}

case "${1:-}" in
    --list)
        shift
        exec "${MUTATE[@]}" list "$@"
        ;;
    --all)
        shift
        "${MUTATE[@]}" run "$@"
        if [[ "${MUTATE_SKIP_CARGO_MUTANTS:-}" != 1 ]]; then
            cargo_mutants
        fi
        ;;
    --cargo-mutants)
        shift
        cargo_mutants "$@"
        ;;
    --file | --id | --match | --sample)
        exec "${MUTATE[@]}" run "$@"
        ;;
    --report)
        shift
        exec "${MUTATE[@]}" report "$@"
        ;;
    -h | --help | "")
        sed -n '2,/^$/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
        ;;
    *)
        exec "${MUTATE[@]}" run "$@"
        ;;
esac
