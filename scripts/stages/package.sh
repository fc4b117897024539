# The crate as published: `cargo package` must succeed without a warning
# (missing metadata, files that do not belong), and the unpacked `.crate`,
# built on its own outside this workspace, must pass its own tests with the
# `std` feature. Tests that need the hidden `__test_hooks` feature are left
# out of that build by `required-features` or `cfg`, so a user who runs
# `cargo test` on the downloaded crate sees them pass, not fail to compile.
stage_package() {
    # Unpacked outside this workspace, so that cargo builds it on its own.
    local log crate dir out="${TMPDIR:-/tmp}/taskring-package.$$"
    log="$ROOT/target/package.log"
    mkdir -p "$ROOT/target"
    CARGO_TARGET_DIR="$ROOT/target/package" \
        run cargo package --allow-dirty 2>&1 | tee "$log"
    if grep -q '^warning' "$log"; then
        say "FAIL: cargo package warned (see above)"
        return 1
    fi
    crate=$(ls "$ROOT"/target/package/package/taskring-*.crate | tail -n 1)
    rm -rf "$out" && mkdir -p "$out"
    tar -xzf "$crate" -C "$out"
    dir=$(ls -d "$out"/taskring-*)
    say "unpacked $(basename "$crate"): $(find "$dir" -type f | wc -l) files"
    cd "$dir"
    CARGO_TARGET_DIR="$ROOT/target/package-test" run cargo test --features std
    cd "$ROOT"
    rm -rf "$out"
}
EXTRA_STAGES+=(package)
