#!/usr/bin/env bash
# Beyond one machine, end to end: a backlog of sessions in a Redis stream,
# consumed by 3 OS processes, each with one taskring ThreadPool
# (examples/broker). One process is stopped with SIGTERM and another killed
# with SIGKILL midway; both are restarted, and at the end every session
# must have run at least once, nothing may be pending, and only sessions
# that were in flight in the killed process may have run twice.
#
#   ./scripts/broker.sh            # 30000 sessions, 3 x 8 workers
#   ./scripts/broker.sh --small    # what CI runs: 4000 sessions, 3 x 4 workers
#   ./scripts/broker.sh --sessions N --workers W --port P
#
# Installs redis-server from the OS packages if it is missing, starts it on
# 127.0.0.1 only (port 16379, or the next free one up to 16398), and always
# stops it and every consumer on exit. Logs: target/broker-run/. Exit
# status: 0 only if the final check passed.

set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

sessions=30000
workers=8
wait_us=5000
work_us=200
claim_idle_ms=2000
catch_up_limit_s=180
port=16379
while (($#)); do
    case "$1" in
        --small) sessions=4000 workers=4 wait_us=8000 claim_idle_ms=1000 catch_up_limit_s=60 ;;
        --sessions) sessions=$2; shift ;;
        --workers) workers=$2; shift ;;
        --port) port=$2; shift ;;
        -h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "broker.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
    esac
    shift
done

say() { printf 'broker: %s\n' "$*"; }
fail() {
    say "FAIL: $*"
    exit 1
}

# === redis-server from the OS packages ===

if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
    say "installing redis-server"
    # sudo only when not root; `env` carries DEBIAN_FRONTEND past sudo,
    # which resets the environment.
    sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
fi
say "$(redis-server --version)"

target=${CARGO_TARGET_DIR:-target}
cargo build --quiet --release -p taskring-broker
bin="$target/release/taskring-broker"
run_dir="$target/broker-run"
rm -rf "$run_dir"
mkdir -p "$run_dir"

# === Processes, always stopped on exit ===

redis_pid=
declare -A pid=()
cleanup() {
    local name
    for name in "${!pid[@]}"; do
        kill -KILL "${pid[$name]}" 2>/dev/null || true
    done
    if [[ -n "$redis_pid" ]]; then
        kill -TERM "$redis_pid" 2>/dev/null || true
        wait "$redis_pid" 2>/dev/null || true
    fi
}
trap cleanup EXIT
# A signal ends the script through `exit`, so the EXIT trap runs.
trap 'exit 130' INT
trap 'exit 143' TERM

# True if something listens on 127.0.0.1:$1.
listening() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

for ((tries = 0; tries < 20; tries++)); do
    listening "$port" || break
    port=$((port + 1))
done
listening "$port" && fail "no free port from 16379 up"
redis-server --port "$port" --bind 127.0.0.1 --protected-mode yes --save "" \
    --appendonly no --dir "$run_dir" --loglevel warning >"$run_dir/redis.log" 2>&1 &
redis_pid=$!
for ((i = 0; i < 100; i++)); do
    [[ $(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null) == PONG ]] && break
    kill -0 "$redis_pid" 2>/dev/null || fail "redis-server exited: $(cat "$run_dir/redis.log")"
    sleep 0.1
done
[[ $(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null) == PONG ]] || fail "redis-server did not answer"
url="redis://127.0.0.1:$port/"
say "redis-server on 127.0.0.1:$port (pid $redis_pid)"

broker() { "$bin" "$@" --redis "$url"; }

start() {
    local name=$1
    "$bin" consume --redis "$url" --name "$name" --workers "$workers" \
        --work-us "$work_us" --wait-us "$wait_us" --claim-idle-ms "$claim_idle_ms" \
        --lag-high-ms 50 --lag-low-ms 10 >"$run_dir/$name.log" 2>&1 &
    pid[$name]=$!
}

# Waits (at most 120 s) until `done` sessions have run.
wait_done() {
    local want=$1 done deadline=$((SECONDS + 120))
    while :; do
        done=$(broker status | sed -n 's/^done=\([0-9]*\).*/\1/p')
        [[ ${done:-0} -ge $want ]] && return 0
        ((SECONDS < deadline)) || fail "only ${done:-0} of $want sessions ran in 120 s"
        sleep 0.05
    done
}

# Waits (at most 15 s) for a consumer sent SIGTERM to exit, and requires
# exit status 0.
wait_exit() {
    local name=$1 rc=0 deadline=$((SECONDS + 15))
    while kill -0 "${pid[$name]}" 2>/dev/null; do
        ((SECONDS < deadline)) || fail "$name did not exit within 15 s of SIGTERM"
        sleep 0.05
    done
    wait "${pid[$name]}" || rc=$?
    unset "pid[$name]"
    [[ $rc -eq 0 ]] || fail "$name exited with status $rc (log: $run_dir/$name.log)"
}

# Prints one `key=value` field from the first line of a log that starts
# with `prefix`: `field <log> <prefix> <key>`.
field() {
    { grep -m1 "^$2" "$1" || true; } | tr ' ' '\n' | sed -n "s/^$3=//p"
}

# === The scenario ===

broker seed --sessions "$sessions"
since=$(date +%s%3N)
say "3 consumers x $workers workers, each session ${work_us} us CPU + ${wait_us} us wait"
start c1
start c2
start c3

wait_done $((sessions / 4))
kill -TERM "${pid[c1]}"
wait_exit c1
mv "$run_dir/c1.log" "$run_dir/c1-first.log"
grep '^stop:' "$run_dir/c1-first.log" || fail "c1 printed no stop line"
left=$(field "$run_dir/c1-first.log" exit: left_unacked)
say "c1 SIGTERMed at 25%: stop() handed back its queue; ${left:-0} entries left unacknowledged"
[[ ${left:-0} -gt 0 ]] || fail "c1 left nothing unacknowledged: the SIGTERM came while it held no work"

wait_done $((sessions * 45 / 100))
kill -KILL "${pid[c2]}"
{ wait "${pid[c2]}" || true; } 2>/dev/null
unset "pid[c2]"
held=$(broker status --name c2 | sed -n 's/.* c2=\([0-9]*\).*/\1/p')
say "c2 SIGKILLed at 45% with ${held:-0} entries pending (read, not acknowledged)"
[[ ${held:-0} -gt 0 ]] || fail "c2 held no pending entries when killed"

# c1 comes back under its own name and reads its pending entries first;
# c2 is replaced by c4 (a new name, as on a new host): its entries come
# back only when a consumer claims them after claim_idle_ms.
sleep 0.3
start c1
start c4
say "c1 restarted, c4 replaces c2"

sleep 0.5
metrics_port=$(sed -n 's|.*metrics=http://127.0.0.1:\([0-9]*\)/metrics.*|\1|p' "$run_dir/c3.log")
[[ -n "$metrics_port" ]] || fail "c3 printed no metrics address"
# Plain HTTP over bash's /dev/tcp, in a subshell so a refused connection
# fails only this step.
scrape=$(
    exec 3<>"/dev/tcp/127.0.0.1/$metrics_port"
    printf 'GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
    cat <&3
) || fail "c3 serves no metrics on 127.0.0.1:$metrics_port"
say "c3's metrics (http://127.0.0.1:$metrics_port/metrics), a few of them:"
grep -E '^(taskring_(queued|high_water|completed_total|lag_seconds|lag_events_total)|broker_(acked|reclaimed)_total)' <<<"$scrape" |
    sed 's/^/  /' || fail "c3's metrics lack the pool's counters"

if ! broker wait --sessions "$sessions" --since-ms "$since" --timeout-s "$catch_up_limit_s" >"$run_dir/catch-up.txt"; then
    # Say what is missing, then fail.
    broker check --sessions "$sessions" --killed c2 --max-extra-runs "$workers" || true
    fail "not caught up within $catch_up_limit_s s"
fi
cat "$run_dir/catch-up.txt"
# Idle consumers let their pools see the caught-up queue (lag recovered).
sleep 0.5

for name in c1 c3 c4; do
    kill -TERM "${pid[$name]}"
done
for name in c1 c3 c4; do
    wait_exit "$name"
done

reclaimed=0
for log in "$run_dir"/c*.log; do
    count=$(field "$log" exit: reclaimed)
    reclaimed=$((reclaimed + ${count:-0}))
done
say "entries claimed from idle consumers (XAUTOCLAIM): $reclaimed"
[[ $reclaimed -gt 0 ]] || fail "no consumer claimed the killed consumer's entries"

say "lag alerts as they fired, c3's:"
grep -h '^lag-alert:' "$run_dir/c3.log" | sed 's/^/  /' || true
grep -qh '^lag-alert: .*state=lagging' "$run_dir"/c*.log || fail "no lag alert fired"

# Only the sessions that c2 was running when it died may have run twice.
broker check --sessions "$sessions" --killed c2 --max-extra-runs "$workers" | tee "$run_dir/check.txt"
say "PASS: $(cat "$run_dir/catch-up.txt")"
