#!/usr/bin/env bash
# Embedded checks: library builds for the six MCU targets with each feature
# set that makes sense there (and the no-CAS compile error as a negative
# test), clippy on thumbv7em, thumbv6m and riscv32imac, the host tests with
# the bare-metal layout and the critical-section backend forced, the RAM and
# flash footprint tables with their bounds, and the firmware under QEMU:
# Cortex-M3 and Cortex-M0, blocking and with an embassy-executor task
# awaiting the pool, the defmt variant decoded by defmt-print, four RISC-V
# harts sharing one pool, and an RTIC v2 application.
#
# Usage: bash scripts/embedded.sh
# Exits non-zero when any step fails. Prints each step's name and time.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
EMB_TARGET_DIR=$ROOT/target/emb
CS_TARGET_DIR=$ROOT/target/force-cs
COMPACT_TARGET_DIR=$ROOT/target/compact
NARROW_TARGET_DIR=$ROOT/target/narrow-ticks
QEMU_TARGET_DIR=$ROOT/target/qemu
DEFMT_TARGET_DIR=$ROOT/target/qemu-defmt
RISCV_TARGET_DIR=$ROOT/target/riscv
RTIC_TARGET_DIR=$ROOT/target/rtic

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

CAS_TARGETS=(thumbv7m-none-eabi thumbv7em-none-eabihf thumbv8m.main-none-eabihf riscv32imac-unknown-none-elf)
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
    for features in "" defmt critical-section critical-section,defmt cache-padded async-drain; do
        step "build $target [${features:-no features}]" build_lib "$target" "$features"
    done
done
for target in "${NO_CAS_TARGETS[@]}"; do
    step "build $target [no features] fails with the no-CAS error" \
        expect_no_cas_error "$target"
    for features in critical-section critical-section,defmt critical-section,cache-padded critical-section,async-drain; do
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
step "clippy thumbv6m-none-eabi [critical-section,defmt,async-drain]" \
    cargo clippy --quiet --target thumbv6m-none-eabi --no-default-features \
    --features critical-section,defmt,async-drain --target-dir "$EMB_TARGET_DIR" -- -D warnings
step "clippy riscv32imac-unknown-none-elf [defmt]" \
    cargo clippy --quiet --target riscv32imac-unknown-none-elf --no-default-features \
    --features defmt --target-dir "$EMB_TARGET_DIR" -- -D warnings
step "clippy thumbv7em-none-eabihf [cache-padded]" \
    cargo clippy --quiet --target thumbv7em-none-eabihf --no-default-features \
    --features cache-padded --target-dir "$EMB_TARGET_DIR" -- -D warnings

# --- Host tests of the critical-section backend ------------------------------

# The tests that stall a thread *inside* a ring operation cannot apply to
# this backend: an operation is one critical section, so a stalled holder
# blocks every other context by design (and no interrupt can preempt it).
# They are `ignore`d under `taskring_force_cs`. The bare-metal (packed)
# layout is forced too, as on a Cortex-M0.
step "host tests, critical-section backend and bare-metal layout forced" \
    env RUSTFLAGS="--cfg taskring_force_cs --cfg taskring_compact" \
    RUSTDOCFLAGS="--cfg taskring_force_cs --cfg taskring_compact" \
    cargo test --quiet --features std,critical-section,__test_hooks --target-dir "$CS_TARGET_DIR"

# The CAS backend in the bare-metal layout, as on a Cortex-M3 or RV32IMAC:
# the ring and pool suites (the loom models of it run in the loom_compact
# stage).
step "host ring and pool tests, bare-metal layout forced" \
    env RUSTFLAGS="--cfg taskring_compact" \
    cargo test --quiet --features std,__test_hooks --target-dir "$COMPACT_TARGET_DIR" \
    --lib --test ring --test ring_threads --test stall --test oracle --test backend --test pool

# 64-bit tick counts (lag, longest wait) on targets without 64-bit atomics:
# `--cfg taskring_narrow_ticks` selects their 32-bit forms on the host, the
# sequence-word form without the critical-section feature and the
# critical-section form with it, and tests/wide_ticks.rs checks both past
# 2^32 ticks.
step "host tick-count tests, 32-bit forms forced (sequence word)" \
    env RUSTFLAGS="--cfg taskring_narrow_ticks" \
    cargo test --quiet --features std --target-dir "$NARROW_TARGET_DIR" \
    --lib --test wide_ticks --test pool
step "host tick-count tests, 32-bit forms forced (critical section)" \
    env RUSTFLAGS="--cfg taskring_narrow_ticks" \
    cargo test --quiet --features std,critical-section --target-dir "$NARROW_TARGET_DIR" \
    --lib --test wide_ticks --test pool

# --- Footprint -----------------------------------------------------------------

# Prints the RAM and flash tables and fails when a bound does not hold.
step "footprint (scripts/footprint.sh)" bash "$ROOT/scripts/footprint.sh"

# --- QEMU firmware -----------------------------------------------------------

# apt_install PACKAGE...: installs Debian packages: as root directly,
# otherwise with sudo. The package lists are refreshed first (a fresh image
# has none). `env` carries DEBIAN_FRONTEND past sudo, which resets the
# environment.
apt_install() {
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq &&
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

have_qemu() {
    command -v qemu-system-arm >/dev/null && command -v qemu-system-riscv32 >/dev/null &&
        return 0
    echo "qemu-system-arm or qemu-system-riscv32 is missing; installing them"
    apt_install qemu-system-arm qemu-system-misc
}

have_defmt_print() {
    command -v defmt-print >/dev/null && return 0
    echo "defmt-print is missing; installing it (cargo install, a few minutes once)"
    cargo install defmt-print --locked --quiet
}

# qemu_arm CPU MACHINE: the QEMU command line for a Cortex-M image, up to
# `-kernel`. `-icount shift=0` ties the emulated clock (and so SysTick) to
# the instruction count, so the interleaving of handlers and the main loop
# does not depend on the host's speed.
qemu_arm() {
    echo "timeout 120 qemu-system-arm -icount shift=0 -cpu $1 -machine $2 -nographic \
-semihosting-config enable=on,target=native -kernel"
}

# run_firmware MANIFEST TARGET TARGET_DIR RUNNER [CARGO ARGS...]: builds and
# runs a firmware crate; passes when QEMU exits 0 and the firmware printed
# PASS.
run_firmware() {
    local manifest=$1 target=$2 dir=$3 runner=$4
    shift 4
    local var out rc=0
    var="CARGO_TARGET_$(tr 'a-z.-' 'A-Z__' <<<"$target")_RUNNER"
    out=$(env "$var=$runner" cargo run --quiet --release --manifest-path "$manifest" \
        --target "$target" --target-dir "$dir" "$@" 2>&1) || rc=$?
    grep -v "Timer with period zero" <<<"$out" || true
    if [ "$rc" -eq 124 ]; then
        echo "QEMU timed out"
        return 1
    fi
    [ "$rc" -eq 0 ] && grep -qx PASS <<<"$out"
}

# The defmt variant of examples/qemu on the Cortex-M3: its defmt frames
# (semihosting stdout) go through `defmt-print`, and the decoded lines must
# hold a pool event of each kind, the refused submit, and a `Stats` that
# agrees with the text summary (semihosting stderr).
run_defmt() {
    local target=thumbv7m-none-eabi
    local elf=$DEFMT_TARGET_DIR/$target/release/taskring-qemu
    cargo build --quiet --release --manifest-path "$ROOT/examples/qemu/Cargo.toml" \
        --target "$target" --target-dir "$DEFMT_TARGET_DIR" --features defmt || return 1
    local frames text decoded rc=0
    frames=$(mktemp)
    text=$($(qemu_arm cortex-m3 lm3s6965evb) "$elf" 2>&1 >"$frames") || rc=$?
    grep -v "Timer with period zero" <<<"$text" || true
    decoded=$(defmt-print -e "$elf" <"$frames") || rc=$?
    rm -f "$frames"
    echo "decoded by defmt-print:"
    sed 's/^/    /' <<<"$decoded"
    [ "$rc" -eq 0 ] && grep -qx PASS <<<"$text" || return 1
    local want
    for want in \
        '^WARN +pool event: Overloaded \{ depth: [0-9]+ \}$' \
        '^WARN +pool event: Recovered \{ depth: [0-9]+ \}$' \
        '^WARN +submit refused at tick [0-9]+: Full\(\.\.\)$' \
        '^INFO +final stats: Stats \{ queued: 0, high_water: [0-9]+, submitted: [0-9]+, completed: [0-9]+, .*\}$'; do
        grep -qE "$want" <<<"$decoded" || {
            echo "no decoded line matches: $want"
            return 1
        }
    done
    # The decoded Stats agree with the text summary and the event lines.
    local stats run accepted full events
    stats=$(grep -E '^INFO +final stats:' <<<"$decoded")
    run=$(sed -nE 's/.* jobs run=([0-9]+) .*/\1/p' <<<"$text")
    accepted=$(sed -nE 's/.* accepted=([0-9]+) .*/\1/p' <<<"$text")
    full=$(sed -nE 's/.* rejected full=([0-9]+) .*/\1/p' <<<"$text")
    events=$(grep -cE '^WARN +pool event: Overloaded' <<<"$decoded")
    grep -qE "submitted: $accepted, completed: $run, .* full: $full, .* overload_events: $events," \
        <<<"$stats" || {
        echo "the decoded Stats disagree with the summary (run=$run accepted=$accepted full=$full) or the $events Overloaded lines"
        return 1
    }
}

# run_embassy TARGET CPU MACHINE: the embassy-executor variant of
# examples/qemu, whose task drains the pool with `run_async` while SysTick
# submits. Besides the firmware's own PASS, its summary line must show
# every accepted job run once (run = accepted, the order-sensitive checksum
# equal to the expected one) and the task suspended and resumed after a
# submit each time. A task that is never woken fails at the firmware's tick
# deadline, and QEMU's `timeout` bounds the rest.
run_embassy() {
    local target=$1 cpu=$2 machine=$3
    local out rc=0
    out=$(run_firmware "$ROOT/examples/qemu/Cargo.toml" "$target" "$QEMU_TARGET_DIR" \
        "$(qemu_arm "$cpu" "$machine")" --features embassy --bin taskring-qemu-embassy) || rc=$?
    echo "$out"
    [ "$rc" -eq 0 ] || return 1
    local line
    line=$(grep -E '^taskring qemu embassy \(' <<<"$out") || {
        echo "no summary line from the embassy firmware"
        return 1
    }
    field() { sed -nE "s/.* $1=([0-9a-fx]+).*/\1/p" <<<"$line"; }
    local run accepted suspended resumed checksum expected
    run=$(field "jobs run") accepted=$(field accepted)
    suspended=$(field suspended) resumed=$(field resumed-by-submit)
    checksum=$(field checksum) expected=$(field expected)
    if [ -z "$run" ] || [ "$run" != "$accepted" ] || [ -z "$checksum" ] ||
        [ "$checksum" != "$expected" ] || [ "${suspended:-0}" -eq 0 ] ||
        [ "$resumed" != "$suspended" ]; then
        echo "the summary does not hold: run=$run accepted=$accepted checksum=$checksum" \
            "expected=$expected suspended=$suspended resumed-by-submit=$resumed"
        return 1
    fi
    echo "checked: run=accepted=$run, checksum=$checksum as expected," \
        "$suspended suspensions each ended by a submit's wake-up"
}

qemu_start=$(date +%s.%N)
echo "=== qemu-system-arm, qemu-system-riscv32"
if have_qemu; then
    echo "--- ok    qemu-system-arm, qemu-system-riscv32 ($(elapsed "$qemu_start") s)"
    step "QEMU Cortex-M3 lm3s6965evb (thumbv7m, CAS backend)" \
        run_firmware "$ROOT/examples/qemu/Cargo.toml" thumbv7m-none-eabi "$QEMU_TARGET_DIR" \
        "$(qemu_arm cortex-m3 lm3s6965evb)"
    step "QEMU Cortex-M0 microbit (thumbv6m, critical-section backend)" \
        run_firmware "$ROOT/examples/qemu/Cargo.toml" thumbv6m-none-eabi "$QEMU_TARGET_DIR" \
        "$(qemu_arm cortex-m0 microbit)"
    step "QEMU Cortex-M3 lm3s6965evb, embassy-executor task drains with run_async" \
        run_embassy thumbv7m-none-eabi cortex-m3 lm3s6965evb
    step "QEMU Cortex-M0 microbit, embassy-executor task drains with run_async" \
        run_embassy thumbv6m-none-eabi cortex-m0 microbit
    if have_defmt_print; then
        step "QEMU Cortex-M3, defmt over semihosting, decoded by defmt-print" run_defmt
    else
        echo "--- FAIL  defmt-print is missing and cargo install could not build it"
        FAILED+=("defmt-print")
    fi
    # Four harts run in parallel (no -icount, which would serialize them).
    step "QEMU RISC-V virt, 4 harts: 3 workers of one pool, hart 0 and its timer submit" \
        run_firmware "$ROOT/examples/riscv/Cargo.toml" riscv32imac-unknown-none-elf \
        "$RISCV_TARGET_DIR" "timeout 120 qemu-system-riscv32 -machine virt -smp 4 -bios none \
-nographic -semihosting-config enable=on,target=native -kernel"
    step "QEMU Cortex-M3 lm3s6965evb, RTIC v2: SysTick task submits, idle drains" \
        run_firmware "$ROOT/examples/rtic/Cargo.toml" thumbv7m-none-eabi "$RTIC_TARGET_DIR" \
        "$(qemu_arm cortex-m3 lm3s6965evb)"
else
    echo "--- FAIL  qemu-system-arm or qemu-system-riscv32 is missing and apt-get could not install it"
    FAILED+=("qemu")
fi

# --- Summary -----------------------------------------------------------------

echo "=== embedded checks took $(elapsed "$TOTAL_START") s"
if [ "${#FAILED[@]}" -ne 0 ]; then
    printf 'FAILED: %s\n' "${FAILED[@]}"
    exit 1
fi
echo "all embedded checks passed"
