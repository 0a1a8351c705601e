"""An HTTP/2 backend for the gateway's h2c tests: Hypercorn (a third-party ASGI server that speaks h2c both with
prior knowledge and by `Upgrade: h2c`) serving a small echo application.

Prints the port it listens on (127.0.0.1, chosen by the system), then serves until killed.

    python h2c_backend.py [--max-concurrent-streams N]

Every answer has `X-Http-Version` (the ASGI scope's `http_version`: "2" or "1.1") and `X-Connection` (the
client's port: one per connection). Paths:
- `/slow?ms=N`: answers after N ms.
- `/big?bytes=N`: N bytes (byte i is i % 251), streamed in 64 KiB parts.
- `/gzip`: a gzip-compressed text with `Content-Encoding: gzip`.
- anything else: a JSON echo of the request: method, path, raw path, query, headers, body length and SHA-256,
  body (when under 64 KiB), http version, and the most requests this connection had in flight at once.
"""

import argparse
import asyncio
import gzip
import hashlib
import json
import socket
from urllib.parse import parse_qs

from hypercorn.asyncio import serve
from hypercorn.config import Config

# Requests in flight per connection (client port), and the most seen at once.
in_flight: dict = {}
peak: dict = {}

GZIP_TEXT = ("compressed over h2c " * 200).encode()


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    connection = scope["client"][1] if scope.get("client") else 0
    in_flight[connection] = in_flight.get(connection, 0) + 1
    peak[connection] = max(peak.get(connection, 0), in_flight[connection])
    try:
        await handle(scope, receive, send, connection)
    finally:
        in_flight[connection] -= 1


async def handle(scope, receive, send, connection):
    query = parse_qs(scope["query_string"].decode())
    base_headers = [
        (b"x-http-version", scope["http_version"].encode()),
        (b"x-connection", str(connection).encode()),
    ]
    path = scope["path"]
    digest = hashlib.sha256()
    length = 0
    kept = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        chunk = message.get("body", b"")
        digest.update(chunk)
        length += len(chunk)
        if len(kept) < 65536:
            kept += chunk[: 65536 - len(kept)]
        if not message.get("more_body"):
            break

    if path == "/slow":
        await asyncio.sleep(int(query.get("ms", ["1000"])[0]) / 1000)
        body = json.dumps({"slow": True, "peak": peak[connection]}).encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": base_headers + [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})
        return
    if path == "/big":
        total = int(query.get("bytes", ["0"])[0])
        pattern = bytes(i % 251 for i in range(251 * 261))  # 65511 bytes, a whole number of cycles
        await send({"type": "http.response.start", "status": 200,
                    "headers": base_headers + [(b"content-type", b"application/octet-stream"),
                                               (b"content-length", str(total).encode())]})
        sent = 0
        while sent < total:
            part = pattern[: min(len(pattern), total - sent)]
            sent += len(part)
            await send({"type": "http.response.body", "body": part, "more_body": sent < total})
        if total == 0:
            await send({"type": "http.response.body", "body": b""})
        return
    if path == "/gzip":
        await send({"type": "http.response.start", "status": 200,
                    "headers": base_headers + [(b"content-type", b"text/plain"), (b"content-encoding", b"gzip")]})
        await send({"type": "http.response.body", "body": gzip.compress(GZIP_TEXT)})
        return

    echo = {
        "method": scope["method"],
        "path": path,
        "raw_path": scope.get("raw_path", b"").decode("latin-1"),
        "query": scope["query_string"].decode("latin-1"),
        "headers": [[name.decode("latin-1"), value.decode("latin-1")] for name, value in scope["headers"]],
        "body_length": length,
        "body_sha256": digest.hexdigest(),
        "body": kept.decode("latin-1") if length < 65536 else None,
        "http_version": scope["http_version"],
        "peak": peak[connection],
    }
    await send({"type": "http.response.start", "status": 200,
                "headers": base_headers + [(b"content-type", b"application/json"), (b"x-backend", b"hypercorn")]})
    await send({"type": "http.response.body", "body": json.dumps(echo).encode()})


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-concurrent-streams", type=int, default=100)
    arguments = parser.parse_args()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(256)
    listener.set_inheritable(True)
    config = Config()
    config.bind = [f"fd://{listener.fileno()}"]
    config.h2_max_concurrent_streams = arguments.max_concurrent_streams
    config.keep_alive_timeout = 60
    config.loglevel = "WARNING"
    config.accesslog = None
    print(listener.getsockname()[1], flush=True)
    asyncio.run(serve(app, config))


if __name__ == "__main__":
    main()
