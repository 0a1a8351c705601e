public import SluiceCore
import SluiceEndpoints
import SluiceEntrypoints

extension DefinitionCatalog {
    /// Everything this build of the gateway can deploy.
    public static var gateway: DefinitionCatalog {
        var catalog = DefinitionCatalog()
        catalog.register(
            EntrypointSpec(
                type: HTTPPostEntrypoint.type, supportedQoS: HTTPPostEntrypoint.supportedQoS, modes: [.publish]
            ) {
                object, path, diagnostics in
                _ = HTTPPostEntrypoint.Configuration.parse(object, at: path, diagnostics: &diagnostics)
            }
        )
        catalog.register(
            EntrypointSpec(
                type: HTTPGetEntrypoint.type, supportedQoS: HTTPGetEntrypoint.supportedQoS, modes: [.subscribe]
            ) {
                object, path, diagnostics in
                _ = HTTPGetEntrypoint.Configuration.parse(object, at: path, diagnostics: &diagnostics)
            }
        )
        catalog.register(
            EntrypointSpec(type: SSEEntrypoint.type, supportedQoS: SSEEntrypoint.supportedQoS, modes: [.subscribe]) {
                object, path, diagnostics in
                _ = SSEEntrypoint.Configuration.parse(object, at: path, diagnostics: &diagnostics)
            }
        )
        catalog.register(
            EntrypointSpec(
                type: WebSocketEntrypoint.type, supportedQoS: WebSocketEntrypoint.supportedQoS,
                modes: [.publish, .subscribe]
            ) {
                object, path, diagnostics in
                _ = WebSocketEntrypoint.Configuration.parse(object, at: path, diagnostics: &diagnostics)
            }
        )
        // Subscription listeners: the gateway pushes to each webhook subscription's callback (docs/webhooks.md).
        catalog.register(
            EntrypointSpec(
                type: WebhookEntrypoint.type, listenerType: "subscription",
                supportedQoS: WebhookEntrypoint.supportedQoS,
                modes: [.subscribe]
            ) {
                object, path, diagnostics in
                _ = WebhookEntrypoint.Configuration.parse(object, at: path, diagnostics: &diagnostics)
            }
        )
        catalog.register(
            EndpointSpec(type: "mock") { endpoint, _, diagnostics in
                _ = MockEndpoint.Configuration.parse(
                    endpoint.configuration, at: endpoint.path.key("configuration"), diagnostics: &diagnostics)
            }
        )
        catalog.register(
            EndpointSpec(type: "inmemory") { endpoint, _, diagnostics in
                _ = InMemoryEndpoint.Configuration.parse(
                    endpoint.configuration, at: endpoint.path.key("configuration"), defaultTopic: "default",
                    diagnostics: &diagnostics
                )
            }
        )
        catalog.register(
            EndpointSpec(
                type: "kafka",
                modes: { endpoint, group in
                    var ignored = DiagnosticCollector()
                    return KafkaEndpointConfiguration.parse(endpoint: endpoint, group: group, diagnostics: &ignored)?
                        .modes ?? Set(ConnectorMode.allCases)
                }
            ) { endpoint, group, diagnostics in
                _ = KafkaEndpointConfiguration.parse(endpoint: endpoint, group: group, diagnostics: &diagnostics)
            }
        )
        catalog.register(
            EndpointSpec(
                type: "mqtt5", supportedQoS: MQTT5EndpointConfiguration.supportedQoS,
                supportedQoSByEntrypoint: [WebhookEntrypoint.type: MQTT5EndpointConfiguration.webhookQoS],
                modes: { endpoint, group in
                    var ignored = DiagnosticCollector()
                    return MQTT5EndpointConfiguration.parse(endpoint: endpoint, group: group, diagnostics: &ignored)?
                        .modes ?? Set(ConnectorMode.allCases)
                }
            ) { endpoint, group, diagnostics in
                _ = MQTT5EndpointConfiguration.parse(endpoint: endpoint, group: group, diagnostics: &diagnostics)
            }
        )
        // Plain synchronous APIs (`type: proxy`): the request goes to the backend and its answer comes back.
        catalog.register(
            EntrypointSpec(
                type: HTTPProxyEntrypoint.type, apiType: .proxy, supportedQoS: Set(MessageQoS.allCases)
            ) {
                object, path, diagnostics in
                _ = HTTPProxyEntrypoint.Configuration.parse(object, at: path, diagnostics: &diagnostics)
            }
        )
        catalog.register(
            EndpointSpec(type: "http-proxy", apiType: .proxy) { endpoint, group, diagnostics in
                _ = HTTPProxyEndpointConfiguration.parse(endpoint: endpoint, group: group, diagnostics: &diagnostics)
            }
        )
        catalog.apiValidators[.proxy] = { definition, diagnostics in
            _ = HTTPProxyFailover.parse(definition, diagnostics: &diagnostics)
        }
        // JWT and OAuth2 plans deploy, but a request they would take is refused until they are built (see
        // docs/security.md).
        catalog.securityTypes = ["key-less", "api-key", "jwt", "oauth2", "push"]
        // Applied on the request and publish phases of plan and API flows (docs/rate-limits.md).
        catalog.policies = Set(RateLimitPolicy.Kind.allCases.map(\.rawValue)).union(FlowPolicies.ids)
        catalog.resourceTypes = [OAuth2ResourceConfiguration.type]
        return catalog
    }
}
