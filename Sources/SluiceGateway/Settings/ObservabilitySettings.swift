/// What the gateway tells about itself: the Prometheus endpoint's path and label limits, and the access log.
public struct ObservabilitySettings: Sendable {
    /// Where the access log goes (`accessLog.output`): `off`, `stdout`, or a file path (appended to).
    public enum AccessLogOutput: Sendable, Equatable {
        case off
        case stdout
        case file(String)
    }

    /// A further path that serves the Prometheus text on the metrics listener (`metrics.path`), besides
    /// `/_node/metrics/prometheus` and `/metrics`. Default: none.
    public var metricsPath: String?
    /// How many distinct applications each API's series name (`metrics.maxApplicationLabels`); the requests of
    /// further applications are counted under `application="other"`. Default: 100.
    public var maxApplicationLabels = 100
    /// Default: off (an access log line per request costs a busy gateway disk or pipe bandwidth; turn it on).
    public var accessLog = AccessLogOutput.off
    /// Lines waiting to be written (`accessLog.bufferLines`); past that, lines are dropped and counted
    /// (`sluice_access_log_dropped_total`) rather than hold a request. Default: 16384.
    public var accessLogBufferLines = 16_384
    /// Spans exported over OTLP (`tracing.*`). Default: off.
    public var tracing = TracingSettings()

    public init() {}

    static let keys =
        ["metrics.path", "metrics.maxApplicationLabels", "accessLog.output", "accessLog.bufferLines"]
        + TracingSettings.keys

    mutating func apply(values: [String: String], source: String, problems: inout [GatewaySettings.Problem]) {
        if let path = values["metrics.path"] {
            if path.hasPrefix("/"), !path.contains("?"), !path.contains(" "), path.count > 1,
                !["/health/live", "/health/ready"].contains(path)
            {
                metricsPath = path
            } else {
                problems.append(
                    .init(
                        setting: "metrics.path",
                        message: "must be an absolute path other than '/' and the health paths (\(source))"))
            }
        }
        if let text = values["metrics.maxApplicationLabels"] {
            if let value = Int(text), value >= 0 {
                maxApplicationLabels = value
            } else {
                problems.append(
                    .init(
                        setting: "metrics.maxApplicationLabels",
                        message: "must be an integer of at least 0 (\(source))"))
            }
        }
        if let text = values["accessLog.output"] {
            switch text {
            case "off", "false", "": accessLog = .off
            case "stdout", "true": accessLog = .stdout
            default: accessLog = .file(text)
            }
        }
        if let text = values["accessLog.bufferLines"] {
            if let value = Int(text), value >= 1 {
                accessLogBufferLines = value
            } else {
                problems.append(
                    .init(setting: "accessLog.bufferLines", message: "must be an integer of at least 1 (\(source))"))
            }
        }
        tracing.apply(values: values, source: source, problems: &problems)
    }
}
