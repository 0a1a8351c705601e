import NIOCore

/// The header in front of every request body.
///
/// Version 1 carries the client id; version 2 (used with flexible request versions) adds a tagged-field section.
/// The client id stays a classic (non-compact) nullable string in every version.
public struct KafkaRequestHeader: Hashable, Sendable {
    public var apiKey: KafkaAPIKey
    public var apiVersion: Int16
    public var correlationID: Int32
    public var clientID: String?

    public init(apiKey: KafkaAPIKey, apiVersion: Int16, correlationID: Int32, clientID: String?) {
        self.apiKey = apiKey
        self.apiVersion = apiVersion
        self.correlationID = correlationID
        self.clientID = clientID
    }

    /// The header version a request of this type and version travels with.
    public static func version<Request: KafkaRequestMessage>(for request: Request.Type, apiVersion: Int16) -> Int16 {
        Request.isFlexible(apiVersion) ? 2 : 1
    }

    public init(from buffer: inout ByteBuffer, headerVersion: Int16) throws(KafkaWireError) {
        apiKey = KafkaAPIKey(rawValue: try buffer.readKafkaInteger())
        apiVersion = try buffer.readKafkaInteger()
        correlationID = try buffer.readKafkaInteger()
        clientID = headerVersion >= 1 ? try buffer.readKafkaNullableString(compact: false) : nil
        if headerVersion >= 2 {
            try buffer.skipKafkaTaggedFields()
        }
    }

    public func write(into buffer: inout ByteBuffer, headerVersion: Int16) throws(KafkaWireError) {
        buffer.writeKafkaInteger(apiKey.rawValue)
        buffer.writeKafkaInteger(apiVersion)
        buffer.writeKafkaInteger(correlationID)
        if headerVersion >= 1 {
            try buffer.writeKafkaString(clientID, compact: false)
        }
        if headerVersion >= 2 {
            buffer.writeUnsignedVarint(0)
        }
    }
}

/// The header in front of every response body: the correlation id, and a tagged-field section in version 1.
public struct KafkaResponseHeader: Hashable, Sendable {
    public var correlationID: Int32

    public init(correlationID: Int32) {
        self.correlationID = correlationID
    }

    /// The header version a response travels with. ApiVersions responses always use version 0, so that a client
    /// can read the answer whatever version the broker ended up answering with.
    public static func version<Response: KafkaResponseMessage>(for response: Response.Type, apiVersion: Int16) -> Int16
    {
        if Response.apiKey == .apiVersions { return 0 }
        return Response.isFlexible(apiVersion) ? 1 : 0
    }

    public init(from buffer: inout ByteBuffer, headerVersion: Int16) throws(KafkaWireError) {
        correlationID = try buffer.readKafkaInteger()
        if headerVersion >= 1 {
            try buffer.skipKafkaTaggedFields()
        }
    }

    public func write(into buffer: inout ByteBuffer, headerVersion: Int16) {
        buffer.writeKafkaInteger(correlationID)
        if headerVersion >= 1 {
            buffer.writeUnsignedVarint(0)
        }
    }
}

extension KafkaRequestMessage {
    /// Writes a whole request frame: int32 size, header, body.
    public func writeFrame(
        into buffer: inout ByteBuffer,
        version: Int16,
        correlationID: Int32,
        clientID: String?
    ) throws(KafkaWireError) {
        let start = buffer.writerIndex
        buffer.writeKafkaInteger(Int32(0))
        let header = KafkaRequestHeader(
            apiKey: Self.apiKey,
            apiVersion: version,
            correlationID: correlationID,
            clientID: clientID
        )
        try header.write(into: &buffer, headerVersion: KafkaRequestHeader.version(for: Self.self, apiVersion: version))
        try write(into: &buffer, version: version)
        buffer.setInteger(Int32(buffer.writerIndex - start - 4), at: start, endianness: .big)
    }
}

extension KafkaResponseMessage {
    /// Reads a response body from a frame whose correlation id has already been read, skipping the rest of the
    /// header. Bytes left over after the body are ignored, as newer brokers may append fields an older version
    /// does not know.
    public static func readBody(from frame: inout ByteBuffer, version: Int16) throws(KafkaWireError) -> Self {
        if KafkaResponseHeader.version(for: Self.self, apiVersion: version) >= 1 {
            try frame.skipKafkaTaggedFields()
        }
        return try Self(from: &frame, version: version)
    }

    /// Writes a whole response frame (used by tests and tools that play the broker's part).
    public func writeFrame(into buffer: inout ByteBuffer, version: Int16, correlationID: Int32) throws(KafkaWireError) {
        let start = buffer.writerIndex
        buffer.writeKafkaInteger(Int32(0))
        KafkaResponseHeader(correlationID: correlationID)
            .write(into: &buffer, headerVersion: KafkaResponseHeader.version(for: Self.self, apiVersion: version))
        try write(into: &buffer, version: version)
        buffer.setInteger(Int32(buffer.writerIndex - start - 4), at: start, endianness: .big)
    }
}
