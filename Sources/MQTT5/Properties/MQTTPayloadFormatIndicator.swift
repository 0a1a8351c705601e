/// The Payload Format Indicator property: whether a payload is unspecified bytes or UTF-8 text (3.3.2.3.2).
public enum MQTTPayloadFormatIndicator: UInt8, Hashable, Sendable, CaseIterable {
    /// The payload is unspecified bytes; the same as sending no indicator.
    case unspecified = 0
    /// The payload is UTF-8 Encoded Character Data.
    case utf8 = 1
}
