import KafkaWire
import NIOCore
import Testing

@testable import KafkaClient

/// The producer's bookkeeping without sockets: batching, draining, retries, memory.
@Suite struct ProducerAccumulatorTests {
    let partition = KafkaTopicPartition(topic: "t", partition: 0)
    let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    func configuration(linger: TimeAmount = .milliseconds(5), batchBytes: Int = 1000) -> KafkaProducerConfiguration {
        var configuration = KafkaProducerConfiguration()
        configuration.linger = linger
        configuration.batchBytes = batchBytes
        configuration.bufferBytes = 4000
        return configuration
    }

    func record(_ size: Int = 100) -> KafkaRecord {
        KafkaRecord(timestamp: 0, value: ByteBuffer(repeating: 1, count: size))
    }

    @Test func aBatchWaitsForItsLingerUnlessItIsFull() {
        var accumulator = ProducerAccumulator(configuration: configuration())
        accumulator.leaders[partition] = 1
        _ = accumulator.append(record(), bytes: 100, to: partition, callback: { _ in }, now: start)
        let early = accumulator.drain(now: start + .milliseconds(1))
        #expect(early.requests.isEmpty)
        #expect(early.nextDeadline == start + .milliseconds(5))
        let due = accumulator.drain(now: start + .milliseconds(5))
        #expect(due.requests[1]?.count == 1)

        var full = ProducerAccumulator(configuration: configuration())
        full.leaders[partition] = 1
        let wake = full.append(record(), bytes: 1000, to: partition, callback: { _ in }, now: start)
        #expect(wake)
        let fullDrain = full.drain(now: start)
        #expect(fullDrain.requests[1]?.first?.recordCount == 1)
    }

    @Test func onePartitionHasOneBatchInFlightAndRetriesKeepTheirSequence() {
        var accumulator = ProducerAccumulator(configuration: configuration())
        accumulator.leaders[partition] = 1
        accumulator.producerID = 7
        for _ in 0..<15 {
            _ = accumulator.append(record(), bytes: 100, to: partition, callback: { _ in }, now: start)
        }
        // 10 records fill the first batch; the second holds 5.
        let first = accumulator.drain(now: start)
        let sent = try! #require(first.requests[1]?.first)
        #expect(sent.recordCount == 10)
        #expect(sent.baseSequence == 0)
        let busy = accumulator.drain(now: start + .seconds(1))
        #expect(busy.requests.isEmpty, "the partition has a batch in flight")

        accumulator.requestEnded(node: 1)
        let retried = accumulator.retry(sent, now: start + .milliseconds(10))
        #expect(retried)
        #expect(accumulator.leaders[partition] == nil, "a retry looks the leader up again")
        let leaderless = accumulator.drain(now: start + .milliseconds(20))
        #expect(leaderless.topicsNeedingMetadata == ["t"])
        accumulator.leaders[partition] = 1
        let backingOff = accumulator.drain(now: start + .milliseconds(20))
        #expect(backingOff.requests.isEmpty, "backoff first")
        let again = try! #require(accumulator.drain(now: start + .milliseconds(200)).requests[1]?.first)
        #expect(again.baseSequence == 0)
        #expect(again.attempts == 2)
        _ = accumulator.batchFinished(again)
        accumulator.requestEnded(node: 1)
        let second = try! #require(accumulator.drain(now: start + .seconds(1)).requests[1]?.first)
        #expect(second.baseSequence == 10)
    }

    @Test func aRetryAfterTheDeliveryTimeoutIsRefused() {
        var configuration = configuration()
        configuration.deliveryTimeout = .seconds(2)
        var accumulator = ProducerAccumulator(configuration: configuration)
        accumulator.leaders[partition] = 1
        _ = accumulator.append(record(), bytes: 1000, to: partition, callback: { _ in }, now: start)
        let batch = try! #require(accumulator.drain(now: start).requests[1]?.first)
        let late = accumulator.retry(batch, now: start + .seconds(3))
        #expect(!late)
    }

    @Test func memoryBeyondTheBufferWaitsUntilBatchesFinish() {
        var accumulator = ProducerAccumulator(configuration: configuration())
        accumulator.leaders[partition] = 1
        guard case .reserved = accumulator.reserve(bytes: 3000) else {
            Issue.record("room for 3000 of 4000 bytes")
            return
        }
        _ = accumulator.append(record(3000), bytes: 3000, to: partition, callback: { _ in }, now: start)
        guard case .mustWait = accumulator.reserve(bytes: 2000) else {
            Issue.record("2000 more bytes do not fit")
            return
        }
        let resumed = ResumeCounter()
        accumulator.waitForMemory(bytes: 2000) { _ in resumed.increment() }
        let batch = try! #require(accumulator.drain(now: start).requests[1]?.first)
        let settled = accumulator.batchFinished(batch)
        #expect(settled.memoryWaiters.count == 1)
        #expect(accumulator.bufferedBytes == 2000)
    }

    @Test func closingRefusesNewRecordsAndWakesThoseWaitingForRoom() {
        var accumulator = ProducerAccumulator(configuration: configuration())
        _ = accumulator.reserve(bytes: 4000)
        accumulator.waitForMemory(bytes: 100) { _ in }
        let woken = accumulator.close()
        #expect(woken.count == 1)
        guard case .closed = accumulator.reserve(bytes: 1) else {
            Issue.record("a closed producer takes no records")
            return
        }
    }
}

final class ResumeCounter: @unchecked Sendable {
    private(set) var count = 0
    func increment() { count += 1 }
}
