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
        _ = state.fetched([record(zero, 0)], partition: zero, fetchedAt: 0, nextOffset: 1, epoch: epoch)
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
        _ = state.fetched(records, partition: zero, fetchedAt: 0, nextOffset: 20, epoch: epoch)
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
        _ = state.fetched(
            [record(zero, 0), record(zero, 1)], partition: zero, fetchedAt: 0, nextOffset: 2, epoch: epoch)
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
}
