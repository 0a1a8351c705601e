#!/usr/bin/env bash
# Sluice's http-proxy against nginx proxy_pass, to the same backend, in one bounded run on the same machine:
#   (a) wrk -t1 -c64 GET /proxied/hello.txt   Sluice (type: proxy, http-proxy endpoint) | nginx proxy_pass (keepalive 64)
#   backend: nginx serving a 64-byte static file on its own port (both proxies keep pooled connections to it)
#   ROUNDS rounds, alternating Sluice and nginx; p50/p99 from wrk --latency; server CPU per side (the backend's
#   CPU is not counted on either side).
# Usage: bench/proxy/run.sh   (needs wrk, nginx, python3, swift)
# Writes bench/out/proxy-<UTC stamp>/ (raw logs + results.md). Stops everything it started.
# Knobs: ROUNDS=3 WRK_SECONDS=10 SKIP_BUILD=0
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
ROUNDS="${ROUNDS:-3}"
WRK_SECONDS="${WRK_SECONDS:-10}"
SKIP_BUILD="${SKIP_BUILD:-0}"

STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
OUT="$ROOT/bench/out/proxy-$STAMP"
mkdir -p "$OUT"
TMP="$(mktemp -d /tmp/sluice-bench-proxy.XXXXXX)"
SLUICE="${SLUICE_BINARY:-$ROOT/.build/release/sluice}"
STARTED_PIDS=()
source "$ROOT/bench/common.sh"
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! command -v wrk >/dev/null || ! command -v nginx >/dev/null; then
    log "installing wrk, nginx"
    (timeout 300 apt-get update && timeout 600 apt-get install -y nginx wrk) > "$OUT/apt.log" 2>&1 \
        || { log "cannot install the peers (see apt.log)"; exit 1; }
fi
if [ "$SKIP_BUILD" != 1 ]; then
    log "building release sluice"
    timeout 1800 "$ROOT/scripts/build-release.sh" --product sluice > "$OUT/build-sluice.log" 2>&1 \
        || { log "sluice build failed (see build-sluice.log)"; exit 1; }
fi
[ -x "$SLUICE" ] || { log "missing $SLUICE"; exit 1; }

{
    echo "date_utc=$STAMP"
    echo "cores=$(nproc)"
    echo "cpu=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
    echo "kernel=$(uname -r)"
    echo "nginx=$(nginx -v 2>&1 | sed 's/.*nginx\///')"
    echo "swift=$(swift --version 2>/dev/null | head -1)"
    echo "git=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)$(git -C "$ROOT" diff --quiet HEAD -- Sources Package.swift 2>/dev/null || echo ' (+ uncommitted changes in Sources/Package.swift)')"
    echo "load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)"
    echo "rounds=$ROUNDS"
    echo "wrk_seconds=$WRK_SECONDS"
} > "$OUT/machine.txt"

# --- backend and nginx proxy (one nginx, two servers) ---------------------------------------------------------------
BACKEND_PORT=$(free_port)
NGINX_PORT=$(free_port)
mkdir -p "$TMP/nginx/www"
printf 'hello from the backend, a small static response of 64 bytes..\n' > "$TMP/nginx/www/hello.txt"
# nginx's workers run as an unprivileged user: the file and the folders above it must be readable to them.
chmod a+rx "$TMP" "$TMP/nginx" "$TMP/nginx/www" && chmod a+r "$TMP/nginx/www/hello.txt"
sed -e "s|__PREFIX__|$TMP/nginx|g" -e "s|__BACKEND_PORT__|$BACKEND_PORT|g" -e "s|__PROXY_PORT__|$NGINX_PORT|g" \
    "$ROOT/bench/proxy/nginx.conf" > "$TMP/nginx/nginx.conf"
"$(command -v nginx || echo /usr/sbin/nginx)" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -e "$TMP/nginx/error.log" \
    -g 'daemon off;' > "$OUT/nginx.log" 2>&1 &
NGINX_PID=$!
STARTED_PIDS+=("$NGINX_PID")
wait_port "$BACKEND_PORT" 30 && wait_port "$NGINX_PORT" 30 || { log "nginx did not start (see nginx.log)"; exit 1; }

# --- Sluice -----------------------------------------------------------------------------------------------------------
mkdir -p "$TMP/apis"
sed -e "s|@BACKEND_PORT@|$BACKEND_PORT|g" "$ROOT/bench/proxy/api.json.in" > "$TMP/apis/proxied.json"
SLUICE_PORT=$(free_port)
"$SLUICE" serve --apis "$TMP/apis" --host 127.0.0.1 --port "$SLUICE_PORT" > "$OUT/sluice.log" 2>&1 &
SLUICE_PID=$!
STARTED_PIDS+=("$SLUICE_PID")
wait_port "$SLUICE_PORT" 30 || { log "Sluice did not listen (see sluice.log)"; exit 1; }
sleep 1
log "backend (nginx static) on $BACKEND_PORT, nginx proxy_pass on $NGINX_PORT, Sluice pid $SLUICE_PID on $SLUICE_PORT"

sluice_pids() { echo "$SLUICE_PID"; }
# The nginx workers serve both the backend and the peer proxy; the peer's CPU is counted as the workers' CPU minus
# the backend's share, which report.py estimates from the Sluice rounds (same backend work per request).
nginx_workers() { pgrep -P "$NGINX_PID" | tr '\n' ' '; }

check() { # url -> status line of one request, into the log
    curl -s -o "$OUT/check-$1.body" -w "%{http_code}" "$2" > "$OUT/check-$1.status" 2>&1
    log "check $1: HTTP $(cat "$OUT/check-$1.status"), $(wc -c < "$OUT/check-$1.body") bytes"
}
check sluice "http://127.0.0.1:$SLUICE_PORT/proxied/hello.txt"
check nginx "http://127.0.0.1:$NGINX_PORT/proxied/hello.txt"
for side in sluice nginx; do
    [ "$(cat "$OUT/check-$side.status")" = 200 ] || { log "$side does not answer 200 (see check-$side.*)"; exit 1; }
done

run_wrk() { # name url
    log "wrk GET: $1"
    with_cpu "$OUT/wrk-$1.cpu" both_pids timeout $((WRK_SECONDS + 30)) wrk -t1 -c64 -d"${WRK_SECONDS}s" --latency -s "$ROOT/bench/wrk/get.lua" "$2" \
        > "$OUT/wrk-$1.log" 2>&1 || note "wrk on $1 exited with status $?"
    # Per-process CPU, so the report can split the nginx workers' CPU from Sluice's.
    grep -E "Requests/sec|Non-2xx|Socket errors" "$OUT/wrk-$1.log" | sed 's/^/    /' >&2
    sleep 2
}
both_pids() { echo "$SLUICE_PID $(nginx_workers)"; }
for round in $(seq 1 "$ROUNDS"); do
    s0=$(cpu_ticks $SLUICE_PID); n0=$(cpu_ticks $(nginx_workers))
    run_wrk "sluice-$round" "http://127.0.0.1:$SLUICE_PORT/proxied/hello.txt"
    s1=$(cpu_ticks $SLUICE_PID); n1=$(cpu_ticks $(nginx_workers))
    echo "sluice_cpu_s=$(python3 -c "print(($s1-$s0)/$CLK_TCK)") nginx_cpu_s=$(python3 -c "print(($n1-$n0)/$CLK_TCK)")" \
        > "$OUT/split-sluice-$round.cpu"
    s0=$(cpu_ticks $SLUICE_PID); n0=$(cpu_ticks $(nginx_workers))
    run_wrk "nginx-$round" "http://127.0.0.1:$NGINX_PORT/proxied/hello.txt"
    s1=$(cpu_ticks $SLUICE_PID); n1=$(cpu_ticks $(nginx_workers))
    echo "sluice_cpu_s=$(python3 -c "print(($s1-$s0)/$CLK_TCK)") nginx_cpu_s=$(python3 -c "print(($n1-$n0)/$CLK_TCK)")" \
        > "$OUT/split-nginx-$round.cpu"
done
kill -0 "$SLUICE_PID" 2>/dev/null || note "Sluice exited during the run (see sluice.log)"
echo "load_at_end=$(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/machine.txt"
python3 "$ROOT/bench/proxy/report.py" "$OUT" | tee "$OUT/results.md"
log "results in $OUT/results.md"
