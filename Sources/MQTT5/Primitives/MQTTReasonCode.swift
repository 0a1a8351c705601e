/// A Reason Code (2.4): the one-byte outcome in CONNACK, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK,
/// DISCONNECT and AUTH. Values below 0x80 report success, 0x80 and above failure.
///
/// Value 0x00 has three names depending on the packet (Success, Normal disconnection, Granted QoS 0); all three
/// constants exist and compare equal. Which codes each packet may carry is in `MQTTReasonCode+Packets.swift`.
public struct MQTTReasonCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8

    public init(rawValue: UInt8) {
        self.rawValue = rawValue
    }

    /// Whether the code reports a failure (0x80 or above).
    public var isFailure: Bool { rawValue >= 0x80 }

    /// The name in the specification's table 2-6 (`Success` for 0x00), or `Unknown reason code 0x..`.
    public var name: String {
        Self.names[rawValue] ?? "Unknown reason code \(Self.hex(rawValue))"
    }

    public var description: String { "\(name) (\(Self.hex(rawValue)))" }

    static func hex(_ value: UInt8) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return "0x" + (digits.count == 1 ? "0" + digits : digits)
    }

    public static let success = MQTTReasonCode(rawValue: 0x00)
    public static let normalDisconnection = MQTTReasonCode(rawValue: 0x00)
    public static let grantedQoS0 = MQTTReasonCode(rawValue: 0x00)
    public static let grantedQoS1 = MQTTReasonCode(rawValue: 0x01)
    public static let grantedQoS2 = MQTTReasonCode(rawValue: 0x02)
    public static let disconnectWithWillMessage = MQTTReasonCode(rawValue: 0x04)
    public static let noMatchingSubscribers = MQTTReasonCode(rawValue: 0x10)
    public static let noSubscriptionExisted = MQTTReasonCode(rawValue: 0x11)
    public static let continueAuthentication = MQTTReasonCode(rawValue: 0x18)
    public static let reAuthenticate = MQTTReasonCode(rawValue: 0x19)
    public static let unspecifiedError = MQTTReasonCode(rawValue: 0x80)
    public static let malformedPacket = MQTTReasonCode(rawValue: 0x81)
    public static let protocolError = MQTTReasonCode(rawValue: 0x82)
    public static let implementationSpecificError = MQTTReasonCode(rawValue: 0x83)
    public static let unsupportedProtocolVersion = MQTTReasonCode(rawValue: 0x84)
    public static let clientIdentifierNotValid = MQTTReasonCode(rawValue: 0x85)
    public static let badUserNameOrPassword = MQTTReasonCode(rawValue: 0x86)
    public static let notAuthorized = MQTTReasonCode(rawValue: 0x87)
    public static let serverUnavailable = MQTTReasonCode(rawValue: 0x88)
    public static let serverBusy = MQTTReasonCode(rawValue: 0x89)
    public static let banned = MQTTReasonCode(rawValue: 0x8A)
    public static let serverShuttingDown = MQTTReasonCode(rawValue: 0x8B)
    public static let badAuthenticationMethod = MQTTReasonCode(rawValue: 0x8C)
    public static let keepAliveTimeout = MQTTReasonCode(rawValue: 0x8D)
    public static let sessionTakenOver = MQTTReasonCode(rawValue: 0x8E)
    public static let topicFilterInvalid = MQTTReasonCode(rawValue: 0x8F)
    public static let topicNameInvalid = MQTTReasonCode(rawValue: 0x90)
    public static let packetIdentifierInUse = MQTTReasonCode(rawValue: 0x91)
    public static let packetIdentifierNotFound = MQTTReasonCode(rawValue: 0x92)
    public static let receiveMaximumExceeded = MQTTReasonCode(rawValue: 0x93)
    public static let topicAliasInvalid = MQTTReasonCode(rawValue: 0x94)
    public static let packetTooLarge = MQTTReasonCode(rawValue: 0x95)
    public static let messageRateTooHigh = MQTTReasonCode(rawValue: 0x96)
    public static let quotaExceeded = MQTTReasonCode(rawValue: 0x97)
    public static let administrativeAction = MQTTReasonCode(rawValue: 0x98)
    public static let payloadFormatInvalid = MQTTReasonCode(rawValue: 0x99)
    public static let retainNotSupported = MQTTReasonCode(rawValue: 0x9A)
    public static let qosNotSupported = MQTTReasonCode(rawValue: 0x9B)
    public static let useAnotherServer = MQTTReasonCode(rawValue: 0x9C)
    public static let serverMoved = MQTTReasonCode(rawValue: 0x9D)
    public static let sharedSubscriptionsNotSupported = MQTTReasonCode(rawValue: 0x9E)
    public static let connectionRateExceeded = MQTTReasonCode(rawValue: 0x9F)
    public static let maximumConnectTime = MQTTReasonCode(rawValue: 0xA0)
    public static let subscriptionIdentifiersNotSupported = MQTTReasonCode(rawValue: 0xA1)
    public static let wildcardSubscriptionsNotSupported = MQTTReasonCode(rawValue: 0xA2)

    /// Every Reason Code the specification defines, in ascending order (0x00 once).
    public static let allDefined: [MQTTReasonCode] = names.keys.sorted().map { MQTTReasonCode(rawValue: $0) }

    static let names: [UInt8: String] = [
        0x00: "Success",
        0x01: "Granted QoS 1",
        0x02: "Granted QoS 2",
        0x04: "Disconnect with Will Message",
        0x10: "No matching subscribers",
        0x11: "No subscription existed",
        0x18: "Continue authentication",
        0x19: "Re-authenticate",
        0x80: "Unspecified error",
        0x81: "Malformed Packet",
        0x82: "Protocol Error",
        0x83: "Implementation specific error",
        0x84: "Unsupported Protocol Version",
        0x85: "Client Identifier not valid",
        0x86: "Bad User Name or Password",
        0x87: "Not authorized",
        0x88: "Server unavailable",
        0x89: "Server busy",
        0x8A: "Banned",
        0x8B: "Server shutting down",
        0x8C: "Bad authentication method",
        0x8D: "Keep Alive timeout",
        0x8E: "Session taken over",
        0x8F: "Topic Filter invalid",
        0x90: "Topic Name invalid",
        0x91: "Packet Identifier in use",
        0x92: "Packet Identifier not found",
        0x93: "Receive Maximum exceeded",
        0x94: "Topic Alias invalid",
        0x95: "Packet too large",
        0x96: "Message rate too high",
        0x97: "Quota exceeded",
        0x98: "Administrative action",
        0x99: "Payload format invalid",
        0x9A: "Retain not supported",
        0x9B: "QoS not supported",
        0x9C: "Use another server",
        0x9D: "Server moved",
        0x9E: "Shared Subscriptions not supported",
        0x9F: "Connection rate exceeded",
        0xA0: "Maximum connect time",
        0xA1: "Subscription Identifiers not supported",
        0xA2: "Wildcard Subscriptions not supported",
    ]
}
