#!/usr/bin/env python3
"""librdkafka (confluent-kafka) as an oracle for the Swift Kafka client tests.

One subcommand per invocation; it prints exactly one JSON object on stdout and exits 0, or prints
{"error": {"type": ..., "message": ...}} on stdout, details on stderr, and exits 1. librdkafka's own log
lines go to stderr. Bytes (keys, values, header values) are base64 in JSON; null stays null.

Subcommands (all take --bootstrap HOST:PORT):
  create-topic --topic T --partitions N [--replication-factor R] [--config K=V ...] [--exist-ok]
  delete-topic --topic T
  topics                                   topics and their partition counts (Metadata)
  produce --topic T --records FILE|-       JSON lines {"key","value","headers":[[k,v]],"timestamp","partition"}
          [--partitioner murmur2_random] [--acks all|1|0] [--compression none|gzip|snappy|lz4|zstd]
          [--idempotent] [--linger-ms MS] [--timeout S] [--config K=V ...]
  consume --topic T --count N --timeout S [--from-beginning] [--partition P --offset O] [--config K=V ...]
  group-member --group G --topics T1,T2 [--assignor range|roundrobin|cooperative-sticky] [--max-records N]
          [--idle-seconds S] [--max-seconds S] [--commit] [--abandon] [--config K=V ...]
  partitions-for-keys --topic T --keys-file FILE|- [--partitioner murmur2_random]
  describe-group --group G
  committed --group G --topic T
  list-offsets --topic T [--partition P] --spec earliest|latest|max-timestamp|<timestamp ms>
"""

import argparse
import base64
import json
import os
import sys
import time
import traceback
import uuid

from confluent_kafka import ConsumerGroupTopicPartitions, Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic, OffsetSpec

TIMESTAMP_TYPES = {0: "not_available", 1: "create_time", 2: "log_append_time"}


class OracleError(Exception):
    """A failure reported as {"error": ...} with exit status 1."""


def b64(data):
    return None if data is None else base64.b64encode(data).decode("ascii")


def unb64(text):
    return None if text is None else base64.b64decode(text)


def config_pairs(pairs):
    conf = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep:
            raise OracleError(f"--config expects KEY=VALUE, got {pair!r}")
        conf[key] = value
    return conf


def base_config(args):
    return {"bootstrap.servers": args.bootstrap, "client.id": "kafka-oracle"}


def admin(args):
    return AdminClient(base_config(args))


def offset_or_none(offset):
    return offset if offset is not None and offset >= 0 else None


def record_json(msg):
    ts_type, ts = msg.timestamp()
    headers = msg.headers()
    return {
        "topic": msg.topic(),
        "partition": msg.partition(),
        "offset": msg.offset(),
        "key": b64(msg.key()),
        "value": b64(msg.value()),
        "headers": None if headers is None else [[k, b64(v)] for k, v in headers],
        "timestamp": ts if ts_type != 0 else None,
        "timestamp_type": TIMESTAMP_TYPES.get(ts_type, str(ts_type)),
    }


def read_lines(path):
    if path == "-":
        return sys.stdin.read()
    with open(path, encoding="utf-8") as f:
        return f.read()


def topic_partition_count(args, topic, timeout=10):
    # Metadata for all topics: asking for one unknown topic by name makes tansu create it (4 partitions).
    md = admin(args).list_topics(timeout=timeout)
    meta = md.topics.get(topic)
    if meta is None or meta.error is not None:
        raise OracleError(f"topic {topic!r} not found: {None if meta is None else meta.error}")
    return len(meta.partitions)


# ---------------------------------------------------------------------------------------------------------------
# topics


def cmd_create_topic(args):
    topic = NewTopic(
        args.topic,
        num_partitions=args.partitions,
        replication_factor=args.replication_factor,
        config=config_pairs(args.config),
    )
    client = admin(args)  # keep the handle alive until the futures are done
    futures = client.create_topics([topic], operation_timeout=args.timeout, request_timeout=args.timeout)
    try:
        futures[args.topic].result()
        created = True
    except KafkaException as e:
        err = e.args[0]
        if args.exist_ok and err.name() == "TOPIC_ALREADY_EXISTS":
            created = False
        else:
            raise
    return {"topic": args.topic, "created": created, "partitions": topic_partition_count(args, args.topic)}


def cmd_delete_topic(args):
    client = admin(args)
    futures = client.delete_topics([args.topic], operation_timeout=args.timeout, request_timeout=args.timeout)
    futures[args.topic].result()
    return {"topic": args.topic, "deleted": True}


def cmd_topics(args):
    md = admin(args).list_topics(timeout=args.timeout)
    return {
        "cluster_id": md.cluster_id,
        "controller_id": md.controller_id,
        "brokers": [{"id": b.id, "host": b.host, "port": b.port} for b in md.brokers.values()],
        "topics": {
            name: {"partitions": len(t.partitions), "error": None if t.error is None else t.error.name()}
            for name, t in sorted(md.topics.items())
        },
    }


# ---------------------------------------------------------------------------------------------------------------
# produce


def producer_config(args):
    conf = base_config(args)
    conf.update(
        {
            "partitioner": args.partitioner,
            "acks": args.acks,
            "compression.type": args.compression,
            "linger.ms": args.linger_ms,
            "message.timeout.ms": int(args.timeout * 1000),
        }
    )
    if args.idempotent:
        conf["enable.idempotence"] = True
    conf.update(config_pairs(args.config))
    return conf


def produce_all(args, records):
    """Produces `records` (dicts with bytes) and returns one delivery dict per record, in input order."""
    producer = Producer(producer_config(args))
    results = [None] * len(records)

    def reporter(index):
        def on_delivery(err, msg):
            ts_type, ts = msg.timestamp()
            results[index] = {
                "partition": msg.partition(),
                "offset": offset_or_none(msg.offset()),
                "timestamp": ts if ts_type != 0 else None,
                "timestamp_type": TIMESTAMP_TYPES.get(ts_type, str(ts_type)),
                "error": None if err is None else err.str(),
            }

        return on_delivery

    for index, record in enumerate(records):
        kwargs = {"key": record.get("key"), "value": record.get("value"), "on_delivery": reporter(index)}
        if record.get("headers") is not None:
            kwargs["headers"] = [(k, v) for k, v in record["headers"]]
        if record.get("timestamp") is not None:
            kwargs["timestamp"] = record["timestamp"]
        if record.get("partition") is not None:
            kwargs["partition"] = record["partition"]
        while True:
            try:
                producer.produce(args.topic, **kwargs)
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    remaining = producer.flush(args.timeout + 5)
    if remaining:
        raise OracleError(f"{remaining} records not delivered within {args.timeout}s")
    if str(args.acks) == "0":
        # With acks=0 a delivery report only means "written to the socket"; tansu can drop the last requests
        # of a connection that closes at once, so give it a moment before the producer disconnects.
        time.sleep(1.0)
    return results


def cmd_produce(args):
    records = []
    for number, line in enumerate(read_lines(args.records).splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise OracleError(f"records line {number}: {e}") from e
        records.append(
            {
                "key": unb64(obj.get("key")),
                "value": unb64(obj.get("value")),
                "headers": None
                if obj.get("headers") is None
                else [(k, unb64(v)) for k, v in obj["headers"]],
                "timestamp": obj.get("timestamp"),
                "partition": obj.get("partition"),
            }
        )
    delivered = produce_all(args, records)
    failed = [d for d in delivered if d["error"] is not None]
    out = {"delivered": delivered}
    if failed:
        out["error"] = {"type": "DeliveryFailed", "message": f"{len(failed)} of {len(delivered)} records failed"}
    return out


def cmd_partitions_for_keys(args):
    text = read_lines(args.keys_file)
    keys = text.split("\n")
    if keys and keys[-1] == "":
        keys.pop()
    args.acks = "1"
    args.compression = "none"
    args.idempotent = False
    args.linger_ms = 5
    args.config = []
    delivered = produce_all(args, [{"key": k.encode("utf-8"), "value": b""} for k in keys])
    failed = [d for d in delivered if d["error"] is not None]
    if failed:
        raise OracleError(f"{len(failed)} records failed, first: {failed[0]['error']}")
    return {
        "topic": args.topic,
        "partitioner": args.partitioner,
        "partition_count": topic_partition_count(args, args.topic),
        "partitions": [d["partition"] for d in delivered],
    }


# ---------------------------------------------------------------------------------------------------------------
# consume


def consumer_config(args, group=None):
    conf = base_config(args)
    conf.update(
        {
            "group.id": group or f"kafka-oracle-{uuid.uuid4()}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest" if getattr(args, "from_beginning", False) else "latest",
        }
    )
    conf.update(config_pairs(args.config))
    return conf


def cmd_consume(args):
    consumer = Consumer(consumer_config(args))
    try:
        if args.partition is not None:
            offset = args.offset if args.offset is not None else (-2 if args.from_beginning else -1)
            consumer.assign([TopicPartition(args.topic, args.partition, offset)])
        else:
            count = topic_partition_count(args, args.topic)
            start = -2 if args.from_beginning else -1
            consumer.assign([TopicPartition(args.topic, p, start) for p in range(count)])
        records, errors = [], []
        deadline = time.monotonic() + args.timeout
        while len(records) < args.count and time.monotonic() < deadline:
            msg = consumer.poll(min(0.5, max(0.01, deadline - time.monotonic())))
            if msg is None:
                continue
            if msg.error():
                errors.append(msg.error().str())
                continue
            records.append(record_json(msg))
        return {"records": records, "count": len(records), "timed_out": len(records) < args.count, "errors": errors}
    finally:
        consumer.close()


def cmd_group_member(args):
    hard_deadline = time.monotonic() + args.max_seconds
    started = time.time()
    history = []
    state = {"assigned": None, "last_activity": time.monotonic()}

    def now():
        return round(time.time() - started, 3)

    def event(name, partitions):
        parts = sorted([p.topic, p.partition] for p in partitions)
        history.append({"event": name, "at": now(), "partitions": parts})
        return parts

    def on_assign(consumer, partitions):
        state["assigned"] = event("assign", partitions)
        state["last_activity"] = time.monotonic()

    def on_revoke(consumer, partitions):
        event("revoke", partitions)
        state["assigned"] = None

    def on_lost(consumer, partitions):
        event("lost", partitions)
        state["assigned"] = None

    conf = consumer_config(args, group=args.group)
    conf["auto.offset.reset"] = "latest" if args.from_latest else "earliest"
    conf["partition.assignment.strategy"] = args.assignor
    conf["session.timeout.ms"] = args.session_timeout_ms
    conf["heartbeat.interval.ms"] = max(100, args.session_timeout_ms // 10)
    conf.update(config_pairs(args.config))
    consumer = Consumer(conf)
    topics = [t for t in args.topics.split(",") if t]
    consumer.subscribe(topics, on_assign=on_assign, on_revoke=on_revoke, on_lost=on_lost)
    records, errors, commits = [], [], 0
    stop_reason = "max-seconds"
    try:
        while time.monotonic() < hard_deadline:
            if args.max_records is not None and len(records) >= args.max_records:
                stop_reason = "max-records"
                break
            if state["assigned"] is not None and time.monotonic() - state["last_activity"] >= args.idle_seconds:
                stop_reason = "idle"
                break
            batch = consumer.consume(num_messages=100, timeout=0.2)
            good = []
            for msg in batch:
                if msg.error():
                    errors.append(msg.error().str())
                    continue
                good.append(msg)
                records.append(record_json(msg))
            if good:
                state["last_activity"] = time.monotonic()
                if args.commit:
                    consumer.commit(asynchronous=False)
                    commits += 1
        member_id = consumer.memberid()
        result = {
            "group": args.group,
            "member_id": member_id,
            "stop_reason": stop_reason,
            "records": records,
            "assignments": history,
            "commits": commits,
            "errors": errors,
        }
        if args.abandon:
            # Leave without LeaveGroup and without committing, as a crashed member would.
            print(json.dumps(result), flush=True)
            os._exit(0)
        return result
    finally:
        if not args.abandon:
            consumer.close()


# ---------------------------------------------------------------------------------------------------------------
# groups and offsets


def cmd_describe_group(args):
    client = admin(args)
    futures = client.describe_consumer_groups([args.group], request_timeout=args.timeout)
    d = futures[args.group].result()
    return {
        "group": d.group_id,
        "state": d.state.name if d.state is not None else None,
        "is_simple_consumer_group": d.is_simple_consumer_group,
        "partition_assignor": d.partition_assignor,
        "coordinator": None
        if d.coordinator is None
        else {"id": d.coordinator.id, "host": d.coordinator.host, "port": d.coordinator.port},
        "members": [
            {
                "member_id": m.member_id,
                "client_id": m.client_id,
                "host": m.host,
                "assignment": sorted([tp.topic, tp.partition] for tp in (m.assignment.topic_partitions or [])),
            }
            for m in d.members
        ],
    }


def cmd_committed(args):
    count = topic_partition_count(args, args.topic)
    client = admin(args)
    futures = client.list_consumer_group_offsets(
        [ConsumerGroupTopicPartitions(args.group, [TopicPartition(args.topic, p) for p in range(count)])],
        request_timeout=args.timeout,
    )
    result = futures[args.group].result()
    offsets = []
    for tp in sorted(result.topic_partitions, key=lambda tp: tp.partition):
        offsets.append(
            {
                "partition": tp.partition,
                "offset": offset_or_none(tp.offset),
                "metadata": tp.metadata,
                "error": None if tp.error is None else tp.error.str(),
            }
        )
    return {"group": args.group, "topic": args.topic, "offsets": offsets}


def cmd_list_offsets(args):
    specs = {
        "earliest": OffsetSpec.earliest(),
        "latest": OffsetSpec.latest(),
        "max-timestamp": OffsetSpec.max_timestamp(),
    }
    spec = specs.get(args.spec)
    if spec is None:
        spec = OffsetSpec.for_timestamp(int(args.spec))
    partitions = [args.partition] if args.partition is not None else range(topic_partition_count(args, args.topic))
    client = admin(args)
    futures = client.list_offsets(
        {TopicPartition(args.topic, p): spec for p in partitions}, request_timeout=args.timeout
    )
    offsets = []
    for tp, future in sorted(futures.items(), key=lambda item: item[0].partition):
        info = future.result()
        offsets.append({"partition": tp.partition, "offset": info.offset, "timestamp": info.timestamp})
    return {"topic": args.topic, "spec": args.spec, "offsets": offsets}


# ---------------------------------------------------------------------------------------------------------------


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name, func, help_text):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--bootstrap", required=True, help="HOST:PORT of the broker")
        p.add_argument("--timeout", type=float, default=30.0, help="seconds for the operation")
        p.add_argument("--config", action="append", default=[], metavar="KEY=VALUE", help="extra librdkafka setting")
        p.set_defaults(func=func)
        return p

    p = command("create-topic", cmd_create_topic, "create a topic")
    p.add_argument("--topic", required=True)
    p.add_argument("--partitions", type=int, required=True)
    p.add_argument("--replication-factor", type=int, default=1)
    p.add_argument("--exist-ok", action="store_true", help="no error when the topic exists")

    p = command("delete-topic", cmd_delete_topic, "delete a topic")
    p.add_argument("--topic", required=True)

    command("topics", cmd_topics, "list topics")

    def producer_options(p):
        p.add_argument("--topic", required=True)
        p.add_argument("--partitioner", default="murmur2_random")

    p = command("produce", cmd_produce, "produce records (JSON lines)")
    producer_options(p)
    p.add_argument("--records", required=True, help="file of JSON lines, or - for stdin")
    p.add_argument("--acks", default="all", choices=["all", "-1", "0", "1"])
    p.add_argument("--compression", default="none", choices=["none", "gzip", "snappy", "lz4", "zstd"])
    p.add_argument("--idempotent", action="store_true")
    p.add_argument("--linger-ms", type=int, default=5)

    p = command("partitions-for-keys", cmd_partitions_for_keys, "partition chosen for each key")
    producer_options(p)
    p.add_argument("--keys-file", required=True, help="one utf-8 key per line, or - for stdin")

    p = command("consume", cmd_consume, "consume records by assignment (no group join)")
    p.add_argument("--topic", required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--from-beginning", action="store_true")
    p.add_argument("--partition", type=int)
    p.add_argument("--offset", type=int)

    p = command("group-member", cmd_group_member, "join a consumer group, consume, commit, report")
    p.add_argument("--group", required=True)
    p.add_argument("--topics", required=True, help="comma-separated")
    p.add_argument("--assignor", default="range", choices=["range", "roundrobin", "cooperative-sticky"])
    p.add_argument("--max-records", type=int)
    p.add_argument("--idle-seconds", type=float, default=5.0, help="stop after this long without records")
    p.add_argument("--max-seconds", type=float, default=60.0, help="hard wall-clock limit")
    p.add_argument("--session-timeout-ms", type=int, default=6000)
    p.add_argument("--commit", action="store_true", help="commit synchronously after each batch")
    p.add_argument("--from-latest", action="store_true", help="auto.offset.reset=latest (default earliest)")
    p.add_argument("--abandon", action="store_true", help="exit without leaving the group (simulated crash)")

    p = command("describe-group", cmd_describe_group, "describe a consumer group")
    p.add_argument("--group", required=True)

    p = command("committed", cmd_committed, "committed offsets of a group for a topic")
    p.add_argument("--group", required=True)
    p.add_argument("--topic", required=True)

    p = command("list-offsets", cmd_list_offsets, "ListOffsets for a topic")
    p.add_argument("--topic", required=True)
    p.add_argument("--partition", type=int)
    p.add_argument("--spec", required=True, help="earliest, latest, max-timestamp or a timestamp in ms")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        result = args.func(args)
    except Exception as e:  # noqa: BLE001 - every failure becomes one JSON error object
        traceback.print_exc(file=sys.stderr)
        if isinstance(e, KafkaException) and e.args and hasattr(e.args[0], "name"):
            error = {"type": "KafkaError", "code": e.args[0].name(), "message": e.args[0].str()}
        else:
            error = {"type": type(e).__name__, "message": str(e)}
        print(json.dumps({"error": error}), flush=True)
        return 1
    print(json.dumps(result), flush=True)
    return 1 if "error" in result else 0


if __name__ == "__main__":
    sys.exit(main())
