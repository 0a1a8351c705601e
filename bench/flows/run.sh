#!/usr/bin/env bash
# Flows (issue 7), in one bounded run (about 5 minutes after the builds):
#   (b) message-filtering evaluations per second on one core (taskset -c BENCH_CPU): sluice-flow-bench runs
#       FlowRun.process(message, in: .subscribe) with {#jsonPath(#message.content, '$.type') == 'created'} on 1 KiB
#       JSON events (half 'created'), and in the same process the peers: the same loop with a trivial condition
#       ({#message != null}), the JSON parse
#       of the message alone (SluiceCore's parser, the one #jsonPath uses), Foundation's JSONSerialization.
#   (c) SSE fan-out, FANOUT_SUBSCRIBERS subscribers x FANOUT_RATE msg/s x 1 KiB on the embedded in-memory log,
#       against three APIs served by one Sluice (bench/flows/apis/): `plain` (no flow), `filter` (message-filtering
#       reading the subscriber's request headers and the message, every message passes), `trivial` (message-filtering
#       {#message != null}). ROUNDS rounds, the order reversed every other round.
# Usage: bench/flows/run.sh   (needs python3, swift, taskset)
# Writes bench/out/flows-<UTC stamp>/ (raw logs + results.md). Stops everything it started.
# Knobs: ROWS="b c" BENCH_SECONDS=3 BENCH_ROUNDS=5 BENCH_CPU=1 ROUNDS=3 VARIANTS="plain filter trivial"
#        FANOUT_SUBSCRIBERS=1000 FANOUT_RATE=200 FANOUT_SECONDS=15 SKIP_BUILD=0
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
ROWS="${ROWS:-b c}"
BENCH_SECONDS="${BENCH_SECONDS:-3}"
BENCH_ROUNDS="${BENCH_ROUNDS:-5}"
BENCH_CPU="${BENCH_CPU:-1}"
ROUNDS="${ROUNDS:-3}"
VARIANTS="${VARIANTS:-plain filter trivial}"
FANOUT_SUBSCRIBERS="${FANOUT_SUBSCRIBERS:-1000}"
FANOUT_RATE="${FANOUT_RATE:-200}"
FANOUT_SECONDS="${FANOUT_SECONDS:-15}"
SKIP_BUILD="${SKIP_BUILD:-0}"

STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
OUT="$ROOT/bench/out/flows-$STAMP"
mkdir -p "$OUT"
TMP="$(mktemp -d /tmp/sluice-bench-flows.XXXXXX)"
LOAD="$ROOT/bench/loadtool/.build/release/sluice-load"
SLUICE="$ROOT/.build/release/sluice"
FLOW_BENCH="$ROOT/.build/release/sluice-flow-bench"
STARTED_PIDS=()
source "$ROOT/bench/common.sh"
trap cleanup EXIT
trap 'exit 130' INT TERM

wants() { [[ " $ROWS " == *" $1 "* ]]; }

if [ "$SKIP_BUILD" != 1 ]; then
    log "building release sluice-flow-bench"
    timeout 1800 "$ROOT/scripts/build-release.sh" --product sluice-flow-bench > "$OUT/build-flow-bench.log" 2>&1 \
        || { log "sluice-flow-bench build failed (see build-flow-bench.log)"; exit 1; }
    if wants c; then
        log "building release sluice"
        timeout 1800 "$ROOT/scripts/build-release.sh" --product sluice > "$OUT/build-sluice.log" 2>&1 \
            || { log "sluice build failed (see build-sluice.log)"; exit 1; }
        log "building release sluice-load"
        timeout 900 swift build -c release --package-path bench/loadtool --scratch-path bench/loadtool/.build \
            > "$OUT/build-loadtool.log" 2>&1 || { log "load tool build failed (see build-loadtool.log)"; exit 1; }
    fi
fi
[ -x "$FLOW_BENCH" ] || { log "missing $FLOW_BENCH"; exit 1; }
if wants c; then [ -x "$SLUICE" ] && [ -x "$LOAD" ] || { log "missing $SLUICE or $LOAD"; exit 1; }; fi

{
    echo "date_utc=$STAMP"
    echo "cores=$(nproc)"
    echo "memory=$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
    echo "cpu=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
    echo "kernel=$(uname -r)"
    echo "swift=$(swift --version 2>/dev/null | head -1)"
    echo "git=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)$(git -C "$ROOT" diff --quiet HEAD -- Sources Package.swift bench/flows 2>/dev/null || echo ' (+ uncommitted changes)')"
    echo "load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)"
    echo "rows=$ROWS"
} > "$OUT/machine.txt"
top -bn1 | head -15 > "$OUT/top-start.txt"

# --- (b) evaluations per second on one core ------------------------------------------------------------------------
if wants b; then
    log "(b) sluice-flow-bench on CPU $BENCH_CPU: $BENCH_ROUNDS rounds x ${BENCH_SECONDS} s per case"
    echo "load_before_b=$(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/machine.txt"
    timeout $((BENCH_ROUNDS * BENCH_SECONDS * 4 + 60)) taskset -c "$BENCH_CPU" "$FLOW_BENCH" \
        --seconds "$BENCH_SECONDS" --rounds "$BENCH_ROUNDS" > "$OUT/flow-bench.log" 2> "$OUT/flow-bench.err" \
        || note "sluice-flow-bench exited with status $?"
    grep '^median' "$OUT/flow-bench.log" | sed 's/^/    /' >&2
fi

# --- (c) SSE fan-out with and without a per-subscriber filter -----------------------------------------------------
if wants c; then
    echo "load_before_c=$(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/machine.txt"
    SLUICE_PORT=$(free_port)
    "$SLUICE" serve --apis "$ROOT/bench/flows/apis" --host 127.0.0.1 --port "$SLUICE_PORT" > "$OUT/sluice.log" 2>&1 &
    SLUICE_PID=$!
    STARTED_PIDS+=("$SLUICE_PID")
    wait_port "$SLUICE_PORT" 30 || { log "Sluice did not listen (see sluice.log)"; exit 1; }
    sleep 1
    log "Sluice pid $SLUICE_PID on 127.0.0.1:$SLUICE_PORT"
    sluice_pids() { echo "$SLUICE_PID"; }
    path_of() { case $1 in plain) echo /plain ;; filter) echo /filtered ;; trivial) echo /filter-trivial ;; esac; }
    for round in $(seq 1 "$ROUNDS"); do
        order="$VARIANTS"
        [ $((round % 2)) = 0 ] && order="$(echo "$VARIANTS" | tr ' ' '\n' | tac | tr '\n' ' ')"
        for variant in $order; do
            url="http://127.0.0.1:$SLUICE_PORT$(path_of "$variant")"
            echo "load=$(cut -d' ' -f1-3 /proc/loadavg)" > "$OUT/load-$variant-$round.txt"
            fanout_test "$variant-$round" "$url" "$url" sluice_pids
            kill -0 "$SLUICE_PID" 2>/dev/null || { note "Sluice exited during $variant round $round (see sluice.log)"; break 2; }
        done
    done
    grep -ciE "error|critical|warning" "$OUT/sluice.log" > "$OUT/sluice-log-problems.count" 2>/dev/null
fi

echo "load_at_end=$(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/machine.txt"
python3 "$ROOT/bench/flows/report.py" "$OUT" "$ROUNDS" "$VARIANTS" "$FANOUT_SUBSCRIBERS" "$FANOUT_RATE" \
    "$FANOUT_SECONDS" > "$OUT/results.md"
cat "$OUT/results.md"
log "results in $OUT/results.md"
