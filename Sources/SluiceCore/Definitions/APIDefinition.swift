import Foundation

/// A Gravitee v4 API definition, as Gravitee writes it (`definitionVersion` 4.x).
///
/// Connector configurations stay as JSON here: each connector reads and validates its own.
public struct APIDefinition: Sendable {
    public enum APIType: String, Sendable {
        case message
        case proxy
    }

    public var id: String
    public var name: String
    public var apiVersion: String?
    public var definitionVersion: String
    public var type: APIType
    public var description: String?
    public var listeners: [Listener]
    public var endpointGroups: [EndpointGroup]
    public var flows: [Flow]
    public var flowExecution: FlowExecution
    public var plans: [Plan]
    public var analytics: JSONValue?
    public var properties: [Property]
    public var resources: [Resource]
    /// The document as it was read, for export and for later phases.
    public var document: JSONObject

    public init(
        id: String, name: String, apiVersion: String?, definitionVersion: String, type: APIType,
        description: String?, listeners: [Listener], endpointGroups: [EndpointGroup], flows: [Flow],
        flowExecution: FlowExecution, plans: [Plan], analytics: JSONValue?, properties: [Property],
        resources: [Resource], document: JSONObject
    ) {
        self.id = id
        self.name = name
        self.apiVersion = apiVersion
        self.definitionVersion = definitionVersion
        self.type = type
        self.description = description
        self.listeners = listeners
        self.endpointGroups = endpointGroups
        self.flows = flows
        self.flowExecution = flowExecution
        self.plans = plans
        self.analytics = analytics
        self.properties = properties
        self.resources = resources
        self.document = document
    }
}

extension APIDefinition {
    public enum Listener: Sendable {
        case http(HTTPListener)
        case subscription(SubscriptionListener)
    }

    public struct HTTPListener: Sendable {
        public var paths: [ListenerPath]
        public var entrypoints: [Entrypoint]
        /// `cors`, when enabled.
        public var cors: CORSConfiguration?
        /// Index of this listener in `listeners`, for diagnostics.
        public var index: Int
    }

    public struct SubscriptionListener: Sendable {
        public var entrypoints: [Entrypoint]
        public var index: Int
    }

    public struct ListenerPath: Sendable, Hashable {
        public var host: String?
        /// Normalised: starts with `/`, no trailing `/` except for the root.
        public var path: String
        public var overrideAccess: Bool
    }

    public struct Entrypoint: Sendable {
        public var type: String
        public var qos: MessageQoS
        public var configuration: JSONObject
        /// JSON path of this entrypoint, for connectors' diagnostics.
        public var path: JSONPath
        /// The endpoint (or endpoint group) its undeliverable messages go to: Gravitee's `dlq.endpoint`.
        public var dlqEndpoint: String? = nil
    }

    public struct EndpointGroup: Sendable {
        public var name: String
        public var type: String
        public var loadBalancer: LoadBalancer
        public var sharedConfiguration: JSONObject
        public var endpoints: [Endpoint]
        public var path: JSONPath
    }

    public enum LoadBalancer: String, Sendable {
        case roundRobin = "ROUND_ROBIN"
        case random = "RANDOM"
        case weightedRoundRobin = "WEIGHTED_ROUND_ROBIN"
        case weightedRandom = "WEIGHTED_RANDOM"
    }

    public struct Endpoint: Sendable {
        public var name: String
        public var type: String
        public var weight: Int
        public var inheritConfiguration: Bool
        public var secondary: Bool
        public var configuration: JSONObject
        public var sharedConfigurationOverride: JSONObject
        public var path: JSONPath

        /// The shared configuration this endpoint runs with, as Gravitee picks it: the group's
        /// `sharedConfiguration` when `inheritConfiguration` is true, else the endpoint's own
        /// `sharedConfigurationOverride`, whole (Gravitee does not merge the two).
        public func effectiveSharedConfiguration(group: EndpointGroup) -> JSONObject {
            inheritConfiguration ? group.sharedConfiguration : sharedConfigurationOverride
        }

        /// Where ``effectiveSharedConfiguration(group:)`` comes from, for diagnostics.
        public func effectiveSharedConfigurationPath(group: EndpointGroup) -> JSONPath {
            inheritConfiguration ? group.path.key("sharedConfiguration") : path.key("sharedConfigurationOverride")
        }
    }

    public struct Flow: Sendable {
        public var name: String?
        public var enabled: Bool
        public var selectors: [JSONObject]
        /// A flow-level condition (written by older exports next to the selectors); empty reads as none.
        public var condition: String?
        public var steps: [FlowStep]
        public var path: JSONPath
    }

    public struct FlowStep: Sendable {
        public enum Phase: String, Sendable, CaseIterable {
            case request, response, publish, subscribe, connect, interact
        }

        public var phase: Phase
        public var name: String?
        public var policy: String
        public var enabled: Bool
        public var condition: String?
        public var messageCondition: String?
        public var configuration: JSONObject
        public var path: JSONPath
    }

    public struct FlowExecution: Sendable {
        public enum Mode: String, Sendable {
            case `default` = "DEFAULT"
            case bestMatch = "BEST_MATCH"
        }

        public var mode: Mode
        public var matchRequired: Bool

        public init(mode: Mode = .default, matchRequired: Bool = false) {
            self.mode = mode
            self.matchRequired = matchRequired
        }
    }

    public struct Plan: Sendable {
        public enum Status: String, Sendable {
            case staging = "STAGING"
            case published = "PUBLISHED"
            case deprecated = "DEPRECATED"
            case closed = "CLOSED"

            /// Published and deprecated plans serve traffic; staging and closed do not.
            public var serves: Bool { self == .published || self == .deprecated }
        }

        public var id: String
        public var name: String
        public var securityType: String
        public var securityConfiguration: JSONObject
        public var mode: String
        public var status: Status
        public var selectionRule: String?
        public var tags: [String]
        public var flows: [Flow]
        public var path: JSONPath

        /// A `PUSH` plan: the gateway pushes to its subscribers (webhooks); it takes no HTTP request.
        public var isPush: Bool { mode == "PUSH" }

        /// Whether the plan names a selection rule (an expression deciding which requests it takes).
        public var hasSelectionRule: Bool {
            !(selectionRule ?? "").trimmingCharacters(in: .whitespaces).isEmpty
        }
    }

    public struct Property: Sendable {
        public var key: String
        public var value: String
        public var encrypted: Bool
    }

    public struct Resource: Sendable {
        public var name: String
        public var type: String
        public var enabled: Bool
        public var configuration: JSONObject
        public var path: JSONPath
    }

    /// The CORS settings the API's requests are answered with: the first HTTP listener's, as in Gravitee.
    public var cors: CORSConfiguration? {
        for listener in listeners {
            if case .http(let http) = listener { return http.cors }
        }
        return nil
    }

    /// Every listener path of the HTTP listeners.
    public var httpPaths: [ListenerPath] {
        listeners.flatMap { listener -> [ListenerPath] in
            if case .http(let http) = listener { return http.paths }
            return []
        }
    }

    /// Every entrypoint of the subscription listeners (`webhook`).
    public var subscriptionEntrypoints: [Entrypoint] {
        listeners.flatMap { listener -> [Entrypoint] in
            if case .subscription(let subscription) = listener { return subscription.entrypoints }
            return []
        }
    }

    /// Every entrypoint of the HTTP listeners.
    public var httpEntrypoints: [Entrypoint] {
        listeners.flatMap { listener -> [Entrypoint] in
            if case .http(let http) = listener { return http.entrypoints }
            return []
        }
    }
}

/// What a connector does with messages: takes them from clients to the endpoint (publish), or from the endpoint
/// to clients (subscribe).
public enum ConnectorMode: String, Sendable, CaseIterable {
    case publish
    case subscribe
}

/// The delivery guarantee an entrypoint asks of its endpoint.
public enum MessageQoS: String, Sendable, CaseIterable {
    case none = "none"
    case auto = "auto"
    case atMostOnce = "at-most-once"
    case atLeastOnce = "at-least-once"

    /// Gravitee writes QoS upper-case with underscores too (`AT_LEAST_ONCE`).
    public init?(lenient text: String) {
        let normalised = text.lowercased().replacingOccurrences(of: "_", with: "-")
        self.init(rawValue: normalised)
    }
}
