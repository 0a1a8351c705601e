#!/usr/bin/env python3
"""Turns the raw logs of one bench/endpoints/run.sh run into a markdown table (stdout)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import benchlib  # noqa: E402
from benchlib import cpu, f, ratio, read, result, stolen_note, wrk  # noqa: E402

out = sys.argv[1]
benchlib.OUT = out
machine = dict(line.split("=", 1) for line in read("machine.txt").splitlines() if "=" in line)

print(f"# Sluice endpoints benchmark run {machine.get('date_utc', '?')}\n")
print(f"Sluice {machine.get('git', '?')}; {machine.get('cores', '?')} cores; load {machine.get('load_at_start', '?')} "
      f"at the start, {machine.get('load_at_end', '?')} at the end; nginx {machine.get('nginx', '?')}, "
      f"nchan {machine.get('nchan', '?')}, mosquitto {machine.get('mosquitto', '?')}, {machine.get('tansu', 'tansu ?')}.\n")

a_sluice = wrk("kafka-post")
# The limit: the better of nginx with two workers and with one (older runs have only the first).
peers = [(name, wrk(name)) for name in ("nginx", "nginx-1") if os.path.exists(os.path.join(out, f"wrk-{name}.log"))]
peers = [(name, r) for name, r in peers if r.get("rps")]
a_peer_name, a_nginx = max(peers, key=lambda p: p[1]["rps"]) if peers else ("nginx", wrk("nginx"))
if a_sluice.get("rps") or a_nginx.get("rps"):
    c_sluice, c_nginx = cpu("wrk-kafka-post"), cpu(f"wrk-{a_peer_name}")
    print("## (a) HTTP POST 1 KiB -> Kafka (acks=1), `wrk -t1 -c64`\n")
    if len(peers) > 1:
        print("nginx `return 202`: " + ", ".join(
            f"{'one worker' if name == 'nginx-1' else 'two workers'} {f(r['rps'])} req/s" for name, r in peers)
            + "; the limit below is the better.\n")
    workers = "one worker" if a_peer_name == "nginx-1" else "two workers"
    print(f"| measure | Sluice -> Kafka | nginx `return 202`, {workers} (limit) |")
    print("| --- | --- | --- |")
    print(f"| req/s | {f(a_sluice['rps'])} | {f(a_nginx['rps'])} |")
    print(f"| latency p50 / p99 / max ms | {f(a_sluice['p50'], 2)} / {f(a_sluice['p99'], 2)} / {f(a_sluice['max'], 2)} "
          f"| {f(a_nginx['p50'], 2)} / {f(a_nginx['p99'], 2)} / {f(a_nginx['max'], 2)} |")
    print(f"| non-2xx / socket errors | {a_sluice['non2xx']} / {a_sluice['socket_errors']} "
          f"| {a_nginx['non2xx']} / {a_nginx['socket_errors']} |")
    print(f"| server CPU s (Sluice with tansu) / machine busy / taken by the host | "
          f"{f(c_sluice.get('server_cpu_s'), 1)} / {f(c_sluice.get('machine_busy_pct'))}% / "
          f"{f(c_sluice.get('machine_stolen_pct'), 1)}% | {f(c_nginx.get('server_cpu_s'), 1)} / "
          f"{f(c_nginx.get('machine_busy_pct'))}% / {f(c_nginx.get('machine_stolen_pct'), 1)}% |")
    print(f"| **Sluice / nginx** | **{ratio(a_sluice['rps'], a_nginx['rps'])}** (target >= 0.5) | |\n")


def fan_row(label, name):
    sub, pub, c = result(f"fanout-{name}-sub.log"), result(f"fanout-{name}-pub.log"), cpu(f"fanout-{name}")
    if not sub:
        return None
    expected = (pub.get("ok") or 0) * (sub.get("established") or 0)
    return {
        "label": label, "rate": sub.get("delivered_per_second"), "delivered": sub.get("delivered"),
        "expected": expected, "p50": sub.get("p50_ms"), "p99": sub.get("p99_ms"), "max": sub.get("max_ms"),
        "established": sub.get("established"), "connections": sub.get("connections"),
        "dropped": sub.get("dropped_streams"), "errors": (sub.get("connect_errors") or 0) + (sub.get("bad_status") or 0)
        + (sub.get("protocol_errors") or 0) + (sub.get("socket_errors") or 0),
        "statuses": pub.get("statuses"), "pub_p99": pub.get("request_p99_ms"), "cpu": c.get("server_cpu_s"),
        "busy": c.get("machine_busy_pct"), "stolen": c.get("machine_stolen_pct"),
    }


def fan_table(title, pairs):
    rows = [(fan_row(*s), fan_row(*n)) for s, n in pairs]
    rows = [(s, n) for s, n in rows if s or n]
    if not rows:
        return
    print(f"## {title}\n")
    print("| measure | " + " | ".join(f"{s['label'] if s else '-'} | {n['label'] if n else '-'}" for s, n in rows) + " |")
    print("| --- |" + " --- | --- |" * len(rows))

    def line(name, cell):
        cells = []
        for s, n in rows:
            cells += [cell(s) if s else "n/a", cell(n) if n else "n/a"]
        print(f"| {name} | " + " | ".join(cells) + " |")

    line("delivered msg/s", lambda r: f(r["rate"]))
    line("delivered / expected", lambda r: f"{f(r['delivered'])} / {f(r['expected'])}")
    line("latency p50 / p99 / max ms", lambda r: f"{f(r['p50'], 1)} / {f(r['p99'], 1)} / {f(r['max'], 1)}")
    line("subscribers established; dropped; errors",
         lambda r: f"{f(r['established'])} of {f(r['connections'])}; {r['dropped']}; {r['errors']}")
    line("publisher statuses; request p99 ms", lambda r: f"{r['statuses']}; {f(r['pub_p99'], 1)}")
    line("server CPU s (Sluice with its broker); machine busy; taken by the host",
         lambda r: f"{f(r['cpu'], 1)}; {f(r['busy'])}%; {f(r['stolen'], 1)}%")
    ratios = []
    for s, n in rows:
        if s and n:
            ratios.append(f"{s['label']}: {ratio(s['rate'], n['rate'])}x delivered/s, p99 {f(s['p99'], 1)} vs {f(n['p99'], 1)} ms")
    if ratios:
        print("\nSluice / nchan: " + "; ".join(ratios) + "\n")


fan_table("(b) Kafka -> 1,000 subscribers (SSE, then WebSocket)",
          [(("Kafka -> SSE", "kafka-sse"), ("nchan SSE", "nchan-sse")),
           (("Kafka -> WebSocket", "kafka-ws"), ("nchan WebSocket", "nchan-ws"))])
fan_table("(c) MQTT 5 -> 1,000 SSE subscribers", [(("MQTT 5 -> SSE", "mqtt5-sse"), ("nchan SSE", "nchan-sse-c"))])
notes = f"{read('notes.txt').strip()}\n\n{stolen_note()}".strip()
print("## Notes\n\n" + (notes if notes else "none recorded") + f"\n\nSluice log lines with error/critical: "
      f"{read('sluice-log-problems.count').strip() or '0'}")
