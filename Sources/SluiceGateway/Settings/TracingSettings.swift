/// Spans exported over OTLP (`tracing.*`, `docs/tracing.md`). Off by default; the W3C trace context a client sends
/// travels with its messages whether or not this is on.
public struct TracingSettings: Sendable, Equatable {
    /// How spans are encoded on the wire (`tracing.otlp.protocol`).
    public enum OTLPProtocol: String, Sendable, Equatable {
        case httpProtobuf = "http/protobuf"
        case httpJSON = "http/json"
    }

    /// Default: false.
    public var enabled = false
    /// The URL spans are POSTed to, used as is (`tracing.otlp.endpoint`). Default: http://localhost:4318/v1/traces.
    public var otlpEndpoint = "http://localhost:4318/v1/traces"
    /// Default: http/protobuf.
    public var otlpProtocol = OTLPProtocol.httpProtobuf
    /// The share of new traces sampled (`tracing.sampler.ratio`, 0…1); a request that comes with a trace context
    /// follows its caller's sampling decision (parent-based). Default: 1.
    public var samplerRatio = 1.0
    /// The `service.name` resource attribute (`tracing.serviceName`). Default: sluice.
    public var serviceName = "sluice"
    /// Spans waiting to be exported (`tracing.queueSize`); past that, spans are dropped rather than hold a
    /// request. Default: 2048.
    public var queueSize = 2048
    /// Spans per export request (`tracing.batchSize`, at most the queue size). Default: 512.
    public var batchSize = 512
    /// How long a span may wait for its batch (`tracing.scheduleDelayMs`). Default: 5000.
    public var scheduleDelayMs = 5000

    public init() {}

    static let keys = [
        "tracing.enabled", "tracing.otlp.endpoint", "tracing.otlp.protocol", "tracing.sampler.ratio",
        "tracing.serviceName", "tracing.queueSize", "tracing.batchSize", "tracing.scheduleDelayMs",
    ]

    mutating func apply(values: [String: String], source: String, problems: inout [GatewaySettings.Problem]) {
        func problem(_ key: String, _ message: String) {
            problems.append(.init(setting: key, message: "\(message) (\(source))"))
        }
        func int(_ key: String, _ minimum: Int, _ apply: (inout TracingSettings, Int) -> Void) {
            guard let text = values[key] else { return }
            guard let value = Int(text), value >= minimum else {
                return problem(key, "must be an integer of at least \(minimum)")
            }
            apply(&self, value)
        }
        if let text = values["tracing.enabled"] {
            switch text.lowercased() {
            case "true", "on", "1", "yes": enabled = true
            case "false", "off", "0", "no", "": enabled = false
            default: problem("tracing.enabled", "must be true or false")
            }
        }
        if let endpoint = values["tracing.otlp.endpoint"] {
            if endpoint.hasPrefix("http://") || endpoint.hasPrefix("https://"), !endpoint.contains(" ") {
                otlpEndpoint = endpoint
            } else {
                problem("tracing.otlp.endpoint", "must be an http:// or https:// URL")
            }
        }
        if let text = values["tracing.otlp.protocol"] {
            if let value = OTLPProtocol(rawValue: text) {
                otlpProtocol = value
            } else {
                problem("tracing.otlp.protocol", "must be http/protobuf or http/json")
            }
        }
        if let text = values["tracing.sampler.ratio"] {
            if let value = Double(text), (0...1).contains(value) {
                samplerRatio = value
            } else {
                problem("tracing.sampler.ratio", "must be a number from 0 to 1")
            }
        }
        if let name = values["tracing.serviceName"] {
            if name.isEmpty { problem("tracing.serviceName", "must not be empty") } else { serviceName = name }
        }
        int("tracing.queueSize", 1) { $0.queueSize = $1 }
        int("tracing.batchSize", 1) { $0.batchSize = $1 }
        int("tracing.scheduleDelayMs", 1) { $0.scheduleDelayMs = $1 }
        if batchSize > queueSize {
            problem("tracing.batchSize", "must be at most tracing.queueSize (\(queueSize))")
        }
    }
}
