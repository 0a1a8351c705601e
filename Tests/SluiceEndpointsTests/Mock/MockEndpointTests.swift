import Foundation
import NIOCore
import SluiceCore
import SluiceEndpoints
import Testing

@Suite("mock endpoint")
struct MockEndpointTests {
    static func endpoint(_ json: String) throws -> MockEndpoint {
        var diagnostics = DiagnosticCollector()
        let object = try JSONValue.parse(json: Data(json.utf8)).objectValue!
        let configuration = MockEndpoint.Configuration.parse(object, at: JSONPath("c"), diagnostics: &diagnostics)
        #expect(!diagnostics.hasErrors)
        return MockEndpoint(configuration: configuration)
    }

    @Test("ids count from 0, content, headers and metadata as configured, messageCount ends the stream")
    func sequence() async throws {
        let endpoint = try Self.endpoint(
            #"{"messageInterval": 2, "messageContent": "hi", "messageCount": 5, "headers": [{"name": "h", "value": "v"}], "metadata": [{"name": "m", "value": "w"}]}"#
        )
        let source = try await endpoint.subscribe(SubscriptionRequest())
        var ids: [String?] = []
        while true {
            let batch = try await source.next(maxCount: 3)
            if batch.isEmpty { break }
            ids += batch.map(\.id)
            #expect(
                batch.allSatisfy {
                    String(buffer: $0.content) == "hi" && $0.headers["h"] == ["v"] && $0.metadata["m"] == "w"
                })
        }
        #expect(ids == ["0", "1", "2", "3", "4"])
    }

    @Test("resuming after id N starts at N+1; past messageCount there is nothing")
    func resume() async throws {
        let endpoint = try Self.endpoint(#"{"messageInterval": 1, "messageCount": 4}"#)
        let source = try await endpoint.subscribe(SubscriptionRequest(resumeAfter: "1"))
        var ids: [String?] = []
        while case let batch = try await source.next(maxCount: 10), !batch.isEmpty { ids += batch.map(\.id) }
        #expect(ids == ["2", "3"])
        let past = try await endpoint.subscribe(SubscriptionRequest(resumeAfter: "9"))
        #expect(try await past.next(maxCount: 10).isEmpty)
    }

    @Test("the first message comes one interval in, not at once")
    func timing() async throws {
        let endpoint = try Self.endpoint(#"{"messageInterval": 300}"#)
        let started = ContinuousClock.now
        let source = try await endpoint.subscribe(SubscriptionRequest())
        let first = try await source.next(maxCount: 10)
        // Not at once: nothing before one interval has passed. (A loaded machine may wake the reader later, when
        // the second message is due too, so only the first one's id is checked.)
        #expect(ContinuousClock.now - started >= .milliseconds(290))
        #expect(first.first?.id == "0")
        #expect(first.first.map { String(buffer: $0.content) } == "mock message")
    }

    @Test("a deadline before the next message times out; close() ends the stream")
    func deadlineAndClose() async throws {
        // The first message is an hour away: a machine loaded enough to leave this task waiting for seconds
        // still sees the deadline come first.
        let endpoint = try Self.endpoint(#"{"messageInterval": 3600000}"#)
        let source = try await endpoint.subscribe(SubscriptionRequest())
        guard case .timedOut = try await source.next(maxCount: 1, until: .now + .milliseconds(100)) else {
            Issue.record("expected a time-out")
            return
        }
        let waiting = Task { try await source.next(maxCount: 1, until: nil) }
        try await Task.sleep(for: .milliseconds(50))
        let closed = ContinuousClock.now
        source.close()
        guard case .ended = try await waiting.value else { Issue.record("expected the end"); return }
        #expect(ContinuousClock.now - closed < .seconds(2))
    }

    @Test("invalid configuration names each field")
    func invalid() throws {
        var diagnostics = DiagnosticCollector()
        let object = try JSONValue.parse(
            json: Data(
                #"{"messageInterval": "often", "messageCount": -1, "headers": [{"value": "x"}], "extra": 1}"#.utf8)
        ).objectValue!
        _ = MockEndpoint.Configuration.parse(
            object, at: JSONPath("endpointGroups[0].endpoints[0].configuration"), diagnostics: &diagnostics)
        #expect(
            diagnostics.diagnostics.map(\.description).sorted() == [
                "endpointGroups[0].endpoints[0].configuration.extra: warning: unknown field, ignored",
                "endpointGroups[0].endpoints[0].configuration.headers[0].name: is required",
                "endpointGroups[0].endpoints[0].configuration.messageCount: must be a non-negative integer",
                "endpointGroups[0].endpoints[0].configuration.messageInterval: must be a positive integer",
            ])
    }
}
