import Foundation
import SluiceCore
import Testing

import class GatewayTestSupport.TestWebSocket

/// OAuth2 plans end to end against a real authorization server: django-oauth-toolkit's RFC 7662 introspection
/// endpoint, started by the test with its clients and tokens (tests/interop/oauth2_server/serve.py).
@Suite(
    "oauth2 plans (django-oauth-toolkit)",
    .enabled(if: BearerOracles.shouldRun, "\(BearerOracles.problem ?? "")"))
struct OAuth2PlanTests {
    static func api(_ id: String, resource: String, plan: String) -> String {
        Definitions.inMemory(id: id, path: "/\(id)")
            .replacingOccurrences(
                of: #""plans": []"#,
                with:
                    #""resources": [{ "name": "auth server", "type": "oauth2", "enabled": true, "configuration": \#(resource) }], "plans": [{ "id": "\#(id)-oauth2", "name": "oauth2", "security": { "type": "oauth2", "configuration": \#(plan) }, "mode": "STANDARD", "status": "PUBLISHED" }]"#
            )
    }

    static func resource(port: Int, method: String = "GET", extra: String = "") -> String {
        """
        { "authorizationServerUrl": "http://127.0.0.1:\(port)", "introspectionEndpoint": "/o/introspect/",
          "introspectionEndpointMethod": "\(method)", "useClientAuthorizationHeader": true,
          "clientAuthorizationHeaderName": "Authorization", "clientAuthorizationHeaderScheme": "Basic",
          "clientId": "sluice-gateway", "clientSecret": "resource-server-secret", "scopeSeparator": " ",
          "userInfoEndpoint": "/userinfo", "http": { "connectTimeout": 1000, "readTimeout": 3000 }\(extra) }
        """
    }

    static let scopedPlan =
        #"{ "oauthResource": "auth server", "checkRequiredScopes": true, "requiredScopes": ["write"], "modeStrict": true, "propagateAuthHeader": false }"#

    static func access(_ apis: [String]) -> String {
        let subscriptions = apis.enumerated().map { index, api in
            #"{ "id": "sub-\#(index)", "application": "shop", "api": "\#(api)", "plan": "\#(api)-oauth2", "status": "ACCEPTED" }"#
        }
        return """
            { "applications": [{ "id": "shop", "name": "Shop", "clientId": "shop-client" }],
              "subscriptions": [\(subscriptions.joined(separator: ","))] }
            """
    }

    static func post(_ gateway: TestGateway, _ path: String, token: String?) async throws -> CollectedResponse {
        try await httpCall(
            .POST, "\(gateway.baseURL)\(path)", headers: token.map { [("Authorization", "Bearer \($0)")] } ?? [],
            body: "hello")
    }

    @Test("introspection: active, inactive, scopes, unsubscribed client, missing token, server down")
    func introspection() async throws {
        let server = try OracleServer([
            BearerOracles.packageRoot().appendingPathComponent("tests/interop/oauth2_server/serve.py").path
        ])
        defer { server.stop() }
        let started = try JSONValue.parse(json: Data(server.firstLine.utf8))
        guard case .number(let portNumber)? = started["port"], case .object(let tokens)? = started["tokens"] else {
            Issue.record("the authorization server said: \(server.firstLine)")
            return
        }
        let port = Int(portNumber)
        @Sendable func token(_ name: String) -> String { tokens[name]?.stringValue ?? "missing-\(name)" }
        let definitions = [
            "scoped.json": Self.api("scoped", resource: Self.resource(port: port), plan: Self.scopedPlan),
            // POST with the token in a form body, lenient scopes.
            "form.json": Self.api(
                "form",
                resource: Self.resource(
                    port: port, method: "POST",
                    extra: #", "tokenIsSuppliedByQueryParam": false, "tokenIsSuppliedByFormUrlEncoded": true"#),
                plan:
                    #"{ "oauthResource": "auth server", "checkRequiredScopes": true, "requiredScopes": ["read", "admin"], "modeStrict": false }"#
            ),
            // An authorization server that is not there.
            "down.json": Self.api("down", resource: Self.resource(port: 1), plan: Self.scopedPlan),
            // One that answers, but with the wrong client credentials: not 200.
            "badclient.json": Self.api(
                "badclient",
                resource: Self.resource(port: port).replacingOccurrences(
                    of: "resource-server-secret", with: "wrong-secret"),
                plan: Self.scopedPlan),
            // A plan for one tenant only: its selection rule reads the request.
            "tenant.json": Self.api("tenant", resource: Self.resource(port: port), plan: Self.scopedPlan)
                .replacingOccurrences(
                    of: #""status": "PUBLISHED" }"#,
                    with: #""status": "PUBLISHED", "selectionRule": "{#request.headers['X-Tenant'][0] == 'a'}" }"#),
            "shop.access.json": Self.access(["scoped", "form", "down", "badclient", "tenant"]),
        ]
        try await withGateway(definitions) { (gateway: TestGateway) async throws in
            let accepted = try await Self.post(gateway, "/scoped", token: token("read_write"))
            #expect(accepted.status == 202, "\(accepted.body)")
            // Again (cached until its exp), and by the query parameter.
            #expect(try await Self.post(gateway, "/scoped", token: token("read_write")).status == 202)
            let byQuery = try await httpCall(
                .POST, "\(gateway.baseURL)/scoped?access_token=\(token("read_write"))", body: "q")
            #expect(byQuery.status == 202, "\(byQuery.body)")
            let read = try await httpCall(
                .GET, "\(gateway.baseURL)/scoped",
                headers: [("Accept", "application/json"), ("Authorization", "Bearer \(token("read_write"))")])
            #expect(read.status == 200, "\(read.body)")
            #expect(!read.body.contains(token("read_write")), "propagateAuthHeader false: \(read.body)")

            func expect(_ path: String, _ token: String?, _ status: Int, _ key: String, _ comment: String) async throws
            {
                let response = try await Self.post(gateway, path, token: token)
                #expect(response.status == status, "\(comment): \(response.body)")
                #expect(response.json?["key"]?.stringValue == key, "\(comment): \(response.body)")
                // The OAuth2 plan's own refusals carry Gravitee's challenge; the chain's do not.
                let challenge = response.headers.first { $0.0.lowercased() == "www-authenticate" }?.1
                #expect(
                    challenge == (key.hasPrefix("OAUTH2_") ? #"Bearer realm="gravitee.io""# : nil),
                    "\(comment): \(response.headers)")
            }
            try await expect("/scoped", token("read_only"), 401, "OAUTH2_INSUFFICIENT_SCOPE", "read only")
            try await expect("/scoped", token("expired"), 401, "OAUTH2_INVALID_ACCESS_TOKEN", "expired")
            try await expect("/scoped", "no-such-token", 401, "OAUTH2_INVALID_ACCESS_TOKEN", "unknown")
            try await expect("/scoped", token("other_client"), 401, "GATEWAY_OAUTH2_ACCESS_DENIED", "other client")
            try await expect("/scoped", "", 401, "OAUTH2_MISSING_ACCESS_TOKEN", "empty")
            try await expect("/scoped", nil, 401, "GATEWAY_PLAN_UNRESOLVABLE", "none")
            try await expect("/scoped", "a\"b", 401, "OAUTH2_INVALID_ACCESS_TOKEN", "a quote in the token")

            // The form variant, lenient: one of read or admin is enough.
            let form = try await Self.post(gateway, "/form", token: token("read_only"))
            #expect(form.status == 202, "\(form.body)")

            // The selection rule: tenant a's token is introspected and served; another tenant's finds no plan.
            let tenantA = try await httpCall(
                .POST, "\(gateway.baseURL)/tenant",
                headers: [("Authorization", "Bearer \(token("read_write"))"), ("X-Tenant", "a")], body: "a")
            #expect(tenantA.status == 202, "\(tenantA.body)")
            let tenantB = try await httpCall(
                .POST, "\(gateway.baseURL)/tenant",
                headers: [("Authorization", "Bearer \(token("read_write"))"), ("X-Tenant", "b")], body: "b")
            #expect(tenantB.status == 401, "\(tenantB.body)")
            #expect(tenantB.json?["key"]?.stringValue == "GATEWAY_PLAN_UNRESOLVABLE", "\(tenantB.body)")

            // Never let a request through when the server cannot say.
            try await expect("/down", token("read_write"), 503, "OAUTH2_SERVER_UNAVAILABLE", "no server")
            try await expect("/badclient", token("read_write"), 503, "OAUTH2_SERVER_UNAVAILABLE", "401 from server")

            // SSE and the WebSocket upgrade decide through introspection too.
            let stream = try await SSEReader.open(
                "\(gateway.baseURL)/scoped", headers: [("Authorization", "Bearer \(token("read_write"))")])
            #expect(stream.status == 200)
            let readOnlyPath = "/scoped?access_token=\(token("read_only"))"
            let closed = try await within(.seconds(20)) {
                try await TestWebSocket.session(port: gateway.port, path: readOnlyPath) {
                    socket in try await socket.readUntilClose().close
                }
            }
            #expect(closed?.code == 1008)
            #expect(closed?.reason.hasPrefix("OAUTH2_INSUFFICIENT_SCOPE") == true, "\(String(describing: closed))")

            // The server goes away: a token never seen gets 503; one cached until its exp still passes.
            server.stop()
            try await expect("/scoped", "never-seen-token", 503, "OAUTH2_SERVER_UNAVAILABLE", "server stopped")
            #expect(try await Self.post(gateway, "/scoped", token: token("read_write")).status == 202)
        }
    }
}
