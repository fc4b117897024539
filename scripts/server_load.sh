#!/usr/bin/env bash
# Drives the example server (examples/server) with wrk on 127.0.0.1 in
# three phases, each bounded in time, and checks what it answered:
#
#   1. light load: a few connections, the pool keeps up: no 503 at all;
#   2. overload: many connections and heavy sessions: the pool reports
#      overload (an `event: overloaded` line) and the server sheds with 503;
#   3. light load again: the pool has recovered: no new 503.
#
# Checks: wrk saw no socket error (every request got an answer); the server
# answered every request it received; no 5xx other than the deliberate 503;
# no 503 went out while the pool did not report overload
# (shed_outside_overload=0); 503s appeared in phase 2 and in no other.
#
#   ./scripts/server_load.sh            # about 25 s of load
#   ./scripts/server_load.sh --short    # about 10 s, as CI runs it
#
# Installs wrk with apt-get if it is missing. The server listens on
# 127.0.0.1 only and is stopped on exit, also on failure.

set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

light_s=6
heavy_s=10
if [[ "${1:-}" == --short ]]; then
    light_s=3
    heavy_s=4
fi

say() { printf '%s\n' "$*"; }
fail() {
    say "FAIL: $*"
    exit 1
}

if ! command -v wrk >/dev/null; then
    say "Installing wrk"
    # sudo only when not root; `env` carries DEBIAN_FRONTEND past sudo,
    # which resets the environment.
    apt_get=(env DEBIAN_FRONTEND=noninteractive apt-get)
    [[ $(id -u) -eq 0 ]] || apt_get=(sudo "${apt_get[@]}")
    "${apt_get[@]}" update -qq >/dev/null
    "${apt_get[@]}" install -y -qq wrk >/dev/null
fi
command -v wrk >/dev/null || fail "wrk could not be installed"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$(pwd)/target/server}"
cargo build --quiet --release -p taskring-server
BIN="$CARGO_TARGET_DIR/release/taskring-server"

# A free port on loopback: ask the kernel, via a throwaway listener.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
    echo $((20000 + RANDOM % 20000)))
addr="127.0.0.1:$port"
url="http://$addr"
out=$(mktemp -d)
log="$out/server.log"

"$BIN" --addr "$addr" --workers 2 --work 200000 >"$log" 2>&1 &
server_pid=$!
cleanup() {
    if kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
}
trap cleanup EXIT

# An HTTP GET over bash's /dev/tcp: prints the body.
get() {
    local path=$1 reply
    exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
    printf 'GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' "$path" "$addr" >&3
    reply=$(timeout 10 cat <&3) || true
    exec 3<&-
    printf '%s\n' "${reply#*$'\r\n\r\n'}"
}

for _ in $(seq 1 100); do
    if grep -q '^listening on' "$log"; then break; fi
    kill -0 "$server_pid" 2>/dev/null || { cat "$log"; fail "the server exited at start"; }
    sleep 0.1
done
grep -q '^listening on' "$log" || fail "the server did not start listening"
say "$(grep '^listening on' "$log")"

# Reads one counter from a `key=value ...` line.
field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$2"; }

# Runs wrk for one phase and checks that every request got an answer.
phase() {
    local name=$1 threads=$2 conns=$3 secs=$4 report
    report=$(wrk -t"$threads" -c"$conns" -d"${secs}s" --timeout 10s "$url/session/7")
    printf '%s\n' "$report" >"$out/$name.wrk"
    local requests non2xx errors
    requests=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' <<<"$report")
    non2xx=$(sed -n 's/^ *Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' <<<"$report")
    errors=$(sed -n 's/^ *Socket errors: *\(.*\)/\1/p' <<<"$report")
    [[ -n "$requests" ]] || { printf '%s\n' "$report"; fail "$name: no request count from wrk"; }
    say "$name: wrk -t$threads -c$conns -d${secs}s: $requests requests, ${non2xx:-0} non-2xx, socket errors: ${errors:-none}"
    [[ -z "$errors" ]] || fail "$name: requests without an answer (socket errors: $errors)"
    [[ "$requests" -gt 0 ]] || fail "$name: no request completed"
}

before=$(get /stats)
phase light 1 2 "$light_s"
after_light=$(get /stats)
phase overload 2 128 "$heavy_s"
after_heavy=$(get /stats)
# Let the pool drain below the low watermark before the last phase.
for _ in $(seq 1 100); do
    [[ $(field overloaded "$(get /stats)") == false ]] && break
    sleep 0.1
done
phase recovered 1 2 "$light_s"
after_recovered=$(get /stats)

get /quit >/dev/null
for _ in $(seq 1 100); do
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
done
wait "$server_pid" || fail "the server exited with an error"
summary=$(grep '^summary:' "$log") || { cat "$log"; fail "the server printed no summary"; }

shed() { field shed "$1"; }
shed_light=$(($(shed "$after_light") - $(shed "$before")))
shed_heavy=$(($(shed "$after_heavy") - $(shed "$after_light")))
shed_recovered=$(($(shed "$after_recovered") - $(shed "$after_heavy")))
events=$(grep -c '^event: overloaded' "$log" || true)

say "server: $summary"
say "503s by phase: light=$shed_light overload=$shed_heavy recovered=$shed_recovered; overload events: $events"
grep '^event:' "$log" | head -n 6 | sed 's/^/  /'

received=$(field received "$summary")
answered=$(($(field ok "$summary") + $(field shed "$summary") + $(field other_5xx "$summary") + $(field not_found "$summary")))
[[ "$received" -eq "$answered" ]] || fail "received $received sessions, answered $answered"
[[ $(field other_5xx "$summary") -eq 0 ]] || fail "5xx answers other than 503"
[[ $(field not_found "$summary") -eq 0 ]] || fail "unexpected 4xx answers"
[[ $(field shed_outside_overload "$summary") -eq 0 ]] || fail "503s went out while the pool was not overloaded"
[[ $(field panicked "$summary") -eq 0 ]] || fail "a session panicked"
[[ "$shed_light" -eq 0 ]] || fail "503s under light load, before any overload"
[[ "$shed_heavy" -gt 0 ]] || fail "no 503 under overload: the test proves nothing"
[[ "$events" -gt 0 ]] || fail "the pool never reported overload"
[[ "$shed_recovered" -eq 0 ]] || fail "503s after the pool recovered"
say "PASS: server load test"
