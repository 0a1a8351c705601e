import Foundation
import Testing

@testable import SluiceCore

/// Reading rate-limit steps out of plan and API flows, refusing what cannot run, and choosing the steps and counter
/// keys for a request.
@Suite("rate-limit rules")
struct RateLimitRulesTests {
    static func definition(flows: String = "[]", planFlows: String = "[]", extra: String = "") throws -> APIDefinition {
        let json = """
            { "id": "orders", "name": "orders", "definitionVersion": "4.0.0", "type": "message",
              "listeners": [{ "type": "http", "paths": [{ "path": "/orders" }], "entrypoints": [{ "type": "http-post" }] }],
              "endpointGroups": [{ "name": "g", "type": "mock", "endpoints": [{ "name": "e", "type": "mock" }] }],
              "plans": [
                { "id": "gold", "name": "gold", "security": { "type": "api-key" }, "status": "PUBLISHED", "flows": \(planFlows) },
                { "id": "open", "name": "open", "security": { "type": "key-less" }, "status": "PUBLISHED" }],
              "flows": \(flows)\(extra) }
            """
        let read = APIDefinitionReader().read(try JSONValue.parse(json: Data(json.utf8)))
        return try #require(read.definition)
    }

    static func step(
        _ policy: String = "rate-limit", field: String = "rate", limit: Int = 5, phase: String = "request",
        inner: String = "", outer: String = "", stepExtra: String = ""
    ) -> String {
        """
        "\(phase)": [{ "name": "limit", "policy": "\(policy)", "enabled": true\(stepExtra),
          "configuration": { "addHeaders": true\(outer), "\(field)": { "limit": \(limit), "periodTime": 1, "periodTimeUnit": "MINUTES"\(inner) } } }]
        """
    }

    static func rules(_ definition: APIDefinition) -> (RateLimitRules, [Diagnostic]) {
        var diagnostics = DiagnosticCollector()
        let rules = RateLimitRules(definition, diagnostics: &diagnostics)
        return (rules, diagnostics.diagnostics)
    }

    static func request(
        plan: String = "gold", subscription: String? = "sub-1", address: String? = "10.0.0.1", path: String = "/",
        method: String = "POST", entrypoint: String = "http-post", operations: Set<ConnectorMode> = [.publish]
    ) -> RateLimitRequest {
        RateLimitRequest(
            api: "orders",
            plan: .init(
                id: plan, securityType: subscription == nil ? "key-less" : "api-key", subscription: subscription),
            clientAddress: address, path: path[...], method: method, entrypoint: entrypoint, operations: operations)
    }

    @Test("plan flow and API flow steps are read with their phase, plan and place; a valid definition has no errors")
    func reading() throws {
        let definition = try Self.definition(
            flows:
                "[{ \"name\": \"api\", \(Self.step(limit: 10)), \(Self.step("quota", field: "quota", limit: 2, phase: "publish")) }]",
            planFlows: "[{ \"name\": \"plan\", \(Self.step("spike-arrest", field: "spike", limit: 6)) }]")
        let (rules, diagnostics) = Self.rules(definition)
        #expect(diagnostics.isEmpty, "\(diagnostics)")
        #expect(rules.steps.map(\.policy.kind) == [.spikeArrest, .rateLimit, .quota])
        #expect(rules.steps.map(\.plan) == ["gold", nil, nil])
        #expect(rules.steps.map(\.phase) == [.request, .request, .publish])
        #expect(
            rules.steps.map(\.location) == [
                "plans[0].flows[0].request[0]", "flows[0].request[0]", "flows[0].publish[0]",
            ])
        #expect(rules.steps[1].policy.period == RateLimitPeriod(count: 1, unit: .minutes))
        #expect(rules.steps[2].policy.period == RateLimitPeriod(count: 1, unit: .minutes, calendarDays: true))
    }

    @Test("plan steps apply to their plan only, plan flows before API flows, the phases asked in order")
    func gateSelection() throws {
        let definition = try Self.definition(
            flows:
                "[{ \"name\": \"api\", \(Self.step(limit: 10)), \(Self.step("quota", field: "quota", limit: 2, phase: "publish")) }]",
            planFlows: "[{ \"name\": \"plan\", \(Self.step(limit: 6)) }]")
        let (rules, _) = Self.rules(definition)
        let gold = rules.gate([.request, .publish], for: Self.request())
        #expect(gold.entries.map(\.policy.limit) == [6, 10, 2])
        let open = rules.gate([.request, .publish], for: Self.request(plan: "open", subscription: nil))
        #expect(open.entries.map(\.policy.limit) == [10, 2])
        #expect(rules.gate([.request], for: Self.request(plan: "open", subscription: nil)).entries.count == 1)
    }

    @Test(
        "counter keys: per API, plan and subscription; per client address on a key-less plan; per step; useKeyOnly shares"
    )
    func keys() throws {
        let definition = try Self.definition(
            flows: """
                [{ "name": "a", \(Self.step(limit: 10)) },
                 { "name": "b", \(Self.step(limit: 10, inner: #", "key": "partner", "useKeyOnly": true"#)) }]
                """)
        let (rules, diagnostics) = Self.rules(definition)
        #expect(diagnostics.isEmpty, "\(diagnostics)")
        func keys(_ request: RateLimitRequest) -> [String] { rules.gate([.request], for: request).entries.map(\.key) }
        let first = keys(Self.request(subscription: "sub-1"))
        let second = keys(Self.request(subscription: "sub-2"))
        #expect(first[0] != second[0])
        #expect(first[0].contains("sub-1") && first[0].contains("orders") && first[0].contains("flows[0].request[0]"))
        // useKeyOnly: the fixed key and the policy only, the same for every subscription.
        #expect(first[1] == second[1])
        #expect(first[1] == "partner\u{1F}rl")
        let fromA = keys(Self.request(plan: "open", subscription: nil, address: "10.0.0.1"))
        let fromB = keys(Self.request(plan: "open", subscription: nil, address: "10.0.0.2"))
        #expect(fromA[0] != fromB[0])
        #expect(fromA[0].contains("10.0.0.1"))
    }

    @Test(
        "http selectors: path STARTS_WITH / EQUALS with parameters, methods; channel selectors: operations, entrypoints"
    )
    func selectors() throws {
        let definition = try Self.definition(
            flows: """
                [{ "name": "sub", "selectors": [{ "type": "http", "path": "/books/:id", "pathOperator": "STARTS_WITH", "methods": ["POST"] }], \(Self.step(limit: 1)) },
                 { "name": "exact", "selectors": [{ "type": "http", "path": "/exact", "pathOperator": "EQUALS" }], \(Self.step(limit: 2)) },
                 { "name": "chan", "selectors": [{ "type": "channel", "channel": "/", "channel-operator": "START_WITH", "operation": ["SUBSCRIBE"], "entrypoints": ["sse"] }], \(Self.step(limit: 3)) }]
                """)
        let (rules, diagnostics) = Self.rules(definition)
        #expect(diagnostics.isEmpty, "\(diagnostics)")
        func limits(_ path: String, _ method: String = "POST", _ entrypoint: String = "http-post") -> [Int64] {
            let operations: Set<ConnectorMode> = entrypoint == "http-post" ? [.publish] : [.subscribe]
            return rules.gate(
                [.request],
                for: Self.request(path: path, method: method, entrypoint: entrypoint, operations: operations)
            ).entries.map(\.policy.limit)
        }
        #expect(limits("/books/12") == [1])
        #expect(limits("/books/12/pages/3") == [1])
        #expect(limits("/books") == [])
        #expect(limits("/books/12", "GET", "http-get") == [])
        #expect(limits("/exact") == [2])
        #expect(limits("/exact/") == [2])
        #expect(limits("/exact/more") == [])
        #expect(limits("/", "GET", "sse") == [3])
        #expect(limits("/", "GET", "http-get") == [])
    }

    @Test("disabled steps and flows are left out")
    func disabled() throws {
        let definition = try Self.definition(
            flows: """
                [{ "name": "off", "enabled": false, \(Self.step(limit: 1)) },
                 { "name": "on", "request": [{ "policy": "rate-limit", "enabled": false, "configuration": {} }] }]
                """)
        let (rules, diagnostics) = Self.rules(definition)
        #expect(rules.isEmpty)
        #expect(diagnostics.isEmpty)
    }

    @Test(
        "what cannot run is refused with its JSON path: conditions, expressions, phases, bad values",
        arguments: [
            (
                #"{ "name": "f", \#(RateLimitRulesTests.step(stepExtra: #", "condition": "{#request.headers['x'] != null}""#)) }"#,
                "flows[0].request[0].condition", "UNSUPPORTED_EXPRESSION"
            ),
            (
                #"{ "name": "f", "selectors": [{ "type": "condition", "condition": "{#true}" }], \#(RateLimitRulesTests.step()) }"#,
                "flows[0].selectors[0].condition", "UNSUPPORTED_EXPRESSION"
            ),
            (
                #"{ "name": "f", "condition": "{#true}", \#(RateLimitRulesTests.step()) }"#, "flows[0].condition",
                "UNSUPPORTED_EXPRESSION"
            ),
            (
                #"{ "name": "f", \#(RateLimitRulesTests.step(inner: #", "key": "{#request.headers['X-User'][0]}""#)) }"#,
                "flows[0].request[0].configuration.rate.key", "UNSUPPORTED_EXPRESSION"
            ),
            (
                #"{ "name": "f", \#(RateLimitRulesTests.step(limit: 0, inner: #", "dynamicLimit": "{#properties['limit']}""#)) }"#,
                "flows[0].request[0].configuration.rate.dynamicLimit", "UNSUPPORTED_EXPRESSION"
            ),
            (
                #"{ "name": "f", \#(RateLimitRulesTests.step(inner: #", "dynamicPeriodTime": "{#properties['p']}""#)) }"#,
                "flows[0].request[0].configuration.rate.dynamicPeriodTime", "UNSUPPORTED_EXPRESSION"
            ),
            (
                #"{ "name": "f", \#(RateLimitRulesTests.step(limit: 0)) }"#,
                "flows[0].request[0].configuration.rate.limit", "MISSING_FIELD"
            ),
            (
                #"{ "name": "f", \#(RateLimitRulesTests.step(phase: "subscribe")) }"#, "flows[0].subscribe[0].policy",
                "UNSUPPORTED_PHASE"
            ),
            (
                #"{ "name": "f", \#(RateLimitRulesTests.step(inner: #", "periodTimeUnit": "FORTNIGHTS""#)) }"#,
                "flows[0].request[0].configuration.rate.periodTimeUnit", "INVALID_VALUE"
            ),
            (
                #"{ "name": "f", \#(RateLimitRulesTests.step("quota", field: "quota", inner: #", "periodTimeUnit": "MILLISECONDS""#)) }"#,
                "flows[0].request[0].configuration.quota.periodTimeUnit", "INVALID_VALUE"
            ),
            (
                #"{ "name": "f", \#(RateLimitRulesTests.step(outer: #", "errorStrategy": "IGNORE""#)) }"#,
                "flows[0].request[0].configuration.errorStrategy", "INVALID_VALUE"
            ),
            (
                #"{ "name": "f", "request": [{ "policy": "spike-arrest", "configuration": { "rate": { "limit": 1 } } }] }"#,
                "flows[0].request[0].configuration.spike", "MISSING_FIELD"
            ),
            (
                #"{ "name": "f", "selectors": [{ "type": "http", "path": "/", "methods": ["FETCH"] }], \#(RateLimitRulesTests.step()) }"#,
                "flows[0].selectors[0].methods[0]", "INVALID_VALUE"
            ),
        ])
    func refusals(flow: String, path: String, code: String) throws {
        let (rules, diagnostics) = Self.rules(try Self.definition(flows: "[\(flow)]"))
        let errors = diagnostics.filter { $0.severity == .error }
        #expect(errors.contains { $0.path == path && $0.code == code }, "\(diagnostics)")
        _ = rules
    }

    @Test("BEST_MATCH flow execution and matchRequired are refused while rate-limit steps need flows to run")
    func flowExecution() throws {
        let definition = try Self.definition(
            flows: "[{ \"name\": \"f\", \(Self.step()) }]",
            extra: #", "flowExecution": { "mode": "BEST_MATCH", "matchRequired": true }"#)
        let errors = Self.rules(definition).1.filter { $0.severity == .error }
        #expect(errors.map(\.path).sorted() == ["flowExecution.matchRequired", "flowExecution.mode"])
    }

    @Test("unknown fields are warned about, a dynamic limit beside a static one is ignored with a warning")
    func warnings() throws {
        let definition = try Self.definition(
            flows: """
                [{ "name": "f", \(Self.step(inner: #", "dynamicLimit": "{#x}", "burst": 3"#, outer: #", "colour": "red""#)) }]
                """)
        let (rules, diagnostics) = Self.rules(definition)
        #expect(rules.steps.count == 1)
        #expect(diagnostics.allSatisfy { $0.severity == .warning }, "\(diagnostics)")
        #expect(
            Set(diagnostics.map(\.path)) == [
                "flows[0].request[0].configuration.colour", "flows[0].request[0].configuration.rate.burst",
                "flows[0].request[0].configuration.rate.dynamicLimit",
            ])
    }
}
