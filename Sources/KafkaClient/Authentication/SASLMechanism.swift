/// The client side of a SASL mechanism as a pure state machine: it turns the broker's challenges into the next
/// message to send, and the connection carries the bytes in SaslAuthenticate requests.
///
/// A value serves one authentication exchange.
package protocol SASLMechanism: Sendable {
    /// The mechanism name sent in SaslHandshake (`PLAIN`, `SCRAM-SHA-256`, ...).
    var name: String { get }

    /// Whether the exchange ended successfully: the broker's last message was accepted.
    var isComplete: Bool { get }

    /// The client's first message (SASL's initial response).
    mutating func start() -> [UInt8]

    /// Handles the broker's answer to the last message sent.
    ///
    /// - Returns: The next message to send, or `nil` when the exchange is complete.
    /// - Throws: `KafkaError` with code `.authenticationFailed` when the broker's answer rejects or fails to
    ///   authenticate the exchange, `.protocolViolation` when a challenge comes when none is expected.
    mutating func receive(challenge: [UInt8]) throws(KafkaError) -> [UInt8]?
}
