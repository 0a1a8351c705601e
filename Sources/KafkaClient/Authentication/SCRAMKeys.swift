import Crypto

/// The keys of one SCRAM exchange (RFC 5802 section 3), from the password, the server's salt and iteration count,
/// and the AuthMessage both sides sign.
struct SCRAMKeys {
    /// `ClientKey XOR HMAC(StoredKey, AuthMessage)`: proves the client knows the password without sending it.
    var clientProof: [UInt8]
    /// `HMAC(ServerKey, AuthMessage)`: what the server must answer with to prove it knows the password too.
    var serverSignature: [UInt8]

    init(
        algorithm: SCRAMMechanism.HashAlgorithm,
        password: [UInt8],
        salt: [UInt8],
        iterations: Int,
        authMessage: [UInt8]
    ) {
        switch algorithm {
        case .sha256:
            self.init(SHA256.self, password: password, salt: salt, iterations: iterations, authMessage: authMessage)
        case .sha512:
            self.init(SHA512.self, password: password, salt: salt, iterations: iterations, authMessage: authMessage)
        }
    }

    private init<H: HashFunction>(
        _ hash: H.Type,
        password: [UInt8],
        salt: [UInt8],
        iterations: Int,
        authMessage: [UInt8]
    ) {
        let saltedPassword = Self.hi(H.self, password: password, salt: salt, iterations: iterations)
        let clientKey = Self.hmac(H.self, key: saltedPassword, message: Array("Client Key".utf8))
        let storedKey = Array(H.hash(data: clientKey))
        let clientSignature = Self.hmac(H.self, key: storedKey, message: authMessage)
        let serverKey = Self.hmac(H.self, key: saltedPassword, message: Array("Server Key".utf8))

        self.clientProof = zip(clientKey, clientSignature).map { $0 ^ $1 }
        self.serverSignature = Self.hmac(H.self, key: serverKey, message: authMessage)
    }

    /// RFC 5802's `Hi`, which is PBKDF2 (RFC 8018) with HMAC-H and an output of one hash length:
    /// `U1 = HMAC(password, salt + INT(1))`, `Ui = HMAC(password, Ui-1)`, `Hi = U1 XOR ... XOR Ui`.
    static func hi<H: HashFunction>(
        _ hash: H.Type,
        password: [UInt8],
        salt: [UInt8],
        iterations: Int
    ) -> [UInt8] {
        // The keyed HMAC state is built once and copied per round: rebuilding it would hash the key's padded
        // blocks again every time, doubling the work.
        let keyed = HMAC<H>(key: SymmetricKey(data: password))

        var first = keyed
        first.update(data: salt + [0, 0, 0, 1])
        var u = Array(first.finalize())
        var result = u
        for _ in 1..<max(iterations, 1) {
            var round = keyed
            round.update(data: u)
            u = Array(round.finalize())
            for index in result.indices {
                result[index] ^= u[index]
            }
        }
        return result
    }

    static func hmac<H: HashFunction>(_ hash: H.Type, key: [UInt8], message: [UInt8]) -> [UInt8] {
        Array(HMAC<H>.authenticationCode(for: message, using: SymmetricKey(data: key)))
    }
}
