import KafkaClient
import Testing

@Suite struct SASLPlainMechanismTests {
    @Test func sendsUserAndPasswordAfterAnEmptyAuthorizationIdentity() throws {
        var mechanism = try SASLPlainMechanism(username: "user", password: "pencil")
        #expect(mechanism.name == "PLAIN")
        #expect(mechanism.start() == [0] + Array("user".utf8) + [0] + Array("pencil".utf8))
        #expect(!mechanism.isComplete)
        #expect(try mechanism.receive(challenge: []) == nil)
        #expect(mechanism.isComplete)
    }

    @Test func aChallengeAfterCompletionIsAProtocolViolation() throws {
        var mechanism = try SASLPlainMechanism(username: "user", password: "pencil")
        _ = mechanism.start()
        _ = try mechanism.receive(challenge: [])
        let error = #expect(throws: KafkaError.self) {
            try mechanism.receive(challenge: [])
        }
        #expect(error?.code == .protocolViolation)
    }

    @Test func aChallengeBeforeStartIsAProtocolViolation() throws {
        var mechanism = try SASLPlainMechanism(username: "user", password: "pencil")
        let error = #expect(throws: KafkaError.self) {
            try mechanism.receive(challenge: [])
        }
        #expect(error?.code == .protocolViolation)
    }

    @Test(arguments: [("us\0er", "pencil"), ("user", "pen\0cil"), ("", "pencil")])
    func rejectsCredentialsTheMessageCannotCarry(username: String, password: String) {
        let error = #expect(throws: KafkaError.self) {
            try SASLPlainMechanism(username: username, password: password)
        }
        #expect(error?.code == .invalidConfiguration)
    }
}
