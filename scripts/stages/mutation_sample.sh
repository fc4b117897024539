# shellcheck shell=bash
# CI stage `mutation_sample`: the fast part of the ordering mutation
# campaign (scripts/mutate/, docs/mutation.md). Sourced by scripts/test.sh.
#
# 1. `mutate.py litmus` (pure Python, seconds): every operation the RC11
#    litmus tests tag exists in src/ with the ordering they give it, each
#    test forbids its outcome as the code stands, and every mutant the
#    results record as killed by RC11 is still killed.
# 2. A rotating sample of the mutants the results record as killed by a
#    loom model (TASKRING_MUTATION_SAMPLE, 3 by default; those in files
#    changed since origin/main first, the others by the day of the year):
#    each is built and run with the one loom filter that killed it, and
#    must be killed again for a semantic reason, or the stage fails. The
#    loom stage's build directory is reused for the dependencies.
#
# The full campaign is `scripts/mutate/run.sh --all` (about an hour).

stage_mutation_sample() {
    command -v python3 >/dev/null ||
        skip python3 "the campaign's scripts need python3 (3.11 or later, for tomllib)"
    run python3 scripts/mutate/mutate.py litmus | grep -E '^(PROBLEM|[0-9]+ of the )'
    MUTATE_LOOM_TARGET="${TASKRING_MUTATION_LOOM_TARGET:-$ROOT/target/loom}" \
        run timeout 600 scripts/mutate/run.sh \
        --sample "${TASKRING_MUTATION_SAMPLE:-3}" --no-baseline --expect-killed \
        --scratch /tmp/taskring-mutate/sample-tree \
        --target "${TASKRING_MUTATION_TARGET:-$ROOT/target/mutation-sample}" \
        --results "${TASKRING_MUTATION_TARGET:-$ROOT/target/mutation-sample}/sample.csv"
}

EXTRA_STAGES+=(mutation_sample)
