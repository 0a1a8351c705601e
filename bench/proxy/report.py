#!/usr/bin/env python3
"""Turns the raw logs of one bench/proxy/run.sh run into a markdown table (stdout)."""
import os
import statistics
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import benchlib  # noqa: E402
from benchlib import f, ratio, read, wrk  # noqa: E402

out = sys.argv[1]
benchlib.OUT = out
machine = dict(line.split("=", 1) for line in read("machine.txt").splitlines() if "=" in line)
rounds = int(machine.get("rounds", "3"))


def split(name):
    text = read(f"split-{name}.cpu")
    return {k: float(v) for k, v in (item.split("=") for item in text.split())} if text else {}


print(f"# Sluice http-proxy benchmark run {machine.get('date_utc', '?')}\n")
print(f"Sluice {machine.get('git', '?')}; {machine.get('cores', '?')} cores ({machine.get('cpu', '?')}); load "
      f"{machine.get('load_at_start', '?')} at the start, {machine.get('load_at_end', '?')} at the end; nginx "
      f"{machine.get('nginx', '?')}.\n")
print(f"`wrk -t1 -c64 -d{machine.get('wrk_seconds', '10')}s --latency` GET of a 64-byte static file through each "
      "proxy to the same nginx backend; rounds alternate. CPU: Sluice's process; the nginx workers (backend and "
      "peer proxy share them) minus the backend's share measured during the Sluice round.\n")
print("| round | Sluice req/s | nginx proxy_pass req/s | ratio | Sluice p50 / p99 ms | nginx p50 / p99 ms "
      "| Sluice CPU s | nginx proxy CPU s (est.) |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
ratios, sluice_rps, nginx_rps = [], [], []
for r in range(1, rounds + 1):
    s, n = wrk(f"sluice-{r}"), wrk(f"nginx-{r}")
    cs, cn = split(f"sluice-{r}"), split(f"nginx-{r}")
    backend_per_req = (cs.get("nginx_cpu_s", 0) / s["rps"] / 10) if s.get("rps") else 0
    proxy_cpu = cn.get("nginx_cpu_s", 0) - backend_per_req * (n.get("rps") or 0) * 10 if n.get("rps") else None
    if s.get("rps") and n.get("rps"):
        ratios.append(s["rps"] / n["rps"])
        sluice_rps.append(s["rps"])
        nginx_rps.append(n["rps"])
    print(f"| {r} | {f(s.get('rps'))} | {f(n.get('rps'))} | {ratio(s.get('rps'), n.get('rps'))} "
          f"| {f(s.get('p50'), 2)} / {f(s.get('p99'), 2)} | {f(n.get('p50'), 2)} / {f(n.get('p99'), 2)} "
          f"| {f(cs.get('sluice_cpu_s'), 1)} | {f(proxy_cpu, 1)} |")
if ratios:
    print(f"\n**Sluice / nginx proxy_pass, median of {len(ratios)} rounds: {statistics.median(ratios):.2f}** "
          f"(target >= 0.7); median req/s Sluice {statistics.median(sluice_rps):.0f}, nginx "
          f"{statistics.median(nginx_rps):.0f}.")
for r in range(1, rounds + 1):
    for side in ("sluice", "nginx"):
        w = wrk(f"{side}-{r}")
        if w.get("non2xx") or w.get("socket_errors"):
            print(f"\n{side} round {r}: non-2xx {w.get('non2xx')}, socket errors {w.get('socket_errors')}")
