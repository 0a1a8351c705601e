public import Foundation

/// Decides which plan serves a request, trying plans in Gravitee's order: JWT and OAuth2 first, then API key,
/// then key-less. Only plans that serve traffic (published, deprecated) take part. The first plan whose credential
/// the request carries decides: a request with an API key is checked by the API-key plans and refused if the key
/// does not hold, even when the API also has a key-less plan.
///
/// An API without any plan is served as if it had one published key-less plan, as Gravitee's own
/// gateway fixtures expect. JWT and OAuth2 plans are recognized but not verified yet: a request carrying a bearer
/// token that such a plan would take is refused.
public struct SecurityChain: Sendable {
    public struct ResolvedPlan: Sendable, Hashable {
        public var id: String
        public var securityType: String
        /// The subscription that let the request in (plans with a credential).
        public var subscription: String?
        public var application: String?
    }

    /// What a request presents, as read by the gateway from its headers and query.
    public struct Credentials: Sendable {
        /// The API key (header, else query parameter); empty when present with no value.
        public var apiKey: Substring?
        /// Whether the request carries a bearer token (`Authorization: Bearer`, or the `access_token` parameter).
        public var hasBearerToken: Bool

        public init(apiKey: Substring? = nil, hasBearerToken: Bool = false) {
            self.apiKey = apiKey
            self.hasBearerToken = hasBearerToken
        }

        public static let none = Credentials()
    }

    /// The header that carries an API key. (Gravitee sets it gateway-wide, `policy.api-key.header`.)
    public static let apiKeyHeader = "X-Gravitee-Api-Key"
    /// The query parameter that carries an API key, when the header is absent.
    public static let apiKeyQueryParameter = "api-key"

    static let order = ["jwt", "oauth2", "api-key", "key-less"]

    let plans: [APIDefinition.Plan]
    let implicitKeyless: Bool
    let apiKeyPlans: Set<String>

    public init(plans: [APIDefinition.Plan]) {
        self.implicitKeyless = plans.isEmpty
        // A stable sort: plans of one security type keep the order of the definition.
        // A plan with a selection rule serves nothing until the expression language evaluates its rule: failing
        // closed, never serving requests the rule would have kept out (the definition reader warns about it).
        self.plans = plans.filter { $0.status.serves && !$0.hasSelectionRule }.enumerated().sorted { a, b in
            let rankA = Self.order.firstIndex(of: a.element.securityType) ?? Self.order.count
            let rankB = Self.order.firstIndex(of: b.element.securityType) ?? Self.order.count
            return rankA != rankB ? rankA < rankB : a.offset < b.offset
        }.map(\.element)
        self.apiKeyPlans = Set(self.plans.filter { $0.securityType == "api-key" }.map(\.id))
    }

    /// Whether any plan looks at credentials: when false, every request resolves the same way without reading them.
    public var readsCredentials: Bool {
        plans.contains { $0.securityType != "key-less" }
    }

    public func resolve(
        _ credentials: Credentials = .none, api: String, access: AccessSnapshot = .empty, now: Date = Date()
    ) -> Result<ResolvedPlan, GatewayError> {
        if implicitKeyless { return .success(ResolvedPlan(id: "key-less", securityType: "key-less")) }
        for plan in plans {
            switch plan.securityType {
            case "jwt", "oauth2":
                guard credentials.hasBearerToken else { continue }
                return .failure(.securityNotSupported(plan.securityType))
            case "api-key":
                guard let key = credentials.apiKey else { continue }
                guard !key.isEmpty else { return .failure(.apiKeyMissing) }
                guard let subscription = access.subscription(forKey: key, api: api, plans: apiKeyPlans, at: now) else {
                    return .failure(.apiKeyInvalid)
                }
                return .success(
                    ResolvedPlan(
                        id: subscription.plan, securityType: "api-key", subscription: subscription.id,
                        application: subscription.application))
            case "key-less":
                return .success(ResolvedPlan(id: plan.id, securityType: plan.securityType))
            default:
                continue
            }
        }
        return .failure(.planUnresolvable)
    }
}

extension GatewayError {
    public static let planUnresolvable = GatewayError(
        status: 401, key: "GATEWAY_PLAN_UNRESOLVABLE", message: "Unauthorized")
    public static let apiKeyMissing = GatewayError(status: 401, key: "API_KEY_MISSING", message: "Unauthorized")
    /// The same answer for a key that does not exist, is revoked or expired, or is not subscribed to this API and plan.
    public static let apiKeyInvalid = GatewayError(status: 401, key: "API_KEY_INVALID", message: "Unauthorized")

    public static func securityNotSupported(_ type: String) -> GatewayError {
        .init(
            status: 401, key: "GATEWAY_PLAN_UNRESOLVABLE",
            message: "Unauthorized: '\(type)' plans are not supported by this gateway yet.")
    }
}
