import KafkaWire
import NIOCore

/// The "consumer" embedded protocol of classic consumer groups: the subscription a member puts in JoinGroup and
/// the assignment the leader puts in SyncGroup, each an int16 version followed by the versioned body.
///
/// Newer versions only append fields, so a body is read with `min(writerVersion, ourHighest)` and the bytes after
/// the fields we know are ignored: a Java 3.x member writing v3 and a librdkafka member writing v0 read alike.
enum ConsumerProtocol {
    /// The `protocolType` of consumer groups in JoinGroup and SyncGroup.
    static let protocolType = "consumer"
    /// v3, as the Java 3.x consumer writes it: owned partitions (v1, empty under eager rebalancing), the member's
    /// generation (v2) and rack (v3, none). The generation also makes every rejoin's metadata differ from the
    /// last, which brokers that only rebalance on changed metadata (tansu 0.6) need to run the leader's new
    /// assignment; Kafka rebalances on any JoinGroup from the leader.
    static let subscriptionVersion: Int16 = 3
    /// v1 has the same fields as v0; it is what Java 2.4+ members write when nothing newer is needed.
    static let assignmentVersion: Int16 = 1

    /// The JoinGroup metadata for a member subscribing to `topics`, in generation `generationID` so far (-1
    /// when it has none).
    static func subscriptionMetadata(topics: [String], generationID: Int32 = -1) throws(KafkaError) -> ByteBuffer {
        try encode(
            KafkaConsumerProtocolSubscription(topics: topics, generationId: generationID),
            version: subscriptionVersion
        )
    }

    /// A member's subscription as the leader reads it from the JoinGroup response.
    static func decodeSubscription(
        _ metadata: ByteBuffer,
        memberID: String,
        groupInstanceID: String?
    ) throws(KafkaError) -> KafkaGroupMemberSubscription {
        let subscription = try decode(KafkaConsumerProtocolSubscription.self, from: metadata, what: "subscription")
        var owned: [String: [Int32]] = [:]
        for topic in subscription.ownedPartitions {
            owned[topic.topic, default: []].append(contentsOf: topic.partitions)
        }
        return KafkaGroupMemberSubscription(
            memberId: memberID,
            groupInstanceId: groupInstanceID,
            topics: subscription.topics,
            ownedPartitions: owned
        )
    }

    /// The SyncGroup bytes for one member's partitions, by topic.
    static func assignmentMetadata(_ partitions: [String: [Int32]]) throws(KafkaError) -> ByteBuffer {
        let topics = partitions.keys.sorted().map {
            KafkaConsumerProtocolAssignment.TopicPartition(topic: $0, partitions: partitions[$0]!.sorted())
        }
        return try encode(KafkaConsumerProtocolAssignment(assignedPartitions: topics), version: assignmentVersion)
    }

    /// The partitions in a SyncGroup answer, sorted. No bytes at all mean no partitions: the coordinator sends
    /// that to a member the leader left out.
    static func decodeAssignment(_ metadata: ByteBuffer) throws(KafkaError) -> [KafkaTopicPartition] {
        guard metadata.readableBytes > 0 else { return [] }
        let assignment = try decode(KafkaConsumerProtocolAssignment.self, from: metadata, what: "assignment")
        let partitions = assignment.assignedPartitions.flatMap { topic in
            topic.partitions.map { KafkaTopicPartition(topic: topic.topic, partition: $0) }
        }
        return Set(partitions).sorted()
    }

    private static func encode<Body: KafkaVersionedData>(_ body: Body, version: Int16) throws(KafkaError) -> ByteBuffer
    {
        var buffer = ByteBuffer()
        buffer.writeKafkaInteger(version)
        do {
            try body.write(into: &buffer, version: version)
        } catch {
            throw KafkaError(.protocolViolation, "consumer protocol \(Body.self) v\(version): \(error)")
        }
        return buffer
    }

    private static func decode<Body: KafkaVersionedData>(
        _ type: Body.Type,
        from metadata: ByteBuffer,
        what: String
    ) throws(KafkaError) -> Body {
        var buffer = metadata
        do {
            let written = try buffer.readKafkaInteger(as: Int16.self)
            guard written >= 0 else {
                throw KafkaWireError(.unsupportedVersion, "consumer protocol \(what) version \(written)")
            }
            return try Body(from: &buffer, version: min(written, Body.supportedVersions.upperBound))
        } catch {
            throw KafkaError(.protocolViolation, "consumer protocol \(what): \(error)")
        }
    }
}
