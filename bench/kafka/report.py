#!/usr/bin/env python3
"""Summarises one bench/kafka/run.sh run: reads <out>/*.json (one JSON line per client run), *.time (/usr/bin/time
of the client) and *.broker (tansu CPU during the run) and prints a Markdown report: medians over the rounds,
Sluice / librdkafka ratios, and every run's figures.

Usage: report.py OUT_DIR
"""

import glob
import json
import os
import statistics
import sys

OUT = sys.argv[1]
CLIENTS = ("sluice", "librdkafka")


def load(path):
    try:
        with open(path) as handle:
            lines = [line for line in handle.read().splitlines() if line.strip().startswith("{")]
        return json.loads(lines[-1]) if lines else None
    except (OSError, ValueError):
        return None


runs = []  # dicts: label, round, measure, client, variant, result, time, broker
for path in sorted(glob.glob(os.path.join(OUT, "r*-*.json"))):
    label = os.path.basename(path)[: -len(".json")]
    parts = label.split("-")  # r1-produce-sluice[-variant]
    run = {
        "label": label,
        "round": int(parts[0][1:]),
        "measure": parts[1],
        "client": parts[2],
        "variant": "-".join(parts[3:]),
        "result": load(path) or {},
        "time": load(path[: -len(".json")] + ".time") or {},
        "broker": load(path[: -len(".json")] + ".broker") or {},
    }
    runs.append(run)


def ok(run):
    result = run["result"]
    if not result or "error" in result:
        return False
    if run["measure"] in ("produce", "producefresh", "memory", "latency"):
        return result.get("delivered") == result.get("records") and result.get("failed", 0) == 0
    if run["measure"] == "consume":
        return result.get("consumed") == result.get("records") and not result.get("timed_out")
    return True


def select(measure, client, variant=""):
    return [r for r in runs if r["measure"] == measure and r["client"] == client and r["variant"] == variant]


def values(measure, client, key, variant="", source="result"):
    out = []
    for run in select(measure, client, variant):
        if not ok(run):
            continue
        value = run[source].get(key)
        if isinstance(value, (int, float)):
            out.append(float(value))
    return out


def med(xs):
    return statistics.median(xs) if xs else None


def fmt(x, digits=0):
    if x is None:
        return "-"
    return f"{x:,.{digits}f}"


def spread(xs, digits=0):
    if not xs:
        return "-"
    if len(xs) == 1:
        return fmt(xs[0], digits)
    return f"{fmt(med(xs), digits)} ({fmt(min(xs), digits)}–{fmt(max(xs), digits)})"


def ratio(a, b):
    return f"{a / b:.2f}×" if a and b else "-"


def cpu(run):
    t = run["time"]
    if "user_s" in t and "sys_s" in t:
        return float(t["user_s"]) + float(t["sys_s"])
    return None


def per_cpu(measure, client, variant=""):
    """Records per client CPU-second, per run."""
    out = []
    for run in select(measure, client, variant):
        c = cpu(run)
        if ok(run) and c:
            out.append(run["result"].get("delivered", run["result"].get("consumed", 0)) / c)
    return out


lines = []
add = lines.append
rounds = max((r["round"] for r in runs), default=0)
add(f"Rounds: {rounds}; figures are medians over the rounds, (min–max) after them; ratio = Sluice / librdkafka.")
add("")
add("| measure | Sluice | librdkafka | ratio |")
add("| --- | --- | --- | --- |")

s, l = values("produce", "sluice", "records_per_s"), values("produce", "librdkafka", "records_per_s")
add(f"| **produce** records/s (acks=1) | {spread(s)} | {spread(l)} | **{ratio(med(s), med(l))}** |")
s, l = per_cpu("produce", "sluice"), per_cpu("produce", "librdkafka")
add(f"| produce: records per client CPU-second | {spread(s)} | {spread(l)} | {ratio(med(s), med(l))} |")
s = values("produce", "sluice", "broker_cpu_s", source="broker")
l = values("produce", "librdkafka", "broker_cpu_s", source="broker")
sw = values("produce", "sluice", "seconds")
lw = values("produce", "librdkafka", "seconds")
add(f"| produce: tansu CPU s / run wall s | {fmt(med(s), 2)} / {fmt(med(sw), 2)} | {fmt(med(l), 2)} / {fmt(med(lw), 2)} | - |")
s, l = values("producefresh", "sluice", "records_per_s"), values("producefresh", "librdkafka", "records_per_s")
add(f"| produce, a new value object per record: records/s | {spread(s)} | {spread(l)} | {ratio(med(s), med(l))} |")
s, l = per_cpu("producefresh", "sluice"), per_cpu("producefresh", "librdkafka")
add(f"| produce, a new value object per record: records per client CPU-second | {spread(s)} | {spread(l)} | "
    f"{ratio(med(s), med(l))} |")
stats = {}
for client in CLIENTS:
    stats[client] = [x for x in (load(p) for p in sorted(glob.glob(os.path.join(OUT, f"r*-batchstats-{client}.stats"))))
                     if x and "records_per_batch" in x]
row = [spread([x["records_per_batch"] for x in stats[c]], 1) for c in CLIENTS]
add(f"| produce: records per stored batch (the topic each client wrote) | {row[0]} | {row[1]} | - |")
for variant, title in (("rdktopic", "written by librdkafka"), ("sluicetopic", "written by Sluice")):
    s = values("consume", "sluice", "records_per_s", variant)
    l = values("consume", "librdkafka", "records_per_s", variant)
    bold = "**" if variant == "rdktopic" else ""
    add(f"| {bold}consume{bold} records/s, assign → N-th record, topic {title} | {spread(s)} | {spread(l)} | "
        f"{bold}{ratio(med(s), med(l))}{bold} |")
    s = values("consume", "sluice", "first_record_s", variant)
    l = values("consume", "librdkafka", "first_record_s", variant)
    add(f"| consume ({title}): s from assign to first record | {fmt(med(s), 3)} | {fmt(med(l), 3)} | - |")
    s, l = per_cpu("consume", "sluice", variant), per_cpu("consume", "librdkafka", variant)
    add(f"| consume ({title}): records per client CPU-second | {spread(s)} | {spread(l)} | {ratio(med(s), med(l))} |")

variants = sorted({r["variant"] for r in runs if r["measure"] == "memory"}, key=lambda v: int(v.rstrip("M") or 0))
for variant in variants:
    for key, title in (("hwm_kib", "peak RSS (VmHWM)"), ("grow", "peak RSS − RSS before producing")):
        row = []
        for client in CLIENTS:
            if key == "grow":
                xs = [
                    (r["result"]["hwm_kib"] - r["result"]["rss_before_kib"]) / 1024
                    for r in select("memory", client, variant)
                    if ok(r)
                ]
            else:
                xs = [x / 1024 for x in values("memory", client, key, variant)]
            row.append(spread(xs, 1))
        add(f"| memory, buffer {variant}iB: {title}, MiB | {row[0]} | {row[1]} | - |")
for variant in variants:
    row = []
    for client in CLIENTS:
        xs = values("memory", client, "records_per_s", variant)
        row.append(spread(xs))
    add(f"| memory runs, buffer {variant}iB: records/s (for reference) | {row[0]} | {row[1]} | - |")

for key, title in (("p50_ms", "p50"), ("p99_ms", "p99"), ("p999_ms", "p99.9"), ("max_ms", "max")):
    s, l = values("latency", "sluice", key), values("latency", "librdkafka", key)
    bold = "**" if key == "p99_ms" else ""
    add(f"| {bold}latency {title}{bold} ms (ack − enqueue) | {spread(s, 2)} | {spread(l, 2)} | - |")
s, l = values("latency", "sluice", "rate_achieved"), values("latency", "librdkafka", "rate_achieved")
add(f"| latency: offered rate achieved, records/s | {spread(s)} | {spread(l)} | - |")
l = values("latency", "librdkafka", "internal_p99_ms")
add(f"| latency: librdkafka's own Message.latency() p99 ms | - | {spread(l, 2)} | - |")

add("")
add("Every run:")
add("")
add("| run | ok | records/s | s | client CPU s | tansu CPU s | peak RSS MiB | detail |")
add("| --- | --- | --- | --- | --- | --- | --- | --- |")
order = {"produce": 0, "producefresh": 1, "consume": 2, "latency": 3, "memory": 4}
for run in sorted(runs, key=lambda r: (order.get(r["measure"], 9), r["variant"], r["round"], r["client"])):
    result = run["result"]
    detail = ""
    if "error" in result:
        detail = "error: " + str(result["error"])[:120]
    elif run["measure"] == "latency":
        detail = f"p50 {result.get('p50_ms')} p99 {result.get('p99_ms')} max {result.get('max_ms')} ms"
    elif run["measure"] == "consume":
        detail = f"{result.get('consumed')} of {result.get('records')}, first after {result.get('first_record_s')} s"
    elif run["measure"] in ("produce", "producefresh", "memory"):
        detail = f"{result.get('delivered')} of {result.get('records')} acked, {result.get('failed')} failed"
        if result.get("first_error"):
            detail += f" ({result['first_error'][:80]})"
    hwm = result.get("hwm_kib")
    add(
        f"| {run['label']} | {'yes' if ok(run) else '**no**'} | {fmt(result.get('records_per_s'))} | "
        f"{fmt(result.get('seconds'), 2)} | {fmt(cpu(run), 2)} | {fmt(run['broker'].get('broker_cpu_s'), 2)} | "
        f"{fmt(hwm / 1024 if hwm else None, 1)} | {detail} |"
    )
print("\n".join(lines))
