import NIOCore
import SluiceCore
import SluiceEndpoints
import Testing

@Suite("in-memory log")
struct InMemoryTopicTests {
    static func message(_ text: String) -> Message { Message(content: ByteBuffer(string: text)) }

    @Test("offsets are ids; reads resume exactly after a cursor")
    func offsets() async throws {
        let broker = InMemoryBroker()
        let endpoint = InMemoryEndpoint(configuration: .init(topic: "t", startAtEarliest: true), broker: broker)
        for index in 0..<5 { _ = try await endpoint.publish(Self.message("m\(index)")) }
        let source = try await endpoint.subscribe(SubscriptionRequest(resumeAfter: "1"))
        let batch = try await source.next(maxCount: 10)
        #expect(batch.map(\.id) == ["2", "3", "4"])
        #expect(batch.map { String(buffer: $0.content) } == ["m2", "m3", "m4"])
    }

    @Test("retention by count and by bytes drops the oldest; a reader behind continues from the oldest kept")
    func retention() async throws {
        let broker = InMemoryBroker()
        let byCount = broker.topic(named: "count", retention: .init(maxMessages: 3, maxBytes: 1 << 20))
        for index in 0..<10 { byCount.append(Self.message("m\(index)"), timestamp: 0) }
        #expect(byCount.bounds == (7, 10))
        let (messages, next) = byCount.read(from: 0, maxCount: 100)
        #expect(messages.map(\.id) == ["7", "8", "9"])
        #expect(next == 10)

        let byBytes = broker.topic(named: "bytes", retention: .init(maxMessages: 1000, maxBytes: 2048))
        for _ in 0..<100 { byBytes.append(Self.message(String(repeating: "x", count: 100)), timestamp: 0) }
        let kept = byBytes.bounds.end - byBytes.bounds.first
        #expect(kept > 10 && kept <= 20)
    }

    @Test("a waiting reader wakes on append; many readers share one copy")
    func fanOut() async throws {
        let broker = InMemoryBroker()
        let endpoint = InMemoryEndpoint(configuration: .init(topic: "fan"), broker: broker)
        let sources = try await (0..<50).asyncMap { _ in try await endpoint.subscribe(SubscriptionRequest()) }
        try await withThrowingTaskGroup(of: [String?].self) { group in
            for source in sources {
                group.addTask { try await source.next(maxCount: 10).map(\.id) }
            }
            let topic = broker.topic(named: "fan", retention: .init())
            while topic.waitingReaders < 50 { try await Task.sleep(for: .milliseconds(5)) }
            _ = try await endpoint.publish(Self.message("hello"))
            var results = 0
            for try await ids in group {
                #expect(ids == ["0"])
                results += 1
            }
            #expect(results == 50)
        }
    }

    @Test("cancelling a waiting reader consumes nothing and leaves no waiter behind")
    func cancellation() async throws {
        let broker = InMemoryBroker()
        let endpoint = InMemoryEndpoint(configuration: .init(topic: "c"), broker: broker)
        let source = try await endpoint.subscribe(SubscriptionRequest())
        let task = Task { try await source.next(maxCount: 1) }
        let topic = broker.topic(named: "c", retention: .init())
        while topic.waitingReaders < 1 { try await Task.sleep(for: .milliseconds(5)) }
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(topic.waitingReaders == 0)
        _ = try await endpoint.publish(Self.message("after"))
        #expect(try await source.next(maxCount: 5).map(\.id) == ["0"])
    }

    @Test("a read with a deadline times out, consuming nothing; close() ends a pending read at once")
    func deadlinesAndClose() async throws {
        let broker = InMemoryBroker()
        let endpoint = InMemoryEndpoint(configuration: .init(topic: "d"), broker: broker)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await broker.runDeadlines() }
            let source = try await endpoint.subscribe(SubscriptionRequest())
            let started = ContinuousClock.now
            let poll = try await source.next(maxCount: 5, until: .now + .milliseconds(200))
            guard case .timedOut = poll else { Issue.record("expected a time-out, got \(poll)"); return }
            #expect(ContinuousClock.now - started >= .milliseconds(200))
            _ = try await endpoint.publish(Self.message("later"))
            guard case .messages(let messages) = try await source.next(maxCount: 5, until: .now + .seconds(5)) else {
                Issue.record("expected the message")
                return
            }
            #expect(messages.map(\.id) == ["0"])

            let waiting = Task { try await source.next(maxCount: 5, until: nil) }
            let topic = broker.topic(named: "d", retention: .init())
            while topic.waitingReaders < 1 { try await Task.sleep(for: .milliseconds(5)) }
            source.close()
            guard case .ended = try await waiting.value else { Issue.record("expected the end"); return }
            #expect(topic.waitingReaders == 0)
            group.cancelAll()
        }
    }

    @Test(
        "a cursor that is not an offset is refused with INVALID_CURSOR",
        arguments: ["x", "-2", "", "1.5", "99999999999999999999"])
    func badCursor(cursor: String) async {
        let endpoint = InMemoryEndpoint(configuration: .init(topic: "b"), broker: InMemoryBroker())
        await #expect(throws: GatewayError.invalidCursor(cursor)) {
            _ = try await endpoint.subscribe(SubscriptionRequest(resumeAfter: cursor))
        }
    }

    @Test("configuration is validated with paths")
    func configuration() {
        var diagnostics = DiagnosticCollector()
        let object = JSONObject([
            ("maxMessages", .number(0)), ("autoOffsetReset", .string("middle")), ("topic", .string("")),
        ])
        _ = InMemoryEndpoint.Configuration.parse(
            object, at: JSONPath("c"), defaultTopic: "d", diagnostics: &diagnostics)
        #expect(
            diagnostics.diagnostics.map(\.description).sorted() == [
                "c.autoOffsetReset: must be 'earliest' or 'latest'",
                "c.maxMessages: must be an integer between 1 and 100000000",
                "c.topic: must be 1 to 249 characters",
            ])
    }
}

extension Sequence where Element: Sendable {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}
