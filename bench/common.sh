# Shell functions shared by Sluice's benchmark scripts (bench/run.sh, bench/endpoints/run.sh). The caller sets
# OUT (results folder), TMP (scratch folder), LOAD and SLUICE (binaries), SKIP_BUILD, STARTED_PIDS=() and the FANOUT_* and
# WRK_SECONDS knobs before using them, and installs `trap cleanup EXIT`.

log() { echo "[$(date -u +%H:%M:%S)] $*" | tee -a "$OUT/run.log" >&2; }
note() { echo "$*" >> "$OUT/notes.txt"; log "NOTE: $*"; }

cleanup() {
    local pid
    for pid in "${STARTED_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        local alive=0
        for pid in "${STARTED_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [ "$alive" = 0 ] && break
        sleep 0.5
    done
    for pid in "${STARTED_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null; done
    [ -f "$TMP/nginx/error.log" ] && cp "$TMP/nginx/error.log" "$OUT/nginx-error.log"
    rm -rf "$TMP"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

wait_port() { # port seconds
    python3 - "$1" "$2" <<'PY'
import socket, sys, time
port, deadline = int(sys.argv[1]), time.time() + float(sys.argv[2])
while time.time() < deadline:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close(); sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit(1)
PY
}

# Waits for a line starting with $2 in file $1, for at most $3 seconds, while process $4 lives.
wait_line() {
    local deadline=$((SECONDS + $3))
    while [ $SECONDS -lt $deadline ]; do
        grep -q "^$2" "$1" 2>/dev/null && return 0
        kill -0 "$4" 2>/dev/null || return 1
        sleep 0.2
    done
    return 1
}

rss_kb() { # pids... -> summed VmRSS in KiB
    local total=0 pid value
    for pid in "$@"; do
        value=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
        total=$((total + ${value:-0}))
    done
    echo "$total"
}

cpu_ticks() { # pids... -> summed utime+stime in clock ticks
    local total=0 pid value
    for pid in "$@"; do
        value=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)
        total=$((total + ${value:-0}))
    done
    echo "$total"
}
# busy idle stolen: "stolen" is the time a virtual machine's host ran something else while this machine had work
# (steal); a run during which the host took much of it measures the host's other tenants as well.
machine_ticks() { awk '/^cpu / {print $2+$3+$4+$6+$7+$8, $5, $9}' /proc/stat; }
CLK_TCK=$(getconf CLK_TCK)

# Runs "$@" and writes server CPU seconds (pids from $2's function), wall seconds, machine busy % and the % of the
# machine's time its host took (steal) to file $1.
with_cpu() { # file pids-function command...
    local file=$1 pids_fn=$2; shift 2
    local c0 c1 t0 t1 busy0 idle0 stolen0 busy1 idle1 stolen1 rc
    c0=$(cpu_ticks $($pids_fn)); read -r busy0 idle0 stolen0 < <(machine_ticks); t0=$(date +%s.%N)
    "$@"; rc=$?
    c1=$(cpu_ticks $($pids_fn)); read -r busy1 idle1 stolen1 < <(machine_ticks); t1=$(date +%s.%N)
    python3 -c "import sys; c0,c1,t0,t1,b0,i0,s0,b1,i1,s1,hz=map(float,sys.argv[1:]); b,i,s=b1-b0,i1-i0,s1-s0; print(f'server_cpu_s={(c1-c0)/hz:.2f} wall_s={t1-t0:.2f} machine_busy_pct={100*b/max(1,b+i):.0f} machine_stolen_pct={100*s/max(1,b+i+s):.1f}')" \
        "$c0" "$c1" "$t0" "$t1" "$busy0" "$idle0" "$stolen0" "$busy1" "$idle1" "$stolen1" "$CLK_TCK" > "$file"
    return $rc
}

fanout_test() { # name sub-url pub-url pids-function [sse|ws]
    local name=$1 mode=${5:-sse} sp
    log "fan-out $FANOUT_SUBSCRIBERS $mode subscribers x $FANOUT_RATE msg/s: $name"
    timeout $((FANOUT_SECONDS + 120)) "$LOAD" "$mode" --url "$2" --connections "$FANOUT_SUBSCRIBERS" \
        --duration $((FANOUT_SECONDS + 8)) > "$OUT/fanout-$name-sub.log" 2> "$OUT/fanout-$name-sub.err" &
    sp=$!
    if wait_line "$OUT/fanout-$name-sub.log" ESTABLISHED 60 "$sp"; then
        sleep 1
        # 32 publishing connections, one request in flight on each: the fixed rate holds even when answers slow down.
        with_cpu "$OUT/fanout-$name.cpu" "$4" \
            timeout $((FANOUT_SECONDS + 30)) "$LOAD" publish --url "$3" --rate "$FANOUT_RATE" --size 1024 \
            --duration "$FANOUT_SECONDS" --connections 32 > "$OUT/fanout-$name-pub.log" 2> "$OUT/fanout-$name-pub.err" \
            || note "publisher on $name exited with status $?"
    else
        note "subscribers on $name never reported ESTABLISHED"
    fi
    wait "$sp" || note "subscribers on $name exited with status $?"
    sleep 2
}
wrk_test() { # name url pids-function
    log "wrk POST 1 KiB: $1"
    with_cpu "$OUT/wrk-$1.cpu" "$3" timeout $((WRK_SECONDS + 30)) wrk -t1 -c64 -d"${WRK_SECONDS}s" --latency -s "$ROOT/bench/wrk/post-1k.lua" "$2" \
        > "$OUT/wrk-$1.log" 2>&1 || note "wrk on $1 exited with status $?"
    grep -E "Requests/sec|Non-2xx|Socket errors" "$OUT/wrk-$1.log" | sed 's/^/    /' >&2
    sleep 2
}

# Installs wrk, nginx and nchan when one is missing; exits when it cannot.
ensure_peers() {
    if ! command -v wrk >/dev/null || ! command -v nginx >/dev/null || [ ! -f /usr/lib/nginx/modules/ngx_nchan_module.so ]; then
        log "installing wrk, nginx, libnginx-mod-nchan"
        (timeout 300 apt-get update && timeout 600 apt-get install -y nginx libnginx-mod-nchan wrk) > "$OUT/apt.log" 2>&1 \
            || { log "cannot install the peers (see apt.log)"; exit 1; }
    fi
}

# Builds release Sluice and sluice-load (unless SKIP_BUILD=1) and checks both are there; exits otherwise.
build_release() {
    if [ "$SKIP_BUILD" != 1 ]; then
        log "building release sluice"
        timeout 1800 "$ROOT/scripts/build-release.sh" --product sluice > "$OUT/build-sluice.log" 2>&1 \
            || { log "sluice build failed (see build-sluice.log)"; exit 1; }
        log "building release sluice-load"
        timeout 900 swift build -c release --package-path bench/loadtool --scratch-path bench/loadtool/.build \
            > "$OUT/build-loadtool.log" 2>&1 || { log "load tool build failed (see build-loadtool.log)"; exit 1; }
    fi
    [ -x "$SLUICE" ] && [ -x "$LOAD" ] || { log "missing $SLUICE or $LOAD"; exit 1; }
}
