public import SluiceCore
import SluiceEndpoints
public import SluiceEntrypoints
import Logging

/// One API as it runs: its definition, its connectors, and the streams open on it.
public final class Deployment: Sendable {
    public let definition: APIDefinition
    public let source: String
    let endpoint: any EndpointConnector
    let security: SecurityChain
    let httpPost: (HTTPPostEntrypoint, MessageQoS)?
    let httpGet: (HTTPGetEntrypoint, MessageQoS)?
    let sse: (SSEEntrypoint, MessageQoS)?
    let webSocket: (WebSocketEntrypoint, MessageQoS)?
    public let streams: LiveStreams

    public var id: String { definition.id }

    init(
        definition: APIDefinition, source: String, endpoint: any EndpointConnector, streams: LiveStreams
    ) {
        self.definition = definition
        self.source = source
        self.endpoint = endpoint
        self.streams = streams
        self.security = SecurityChain(plans: definition.plans)
        var diagnostics = DiagnosticCollector()
        var post: (HTTPPostEntrypoint, MessageQoS)?
        var get: (HTTPGetEntrypoint, MessageQoS)?
        var sse: (SSEEntrypoint, MessageQoS)?
        var webSocket: (WebSocketEntrypoint, MessageQoS)?
        // The definition was validated before it got here, so parsing cannot fail; the first entrypoint of a type wins.
        for entrypoint in definition.httpEntrypoints {
            let path = entrypoint.path.key("configuration")
            switch entrypoint.type {
            case HTTPPostEntrypoint.type where post == nil:
                post = (.init(configuration: .parse(entrypoint.configuration, at: path, diagnostics: &diagnostics)), entrypoint.qos)
            case HTTPGetEntrypoint.type where get == nil:
                get = (.init(configuration: .parse(entrypoint.configuration, at: path, diagnostics: &diagnostics)), entrypoint.qos)
            case SSEEntrypoint.type where sse == nil:
                sse = (.init(configuration: .parse(entrypoint.configuration, at: path, diagnostics: &diagnostics)), entrypoint.qos)
            case WebSocketEntrypoint.type where webSocket == nil:
                webSocket = (.init(configuration: .parse(entrypoint.configuration, at: path, diagnostics: &diagnostics)), entrypoint.qos)
            default:
                break
            }
        }
        self.httpPost = post
        self.httpGet = get
        self.sse = sse
        self.webSocket = webSocket
    }

    /// Builds the connectors of a validated definition.
    static func make(
        definition: APIDefinition, source: String, broker: InMemoryBroker, streams: LiveStreams
    ) throws -> Deployment {
        var diagnostics = DiagnosticCollector()
        var group: [(connector: any EndpointConnector, weight: Int)] = []
        guard let firstGroup = definition.endpointGroups.first else {
            throw DeploymentError(apiID: definition.id, diagnostics: [Diagnostic(path: "endpointGroups", message: "no endpoint group")])
        }
        for endpoint in firstGroup.endpoints where !endpoint.secondary {
            let path = endpoint.path.key("configuration")
            let connector: any EndpointConnector
            switch endpoint.type {
            case "mock":
                connector = MockEndpoint(configuration: .parse(endpoint.configuration, at: path, diagnostics: &diagnostics))
            case "inmemory":
                connector = InMemoryEndpoint(
                    configuration: .parse(endpoint.configuration, at: path, defaultTopic: definition.id, diagnostics: &diagnostics),
                    broker: broker
                )
            default:
                throw DeploymentError(
                    apiID: definition.id,
                    diagnostics: [Diagnostic(path: endpoint.path.key("type").text, message: "endpoint type '\(endpoint.type)' is not supported", code: "UNSUPPORTED_TYPE")]
                )
            }
            group.append((connector, endpoint.weight))
        }
        let endpoint: any EndpointConnector =
            group.count == 1 ? group[0].connector : EndpointGroupConnector(members: group, loadBalancer: firstGroup.loadBalancer)
        return Deployment(definition: definition, source: source, endpoint: endpoint, streams: streams)
    }

    func invocation(qos: MessageQoS, limits: GatewayLimits, logger: Logger) -> EntrypointInvocation {
        EntrypointInvocation(apiID: id, endpoint: endpoint, qos: qos, limits: limits, streams: streams, logger: logger)
    }
}

/// A definition that could not be deployed, with the reasons.
public struct DeploymentError: Error, Sendable, CustomStringConvertible {
    public var apiID: String
    public var diagnostics: [Diagnostic]

    public var description: String {
        "API '\(apiID)' not deployed: " + diagnostics.map(\.description).joined(separator: "; ")
    }
}
