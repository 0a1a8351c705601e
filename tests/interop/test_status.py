"""The status of `sluice serve`: `GET /management/v2/status` after known traffic, `sluice top` against it, and the
status page at `/status` run by headless Chromium (Debian `chromium`): the DOM after its scripts ran shows the APIs,
their entrypoints, open connections and drawn charts, an API name with markup in it shown as text, and a screenshot
of the window size saved for people to look at."""
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import httpx
import pytest

from conftest import BINARY, ROOT, free_port
from test_management import TOKEN, RunningServe

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOT = ROOT / ".build" / "status-page.png"
WINDOW = (1280, 900)
EVIL_NAME = '<img src=x onerror="document.title=\'pwned\'"><b id="injected">Evil</b>'


def evil_definition() -> dict:
    return {
        "id": "evil", "name": EVIL_NAME, "apiVersion": "1.0", "definitionVersion": "4.0.0", "type": "message",
        "listeners": [{"type": "http", "paths": [{"path": "/evil"}], "entrypoints": [{"type": "http-post"}]}],
        "endpointGroups": [{"name": "log", "type": "inmemory",
                            "endpoints": [{"name": "evil-log", "type": "inmemory", "configuration": {"topic": "evil"}}]}],
        "plans": [{"id": "evil-open", "name": "Open", "security": {"type": "key-less"}, "status": "PUBLISHED",
                   "mode": "STANDARD"}],
        "flows": [],
    }


def status(serve, token=TOKEN) -> httpx.Response:
    return httpx.get(f"{serve.base}/management/v2/status", headers={"Authorization": f"Bearer {token}"}, timeout=10)


def api(snapshot: dict, api_id: str) -> dict | None:
    return next((item for item in snapshot["apis"] if item["id"] == api_id), None)


def all_deployed(serve, ids) -> bool:
    answer = status(serve)
    return answer.status_code == 200 and all((api(answer.json(), name) or {}).get("deployed") for name in ids)


def wait_for(what, check, within=20.0):
    deadline = time.monotonic() + within
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within} s: {what}")
        time.sleep(0.1)


def open_sse(port: int, path: str) -> socket.socket:
    """An SSE connection held open (its events are left unread: a handful fits the socket's buffer)."""
    connection = socket.create_connection(("127.0.0.1", port), timeout=10)
    connection.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += connection.recv(4096)
    assert head.startswith(b"HTTP/1.1 200"), head
    return connection


class Traffic:
    """Publishes to /events about 20 times a second in the background, so that the charts have something to draw."""

    def __init__(self, gateway: str):
        self.gateway = gateway
        self.stop_event = threading.Event()
        self.sent = 0
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        with httpx.Client(timeout=5) as client:
            while not self.stop_event.is_set():
                client.post(f"{self.gateway}/events", content=f"tick {self.sent}")
                self.sent += 1
                self.stop_event.wait(0.05)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop_event.set()
        self.thread.join(10)


def chromium(url: str, *args: str, budget_ms: int = 8000) -> subprocess.CompletedProcess:
    profile = tempfile.mkdtemp(prefix="sluice-chromium-")
    try:
        return subprocess.run(
            [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
             "--disable-background-networking", "--hide-scrollbars", f"--user-data-dir={profile}",
             f"--window-size={WINDOW[0]},{WINDOW[1]}", f"--virtual-time-budget={budget_ms}", *args, url],
            capture_output=True, text=True, timeout=120)
    finally:
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def serve(tmp_path):
    apis = tmp_path / "apis"
    shutil.copytree(ROOT / "examples" / "apis", apis)
    (apis / "evil.json").write_text(json.dumps(evil_definition()))
    running = RunningServe(tmp_path, extra_args=["--apis", str(apis)], env={"SLUICE_MANAGEMENT_ADMIN_TOKEN": TOKEN})
    running.wait(running.management_port).wait(running.port)
    wait_for("the gateway serves the examples", lambda: all_deployed(running, ("events", "orders", "ticker", "evil")))
    yield running
    assert running.stop() == 0, running.output()


def top(serve, *args, server=None, columns=None):
    env = {**os.environ, "SLUICE_MANAGEMENT_URL": server or serve.base, "SLUICE_MANAGEMENT_TOKEN": TOKEN}
    if columns is not None:
        env["COLUMNS"] = str(columns)
    return subprocess.run([BINARY, "top", *args], capture_output=True, text=True, timeout=60, env=env,
                          stdin=subprocess.DEVNULL)


def test_status_after_known_traffic_and_sluice_top(serve):
    streams = [open_sse(serve.port, "/events"), open_sse(serve.port, "/events")]
    try:
        with httpx.Client(base_url=serve.gateway, timeout=10) as client:
            for index in range(5):
                assert client.post("/events", content=f"message {index}").status_code == 202
        events = wait_for("two open connections on events",
                          lambda: (lambda found: found if found["openConnections"] == 2 else None)(
                              api(status(serve).json(), "events")))
        assert events["counters"]["requests"] == 5
        assert events["counters"]["messagesIn"] == 5
        assert events["counters"]["bytesIn"] == len("message 0") * 5
        assert events["counters"]["serverErrors"] == 0
        assert events["state"] == "STARTED"
        assert {"type": "sse", "paths": ["/events"]} in events["entrypoints"]
        assert events["endpoints"] == [{"name": "events-log", "type": "inmemory", "state": "embedded"}]
        assert api(status(serve).json(), "evil")["name"] == EVIL_NAME

        once = top(serve, "--once", "--output", "json", "--interval", "0.5")
        assert once.returncode == 0, once.stderr
        lines = once.stdout.strip().splitlines()
        assert len(lines) == 1
        refresh = json.loads(lines[0])
        assert refresh["gateway"]["running"] is True
        row = api(refresh, "events")
        assert row["openConnections"] == 2
        assert row["counters"]["messagesIn"] == 5
        assert row["messagesInPerSecond"] == 0  # nothing published during the interval
        assert row["endpoints"][0]["state"] == "embedded"

        text = top(serve, "--iterations", "2", "--interval", "0.5")
        assert text.returncode == 0, text.stderr
        frames = [frame.strip() for frame in re.split(r"\n(?=sluice top  )", text.stdout.strip())]
        assert len(frames) == 2, text.stdout
        print(frames[-1])
        table = frames[-1].splitlines()
        assert table[0].startswith("sluice top  " + serve.base)
        assert "4 APIs" in table[1] or "5 APIs" in table[1]
        header = table[3].split()
        assert header[:2] == ["API", "STATE"] and "CONNS" in header and "ENDPOINTS" in header
        events_row = next(line for line in table[4:] if line.startswith("Events "))
        assert events_row.split() == ["Events", "STARTED", "0.0", "0.0", "0.0", "0.0", "2", "inmemory:embedded"]
        assert any(line.startswith("<img src=x") for line in table[4:])

        narrow = top(serve, "--once", "--interval", "0.2", columns=60)
        assert narrow.returncode == 0, narrow.stderr
        lines = narrow.stdout.rstrip("\n").splitlines()
        assert all(len(line) <= 60 for line in lines), lines
        assert lines[3].split() == ["API", "STATE", "REQ/S", "MSG", "IN/S", "MSG", "OUT/S", "CONNS"], lines
    finally:
        for stream in streams:
            stream.close()

    gone = top(serve, "--once", server=f"http://127.0.0.1:{free_port()}")
    assert gone.returncode == 1
    assert "UNREACHABLE: no answer: " in gone.stdout and "refused" in gone.stdout, gone.stdout
    refused = top(serve, "--once", "--output", "json", "--token", "not-the-token-000")
    assert refused.returncode == 1
    assert "401" in json.loads(refused.stdout)["refused"]
    refused_text = top(serve, "--once", "--token", "not-the-token-000")
    assert refused_text.returncode == 1
    assert "REFUSED: Unauthorized (HTTP 401): the bearer token is not valid; retrying every 1 s" in refused_text.stdout


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (scripts/test.sh installs it)")
def test_status_page_in_headless_chromium(serve):
    streams = [open_sse(serve.port, "/events") for _ in range(3)]
    try:
        wait_for("three open connections",
                 lambda: api(status(serve).json(), "events")["openConnections"] == 3)
        url = f"{serve.base}/status#token={TOKEN}"
        with Traffic(serve.gateway) as traffic:
            wait_for("some traffic", lambda: traffic.sent > 5)
            dumped = chromium(url, "--dump-dom", budget_ms=30000)
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            SCREENSHOT.unlink(missing_ok=True)
            shot = chromium(url, f"--screenshot={SCREENSHOT}", budget_ms=30000)
        dom = dumped.stdout
        assert "<section" in dom, f"no API drawn: {dumped.stderr[-2000:]}\n{dom[-3000:]}"
        cards = {match.group(1): match.group(0) for match in
                 re.finditer(r'<section class="api" data-api-id="([^"]+)">.*?</section>', dom, re.S)}
        assert set(cards) >= {"events", "orders", "ticker", "evil"}
        events = cards["events"]
        assert '<h2 class="api-name" title="Events">Events</h2>' in events
        assert '<span class="type">sse</span><code class="path">/events</code>' in events
        assert '<span class="type">websocket</span><code class="path">/events</code>' in events
        assert re.search(r'<div class="number connections"><div class="value">3</div>', events), events
        assert 'endpoint-state">embedded<' in events
        # The charts: a path per series, with points from several polls.
        paths = re.findall(r'<path class="series series-(\w+)" d="([^"]*)" data-points="(\d+)"', events)
        assert {name for name, _, _ in paths} == {"in", "out", "conns"}, paths
        for name, d, points in paths:
            assert int(points) >= 3, (name, points)
            assert d.startswith("M") and d.count("L") == int(points) - 1, (name, d)
        messages_in = next(d for name, d, _ in paths if name == "in")
        heights = {float(y) for y in re.findall(r"[ML][\d.]+ ([\d.]+)", messages_in)}
        assert len(heights) > 1, f"a flat line: no message rate drawn ({messages_in})"
        # The name with markup is text: escaped in the DOM, no element made of it, no script run from it.
        evil = cards["evil"]
        assert "&lt;img src=x onerror=\"document.title='pwned'\"&gt;&lt;b id=\"injected\"&gt;Evil&lt;/b&gt;" in evil
        assert 'id="injected"' not in dom.replace("&lt;b id=\"injected\"&gt;", "")
        assert "<title>Sluice status</title>" in dom
        # The token left the address bar and is not in the page.
        assert TOKEN not in dom

        assert shot.returncode == 0, shot.stderr[-2000:]
        data = SCREENSHOT.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        assert data[12:16] == b"IHDR"
        assert struct.unpack(">II", data[16:24]) == WINDOW
        print(f"status page screenshot: {SCREENSHOT}")
    finally:
        for stream in streams:
            stream.close()


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (scripts/test.sh installs it)")
def test_status_page_says_when_the_token_is_refused(serve):
    dom = chromium(f"{serve.base}/status#token=not-the-token-000", "--dump-dom", budget_ms=3000).stdout
    assert 'id="message" role="status" class="error"' in dom
    assert "The management API refused the token (HTTP 401)" in dom
    assert '<form id="token-form" autocomplete="off" class="shown">' in dom
    assert "<section" not in dom
    without = chromium(f"{serve.base}/status", "--dump-dom", budget_ms=3000).stdout
    assert "Enter the token of a management user" in without


def test_status_without_a_gateway_in_the_process(tmp_path):
    running = RunningServe(tmp_path, extra_args=["--role", "management"], env={"SLUICE_MANAGEMENT_ADMIN_TOKEN": TOKEN})
    try:
        running.wait(running.management_port)
        created = httpx.post(f"{running.base}/management/v2/environments/DEFAULT/apis/_import/definition",
                             headers={"Authorization": f"Bearer {TOKEN}"}, json=evil_definition(), timeout=10)
        assert created.status_code == 201, created.text
        snapshot = status(running).json()
        assert snapshot["gateway"] == {
            "running": False,
            "detail": "no gateway runs in this process (serve --role management): APIs from the store, no live numbers"}
        evil = api(snapshot, "evil")
        assert evil["deployed"] is False and evil["counters"] is None and evil["openConnections"] is None
        assert evil["endpoints"] == [{"name": "evil-log", "type": "inmemory", "state": None}]
        text = top(running, "--once", "--interval", "0.2")
        assert text.returncode == 0, text.stderr
        assert "1 API; no gateway runs in this process (serve --role management): no live numbers" in text.stdout
        row = next(line for line in text.stdout.splitlines() if line.startswith("<img"))
        assert row.split()[-6:] == ["-", "-", "-", "-", "-", "inmemory"], row
    finally:
        assert running.stop() == 0, running.output()
