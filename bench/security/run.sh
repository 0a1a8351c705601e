#!/usr/bin/env bash
# The cost of a plan's security on the hottest path, in one bounded run on one machine: wrk -t1 -c64 POSTs 1 KiB
# to three APIs that differ only in their plan, in rounds (key-less, api-key, JWT RS256 in turn):
#   /open   key-less
#   /keyed  api-key (X-Gravitee-Api-Key), key stored hashed in an access file
#   /jwt    jwt, RS256 with the public key given in the plan (GIVEN_KEY); one token minted by PyJWT for all requests
# Each endpoint is the embedded log, so the security chain is the only difference. Targets: api-key >= 0.9x and
# JWT >= 0.8x of key-less.
# Usage: bench/security/run.sh   (needs wrk, swift, and .build-venv with PyJWT + cryptography, as scripts/test.sh
#        installs it). Writes bench/out/security-<UTC stamp>/ (raw logs + results.md). Stops everything it started.
# Knobs: ROUNDS=3 WRK_SECONDS=10 SKIP_BUILD=0
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
ROUNDS="${ROUNDS:-3}"
WRK_SECONDS="${WRK_SECONDS:-10}"
SKIP_BUILD="${SKIP_BUILD:-0}"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
OUT="$ROOT/bench/out/security-$STAMP"
mkdir -p "$OUT"
TMP="$(mktemp -d /tmp/sluice-bench-security.XXXXXX)"
SLUICE="$ROOT/.build/release/sluice"
STARTED_PIDS=()
source "$ROOT/bench/common.sh"
trap cleanup EXIT
trap 'exit 130' INT TERM

PYTHON="${SLUICE_PYTHON:-$ROOT/.build-venv/bin/python3}"
[ -x "$PYTHON" ] && "$PYTHON" -c "import jwt, cryptography" 2>/dev/null \
    || { log "no Python with PyJWT and cryptography at $PYTHON (scripts/test.sh makes .build-venv)"; exit 1; }
command -v wrk >/dev/null || { log "wrk is missing (apt-get install wrk)"; exit 1; }
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
    echo "git=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)$(git -C "$ROOT" diff --quiet HEAD -- Sources Package.swift 2>/dev/null || echo ' (+ uncommitted changes in Sources/Package.swift)')"
    echo "load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)"
} > "$OUT/machine.txt"

API_KEY="bench-api-key-$(date +%s%N)"
"$PYTHON" "$ROOT/bench/security/mint_token.py" "$TMP" || { log "cannot mint the token"; exit 1; }
"$PYTHON" "$ROOT/bench/security/make_apis.py" "$TMP/apis" "$TMP/public.pem" "$API_KEY" || { log "cannot write the APIs"; exit 1; }
TOKEN="$(cat "$TMP/token.txt")"

SLUICE_PORT=$(free_port)
"$SLUICE" serve --apis "$TMP/apis" --host 127.0.0.1 --port "$SLUICE_PORT" > "$OUT/sluice.log" 2>&1 &
SLUICE_PID=$!
STARTED_PIDS+=("$SLUICE_PID")
wait_port "$SLUICE_PORT" 30 || { log "Sluice did not listen (see sluice.log)"; exit 1; }
sleep 1
sluice_pids() { echo "$SLUICE_PID"; }

# Every plan must answer 202 before it is measured; one that does not is reported, not measured.
declare -A HEADER=([open]="" [keyed]="X-Gravitee-Api-Key" [jwt]="Authorization")
declare -A VALUE=([open]="" [keyed]="$API_KEY" [jwt]="Bearer $TOKEN")
PLANS=()
for plan in open keyed jwt; do
    args=(-s -o "$OUT/check-$plan.body" -w "%{http_code}" -X POST --data "check")
    [ -n "${HEADER[$plan]}" ] && args+=(-H "${HEADER[$plan]}: ${VALUE[$plan]}")
    code=$(curl "${args[@]}" "http://127.0.0.1:$SLUICE_PORT/$plan")
    echo "$plan $code" >> "$OUT/checks.txt"
    if [ "$code" = 202 ]; then PLANS+=("$plan"); else note "$plan answered $code to a valid credential: not measured ($(cat "$OUT/check-$plan.body"))"; fi
done

for round in $(seq 1 "$ROUNDS"); do
    for plan in "${PLANS[@]}"; do
        log "round $round: $plan"
        CREDENTIAL_HEADER="${HEADER[$plan]}" CREDENTIAL_VALUE="${VALUE[$plan]}" \
            with_cpu "$OUT/wrk-$plan-$round.cpu" sluice_pids timeout $((WRK_SECONDS + 30)) \
            wrk -t1 -c64 -d"${WRK_SECONDS}s" --latency -s "$ROOT/bench/wrk/post-1k.lua" \
            "http://127.0.0.1:$SLUICE_PORT/$plan" > "$OUT/wrk-$plan-$round.log" 2>&1 || note "wrk on $plan exited with status $?"
        grep -E "Requests/sec|Non-2xx|Socket errors" "$OUT/wrk-$plan-$round.log" | sed 's/^/    /' >&2
        sleep 2
    done
done
kill -0 "$SLUICE_PID" 2>/dev/null || note "Sluice exited during the run (see sluice.log)"
echo "load_at_end=$(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/machine.txt"
"$PYTHON" "$ROOT/bench/security/report.py" "$OUT" | tee "$OUT/results.md"
log "results in $OUT/results.md"
