import MQTT5
import SluiceCore

extension GatewayError {
    /// What a client is told when the MQTT 5 endpoint fails: the broker away (503), refusing (503), the gateway's
    /// credentials refused (503), the message too large (413), the broker's answers unusable (502). The message
    /// names the MQTT failure and the broker's Reason Code.
    static func mqtt5(_ error: MQTT5ClientError) -> GatewayError {
        switch error.code {
        case .connectionFailed, .timedOut, .keepAliveTimeout, .serverDisconnected, .shutDown, .sessionLost,
            .tooManyPendingRequests, .cancelled:
            return .mqtt5Unavailable(error)
        case .connectionRefused:
            // Bad User Name or Password, Not authorized, Bad authentication method.
            if let code = error.reasonCode?.rawValue, [0x86, 0x87, 0x8C].contains(code) {
                return GatewayError(
                    status: 503, key: "MQTT5_AUTHENTICATION_FAILED",
                    message: "The MQTT broker refused the gateway's credentials (\(describe(error))).")
            }
            return GatewayError(
                status: 503, key: "MQTT5_REFUSED",
                message: "The MQTT broker refused the connection (\(describe(error))).", isRetriable: true)
        case .publishRefused, .subscriptionRefused, .qosNotSupported, .retainNotSupported:
            return GatewayError(
                status: 503, key: "MQTT5_REFUSED", message: "The MQTT broker refused the message (\(describe(error))).")
        case .packetTooLarge:
            return GatewayError(
                status: 413, key: "MESSAGE_TOO_LARGE",
                message: "The message is larger than the MQTT broker accepts (\(describe(error))).")
        case .protocolViolation, .invalidArgument, .unsubscribeRefused, .authenticationFailed:
            return GatewayError(
                status: 502, key: "MQTT5_ERROR", message: "The MQTT 5 endpoint failed (\(describe(error))).")
        }
    }

    /// No broker answers: 503, to try again later.
    static func mqtt5Unavailable(_ error: MQTT5ClientError) -> GatewayError {
        GatewayError(
            status: 503, key: "MQTT5_UNAVAILABLE",
            message: "The MQTT broker is not reachable (\(describe(error))); try again later.", isRetriable: true)
    }

    /// The broker did not acknowledge a publish in time; it may or may not have it.
    static func mqtt5Timeout(after seconds: Int) -> GatewayError {
        GatewayError(
            status: 504, key: "MQTT5_TIMEOUT",
            message: "The MQTT broker did not acknowledge the message within \(seconds) s.", isRetriable: true)
    }

    /// A topic attribute that is no MQTT topic (or a Topic Filter where a Topic Name is needed): the client's doing.
    static func mqtt5InvalidTopic(_ topic: String) -> GatewayError {
        GatewayError(status: 400, key: "MQTT5_INVALID_TOPIC", message: "'\(topic)' is not a valid MQTT topic here.")
    }

    static func mqtt5ModeDisabled(_ mode: ConnectorMode) -> GatewayError {
        GatewayError(
            status: 405, key: "MQTT5_\(mode == .publish ? "PRODUCER" : "CONSUMER")_DISABLED",
            message:
                "This API's MQTT 5 endpoint does not \(mode.rawValue): its \(mode == .publish ? "producer" : "consumer") is not enabled."
        )
    }

    private static func describe(_ error: MQTT5ClientError) -> String {
        var text = error.code.rawValue
        if let reasonCode = error.reasonCode { text += ", reason code 0x\(String(reasonCode.rawValue, radix: 16))" }
        if let reasonString = error.reasonString { text += ", \"\(reasonString)\"" }
        return text
    }
}
