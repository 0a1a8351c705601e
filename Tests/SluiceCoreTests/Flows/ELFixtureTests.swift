import Foundation
import Testing

@testable import SluiceCore

/// The flows of Gravitee's `el/` fixtures (proxy APIs: this gateway does not serve them, so they are compiled and
/// run here without sockets), with what their authors expect.
@Suite("Gravitee el fixtures")
struct ELFixtureTests {
    static func definition(_ name: String) throws -> APIDefinition {
        let data = try Data(contentsOf: ReferenceCorpus.root.appendingPathComponent("el/\(name)"))
        return try #require(APIDefinitionReader().read(try JSONValue.parse(json: data)).definition)
    }

    static func request(subscription: FlowRequest.Subscription? = nil) -> FlowRequest {
        FlowRequest(
            path: "/", contextPath: "/test", method: "GET", entrypoint: "http-proxy", operations: [],
            subscription: subscription, id: "r")
    }

    @Test("api-with-subscription-el.json: #subscription.clientId, applicationName and id as response headers")
    func subscriptionExpressions() async throws {
        guard ReferenceCorpus.isPresent else {
            print("skipped: ../shared/reference/gravitee-v4 is not present in this checkout")
            return
        }
        var diagnostics = DiagnosticCollector()
        let engine = FlowEngine(try Self.definition("api-with-subscription-el.json"), diagnostics: &diagnostics)
        #expect(diagnostics.diagnostics.filter { $0.severity == .error }.isEmpty, "\(diagnostics.diagnostics)")
        let run = engine.start(
            Self.request(
                subscription: .init(
                    id: "sub-1", applicationID: "app-1", applicationName: "My App", clientID: "my-client", plan: "p")))
        #expect(run.flowNames == ["flow-1"])
        var headers = MessageHeaders()
        #expect(await run.runResponse(headers: &headers) == nil)
        #expect(headers["X-Expression-ClientId"] == ["my-client"])
        #expect(headers["X-Expression-ApplicationName"] == ["My App"])
        #expect(headers["X-Expression-Subscription"] == ["sub-1"])
    }

    @Test(
        "api-with-ELs.json: #api.properties, #context.attributes and #request.contextPath run; #dictionaries and #node are refused at deploy by path"
    )
    func apiExpressions() async throws {
        guard ReferenceCorpus.isPresent else {
            print("skipped: ../shared/reference/gravitee-v4 is not present in this checkout")
            return
        }
        var diagnostics = DiagnosticCollector()
        let engine = FlowEngine(try Self.definition("api-with-ELs.json"), diagnostics: &diagnostics)
        let errors = diagnostics.diagnostics.filter { $0.severity == .error }
        #expect(
            errors.map(\.path) == [
                "flows[0].request[1].configuration.addHeaders[0].value",
                "flows[0].request[1].configuration.addHeaders[1].value",
            ], "\(errors)")
        #expect(errors.allSatisfy { $0.code == "UNSUPPORTED_EXPRESSION" })
        #expect(errors.first?.message.contains("#dictionaries") == true)
        // What does compile runs as the fixture expects (the refused headers are left out of the step).
        let run = engine.start(Self.request())
        #expect(await run.runRequest().error == nil)
        #expect(run.attributes["test"] == .string("this is an attribute"))
        #expect(run.requestHeaders["X-Api-Property"] == ["this is an API property"])
        #expect(run.requestHeaders["X-Context-Attributes"] == ["this is an attribute"])
        #expect(run.requestHeaders["X-Request-Path"] == ["/test/"])
    }
}
