import KafkaWire
import NIOCore

extension KafkaConnection {
    /// SaslHandshake (version 1, so the exchange travels in SaslAuthenticate requests), then the mechanism's
    /// messages until it completes or the broker refuses.
    func authenticate(_ sasl: KafkaClientConfiguration.SASL) async throws(KafkaError) {
        var mechanism: any SASLMechanism
        switch sasl.mechanism {
        case .plain:
            mechanism = try SASLPlainMechanism(username: sasl.username, password: sasl.password)
        case .scramSHA256:
            mechanism = try SCRAMMechanism(algorithm: .sha256, username: sasl.username, password: sasl.password)
        case .scramSHA512:
            mechanism = try SCRAMMechanism(algorithm: .sha512, username: sasl.username, password: sasl.password)
        }
        let handshake = try await send(KafkaSaslHandshakeRequest(mechanism: mechanism.name), version: 1)
        let handshakeError = KafkaErrorCode(rawValue: handshake.errorCode)
        guard handshakeError == .none else {
            throw KafkaError(
                .authenticationFailed,
                "\(address): SASL mechanism \(mechanism.name) refused (\(handshakeError.name)); the broker offers "
                    + handshake.mechanisms.joined(separator: ", ")
            )
        }
        var message: [UInt8]? = mechanism.start()
        while let outgoing = message {
            let response = try await send(KafkaSaslAuthenticateRequest(authBytes: ByteBuffer(bytes: outgoing)))
            let code = KafkaErrorCode(rawValue: response.errorCode)
            guard code == .none else {
                throw KafkaError(
                    .authenticationFailed,
                    "\(address): \(code.name): \(response.errorMessage ?? "authentication failed")"
                )
            }
            message = try mechanism.receive(challenge: Array(response.authBytes.readableBytesView))
        }
        guard mechanism.isComplete else {
            throw KafkaError(.authenticationFailed, "\(address): SASL \(mechanism.name) did not complete")
        }
    }
}
