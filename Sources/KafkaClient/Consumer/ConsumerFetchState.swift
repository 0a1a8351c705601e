import DequeModule
import KafkaWire
import NIOCore

/// The consumer's bookkeeping as a value: owned partitions and their positions, fetched records waiting for the
/// application, and which brokers have a fetch in flight. Events in, decisions out; the consumer applies them under
/// a lock.
struct ConsumerFetchState {
    struct Partition {
        /// The next offset to fetch; nil until it is looked up from `start`.
        var fetchPosition: Int64?
        var start: KafkaOffsetSpec
        /// Where the application's reading of the partition starts: `start` as an offset, once known.
        var startPosition: Int64?
        var paused = false
        /// Set while ListOffsets runs for it.
        var resolving = false
        /// The fetch offsets of answers being decoded, oldest first: records are handed on in this order, so a
        /// later fetch (sent while an earlier answer is decoded) never overtakes it.
        var awaitingDelivery = Deque<Int64>()
        /// Decoded answers that arrived before an earlier one, by fetch offset.
        var parked: [Int64: [KafkaConsumerRecord]] = [:]
        /// The partition's high watermark in the latest fetch answer (the offset after its last committed record).
        var highWatermark: Int64?
    }

    let configuration: KafkaConsumerConfiguration
    private(set) var partitions: [KafkaTopicPartition: Partition] = [:]
    /// Bumped whenever the assignment or a position changes under a fetch, so its stale answer is dropped.
    private(set) var epoch: UInt64 = 0
    private var buffer = Deque<KafkaConsumerRecord>()
    private(set) var bufferedBytes = 0
    /// Bytes of fetched answers being decoded: counted against the buffer so that the next fetch, sent meanwhile,
    /// cannot take the consumer past it.
    private(set) var decodingBytes = 0
    /// For each partition, the offset after the last record handed to the application.
    private(set) var consumed: [KafkaTopicPartition: Int64] = [:]
    private(set) var fetchesInFlight: Set<Int32> = []
    private var waiter: CheckedContinuation<Void, Never>?
    private var failure: KafkaError?
    private(set) var isFinished = false

    init(configuration: KafkaConsumerConfiguration) {
        self.configuration = configuration
    }

    // MARK: Assignment

    mutating func assign(_ assignment: [KafkaTopicPartition: KafkaOffsetSpec]) {
        epoch &+= 1
        partitions = [:]
        for (partition, spec) in assignment {
            var state = Partition(start: spec)
            if case .exact(let offset) = spec {
                state.fetchPosition = offset
                state.startPosition = offset
            }
            partitions[partition] = state
        }
        buffer.removeAll { partitions[$0.topicPartition] == nil }
        bufferedBytes = buffer.reduce(0) { $0 + $1.estimatedBytes }
        consumed = consumed.filter { partitions[$0.key] != nil }
    }

    mutating func revoke(_ revoked: [KafkaTopicPartition]) {
        epoch &+= 1
        for partition in revoked {
            partitions[partition] = nil
            consumed[partition] = nil
        }
        buffer.removeAll { partitions[$0.topicPartition] == nil }
        bufferedBytes = buffer.reduce(0) { $0 + $1.estimatedBytes }
    }

    mutating func seek(_ partition: KafkaTopicPartition, to spec: KafkaOffsetSpec) {
        guard partitions[partition] != nil else { return }
        epoch &+= 1
        partitions[partition]!.start = spec
        partitions[partition]!.fetchPosition = nil
        partitions[partition]!.startPosition = nil
        partitions[partition]!.awaitingDelivery.removeAll()
        partitions[partition]!.parked.removeAll()
        if case .exact(let offset) = spec {
            partitions[partition]!.fetchPosition = offset
            partitions[partition]!.startPosition = offset
        }
        // Records handed out before the seek are no position to commit any more.
        consumed[partition] = nil
        buffer.removeAll { $0.topicPartition == partition }
        bufferedBytes = buffer.reduce(0) { $0 + $1.estimatedBytes }
    }

    mutating func setPaused(_ paused: Bool, _ selected: [KafkaTopicPartition]) {
        for partition in selected where partitions[partition] != nil {
            partitions[partition]!.paused = paused
        }
    }

    // MARK: Positions

    /// Partitions whose start must be looked up, marked as being looked up.
    mutating func takeUnresolved() -> [KafkaTopicPartition: KafkaOffsetSpec] {
        var result: [KafkaTopicPartition: KafkaOffsetSpec] = [:]
        for (partition, state) in partitions where state.fetchPosition == nil && !state.resolving {
            result[partition] = state.start
            partitions[partition]!.resolving = true
        }
        return result
    }

    mutating func resolved(_ offsets: [KafkaTopicPartition: Int64], failed: [KafkaTopicPartition]) {
        for (partition, offset) in offsets where partitions[partition]?.resolving == true {
            partitions[partition]!.fetchPosition = offset
            partitions[partition]!.startPosition = offset
            partitions[partition]!.resolving = false
        }
        for partition in failed where partitions[partition] != nil {
            partitions[partition]!.resolving = false
        }
    }

    /// The position is out of range: start again by the reset policy, or fail.
    mutating func outOfRange(_ partition: KafkaTopicPartition, fetchedAt offset: Int64) -> KafkaError? {
        guard let state = partitions[partition], state.fetchPosition == offset else { return nil }
        switch configuration.autoOffsetReset {
        case .earliest: seek(partition, to: .earliest)
        case .latest: seek(partition, to: .latest)
        case .none:
            return KafkaError.broker(.offsetOutOfRange, "offset \(offset) of \(partition) is out of range")
        }
        return nil
    }

    // MARK: Fetching

    /// The fetch to send to `node` now: its owned, unpaused partitions with known positions, when it has no fetch
    /// in flight and the buffer has room.
    mutating func fetchTargets(leaders: [KafkaTopicPartition: Int32]) -> [Int32: [KafkaTopicPartition: Int64]] {
        guard bufferedBytes + decodingBytes < configuration.bufferBytes, !isFinished else { return [:] }
        var targets: [Int32: [KafkaTopicPartition: Int64]] = [:]
        for (partition, state) in partitions where !state.paused {
            guard let position = state.fetchPosition, let leader = leaders[partition],
                !fetchesInFlight.contains(leader)
            else { continue }
            targets[leader, default: [:]][partition] = position
        }
        fetchesInFlight.formUnion(targets.keys)
        return targets
    }

    mutating func fetchEnded(node: Int32) {
        fetchesInFlight.remove(node)
    }

    /// An answer for `partition` at `offset` arrived: the next fetch may start at `nextOffset` at once, while this
    /// answer's `bytes` are decoded. Returns false for a stale answer (the partition moved meanwhile), which is
    /// dropped undecoded.
    mutating func answerReceived(
        partition: KafkaTopicPartition,
        fetchedAt offset: Int64,
        nextOffset: Int64,
        bytes: Int,
        epoch fetchEpoch: UInt64,
        highWatermark: Int64? = nil
    ) -> Bool {
        guard fetchEpoch == epoch, partitions[partition]?.fetchPosition == offset else { return false }
        if let highWatermark, highWatermark >= 0 { partitions[partition]!.highWatermark = highWatermark }
        partitions[partition]!.fetchPosition = nextOffset
        partitions[partition]!.awaitingDelivery.append(offset)
        decodingBytes += bytes
        return true
    }

    /// The records of an answer accepted by `answerReceived` (nil when decoding failed), handed on in fetch
    /// order; kept only if nothing moved the partition meanwhile.
    mutating func fetched(
        _ records: [KafkaConsumerRecord]?,
        partition: KafkaTopicPartition,
        fetchedAt offset: Int64,
        bytes: Int,
        epoch fetchEpoch: UInt64
    ) -> CheckedContinuation<Void, Never>? {
        decodingBytes -= bytes
        guard fetchEpoch == epoch, var state = partitions[partition],
            let position = state.awaitingDelivery.firstIndex(of: offset)
        else { return nil }
        defer { partitions[partition] = state }
        guard let records else {
            state.awaitingDelivery.remove(at: position)
            return nil
        }
        if position > 0 {
            state.parked[offset] = records
            return nil
        }
        state.awaitingDelivery.removeFirst()
        var delivered = records
        while let next = state.awaitingDelivery.first, let parked = state.parked.removeValue(forKey: next) {
            state.awaitingDelivery.removeFirst()
            delivered.append(contentsOf: parked)
        }
        guard !delivered.isEmpty else { return nil }
        for record in delivered {
            bufferedBytes += record.estimatedBytes
        }
        buffer.append(contentsOf: delivered)
        return handOutIfWaiting()
    }

    // MARK: Handing out

    enum Next {
        case record(KafkaConsumerRecord, wakeFetcher: Bool)
        case finished
        case failed(KafkaError)
        case wait
    }

    /// Per owned partition whose high watermark a fetch answer told: how many records lie between what the
    /// application has read (or where its reading starts) and the high watermark.
    var lag: [KafkaTopicPartition: Int64] {
        var lag: [KafkaTopicPartition: Int64] = [:]
        for (partition, state) in partitions {
            guard let highWatermark = state.highWatermark,
                let position = consumed[partition] ?? state.startPosition
            else { continue }
            lag[partition] = max(0, highWatermark - position)
        }
        return lag
    }

    mutating func next() -> Next {
        if let failure {
            self.failure = nil
            return .failed(failure)
        }
        if let record = buffer.popFirst() {
            // The fetcher stops at a full buffer; it is woken when reading takes the buffer below half.
            let lowWater = configuration.bufferBytes / 2
            let before = bufferedBytes
            bufferedBytes -= record.estimatedBytes
            consumed[record.topicPartition] = record.offset + 1
            let wake = before >= lowWater && bufferedBytes < lowWater
            return .record(record, wakeFetcher: wake || buffer.isEmpty)
        }
        if isFinished { return .finished }
        return .wait
    }

    /// Parks the reader unless something arrived since it last looked; returns false when it must not wait.
    mutating func wait(_ continuation: CheckedContinuation<Void, Never>) -> Bool {
        guard buffer.isEmpty, failure == nil, !isFinished else { return false }
        waiter = continuation
        return true
    }

    /// The parked reader, taken so it can be woken (on cancellation).
    mutating func takeWaiter() -> CheckedContinuation<Void, Never>? {
        handOutIfWaiting()
    }

    private mutating func handOutIfWaiting() -> CheckedContinuation<Void, Never>? {
        guard let waiting = waiter else { return nil }
        waiter = nil
        return waiting
    }

    /// A failure the application must see; returns the waiting reader to wake.
    mutating func fail(_ error: KafkaError) -> CheckedContinuation<Void, Never>? {
        failure = error
        return handOutIfWaiting()
    }

    /// Ends the records sequence now. Records fetched but not handed out are dropped: they were not consumed, so
    /// they are not committed either, and the partition's next owner reads them.
    mutating func finish() -> CheckedContinuation<Void, Never>? {
        isFinished = true
        buffer.removeAll()
        bufferedBytes = 0
        return handOutIfWaiting()
    }

    var assignedPartitions: [KafkaTopicPartition] { partitions.keys.sorted() }

    /// For each owned partition whose position is known, the offset of the next record the application gets:
    /// after the last one handed out, else where the partition starts.
    var applicationPositions: [KafkaTopicPartition: Int64] {
        var positions: [KafkaTopicPartition: Int64] = [:]
        for (partition, state) in partitions {
            if let position = consumed[partition] ?? state.startPosition { positions[partition] = position }
        }
        return positions
    }

    /// Hands a failure taken by `next()` back, for the next read to see.
    mutating func putBack(_ error: KafkaError) {
        if failure == nil { failure = error }
    }

    /// Parks the reader unless something is ready or `deadline` has passed; returns false when it must not wait.
    mutating func wait(_ continuation: CheckedContinuation<Void, Never>, until deadline: NIODeadline) -> Bool {
        guard deadline > .now() else { return false }
        return wait(continuation)
    }
}
