import Foundation
import MQTT5
import NIOCore
import Synchronization

/// Sluice's MQTT 5 client under load, for bench/mqtt/run.sh; paho_bench.py does the same with paho-mqtt.
///
///     mqttbench publish --port P --topic T --qos 0|1 --count N [--size 256] [--window 1000] [--api publish|enqueue]
///     mqttbench receive --port P --topic T --qos 0|1 --count N [--receive-maximum 20] [--buffer 100000]
///
/// `publish` connects, publishes N messages of `size` bytes (one payload shared by all), waits until each is
/// acknowledged (QoS 1: PUBACK; QoS 0: written to the connection), disconnects, and prints one JSON line with the
/// connect time and the publish time (first publish call to the last acknowledgement). `window` publish calls are
/// outstanding at once (`window` tasks, each publishing its share one after the other); on the wire the client keeps
/// no more QoS 1 publishes unacknowledged than the server's Receive Maximum, and sends the next one as soon as a
/// PUBACK makes room.
///
/// With `--api enqueue`, one task hands the messages to `enqueuePublish`, which returns once the client accepted
/// each (at most `window` outstanding: `maximumPendingPublishes`), as `mosquitto_pub -l` queues its lines; the
/// publish time then ends when `disconnect()` returns, which waits until every message is written (QoS 0) or
/// acknowledged (QoS 1), and the run fails if any enqueued publish failed.
///
/// `receive` subscribes, writes "subscribed" to stderr, and times the first to the N-th message; it gives up when
/// no message comes for `idle-timeout` seconds (default 10) and reports how many arrived.
@main
struct MQTTBench {
    static func main() async {
        let arguments = Arguments(CommandLine.arguments.dropFirst())
        do {
            guard let mode = arguments.mode else { throw BenchError("usage: mqttbench publish|receive --port P ...") }
            switch mode {
            case "publish": try await publish(arguments)
            case "receive": try await receive(arguments)
            default: throw BenchError("unknown mode \(mode)")
            }
        } catch {
            FileHandle.standardError.write("mqttbench: \(error)\n")
            exit(1)
        }
    }

    static func configuration(_ arguments: Arguments, id: String) throws -> MQTT5ClientConfiguration {
        var configuration = MQTT5ClientConfiguration(
            host: arguments.string("host") ?? "127.0.0.1", port: try arguments.int("port"),
            clientIdentifier: arguments.string("client-id") ?? id)
        configuration.keepAlive = .seconds(60)
        configuration.shutdownDrainTimeout = .seconds(30)
        if let maximum = try arguments.optionalInt("receive-maximum") { configuration.receiveMaximum = UInt16(maximum) }
        if let buffer = try arguments.optionalInt("buffer") { configuration.subscriptionBufferSize = buffer }
        if let window = try arguments.optionalInt("window") {
            configuration.maximumPendingPublishes = max(window, configuration.maximumPendingPublishes)
        }
        return configuration
    }

    static func qos(_ arguments: Arguments) throws -> MQTTQoS {
        guard let qos = MQTTQoS(rawValue: UInt8(try arguments.int("qos"))) else { throw BenchError("--qos 0|1|2") }
        return qos
    }

    // MARK: - publish

    static func publish(_ arguments: Arguments) async throws {
        let count = try arguments.int("count")
        let size = try arguments.optionalInt("size") ?? 256
        let window = max(1, min(try arguments.optionalInt("window") ?? 1000, count))
        let api = arguments.string("api") ?? "publish"
        guard api == "publish" || api == "enqueue" else { throw BenchError("--api publish|enqueue") }
        let qos = try qos(arguments)
        let topic = try arguments.required("topic")
        let client = MQTT5Client(configuration: try configuration(arguments, id: "mqttbench-pub"))
        let payload = ByteBuffer(repeating: UInt8(ascii: "x"), count: size)
        let clock = ContinuousClock()

        let report = try await withThrowingTaskGroup(of: Void.self) { group in
            let start = clock.now
            group.addTask { try await client.run() }
            let info = try await client.waitUntilConnected()
            let connected = clock.now
            if api == "enqueue" {
                for _ in 0..<count {
                    try await client.enqueuePublish(topic: topic, payload: payload, qos: qos)
                }
                // Returns once every enqueued message is written (QoS 0) or acknowledged (QoS 1).
                try await client.disconnect()
                let published = clock.now
                try await group.waitForAll()
                guard client.failedEnqueuedPublishCount == 0 else {
                    throw BenchError("\(client.failedEnqueuedPublishCount) enqueued publishes failed")
                }
                return [
                    "\"client\": \"sluice\"", "\"mode\": \"publish\"", "\"api\": \"enqueue\"",
                    "\"qos\": \(qos.rawValue)", "\"count\": \(count)", "\"size\": \(size)", "\"window\": \(window)",
                    "\"server_receive_maximum\": \(info.receiveMaximum)",
                    "\"server_topic_alias_maximum\": \(info.topicAliasMaximum)",
                    "\"connect_s\": \(seconds(connected - start))", "\"publish_s\": \(seconds(published - connected))",
                    "\"rate_in_process\": \(rate(count, published - connected))",
                ]
            }
            try await withThrowingTaskGroup(of: Void.self) { publishers in
                for worker in 0..<window {
                    // Each worker publishes its share of the messages, one after the other.
                    let share = count / window + (worker < count % window ? 1 : 0)
                    publishers.addTask {
                        for _ in 0..<share {
                            let result = try await client.publish(topic: topic, payload: payload, qos: qos)
                            guard result.reasonCode.rawValue < 0x80 else {
                                throw BenchError("PUBACK \(result.reasonCode)")
                            }
                        }
                    }
                }
                try await publishers.waitForAll()
            }
            let published = clock.now
            try await client.disconnect()
            try await group.waitForAll()
            let disconnected = clock.now
            return [
                "\"client\": \"sluice\"", "\"mode\": \"publish\"", "\"api\": \"publish\"", "\"qos\": \(qos.rawValue)",
                "\"count\": \(count)",
                "\"size\": \(size)", "\"window\": \(window)",
                "\"server_receive_maximum\": \(info.receiveMaximum)",
                "\"server_topic_alias_maximum\": \(info.topicAliasMaximum)",
                "\"connect_s\": \(seconds(connected - start))", "\"publish_s\": \(seconds(published - connected))",
                "\"disconnect_s\": \(seconds(disconnected - published))",
                "\"rate_in_process\": \(rate(count, published - connected))",
            ]
        }
        print("{" + report.joined(separator: ", ") + "}")
    }

    // MARK: - receive

    /// What the receiving loop has seen, for the idle watchdog.
    final class Progress: Sendable {
        let received = Atomic<Int>(0)
    }

    static func receive(_ arguments: Arguments) async throws {
        let count = try arguments.int("count")
        let idleTimeout = Double(try arguments.optionalInt("idle-timeout") ?? 10)
        let qos = try qos(arguments)
        let topic = try arguments.required("topic")
        let configuration = try configuration(arguments, id: "mqttbench-sub")
        let client = MQTT5Client(configuration: configuration)
        let clock = ContinuousClock()
        let progress = Progress()

        let report = try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await client.run() }
            try await client.waitUntilConnected()
            let subscription = try await client.subscribe(to: topic, qos: qos)
            FileHandle.standardError.write("subscribed\n")
            // No message for idle-timeout seconds: the rest is not coming; disconnecting ends the subscription.
            group.addTask {
                var last = -1
                var lastChange = clock.now
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(250))
                    let now = progress.received.load(ordering: .relaxed)
                    if now != last {
                        last = now
                        lastChange = clock.now
                    } else if clock.now - lastChange > .seconds(idleTimeout) {
                        try? await client.disconnect()
                        return
                    }
                }
            }
            var received = 0
            var first: ContinuousClock.Instant?
            var last = clock.now
            var bytes = 0
            do {
                for try await message in subscription {
                    last = clock.now
                    if first == nil { first = last }
                    received += 1
                    bytes += message.payload.readableBytes
                    progress.received.store(received, ordering: .relaxed)
                    if received == count { break }
                }
            } catch {
                FileHandle.standardError.write("mqttbench: the subscription ended: \(error)\n")
            }
            let dropped = subscription.droppedMessageCount
            try? await client.disconnect()
            group.cancelAll()
            try? await group.waitForAll()
            let elapsed = first.map { last - $0 } ?? .zero
            return [
                "\"client\": \"sluice\"", "\"mode\": \"receive\"", "\"qos\": \(qos.rawValue)", "\"count\": \(count)",
                "\"received\": \(received)", "\"bytes\": \(bytes)", "\"dropped\": \(dropped)",
                "\"receive_maximum\": \(configuration.receiveMaximum)",
                "\"buffer\": \(configuration.subscriptionBufferSize)",
                "\"first_to_last_s\": \(seconds(elapsed))", "\"rate\": \(rate(received - 1, elapsed))",
            ]
        }
        print("{" + report.joined(separator: ", ") + "}")
    }

    static func seconds(_ duration: Duration) -> String {
        let (whole, attoseconds) = duration.components
        return String(format: "%.6f", Double(whole) + Double(attoseconds) / 1e18)
    }

    static func rate(_ count: Int, _ duration: Duration) -> String {
        let (whole, attoseconds) = duration.components
        let elapsed = Double(whole) + Double(attoseconds) / 1e18
        return elapsed > 0 ? String(format: "%.1f", Double(count) / elapsed) : "null"
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// `mode --name value ...`.
struct Arguments {
    var mode: String?
    private var values: [String: String] = [:]

    init(_ arguments: ArraySlice<String>) {
        var rest = arguments
        mode = rest.popFirst()
        while let name = rest.popFirst() {
            guard name.hasPrefix("--") else { continue }
            values[String(name.dropFirst(2))] = rest.popFirst() ?? ""
        }
    }

    func string(_ name: String) -> String? { values[name] }

    func required(_ name: String) throws -> String {
        guard let value = values[name] else { throw BenchError("--\(name) is required") }
        return value
    }

    func optionalInt(_ name: String) throws -> Int? {
        guard let text = values[name] else { return nil }
        guard let value = Int(text) else { throw BenchError("--\(name) \(text) is not a number") }
        return value
    }

    func int(_ name: String) throws -> Int {
        guard let value = try optionalInt(name) else { throw BenchError("--\(name) is required") }
        return value
    }
}

extension FileHandle {
    fileprivate func write(_ text: String) { write(text.data(using: .utf8) ?? Data()) }
}
