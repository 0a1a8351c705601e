import NIOCore

/// What the server granted and requires for one connection, from its CONNACK, with the specification's defaults
/// for the properties it left out.
public struct MQTT5ConnectionInfo: Hashable, Sendable {
    /// Whether the server resumed a session it had for this Client Identifier.
    public var sessionPresent: Bool
    /// The Client Identifier in use: the configured one, or the one the server assigned.
    public var clientIdentifier: String
    /// Whether the server assigned `clientIdentifier` (the client asked with an empty one).
    public var clientIdentifierAssigned: Bool
    /// The Keep Alive in force, in seconds: the server's Server Keep Alive if it sent one, else the client's.
    /// 0: no keep-alive.
    public var keepAlive: UInt16
    /// The session expiry in force, in seconds: the server's if it sent one, else the client's.
    public var sessionExpiryInterval: UInt32
    /// How many QoS 1 and 2 messages the client may have unacknowledged at once. Default 65,535.
    public var receiveMaximum: UInt16
    /// The highest QoS the server accepts. Default QoS 2.
    public var maximumQoS: MQTTQoS
    /// Whether the server accepts retained messages. Default true.
    public var retainAvailable: Bool
    /// The largest packet, in bytes, the server accepts. Default: the protocol's limit.
    public var maximumPacketSize: Int
    /// The highest Topic Alias the server accepts from the client; 0: none. Default 0.
    public var topicAliasMaximum: UInt16
    /// Default true.
    public var wildcardSubscriptionAvailable: Bool
    /// Default true.
    public var subscriptionIdentifiersAvailable: Bool
    /// Default true.
    public var sharedSubscriptionAvailable: Bool
    /// The basis for response topics, if the client asked for it and the server sent one.
    public var responseInformation: String?
    /// Another server to use.
    public var serverReference: String?
    public var reasonString: String?
    public var userProperties: [MQTTUserProperty]
    /// The last Authentication Data of an enhanced authentication.
    public var authenticationData: ByteBuffer?

    /// Reads `connAck` (a Success) for a connection whose CONNECT was `connect`.
    init(connAck: MQTTConnAckPacket, connect: MQTTConnectPacket) {
        let properties = connAck.properties
        sessionPresent = connAck.sessionPresent
        clientIdentifier = properties.assignedClientIdentifier ?? connect.clientIdentifier
        clientIdentifierAssigned = properties.assignedClientIdentifier != nil
        keepAlive = properties.serverKeepAlive ?? connect.keepAlive
        sessionExpiryInterval = properties.sessionExpiryInterval ?? connect.properties.sessionExpiryInterval ?? 0
        receiveMaximum = properties.receiveMaximum ?? UInt16.max
        maximumQoS = properties.maximumQoS ?? .exactlyOnce
        retainAvailable = properties.retainAvailable ?? true
        maximumPacketSize = properties.maximumPacketSize.map(Int.init) ?? MQTTPacketDecoder.protocolMaximumPacketSize
        topicAliasMaximum = properties.topicAliasMaximum ?? 0
        wildcardSubscriptionAvailable = properties.wildcardSubscriptionAvailable ?? true
        subscriptionIdentifiersAvailable = properties.subscriptionIdentifiersAvailable ?? true
        sharedSubscriptionAvailable = properties.sharedSubscriptionAvailable ?? true
        responseInformation = properties.responseInformation
        serverReference = properties.serverReference
        reasonString = properties.reasonString
        userProperties = properties.userProperties
        authenticationData = properties.authenticationData
    }
}
