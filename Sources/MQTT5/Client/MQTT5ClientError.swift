/// A failure reported by the MQTT 5 client: a server's Reason Code, a lost connection, a protocol violation, or a
/// local limit.
///
/// `code` is stable and meant for code; `reasonCode`, `reasonString` and `serverReference` carry what the server
/// said, when the failure came from a CONNACK, DISCONNECT, PUBACK, PUBREC, SUBACK or UNSUBACK.
public struct MQTT5ClientError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Hashable, Sendable, CaseIterable {
        /// The TCP or TLS connection could not be opened, or was lost.
        case connectionFailed
        /// No CONNACK (or TCP/TLS connection) within the connect timeout.
        case timedOut
        /// The server answered CONNECT with a failure Reason Code (`reasonCode`).
        case connectionRefused
        /// The server sent DISCONNECT (`reasonCode`, `reasonString`, `serverReference`).
        case serverDisconnected
        /// The server broke the protocol; the client sent DISCONNECT with `reasonCode` and closed the connection.
        case protocolViolation
        /// Nothing arrived from the server within 1.5 times the Keep Alive: the connection was closed.
        case keepAliveTimeout
        /// The server answered a PUBLISH with a failure Reason Code in its PUBACK or PUBREC (`reasonCode`).
        case publishRefused
        /// The server refused a subscription in its SUBACK (`reasonCode`, the first failure).
        case subscriptionRefused
        /// The server refused to remove a subscription in its UNSUBACK (`reasonCode`, the first failure).
        case unsubscribeRefused
        /// The packet is larger than the server's Maximum Packet Size; it was not sent.
        case packetTooLarge
        /// The message's QoS is above the server's Maximum QoS; it was not sent.
        case qosNotSupported
        /// The message asks to be retained and the server does not support retained messages; it was not sent.
        case retainNotSupported
        /// A topic, filter, property or configuration value the protocol does not allow.
        case invalidArgument
        /// A QoS 2 message the server had acknowledged with PUBREC could not be completed: the server no longer
        /// had the session when the client reconnected. The server received the message; it may have delivered it.
        case sessionLost
        /// More requests are waiting for the connection or the server's Receive Maximum than the configuration's
        /// `maximumPendingRequests` allows.
        case tooManyPendingRequests
        /// The enhanced authentication exchange failed on the client's side.
        case authenticationFailed
        /// The client was shut down (or disconnected) before the operation completed.
        case shutDown
        /// The waiting task was cancelled. A message already sent may still be delivered.
        case cancelled
    }

    public var code: Code
    /// What the operation was and why it failed.
    public var context: String
    /// The Reason Code the server sent, or for `protocolViolation` the one the client sent.
    public var reasonCode: MQTTReasonCode?
    /// The server's Reason String, when it sent one.
    public var reasonString: String?
    /// Another server to use, from a CONNACK or DISCONNECT.
    public var serverReference: String?

    public init(
        _ code: Code,
        _ context: String,
        reasonCode: MQTTReasonCode? = nil,
        reasonString: String? = nil,
        serverReference: String? = nil
    ) {
        self.code = code
        self.context = context
        self.reasonCode = reasonCode
        self.reasonString = reasonString
        self.serverReference = serverReference
    }

    /// Whether trying again (after reconnecting) may succeed. The client stops reconnecting after a connection
    /// failure that is not retriable: credentials or authorization refused, a banned client, the session taken
    /// over by another connection with the same Client Identifier, a server that sends the client elsewhere.
    public var isRetriable: Bool {
        switch code {
        case .connectionFailed, .timedOut, .protocolViolation, .keepAliveTimeout, .tooManyPendingRequests:
            return true
        case .connectionRefused:
            // Unspecified, implementation specific, Server unavailable, Server busy, Quota exceeded, Connection
            // rate exceeded: conditions of the moment.
            guard let reasonCode else { return true }
            return [0x80, 0x83, 0x88, 0x89, 0x97, 0x9F].contains(reasonCode.rawValue)
        case .serverDisconnected:
            // Not authorized, Session taken over (reconnecting would take it back, and the two connections would
            // fight for ever), Use another server, Server moved.
            guard let reasonCode else { return true }
            return ![0x87, 0x8E, 0x9C, 0x9D].contains(reasonCode.rawValue)
        case .publishRefused, .subscriptionRefused, .unsubscribeRefused, .packetTooLarge, .qosNotSupported,
            .retainNotSupported, .invalidArgument, .sessionLost, .authenticationFailed, .shutDown, .cancelled:
            return false
        }
    }

    public var description: String {
        var text = "\(code.rawValue): \(context)"
        if let reasonCode { text += " [\(reasonCode)]" }
        if let reasonString { text += " \"\(reasonString)\"" }
        if let serverReference { text += " (server reference \(serverReference))" }
        return text
    }

    /// A failure Reason Code of a packet the server sent, with the packet's Reason String.
    static func server(
        _ code: Code,
        _ context: String,
        reasonCode: MQTTReasonCode,
        properties: MQTTProperties
    ) -> MQTT5ClientError {
        MQTT5ClientError(
            code, context, reasonCode: reasonCode, reasonString: properties.reasonString,
            serverReference: properties.serverReference)
    }

    /// A protocol violation by the server, and the Reason Code of the DISCONNECT the client answers it with.
    static func protocolViolation(_ error: MQTTProtocolError) -> MQTT5ClientError {
        MQTT5ClientError(.protocolViolation, "\(error)", reasonCode: error.clientDisconnectReason)
    }
}
