import Foundation
import Testing

import class GatewayTestSupport.OTLPTraceReceiver
import struct GatewayTestSupport.TestTraceParent

/// Spans of `proxy` APIs, on both ways to a backend: a server span per request (a child of the client's trace
/// context), a client span per backend attempt (a child of the server span), and the backend request carrying the
/// client span's `traceparent`. With tracing off the client's trace context reaches the backend as it was sent.
@Suite("tracing: spans of proxied requests", .serialized)
struct ProxyTracingTests {
    /// The value of header `name` the echo backend received.
    static func received(_ response: CollectedResponse, _ name: String) -> String? {
        for pair in response.json?["headers"]?.arrayValue ?? [] {
            guard let items = pair.arrayValue, items.count == 2, items[0].stringValue?.lowercased() == name else {
                continue
            }
            return items[1].stringValue
        }
        return nil
    }

    /// Waits for the spans of trace `traceID` until there are `count` of them.
    static func trace(
        _ traceID: String, count: Int, in receiver: OTLPTraceReceiver
    ) async throws -> [OTLPTraceReceiver.Span] {
        try await receiver.wait(.seconds(30), "\(count) spans of trace \(traceID)") { spans in
            spans.filter { $0.traceID == traceID }.count >= count
        }.filter { $0.traceID == traceID }
    }

    @Test(
        "tracing on: a server span per request, a client span per backend attempt; the backend gets the client span's traceparent",
        arguments: ProxyPath.allCases)
    func spans(via: ProxyPath) async throws {
        let backend = try await TestBackend.start()
        defer { Task { await backend.stop() } }
        let receiver = try await OTLPTraceReceiver.start()
        let client = TestTraceParent.make()
        try await withGateway(
            ["p.json": HTTPProxyTests.single(backend.url, via: via)], configure: { receiver.configure(&$0) }
        ) { gateway in
            let response = try await httpCall(
                .GET, "\(gateway.baseURL)/proxied/orders/7?secret=s3cr3t",
                headers: [("traceparent", client.header), ("tracestate", "vendor=1")])
            #expect(response.status == 200, "\(response.body)")
            let forwarded = gateway.gateway.registry.deployment(id: "proxied")?.proxyEventLoopExchanges
            #expect(via == .eventLoop ? forwarded == 1 : forwarded == nil, "\(String(describing: forwarded))")
            let carried = try #require(TestTraceParent(Self.received(response, "traceparent")), "\(response.body)")
            #expect(carried.traceID == client.traceID)
            #expect(carried.parentID != client.parentID, "the backend got the client's traceparent, not the gateway's")
            #expect(Self.received(response, "tracestate") == "vendor=1")

            let spans = try await Self.trace(client.traceID, count: 2, in: receiver)
            let server = try #require(spans.first { $0.kind == .server }, "\(spans)")
            #expect(server.name == "GET /proxied")
            #expect(server.parentSpanID == client.parentID)
            #expect(server.attributes["http.request.method"] == "GET")
            #expect(server.attributes["url.path"] == "/proxied/orders/7")
            #expect(server.attributes["url.scheme"] == "http")
            #expect(server.attributes["http.route"] == "/proxied")
            #expect(server.attributes["http.response.status_code"] == "200")
            #expect(server.attributes["sluice.api.id"] == "proxied")
            #expect(server.attributes["sluice.entrypoint.type"] == "http-proxy")
            #expect(server.attributes["sluice.plan.id"] != nil)
            #expect(server.statusCode == 0)
            let attempt = try #require(spans.first { $0.kind == .client }, "\(spans)")
            #expect(attempt.name == "GET")
            #expect(attempt.parentSpanID == server.spanID)
            #expect(carried.parentID == attempt.spanID, "the backend's parent is the client span")
            #expect(attempt.attributes["http.request.method"] == "GET")
            #expect(attempt.attributes["server.address"] == "127.0.0.1")
            #expect(attempt.attributes["server.port"] == "\(backend.port)")
            #expect(attempt.attributes["url.full"] == "\(backend.url)/orders/7")
            #expect(attempt.attributes["http.response.status_code"] == "200")
            #expect(attempt.attributes["sluice.api.id"] == "proxied")
            #expect(attempt.attributes["http.request.resend_count"] == nil)
            #expect(attempt.statusCode == 0)
            #expect(!spans.contains { $0.attributes.values.contains { $0.contains("s3cr3t") } })

            // Without a trace context the gateway starts the trace; the backend still joins it.
            let untraced = try await httpCall(.POST, "\(gateway.baseURL)/proxied/new", body: "x")
            let started = try #require(TestTraceParent(Self.received(untraced, "traceparent")), "\(untraced.body)")
            let root = try await Self.trace(started.traceID, count: 2, in: receiver)
            let rootServer = try #require(root.first { $0.kind == .server })
            #expect(rootServer.name == "POST /proxied")
            #expect(rootServer.parentSpanID.isEmpty)
            #expect(root.first { $0.kind == .client }?.spanID == started.parentID)

            // A method that is not one of HTTP's own keeps the spans' names among a known few.
            let webDAV = TestTraceParent.make()
            let listed = try await httpCall(
                .RAW(value: "PROPFIND"), "\(gateway.baseURL)/proxied/files", headers: [("traceparent", webDAV.header)])
            #expect(listed.status == 200, "\(listed.body)")
            let webDAVSpans = try await Self.trace(webDAV.traceID, count: 2, in: receiver)
            let webDAVServer = try #require(webDAVSpans.first { $0.kind == .server })
            #expect(webDAVServer.name == "HTTP /proxied")
            #expect(webDAVServer.attributes["http.request.method"] == "_OTHER")
            #expect(webDAVServer.attributes["http.request.method_original"] == "PROPFIND")
            let webDAVClient = try #require(webDAVSpans.first { $0.kind == .client })
            #expect(webDAVClient.name == "HTTP")
            #expect(webDAVClient.attributes["http.request.method"] == "_OTHER")

            // A backend's 4xx fails the client span only; its 5xx fails both (no gateway error key: the backend's).
            for (status, serverFails) in [(404, false), (503, true)] {
                let caller = TestTraceParent.make()
                let answer = try await httpCall(
                    .GET, "\(gateway.baseURL)/proxied/status/\(status)", headers: [("traceparent", caller.header)])
                #expect(answer.status == status)
                let statusSpans = try await Self.trace(caller.traceID, count: 2, in: receiver)
                let statusServer = try #require(statusSpans.first { $0.kind == .server })
                let statusClient = try #require(statusSpans.first { $0.kind == .client })
                #expect(statusServer.attributes["http.response.status_code"] == "\(status)")
                #expect(statusServer.statusCode == (serverFails ? 2 : 0), "\(status)")
                #expect(statusServer.attributes["error.type"] == (serverFails ? "\(status)" : nil))
                #expect(statusClient.attributes["http.response.status_code"] == "\(status)")
                #expect(statusClient.statusCode == 2, "\(status)")
                #expect(statusClient.attributes["error.type"] == "\(status)")
            }
        }
        await receiver.stop()
    }

    @Test(
        "tracing on: a backend that refuses the connection (502) or answers too late (504): the server and client spans fail with the gateway error's key",
        arguments: ProxyPath.allCases)
    func unreachableBackend(via: ProxyPath) async throws {
        let gone = try await TestBackend.start(name: "gone")
        let gonePort = gone.port
        await gone.stop()
        let slow = try await TestBackend.start(name: "slow")
        defer { Task { await slow.stop() } }
        let receiver = try await OTLPTraceReceiver.start()
        let client = TestTraceParent.make()
        try await withGateway(
            [
                "p.json": HTTPProxyTests.single("http://127.0.0.1:\(gonePort)", via: via),
                "slow.json": HTTPProxyTests.api(
                    id: "slow", path: "/slow", targets: [("slow", slow.url, 1, false)],
                    http: #"{ "readTimeout": 500 }"#, via: via),
            ],
            configure: { receiver.configure(&$0) }
        ) { gateway in
            let response = try await httpCall(
                .GET, "\(gateway.baseURL)/proxied/x", headers: [("traceparent", client.header)])
            #expect(response.status == 502)
            #expect(response.json?["key"]?.stringValue == "GATEWAY_CLIENT_CONNECTION_ERROR", "\(response.body)")
            let spans = try await Self.trace(client.traceID, count: 2, in: receiver)
            let server = try #require(spans.first { $0.kind == .server }, "\(spans)")
            #expect(server.parentSpanID == client.parentID)
            #expect(server.attributes["http.response.status_code"] == "502")
            #expect(server.statusCode == 2)
            #expect(server.statusMessage == "GATEWAY_CLIENT_CONNECTION_ERROR")
            #expect(server.attributes["error.type"] == "GATEWAY_CLIENT_CONNECTION_ERROR")
            let attempt = try #require(spans.first { $0.kind == .client }, "\(spans)")
            #expect(attempt.parentSpanID == server.spanID)
            #expect(attempt.attributes["url.full"] == "http://127.0.0.1:\(gonePort)/x")
            #expect(attempt.attributes["http.response.status_code"] == nil)
            #expect(attempt.statusCode == 2)
            #expect(attempt.statusMessage == "GATEWAY_CLIENT_CONNECTION_ERROR")

            let late = TestTraceParent.make()
            let timedOut = try await httpCall(
                .GET, "\(gateway.baseURL)/slow/slow?ms=5000", headers: [("traceparent", late.header)])
            #expect(timedOut.status == 504, "\(timedOut.body)")
            let lateSpans = try await Self.trace(late.traceID, count: 2, in: receiver)
            let lateServer = try #require(lateSpans.first { $0.kind == .server }, "\(lateSpans)")
            #expect(lateServer.attributes["http.response.status_code"] == "504")
            #expect(lateServer.statusCode == 2)
            #expect(lateServer.statusMessage == "REQUEST_TIMEOUT")
            let lateAttempt = try #require(lateSpans.first { $0.kind == .client }, "\(lateSpans)")
            #expect(lateAttempt.parentSpanID == lateServer.spanID)
            #expect(lateAttempt.statusCode == 2)
            #expect(lateAttempt.statusMessage == "REQUEST_TIMEOUT")
        }
        await receiver.stop()
    }

    @Test("tracing on, with failover: one client span per attempt; the backend gets the last attempt's traceparent")
    func failoverAttempts() async throws {
        let live = try await TestBackend.start(name: "live")
        defer { Task { await live.stop() } }
        let gone = try await TestBackend.start(name: "gone")
        let gonePort = gone.port
        await gone.stop()
        let receiver = try await OTLPTraceReceiver.start()
        // Round robin over a dead and a live endpoint: of two requests, one tries the dead one first.
        let definition = HTTPProxyTests.api(
            targets: [("dead", "http://127.0.0.1:\(gonePort)", 1, false), ("live", live.url, 1, false)],
            failover: #"{ "enabled": true, "maxRetries": 2, "slowCallDuration": 2000, "maxFailures": 10 }"#)
        try await withGateway(["p.json": definition], configure: { receiver.configure(&$0) }) { gateway in
            var retried: (client: (header: String, traceID: String, parentID: String), carried: TestTraceParent)?
            for _ in 0..<2 {
                let client = TestTraceParent.make()
                let response = try await httpCall(
                    .PUT, "\(gateway.baseURL)/proxied/echo", headers: [("traceparent", client.header)], body: "again")
                #expect(response.status == 200, "\(response.body)")
                let carried = try #require(TestTraceParent(Self.received(response, "traceparent")))
                #expect(carried.traceID == client.traceID)
                let spans = try await Self.trace(client.traceID, count: 2, in: receiver)
                if spans.contains(where: { $0.kind == .client && $0.statusCode == 2 }) { retried = (client, carried) }
            }
            let (client, carried) = try #require(retried, "no request tried the dead endpoint first")
            let spans = try await Self.trace(client.traceID, count: 3, in: receiver)
            let server = try #require(spans.first { $0.kind == .server })
            #expect(server.attributes["http.response.status_code"] == "200")
            #expect(server.statusCode == 0)
            let attempts = spans.filter { $0.kind == .client }
            #expect(attempts.count == 2, "\(spans)")
            #expect(attempts.allSatisfy { $0.parentSpanID == server.spanID && $0.name == "PUT" })
            let failed = try #require(attempts.first { $0.statusCode == 2 }, "\(attempts)")
            #expect(failed.attributes["url.full"] == "http://127.0.0.1:\(gonePort)/echo")
            #expect(failed.attributes["http.request.resend_count"] == nil)
            let succeeded = try #require(attempts.first { $0.statusCode == 0 }, "\(attempts)")
            #expect(succeeded.attributes["url.full"] == "\(live.url)/echo")
            #expect(succeeded.attributes["http.request.resend_count"] == "1")
            #expect(succeeded.attributes["http.response.status_code"] == "200")
            #expect(carried.parentID == succeeded.spanID)
        }
        await receiver.stop()
    }

    @Test(
        "the backend gets the client's traceparent and tracestate unchanged with tracing off, the gateway's with it on",
        arguments: ProxyPath.allCases)
    func offAndOn(via: ProxyPath) async throws {
        let backend = try await TestBackend.start()
        defer { Task { await backend.stop() } }
        let client = TestTraceParent.make()
        let headers = [("traceparent", client.header), ("tracestate", "vendor=1")]
        let definitions = ["p.json": HTTPProxyTests.single(backend.url, via: via)]
        try await withGateway(definitions) { gateway in
            let response = try await httpCall(.GET, "\(gateway.baseURL)/proxied/echo", headers: headers)
            #expect(response.status == 200)
            #expect(Self.received(response, "traceparent") == client.header)
            #expect(Self.received(response, "tracestate") == "vendor=1")
        }
        let receiver = try await OTLPTraceReceiver.start()
        try await withGateway(definitions, configure: { receiver.configure(&$0) }) { gateway in
            let response = try await httpCall(.GET, "\(gateway.baseURL)/proxied/echo", headers: headers)
            #expect(response.status == 200)
            let carried = try #require(TestTraceParent(Self.received(response, "traceparent")))
            #expect(Self.received(response, "traceparent") != client.header)
            #expect(carried.traceID == client.traceID)
            #expect(carried.parentID != client.parentID)
            #expect(Self.received(response, "tracestate") == "vendor=1")
        }
        await receiver.stop()
    }
}
