"""httpx, httpx-sse and websockets, as any client would use them, against the sluice binary."""
import asyncio
import json
import signal
import threading
import time

import httpx
import pytest
import websockets
from httpx_sse import connect_sse


def test_post_then_poll_as_json_xml_and_text(client):
    assert client.post("/events", content=b"hello interop").status_code == 202
    poll = client.get("/events", headers={"Accept": "application/json"})
    assert poll.status_code == 200
    body = poll.json()
    assert [item["content"] for item in body["items"]] == ["hello interop"]
    assert body["pagination"]["nextCursor"] == body["items"][-1]["id"]
    xml = client.get("/events", headers={"Accept": "application/xml"})
    assert xml.headers["content-type"] == "application/xml"
    assert "<content><![CDATA[hello interop]]></content>" in xml.text
    # httpx sends "Accept: */*" unless told otherwise, which means JSON.
    assert client.get("/events").headers["content-type"] == "application/json"
    text = client.get("/events", headers={"Accept": "text/plain"})
    assert text.headers["content-type"] == "text/plain"
    assert "content: hello interop" in text.text
    bad = client.get("/events", headers={"Accept": "image/png"})
    assert bad.status_code == 400 and bad.json()["key"] == "UNSUPPORTED_ACCEPT"


def test_sse_events_parse_with_httpx_sse_and_resume_with_last_event_id(client):
    for content in ["one", "two\nlines", "three"]:
        assert client.post("/events", content=content.encode()).status_code == 202
    with connect_sse(client, "GET", "/events", headers={"Last-Event-ID": "0"}) as source:
        assert source.response.headers["content-type"].startswith("text/event-stream")
        events = []
        for event in source.iter_sse():
            # httpx-sse also yields the retry-only block, which browsers do not dispatch; messages carry an id.
            if event.event == "message" and event.id:
                events.append(event)
            if len(events) == 2:
                break
    assert [(e.id, e.data) for e in events] == [("1", "two\nlines"), ("2", "three")]


def test_sse_from_the_mock_endpoint(client):
    with connect_sse(client, "GET", "/ticker") as source:
        first = next(e for e in source.iter_sse() if e.event == "message" and e.id)
    assert first.id == "0"
    assert json.loads(first.data) == {"price": 42}


def test_websocket_publish_and_subscribe(gateway, client):
    async def scenario():
        async with websockets.connect(f"ws://127.0.0.1:{gateway.port}/events") as ws:
            await ws.send("from python websockets")
            echoed = await asyncio.wait_for(ws.recv(), 10)
            assert echoed == "from python websockets"
            await asyncio.to_thread(lambda: client.post("/events", content=b"\xff\xfe binary"))
            binary = await asyncio.wait_for(ws.recv(), 10)
            assert binary == b"\xff\xfe binary"
            pong = await ws.ping(b"are you there")
            await asyncio.wait_for(pong, 10)

    asyncio.run(scenario())


def test_sigterm_drains_streams_and_exits_cleanly(gateway, client):
    goaway = {}

    def listen():
        with httpx.Client(base_url=gateway.base, timeout=30) as c:
            with connect_sse(c, "GET", "/events") as source:
                for event in source.iter_sse():
                    if event.event == "goaway":
                        goaway["data"] = event.data
                        return

    listener = threading.Thread(target=listen)
    listener.start()

    async def websocket_close():
        async with websockets.connect(f"ws://127.0.0.1:{gateway.port}/events") as ws:
            await asyncio.sleep(0.5)
            gateway.signal(signal.SIGTERM)
            try:
                while True:
                    await asyncio.wait_for(ws.recv(), 15)
            except websockets.ConnectionClosed as closed:
                return closed.rcvd.code if closed.rcvd else None

    time.sleep(0.5)
    code = asyncio.run(websocket_close())
    listener.join(15)
    assert code == 1001
    assert goaway.get("data") == "Stopping, please reconnect"
    assert gateway.process.wait(20) == 0


def test_sighup_reloads_at_once(apis_dir):
    from conftest import RunningGateway

    gateway = RunningGateway(apis_dir, settings={"reloadIntervalMs": 3600000})
    try:
        definition = json.loads((apis_dir / "events.json").read_text())
        definition["listeners"][0]["paths"][0]["path"] = "/renamed"
        (apis_dir / "events.json").write_text(json.dumps(definition))
        with httpx.Client(base_url=gateway.base, timeout=10) as c:
            assert c.post("/renamed", content=b"x").status_code == 404
            gateway.signal(signal.SIGHUP)
            deadline = time.monotonic() + 5
            status = None
            while time.monotonic() < deadline:
                status = c.post("/renamed", content=b"x").status_code
                if status == 202:
                    break
                time.sleep(0.05)
            assert status == 202
            assert c.post("/events", content=b"x").status_code == 404
    finally:
        assert gateway.stop() == 0


def test_websocket_upgrade_without_api_is_closed_with_the_reason(gateway):
    async def scenario():
        async with websockets.connect(f"ws://127.0.0.1:{gateway.port}/nothing") as ws:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 10)
            return closed.value.rcvd

    received = asyncio.run(scenario())
    assert received.code == 1008
    assert received.reason.startswith("GATEWAY_API_NOT_FOUND")
