import Foundation
import SluiceCore
import SluiceGateway
import Testing

/// Definitions with a `subscription` listener and a `webhook` entrypoint, `PUSH` plans and a `dlq`.
@Suite("webhook definitions")
struct WebhookDefinitionTests {
    static func definition(
        qos: String = "auto", configuration: String = "{}", dlq: String? = nil,
        plans: String = #"[{ "id": "push", "name": "Push", "mode": "PUSH", "status": "PUBLISHED" }]"#,
        extraGroups: String = ""
    ) -> String {
        let dlqField = dlq.map { #", "dlq": { "endpoint": "\#($0)" }"# } ?? ""
        return """
            {
              "id": "hooks", "name": "hooks", "definitionVersion": "4.0.0", "type": "message",
              "listeners": [{ "type": "subscription", "entrypoints": [{ "type": "webhook", "qos": "\(qos)", "configuration": \(configuration)\(dlqField) }] }],
              "endpointGroups": [
                { "name": "default", "type": "mock", "endpoints": [{ "name": "source", "type": "mock", "configuration": { "messageInterval": 10, "messageCount": 5 } }] }
                \(extraGroups)
              ],
              "plans": \(plans)
            }
            """
    }

    static func load(_ text: String) -> LoadedDefinition {
        DefinitionLoader(catalog: .gateway).load(data: Data(text.utf8), source: "hooks.json")
    }

    @Test("a webhook API with a PUSH plan, Gravitee's http options, retries and a DLQ in another group deploys")
    func deploys() throws {
        let loaded = Self.load(
            Self.definition(
                qos: "at-least-once",
                configuration:
                    #"{ "http": { "connectTimeout": 1000, "readTimeout": 2000, "idleTimeout": 0, "maxConcurrentConnections": 10 }, "retry": { "maxRetries": 2, "delayMs": 10, "maxDelayMs": 40 }, "interruptOnServerError": false }"#,
                dlq: "dead-letters",
                extraGroups:
                    #", { "name": "dlq", "type": "inmemory", "endpoints": [{ "name": "dead-letters", "type": "inmemory", "configuration": { "topic": "dlq" } }] }"#
            ))
        #expect(loaded.isDeployable, "\(loaded.diagnostics)")
        let definition = try #require(loaded.definition)
        #expect(definition.plans.first?.isPush == true)
        #expect(definition.subscriptionEntrypoints.first?.dlqEndpoint == "dead-letters")
    }

    @Test("Gravitee's webhook fixtures (../shared/reference) read, with only their unsupported policies refused")
    func graviteeFixture() throws {
        let url = packageRoot.deletingLastPathComponent().appendingPathComponent(
            "shared/reference/gravitee-v4/messages/webhook/webhook-entrypoint-mock-endpoint.json")
        guard let data = try? Data(contentsOf: url) else { return }
        let loaded = DefinitionLoader(catalog: .gateway).load(data: data, source: url.lastPathComponent)
        #expect(loaded.errors.map(\.code) == ["UNSUPPORTED_TYPE"], "\(loaded.errors)")
        #expect(loaded.errors.first?.message.contains("message-flow-ready") == true)
    }

    @Test(
        "mistakes are refused at their JSON path",
        arguments: [
            (
                #"{ "http": { "maxConcurrentConnections": 21 } }"#, nil,
                "listeners[0].entrypoints[0].configuration.http.maxConcurrentConnections", "INVALID_VALUE"
            ),
            (
                #"{ "proxy": { "enabled": true } }"#, nil, "listeners[0].entrypoints[0].configuration.proxy.host",
                "MISSING_FIELD"
            ),
            (
                #"{ "proxy": { "enabled": true, "useSystemProxy": true } }"#, nil,
                "listeners[0].entrypoints[0].configuration.proxy.useSystemProxy", "UNSUPPORTED"
            ),
            (
                #"{ "proxy": { "enabled": true, "host": "p.test", "port": 3128, "type": "SOCKS4" } }"#, nil,
                "listeners[0].entrypoints[0].configuration.proxy.type", "UNSUPPORTED_TYPE"
            ),
            (
                #"{ "retry": { "delayMs": 100, "maxDelayMs": 10 } }"#, nil,
                "listeners[0].entrypoints[0].configuration.retry.maxDelayMs", "INVALID_VALUE"
            ),
            ("{}", "nowhere", "listeners[0].entrypoints[0].dlq.endpoint", "UNKNOWN_ENDPOINT"),
        ] as [(String, String?, String, String)])
    func mistakes(configuration: String, dlq: String?, path: String, code: String) {
        let loaded = Self.load(Self.definition(configuration: configuration, dlq: dlq))
        #expect(!loaded.isDeployable)
        #expect(loaded.errors.contains { $0.path == path && $0.code == code }, "\(loaded.errors)")
    }

    @Test("a webhook entrypoint in an http listener is refused")
    func wrongListener() {
        let text = Self.definition().replacingOccurrences(
            of: #""type": "subscription""#, with: #""type": "http", "paths": [{ "path": "/h" }]"#)
        let loaded = Self.load(text)
        #expect(
            loaded.errors.contains { $0.message.contains("belongs in a 'subscription' listener") }, "\(loaded.errors)")
    }

    @Test("a PUSH plan takes no HTTP request: an http entrypoint of the same API answers 401")
    func pushPlanTakesNoRequest() {
        let chain = SecurityChain(plans: Self.load(Self.definition()).definition!.plans)
        guard case .failure = chain.resolve(api: "hooks") else {
            Issue.record("a PUSH plan let an HTTP request in")
            return
        }
    }
}
