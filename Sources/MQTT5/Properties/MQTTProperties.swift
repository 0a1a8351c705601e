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
    /// The values, shared between copies until one is changed: a packet (and every copy of it on its way through
    /// the client) then carries one reference instead of some thirty optional fields; nil when there are none, so
    /// that `MQTTProperties()` touches no shared object.
    private var storage: Storage?

    private final class Storage: @unchecked Sendable {
        // Changed only through `values(_:)` when uniquely referenced, so never while shared between threads.
        var values: Values
        /// `values.isEmptyExceptTopicAlias`, kept up to date by `values(_:)`: asked on every publish's path.
        var isEmptyExceptTopicAlias: Bool

        init(_ values: Values) {
            self.values = values
            self.isEmptyExceptTopicAlias = values.isEmptyExceptTopicAlias
        }
    }

    private struct Values: Hashable, Sendable {
        var payloadFormatIndicator: MQTTPayloadFormatIndicator?
        var messageExpiryInterval: UInt32?
        var contentType: String?
        var responseTopic: String?
        var correlationData: ByteBuffer?
        var subscriptionIdentifiers: [Int] = []
        var sessionExpiryInterval: UInt32?
        var assignedClientIdentifier: String?
        var serverKeepAlive: UInt16?
        var authenticationMethod: String?
        var authenticationData: ByteBuffer?
        var requestProblemInformation: Bool?
        var willDelayInterval: UInt32?
        var requestResponseInformation: Bool?
        var responseInformation: String?
        var serverReference: String?
        var reasonString: String?
        var receiveMaximum: UInt16?
        var topicAliasMaximum: UInt16?
        var topicAlias: UInt16?
        var maximumQoS: MQTTQoS?
        var retainAvailable: Bool?
        var userProperties: [MQTTUserProperty] = []
        var maximumPacketSize: UInt32?
        var wildcardSubscriptionAvailable: Bool?
        var subscriptionIdentifiersAvailable: Bool?
        var sharedSubscriptionAvailable: Bool?

        var isEmptyExceptTopicAlias: Bool {
            payloadFormatIndicator == nil && messageExpiryInterval == nil && contentType == nil && responseTopic == nil
                && correlationData == nil && subscriptionIdentifiers.isEmpty && sessionExpiryInterval == nil
                && assignedClientIdentifier == nil && serverKeepAlive == nil && authenticationMethod == nil
                && authenticationData == nil && requestProblemInformation == nil && willDelayInterval == nil
                && requestResponseInformation == nil && responseInformation == nil && serverReference == nil
                && reasonString == nil && receiveMaximum == nil && topicAliasMaximum == nil && maximumQoS == nil
                && retainAvailable == nil && userProperties.isEmpty && maximumPacketSize == nil
                && wildcardSubscriptionAvailable == nil && subscriptionIdentifiersAvailable == nil
                && sharedSubscriptionAvailable == nil
        }
    }

    /// Changes the values, copying them first when they are shared.
    private mutating func values<Result>(_ body: (inout Values) -> Result) -> Result {
        if storage == nil {
            storage = Storage(Values())
        } else if !isKnownUniquelyReferenced(&storage!) {
            storage = Storage(storage!.values)
        }
        let storage = storage!
        defer { storage.isEmptyExceptTopicAlias = storage.values.isEmptyExceptTopicAlias }
        return body(&storage.values)
    }

    /// Appends in place (the computed property would copy the array first), for reading packets.
    mutating func appendSubscriptionIdentifier(_ identifier: Int) {
        values { $0.subscriptionIdentifiers.append(identifier) }
    }

    mutating func appendUserProperty(_ property: MQTTUserProperty) {
        values { $0.userProperties.append(property) }
    }

    /// The values to read.
    private static let noValues = Values()

    /// 0x01, PUBLISH and Will: whether the payload is UTF-8 text.
    public var payloadFormatIndicator: MQTTPayloadFormatIndicator? {
        get { storage?.values.payloadFormatIndicator ?? Self.noValues.payloadFormatIndicator }
        set { values { $0.payloadFormatIndicator = newValue } }
    }
    /// 0x02, PUBLISH and Will: the message's lifetime in seconds.
    public var messageExpiryInterval: UInt32? {
        get { storage?.values.messageExpiryInterval ?? Self.noValues.messageExpiryInterval }
        set { values { $0.messageExpiryInterval = newValue } }
    }
    /// 0x03, PUBLISH and Will: the payload's content type, as the applications define it.
    public var contentType: String? {
        get { storage?.values.contentType ?? Self.noValues.contentType }
        set { values { $0.contentType = newValue } }
    }
    /// 0x08, PUBLISH and Will: the Topic Name a response goes to. No wildcards.
    public var responseTopic: String? {
        get { storage?.values.responseTopic ?? Self.noValues.responseTopic }
        set { values { $0.responseTopic = newValue } }
    }
    /// 0x09, PUBLISH and Will: data that ties a response to its request.
    public var correlationData: ByteBuffer? {
        get { storage?.values.correlationData ?? Self.noValues.correlationData }
        set { values { $0.correlationData = newValue } }
    }
    /// 0x0B, PUBLISH (any number) and SUBSCRIBE (at most one): 1 to 268,435,455.
    public var subscriptionIdentifiers: [Int] {
        get { storage?.values.subscriptionIdentifiers ?? Self.noValues.subscriptionIdentifiers }
        set { values { $0.subscriptionIdentifiers = newValue } }
    }
    /// 0x11, CONNECT, CONNACK and DISCONNECT: seconds the session outlives the connection; 0xFFFFFFFF is never.
    public var sessionExpiryInterval: UInt32? {
        get { storage?.values.sessionExpiryInterval ?? Self.noValues.sessionExpiryInterval }
        set { values { $0.sessionExpiryInterval = newValue } }
    }
    /// 0x12, CONNACK: the Client Identifier the server assigned.
    public var assignedClientIdentifier: String? {
        get { storage?.values.assignedClientIdentifier ?? Self.noValues.assignedClientIdentifier }
        set { values { $0.assignedClientIdentifier = newValue } }
    }
    /// 0x13, CONNACK: the Keep Alive the server requires, replacing the client's.
    public var serverKeepAlive: UInt16? {
        get { storage?.values.serverKeepAlive ?? Self.noValues.serverKeepAlive }
        set { values { $0.serverKeepAlive = newValue } }
    }
    /// 0x15, CONNECT, CONNACK and AUTH: the extended authentication method.
    public var authenticationMethod: String? {
        get { storage?.values.authenticationMethod ?? Self.noValues.authenticationMethod }
        set { values { $0.authenticationMethod = newValue } }
    }
    /// 0x16, CONNECT, CONNACK and AUTH: data for the authentication method.
    public var authenticationData: ByteBuffer? {
        get { storage?.values.authenticationData ?? Self.noValues.authenticationData }
        set { values { $0.authenticationData = newValue } }
    }
    /// 0x17, CONNECT: whether the server may send Reason Strings and User Properties on failures. Absent means
    /// true.
    public var requestProblemInformation: Bool? {
        get { storage?.values.requestProblemInformation ?? Self.noValues.requestProblemInformation }
        set { values { $0.requestProblemInformation = newValue } }
    }
    /// 0x18, Will: seconds the server waits before publishing the Will Message.
    public var willDelayInterval: UInt32? {
        get { storage?.values.willDelayInterval ?? Self.noValues.willDelayInterval }
        set { values { $0.willDelayInterval = newValue } }
    }
    /// 0x19, CONNECT: whether the client asks for Response Information in the CONNACK. Absent means false.
    public var requestResponseInformation: Bool? {
        get { storage?.values.requestResponseInformation ?? Self.noValues.requestResponseInformation }
        set { values { $0.requestResponseInformation = newValue } }
    }
    /// 0x1A, CONNACK: the basis for the client's response topics.
    public var responseInformation: String? {
        get { storage?.values.responseInformation ?? Self.noValues.responseInformation }
        set { values { $0.responseInformation = newValue } }
    }
    /// 0x1C, CONNACK and DISCONNECT: another server to use.
    public var serverReference: String? {
        get { storage?.values.serverReference ?? Self.noValues.serverReference }
        set { values { $0.serverReference = newValue } }
    }
    /// 0x1F, acknowledgements, DISCONNECT and AUTH: a human-readable diagnostic, not for parsing.
    public var reasonString: String? {
        get { storage?.values.reasonString ?? Self.noValues.reasonString }
        set { values { $0.reasonString = newValue } }
    }
    /// 0x21, CONNECT and CONNACK: how many QoS 1 and 2 publications the sender will process at once. Not 0;
    /// absent means 65,535.
    public var receiveMaximum: UInt16? {
        get { storage?.values.receiveMaximum ?? Self.noValues.receiveMaximum }
        set { values { $0.receiveMaximum = newValue } }
    }
    /// 0x22, CONNECT and CONNACK: the highest Topic Alias the sender accepts; absent means 0 (none).
    public var topicAliasMaximum: UInt16? {
        get { storage?.values.topicAliasMaximum ?? Self.noValues.topicAliasMaximum }
        set { values { $0.topicAliasMaximum = newValue } }
    }
    /// 0x23, PUBLISH: a number that stands for the Topic Name on this connection. Not 0.
    public var topicAlias: UInt16? {
        get { storage?.values.topicAlias ?? Self.noValues.topicAlias }
        set { values { $0.topicAlias = newValue } }
    }
    /// 0x24, CONNACK: the highest QoS the server supports, 0 or 1; absent means 2.
    public var maximumQoS: MQTTQoS? {
        get { storage?.values.maximumQoS ?? Self.noValues.maximumQoS }
        set { values { $0.maximumQoS = newValue } }
    }
    /// 0x25, CONNACK: whether the server supports retained messages; absent means true.
    public var retainAvailable: Bool? {
        get { storage?.values.retainAvailable ?? Self.noValues.retainAvailable }
        set { values { $0.retainAvailable = newValue } }
    }
    /// 0x26, every packet with properties: name and value pairs, in order.
    public var userProperties: [MQTTUserProperty] {
        get { storage?.values.userProperties ?? Self.noValues.userProperties }
        set { values { $0.userProperties = newValue } }
    }
    /// 0x27, CONNECT and CONNACK: the largest packet, in bytes, the sender accepts. Not 0; absent means no limit.
    public var maximumPacketSize: UInt32? {
        get { storage?.values.maximumPacketSize ?? Self.noValues.maximumPacketSize }
        set { values { $0.maximumPacketSize = newValue } }
    }
    /// 0x28, CONNACK: whether the server supports wildcard subscriptions; absent means true.
    public var wildcardSubscriptionAvailable: Bool? {
        get { storage?.values.wildcardSubscriptionAvailable ?? Self.noValues.wildcardSubscriptionAvailable }
        set { values { $0.wildcardSubscriptionAvailable = newValue } }
    }
    /// 0x29, CONNACK: whether the server supports Subscription Identifiers; absent means true.
    public var subscriptionIdentifiersAvailable: Bool? {
        get { storage?.values.subscriptionIdentifiersAvailable ?? Self.noValues.subscriptionIdentifiersAvailable }
        set { values { $0.subscriptionIdentifiersAvailable = newValue } }
    }
    /// 0x2A, CONNACK: whether the server supports shared subscriptions; absent means true.
    public var sharedSubscriptionAvailable: Bool? {
        get { storage?.values.sharedSubscriptionAvailable ?? Self.noValues.sharedSubscriptionAvailable }
        set { values { $0.sharedSubscriptionAvailable = newValue } }
    }

    public static func == (lhs: MQTTProperties, rhs: MQTTProperties) -> Bool {
        if lhs.storage === rhs.storage { return true }
        return (lhs.storage?.values ?? noValues) == (rhs.storage?.values ?? noValues)
    }

    public func hash(into hasher: inout Hasher) {
        (storage?.values ?? Self.noValues).hash(into: &hasher)
    }

    /// No properties.
    public init() {
        storage = nil
    }

    /// Whether no property is present.
    public var isEmpty: Bool { isEmptyExceptTopicAlias && topicAlias == nil }

    /// Whether no property but perhaps a Topic Alias is present: the common PUBLISH, checked field by field
    /// because it is on every publish's path.
    var isEmptyExceptTopicAlias: Bool {
        storage?.isEmptyExceptTopicAlias ?? true
    }

    /// The identifiers of the properties present, ascending.
    public var presentIdentifiers: [MQTTPropertyIdentifier] {
        Self.allIdentifiers.filter { isPresent($0) }
    }

    /// `MQTTPropertyIdentifier.allCases`, made once.
    static let allIdentifiers = MQTTPropertyIdentifier.allCases

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
