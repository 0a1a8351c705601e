/// SASL SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677), the client side, as Kafka brokers speak them: no
/// channel binding (`n,,`), the password used as its UTF-8 bytes (Kafka's Java client applies no SASLprep).
///
/// Three messages: ``start()`` gives the client-first message, ``receive(challenge:)`` turns the server-first
/// message into the client-final message and then checks the server-final message, which proves the broker
/// knows the password too.
///
/// The key derivation runs the hash `2 × iterations` times (8192 HMACs at Kafka's usual 4096 iterations) inside
/// `receive(challenge:)`; a caller on an event loop may prefer to call it elsewhere.
package struct SCRAMMechanism: SASLMechanism {
    /// The hash function the mechanism is named after.
    package enum HashAlgorithm: Sendable, Hashable {
        case sha256
        case sha512
    }

    private enum State {
        case initial
        /// The client-first message went out; `clientFirstBare` is part of the AuthMessage both sides sign.
        case awaitingServerFirst(clientFirstBare: String)
        case awaitingServerFinal(expectedServerSignature: [UInt8])
        case complete
        case failed
    }

    /// The hash function of the mechanism.
    package let algorithm: HashAlgorithm
    private let username: String
    private let password: String
    private let clientNonce: String
    private var state = State.initial

    package var name: String {
        switch algorithm {
        case .sha256: "SCRAM-SHA-256"
        case .sha512: "SCRAM-SHA-512"
        }
    }

    package var isComplete: Bool {
        if case .complete = state { return true }
        return false
    }

    /// - Parameters:
    ///   - clientNonce: The client's nonce, printable ASCII without `,`. Default: 32 random letters and digits
    ///     from the system's secure generator. Tests pass a fixed one.
    /// - Throws: `KafkaError` with code `.invalidConfiguration` when the user name is empty or the nonce is
    ///   empty or has characters outside printable ASCII or a comma.
    package init(
        algorithm: HashAlgorithm,
        username: String,
        password: String,
        clientNonce: String = SCRAMMechanism.randomNonce()
    ) throws(KafkaError) {
        guard !username.isEmpty else {
            throw KafkaError(.invalidConfiguration, "SCRAM user name is empty")
        }
        guard Self.isValidNonce(clientNonce) else {
            throw KafkaError(.invalidConfiguration, "SCRAM client nonce must be printable ASCII without ','")
        }
        self.algorithm = algorithm
        self.username = username
        self.password = password
        self.clientNonce = clientNonce
    }

    /// A fresh nonce: 32 letters and digits (about 190 bits) from the system's cryptographically secure
    /// generator.
    package static func randomNonce() -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".utf8)
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] }
        return String(decoding: bytes, as: UTF8.self)
    }

    // MARK: Events

    /// The client-first message `n,,n=<user>,r=<nonce>`. Calling it again starts the exchange over.
    package mutating func start() -> [UInt8] {
        let clientFirstBare = "n=\(Self.saslName(username)),r=\(clientNonce)"
        state = .awaitingServerFirst(clientFirstBare: clientFirstBare)
        return Array("n,,\(clientFirstBare)".utf8)
    }

    /// Answers the server-first message with the client-final message, then checks the server-final message
    /// and returns `nil`.
    ///
    /// - Throws: `KafkaError` with code `.authenticationFailed` when a message is malformed, the server's nonce
    ///   does not extend the client's, the iteration count is not positive, the server reports an error (`e=`,
    ///   its text in the error's context) or its signature does not prove it knows the password;
    ///   `.protocolViolation` for a challenge before ``start()`` or after the exchange ended.
    package mutating func receive(challenge: [UInt8]) throws(KafkaError) -> [UInt8]? {
        switch state {
        case .initial:
            throw KafkaError(.protocolViolation, "\(name) challenge before the client-first message")
        case .complete:
            throw KafkaError(.protocolViolation, "\(name) challenge after the exchange completed")
        case .failed:
            throw KafkaError(.authenticationFailed, "\(name) challenge after the exchange failed")

        case .awaitingServerFirst(let clientFirstBare):
            do {
                let (clientFinal, serverSignature) = try clientFinalMessage(
                    clientFirstBare: clientFirstBare, serverFirst: challenge)
                state = .awaitingServerFinal(expectedServerSignature: serverSignature)
                return clientFinal
            } catch {
                state = .failed
                throw error
            }

        case .awaitingServerFinal(let expectedServerSignature):
            do {
                try verifyServerFinalMessage(challenge, expectedServerSignature: expectedServerSignature)
                state = .complete
                return nil
            } catch {
                state = .failed
                throw error
            }
        }
    }

    // MARK: Messages

    private func clientFinalMessage(
        clientFirstBare: String,
        serverFirst bytes: [UInt8]
    ) throws(KafkaError) -> (message: [UInt8], serverSignature: [UInt8]) {
        let serverFirst = try text(of: bytes, message: "server-first")
        let attributes = try attributes(of: serverFirst, message: "server-first")
        if let error = attributes["e"] {
            throw KafkaError(.authenticationFailed, "\(name) server error: \(error)")
        }
        // RFC 5802 5.1: a client must fail when the server requires an extension it does not know.
        if attributes["m"] != nil {
            throw KafkaError(.authenticationFailed, "\(name) server requires an unsupported extension (m=)")
        }
        guard let serverNonce = attributes["r"], let saltText = attributes["s"], let iterationText = attributes["i"]
        else {
            throw KafkaError(.authenticationFailed, "\(name) server-first message lacks r=, s= or i=")
        }
        // The server's nonce extends the client's; one that does not is an answer to another exchange.
        guard serverNonce.hasPrefix(clientNonce), Self.isValidNonce(serverNonce) else {
            throw KafkaError(.authenticationFailed, "\(name) server nonce does not start with the client nonce")
        }
        guard let salt = SCRAMBase64.decode(saltText) else {
            throw KafkaError(.authenticationFailed, "\(name) salt is not valid base64")
        }
        // Java parses the count as an `int`; anything larger or not a decimal number is malformed. RFC 5802 asks
        // for at least 4096, but a broker configured with fewer is the operator's choice, so only `<= 0` fails.
        guard iterationText.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
            let iterations = Int32(iterationText), iterations > 0
        else {
            throw KafkaError(.authenticationFailed, "\(name) iteration count '\(iterationText)' is not positive")
        }

        // "biws" is base64 of the GS2 header "n,,": no channel binding.
        let clientFinalWithoutProof = "c=biws,r=\(serverNonce)"
        let authMessage = "\(clientFirstBare),\(serverFirst),\(clientFinalWithoutProof)"
        let keys = SCRAMKeys(
            algorithm: algorithm,
            password: Array(password.utf8),
            salt: salt,
            iterations: Int(iterations),
            authMessage: Array(authMessage.utf8)
        )
        let clientFinal = "\(clientFinalWithoutProof),p=\(SCRAMBase64.encode(keys.clientProof))"
        return (Array(clientFinal.utf8), keys.serverSignature)
    }

    private func verifyServerFinalMessage(
        _ bytes: [UInt8],
        expectedServerSignature: [UInt8]
    ) throws(KafkaError) {
        let serverFinal = try text(of: bytes, message: "server-final")
        let attributes = try attributes(of: serverFinal, message: "server-final")
        if let error = attributes["e"] {
            throw KafkaError(.authenticationFailed, "\(name) server error: \(error)")
        }
        guard let verifierText = attributes["v"], let verifier = SCRAMBase64.decode(verifierText) else {
            throw KafkaError(.authenticationFailed, "\(name) server-final message lacks a valid v=")
        }
        // A server that cannot produce the signature does not know the password: it is not the broker.
        guard Self.constantTimeEqual(verifier, expectedServerSignature) else {
            throw KafkaError(.authenticationFailed, "\(name) server signature does not match")
        }
    }

    private func text(of bytes: [UInt8], message: String) throws(KafkaError) -> String {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw KafkaError(.authenticationFailed, "\(name) \(message) message is not UTF-8")
        }
        return text
    }

    /// `a=value` pairs separated by commas; the first of each attribute counts. Values may contain `=` (base64
    /// padding), so only the first `=` separates.
    private func attributes(of text: String, message: String) throws(KafkaError) -> [Character: String] {
        var attributes: [Character: String] = [:]
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard part.count >= 2, let attribute = part.first, attribute.isLetter,
                part[part.index(after: part.startIndex)] == "="
            else {
                throw KafkaError(.authenticationFailed, "\(name) \(message) message is malformed")
            }
            if attributes[attribute] == nil {
                attributes[attribute] = String(part.dropFirst(2))
            }
        }
        return attributes
    }

    // MARK: Helpers

    /// RFC 5802's saslname: `=` and `,` escaped as `=3D` and `=2C` (`=` first, so escapes stay intact).
    static func saslName(_ username: String) -> String {
        username.replacing("=", with: "=3D").replacing(",", with: "=2C")
    }

    /// RFC 5802's `printable`: ASCII 0x21...0x7E except `,`.
    static func isValidNonce(_ nonce: String) -> Bool {
        !nonce.isEmpty && nonce.utf8.allSatisfy { $0 >= 0x21 && $0 <= 0x7E && $0 != UInt8(ascii: ",") }
    }

    /// Compares without returning early, so the time taken tells nothing about where signatures differ.
    static func constantTimeEqual(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        guard lhs.count == rhs.count else { return false }
        var difference: UInt8 = 0
        for index in lhs.indices {
            difference |= lhs[index] ^ rhs[index]
        }
        return difference == 0
    }
}
