/// A failure the gateway reports to a client: an HTTP status, a stable key and a human message.
///
/// Keys follow the names Gravitee users see in their gateways' responses where one exists.
public struct GatewayError: Error, Sendable, CustomStringConvertible, Equatable {
    public var status: Int
    public var key: String
    public var message: String
    /// Whether the same request may succeed later (a broker that is away, a full buffer).
    public var isRetriable: Bool
    /// The `WWW-Authenticate` challenge the response carries, if any (RFC 9110 §11.6.1).
    public var challenge: String?

    public init(status: Int, key: String, message: String, isRetriable: Bool = false, challenge: String? = nil) {
        self.challenge = challenge
        self.status = status
        self.key = key
        self.message = message
        self.isRetriable = isRetriable
    }

    public var description: String { "\(status) \(key): \(message)" }

    /// The JSON body written to HTTP clients.
    public var jsonBody: String {
        var out = "{\"message\":"
        JSONString.append(message, to: &out)
        out += ",\"http_status_code\":\(status),\"key\":"
        JSONString.append(key, to: &out)
        out += "}"
        return out
    }
}

extension GatewayError {
    public static func noAPI(path: String) -> GatewayError {
        .init(status: 404, key: "GATEWAY_API_NOT_FOUND", message: "No context-path matches the request URI.")
    }

    public static func noEntrypoint(method: String) -> GatewayError {
        .init(
            status: 404, key: "GATEWAY_NO_ENTRYPOINT_MATCHED",
            message: "No entrypoint matches the incoming request (\(method))."
        )
    }

    public static func invalidCursor(_ cursor: String) -> GatewayError {
        .init(status: 400, key: "INVALID_CURSOR", message: "The cursor '\(cursor)' is not valid for this API.")
    }

    public static func unsupportedAccept(_ accept: String) -> GatewayError {
        .init(
            status: 400, key: "UNSUPPORTED_ACCEPT",
            message: "Unsupported accept header '\(accept)': use application/json, application/xml or text/plain."
        )
    }

    public static func payloadTooLarge(limit: Int) -> GatewayError {
        .init(
            status: 413, key: "REQUEST_PAYLOAD_TOO_LARGE", message: "Request body exceeds the limit of \(limit) bytes.")
    }

    public static func tooManyConnections(limit: Int) -> GatewayError {
        .init(
            status: 503, key: "GATEWAY_CONNECTION_LIMIT_REACHED",
            message: "The gateway holds its maximum of \(limit) streaming connections; retry later.", isRetriable: true
        )
    }

    public static func endpointUnavailable(_ detail: String) -> GatewayError {
        .init(status: 502, key: "ENDPOINT_UNAVAILABLE", message: detail, isRetriable: true)
    }
}
