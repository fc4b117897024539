# The loom models of the ring in the bare-metal (packed) layout, which
# bare-metal CAS targets (Cortex-M3 and up, RV32 with `A`) build by default:
# `--cfg taskring_compact` selects it on the host. The `loom` stage covers
# the hosted layout.
stage_loom_compact() {
    say "LOOM_MAX_PREEMPTIONS=$LOOM_MAX_PREEMPTIONS LOOM_MAX_BRANCHES=$LOOM_MAX_BRANCHES"
    loom_suite loom-compact "--cfg taskring_compact" ring:: -- --test-threads=2
}
EXTRA_STAGES+=(loom_compact)
