/// The records of one partition's Fetch response that a consumer should see, and the offset to fetch next.
///
/// Built from the partition's decoded batches the way the Java consumer reads them: control batches are never
/// returned; records before the fetch offset are skipped (a fetch can start in the middle of a batch, and a
/// compressed batch is always returned whole); under read-committed isolation, records of aborted transactions are
/// dropped.
public struct KafkaFetchedRecords: Hashable, Sendable {
    /// The records to hand to the application, in offset order.
    public var records: [KafkaRecord]
    /// Where the next fetch of this partition starts: past the last batch, even when its last records were
    /// compacted away or it held only control or aborted records, so the consumer never fetches it again.
    public var nextFetchOffset: Int64

    /// - Parameters:
    ///   - batches: the partition's batches, in order, as ``KafkaRecordBatchDecoder`` reads them.
    ///   - fetchOffset: the offset this fetch asked for.
    ///   - abortedTransactions: the Fetch response partition's `AbortedTransactions`, read only under
    ///     read-committed isolation.
    public init(
        batches: some Sequence<KafkaRecordBatch>,
        fetchOffset: Int64,
        isolationLevel: KafkaIsolationLevel = .readUncommitted,
        abortedTransactions: [KafkaFetchResponse.AbortedTransaction] = []
    ) {
        // As the Java consumer does: an aborted transaction becomes active when the batches reach its first offset,
        // its producer's transactional batches are dropped while it is, and the producer's abort marker ends it.
        let aborted = abortedTransactions.sorted { $0.firstOffset < $1.firstOffset }
        var nextAborted = 0
        var abortedProducers: Set<Int64> = []
        var records: [KafkaRecord] = []
        var nextFetchOffset = fetchOffset

        for batch in batches {
            nextFetchOffset = max(nextFetchOffset, batch.nextOffset)
            if isolationLevel == .readCommitted && batch.hasProducerId {
                while nextAborted < aborted.count && aborted[nextAborted].firstOffset <= batch.lastOffset {
                    abortedProducers.insert(aborted[nextAborted].producerId)
                    nextAborted += 1
                }
                if batch.controlRecordType == .abort {
                    abortedProducers.remove(batch.producerId)
                } else if batch.isTransactional && abortedProducers.contains(batch.producerId) {
                    continue
                }
            }
            if batch.isControl { continue }
            for record in batch.records where record.offset >= fetchOffset {
                records.append(record)
            }
        }
        self.records = records
        self.nextFetchOffset = nextFetchOffset
    }
}
