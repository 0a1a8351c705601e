/// A failure to decode or encode Kafka protocol bytes.
///
/// Decoding never traps on bad input: every malformed, truncated or oversized value ends here.
public struct KafkaWireError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong, as a stable code.
    public enum Code: String, Hashable, Sendable {
        /// The bytes ended before the value did.
        case truncated
        /// A length, count or varint is negative, too large or otherwise impossible.
        case invalidLength
        /// A varint ran past its maximum size.
        case invalidVarint
        /// A string is not valid UTF-8.
        case invalidString
        /// A non-nullable value was null, or a null was written where the version forbids it.
        case unexpectedNull
        /// The API version is outside the range this message supports.
        case unsupportedVersion
        /// A record batch has a magic byte other than 2.
        case unsupportedMagic
        /// A record batch's CRC32C does not match its contents.
        case corruptBatch
        /// A record batch uses a compression codec that is not available.
        case unsupportedCompression
        /// Compressing or decompressing failed.
        case compressionFailed
        /// A frame is larger than the configured maximum.
        case frameTooLarge
        /// A response did not match the request it answers.
        case unexpectedResponse
    }

    public var code: Code
    /// What was being read or written, and why it failed.
    public var detail: String

    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    public var description: String { "\(code.rawValue): \(detail)" }
}
