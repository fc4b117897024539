#!/usr/bin/env bash
# Embedded checks: library builds for the four MCU targets with each feature
# set that makes sense there (and the no-CAS compile error as a negative
# test), clippy on thumbv7em and thumbv6m, the host test suite with the
# critical-section backend forced, the flash footprint table, and the QEMU
# firmware on Cortex-M3 and Cortex-M0.
#
# Usage: bash scripts/embedded.sh
# Exits non-zero when any step fails. Prints each step's name and time.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
EMB_TARGET_DIR=$ROOT/target/emb
CS_TARGET_DIR=$ROOT/target/force-cs
QEMU_TARGET_DIR=$ROOT/target/qemu

FAILED=()
TOTAL_START=$(date +%s.%N)

elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

# step NAME COMMAND...: runs the command, prints its time, records failure.
step() {
    local name=$1
    shift
    local start
    start=$(date +%s.%N)
    echo "=== $name"
    if "$@"; then
        echo "--- ok    $name ($(elapsed "$start") s)"
    else
        echo "--- FAIL  $name ($(elapsed "$start") s)"
        FAILED+=("$name")
    fi
}

# --- Toolchain ---------------------------------------------------------------

CAS_TARGETS=(thumbv7m-none-eabi thumbv7em-none-eabihf)
NO_CAS_TARGETS=(thumbv6m-none-eabi riscv32imc-unknown-none-elf)

step "rustup targets" \
    rustup target add "${CAS_TARGETS[@]}" "${NO_CAS_TARGETS[@]}"

# --- Library builds ----------------------------------------------------------

build_lib() { # TARGET FEATURES
    cargo build --quiet --lib --target "$1" --no-default-features --features "$2" \
        --target-dir "$EMB_TARGET_DIR"
}

# Without CAS and without `critical-section`, the build must stop with the
# error that names the fix.
expect_no_cas_error() { # TARGET
    local out
    if out=$(cargo build --quiet --lib --target "$1" --no-default-features \
        --target-dir "$EMB_TARGET_DIR" 2>&1); then
        echo "expected the no-CAS compile_error!, but the build succeeded"
        return 1
    fi
    if ! grep -q "Enable the .taskring/critical-section. feature" <<<"$out"; then
        echo "the build failed, but without the no-CAS message:"
        echo "$out"
        return 1
    fi
    if [ "$(grep -c '^error' <<<"$out")" -ne 2 ]; then
        # One error line for the compile_error!, one "could not compile".
        echo "more errors than the no-CAS message:"
        echo "$out"
        return 1
    fi
    echo "failed as expected: $(grep -m1 '^error' <<<"$out" | cut -c1-100)..."
}

for target in "${CAS_TARGETS[@]}"; do
    for features in "" defmt critical-section critical-section,defmt; do
        step "build $target [${features:-no features}]" build_lib "$target" "$features"
    done
done
for target in "${NO_CAS_TARGETS[@]}"; do
    step "build $target [no features] fails with the no-CAS error" \
        expect_no_cas_error "$target"
    for features in critical-section critical-section,defmt; do
        step "build $target [$features]" build_lib "$target" "$features"
    done
done

# --- Clippy on MCU targets ---------------------------------------------------

step "clippy thumbv7em-none-eabihf [no features]" \
    cargo clippy --quiet --target thumbv7em-none-eabihf --no-default-features \
    --target-dir "$EMB_TARGET_DIR" -- -D warnings
step "clippy thumbv7em-none-eabihf [defmt]" \
    cargo clippy --quiet --target thumbv7em-none-eabihf --no-default-features --features defmt \
    --target-dir "$EMB_TARGET_DIR" -- -D warnings
step "clippy thumbv6m-none-eabi [critical-section,defmt]" \
    cargo clippy --quiet --target thumbv6m-none-eabi --no-default-features \
    --features critical-section,defmt --target-dir "$EMB_TARGET_DIR" -- -D warnings

# --- Host tests of the critical-section backend ------------------------------

# The tests that stall a thread *inside* a ring operation cannot apply to
# this backend: an operation is one critical section, so a stalled holder
# blocks every other context by design (and no interrupt can preempt it).
# They are `ignore`d under `taskring_force_cs`.
step "host tests, critical-section backend forced" \
    env RUSTFLAGS="--cfg taskring_force_cs" RUSTDOCFLAGS="--cfg taskring_force_cs" \
    cargo test --quiet --features std,critical-section,__test_hooks --target-dir "$CS_TARGET_DIR"

# --- Footprint -----------------------------------------------------------------

# Prints the flash table and fails on software division in thumbv6m push/pop.
step "footprint (scripts/footprint.sh)" bash "$ROOT/scripts/footprint.sh"

# --- QEMU firmware -----------------------------------------------------------

have_qemu() {
    command -v qemu-system-arm >/dev/null && return 0
    echo "qemu-system-arm is missing; installing it"
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq &&
        $sudo apt-get install -y -qq --no-install-recommends qemu-system-arm >/dev/null
}

# run_firmware TARGET CPU MACHINE: builds and runs examples/qemu; passes when
# QEMU exits 0 and the firmware printed PASS. `-icount shift=0` ties the
# emulated clock (and so SysTick) to the instruction count, so the
# interleaving of the handler and main does not depend on the host's speed.
run_firmware() {
    local target=$1 cpu=$2 machine=$3
    local var
    var="CARGO_TARGET_$(tr 'a-z-' 'A-Z_' <<<"$target")_RUNNER"
    local out rc=0
    out=$(env "$var=timeout 120 qemu-system-arm -icount shift=0 -cpu $cpu -machine $machine \
-nographic -semihosting-config enable=on,target=native -kernel" \
        cargo run --quiet --release --manifest-path "$ROOT/examples/qemu/Cargo.toml" \
        --target "$target" --target-dir "$QEMU_TARGET_DIR" 2>&1) || rc=$?
    grep -v "Timer with period zero" <<<"$out" || true
    if [ "$rc" -eq 124 ]; then
        echo "QEMU timed out"
        return 1
    fi
    [ "$rc" -eq 0 ] && grep -qx PASS <<<"$out"
}

qemu_start=$(date +%s.%N)
echo "=== qemu-system-arm"
if have_qemu; then
    echo "--- ok    qemu-system-arm ($(elapsed "$qemu_start") s)"
    step "QEMU Cortex-M3 lm3s6965evb (thumbv7m, CAS backend)" \
        run_firmware thumbv7m-none-eabi cortex-m3 lm3s6965evb
    step "QEMU Cortex-M0 microbit (thumbv6m, critical-section backend)" \
        run_firmware thumbv6m-none-eabi cortex-m0 microbit
else
    echo "--- SKIP  QEMU firmware runs: qemu-system-arm is missing and apt-get could not install it"
fi

# --- Summary -----------------------------------------------------------------

echo "=== embedded checks took $(elapsed "$TOTAL_START") s"
if [ "${#FAILED[@]}" -ne 0 ]; then
    printf 'FAILED: %s\n' "${FAILED[@]}"
    exit 1
fi
echo "all embedded checks passed"
