#!/usr/bin/env python3
"""Turns the raw logs of one bench/flows/run.sh run into markdown (stdout).
Usage: report.py OUT ROUNDS "VARIANTS" SUBSCRIBERS RATE SECONDS"""
import os
import re
import statistics
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import benchlib  # noqa: E402
from benchlib import cpu, f, read, result  # noqa: E402

out, rounds, variants = sys.argv[1], int(sys.argv[2]), sys.argv[3].split()
subs, rate, seconds = map(int, sys.argv[4:7])
benchlib.OUT = out
machine = dict(line.split("=", 1) for line in read("machine.txt").splitlines() if "=" in line)

print(f"# Flows (issue 7): run {machine.get('date_utc')}\n")
print(f"Machine: {machine.get('cores')} cores ({machine.get('cpu')}), {machine.get('memory')}; "
      f"{machine.get('swift')}; git {machine.get('git')}.")
print(f"Load average (1/5/15 min): start {machine.get('load_at_start')}, before (b) {machine.get('load_before_b', 'n/a')}, "
      f"before (c) {machine.get('load_before_c', 'n/a')}, end {machine.get('load_at_end')}.\n")

# --- (b) ---------------------------------------------------------------------------------------------------------
bench = read("flow-bench.log")
if bench:
    header = bench.splitlines()[0] if bench else ""
    medians = {}
    rounds_b = {}
    for line in bench.splitlines():
        fields = dict(re.findall(r"(\w+)=(\S+)", line))
        if line.startswith("median"):
            medians[fields["case"]] = fields
        elif line.startswith("round="):
            rounds_b.setdefault(fields["case"], []).append((int(fields["per_s"]), int(fields["kept"]), int(fields["operations"])))
    labels = {
        "jsonpath": "`FlowRun.process`, message-filtering `{#jsonPath(#message.content, '$.type') == 'created'}`",
        "trivial": "`FlowRun.process`, message-filtering `{#message != null}` (the flow machinery, a trivial condition)",
        "parse": "`JSONValue.parse` of the message alone (the parse `#jsonPath` runs)",
        "foundation": "Foundation `JSONSerialization.jsonObject` of the message alone",
    }
    base = int(medians.get("jsonpath", {}).get("per_s", 0)) or None
    print(f"## (b) message-filtering on one core (`taskset -c`), {header}\n")
    print("| case | median per s | ns per op | min - max per s | kept | ratio to the jsonPath filter |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, m in medians.items():
        per_s = int(m["per_s"])
        kept = rounds_b.get(name, [(0, 0, 0)])
        kept_share = sum(k for _, k, _ in kept) / max(1, sum(o for _, _, o in kept))
        print(f"| {labels.get(name, name)} | {per_s:,} | {m['ns_per_op']} | {int(m['min']):,} - {int(m['max']):,} | "
              f"{kept_share:.0%} | {per_s / base:.2f} |" if base else "| n/a |")
    if base:
        print(f"\nTarget >= 500,000 evaluations/s: {'met' if base >= 500_000 else 'missed'} ({base:,}/s, {base / 500_000:.2f}x the target).\n")

# --- (c) ---------------------------------------------------------------------------------------------------------
runs = {v: [] for v in variants}
for v in variants:
    for r in range(1, rounds + 1):
        sub, pub = result(f"fanout-{v}-{r}-sub.log"), result(f"fanout-{v}-{r}-pub.log")
        if not sub:
            continue
        expected = (pub.get("ok") or 0) * (sub.get("established") or 0)
        c = cpu(f"fanout-{v}-{r}")
        load = read(f"load-{v}-{r}.txt").strip().removeprefix("load=")
        runs[v].append(dict(round=r, rate=sub.get("delivered_per_second"), delivered=sub.get("delivered", 0),
                            expected=expected, p50=sub.get("p50_ms"), p99=sub.get("p99_ms"), max=sub.get("max_ms"),
                            established=sub.get("established", 0), cpu=c.get("server_cpu_s"),
                            busy=c.get("machine_busy_pct"), load=load, pub=pub.get("ok_per_second")))
if any(runs.values()):
    labels = {"plain": "no flow (`/plain`)",
              "filter": "message-filtering, per-subscriber condition (`/filtered`)",
              "trivial": "message-filtering `{#message != null}` (`/filter-trivial`)"}
    print(f"## (c) SSE fan-out, {subs:,} subscribers x {rate} msg/s x 1 KiB, {seconds} s of publishing, "
          f"{rounds} rounds alternating\n")
    print("| API | round | delivered msg/s | delivered / expected | latency p50 / p99 / max ms | server CPU s (msg per CPU-s) | machine busy | load avg before |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for v in variants:
        for x in runs[v]:
            per_cpu = x["delivered"] / x["cpu"] if x["cpu"] else None
            share = f"{x['delivered'] / x['expected']:.1%}" if x["expected"] else "n/a"
            print(f"| {labels.get(v, v)} | {x['round']} | {f(x['rate'], 0)} | {share} | "
                  f"{f(x['p50'], 1)} / {f(x['p99'], 1)} / {f(x['max'], 1)} | {f(x['cpu'], 1)} ({f(per_cpu, 0)}) | "
                  f"{f(x['busy'], 0)}% | {x['load']} |")
    med = {}
    print("\n| API | median delivered msg/s | median p50 ms | median p99 ms | median msg per server CPU-s | ratio to no flow (delivered/s) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    def m(values):
        values = [v for v in values if v is not None]
        return statistics.median(values) if values else None
    for v in variants:
        xs = runs[v]
        med[v] = dict(rate=m([x["rate"] for x in xs]), p50=m([x["p50"] for x in xs]), p99=m([x["p99"] for x in xs]),
                      per_cpu=m([x["delivered"] / x["cpu"] if x["cpu"] else None for x in xs]))
    for v in variants:
        base = med.get("plain", {}).get("rate")
        r = f"{med[v]['rate'] / base:.2f}" if base and med[v]["rate"] else "n/a"
        print(f"| {labels.get(v, v)} | {f(med[v]['rate'], 0)} | {f(med[v]['p50'], 1)} | {f(med[v]['p99'], 1)} | "
              f"{f(med[v]['per_cpu'], 0)} | {r} |")
    if "plain" in runs and "filter" in runs:
        per_round = []
        for a, b in zip(runs["filter"], runs["plain"]):
            if a["rate"] and b["rate"]:
                per_round.append(a["rate"] / b["rate"])
        if per_round:
            print(f"\nFilter / no flow, delivered msg/s per round: {', '.join(f'{x:.2f}' for x in per_round)}; "
                  f"median {statistics.median(per_round):.2f} (target >= 0.8).")
    problems = read("sluice-log-problems.count").strip()
    print(f"\nSluice log lines with error/warning: {problems or 'n/a'}.")
notes = read("notes.txt").strip()
if notes:
    print("\nNotes:\n" + "\n".join(f"- {line}" for line in notes.splitlines()))
