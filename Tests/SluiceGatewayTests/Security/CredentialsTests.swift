import Foundation
import NIOHTTP1
import SluiceCore
import Testing

@testable import SluiceGateway

/// How the event loop reads a request's credentials, and the cache of verified tokens.
@Suite("request credentials")
struct CredentialsTests {
    static func credentials(_ headers: [(String, String)], uri: String = "/orders") -> SecurityChain.Credentials {
        let head = HTTPRequestHead(version: .http1_1, method: .POST, uri: uri, headers: HTTPHeaders(headers))
        return SecurityChain.Credentials(head: head, names: .gravitee)
    }

    @Test("a bearer token: the scheme in any case, blanks after it, the first Authorization header that is Bearer")
    func bearer() {
        #expect(Self.credentials([("Authorization", "Bearer abc")]).bearerToken == "abc")
        #expect(Self.credentials([("authorization", "bEaReR \t abc")]).bearerToken == "abc")
        #expect(Self.credentials([("AUTHORIZATION", "Bearer")]).bearerToken == "")
        #expect(Self.credentials([("Authorization", "Bearerabc")]).bearerToken == nil)
        #expect(Self.credentials([("Authorization", "Basic YTpi")]).bearerToken == nil)
        #expect(Self.credentials([("Authorization", "Beare")]).bearerToken == nil)
        #expect(Self.credentials([("Authorization", "Bärer abc")]).bearerToken == nil)
        #expect(
            Self.credentials([("Authorization", "Basic YTpi"), ("Authorization", "Bearer second")]).bearerToken
                == "second")
        #expect(Self.credentials([("X-Authorization", "Bearer abc")]).bearerToken == nil)
        #expect(Self.credentials([], uri: "/orders?access_token=q").bearerToken == "q")
        #expect(Self.credentials([("Authorization", "Bearer h")], uri: "/orders?access_token=q").bearerToken == "h")
    }

    @Test("an API key from the header, else the query parameter; the header wins")
    func apiKey() {
        #expect(Self.credentials([("x-gravitee-api-key", "k")]).apiKey == "k")
        #expect(Self.credentials([], uri: "/o?api-key=q").apiKey == "q")
        #expect(Self.credentials([("X-Gravitee-Api-Key", "h")], uri: "/o?api-key=q").apiKey == "h")
        #expect(Self.credentials([]).apiKey == nil)
    }

    @Test("the token cache: the very same token hits, another does not, an entry goes at its expiry, size bounded")
    func tokenCache() {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let cache = TokenCache<Int>(capacity: 10)
        let token = "header.claims.signature"
        cache.store(1, for: token[...], until: now.addingTimeInterval(60), now: now)
        #expect(cache.value(for: "header.claims.signature", now: now) == 1)
        #expect(cache.value(for: "header.claims.signaturf", now: now) == nil)
        #expect(cache.value(for: "header.claims.signature", now: now.addingTimeInterval(60)) == nil)
        #expect(cache.count == 0)
        // Already expired: not kept.
        cache.store(2, for: token, until: now, now: now)
        #expect(cache.count == 0)
        for index in 0..<50 { cache.store(index, for: "t\(index)", until: now.addingTimeInterval(60), now: now) }
        #expect(cache.count <= 10)
        #expect(cache.value(for: "t49", now: now) == 49)
    }
}
