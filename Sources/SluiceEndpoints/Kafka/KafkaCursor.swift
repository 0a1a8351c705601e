import Foundation
public import KafkaClient

/// Positions in Kafka partitions, written the way Gravitee writes Kafka message ids and cursors:
/// `topic@partition#offset`, the partitions of a topic joined by `,` and topics by `;`
/// (`orders@0#41,1#17;audit@0#3`), then base64 unless the endpoint's `encodeMessageId` is false.
///
/// Each offset is that of the last message the client has from that partition (-1: none yet, start at 0), so a
/// client resumes right after it. A message's id carries the position of every partition its stream reads, not
/// only its own, so any gateway node can resume a client exactly from it, with nothing kept on the node.
public struct KafkaCursor: Sendable, Hashable, CustomStringConvertible {
    /// For each partition, the offset of the last message the client has.
    public var lastOffsets: [KafkaTopicPartition: Int64]

    public init(lastOffsets: [KafkaTopicPartition: Int64]) {
        self.lastOffsets = lastOffsets
    }

    /// From next offsets to read (what Kafka commits): each position less one.
    public init(nextOffsets: [KafkaTopicPartition: Int64]) {
        self.lastOffsets = nextOffsets.mapValues { $0 - 1 }
    }

    /// For each partition, the next offset to read: right after the last message the client has.
    public var nextOffsets: [KafkaTopicPartition: Int64] {
        lastOffsets.mapValues { $0 + 1 }
    }

    /// `topic@partition#offset,...;...`, topics and partitions in order.
    public var description: String {
        let byTopic = Dictionary(grouping: lastOffsets.keys, by: \.topic)
        return byTopic.keys.sorted().map { topic in
            let partitions = byTopic[topic]!.sorted().map { "\($0.partition)#\(lastOffsets[$0]!)" }
            return "\(topic)@" + partitions.joined(separator: ",")
        }.joined(separator: ";")
    }

    /// The cursor as a client sees it: base64 of ``description`` when `encoded`.
    public func text(encoded: Bool) -> String {
        encoded ? Data(description.utf8).base64EncodedString() : description
    }

    /// Why a cursor could not be read.
    public struct ParseError: Error, Sendable, Hashable, CustomStringConvertible {
        public var description: String
    }

    /// Reads a cursor written plainly or in base64 (standard or URL-safe alphabet, padded or not; a space is read
    /// as the `+` a query string may have turned into one).
    public init(parsing text: String) throws(ParseError) {
        let plain: String
        if text.contains("@") {
            plain = text
        } else {
            var base64 = String(
                text.map { character -> Character in
                    switch character {
                    case " ": "+"
                    case "-": "+"
                    case "_": "/"
                    default: character
                    }
                })
            while base64.count % 4 != 0 { base64.append("=") }
            guard let data = Data(base64Encoded: base64), let decoded = String(data: data, encoding: .utf8) else {
                throw ParseError(description: "neither topic@partition#offset nor its base64")
            }
            plain = decoded
        }
        var offsets: [KafkaTopicPartition: Int64] = [:]
        for topicPart in plain.split(separator: ";", omittingEmptySubsequences: true) {
            guard let at = topicPart.lastIndex(of: "@") else {
                throw ParseError(description: "'\(topicPart)' has no '@' between topic and partitions")
            }
            let topic = String(topicPart[..<at])
            guard !topic.isEmpty else { throw ParseError(description: "a topic name is empty") }
            let positions = topicPart[topicPart.index(after: at)...]
            guard !positions.isEmpty else { throw ParseError(description: "topic '\(topic)' has no partition") }
            for position in positions.split(separator: ",", omittingEmptySubsequences: false) {
                let parts = position.split(separator: "#", omittingEmptySubsequences: false)
                guard parts.count == 2, let partition = Int32(parts[0]), partition >= 0,
                    let offset = Int64(parts[1]), offset >= -1
                else {
                    throw ParseError(description: "'\(position)' of topic '\(topic)' is not partition#offset")
                }
                offsets[KafkaTopicPartition(topic: topic, partition: partition)] = offset
            }
        }
        guard !offsets.isEmpty else { throw ParseError(description: "no position") }
        self.lastOffsets = offsets
    }
}
