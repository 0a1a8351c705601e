#!/usr/bin/env python3
"""paho-mqtt (PyPI paho-mqtt 2.x, MQTT 5) under the load bench/mqtt/run.sh puts on Sluice's client (mqttbench).

    paho_bench.py publish --port P --topic T --qos 0|1 --count N [--size 256] [--max-inflight 20]
    paho_bench.py receive --port P --topic T --qos 0|1 --count N [--receive-maximum 20] [--idle-timeout 10]

One thread, no loop_start(): publish() writes to the socket at once (what paho does when no network thread runs),
and client.loop() reads acknowledgements and sends what waits. publish connects, publishes N messages of SIZE
bytes (one bytes object shared by all; paho queues what exceeds max-inflight, without limit:
max_queued_messages_set(0)), waits until every on_publish came (QoS 1: PUBACK; QoS 0: written to the socket),
disconnects, and prints one JSON line. receive subscribes, writes "subscribed" to stderr, and times the first to
the N-th on_message (time.perf_counter); it gives up when no message comes for idle-timeout seconds.
"""

import argparse
import json
import sys
import time

import paho.mqtt
import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties


def make_client(args, prefix):
    client = mqtt.Client(
        callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
        client_id=args.client_id or f"{prefix}-{time.time_ns()}",
        protocol=mqtt.MQTTv5,
    )
    state = {"connected": False, "failure": None}

    def on_connect(_client, _userdata, _flags, reason_code, properties):
        if reason_code.is_failure:
            state["failure"] = str(reason_code)
        state["connected"] = True
        state["connack"] = properties

    client.on_connect = on_connect
    # Settable only before the connection: what exceeds max-inflight waits in paho's queue, without limit.
    client.max_inflight_messages_set(getattr(args, "max_inflight", 20))
    client.max_queued_messages_set(0)
    properties = None
    if getattr(args, "receive_maximum", None):
        properties = Properties(PacketTypes.CONNECT)
        properties.ReceiveMaximum = args.receive_maximum
    client.connect(args.host, args.port, keepalive=60, clean_start=True, properties=properties)
    deadline = time.monotonic() + 10
    while not state["connected"]:
        client.loop(timeout=0.1)
        if time.monotonic() > deadline:
            raise SystemExit("paho_bench: no CONNACK within 10 s")
    if state["failure"]:
        raise SystemExit(f"paho_bench: connection refused: {state['failure']}")
    return client, state


def server_receive_maximum(state):
    return getattr(state.get("connack"), "ReceiveMaximum", 65535)


def publish(args):
    started = time.perf_counter()
    client, state = make_client(args, "paho-bench-pub")
    connected = time.perf_counter()
    done = {"count": 0, "failed": 0}

    def on_publish(_client, _userdata, _mid, reason_code, _properties):
        done["count"] += 1
        if reason_code.is_failure:
            done["failed"] += 1

    client.on_publish = on_publish
    payload = b"x" * args.size
    for _ in range(args.count):
        client.publish(args.topic, payload, qos=args.qos)
    while done["count"] < args.count:
        rc = client.loop(timeout=1.0)
        if rc != mqtt.MQTT_ERR_SUCCESS:
            raise SystemExit(f"paho_bench: loop failed: {mqtt.error_string(rc)}")
    published = time.perf_counter()
    client.disconnect()
    client.loop(timeout=0.1)
    disconnected = time.perf_counter()
    return {
        "client": "paho", "mode": "publish", "qos": args.qos, "count": args.count, "size": args.size,
        "max_inflight": args.max_inflight, "server_receive_maximum": server_receive_maximum(state),
        "failed": done["failed"], "connect_s": round(connected - started, 6),
        "publish_s": round(published - connected, 6), "disconnect_s": round(disconnected - published, 6),
        "rate_in_process": round(args.count / (published - connected), 1),
    }


def receive(args):
    client, _ = make_client(args, "paho-bench-sub")
    seen = {"count": 0, "first": None, "last": None, "bytes": 0, "subscribed": False}

    def on_message(_client, _userdata, message):
        now = time.perf_counter()
        if seen["first"] is None:
            seen["first"] = now
        seen["last"] = now
        seen["count"] += 1
        seen["bytes"] += len(message.payload)

    def on_subscribe(_client, _userdata, _mid, reason_codes, _properties):
        seen["subscribed"] = reason_codes[0].value < 0x80

    client.on_message = on_message
    client.on_subscribe = on_subscribe
    client.subscribe(args.topic, qos=args.qos)
    while not seen["subscribed"]:
        client.loop(timeout=0.1)
    print("subscribed", file=sys.stderr, flush=True)
    last_count, last_change = 0, time.monotonic()
    while seen["count"] < args.count:
        client.loop(timeout=0.5)
        if seen["count"] != last_count:
            last_count, last_change = seen["count"], time.monotonic()
        elif time.monotonic() - last_change > args.idle_timeout:
            break
    client.disconnect()
    client.loop(timeout=0.1)
    elapsed = (seen["last"] - seen["first"]) if seen["first"] is not None else 0
    return {
        "client": "paho", "mode": "receive", "qos": args.qos, "count": args.count, "received": seen["count"],
        "bytes": seen["bytes"], "receive_maximum": args.receive_maximum, "first_to_last_s": round(elapsed, 6),
        "rate": round((seen["count"] - 1) / elapsed, 1) if elapsed > 0 else None,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"paho-mqtt {paho.mqtt.__version__}")
    parser.add_argument("mode", choices=["publish", "receive"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--qos", type=int, choices=[0, 1, 2], required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--max-inflight", type=int, default=20)
    parser.add_argument("--receive-maximum", type=int, default=20)
    parser.add_argument("--idle-timeout", type=float, default=10)
    parser.add_argument("--client-id")
    args = parser.parse_args()
    result = publish(args) if args.mode == "publish" else receive(args)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
