import NIOCore

/// The properties of a packet, or the Will Properties of a CONNECT (2.2.2).
///
/// Every property the specification defines is a field; nil (or an empty array) means absent, so an explicit
/// default such as a Payload Format Indicator of 0 survives a round trip. User Properties keep their order and
/// may repeat; Subscription Identifiers repeat only in a PUBLISH.
///
/// Which properties a packet may carry is checked when it is read and when it is written (table 2-4), as are the
/// value ranges: a Receive Maximum or Maximum Packet Size of 0, a Maximum QoS of 2, a Topic Alias or Subscription
/// Identifier of 0 are refused.
public struct MQTTProperties: Hashable, Sendable {
    /// 0x01, PUBLISH and Will: whether the payload is UTF-8 text.
    public var payloadFormatIndicator: MQTTPayloadFormatIndicator?
    /// 0x02, PUBLISH and Will: the message's lifetime in seconds.
    public var messageExpiryInterval: UInt32?
    /// 0x03, PUBLISH and Will: the payload's content type, as the applications define it.
    public var contentType: String?
    /// 0x08, PUBLISH and Will: the Topic Name a response goes to. No wildcards.
    public var responseTopic: String?
    /// 0x09, PUBLISH and Will: data that ties a response to its request.
    public var correlationData: ByteBuffer?
    /// 0x0B, PUBLISH (any number) and SUBSCRIBE (at most one): 1 to 268,435,455.
    public var subscriptionIdentifiers: [Int]
    /// 0x11, CONNECT, CONNACK and DISCONNECT: seconds the session outlives the connection; 0xFFFFFFFF is never.
    public var sessionExpiryInterval: UInt32?
    /// 0x12, CONNACK: the Client Identifier the server assigned.
    public var assignedClientIdentifier: String?
    /// 0x13, CONNACK: the Keep Alive the server requires, replacing the client's.
    public var serverKeepAlive: UInt16?
    /// 0x15, CONNECT, CONNACK and AUTH: the extended authentication method.
    public var authenticationMethod: String?
    /// 0x16, CONNECT, CONNACK and AUTH: data for the authentication method.
    public var authenticationData: ByteBuffer?
    /// 0x17, CONNECT: whether the server may send Reason Strings and User Properties on failures. Absent means
    /// true.
    public var requestProblemInformation: Bool?
    /// 0x18, Will: seconds the server waits before publishing the Will Message.
    public var willDelayInterval: UInt32?
    /// 0x19, CONNECT: whether the client asks for Response Information in the CONNACK. Absent means false.
    public var requestResponseInformation: Bool?
    /// 0x1A, CONNACK: the basis for the client's response topics.
    public var responseInformation: String?
    /// 0x1C, CONNACK and DISCONNECT: another server to use.
    public var serverReference: String?
    /// 0x1F, acknowledgements, DISCONNECT and AUTH: a human-readable diagnostic, not for parsing.
    public var reasonString: String?
    /// 0x21, CONNECT and CONNACK: how many QoS 1 and 2 publications the sender will process at once. Not 0;
    /// absent means 65,535.
    public var receiveMaximum: UInt16?
    /// 0x22, CONNECT and CONNACK: the highest Topic Alias the sender accepts; absent means 0 (none).
    public var topicAliasMaximum: UInt16?
    /// 0x23, PUBLISH: a number that stands for the Topic Name on this connection. Not 0.
    public var topicAlias: UInt16?
    /// 0x24, CONNACK: the highest QoS the server supports, 0 or 1; absent means 2.
    public var maximumQoS: MQTTQoS?
    /// 0x25, CONNACK: whether the server supports retained messages; absent means true.
    public var retainAvailable: Bool?
    /// 0x26, every packet with properties: name and value pairs, in order.
    public var userProperties: [MQTTUserProperty]
    /// 0x27, CONNECT and CONNACK: the largest packet, in bytes, the sender accepts. Not 0; absent means no limit.
    public var maximumPacketSize: UInt32?
    /// 0x28, CONNACK: whether the server supports wildcard subscriptions; absent means true.
    public var wildcardSubscriptionAvailable: Bool?
    /// 0x29, CONNACK: whether the server supports Subscription Identifiers; absent means true.
    public var subscriptionIdentifiersAvailable: Bool?
    /// 0x2A, CONNACK: whether the server supports shared subscriptions; absent means true.
    public var sharedSubscriptionAvailable: Bool?

    /// No properties.
    public init() {
        subscriptionIdentifiers = []
        userProperties = []
    }

    /// Whether no property is present.
    public var isEmpty: Bool { presentIdentifiers.isEmpty }

    /// The identifiers of the properties present, ascending.
    public var presentIdentifiers: [MQTTPropertyIdentifier] {
        MQTTPropertyIdentifier.allCases.filter { isPresent($0) }
    }

    /// Whether the property with `identifier` is present.
    public func isPresent(_ identifier: MQTTPropertyIdentifier) -> Bool {
        switch identifier {
        case .payloadFormatIndicator: payloadFormatIndicator != nil
        case .messageExpiryInterval: messageExpiryInterval != nil
        case .contentType: contentType != nil
        case .responseTopic: responseTopic != nil
        case .correlationData: correlationData != nil
        case .subscriptionIdentifier: !subscriptionIdentifiers.isEmpty
        case .sessionExpiryInterval: sessionExpiryInterval != nil
        case .assignedClientIdentifier: assignedClientIdentifier != nil
        case .serverKeepAlive: serverKeepAlive != nil
        case .authenticationMethod: authenticationMethod != nil
        case .authenticationData: authenticationData != nil
        case .requestProblemInformation: requestProblemInformation != nil
        case .willDelayInterval: willDelayInterval != nil
        case .requestResponseInformation: requestResponseInformation != nil
        case .responseInformation: responseInformation != nil
        case .serverReference: serverReference != nil
        case .reasonString: reasonString != nil
        case .receiveMaximum: receiveMaximum != nil
        case .topicAliasMaximum: topicAliasMaximum != nil
        case .topicAlias: topicAlias != nil
        case .maximumQoS: maximumQoS != nil
        case .retainAvailable: retainAvailable != nil
        case .userProperty: !userProperties.isEmpty
        case .maximumPacketSize: maximumPacketSize != nil
        case .wildcardSubscriptionAvailable: wildcardSubscriptionAvailable != nil
        case .subscriptionIdentifiersAvailable: subscriptionIdentifiersAvailable != nil
        case .sharedSubscriptionAvailable: sharedSubscriptionAvailable != nil
        }
    }

    /// These properties without the Reason String and User Properties: what a sender may leave out of an
    /// acknowledgement, DISCONNECT or AUTH to fit the receiver's Maximum Packet Size.
    public var withoutDiagnostics: MQTTProperties {
        var copy = self
        copy.reasonString = nil
        copy.userProperties = []
        return copy
    }
}
