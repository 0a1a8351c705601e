import KafkaWire
import NIOCore
import Testing

@testable import KafkaClient

/// The application's position per partition: where the next record handed out comes from.
@Suite struct ConsumerApplicationPositionsTests {
    let zero = KafkaTopicPartition(topic: "t", partition: 0)
    let one = KafkaTopicPartition(topic: "t", partition: 1)

    func record(_ partition: KafkaTopicPartition, _ offset: Int64) -> KafkaConsumerRecord {
        KafkaConsumerRecord(
            topic: partition.topic, partition: partition.partition, offset: offset, timestamp: 0,
            timestampType: .createTime, key: nil, value: ByteBuffer(string: "v"), headers: [])
    }

    @Test func positionsStartWhereThePartitionStartsAndFollowWhatIsHandedOut() {
        var state = ConsumerFetchState(configuration: .init())
        state.assign([zero: .exact(5), one: .latest])
        #expect(state.applicationPositions == [zero: 5], "a partition whose start is not looked up yet has none")
        _ = state.takeUnresolved()
        state.resolved([one: 40], failed: [])
        #expect(state.applicationPositions == [zero: 5, one: 40])

        let epoch = state.epoch
        _ = state.fetchTargets(leaders: [zero: 1, one: 1])
        // Fetched but not handed out: the application has not moved.
        _ = state.answerReceived(partition: zero, fetchedAt: 5, nextOffset: 8, bytes: 30, epoch: epoch)
        _ = state.fetched(
            [record(zero, 5), record(zero, 6), record(zero, 7)], partition: zero, fetchedAt: 5, bytes: 30, epoch: epoch)
        #expect(state.applicationPositions == [zero: 5, one: 40])
        guard case .record = state.next() else {
            Issue.record("a record was expected")
            return
        }
        #expect(state.applicationPositions == [zero: 6, one: 40])
    }

    @Test func aSeekMovesThePositionAndForgetsWhatWasHandedOutBefore() {
        var state = ConsumerFetchState(configuration: .init())
        state.assign([zero: .exact(0)])
        let epoch = state.epoch
        _ = state.fetchTargets(leaders: [zero: 1])
        _ = state.answerReceived(partition: zero, fetchedAt: 0, nextOffset: 1, bytes: 10, epoch: epoch)
        _ = state.fetched([record(zero, 0)], partition: zero, fetchedAt: 0, bytes: 10, epoch: epoch)
        _ = state.next()
        #expect(state.consumed == [zero: 1])
        state.seek(zero, to: .exact(100))
        #expect(state.applicationPositions == [zero: 100])
        #expect(state.consumed.isEmpty, "a commit after a seek must not store a position from before it")
        state.seek(zero, to: .earliest)
        #expect(state.applicationPositions.isEmpty)
    }

    @Test func aFailureTakenWithRecordsIsPutBackForTheNextRead() {
        var state = ConsumerFetchState(configuration: .init())
        state.assign([zero: .exact(0)])
        _ = state.fail(KafkaError(.protocolViolation, "x"))
        guard case .failed(let error) = state.next() else {
            Issue.record("the failure was expected")
            return
        }
        state.putBack(error)
        guard case .failed = state.next() else {
            Issue.record("the failure put back was expected again")
            return
        }
    }
}
