#!/usr/bin/env bash
# The management API's benchmarks (release build):
#  1. requests/s for reads under wrk: GET one API, GET a list page (perPage=10 of 50 APIs), on SQLite and on
#     PostgreSQL (`sluice serve --role management`);
#  2. the time from a management change (revoking an API key through node A's management API) to its effect on a
#     second gateway node B (B refuses the key), over N changes, median and p99, on PostgreSQL with two
#     `sluice serve` processes.
# Usage: bench/management/run.sh        (knobs: WRK_SECONDS=10 WRK_CONNECTIONS=32 CHANGES=100 SKIP_BUILD=1)
# Needs: wrk, Python 3 with httpx (the project's .build-venv), Debian's postgresql server binaries.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
WRK_SECONDS=${WRK_SECONDS:-10}
WRK_CONNECTIONS=${WRK_CONNECTIONS:-32}
CHANGES=${CHANGES:-100}
PYTHON=${PYTHON:-$ROOT/.build-venv/bin/python}
[ -x "$PYTHON" ] || PYTHON=python3
OUT=${OUT:-$ROOT/bench/out/management-$(date -u +%Y%m%d-%H%M%S)}
TMP=$(mktemp -d /tmp/sluice-mgmt-bench-XXXXXX)
chmod 755 "$TMP" # the PostgreSQL server runs as the postgres user when this runs as root
mkdir -p "$OUT"
STARTED_PIDS=()
TOKEN=bench-admin-token-0123456789abcdef
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)

log() { echo "[$(date -u +%H:%M:%S)] $*" | tee -a "$OUT/run.log" >&2; }
cleanup() {
    for pid in "${STARTED_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    sleep 3
    for pid in "${STARTED_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() {
    for _ in $(seq 1 300); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "nothing listens on $1" >&2
    return 1
}

if [ -z "${SKIP_BUILD:-}" ]; then
    log "building sluice (release)"
    "$ROOT/scripts/build-release.sh" --product sluice >"$OUT/build.log" 2>&1
fi
SLUICE=$("$ROOT/scripts/build-release.sh" --show-bin-path)/sluice

start_postgres() { # -> sets PG_URL
    local port dir
    port=$(free_port)
    dir=$TMP/pg-$port
    mkdir -p "$dir"
    local as=()
    if [ "$(id -u)" = 0 ]; then chown -R postgres:postgres "$dir"; as=(runuser -u postgres --); fi
    "${as[@]}" "$PG_BIN/initdb" -D "$dir/data" -U sluice --auth=trust -E UTF8 -N >"$OUT/initdb-$port.log" 2>&1
    "${as[@]}" "$PG_BIN/postgres" -D "$dir/data" -p "$port" -h 127.0.0.1 -k "$dir" -c max_connections=200 \
        >"$OUT/postgres-$port.log" 2>&1 &
    STARTED_PIDS+=($!)
    wait_port "$port"
    sleep 1
    PG_URL="postgres://sluice@127.0.0.1:$port/postgres"
}

start_sluice() { # name role store-args... -> sets PORT_<name>, MPORT_<name>
    local name=$1 role=$2
    shift 2
    local port mport
    port=$(free_port)
    mport=$(free_port)
    SLUICE_MANAGEMENT_ADMIN_TOKEN=$TOKEN SLUICE_LOG_LEVEL=warning SLUICE_STORE_POLL_INTERVAL_MS=${POLL_MS:-500} \
        "$SLUICE" serve --role "$role" --host 127.0.0.1 --port "$port" --management-port "$mport" "$@" \
        >"$OUT/sluice-$name.log" 2>&1 &
    STARTED_PIDS+=($!)
    if [ "$role" != gateway ]; then wait_port "$mport"; fi
    if [ "$role" != management ]; then wait_port "$port"; fi
    printf -v "PORT_$name" '%s' "$port"
    printf -v "MPORT_$name" '%s' "$mport"
}

reads() { # label management-port
    local label=$1 base="http://127.0.0.1:$2"
    "$PYTHON" "$ROOT/bench/management/seed.py" "$base" "$TOKEN" 50 >>"$OUT/run.log"
    for target in "apis/bench-1" "apis?page=2&perPage=10"; do
        log "$label: wrk GET $target"
        wrk -t1 -c"$WRK_CONNECTIONS" -d"${WRK_SECONDS}s" --latency -H "Authorization: Bearer $TOKEN" \
            "$base/management/v2/environments/DEFAULT/$target" >"$OUT/wrk-$label-$(echo "$target" | tr '/?&=' '____').txt"
        grep -E "Requests/sec|Non-2xx|99%|50%" "$OUT/wrk-$label-$(echo "$target" | tr '/?&=' '____').txt" | tee -a "$OUT/run.log"
    done
}

log "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; load: $(cut -d' ' -f1-3 /proc/loadavg)"
top -b -n 1 | sed -n 7,14p >>"$OUT/run.log"

log "1. reads on SQLite"
start_sluice sqlite management --store sqlite --data-dir "$TMP/sqlite"
reads sqlite "$MPORT_sqlite"

log "1. reads on PostgreSQL"
start_postgres
start_sluice pgread management --store postgres --postgres-url "$PG_URL"
reads postgres "$MPORT_pgread"

log "2. revocation through node A seen by node B (PostgreSQL, two processes)"
start_postgres
start_sluice a all --store postgres --postgres-url "$PG_URL"
start_sluice b gateway --store postgres --postgres-url "$PG_URL"
"$PYTHON" "$ROOT/bench/management/propagation.py" "http://127.0.0.1:$MPORT_a" "http://127.0.0.1:$PORT_b" "$TOKEN" \
    "$CHANGES" | tee "$OUT/propagation.txt"
log "results in $OUT"
