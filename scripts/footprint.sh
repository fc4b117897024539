#!/usr/bin/env bash
# RAM and flash footprint on each bare-metal target, next to heapless 0.9's
# deprecated mpmc::Queue built the same way (examples/footprint: release,
# opt-level "s", LTO, one codegen unit).
#
#   RAM:   Ring<u32, 16> vs Queue<u32, 16>; Pool<Work, 32, 0> vs
#          Queue<Work, 32> (Work: a 4-byte enum, see examples/footprint),
#          with taskring's `critical-section` feature and, on CAS targets,
#          without it (where the pool's two tick counts take 20 bytes each
#          instead of 8); and with the `async-drain` feature (the pool's
#          waker slot) added.
#   Flash: .text bytes of Ring<u32, 16>::try_push + try_pop, plus every
#          function they call out of line, each counted once (the
#          critical-section implementation belongs to the application and
#          is not counted).
#
# Fails when a bound does not hold (see `check` below), or when push or pop
# calls a software division routine on a target without a divider.
#
# The README and docs/embedded.md show both tables between
# `<!-- footprint:ram ... -->` / `<!-- footprint:flash ... -->` markers; the
# script fails when they differ from this run, so a stated number is always
# the one the script measures.
#
# Usage: bash scripts/footprint.sh           Prints the two markdown tables.
#        bash scripts/footprint.sh --write   Also writes them into the docs.
set -euo pipefail

WRITE=0
case "${1:-}" in
--write) WRITE=1 ;;
"") ;;
*) echo "usage: bash scripts/footprint.sh [--write]" >&2; exit 2 ;;
esac

cd "$(dirname "$0")/.."
ROOT=$PWD
TARGET_DIR=$ROOT/target/footprint
TARGETS=(
    thumbv6m-none-eabi
    thumbv7em-none-eabihf
    thumbv8m.main-none-eabihf
    riscv32imc-unknown-none-elf
    riscv32imac-unknown-none-elf
)

# --- Bounds --------------------------------------------------------------------

# Ring<u32, 16> must take no more RAM than heapless's Queue<u32, 16>, and
# the pool at most POOL_RATIO_PERCENT % of heapless's queue of the same jobs,
# with and without the `critical-section` feature. With `async-drain` the
# pool is 12 bytes larger; its budget is the size measured when it was set,
# so that growth fails.
POOL_RATIO_PERCENT=150
POOL_ASYNC_BUDGET=272
# On targets without CAS, taskring's push + pop must take no more flash
# than heapless's enqueue + dequeue. On CAS targets heapless is smaller (it
# tells neither Busy from Full/Empty nor bounds its retries; see
# docs/embedded.md), and the budget is the size measured when it was set,
# rounded up to 8 bytes, so that growth fails.
declare -A CAS_FLASH_BUDGET=(
    [thumbv7em-none-eabihf]=304
    [thumbv8m.main-none-eabihf]=296
    [riscv32imac-unknown-none-elf]=320
)

# --- Tools -----------------------------------------------------------------------

# llvm-nm / llvm-objdump: rustup's llvm-tools first, then PATH.
find_tool() {
    local name=$1 sysroot_bin
    sysroot_bin="$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin"
    if [ -x "$sysroot_bin/$name" ]; then
        echo "$sysroot_bin/$name"
    elif command -v "$name" >/dev/null; then
        command -v "$name"
    else
        rustup component add llvm-tools >/dev/null 2>&1 && [ -x "$sysroot_bin/$name" ] &&
            echo "$sysroot_bin/$name"
    fi
}
NM=$(find_tool llvm-nm) || { echo "llvm-nm not found (rustup component add llvm-tools)"; exit 1; }
OBJDUMP=$(find_tool llvm-objdump) || { echo "llvm-objdump not found"; exit 1; }

rustup target add "${TARGETS[@]}" >/dev/null 2>&1 || true

# --- Helpers -------------------------------------------------------------------

# size_of LIB SYMBOL: size in bytes of a defined symbol (code or data).
size_of() {
    local hex
    hex=$("$NM" -S --defined-only "$1" 2>/dev/null | awk -v s="$2" '$4 == s { print $2; exit }')
    [ -n "$hex" ] || { echo "symbol $2 not found in $1" >&2; return 1; }
    echo $((16#$hex))
}

# callees LIB SYMBOLS: the functions that SYMBOLS (comma-separated) call or
# tail-call out of line, one per line, sorted, each once.
callees() {
    "$OBJDUMP" -d -r --disassemble-symbols="$2" "$1" 2>/dev/null |
        awk '$2 ~ /^R_(ARM_THM_(CALL|JUMP[0-9]+)|RISCV_(CALL(_PLT)?|JAL))$/ { print $3 }' |
        sort -u
}

# closure LIB SYMBOLS: SYMBOLS plus everything they reach by out-of-line
# calls, transitively, without the critical-section implementation.
closure() {
    local lib=$1 seen=$2 frontier=$2 next
    while [ -n "$frontier" ]; do
        next=$(callees "$lib" "$frontier" | grep -v '^_critical_section_1_0_' |
            grep -vxF -f <(tr ',' '\n' <<<"$seen") | paste -sd, -) || true
        [ -n "$next" ] || break
        seen="$seen,$next"
        frontier=$next
    done
    tr ',' '\n' <<<"$seen"
}

# flash LIB SYMBOLS: total bytes of SYMBOLS and their closure.
flash() {
    local total=0 sym
    while read -r sym; do
        total=$((total + $(size_of "$1" "$sym")))
    done < <(closure "$1" "$2")
    echo "$total"
}

# helpers LIB SYMBOLS: the closure minus SYMBOLS, as "name (bytes)".
helpers() {
    local sym out=""
    while read -r sym; do
        [[ ",$2," == *",$sym,"* ]] && continue
        out+="${out:+, }\`$(demangle "$sym")\` $(size_of "$1" "$sym")"
    done < <(closure "$1" "$2")
    echo "${out:-none}"
}

# demangle SYMBOL: the last path segment before the hash of a Rust symbol.
demangle() {
    sed -E 's/^_ZN.*[0-9]+([A-Za-z_][A-Za-z0-9_]*)17h[0-9a-f]{16}E$/\1/' <<<"$1"
}

failures=()
check() { # DESCRIPTION CONDITION...
    local what=$1
    shift
    if ! "$@"; then
        failures+=("$what")
    fi
}

# --- Measure -------------------------------------------------------------------

ram_rows=()
flash_rows=()
for target in "${TARGETS[@]}"; do
    cargo build --quiet --release --manifest-path "$ROOT/examples/footprint/Cargo.toml" \
        --target "$target" --target-dir "$TARGET_DIR"
    lib=$TARGET_DIR/$target/release/libtaskring_footprint.a

    case $target in
    thumbv6m-* | riscv32imc-*)
        backend="critical section"
        heapless_backend="portable-atomic: critical section per atomic access"
        ;;
    *)
        backend="CAS"
        heapless_backend="CAS"
        ;;
    esac

    # RAM.
    ring=$(size_of "$lib" TASKRING_RING)
    queue=$(size_of "$lib" HEAPLESS_QUEUE)
    pool=$(size_of "$lib" TASKRING_POOL)
    work_queue=$(size_of "$lib" HEAPLESS_WORK_QUEUE)
    ratio=$(awk -v a="$pool" -v b="$work_queue" 'BEGIN { printf "%.2f", a / b }')
    if [ "$backend" = CAS ]; then
        cargo build --quiet --release --manifest-path "$ROOT/examples/footprint/Cargo.toml" \
            --target "$target" --target-dir "$TARGET_DIR/no-cs" --no-default-features
        pool_no_cs=$(size_of "$TARGET_DIR/no-cs/$target/release/libtaskring_footprint.a" TASKRING_POOL)
        no_cs_cell="$pool_no_cs ($(awk -v a="$pool_no_cs" -v b="$work_queue" 'BEGIN { printf "%.2f", a / b }')x)"
        check "$target: Pool<Work, 32, 0> without critical-section ($pool_no_cs B) <= $POOL_RATIO_PERCENT % of heapless Queue<Work, 32> ($work_queue B)" \
            test $((pool_no_cs * 100)) -le $((work_queue * POOL_RATIO_PERCENT))
    else
        no_cs_cell="n/a (the ring needs it)"
    fi
    cargo build --quiet --release --manifest-path "$ROOT/examples/footprint/Cargo.toml" \
        --target "$target" --target-dir "$TARGET_DIR/async" --features async-drain
    pool_async=$(size_of "$TARGET_DIR/async/$target/release/libtaskring_footprint.a" TASKRING_POOL)
    check "$target: Pool<Work, 32, 0> with async-drain ($pool_async B) <= budget ($POOL_ASYNC_BUDGET B)" \
        test "$pool_async" -le "$POOL_ASYNC_BUDGET"
    ram_rows+=("| \`$target\` | $ring | $queue | $pool | $work_queue | ${ratio}x | $no_cs_cell | $pool_async |")
    check "$target: Ring<u32, 16> ($ring B) <= heapless Queue<u32, 16> ($queue B)" \
        test "$ring" -le "$queue"
    check "$target: Pool<Work, 32, 0> ($pool B) <= $POOL_RATIO_PERCENT % of heapless Queue<Work, 32> ($work_queue B)" \
        test $((pool * 100)) -le $((work_queue * POOL_RATIO_PERCENT))

    # Flash.
    push=$(size_of "$lib" taskring_try_push)
    pop=$(size_of "$lib" taskring_try_pop)
    total=$(flash "$lib" taskring_try_push,taskring_try_pop)
    shared=$((total - push - pop))
    enq=$(size_of "$lib" heapless_enqueue)
    deq=$(size_of "$lib" heapless_dequeue)
    heapless_total=$(flash "$lib" heapless_enqueue,heapless_dequeue)
    flash_rows+=("| \`$target\` | taskring \`Ring\` ($backend) | $push | $pop | $shared | **$total** | $(helpers "$lib" taskring_try_push,taskring_try_pop) |")
    flash_rows+=("| \`$target\` | heapless 0.9 \`mpmc::Queue\` ($heapless_backend) | $enq | $deq | $((heapless_total - enq - deq)) | **$heapless_total** | $(helpers "$lib" heapless_enqueue,heapless_dequeue) |")
    if [ "$backend" = CAS ]; then
        budget=${CAS_FLASH_BUDGET[$target]}
        check "$target: taskring push + pop ($total B) <= budget ($budget B)" \
            test "$total" -le "$budget"
    else
        check "$target: taskring push + pop ($total B) <= heapless ($heapless_total B)" \
            test "$total" -le "$heapless_total"
    fi
    if closure "$lib" taskring_try_push,taskring_try_pop | grep -q '__aeabi_uidiv\|__udivsi3'; then
        failures+=("$target: push or pop calls software division")
    fi
done

ram_table=$(
    echo "| target | taskring \`Ring<u32, 16>\` | heapless \`Queue<u32, 16>\` | taskring \`Pool<Work, 32, 0>\` | heapless \`Queue<Work, 32>\` | pool / queue | pool without \`critical-section\` | pool with \`async-drain\` |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|"
    printf '%s\n' "${ram_rows[@]}"
)
flash_table=$(
    echo "| target | queue | push | pop | shared | total | out of line (counted in shared) |"
    echo "|---|---|---:|---:|---:|---:|---|"
    printf '%s\n' "${flash_rows[@]}"
)
echo "RAM (bytes of each \`static\`):"
echo
echo "$ram_table"
echo
echo "Flash (\`.text\` bytes of \`try_push\` + \`try_pop\` on \`<u32, 16>\`):"
echo
echo "$flash_table"
echo

# --- The docs' copies --------------------------------------------------------------

# replace_table FILE NAME TABLE: FILE with the lines between its
# `<!-- footprint:NAME` and `<!-- /footprint:NAME -->` markers replaced by
# TABLE, on stdout.
replace_table() {
    TABLE=$3 awk -v name="$2" '
        index($0, "<!-- footprint:" name " ") == 1 { print; print ENVIRON["TABLE"]; skip = 1; next }
        index($0, "<!-- /footprint:" name " -->") == 1 { skip = 0 }
        !skip { print }' "$1"
}
for doc in README.md docs/embedded.md; do
    for name in ram flash; do
        table=$ram_table
        [ "$name" = flash ] && table=$flash_table
        grep -q "^<!-- footprint:$name " "$ROOT/$doc" || {
            failures+=("$doc has no footprint:$name table")
            continue
        }
        updated=$(replace_table "$ROOT/$doc" "$name" "$table")
        if [ "$updated" != "$(cat "$ROOT/$doc")" ]; then
            if [ "$WRITE" = 1 ]; then
                printf '%s\n' "$updated" >"$ROOT/$doc"
                echo "wrote the $name table into $doc"
            else
                failures+=("$doc: the $name table differs from this run (bash scripts/footprint.sh --write)")
            fi
        fi
    done
done
echo "Release, opt-level \"s\", LTO, one codegen unit. The critical-section implementation belongs to the application and is not counted. No software division in taskring's push or pop."
if [ "${#failures[@]}" -ne 0 ]; then
    echo
    printf 'FOOTPRINT CHECK FAILED: %s\n' "${failures[@]}"
    exit 1
fi
echo "All footprint bounds hold."
