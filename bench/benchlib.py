"""Readers for the raw logs of Sluice's benchmark scripts (bench/run.sh, bench/endpoints/run.sh). Set `OUT`
to the run's folder first."""
import json
import os
import re

OUT = "."


def read(name):
    try:
        with open(os.path.join(OUT, name)) as f:
            return f.read()
    except OSError:
        return ""


def result(name):
    for line in read(name).splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    return {}


def wrk(name):
    text = read(f"wrk-{name}.log")
    r = {}
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    r["rps"] = float(m.group(1)) if m else None
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    r["non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"(\d+) requests in", text)
    r["requests"] = int(m.group(1)) if m else None
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    r["socket_errors"] = sum(map(int, m.groups())) if m else 0
    m = re.search(r"LATENCY p50_ms=([\d.]+) p99_ms=([\d.]+) max_ms=([\d.]+)", text)
    r["p50"], r["p99"], r["max"] = (float(x) for x in m.groups()) if m else (None, None, None)
    return r


def rss(name):
    text = read(f"idle-{name}.rss")
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", text)}


def cpu(name):
    return {k: float(v) for k, v in re.findall(r"(\w+)=([\d.]+)", read(f"{name}.cpu"))}


# On a virtual machine whose host runs other tenants on the same cores, the host takes CPU time from this machine
# while it has work (steal): a step measured then says as much about the other tenants as about the servers.
STOLEN_LIMIT = 5.0


def stolen_note():
    """A note naming every measured step (`.cpu` file) during which the host took STOLEN_LIMIT % or more of the
    machine's time, or "" when none did."""
    stolen = []
    for file in sorted(os.listdir(OUT)):
        step, extension = os.path.splitext(file)
        taken = cpu(step).get("machine_stolen_pct") if extension == ".cpu" else None
        if taken is not None and taken >= STOLEN_LIMIT:
            stolen.append(f"{step} {taken:.1f}%")
    if not stolen:
        return ""
    return ("The host took this machine's CPU for other work during " + ", ".join(stolen)
            + f" (steal, {STOLEN_LIMIT:.0f}% or more of the time): those rows are not comparable with a quiet "
            "machine's.")


def f(value, digits=0, suffix=""):
    if value is None:
        return "n/a"
    if isinstance(value, float) or digits:
        return f"{value:,.{digits}f}{suffix}"
    return f"{value:,}{suffix}"


def ratio(a, b):
    return f"{a / b:.2f}" if a and b else "n/a"
