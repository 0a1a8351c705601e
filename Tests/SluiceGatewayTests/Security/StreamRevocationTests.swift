import Foundation
import SluiceCore
import Testing

import class GatewayTestSupport.TestWebSocket

/// Open streams follow the access data: a stream opened with an API key ends, with the refusal's key, once the key
/// no longer lets it in, on every streaming path (SSE served on the event loop, SSE from a task, WebSocket).
@Suite("streams end when their access ends")
struct StreamRevocationTests {
    static let keyA = "stream-key-a-0123456789"
    static let keyB = "stream-key-b-0123456789"

    /// `orders` (embedded log: its SSE is served on the event loop) and `ticks` (mock: SSE from a task), each
    /// guarded by an api-key plan.
    static var definitions: [String: String] {
        [
            "orders.json": APIKeyPlanTests.keyed("orders"),
            "ticks.json": Definitions.mock(id: "ticks", path: "/ticks", interval: 200).replacingOccurrences(
                of: #""plans": []"#,
                with: #""plans": "# + APIKeyPlanTests.plans([("ticks-key", "api-key", "PUBLISHED")])
            ),
        ]
    }

    /// Key A reaches both APIs, key B only `orders`; `keyA` overrides key A's entry.
    static func access(keyA: String = #""revoked": false"#) -> String {
        """
        { "applications": [{ "id": "app", "name": "Shop", "clientId": "shop" }],
          "subscriptions": [
            { "id": "orders-sub", "application": "app", "api": "orders", "plan": "orders-key", "status": "ACCEPTED" },
            { "id": "ticks-sub", "application": "app", "api": "ticks", "plan": "ticks-key", "status": "ACCEPTED" }],
          "apiKeys": [
            { "key": "\(Self.keyA)", "subscriptions": ["orders-sub", "ticks-sub"], \(keyA) },
            { "key": "\(Self.keyB)", "subscriptions": ["orders-sub"] }] }
        """
    }

    /// Reads events until an `error` event, and returns its data, or nil if the stream ended without one.
    static func errorEvent(_ stream: SSEReader) async throws -> String? {
        while let event = try await stream.next() {
            if event.event == "error" { return event.data }
        }
        return nil
    }

    @Test("revoking a key ends every stream opened with it within 2 s; streams under other keys go on")
    func revokedKey() async throws {
        var files = Self.definitions
        files["shop.access.json"] = Self.access()
        try await withGateway(files) { (gateway: TestGateway) async throws in
            let loopSSE = try await SSEReader.open(
                "\(gateway.baseURL)/orders", headers: [("X-Gravitee-Api-Key", Self.keyA)])
            let taskSSE = try await SSEReader.open(
                "\(gateway.baseURL)/ticks", headers: [("X-Gravitee-Api-Key", Self.keyA)])
            let otherKey = try await SSEReader.open(
                "\(gateway.baseURL)/orders", headers: [("X-Gravitee-Api-Key", Self.keyB)])
            #expect([loopSSE.status, taskSSE.status, otherKey.status] == [Int](repeating: 200, count: 3))
            let firstTick = try await within(.seconds(10)) { try await taskSSE.nextMessage() }
            #expect(firstTick?.data != nil)

            async let webSocketClose = within(.seconds(20)) {
                try await TestWebSocket.session(port: gateway.port, path: "/orders?api-key=\(Self.keyA)") { socket in
                    try await socket.readUntilClose().close
                }
            }
            // The WebSocket is open (and registered) once a publish reaches it; then the key is revoked.
            try await Task.sleep(for: .milliseconds(500))
            let revokedAt = ContinuousClock.now
            try gateway.write("shop.access.json", Self.access(keyA: #""revoked": true"#))

            let loopError = try await within(.seconds(10)) { try await Self.errorEvent(loopSSE) }
            let taskError = try await within(.seconds(10)) { try await Self.errorEvent(taskSSE) }
            let close = try await webSocketClose
            #expect(loopError?.hasPrefix("API_KEY_INVALID") == true, "\(String(describing: loopError))")
            #expect(taskError?.hasPrefix("API_KEY_INVALID") == true, "\(String(describing: taskError))")
            #expect(close?.code == 1008, "\(String(describing: close))")
            #expect(close?.reason.hasPrefix("API_KEY_INVALID") == true, "\(String(describing: close))")
            // Both SSE responses end after their error event.
            let loopAfter = try await within(.seconds(5)) { try await loopSSE.next() }
            let taskAfter = try await within(.seconds(5)) { try await taskSSE.next() }
            #expect(loopAfter == nil, "\(String(describing: loopAfter))")
            #expect(taskAfter == nil, "\(String(describing: taskAfter))")
            let took = ContinuousClock.now - revokedAt
            #expect(took < .seconds(2) + .milliseconds(500), "streams ended \(took) after the file changed")

            // The stream under key B still delivers.
            let posted = try await httpCall(
                .POST, "\(gateway.baseURL)/orders", headers: [("X-Gravitee-Api-Key", Self.keyB)], body: "after")
            #expect(posted.status == 202)
            let delivered = try await within(.seconds(10)) { try await otherKey.nextMessage() }
            #expect(delivered?.data == "after")
        }
    }

    @Test("a stream whose key expires while it runs ends with API_KEY_INVALID")
    func expiringKey() async throws {
        var files = Self.definitions
        files["shop.access.json"] = Self.access()
        try await withGateway(files) { (gateway: TestGateway) async throws in
            let stream = try await SSEReader.open(
                "\(gateway.baseURL)/orders", headers: [("X-Gravitee-Api-Key", Self.keyA)])
            #expect(stream.status == 200)
            // Once the stream is open, the key gets an expiry a moment ahead: still valid when the file is read,
            // past a few scans later.
            let expireAt = ISO8601DateFormatter().string(from: Date().addingTimeInterval(2))
            try gateway.write("shop.access.json", Self.access(keyA: #""expireAt": "\#(expireAt)""#))
            let error = try await within(.seconds(20)) { try await Self.errorEvent(stream) }
            #expect(error?.hasPrefix("API_KEY_INVALID") == true, "\(String(describing: error))")
        }
    }

    @Test("a key-less stream and a stream whose access file only gains keys are left alone")
    func unaffectedStreams() async throws {
        var files = Self.definitions
        files["open.json"] = Definitions.inMemory(id: "open", path: "/open")
        files["shop.access.json"] = Self.access()
        try await withGateway(files) { (gateway: TestGateway) async throws in
            let open = try await SSEReader.open("\(gateway.baseURL)/open")
            let keyed = try await SSEReader.open(
                "\(gateway.baseURL)/orders", headers: [("X-Gravitee-Api-Key", Self.keyB)])
            try gateway.write(
                "more.access.json", #"{ "apiKeys": [{ "key": "third-key", "subscriptions": ["orders-sub"] }] }"#)
            // Two scans later, both still deliver.
            try await Task.sleep(for: .milliseconds(2500))
            for (path, key) in [("/open", nil), ("/orders", Self.keyB)] {
                let headers = key.map { [("X-Gravitee-Api-Key", $0)] } ?? []
                let posted = try await httpCall(.POST, "\(gateway.baseURL)\(path)", headers: headers, body: "still")
                #expect(posted.status == 202)
            }
            #expect(try await within(.seconds(10)) { try await open.nextMessage() }?.data == "still")
            #expect(try await within(.seconds(10)) { try await keyed.nextMessage() }?.data == "still")
        }
    }
}
