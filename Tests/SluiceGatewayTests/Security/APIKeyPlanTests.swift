import Foundation
import SluiceCore
import Testing

import class GatewayTestSupport.TestWebSocket

/// API-key plans end to end: access files next to the definitions, keys through the header and the query, on
/// every entrypoint, through real sockets.
@Suite("api-key plans")
struct APIKeyPlanTests {
    static let validKey = "valid-key-0123456789"

    static func plans(_ entries: [(id: String, type: String, status: String)]) -> String {
        "["
            + entries.map {
                #"{ "id": "\#($0.id)", "name": "\#($0.id)", "security": { "type": "\#($0.type)" }, "mode": "STANDARD", "status": "\#($0.status)" }"#
            }.joined(separator: ",") + "]"
    }

    /// An in-memory API guarded by one api-key plan (`<id>-key` unless named).
    static func keyed(
        _ id: String, planID: String? = nil, extraPlans: [(id: String, type: String, status: String)] = []
    ) -> String {
        var definition = Definitions.inMemory(id: id, path: "/\(id)")
        definition = definition.replacingOccurrences(
            of: #""plans": []"#,
            with: #""plans": "# + plans([(planID ?? "\(id)-key", "api-key", "PUBLISHED")] + extraPlans))
        return definition
    }

    /// An access file: application `app`, one subscription `sub` to `api`/`plan`, and the keys given.
    static func access(
        api: String = "orders", plan: String = "orders-key", status: String = "ACCEPTED", window: String = "",
        keys: String = #"[{ "key": "\#(validKey)", "subscriptions": ["sub"] }]"#
    ) -> String {
        """
        { "applications": [{ "id": "app", "name": "Shop", "clientId": "shop" }],
          "subscriptions": [{ "id": "sub", "application": "app", "api": "\(api)", "plan": "\(plan)", "status": "\(status)"\(window) }],
          "apiKeys": \(keys) }
        """
    }

    static func post(
        _ gateway: TestGateway, _ path: String, headers: [(String, String)] = []
    ) async throws
        -> CollectedResponse
    {
        try await httpCall(.POST, "\(gateway.baseURL)\(path)", headers: headers, body: "hello")
    }

    @Test("a valid key via the header or the query is served, and the endpoint never sees the key")
    func validKey() async throws {
        try await withGateway(["orders.json": Self.keyed("orders"), "shop.access.json": Self.access()]) {
            (gateway: TestGateway) async throws in
            let viaHeader = try await Self.post(gateway, "/orders", headers: [("X-Gravitee-Api-Key", Self.validKey)])
            #expect(viaHeader.status == 202, "\(viaHeader.body)")
            let viaQuery = try await Self.post(gateway, "/orders?api-key=\(Self.validKey)")
            #expect(viaQuery.status == 202, "\(viaQuery.body)")
            let read = try await httpCall(
                .GET, "\(gateway.baseURL)/orders",
                headers: [("Accept", "application/json"), ("X-Gravitee-Api-Key", Self.validKey)])
            #expect(read.status == 200, "\(read.body)")
            let items = read.json?["items"]?.arrayValue ?? []
            #expect(items.count == 2)
            #expect(!read.body.lowercased().contains("x-gravitee-api-key"), "\(read.body)")
            #expect(!read.body.contains(Self.validKey), "\(read.body)")
            let getByQuery = try await httpCall(
                .GET, "\(gateway.baseURL)/orders?api-key=\(Self.validKey)", headers: [("Accept", "application/json")])
            #expect(getByQuery.status == 200)
            // SSE (served on the event loop for the embedded log) with the key, and refused without it.
            let stream = try await SSEReader.open(
                "\(gateway.baseURL)/orders", headers: [("X-Gravitee-Api-Key", Self.validKey)])
            #expect(stream.status == 200)
            let refused = try await SSEReader.open("\(gateway.baseURL)/orders")
            #expect(refused.status == 401)
        }
    }

    @Test(
        "the key's header and query parameter are gateway settings; the key is kept from the endpoint on both request paths unless the plan sets propagateApiKey"
    )
    func namesAndPropagation() async throws {
        func api(_ id: String, propagate: Bool = false, flows: String = "[]") -> String {
            Definitions.inMemory(id: id, path: "/\(id)")
                .replacingOccurrences(
                    of: #""plans": []"#,
                    with:
                        #""plans": [{ "id": "\#(id)-key", "name": "key", "security": { "type": "api-key", "configuration": { "propagateApiKey": \#(propagate) } }, "status": "PUBLISHED" }]"#
                )
                .replacingOccurrences(of: #""flows": []"#, with: #""flows": \#(flows)"#)
        }
        // A request flow sends POSTs to the async path; without one the event loop serves them.
        let flow = #"""
            [{ "name": "tag", "enabled": true, "selectors": [{ "type": "http", "path": "/", "pathOperator": "STARTS_WITH" }],
               "request": [{ "name": "tag", "enabled": true, "policy": "assign-attributes",
                             "configuration": { "scope": "REQUEST", "attributes": [{ "name": "tagged", "value": "yes" }] } }],
               "response": [], "subscribe": [], "publish": [] }]
            """#
        let ids = ["plain", "flowed", "relay"]
        let subscriptions = ids.map {
            #"{ "id": "sub-\#($0)", "application": "app", "api": "\#($0)", "plan": "\#($0)-key", "status": "ACCEPTED" }"#
        }
        let access = """
            { "applications": [{ "id": "app", "name": "Shop", "clientId": "shop" }],
              "subscriptions": [\(subscriptions.joined(separator: ","))],
              "apiKeys": [{ "key": "\(Self.validKey)", "subscriptions": [\(ids.map { "\"sub-\($0)\"" }.joined(separator: ","))] }] }
            """
        let definitions = [
            "plain.json": api("plain"), "flowed.json": api("flowed", flows: flow),
            "relay.json": api("relay", propagate: true), "shop.access.json": access,
        ]
        try await withGateway(
            definitions,
            configure: {
                $0.security.apiKeyNames = .init(header: "X-Api-Key", queryParameter: "key")
            }
        ) { (gateway: TestGateway) async throws in
            for id in ids {
                let byHeader = try await Self.post(gateway, "/\(id)", headers: [("X-Api-Key", Self.validKey)])
                #expect(byHeader.status == 202, "\(id): \(byHeader.body)")
                let byQuery = try await Self.post(gateway, "/\(id)?key=\(Self.validKey)")
                #expect(byQuery.status == 202, "\(id): \(byQuery.body)")
                // Gravitee's names are not read any more: no key, so no plan takes the request.
                let oldHeader = try await Self.post(gateway, "/\(id)", headers: [("X-Gravitee-Api-Key", Self.validKey)])
                #expect(oldHeader.json?["key"]?.stringValue == "GATEWAY_PLAN_UNRESOLVABLE", "\(id): \(oldHeader.body)")
                let oldQuery = try await Self.post(gateway, "/\(id)?api-key=\(Self.validKey)")
                #expect(oldQuery.json?["key"]?.stringValue == "GATEWAY_PLAN_UNRESOLVABLE", "\(id): \(oldQuery.body)")
                let empty = try await Self.post(gateway, "/\(id)", headers: [("X-Api-Key", "")])
                #expect(empty.json?["key"]?.stringValue == "API_KEY_MISSING", "\(id): \(empty.body)")

                let read = try await httpCall(
                    .GET, "\(gateway.baseURL)/\(id)",
                    headers: [("Accept", "application/json"), ("X-Api-Key", Self.validKey)])
                #expect(read.status == 200, "\(id): \(read.body)")
                let items = read.json?["items"]?.arrayValue ?? []
                #expect(items.count == 2, "\(id): \(read.body)")
                let keyHeaders = items.map { $0["headers"]?["x-api-key"] ?? $0["headers"]?["X-Api-Key"] }
                if id == "relay" {
                    // The header's message carries the key; the query's message has no such header.
                    #expect(keyHeaders.first??.arrayValue?.first?.stringValue == Self.validKey, "\(read.body)")
                } else {
                    #expect(!read.body.contains(Self.validKey), "\(id): \(read.body)")
                    #expect(!read.body.lowercased().contains("x-api-key"), "\(id): \(read.body)")
                }
            }
        }
    }

    @Test("missing, empty, unknown, revoked and expired keys are refused with Gravitee's keys")
    func refusedKeys() async throws {
        let keys = """
            [{ "key": "\(Self.validKey)", "subscriptions": ["sub"] },
             { "key": "revoked-key", "subscriptions": ["sub"], "revoked": true },
             { "keyHash": "\(APIKeyHash(key: "expired-key"))", "subscriptions": ["sub"], "expireAt": "2020-01-01T00:00:00Z" }]
            """
        try await withGateway(["orders.json": Self.keyed("orders"), "shop.access.json": Self.access(keys: keys)]) {
            (gateway: TestGateway) async throws in
            let none = try await Self.post(gateway, "/orders")
            #expect(none.status == 401)
            #expect(none.json?["key"]?.stringValue == "GATEWAY_PLAN_UNRESOLVABLE")
            let empty = try await Self.post(gateway, "/orders", headers: [("X-Gravitee-Api-Key", "")])
            #expect(empty.status == 401)
            #expect(empty.json?["key"]?.stringValue == "API_KEY_MISSING")
            let emptyQuery = try await Self.post(gateway, "/orders?api-key=")
            #expect(emptyQuery.json?["key"]?.stringValue == "API_KEY_MISSING")
            for key in ["unknown-key", "revoked-key", "expired-key"] {
                for path in ["/orders", "/orders?api-key=\(key)"] {
                    let headers = path.contains("?") ? [] : [("X-Gravitee-Api-Key", key)]
                    let response = try await Self.post(gateway, path, headers: headers)
                    #expect(response.status == 401, "\(key) \(path)")
                    #expect(response.json?["key"]?.stringValue == "API_KEY_INVALID", "\(key) \(path)")
                    let get = try await httpCall(
                        .GET, "\(gateway.baseURL)\(path)", headers: headers + [("Accept", "application/json")])
                    #expect(get.json?["key"]?.stringValue == "API_KEY_INVALID", "GET \(key) \(path)")
                }
            }
            #expect(
                try await Self.post(gateway, "/orders", headers: [("X-Gravitee-Api-Key", Self.validKey)]).status == 202)
        }
    }

    @Test(
        "a subscription that is paused, closed, pending, not yet started or ended does not let the key in",
        arguments: [
            ("PAUSED", ""), ("CLOSED", ""), ("PENDING", ""), ("REJECTED", ""),
            ("ACCEPTED", #", "startingAt": "2999-01-01T00:00:00Z""#),
            ("ACCEPTED", #", "endingAt": "2020-01-01T00:00:00Z""#),
        ])
    func inactiveSubscription(status: String, window: String) async throws {
        try await withGateway([
            "orders.json": Self.keyed("orders"), "shop.access.json": Self.access(status: status, window: window),
        ]) { (gateway: TestGateway) async throws in
            let response = try await Self.post(gateway, "/orders", headers: [("X-Gravitee-Api-Key", Self.validKey)])
            #expect(response.status == 401)
            #expect(response.json?["key"]?.stringValue == "API_KEY_INVALID")
        }
    }

    @Test("a key valid for API A, used on API B, gets the very answer an unknown key gets")
    func otherAPI() async throws {
        // Both APIs name their plan alike: only the subscription's API tells them apart.
        try await withGateway([
            "orders.json": Self.keyed("orders", planID: "standard"),
            "billing.json": Self.keyed("billing", planID: "standard"),
            "shop.access.json": Self.access(plan: "standard"),
        ]) { (gateway: TestGateway) async throws in
            #expect(
                try await Self.post(gateway, "/orders", headers: [("X-Gravitee-Api-Key", Self.validKey)]).status == 202)
            let otherAPI = try await Self.post(gateway, "/billing", headers: [("X-Gravitee-Api-Key", Self.validKey)])
            let unknown = try await Self.post(gateway, "/billing", headers: [("X-Gravitee-Api-Key", "no-such-key")])
            #expect(otherAPI.status == 401)
            #expect(otherAPI.status == unknown.status)
            #expect(otherAPI.body == unknown.body)
            #expect(otherAPI.json?["key"]?.stringValue == "API_KEY_INVALID")
        }
    }

    @Test("plan order: without a key the key-less plan serves; with a key the api-key plan checks it")
    func planOrder() async throws {
        let definition = Self.keyed("orders", extraPlans: [("open", "key-less", "PUBLISHED")])
        try await withGateway(["orders.json": definition, "shop.access.json": Self.access()]) {
            (gateway: TestGateway) async throws in
            #expect(try await Self.post(gateway, "/orders").status == 202)
            #expect(
                try await Self.post(gateway, "/orders", headers: [("X-Gravitee-Api-Key", Self.validKey)]).status == 202)
            let bad = try await Self.post(gateway, "/orders", headers: [("X-Gravitee-Api-Key", "wrong")])
            #expect(bad.status == 401)
            #expect(bad.json?["key"]?.stringValue == "API_KEY_INVALID")
            let get = try await httpCall(
                .GET, "\(gateway.baseURL)/orders?api-key=wrong", headers: [("Accept", "application/json")])
            #expect(get.json?["key"]?.stringValue == "API_KEY_INVALID")
        }
    }

    @Test("staging and closed plans do not serve; a bearer token goes to the JWT plan, not the key-less one")
    func planStatusAndJWT() async throws {
        let staged = Definitions.inMemory(id: "staged", path: "/staged").replacingOccurrences(
            of: #""plans": []"#,
            with: #""plans": "#
                + Self.plans([("staged-key", "api-key", "STAGING"), ("closed-open", "key-less", "CLOSED")]))
        let jwt = Definitions.inMemory(id: "jwt", path: "/jwt").replacingOccurrences(
            of: #""plans": []"#,
            with:
                #""plans": [{ "id": "jwt-plan", "name": "jwt", "security": { "type": "jwt", "configuration": { "signature": "HMAC_HS256", "resolverParameter": "a-secret-of-at-least-thirty-two-bytes!" } }, "mode": "STANDARD", "status": "PUBLISHED" }, "#
                + #"{ "id": "open", "name": "open", "security": { "type": "key-less" }, "mode": "STANDARD", "status": "PUBLISHED" }]"#
        )
        let access = Self.access(api: "staged", plan: "staged-key")
        try await withGateway(["staged.json": staged, "jwt.json": jwt, "shop.access.json": access]) {
            (gateway: TestGateway) async throws in
            for headers in [[], [("X-Gravitee-Api-Key", Self.validKey)]] {
                let response = try await Self.post(gateway, "/staged", headers: headers)
                #expect(response.status == 401)
                #expect(response.json?["key"]?.stringValue == "GATEWAY_PLAN_UNRESOLVABLE")
            }
            #expect(try await Self.post(gateway, "/jwt").status == 202)
            let bearer = try await Self.post(gateway, "/jwt", headers: [("Authorization", "Bearer abc.def.ghi")])
            #expect(bearer.status == 401)
            #expect(bearer.json?["key"]?.stringValue == "JWT_INVALID_TOKEN")
        }
    }

    @Test("a WebSocket upgrade goes through the chain: closed with 1008 and the key without a valid key")
    func webSocket() async throws {
        try await withGateway(["orders.json": Self.keyed("orders"), "shop.access.json": Self.access()]) {
            (gateway: TestGateway) async throws in
            let refused = try await within(.seconds(20)) {
                try await TestWebSocket.session(port: gateway.port, path: "/orders?api-key=wrong") { socket in
                    try await socket.readUntilClose().close
                }
            }
            #expect(refused?.code == 1008)
            #expect(refused?.reason.hasPrefix("API_KEY_INVALID") == true, "\(String(describing: refused))")
            let accepted = try await within(.seconds(20)) {
                try await TestWebSocket.session(
                    port: gateway.port, path: "/orders", headers: [("X-Gravitee-Api-Key", Self.validKey)]
                ) { socket in
                    _ = try await Self.post(gateway, "/orders", headers: [("X-Gravitee-Api-Key", Self.validKey)])
                    return try await socket.next()
                }
            }
            if case .message = accepted {
            } else {
                Issue.record("expected a message, got \(String(describing: accepted))")
            }
        }
    }

    @Test("editing the access file while running: a revoked key is refused within 2 seconds")
    func revokeWhileRunning() async throws {
        try await withGateway(["orders.json": Self.keyed("orders"), "shop.access.json": Self.access()]) {
            (gateway: TestGateway) async throws in
            let headers = [("X-Gravitee-Api-Key", Self.validKey)]
            #expect(try await Self.post(gateway, "/orders", headers: headers).status == 202)
            try gateway.write(
                "shop.access.json",
                Self.access(keys: #"[{ "key": "\#(Self.validKey)", "subscriptions": ["sub"], "revoked": true }]"#))
            #expect(
                try await gateway.eventually(timeout: .seconds(2)) {
                    try await Self.post(gateway, "/orders", headers: headers).json?["key"]?.stringValue
                        == "API_KEY_INVALID"
                })
            // A new file granting a new key takes effect the same way.
            try gateway.write(
                "more.access.json",
                #"{ "apiKeys": [{ "key": "second-key", "subscriptions": ["sub"] }] }"#)
            #expect(
                try await gateway.eventually(timeout: .seconds(2)) {
                    try await Self.post(gateway, "/orders", headers: [("X-Gravitee-Api-Key", "second-key")]).status
                        == 202
                })
            // Removing the file takes its key away.
            try gateway.remove("more.access.json")
            #expect(
                try await gateway.eventually(timeout: .seconds(2)) {
                    try await Self.post(gateway, "/orders", headers: [("X-Gravitee-Api-Key", "second-key")]).json?[
                        "key"]?.stringValue == "API_KEY_INVALID"
                })
        }
    }

    @Test("a malformed access file keeps the previous access data, and the gateway keeps serving")
    func malformedAccessFile() async throws {
        try await withGateway(["orders.json": Self.keyed("orders"), "shop.access.json": Self.access()]) {
            (gateway: TestGateway) async throws in
            let headers = [("X-Gravitee-Api-Key", Self.validKey)]
            #expect(try await Self.post(gateway, "/orders", headers: headers).status == 202)
            try gateway.write("shop.access.json", #"{ "apiKeys": [{ "key": "x", "subscriptions": ["sub"] }"#)
            try await Task.sleep(for: .milliseconds(800))
            #expect(try await Self.post(gateway, "/orders", headers: headers).status == 202)
            // A file that parses but does not validate is refused whole as well.
            try gateway.write(
                "shop.access.json",
                Self.access(keys: #"[{ "key": "\#(Self.validKey)", "subscriptions": ["sub"], "revoked": "maybe" }]"#))
            try await Task.sleep(for: .milliseconds(800))
            #expect(try await Self.post(gateway, "/orders", headers: headers).status == 202)
        }
    }
}
