"""OTLP/HTTP protobuf from the sluice binary, decoded with the OpenTelemetry project's own generated types
(PyPI opentelemetry-proto): the spans a traced POST and poll make, their trace ids and parents, and the export of
what is still queued when the gateway stops."""
import http.server
import os
import threading

import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from conftest import RunningGateway

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"


class Receiver:
    """An OTLP/HTTP trace receiver: decodes each protobuf export request, answers 200 with an empty response."""

    def __init__(self):
        self.requests = []
        self.content_types = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                receiver.requests.append(request)
                receiver.content_types.append(self.headers.get("Content-Type"))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def spans(self):
        return [
            (span, resource.resource)
            for request in self.requests
            for resource in request.resource_spans
            for scope in resource.scope_spans
            for span in scope.spans
        ]

    def stop(self):
        self.server.shutdown()


def attributes(span):
    return {a.key: (a.value.string_value or a.value.int_value) for a in span.attributes}


def test_spans_reach_an_otlp_protobuf_receiver_and_the_queue_is_flushed_on_stop(apis_dir):
    receiver = Receiver()
    # A long batch delay: the spans leave only because the gateway exports what it holds when it stops.
    env = {
        "SLUICE_TRACING_ENABLED": "true",
        "SLUICE_TRACING_OTLP_ENDPOINT": f"http://127.0.0.1:{receiver.port}/v1/traces",
        "SLUICE_TRACING_SERVICE_NAME": "sluice-interop",
        "SLUICE_TRACING_SCHEDULE_DELAY_MS": "60000",
    }
    gateway = RunningGateway(apis_dir, env=env)
    try:
        with httpx.Client(base_url=gateway.base, timeout=10) as client:
            assert client.post("/events", content=b"traced", headers={"traceparent": TRACEPARENT}).status_code == 202
            poll = client.get("/events", headers={"Accept": "application/json"})
            assert poll.status_code == 200
            item = next(i for i in poll.json()["items"] if i["content"] == "traced")
            carried = item["headers"]["traceparent"][0].split("-")
            assert carried[1] == TRACE_ID, "the message stays in the client's trace"
        assert receiver.spans() == [], "nothing exported before the batch delay or the stop"
    finally:
        assert gateway.stop() == 0, gateway.output()
        receiver.stop()

    assert set(receiver.content_types) == {"application/x-protobuf"}
    spans = receiver.spans()
    by_kind = {}
    for span, resource in spans:
        by_kind.setdefault(span.kind, []).append(span)
        service = {a.key: a.value.string_value for a in resource.attributes}.get("service.name")
        assert service == "sluice-interop"
    traced = [s for s, _ in spans if s.trace_id.hex() == TRACE_ID]
    server = next(s for s in traced if s.kind == Span.SPAN_KIND_SERVER)
    assert server.name == "POST /events"
    assert server.parent_span_id.hex() == PARENT_ID
    assert attributes(server)["sluice.api.id"] == "events"
    producer = next(s for s in traced if s.kind == Span.SPAN_KIND_PRODUCER)
    assert producer.parent_span_id == server.span_id
    assert attributes(producer)["messaging.operation.type"] == "send"
    assert producer.span_id.hex() == carried[2], "the message carries the producer span"
    consumer = next(s for s in traced if s.kind == Span.SPAN_KIND_CONSUMER)
    assert consumer.parent_span_id == producer.span_id
    assert attributes(consumer)["sluice.entrypoint.type"] == "http-get"
    # The poll came without a trace context: its server span starts a trace of its own.
    poll_server = next(s for s in by_kind[Span.SPAN_KIND_SERVER] if s.name == "GET /events")
    assert poll_server.trace_id.hex() != TRACE_ID and poll_server.parent_span_id == b""
