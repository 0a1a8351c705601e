#!/usr/bin/env python3
"""paho-mqtt (MQTT 5) as an oracle for the Swift MQTT 5 client tests (Tests/MQTT5BrokerTests/Interop).

One subcommand per invocation; it prints exactly one JSON object on stdout and exits 0, or prints
{"error": {"type": ..., "message": ...}} on stdout, details on stderr, and exits 1. Bytes (payloads, correlation
data) are base64 in JSON; a property the message does not carry is null (user properties: an empty list).

A message in JSON:
  {"topic": T, "payload": B64, "qos": 0|1|2, "retain": bool,
   "properties": {"user_properties": [[name, value], ...], "content_type": S, "response_topic": S,
                  "correlation_data": B64, "message_expiry_interval": N, "payload_format_indicator": 0|1,
                  "subscription_identifiers": [N, ...]}}

Subcommands (all take --host H --port P):
  subscribe --topic FILTER --qos Q --count N [--timeout S] [--ready-file F] [--client-id ID]
      subscribes, creates F once the SUBACK granted the subscription, prints {"granted": Q, "messages": [...]}
      after N messages (in arrival order), fails after S seconds (default 20) with fewer
  publish --messages FILE [--client-id ID]
      FILE holds one message per line (JSON as above, subscription_identifiers left out); publishes them in order,
      each acknowledged (QoS 1/2) before the next, and prints {"published": [{"mid": N, "reason_code": N}, ...]}
"""

import argparse
import base64
import json
import sys
import threading
import time
import traceback
import uuid

import paho.mqtt
import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties


class OracleError(Exception):
    """A failure reported as {"error": ...} with exit status 1."""


def b64(data):
    return None if data is None else base64.b64encode(bytes(data)).decode("ascii")


def unb64(text):
    return None if text is None else base64.b64decode(text)


def properties_json(properties):
    def get(name):
        return getattr(properties, name, None) if properties is not None else None

    identifiers = get("SubscriptionIdentifier")
    if identifiers is not None and not isinstance(identifiers, list):
        identifiers = [identifiers]
    return {
        "user_properties": [[name, value] for name, value in (get("UserProperty") or [])],
        "content_type": get("ContentType"),
        "response_topic": get("ResponseTopic"),
        "correlation_data": b64(get("CorrelationData")),
        "message_expiry_interval": get("MessageExpiryInterval"),
        "payload_format_indicator": get("PayloadFormatIndicator"),
        "subscription_identifiers": identifiers or [],
    }


def publish_properties(spec):
    """paho Properties for a PUBLISH from the JSON "properties" object, or None when it sets nothing."""
    spec = spec or {}
    properties = Properties(PacketTypes.PUBLISH)
    if spec.get("user_properties"):
        # paho appends on each assignment: one list keeps the order.
        properties.UserProperty = [(name, value) for name, value in spec["user_properties"]]
    if spec.get("content_type") is not None:
        properties.ContentType = spec["content_type"]
    if spec.get("response_topic") is not None:
        properties.ResponseTopic = spec["response_topic"]
    if spec.get("correlation_data") is not None:
        properties.CorrelationData = unb64(spec["correlation_data"])
    if spec.get("message_expiry_interval") is not None:
        properties.MessageExpiryInterval = spec["message_expiry_interval"]
    if spec.get("payload_format_indicator") is not None:
        properties.PayloadFormatIndicator = spec["payload_format_indicator"]
    return properties if not properties.isEmpty() else None


def connect(args, prefix):
    client = mqtt.Client(
        callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
        client_id=args.client_id or f"{prefix}-{uuid.uuid4().hex[:8]}",
        protocol=mqtt.MQTTv5,
    )
    connected = threading.Event()
    outcome = {}

    def on_connect(_client, _userdata, _flags, reason_code, _properties):
        outcome["reason_code"] = reason_code
        connected.set()

    client.on_connect = on_connect
    client.connect(args.host, args.port, keepalive=30, clean_start=True)
    client.loop_start()
    if not connected.wait(10):
        raise OracleError(f"no CONNACK from {args.host}:{args.port} within 10 s")
    if outcome["reason_code"].is_failure:
        raise OracleError(f"connection refused: {outcome['reason_code']}")
    return client


def subscribe(args):
    messages = []
    done = threading.Event()
    granted = {}
    subscribed = threading.Event()
    lock = threading.Lock()

    def on_message(_client, _userdata, message):
        with lock:
            messages.append({
                "topic": message.topic,
                "payload": b64(message.payload),
                "qos": message.qos,
                "retain": bool(message.retain),
                "properties": properties_json(getattr(message, "properties", None)),
            })
            if len(messages) >= args.count:
                done.set()

    def on_subscribe(_client, _userdata, _mid, reason_codes, _properties):
        granted["codes"] = [code.value for code in reason_codes]
        subscribed.set()

    client = connect(args, "oracle-sub")
    client.on_message = on_message
    client.on_subscribe = on_subscribe
    try:
        client.subscribe(args.topic, qos=args.qos)
        if not subscribed.wait(10):
            raise OracleError("no SUBACK within 10 s")
        if granted["codes"][0] >= 0x80:
            raise OracleError(f"subscription refused: {granted['codes']}")
        if args.ready_file:
            with open(args.ready_file, "w") as ready:
                ready.write("subscribed\n")
        if not done.wait(args.timeout):
            with lock:
                raise OracleError(f"{len(messages)} of {args.count} messages within {args.timeout} s: {messages}")
        with lock:
            received = list(messages[: args.count])
    finally:
        client.disconnect()
        client.loop_stop()
    return {"granted": granted["codes"][0], "messages": received}


def publish(args):
    with open(args.messages) as source:
        specs = [json.loads(line) for line in source if line.strip()]
    client = connect(args, "oracle-pub")
    published = []
    try:
        for spec in specs:
            info = client.publish(
                spec["topic"], unb64(spec.get("payload")) or b"", qos=spec.get("qos", 0),
                retain=bool(spec.get("retain", False)), properties=publish_properties(spec.get("properties")))
            info.wait_for_publish(timeout=10)
            if not info.is_published():
                raise OracleError(f"publish to {spec['topic']} not acknowledged within 10 s (rc {info.rc})")
            published.append({"mid": info.mid, "reason_code": info.rc})
    finally:
        client.disconnect()
        client.loop_stop()
    return {"published": published}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"paho-mqtt {paho.mqtt.__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name):
        sub = commands.add_parser(name)
        sub.add_argument("--host", default="127.0.0.1")
        sub.add_argument("--port", type=int, required=True)
        sub.add_argument("--client-id")
        return sub

    sub = command("subscribe")
    sub.add_argument("--topic", required=True)
    sub.add_argument("--qos", type=int, default=2)
    sub.add_argument("--count", type=int, required=True)
    sub.add_argument("--timeout", type=float, default=20)
    sub.add_argument("--ready-file")
    pub = command("publish")
    pub.add_argument("--messages", required=True)
    args = parser.parse_args()

    started = time.monotonic()
    try:
        result = {"subscribe": subscribe, "publish": publish}[args.command](args)
    except Exception as error:  # reported to the Swift side as JSON, with the traceback on stderr
        traceback.print_exc()
        print(json.dumps({"error": {"type": type(error).__name__, "message": str(error)}}))
        return 1
    print(f"{args.command}: {time.monotonic() - started:.2f} s", file=sys.stderr)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
