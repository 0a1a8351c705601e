#!/usr/bin/env python3
"""Turns the raw logs of one bench/run.sh run into a markdown table (stdout)."""
import json
import os
import re
import sys

out, idle_n, subs, rate, fan_seconds, wrk_seconds = sys.argv[1], *map(int, sys.argv[2:])


import benchlib
from benchlib import cpu, f, ratio, read, result, rss, wrk

benchlib.OUT = out


machine = dict(line.split("=", 1) for line in read("machine.txt").splitlines() if "=" in line)
w = {name: wrk(name) for name in ("sluice", "nchan", "nginx")}
fan = {name: (result(f"fanout-{name}-sub.log"), result(f"fanout-{name}-pub.log")) for name in ("sluice", "nchan")}
idle = {name: (result(f"idle-{name}.log"), rss(name)) for name in ("sluice", "nchan")}

rows = []
rows.append(("**(a) POST 1 KiB**, `wrk -t1 -c64 -d%ds`: req/s" % wrk_seconds,
             f(w["sluice"]["rps"], 0), f(w["nchan"]["rps"], 0), f(w["nginx"]["rps"], 0)))
rows.append(("(a) latency p50 / p99 ms",
             *(f"{f(w[n]['p50'], 2)} / {f(w[n]['p99'], 2)}" for n in ("sluice", "nchan", "nginx"))))
rows.append(("(a) non-2xx answers / socket errors",
             *(f"{f(w[n]['non2xx'])} / {f(w[n]['socket_errors'])}" for n in ("sluice", "nchan", "nginx"))))
def wrk_cpu(n):
    c = cpu(f"wrk-{n}")
    if not c or not w[n]["requests"]:
        return "n/a"
    per = w[n]["requests"] / c["server_cpu_s"] if c["server_cpu_s"] else None
    return f"{c['server_cpu_s']:.1f} s ({f(per, 0)} req per CPU-s); machine {c['machine_busy_pct']:.0f}% busy"


rows.append(("(a) server CPU used (of 2 cores x run), requests per server CPU-second",
             *(wrk_cpu(n) for n in ("sluice", "nchan", "nginx"))))
rows.append(("(a) ratio Sluice / peer", "1.00", ratio(w["sluice"]["rps"], w["nchan"]["rps"]),
             ratio(w["sluice"]["rps"], w["nginx"]["rps"])))

expected_rate = subs * rate


def fan_cells(key):
    cells = []
    for name in ("sluice", "nchan"):
        sub, pub = fan[name]
        if key == "rate":
            cells.append(f(sub.get("delivered_per_second"), 0))
        elif key == "ratio":
            expected = (pub.get("ok") or 0) * (sub.get("established") or 0)
            cells.append(f"{sub.get('delivered', 0):,} / {expected:,} ({sub.get('delivered', 0) / expected:.1%})"
                         if expected else "n/a")
        elif key == "lat":
            cells.append(f"{f(sub.get('p50_ms'), 1)} / {f(sub.get('p99_ms'), 1)} / {f(sub.get('max_ms'), 1)}")
        elif key == "subs":
            cells.append(f"{sub.get('established', 0):,} of {subs:,}; errors {sub.get('connect_errors', 0) + sub.get('bad_status', 0) + sub.get('protocol_errors', 0) + sub.get('socket_errors', 0)}, dropped {sub.get('dropped_streams', 0)}")
        elif key == "cpu":
            c = cpu(f"fanout-{name}")
            delivered = sub.get("delivered") or 0
            cells.append(f"{c['server_cpu_s']:.1f} s over {c['wall_s']:.0f} s ({f(delivered / c['server_cpu_s'] if c['server_cpu_s'] else None, 0)} msg per CPU-s); machine {c['machine_busy_pct']:.0f}% busy"
                         if c else "n/a")
        elif key == "pub":
            cells.append(f"{f(pub.get('ok_per_second'), 0)} msg/s ok; statuses {pub.get('statuses', 'n/a')}; p99 {f(pub.get('request_p99_ms'), 1)} ms")
    return cells


rows.append((f"**(b) SSE fan-out**, {subs:,} subscribers x {rate} msg/s x 1 KiB, {fan_seconds} s: delivered msg/s "
             f"(offered {expected_rate:,})", *fan_cells("rate"), "-"))
rows.append(("(b) delivered / expected (publisher 2xx x subscribers)", *fan_cells("ratio"), "-"))
rows.append(("(b) delivery latency p50 / p99 / max ms", *fan_cells("lat"), "-"))
rows.append(("(b) subscribers", *fan_cells("subs"), "-"))
rows.append(("(b) server CPU during publishing, deliveries per server CPU-second", *fan_cells("cpu"), "-"))
rows.append(("(b) publisher", *fan_cells("pub"), "-"))


def idle_cells(key):
    cells = []
    for name in ("sluice", "nchan"):
        res, r = idle[name]
        est = res.get("established") or 0
        if key == "est":
            cells.append(f"{est:,} of {idle_n:,} in {f(res.get('establish_seconds'), 1)} s; dropped {res.get('dropped_streams', 0)}")
        elif key == "rss":
            cells.append(f"{f(r.get('before_kb', 0) / 1024, 1)} -> {f(r.get('after_kb', 0) / 1024, 1)} (+10 s: {f(r.get('after_late_kb', 0) / 1024, 1)})"
                         if r else "n/a")
        elif key == "per":
            if r and est:
                delta = max(r["after_kb"], r["after_late_kb"]) - r["before_kb"]
                cells.append(f"{delta * 1024 / est / 1024:.1f} KiB ({delta * 1024 / est:,.0f} B)")
            else:
                cells.append("n/a")
    return cells


rows.append((f"**(c) {idle_n:,} idle SSE connections**: established", *idle_cells("est"), "-"))
rows.append(("(c) server RSS before -> with connections, MiB", *idle_cells("rss"), "-"))
rows.append(("(c) RSS per connection (larger of the two samples)", *idle_cells("per"), "-"))

print(f"# Sluice benchmark run {machine.get('date_utc', '')}\n")
print("| measure | Sluice | nginx + nchan | nginx `return 202` (limit) |")
print("| --- | --- | --- | --- |")
for row in rows:
    print("| " + " | ".join(row) + " |")
print()
print("## Conditions")
print(f"- Machine: {machine.get('cores')} cores ({machine.get('cpu')}), {machine.get('memory')}, Linux {machine.get('kernel')}; "
      f"nginx {machine.get('nginx')}, nchan {machine.get('nchan')}, wrk {machine.get('wrk')}; {machine.get('swift')}.")
print(f"- Sluice commit {machine.get('git')}, release build, `sluice serve --apis bench/apis` (in-memory log, subscribers start at the newest message, "
      f"keyless plan), default settings: NIO `MultiThreadedEventLoopGroup.singleton` (one event loop per core = "
      f"{machine.get('cores')}) plus Swift's cooperative pool; {machine.get('sluice_threads')} OS threads at start.")
print("- nginx: `worker_processes 2`, `access_log off`, nchan channel `events`, `nchan_message_buffer_length 100`, "
      "subscribers start at the newest message (as Sluice SSE without Last-Event-ID). Memory = sum of VmRSS of the 2 workers.")
print("- The load generators (wrk, 1 thread; sluice-load, 1 event-loop thread) run on the same 2 cores as the "
      "server under test, so every figure is a lower bound shared with the client's CPU use; compare columns, not absolutes.")
print("- Delivery latency = subscriber receive wall clock - `t=<unix nanos>;` written by the publisher into the "
      "content just before the POST (same machine clock). Delivered msg/s is measured between the first and last "
      "delivery seen by the subscribers.")
print(f"- Raw logs: `{os.path.relpath(out, os.path.join(os.path.dirname(__file__), '..'))}/`.")
notes = read("notes.txt").strip()
problems = read("sluice-log-problems.count").strip()
print()
print("## Problems seen in this run")
if notes:
    for line in notes.splitlines():
        print(f"- {line}")
if problems and problems != "0":
    print(f"- sluice.log has {problems} lines mentioning error/warning/critical.")
if not notes and (not problems or problems == "0"):
    print("- none recorded")
