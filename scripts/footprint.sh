#!/usr/bin/env bash
# Flash (.text) bytes of Ring<u32, 16>::try_push + try_pop on thumbv7em and
# thumbv6m, next to heapless 0.9's deprecated mpmc::Queue<u32, 16> built the
# same way (examples/footprint: release, opt-level "s", LTO, one codegen
# unit). Also checks that the thumbv6m code has no software division.
#
# Usage: bash scripts/footprint.sh     Prints a markdown table.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
TARGET_DIR=$ROOT/target/footprint
TARGETS=(thumbv7em-none-eabihf thumbv6m-none-eabi)

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

# size LIB SYMBOL: size in bytes of a defined text symbol.
size_of() {
    local hex
    hex=$("$NM" -S --defined-only "$1" 2>/dev/null | awk -v s="$2" '$4 == s { print $2; exit }')
    [ -n "$hex" ] || { echo "symbol $2 not found in $1" >&2; return 1; }
    echo $((16#$hex))
}

# calls_of LIB SYMBOLS: the out-of-line call sites in SYMBOLS, "count x callee".
calls_of() {
    "$OBJDUMP" -d -r --disassemble-symbols="$2" "$1" 2>/dev/null |
        awk '/R_ARM_THM_(CALL|JUMP)/ { print $3 }' | sort | uniq -c |
        awk '{ printf "%s%s x `%s`", sep, $1, $2; sep = ", " }'
}

rows=()
status=0
for target in "${TARGETS[@]}"; do
    cargo build --quiet --release --manifest-path "$ROOT/examples/footprint/Cargo.toml" \
        --target "$target" --target-dir "$TARGET_DIR"
    lib=$TARGET_DIR/$target/release/libtaskring_footprint.a

    # Everything the wrappers call out of line is listed, so that a helper
    # left out of line cannot hide code from the count.
    calls=$(calls_of "$lib" taskring_try_push,taskring_try_pop)
    if grep -q "__aeabi_uidiv" <<<"$calls"; then
        echo "ERROR: $target try_push/try_pop call software division: $calls" >&2
        status=1
    fi
    heapless_calls=$(calls_of "$lib" heapless_enqueue,heapless_dequeue)
    if [ "$target" = thumbv6m-none-eabi ]; then
        backend="critical section"
        heapless_backend="portable-atomic, critical section per atomic access"
    else
        backend="CAS"
        heapless_backend="CAS"
    fi
    push=$(size_of "$lib" taskring_try_push)
    pop=$(size_of "$lib" taskring_try_pop)
    enq=$(size_of "$lib" heapless_enqueue)
    deq=$(size_of "$lib" heapless_dequeue)
    rows+=("| \`$target\` | taskring \`Ring\` ($backend) | $push | $pop | **$((push + pop))** | ${calls:-none} |")
    rows+=("| \`$target\` | heapless 0.9 \`mpmc::Queue\` ($heapless_backend) | $enq | $deq | **$((enq + deq))** | ${heapless_calls:-none} |")
done

echo "| target | queue (\`<u32, 16>\`) | push bytes | pop bytes | total | out-of-line call sites (push + pop) |"
echo "|---|---|---:|---:|---:|---|"
printf '%s\n' "${rows[@]}"
echo
echo "Release, opt-level \"s\", LTO, one codegen unit; \`.text\` bytes of each \`#[no_mangle]\` wrapper, which inlines the whole operation. The critical-section implementation itself belongs to the application and is not counted."
if [ "$status" -eq 0 ]; then
    echo "No \`__aeabi_uidiv\`/\`__aeabi_uidivmod\` call in taskring's push/pop on either target."
fi
exit $status
