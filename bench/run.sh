#!/usr/bin/env bash
# Sluice side by side with nginx + nchan (and nginx `return 202`, the plain HTTP limit), in one bounded run:
#   (a) wrk -t1 -c64 -d10s, 1 KiB POST           Sluice POST /events | nchan /pub | nginx /ok
#   (b) 1,000 SSE subscribers, 200 msg/s x 1 KiB  Sluice GET /events  | nchan /sub  (15 s of publishing)
#   (c) 10,000 idle SSE connections: resident memory per connection (VmRSS delta / connections)
# Run order is c, b, a (see the note at (b)).
# Usage: bench/run.sh            (from anywhere; needs wrk, nginx, libnginx-mod-nchan, python3, swift)
# Writes bench/out/<UTC stamp>/ (raw logs + results.md) and bench/out/latest.md. Stops everything it started.
# Knobs (environment): FANOUT_SUBSCRIBERS=1000 FANOUT_RATE=200 FANOUT_SECONDS=15 IDLE_CONNECTIONS=10000
#                      WRK_SECONDS=10 SKIP_BUILD=0
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
FANOUT_SUBSCRIBERS="${FANOUT_SUBSCRIBERS:-1000}"
FANOUT_RATE="${FANOUT_RATE:-200}"
FANOUT_SECONDS="${FANOUT_SECONDS:-15}"
IDLE_CONNECTIONS="${IDLE_CONNECTIONS:-10000}"
IDLE_HOLD=20
WRK_SECONDS="${WRK_SECONDS:-10}"
SKIP_BUILD="${SKIP_BUILD:-0}"

STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
OUT="$ROOT/bench/out/$STAMP"
mkdir -p "$OUT"
TMP="$(mktemp -d /tmp/sluice-bench.XXXXXX)"
LOAD="$ROOT/bench/loadtool/.build/release/sluice-load"
SLUICE="$ROOT/.build/release/sluice"
STARTED_PIDS=()
SLUICE_PID=""
NGINX_PID=""

source "$ROOT/bench/common.sh"
trap cleanup EXIT
trap 'exit 130' INT TERM

nginx_workers() { pgrep -P "$NGINX_PID" | tr '\n' ' '; }

sluice_alive() { # step name
    if ! kill -0 "$SLUICE_PID" 2>/dev/null; then
        wait "$SLUICE_PID" 2>/dev/null; local rc=$?
        note "Sluice (pid $SLUICE_PID) is gone after step '$1' (exit status $rc); see sluice.log. Restarting it for the next steps."
        start_sluice
    fi
}

start_sluice() {
    SLUICE_PORT=$(free_port)
    "$SLUICE" serve --apis "$ROOT/bench/apis" --host 127.0.0.1 --port "$SLUICE_PORT" >> "$OUT/sluice.log" 2>&1 &
    SLUICE_PID=$!
    STARTED_PIDS+=("$SLUICE_PID")
    wait_port "$SLUICE_PORT" 30 || note "Sluice did not listen on $SLUICE_PORT within 30 s"
    sleep 0.5
    log "Sluice pid $SLUICE_PID on 127.0.0.1:$SLUICE_PORT"
}

# --- tools ---------------------------------------------------------------------------------------------------
ensure_peers

# --- builds (release only) -----------------------------------------------------------------------------------
build_release

# --- machine ----------------------------------------------------------------------------------------------------
{
    echo "date_utc=$STAMP"
    echo "cores=$(nproc)"
    echo "memory=$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
    echo "cpu=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
    echo "kernel=$(uname -r)"
    echo "nginx=$(nginx -v 2>&1 | sed 's/.*nginx\///')"
    echo "nchan=$(dpkg-query -W -f='${Version}' libnginx-mod-nchan 2>/dev/null)"
    echo "wrk=$(wrk -v 2>&1 | head -1 | awk '{print $2}')"
    echo "swift=$(swift --version 2>/dev/null | head -1)"
    echo "git=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)$(git -C "$ROOT" diff --quiet HEAD -- Sources Package.swift 2>/dev/null || echo ' (+ uncommitted changes in Sources/Package.swift)')"
    echo "nofile=$(ulimit -n)"
} > "$OUT/machine.txt"

# --- servers ----------------------------------------------------------------------------------------------------
start_sluice
NGINX_PORT=$(free_port)
"$ROOT/bench/nchan/start.sh" "$TMP/nginx" "$NGINX_PORT" 2> "$OUT/nginx-start.log" &
NGINX_PID=$!
STARTED_PIDS+=("$NGINX_PID")
wait_port "$NGINX_PORT" 30 || { log "nginx did not start (see nginx-start.log)"; exit 1; }
sleep 0.5
log "nginx master pid $NGINX_PID, workers $(nginx_workers) on 127.0.0.1:$NGINX_PORT"

SLUICE_THREADS=$(ls "/proc/$SLUICE_PID/task" | wc -l)
echo "sluice_threads=$SLUICE_THREADS" >> "$OUT/machine.txt"

# --- (c) idle SSE connections, first, while both servers are fresh ----------------------------------------------
idle_test() { # name url pid-list-function
    local name=$1 url=$2 pids_fn=$3 lp
    local before after after_late
    before=$(rss_kb $($pids_fn))
    timeout $((IDLE_HOLD + 180)) "$LOAD" idle-sse --url "$url" --connections "$IDLE_CONNECTIONS" --hold "$IDLE_HOLD" \
        --ramp 2000 > "$OUT/idle-$name.log" 2> "$OUT/idle-$name.err" &
    lp=$!
    if wait_line "$OUT/idle-$name.log" ESTABLISHED 150 "$lp"; then
        sleep 3
        after=$(rss_kb $($pids_fn))
        sleep 7
        after_late=$(rss_kb $($pids_fn))
    else
        note "idle-sse on $name never reported ESTABLISHED"
        after=$(rss_kb $($pids_fn)); after_late=$after
    fi
    wait "$lp" || note "idle-sse on $name exited with status $?"
    echo "before_kb=$before after_kb=$after after_late_kb=$after_late" > "$OUT/idle-$name.rss"
    log "idle $name: RSS ${before} KiB -> ${after} KiB (+10 s: ${after_late} KiB)"
}
sluice_pids() { echo "$SLUICE_PID"; }
log "(c) $IDLE_CONNECTIONS idle SSE connections: Sluice"
idle_test sluice "http://127.0.0.1:$SLUICE_PORT/events" sluice_pids
sluice_alive "idle SSE"
sleep 2
log "(c) $IDLE_CONNECTIONS idle SSE connections: nginx+nchan"
idle_test nchan "http://127.0.0.1:$NGINX_PORT/sub" nginx_workers
sleep 2

# --- (b) SSE fan-out. bench/apis/events.json starts subscribers at the newest message, as nchan's /sub does. ----
# (b) runs fanout_test (bench/common.sh) for each server.
log "(b) SSE fan-out"
fanout_test sluice "http://127.0.0.1:$SLUICE_PORT/events" "http://127.0.0.1:$SLUICE_PORT/events" sluice_pids
sluice_alive "SSE fan-out"
fanout_test nchan "http://127.0.0.1:$NGINX_PORT/sub" "http://127.0.0.1:$NGINX_PORT/pub" nginx_workers

# --- (a) plain HTTP POST -------------------------------------------------------------------------------------------
log "(a) POST"
wrk_test sluice "http://127.0.0.1:$SLUICE_PORT/events" sluice_pids
sluice_alive "wrk POST"
wrk_test nchan "http://127.0.0.1:$NGINX_PORT/pub" nginx_workers
wrk_test nginx "http://127.0.0.1:$NGINX_PORT/ok" nginx_workers

# --- report -----------------------------------------------------------------------------------------------------
grep -ciE "error|critical|warning" "$OUT/sluice.log" > "$OUT/sluice-log-problems.count" 2>/dev/null
python3 "$ROOT/bench/report.py" "$OUT" "$IDLE_CONNECTIONS" "$FANOUT_SUBSCRIBERS" "$FANOUT_RATE" "$FANOUT_SECONDS" \
    "$WRK_SECONDS" > "$OUT/results.md"
cp "$OUT/results.md" "$ROOT/bench/out/latest.md"
cat "$OUT/results.md"
log "results in $OUT/results.md"
