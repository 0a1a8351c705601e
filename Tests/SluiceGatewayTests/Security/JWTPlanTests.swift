import Foundation
import SluiceCore
import Testing

import class GatewayTestSupport.TestWebSocket

/// JWT plans end to end, with tokens minted by PyJWT (never by Sluice): given keys of every algorithm family,
/// the attacks a gateway must refuse, JWK sets served over HTTP with key rotation, on every entrypoint.
@Suite(
    "jwt plans (PyJWT tokens)",
    .enabled(if: BearerOracles.shouldRun, "\(BearerOracles.problem ?? "")"))
struct JWTPlanTests {
    static let secret = "a-shared-secret-that-is-not-base64!"
    static let client = "shop-frontend"

    static func value(_ any: Any?) -> JSONValue {
        switch any {
        case let text as String: .string(text)
        case let flag as Bool: .bool(flag)
        case let number as Int: .number(Double(number))
        case let number as Double: .number(number)
        case let items as [Any]: .array(items.map(value))
        case let map as [String: Any]:
            .object(JSONObject(map.sorted { $0.key < $1.key }.map { ($0.key, value($0.value)) }))
        case let json as JSONValue: json
        default: .null
        }
    }

    static var now: Int { Int(Date().timeIntervalSince1970) }

    static func request(
        _ alg: String, _ key: JSONValue, _ claims: [String: Any], headers: [String: Any] = [:]
    ) -> JSONValue {
        value(["alg": alg, "key": key, "claims": claims, "headers": headers])
    }

    /// An in-memory API guarded by one jwt plan `<id>-jwt` with `configuration` (JSON text).
    static func api(_ id: String, configuration: String, extraPlans: String = "") -> String {
        Definitions.inMemory(id: id, path: "/\(id)").replacingOccurrences(
            of: #""plans": []"#,
            with:
                #""plans": [{ "id": "\#(id)-jwt", "name": "jwt", "security": { "type": "jwt", "configuration": \#(configuration) }, "mode": "STANDARD", "status": "PUBLISHED" }\#(extraPlans)]"#
        )
    }

    /// Application `shop` (client id `shop-frontend`) subscribed to each plan; `paused` (client id
    /// `paused-client`) with a paused subscription to the first.
    static func access(_ plans: [(api: String, plan: String)]) -> String {
        let subscriptions = plans.enumerated().map { index, entry in
            #"{ "id": "sub-\#(index)", "application": "shop", "api": "\#(entry.api)", "plan": "\#(entry.plan)", "status": "ACCEPTED" }"#
        }
        let paused =
            #"{ "id": "sub-paused", "application": "paused", "api": "\#(plans[0].api)", "plan": "\#(plans[0].plan)", "status": "PAUSED" }"#
        return """
            { "applications": [{ "id": "shop", "name": "Shop", "clientId": "\(client)" },
                               { "id": "paused", "name": "Paused", "clientId": "paused-client" }],
              "subscriptions": [\((subscriptions + [paused]).joined(separator: ","))] }
            """
    }

    static func post(_ gateway: TestGateway, _ path: String, token: String?) async throws -> CollectedResponse {
        try await httpCall(
            .POST, "\(gateway.baseURL)\(path)", headers: token.map { [("Authorization", "Bearer \($0)")] } ?? [],
            body: "hello")
    }

    static func expectRefused(
        _ response: CollectedResponse, _ key: String, status: Int = 401, _ comment: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(response.status == status, "\(comment): \(response.body)", sourceLocation: sourceLocation)
        #expect(
            response.json?["key"]?.stringValue == key, "\(comment): \(response.body)", sourceLocation: sourceLocation)
    }

    static func pem(_ keys: JSONObject, _ name: String, _ part: String) -> String {
        keys[name]?[part]?.stringValue ?? ""
    }

    static func jsonString(_ text: String) -> String { JSONValue.string(text).jsonText() }

    @Test("given keys (HS256, RS256, ES256, EdDSA): valid tokens pass; every attack and error is refused")
    func givenKeys() async throws {
        let keys = try BearerOracles.keys()
        let rsaPublic = Self.pem(keys, "rsa", "public")
        let definitions = [
            "hs.json": Self.api(
                "hs",
                configuration:
                    #"{ "signature": "HMAC_HS256", "publicKeyResolver": "GIVEN_KEY", "resolverParameter": "\#(Self.secret)", "extractClaims": true, "propagateAuthHeader": false }"#
            ),
            "rs.json": Self.api(
                "rs",
                configuration:
                    #"{ "signature": "RSA_RS256", "resolverParameter": \#(Self.jsonString(rsaPublic)), "issuer": "https://issuer.test", "audience": ["orders-api"], "clientIdClaim": "client_id" }"#
            ),
            "es.json": Self.api(
                "es",
                configuration:
                    #"{ "signature": "ES256", "resolverParameter": \#(Self.jsonString(Self.pem(keys, "ec256", "public"))) }"#
            ),
            "ed.json": Self.api(
                "ed",
                configuration:
                    #"{ "signature": "EdDSA", "resolverParameter": \#(Self.jsonString(Self.pem(keys, "ed25519", "public"))) }"#
            ),
            "shop.access.json": Self.access([
                ("hs", "hs-jwt"), ("rs", "rs-jwt"), ("es", "es-jwt"), ("ed", "ed-jwt"),
            ]),
        ]
        let now = Self.now
        let secret = JSONValue.string(Self.secret)
        let rsaPrivate = JSONValue.string(Self.pem(keys, "rsa", "private"))
        let good: [String: Any] = ["sub": "alice", "azp": Self.client, "exp": now + 3600, "iat": now]
        let rsClaims: [String: Any] = [
            "sub": "alice", "client_id": Self.client, "iss": "https://issuer.test", "aud": ["orders-api", "other"],
            "exp": now + 3600,
        ]
        var requests: [(String, JSONValue)] = [
            ("hs", Self.request("HS256", secret, good)),
            ("hs none", Self.value(["alg": "none", "key": nil, "claims": good])),
            ("hs expired", Self.request("HS256", secret, good.merging(["exp": now - 3600]) { $1 })),
            ("hs not yet valid", Self.request("HS256", secret, good.merging(["nbf": now + 3600]) { $1 })),
            ("hs issued in the future", Self.request("HS256", secret, good.merging(["iat": now + 3600]) { $1 })),
            ("hs wrong secret", Self.request("HS256", .string("another-secret-entirely!"), good)),
            ("hs HS512", Self.request("HS512", secret, good)),
            (
                "hs oversized",
                Self.request("HS256", secret, good.merging(["pad": String(repeating: "x", count: 9000)]) { $1 })
            ),
            ("hs unknown client", Self.request("HS256", secret, good.merging(["azp": "nobody"]) { $1 })),
            ("hs no client", Self.request("HS256", secret, ["sub": "alice", "exp": now + 3600])),
            ("hs paused client", Self.request("HS256", secret, good.merging(["azp": "paused-client"]) { $1 })),
            ("hs client from aud", Self.request("HS256", secret, ["aud": [Self.client, "x"], "exp": now + 3600])),
            ("rs", Self.request("RS256", rsaPrivate, rsClaims, headers: ["kid": "anything"])),
            ("rs wrong audience", Self.request("RS256", rsaPrivate, rsClaims.merging(["aud": "elsewhere"]) { $1 })),
            (
                "rs wrong issuer",
                Self.request("RS256", rsaPrivate, rsClaims.merging(["iss": "https://evil.test"]) { $1 })
            ),
            ("rs no issuer", Self.request("RS256", rsaPrivate, rsClaims.filter { $0.key != "iss" })),
            ("rs other key", Self.request("RS256", .string(Self.pem(keys, "rsa2", "private")), rsClaims)),
            ("rs confusion", Self.value(["forge_hmac_key": rsaPublic, "claims": rsClaims])),
            ("rs PS256", Self.request("PS256", rsaPrivate, rsClaims)),
            ("es", Self.request("ES256", .string(Self.pem(keys, "ec256", "private")), good)),
            ("es with P-384", Self.request("ES384", .string(Self.pem(keys, "ec384", "private")), good)),
            ("ed", Self.request("EdDSA", .string(Self.pem(keys, "ed25519", "private")), good)),
        ]
        let minted = try BearerOracles.mint(requests.map(\.1))
        try #require(minted.count == requests.count)
        var named: [String: String] = [:]
        for (index, request) in requests.enumerated() { named[request.0] = minted[index] }
        requests.removeAll()
        let tokens = named
        // A payload changed after signing: the signature no longer matches.
        let parts = tokens["hs"]!.split(separator: ".").map(String.init)
        let forgedClaims = Data(#"{"sub":"mallory","azp":"shop-frontend","exp":\#(now + 3600)}"#.utf8)
            .base64EncodedString().replacingOccurrences(of: "=", with: "").replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
        let tampered = [parts[0], forgedClaims, parts[2]].joined(separator: ".")

        try await withGateway(definitions) { (gateway: TestGateway) async throws in
            // Valid tokens, through the header and the query, on every family of keys.
            #expect(try await Self.post(gateway, "/hs", token: tokens["hs"]).status == 202)
            let byQuery = try await httpCall(
                .POST, "\(gateway.baseURL)/hs?access_token=\(tokens["hs"]!)", body: "by query")
            #expect(byQuery.status == 202, "\(byQuery.body)")
            #expect(try await Self.post(gateway, "/hs", token: tokens["hs client from aud"]).status == 202)
            for name in ["rs", "es", "ed"] {
                let response = try await Self.post(gateway, "/\(name)", token: tokens[name])
                #expect(response.status == 202, "\(name): \(response.body)")
            }
            // The same token again (the cache answers): still accepted.
            for _ in 0..<5 { #expect(try await Self.post(gateway, "/hs", token: tokens["hs"]).status == 202) }

            // propagateAuthHeader false: the endpoint never sees the token.
            let read = try await httpCall(
                .GET, "\(gateway.baseURL)/hs",
                headers: [("Accept", "application/json"), ("Authorization", "Bearer \(tokens["hs"]!)")])
            #expect(read.status == 200, "\(read.body)")
            #expect(!read.body.contains(tokens["hs"]!), "\(read.body)")
            #expect(!read.body.lowercased().contains("authorization"), "\(read.body)")

            // Refusals, each with its key.
            for name in [
                "hs none", "hs expired", "hs not yet valid", "hs issued in the future", "hs wrong secret", "hs HS512",
                "hs oversized",
            ] {
                Self.expectRefused(try await Self.post(gateway, "/hs", token: tokens[name]), "JWT_INVALID_TOKEN", name)
            }
            Self.expectRefused(try await Self.post(gateway, "/hs", token: tampered), "JWT_INVALID_TOKEN", "tampered")
            for name in [
                "rs wrong audience", "rs wrong issuer", "rs no issuer", "rs other key", "rs confusion", "rs PS256",
            ] {
                Self.expectRefused(try await Self.post(gateway, "/rs", token: tokens[name]), "JWT_INVALID_TOKEN", name)
            }
            Self.expectRefused(
                try await Self.post(gateway, "/es", token: tokens["es with P-384"]), "JWT_INVALID_TOKEN",
                "ES384 on ES256")
            // A token for one API's key is worth nothing on another's.
            Self.expectRefused(
                try await Self.post(gateway, "/rs", token: tokens["es"]), "JWT_INVALID_TOKEN", "es on rs")
            Self.expectRefused(
                try await Self.post(gateway, "/hs", token: tokens["hs unknown client"]), "GATEWAY_OAUTH2_ACCESS_DENIED",
                "no application")
            Self.expectRefused(
                try await Self.post(gateway, "/hs", token: tokens["hs paused client"]), "GATEWAY_OAUTH2_ACCESS_DENIED",
                "paused subscription")
            Self.expectRefused(
                try await Self.post(gateway, "/hs", token: tokens["hs no client"]), "GATEWAY_OAUTH2_INVALID_CLIENT",
                "no client id")
            // Missing, empty, malformed tokens, and injection attempts.
            Self.expectRefused(try await Self.post(gateway, "/hs", token: nil), "GATEWAY_PLAN_UNRESOLVABLE", "none")
            Self.expectRefused(
                try await httpCall(.POST, "\(gateway.baseURL)/hs", headers: [("Authorization", "Bearer")], body: "x"),
                "JWT_MISSING_TOKEN", "empty header")
            Self.expectRefused(
                try await httpCall(.POST, "\(gateway.baseURL)/hs?access_token=", body: "x"), "JWT_MISSING_TOKEN",
                "empty query")
            for (label, header) in [
                ("garbage", "Bearer abc"), ("two words", "Bearer \(tokens["hs"]!) extra"),
                ("quoted", "Bearer \"\(tokens["hs"]!)\""), ("four parts", "Bearer \(tokens["hs"]!).xyz"),
            ] {
                Self.expectRefused(
                    try await httpCall(.POST, "\(gateway.baseURL)/hs", headers: [("Authorization", header)], body: "x"),
                    "JWT_INVALID_TOKEN", label)
            }
            Self.expectRefused(
                try await httpCall(.POST, "\(gateway.baseURL)/hs?access_token=a%0D%0AX-Injected:%201", body: "x"),
                "JWT_INVALID_TOKEN", "CRLF in the query")

            // SSE and http-get with a token, and refused without a valid one.
            let stream = try await SSEReader.open(
                "\(gateway.baseURL)/hs", headers: [("Authorization", "Bearer \(tokens["hs"]!)")])
            #expect(stream.status == 200)
            let refusedStream = try await SSEReader.open(
                "\(gateway.baseURL)/hs", headers: [("Authorization", "Bearer \(tokens["hs expired"]!)")])
            #expect(refusedStream.status == 401)
            let get = try await httpCall(
                .GET, "\(gateway.baseURL)/rs?access_token=\(tokens["rs wrong issuer"]!)",
                headers: [("Accept", "application/json")])
            Self.expectRefused(get, "JWT_INVALID_TOKEN", "http-get")

            // The WebSocket upgrade goes through the same chain.
            let expiredPath = "/hs?access_token=\(tokens["hs expired"]!)"
            let refused = try await within(.seconds(20)) {
                try await TestWebSocket.session(port: gateway.port, path: expiredPath) {
                    socket in try await socket.readUntilClose().close
                }
            }
            #expect(refused?.code == 1008)
            #expect(refused?.reason.hasPrefix("JWT_INVALID_TOKEN") == true, "\(String(describing: refused))")
            let token = tokens["hs"]!
            let accepted = try await within(.seconds(20)) {
                try await TestWebSocket.session(
                    port: gateway.port, path: "/hs", headers: [("Authorization", "Bearer \(token)")]
                ) { socket in
                    _ = try await Self.post(gateway, "/hs", token: token)
                    return try await socket.next()
                }
            }
            if case .message = accepted {
            } else {
                Issue.record("expected a message, got \(String(describing: accepted))")
            }
        }
    }

    @Test(
        "selection rules on JWT plans see the token's claims: each issuer reaches its own plan; a token no rule selects falls to the key-less plan's rule"
    )
    func selectionRules() async throws {
        let secretB = "the-second-issuer-signs-with-this!"
        let plans = #"""
            "plans": [
              { "id": "issuer-a", "name": "a", "security": { "type": "jwt", "configuration": { "signature": "HMAC_HS256", "resolverParameter": "\#(Self.secret)" } }, "status": "PUBLISHED",
                "selectionRule": "{#context.attributes['jwt'].claims['iss'] == 'https://a.test'}" },
              { "id": "issuer-b", "name": "b", "security": { "type": "jwt", "configuration": { "signature": "HMAC_HS256", "resolverParameter": "\#(secretB)" } }, "status": "PUBLISHED",
                "selectionRule": "#context.attributes['jwt'].claims['iss'] == 'https://b.test'" },
              { "id": "public", "name": "public", "security": { "type": "key-less" }, "status": "PUBLISHED",
                "selectionRule": "{#request.headers['X-Public'] != null}" }]
            """#
        let definitions = [
            "issuers.json": Definitions.inMemory(id: "issuers", path: "/issuers").replacingOccurrences(
                of: #""plans": []"#, with: plans),
            "shop.access.json": Self.access([("issuers", "issuer-a"), ("issuers", "issuer-b")]),
        ]
        let exp = Self.now + 3600
        let names = ["a", "b", "b signed by a", "c"]
        let minted = try BearerOracles.mint([
            Self.request("HS256", .string(Self.secret), ["iss": "https://a.test", "azp": Self.client, "exp": exp]),
            Self.request("HS256", .string(secretB), ["iss": "https://b.test", "azp": Self.client, "exp": exp]),
            Self.request("HS256", .string(Self.secret), ["iss": "https://b.test", "azp": Self.client, "exp": exp]),
            Self.request("HS256", .string(Self.secret), ["iss": "https://c.test", "azp": Self.client, "exp": exp]),
        ])
        try #require(minted.count == names.count)
        let tokens = Dictionary(uniqueKeysWithValues: zip(names, minted))
        try await withGateway(definitions) { (gateway: TestGateway) async throws in
            // Each issuer's token is verified by its own plan's key, on both request paths, twice (the second
            // time from the cache of verified tokens).
            for _ in 0..<2 {
                for name in ["a", "b"] {
                    let posted = try await Self.post(gateway, "/issuers", token: tokens[name])
                    #expect(posted.status == 202, "\(name): \(posted.body)")
                    let read = try await httpCall(
                        .GET, "\(gateway.baseURL)/issuers",
                        headers: [("Accept", "application/json"), ("Authorization", "Bearer \(tokens[name]!)")])
                    #expect(read.status == 200, "\(name): \(read.body)")
                }
            }
            // Issuer b's plan took the token, and its key does not verify it.
            Self.expectRefused(
                try await Self.post(gateway, "/issuers", token: tokens["b signed by a"]), "JWT_INVALID_TOKEN",
                "b's issuer signed with a's secret")
            // No JWT plan selects issuer c: the key-less plan may take the request, when its own rule selects it.
            Self.expectRefused(
                try await Self.post(gateway, "/issuers", token: tokens["c"]), "GATEWAY_PLAN_UNRESOLVABLE",
                "issuer c, not public")
            let publicRequest = try await httpCall(
                .POST, "\(gateway.baseURL)/issuers",
                headers: [("Authorization", "Bearer \(tokens["c"]!)"), ("X-Public", "yes")], body: "public")
            #expect(publicRequest.status == 202, "\(publicRequest.body)")
            // Something that is not a JWT has no claims: no JWT plan's rule selects it either. No plan took the
            // request, on an API with JWT plans: the answer challenges for a bearer token.
            let opaque = try await Self.post(gateway, "/issuers", token: "not-a-jwt")
            Self.expectRefused(opaque, "GATEWAY_PLAN_UNRESOLVABLE", "opaque")
            #expect(opaque.headers.contains { $0.0.lowercased() == "www-authenticate" && $0.1 == "Bearer" })
            let invalid = try await Self.post(gateway, "/issuers", token: tokens["b signed by a"])
            #expect(!invalid.headers.contains { $0.0.lowercased() == "www-authenticate" }, "\(invalid.headers)")
        }
    }

    @Test("an SSE stream opened with a JWT ends with JWT_INVALID_TOKEN once the token's exp has passed")
    func streamEndsAtExpiry() async throws {
        let definitions = [
            "hs.json": Self.api(
                "hs",
                configuration:
                    #"{ "signature": "HMAC_HS256", "publicKeyResolver": "GIVEN_KEY", "resolverParameter": "\#(Self.secret)" }"#
            ),
            "shop.access.json": Self.access([("hs", "hs-jwt")]),
        ]
        // No clock skew, so the expiry is the token's own. The token is minted once the gateway runs, with a few
        // seconds to live: enough to open the stream on a loaded machine, and the test waits for the rest.
        let gateway = try await TestGateway.start(definitions: definitions) { $0.security.jwtClockSkewSeconds = 0 }
        do {
            let claims: [String: Any] = ["sub": "alice", "azp": Self.client, "exp": Self.now + 8, "iat": Self.now]
            let token = try BearerOracles.mint([Self.request("HS256", .string(Self.secret), claims)])[0]
            let posted = try await Self.post(gateway, "/hs", token: token)
            #expect(posted.status == 202, "\(posted.body)")
            let stream = try await SSEReader.open(
                "\(gateway.baseURL)/hs", headers: [("Authorization", "Bearer \(token)")])
            #expect(stream.status == 200)
            var error: String?
            let ended = try await within(.seconds(30)) { () async throws -> String? in
                var seen: [String] = []
                do {
                    while let event = try await stream.next() {
                        if event.event == "error" { return event.data }
                        seen.append("\(event)")
                    }
                } catch {
                    Issue.record("reading the stream after \(seen): \(error)")
                }
                return nil
            }
            error = ended
            #expect(error?.hasPrefix("JWT_INVALID_TOKEN") == true, "\(String(describing: error))")
        } catch {
            try await gateway.stop()
            throw error
        }
        try await gateway.stop()
    }

    @Test("a JWK set over HTTP: keys by kid, rotation picked up, refreshes rate-limited, a dead server refused")
    func jwksURL() async throws {
        let keys = try BearerOracles.keys()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-jwks-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("jwks.json")
        func jwk(_ name: String, kid: String) -> JSONValue {
            var object = keys[name]?["jwk"]?.objectValue ?? JSONObject()
            object["kid"] = .string(kid)
            object["alg"] = .string("RS256")
            return .object(object)
        }
        func publish(_ entries: [JSONValue]) throws {
            try JSONValue.object(JSONObject([("keys", .array(entries))])).jsonText()
                .write(to: file, atomically: true, encoding: .utf8)
        }
        // An EC key and a symmetric key in the set too: left out, never used.
        let ecKey = keys["ec256"]?["jwk"] ?? .null
        try publish([jwk("rsa", kid: "k1"), ecKey])
        let server = try OracleServer([BearerOracles.jwtOracle, "jwks-server", file.path])
        defer { server.stop() }
        let port = server.firstLine
        func fetches() async throws -> Int {
            let response = try await httpCall(.GET, "http://127.0.0.1:\(port)/count")
            if case .number(let count)? = response.json?["count"] { return Int(count) }
            return -1
        }
        let now = Self.now
        let claims: [String: Any] = ["sub": "alice", "azp": Self.client, "exp": now + 3600]
        let rsa = JSONValue.string(Self.pem(keys, "rsa", "private"))
        let rsa2 = JSONValue.string(Self.pem(keys, "rsa2", "private"))
        var requests = [
            Self.request("RS256", rsa, claims, headers: ["kid": "k1"]),
            Self.request("RS256", rsa2, claims, headers: ["kid": "k2"]),
            Self.request("RS256", rsa2, claims, headers: ["kid": "k1"]),
            Self.request("RS256", rsa, claims),
        ]
        for index in 0..<20 { requests.append(Self.request("RS256", rsa2, claims, headers: ["kid": "bogus-\(index)"])) }
        let tokens = try BearerOracles.mint(requests)
        let definitions = [
            "jwks.json": Self.api(
                "jwks",
                configuration:
                    #"{ "signature": "RSA_RS256", "publicKeyResolver": "JWKS_URL", "resolverParameter": "http://127.0.0.1:\#(port)/jwks", "connectTimeout": 500, "requestTimeout": 1000 }"#
            ),
            "dead.json": Self.api(
                "dead",
                configuration:
                    #"{ "signature": "RSA_RS256", "publicKeyResolver": "JWKS_URL", "resolverParameter": "http://127.0.0.1:1/jwks", "connectTimeout": 500, "requestTimeout": 500 }"#
            ),
            "shop.access.json": Self.access([("jwks", "jwks-jwt"), ("dead", "dead-jwt")]),
        ]
        try await withGateway(definitions, configure: { $0.security.jwksMinimumRefreshSeconds = 2 }) {
            (gateway: TestGateway) async throws in
            // The set is fetched at deploy; on a loaded machine that first fetch may time out, and the set is then
            // fetched again for a token once the minimum interval has passed: the first token passes either way.
            #expect(
                try await gateway.eventually(timeout: .seconds(20)) {
                    try await Self.post(gateway, "/jwks", token: tokens[0]).status == 202
                })
            let loaded = try await fetches()
            #expect(loaded >= 1)
            // A token without kid is checked against every key of the set, without fetching it again.
            let withoutKID = try await Self.post(gateway, "/jwks", token: tokens[3])
            #expect(withoutKID.status == 202, "\(withoutKID.body)")
            #expect(try await fetches() == loaded)
            // k2 is not published yet: refused.
            Self.expectRefused(try await Self.post(gateway, "/jwks", token: tokens[1]), "JWT_INVALID_TOKEN", "k2 early")
            // Rotation: k2 appears; once the minimum interval has passed, its first token fetches the set again.
            try publish([jwk("rsa", kid: "k1"), jwk("rsa2", kid: "k2")])
            try await Task.sleep(for: .milliseconds(2200))
            let rotated = try await Self.post(gateway, "/jwks", token: tokens[1])
            #expect(rotated.status == 202, "\(rotated.body)")
            let afterRotation = try await fetches()
            #expect(afterRotation >= 2)
            // A flood of made-up key ids: all refused, and at most one more fetch.
            for token in tokens[4...] {
                Self.expectRefused(
                    try await Self.post(gateway, "/jwks", token: token), "JWT_INVALID_TOKEN", "bogus kid")
            }
            #expect(try await fetches() <= afterRotation + 1)
            // The right kid with the wrong key.
            Self.expectRefused(
                try await Self.post(gateway, "/jwks", token: tokens[2]), "JWT_INVALID_TOKEN", "k1 by rsa2")
            // A JWK set that cannot be fetched: Gravitee's 500.
            Self.expectRefused(
                try await Self.post(gateway, "/dead", token: tokens[0]), "JWT_JWKS_RESOLUTION_ERROR", status: 500,
                "dead JWKS")
        }
    }
}
