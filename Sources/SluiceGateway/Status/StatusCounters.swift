public import SluiceCore

/// The cumulative counters of one API since the process started (a redeployment continues them).
public struct StatusCounters: Sendable, Hashable {
    /// Requests and streams answered (a stream counts when it ends).
    public var requests: Int64 = 0
    /// Requests answered with a 5xx status.
    public var serverErrors: Int64 = 0
    /// Requests refused with 429 by a rate limit, quota or spike arrest.
    public var rateLimited: Int64 = 0
    /// Messages clients published that the endpoint took.
    public var messagesIn: Int64 = 0
    /// Messages sent to consumers.
    public var messagesOut: Int64 = 0
    /// Publishes the endpoint refused or could not take.
    public var messageErrors: Int64 = 0
    /// Messages a flow left out.
    public var messagesFiltered: Int64 = 0
    /// Request body bytes received.
    public var bytesIn: Int64 = 0
    /// Response body bytes sent, stream events included.
    public var bytesOut: Int64 = 0

    public init() {}

    /// The counters by their JSON names, in the order the status JSON lists them.
    public static var fields: [(name: String, keyPath: WritableKeyPath<StatusCounters, Int64>)] {
        [
            ("requests", \.requests), ("serverErrors", \.serverErrors), ("rateLimited", \.rateLimited),
            ("messagesIn", \.messagesIn), ("messagesOut", \.messagesOut), ("messageErrors", \.messageErrors),
            ("messagesFiltered", \.messagesFiltered), ("bytesIn", \.bytesIn), ("bytesOut", \.bytesOut),
        ]
    }
}

extension StatusCounters {
    /// The counters as a JSON object.
    public var json: JSONValue {
        .object(JSONObject(Self.fields.map { ($0.name, .number(Double(self[keyPath: $0.keyPath]))) }))
    }

    /// Reads the counters of a JSON object; nil when it is not one. A missing or non-numeric field reads as 0.
    public init?(json: JSONValue?) {
        guard let object = json?.objectValue else { return nil }
        self.init()
        for field in Self.fields {
            if case .number(let value)? = object[field.name], value.isFinite, value >= 0, value < 9e18 {
                self[keyPath: field.keyPath] = Int64(value)
            }
        }
    }
}
