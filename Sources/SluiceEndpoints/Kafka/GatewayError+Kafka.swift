import KafkaClient
import KafkaWire
import SluiceCore

extension GatewayError {
    /// What a client is told when the Kafka endpoint fails: the broker away or refusing (503), too slow (504),
    /// the message too large (413), the broker's answers unusable (502). The message names the Kafka error.
    static func kafka(_ error: KafkaError) -> GatewayError {
        switch error.code {
        case .timedOut:
            return GatewayError(
                status: 504, key: "KAFKA_TIMEOUT",
                message: "The Kafka broker did not answer in time (\(error.name)).", isRetriable: true)
        case .connectionFailed, .shutDown:
            return .kafkaUnavailable(error)
        case .authenticationFailed:
            return GatewayError(
                status: 503, key: "KAFKA_AUTHENTICATION_FAILED",
                message: "The gateway could not authenticate to the Kafka broker.")
        case .recordTooLarge, .broker(.messageTooLarge), .broker(.recordListTooLarge):
            return GatewayError(
                status: 413, key: "MESSAGE_TOO_LARGE",
                message: "The message is larger than Kafka accepts (\(error.name)).")
        case .broker(let code) where code.isRetriable:
            return .kafkaUnavailable(error)
        case .broker:
            return GatewayError(
                status: 503, key: "KAFKA_REFUSED", message: "The Kafka broker refused the request (\(error.name)).")
        case .protocolViolation, .unsupportedVersion, .invalidConfiguration, .compression:
            return GatewayError(
                status: 502, key: "KAFKA_ERROR", message: "The Kafka endpoint failed (\(error.name)).")
        }
    }

    /// No broker answers: 503, to try again later.
    static func kafkaUnavailable(_ error: KafkaError) -> GatewayError {
        GatewayError(
            status: 503, key: "KAFKA_UNAVAILABLE",
            message: "The Kafka broker is not reachable (\(error.name)); try again later.", isRetriable: true)
    }

    static func kafkaTopicNotFound(_ topic: String) -> GatewayError {
        GatewayError(status: 404, key: "KAFKA_TOPIC_NOT_FOUND", message: "The Kafka topic '\(topic)' does not exist.")
    }

    static func kafkaNoOffset(group: String) -> GatewayError {
        GatewayError(
            status: 409, key: "KAFKA_NO_COMMITTED_OFFSET",
            message:
                "Consumer group '\(group)' has no committed offset and autoOffsetReset is none: give a cursor to start from."
        )
    }

    static func kafkaModeDisabled(_ mode: ConnectorMode) -> GatewayError {
        GatewayError(
            status: 405, key: "KAFKA_\(mode == .publish ? "PRODUCER" : "CONSUMER")_DISABLED",
            message:
                "This API's Kafka endpoint does not \(mode.rawValue): its \(mode == .publish ? "producer" : "consumer") is not enabled."
        )
    }
}
