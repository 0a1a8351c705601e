"""Summarises a bench/security/run.sh folder as Markdown: per plan the median req/s over the rounds, p50/p99,
non-2xx answers, server CPU per request, the ratio of the medians to key-less (the verdict), and, as a reading less
exposed to the machine's drift, the median of each round's ratio to the key-less round run just before it."""

import pathlib
import re
import statistics
import sys

out = pathlib.Path(sys.argv[1])
names = {"open": "key-less", "keyed": "api-key", "jwt": "JWT RS256"}
targets = {"keyed": 0.9, "jwt": 0.8}


def parse(log: pathlib.Path, cpu: pathlib.Path):
    text = log.read_text()
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    latency = re.search(r"LATENCY p50_ms=([\d.]+) p99_ms=([\d.]+)", text)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    requests = re.search(r"(\d+) requests in", text)
    fields = dict(kv.split("=") for kv in cpu.read_text().split()) if cpu.exists() else {}
    cpu_s = float(fields.get("server_cpu_s", "nan"))
    count = int(requests.group(1)) if requests else 0
    return {
        "rate": rate,
        "p50": float(latency.group(1)) if latency else float("nan"),
        "p99": float(latency.group(2)) if latency else float("nan"),
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
        "us_per_request": cpu_s * 1e6 / count if count else float("nan"),
    }


runs = {}
by_round = {}
logs = []
for log in out.glob("wrk-*-*.log"):
    match = re.fullmatch(r"wrk-(\w+)-(\d+)\.log", log.name)
    if match:
        logs.append((int(match.group(2)), match.group(1), log))
for number, plan, log in sorted(logs, key=lambda entry: (entry[0], entry[1])):
    try:
        result = parse(log, log.with_suffix(".cpu"))
    except AttributeError:
        print(f"<!-- {log.name}: no result -->")
        continue
    runs.setdefault(plan, []).append(result)
    by_round.setdefault(plan, {})[number] = result["rate"]

machine = (out / "machine.txt").read_text() if (out / "machine.txt").exists() else ""
print(f"# Plan security on the POST path ({out.name})\n")
print("```\n" + machine.strip() + "\n```\n")
if "open" not in runs:
    print("No key-less result: nothing to compare with.")
    sys.exit(0)
base = statistics.median(r["rate"] for r in runs["open"])
print("| plan | req/s (median) | per round | p50 / p99 ms (median) | non-2xx | server CPU µs/request | / key-less | median of round ratios | target |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for plan in ["open", "keyed", "jwt"]:
    if plan not in runs:
        print(f"| {names[plan]} | not measured | | | | | | | {targets.get(plan, '')} |")
        continue
    rows = runs[plan]
    rate = statistics.median(r["rate"] for r in rows)
    rounds = ", ".join(f"{r['rate']:,.0f}" for r in rows)
    p50 = statistics.median(r["p50"] for r in rows)
    p99 = statistics.median(r["p99"] for r in rows)
    non2xx = sum(r["non2xx"] for r in rows)
    us = statistics.median(r["us_per_request"] for r in rows)
    ratio = rate / base
    paired = [
        by_round[plan][number] / by_round["open"][number]
        for number in by_round[plan]
        if number in by_round["open"]
    ]
    paired_text = f"{statistics.median(paired):.2f}×" if paired else ""
    target = targets.get(plan)
    verdict = "" if target is None else f"≥ {target}× {'met' if ratio >= target else 'missed'}"
    print(f"| {names[plan]} | {rate:,.0f} | {rounds} | {p50:.2f} / {p99:.2f} | {non2xx} | {us:.1f} | {ratio:.2f}× | {paired_text} | {verdict} |")
notes = out / "notes.txt"
if notes.exists():
    print("\nNotes:\n")
    for line in notes.read_text().splitlines():
        print(f"- {line}")
