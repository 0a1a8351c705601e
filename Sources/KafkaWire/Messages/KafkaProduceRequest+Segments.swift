import NIOCore

/// A request that can be written as several buffers, so that large byte fields go out from the caller's memory
/// instead of being copied into one frame.
public protocol KafkaSegmentedRequestMessage: KafkaRequestMessage {
    /// The frame as segments whose bytes, one after another, are exactly `writeFrame`'s.
    func writeFrameSegments(
        version: Int16, correlationID: Int32, clientID: String?
    ) throws(KafkaWireError)
        -> [ByteBuffer]
}

extension KafkaProduceRequest: KafkaSegmentedRequestMessage {
    /// Writes the request's frame as segments that, sent one after another, are the same bytes as `writeFrame`,
    /// without copying the record batches: each partition's `records` is a segment of its own, shared with the
    /// caller's buffer. A producer sends its batches from the buffers it built them in, so a batch in flight takes
    /// its memory once, not twice.
    ///
    /// The fields are written as the generated `write(into:version:)` writes them; a test holds the two to the same
    /// bytes for every version.
    public func writeFrameSegments(
        version: Int16,
        correlationID: Int32,
        clientID: String?
    ) throws(KafkaWireError) -> [ByteBuffer] {
        guard Self.supportedVersions.contains(version) else {
            throw KafkaWireError(.unsupportedVersion, "KafkaProduceRequest version \(version)")
        }
        let flexible = version >= 9
        var segments: [ByteBuffer] = []
        var current = ByteBuffer()
        current.reserveCapacity(256)
        current.writeKafkaInteger(Int32(0))  // frame size, set below
        let header = KafkaRequestHeader(
            apiKey: Self.apiKey, apiVersion: version, correlationID: correlationID, clientID: clientID)
        try header.write(into: &current, headerVersion: KafkaRequestHeader.version(for: Self.self, apiVersion: version))
        if version >= 3 {
            try current.writeKafkaString(transactionalId, compact: flexible)
        }
        current.writeKafkaInteger(acks)
        current.writeKafkaInteger(timeoutMs)
        current.writeKafkaArrayCount(topicData.count, compact: flexible)
        for topic in topicData {
            try current.writeKafkaString(topic.name, compact: flexible)
            current.writeKafkaArrayCount(topic.partitionData.count, compact: flexible)
            for partition in topic.partitionData {
                current.writeKafkaInteger(partition.index)
                current.writeKafkaLength(partition.records?.readableBytes, compact: flexible, wide: true)
                if let records = partition.records, records.readableBytes > 0 {
                    segments.append(current)
                    segments.append(records)
                    current = ByteBuffer()
                    current.reserveCapacity(64)
                }
                if flexible { current.writeUnsignedVarint(0) }
            }
            if flexible { current.writeUnsignedVarint(0) }
        }
        if flexible { current.writeUnsignedVarint(0) }
        segments.append(current)
        let size = segments.reduce(0) { $0 + $1.readableBytes } - 4
        guard size <= Int(Int32.max) else {
            throw KafkaWireError(.invalidLength, "Produce request of \(size) bytes is larger than a frame can be")
        }
        segments[0].setInteger(Int32(size), at: segments[0].readerIndex, endianness: .big)
        return segments
    }
}
