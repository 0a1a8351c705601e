import Foundation
import SluiceCore
import Testing

@testable import SluiceEntrypoints

/// The lifetime of a webhook's OAuth2 token, read from what the token endpoint answers: any number it sends.
@Suite("webhook OAuth2: the token's lifetime")
struct WebhookTokenLifetimeTests {
    @Test("expires_in as sent; missing, not a number, below a second or NaN: 300 s; past a year or infinite: a year")
    func lifetime() throws {
        func lifetime(_ json: String) throws -> Int64 {
            WebhookCallbackClient.tokenLifetime(try JSONValue.parse(json: Data(json.utf8)))
        }
        #expect(try lifetime(#"{"access_token":"t","expires_in":3600}"#) == 3600)
        #expect(try lifetime(#"{"access_token":"t"}"#) == 300)
        #expect(try lifetime(#"{"access_token":"t","expires_in":"3600"}"#) == 300)
        #expect(try lifetime(#"{"access_token":"t","expires_in":0.5}"#) == 300)
        #expect(try lifetime(#"{"access_token":"t","expires_in":-5}"#) == 300)
        // Numbers no Int64 holds (a token endpoint's bug or a hostile one) are a year, never a trap.
        #expect(try lifetime(#"{"access_token":"t","expires_in":1e300}"#) == 365 * 86_400)
        #expect(try lifetime(#"{"access_token":"t","expires_in":9.3e18}"#) == 365 * 86_400)
        #expect(
            WebhookCallbackClient.tokenLifetime(.object(JSONObject([("expires_in", .number(.infinity))]))) == 365
                * 86_400)
        #expect(WebhookCallbackClient.tokenLifetime(.object(JSONObject([("expires_in", .number(.nan))]))) == 300)
    }
}
