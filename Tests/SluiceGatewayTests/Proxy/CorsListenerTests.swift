import Foundation
import SluiceCore
import Testing

/// A listener's `cors` settings end to end: a gateway in front of a real local backend, browsers' requests played
/// by a client over real sockets.
@Suite("CORS on HTTP listeners")
struct CorsListenerTests {
    static let origin = "https://app.example.com"

    static let settings = #"""
        { "enabled": true, "allowOrigin": ["https://app.example.com", "https://(.+)\\.example\\.org"],
          "allowMethods": ["get", "PUT"], "allowHeaders": ["X-Custom", "Content-Type"],
          "exposeHeaders": ["X-Backend", "X-Trace"], "allowCredentials": true, "maxAge": 600 }
        """#

    /// A proxy API in front of `backend` with `cors` on its listener, and optionally `plans` and `flows`.
    static func api(_ backend: TestBackend, cors: String?, plans: String = "[]", flows: String = "[]") -> String {
        var definition = HTTPProxyTests.api(targets: [("only", "\(backend.url)", 1, false)], plans: plans)
            .replacingOccurrences(of: #""failover": null"#, with: #""failover": null, "flows": "# + flows)
        if let cors {
            definition = definition.replacingOccurrences(
                of: #""entrypoints": [{ "type": "http-proxy" }]"#,
                with: #""entrypoints": [{ "type": "http-proxy" }], "cors": "# + cors)
        }
        return definition
    }

    static func preflight(
        origin: String = origin, method: String = "PUT", headers: String? = "x-custom, content-type"
    ) -> [(String, String)] {
        var fields = [("Origin", origin), ("Access-Control-Request-Method", method)]
        if let headers { fields.append(("Access-Control-Request-Headers", headers)) }
        return fields
    }

    static let keyPlan = #"""
        [{ "id": "key-plan", "name": "keys", "security": { "type": "api-key" }, "status": "PUBLISHED", "mode": "STANDARD", "flows": [] }]
        """#

    @Test("a preflight is answered by the gateway, before plans, without the backend")
    func preflightAllowed() async throws {
        let backend = try await TestBackend.start()
        defer { Task { await backend.stop() } }
        try await withGateway(["p.json": Self.api(backend, cors: Self.settings, plans: Self.keyPlan)]) {
            (gateway: TestGateway) async throws in
            let answer = try await httpCall(.OPTIONS, "\(gateway.baseURL)/proxied/items", headers: Self.preflight())
            #expect(answer.status == 200, "\(answer.body)")
            #expect(answer.header("Access-Control-Allow-Origin") == Self.origin)
            #expect(answer.header("Access-Control-Allow-Methods") == "GET, PUT")
            #expect(answer.header("Access-Control-Allow-Headers") == "X-Custom, Content-Type")
            #expect(answer.header("Access-Control-Allow-Credentials") == "true")
            #expect(answer.header("Access-Control-Max-Age") == "600")
            #expect(answer.header("Access-Control-Expose-Headers") == "X-Backend, X-Trace")
            #expect(answer.header("Vary") == "Origin")
            #expect(answer.body == "")
            // A method the browser sends without asking for headers.
            let simple = try await httpCall(
                .OPTIONS, "\(gateway.baseURL)/proxied/items", headers: Self.preflight(method: "GET", headers: nil))
            #expect(simple.status == 200)
        }
        #expect(backend.snapshot.requests == 0, "a preflight reached the backend")
    }

    @Test("a preflight from an origin, with a method or a header not allowed is refused with 400")
    func preflightRefused() async throws {
        let backend = try await TestBackend.start()
        defer { Task { await backend.stop() } }
        try await withGateway(["p.json": Self.api(backend, cors: Self.settings)]) {
            (gateway: TestGateway) async throws in
            let url = "\(gateway.baseURL)/proxied/items"
            let foreign = try await httpCall(.OPTIONS, url, headers: Self.preflight(origin: "https://evil.example.net"))
            #expect(foreign.status == 400)
            #expect(foreign.json?["key"]?.stringValue == "CORS_PREFLIGHT_FAILED")
            #expect(foreign.header("Access-Control-Allow-Origin") == nil)
            #expect(foreign.header("Access-Control-Allow-Methods") == nil)
            // The origin is allowed, so the refusal is readable by the page; the method is not.
            let method = try await httpCall(.OPTIONS, url, headers: Self.preflight(method: "DELETE"))
            #expect(method.status == 400)
            #expect(method.json?["key"]?.stringValue == "CORS_PREFLIGHT_FAILED")
            #expect(method.header("Access-Control-Allow-Origin") == Self.origin)
            #expect(method.header("Access-Control-Allow-Methods") == nil)
            // Methods are compared as sent: `put` is not `PUT`.
            #expect(try await httpCall(.OPTIONS, url, headers: Self.preflight(method: "put")).status == 400)
            let header = try await httpCall(.OPTIONS, url, headers: Self.preflight(headers: "x-custom, x-other"))
            #expect(header.status == 400)
        }
        #expect(backend.snapshot.requests == 0)
    }

    @Test("actual requests: an allowed origin gets its CORS headers, a foreign one none (the backend's removed)")
    func actualRequests() async throws {
        let backend = try await TestBackend.start()
        defer { Task { await backend.stop() } }
        try await withGateway(["p.json": Self.api(backend, cors: Self.settings)]) {
            (gateway: TestGateway) async throws in
            let allowed = try await httpCall(
                .GET, "\(gateway.baseURL)/proxied/cors", headers: [("Origin", Self.origin)])
            #expect(allowed.status == 200)
            #expect(allowed.body == "cors")
            #expect(
                allowed.headers.filter { $0.0.lowercased() == "access-control-allow-origin" }.map(\.1) == [Self.origin])
            #expect(allowed.header("Access-Control-Allow-Credentials") == "true")
            #expect(allowed.header("Access-Control-Expose-Headers") == "X-Backend, X-Trace")
            #expect(allowed.headers.filter { $0.0.lowercased() == "vary" }.map(\.1) == ["Accept-Encoding", "Origin"])
            // A foreign origin is served, but its page cannot read the answer.
            let foreign = try await httpCall(
                .GET, "\(gateway.baseURL)/proxied/cors", headers: [("Origin", "https://evil.example.net")])
            #expect(foreign.status == 200)
            #expect(foreign.body == "cors")
            #expect(foreign.header("Access-Control-Allow-Origin") == nil)
            #expect(foreign.header("Access-Control-Allow-Credentials") == nil)
            #expect(foreign.header("Access-Control-Expose-Headers") == nil)
            // No origin (not a browser's cross-origin request): no CORS headers either.
            let none = try await httpCall(.GET, "\(gateway.baseURL)/proxied/cors")
            #expect(none.header("Access-Control-Allow-Origin") == nil)
            #expect(backend.snapshot.requests == 3)
        }
    }

    @Test("regular-expression origins match whole origins; '*' allows every origin, echoed back")
    func originPatterns() async throws {
        let backend = try await TestBackend.start()
        defer { Task { await backend.stop() } }
        try await withGateway(["p.json": Self.api(backend, cors: Self.settings)]) {
            (gateway: TestGateway) async throws in
            let url = "\(gateway.baseURL)/proxied/items"
            let matching = try await httpCall(
                .OPTIONS, url, headers: Self.preflight(origin: "https://shop.example.org"))
            #expect(matching.status == 200)
            #expect(matching.header("Access-Control-Allow-Origin") == "https://shop.example.org")
            // The whole origin must match.
            let longer = try await httpCall(
                .OPTIONS, url, headers: Self.preflight(origin: "https://shop.example.org.evil.net"))
            #expect(longer.status == 400)
            // Literal origins compare without regard to case.
            let upper = try await httpCall(.OPTIONS, url, headers: Self.preflight(origin: "HTTPS://APP.EXAMPLE.COM"))
            #expect(upper.status == 200)
        }
        let any = #"{ "enabled": true, "allowOrigin": ["*"], "allowMethods": ["*"], "allowHeaders": ["*"] }"#
        try await withGateway(["p.json": Self.api(backend, cors: any)]) { (gateway: TestGateway) async throws in
            let answer = try await httpCall(
                .OPTIONS, "\(gateway.baseURL)/proxied/items",
                headers: Self.preflight(origin: "https://anyone.test", method: "PATCH", headers: "x-whatever"))
            #expect(answer.status == 200)
            #expect(answer.header("Access-Control-Allow-Origin") == "https://anyone.test")
            #expect(answer.header("Access-Control-Allow-Methods") == "*")
            #expect(answer.header("Access-Control-Allow-Headers") == "*")
            #expect(answer.header("Access-Control-Allow-Credentials") == nil)
            #expect(answer.header("Access-Control-Max-Age") == nil)
        }
        #expect(backend.snapshot.requests == 0)
    }

    @Test("without CORS enabled, OPTIONS goes to the backend like any request")
    func disabled() async throws {
        let backend = try await TestBackend.start()
        defer { Task { await backend.stop() } }
        let disabled = #"{ "enabled": false, "allowOrigin": ["*"], "allowMethods": ["GET"] }"#
        for cors in [nil, disabled] {
            try await withGateway(["p.json": Self.api(backend, cors: cors)]) { (gateway: TestGateway) async throws in
                let answer = try await httpCall(.OPTIONS, "\(gateway.baseURL)/proxied/echo", headers: Self.preflight())
                #expect(answer.status == 200)
                #expect(answer.json?["method"]?.stringValue == "OPTIONS")
                #expect(answer.header("Access-Control-Allow-Origin") == nil)
                #expect(answer.header("Vary") == nil)
            }
        }
        #expect(backend.snapshot.requests == 2)
    }

    @Test("errors carry CORS headers too: a request refused by its plan is readable by an allowed origin")
    func errorsCarryHeaders() async throws {
        let backend = try await TestBackend.start()
        defer { Task { await backend.stop() } }
        try await withGateway(["p.json": Self.api(backend, cors: Self.settings, plans: Self.keyPlan)]) {
            (gateway: TestGateway) async throws in
            let refused = try await httpCall(
                .GET, "\(gateway.baseURL)/proxied/echo", headers: [("Origin", Self.origin)])
            #expect(refused.status == 401)
            #expect(refused.header("Access-Control-Allow-Origin") == Self.origin)
            #expect(refused.header("Access-Control-Allow-Credentials") == "true")
        }
        #expect(backend.snapshot.requests == 0)
    }

    @Test(
        "runPolicies: the API's flows run on a preflight (the response phase on its answer), the backend is not called")
    func runPolicies() async throws {
        let backend = try await TestBackend.start()
        defer { Task { await backend.stop() } }
        let cors = #"{ "enabled": true, "allowOrigin": ["*"], "allowMethods": ["GET"], "runPolicies": true }"#
        let flows = #"""
            [{ "name": "f", "enabled": true, "selectors": [{ "type": "http", "path": "/", "pathOperator": "STARTS_WITH" }],
               "request": [{ "name": "a", "enabled": true, "policy": "assign-attributes",
                 "configuration": { "attributes": [{ "name": "seen", "value": "{#request.method}" }] } }],
               "response": [{ "name": "h", "enabled": true, "policy": "transform-headers",
                 "configuration": { "addHeaders": [{ "name": "X-Seen", "value": "{#context.attributes['seen']}-{#response.status}" }] } }] }]
            """#
        try await withGateway(["p.json": Self.api(backend, cors: cors, plans: Self.keyPlan, flows: flows)]) {
            (gateway: TestGateway) async throws in
            let answer = try await httpCall(
                .OPTIONS, "\(gateway.baseURL)/proxied/items", headers: Self.preflight(method: "GET", headers: nil))
            #expect(answer.status == 200, "\(answer.body)")
            #expect(answer.header("X-Seen") == "OPTIONS-200")
            #expect(answer.header("Access-Control-Allow-Origin") == Self.origin)
            #expect(answer.header("Access-Control-Allow-Methods") == "GET")
        }
        #expect(backend.snapshot.requests == 0)
    }

    @Test("a message API's HTTP entrypoints answer preflights and carry CORS headers")
    func messageAPI() async throws {
        let definition = Definitions.inMemory().replacingOccurrences(
            of: #""entrypoints": ["#, with: #""cors": \#(Self.settings), "entrypoints": ["#)
        try await withGateway(["m.json": definition]) { (gateway: TestGateway) async throws in
            let preflight = try await httpCall(
                .OPTIONS, "\(gateway.baseURL)/events", headers: Self.preflight(method: "GET", headers: nil))
            #expect(preflight.status == 200)
            #expect(preflight.header("Access-Control-Allow-Origin") == Self.origin)
            let posted = try await httpCall(
                .POST, "\(gateway.baseURL)/events", headers: [("Origin", Self.origin)], body: "hello")
            #expect(posted.status == 200 || posted.status == 202, "\(posted.body)")
            #expect(posted.header("Access-Control-Allow-Origin") == Self.origin)
            #expect(posted.header("Vary") == "Origin")
            let polled = try await httpCall(.GET, "\(gateway.baseURL)/events", headers: [("Origin", Self.origin)])
            #expect(polled.status == 200)
            #expect(polled.header("Access-Control-Allow-Origin") == Self.origin)
            #expect(polled.header("Access-Control-Expose-Headers") == "X-Backend, X-Trace")
            let foreign = try await httpCall(
                .GET, "\(gateway.baseURL)/events", headers: [("Origin", "https://evil.example.net")])
            #expect(foreign.header("Access-Control-Allow-Origin") == nil)
        }
    }

    @Test("bad CORS settings are refused with their JSON path")
    func refusedSettings() throws {
        let loader = DefinitionLoader(catalog: .gateway)
        func load(_ cors: String) -> LoadedDefinition {
            let definition = HTTPProxyTests.single("http://127.0.0.1:1").replacingOccurrences(
                of: #""entrypoints": [{ "type": "http-proxy" }]"#,
                with: #""entrypoints": [{ "type": "http-proxy" }], "cors": "# + cors)
            return loader.load(data: Data(definition.utf8), source: "test")
        }
        let badPattern = load(
            #"{ "enabled": true, "allowOrigin": ["https://ok.test", "https://(.+\\.test"], "allowMethods": ["GET"] }"#)
        #expect(badPattern.errors.contains { $0.path == "listeners[0].cors.allowOrigin[1]" }, "\(badPattern.errors)")
        let notOrigin = load(#"{ "enabled": true, "allowOrigin": ["https://ok.test/"], "allowMethods": ["GET"] }"#)
        #expect(notOrigin.errors.contains { $0.path == "listeners[0].cors.allowOrigin[0]" }, "\(notOrigin.errors)")
        let badAge = load(#"{ "enabled": true, "allowOrigin": ["*"], "allowMethods": ["GET"], "maxAge": "soon" }"#)
        #expect(badAge.errors.contains { $0.path == "listeners[0].cors.maxAge" }, "\(badAge.errors)")
        let badOrigins = load(#"{ "enabled": true, "allowOrigin": "*", "allowMethods": ["GET"] }"#)
        #expect(badOrigins.errors.contains { $0.path == "listeners[0].cors.allowOrigin" }, "\(badOrigins.errors)")
        let noMethods = load(#"{ "enabled": true, "allowOrigin": ["*"] }"#)
        #expect(noMethods.isDeployable)
        #expect(
            noMethods.diagnostics.contains { $0.path == "listeners[0].cors.allowMethods" && $0.severity == .warning })
        // Not enabled: nothing else is read, as in Gravitee.
        #expect(load(#"{ "enabled": false, "allowOrigin": ["https://(bad"] }"#).isDeployable)
    }
}
