import KafkaWire
import NIOCore
import Testing

@Suite struct KafkaFetchedRecordsTests {
    typealias Support = RecordsTestSupport

    /// Writes the batches and reads them back, so that the filter sees exactly what a Fetch response gives.
    static func fetched(
        _ batches: [KafkaRecordBatch],
        fetchOffset: Int64 = 0,
        isolationLevel: KafkaIsolationLevel,
        aborted: [(producerId: Int64, firstOffset: Int64)] = []
    ) throws -> KafkaFetchedRecords {
        let decoded = try KafkaRecordBatchDecoder.decode(Support.bytes(of: batches))
        #expect(decoded.count == batches.count)
        return KafkaFetchedRecords(
            batches: decoded, fetchOffset: fetchOffset, isolationLevel: isolationLevel,
            abortedTransactions: aborted.map {
                KafkaFetchResponse.AbortedTransaction(producerId: $0.producerId, firstOffset: $0.firstOffset)
            })
    }

    @Test func controlBatchesAreFlaggedAndNeverReturned() throws {
        let batches = [
            Support.dataBatch(baseOffset: 0, count: 2, producerId: 7, isTransactional: true),
            Support.controlBatch(offset: 2, producerId: 7, type: .commit),
            Support.dataBatch(baseOffset: 3, count: 1),
        ]
        let decoded = try KafkaRecordBatchDecoder.decode(Support.bytes(of: batches))
        #expect(decoded.map(\.isControl) == [false, true, false])
        #expect(decoded.map(\.controlRecordType) == [nil, .commit, nil])
        for level in [KafkaIsolationLevel.readUncommitted, .readCommitted] {
            let result = try Self.fetched(batches, isolationLevel: level)
            #expect(result.records.map(\.offset) == [0, 1, 3])
            #expect(result.nextFetchOffset == 4)
        }
    }

    /// Producer 7 aborts a transaction (0-2, marker at 5) while producer 8 commits one (3-4, marker at 6); a
    /// plain record (7); producer 7 then commits (8, marker 9) and aborts again (10, marker 11).
    static let transactions: [KafkaRecordBatch] = [
        Support.dataBatch(baseOffset: 0, count: 3, producerId: 7, isTransactional: true),
        Support.dataBatch(baseOffset: 3, count: 2, producerId: 8, isTransactional: true),
        Support.controlBatch(offset: 5, producerId: 7, type: .abort),
        Support.controlBatch(offset: 6, producerId: 8, type: .commit),
        Support.dataBatch(baseOffset: 7, count: 1),
        Support.dataBatch(baseOffset: 8, count: 1, producerId: 7, isTransactional: true),
        Support.controlBatch(offset: 9, producerId: 7, type: .commit),
        Support.dataBatch(baseOffset: 10, count: 1, producerId: 7, isTransactional: true),
        Support.controlBatch(offset: 11, producerId: 7, type: .abort),
    ]

    @Test func readCommittedDropsAbortedTransactions() throws {
        // Given out of order on purpose: the filter orders them by first offset.
        let result = try Self.fetched(
            Self.transactions, isolationLevel: .readCommitted, aborted: [(7, 10), (7, 0)])
        #expect(result.records.map(\.offset) == [3, 4, 7, 8])
        #expect(result.nextFetchOffset == 12)
    }

    @Test func readUncommittedKeepsEverythingButMarkers() throws {
        let result = try Self.fetched(
            Self.transactions, isolationLevel: .readUncommitted, aborted: [(7, 0), (7, 10)])
        #expect(result.records.map(\.offset) == [0, 1, 2, 3, 4, 7, 8, 10])
        #expect(result.nextFetchOffset == 12)
    }

    @Test func anAbortedTransactionStartsOnlyAtItsFirstOffset() throws {
        // Producer 7's first transaction (0-2) committed; only the one from offset 8 on was aborted.
        let batches = [
            Support.dataBatch(baseOffset: 0, count: 3, producerId: 7, isTransactional: true),
            Support.controlBatch(offset: 3, producerId: 7, type: .commit),
            Support.dataBatch(baseOffset: 8, count: 2, producerId: 7, isTransactional: true),
            Support.controlBatch(offset: 10, producerId: 7, type: .abort),
            Support.dataBatch(baseOffset: 11, count: 1, producerId: 7, isTransactional: true),
        ]
        let result = try Self.fetched(batches, isolationLevel: .readCommitted, aborted: [(7, 8)])
        #expect(result.records.map(\.offset) == [0, 1, 2, 11])
    }

    @Test func nonTransactionalBatchesOfAnAbortedProducerIdAreKept() throws {
        // Only transactional batches are dropped, as in the Java client.
        let batches = [
            Support.dataBatch(baseOffset: 0, count: 2, producerId: 7, isTransactional: false),
            Support.controlBatch(offset: 2, producerId: 7, type: .abort),
        ]
        let result = try Self.fetched(batches, isolationLevel: .readCommitted, aborted: [(7, 0)])
        #expect(result.records.map(\.offset) == [0, 1])
    }

    @Test func recordsBeforeTheFetchOffsetAreSkipped() throws {
        var compressed = Support.dataBatch(baseOffset: 100, count: 5)
        compressed.compression = .lz4
        let batches = [compressed, Support.dataBatch(baseOffset: 105, count: 2)]
        let result = try Self.fetched(batches, fetchOffset: 102, isolationLevel: .readUncommitted)
        #expect(result.records.map(\.offset) == [102, 103, 104, 105, 106])
        #expect(result.nextFetchOffset == 107)
    }

    @Test func theNextFetchOffsetPassesBatchesWithNothingToReturn() throws {
        // A batch whose last records compaction removed keeps its last offset delta; a fetch that only saw it, or
        // only markers, must still move on.
        var compacted = Support.dataBatch(baseOffset: 20, count: 2)
        compacted.lastOffsetDelta = 9
        let result = try Self.fetched(
            [compacted, Support.controlBatch(offset: 30, producerId: 1, type: .commit)], fetchOffset: 25,
            isolationLevel: .readUncommitted)
        #expect(result.records.isEmpty)
        #expect(result.nextFetchOffset == 31)

        let nothing = KafkaFetchedRecords(batches: [], fetchOffset: 42)
        #expect(nothing.records.isEmpty && nothing.nextFetchOffset == 42)
    }

    @Test func aControlRecordWithAShortKeyIsNeitherAbortNorCommit() throws {
        var marker = Support.controlBatch(offset: 3, producerId: 7, type: .abort)
        marker.records[0].key = ByteBuffer(bytes: [0, 0])
        let batches = [
            Support.dataBatch(baseOffset: 0, count: 3, producerId: 7, isTransactional: true), marker,
            Support.dataBatch(baseOffset: 4, count: 1, producerId: 7, isTransactional: true),
        ]
        let decoded = try KafkaRecordBatchDecoder.decode(Support.bytes(of: batches))
        #expect(decoded[1].controlRecordType == nil)
        // The malformed marker does not end the aborted range, so offset 4 stays dropped too.
        let result = try Self.fetched(batches, isolationLevel: .readCommitted, aborted: [(7, 0)])
        #expect(result.records.isEmpty)
    }

    @Test func theNextFetchOffsetFromHeadersAloneIsTheDecodedOne() throws {
        let batches = [
            Support.dataBatch(baseOffset: 10, count: 3),
            Support.controlBatch(offset: 13, producerId: 7, type: .commit),
            Support.dataBatch(baseOffset: 20, count: 2),
        ]
        let bytes = try Support.bytes(of: batches)
        for fetchOffset: Int64 in [0, 11, 21] {
            let decoded = try Self.fetched(batches, fetchOffset: fetchOffset, isolationLevel: .readUncommitted)
            let scanned = KafkaRecordBatchDecoder.nextFetchOffset(in: bytes, fetchOffset: fetchOffset)
            #expect(scanned == decoded.nextFetchOffset)
            #expect(scanned == 22)
        }
        // A partial trailing batch is not counted; nothing at all leaves the position where it was.
        let partial = bytes.getSlice(at: bytes.readerIndex, length: bytes.readableBytes - 5)!
        let scannedPartial = KafkaRecordBatchDecoder.nextFetchOffset(in: partial, fetchOffset: 10)
        #expect(scannedPartial == 14)
        #expect(KafkaRecordBatchDecoder.nextFetchOffset(in: ByteBuffer(), fetchOffset: 10) == 10)
        #expect(
            KafkaRecordBatchDecoder.nextFetchOffset(in: ByteBuffer(repeating: 0xFF, count: 40), fetchOffset: 3) == 3)
    }
}
