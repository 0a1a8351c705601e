/// What happened to the client's connection.
public enum MQTT5ConnectionEvent: Hashable, Sendable {
    /// CONNACK accepted a connection.
    case connected(MQTT5ConnectionInfo)
    /// The connection ended; the client reconnects unless the error is not retriable or the client is stopping.
    case disconnected(MQTT5ClientError)
    /// A connection attempt failed before CONNACK accepted it (TCP, TLS, CONNACK refused, timeout).
    case connectionAttemptFailed(MQTT5ClientError)
}
