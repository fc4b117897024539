# Builds the library with the manifest's `rust-version` (the minimum
# supported Rust), with and without `std`. Installs that toolchain if needed.
stage_msrv() {
    local msrv
    msrv=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)
    [[ -n "$msrv" ]] || {
        say "FAIL: no rust-version in Cargo.toml"
        return 1
    }
    if ! cargo "+$msrv" --version >/dev/null 2>&1; then
        rustup toolchain install "$msrv" --profile minimal </dev/null ||
            skip msrv "rustup could not install Rust $msrv"
    fi
    say "MSRV: Rust $msrv"
    CARGO_TARGET_DIR="$ROOT/target/msrv" run cargo "+$msrv" check --lib --features std,metrics
    CARGO_TARGET_DIR="$ROOT/target/msrv" run cargo "+$msrv" check --lib --no-default-features
}
EXTRA_STAGES+=(msrv)
