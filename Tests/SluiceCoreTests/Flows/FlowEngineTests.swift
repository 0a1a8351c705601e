import Foundation
import NIOCore
import Testing

@testable import SluiceCore

/// The flow engine without sockets: compiling flows (and refusing what cannot run), picking flows (selectors,
/// conditions, best match, matchRequired), running phases in order.
@Suite("flow engine")
struct FlowEngineTests {
    static func definition(
        flows: String = "[]", planFlows: String = "[]", extra: String = "", properties: String = "[]"
    ) throws -> APIDefinition {
        let json = """
            { "id": "orders", "name": "orders", "definitionVersion": "4.0.0", "type": "message",
              "listeners": [{ "type": "http", "paths": [{ "path": "/orders" }], "entrypoints": [{ "type": "http-get" }] }],
              "endpointGroups": [{ "name": "g", "type": "mock", "endpoints": [{ "name": "e", "type": "mock" }] }],
              "plans": [{ "id": "open", "name": "open", "security": { "type": "key-less" }, "status": "PUBLISHED", "flows": \(planFlows) }],
              "properties": \(properties),
              "flows": \(flows)\(extra) }
            """
        let read = APIDefinitionReader().read(try JSONValue.parse(json: Data(json.utf8)))
        return try #require(read.definition)
    }

    static func engine(_ definition: APIDefinition) -> (FlowEngine, [Diagnostic]) {
        var diagnostics = DiagnosticCollector()
        let engine = FlowEngine(definition, diagnostics: &diagnostics)
        return (engine, diagnostics.diagnostics)
    }

    /// A flow whose response phase sets `X-Flow: <name>`.
    static func flow(_ name: String, selectors: String = "[]", condition: String? = nil, steps: String = "") -> String {
        let conditionField = condition.map { #", "condition": "\#($0)""# } ?? ""
        let response =
            #"{ "policy": "transform-headers", "configuration": { "addHeaders": [{ "name": "X-Flow", "value": "\#(name)" }] } }"#
        return """
            { "name": "\(name)", "enabled": true, "selectors": \(selectors)\(conditionField),
              "response": [\(response)]\(steps.isEmpty ? "" : ", " + steps) }
            """
    }

    static func channel(_ path: String, _ op: String = "STARTS_WITH") -> String {
        #"[{ "type": "channel", "channel": "\#(path)", "channel-operator": "\#(op)", "operation": ["SUBSCRIBE"] }]"#
    }

    static func request(
        _ path: String, headers: MessageHeaders = MessageHeaders(), entrypoint: String = "http-get",
        operations: Set<ConnectorMode> = [.subscribe], subscription: FlowRequest.Subscription? = nil
    ) -> FlowRequest {
        FlowRequest(
            path: path, contextPath: "/orders", method: "GET", entrypoint: entrypoint, operations: operations,
            headers: headers, plan: "open", subscription: subscription, id: "req-1", timestamp: 1)
    }

    /// The X-Flow headers the picked flows' response phase sets, in order.
    static func responseFlows(_ run: FlowRun) async -> [String] {
        var headers = MessageHeaders()
        _ = await run.runResponse(headers: &headers)
        return headers["X-Flow"]
    }

    @Test("DEFAULT runs every matching flow, plan flows first, each phase once; selectors by segment")
    func defaultMode() async throws {
        let definition = try Self.definition(
            flows:
                "[\(Self.flow("root", selectors: Self.channel("/"))), \(Self.flow("products", selectors: Self.channel("/products")))]",
            planFlows: "[\(Self.flow("plan"))]")
        let (engine, diagnostics) = Self.engine(definition)
        #expect(diagnostics.filter { $0.severity == .error }.isEmpty, "\(diagnostics)")
        let all = engine.start(Self.request("/products/12"))
        #expect(all.flowNames == ["plan", "root", "products"])
        // addHeaders sets (replaces): the last flow's value stays.
        #expect(await Self.responseFlows(all) == ["products"])
        #expect(engine.start(Self.request("/productsX")).flowNames == ["plan", "root"])
        #expect(engine.start(Self.request("/")).flowNames == ["plan", "root"])
        // An http-post request publishes: SUBSCRIBE selectors do not match it.
        #expect(engine.start(Self.request("/", entrypoint: "http-post", operations: [.publish])).flowNames == ["plan"])
    }

    @Test("EQUALS matches the path exactly; STARTS_WITH by leading segments")
    func operators() throws {
        let definition = try Self.definition(
            flows:
                "[\(Self.flow("exact", selectors: Self.channel("/", "EQUALS"))), \(Self.flow("prefix", selectors: Self.channel("/")))]"
        )
        let (engine, _) = Self.engine(definition)
        #expect(engine.start(Self.request("/")).flowNames == ["exact", "prefix"])
        #expect(engine.start(Self.request("")).flowNames == ["exact", "prefix"])
        #expect(engine.start(Self.request("/products")).flowNames == ["prefix"])
    }

    @Test("condition selectors and flow conditions pick flows once, with Gravitee's trailing blank read as true")
    func conditions() throws {
        let selector = { (value: String) in
            #"[{ "type": "channel", "channel": "/" }, { "type": "condition", "condition": "{#request.headers['X-Pick'][0] == '\#(value)'} " }]"#
        }
        let definition = try Self.definition(
            flows: """
                [\(Self.flow("a", selectors: selector("a"))), \(Self.flow("b", selectors: selector("b"))),
                 \(Self.flow("c", condition: "{#request.params['v'][0] == '2'}"))]
                """)
        let (engine, diagnostics) = Self.engine(definition)
        #expect(diagnostics.filter { $0.severity == .error }.isEmpty, "\(diagnostics)")
        #expect(engine.start(Self.request("/", headers: [("X-Pick", "a")])).flowNames == ["a"])
        #expect(engine.start(Self.request("/", headers: [("x-pick", "b")])).flowNames == ["b"])
        // No header: `['X-Pick'][0]` indexes null, an evaluation error: the flow is not picked.
        #expect(engine.start(Self.request("/")).flowNames.isEmpty)
        var withQuery = Self.request("/")
        withQuery.query = [("v", "2")]
        #expect(engine.start(withQuery).flowNames == ["c"])
    }

    @Test("best match picks Gravitee's flow for each request path, plan and API flows each")
    func bestMatch() throws {
        let definition = try Self.definition(
            flows: """
                [\(Self.flow("/books", selectors: Self.channel("/books"))),
                 \(Self.flow("/books/:bookId/chapters/:chapterId", selectors: Self.channel("/books/:bookId/chapters/:chapterId"))),
                 \(Self.flow("/books/:bookId/chapters/:chapterId/pages/:pageId", selectors: Self.channel("/books/:bookId/chapters/:chapterId/pages/:pageId"))),
                 \(Self.flow("/books/9999/chapters", selectors: Self.channel("/books/9999/chapters")))]
                """,
            planFlows: """
                [\(Self.flow("/", selectors: Self.channel("/"))), \(Self.flow("plan /books", selectors: Self.channel("/books"))),
                 \(Self.flow("/books/:bookId", selectors: Self.channel("/books/:bookId")))]
                """,
            extra: #", "flowExecution": { "mode": "best-match" }"#)
        let (engine, diagnostics) = Self.engine(definition)
        #expect(diagnostics.filter { $0.severity == .error }.isEmpty, "\(diagnostics)")
        let expected: [(String, [String])] = [
            ("/", ["/"]),
            ("/books", ["plan /books", "/books"]),
            ("/books/145", ["/books/:bookId", "/books"]),
            ("/books/145/chapters/12", ["/books/:bookId", "/books/:bookId/chapters/:chapterId"]),
            ("/books/9999/chapters/1", ["/books/:bookId", "/books/9999/chapters"]),
            ("/books/9999/chapters", ["/books/:bookId", "/books/9999/chapters"]),
            ("/books/1/chapters/2/pages/3", ["/books/:bookId", "/books/:bookId/chapters/:chapterId/pages/:pageId"]),
        ]
        for (path, flows) in expected {
            #expect(engine.start(Self.request(path)).flowNames == flows, "\(path)")
        }
    }

    @Test("matchRequired: no flow matched is 404 FLOW_EXECUTION_FLOW_MATCHED_FAILURE; a plan flow is enough")
    func matchRequired() async throws {
        let definition = try Self.definition(
            flows: "[\(Self.flow("products", selectors: Self.channel("/products")))]",
            extra: #", "flowExecution": { "mode": "DEFAULT", "matchRequired": true }"#)
        let (engine, _) = Self.engine(definition)
        #expect(!engine.isEmpty)
        let error = await engine.start(Self.request("/other")).runRequest().error
        #expect(error?.status == 404)
        #expect(error?.key == "FLOW_EXECUTION_FLOW_MATCHED_FAILURE")
        #expect(await engine.start(Self.request("/products")).runRequest().error == nil)
        let withPlanFlow = try Self.definition(
            flows: "[\(Self.flow("products", selectors: Self.channel("/products")))]",
            planFlows: "[\(Self.flow("plan"))]", extra: #", "flowExecution": { "matchRequired": true }"#)
        #expect(await Self.engine(withPlanFlow).0.start(Self.request("/other")).runRequest().error == nil)
    }

    @Test("deploy diagnostics: syntax errors with path and column, unknown variables, wrong phases, bad configuration")
    func diagnostics() throws {
        let definition = try Self.definition(
            flows: """
                [{ "name": "f", "selectors": [{ "type": "condition", "condition": "{#request.headers['a'] ==}" }],
                   "request": [
                     { "policy": "transform-headers", "condition": "{#node.version == '1'}", "configuration": {} },
                     { "policy": "message-filtering", "configuration": { "filter": "{#message.content == 'x'}" } },
                     { "policy": "json-validation", "configuration": {} }],
                   "subscribe": [
                     { "policy": "message-filtering", "configuration": { "filter": "{#message.content ==== 'x'}" } },
                     { "policy": "json-validation", "configuration": { "schema": "{ \\"$ref\\": \\"#/a\\" }" } },
                     { "policy": "policy-assign-content", "configuration": { "body": "${message.content}" } },
                     { "policy": "latency", "configuration": { "time": 1, "timeUnit": "YEARS" } }] }]
                """)
        let (_, diagnostics) = Self.engine(definition)
        let errors = diagnostics.filter { $0.severity == .error }
        func has(_ path: String, _ code: String, _ text: String = "") -> Bool {
            errors.contains { $0.path == path && $0.code == code && (text.isEmpty || $0.message.contains(text)) }
        }
        #expect(has("flows[0].selectors[0].condition", "INVALID_EXPRESSION", "column"), "\(errors)")
        #expect(has("flows[0].request[0].condition", "UNSUPPORTED_EXPRESSION", "#node"), "\(errors)")
        #expect(has("flows[0].request[1].policy", "UNSUPPORTED_PHASE"), "\(errors)")
        #expect(has("flows[0].request[2].policy", "UNSUPPORTED_PHASE"), "\(errors)")
        #expect(has("flows[0].subscribe[0].configuration.filter", "INVALID_EXPRESSION", "column"), "\(errors)")
        #expect(has("flows[0].subscribe[1].configuration.schema", "UNSUPPORTED_VALUE", "$ref"), "\(errors)")
        #expect(has("flows[0].subscribe[2].configuration.body", "UNSUPPORTED_VALUE", "FreeMarker"), "\(errors)")
        #expect(has("flows[0].subscribe[3].configuration.timeUnit", "INVALID_VALUE"), "\(errors)")
    }

    @Test("unknown policy ids are deploy diagnostics naming the policy")
    func unknownPolicy() throws {
        var catalog = DefinitionCatalog()
        catalog.policies = FlowPolicies.ids
        catalog.securityTypes = ["key-less"]
        let definition = try Self.definition(
            flows: #"[{ "name": "f", "request": [{ "policy": "groovy", "configuration": {} }] }]"#)
        let diagnostics = catalog.validate(definition)
        #expect(
            diagnostics.contains {
                $0.path == "flows[0].request[0].policy" && $0.code == "UNSUPPORTED_TYPE"
                    && $0.message.contains("groovy")
            }, "\(diagnostics)")
    }

    @Test("request phase then message phases: attributes, headers, step conditions once, message conditions each")
    func phases() async throws {
        let definition = try Self.definition(
            flows: """
                [{ "name": "f", "enabled": true,
                   "request": [
                     { "policy": "policy-assign-attributes", "configuration": { "attributes": [
                        { "name": "tenant", "value": "{#request.headers['X-Tenant'][0]}" },
                        { "name": "gravitee.attribute.kafka.topics", "value": "orders-{#request.headers['X-Tenant'][0]}" }] } },
                     { "policy": "transform-headers", "configuration": {
                        "addHeaders": [{ "name": "X-Seen", "value": "{#context.attributes['tenant']}" }], "removeHeaders": ["X-Tenant"] } }],
                   "subscribe": [
                     { "policy": "message-filtering", "condition": "{#context.attributes['tenant'] == 'acme'}",
                       "configuration": { "filter": "{#jsonPath(#message.content, '$.tenant') == #context.attributes['tenant']}" } },
                     { "policy": "transform-headers", "messageCondition": "{#message.headers['X-Kind'] != null}",
                       "configuration": { "addHeaders": [{ "name": "X-Prop", "value": "{#api.properties['region']}" }] } }] }]
                """,
            properties: #"[{ "key": "region", "value": "eu" }]"#)
        let (engine, diagnostics) = Self.engine(definition)
        #expect(diagnostics.filter { $0.severity == .error }.isEmpty, "\(diagnostics)")
        let run = engine.start(Self.request("/", headers: [("X-Tenant", "acme")]))
        #expect(await run.runRequest().error == nil)
        #expect(run.requestHeaders["X-Seen"] == ["acme"])
        #expect(run.requestHeaders["X-Tenant"].isEmpty)
        #expect(run.attributes["tenant"] == .string("acme"))
        #expect(run.endpointAttributes["gravitee.attribute.kafka.topics"] == "orders-acme")
        #expect(run.endpointAttributes["gravitee.attribute.api"] == "orders")
        func message(_ tenant: String, kind: Bool) -> Message {
            Message(
                content: ByteBuffer(string: #"{"tenant":"\#(tenant)"}"#),
                headers: kind ? [("X-Kind", "k")] : MessageHeaders())
        }
        guard case .deliver(let kept) = await run.process(message("acme", kind: true), in: .subscribe) else {
            Issue.record("acme's message dropped")
            return
        }
        #expect(kept.headers["X-Prop"] == ["eu"])
        guard case .deliver(let plain) = await run.process(message("acme", kind: false), in: .subscribe) else {
            Issue.record("acme's second message dropped")
            return
        }
        #expect(plain.headers["X-Prop"].isEmpty)
        guard case .drop = await run.process(message("other", kind: true), in: .subscribe) else {
            Issue.record("another tenant's message went through")
            return
        }
        // The filter's step condition is false for another tenant: the filter does not run, messages pass.
        let other = engine.start(Self.request("/", headers: [("X-Tenant", "globex")]))
        _ = await other.runRequest()
        guard case .deliver = await other.process(message("acme", kind: false), in: .subscribe) else {
            Issue.record("the step condition did not skip the filter")
            return
        }
    }

    @Test("#subscription shows the subscription and its application; its members are null on a key-less plan")
    func subscriptionScope() async throws {
        let definition = try Self.definition(
            flows: """
                [{ "name": "f", "subscribe": [{ "policy": "message-filtering", "configuration": {
                   "filter": "{#subscription.metadata['customer'] == #jsonPath(#message.content, '$.customer')}" } }],
                   "response": [{ "policy": "transform-headers", "configuration": { "addHeaders": [
                     { "name": "X-Client", "value": "{#subscription.clientId}" },
                     { "name": "X-App", "value": "{#subscription.applicationName}" },
                     { "name": "X-Sub", "value": "{#subscription.id}" }] } }] }]
                """)
        let (engine, _) = Self.engine(definition)
        let subscription = FlowRequest.Subscription(
            id: "sub-1", applicationID: "app-1", applicationName: "Shop", clientID: "client-9", plan: "open",
            metadata: ["customer": "c1"])
        let run = engine.start(Self.request("/", subscription: subscription))
        var headers = MessageHeaders()
        #expect(await run.runResponse(headers: &headers) == nil)
        #expect(headers["X-Client"] == ["client-9"])
        #expect(headers["X-App"] == ["Shop"])
        #expect(headers["X-Sub"] == ["sub-1"])
        guard
            case .deliver = await run.process(
                Message(content: ByteBuffer(string: #"{"customer":"c1"}"#)), in: .subscribe)
        else {
            Issue.record("own event dropped")
            return
        }
        guard
            case .drop = await run.process(Message(content: ByteBuffer(string: #"{"customer":"c2"}"#)), in: .subscribe)
        else {
            Issue.record("another customer's event delivered")
            return
        }
        // Key-less: `#subscription.metadata` is null, indexing it is an error, the filter drops.
        let keyless = engine.start(Self.request("/"))
        guard
            case .drop = await keyless.process(
                Message(content: ByteBuffer(string: #"{"customer":"c1"}"#)), in: .subscribe)
        else {
            Issue.record("filter on a null subscription let the message through")
            return
        }
    }
}
