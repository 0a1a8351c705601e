import Foundation
import SluiceCore
import Testing

/// The `mock` policy on proxy APIs, end to end: a gateway in front of a real local backend that must never be
/// called for a mocked request.
@Suite("mock policy on proxy APIs")
struct MockProxyTests {
    /// A proxy API in front of `backend` with `flows`.
    static func api(_ backend: TestBackend, flows: String) -> String {
        HTTPProxyTests.api(targets: [("only", "\(backend.url)/echo", 1, false)])
            .replacingOccurrences(of: #""failover": null"#, with: #""failover": null, "flows": "# + flows)
    }

    static func mockStep(_ configuration: String, condition: String? = nil) -> String {
        let conditionField = condition.map { #", "condition": "\#($0)""# } ?? ""
        return
            #"{ "name": "Mock", "enabled": true, "policy": "mock"\#(conditionField), "configuration": \#(configuration) }"#
    }

    static func flow(request: [String], response: [String] = []) -> String {
        #"[{ "name": "f", "enabled": true, "selectors": [{ "type": "http", "path": "/", "pathOperator": "STARTS_WITH" }], "request": ["#
            + request.joined(separator: ",") + #"], "response": ["# + response.joined(separator: ",") + "] }]"
    }

    @Test("a mock answers with its status, headers and templated content; the backend gets nothing")
    func answers() async throws {
        let backend = try await TestBackend.start()
        defer { Task { await backend.stop() } }
        let mock = Self.mockStep(
            #"""
            { "status": 400,
              "headers": [{ "name": "X-Mock-Policy", "value": "Passed through mock policy" },
                          { "name": "X-Mock-Policy-Second", "value": "{#request.headers['reqHeader'][0]}" },
                          { "name": "X-Null", "value": "{#request.headers['absent']}" }],
              "content": "path={#request.path}" }
            """#)
        try await withGateway(["p.json": Self.api(backend, flows: Self.flow(request: [mock]))]) {
            (gateway: TestGateway) async throws in
            let response = try await httpCall(
                .GET, "\(gateway.baseURL)/proxied/v4-mock", headers: [("reqHeader", "reqHeaderValue")])
            #expect(response.status == 400)
            #expect(response.body == "path=/proxied/v4-mock")
            #expect(response.header("X-Mock-Policy") == "Passed through mock policy")
            #expect(response.header("X-Mock-Policy-Second") == "reqHeaderValue")
            // A header whose value is null is left out, as Gravitee leaves it.
            #expect(response.header("X-Null") == nil)
            #expect(response.header("Content-Type") == "text/plain")
            #expect(response.header("Content-Length") == "21")
            #expect(response.header("X-Backend") == nil)
            // A request with a body is mocked too, and the connection serves the next request.
            let posted = try await httpCall(
                .POST, "\(gateway.baseURL)/proxied/p", body: String(repeating: "x", count: 5000))
            #expect(posted.status == 400)
            #expect(posted.body == "path=/proxied/p")
            #expect(try await httpCall(.GET, "\(gateway.baseURL)/proxied/again").body == "path=/proxied/again")
        }
        #expect(backend.snapshot.requests == 0, "a mocked request reached the backend")
    }

    @Test("content type: JSON and XML guessed, a configured Content-Type kept, blank content gives no body and no type")
    func contentTypes() async throws {
        let backend = try await TestBackend.start()
        defer { Task { await backend.stop() } }
        let flows = #"""
            [{ "name": "json", "enabled": true, "selectors": [{ "type": "http", "path": "/json", "pathOperator": "EQUALS" }],
               "request": [{ "name": "m", "enabled": true, "policy": "mock", "configuration": { "status": 201, "content": "{\"id\": \"{#request.params['id'][0]}\"}" } }] },
             { "name": "xml", "enabled": true, "selectors": [{ "type": "http", "path": "/xml", "pathOperator": "EQUALS" }],
               "request": [{ "name": "m", "enabled": true, "policy": "mock", "configuration": { "status": 200, "content": "<a><b>1</b></a>" } }] },
             { "name": "typed", "enabled": true, "selectors": [{ "type": "http", "path": "/typed", "pathOperator": "EQUALS" }],
               "request": [{ "name": "m", "enabled": true, "policy": "mock", "configuration": { "status": "200",
                 "headers": [{ "name": "Content-Type", "value": "application/custom+json" }], "content": "{\"message\":\"hello\"}" } }] },
             { "name": "empty", "enabled": true, "selectors": [{ "type": "http", "path": "/empty", "pathOperator": "EQUALS" }],
               "request": [{ "name": "m", "enabled": true, "policy": "mock", "configuration": { "status": 204, "headers": [], "content": "" } }] }]
            """#
        try await withGateway(["p.json": Self.api(backend, flows: flows)]) { (gateway: TestGateway) async throws in
            let json = try await httpCall(.GET, "\(gateway.baseURL)/proxied/json?id=42")
            #expect(json.status == 201)
            #expect(json.header("Content-Type") == "application/json")
            #expect(json.json?["id"]?.stringValue == "42")
            let xml = try await httpCall(.GET, "\(gateway.baseURL)/proxied/xml")
            #expect(xml.header("Content-Type") == "text/xml")
            #expect(xml.body == "<a><b>1</b></a>")
            let typed = try await httpCall(.GET, "\(gateway.baseURL)/proxied/typed")
            #expect(typed.status == 200)
            #expect(
                typed.headers.filter { $0.0.lowercased() == "content-type" }.map(\.1) == ["application/custom+json"])
            #expect(typed.body == #"{"message":"hello"}"#)
            let empty = try await httpCall(.GET, "\(gateway.baseURL)/proxied/empty")
            #expect(empty.status == 204)
            #expect(empty.header("Content-Type") == nil)
            #expect(empty.body == "")
        }
        #expect(backend.snapshot.requests == 0)
    }

    @Test("a mock step with a condition mocks only the requests it holds for; the others reach the backend")
    func conditional() async throws {
        let backend = try await TestBackend.start()
        defer { Task { await backend.stop() } }
        let mock = Self.mockStep(
            #"{ "status": 200, "content": "mocked" }"#, condition: "{#request.headers['X-Mock'][0] == 'yes'}")
        try await withGateway(["p.json": Self.api(backend, flows: Self.flow(request: [mock]))]) {
            (gateway: TestGateway) async throws in
            let mocked = try await httpCall(.GET, "\(gateway.baseURL)/proxied/a", headers: [("X-Mock", "yes")])
            #expect(mocked.body == "mocked")
            #expect(mocked.header("X-Backend") == nil)
            #expect(backend.snapshot.requests == 0)
            let proxied = try await httpCall(.GET, "\(gateway.baseURL)/proxied/a", headers: [("X-Mock", "no")])
            #expect(proxied.status == 200)
            #expect(proxied.header("X-Backend") == "backend")
            #expect(proxied.json?["uri"]?.stringValue == "/echo/a")
            #expect(backend.snapshot.requests == 1)
        }
    }

    @Test("the request phase goes on after the mock step, and the response phase runs on the mock's answer")
    func phases() async throws {
        let backend = try await TestBackend.start()
        defer { Task { await backend.stop() } }
        let mock = Self.mockStep(
            #"{ "status": 202, "headers": [{ "name": "X-Drop", "value": "1" }], "content": "tenant={#context.attributes['tenant']}" }"#
        )
        // Set after the mock step: Gravitee's mock only picks the answer, which is made once the phase is over.
        let assign = #"""
            { "name": "tag", "enabled": true, "policy": "assign-attributes",
              "configuration": { "attributes": [{ "name": "tenant", "value": "{#request.headers['X-Tenant'][0]}" }] } }
            """#
        let response = #"""
            { "name": "answer", "enabled": true, "policy": "transform-headers",
              "configuration": { "addHeaders": [{ "name": "X-Status", "value": "{#response.status}" },
                                                { "name": "X-Tenant", "value": "{#context.attributes['tenant']}" }],
                                 "removeHeaders": ["X-Drop"] } }
            """#
        try await withGateway([
            "p.json": Self.api(backend, flows: Self.flow(request: [mock, assign], response: [response]))
        ]) {
            (gateway: TestGateway) async throws in
            let answer = try await httpCall(.GET, "\(gateway.baseURL)/proxied/x", headers: [("X-Tenant", "acme")])
            #expect(answer.status == 202)
            #expect(answer.body == "tenant=acme")
            #expect(answer.header("X-Status") == "202")
            #expect(answer.header("X-Tenant") == "acme")
            #expect(answer.header("X-Drop") == nil)
        }
        #expect(backend.snapshot.requests == 0)
    }

    @Test("content that evaluates to null answers 500 MOCK_CONTENT_FAILURE, without the backend")
    func nullContent() async throws {
        let backend = try await TestBackend.start()
        defer { Task { await backend.stop() } }
        let mock = Self.mockStep(#"{ "status": 200, "content": "{#request.headers['nonexistent']}" }"#)
        try await withGateway(["p.json": Self.api(backend, flows: Self.flow(request: [mock]))]) {
            (gateway: TestGateway) async throws in
            let answer = try await httpCall(.GET, "\(gateway.baseURL)/proxied/x")
            #expect(answer.status == 500)
            #expect(answer.json?["key"]?.stringValue == "MOCK_CONTENT_FAILURE")
        }
        #expect(backend.snapshot.requests == 0)
    }

    @Test("mock is refused where it cannot run, and a bad configuration names its path")
    func refused() throws {
        let loader = DefinitionLoader(catalog: .gateway)
        func errors(_ definition: String) -> [Diagnostic] {
            loader.load(data: Data(definition.utf8), source: "test").errors
        }
        let target = HTTPProxyTests.single("http://127.0.0.1:1")
        func proxy(_ flows: String) -> String {
            target.replacingOccurrences(of: #""failover": null"#, with: #""failover": null, "flows": "# + flows)
        }
        let inResponse = errors(proxy(Self.flow(request: [], response: [Self.mockStep(#"{ "status": 200 }"#)])))
        #expect(
            inResponse.contains { $0.path == "flows[0].response[0].policy" && $0.code == "UNSUPPORTED_PHASE" },
            "\(inResponse)")
        let badStatus = errors(proxy(Self.flow(request: [Self.mockStep(#"{ "status": 700 }"#)])))
        #expect(badStatus.contains { $0.path == "flows[0].request[0].configuration.status" }, "\(badStatus)")
        let badContent = errors(
            proxy(Self.flow(request: [Self.mockStep(#"{ "status": 200, "content": "{#request.invalid..syntax}" }"#)])))
        #expect(
            badContent.contains {
                $0.path == "flows[0].request[0].configuration.content" && $0.code == "INVALID_EXPRESSION"
            }, "\(badContent)")
        let badHeader = errors(
            proxy(
                Self.flow(request: [
                    Self.mockStep(#"{ "status": 200, "headers": [{ "name": "X", "value": "{#node.id}" }] }"#)
                ])))
        #expect(badHeader.contains { $0.path == "flows[0].request[0].configuration.headers[0].value" }, "\(badHeader)")
        // A message API: Gravitee offers mock to proxy APIs only.
        let message = Definitions.inMemory().replacingOccurrences(
            of: #""flows": []"#, with: #""flows": "# + Self.flow(request: [Self.mockStep(#"{ "status": 200 }"#)]))
        let onMessage = errors(message)
        #expect(
            onMessage.contains { $0.path == "flows[0].request[0].policy" && $0.code == "UNSUPPORTED_POLICY" },
            "\(onMessage)")
        // A good one deploys; a missing status is answered as 200, with a warning.
        let good = loader.load(data: Data(proxy(Self.flow(request: [Self.mockStep("{}")])).utf8), source: "test")
        #expect(good.isDeployable, "\(good.diagnostics)")
        #expect(
            good.diagnostics.contains {
                $0.path == "flows[0].request[0].configuration.status" && $0.severity == .warning
            })
    }
}
