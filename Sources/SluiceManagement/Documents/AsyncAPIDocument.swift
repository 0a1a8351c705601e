import Foundation
import SluiceCore
import SluiceStore

/// The AsyncAPI 3.0 document of a message API (`GET /management/v2/apis/{apiId}/asyncapi`): a channel per
/// listener path (and one for webhook subscriptions), an operation per entrypoint, message formats where the
/// definition knows them (a JSON schema its flows validate messages against), and the security schemes of its
/// served plans.
struct AsyncAPIDocument {
    let definition: APIDefinition
    let state: ManagedAPI.LifecycleState

    static func object(_ pairs: [(String, JSONValue)]) -> JSONValue { .object(JSONObject(pairs)) }
    static func reference(_ path: String) -> JSONValue { object([("$ref", .string(path))]) }

    /// The identifier a name takes in the document's maps.
    static func key(_ text: String) -> String {
        let cleaned = text.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "_" }
        let result = String(cleaned).trimmingCharacters(in: CharacterSet(charactersIn: "_"))
        return result.isEmpty ? "root" : result
    }

    /// A JSON schema the API's flows check messages with (the `json-validation` policy), if any.
    var messageSchema: JSONValue? {
        let flows = definition.flows + definition.plans.filter(\.status.serves).flatMap(\.flows)
        for flow in flows where flow.enabled {
            for step in flow.steps where step.enabled && step.policy == "json-validation" {
                if let text = step.configuration["schema"]?.stringValue,
                    let schema = try? JSONValue.parse(json: Data(text.utf8))
                {
                    return schema
                }
                if let schema = step.configuration["schema"], schema.objectValue != nil { return schema }
            }
        }
        return nil
    }

    var securitySchemes: [(String, JSONValue)] {
        var schemes: [(String, JSONValue)] = []
        var seen = Set<String>()
        for plan in definition.plans where plan.status.serves && !plan.isPush {
            let type = plan.securityType.lowercased()
            guard !seen.contains(type) else { continue }
            seen.insert(type)
            switch type {
            case "api-key":
                schemes.append(
                    (
                        "apiKeyHeader",
                        Self.object([
                            ("type", .string("httpApiKey")),
                            ("name", .string(SecurityChain.APIKeyNames.gravitee.header)),
                            ("in", .string("header")), ("description", .string("Plan '\(plan.name)': an API key")),
                        ])
                    ))
                schemes.append(
                    (
                        "apiKeyQuery",
                        Self.object([
                            ("type", .string("httpApiKey")),
                            ("name", .string(SecurityChain.APIKeyNames.gravitee.queryParameter)),
                            ("in", .string("query")),
                            ("description", .string("Plan '\(plan.name)': an API key as a query parameter")),
                        ])
                    ))
            case "jwt":
                schemes.append(
                    (
                        "jwt",
                        Self.object([
                            ("type", .string("http")), ("scheme", .string("bearer")), ("bearerFormat", .string("JWT")),
                            ("description", .string("Plan '\(plan.name)': a signed JWT")),
                        ])
                    ))
            case "oauth2":
                schemes.append(
                    (
                        "oauth2",
                        Self.object([
                            ("type", .string("http")), ("scheme", .string("bearer")),
                            (
                                "description",
                                .string("Plan '\(plan.name)': an OAuth2 access token, checked by token introspection")
                            ),
                        ])
                    ))
            default:
                continue
            }
        }
        return schemes
    }

    var document: JSONValue {
        var servers = JSONObject()
        var channels = JSONObject()
        var operations = JSONObject()
        let schemes = securitySchemes
        let security: JSONValue = .array(schemes.map { Self.reference("#/components/securitySchemes/\($0.0)") })
        let gateway = Self.object([
            ("default", .string("localhost:8082")), ("description", .string("a gateway node's address")),
        ])
        func server(_ name: String, protocol: String, description: String) {
            guard servers[name] == nil else { return }
            servers[name] = Self.object([
                ("host", .string("{gateway}")), ("protocol", .string(`protocol`)),
                ("description", .string(description)), ("variables", Self.object([("gateway", gateway)])),
                ("security", security),
            ])
        }
        let endpoints = definition.endpointGroups.map { group in
            "\(group.type) (\(group.endpoints.map { endpointSummary($0) }.joined(separator: ", ")))"
        }.joined(separator: "; ")
        for listener in definition.listeners {
            switch listener {
            case .http(let http):
                for path in http.paths {
                    let channelKey = Self.key(path.path)
                    var channel = JSONObject([
                        ("address", .string(path.path)),
                        ("messages", Self.object([("message", Self.reference("#/components/messages/message"))])),
                    ])
                    if !endpoints.isEmpty { channel["description"] = .string("Messages of \(endpoints)") }
                    var channelServers: [JSONValue] = []
                    for entrypoint in http.entrypoints {
                        let (serverName, proto, action, summary, binding) = Self.entrypoint(entrypoint.type)
                        guard let serverName else { continue }
                        server(serverName, protocol: proto, description: "The gateway over \(proto)")
                        if !channelServers.contains(Self.reference("#/servers/\(serverName)")) {
                            channelServers.append(Self.reference("#/servers/\(serverName)"))
                        }
                        var operation = JSONObject([
                            ("action", .string(action)), ("channel", Self.reference("#/channels/\(channelKey)")),
                            ("summary", .string(summary)),
                            ("messages", .array([Self.reference("#/channels/\(channelKey)/messages/message")])),
                            ("x-sluice-entrypoint", .string(entrypoint.type)),
                            ("x-sluice-qos", .string("\(entrypoint.qos)")),
                        ])
                        if let binding { operation["bindings"] = binding }
                        operations["\(channelKey)-\(Self.key(entrypoint.type))"] = .object(operation)
                    }
                    channel["servers"] = .array(channelServers)
                    channels[channelKey] = .object(channel)
                }
            case .subscription(let subscription):
                for entrypoint in subscription.entrypoints where entrypoint.type.hasPrefix("webhook") {
                    server(
                        "webhook", protocol: "http",
                        description: "Each webhook subscription's callback URL (its consumerConfiguration)")
                    channels["webhook"] = Self.object([
                        ("address", .null),
                        (
                            "description",
                            .string(
                                "The gateway POSTs each message to the callback URL a push plan's subscription names")
                        ),
                        ("messages", Self.object([("message", Self.reference("#/components/messages/message"))])),
                        ("servers", .array([Self.reference("#/servers/webhook")])),
                    ])
                    operations["webhook-\(Self.key(entrypoint.type))"] = Self.object([
                        ("action", .string("receive")), ("channel", Self.reference("#/channels/webhook")),
                        ("summary", .string("Receive messages at a webhook callback")),
                        ("messages", .array([Self.reference("#/channels/webhook/messages/message")])),
                        ("bindings", Self.object([("http", Self.object([("method", .string("POST"))]))])),
                        ("x-sluice-entrypoint", .string(entrypoint.type)),
                    ])
                }
            }
        }
        var message = JSONObject([
            ("name", .string("message")), ("title", .string("A message of \(definition.name)")),
        ])
        if let schema = messageSchema {
            message["contentType"] = .string("application/json")
            message["payload"] = schema
        } else {
            message["payload"] = Self.object([
                ("description", .string("The message's content as the producer wrote it (no schema is declared)"))
            ])
        }
        var info = JSONObject([
            ("title", .string(definition.name)), ("version", .string(definition.apiVersion ?? "1.0")),
            ("x-sluice-api-id", .string(definition.id)), ("x-sluice-state", .string(state.rawValue)),
        ])
        if let description = definition.description { info["description"] = .string(description) }
        return Self.object([
            ("asyncapi", .string("3.0.0")), ("id", .string("urn:sluice:api:\(definition.id)")), ("info", .object(info)),
            ("defaultContentType", .string("application/json")), ("servers", .object(servers)),
            ("channels", .object(channels)), ("operations", .object(operations)),
            (
                "components",
                Self.object([
                    ("messages", Self.object([("message", .object(message))])),
                    ("securitySchemes", .object(JSONObject(schemes))),
                ])
            ),
        ])
    }

    func endpointSummary(_ endpoint: APIDefinition.Endpoint) -> String {
        for key in ["topics", "topic"] {
            if let value = endpoint.configuration[key] {
                return "\(endpoint.name): \(value.stringValue ?? value.jsonText())"
            }
        }
        return endpoint.name
    }

    /// The server, protocol, AsyncAPI action, summary and bindings of an entrypoint type.
    static func entrypoint(
        _ type: String
    ) -> (server: String?, protocol: String, action: String, summary: String, bindings: JSONValue?) {
        switch type {
        case "http-post":
            return (
                "http", "http", "send", "Publish a message with an HTTP POST",
                object([("http", object([("method", .string("POST"))]))])
            )
        case "http-get":
            return (
                "http", "http", "receive", "Poll for messages with an HTTP GET (cursor and limit)",
                object([("http", object([("method", .string("GET"))]))])
            )
        case "sse":
            return (
                "sse", "sse", "receive", "Stream messages as Server-Sent Events (resume with Last-Event-ID)",
                object([("http", object([("method", .string("GET"))]))])
            )
        case "websocket":
            return ("websocket", "ws", "receive", "Stream messages over a WebSocket (and publish on it)", nil)
        default:
            return (nil, "", "", "", nil)
        }
    }
}
