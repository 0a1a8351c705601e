#!/usr/bin/env python3
"""librdkafka (PyPI confluent-kafka) under the same load as bench/kafka's `kafkabench` (Sluice's Kafka client).

  librdkafka_bench.py produce --bootstrap H:P --topic T [--records N] [--size B] [--partitions P] [--create]
                      [--linger-ms MS] [--batch-bytes B] [--buffer-bytes B] [--in-flight N] [--dr errors|all]
  librdkafka_bench.py latency (produce options) [--rate R]      rate-limited; per-record ack time - enqueue time
  librdkafka_bench.py consume --bootstrap H:P --topic T --records N [--fetch-max-bytes B]
                      [--max-partition-fetch-bytes B] [--consumer-buffer-bytes B] [--timeout S]
  librdkafka_bench.py memory (produce options) [--stall-broker PID] [--stall-seconds S]     produce with the broker
                      stopped (SIGSTOP) for the first S seconds, so the buffer fills; reports peak RSS

Records: `--size` bytes of value (one shared bytes object, or with --fresh-values a new one per record), key
b"%08d" % record number, acks=1, no compression, partitioner murmur2_random
(the Java client's and Sluice's choice for keyed records), so both clients put the same records on the same
partitions. Prints one JSON line. Peak memory is VmHWM from /proc/self/status.

Producer settings matched to Sluice's KafkaProducerConfiguration (linger, batchBytes, bufferBytes,
maximumInFlightRequestsPerBroker):
  linger.ms = linger, batch.size = batchBytes, batch.num.messages = 1000000 (so bytes decide),
  message.max.bytes = 2 * batchBytes (so batch.size, not the request cap, decides),
  queue.buffering.max.kbytes = bufferBytes / 1024, queue.buffering.max.messages = 2147483647 (bytes decide),
  max.in.flight.requests.per.connection = in-flight.
Throughput runs ask for delivery reports of failures only (`delivery.report.only.error`), librdkafka's fastest
setting; delivered = records - failed - still queued after flush. Latency runs take a report per record.
"""

import argparse
import json
import math
import os
import signal
import threading
import sys
import time
import uuid

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic


def memory_kib():
    rss = hwm = 0
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
    return rss, hwm


def payload(size):
    return bytes(0x61 + i % 26 for i in range(size))


def percentile(sorted_values, p):
    """Nearest rank, as the Swift side."""
    if not sorted_values:
        return float("nan")
    rank = max(0, min(len(sorted_values) - 1, math.ceil(p / 100 * len(sorted_values)) - 1))
    return sorted_values[rank]


def create_topic(args):
    admin = AdminClient({"bootstrap.servers": args.bootstrap, "client.id": "rdkbench-admin"})
    futures = admin.create_topics([NewTopic(args.topic, args.partitions, 1)], operation_timeout=10)
    for future in futures.values():
        try:
            future.result(timeout=15)
        except KafkaException as error:
            if error.args[0].name() != "TOPIC_ALREADY_EXISTS":
                raise


def producer_config(args, reports):
    return {
        "bootstrap.servers": args.bootstrap,
        "client.id": "rdkbench",
        "acks": "1",
        "linger.ms": args.linger_ms,
        "batch.size": args.batch_bytes,
        "batch.num.messages": 1000000,
        "message.max.bytes": 2 * args.batch_bytes,
        "queue.buffering.max.kbytes": args.buffer_bytes // 1024,
        "queue.buffering.max.messages": 2147483647,
        "max.in.flight.requests.per.connection": args.in_flight,
        "compression.type": "none",
        "partitioner": "murmur2_random",
        "enable.idempotence": False,
        "delivery.report.only.error": reports == "errors",
    }


def produce(args, rate_limited):
    if args.create:
        create_topic(args)
    reports = "all" if rate_limited else args.dr
    producer = Producer(producer_config(args, reports))
    # Warm-up outside the clock, as the Swift side: metadata and the connection to the leader.
    producer.list_topics(args.topic, timeout=10)
    # librdkafka opens the leader's connection (node 111) in the background, apart from the bootstrap one: give it
    # time, so the clock does not include connecting (the Swift side awaits its connection explicitly).
    time.sleep(0.5)
    value = payload(args.size)
    counts = {"delivered": 0, "failed": 0, "first_error": None}
    latencies = []
    internal = []

    def on_delivery(err, msg):
        if err is not None:
            counts["failed"] += 1
            if counts["first_error"] is None:
                counts["first_error"] = str(err)
        else:
            counts["delivered"] += 1

    rss_before, hwm_before = memory_kib()
    if args.stall_broker:
        os.kill(args.stall_broker, signal.SIGSTOP)
        timer = threading.Timer(args.stall_seconds, lambda: os.kill(args.stall_broker, signal.SIGCONT))
        timer.daemon = True
        timer.start()
    try:
        produce_loop(args, rate_limited, producer, value, counts, on_delivery, latencies, internal, reports,
                     rss_before, hwm_before)
    finally:
        if args.stall_broker:
            os.kill(args.stall_broker, signal.SIGCONT)


def produce_loop(args, rate_limited, producer, value, counts, on_delivery, latencies, internal, reports,
                 rss_before, hwm_before):
    topic = args.topic
    records = args.records
    produce_call = producer.produce
    poll = producer.poll
    template = bytearray(value)
    fresh = args.fresh_values
    started = time.monotonic()
    if rate_limited:
        monotonic_ns = time.monotonic_ns

        def report(enqueued_at):
            def callback(err, msg):
                latencies.append(monotonic_ns() - enqueued_at)
                measured = msg.latency()
                if measured is not None:
                    internal.append(measured)
                on_delivery(err, msg)

            return callback

        interval = 1.0 / args.rate
        index = 0
        while index < records:
            now = time.monotonic()
            due = started + index * interval
            if due > now:
                wait = due - now
                if wait >= 0.001:
                    poll(0.001)
                else:
                    poll(0)
                    time.sleep(wait)
                continue
            key = b"%08d" % index
            record_value = bytes(template) if fresh else value
            enqueued_at = monotonic_ns()
            produce_call(topic, record_value, key, on_delivery=report(enqueued_at))
            poll(0)
            index += 1
    else:
        for index in range(records):
            key = b"%08d" % index
            record_value = bytes(template) if fresh else value
            while True:
                try:
                    produce_call(topic, record_value, key, on_delivery=on_delivery)
                    break
                except BufferError:
                    poll(0.001)  # the buffer is full: serve reports until acknowledgements free room
            poll(0)
    enqueued = time.monotonic()
    remaining = producer.flush(120)
    finished = time.monotonic()
    rss_after, hwm_after = memory_kib()
    seconds = finished - started
    if reports == "errors":
        delivered = records - counts["failed"] - remaining
    else:
        delivered = counts["delivered"]
    result = {
        "client": "librdkafka",
        "mode": "latency" if rate_limited else "produce",
        "topic": topic,
        "records": records,
        "delivered": delivered,
        "failed": counts["failed"],
        "not_flushed": remaining,
        "seconds": round(seconds, 4),
        "records_per_s": round(delivered / seconds, 1),
        "enqueue_seconds": round(enqueued - started, 4),
        "rss_before_kib": rss_before,
        "hwm_before_kib": hwm_before,
        "hwm_kib": hwm_after,
        "rss_end_kib": rss_after,
        "buffer_bytes": args.buffer_bytes,
        "batch_bytes": args.batch_bytes,
        "linger_ms": args.linger_ms,
        "delivery_reports": reports,
        "fresh_values": args.fresh_values,
        "broker_stalled_s": args.stall_seconds if args.stall_broker else 0,
    }
    if counts["first_error"]:
        result["first_error"] = counts["first_error"]
    if rate_limited:
        latencies.sort()
        internal.sort()
        result.update(
            {
                "rate_target": float(args.rate),
                "rate_achieved": round(records / (enqueued - started), 1),
                "latency_samples": len(latencies),
                "p50_ms": round(percentile(latencies, 50) / 1e6, 3),
                "p99_ms": round(percentile(latencies, 99) / 1e6, 3),
                "p999_ms": round(percentile(latencies, 99.9) / 1e6, 3),
                "max_ms": round((latencies[-1] if latencies else 0) / 1e6, 3),
                # librdkafka's own figure (Message.latency(): produce() to the ack, without the poll that reports it)
                "internal_p50_ms": round(percentile(internal, 50) * 1e3, 3),
                "internal_p99_ms": round(percentile(internal, 99) * 1e3, 3),
            }
        )
    print(json.dumps(result), flush=True)


def consume(args):
    consumer = Consumer(
        {
            "bootstrap.servers": args.bootstrap,
            "client.id": "rdkbench",
            # librdkafka wants a group id even for assign(); nothing is joined or committed.
            "group.id": "rdkbench-" + uuid.uuid4().hex,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "enable.partition.eof": False,
            "fetch.max.bytes": args.fetch_max_bytes,
            "max.partition.fetch.bytes": args.max_partition_fetch_bytes,
            "queued.max.messages.kbytes": args.consumer_buffer_bytes // 1024,
            "fetch.wait.max.ms": 500,
            "fetch.min.bytes": 1,
        }
    )
    metadata = consumer.list_topics(args.topic, timeout=10)
    partitions = sorted(metadata.topics[args.topic].partitions)
    time.sleep(0.5)  # as in produce: the leader's connection opens in the background
    rss_before, _ = memory_kib()
    target = args.records
    count = value_bytes = errors = 0
    first = None
    started = time.monotonic()
    deadline = started + args.timeout
    consumer.assign([TopicPartition(args.topic, p, OFFSET_BEGINNING) for p in partitions])
    batch = consumer.consume
    while count < target:
        now = time.monotonic()
        if now >= deadline:
            break
        # Never ask for more than is left: consume() waits until it has num_messages or the timeout passes.
        messages = batch(num_messages=min(10000, target - count), timeout=min(1.0, deadline - now))
        for message in messages:
            if message.error():
                errors += 1
                continue
            if first is None:
                first = time.monotonic()
            count += 1
            value_bytes += len(message.value())
    last = time.monotonic()
    _, hwm_after = memory_kib()
    consumer.close()
    seconds = last - started
    print(
        json.dumps(
            {
                "client": "librdkafka",
                "mode": "consume",
                "topic": args.topic,
                "records": target,
                "consumed": count,
                "errors": errors,
                "timed_out": count < target,
                "value_bytes": value_bytes,
                "seconds": round(seconds, 4),
                "records_per_s": round(count / seconds, 1),
                "first_record_s": round((first or last) - started, 4),
                "rss_before_kib": rss_before,
                "hwm_kib": hwm_after,
            }
        ),
        flush=True,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["produce", "memory", "latency", "consume"])
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--topic", default="bench")
    parser.add_argument("--records", type=int, default=200000)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--create", action="store_true")
    parser.add_argument("--fresh-values", action="store_true",
                        help="a new bytes object per record instead of one shared object")
    parser.add_argument("--linger-ms", type=int, default=5)
    parser.add_argument("--batch-bytes", type=int, default=1024 * 1024)
    parser.add_argument("--buffer-bytes", type=int, default=32 * 1024 * 1024)
    parser.add_argument("--in-flight", type=int, default=5)
    parser.add_argument("--rate", type=int, default=10000)
    parser.add_argument("--dr", choices=["errors", "all"], default="errors")
    parser.add_argument("--fetch-max-bytes", type=int, default=50 * 1024 * 1024)
    parser.add_argument("--max-partition-fetch-bytes", type=int, default=1024 * 1024)
    parser.add_argument("--consumer-buffer-bytes", type=int, default=32 * 1024 * 1024)
    parser.add_argument("--timeout", type=int, default=120)
    parser.add_argument("--stall-broker", type=int, default=0)
    parser.add_argument("--stall-seconds", type=int, default=4)
    args = parser.parse_args()
    try:
        if args.mode in ("produce", "memory"):
            produce(args, rate_limited=False)
        elif args.mode == "latency":
            produce(args, rate_limited=True)
        else:
            consume(args)
    except Exception as error:  # one JSON line either way, for run.sh
        print(json.dumps({"client": "librdkafka", "error": f"{type(error).__name__}: {error}"}), flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
