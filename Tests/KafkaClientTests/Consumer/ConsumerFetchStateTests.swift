import KafkaWire
import NIOCore
import Testing

@testable import KafkaClient

/// The consumer's bookkeeping without sockets: positions, stale fetches, resets, the bounded buffer.
@Suite struct ConsumerFetchStateTests {
    let zero = KafkaTopicPartition(topic: "t", partition: 0)
    let one = KafkaTopicPartition(topic: "t", partition: 1)

    func record(_ partition: KafkaTopicPartition, _ offset: Int64, size: Int = 10) -> KafkaConsumerRecord {
        KafkaConsumerRecord(
            topic: partition.topic, partition: partition.partition, offset: offset, timestamp: 0,
            timestampType: .createTime, key: nil, value: ByteBuffer(repeating: 0, count: size), headers: []
        )
    }

    /// An answer arriving and decoded at once.
    func answer(
        _ state: inout ConsumerFetchState, _ records: [KafkaConsumerRecord], partition: KafkaTopicPartition,
        fetchedAt offset: Int64, nextOffset: Int64, epoch: UInt64
    ) {
        let bytes = records.count * 100
        if state.answerReceived(
            partition: partition, fetchedAt: offset, nextOffset: nextOffset, bytes: bytes, epoch: epoch)
        {
            _ = state.fetched(records, partition: partition, fetchedAt: offset, bytes: bytes, epoch: epoch)
        }
    }

    @Test func exactStartsFetchAtOnceAndOthersAreLookedUpFirst() {
        var state = ConsumerFetchState(configuration: .init())
        state.assign([zero: .exact(42), one: .earliest])
        let result1 = state.takeUnresolved()
        #expect(result1 == [one: .earliest])
        let result2 = state.takeUnresolved()
        #expect(result2.isEmpty, "a lookup in progress is not started twice")
        let targets = state.fetchTargets(leaders: [zero: 1, one: 1])
        #expect(targets == [1: [zero: 42]])
        state.fetchEnded(node: 1)
        state.resolved([one: 7], failed: [])
        let result3 = state.fetchTargets(leaders: [zero: 1, one: 1])
        #expect(result3 == [1: [zero: 42, one: 7]])
    }

    @Test func aFetchAnsweredAfterTheAssignmentChangedIsDropped() {
        var state = ConsumerFetchState(configuration: .init())
        state.assign([zero: .exact(0)])
        let epoch = state.epoch
        _ = state.fetchTargets(leaders: [zero: 1])
        state.seek(zero, to: .exact(100))
        answer(&state, [record(zero, 0)], partition: zero, fetchedAt: 0, nextOffset: 1, epoch: epoch)
        guard case .wait = state.next() else {
            Issue.record("records of a fetch from before the seek must not be handed out")
            return
        }
        state.fetchEnded(node: 1)
        let result4 = state.fetchTargets(leaders: [zero: 1])
        #expect(result4 == [1: [zero: 100]])
    }

    @Test func outOfRangeResetsByPolicyOrFails() {
        var earliest = KafkaConsumerConfiguration()
        earliest.autoOffsetReset = .earliest
        var state = ConsumerFetchState(configuration: earliest)
        state.assign([zero: .exact(500)])
        let result5 = state.outOfRange(zero, fetchedAt: 500)
        #expect(result5 == nil)
        let result6 = state.takeUnresolved()
        #expect(result6 == [zero: .earliest])

        var strict = KafkaConsumerConfiguration()
        strict.autoOffsetReset = .none
        var failing = ConsumerFetchState(configuration: strict)
        failing.assign([zero: .exact(500)])
        let result7 = failing.outOfRange(zero, fetchedAt: 500)
        #expect(result7?.name == "OFFSET_OUT_OF_RANGE")
    }

    @Test func aFullBufferStopsFetchingAndReadingHalfOfItStartsAgain() {
        var configuration = KafkaConsumerConfiguration()
        configuration.bufferBytes = 1000
        var state = ConsumerFetchState(configuration: configuration)
        state.assign([zero: .exact(0)])
        let epoch = state.epoch
        _ = state.fetchTargets(leaders: [zero: 1])
        let records = (0..<20).map { record(zero, Int64($0), size: 36) }  // 100 bytes each, as counted
        answer(&state, records, partition: zero, fetchedAt: 0, nextOffset: 20, epoch: epoch)
        state.fetchEnded(node: 1)
        let result8 = state.fetchTargets(leaders: [zero: 1])
        #expect(result8.isEmpty, "the buffer is full")
        var wakes = 0
        for _ in 0..<16 {
            if case .record(_, let wake) = state.next(), wake { wakes += 1 }
        }
        #expect(wakes >= 1)
        let result9 = state.fetchTargets(leaders: [zero: 1])
        #expect(result9 == [1: [zero: 20]])
        #expect(state.consumed[zero] == 16)
    }

    @Test func finishingDropsUnreadRecordsAndRevokingForgetsPositions() {
        var state = ConsumerFetchState(configuration: .init())
        state.assign([zero: .exact(0), one: .exact(0)])
        let epoch = state.epoch
        _ = state.fetchTargets(leaders: [zero: 1, one: 1])
        answer(&state, [record(zero, 0), record(zero, 1)], partition: zero, fetchedAt: 0, nextOffset: 2, epoch: epoch)
        _ = state.next()
        state.revoke([one])
        #expect(state.assignedPartitions == [zero])
        _ = state.finish()
        guard case .finished = state.next() else {
            Issue.record("after finish, nothing more is handed out")
            return
        }
        #expect(state.consumed == [zero: 1])
    }

    @Test func theNextFetchGoesWhileAnAnswerIsDecodedAndRecordsStayInOrder() {
        var configuration = KafkaConsumerConfiguration()
        configuration.bufferBytes = 10_000
        var state = ConsumerFetchState(configuration: configuration)
        state.assign([zero: .exact(0)])
        let epoch = state.epoch
        _ = state.fetchTargets(leaders: [zero: 1])
        let first = state.answerReceived(partition: zero, fetchedAt: 0, nextOffset: 3, bytes: 3000, epoch: epoch)
        #expect(first)
        state.fetchEnded(node: 1)
        let whileDecoding = state.fetchTargets(leaders: [zero: 1])
        #expect(whileDecoding == [1: [zero: 3]], "the next fetch starts where the answer's batches end")
        let second = state.answerReceived(partition: zero, fetchedAt: 3, nextOffset: 5, bytes: 2000, epoch: epoch)
        #expect(second)
        state.fetchEnded(node: 1)

        // The second answer is decoded first: it waits for the first.
        _ = state.fetched(
            [record(zero, 3), record(zero, 4)], partition: zero, fetchedAt: 3, bytes: 2000, epoch: epoch)
        guard case .wait = state.next() else {
            Issue.record("a later answer must not overtake an earlier one")
            return
        }
        _ = state.fetched(
            [record(zero, 0), record(zero, 1), record(zero, 2)], partition: zero, fetchedAt: 0, bytes: 3000,
            epoch: epoch)
        var offsets: [Int64] = []
        while case .record(let record, _) = state.next() { offsets.append(record.offset) }
        #expect(offsets == [0, 1, 2, 3, 4])
        #expect(state.decodingBytes == 0)
    }

    @Test func answersBeingDecodedCountAgainstTheBuffer() {
        var configuration = KafkaConsumerConfiguration()
        configuration.bufferBytes = 1000
        var state = ConsumerFetchState(configuration: configuration)
        state.assign([zero: .exact(0)])
        let epoch = state.epoch
        _ = state.fetchTargets(leaders: [zero: 1])
        _ = state.answerReceived(partition: zero, fetchedAt: 0, nextOffset: 10, bytes: 1500, epoch: epoch)
        state.fetchEnded(node: 1)
        let full = state.fetchTargets(leaders: [zero: 1])
        #expect(full.isEmpty, "no fetch while the answer in decoding fills the buffer")
        _ = state.fetched(nil, partition: zero, fetchedAt: 0, bytes: 1500, epoch: epoch)
        #expect(state.decodingBytes == 0)
    }

    @Test func aSeekDropsAnswersStillBeingDecoded() {
        var state = ConsumerFetchState(configuration: .init())
        state.assign([zero: .exact(0)])
        let epoch = state.epoch
        _ = state.fetchTargets(leaders: [zero: 1])
        _ = state.answerReceived(partition: zero, fetchedAt: 0, nextOffset: 2, bytes: 200, epoch: epoch)
        state.seek(zero, to: .exact(50))
        _ = state.fetched([record(zero, 0), record(zero, 1)], partition: zero, fetchedAt: 0, bytes: 200, epoch: epoch)
        guard case .wait = state.next() else {
            Issue.record("records fetched before the seek must not be handed out")
            return
        }
        #expect(state.decodingBytes == 0)
    }
}
