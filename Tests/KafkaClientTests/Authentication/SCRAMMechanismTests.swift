import KafkaClient
import Testing

@Suite struct SCRAMMechanismTests {
    private static let clientNonce = "rOprNGfwEbeRWgbNEkqO"
    private static let serverFirst =
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"

    private func exchange(
        _ algorithm: SCRAMMechanism.HashAlgorithm = .sha256,
        username: String = "user",
        serverFirst: String = SCRAMMechanismTests.serverFirst
    ) throws -> SCRAMMechanism {
        var mechanism = try SCRAMMechanism(
            algorithm: algorithm, username: username, password: "pencil", clientNonce: Self.clientNonce)
        _ = mechanism.start()
        _ = try mechanism.receive(challenge: Array(serverFirst.utf8))
        return mechanism
    }

    private func expectFailure<R>(
        _ code: KafkaError.Code,
        containing text: String = "",
        sourceLocation: SourceLocation = #_sourceLocation,
        _ body: () throws -> R
    ) {
        let error = #expect(throws: KafkaError.self, sourceLocation: sourceLocation, performing: body)
        #expect(error?.code == code, sourceLocation: sourceLocation)
        if !text.isEmpty {
            #expect(
                error?.context.contains(text) == true, "\(String(describing: error))", sourceLocation: sourceLocation)
        }
    }

    // MARK: Known answers

    /// RFC 7677 section 3, byte for byte.
    @Test func sha256MatchesRFC7677() throws {
        var mechanism = try SCRAMMechanism(
            algorithm: .sha256, username: "user", password: "pencil", clientNonce: Self.clientNonce)
        #expect(mechanism.name == "SCRAM-SHA-256")
        #expect(mechanism.start() == Array("n,,n=user,r=rOprNGfwEbeRWgbNEkqO".utf8))

        let clientFinal = try mechanism.receive(challenge: Array(Self.serverFirst.utf8))
        #expect(
            clientFinal.map { String(decoding: $0, as: UTF8.self) }
                == "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                + "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
        #expect(!mechanism.isComplete)

        let next = try mechanism.receive(challenge: Array("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=".utf8))
        #expect(next == nil)
        #expect(mechanism.isComplete)
    }

    /// RFC 7677's exchange run with SHA-512. Expected values computed once with Python's standard library,
    /// independently of this code (`hashlib.pbkdf2_hmac("sha512", b"pencil", b64decode("W22ZaJ0SNY7soEsUEjb6gQ=="),
    /// 4096)` for SaltedPassword, then `hmac`/`hashlib` for the RFC 5802 keys over the same AuthMessage).
    @Test func sha512MatchesAnIndependentComputation() throws {
        var mechanism = try SCRAMMechanism(
            algorithm: .sha512, username: "user", password: "pencil", clientNonce: Self.clientNonce)
        #expect(mechanism.name == "SCRAM-SHA-512")
        #expect(mechanism.start() == Array("n,,n=user,r=rOprNGfwEbeRWgbNEkqO".utf8))

        let clientFinal = try mechanism.receive(challenge: Array(Self.serverFirst.utf8))
        #expect(
            clientFinal.map { String(decoding: $0, as: UTF8.self) }
                == "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                + "p=gMGXRcevScNtxZ6/8lQYpGtnsNAc3mGcmNomv+xnoOMw+3R2xNJdMNnzMlTN8PPC6wdp6dybEmDYXYTxwnYPJQ==")

        let serverFinal =
            "v=ZQnYEgWQMFmmsM8aQMF0nDDCy/AgCzkwk8CmMZYcMg0vSVlKDanekLtifDSeVGT4+5ZxXnJq199RVG2rR7N7Zw=="
        #expect(try mechanism.receive(challenge: Array(serverFinal.utf8)) == nil)
        #expect(mechanism.isComplete)
    }

    @Test func escapesEqualsAndCommaInTheUserName() throws {
        var mechanism = try SCRAMMechanism(
            algorithm: .sha256, username: "a=b,c", password: "pencil", clientNonce: Self.clientNonce)
        #expect(mechanism.start() == Array("n,,n=a=3Db=2Cc,r=rOprNGfwEbeRWgbNEkqO".utf8))
    }

    @Test func randomNoncesArePrintableAndFresh() throws {
        let first = SCRAMMechanism.randomNonce()
        let second = SCRAMMechanism.randomNonce()
        #expect(first.utf8.count == 32)
        #expect(first != second)
        #expect(first.utf8.allSatisfy { $0 >= 0x21 && $0 <= 0x7E && $0 != UInt8(ascii: ",") })
        var mechanism = try SCRAMMechanism(algorithm: .sha256, username: "user", password: "pencil")
        #expect(String(decoding: mechanism.start(), as: UTF8.self).hasPrefix("n,,n=user,r="))
    }

    // MARK: Server-first

    @Test func rejectsAServerNonceThatDoesNotExtendTheClientNonce() {
        let serverFirst = "r=someoneElsesNonce%hvYDpWUa2RaTCAfuxFIlj,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
        expectFailure(.authenticationFailed, containing: "nonce") {
            try exchange(serverFirst: serverFirst)
        }
    }

    @Test(arguments: ["0", "-1", "", "4096x", "2147483648"])
    func rejectsIterationCountsThatAreNotPositiveInts(count: String) {
        let serverFirst = "r=rOprNGfwEbeRWgbNEkqO%hvYDp,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=\(count)"
        expectFailure(.authenticationFailed) {
            try exchange(serverFirst: serverFirst)
        }
    }

    @Test(arguments: ["1", "4095"])
    func acceptsIterationCountsBelowTheRFCsMinimum(count: String) throws {
        let serverFirst = "r=rOprNGfwEbeRWgbNEkqO%hvYDp,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=\(count)"
        let mechanism = try exchange(serverFirst: serverFirst)
        #expect(!mechanism.isComplete)
    }

    @Test(arguments: [
        "r=rOprNGfwEbeRWgbNEkqO%hvYDp,i=4096",  // no salt
        "r=rOprNGfwEbeRWgbNEkqO%hvYDp,s=not base64!,i=4096",
        "r=rOprNGfwEbeRWgbNEkqO%hvYDp,s=W22ZaJ0SNY7soEsUEjb6gQ=,i=4096",  // bad padding
        "r=rOprNGfwEbeRWgbNEkqO%hvYDp,s=W22ZaJ0SNY7soEsUEjb6gQ==",  // no iteration count
        "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",  // no nonce
        "garbage",
        "",
    ])
    func rejectsMalformedServerFirstMessages(serverFirst: String) {
        expectFailure(.authenticationFailed) {
            try exchange(serverFirst: serverFirst)
        }
    }

    @Test func rejectsMandatoryExtensions() {
        let serverFirst = "m=mandatory,r=rOprNGfwEbeRWgbNEkqO%hvYDp,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
        expectFailure(.authenticationFailed, containing: "extension") {
            try exchange(serverFirst: serverFirst)
        }
    }

    @Test func rejectsInvalidUTF8() throws {
        var mechanism = try SCRAMMechanism(
            algorithm: .sha256, username: "user", password: "pencil", clientNonce: Self.clientNonce)
        _ = mechanism.start()
        expectFailure(.authenticationFailed, containing: "UTF-8") {
            try mechanism.receive(challenge: [0x72, 0x3D, 0xFF, 0xFE])
        }
    }

    // MARK: Server-final

    @Test func rejectsAWrongServerSignature() throws {
        var mechanism = try exchange()
        // The RFC's signature with its second half changed.
        let forged = "v=6rriTRBi23WpRR/wa4bsVB+n7ZBzE9+WmTw+zVdQXdU="
        expectFailure(.authenticationFailed, containing: "signature") {
            try mechanism.receive(challenge: Array(forged.utf8))
        }
        #expect(!mechanism.isComplete)
        // A failed exchange stays failed.
        expectFailure(.authenticationFailed) {
            try mechanism.receive(challenge: Array("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=".utf8))
        }
    }

    @Test func reportsTheServersError() throws {
        var mechanism = try exchange()
        expectFailure(.authenticationFailed, containing: "invalid-proof") {
            try mechanism.receive(challenge: Array("e=invalid-proof".utf8))
        }
        #expect(!mechanism.isComplete)
    }

    @Test(arguments: ["", "x=1", "v=", "v=@@@@"])
    func rejectsMalformedServerFinalMessages(serverFinal: String) throws {
        var mechanism = try exchange()
        expectFailure(.authenticationFailed) {
            try mechanism.receive(challenge: Array(serverFinal.utf8))
        }
    }

    // MARK: Order of events

    @Test func aChallengeBeforeStartIsAProtocolViolation() throws {
        var mechanism = try SCRAMMechanism(
            algorithm: .sha256, username: "user", password: "pencil", clientNonce: Self.clientNonce)
        expectFailure(.protocolViolation) {
            try mechanism.receive(challenge: Array(Self.serverFirst.utf8))
        }
    }

    @Test func aChallengeAfterCompletionIsAProtocolViolation() throws {
        var mechanism = try exchange()
        _ = try mechanism.receive(challenge: Array("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=".utf8))
        expectFailure(.protocolViolation) {
            try mechanism.receive(challenge: [])
        }
    }

    @Test(arguments: ["", "has,comma", "has space", "caf\u{E9}"])
    func rejectsNoncesOutsidePrintableASCII(nonce: String) {
        expectFailure(.invalidConfiguration) {
            try SCRAMMechanism(algorithm: .sha256, username: "user", password: "pencil", clientNonce: nonce)
        }
    }

    @Test func rejectsAnEmptyUserName() {
        expectFailure(.invalidConfiguration) {
            try SCRAMMechanism(algorithm: .sha256, username: "", password: "pencil")
        }
    }
}
