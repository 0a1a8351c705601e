import MQTT5
import NIOCore

/// Sample values for round trips, stream decoding and fuzzing.
enum Samples {
    /// Every property `context` allows, set to a distinctive value (two User Properties with the same name, in a
    /// PUBLISH three Subscription Identifiers of one to four bytes).
    static func allProperties(for context: MQTTPropertyContext) -> MQTTProperties {
        var properties = MQTTProperties()
        for identifier in MQTTPropertyIdentifier.allCases where identifier.isAllowed(in: context) {
            switch identifier {
            case .payloadFormatIndicator: properties.payloadFormatIndicator = .utf8
            case .messageExpiryInterval: properties.messageExpiryInterval = 3600
            case .contentType: properties.contentType = "application/json"
            case .responseTopic: properties.responseTopic = "replies/élan"
            case .correlationData: properties.correlationData = ByteBuffer(bytes: [0x00, 0xFF, 0x10])
            case .subscriptionIdentifier:
                properties.subscriptionIdentifiers = context == .publish ? [1, 268_435_455, 16_384] : [127]
            case .sessionExpiryInterval: properties.sessionExpiryInterval = 0xFFFF_FFFF
            case .assignedClientIdentifier: properties.assignedClientIdentifier = "auto-7F3A"
            case .serverKeepAlive: properties.serverKeepAlive = 30
            case .authenticationMethod: properties.authenticationMethod = "SCRAM-SHA-256"
            case .authenticationData: properties.authenticationData = ByteBuffer(string: "n,,n=user,r=abc")
            case .requestProblemInformation: properties.requestProblemInformation = false
            case .willDelayInterval: properties.willDelayInterval = 10
            case .requestResponseInformation: properties.requestResponseInformation = true
            case .responseInformation: properties.responseInformation = "responses/c1"
            case .serverReference: properties.serverReference = "mqtt2.example.com:1883"
            case .reasonString: properties.reasonString = "all good 👍"
            case .receiveMaximum: properties.receiveMaximum = 1
            case .topicAliasMaximum: properties.topicAliasMaximum = 0
            case .topicAlias: properties.topicAlias = 65_535
            case .maximumQoS: properties.maximumQoS = .atLeastOnce
            case .retainAvailable: properties.retainAvailable = false
            case .userProperty:
                properties.userProperties = [
                    MQTTUserProperty(name: "k", value: "1"), MQTTUserProperty(name: "", value: ""),
                    MQTTUserProperty(name: "k", value: "2"),
                ]
            case .maximumPacketSize: properties.maximumPacketSize = 0xFFFF_FFFF
            case .wildcardSubscriptionAvailable: properties.wildcardSubscriptionAvailable = true
            case .subscriptionIdentifiersAvailable: properties.subscriptionIdentifiersAvailable = false
            case .sharedSubscriptionAvailable: properties.sharedSubscriptionAvailable = true
            }
        }
        return properties
    }
}
