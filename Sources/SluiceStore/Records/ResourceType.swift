/// The kinds of thing the management store holds, named as Gravitee's v2 management API names them.
public enum ResourceType: String, Sendable, CaseIterable, Codable {
    case api = "API"
    case plan = "PLAN"
    case application = "APPLICATION"
    case subscription = "SUBSCRIPTION"
    case apiKey = "API_KEY"
    case user = "USER"
}

/// What a change did to a resource.
public enum ChangeKind: String, Sendable, CaseIterable, Codable {
    case created = "CREATED"
    case updated = "UPDATED"
    case deleted = "DELETED"
}
