import KafkaWire
import NIOCore
import Testing

/// A message type with a generated sample (see `Generated/MessageSamples.swift`).
protocol SampledMessage: KafkaVersionedData, Hashable {
    /// Every field that exists in `version` set to a distinct non-default value; fields nullable in `version`
    /// nil instead when `nulls` is true. Fields absent from `version` keep their defaults.
    static func sample(version: Int16, nulls: Bool) -> Self
}

/// The length and FNV-1a hash of one sample's encoding, computed from the schema by
/// `scripts/generate-kafka-message-samples.py` independently of the message generator.
struct ExpectedEncoding: Sendable {
    var version: Int16
    var nulls: Bool
    var length: Int
    var fnv1a: UInt64
}

/// One generated message type, with what its schema says about it, for tests that run over every type.
struct MessageCodecCase: Sendable, CustomTestStringConvertible {
    let messageType: any SampledMessage.Type
    let schemaVersions: ClosedRange<Int16>
    let schemaFirstFlexibleVersion: Int16?
    let expectedEncodings: [ExpectedEncoding]

    init(
        _ messageType: any SampledMessage.Type,
        schemaVersions: ClosedRange<Int16>,
        schemaFirstFlexibleVersion: Int16?,
        expectedEncodings: [ExpectedEncoding]
    ) {
        self.messageType = messageType
        self.schemaVersions = schemaVersions
        self.schemaFirstFlexibleVersion = schemaFirstFlexibleVersion
        self.expectedEncodings = expectedEncodings
    }

    var name: String { String(describing: messageType) }
    var testDescription: String { name }

    var isResponse: Bool { messageType is any KafkaResponseMessage.Type }
    var isRequest: Bool { messageType is any KafkaRequestMessage.Type }

    /// Whether the schema says `version` uses the flexible encodings.
    func schemaIsFlexible(_ version: Int16) -> Bool {
        guard let first = schemaFirstFlexibleVersion else { return false }
        return version >= first
    }

    /// The sample for `version`, written.
    func sampleEncoding(version: Int16, nulls: Bool) throws(KafkaWireError) -> ByteBuffer {
        try encodeSample(messageType, version: version, nulls: nulls)
    }

    /// Decodes `buffer` as this type (advancing it past what was read).
    func decode(_ buffer: inout ByteBuffer, version: Int16) throws(KafkaWireError) {
        try decodeMessage(messageType, from: &buffer, version: version)
    }

    private func encodeSample<Message: SampledMessage>(
        _: Message.Type,
        version: Int16,
        nulls: Bool
    ) throws(KafkaWireError) -> ByteBuffer {
        var buffer = ByteBuffer()
        try Message.sample(version: version, nulls: nulls).write(into: &buffer, version: version)
        return buffer
    }

    private func decodeMessage<Message: SampledMessage>(
        _: Message.Type,
        from buffer: inout ByteBuffer,
        version: Int16
    ) throws(KafkaWireError) {
        _ = try Message(from: &buffer, version: version)
    }
}
