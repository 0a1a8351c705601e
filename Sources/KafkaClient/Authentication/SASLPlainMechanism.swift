/// SASL PLAIN (RFC 4616): the user name and password in one message, so only for TLS connections.
package struct SASLPlainMechanism: SASLMechanism {
    private enum State {
        case initial
        case responseSent
        case complete
    }

    private let username: String
    private let password: String
    private var state = State.initial

    package var name: String { "PLAIN" }

    package var isComplete: Bool { state == .complete }

    /// - Throws: `KafkaError` with code `.invalidConfiguration` when the user name or password contains a NUL
    ///   byte, which separates the fields of the message, or the user name is empty.
    package init(username: String, password: String) throws(KafkaError) {
        guard !username.isEmpty else {
            throw KafkaError(.invalidConfiguration, "SASL PLAIN user name is empty")
        }
        guard !username.utf8.contains(0), !password.utf8.contains(0) else {
            throw KafkaError(.invalidConfiguration, "SASL PLAIN user name or password contains a NUL character")
        }
        self.username = username
        self.password = password
    }

    /// `authzid NUL authcid NUL passwd` with an empty authzid: act as the authenticated user itself.
    package mutating func start() -> [UInt8] {
        state = .responseSent
        return [0] + Array(username.utf8) + [0] + Array(password.utf8)
    }

    /// The broker answers an accepted PLAIN response with empty bytes (a rejection arrives as an error code in
    /// the SaslAuthenticate response, which the connection maps), so any answer completes the exchange.
    package mutating func receive(challenge: [UInt8]) throws(KafkaError) -> [UInt8]? {
        guard state == .responseSent else {
            throw KafkaError(.protocolViolation, "unexpected SASL PLAIN challenge of \(challenge.count) bytes")
        }
        state = .complete
        return nil
    }
}
