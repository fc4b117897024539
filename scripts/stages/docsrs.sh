# Builds the docs the way docs.rs does: nightly rustdoc, `--cfg docsrs`, and
# the features listed in the manifest's `[package.metadata.docs.rs]`; any
# rustdoc warning fails. Checks that no item carries a `loom` availability
# badge (loom is a model-checking switch, not a platform).
stage_docsrs() {
    nightly_components rust-src ||
        skip docsrs "rustup could not install a nightly toolchain"
    local features
    features=$(sed -n '/^\[package.metadata.docs.rs\]/,/^\[/s/^features = \[\(.*\)\]/\1/p' Cargo.toml |
        tr -d '" ')
    say "docs.rs features: $features"
    CARGO_TARGET_DIR="$ROOT/target/docsrs" RUSTDOCFLAGS="--cfg docsrs -D warnings" \
        run cargo +nightly doc --no-deps --features "$features"
    if grep -rlq 'non-<code>loom</code>' "$ROOT/target/docsrs/doc/taskring"; then
        say "FAIL: an item is shown as available on non-loom only"
        return 1
    fi
}
EXTRA_STAGES+=(docsrs)
