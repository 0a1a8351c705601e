#!/usr/bin/env bash
# Sluice's MQTT 5 client (bench/mqtt: mqttbench, release build) side by side with mosquitto's C clients
# (mosquitto_pub, mosquitto_sub: libmosquitto) and paho-mqtt (PyPI paho-mqtt 2.x, bench/mqtt/paho_bench.py), against
# one mosquitto 2.0 broker on a free loopback port, in the same run (issue 4 item 4):
#   publish  COUNT messages of SIZE bytes to a topic nobody subscribes to, QoS 0 and QoS 1, connect included:
#            rate = COUNT / (process start -> exit), measured here around every client's process alike (mosquitto_pub
#            reports nothing itself); mqttbench and paho_bench.py also report their rate from connected to the last
#            acknowledgement. mosquitto_pub -l reads COUNT lines of SIZE characters (+ newline, which it strips: the
#            payload is SIZE bytes) from a file; the others send one SIZE-byte payload COUNT times.
#            QoS 1: the broker's Receive Maximum is INFLIGHT (max_inflight_messages); mosquitto_pub -M INFLIGHT,
#            paho max_inflight_messages_set(INFLIGHT); Sluice's client keeps to the broker's Receive Maximum by
#            itself, with WINDOW publish calls outstanding so that a freed slot is refilled at once. Every client
#            queues what exceeds the window (mosquitto_pub and paho without limit).
#            The broker's own count ($SYS/broker/publish/messages/received, sys_interval 1) checks that all arrived.
#   receive  the receiver under test subscribes (QoS 0 or 1, Receive Maximum INFLIGHT); once the broker logs the
#            subscription, FEEDERS mosquitto_pub -l processes at once (each its share of the lines, its own
#            connection) feed COUNT messages at the same QoS, so that the feed outruns the receiver and the row
#            measures the receiver rather than one feeding process; rate = (received - 1) / (first -> last
#            receipt) as the receiver timestamps them: mosquitto_sub -F '%U' (its clock at each message), mqttbench
#            and paho_bench.py their own clocks. Every message must arrive.
# Each round runs every row for each client, the order of the clients rotating by round.
# Usage: bench/mqtt/run.sh     (from anywhere; needs swift, mosquitto + mosquitto-clients 2.0, /usr/bin/time and
#                               .build-venv with paho-mqtt, as scripts/test.sh installs them)
# QoS 1 rows send COUNT_QOS1 messages: more than 65,535 on one connection wraps the 16-bit Packet Identifier, and
# then paho (which numbers a message when publish() queues it) loses queued messages and waits for ever, and
# mosquitto 2.0.11 disconnects mosquitto_pub -l ("out of memory"; seen at 68,939 of 200,000).
# Knobs (environment): ROUNDS=3 COUNT=200000 COUNT_QOS1=60000 SIZE=256 INFLIGHT=20 WINDOW=1000 RECV_BUFFER=100000 RECV_IDLE=15
#   FEEDERS=3 SLUICE_API=enqueue SKIP_BUILD=0 ONLY="publish receive" QOS="0 1" CLIENTS="mosquitto sluice paho"
# SLUICE_API: how mqttbench publishes: enqueue (enqueuePublish: returns once the client accepted the message, as
#   mosquitto_pub -l queues its lines; the run ends when disconnect() has seen every message written or
#   acknowledged) or publish (publish(): WINDOW tasks, each awaiting the outcome of every message).
#   MQTTBENCH=/path/to/mqttbench   (another build of the Swift side, e.g. with a client change; skips the build)
# Writes bench/mqtt/.build/runs/<UTC stamp>/ (raw files, logs, report.md; git-ignored) and prints the report.
# Stops every process it started, also when interrupted.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
ROUNDS="${ROUNDS:-3}"
COUNT="${COUNT:-200000}"
COUNT_QOS1="${COUNT_QOS1:-60000}"
SIZE="${SIZE:-256}"
INFLIGHT="${INFLIGHT:-20}"
WINDOW="${WINDOW:-1000}"
RECV_BUFFER="${RECV_BUFFER:-100000}"
RECV_IDLE="${RECV_IDLE:-15}"
FEEDERS="${FEEDERS:-3}"
SLUICE_API="${SLUICE_API:-enqueue}"
SKIP_BUILD="${SKIP_BUILD:-0}"
ONLY="${ONLY:-publish receive}"
QOS="${QOS:-0 1}"
CLIENTS="${CLIENTS:-mosquitto sluice paho}"
CLIENT_TIMEOUT=600

STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
OUT="$ROOT/bench/mqtt/.build/runs/$STAMP"
mkdir -p "$OUT"
BENCH="${MQTTBENCH:-$ROOT/bench/mqtt/.build/release/mqttbench}"
[ -n "${MQTTBENCH:-}" ] && SKIP_BUILD=1  # an A/B run against another build of mqttbench
PYTHON="${SLUICE_PYTHON:-$ROOT/.build-venv/bin/python3}"
MOSQUITTO="${SLUICE_MOSQUITTO_BINARY:-$(command -v /usr/sbin/mosquitto || command -v mosquitto)}"
BROKER_PID=""
PORT=""
RECEIVER_PID=""

log() { echo "[$(date -u +%H:%M:%S)] $*" | tee -a "$OUT/run.log" >&2; }

stop_pid() { # pid
    [ -n "$1" ] || return 0
    kill -TERM "$1" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$1" 2>/dev/null
    wait "$1" 2>/dev/null
}
cleanup() { stop_pid "$RECEIVER_PID"; stop_pid "$BROKER_PID"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
now_ns() { date +%s%N; }

start_broker() {
    for _ in 1 2 3; do
        PORT=$(free_port)
        cat > "$OUT/mosquitto.conf" <<EOF
listener $PORT 127.0.0.1
allow_anonymous true
user $(id -un)
persistence false
# The Receive Maximum mosquitto announces in CONNACK: the QoS 1 publishes a client may have unacknowledged.
max_inflight_messages $INFLIGHT
# No limit on the messages queued for a subscriber beyond those in flight: QoS 0 to a receiver slower than the
# publisher waits in the broker instead of being dropped.
max_queued_messages 0
max_queued_bytes 0
sys_interval 1
log_dest file $OUT/mosquitto.log
log_type error
log_type warning
log_type notice
log_type subscribe
EOF
        "$MOSQUITTO" -c "$OUT/mosquitto.conf" > "$OUT/mosquitto.out" 2>&1 &
        BROKER_PID=$!
        for _ in $(seq 1 100); do
            if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
                log "mosquitto pid $BROKER_PID on 127.0.0.1:$PORT"
                return 0
            fi
            kill -0 "$BROKER_PID" 2>/dev/null || break
            sleep 0.1
        done
        log "mosquitto did not start on port $PORT (see $OUT/mosquitto.out); trying another port"
        stop_pid "$BROKER_PID"
        BROKER_PID=""
    done
    log "cannot start mosquitto"
    exit 1
}

broker_ticks() { awk '{print $14 + $15}' "/proc/$BROKER_PID/stat" 2>/dev/null || echo 0; }
CLK_TCK=$(getconf CLK_TCK)
cpu_seconds() { awk -v a="$1" -v b="$2" -v hz="$CLK_TCK" 'BEGIN {printf "%.2f", (b - a) / hz}'; }

# The broker's count of PUBLISH packets received so far (sys_interval 1; it can lag by up to 2 s).
broker_received() {
    sleep 2.2
    timeout 10 mosquitto_sub -V mqttv5 -h 127.0.0.1 -p "$PORT" -t '$SYS/broker/publish/messages/received' -C 1 \
        -W 5 2>/dev/null || echo -1
}

TIME_FORMAT='{"user_s": %U, "sys_s": %S, "maxrss_kib": %M}'

count_for() { if [ "$1" = 0 ]; then echo "$COUNT"; else echo "$COUNT_QOS1"; fi; }

# command_for CLIENT MODE QOS ID TOPIC: the command line of one client run, in the array COMMAND.
command_for() {
    local client=$1 mode=$2 qos=$3 id=$4 topic=$5 count
    count=$(count_for "$qos")
    case "$client/$mode" in
        mosquitto/publish) COMMAND=(mosquitto_pub -V mqttv5 -h 127.0.0.1 -p "$PORT" -i "$id" -t "$topic" -q "$qos"
            -M "$INFLIGHT" -l) ;;
        mosquitto/receive) COMMAND=(mosquitto_sub -V mqttv5 -h 127.0.0.1 -p "$PORT" -i "$id" -t "$topic" -q "$qos"
            -C "$count" -F '%U' -D connect receive-maximum "$INFLIGHT" -W "$CLIENT_TIMEOUT") ;;
        sluice/publish) COMMAND=("$BENCH" publish --port "$PORT" --client-id "$id" --topic "$topic" --qos "$qos"
            --count "$count" --size "$SIZE" --window "$WINDOW" --api "$SLUICE_API") ;;
        sluice/receive) COMMAND=("$BENCH" receive --port "$PORT" --client-id "$id" --topic "$topic" --qos "$qos"
            --count "$count" --receive-maximum "$INFLIGHT" --buffer "$RECV_BUFFER" --idle-timeout "$RECV_IDLE") ;;
        paho/publish) COMMAND=("$PYTHON" "$ROOT/bench/mqtt/paho_bench.py" publish --port "$PORT" --client-id "$id"
            --topic "$topic" --qos "$qos" --count "$count" --size "$SIZE" --max-inflight "$INFLIGHT") ;;
        paho/receive) COMMAND=("$PYTHON" "$ROOT/bench/mqtt/paho_bench.py" receive --port "$PORT" --client-id "$id"
            --topic "$topic" --qos "$qos" --count "$count" --receive-maximum "$INFLIGHT" --idle-timeout "$RECV_IDLE") ;;
    esac
}

# run_publish ROUND QOS CLIENT
run_publish() {
    local round=$1 qos=$2 client=$3 label="r$1-publish-q$2-$3" t0 t1 b0 b1 rc received0 received1 count
    count=$(count_for "$qos")
    head -n "$count" "$OUT/lines.txt" > "$OUT/lines-$count.txt"
    command_for "$client" publish "$qos" "bench-$label" "bench/publish/q$qos/$client/r$round"
    received0=$(broker_received)
    b0=$(broker_ticks)
    t0=$(now_ns)
    timeout "$CLIENT_TIMEOUT" /usr/bin/time -o "$OUT/$label.time" -f "$TIME_FORMAT" "${COMMAND[@]}" \
        < "$OUT/lines-$count.txt" > "$OUT/$label.json" 2> "$OUT/$label.err"
    rc=$?
    t1=$(now_ns)
    b1=$(broker_ticks)
    received1=$(broker_received)
    echo "{\"count\": $count, \"start_ns\": $t0, \"end_ns\": $t1, \"exit\": $rc, \"broker_cpu_s\": $(cpu_seconds "$b0" "$b1"), \"broker_received\": $((received1 - received0))}" \
        > "$OUT/$label.run"
    [ $rc = 0 ] || log "$label exited with status $rc (see $label.err)"
    log "$label: $(awk -v a="$t0" -v b="$t1" -v n="$count" 'BEGIN {printf "%.0f msg/s (process)", n / ((b - a) / 1e9)}'), broker received $((received1 - received0))"
}

# run_receive ROUND QOS CLIENT
run_receive() {
    local round=$1 qos=$2 client=$3 label="r$1-receive-q$2-$3" id topic t0 t1 b0 b1 rc p0 p1 prc size last_size idle count feeder
    count=$(count_for "$qos")
    head -n "$count" "$OUT/lines.txt" > "$OUT/lines-$count.txt"
    # Each feeder's share: every FEEDERS-th line.
    for feeder in $(seq 1 "$FEEDERS"); do
        awk -v n="$FEEDERS" -v k="$feeder" 'NR % n == k % n' "$OUT/lines-$count.txt" > "$OUT/lines-$count.part$feeder"
    done
    id="bench-$label"
    topic="bench/receive/q$qos/$client/r$round"
    command_for "$client" receive "$qos" "$id" "$topic"
    timeout "$CLIENT_TIMEOUT" /usr/bin/time -o "$OUT/$label.time" -f "$TIME_FORMAT" "${COMMAND[@]}" \
        > "$OUT/$label.json" 2> "$OUT/$label.err" &
    RECEIVER_PID=$!
    # The broker logs "<client id> <qos> <filter>" when it granted the subscription.
    for _ in $(seq 1 300); do
        grep -q " $id $qos $topic\$" "$OUT/mosquitto.log" 2>/dev/null && break
        kill -0 "$RECEIVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    grep -q " $id $qos $topic\$" "$OUT/mosquitto.log" || log "$label: no subscription in the broker's log"
    b0=$(broker_ticks)
    p0=$(now_ns)
    local feeders=() feeder
    for feeder in $(seq 1 "$FEEDERS"); do
        mosquitto_pub -V mqttv5 -h 127.0.0.1 -p "$PORT" -i "bench-$label-feed$feeder" -t "$topic" -q "$qos" \
            -M "$INFLIGHT" -l < "$OUT/lines-$count.part$feeder" 2>> "$OUT/$label.feed.err" &
        feeders+=($!)
    done
    prc=0
    for feeder in "${feeders[@]}"; do wait "$feeder" || prc=$?; done
    p1=$(now_ns)
    # mosquitto_sub has no idle timeout of its own: it is stopped when its output stops growing for RECV_IDLE s.
    last_size=-1
    idle=0
    while kill -0 "$RECEIVER_PID" 2>/dev/null; do
        sleep 0.5
        size=$(stat -c %s "$OUT/$label.json" 2>/dev/null || echo 0)
        if [ "$size" = "$last_size" ]; then idle=$((idle + 1)); else idle=0; last_size=$size; fi
        if [ "$client" = mosquitto ] && [ $idle -ge $((RECV_IDLE * 2)) ]; then
            log "$label: mosquitto_sub idle for $RECV_IDLE s; stopping it"
            kill -TERM "$RECEIVER_PID" 2>/dev/null
        fi
    done
    wait "$RECEIVER_PID"
    rc=$?
    RECEIVER_PID=""
    t1=$(now_ns)
    b1=$(broker_ticks)
    echo "{\"count\": $count, \"feed_start_ns\": $p0, \"feed_end_ns\": $p1, \"feed_exit\": $prc, \"end_ns\": $t1, \"exit\": $rc, \"broker_cpu_s\": $(cpu_seconds "$b0" "$b1")}" \
        > "$OUT/$label.run"
    [ $rc = 0 ] || log "$label exited with status $rc (see $label.err)"
    log "$label: feed $(awk -v a="$p0" -v b="$p1" -v n="$count" 'BEGIN {printf "%.0f msg/s", n / ((b - a) / 1e9)}'); $(head -c 300 "$OUT/$label.json" | head -1)"
}

wants() { [[ " $ONLY " == *" $1 "* ]]; }

# --- build (release) ---------------------------------------------------------------------------------------------
if [ "$SKIP_BUILD" != 1 ]; then
    log "building mqttbench (release)"
    timeout 5400 swift build -c release --package-path bench/mqtt --scratch-path bench/mqtt/.build \
        > "$OUT/build.log" 2>&1 || { log "build failed (see $OUT/build.log)"; exit 1; }
fi
[ -x "$BENCH" ] || { log "missing $BENCH"; exit 1; }
[ -x "$MOSQUITTO" ] || { log "missing mosquitto (Debian package mosquitto)"; exit 1; }
command -v mosquitto_pub > /dev/null && command -v mosquitto_sub > /dev/null \
    || { log "missing mosquitto_pub/mosquitto_sub (Debian package mosquitto-clients)"; exit 1; }
"$PYTHON" -c 'import paho.mqtt' 2>/dev/null || { log "missing paho-mqtt in $PYTHON"; exit 1; }

# max(COUNT, COUNT_QOS1) lines of SIZE characters: the message number, then "x"s; each run reads the first ones.
python3 -c "
import sys
count, size = int(sys.argv[1]), int(sys.argv[2])
with open(sys.argv[3], 'w') as out:
    for i in range(count):
        out.write(str(i).rjust(min(10, size), '0')[:size] + 'x' * (size - min(10, size)) + '\n')
" "$((COUNT > COUNT_QOS1 ? COUNT : COUNT_QOS1))" "$SIZE" "$OUT/lines.txt"

# --- machine -------------------------------------------------------------------------------------------------------
{
    echo "date_utc=$STAMP"
    echo "cores=$(nproc)"
    echo "memory=$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
    echo "cpu=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
    echo "kernel=$(uname -r)"
    echo "loadavg_at_start=$(cut -d' ' -f1-3 /proc/loadavg)"
    echo "swift=$(swift --version 2>/dev/null | head -1)"
    echo "mosquitto=$("$MOSQUITTO" -h 2>&1 | head -1)"
    echo "mosquitto_pub=$(mosquitto_pub --help 2>&1 | head -1)"
    echo "paho=$("$PYTHON" -c 'import paho.mqtt, sys; print(paho.mqtt.__version__, "on Python", sys.version.split()[0])')"
    echo "git=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)$(git -C "$ROOT" diff --quiet HEAD -- Sources/MQTT5 bench/mqtt 2>/dev/null || echo ' (+ uncommitted changes in Sources/MQTT5 or bench/mqtt)')"
    echo "settings: count=$COUNT count_qos1=$COUNT_QOS1 size=$SIZE inflight=$INFLIGHT window=$WINDOW recv_buffer=$RECV_BUFFER recv_idle=$RECV_IDLE feeders=$FEEDERS sluice_api=$SLUICE_API rounds=$ROUNDS qos=$QOS clients=$CLIENTS"
} > "$OUT/machine.txt"
cat "$OUT/machine.txt" >&2

start_broker
read -r -a CLIENT_LIST <<< "$CLIENTS"
for round in $(seq 1 "$ROUNDS"); do
    # Rotate the order of the clients by round.
    n=${#CLIENT_LIST[@]}
    ORDER=()
    for i in $(seq 0 $((n - 1))); do ORDER+=("${CLIENT_LIST[$(((i + round - 1) % n))]}"); done
    log "round $round of $ROUNDS: ${ORDER[*]}"
    for qos in $QOS; do
        if wants publish; then
            for client in "${ORDER[@]}"; do run_publish "$round" "$qos" "$client"; done
        fi
        if wants receive; then
            for client in "${ORDER[@]}"; do run_receive "$round" "$qos" "$client"; done
        fi
    done
done
stop_pid "$BROKER_PID"
BROKER_PID=""

# --- report ----------------------------------------------------------------------------------------------------------
echo "loadavg_at_end=$(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/machine.txt"
{
    echo "Machine and versions:"
    echo
    sed 's/^/    /' "$OUT/machine.txt"
    echo
    python3 "$ROOT/bench/mqtt/report.py" "$OUT"
} > "$OUT/report.md"
cat "$OUT/report.md"
log "results in $OUT/report.md"
