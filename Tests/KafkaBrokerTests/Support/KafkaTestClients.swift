import Foundation
import KafkaClient
import KafkaTestSupport
import KafkaWire
import Logging
import NIOCore

/// A cluster view of a test broker, with short timeouts and backoffs so failures show quickly.
func makeCluster(
    _ broker: TansuBroker, configure: (inout KafkaClientConfiguration) -> Void = { _ in }
) throws
    -> KafkaCluster
{
    var configuration = try KafkaClientConfiguration(bootstrapServers: broker.bootstrap)
    configuration.clientID = "sluice-tests"
    configuration.timeouts.request = .seconds(15)
    configure(&configuration)
    var logger = Logger(label: "kafka-tests")
    // SLUICE_TEST_LOG=debug shows what the client does, for a failing test.
    logger.logLevel =
        ProcessInfo.processInfo.environment["SLUICE_TEST_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .critical
    return try KafkaCluster(configuration: configuration, logger: logger)
}

/// Runs `service` (a producer or consumer) while `body` runs, then closes it and waits for it to stop.
func whileRunning<Result: Sendable>(
    _ producer: KafkaProducer? = nil,
    _ consumers: [KafkaConsumer] = [],
    _ body: () async throws -> Result
) async throws -> Result {
    try await withThrowingTaskGroup(of: Void.self) { group in
        if let producer { group.addTask { try await producer.run() } }
        for consumer in consumers { group.addTask { try await consumer.run() } }
        do {
            let result = try await body()
            producer?.close()
            for consumer in consumers { consumer.close() }
            try await group.waitForAll()
            return result
        } catch {
            producer?.close()
            for consumer in consumers { consumer.close() }
            group.cancelAll()
            throw error
        }
    }
}

/// Reads `count` records, failing after `timeout` instead of waiting forever.
func collect(
    _ count: Int, from consumer: KafkaConsumer, timeout: Duration = .seconds(30)
) async throws
    -> [KafkaConsumerRecord]
{
    try await withThrowingTaskGroup(of: [KafkaConsumerRecord]?.self) { group in
        group.addTask {
            var records: [KafkaConsumerRecord] = []
            for try await record in consumer.records {
                records.append(record)
                if records.count == count { break }
            }
            return records
        }
        group.addTask {
            try await Task.sleep(for: timeout)
            return nil
        }
        let first = try await group.next()!
        group.cancelAll()
        guard let records = first else {
            consumer.close()
            throw TestTimeout(description: "fewer than \(count) records within \(timeout)")
        }
        return records
    }
}

struct TestTimeout: Error, CustomStringConvertible {
    let description: String
}

extension ByteBuffer {
    var bytes: [UInt8] { Array(readableBytesView) }
}

extension Optional where Wrapped == ByteBuffer {
    var bytes: [UInt8]? { self.map { Array($0.readableBytesView) } }
}
