import Foundation
import NIOCore
import SluiceCore
import SluiceEntrypoints
import Synchronization

/// Message logging as an API's v4 definition asks for it (`analytics`): which messages are logged (its
/// `messageSampling`), and what of them (`logging.content`, `logging.phase`). Lines go to the access log's output.
final class MessageLog: Sendable {
    /// `analytics.messageSampling`: which messages are logged.
    enum Sampling: Sendable, Equatable {
        /// Each message with this probability (`"type": "probability"`, `"value": "0.01"`).
        case probability(Double)
        /// The first message and then one in every `n` (`"type": "count"`, `"value": "100"`).
        case count(Int)
        /// At most one message per period (`"type": "temporal"`, `"value": "PT1S"`, an ISO 8601 duration).
        case temporal(nanoseconds: Int64)
    }

    let sampling: Sampling
    /// `phase.request`: messages clients publish; `phase.response`: messages sent to consumers.
    let publishPhase: Bool
    let subscribePhase: Bool
    /// `content.messageHeaders`, `content.messagePayload`, `content.messageMetadata`.
    let headers: Bool
    let payload: Bool
    let metadata: Bool
    /// `logging.condition`: whether a request's (or stream's) messages are logged at all, evaluated once on it.
    let condition: ExpressionTemplate?
    /// `logging.messageCondition`: whether one message is logged, evaluated on each before sampling.
    let messageCondition: ExpressionTemplate?
    private let seen = Atomic<Int>(0)
    private let lastLogged = Atomic<Int64>(Int64.min)

    /// Default sampling when the definition names none: one message in a hundred.
    static let defaultSampling = Sampling.count(100)
    /// Longer payloads are cut (the line says so).
    static let maxPayloadBytes = 16 * 1024

    init(
        sampling: Sampling, publishPhase: Bool, subscribePhase: Bool, headers: Bool, payload: Bool, metadata: Bool,
        condition: ExpressionTemplate? = nil, messageCondition: ExpressionTemplate? = nil
    ) {
        self.condition = condition
        self.messageCondition = messageCondition
        self.sampling = sampling
        self.publishPhase = publishPhase
        self.subscribePhase = subscribePhase
        self.headers = headers
        self.payload = payload
        self.metadata = metadata
    }

    /// Whether either condition is set: they need the request's expression scope.
    var hasConditions: Bool { condition != nil || messageCondition != nil }

    /// A condition holds only when it evaluates to true; one that fails to evaluate does not hold.
    static func holds(_ condition: ExpressionTemplate, in scope: ExpressionScope) -> Bool {
        (try? ExpressionEvaluator().evaluate(condition, in: scope))?.isTrue ?? false
    }

    /// Whether this message is one the sampling keeps.
    func sample() -> Bool {
        switch sampling {
        case .probability(let probability):
            return probability >= 1 || Double.random(in: 0..<1) < probability
        case .count(let every):
            let index = seen.wrappingAdd(1, ordering: .relaxed).oldValue
            return index % every == 0
        case .temporal(let period):
            let now = Int64(NIODeadline.now().uptimeNanoseconds)
            let last = lastLogged.load(ordering: .relaxed)
            guard last == Int64.min || now - last >= period else { return false }
            return lastLogged.compareExchange(expected: last, desired: now, ordering: .relaxed).exchanged
        }
    }

    /// Reads `analytics`; nil when it logs no message. Problems are reported with their JSON path.
    static func parse(_ analytics: JSONValue?, diagnostics: inout [Diagnostic]) -> MessageLog? {
        guard let analytics, analytics.objectValue != nil else { return nil }
        var sampling = defaultSampling
        if let block = analytics["messageSampling"], block.objectValue != nil {
            let type = block["type"]?.stringValue ?? "count"
            let text = block["value"]?.stringValue ?? block["value"].flatMap(numberText)
            func problem(_ message: String) {
                diagnostics.append(
                    Diagnostic(path: "analytics.messageSampling", message: message, code: "INVALID_SAMPLING"))
            }
            switch type {
            case "probability":
                if let value = text.flatMap(Double.init), value > 0, value <= 1 {
                    sampling = .probability(value)
                } else if text != nil {
                    problem("a probability sampling's value must be a number in (0, 1]")
                } else {
                    sampling = .probability(0.01)
                }
            case "count":
                if let value = text.flatMap({ Int($0) }), value >= 1 {
                    sampling = .count(value)
                } else if text != nil {
                    problem("a count sampling's value must be an integer of at least 1")
                }
            case "temporal":
                if let text {
                    if let nanoseconds = isoDurationNanoseconds(text), nanoseconds > 0 {
                        sampling = .temporal(nanoseconds: nanoseconds)
                    } else {
                        problem("a temporal sampling's value must be an ISO 8601 duration such as PT1S")
                    }
                } else {
                    sampling = .temporal(nanoseconds: 1_000_000_000)
                }
            default:
                problem("type must be probability, count or temporal (not '\(type)')")
            }
        }
        guard analytics["enabled"]?.boolValue != false, let logging = analytics["logging"],
            logging.objectValue != nil
        else { return nil }
        if logging["enabled"]?.boolValue == false { return nil }
        let content = logging["content"]
        let phase = logging["phase"]
        var collector = DiagnosticCollector()
        func expression(_ key: String) -> ExpressionTemplate? {
            guard let source = logging[key]?.stringValue, !source.allSatisfy(\.isWhitespace) else { return nil }
            return FlowEngine.parseTemplate(
                source, at: JSONPath("analytics").key("logging").key(key), &collector)
        }
        let condition = expression("condition")
        let messageCondition = expression("messageCondition")
        diagnostics += collector.diagnostics.filter { $0.severity == .error }
        let log = MessageLog(
            sampling: sampling,
            publishPhase: phase?["request"]?.boolValue ?? false,
            subscribePhase: phase?["response"]?.boolValue ?? false,
            headers: content?["messageHeaders"]?.boolValue ?? false,
            payload: content?["messagePayload"]?.boolValue ?? false,
            metadata: content?["messageMetadata"]?.boolValue ?? false, condition: condition,
            messageCondition: messageCondition)
        guard log.publishPhase || log.subscribePhase else { return nil }
        return log
    }

    private static func numberText(_ value: JSONValue) -> String? {
        if case .number(let number) = value { return JSONValue.numberText(number) }
        return nil
    }

    /// `PT1S`, `PT0.5S`, `PT2M`, `PT1H30M`, `P1D`: the ISO 8601 durations a sampling period takes.
    static func isoDurationNanoseconds(_ text: String) -> Int64? {
        var rest = Substring(text.uppercased())
        guard rest.hasPrefix("P") else { return nil }
        rest = rest.dropFirst()
        var total = 0.0
        var inTime = false
        var number = ""
        var sawUnit = false
        for character in rest {
            if character == "T" {
                guard number.isEmpty, !inTime else { return nil }
                inTime = true
            } else if character.isNumber || character == "." {
                number.append(character)
            } else {
                guard let value = Double(number) else { return nil }
                number = ""
                sawUnit = true
                switch (character, inTime) {
                case ("D", false): total += value * 86_400
                case ("H", true): total += value * 3_600
                case ("M", true): total += value * 60
                case ("S", true): total += value
                default: return nil
                }
            }
        }
        guard number.isEmpty, sawUnit, total.isFinite, total < 1e9 else { return nil }
        return Int64(total * 1e9)
    }
}

/// A logged message's line.
struct MessageLogEntry: Sendable {
    var timestampMs: Int64
    var api: String
    var plan: String?
    var application: String?
    var entrypoint: String?
    /// `publish` (from a client) or `subscribe` (to a consumer).
    var direction: String
    var messageID: String?
    /// Already masked.
    var headers: [(name: String, value: String)]?
    var payload: String?
    var payloadTruncated = false
    var metadata: [String: String]?

    /// The line, as one JSON object, without its line feed (the access log's writer, as for its own lines).
    func write(to out: JSONLineWriter) {
        out.raw("{\"time\":")
        out.timestamp(milliseconds: timestampMs)
        out.raw(",\"kind\":\"message\"")
        out.labels(api: api, plan: plan, application: application, entrypoint: entrypoint)
        out.raw(",\"direction\":")
        out.string(direction)
        out.raw(",\"messageId\":")
        out.string(messageID)
        if let headers {
            out.raw(",\"headers\":{")
            var grouped: [(String, [String])] = []
            for (name, value) in headers {
                if let index = grouped.firstIndex(where: { $0.0 == name }) {
                    grouped[index].1.append(value)
                } else {
                    grouped.append((name, [value]))
                }
            }
            for (index, (name, values)) in grouped.enumerated() {
                if index > 0 { out.raw(",") }
                out.string(name)
                out.raw(":[")
                for (valueIndex, value) in values.enumerated() {
                    if valueIndex > 0 { out.raw(",") }
                    out.string(value)
                }
                out.raw("]")
            }
            out.raw("}")
        }
        if let metadata {
            out.raw(",\"metadata\":{")
            for (index, key) in metadata.keys.sorted().enumerated() {
                if index > 0 { out.raw(",") }
                out.string(key)
                out.raw(":")
                out.string(metadata[key])
            }
            out.raw("}")
        }
        if let payload {
            out.raw(",\"payload\":")
            out.string(payload)
            if payloadTruncated { out.raw(",\"payloadTruncated\":true") }
        }
        out.raw("}")
    }
}

/// Counts and logs the messages of one request or stream (an entrypoint's ``MessageObserver``).
final class RequestMessageObserver: MessageObserver {
    let series: RequestSeries?
    let log: MessageLog?
    let accessLog: AccessLog?
    let api: String
    let plan: SecurityChain.ResolvedPlan?
    let entrypoint: String
    let secretHeaders: Set<String>
    /// What the log's message condition sees besides `#message`: the request's scope (when it has conditions).
    let logScope: ExpressionScope?
    /// This request's messages so far, for its access log line.
    let publishedCount = Atomic<Int>(0)
    let deliveredCount = Atomic<Int>(0)

    /// - Parameter logScope: the request's expression scope, needed when the log has conditions; the log's
    ///   request condition is evaluated on it here, once.
    init(
        series: RequestSeries?, log: MessageLog?, accessLog: AccessLog?, api: String,
        plan: SecurityChain.ResolvedPlan?, entrypoint: String, secretHeaders: Set<String>,
        logScope: ExpressionScope? = nil
    ) {
        self.series = series
        var log = log
        if let condition = log?.condition, !MessageLog.holds(condition, in: logScope ?? ExpressionScope()) {
            log = nil
        }
        self.logScope = logScope
        self.log = log
        self.accessLog = accessLog
        self.api = api
        self.plan = plan
        self.entrypoint = entrypoint
        self.secretHeaders = secretHeaders
    }

    func published(_ message: Message) {
        publishedCount.add(1, ordering: .relaxed)
        if let series {
            series.messagesIn.increment()
            let size = message.content.readableBytes
            if size > 0 { series.messageBytesIn.increment(by: Int64(size)) }
        }
        if let log, log.publishPhase { record(message, direction: "publish", log: log) }
    }

    func publishFailed(_ message: Message) {
        series?.messageErrors.increment()
    }

    func delivered(_ message: Message) {
        deliveredCount.add(1, ordering: .relaxed)
        series?.messagesOut.increment()
        if let log, log.subscribePhase { record(message, direction: "subscribe", log: log) }
    }

    func filtered() {
        series?.messagesFiltered.increment()
    }

    func deliveredShared(count: Int) {
        deliveredCount.add(count, ordering: .relaxed)
        series?.messagesOut.increment(by: Int64(count))
    }

    /// Whether each message sent to the consumer must be shown to ``delivered(_:)`` (it may be logged), rather than
    /// counted in shared batches.
    var logsEachDelivery: Bool { accessLog != nil && log?.subscribePhase == true }

    private func record(_ message: Message, direction: String, log: MessageLog) {
        guard let accessLog else { return }
        if let condition = log.messageCondition {
            let scope = (logScope ?? ExpressionScope()).with("message", .object(MessageExpressionObject(message)))
            guard MessageLog.holds(condition, in: scope) else { return }
        }
        guard log.sample() else { return }
        accessLog.append(
            Self.entry(
                message, direction: direction, log: log, api: api, planID: plan?.id, application: plan?.application,
                entrypoint: entrypoint, secretHeaders: secretHeaders))
    }

    /// A message's line: headers masked, payload cut to its maximum.
    static func entry(
        _ message: Message, direction: String, log: MessageLog, api: String, planID: String?, application: String?,
        entrypoint: String, secretHeaders: Set<String>
    ) -> MessageLogEntry {
        var entry = MessageLogEntry(
            timestampMs: Date.nowMilliseconds, api: api, plan: planID, application: application,
            entrypoint: entrypoint, direction: direction, messageID: message.id)
        if log.headers {
            entry.headers = message.headers.map { field in
                (field.name, isSecretHeader(field.name, secretHeaders: secretHeaders) ? "****" : field.value)
            }
        }
        if log.metadata { entry.metadata = message.metadata }
        if log.payload {
            let bytes = message.content.readableBytesView
            let kept = bytes.prefix(MessageLog.maxPayloadBytes)
            entry.payload = String(decoding: kept, as: UTF8.self)
            entry.payloadTruncated = kept.count < bytes.count
        }
        return entry
    }

    /// Credentials never reach a log: Authorization, cookies, the API key header, and any header whose name says
    /// key, token, secret, password, signature or session.
    static func isSecretHeader(_ name: String, secretHeaders: Set<String>) -> Bool {
        let lowercased = name.lowercased()
        if secretHeaders.contains(lowercased) { return true }
        if ["authorization", "proxy-authorization", "cookie", "set-cookie"].contains(lowercased) { return true }
        return ["key", "token", "secret", "password", "signature", "session", "credential"].contains {
            lowercased.contains($0)
        }
    }
}
