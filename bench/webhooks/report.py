#!/usr/bin/env python3
"""Turns the raw logs of one bench/webhooks/run.sh run into a markdown table (stdout)."""
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import benchlib  # noqa: E402
from benchlib import cpu, f, ratio, read, result, wrk  # noqa: E402

out = sys.argv[1]
benchlib.OUT = out
lines = read("machine.txt").splitlines()
settings_line = next((line for line in lines if line.startswith("subscriptions=")), "")
machine = dict(line.split("=", 1) for line in lines if "=" in line and line != settings_line)
settings = dict(re.findall(r"(\w+)=(\S+)", settings_line))

print(f"# Sluice webhook delivery benchmark run {machine.get('date_utc', '?')}\n")
print(f"Sluice {machine.get('git', '?')}; {machine.get('cores', '?')} cores; load {machine.get('load_at_start', '?')} "
      f"at the start, {machine.get('load_at_end', '?')} at the end; endpoint {machine.get('endpoint', '?')} "
      f"({machine.get('broker', '?')}); nginx {machine.get('nginx', '?')}.\n")
print(f"{settings.get('subscriptions', '?')} webhook subscriptions, {settings.get('rate', '?')} msg/s of "
      f"{settings.get('size', '?')} B for {settings.get('seconds', '?')} s per QoS, `maxConcurrentConnections` "
      f"{settings.get('concurrency', '?')} (forced to 1 under at-least-once).\n")

limit = wrk("receiver")
nginx = wrk("nginx")
rows = []
for name in sorted(n[len("receiver-sluice-"):-len(".log")] for n in os.listdir(out)
                   if n.startswith("receiver-sluice-") and n.endswith(".log")):
    received = result(f"receiver-sluice-{name}.log")
    publisher = result(f"sluice-{name}-pub.log")
    expected = dict(re.findall(r"(\w+)=(\d+)", read(f"sluice-{name}.expected")))
    rows.append((name, received, publisher, {k: int(v) for k, v in expected.items()}, cpu(f"sluice-{name}")))

if rows:
    print("## (a) deliveries to the webhook subscriptions, produce -> callback\n")
    print("| measure | " + " | ".join(name for name, *_ in rows) + " |")
    print("| --- |" + " --- |" * len(rows))

    def line(label, cell):
        print(f"| {label} | " + " | ".join(cell(*row) for row in rows) + " |")

    line("deliveries/s", lambda n, r, p, e, c: f(r.get("delivered_per_second")))
    line("delivered / expected", lambda n, r, p, e, c: f"{f(r.get('delivered'))} / {f(e.get('expected'))}")
    line("latency p50 / p99 / max ms",
         lambda n, r, p, e, c: f"{f(r.get('p50_ms'), 1)} / {f(r.get('p99_ms'), 1)} / {f(r.get('max_ms'), 1)}")
    line("callbacks reached (min / max deliveries per callback)",
         lambda n, r, p, e, c: f"{f(r.get('paths'))} ({f(r.get('min_per_path'))} / {f(r.get('max_per_path'))})")
    line("publisher statuses; request p99 ms", lambda n, r, p, e, c: f"{p.get('statuses')}; {f(p.get('request_p99_ms'), 1)}")
    line("server CPU s (Sluice with its broker); machine busy",
         lambda n, r, p, e, c: f"{f(c.get('server_cpu_s'), 1)}; {f(c.get('machine_busy_pct'))}%")
    line("**deliveries/s / receiver limit** (see below)",
         lambda n, r, p, e, c: f"**{ratio(r.get('delivered_per_second'), limit.get('rps'))}**")
    print("\nAt a fixed `RATE`, deliveries/s is `RATE` x subscriptions while Sluice keeps up (delivered = expected, p99 "
          "flat): raise `RATE` until it does not, to read the ceiling against the receiver's limit.\n")

if limit.get("rps") or nginx.get("rps"):
    print("## (b) the limit: the receiver and nginx `return 200` under `wrk -t1 -c64` POST 1 KiB\n")
    print("| measure | receiver (`sluice-load receive`) | nginx `return 200` |")
    print("| --- | --- | --- |")
    print(f"| req/s | {f(limit.get('rps'))} | {f(nginx.get('rps'))} |")
    print(f"| latency p50 / p99 / max ms | {f(limit.get('p50'), 2)} / {f(limit.get('p99'), 2)} / {f(limit.get('max'), 2)} "
          f"| {f(nginx.get('p50'), 2)} / {f(nginx.get('p99'), 2)} / {f(nginx.get('max'), 2)} |")
    print(f"| non-2xx / socket errors | {limit.get('non2xx')} / {limit.get('socket_errors')} "
          f"| {nginx.get('non2xx')} / {nginx.get('socket_errors')} |\n")

notes = read("notes.txt").strip()
if notes:
    print("## Notes\n")
    for note in notes.splitlines():
        print(f"- {note}")
