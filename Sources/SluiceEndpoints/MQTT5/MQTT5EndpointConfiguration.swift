import Foundation
import MQTT5
import NIOCore
public import NIOSSL
public import SluiceCore

/// The `mqtt5` endpoint's configuration, read from a Gravitee v4 definition: `serverHost` and `serverPort` from the
/// endpoint's `configuration`; `sessionExpiryInterval`, `reconnectAttempts`, `security`, `consumer` and `producer`
/// from the shared configuration it runs with (the group's `sharedConfiguration` with `inheritConfiguration: true`,
/// else the endpoint's `sharedConfigurationOverride`, whole).
public struct MQTT5EndpointConfiguration: Sendable {
    public struct Consumer: Sendable {
        /// Default: false.
        public var enabled = false
        /// The Topic Filter read (wildcards `+` and `#` allowed); each subscription shares it as
        /// `$share/<client identifier>/<topic>`.
        public var topic = ""

        public init() {}
    }

    public struct Producer: Sendable {
        /// Default: false.
        public var enabled = false
        /// The Topic Name each published message goes to.
        public var topic = ""
        /// Sets RETAIN on every published message. Default: false.
        public var retained = false
        /// The Response Topic property of every published message. Default: none.
        public var responseTopic: String?
        /// The Message Expiry Interval property of every published message, in seconds. Default: none (the message
        /// does not expire).
        public var messageExpiryInterval: UInt32?

        public init() {}
    }

    public var serverHost: String
    public var serverPort: Int
    /// How long the broker keeps a session after its connection ends, in seconds (`UInt32.max`: for ever).
    /// Default: 86,400 (Gravitee's 24 h); -1 or less in a definition means no expiry.
    public var sessionExpiryInterval: UInt32 = 86_400
    /// How many failed reconnections a subscription's connection makes before its stream ends with an error
    /// (it ends after 2 s of outage in any case). Default: 3; at most 10, as in Gravitee.
    public var reconnectAttempts = 3
    public var userName: String?
    public var password: String?
    /// TLS towards the broker, when `security.ssl` is given.
    public var tls: TLSConfiguration?
    public var consumer = Consumer()
    public var producer = Producer()

    public init(serverHost: String, serverPort: Int) {
        self.serverHost = serverHost
        self.serverPort = serverPort
    }

    /// The modes this configuration enables.
    public var modes: Set<ConnectorMode> {
        var modes: Set<ConnectorMode> = []
        if producer.enabled { modes.insert(.publish) }
        if consumer.enabled { modes.insert(.subscribe) }
        return modes
    }

    /// The QoS levels the endpoint serves: Gravitee's MQTT 5 column (http-post, SSE and WebSocket none and auto;
    /// http-get auto). MQTT cannot replay from a position, so at-most-once and at-least-once streams are refused.
    public static let supportedQoS: Set<MessageQoS> = [.none, .auto]

    /// The QoS levels the endpoint serves webhook subscriptions: every one, as in Gravitee. At-least-once keeps a
    /// persistent session per gateway node and acknowledges each message once the callback has it; at-most-once
    /// acknowledges each message as it is read.
    public static let webhookQoS: Set<MessageQoS> = [.none, .auto, .atMostOnce, .atLeastOnce]

    /// A client configuration for this broker and security, with `clientIdentifier`.
    func clientConfiguration(clientIdentifier: String) -> MQTT5ClientConfiguration {
        var client = MQTT5ClientConfiguration(host: serverHost, port: serverPort, clientIdentifier: clientIdentifier)
        client.tls = tls
        client.userName = userName
        client.password = password.map { ByteBuffer(string: $0) }
        client.sessionExpiryInterval = sessionExpiryInterval
        client.connectTimeout = .seconds(5)
        client.keepAlive = .seconds(30)
        client.reconnectBackoff.initialDelay = .milliseconds(100)
        // A broker that comes back is found within a second.
        client.reconnectBackoff.maximumDelay = .seconds(1)
        return client
    }
}

// MARK: - Reading a definition

extension MQTT5EndpointConfiguration {
    static let configurationFields: Set<String> = ["serverHost", "serverPort"]
    static let sharedFields: Set<String> = [
        "sessionExpiryInterval", "reconnectAttempts", "security", "consumer", "producer",
    ]

    /// Reads an endpoint of an `mqtt5` group; nil when it has errors (all of them are in `diagnostics`).
    public static func parse(
        endpoint: APIDefinition.Endpoint, group: APIDefinition.EndpointGroup, diagnostics: inout DiagnosticCollector
    ) -> MQTT5EndpointConfiguration? {
        let errorsBefore = diagnostics.diagnostics.filter { $0.severity == .error }.count
        let configurationPath = endpoint.path.key("configuration")
        let reader = ConfigurationReader(endpoint.configuration, at: configurationPath)
        reader.warnUnknown(configurationFields, &diagnostics)
        var host = ""
        if let text = reader.string("serverHost", &diagnostics, required: true),
            KafkaEndpointConfiguration.rejectExpression(text, at: configurationPath.key("serverHost"), &diagnostics)
        {
            host = text.trimmingCharacters(in: .whitespaces)
            if !host.isEmpty && (host.contains(" ") || host.contains("/")) {
                diagnostics.error(configurationPath.key("serverHost"), "'\(text)' is not a host name or address")
            }
        }
        var port = 0
        if !reader.has("serverPort") {
            diagnostics.error(configurationPath.key("serverPort"), "is required", code: "MISSING_FIELD")
        } else if case .string(let text)? = reader.object["serverPort"], text.contains("{#") {
            _ = KafkaEndpointConfiguration.rejectExpression(text, at: configurationPath.key("serverPort"), &diagnostics)
        } else if let value = reader.integer("serverPort", &diagnostics, minimum: 1, maximum: 65_535) {
            port = Int(value)
        }
        var configuration = MQTT5EndpointConfiguration(serverHost: host, serverPort: port)

        let shared = ConfigurationReader(
            endpoint.effectiveSharedConfiguration(group: group),
            at: endpoint.effectiveSharedConfigurationPath(group: group))
        shared.warnUnknown(sharedFields, &diagnostics)
        if let interval = shared.integer("sessionExpiryInterval", &diagnostics, maximum: Int64(UInt32.max)) {
            configuration.sessionExpiryInterval = interval < 0 ? UInt32.max : UInt32(interval)
        }
        if let attempts = shared.integer("reconnectAttempts", &diagnostics, minimum: 0, maximum: 10) {
            configuration.reconnectAttempts = Int(attempts)
        }
        parseSecurity(shared.object("security", &diagnostics), into: &configuration, &diagnostics)
        parseConsumer(shared.object("consumer", &diagnostics), into: &configuration.consumer, &diagnostics)
        parseProducer(shared.object("producer", &diagnostics), into: &configuration.producer, &diagnostics)
        if !configuration.consumer.enabled && !configuration.producer.enabled {
            diagnostics.error(
                shared.path, "enable the consumer or the producer (consumer.enabled, producer.enabled)",
                code: "MISSING_FIELD")
        }
        let errorsAfter = diagnostics.diagnostics.filter { $0.severity == .error }.count
        return errorsAfter == errorsBefore ? configuration : nil
    }

    static func parseConsumer(
        _ reader: ConfigurationReader, into consumer: inout Consumer, _ diagnostics: inout DiagnosticCollector
    ) {
        reader.warnUnknown(["enabled", "topic"], &diagnostics)
        consumer.enabled = reader.bool("enabled", &diagnostics) ?? false
        let path = reader.path.key("topic")
        guard let topic = reader.string("topic", &diagnostics, required: consumer.enabled),
            KafkaEndpointConfiguration.rejectExpression(topic, at: path, &diagnostics), !topic.isEmpty
        else { return }
        if topic.hasPrefix("$share/") {
            diagnostics.error(
                path,
                "give the topic without $share/: each subscription shares it as $share/<client identifier>/<topic>")
        } else if !MQTTTopic.isValidFilter(topic) {
            diagnostics.error(
                path, "'\(topic)' is not an MQTT Topic Filter ('+' and '#' must be whole levels, '#' the last)")
        } else {
            consumer.topic = topic
        }
    }

    static func parseProducer(
        _ reader: ConfigurationReader, into producer: inout Producer, _ diagnostics: inout DiagnosticCollector
    ) {
        reader.warnUnknown(["enabled", "topic", "retained", "responseTopic", "messageExpiryInterval"], &diagnostics)
        producer.enabled = reader.bool("enabled", &diagnostics) ?? false
        if let topic = validTopicName(reader, "topic", required: producer.enabled, &diagnostics) {
            producer.topic = topic
        }
        producer.retained = reader.bool("retained", &diagnostics) ?? false
        producer.responseTopic = validTopicName(reader, "responseTopic", required: false, &diagnostics)
        if let interval = reader.integer("messageExpiryInterval", &diagnostics, maximum: Int64(UInt32.max)) {
            producer.messageExpiryInterval = interval < 0 ? nil : UInt32(interval)
        }
    }

    /// A Topic Name (no wildcards) at `key`.
    private static func validTopicName(
        _ reader: ConfigurationReader, _ key: String, required: Bool, _ diagnostics: inout DiagnosticCollector
    ) -> String? {
        let path = reader.path.key(key)
        guard let topic = reader.string(key, &diagnostics, required: required),
            KafkaEndpointConfiguration.rejectExpression(topic, at: path, &diagnostics), !topic.isEmpty
        else { return nil }
        guard MQTTTopic.isValidName(topic) else {
            diagnostics.error(path, "'\(topic)' is not an MQTT Topic Name (no '+' or '#', not empty)")
            return nil
        }
        return topic
    }
}
