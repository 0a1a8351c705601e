import KafkaWire
import NIOCore
import Testing

@testable import KafkaClient

/// The producer's bookkeeping without sockets: batching, draining, in-flight limits, retries in order, memory.
@Suite struct ProducerAccumulatorTests {
    let partition = KafkaTopicPartition(topic: "t", partition: 0)
    let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    func configuration(
        linger: TimeAmount = .milliseconds(5),
        batchBytes: Int = 1024,
        inFlightPerPartition: Int = 5
    ) -> KafkaProducerConfiguration {
        var configuration = KafkaProducerConfiguration()
        configuration.linger = linger
        configuration.batchBytes = batchBytes
        configuration.bufferBytes = 8192
        configuration.maximumInFlightBatchesPerPartition = inFlightPerPartition
        return configuration
    }

    func record(_ size: Int = 100, timestamp: Int64 = 0) -> KafkaRecord {
        KafkaRecord(timestamp: timestamp, value: ByteBuffer(repeating: UInt8(truncatingIfNeeded: size), count: size))
    }

    @Test("a batch buffer's capacity is worked out exactly as the allocator rounds it")
    func allocatedCapacity() {
        var sizes = [0, 1, 2, 3, 61, 100, 1023, 1024, 1025, 65_535, 65_536, 65_537, 262_144, 262_245, 1 << 20]
        sizes += (0..<200).map { ($0 * 7_919) % 300_000 }
        for size in sizes {
            #expect(
                ProducerAccumulator.allocatedCapacity(size) == ByteBufferAllocator().buffer(capacity: size).capacity,
                "\(size)")
        }
        #expect(ProducerAccumulator.allocatedCapacity(3_000_000_000) == Int(UInt32.max))
    }

    func size(_ record: KafkaRecord) -> Int {
        try! KafkaRecordBatchBuilder.maximumRecordSize(key: record.key, value: record.value, headers: record.headers)
    }

    /// Appends and returns whether the sender was woken; records an issue when the record was not appended.
    @discardableResult
    func append(
        _ record: KafkaRecord,
        to accumulator: inout ProducerAccumulator,
        partition: KafkaTopicPartition? = nil,
        now: NIODeadline? = nil
    ) -> Bool {
        let result = accumulator.append(
            record, recordBytes: size(record), to: partition ?? self.partition, callback: { _ in }, now: now ?? start)
        guard case .appended(let wake) = result else {
            Issue.record("not appended: \(result)")
            return false
        }
        return wake
    }

    /// Appends records of 100 bytes until the open batch is full and a new one starts; returns how many records
    /// that took.
    func fillOneBatch(_ accumulator: inout ProducerAccumulator) -> Int {
        var count = 0
        let target = max(accumulator.queues[partition, default: []].count, 1) + 1
        while accumulator.queues[partition, default: []].count < target {
            append(record(), to: &accumulator)
            count += 1
        }
        return count - 1
    }

    @Test func aBatchWaitsForItsLingerUnlessItIsFull() {
        var accumulator = ProducerAccumulator(configuration: configuration())
        accumulator.leaders[partition] = 1
        #expect(append(record(), to: &accumulator), "a new batch brings a new deadline")
        #expect(!append(record(), to: &accumulator), "a second record in an open batch does not")
        let early = accumulator.drain(now: start + .milliseconds(1))
        #expect(early.requests.isEmpty)
        #expect(early.nextDeadline == start + .milliseconds(5))
        let due = accumulator.drain(now: start + .milliseconds(5))
        #expect(due.requests[1]?.first?.recordCount == 2)

        // A record that leaves no room for another like it makes the batch full: it goes at once.
        var full = ProducerAccumulator(configuration: configuration())
        full.leaders[partition] = 1
        #expect(append(record(700), to: &full))
        #expect(full.drain(now: start).requests[1]?.first?.recordCount == 1)
    }

    @Test func recordsAreWrittenIntoTheBatchAsTheyCome() throws {
        var accumulator = ProducerAccumulator(configuration: configuration())
        accumulator.leaders[partition] = 1
        accumulator.producerID = 7
        accumulator.producerEpoch = 2
        append(record(10, timestamp: 1_000), to: &accumulator)
        append(record(20, timestamp: 900), to: &accumulator)
        append(record(30, timestamp: 1_200), to: &accumulator)
        var batch = try #require(accumulator.drain(now: start + .seconds(1)).requests[1]?.first)
        #expect(batch.encoded == nil, "finished by the producer as it sends, outside its lock")
        try batch.finishEncoding(
            compression: .none, producerId: accumulator.producerID, producerEpoch: accumulator.producerEpoch)
        var encoded = try #require(batch.encoded)
        let decoded = try KafkaRecordBatch(from: &encoded)
        #expect(decoded.records.map(\.value) == [record(10).value, record(20).value, record(30).value])
        #expect(decoded.records.map(\.timestamp) == [1_000, 900, 1_200])
        #expect(decoded.records.map(\.offset) == [0, 1, 2])
        #expect(decoded.baseTimestamp == 1_000)
        #expect(decoded.maxTimestamp == 1_200)
        #expect(decoded.producerId == 7)
        #expect(decoded.producerEpoch == 2)
        #expect(decoded.baseSequence == 0)
        #expect(encoded.readableBytes == 0, "one batch, nothing after it")
    }

    @Test func aPartitionHasUpToItsLimitOfBatchesInFlightOnePerRequest() {
        var accumulator = ProducerAccumulator(configuration: configuration(inFlightPerPartition: 2))
        accumulator.leaders[partition] = 1
        _ = fillOneBatch(&accumulator)
        _ = fillOneBatch(&accumulator)
        _ = fillOneBatch(&accumulator)
        #expect(accumulator.queues[partition]?.count == 4)
        let first = accumulator.drain(now: start)
        #expect(first.requests[1]?.count == 1, "a request carries one batch per partition")
        let second = accumulator.drain(now: start)
        #expect(second.requests[1]?.count == 1, "a second batch of the partition goes while the first is out")
        let third = accumulator.drain(now: start)
        #expect(third.requests.isEmpty, "two in flight is the limit")

        var single = ProducerAccumulator(configuration: configuration(inFlightPerPartition: 1))
        single.leaders[partition] = 1
        _ = fillOneBatch(&single)
        #expect(single.drain(now: start).requests[1]?.count == 1)
        #expect(single.drain(now: start + .seconds(1)).requests.isEmpty)
    }

    @Test func aRetriedBatchGoesBackBeforeLaterOnesWithItsSequence() throws {
        var accumulator = ProducerAccumulator(configuration: configuration())
        accumulator.leaders[partition] = 1
        accumulator.producerID = 7
        let perBatch = fillOneBatch(&accumulator)
        _ = fillOneBatch(&accumulator)
        _ = fillOneBatch(&accumulator)
        let first = try #require(accumulator.drain(now: start).requests[1]?.first)
        let second = try #require(accumulator.drain(now: start).requests[1]?.first)
        #expect(first.baseSequence == 0)
        #expect(second.baseSequence == Int32(perBatch))
        #expect(!accumulator.hasEarlierUnsettled(than: first))
        #expect(accumulator.hasEarlierUnsettled(than: second))

        // The first fails and goes back; the broker then refuses the second as out of order, and it goes back
        // behind the first, before the batches never sent.
        accumulator.requestEnded(node: 1)
        let firstRetried = accumulator.retry(first, now: start + .milliseconds(10))
        #expect(firstRetried)
        #expect(accumulator.leaders[partition] == nil, "a retry looks the leader up again")
        #expect(accumulator.hasEarlierUnsettled(than: second), "the first is unsettled while it waits")
        accumulator.requestEnded(node: 1)
        let secondRetried = accumulator.retry(second, now: start + .milliseconds(11))
        #expect(secondRetried)
        let order = accumulator.queues[partition]!.map(\.baseSequence)
        #expect(Array(order.prefix(2)) == [0, Int32(perBatch)])
        #expect(order.dropFirst(2).allSatisfy { $0 == -1 }, "never sent: no sequence yet")

        let leaderless = accumulator.drain(now: start + .milliseconds(20))
        #expect(leaderless.topicsNeedingMetadata == ["t"])
        accumulator.leaders[partition] = 1
        #expect(accumulator.drain(now: start + .milliseconds(20)).requests.isEmpty, "backoff first")
        var again = try #require(accumulator.drain(now: start + .milliseconds(200)).requests[1]?.first)
        #expect(again.baseSequence == 0)
        #expect(again.attempts == 2)
        #expect(again.encoded == first.encoded, "the same bytes go again")
        var secondAgain = try #require(accumulator.drain(now: start + .milliseconds(200)).requests[1]?.first)
        #expect(secondAgain.baseSequence == Int32(perBatch))
        _ = accumulator.batchFinished(&again)
        _ = accumulator.batchFinished(&secondAgain)
        let third = try #require(accumulator.drain(now: start + .seconds(1)).requests[1]?.first)
        #expect(third.baseSequence == Int32(2 * perBatch))
    }

    @Test func aRetryAfterTheDeliveryTimeoutIsRefused() throws {
        var configuration = configuration()
        configuration.deliveryTimeout = .seconds(2)
        var accumulator = ProducerAccumulator(configuration: configuration)
        accumulator.leaders[partition] = 1
        append(record(700), to: &accumulator)
        let batch = try #require(accumulator.drain(now: start).requests[1]?.first)
        let late = accumulator.retry(batch, now: start + .seconds(3))
        #expect(!late)
    }

    @Test func batchBuffersNeverExceedTheBufferAndAreReused() throws {
        var accumulator = ProducerAccumulator(configuration: configuration())
        accumulator.leaders[partition] = 1
        // 8192 bytes hold four batch buffers of 1024 and their records' bookkeeping: three full batches and a
        // fourth open one.
        for _ in 0..<3 { _ = fillOneBatch(&accumulator) }
        #expect(accumulator.queues[partition]?.count == 4)
        #expect(accumulator.bufferedBytes <= 8192)
        func appendOne() -> ProducerAccumulator.AppendResult {
            accumulator.append(record(), recordBytes: size(record()), to: partition, callback: { _ in }, now: start)
        }
        var result = appendOne()
        while case .appended = result {
            #expect(accumulator.bufferedBytes <= 8192)
            result = appendOne()
        }
        guard case .mustWait = result else {
            Issue.record("a fifth buffer does not fit: \(result)")
            return
        }
        #expect(!accumulator.hasRoom(for: partition, recordBytes: size(record())))
        let resumed = ResumeCounter()
        accumulator.waitForMemory { _ in resumed.increment() }

        var batch = try #require(accumulator.drain(now: start).requests[1]?.first)
        let settled = accumulator.batchFinished(&batch)
        #expect(settled.memoryWaiters.count == 1)
        #expect(accumulator.hasRoom(for: partition, recordBytes: size(record())))
        let before = accumulator.bufferedBytes
        append(record(), to: &accumulator)
        #expect(
            accumulator.bufferedBytes == before + ProducerBatch.recordOverhead,
            "the finished batch's buffer is used again; only the record's bookkeeping is added")
        #expect(accumulator.bufferedBytes <= 8192)
    }

    @Test func aRecordLargerThanABatchGetsABufferOfItsOwn() throws {
        var accumulator = ProducerAccumulator(configuration: configuration())
        accumulator.leaders[partition] = 1
        append(record(2500), to: &accumulator)
        let held = accumulator.bufferedBytes
        #expect(held >= 2500 && held <= 8192)
        var batch = try #require(accumulator.drain(now: start).requests[1]?.first)
        #expect(batch.recordCount == 1)
        _ = accumulator.batchFinished(&batch)
        #expect(accumulator.bufferedBytes == 0, "an odd-sized buffer is not kept")
    }

    @Test func closingRefusesNewRecordsAndWakesThoseWaitingForRoom() {
        var accumulator = ProducerAccumulator(configuration: configuration())
        accumulator.waitForMemory { _ in }
        let woken = accumulator.close()
        #expect(woken.count == 1)
        guard
            case .closed = accumulator.append(record(), recordBytes: 120, to: partition, callback: { _ in }, now: start)
        else {
            Issue.record("a closed producer takes no records")
            return
        }
    }
}

extension ProducerAccumulatorTests {
    @Test func batchesWaitingForARetryDoNotCountAsInFlight() throws {
        // Every batch in flight fails (a broker restart): all go back, and must go out again although each is
        // still unsettled.
        var accumulator = ProducerAccumulator(configuration: configuration(inFlightPerPartition: 2))
        accumulator.leaders[partition] = 1
        _ = fillOneBatch(&accumulator)
        _ = fillOneBatch(&accumulator)
        let first = try #require(accumulator.drain(now: start).requests[1]?.first)
        let second = try #require(accumulator.drain(now: start).requests[1]?.first)
        accumulator.requestEnded(node: 1)
        accumulator.requestEnded(node: 1)
        let firstRetried = accumulator.retry(first, now: start)
        let secondRetried = accumulator.retry(second, now: start)
        #expect(firstRetried && secondRetried)
        accumulator.leaders[partition] = 1
        let again = accumulator.drain(now: start + .seconds(1)).requests[1]?.first
        #expect(again?.sendOrder == first.sendOrder, "the retried batch goes again")
        let next = accumulator.drain(now: start + .seconds(1)).requests[1]?.first
        #expect(next?.sendOrder == second.sendOrder)
    }
}

final class ResumeCounter: @unchecked Sendable {
    private(set) var count = 0
    func increment() { count += 1 }
}
