#!/usr/bin/env python3
"""The table of one bench/mqtt/run.sh run: python3 bench/mqtt/report.py bench/mqtt/.build/runs/<stamp>.

Reads r<round>-<mode>-q<qos>-<client>.{run,json,time} and prints markdown: medians over the rounds with min-max,
ratios of medians against mosquitto's C client, then every run.
"""

import json
import os
import re
import statistics
import sys

CLIENTS = ["mosquitto", "sluice", "paho"]
NAMES = {"mosquitto": "mosquitto C client", "sluice": "Sluice", "paho": "paho-mqtt"}
TOOLS = {"publish": "mosquitto_pub", "receive": "mosquitto_sub"}
LABEL = re.compile(r"^r(\d+)-(publish|receive)-q(\d)-(\w+)\.run$")


def load_json(path):
    try:
        with open(path) as f:
            text = f.read().strip()
        return json.loads(text.splitlines()[-1]) if text else {}
    except (OSError, ValueError, IndexError):
        return {}


def settings(directory):
    values = {}
    with open(os.path.join(directory, "machine.txt")) as f:
        for line in f:
            if line.startswith("settings:"):
                for pair in line.split(":", 1)[1].split():
                    key, _, value = pair.partition("=")
                    values[key] = value
    return values


def mosquitto_sub_times(path):
    times = []
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line:
                    times.append(float(line))
    except (OSError, ValueError):
        pass
    return times


def measure(directory, name, count):
    match = LABEL.match(name)
    round_, mode, qos, client = int(match[1]), match[2], int(match[3]), match[4]
    base = os.path.join(directory, name[: -len(".run")])
    run = load_json(base + ".run")
    count = run.get("count", count)
    timing = load_json(base + ".time")
    result = {"round": round_, "mode": mode, "qos": qos, "client": client, "exit": run.get("exit"),
              "started_ns": run.get("start_ns", run.get("feed_start_ns", 0)),
              "broker_cpu_s": run.get("broker_cpu_s"),
              "client_cpu_s": (timing.get("user_s", 0) + timing.get("sys_s", 0)) if timing else None,
              "maxrss_mib": timing.get("maxrss_kib", 0) / 1024 if timing else None}
    if mode == "publish":
        wall = (run["end_ns"] - run["start_ns"]) / 1e9
        own = load_json(base + ".json") if client != "mosquitto" else {}
        result.update(count=count, rate=count / wall, wall_s=wall, in_process=own.get("rate_in_process"),
                      connect_s=own.get("connect_s"), received=run.get("broker_received"))
        result["ok"] = run.get("exit") == 0 and run.get("broker_received") == count
    else:
        if client == "mosquitto":
            times = mosquitto_sub_times(base + ".json")
            received = len(times)
            elapsed = (times[-1] - times[0]) if received > 1 else 0
        else:
            own = load_json(base + ".json")
            received = own.get("received", 0)
            elapsed = own.get("first_to_last_s", 0) or 0
            result["dropped"] = own.get("dropped")
        result.update(count=count, rate=(received - 1) / elapsed if elapsed > 0 else 0, wall_s=elapsed, received=received,
                      feed_rate=count / ((run["feed_end_ns"] - run["feed_start_ns"]) / 1e9))
        result["ok"] = run.get("exit") == 0 and run.get("feed_exit") == 0 and received == count
    if result["client_cpu_s"]:
        result["per_cpu_s"] = (result["received"] if mode == "receive" else count) / result["client_cpu_s"]
    return result


def fmt(value, digits=0):
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def summary(values, digits=0):
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    median = statistics.median(values)
    if len(values) == 1:
        return fmt(median, digits)
    return f"{fmt(median, digits)} ({fmt(min(values), digits)}–{fmt(max(values), digits)})"


def main():
    directory = sys.argv[1]
    count = int(settings(directory).get("count", "0"))
    runs = [measure(directory, name, count) for name in sorted(os.listdir(directory)) if LABEL.match(name)]
    rows = sorted({(r["mode"], r["qos"]) for r in runs}, key=lambda row: (row[0] != "publish", row))
    by = {}
    for r in runs:
        by.setdefault((r["mode"], r["qos"], r["client"]), []).append(r)

    def median(mode, qos, client, key="rate"):
        values = [r[key] for r in by.get((mode, qos, client), []) if r.get(key) is not None]
        return statistics.median(values) if values else None

    print("| row | mosquitto C client | Sluice | paho-mqtt | Sluice / C | paho / C | all messages arrived |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for mode, qos in rows:
        cells = []
        for client in CLIENTS:
            cells.append(summary([r["rate"] for r in by.get((mode, qos, client), [])]))
        base = median(mode, qos, "mosquitto")
        ratios = []
        for client in ["sluice", "paho"]:
            value = median(mode, qos, client)
            ratios.append(f"{value / base:.2f}×" if base and value else "-")
        checked = [r for r in runs if (r["mode"], r["qos"]) == (mode, qos)]
        arrived = "yes" if all(r["ok"] for r in checked) else (
            "NO: " + ", ".join(f"r{r['round']} {r['client']} {r.get('received')}/{r['count']} exit {r['exit']}"
                               for r in checked if not r["ok"]))
        counts = sorted({r["count"] for r in checked})
        what = f"**{mode} QoS {qos}**, {'/'.join(f'{c:,}' for c in counts)} messages, msg/s" + (" (process start → exit)" if mode == "publish" else
                                                 " (first → last receipt)")
        print(f"| {what} | {' | '.join(cells)} | {' | '.join(ratios)} | {arrived} |")
    print()
    print("Further figures (medians, min–max):")
    print()
    print("| row | measure | mosquitto C client | Sluice | paho-mqtt |")
    print("| --- | --- | --- | --- | --- |")
    for mode, qos in rows:
        def line(measure, key, digits=0):
            cells = [summary([r.get(key) for r in by.get((mode, qos, client), [])], digits) for client in CLIENTS]
            print(f"| {mode} QoS {qos} | {measure} | {' | '.join(cells)} |")

        if mode == "publish":
            line("msg/s connected → last acknowledgement (own clock)", "in_process")
            line("connect s (own clock)", "connect_s", 3)
        else:
            line("feeding mosquitto_pub msg/s", "feed_rate")
        line("messages per client CPU-second", "per_cpu_s")
        line("client CPU s", "client_cpu_s", 2)
        line("mosquitto CPU s during the run", "broker_cpu_s", 2)
        line("client peak RSS MiB", "maxrss_mib", 1)
    print()
    print("Every run, in the order they ran (rate as in the first table):")
    print()
    print("| round | row | client | msg/s | s | messages | exit | ok |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in sorted(runs, key=lambda r: r["started_ns"]):
        print(f"| {r['round']} | {r['mode']} QoS {r['qos']} | {NAMES[r['client']]} | {fmt(r['rate'])} | "
              f"{fmt(r['wall_s'], 3)} | {r.get('received')} | {r['exit']} | {'yes' if r['ok'] else 'NO'} |")


if __name__ == "__main__":
    main()
