/// A packet that breaks the MQTT 5.0 rules, found while reading it from a peer or while writing one.
///
/// Decoding never traps on bad input: every malformed, truncated, oversized or forbidden value ends here. The
/// `code` says what was wrong; `disconnectReason` is the Reason Code the specification tells the receiver to
/// send in its DISCONNECT before closing the connection (section 4.13).
public struct MQTTProtocolError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong, as a stable code.
    public enum Code: String, Hashable, Sendable, CaseIterable {
        /// The packet ended before one of its fields did: its Remaining Length is shorter than its content.
        case truncated
        /// Bytes were left after a packet's last field: its Remaining Length is longer than its content.
        case trailingBytes
        /// A Variable Byte Integer ran past four bytes, or did not use the fewest bytes its value needs.
        case invalidVariableByteInteger
        /// A UTF-8 Encoded String is ill-formed UTF-8 or contains U+0000.
        case invalidString
        /// A reserved bit is set: fixed header flags, CONNECT or CONNACK flags, or a Subscription Options byte.
        case invalidFlags
        /// A PUBLISH or Will QoS of 3.
        case invalidQoS
        /// A packet type of 0, which the specification reserves.
        case invalidPacketType
        /// A property identifier the specification does not define.
        case unknownProperty
        /// A property this packet may not carry (spec table 2-4).
        case propertyNotAllowed
        /// A property that may appear once appeared again.
        case duplicateProperty
        /// A property value outside its range: a Receive Maximum of 0, a boolean byte of 2, and so on.
        case invalidPropertyValue
        /// A property the packet needs is absent: an AUTH without an Authentication Method, or Authentication
        /// Data without an Authentication Method.
        case missingProperty
        /// A Reason Code this packet type may not carry.
        case invalidReasonCode
        /// A Packet Identifier of 0, or one present or absent against the packet's QoS.
        case invalidPacketIdentifier
        /// A Subscription Options byte with a Maximum QoS or Retain Handling of 3, or No Local on a shared
        /// subscription.
        case invalidSubscriptionOptions
        /// A SUBSCRIBE or UNSUBSCRIBE without a topic filter, or a SUBACK or UNSUBACK without a Reason Code.
        case missingPayload
        /// A PUBLISH with an empty Topic Name and no Topic Alias.
        case missingTopicName
        /// A Topic Alias of 0.
        case invalidTopicAlias
        /// A Topic Name (or Will Topic, or Response Topic) with a wildcard character, or an empty Will Topic.
        case invalidTopicName
        /// A Topic Filter that breaks the wildcard or shared-subscription rules.
        case invalidTopicFilter
        /// A CONNECT whose Protocol Name is not "MQTT" or whose Protocol Version is not 5.
        case unsupportedProtocolVersion
        /// A packet larger than the Maximum Packet Size in force, or than the protocol can encode.
        case packetTooLarge
        /// A value that cannot be encoded: a string or binary value over 65,535 bytes, a subscription
        /// identifier over 268,435,455. Met when writing.
        case valueTooLarge
        /// Fields that contradict each other, such as a CONNACK with Session Present and a failure Reason Code.
        case inconsistentFields
        /// More QoS 1 and 2 PUBLISH packets unacknowledged at once than the receiver's Receive Maximum (3.3.4).
        /// Found by the state of a connection, not by the codec.
        case receiveMaximumExceeded
    }

    /// What went wrong.
    public var code: Code
    /// What was being read or written, and why it failed.
    public var detail: String
    /// The type of the packet in error, once known.
    public var packetType: MQTTPacketType?

    public init(_ code: Code, _ detail: String, packetType: MQTTPacketType? = nil) {
        self.code = code
        self.detail = detail
        self.packetType = packetType
    }

    /// The Reason Code to send before closing the connection, as section 4.13 and each packet's section prescribe.
    ///
    /// Every value is one a DISCONNECT may carry except for `.unsupportedProtocolVersion`, which is only met in a
    /// CONNECT and is answered with a CONNACK carrying 0x84 (Unsupported Protocol Version).
    public var disconnectReason: MQTTReasonCode { code.disconnectReason }

    public var description: String {
        if let packetType { return "\(code.rawValue) in \(packetType): \(detail)" }
        return "\(code.rawValue): \(detail)"
    }
}

extension MQTTProtocolError.Code {
    /// The Reason Code the specification prescribes for this kind of error.
    public var disconnectReason: MQTTReasonCode {
        switch self {
        // "cannot be parsed according to this specification" (1.2), and the cases the spec names Malformed:
        // reserved flags (2.1.3), QoS 3 (3.3.1.2, 3.1.2.6), ill-formed UTF-8 and U+0000 (1.5.4), properties not
        // valid for the packet type (2.2.2.2), reserved bits in Subscription Options (3.8.3.1).
        case .truncated, .trailingBytes, .invalidVariableByteInteger, .invalidString, .invalidFlags, .invalidQoS,
            .invalidPacketType, .unknownProperty, .propertyNotAllowed, .valueTooLarge:
            return .malformedPacket
        // Parsed, but data "not allowed by the protocol" (1.2): the spec calls each of these a Protocol Error.
        case .duplicateProperty, .invalidPropertyValue, .missingProperty, .invalidReasonCode,
            .invalidPacketIdentifier, .invalidSubscriptionOptions, .missingPayload, .missingTopicName,
            .inconsistentFields:
            return .protocolError
        case .invalidTopicAlias: return .topicAliasInvalid  // 3.3.4: "uses DISCONNECT with Reason Code 0x94"
        case .receiveMaximumExceeded: return .receiveMaximumExceeded  // 3.3.4: "DISCONNECT with Reason Code 0x93"
        case .invalidTopicName: return .topicNameInvalid
        case .invalidTopicFilter: return .topicFilterInvalid
        case .packetTooLarge: return .packetTooLarge  // 3.1.2.11.4, 3.2.2.3.6
        case .unsupportedProtocolVersion: return .unsupportedProtocolVersion  // 3.1.2.2: a CONNACK code
        }
    }
}
