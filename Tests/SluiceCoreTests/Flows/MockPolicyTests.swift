import Foundation
import SluiceCore
import Testing

/// The `mock` policy in the flow engine: the request phase's outcome carries its answer.
@Suite("mock policy")
struct MockPolicyTests {
    static func engine(_ steps: String, type: String = "proxy") throws -> (FlowEngine, [Diagnostic]) {
        let json = """
            { "id": "api", "name": "api", "definitionVersion": "4.0.0", "type": "\(type)",
              "listeners": [{ "type": "http", "paths": [{ "path": "/api" }], "entrypoints": [{ "type": "http-proxy" }] }],
              "endpointGroups": [{ "name": "g", "type": "http-proxy", "endpoints": [{ "name": "e", "type": "http-proxy", "configuration": { "target": "http://127.0.0.1:1" } }] }],
              "flows": [{ "name": "f", "enabled": true, "request": \(steps) }] }
            """
        let (definition, readDiagnostics) = APIDefinitionReader().read(try JSONValue.parse(json: Data(json.utf8)))
        var diagnostics = DiagnosticCollector()
        diagnostics.append(contentsOf: readDiagnostics)
        let engine = FlowEngine(try #require(definition), diagnostics: &diagnostics)
        return (engine, diagnostics.diagnostics)
    }

    static func request(headers: MessageHeaders = []) -> FlowRequest {
        FlowRequest(
            path: "/x", contextPath: "/api", method: "GET", entrypoint: "http-proxy", operations: [], headers: headers,
            query: [], remoteAddress: nil, localAddress: nil, host: nil, plan: "", subscription: nil, id: "id",
            timestamp: 0)
    }

    @Test("the request phase ends with the mock's answer, made after the phase's last step")
    func answer() async throws {
        let (engine, diagnostics) = try Self.engine(
            #"""
            [{ "name": "m", "enabled": true, "policy": "mock", "configuration": { "status": 418,
                 "headers": [{ "name": "X-Who", "value": "{#context.attributes['who']}" }], "content": "[1, 2]" } },
             { "name": "a", "enabled": true, "policy": "assign-attributes",
               "configuration": { "attributes": [{ "name": "who", "value": "{#request.headers['X-Who'][0]}" }] } }]
            """#)
        #expect(diagnostics.filter { $0.severity == .error }.isEmpty, "\(diagnostics)")
        let outcome = await engine.start(Self.request(headers: [("X-Who", "me")])).runRequest()
        guard case .answer(let answer) = outcome else {
            Issue.record("expected an answer, got \(outcome)")
            return
        }
        #expect(answer.status == 418)
        #expect(answer.body == "[1, 2]")
        #expect(answer.headers["Content-Type"] == ["application/json"])
        #expect(answer.headers["X-Who"] == ["me"])
    }

    @Test("a step failing after the mock step fails the request; without a mock step the request proceeds")
    func otherOutcomes() async throws {
        let (failing, _) = try Self.engine(
            #"""
            [{ "name": "m", "enabled": true, "policy": "mock", "configuration": { "status": 200 } },
             { "name": "t", "enabled": true, "policy": "transform-headers",
               "configuration": { "addHeaders": [{ "name": "X", "value": "{#request.headers['none'][0]}" }] } }]
            """#)
        let failed = await failing.start(Self.request()).runRequest()
        #expect(failed.error?.key == "TRANSFORM_HEADERS_FAILURE")
        let (plain, _) = try Self.engine(
            #"[{ "name": "l", "enabled": true, "policy": "latency", "configuration": { "time": 0 } }]"#)
        guard case .proceed = await plain.start(Self.request()).runRequest() else {
            Issue.record("expected the request to proceed")
            return
        }
    }

    @Test("refused in message APIs, with the step's path")
    func messageAPI() throws {
        let (_, diagnostics) = try Self.engine(
            #"[{ "name": "m", "enabled": true, "policy": "mock", "configuration": { "status": 200 } }]"#,
            type: "message")
        #expect(
            diagnostics.contains {
                $0.path == "flows[0].request[0].policy" && $0.code == "UNSUPPORTED_POLICY"
                    && $0.message == "'mock' runs in proxy APIs, not 'message' APIs"
            }, "\(diagnostics)")
    }
}
