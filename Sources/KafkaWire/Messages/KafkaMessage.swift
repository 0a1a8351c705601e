import NIOCore

/// A Kafka message body whose layout depends on a version: requests, responses, and the versioned payloads
/// carried inside them (consumer-protocol subscription and assignment).
public protocol KafkaVersionedData: Sendable {
    /// The versions this type can read and write.
    static var supportedVersions: ClosedRange<Int16> { get }
    /// The first version using the flexible (compact, tagged-field) encodings, nil if none does.
    static var firstFlexibleVersion: Int16? { get }

    init(from buffer: inout ByteBuffer, version: Int16) throws(KafkaWireError)
    func write(into buffer: inout ByteBuffer, version: Int16) throws(KafkaWireError)
}

extension KafkaVersionedData {
    /// Whether `version` uses the flexible encodings (and, for requests and responses, the newer headers).
    public static func isFlexible(_ version: Int16) -> Bool {
        guard let first = firstFlexibleVersion else { return false }
        return version >= first
    }
}

/// A Kafka API request body.
public protocol KafkaRequestMessage: KafkaVersionedData {
    associatedtype Response: KafkaResponseMessage
    static var apiKey: KafkaAPIKey { get }
}

/// A Kafka API response body.
public protocol KafkaResponseMessage: KafkaVersionedData {
    static var apiKey: KafkaAPIKey { get }
}
