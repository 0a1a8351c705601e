public import SluiceCore
public import SluiceEndpoints

/// The `webhook` entrypoint of a `subscription` listener: the gateway pushes each message of the API's endpoint to
/// the callback URL of every webhook subscription (see docs/webhooks.md). Its configuration is the API's: HTTP
/// options, retries and what interrupts consumption; each subscription gives its callback.
public struct WebhookEntrypoint: Sendable {
    public struct Configuration: Sendable, Hashable {
        /// Default: 3000 ms (Gravitee's).
        public var connectTimeoutMs: Int64 = 3000
        /// The whole exchange, request and response. Default: 10000 ms (Gravitee's).
        public var readTimeoutMs: Int64 = 10000
        /// An unused pooled connection is closed after this. Default: 60000 ms (Gravitee's).
        public var idleTimeoutMs: Int64 = 60000
        /// POSTs in flight per subscription, 1 to 20; forced to 1 (in order) under at-least-once and at-most-once.
        /// Default: 5 (Gravitee's).
        public var maxConcurrentConnections = 5
        /// The forward proxy callbacks are reached through (`proxy`); nil: directly.
        public var proxy: HTTPProxyEndpointConfiguration.ForwardProxy?
        /// Retries, backoff and what interrupts consumption.
        public var delivery = WebhookDeliveryStateMachine.Options()

        public init() {}

        static let fields: Set<String> = [
            "http", "proxy", "retry", "interruptOnClientError", "interruptOnServerError", "interruptOnException",
        ]

        /// Reads the entrypoint's `configuration`; `hasDeadLetterQueue` says whether the entrypoint names a `dlq`
        /// (a 4xx then goes there instead of interrupting, as in Gravitee).
        public static func parse(
            _ object: JSONObject, at path: JSONPath, hasDeadLetterQueue: Bool = false,
            diagnostics: inout DiagnosticCollector
        ) -> Configuration {
            let reader = ConfigurationReader(object, at: path)
            reader.warnUnknown(fields, &diagnostics)
            var configuration = Configuration()
            let http = reader.object("http", &diagnostics)
            http.warnUnknown(
                ["connectTimeout", "readTimeout", "idleTimeout", "maxConcurrentConnections"], &diagnostics)
            if let value = http.integer("connectTimeout", &diagnostics, minimum: 1, maximum: 600_000) {
                configuration.connectTimeoutMs = value
            }
            if let value = http.integer("readTimeout", &diagnostics, minimum: 1, maximum: 3_600_000) {
                configuration.readTimeoutMs = value
            }
            if let value = http.integer("idleTimeout", &diagnostics, minimum: 0, maximum: 3_600_000) {
                configuration.idleTimeoutMs = value
            }
            if let value = http.integer("maxConcurrentConnections", &diagnostics, minimum: 1, maximum: 20) {
                configuration.maxConcurrentConnections = Int(value)
            }
            if reader.has("proxy") {
                // A forward proxy (HTTP, with or without credentials, or SOCKS5) between the gateway and callbacks.
                if case .some(let proxy) = HTTPProxyEndpointConfiguration.parseProxy(
                    reader.object("proxy", &diagnostics), &diagnostics)
                {
                    configuration.proxy = proxy
                }
            }
            let retry = reader.object("retry", &diagnostics)
            retry.warnUnknown(["maxRetries", "delayMs", "maxDelayMs", "backoffStrategy"], &diagnostics)
            var options = WebhookDeliveryStateMachine.Options()
            if let value = retry.integer("maxRetries", &diagnostics, minimum: -1, maximum: 1000) {
                options.maxRetries = Int(value)
            }
            if let text = retry.string("backoffStrategy", &diagnostics) {
                if let strategy = WebhookDeliveryStateMachine.Options.Backoff(rawValue: text.uppercased()) {
                    options.backoffStrategy = strategy
                } else {
                    diagnostics.error(
                        retry.path.key("backoffStrategy"), "must be EXPONENTIAL or LINEAR", code: "INVALID_VALUE")
                }
            }
            if let value = retry.integer("delayMs", &diagnostics, minimum: 1, maximum: 3_600_000) {
                options.delayMs = value
            }
            if let value = retry.integer("maxDelayMs", &diagnostics, minimum: 1, maximum: 3_600_000) {
                options.maxDelayMs = value
            }
            if options.maxDelayMs < options.delayMs {
                diagnostics.error(retry.path.key("maxDelayMs"), "must not be less than delayMs")
            }
            options.hasDeadLetterQueue = hasDeadLetterQueue
            options.interruptOnClientError =
                reader.bool("interruptOnClientError", &diagnostics) ?? !hasDeadLetterQueue
            options.interruptOnServerError = reader.bool("interruptOnServerError", &diagnostics) ?? true
            options.interruptOnException = reader.bool("interruptOnException", &diagnostics) ?? true
            configuration.delivery = options
            return configuration
        }

        /// The configuration a subscription runs with at `qos`: one POST at a time, in order, under at-least-once
        /// and at-most-once; no retry under at-most-once.
        public func effective(for qos: MessageQoS) -> Configuration {
            var configuration = self
            if qos == .atLeastOnce || qos == .atMostOnce { configuration.maxConcurrentConnections = 1 }
            if qos == .atMostOnce { configuration.delivery.sendsOnce = true }
            return configuration
        }
    }

    public static let type = "webhook"
    public static let supportedQoS: Set<MessageQoS> = [.none, .auto, .atMostOnce, .atLeastOnce]
}
