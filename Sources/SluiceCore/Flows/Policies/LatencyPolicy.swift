/// Gravitee's `latency`: `{ "time": 100, "timeUnit": "MILLISECONDS" }` (Java `TimeUnit` names; default
/// milliseconds) delays the request or each message, without holding a thread. At most 5 minutes per step.
struct LatencyPolicy: FlowPolicy {
    var delay: Duration

    static let units: [String: Int64] = [
        "NANOSECONDS": 0, "MICROSECONDS": 0, "MILLISECONDS": 1, "SECONDS": 1000, "MINUTES": 60_000,
        "HOURS": 3_600_000, "DAYS": 86_400_000,
    ]
    static let maximumMilliseconds: Int64 = 300_000

    static func parse(
        _ reader: ConfigurationReader, _ phase: FlowPhase, _ diagnostics: inout DiagnosticCollector
    ) -> (any FlowPolicy)? {
        reader.warnUnknown(["time", "timeUnit"], &diagnostics)
        let unitName = reader.string("timeUnit", &diagnostics)?.uppercased() ?? "MILLISECONDS"
        guard let factor = units[unitName] else {
            diagnostics.error(
                reader.path.key("timeUnit"), "must be one of \(units.keys.sorted().joined(separator: ", "))")
            return nil
        }
        guard let time = reader.integer("time", &diagnostics, minimum: 0) else {
            if !reader.has("time") { return LatencyPolicy(delay: .zero) }
            return nil
        }
        let milliseconds: Int64
        switch unitName {
        case "NANOSECONDS": milliseconds = time / 1_000_000
        case "MICROSECONDS": milliseconds = time / 1000
        default: milliseconds = time > maximumMilliseconds ? maximumMilliseconds + 1 : time * factor
        }
        guard milliseconds <= maximumMilliseconds else {
            diagnostics.error(reader.path.key("time"), "must be at most 5 minutes")
            return nil
        }
        return LatencyPolicy(delay: .milliseconds(milliseconds))
    }

    func apply(to exchange: inout FlowExchange, scope: ExpressionScope) -> FlowStepResult {
        delay == .zero ? .proceed : .delay(delay)
    }

    func apply(to message: inout Message, exchange: FlowExchange, scope: ExpressionScope) -> FlowStepResult {
        delay == .zero ? .proceed : .delay(delay)
    }
}
