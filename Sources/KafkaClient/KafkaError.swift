import KafkaWire

/// A failure reported by the Kafka client: a broker's error code, a connection problem, a protocol violation,
/// or a local limit.
public struct KafkaError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: Hashable, Sendable {
        /// The broker answered with a Kafka error code.
        case broker(KafkaErrorCode)
        /// The connection could not be opened, or was lost before the answer came.
        case connectionFailed
        /// The broker's bytes could not be decoded.
        case protocolViolation
        /// No answer came within the configured time.
        case timedOut
        /// TLS or SASL authentication failed.
        case authenticationFailed
        /// The broker does not support a version of an API this client needs.
        case unsupportedVersion
        /// The client, producer or consumer is shut down.
        case shutDown
        /// A record or request is larger than configured limits allow.
        case recordTooLarge
        /// The configuration is invalid.
        case invalidConfiguration
        /// Compression codec missing or compression failed.
        case compression
    }

    public var code: Code
    /// Which request, topic or partition the failure concerns.
    public var context: String

    public init(_ code: Code, _ context: String) {
        self.code = code
        self.context = context
    }

    public static func broker(_ errorCode: KafkaErrorCode, _ context: String) -> KafkaError {
        KafkaError(.broker(errorCode), context)
    }

    /// The Kafka error code's name for broker errors (`NOT_LEADER_OR_FOLLOWER`), the client code otherwise.
    public var name: String {
        switch code {
        case .broker(let errorCode): errorCode.name
        case .connectionFailed: "CONNECTION_FAILED"
        case .protocolViolation: "PROTOCOL_VIOLATION"
        case .timedOut: "TIMED_OUT"
        case .authenticationFailed: "AUTHENTICATION_FAILED"
        case .unsupportedVersion: "UNSUPPORTED_VERSION"
        case .shutDown: "SHUT_DOWN"
        case .recordTooLarge: "RECORD_TOO_LARGE"
        case .invalidConfiguration: "INVALID_CONFIGURATION"
        case .compression: "COMPRESSION"
        }
    }

    /// Whether the same operation may succeed if tried again (after a metadata refresh or reconnect).
    public var isRetriable: Bool {
        switch code {
        case .broker(let errorCode): errorCode.isRetriable
        case .connectionFailed, .timedOut: true
        default: false
        }
    }

    public var description: String { "\(name): \(context)" }
}
