import Foundation
public import KafkaClient
public import KafkaWire
public import NIOSSL
public import SluiceCore

/// The `kafka` endpoint's configuration, read from a Gravitee v4 definition: `bootstrapServers` from the endpoint's
/// `configuration`; `security`, `consumer` and `producer` from the shared configuration it runs with (the group's
/// `sharedConfiguration` with `inheritConfiguration: true`, else the endpoint's `sharedConfigurationOverride`).
public struct KafkaEndpointConfiguration: Sendable {
    /// How the gateway connects to the brokers (`security.protocol`).
    public enum SecurityProtocol: String, Sendable, CaseIterable {
        case plaintext = "PLAINTEXT"
        case ssl = "SSL"
        case saslPlaintext = "SASL_PLAINTEXT"
        case saslSSL = "SASL_SSL"

        var usesTLS: Bool { self == .ssl || self == .saslSSL }
        var usesSASL: Bool { self == .saslPlaintext || self == .saslSSL }
    }

    /// Where a consumer without a committed offset (and without a cursor) starts.
    public enum OffsetReset: String, Sendable {
        case earliest
        case latest
        /// No committed offset is an error for the client.
        case none
    }

    public struct Consumer: Sendable {
        /// Default: false.
        public var enabled = false
        /// The topics read; empty when `topicPattern` chooses them.
        public var topics: [String] = []
        /// A regular expression that whole topic names must match (Java's `Pattern` syntax, the common subset).
        public var topicPattern: String?
        /// Default: latest.
        public var autoOffsetReset = OffsetReset.latest
        /// Message ids and cursors in base64. Default: true.
        public var encodeMessageId = true
        /// Refuse a subscription whose topics do not exist, instead of waiting for them. Default: false.
        public var checkTopicExistence = false

        public init() {}
    }

    public struct Producer: Sendable {
        /// Default: false.
        public var enabled = false
        /// The topics each published message goes to.
        public var topics: [String] = []
        /// Default: none.
        public var compression = KafkaCompressionCodec.none
        /// Which replicas must have a message before a publish succeeds (Sluice's `acks`: "1" or "all").
        /// Default: all, as Kafka's clients.
        public var acks = KafkaProducerConfiguration.Acks.all

        public init() {}
    }

    public var bootstrapServers: [KafkaClientConfiguration.BrokerAddress]
    public var securityProtocol = SecurityProtocol.plaintext
    public var sasl: KafkaClientConfiguration.SASL?
    /// TLS towards the brokers, for `SSL` and `SASL_SSL`.
    public var tls: TLSConfiguration?
    public var consumer = Consumer()
    public var producer = Producer()

    public init(bootstrapServers: [KafkaClientConfiguration.BrokerAddress]) {
        self.bootstrapServers = bootstrapServers
    }

    /// The modes this configuration enables.
    public var modes: Set<ConnectorMode> {
        var modes: Set<ConnectorMode> = []
        if producer.enabled { modes.insert(.publish) }
        if consumer.enabled { modes.insert(.subscribe) }
        return modes
    }

    /// The client configuration for these brokers and this security.
    public var clientConfiguration: KafkaClientConfiguration {
        var client = KafkaClientConfiguration(bootstrapServers: bootstrapServers)
        client.clientID = "sluice"
        client.tls = tls
        client.sasl = sasl
        return client
    }
}

// MARK: - Reading a definition

extension KafkaEndpointConfiguration {
    static let configurationFields: Set<String> = ["bootstrapServers"]
    static let sharedFields: Set<String> = ["security", "consumer", "producer"]

    /// Reads an endpoint of a `kafka` group; nil when it has errors (all of them are in `diagnostics`).
    public static func parse(
        endpoint: APIDefinition.Endpoint, group: APIDefinition.EndpointGroup, diagnostics: inout DiagnosticCollector
    ) -> KafkaEndpointConfiguration? {
        let errorsBefore = diagnostics.diagnostics.filter { $0.severity == .error }.count
        let configurationPath = endpoint.path.key("configuration")
        let reader = ConfigurationReader(endpoint.configuration, at: configurationPath)
        reader.warnUnknown(configurationFields, &diagnostics)
        var servers: [KafkaClientConfiguration.BrokerAddress] = []
        if let text = reader.string("bootstrapServers", &diagnostics, required: true),
            rejectExpression(text, at: configurationPath.key("bootstrapServers"), &diagnostics)
        {
            servers = parseBootstrapServers(text, at: configurationPath.key("bootstrapServers"), &diagnostics)
        }
        var configuration = KafkaEndpointConfiguration(bootstrapServers: servers)

        let shared = ConfigurationReader(
            endpoint.effectiveSharedConfiguration(group: group),
            at: endpoint.effectiveSharedConfigurationPath(group: group))
        shared.warnUnknown(sharedFields, &diagnostics)
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

    /// `host:port` pairs separated by commas, as Kafka's `bootstrap.servers` (a `PROTOCOL://` prefix is allowed).
    static func parseBootstrapServers(
        _ text: String, at path: JSONPath, _ diagnostics: inout DiagnosticCollector
    ) -> [KafkaClientConfiguration.BrokerAddress] {
        var servers: [KafkaClientConfiguration.BrokerAddress] = []
        for part in text.split(separator: ",") {
            var server = part.trimmingCharacters(in: .whitespaces)
            if server.isEmpty { continue }
            if let scheme = server.range(of: "://") { server = String(server[scheme.upperBound...]) }
            guard let address = KafkaClientConfiguration.BrokerAddress(server) else {
                diagnostics.error(path, "'\(part.trimmingCharacters(in: .whitespaces))' is not host:port")
                continue
            }
            servers.append(address)
        }
        if servers.isEmpty && !diagnostics.hasErrors(at: path) {
            diagnostics.error(path, "must list at least one host:port")
        }
        return servers
    }

    /// Gravitee expressions (`{#...}`) are not evaluated yet: a field holding one is refused by name.
    static func rejectExpression(_ text: String, at path: JSONPath, _ diagnostics: inout DiagnosticCollector) -> Bool {
        guard text.contains("{#") else { return true }
        diagnostics.error(
            path, "Gravitee expressions ({#...}) are not supported in this field yet", code: "UNSUPPORTED_EXPRESSION")
        return false
    }

    static func parseConsumer(
        _ reader: ConfigurationReader, into consumer: inout Consumer, _ diagnostics: inout DiagnosticCollector
    ) {
        reader.warnUnknown(
            ["enabled", "topics", "topicPattern", "autoOffsetReset", "encodeMessageId", "checkTopicExistence"],
            &diagnostics)
        consumer.enabled = reader.bool("enabled", &diagnostics) ?? false
        consumer.topics = parseTopics(reader, &diagnostics)
        if let pattern = reader.string("topicPattern", &diagnostics),
            rejectExpression(pattern, at: reader.path.key("topicPattern"), &diagnostics)
        {
            if pattern.isEmpty {
                diagnostics.error(reader.path.key("topicPattern"), "must not be empty")
            } else if (try? Regex(pattern)) == nil {
                diagnostics.error(reader.path.key("topicPattern"), "is not a regular expression")
            } else {
                consumer.topicPattern = pattern
            }
        }
        if consumer.enabled {
            if reader.has("topics") && reader.has("topicPattern") {
                diagnostics.error(reader.path, "set either topics or topicPattern, not both")
            } else if consumer.topics.isEmpty && !reader.has("topicPattern") && !diagnostics.hasErrors(at: reader.path)
            {
                diagnostics.error(
                    reader.path.key("topics"), "the consumer needs topics or a topicPattern", code: "MISSING_FIELD")
            }
        }
        if let reset = reader.string("autoOffsetReset", &diagnostics),
            rejectExpression(reset, at: reader.path.key("autoOffsetReset"), &diagnostics)
        {
            if let parsed = OffsetReset(rawValue: reset.lowercased()) {
                consumer.autoOffsetReset = parsed
            } else {
                diagnostics.error(reader.path.key("autoOffsetReset"), "must be one of earliest, latest, none")
            }
        }
        consumer.encodeMessageId = reader.bool("encodeMessageId", &diagnostics) ?? true
        consumer.checkTopicExistence = reader.bool("checkTopicExistence", &diagnostics) ?? false
    }

    static func parseProducer(
        _ reader: ConfigurationReader, into producer: inout Producer, _ diagnostics: inout DiagnosticCollector
    ) {
        reader.warnUnknown(["enabled", "topics", "compressionType", "acks"], &diagnostics)
        producer.enabled = reader.bool("enabled", &diagnostics) ?? false
        producer.topics = parseTopics(reader, &diagnostics)
        if producer.enabled && producer.topics.isEmpty && !diagnostics.hasErrors(at: reader.path.key("topics")) {
            diagnostics.error(reader.path.key("topics"), "the producer needs at least one topic", code: "MISSING_FIELD")
        }
        if let compression = reader.string("compressionType", &diagnostics) {
            if let codec = KafkaCompressionCodec.allCases.first(where: { $0.name == compression.lowercased() }) {
                producer.compression = codec
            } else {
                diagnostics.error(reader.path.key("compressionType"), "must be one of none, gzip, snappy, lz4, zstd")
            }
        }
        if let acks = reader.string("acks", &diagnostics) {
            switch acks.lowercased() {
            case "all", "-1": producer.acks = .all
            case "1": producer.acks = .leader
            default:
                diagnostics.error(
                    reader.path.key("acks"),
                    "must be \"all\" or \"1\" (a publish is answered once the broker has acknowledged the message)")
            }
        }
    }

    /// `topics`: a list of topic names (a comma-separated string is read as a list too).
    static func parseTopics(_ reader: ConfigurationReader, _ diagnostics: inout DiagnosticCollector) -> [String] {
        var topics: [String] = []
        let path = reader.path.key("topics")
        if case .string(let text)? = reader.object["topics"] {
            for name in text.split(separator: ",") {
                topics.append(name.trimmingCharacters(in: .whitespaces))
            }
            return validTopics(topics, at: path, &diagnostics)
        }
        for (item, itemPath) in reader.array("topics", &diagnostics) {
            guard case .string(let name) = item else {
                diagnostics.error(itemPath, "must be a topic name, found \(item.typeName)")
                continue
            }
            if validTopics([name], at: itemPath, &diagnostics).isEmpty { continue }
            topics.append(name)
        }
        return topics
    }

    /// Kafka's rules for topic names: 1 to 249 of `[a-zA-Z0-9._-]`.
    static func validTopics(_ names: [String], at path: JSONPath, _ diagnostics: inout DiagnosticCollector) -> [String]
    {
        var valid: [String] = []
        for name in names {
            guard rejectExpression(name, at: path, &diagnostics) else { continue }
            let legal = name.unicodeScalars.allSatisfy {
                ($0.isASCII && $0.properties.isAlphabetic) || ("0"..."9").contains($0) || $0 == "." || $0 == "_"
                    || $0 == "-"
            }
            guard !name.isEmpty, name.count <= 249, legal else {
                diagnostics.error(
                    path, "'\(name)' is not a Kafka topic name (1 to 249 of a-z, A-Z, 0-9, '.', '_', '-')")
                continue
            }
            valid.append(name)
        }
        return valid
    }
}

extension DiagnosticCollector {
    /// Whether an error was reported at `path` or below it.
    func hasErrors(at path: JSONPath) -> Bool {
        diagnostics.contains { $0.severity == .error && $0.path.hasPrefix(path.text) }
    }
}
