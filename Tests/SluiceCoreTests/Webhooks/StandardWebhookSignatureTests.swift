import Foundation
import Testing

@testable import SluiceCore

/// The Standard Webhooks specification's own example (standard-webhooks/spec, "Signature scheme"): the same secret,
/// id, timestamp and payload must give the same signature byte for byte.
@Suite("Standard Webhooks signatures")
struct StandardWebhookSignatureTests {
    let secret = WebhookSigningSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")!
    let id = "msg_p5jXN8AQM9LWM0D4loKWxJek"
    let timestamp: Int64 = 1_614_265_330
    let payload = Data(#"{"test": 2432232314}"#.utf8)

    @Test("the specification's test vector")
    func specificationVector() {
        #expect(
            secret.signature(id: id, timestamp: timestamp, body: payload)
                == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
    }

    @Test("verification: any of several signatures, none for another id, timestamp or body")
    func verification() {
        let good = secret.signature(id: id, timestamp: timestamp, body: payload)
        #expect(secret.verify(header: good, id: id, timestamp: timestamp, body: payload))
        #expect(secret.verify(header: "v1,AAAA \(good)", id: id, timestamp: timestamp, body: payload))
        #expect(!secret.verify(header: good, id: id + "x", timestamp: timestamp, body: payload))
        #expect(!secret.verify(header: good, id: id, timestamp: timestamp + 1, body: payload))
        #expect(!secret.verify(header: good, id: id, timestamp: timestamp, body: Data("{}".utf8)))
    }

    @Test("secrets: whsec_ prefix, valid base64, 24 to 64 bytes")
    func secrets() {
        #expect(WebhookSigningSecret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw") == nil)
        #expect(WebhookSigningSecret("whsec_not base64!") == nil)
        #expect(WebhookSigningSecret("whsec_" + Data(count: 16).base64EncodedString()) == nil)
        #expect(WebhookSigningSecret("whsec_" + Data(count: 65).base64EncodedString()) == nil)
        #expect(WebhookSigningSecret("whsec_" + Data(count: 32).base64EncodedString())?.key.count == 32)
    }
}
