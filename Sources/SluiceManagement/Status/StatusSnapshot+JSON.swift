import Foundation
public import SluiceCore
import SluiceGateway

extension StatusSnapshot {
    /// The snapshot as the management API answers it.
    public var json: JSONValue {
        var gateway = JSONObject([("running", .bool(gatewayRunning))])
        if let node { gateway["node"] = .string(node) }
        if let openStreams { gateway["openStreams"] = .number(Double(openStreams)) }
        if !gatewayRunning { gateway["detail"] = .string(Self.noGatewayDetail) }
        return .object(
            JSONObject([
                ("timestamp", .string(Self.timestampText(timestampMs))),
                ("timestampMs", .number(Double(timestampMs))),
                ("gateway", .object(gateway)),
                ("apis", .array(apis.map(\.json))),
                ("truncated", .bool(truncated)),
            ]))
    }

    /// Reads a snapshot the management API answered; nil when it is not one.
    public init?(json: JSONValue) {
        guard case .number(let milliseconds)? = json["timestampMs"], milliseconds.isFinite, abs(milliseconds) < 9e15,
            let gateway = json["gateway"], let running = gateway["running"]?.boolValue,
            let apis = json["apis"]?.arrayValue
        else { return nil }
        self.init(
            timestampMs: Int64(milliseconds), gatewayRunning: running, node: gateway["node"]?.stringValue,
            openStreams: Self.integer(gateway["openStreams"]).map { Int($0) }, apis: apis.compactMap(API.init(json:)),
            truncated: json["truncated"]?.boolValue ?? false)
    }

    /// ISO 8601 in UTC with milliseconds.
    static func timestampText(_ milliseconds: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
    }

    /// A whole non-negative number, else nil.
    static func integer(_ value: JSONValue?) -> Int64? {
        guard case .number(let number)? = value, number.isFinite, number >= 0, number < 9e15 else { return nil }
        return Int64(number)
    }
}

extension StatusSnapshot.API {
    var json: JSONValue {
        .object(
            JSONObject([
                ("id", .string(id)), ("name", .string(name)), ("state", .string(state)), ("deployed", .bool(deployed)),
                (
                    "entrypoints",
                    .array(
                        entrypoints.map {
                            .object(
                                JSONObject([
                                    ("type", .string($0.type)), ("paths", .array($0.paths.map(JSONValue.string))),
                                ]
                                ))
                        })
                ),
                ("endpoints", .array(endpoints.map(\.json))),
                ("openConnections", openConnections.map { .number(Double($0)) } ?? .null),
                ("counters", counters?.json ?? .null),
            ]))
    }

    init?(json: JSONValue) {
        guard let id = json["id"]?.stringValue else { return nil }
        self.init(
            id: id, name: json["name"]?.stringValue ?? id, state: json["state"]?.stringValue ?? "",
            deployed: json["deployed"]?.boolValue ?? false,
            entrypoints: (json["entrypoints"]?.arrayValue ?? []).compactMap { item in
                item["type"]?.stringValue.map {
                    StatusSnapshot.Entrypoint(
                        type: $0, paths: (item["paths"]?.arrayValue ?? []).compactMap(\.stringValue))
                }
            },
            endpoints: (json["endpoints"]?.arrayValue ?? []).compactMap { item in
                item["type"]?.stringValue.map {
                    StatusSnapshot.Endpoint(
                        name: item["name"]?.stringValue ?? $0, type: $0, state: item["state"]?.stringValue)
                }
            },
            openConnections: StatusSnapshot.integer(json["openConnections"]),
            counters: StatusCounters(json: json["counters"]))
    }
}

extension StatusSnapshot.Endpoint {
    var json: JSONValue {
        .object(
            JSONObject([
                ("name", .string(name)), ("type", .string(type)), ("state", state.map(JSONValue.string) ?? .null),
            ]))
    }
}
