"""Summarises bench/observe/run.sh: requests/s per round, off and on, and the on/off ratio; tracing off (with a
traceparent on every request) and on, and their ratio."""
import pathlib
import re
import sys

out = pathlib.Path(sys.argv[1])


def rate(name):
    path = out / f"wrk-{name}.log"
    if not path.exists():
        return 0.0, 0
    text = path.read_text(errors="replace")
    match = re.search(r"Requests/sec:\s+([\d.]+)", text)
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    return float(match.group(1)) if match else 0.0, int(errors.group(1)) if errors else 0


rounds = sorted({int(p.stem.split("-")[-1]) for p in out.glob("wrk-off-*.log")})
print("| round | off req/s | metrics req/s | metrics + access log req/s | metrics/off | on/off |")
print("| --- | --- | --- | --- | --- | --- |")
total_off = total_metrics = total_on = 0.0
non2xx = 0
for r in rounds:
    (off, e1), (metrics, e2), (on, e3) = rate(f"off-{r}"), rate(f"metrics-{r}"), rate(f"on-{r}")
    non2xx += e1 + e2 + e3
    total_off += off
    total_metrics += metrics
    total_on += on
    print(f"| {r} | {off:,.0f} | {metrics:,.0f} | {on:,.0f} | {metrics / off if off else 0:.3f} | {on / off if off else 0:.3f} |")
n = max(len(rounds), 1)
print(
    f"| all | {total_off / n:,.0f} | {total_metrics / n:,.0f} | {total_on / n:,.0f} | "
    f"**{total_metrics / total_off if total_off else 0:.3f}** | **{total_on / total_off if total_off else 0:.3f}** |")


def cpu_per_request(name):
    text = (out / f"wrk-{name}.cpu").read_text() if (out / f"wrk-{name}.cpu").exists() else ""
    cpu = re.search(r"server_cpu_s=([\d.]+)", text)
    wall = re.search(r"wall_s=([\d.]+)", text)
    requests, _ = rate(name)
    if not cpu or not wall or not requests:
        return None
    return float(cpu.group(1)) / (requests * float(wall.group(1))) * 1e6


def median(values):
    values = sorted(v for v in values if v is not None)
    return values[len(values) // 2] if values else 0


print()
round_ratios = [rate(f"on-{r}")[0] / rate(f"off-{r}")[0] for r in rounds if rate(f"off-{r}")[0]]
metric_ratios = [rate(f"metrics-{r}")[0] / rate(f"off-{r}")[0] for r in rounds if rate(f"off-{r}")[0]]
print(f"median of round ratios: metrics/off {median(metric_ratios):.3f}, on/off {median(round_ratios):.3f}")
cpu = {v: median([cpu_per_request(f"{v}-{r}") for r in rounds]) for v in ("off", "metrics", "on")}
print(
    "server CPU per request (Sluice + tansu, median of rounds): "
    + ", ".join(f"{v} {cpu[v]:.1f} µs" for v in ("off", "metrics", "on"))
    + (f"; on/off {cpu['on'] / cpu['off']:.3f}" if cpu["off"] else ""))
print()
lines = (out / "access-log-lines.count").read_text().strip() if (out / "access-log-lines.count").exists() else "?"
print(f"non-2xx answers: {non2xx}; access log lines written by 'on': {lines}")
print()
trace_rounds = [r for r in rounds if (out / f"wrk-traced-{r}.log").exists()]
if trace_rounds:
    variants = ["off", "trace-off", "traced", "unsampled"]
    print("| round | off req/s | trace-off req/s (traceparent sent) | traced req/s (sampled) | traced req/s (not sampled) "
          "| trace-off/off | traced/trace-off | unsampled/trace-off |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    sums = dict.fromkeys(variants, 0.0)
    for r in trace_rounds:
        values = {}
        for v in variants:
            values[v], errors = rate(f"{v}-{r}")
            sums[v] += values[v]
            if v != "off":
                non2xx += errors

        def ratio(a, b):
            return a / b if b else 0

        print(f"| {r} | " + " | ".join(f"{values[v]:,.0f}" for v in variants)
              + f" | {ratio(values['trace-off'], values['off']):.3f} | {ratio(values['traced'], values['trace-off']):.3f}"
              + f" | {ratio(values['unsampled'], values['trace-off']):.3f} |")
    n = len(trace_rounds)
    print("| all | " + " | ".join(f"{sums[v] / n:,.0f}" for v in variants)
          + f" | **{ratio(sums['trace-off'], sums['off']):.3f}** | **{ratio(sums['traced'], sums['trace-off']):.3f}**"
          + f" | **{ratio(sums['unsampled'], sums['trace-off']):.3f}** |")

    def median_ratio(a, b):
        return median([rate(f"{a}-{r}")[0] / rate(f"{b}-{r}")[0] for r in trace_rounds if rate(f"{b}-{r}")[0]])

    print(f"median of round ratios: trace-off/off {median_ratio('trace-off', 'off'):.3f}, "
          f"traced/trace-off {median_ratio('traced', 'trace-off'):.3f}, "
          f"unsampled/trace-off {median_ratio('unsampled', 'trace-off'):.3f}")
    tcpu = {v: median([cpu_per_request(f"{v}-{r}") for r in trace_rounds]) for v in variants[1:]}
    print("server CPU per request (median of rounds): "
          + ", ".join(f"{v} {tcpu[v]:.1f} µs" for v in variants[1:])
          + " (traced and unsampled include the OTLP sink's CPU)")
    count = out / "otlp-sink.count"
    print(f"non-2xx answers, all variants: {non2xx}; OTLP sink: {count.read_text().strip() if count.exists() else '?'}")
machine = (out / "machine.txt").read_text()
print("\n" + "\n".join(f"    {line}" for line in machine.splitlines()))
