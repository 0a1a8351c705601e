public import SluiceCore

extension GatewayError {
    /// The backend could not be reached or broke the exchange (Gravitee's umbrella key for it).
    public static func backendConnection(_ detail: String) -> GatewayError {
        .init(status: 502, key: "GATEWAY_CLIENT_CONNECTION_ERROR", message: detail, isRetriable: true)
    }

    /// The backend did not answer within the endpoint's `readTimeout` (Gravitee's key).
    public static func backendTimeout(_ detail: String) -> GatewayError {
        .init(status: 504, key: "REQUEST_TIMEOUT", message: detail, isRetriable: true)
    }

    /// The backend's connection could not be made within `connectTimeout` (Gravitee's key).
    public static func backendConnectTimeout() -> GatewayError {
        .init(
            status: 504, key: "UPSTREAM_CONNECT_TIMEOUT",
            message: "Timed out while establishing a connection to the upstream", isRetriable: true)
    }

    /// Failover's circuit breaker is open: the backend is not tried (Gravitee answers a bare 502).
    public static func circuitOpen() -> GatewayError {
        .init(
            status: 502, key: "GATEWAY_CLIENT_CONNECTION_ERROR",
            message: "The backend failed repeatedly; requests are not sent to it for a while (circuit breaker open).",
            isRetriable: true)
    }
}
